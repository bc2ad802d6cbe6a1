"""What a turn committed to say, kept until it is delivered (`pending_replies`).

A turn that carries a platform delivery id (a Telegram update id, a WhatsApp message id)
writes its replies here in its own transaction (bot/conversations.py), sealed with the
deployment's Fernet key: they can hold screening results, and the row holds the platform
id to send them to. The channel deletes the row once the replies went out; at start it
sends whatever a crash left behind. Retention (storage/retention.py) drops rows older than
7 days. Plain SQL (SQLite and PostgreSQL alike); times are ISO-8601 strings in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class PendingRow:
    delivery_id: str
    sealed: bytes
    created_at: datetime


def _db(conn: Any) -> Any:
    return getattr(conn, "db", conn)


async def keep(conn: Any, channel: str, delivery_id: str, user_key: str, sealed: bytes,
               now: datetime) -> None:
    """Keep one turn's sealed replies in the caller's open transaction."""
    await _db(conn).execute(
        "INSERT INTO pending_replies (channel, delivery_id, user_key, sealed, created_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, delivery_id) DO NOTHING",
        (channel, delivery_id, user_key, sealed, now.isoformat()),
    )


async def delivered(conn: Any, channel: str, delivery_id: str) -> int:
    """Forget a turn's replies once sent; the number of rows deleted (0 or 1)."""
    cursor = await _db(conn).execute(
        "DELETE FROM pending_replies WHERE channel = ? AND delivery_id = ?",
        (channel, delivery_id),
    )
    return cursor.rowcount


async def undelivered(conn: Any, channel: str) -> list[PendingRow]:
    """Every kept turn of `channel`, oldest first."""
    async with _db(conn).execute(
        "SELECT delivery_id, sealed, created_at FROM pending_replies WHERE channel = ? "
        "ORDER BY created_at, delivery_id",
        (channel,),
    ) as cursor:
        rows = await cursor.fetchall()
    return [PendingRow(r[0], bytes(r[1]), datetime.fromisoformat(r[2])) for r in rows]


async def expire(conn: Any, before: datetime) -> int:
    """Drop kept replies created before `before` (retention); the number deleted."""
    cursor = await _db(conn).execute(
        "DELETE FROM pending_replies WHERE created_at < ?", (before.isoformat(),)
    )
    return cursor.rowcount
