"""Retention (issue 7): how long anything about a resident is kept, and the purge that enforces it.

- A resident inactive for `retention.inactive_days` (default 90): everything keyed to them
  goes, as with /hapus (session, results, consent log, relays); their cases lose the link
  to them (storage.cases.forget_user).
- A closed case older than `retention.closed_case_days` (default 30) after closing, or a
  closed case whose resident deleted their data (user_key gone), is reduced to one anonymous
  `case_stats` row (storage.stats.CaseStat) and its case, events, outbox and relay rows go.
- A follow-up series (storage/followups.py) ends with its last check-in; as a safety net,
  one that began more than `retention.inactive_days` ago is ended here (its sealed address
  and check-ins are deleted), and so is any left without its resident's session.
- De-duplication ids of inbound updates (`inbound_seen`) and replies a crash left unsent
  (`pending_replies`) are kept 7 days.
- A disclosure without a case (a crisis protocol left mid-way before anything was decided)
  is kept, sealed, for 24 hours; a protocol that ends without a case deletes it at once.
- Afterwards the WAL is checkpointed and truncated, so deleted content does not linger
  in the -wal file (secure_delete already zeroes it in the database file).

`purge` is run by `temanjiwa purge` and, every `interval_s`, by the running bot
(`run_retention_schedule`). Both take the time from the caller, so tests control the clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, Protocol

from storage import followups, replies, stats
from storage.cases import forget_user
from storage.group_commit import USER_TABLES
from storage.sql import Connection, marks

log = logging.getLogger(__name__)

INBOUND_SEEN_DAYS = 7
PENDING_DISCLOSURE_HOURS = 24  # a protocol left mid-way without a case: its sealed words go
BATCH = 200  # residents per transaction: the bot's own turns wait at most one batch


class _Retention(Protocol):
    @property
    def inactive_days(self) -> int: ...

    @property
    def closed_case_days(self) -> int: ...


class RetentionConfig(Protocol):
    """What purge needs of bot.config.Config (storage does not import bot)."""

    @property
    def retention(self) -> _Retention: ...

    @property
    def tz(self) -> tzinfo: ...


@dataclass
class PurgeReport:
    residents: int = 0  # inactive residents whose data was deleted
    rows: dict[str, int] = field(default_factory=dict)  # rows deleted per table
    cases_unlinked: int = 0  # cases of purged residents that lost the link to them
    cases_reduced: int = 0  # closed cases reduced to anonymous statistics
    inbound_seen: int = 0
    followups_ended: int = 0  # follow-up series past the safety limit (address deleted)
    checkpointed: bool = False  # the WAL was checkpointed and truncated

    def add(self, table: str, count: int) -> None:
        if count > 0:
            self.rows[table] = self.rows.get(table, 0) + count

    def summary(self) -> str:
        rows = ", ".join(f"{t} {n}" for t, n in sorted(self.rows.items())) or "none"
        truncated = "yes" if self.checkpointed else "no"
        return (
            f"residents purged {self.residents}; rows deleted: {rows}; cases unlinked "
            f"{self.cases_unlinked}; cases reduced to statistics {self.cases_reduced}; "
            f"dedupe ids {self.inbound_seen}; follow-ups ended {self.followups_ended}; "
            f"WAL truncated {truncated}"
        )


def _iso(moment: datetime) -> str:
    return moment.isoformat()


async def _column(conn: Connection, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    return [next(iter(row.values())) for row in await conn.fetch(sql, params)]


async def reduce_closed_cases(
    conn: Connection, tz: tzinfo, *, closed_before: datetime | None = None
) -> int:
    """Closed cases whose resident deleted their data (user_key gone), or closed before
    `closed_before`, become one anonymous `case_stats` row each; their rows are deleted.
    A case with an alert still being delivered waits for the next run."""
    if "cases" not in await stats.tables(conn):
        return 0
    old = "" if closed_before is None else " OR julianday(c.closed_at) < julianday(?)"
    rows = await conn.fetch(
        f"SELECT c.id, {stats.CASE_STAT_SOURCE} FROM cases c WHERE c.status = 'closed' "
        f"AND (c.user_key IS NULL{old}) "
        f"AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.case_id = c.id "
        f"AND o.state IN ('pending', 'sending'))",
        (*stats.SLA_EVENT_KINDS, *(() if closed_before is None else (_iso(closed_before),))),
    )
    for row in rows:
        await stats.add_case_stat(conn, stats.case_stat_of(row, tz))
        for table in ("outbox", "case_events", "relays", "disclosures"):
            await conn.write(f"DELETE FROM {table} WHERE case_id = ?", (row["id"],))
        await conn.write("DELETE FROM cases WHERE id = ?", (row["id"],))
    return len(rows)


async def _delete_user_rows(conn: Connection, keys: list[str], report: PurgeReport) -> None:
    for table in USER_TABLES:
        report.add(
            table,
            await conn.execute(f"DELETE FROM {table} WHERE user_key IN ({marks(keys)})", keys),
        )


async def _count_cases(conn: Connection, keys: list[str]) -> int:
    rows = await _column(
        conn, f"SELECT count(*) AS n FROM cases WHERE user_key IN ({marks(keys)})", tuple(keys)
    )
    return int(rows[0]) if rows else 0


async def purge(store: Any, config: RetentionConfig, now: datetime) -> PurgeReport:
    """Apply the retention rules as of `now`; see the module docstring."""
    report = PurgeReport()
    inactive_before = now - timedelta(days=config.retention.inactive_days)
    inactive_cutoff = _iso(inactive_before)
    while True:
        async with store.transaction() as tx:
            has_cases = "cases" in await stats.tables(tx)
            keys = await _column(
                tx,
                "SELECT user_key FROM sessions WHERE julianday(updated_at) < julianday(?) LIMIT ?",
                (inactive_cutoff, BATCH),
            )
            if keys and has_cases:
                linked = await _column(
                    tx,
                    f"SELECT user_key FROM cases WHERE user_key IN ({marks(keys)}) UNION ALL "
                    f"SELECT user_key FROM relays WHERE user_key IN ({marks(keys)})",
                    (*keys, *keys),
                )
                report.cases_unlinked += await _count_cases(tx, keys)
                for key in sorted(set(linked)):
                    await forget_user(tx, key, now)
            if keys:
                await _delete_user_rows(tx, keys, report)
            report.residents += len(keys)
        if len(keys) < BATCH:
            break
    async with store.transaction() as tx:
        # Rows of residents without a session (none are expected; kept from going stale).
        for table in ("results", "consent_log", "checkins", "followups"):
            report.add(
                table,
                await tx.execute(
                    f"DELETE FROM {table} WHERE user_key NOT IN (SELECT user_key FROM sessions)"
                ),
            )
        report.cases_reduced = await reduce_closed_cases(
            tx, config.tz, closed_before=now - timedelta(days=config.retention.closed_case_days)
        )
        if "followups" in await stats.tables(tx):
            for key in await followups.created_before(tx, inactive_before):
                if await followups.end_series(tx, key) is not None:
                    report.followups_ended += 1
        report.inbound_seen = await tx.execute(
            "DELETE FROM inbound_seen WHERE julianday(seen_at) < julianday(?)",
            (_iso(now - timedelta(days=INBOUND_SEEN_DAYS)),),
        )
        report.add("pending_replies",
                   await replies.expire(tx, now - timedelta(days=INBOUND_SEEN_DAYS)))
        report.add(
            "disclosures",
            await tx.execute(
                "DELETE FROM disclosures WHERE case_id IS NULL AND julianday(at) < julianday(?)",
                (_iso(now - timedelta(hours=PENDING_DISCLOSURE_HOURS)),),
            ),
        )
    checkpoint = getattr(store, "checkpoint", None)
    if checkpoint is not None:
        report.checkpointed = await checkpoint()
    return report


async def run_retention_schedule(
    store: Any, config: RetentionConfig, clock: Callable[[], datetime], interval_s: float
) -> None:
    """Purge now and then every `interval_s` seconds until cancelled (a background task of
    the running bot). A failed run is logged and retried at the next interval."""
    while True:
        try:
            report = await purge(store, config, clock())
            log.info("retention: %s", report.summary())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retention purge failed; retrying in %s s", interval_s)
        await asyncio.sleep(interval_s)
