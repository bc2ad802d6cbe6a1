"""SQL for moving a resident's rows to a new key, when the platform id they are keyed on
changes (a WhatsApp number change: the key is the HMAC of the new `wa_id`).

Everything keyed to the old key moves: the session, screening results, the consent log,
cases with their event log (an open case keeps its cadre, deadlines and outbox), and a
relay. It runs inside the caller's transaction, so the move is all or nothing; the caller
re-seals what names the old platform id (a case's contact address, bot/cases/desk.py).

If the new key already holds rows, they are not this person's history to merge with: an
earlier holder of a recycled number, or a fresh start made from the new number a moment
before WhatsApp's notice arrived. They go the way /hapus removes data (session, results
and consent records deleted; cases keep only anonymous statistics — an open one stays
open, unlinked, for its cadre to close; a relay on it ends), then the old key's rows move
in. Results are never merged: one person must never be shown another's.

Nothing under the old key (a redelivered notice, a number we never spoke with) changes
nothing, whatever the new key holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from storage.base import Transaction
from storage.cases import RelayRow, forget_user
from storage.sql import Connection

#: Every table with rows keyed by `user_key` (storage/migrations.py names the column so).
MOVED_TABLES: tuple[str, ...] = (
    "sessions",
    "results",
    "consent_log",
    "cases",
    "case_events",
    "relays",
)


@dataclass(frozen=True)
class Moved:
    """What `move_user` did: rows moved per table, and whether the new key held rows."""

    rows: dict[str, int] = field(default_factory=dict)
    replaced: bool = False  # the new key's earlier rows were removed first
    ended_relays: tuple[RelayRow, ...] = ()  # relays on the new key's cases that ended

    @property
    def moved(self) -> bool:
        return any(self.rows.values())


async def holds_rows(conn: Connection, user_key: str) -> bool:
    """True if any table has a row keyed to `user_key`."""
    union = " UNION ALL ".join(f"SELECT 1 AS one FROM {t} WHERE user_key = ?" for t in MOVED_TABLES)
    row = await conn.fetchone(
        f"SELECT 1 AS one FROM ({union}) AS keyed LIMIT 1", (user_key,) * len(MOVED_TABLES)
    )
    return row is not None


async def move_user(tx: Transaction, old_key: str, new_key: str, now: datetime) -> Moved:
    """Move every row keyed to `old_key` to `new_key` (see the module docstring)."""
    if old_key == new_key or not await holds_rows(tx, old_key):
        return Moved()
    replaced = await holds_rows(tx, new_key)
    ended: list[RelayRow] = []
    if replaced:
        ended = await forget_user(tx, new_key, now, event="number_reassigned")
        await tx.delete_user(new_key)  # the rest, as /hapus does (and the WAL is truncated)
    rows: dict[str, int] = {}
    tx.involve(new_key)  # whatever case, relay or disclosure old_key had is now new_key's
    for table in MOVED_TABLES:
        rows[table] = await tx.execute(
            f"UPDATE {table} SET user_key = ? WHERE user_key = ?", (new_key, old_key)
        )
    return Moved(rows, replaced, tuple(ended))
