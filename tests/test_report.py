"""Programme reports (issue 7): counting without identity, small-cell suppression that totals
cannot undo, CSV + HTML output, the demo, and `temanjiwa report`."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import random
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.cli import main as cli_main
from bot.reports.build import build_report
from bot.reports.csv_file import report_csv
from bot.reports.files import load_report_content, write_report
from bot.reports.html_page import render_html
from bot.reports.model import default_spec
from bot.reports.suppression import PRIMARY, SECONDARY, Suppressor
from storage import stats
from storage.sqlite import SqliteStore
from tests.conftest import REAL_CONTENT
from tests.support.escalation import START, make_config, make_harness

WEEK = "2026-W47"  # START is Sunday 22 November 2026, 14.05 WIB


# ---------------------------------------------------------------------------- suppression
def test_primary_cells_are_hidden_and_zero_is_shown():
    sup = Suppressor()
    for key, value in (("a", 0), ("b", 3), ("c", 5), ("t", 8)):
        sup.cell(key, value, total=key == "t")
    sup.relation(("a", "b", "c"), "t")
    sup.solve()
    assert [sup.shown(k) for k in "abct"] == [0, PRIMARY, SECONDARY, 8]


def test_a_lone_hidden_cell_in_a_row_takes_the_smallest_other_cell_with_it():
    sup = Suppressor()
    values = {"a": 2, "b": 40, "c": 9, "d": 0}
    for key, value in values.items():
        sup.cell(key, value)
    sup.cell("t", sum(values.values()), total=True)
    sup.relation(values, "t")
    sup.solve()
    assert sup.shown("a") == PRIMARY and sup.shown("c") == SECONDARY
    assert sup.shown("b") == 40 and sup.shown("d") == 0 and sup.shown("t") == 51


def test_secondary_suppression_propagates_through_rows_and_columns():
    # 2 × 2 with margins: hiding (0,0) forces a partner in its row AND its column, and
    # those partners force further cells until every sum hides none or at least two.
    grid = [[3, 20], [30, 40]]
    sup = Suppressor()
    for r, c in itertools.product(range(2), range(2)):
        sup.cell((r, c), grid[r][c])
    for r in range(2):
        sup.cell(("row", r), sum(grid[r]), total=True)
        sup.relation(((r, c) for c in range(2)), ("row", r))
    for c in range(2):
        sup.cell(("col", c), grid[0][c] + grid[1][c], total=True)
        sup.relation(((r, c) for r in range(2)), ("col", c))
    sup.cell("all", 93, total=True)
    sup.relation((("row", 0), ("row", 1)), "all")
    sup.relation((("col", 0), ("col", 1)), "all")
    sup.solve()
    assert not sup.check()
    assert {k for k in sup.hidden} == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert sup.shown("all") == 93


@pytest.mark.parametrize("seed", range(30))
def test_random_tables_never_expose_a_single_hidden_cell(seed):
    rng = random.Random(seed)
    rows, cols = rng.randint(1, 6), rng.randint(1, 8)
    grid = [
        [rng.choice([0, 0, 1, 2, 3, 4, 5, 7, 12, 30]) for _ in range(cols)] for _ in range(rows)
    ]
    sup = Suppressor()
    for r, c in itertools.product(range(rows), range(cols)):
        sup.cell((r, c), grid[r][c])
    for r in range(rows):
        sup.cell(("R", r), sum(grid[r]), total=True)
        sup.relation(((r, c) for c in range(cols)), ("R", r))
    for c in range(cols):
        sup.cell(("C", c), sum(grid[r][c] for r in range(rows)), total=True)
        sup.relation(((r, c) for r in range(rows)), ("C", c))
    sup.cell("G", sum(map(sum, grid)), total=True)
    sup.relation((("R", r) for r in range(rows)), "G")
    sup.relation((("C", c) for c in range(cols)), "G")
    sup.solve()
    assert not sup.check()
    for key, value in sup.values.items():
        if 0 < value < 5:
            assert sup.shown(key) == PRIMARY
        elif sup.shown(key) == SECONDARY:
            assert value >= 5
        elif key not in sup.hidden:
            assert sup.shown(key) == value
    # Subtracting the shown cells of any published sum never yields a hidden cell alone.
    for relation in sup.relations:
        assert sum(1 for k in relation if k in sup.hidden) != 1


# ---------------------------------------------------------------------------- counting
pytestmark = pytest.mark.both_backends


@pytest.fixture
async def h(tmp_path, database):
    harness = await make_harness(tmp_path, content_dir=REAL_CONTENT, database=database)
    yield harness
    await harness.close()


def stat(h, metric: str, period: str = WEEK) -> dict[tuple[str, str, str], int]:
    return {
        (r[0], r[1], r[2]): r[3]
        for r in h.rows(
            "SELECT area, dim1, dim2, n FROM stats WHERE metric = ? AND period = ? AND n != 0",
            metric,
            period,
        )
    }


async def phq2(h, user: str) -> None:
    await h.say(user, "/start phq2", ("c", "mulai"), ("c", "lebih_separuh"), ("c", "beberapa_hari"))


async def test_a_resident_is_served_once_per_week_and_month_in_the_area_they_choose(h):
    await h.say("r1", "halo")  # before choosing an area
    assert stat(h, "served") == {("", "", ""): 1}
    await h.say("r1", ("c", "setuju"), ("c", "dewasa"), ("c", "ngunut"))
    assert stat(h, "served") == {("ngunut", "", ""): 1}  # moved, not counted twice
    await phq2(h, "r1")
    await h.say("r1", "menu")
    assert stat(h, "served") == {("ngunut", "", ""): 1}
    assert stat(h, "served", "2026-11") == {("ngunut", "", ""): 1}
    h.clock.advance(days=1)  # Monday: a new week, the same month
    await h.say("r1", "menu")
    assert stat(h, "served", "2026-W48") == {("ngunut", "", ""): 1}
    assert stat(h, "served", "2026-11") == {("ngunut", "", ""): 1}
    # Only period labels are kept on the session, nothing else about the count.
    session = (await h.store.load_session(h.conversations.key_for("telegram", "r1"))).session
    assert session.profile["_counted"] == "2026-W48|ngunut|2026-11|ngunut"
    assert stat(h, "screening") == {("ngunut", "phq2", "positive"): 1}


async def test_weeks_follow_the_deployment_time_zone(h):
    # Sunday 23.30 WIB is still week 47; Monday 00.30 WIB is week 48 (both Sunday in UTC).
    h.clock.now = datetime(2026, 11, 22, 16, 30, tzinfo=UTC)
    await h.say("tz1", "halo")
    h.clock.now = datetime(2026, 11, 22, 17, 30, tzinfo=UTC)
    await h.say("tz2", "halo")
    assert sum(stat(h, "served", "2026-W47").values()) == 1
    assert sum(stat(h, "served", "2026-W48").values()) == 1


async def test_stats_tables_hold_no_identity(h):
    await h.onboard("x1")
    await phq2(h, "x1")
    await h.say("x1", "aku mau mati")  # the fixture detector: high → a case
    for table in ("stats", "case_stats"):
        columns = h.columns(table)
        assert "period" in columns or "week" in columns  # the columns were really read
        assert "user_key" not in columns and "code" not in columns
    key = h.conversations.key_for("telegram", "x1")
    dump = "\n".join(str(tuple(r)) for r in h.rows("SELECT * FROM stats"))
    assert key not in dump and "x1" not in dump and "mau mati" not in dump
    assert stat(h, "crisis") == {("ngunut", "suicide", "high"): 1}


async def test_report_counts_and_suppresses(h):
    for n in range(7):
        await h.onboard(f"a{n}")
        await phq2(h, f"a{n}")
    for n in range(2):
        await h.onboard(f"b{n}", area="kota")
    turn = await h.say("a0", "aku mau mati")
    code = next(e.data["case"] for e in turn.events if e.name == "escalation_created")
    await h.kit.dispatcher.tick()
    h.clock.advance(minutes=9)
    from bot.cases.desk import OPERATOR

    assert (await h.kit.desk.claim(code, OPERATOR)).ok
    spec = default_spec(START.date(), "week", date(2026, 11, 16), date(2026, 11, 22))
    report = await build_report(
        h.store.reader,
        make_config(),
        spec,
        now=h.clock.now,
        content=load_report_content(make_config(), REAL_CONTENT),
    )
    served = report.grids["served_area"]
    assert served.rows == ["Kec. Ngunut", "Kota"]
    assert [report.shown(row[0]) for row in served.cells] == [SECONDARY, PRIMARY]
    assert report.shown(served.col_totals[0]) == 9
    instrument = report.grids["screen_instrument"]
    assert instrument.rows == ["Cek cepat suasana hati (PHQ-2)"]
    assert report.shown(instrument.grand) == 7
    assert report.shown(report.grids["cases_level"].grand) == PRIMARY
    assert report.claim_times[-1].claimed == PRIMARY and report.claim_times[-1].median is None
    assert not report.sup.check()

    rows = list(csv.reader(report_csv(report).splitlines()))
    assert rows[0] == ["tabel", "baris", "periode", "mulai", "sampai", "nilai"]
    assert ["Warga yang dilayani", "Kota", WEEK, "2026-11-16", "2026-11-22", "<5"] in rows
    assert ["Warga yang dilayani", "Jumlah", WEEK, "2026-11-16", "2026-11-22", "9"] in rows
    text = report_csv(report)
    assert "telegram" not in text and h.conversations.key_for("telegram", "a0") not in text


async def test_claim_time_median_and_p90_need_enough_cases(h):
    from bot.cases.desk import OPERATOR

    minutes = [3, 5, 8, 10, 12, 15, 20, 25, 30, 60]
    for n, wait in enumerate(minutes):
        await h.onboard(f"c{n}")
        turn = await h.say(f"c{n}", "aku mau mati")
        code = next(e.data["case"] for e in turn.events if e.name == "escalation_created")
        h.clock.advance(minutes=wait)
        assert (await h.kit.desk.claim(code, OPERATOR)).ok
        h.clock.now = START
    spec = default_spec(START.date(), "month", date(2026, 11, 1), date(2026, 11, 30))
    report = await build_report(h.store.reader, make_config(), spec, now=START)
    whole = report.claim_times[-1]
    assert whole.claimed == 10 and whole.median == 13.5
    assert whole.p90 == pytest.approx(33.0)


async def test_report_counts_reduced_cases_exactly_once(h):
    from bot.cases.desk import OPERATOR
    from storage.retention import purge

    await h.onboard("z")
    turn = await h.say("z", "aku mau mati")
    code = next(e.data["case"] for e in turn.events if e.name == "escalation_created")
    assert (await h.kit.desk.resolve(code, OPERATOR, "contacted")).ok
    await h.kit.dispatcher.tick()
    spec = default_spec(START.date(), "month", date(2026, 11, 1), date(2026, 11, 30))
    before = await build_report(h.store.reader, make_config(), spec, now=START)
    h.clock.advance(days=31)
    assert (await purge(h.store, make_config(), h.clock.now)).cases_reduced == 1
    after = await build_report(h.store.reader, make_config(), spec, now=h.clock.now)
    for report in (before, after):
        assert report.sup.values[("cases", "*", (), "2026-11")] == 1
        assert report.sup.values[("cases", "*", ("outcome", "contacted"), "2026-11")] == 1


# ---------------------------------------------------------------------------- output
async def report_with_big_numbers(tmp_path: Path):
    config = make_config()
    async with SqliteStore(tmp_path / "big.db") as store:
        async with store.transaction() as tx:
            await stats.bump(tx, ("2026-W47",), "ngunut", "served", delta=1234)
            await stats.bump(tx, ("2026-W47",), "kota", "served", delta=2)
            await stats.bump(tx, ("2026-W47",), "ngunut", "screening", "phq9", "mild", 7)
        spec = default_spec(START.date(), "week", date(2026, 11, 16), date(2026, 11, 22))
        return await build_report(
            store.reader, config, spec, now=START, content=load_report_content(config, REAL_CONTENT)
        )


async def test_html_is_indonesian_self_contained_and_uses_babel(tmp_path):
    report = await report_with_big_numbers(tmp_path)
    html = render_html(report)
    assert "<script" not in html.lower()
    assert not re.search(r"(src|href)\s*=", html) and "@import" not in html
    assert "url(" not in html
    assert "<svg" in html and 'lang="id"' in html
    assert "1.236" in html  # Babel, locale id: thousands with a dot
    assert "Laporan Program Teman Jiwa" in html and "Warga yang dilayani" in html
    assert "16 Nov 2026 – 22 Nov 2026" in html  # the period, Indonesian month names
    assert "Cek suasana hati (PHQ-9)" in html or "PHQ-9" in html
    assert "&lt;5" in html


async def test_write_report_files(tmp_path):
    report = await report_with_big_numbers(tmp_path)
    csv_path, html_path = write_report(report, tmp_path / "out")
    assert csv_path.name == "laporan-temanjiwa-2026-11-16-2026-11-22-minggu.csv"
    assert csv_path.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    assert html_path.read_text(encoding="utf-8").startswith("<!doctype html>")


def test_report_command(tmp_path, capsys):
    db = tmp_path / "cli.db"

    async def seed() -> None:
        async with SqliteStore(db) as store, store.transaction() as tx:
            week, month = stats.periods_of(datetime.now(UTC), make_config().tz)
            await stats.bump(tx, (week, month), "", "served", delta=12)

    asyncio.run(seed())
    out = tmp_path / "laporan"
    assert cli_main(["report", "--db", str(db), "--by", "month", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.split()
    assert len(printed) == 2 and all(Path(p).exists() for p in printed)
    assert any(p.endswith("-bulan.csv") for p in printed)
    text = Path(next(p for p in printed if p.endswith(".csv"))).read_text(encoding="utf-8-sig")
    assert "Warga yang dilayani,Tidak diisi" in text
    assert cli_main(["report", "--db", str(tmp_path / "missing.db"), "--out", str(out)]) == 2


async def test_demo_seeds_through_the_service_and_writes_reports(tmp_path):
    from bot.reports.demo import demo_report

    paths, summary = await demo_report(
        tmp_path / "demo", residents=30, weeks=2, end=date(2026, 11, 22)
    )
    assert len(paths) == 4 and all(p.exists() for p in paths)
    assert "30 residents" in summary
    week_csv = next(p for p in paths if p.name.endswith("-minggu.csv"))
    rows = list(csv.reader(week_csv.read_text(encoding="utf-8-sig").splitlines()))
    served = [r for r in rows if r[0] == "Warga yang dilayani" and r[1] == "Jumlah"]
    assert [r[2] for r in served] == ["2026-W46", "2026-W47"]
    assert sum(int(r[5]) for r in served if r[5].isdigit()) > 0


def test_default_periods():
    spec = default_spec(date(2026, 11, 22), "week")
    assert (spec.start, spec.end) == (date(2026, 8, 31), date(2026, 11, 22))
    assert stats.periods_between(spec.start, spec.end, "week")[0] == "2026-W36"
    spec = default_spec(date(2026, 3, 10), "month")
    assert spec.start == date(2025, 10, 1)
    assert stats.periods_between(spec.start, spec.end, "month") == [
        "2025-10",
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
        "2026-03",
    ]
    assert stats.period_bounds("2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    assert stats.period_bounds("2026-W01") == (date(2025, 12, 29), date(2026, 1, 4))
    with pytest.raises(ValueError):
        default_spec(date(2026, 1, 1), "week", date(2026, 2, 1))


async def test_a_report_for_one_area_hides_exactly_what_the_full_report_hides(h):
    for n in range(6):
        await h.onboard(f"p{n}")
        await phq2(h, f"p{n}")
    for n in range(3):
        await h.onboard(f"q{n}", area="kota")
        await phq2(h, f"q{n}")
    await h.say("p0", "aku mau mati")
    config = make_config()
    reports = {}
    for area in (None, "ngunut", "kota"):
        spec = default_spec(START.date(), "week", date(2026, 11, 16), date(2026, 11, 22), area)
        reports[area] = await build_report(h.store.reader, config, spec, now=START)
    # One universe of cells and sums for every area: the same cells are hidden in all three,
    # so putting the area reports next to the full report reveals nothing more.
    assert reports["ngunut"].sup.hidden == reports[None].sup.hidden == reports["kota"].sup.hidden
    kota = reports["kota"].grids["screen_instrument"]
    assert kota.rows == ["phq2"] and reports["kota"].shown(kota.grand) == PRIMARY
    full = reports[None].grids["screen_area"]
    assert [reports[None].shown(row[0]) for row in full.cells] == [SECONDARY, PRIMARY]
    assert reports[None].shown(full.grand) == 9


async def test_a_month_still_running_is_capped_at_today_and_marked(tmp_path: Path):
    config = make_config()
    today = date(2026, 12, 2)
    now = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    async with SqliteStore(tmp_path / "partial.db") as store:
        async with store.transaction() as tx:
            await stats.bump(tx, ("2026-11",), "ngunut", "served", delta=186)
            await stats.bump(tx, ("2026-12",), "ngunut", "served", delta=20)
        spec = default_spec(today, "month", date(2026, 11, 1), date(2026, 12, 31))
        assert spec.end == today  # "to 31 December" on 2 December reports to today
        report = await build_report(store.reader, config, spec, now=now)
    november, december = report.periods
    assert november.complete and not december.complete
    assert december.covered_end == today and december.short.endswith("*")
    assert "bulan belum lengkap" in december.title
    assert report.incomplete == [december]
    page = render_html(report)
    assert "Periode belum lengkap" in page and "bulan belum lengkap, sampai 2 Des" in page
    rows = list(csv.reader(io.StringIO(report_csv(report))))
    assert rows[5][:5] == ["Info", "Belum lengkap", "2026-12", "2026-12-01", "2026-12-02"]
    served_december = [r for r in rows if r[2] == "2026-12" and r[0] != "Info"]
    assert served_december and {r[4] for r in served_december} == {"2026-12-02"}
    assert "2026-12-31" not in report_csv(report)
