"""The programme report's model: periods, tables (grids), claim times, and how numbers read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from bot.cases.cards import OUTCOME_LABELS
from bot.config import Config
from bot.reports.suppression import Key, Suppressor
from storage import stats

LOCALE = "id"
MIN_MEDIAN = 5
MIN_P90 = 10
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


@dataclass(frozen=True)
class Period:
    label: str  # "2026-W47" | "2026-11"
    start: date
    end: date
    title: str  # "16–22 Nov" | "November 2026"; "… (belum lengkap, sampai 2 Des)"
    short: str  # "M47" | "Nov"; "Des*" while the period is still running
    covered_end: date  # the last day with data: `end`, or the report's day if earlier

    @property
    def complete(self) -> bool:
        return self.covered_end >= self.end


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
        first, last = self.periods[0].start, self.periods[-1].covered_end
        return f"{fmt_date(first)} – {fmt_date(last)}"

    @property
    def incomplete(self) -> list[Period]:
        """Periods still running on the report's day (their counts are not final)."""
        return [p for p in self.periods if not p.complete]


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
    end = min(end or today, today)  # no report of days that have not happened yet
    if start is None:
        if by == "week":
            start = end - timedelta(weeks=12) + timedelta(days=1)
        else:
            month = end.month - 5
            start = date(end.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
    if start > end:
        raise ValueError("--from is after --to (or after today)")
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


def make_period(label: str, today: date) -> Period:
    """A week or month; one that is still running on `today` says so in its title."""
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
    covered = min(end, today)
    if covered < end:
        what = "minggu" if stats.is_week(label) else "bulan"
        until = format_date(covered, "d MMM", locale=LOCALE)
        title = f"{title} ({what} belum lengkap, sampai {until})"
        short = f"{short}*"
    return Period(label, start, end, title, short, covered)


def fmt_generated(report: Report) -> str:
    return format_datetime(
        report.generated_at, "d MMMM y, HH.mm zzz", tzinfo=report.config.tz, locale=LOCALE
    )
