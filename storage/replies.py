"""What a turn committed to say, kept until it is delivered (`pending_replies`).

A turn that carries a platform delivery id (a Telegram update id, a WhatsApp message id)
writes its replies here in its own transaction (bot/conversations.py), sealed with the
deployment's Fernet key: they can hold screening results, and the row holds the platform
id to send them to. The channel deletes the row once the replies went out; at start it
sends whatever a crash left behind. Each row comes with when the resident's session was
last saved, so the caller can tell a turn a newer one has overtaken. Retention
(storage/retention.py) drops rows older than 7 days. Plain SQL (SQLite and PostgreSQL
alike); times are ISO-8601 strings in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.cases import iso, parse_time
from storage.sql import Connection


@dataclass(frozen=True)
class PendingRow:
    delivery_id: str
    sealed: bytes
    created_at: datetime
    session_saved_at: datetime | None  # the resident's latest turn (None: no session)


async def keep(conn: Connection, channel: str, delivery_id: str, user_key: str, sealed: bytes,
               now: datetime) -> None:
    """Keep one turn's sealed replies in the caller's open transaction."""
    await conn.write(
        "INSERT INTO pending_replies (channel, delivery_id, user_key, sealed, created_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, delivery_id) DO NOTHING",
        (channel, delivery_id, user_key, sealed, iso(now)),
    )


async def delivered(conn: Connection, channel: str, delivery_id: str) -> int:
    """Forget a turn's replies once sent; the number of rows deleted (0 or 1)."""
    return await conn.execute(
        "DELETE FROM pending_replies WHERE channel = ? AND delivery_id = ?",
        (channel, delivery_id),
    )


async def undelivered(conn: Connection, channel: str) -> list[PendingRow]:
    """Every kept turn of `channel`, oldest first."""
    rows = await conn.fetch(
        "SELECT p.delivery_id, p.sealed, p.created_at, s.updated_at AS session_saved_at "
        "FROM pending_replies p LEFT JOIN sessions s ON s.user_key = p.user_key "
        "WHERE p.channel = ? ORDER BY p.created_at, p.delivery_id",
        (channel,),
    )
    return [
        PendingRow(r["delivery_id"], bytes(r["sealed"]), datetime.fromisoformat(r["created_at"]),
                   parse_time(r["session_saved_at"]))
        for r in rows
    ]


async def expire(conn: Connection, before: datetime) -> int:
    """Drop kept replies created before `before` (retention); the number deleted."""
    return await conn.execute(
        "DELETE FROM pending_replies WHERE created_at < ?", (iso(before),)
    )
