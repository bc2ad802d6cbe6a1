"""The one-page HTML programme report: Indonesian labels, Babel numbers and dates, inline SVG
bars, no JavaScript and nothing loaded from the network (it prints on A4 landscape)."""

from __future__ import annotations

from html import escape

from bot.reports.model import (
    MIN_MEDIAN,
    MIN_P90,
    NO_VALUE,
    Grid,
    Report,
    fmt_generated,
    fmt_int,
    fmt_minutes,
)
from bot.reports.suppression import PRIMARY, SECONDARY

TEAL = "#2a9d8f"
GREY = "#9aa5ab"
SEVERITY = ("#8fd3c1", "#4fb39c", "#f2c14e", "#ee8c4c", "#d1495b", "#9c2a3c")

CSS = """
@page { size: A4 landscape; margin: 12mm; }
* { box-sizing: border-box; }
body { font-family: "Segoe UI", Roboto, "Noto Sans", Arial, sans-serif; color: #1f2d33;
       margin: 0 auto; max-width: 1100px; padding: 18px; font-size: 13px; line-height: 1.4; }
header { border-bottom: 3px solid #2a9d8f; margin-bottom: 12px; padding-bottom: 6px; }
h1 { font-size: 22px; margin: 0; color: #1d6f65; }
h2 { font-size: 16px; margin: 18px 0 6px; color: #1d6f65; border-bottom: 1px solid #d5e3e0; }
h3 { font-size: 13px; margin: 10px 0 4px; }
.sub { font-size: 15px; margin: 2px 0; }
.meta, .note, footer { color: #56656b; font-size: 11.5px; }
.tiles { display: flex; gap: 10px; flex-wrap: wrap; margin: 10px 0; }
.tile { flex: 1 1 180px; background: #eef7f5; border-radius: 8px; padding: 8px 12px; }
.tile b { display: block; font-size: 24px; color: #1d6f65; }
.cols { display: flex; gap: 18px; flex-wrap: wrap; align-items: flex-start; }
.cols > div { flex: 1 1 460px; min-width: 0; }
table { border-collapse: collapse; margin: 4px 0 8px; font-size: 11.5px; }
th, td { padding: 2px 6px; border-bottom: 1px solid #e3ebe9; text-align: right;
         white-space: nowrap; }
th:first-child, td:first-child { text-align: left; white-space: normal; min-width: 220px; }
thead th { background: #f3f7f6; font-weight: 600; }
tr.total td { font-weight: 600; border-top: 1px solid #9fb7b2; }
td.hid { color: #8a6d1d; }
svg text { font-family: inherit; font-size: 11px; fill: #1f2d33; }
section { break-inside: avoid; }
"""


def _num(value: int | str) -> str:
    return escape(fmt_int(value))


def _cell(value: int | str) -> str:
    css = ' class="hid"' if value in (PRIMARY, SECONDARY) else ""
    return f"<td{css}>{_num(value)}</td>"


def table(report: Report, grid: Grid, *, totals_row: bool = True) -> str:
    periods = report.periods
    head = "".join(f'<th title="{escape(p.title)}">{escape(p.short)}</th>' for p in periods)
    if grid.row_totals is not None:
        head += "<th>Jumlah</th>"
    rows = []
    for i, name in enumerate(grid.rows):
        cells = "".join(_cell(report.shown(k)) for k in grid.cells[i])
        if grid.row_totals is not None:
            cells += _cell(report.shown(grid.row_totals[i]))
        rows.append(f"<tr><td>{escape(name)}</td>{cells}</tr>")
    if totals_row and grid.col_totals is not None and len(grid.rows) != 1:
        cells = "".join(_cell(report.shown(k)) for k in grid.col_totals)
        if grid.grand is not None:
            cells += _cell(report.shown(grid.grand))
        rows.append(f'<tr class="total"><td>Jumlah</td>{cells}</tr>')
    if not grid.rows:
        span = len(periods) + 1 + (grid.row_totals is not None)
        rows.append(f'<tr><td colspan="{span}">Belum ada data pada periode ini.</td></tr>')
    return (
        f"<table><thead><tr><th>{escape(grid.row_header)}</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def hbars(
    items: list[tuple[str, int | str, str]], *, label_width: int = 270, width: int = 530
) -> str:
    """Horizontal bars: (label, shown value, colour). Hidden values get a dashed stub."""
    numbers = [v for _l, v, _c in items if isinstance(v, int)]
    top = max([*numbers, 5])
    bar_space = width - label_width - 50
    row_h = 20
    parts = []
    for i, (label, value, colour) in enumerate(items):
        y = i * row_h
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 14}" text-anchor="end">'
            f"{escape(_short(label, 46))}</text>"
        )
        if isinstance(value, int):
            w = 0 if value == 0 else max(2, round(bar_space * value / top))
            parts.append(
                f'<rect x="{label_width}" y="{y + 3}" width="{w}" height="14" '
                f'rx="2" fill="{colour}"/>'
            )
        else:
            w = max(4, round(bar_space * 4 / top)) if value == PRIMARY else 8
            w = min(w, bar_space)
            parts.append(
                f'<rect x="{label_width}" y="{y + 3}" width="{w}" height="14" rx="2" '
                f'fill="none" stroke="{GREY}" stroke-dasharray="3 2"/>'
            )
        parts.append(f'<text x="{label_width + w + 5}" y="{y + 14}">{_num(value)}</text>')
    height = max(row_h, row_h * len(items))
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )


def columns(
    report: Report,
    values: list[int | str],
    *,
    width: int = 520,
    height: int = 150,
    colour: str = TEAL,
) -> str:
    """Vertical bars per period with the period's short name underneath."""
    numbers = [v for v in values if isinstance(v, int)]
    top = max([*numbers, 5])
    n = max(1, len(values))
    slot = (width - 10) / n
    bar_w = max(6, slot * 0.62)
    plot = height - 34
    parts = [f'<line x1="4" y1="{plot + 16}" x2="{width - 4}" y2="{plot + 16}" stroke="#c9d6d3"/>']
    for i, (value, period) in enumerate(zip(values, report.periods, strict=True)):
        x = 6 + i * slot + (slot - bar_w) / 2
        if isinstance(value, int):
            h = 0 if value == 0 else max(2, plot * value / top)
            parts.append(
                f'<rect x="{x:.1f}" y="{plot + 16 - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" rx="2" fill="{colour}"/>'
            )
        else:
            h = plot * 4 / top if value == PRIMARY else 6
            parts.append(
                f'<rect x="{x:.1f}" y="{plot + 16 - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" rx="2" fill="none" stroke="{GREY}" '
                f'stroke-dasharray="3 2"/>'
            )
        cx = x + bar_w / 2
        parts.append(
            f'<text x="{cx:.1f}" y="{plot + 12 - h:.1f}" text-anchor="middle">{_num(value)}</text>'
        )
        parts.append(
            f'<text x="{cx:.1f}" y="{plot + 30}" text-anchor="middle">{escape(period.short)}</text>'
        )
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tile(title: str, value: str, note: str = "") -> str:
    small = f"<span class='note'>{escape(note)}</span>" if note else ""
    return f'<div class="tile">{escape(title)}<b>{escape(value)}</b>{small}</div>'


def _row_bars(report: Report, grid: Grid, colours: list[str] | None = None) -> str:
    if not grid.rows or grid.row_totals is None:
        return ""
    names = [_chart_label(report, grid, i) for i in range(len(grid.rows))]
    items = [
        (name, report.shown(total), (colours or [TEAL] * len(grid.rows))[i])
        for i, (name, total) in enumerate(zip(names, grid.row_totals, strict=True))
    ]
    return hbars(items)


def _chart_label(report: Report, grid: Grid, i: int) -> str:
    if grid.id == "screen_instrument":
        return _instrument_label(grid.rows[i])
    return grid.rows[i]


def _instrument_label(title: str) -> str:
    """'Cek suasana hati (PHQ-9)' → 'PHQ-9 · Cek suasana hati' (the short name first)."""
    short = _instrument_short(title)
    if short == title:
        return title
    return f"{short} · {title[: title.rindex('(')].strip()}"


def _band_bars(report: Report) -> str:
    items: list[tuple[str, int | str, str]] = []
    for instrument, bands in report.bands.items():
        title = report.instrument_titles.get(instrument, instrument)
        for i, (_key, label, total) in enumerate(bands):
            shade = SEVERITY[
                min(len(SEVERITY) - 1, round(i * (len(SEVERITY) - 1) / max(1, len(bands) - 1)))
            ]
            items.append((f"{_instrument_short(title)} · {label}", report.shown(total), shade))
    return hbars(items) if items else ""


def _instrument_short(title: str) -> str:
    """'Cek suasana hati (PHQ-9)' → 'PHQ-9' for chart labels."""
    if "(" in title and title.endswith(")"):
        return title[title.rindex("(") + 1 : -1]
    return title


def _incomplete_note(report: Report) -> str:
    """A period still running is marked *: its numbers are not final (not a drop)."""
    if not report.incomplete:
        return ""
    items = "; ".join(f"{p.short} = {p.title}" for p in report.incomplete)
    return (
        f'\n  <p class="meta"><b>Periode belum lengkap</b> ({escape(items)}): angkanya belum '
        "final dan tidak bisa dibandingkan langsung dengan periode yang sudah lengkap.</p>"
    )


def render_html(report: Report) -> str:
    g = report.grids
    by = "per minggu" if report.spec.by == "week" else "per bulan"
    whole = report.claim_times[-1]
    tiles = "".join(
        [
            _tile("Cek mandiri selesai", fmt_int(report.shown(g["screen_area"].grand))),
            _tile("Tanda krisis terdeteksi", fmt_int(report.shown(g["crisis"].grand))),
            _tile("Kasus diteruskan ke kader", fmt_int(report.shown(g["cases_level"].grand))),
            _tile(
                "Median waktu sampai diambil kader",
                fmt_minutes(whole.median),
                f"dari {fmt_int(whole.claimed)} kasus yang diambil",
            ),
        ]
    )
    served = g["served_area"]
    served_cols = [report.shown(k) for k in served.col_totals or []]
    legend = (
        " · ".join(f"{p.short} = {p.title}" for p in report.periods)
        if report.spec.by == "week"
        else ""
    )
    claim_rows = "".join(
        f"<tr><td>{escape(row.label)}</td>{_cell(row.claimed)}"
        f"<td>{escape(fmt_minutes(row.median))}</td><td>{escape(fmt_minutes(row.p90))}</td></tr>"
        for row in report.claim_times
    )
    outcome_colours = [
        GREY if name == "Belum selesai" else TEAL for name in g["cases_outcome"].rows
    ]
    level_colours = [
        {"Perlu dicek": SEVERITY[2], "Tinggi": SEVERITY[3], "Darurat": SEVERITY[4]}.get(n, TEAL)
        for n in g["cases_level"].rows
    ]
    body = f"""
<header>
  <h1>Laporan Program Teman Jiwa</h1>
  <p class="sub">{escape(report.area_title)} · {escape(report.period_title)} · {by}</p>
  <p class="meta">Dibuat {escape(fmt_generated(report))}. Semua angka tanpa identitas warga.
  Angka 1–4 ditulis &lt;5; angka yang ditandai x disembunyikan agar angka kecil tidak bisa
  dihitung dari jumlahnya.</p>{_incomplete_note(report)}
</header>
<section class="tiles">{tiles}</section>

<section>
  <h2>1. Warga yang dilayani</h2>
  <div class="cols">
    <div><h3>Jumlah warga {by}</h3>{columns(report, served_cols)}</div>
    <div><p class="note">{escape(served.note)}</p></div>
  </div>
  <h3>Per daerah, {by}</h3>{table(report, served)}
</section>

<section>
  <h2>2. Cek mandiri</h2>
  <div class="cols">
    <div><h3>Hasil per alat cek (seluruh periode)</h3>{_band_bars(report)}
      <p class="note">Hasil cek bukan diagnosis. Warna makin gelap: gejala makin berat.</p></div>
    <div><h3>Jumlah cek per alat (seluruh periode)</h3>{_row_bars(report, g["screen_instrument"])}
      <h3>Jumlah cek per daerah (seluruh periode)</h3>{_row_bars(report, g["screen_area"])}</div>
  </div>
  <h3>Jumlah cek per alat, {by}</h3>{table(report, g["screen_instrument"])}
  <h3>Jumlah cek per daerah, {by}</h3>{table(report, g["screen_area"])}
</section>

<section>
  <h2>3. Tanda krisis</h2>
  <div class="cols">
    <div><h3>Menurut jenis dan tingkat (seluruh periode)</h3>{_row_bars(report, g["crisis"])}
      <p class="note">{escape(g["crisis"].note)}</p></div>
    <div><h3>Per daerah (seluruh periode)</h3>{_row_bars(report, g["crisis_area"])}</div>
  </div>
  <h3>Menurut jenis dan tingkat, {by}</h3>{table(report, g["crisis"])}
  <h3>Per daerah, {by}</h3>{table(report, g["crisis_area"])}
</section>

<section>
  <h2>4. Kasus untuk kader kesehatan jiwa</h2>
  <div class="cols">
    <div><h3>Menurut tingkat</h3>{_row_bars(report, g["cases_level"], level_colours)}
      <h3>Hasil tindak lanjut</h3>{_row_bars(report, g["cases_outcome"], outcome_colours)}
      <h3>Per daerah</h3>{_row_bars(report, g["cases_area"])}</div>
    <div><h3>Waktu sampai kasus diambil kader</h3>
      <table><thead><tr><th>Periode</th><th>Kasus diambil</th><th>Median</th>
      <th>Persentil ke-90</th></tr></thead><tbody>{claim_rows}</tbody></table>
      <p class="note">Median ditampilkan jika ada paling sedikit {MIN_MEDIAN} kasus, persentil
      ke-90 jika ada paling sedikit {MIN_P90}; selain itu {NO_VALUE}.</p></div>
  </div>
  <h3>Menurut tingkat, {by}</h3>{table(report, g["cases_level"])}
  <h3>Hasil tindak lanjut, {by}</h3>{table(report, g["cases_outcome"])}
  <h3>Per daerah, {by}</h3>{table(report, g["cases_area"])}
  <h3>{escape(g["cases_sla"].title)}, {by}</h3>{table(report, g["cases_sla"])}
  <p class="note">{escape(g["cases_sla"].note)}</p>
</section>

<section>
  <h2>5. Sapaan lanjutan</h2>
  <h3>Menurut tahap, {by}</h3>{table(report, g["followups"])}
  <p class="note">{escape(g["followups"].note)}</p>
</section>

<footer>
  <p>{escape(legend)}</p>
  <p>Sumber: Teman Jiwa, chatbot dukungan psikologis awal. Angka dihitung tanpa menyimpan
  siapa yang dihitung; kasus yang sudah selesai disimpan hanya sebagai angka statistik.
  Minggu = Senin–Minggu (ISO); minggu yang terpotong awal/akhir periode dihitung utuh.
  Data lengkap per angka ada di berkas CSV.</p>
</footer>
"""
    return (
        f'<!doctype html>\n<html lang="id"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Laporan Teman Jiwa · {escape(report.period_title)}</title>"
        f"<style>{CSS}</style></head><body>{body}</body></html>\n"
    )
