"""Anonymous programme reports (issue 7): `temanjiwa report`.

Counts for a period, by area and by week or month, from the anonymous `stats` and
`case_stats` tables and the live `cases` (storage/stats.py) — never from anything keyed to a
resident: residents served, screenings by instrument and band, crisis detections by
category and level, escalations to cadres by level, area and outcome, cases that passed
their deadline (SLA), and the time until a cadre claimed a case (median, 90th percentile).

Small cells are suppressed (`Suppressor`):
1. a count of 1–4 is shown as "<5" (primary suppression; 0 is shown);
2. every published sum (a row with its total, a column with its total, an instrument's
   bands with the instrument's count, …) must hide either none or at least two of its
   cells; when exactly one is hidden, the smallest other non-zero cell of that sum is hidden
   too and shown as "x" (secondary suppression), repeated until no sum has a single hidden
   cell. So no hidden count can be recovered by subtracting the others from a total.
   Totals shared by several tables (screenings per period, cases per period) are one cell,
   hidden everywhere or nowhere;
3. a median needs at least 5 claimed cases, a 90th percentile at least 10; fewer show "–".

Weeks are ISO weeks (Monday–Sunday) and months calendar months, in the deployment's time
zone; a week that overlaps the start or end of the chosen period is counted whole.
Output: a CSV in long format (one published number per line; spreadsheet-friendly, UTF-8
with BOM) and a one-page HTML report with inline SVG bars (bot/report_html.py).
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from bot.alerts import CATEGORY_LABELS, OUTCOME_LABELS
from bot.config import Config
from flows.model import Content
from storage import stats
from storage.stats import CaseStat

log = logging.getLogger(__name__)

LOCALE = "id"
SMALL = 5  # counts below this (and above 0) are not shown
MIN_MEDIAN = 5
MIN_P90 = 10
PRIMARY = "<5"
SECONDARY = "x"
NO_VALUE = "–"

LEVELS = ("check", "high", "urgent")
LEVEL_LABELS = {"check": "Perlu dicek", "high": "Tinggi", "urgent": "Darurat"}
OPEN_OUTCOME = ""
OUTCOME_NAMES = {
    **{k: v[:1].upper() + v[1:] for k, v in OUTCOME_LABELS.items()},
    OPEN_OUTCOME: "Belum selesai",
}
NO_AREA_LABEL = "Tidak diisi"
WHOLE = "Seluruh periode"

Key = Hashable


# ---------------------------------------------------------------------------- suppression
class Suppressor:
    """Cells (counts) and the sums published over them; decides what is hidden."""

    def __init__(self, small: int = SMALL) -> None:
        self.small = small
        self.values: dict[Key, int] = {}
        self.totals: set[Key] = set()
        self.relations: list[tuple[Key, ...]] = []
        self.hidden: dict[Key, str] = {}
        self._solved = False

    def cell(self, key: Key, value: int, *, total: bool = False) -> Key:
        old = self.values.setdefault(key, value)
        assert old == value, (key, old, value)
        if total:
            self.totals.add(key)
        return key

    def relation(self, parts: Iterable[Key], total: Key) -> None:
        """`total` is published as the sum of `parts` (all of them published too)."""
        self.relations.append((*parts, total))

    def solve(self) -> None:
        self.hidden = {k: PRIMARY for k, v in self.values.items() if 0 < v < self.small}
        order = {k: i for i, k in enumerate(self.values)}
        changed = True
        while changed:
            changed = False
            for relation in self.relations:
                hidden = [k for k in relation if k in self.hidden]
                if len(hidden) != 1:
                    continue
                candidates = [k for k in relation if k not in self.hidden and self.values[k] > 0]
                if not candidates:  # cannot happen: the total would equal the hidden cell
                    continue
                pick = min(candidates, key=lambda k: (k in self.totals, self.values[k], order[k]))
                self.hidden[pick] = SECONDARY
                changed = True
        self._solved = True

    def shown(self, key: Key) -> int | str:
        assert self._solved, "call solve() first"
        return self.hidden.get(key, self.values[key])

    def check(self) -> list[tuple[Key, ...]]:
        """Sums that still expose a single hidden cell (always empty after solve())."""
        return [r for r in self.relations if sum(1 for k in r if k in self.hidden) == 1]


# ---------------------------------------------------------------------------- model
@dataclass(frozen=True)
class Period:
    label: str  # "2026-W47" | "2026-11"
    start: date
    end: date
    title: str  # "16–22 Nov" | "November 2026"
    short: str  # "M47" | "Nov"


@dataclass
class Grid:
    """One published table: rows × periods, with optional row totals and column totals."""

    id: str
    title: str
    row_header: str
    rows: list[str]
    cells: list[list[Key]]
    row_totals: list[Key] | None
    col_totals: list[Key] | None
    grand: Key | None
    note: str = ""


@dataclass
class ClaimTimes:
    period: Period | None  # None: the whole range
    label: str  # period title or "Seluruh periode"
    claimed: int | str  # shown count (suppressed if small)
    median: float | None
    p90: float | None


@dataclass
class Report:
    config: Config
    spec: ReportSpec
    periods: list[Period]
    generated_at: datetime
    area_title: str
    sup: Suppressor
    grids: dict[str, Grid] = field(default_factory=dict)
    claim_times: list[ClaimTimes] = field(default_factory=list)
    bands: dict[str, list[tuple[str, str, Key]]] = field(default_factory=dict)  # instrument →
    instrument_titles: dict[str, str] = field(default_factory=dict)

    def shown(self, key: Key | None) -> int | str:
        return NO_VALUE if key is None else self.sup.shown(key)

    @property
    def period_title(self) -> str:
        first, last = self.periods[0].start, self.periods[-1].end
        return f"{fmt_date(first)} – {fmt_date(last)}"


@dataclass(frozen=True)
class ReportSpec:
    start: date
    end: date
    by: str = "week"  # week | month
    area: str | None = None


def default_spec(
    today: date,
    by: str = "week",
    start: date | None = None,
    end: date | None = None,
    area: str | None = None,
) -> ReportSpec:
    end = end or today
    if start is None:
        if by == "week":
            start = end - timedelta(weeks=12) + timedelta(days=1)
        else:
            month = end.month - 5
            start = date(end.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
    if start > end:
        raise ValueError("--from is after --to")
    return ReportSpec(start, end, by, area)


# ---------------------------------------------------------------------------- formatting
def fmt_int(value: int | str) -> str:
    return value if isinstance(value, str) else format_decimal(value, locale=LOCALE)


def fmt_date(day: date) -> str:
    return format_date(day, "d MMM y", locale=LOCALE)


def fmt_minutes(minutes: float | None) -> str:
    if minutes is None:
        return NO_VALUE
    if minutes < 90:
        return f"{format_decimal(round(minutes), locale=LOCALE)} menit"
    return f"{format_decimal(round(minutes / 60, 1), '0.#', locale=LOCALE)} jam"


def make_period(label: str) -> Period:
    start, end = stats.period_bounds(label)
    if stats.is_week(label):
        if start.month == end.month:
            title = f"{start.day}–{format_date(end, 'd MMM', locale=LOCALE)}"
        else:
            title = (
                f"{format_date(start, 'd MMM', locale=LOCALE)}–"
                f"{format_date(end, 'd MMM', locale=LOCALE)}"
            )
        short = "M" + label.split("-W")[1]
    else:
        title = format_date(start, "MMMM y", locale=LOCALE)
        short = format_date(start, "MMM", locale=LOCALE)
    return Period(label, start, end, title, short)


# ---------------------------------------------------------------------------- content labels
Bands = dict[str, list[tuple[str, str]]]


def instrument_info(content: Content | None) -> tuple[dict[str, str], Bands]:
    """Titles of screening flows and their bands (key, label) in order, from content."""
    titles: dict[str, str] = {}
    bands: dict[str, list[tuple[str, str]]] = {}
    if content is None:
        return titles, bands
    for flow in content.flows.values():
        for node in flow.nodes.values():
            if node.bands:
                titles[flow.id] = flow.title or flow.id
                bands[flow.id] = [(b.key, b.label) for b in node.bands.ranges]
                break
    return titles, bands


# ---------------------------------------------------------------------------- building
def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if len(values) >= MIN_MEDIAN else None


def _p90(values: Sequence[float]) -> float | None:
    if len(values) < MIN_P90:
        return None
    return statistics.quantiles(values, n=10, method="inclusive")[8]


class _Builder:
    def __init__(self, report: Report, area_order: list[str], area_labels: dict[str, str]):
        self.report = report
        self.sup = report.sup
        self.labels = [p.label for p in report.periods]
        self.area_order = area_order
        self.area_labels = area_labels

    def grid(
        self,
        gid: str,
        title: str,
        row_header: str,
        rows: Sequence[Hashable],
        row_names: Sequence[str],
        value: Callable[[Hashable, str], int],
        *,
        measure: str,
        row_totals: bool = True,
        note: str = "",
    ) -> Grid:
        """rows × periods; column totals are the shared cells (measure, '*', period)."""
        sup = self.sup
        cells = [[sup.cell((gid, r, p), value(r, p)) for p in self.labels] for r in rows]
        col_totals = [
            sup.cell((measure, "*", p), sum(value(r, p) for r in rows), total=True)
            for p in self.labels
        ]
        for j, total in enumerate(col_totals):
            sup.relation((row[j] for row in cells), total)
        totals = None
        grand = None
        if row_totals:
            grand = sup.cell(
                (measure, "*", "*"), sum(sup.values[k] for k in col_totals), total=True
            )
            totals = [
                sup.cell((gid, r, "*"), sum(value(r, p) for p in self.labels), total=True)
                for r in rows
            ]
            for row, total in zip(cells, totals, strict=True):
                sup.relation(row, total)
            sup.relation(col_totals, grand)
            sup.relation(totals, grand)
        grid = Grid(gid, title, row_header, list(row_names), cells, totals, col_totals, grand, note)
        self.report.grids[gid] = grid
        return grid


async def build_report(
    conn: Any, config: Config, spec: ReportSpec, *, now: datetime, content: Content | None = None
) -> Report:
    """Read the anonymous tables and lay out every published number (suppression applied)."""
    tz = config.tz
    labels = stats.periods_between(spec.start, spec.end, spec.by)
    periods = [make_period(label) for label in labels]
    area_labels = {a.id: a.label for a in config.areas}
    area_title = area_labels.get(spec.area or "", spec.area or "") if spec.area else "Semua daerah"
    report = Report(config, spec, periods, now, area_title, Suppressor())

    def in_area(area: str) -> bool:
        return spec.area is None or area == spec.area

    def norm_area(area: str | None) -> str:
        return "" if area in (None, "", "lewati") else str(area)

    counters: dict[tuple[str, str, str, str, str], int] = defaultdict(int)
    for row in await stats.stat_rows(conn, labels):
        area = norm_area(row.area)
        if in_area(area):
            counters[(row.metric, row.period, area, row.dim1, row.dim2)] += row.n
    by_week = spec.by == "week"
    cases: list[CaseStat] = []
    for case in [*await stats.live_case_stats(conn, tz), *await stats.case_stat_rows(conn, labels)]:
        period = case.week if by_week else case.month
        area = norm_area(case.area)
        if period in labels and in_area(area):
            cases.append(
                CaseStat(
                    case.week,
                    case.month,
                    area,
                    case.level,
                    case.category,
                    case.source_kind,
                    case.minutes_to_claim,
                    case.sla_breaches,
                    case.outcome,
                )
            )

    def period_of(case: CaseStat) -> str:
        return case.week if by_week else case.month

    # Areas: configured ones in config order, then "not given", then unknown ids.
    shown_metrics = ("served", "screening", "crisis")
    seen_areas = {k[2] for k in counters if k[0] in shown_metrics} | {c.area for c in cases}
    area_order = [a.id for a in config.areas if a.id in seen_areas or spec.area == a.id]
    if "" in seen_areas:
        area_order.append("")
    area_order += sorted(a for a in seen_areas if a and a not in area_labels)
    if spec.area:
        area_order = [spec.area]
    names = {a: area_labels.get(a, a) if a else NO_AREA_LABEL for a in area_order}
    b = _Builder(report, area_order, names)

    def row_value(metric: str, row_field: str) -> Callable[[Hashable, str], int]:
        def value(row: Hashable, period: str) -> int:
            return sum(
                n
                for (m, p, area, d1, d2), n in counters.items()
                if m == metric and p == period and {"area": area, "dim1": d1}[row_field] == row
            )

        return value

    # 1. Residents served (distinct per period: no totals across periods).
    b.grid(
        "served_area",
        "Warga yang dilayani",
        "Daerah",
        area_order,
        [names[a] for a in area_order],
        row_value("served", "area"),
        measure="served",
        row_totals=False,
        note="Setiap warga dihitung sekali per minggu/bulan, di daerah yang ia pilih. "
        "Jumlah antar periode tidak dijumlahkan karena warga yang sama bisa datang "
        "lagi.",
    )

    # 2. Screenings.
    titles, bands = instrument_info(content)
    volume: dict[str, int] = defaultdict(int)  # instruments: most used first
    for (metric, _p, _a, instrument, _band), n in counters.items():
        if metric == "screening":
            volume[instrument] += n
    used = sorted(volume, key=lambda i: (-volume[i], i))
    report.instrument_titles = {i: titles.get(i, i) for i in used}
    b.grid(
        "screen_area",
        "Cek mandiri per daerah",
        "Daerah",
        area_order,
        [names[a] for a in area_order],
        row_value("screening", "area"),
        measure="screening",
    )
    instr = b.grid(
        "screen_instrument",
        "Cek mandiri per alat",
        "Alat cek",
        used,
        [report.instrument_titles[i] for i in used],
        row_value("screening", "dim1"),
        measure="screening",
    )
    band_rows: list[tuple[str, str]] = []
    band_names: list[str] = []
    for i in used:
        known = bands.get(i, [])
        present = {k[4] for k in counters if k[0] == "screening" and k[3] == i}
        ordered = [key for key, _l in known if key in present] + sorted(
            present - {key for key, _l in known}
        )
        label_of = dict(known)
        for band in ordered:
            band_rows.append((i, band))
            band_names.append(f"{report.instrument_titles[i]}: {label_of.get(band, band)}")

    def band_value(row: Hashable, period: str) -> int:
        i, band = row  # type: ignore[misc]
        return sum(
            n
            for (m, p, _a, d1, d2), n in counters.items()
            if m == "screening" and p == period and d1 == i and d2 == band
        )

    band_grid = b.grid(
        "screen_band",
        "Hasil cek per alat",
        "Alat dan hasil",
        band_rows,
        band_names,
        band_value,
        measure="screening",
        note="Hasil cek bukan diagnosis.",
    )
    # The bands of an instrument add up to the instrument's count (a published sum too).
    for i_index, i in enumerate(used):
        members = [n for n, (inst, _b) in enumerate(band_rows) if inst == i]
        for j in range(len(report.periods)):
            b.sup.relation((band_grid.cells[n][j] for n in members), instr.cells[i_index][j])
        assert band_grid.row_totals is not None and instr.row_totals is not None
        b.sup.relation((band_grid.row_totals[n] for n in members), instr.row_totals[i_index])
        report.bands[i] = [
            (band, name.split(": ", 1)[1], band_grid.row_totals[n])
            for n, ((_i, band), name) in enumerate(zip(band_rows, band_names, strict=True))
            if _i == i
        ]

    # 3. Crisis detections.
    crisis_rows = sorted(
        {(k[3], k[4]) for k in counters if k[0] == "crisis"},
        key=lambda r: (
            list(CATEGORY_LABELS).index(r[0]) if r[0] in CATEGORY_LABELS else 99,
            LEVELS.index(r[1]) if r[1] in LEVELS else 9,
        ),
    )

    def crisis_value(row: Hashable, period: str) -> int:
        category, level = row  # type: ignore[misc]
        return sum(
            n
            for (m, p, _a, d1, d2), n in counters.items()
            if m == "crisis" and p == period and d1 == category and d2 == level
        )

    b.grid(
        "crisis",
        "Tanda krisis yang terdeteksi",
        "Jenis dan tingkat",
        crisis_rows,
        [
            f"{CATEGORY_LABELS.get(c, c).capitalize()} · {LEVEL_LABELS.get(lv, lv)}"
            for c, lv in crisis_rows
        ],
        crisis_value,
        measure="crisis",
        note="Dari kata-kata warga, jawaban cek, atau permintaan bantuan. Satu warga bisa "
        "terdeteksi lebih dari sekali.",
    )
    b.grid(
        "crisis_area",
        "Tanda krisis per daerah",
        "Daerah",
        area_order,
        [names[a] for a in area_order],
        row_value("crisis", "area"),
        measure="crisis",
    )

    # 4. Escalations to cadres.
    def case_count(pred: Callable[[CaseStat, Hashable], bool]) -> Callable[[Hashable, str], int]:
        def value(row: Hashable, period: str) -> int:
            return sum(1 for c in cases if period_of(c) == period and pred(c, row))

        return value

    levels = [lv for lv in LEVELS if any(c.level == lv for c in cases)]
    levels += sorted({c.level for c in cases} - set(levels))
    b.grid(
        "cases_level",
        "Kasus yang diteruskan ke kader",
        "Tingkat",
        levels,
        [LEVEL_LABELS.get(lv, lv) for lv in levels],
        case_count(lambda c, r: c.level == r),
        measure="cases",
    )
    b.grid(
        "cases_area",
        "Kasus per daerah",
        "Daerah",
        area_order,
        [names[a] for a in area_order],
        case_count(lambda c, r: c.area == r),
        measure="cases",
    )
    outcomes = [o for o in [*OUTCOME_LABELS, OPEN_OUTCOME] if any(c.outcome == o for c in cases)]
    outcomes += sorted({c.outcome for c in cases} - set(outcomes))
    b.grid(
        "cases_outcome",
        "Hasil tindak lanjut kasus",
        "Hasil",
        outcomes,
        [OUTCOME_NAMES.get(o, o) for o in outcomes],
        case_count(lambda c, r: c.outcome == r),
        measure="cases",
    )
    b.grid(
        "cases_sla",
        "Kasus yang melewati batas waktu",
        "",
        ["late"],
        ["Belum diambil kader sampai batas waktu"],
        case_count(lambda c, r: c.sla_breaches > 0),
        measure="cases_late",
        note="Batas waktu: darurat {u} menit, tinggi {h} menit, perlu dicek {c} jam.".format(
            u=config.escalation.urgent_minutes,
            h=config.escalation.high_minutes,
            c=format_decimal(config.escalation.check_minutes / 60, "0.#", locale=LOCALE),
        ),
    )

    # Time to claim (minutes), per period and for the whole range.
    b.sup.solve()
    groups: list[tuple[Period | None, list[CaseStat]]] = [
        (p, [c for c in cases if period_of(c) == p.label]) for p in report.periods
    ]
    groups.append((None, cases))
    for period, members in groups:
        minutes = sorted(c.minutes_to_claim for c in members if c.minutes_to_claim is not None)
        n = len(minutes)
        shown: int | str = PRIMARY if 0 < n < SMALL else n
        report.claim_times.append(
            ClaimTimes(
                period, period.title if period else WHOLE, shown, _median(minutes), _p90(minutes)
            )
        )
    assert not b.sup.check()
    return report


# ---------------------------------------------------------------------------- CSV
CSV_HEADER = ("tabel", "baris", "periode", "mulai", "sampai", "nilai")


def report_csv(report: Report) -> str:
    """Long format: one published number per line; '<5' and 'x' are suppressed cells."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    first, last = report.periods[0], report.periods[-1]
    whole = (WHOLE, first.start.isoformat(), last.end.isoformat())
    writer.writerow(("Info", "Daerah", "", "", "", report.area_title))
    writer.writerow(
        (
            "Info",
            "Periode",
            *whole[0:1],
            whole[1],
            whole[2],
            "per minggu" if report.spec.by == "week" else "per bulan",
        )
    )
    writer.writerow(
        (
            "Info",
            "Dibuat",
            "",
            "",
            "",
            report.generated_at.astimezone(report.config.tz).isoformat(timespec="minutes"),
        )
    )
    writer.writerow(
        (
            "Info",
            "Aturan",
            "",
            "",
            "",
            "<5 = 1 sampai 4 (disembunyikan); x = "
            "disembunyikan agar angka <5 tidak bisa dihitung dari jumlah",
        )
    )
    for grid in report.grids.values():
        for name, row, total in zip(
            grid.rows, grid.cells, grid.row_totals or [None] * len(grid.rows), strict=True
        ):
            for period, key in zip(report.periods, row, strict=True):
                writer.writerow(
                    (
                        grid.title,
                        name,
                        period.label,
                        period.start.isoformat(),
                        period.end.isoformat(),
                        report.shown(key),
                    )
                )
            if total is not None:
                writer.writerow((grid.title, name, *whole, report.shown(total)))
        if grid.col_totals is not None:
            for period, key in zip(report.periods, grid.col_totals, strict=True):
                writer.writerow(
                    (
                        grid.title,
                        "Jumlah",
                        period.label,
                        period.start.isoformat(),
                        period.end.isoformat(),
                        report.shown(key),
                    )
                )
        if grid.grand is not None:
            writer.writerow((grid.title, "Jumlah", *whole, report.shown(grid.grand)))
    for row in report.claim_times:
        period = row.period
        where = (
            (period.label, period.start.isoformat(), period.end.isoformat()) if period else whole
        )
        writer.writerow(
            ("Waktu sampai kasus diambil kader", "Kasus yang diambil", *where, row.claimed)
        )
        for name, value in (("Median (menit)", row.median), ("Persentil ke-90 (menit)", row.p90)):
            writer.writerow(
                (
                    "Waktu sampai kasus diambil kader",
                    name,
                    *where,
                    NO_VALUE if value is None else round(value),
                )
            )
    return out.getvalue()


# ---------------------------------------------------------------------------- files and CLI
def file_stem(report: Report) -> str:
    area = f"-{report.spec.area}" if report.spec.area else ""
    return (
        f"laporan-temanjiwa{area}-{report.spec.start.isoformat()}-"
        f"{report.spec.end.isoformat()}-{'minggu' if report.spec.by == 'week' else 'bulan'}"
    )


def write_report(report: Report, out_dir: Path) -> tuple[Path, Path]:
    from bot.report_html import render_html

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = file_stem(report)
    csv_path = out_dir / f"{stem}.csv"
    html_path = out_dir / f"{stem}.html"
    csv_path.write_text(report_csv(report), encoding="utf-8-sig")
    html_path.write_text(render_html(report), encoding="utf-8")
    return csv_path, html_path


def load_report_content(config: Config, content_dir: Path | None) -> Content | None:
    """Flow titles and band labels for the report; None (ids shown) if content cannot load."""
    from bot.app import default_content_dir
    from flows.linter import load_content

    try:
        return load_content(Path(content_dir or config.content or default_content_dir()))
    except Exception as exc:  # a report must not fail on a content problem
        log.warning("content could not be loaded (%s): the report shows instrument ids", exc)
        return None


async def report_command(args: argparse.Namespace) -> int:
    from bot.app import default_db_path
    from bot.config import load_config
    from storage.sqlite import SqliteStore

    if args.demo is not None:
        from bot.demo import demo_report

        paths, summary = await demo_report(args.demo, content_dir=args.content)
        print(summary)
        for path in paths:
            print(path)
        return 0
    config = load_config(args.config)
    now = datetime.now(config.tz)
    spec = default_spec(now.date(), args.by, args.start, args.end, args.area)
    if spec.area and spec.area not in {a.id for a in config.areas}:
        log.warning("area %r is not in the deployment config", spec.area)
    db_path = Path(args.db or config.database or default_db_path())
    if not db_path.exists():
        print(f"no database at {db_path}", file=sys.stderr)
        return 2
    content = load_report_content(config, args.content)
    async with SqliteStore(db_path) as store:
        report = await build_report(store.reader, config, spec, now=now, content=content)
    for path in write_report(report, args.out):
        print(path)
    return 0


def fmt_generated(report: Report) -> str:
    return format_datetime(
        report.generated_at, "d MMMM y, HH.mm zzz", tzinfo=report.config.tz, locale=LOCALE
    )
