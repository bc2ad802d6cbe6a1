"""SQL for the durable inbox (issue 16): webhook messages kept until their turn commits, and
the claims that give one worker at a time a resident's (or a chat's) messages.

- `put` records the platform's id in `inbound_seen` (the de-duplication every worker
  shares) and, if it is new, the message itself: a Fernet token (bot/crypto.py), never
  plain text. The webhook answers 200 only after this has committed.
- A worker `claim`s the resident's `user_key` until `lease_until` (renewed while it is
  alive: `renew`), handles their rows in id order, and `release`s the claim after the
  replies went out. A claim whose lease ran out (its worker died) is taken by the next
  worker that asks; `waiting` finds such residents.
- The row goes when its turn commits: `storage.deliveries.note` / `record` delete it in the
  turn's own transaction, so "answered" and "taken out of the inbox" commit together.

Times are ISO-8601 text in UTC, compared as text. The SQL is portable (storage/sql.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.cases import iso
from storage.sql import Connection, marks


@dataclass(frozen=True)
class InboxRow:
    id: int
    channel: str
    delivery_id: str
    user_key: str
    payload_enc: bytes
    received_at: datetime
    attempts: int


def _row(row: dict) -> InboxRow:
    return InboxRow(
        int(row["id"]),
        row["channel"],
        row["delivery_id"],
        row["user_key"],
        bytes(row["payload_enc"]),
        datetime.fromisoformat(row["received_at"]),
        int(row["attempts"]),
    )


async def put(
    conn: Connection,
    channel: str,
    delivery_id: str,
    user_key: str,
    payload_enc: bytes,
    now: datetime,
) -> bool:
    """Record a delivery and keep its message; False if the id was recorded before."""
    first = await conn.execute(
        "INSERT INTO inbound_seen (channel, update_id, seen_at) VALUES (?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (channel, delivery_id, iso(now)),
    )
    if first != 1:
        return False
    await conn.write(
        "INSERT INTO inbox (channel, delivery_id, user_key, payload_enc, received_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (channel, delivery_id, user_key, payload_enc, iso(now)),
    )
    return True


DONE_SQL = "DELETE FROM inbox WHERE channel = ? AND delivery_id = ?"


async def done(conn: Connection, channel: str, delivery_id: str) -> None:
    """The delivery was handled: its message leaves the inbox (in the caller's transaction)."""
    await conn.write(DONE_SQL, (channel, delivery_id))


async def drop(conn: Connection, row_id: int) -> None:
    await conn.write("DELETE FROM inbox WHERE id = ?", (row_id,))


async def next_rows(conn: Connection, user_key: str, limit: int = 20) -> list[InboxRow]:
    """The resident's waiting messages, oldest first."""
    rows = await conn.fetch(
        "SELECT * FROM inbox WHERE user_key = ? ORDER BY id LIMIT ?", (user_key, limit)
    )
    return [_row(r) for r in rows]


async def exists(conn: Connection, row_id: int) -> bool:
    return await conn.fetchone("SELECT 1 AS x FROM inbox WHERE id = ?", (row_id,)) is not None


async def count_attempt(conn: Connection, user_key: str) -> None:
    """Count an attempt at the resident's oldest message, the one a worker that claims them
    handles first (a message that keeps killing its worker is given up): counted on each
    claim, it is how often a worker set out to handle it."""
    await conn.write(
        "UPDATE inbox SET attempts = attempts + 1 WHERE id = "
        "(SELECT min(id) FROM inbox WHERE user_key = ?)",
        (user_key,),
    )


# ---------------------------------------------------------------------------- claims
async def claim(
    conn: Connection, user_key: str, holder: str, now: datetime, lease_until: datetime
) -> bool:
    """Take the resident for `holder` until `lease_until`; False while another worker's
    claim is still alive. One statement, so two workers asking at once cannot both win."""
    row = await conn.fetchone(
        "INSERT INTO inbox_claims (user_key, holder, lease_until) VALUES (?, ?, ?) "
        "ON CONFLICT (user_key) DO UPDATE SET holder = excluded.holder, "
        "lease_until = excluded.lease_until "
        "WHERE inbox_claims.lease_until < ? OR inbox_claims.holder = excluded.holder "
        "RETURNING holder",
        (user_key, holder, iso(lease_until), iso(now)),
    )
    return row is not None and row["holder"] == holder


async def release(conn: Connection, user_key: str, holder: str) -> None:
    await conn.write(
        "DELETE FROM inbox_claims WHERE user_key = ? AND holder = ?", (user_key, holder)
    )


async def renew(conn: Connection, holder: str, lease_until: datetime) -> int:
    """Extend every claim of `holder` (a worker's heartbeat); how many it holds."""
    return await conn.execute(
        "UPDATE inbox_claims SET lease_until = ? WHERE holder = ?", (iso(lease_until), holder)
    )


async def waiting(
    conn: Connection, channels: Sequence[str], now: datetime, received_before: datetime,
    limit: int = 100,
) -> list[tuple[str, str]]:
    """(channel, user_key) of residents with messages nobody is serving: no claim, or one
    whose lease ran out (its worker died). Only messages older than `received_before`, so
    a message still being handed over by the worker that received it is left to that one."""
    if not channels:
        return []
    rows = await conn.fetch(
        f"SELECT i.channel, i.user_key, min(i.id) AS first FROM inbox i "
        f"WHERE i.channel IN ({marks(channels)}) AND i.received_at < ? "
        f"AND NOT EXISTS (SELECT 1 FROM inbox_claims c WHERE c.user_key = i.user_key "
        f"AND c.lease_until >= ?) "
        f"GROUP BY i.channel, i.user_key ORDER BY first LIMIT ?",
        (*channels, iso(received_before), iso(now), limit),
    )
    return [(r["channel"], r["user_key"]) for r in rows]


async def counts(conn: Connection) -> dict[str, int]:
    """Messages waiting and residents claimed (for /healthz: numbers only)."""
    queued = await conn.fetchone("SELECT count(*) AS n FROM inbox")
    claimed = await conn.fetchone("SELECT count(*) AS n FROM inbox_claims")
    return {
        "inbox_waiting": int(queued["n"]) if queued else 0,
        "inbox_claimed": int(claimed["n"]) if claimed else 0,
    }


# ---------------------------------------------------------------------------- job leases
async def claim_job(
    conn: Connection, name: str, holder: str, now: datetime, lease_until: datetime
) -> bool:
    """Take a background job (e.g. the retention purge) until `lease_until`, unless another
    worker holds it; a finished job keeps its lease, so it runs once per period."""
    row = await conn.fetchone(
        "INSERT INTO job_leases (name, holder, lease_until) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
        "lease_until = excluded.lease_until WHERE job_leases.lease_until < ? "
        "RETURNING holder",
        (name, holder, iso(lease_until), iso(now)),
    )
    return row is not None and row["holder"] == holder
