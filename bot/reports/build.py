"""Building the programme report from the anonymous tables (storage/stats.py)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from babel.numbers import format_decimal

from bot.cases.cards import CATEGORY_LABELS, OUTCOME_LABELS
from bot.config import Config
from bot.reports.model import (
    LEVEL_LABELS,
    LEVELS,
    LOCALE,
    MIN_MEDIAN,
    MIN_P90,
    NO_AREA_LABEL,
    OPEN_OUTCOME,
    OUTCOME_NAMES,
    WHOLE,
    ClaimTimes,
    Grid,
    Period,
    Report,
    ReportSpec,
    make_period,
)
from bot.reports.suppression import PRIMARY, SMALL, Key, Suppressor
from flows.model import Content
from storage import stats
from storage.stats import CaseStat

Bands = dict[str, list[tuple[str, str]]]
# Follow-up stages in the report (bot/followups/counting.py counts these and a few more for
# operators: blocked, skipped are on /healthz).
FOLLOWUP_STAGES = ("offered", "accepted", "declined", "sent", "answered", "stopped",
                   "escalated", "flagged")
FOLLOWUP_LABELS = {
    "offered": "Ditawari sapaan lanjutan",
    "accepted": "Setuju disapa lagi",
    "declined": "Tidak mau disapa",
    "sent": "Sapaan terkirim",
    "answered": "Sapaan dijawab warga",
    "stopped": "Berhenti atas permintaan warga",
    "escalated": "Jawaban sapaan menjadi kasus kader",
    "flagged": "Sapaan terakhir tidak dijawab: tugas kader",
}


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


ROOT: tuple = ()  # the node holding a measure's total


class _Universe:
    """Every count any report for these periods could publish, for every area and for all
    areas ('*'), with the sums that tie them together. A report shows a subset of it, so the
    report for one area and the report for all areas hide the same cells."""

    def __init__(self, sup: Suppressor, areas: Sequence[str], labels: Sequence[str]):
        self.sup = sup
        self.areas = list(areas)
        self.labels = list(labels)
        self.views = [*self.areas, "*"]
        self.nodes: dict[str, list[tuple]] = {}
        self.summable: dict[str, bool] = {}

    def add(
        self,
        measure: str,
        leaves: Sequence[tuple],
        parent: Callable[[tuple], tuple | None],
        leaf_value: Callable[[str, tuple, str], int],
        *,
        summable: bool = True,
    ) -> None:
        """`leaves` are the finest rows (a family name first: ("band", "phq9", "mild")); each
        node's parent is given by `parent` up to ROOT. `leaf_value(area, leaf, period)`; a
        measure without leaves has only ROOT, whose value `leaf_value` then gives."""
        sup = self.sup
        children: dict[tuple, list[tuple]] = defaultdict(list)
        nodes: list[tuple] = [ROOT]
        for leaf in leaves:
            node = leaf
            while node != ROOT and node not in nodes:
                nodes.append(node)
                up = parent(node)
                assert up is not None
                children[up].append(node)
                node = up
        depth = {n: 0 for n in nodes}
        for n in nodes:
            d, up = 0, n
            while up != ROOT:
                up = parent(up) or ROOT
                d += 1
            depth[n] = d
        bottom_up = sorted(nodes, key=lambda n: -depth[n])
        periods = [*self.labels, "*"] if summable else list(self.labels)
        values: dict[tuple[str, tuple, str], int] = {}
        for area in self.areas:
            for period in self.labels:
                for node in bottom_up:
                    kids = children.get(node)
                    if not kids:
                        values[(area, node, period)] = leaf_value(area, node, period)
                    else:
                        family = kids[0][0]
                        values[(area, node, period)] = sum(
                            values[(area, k, period)] for k in kids if k[0] == family
                        )
        for node in nodes:
            for period in self.labels:
                values[("*", node, period)] = sum(values[(a, node, period)] for a in self.areas)
            if summable:
                for view in self.views:
                    values[(view, node, "*")] = sum(values[(view, node, p)] for p in self.labels)
        leaf_set = set(leaves) or {ROOT}
        for (view, node, period), value in values.items():
            sup.cell(
                (measure, view, node, period),
                value,
                total=node not in leaf_set or view == "*" or period == "*",
            )
        families: dict[str, list[tuple]] = defaultdict(list)
        for node in nodes:
            if node != ROOT:
                families[node[0]].append(node)
        for view in self.views:
            for period in periods:

                def key(node: tuple, view: str = view, period: str = period) -> Key:
                    return (measure, view, node, period)

                for node, kids in children.items():
                    for family in {k[0] for k in kids}:
                        sup.relation((key(k) for k in kids if k[0] == family), key(node))
                for members in families.values():  # a family flattened: it adds up to ROOT
                    sup.relation((key(n) for n in members), key(ROOT))
            if summable:
                for node in nodes:
                    sup.relation(
                        ((measure, view, node, p) for p in self.labels), (measure, view, node, "*")
                    )
        for node in nodes:
            for period in periods:
                sup.relation(
                    ((measure, a, node, period) for a in self.areas), (measure, "*", node, period)
                )
        self.nodes[measure] = nodes
        self.summable[measure] = summable

    def key(self, measure: str, view: str, node: tuple, period: str) -> Key:
        return (measure, view, node, period)

    def grid(
        self,
        report: Report,
        gid: str,
        title: str,
        row_header: str,
        measure: str,
        view: str,
        rows: Sequence[tuple],
        names: Sequence[str],
        note: str = "",
    ) -> Grid:
        """Rows of one family (or ROOT) of a measure, for one view, by period. Rows that are 0
        in every period of this view are left out (they add nothing to any sum)."""
        summable = self.summable[measure]
        keep = [
            i
            for i, r in enumerate(rows)
            if r == ROOT or any(self.sup.values[(measure, view, r, p)] for p in self.labels)
        ]
        rows, names = [rows[i] for i in keep], [names[i] for i in keep]
        cells = [[(measure, view, r, p) for p in self.labels] for r in rows]
        grid = Grid(
            gid,
            title,
            row_header,
            list(names),
            cells,
            [(measure, view, r, "*") for r in rows] if summable else None,
            [(measure, view, ROOT, p) for p in self.labels],
            (measure, view, ROOT, "*") if summable else None,
            note,
        )
        report.grids[gid] = grid
        return grid

    def area_grid(
        self,
        report: Report,
        gid: str,
        title: str,
        measure: str,
        areas: Sequence[str],
        names: Sequence[str],
        note: str = "",
    ) -> Grid:
        """Areas × periods of a measure's total; with one area, that area's own total row."""
        summable = self.summable[measure]
        total_view = "*" if len(areas) > 1 else areas[0] if areas else "*"
        cells = [[(measure, a, ROOT, p) for p in self.labels] for a in areas]
        grid = Grid(
            gid,
            title,
            "Daerah",
            list(names),
            cells,
            [(measure, a, ROOT, "*") for a in areas] if summable else None,
            [(measure, total_view, ROOT, p) for p in self.labels],
            (measure, total_view, ROOT, "*") if summable else None,
            note,
        )
        report.grids[gid] = grid
        return grid


async def build_report(
    conn: Any, config: Config, spec: ReportSpec, *, now: datetime, content: Content | None = None
) -> Report:
    """Read the anonymous tables and lay out every published number (suppression applied)."""
    tz = config.tz
    labels = stats.periods_between(spec.start, spec.end, spec.by)
    today = now.astimezone(tz).date()
    periods = [make_period(label, today) for label in labels]
    area_labels = {a.id: a.label for a in config.areas}
    area_title = area_labels.get(spec.area or "", spec.area or "") if spec.area else "Semua daerah"
    report = Report(config, spec, periods, now, area_title, Suppressor())

    def norm_area(area: str | None) -> str:
        return "" if area in (None, "", "lewati") else str(area)

    counters: dict[tuple[str, str, str, str, str], int] = defaultdict(int)
    for row in await stats.stat_rows(conn, labels):
        counters[(row.metric, row.period, norm_area(row.area), row.dim1, row.dim2)] += row.n
    by_week = spec.by == "week"
    cases: list[CaseStat] = []
    for case in [*await stats.live_case_stats(conn, tz), *await stats.case_stat_rows(conn, labels)]:
        period = case.week if by_week else case.month
        if period in labels:
            cases.append(
                CaseStat(
                    case.week,
                    case.month,
                    norm_area(case.area),
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

    # Areas: configured ones in config order, then "not given", then unknown ids. The
    # suppression universe always holds every area, whatever area the report is for.
    shown_metrics = ("served", "screening", "crisis", "followup")
    seen = {k[2] for k in counters if k[0] in shown_metrics} | {c.area for c in cases}
    if spec.area:
        seen.add(spec.area)
    areas = [a.id for a in config.areas if a.id in seen]
    if "" in seen:
        areas.append("")
    areas += sorted(a for a in seen if a and a not in area_labels)
    names = {a: area_labels.get(a, a) if a else NO_AREA_LABEL for a in areas}
    view = spec.area or "*"
    shown_areas = [spec.area] if spec.area else areas
    area_names = [names[a] for a in shown_areas]
    universe = _Universe(report.sup, areas, labels)

    def counted(metric: str) -> Callable[[str, tuple, str], int]:
        def value(area: str, node: tuple, period: str) -> int:
            dims = node[1:]
            return sum(
                n
                for (m, p, a, d1, d2), n in counters.items()
                if m == metric and p == period and a == area and (d1, d2)[: len(dims)] == dims
            )

        return value

    # 1. Residents served (distinct per period: never summed across periods).
    universe.add("served", [], lambda n: None, counted("served"), summable=False)
    universe.area_grid(
        report,
        "served_area",
        "Warga yang dilayani",
        "served",
        shown_areas,
        area_names,
        note="Setiap warga dihitung sekali per minggu/bulan, di daerah yang ia "
        "pilih. Jumlah antar periode tidak dijumlahkan karena warga yang sama "
        "bisa datang lagi.",
    )

    # 2. Screenings: instrument → band.
    titles, bands = instrument_info(content)
    band_keys = sorted({(k[3], k[4]) for k in counters if k[0] == "screening"})
    universe.add(
        "screening",
        [("band", i, b) for i, b in band_keys],
        lambda n: ("instr", n[1]) if n[0] == "band" else ROOT,
        counted("screening"),
    )
    volume: dict[str, int] = defaultdict(int)  # instruments: most used (in this view) first
    for i, _b in band_keys:
        volume[i] = report.sup.values[("screening", view, ("instr", i), "*")]
    used = sorted((i for i in volume if volume[i]), key=lambda i: (-volume[i], i))
    report.instrument_titles = {i: titles.get(i, i) for i in used}
    universe.area_grid(
        report, "screen_area", "Cek mandiri per daerah", "screening", shown_areas, area_names
    )
    universe.grid(
        report,
        "screen_instrument",
        "Cek mandiri per alat",
        "Alat cek",
        "screening",
        view,
        [("instr", i) for i in used],
        [report.instrument_titles[i] for i in used],
    )
    band_rows: list[tuple] = []
    band_names: list[str] = []
    for i in used:
        known = bands.get(i, [])
        present = {b for inst, b in band_keys if inst == i}
        ordered = [key for key, _l in known if key in present]
        ordered += sorted(present - set(ordered))
        label_of = dict(known)
        report.bands[i] = []
        for band in ordered:
            band_rows.append(("band", i, band))
            band_names.append(f"{report.instrument_titles[i]}: {label_of.get(band, band)}")
            report.bands[i].append(
                (band, label_of.get(band, band), ("screening", view, ("band", i, band), "*"))
            )
    universe.grid(
        report,
        "screen_band",
        "Hasil cek per alat",
        "Alat dan hasil",
        "screening",
        view,
        band_rows,
        band_names,
        note="Hasil cek bukan diagnosis.",
    )

    # 3. Crisis detections: category and level.
    crisis_keys = sorted(
        {(k[3], k[4]) for k in counters if k[0] == "crisis"},
        key=lambda r: (
            list(CATEGORY_LABELS).index(r[0]) if r[0] in CATEGORY_LABELS else 99,
            LEVELS.index(r[1]) if r[1] in LEVELS else 9,
            r,
        ),
    )
    crisis_rows = [("crisis", c, lv) for c, lv in crisis_keys]
    universe.add("crisis", crisis_rows, lambda n: ROOT, counted("crisis"))
    universe.grid(
        report,
        "crisis",
        "Tanda krisis yang terdeteksi",
        "Jenis dan tingkat",
        "crisis",
        view,
        crisis_rows,
        [
            f"{CATEGORY_LABELS.get(c, c).capitalize()} · {LEVEL_LABELS.get(lv, lv)}"
            for c, lv in crisis_keys
        ],
        note="Dari kata-kata warga, jawaban cek, atau permintaan bantuan. Satu warga "
        "bisa terdeteksi lebih dari sekali.",
    )
    universe.area_grid(
        report, "crisis_area", "Tanda krisis per daerah", "crisis", shown_areas, area_names
    )

    # 4. Escalations to cadres: by level and by outcome (two breakdowns of one total).
    levels = [lv for lv in LEVELS if any(c.level == lv for c in cases)]
    levels += sorted({c.level for c in cases} - set(levels))
    outcomes = [o for o in [*OUTCOME_LABELS, OPEN_OUTCOME] if any(c.outcome == o for c in cases)]
    outcomes += sorted({c.outcome for c in cases} - set(outcomes))

    def case_value(area: str, node: tuple, period: str) -> int:
        members = [c for c in cases if c.area == area and period_of(c) == period]
        if node == ROOT:
            return len(members)
        if node[0] == "level":
            return sum(1 for c in members if c.level == node[1])
        if node[0] == "late":
            return sum(1 for c in members if c.sla_breaches > 0)
        return sum(1 for c in members if c.outcome == node[1])

    universe.add(
        "cases",
        [*(("level", lv) for lv in levels), *(("outcome", o) for o in outcomes)],
        lambda n: ROOT,
        case_value,
    )
    universe.grid(
        report,
        "cases_level",
        "Kasus yang diteruskan ke kader",
        "Tingkat",
        "cases",
        view,
        [("level", lv) for lv in levels],
        [LEVEL_LABELS.get(lv, lv) for lv in levels],
    )
    universe.area_grid(report, "cases_area", "Kasus per daerah", "cases", shown_areas, area_names)
    universe.grid(
        report,
        "cases_outcome",
        "Hasil tindak lanjut kasus",
        "Hasil",
        "cases",
        view,
        [("outcome", o) for o in outcomes],
        [OUTCOME_NAMES.get(o, o) for o in outcomes],
    )
    universe.add("cases_late", [], lambda n: None, lambda a, n, p: case_value(a, ("late",), p))
    universe.grid(
        report,
        "cases_sla",
        "Kasus yang melewati batas waktu",
        "",
        "cases_late",
        view,
        [ROOT],
        ["Belum diambil kader sampai batas waktu"],
        note="Batas waktu: darurat {u} menit, tinggi {h} menit, perlu dicek {c} jam.".format(
            u=config.escalation.urgent_minutes,
            h=config.escalation.high_minutes,
            c=format_decimal(config.escalation.check_minutes / 60, "0.#", locale=LOCALE),
        ),
    )
    # 5. Caring follow-ups: one count per stage. The stages are not parts of one total, so
    # the table has row totals (over periods) but no column total.
    def followup_count(stage: str) -> Callable[[str, tuple, str], int]:
        def value(area: str, node: tuple, period: str) -> int:
            return sum(
                n
                for (m, p, a, d1, _d2), n in counters.items()
                if m == "followup" and p == period and a == area and d1 == stage
            )

        return value

    for stage in FOLLOWUP_STAGES:
        universe.add(f"followup_{stage}", [], lambda n: None, followup_count(stage))
    report.grids["followups"] = Grid(
        "followups",
        "Sapaan lanjutan",
        "Tahap",
        [FOLLOWUP_LABELS[stage] for stage in FOLLOWUP_STAGES],
        [[(f"followup_{stage}", view, ROOT, p) for p in labels] for stage in FOLLOWUP_STAGES],
        [(f"followup_{stage}", view, ROOT, "*") for stage in FOLLOWUP_STAGES],
        None,
        None,
        note="Sapaan hanya untuk warga yang setuju, setelah krisis atau hasil cek yang berat. "
        "Setiap baris dihitung sendiri; baris tidak dijumlahkan.",
    )
    report.sup.solve()

    # Time to claim (minutes), per period and for the whole range, for the report's view.
    mine = [c for c in cases if spec.area is None or c.area == spec.area]
    groups: list[tuple[Period | None, list[CaseStat]]] = [
        (p, [c for c in mine if period_of(c) == p.label]) for p in report.periods
    ]
    groups.append((None, mine))
    for period, members in groups:
        minutes = sorted(c.minutes_to_claim for c in members if c.minutes_to_claim is not None)
        n = len(minutes)
        shown: int | str = PRIMARY if 0 < n < SMALL else n
        report.claim_times.append(
            ClaimTimes(
                period, period.title if period else WHOLE, shown, _median(minutes), _p90(minutes)
            )
        )
    assert not report.sup.check()
    return report
