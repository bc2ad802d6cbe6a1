"""Inbound update ids (`inbound_seen`) for a channel that records them inside its own turn
transaction (bot/conversations.py), so a turn and "this update was handled" commit together.
`Store.first_delivery` is the one-call form (its own transaction) for everything else.

Times are ISO-8601 strings in UTC, as `SqliteStore.first_delivery` writes them; retention
(storage/retention.py) deletes ids older than 7 days.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


async def record(conn: Any, channel: str, update_id: str, now: datetime) -> bool:
    """Record an update id in the caller's open transaction; False if it was already there."""
    db = getattr(conn, "db", conn)
    cursor = await db.execute(
        "INSERT OR IGNORE INTO inbound_seen (channel, update_id, seen_at) VALUES (?, ?, ?)",
        (channel, update_id, now.isoformat()),
    )
    return cursor.rowcount == 1


async def seen_since(conn: Any, channel: str, since: datetime) -> set[str]:
    """Update ids of `channel` recorded at or after `since` (e.g. at start-up, the last two
    days: Telegram redelivers an unconfirmed update for at most 24 hours)."""
    async with conn.execute(
        "SELECT update_id FROM inbound_seen WHERE channel = ? AND seen_at >= ?",
        (channel, since.isoformat()),
    ) as cursor:
        return {row[0] for row in await cursor.fetchall()}
