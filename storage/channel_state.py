"""SQL for what a channel remembers between messages, shared by every worker (issue 16).

- `contact_windows`: per address (an HMAC key), when it last wrote to us (WhatsApp's
  24-hour window) and when we last sent it the template that invites a reply.
- `held_messages`: message bodies waiting until the address writes (a case card for a
  cadre outside the window), as Fernet tokens, oldest first.
- `sent_messages`: bodies we sent that may bounce later (Meta reports 131047 in a status
  webhook, possibly to another worker), sealed with their address, kept two days.
- `note_prompts`: a Telegram cadre's "reply to this message with your note" prompt, keyed
  by an HMAC of chat and message id, for the cadre (an HMAC key) it was meant for.

Sealing and hashing happen in the caller (bot/workers/state.py); this module only sees
keys and tokens. Retention (storage/retention.py) purges what is old. Portable SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from storage.cases import iso, parse_time
from storage.sql import Connection, marks


# ---------------------------------------------------------------------------- windows
async def saw_inbound(conn: Connection, channel: str, key: str, at: datetime,
                      now: datetime) -> None:
    """The address wrote at `at` (the platform's time); the later of two times is kept."""
    await conn.write(
        "INSERT INTO contact_windows (channel, address_key, last_inbound_at, updated_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (channel, address_key) DO UPDATE SET "
        "last_inbound_at = CASE WHEN contact_windows.last_inbound_at IS NULL "
        "OR contact_windows.last_inbound_at < excluded.last_inbound_at "
        "THEN excluded.last_inbound_at ELSE contact_windows.last_inbound_at END, "
        "updated_at = excluded.updated_at",
        (channel, key, iso(at), iso(now)),
    )


async def window_closed(conn: Connection, channel: str, key: str, now: datetime) -> None:
    """The platform said the window is closed (whatever our clock thought)."""
    await conn.write(
        "UPDATE contact_windows SET last_inbound_at = NULL, updated_at = ? "
        "WHERE channel = ? AND address_key = ?",
        (iso(now), channel, key),
    )


async def last_inbound(conn: Connection, channel: str, key: str) -> datetime | None:
    row = await conn.fetchone(
        "SELECT last_inbound_at FROM contact_windows WHERE channel = ? AND address_key = ?",
        (channel, key),
    )
    return parse_time(row["last_inbound_at"]) if row else None


async def template_sent(conn: Connection, channel: str, key: str, at: datetime,
                        message_id: str) -> None:
    await conn.write(
        "INSERT INTO contact_windows (channel, address_key, template_at, template_id, "
        "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, address_key) DO UPDATE SET "
        "template_at = excluded.template_at, template_id = excluded.template_id, "
        "updated_at = excluded.updated_at",
        (channel, key, iso(at), message_id, iso(at)),
    )


async def template_of(conn: Connection, channel: str, key: str) -> tuple[datetime, str] | None:
    """When the last template went to the address, and its message id."""
    row = await conn.fetchone(
        "SELECT template_at, template_id FROM contact_windows WHERE channel = ? "
        "AND address_key = ? AND template_at IS NOT NULL",
        (channel, key),
    )
    if row is None:
        return None
    at = parse_time(row["template_at"])
    return (at, row["template_id"] or "") if at is not None else None


async def forget_template(conn: Connection, channel: str, key: str) -> None:
    await conn.write(
        "UPDATE contact_windows SET template_at = NULL, template_id = NULL "
        "WHERE channel = ? AND address_key = ?",
        (channel, key),
    )


# ---------------------------------------------------------------------------- held
async def hold(conn: Connection, channel: str, key: str, bodies: Sequence[bytes],
               tags: Sequence[str | None], now: datetime) -> None:
    for body, tag in zip(bodies, tags, strict=True):
        await conn.write(
            "INSERT INTO held_messages (channel, address_key, body_enc, tag, held_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (channel, key, body, tag, iso(now)),
        )


async def held(conn: Connection, channel: str,
               key: str) -> list[tuple[int, bytes, str | None]]:
    """(id, sealed body, tag) of what waits for the address, oldest first."""
    rows = await conn.fetch(
        "SELECT id, body_enc, tag FROM held_messages WHERE channel = ? AND address_key = ? "
        "ORDER BY id",
        (channel, key),
    )
    return [(int(r["id"]), bytes(r["body_enc"]), r["tag"]) for r in rows]


async def drop_held(conn: Connection, ids: Sequence[int]) -> None:
    if ids:
        await conn.write(f"DELETE FROM held_messages WHERE id IN ({marks(ids)})", tuple(ids))


async def held_counts(conn: Connection, channel: str, key: str | None = None) -> tuple[int, int]:
    """(messages held, addresses they wait for): for one address, or all of them."""
    where, params = "channel = ?", [channel]
    if key is not None:
        where += " AND address_key = ?"
        params.append(key)
    row = await conn.fetchone(
        f"SELECT count(*) AS n, count(DISTINCT address_key) AS a FROM held_messages "
        f"WHERE {where}",
        params,
    )
    return (int(row["n"]), int(row["a"])) if row else (0, 0)


# ---------------------------------------------------------------------------- sent
async def remember_sent(conn: Connection, channel: str, message_id: str, address: bytes,
                        body: bytes | None, tag: str | None, now: datetime) -> None:
    await conn.write(
        "INSERT INTO sent_messages (channel, message_id, address_enc, body_enc, tag, sent_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (channel, message_id, address, body, tag, iso(now)),
    )


async def take_sent(conn: Connection, channel: str,
                    message_id: str) -> tuple[bytes, bytes | None, str | None] | None:
    """(sealed address, sealed body, tag) of a message we sent; it is forgotten now."""
    row = await conn.fetchone(
        "DELETE FROM sent_messages WHERE channel = ? AND message_id = ? "
        "RETURNING address_enc, body_enc, tag",
        (channel, message_id),
    )
    if row is None:
        return None
    body = row["body_enc"]
    return bytes(row["address_enc"]), bytes(body) if body is not None else None, row["tag"]


# ---------------------------------------------------------------------------- note prompts
async def add_prompt(conn: Connection, prompt_key: str, actor_key: str, case_code: str,
                     expires: datetime) -> None:
    await conn.write(
        "INSERT INTO note_prompts (prompt_key, actor_key, case_code, expires_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (prompt_key) DO UPDATE SET "
        "actor_key = excluded.actor_key, case_code = excluded.case_code, "
        "expires_at = excluded.expires_at",
        (prompt_key, actor_key, case_code, iso(expires)),
    )


async def take_prompt(conn: Connection, prompt_key: str, actor_key: str,
                      now: datetime) -> str | None:
    """The case a prompt asked a note for, if `actor_key` is whom it asked and it has not
    run out; a prompt is answered once."""
    row = await conn.fetchone(
        "DELETE FROM note_prompts WHERE prompt_key = ? AND actor_key = ? "
        "RETURNING case_code, expires_at",
        (prompt_key, actor_key),
    )
    if row is None or row["expires_at"] < iso(now):
        return None
    return row["case_code"]
