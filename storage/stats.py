"""SQL for anonymous programme statistics (issue 7): no user_key, no words, no contact data.

`stats` holds counters, written in the resident's turn transaction (bot/rights/counting.py):

| metric      | dim1        | dim2  | counts                                               |
|-------------|-------------|-------|------------------------------------------------------|
| served      |             |       | residents who wrote to the bot (once per period)     |
| screening   | instrument  | band  | completed screenings                                 |
| crisis      | category    | level | crisis detections (free text, answers, menu)         |
| consent     | given/withdrawn |   | consent decisions                                    |
| deleted     |             |       | /hapus confirmations                                 |
| followup    | stage       | kind  | caring follow-ups: offered, accepted, declined, sent, |
|             |             |       | answered, stopped, escalated, flagged, blocked,       |
|             |             |       | skipped (bot/followups/counting.py)                   |

Each counter is kept twice: for the ISO week ("2026-W47") and for the month ("2026-11") of
the event in the deployment's time zone, so "once per period" holds for weeks and months
alike. `area` is the area id the resident chose ('' when not given).

`case_stats` holds one anonymous row per escalation case that was reduced (storage/retention.py):
area, level, category, source kind, week and month created, minutes to claim, SLA breaches,
outcome. Nothing in it links back to a resident, a cadre or a case code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from storage.sql import Connection, marks

METRICS = ("served", "screening", "crisis", "consent", "deleted", "followup")


# ---------------------------------------------------------------------------- periods
def week_label(day: date) -> str:
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def month_label(day: date) -> str:
    return f"{day.year}-{day.month:02d}"


def local_day(moment: datetime, tz: tzinfo) -> date:
    return moment.astimezone(tz).date()


def periods_of(moment: datetime, tz: tzinfo) -> tuple[str, str]:
    """(week, month) labels of a moment in the deployment's time zone."""
    day = local_day(moment, tz)
    return week_label(day), month_label(day)


def is_week(label: str) -> bool:
    return "-W" in label


def period_bounds(label: str) -> tuple[date, date]:
    """First and last day of a week ("2026-W47") or month ("2026-11") label."""
    if is_week(label):
        year, week = label.split("-W")
        start = date.fromisocalendar(int(year), int(week), 1)
        return start, start + timedelta(days=6)
    year, month = (int(x) for x in label.split("-"))
    start = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return start, following - timedelta(days=1)


def periods_between(first: date, last: date, by: str) -> list[str]:
    """Week or month labels covering [first, last] in order."""
    labels: list[str] = []
    day = first
    while day <= last:
        label = week_label(day) if by == "week" else month_label(day)
        if not labels or labels[-1] != label:
            labels.append(label)
        day = period_bounds(label)[1] + timedelta(days=1)
    return labels


# ---------------------------------------------------------------------------- counters
async def bump(
    conn: Connection,
    periods: Iterable[str],
    area: str,
    metric: str,
    dim1: str = "",
    dim2: str = "",
    delta: int = 1,
) -> None:
    assert metric in METRICS, metric
    for period in periods:
        await conn.write(
            "INSERT INTO stats (period, area, metric, dim1, dim2, n) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(period, area, metric, dim1, dim2) DO UPDATE SET n = stats.n + excluded.n",
            (period, area or "", metric, dim1 or "", dim2 or "", delta),
        )


@dataclass(frozen=True)
class StatRow:
    period: str
    area: str
    metric: str
    dim1: str
    dim2: str
    n: int


async def stat_rows(conn: Connection, periods: Sequence[str]) -> list[StatRow]:
    if not periods:
        return []
    rows = await conn.fetch(
        f"SELECT period, area, metric, dim1, dim2, n FROM stats WHERE period IN ({marks(periods)}) "
        "AND n > 0 ORDER BY period, area, metric, dim1, dim2",
        tuple(periods),
    )
    return [StatRow(**row) for row in rows]


# ---------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class CaseStat:
    """One escalation case, anonymous: what reports need and nothing else."""

    week: str
    month: str
    area: str
    level: str
    category: str
    source_kind: str  # free_text | screening | request | other
    minutes_to_claim: float | None  # None: never claimed
    sla_breaches: int
    outcome: str  # '' while the case is open


def source_kind(source: str | None) -> str:
    source = source or ""
    if source == "free_text":
        return "free_text"
    if "_item" in source:
        return "screening"
    if source == "menu":
        return "request"
    return "other"


async def add_case_stat(conn: Connection, stat: CaseStat) -> None:
    await conn.write(
        "INSERT INTO case_stats (week, month, area, level, category, source_kind, "
        "minutes_to_claim, sla_breaches, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            stat.week,
            stat.month,
            stat.area,
            stat.level,
            stat.category,
            stat.source_kind,
            stat.minutes_to_claim,
            stat.sla_breaches,
            stat.outcome or None,
        ),
    )


async def case_stat_rows(conn: Connection, periods: Sequence[str]) -> list[CaseStat]:
    """Reduced cases created in the given weeks or months."""
    if not periods:
        return []
    column = "week" if is_week(periods[0]) else "month"
    rows = await conn.fetch(
        f"SELECT week, month, area, level, category, source_kind, minutes_to_claim, "
        f"sla_breaches, COALESCE(outcome, '') AS outcome FROM case_stats "
        f"WHERE {column} IN ({marks(periods)})",
        tuple(periods),
    )
    return [CaseStat(**row) for row in rows]


SLA_EVENT_KINDS = ("sla_raised", "sla_reminder")


async def tables(conn: Connection) -> set[str]:
    return await conn.tables()


# The columns `case_stat_from` takes, in its order (storage/retention.py selects them too).
CASE_STAT_SOURCE = (
    "c.created_at, c.area, c.level, c.category, c.source, c.claimed_at, c.status, c.outcome, "
    "(SELECT count(*) FROM case_events e WHERE e.case_id = c.id "
    f"AND e.kind IN ({marks(SLA_EVENT_KINDS)})) AS breaches"
)


async def live_case_stats(conn: Connection, tz: tzinfo) -> list[CaseStat]:
    """Cases not yet reduced, seen the same way as `case_stats` rows (for reports)."""
    if "cases" not in await tables(conn):
        return []
    rows = await conn.fetch(f"SELECT {CASE_STAT_SOURCE} FROM cases c", SLA_EVENT_KINDS)
    return [case_stat_of(row, tz) for row in rows]


def case_stat_of(row: dict, tz: tzinfo) -> CaseStat:
    """A `CaseStat` from a row of the `CASE_STAT_SOURCE` columns."""
    return case_stat_from(
        row["created_at"],
        row["area"],
        row["level"],
        row["category"],
        row["source"],
        row["claimed_at"],
        row["status"],
        row["outcome"],
        row["breaches"],
        tz,
    )


def case_stat_from(
    created_at: str,
    area: str | None,
    level: str,
    category: str,
    source: str | None,
    claimed_at: str | None,
    status: str,
    outcome: str | None,
    breaches: int,
    tz: tzinfo,
) -> CaseStat:
    created = datetime.fromisoformat(created_at)
    minutes = None
    if claimed_at:
        minutes = round((datetime.fromisoformat(claimed_at) - created).total_seconds() / 60, 1)
    week, month = periods_of(created, tz)
    return CaseStat(
        week,
        month,
        area or "",
        level,
        category,
        source_kind(source),
        minutes,
        int(breaches or 0),
        (outcome or "") if status == "closed" else "",
    )
