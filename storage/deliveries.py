"""Inbound update ids (`inbound_seen`) for a channel that records them inside its own turn
transaction (bot/conversations.py), so a turn and "this update was handled" commit together;
recording an id also takes its message out of the durable inbox (storage/inbox.py).
`Store.first_delivery` is the one-call form (its own transaction) for everything else.

Times are ISO-8601 strings in UTC; retention (storage/retention.py) deletes ids older than
7 days. The SQL is portable (storage/sql.py).
"""

from __future__ import annotations

from datetime import datetime

from storage import inbox
from storage.cases import iso
from storage.sql import Connection

_RECORD = (
    "INSERT INTO inbound_seen (channel, update_id, seen_at) VALUES (?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)


async def record(conn: Connection, channel: str, update_id: str, now: datetime) -> bool:
    """Record an update id in the caller's open transaction; False if it was already there.
    A message waiting in the durable inbox (storage/inbox.py) under that id leaves it."""
    first = await conn.execute(_RECORD, (channel, update_id, iso(now))) == 1
    await inbox.done(conn, channel, update_id)
    return first


async def note(conn: Connection, channel: str, update_id: str, now: datetime) -> None:
    """`record` without the answer: sent with the turn's other writes (no trip of its own)."""
    await conn.write(_RECORD, (channel, update_id, iso(now)))
    await inbox.done(conn, channel, update_id)


async def seen_since(conn: Connection, channel: str, since: datetime) -> set[str]:
    """Update ids of `channel` recorded at or after `since` (e.g. at start-up, the last two
    days: Telegram redelivers an unconfirmed update for at most 24 hours)."""
    rows = await conn.fetch(
        "SELECT update_id FROM inbound_seen WHERE channel = ? AND seen_at >= ?",
        (channel, iso(since)),
    )
    return {row["update_id"] for row in rows}
