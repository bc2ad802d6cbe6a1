"""SQL for caring follow-ups (issue 18): a resident's series of check-ins and its claim.

`followups` holds at most one row per resident (`user_key` is unique):

| status   | what it is                                                | address_enc |
|----------|-----------------------------------------------------------|-------------|
| offered  | a cadre resolved the resident's case: one offer to send   | sealed      |
| active   | the resident agreed: check-ins are scheduled              | sealed      |
| declined | the resident said no: not offered again for a while       | NULL        |

The address is the platform address (channel + id) sealed with the deployment's key
(bot/crypto.py); it exists only while a series or an offer runs. Ending a series deletes
its row and every check-in, so nothing of it is left (`end_series`).

`checkins` states: `pending` (due at `due_at`) → `claimed` (one scheduler's `claimed_by`
until `lease_until`; nothing sent yet) → `sending` (the send has begun) → `sent`, or back
to `pending` after a failure that certainly sent nothing, or `failed` / `skipped` (given
up; nothing sent). A `claimed` row whose lease ran out (its scheduler died before sending)
is claimed again; a `sending` row whose lease ran out may have reached the resident, so it
becomes `unconfirmed` and is never sent again. `sent` / `unconfirmed` → `answered` when
the resident replies, or `unanswered` after the answer window. Every change of a claimed
row is conditional on the claim token, so two schedulers never both own one.

Times are ISO-8601 strings in UTC; the SQL is portable (storage/sql.py).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flows.session import Session
from storage.cases import iso, parse_time
from storage.group_commit import Transaction
from storage.sql import Connection, Row, marks

STATUSES = ("offered", "active", "declined")
UNSENT = ("pending", "claimed", "sending")  # not delivered yet
AWAITING = ("sent", "unconfirmed")  # delivered (or maybe delivered): waiting for an answer


@dataclass(frozen=True)
class Series:
    id: int
    user_key: str
    status: str
    kind: str  # crisis | distress
    category: str  # the crisis category (suicide, violence, …) for the right help
    source: str  # where the offer was made (crisis flow, phq9, case_resolved, …)
    route: str  # the cadre route of the resident's case (for an unanswered last check-in)
    area: str  # the area id, for the anonymous counts only
    address_enc: bytes | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Checkin:
    id: int
    followup_id: int
    user_key: str
    step: int  # 0: the offer after a resolved case; 1…n: the check-ins
    is_last: bool
    due_at: datetime
    state: str
    attempts: int
    idem_key: str
    via: str | None  # text | template
    sent_at: datetime | None
    answered_at: datetime | None
    escalated: bool


def _series(row: Row | None) -> Series | None:
    if row is None:
        return None
    return Series(
        int(row["id"]),
        row["user_key"],
        row["status"],
        row["kind"],
        row["category"],
        row["source"],
        row["route"],
        row["area"],
        bytes(row["address_enc"]) if row["address_enc"] is not None else None,
        datetime.fromisoformat(row["created_at"]),
        datetime.fromisoformat(row["updated_at"]),
    )


def _checkin(row: Row) -> Checkin:
    return Checkin(
        int(row["id"]),
        int(row["followup_id"]),
        row["user_key"],
        int(row["step"]),
        bool(row["is_last"]),
        datetime.fromisoformat(row["due_at"]),
        row["state"],
        int(row["attempts"]),
        row["idem_key"],
        row["via"],
        parse_time(row["sent_at"]),
        parse_time(row["answered_at"]),
        bool(row["escalated"]),
    )


# ---------------------------------------------------------------------------- series
async def series_of(conn: Connection, user_key: str) -> Series | None:
    return _series(await conn.fetchone("SELECT * FROM followups WHERE user_key = ?", (user_key,)))


async def series_by_id(conn: Connection, followup_id: int) -> Series | None:
    return _series(await conn.fetchone("SELECT * FROM followups WHERE id = ?", (followup_id,)))


async def start_series(
    conn: Connection,
    *,
    user_key: str,
    status: str,
    kind: str,
    now: datetime,
    address_enc: bytes | None,
    category: str = "",
    source: str = "",
    route: str = "",
    area: str = "",
) -> int:
    """The resident's series (or offer, or "no"), replacing an earlier one and its
    check-ins; returns its id."""
    assert status in STATUSES, status
    await conn.write("DELETE FROM checkins WHERE user_key = ?", (user_key,))
    row = await conn.fetchone(
        "INSERT INTO followups (user_key, status, kind, category, source, route, area, "
        "address_enc, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(user_key) DO UPDATE SET status = excluded.status, kind = excluded.kind, "
        "category = excluded.category, source = excluded.source, route = excluded.route, "
        "area = excluded.area, address_enc = excluded.address_enc, "
        "created_at = excluded.created_at, updated_at = excluded.updated_at RETURNING id",
        (user_key, status, kind, category, source, route, area, address_enc, iso(now), iso(now)),
    )
    assert row is not None
    return int(row["id"])


async def add_checkin(
    conn: Connection,
    followup_id: int,
    user_key: str,
    step: int,
    is_last: bool,
    due_at: datetime,
) -> str:
    """Schedule one check-in; returns its idempotency key (the same on every attempt)."""
    key = f"fu:{followup_id}:{step}:{uuid.uuid4().hex[:12]}"
    await conn.write(
        "INSERT INTO checkins (followup_id, user_key, step, is_last, due_at, idem_key) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (followup_id, user_key, step, bool(is_last), iso(due_at), key),
    )
    return key


async def end_series(conn: Connection, user_key: str) -> Series | None:
    """Delete the resident's series, its sealed address and every check-in; returns what
    was there (None: nothing was)."""
    series = await series_of(conn, user_key)
    if series is None:
        return None
    await conn.write("DELETE FROM checkins WHERE followup_id = ?", (series.id,))
    await conn.write("DELETE FROM followups WHERE id = ?", (series.id,))
    if isinstance(conn, Transaction):
        conn.deleted_user = True  # SQLite: the WAL is truncated too, as after /hapus
    return series


async def touch(conn: Connection, followup_id: int, now: datetime) -> None:
    await conn.write("UPDATE followups SET updated_at = ? WHERE id = ?", (iso(now), followup_id))


async def expired(conn: Connection, status: str, before: datetime) -> list[Series]:
    """Series of `status` not changed since `before` (e.g. an old "no")."""
    rows = await conn.fetch(
        "SELECT * FROM followups WHERE status = ? AND updated_at < ? ORDER BY id",
        (status, iso(before)),
    )
    return [s for s in map(_series, rows) if s is not None]


async def finished(conn: Connection) -> list[Series]:
    """Series (or offers) with no check-in left to send or to wait for: over."""
    rows = await conn.fetch(
        "SELECT * FROM followups f WHERE f.status IN ('active', 'offered') AND NOT EXISTS "
        "(SELECT 1 FROM checkins c WHERE c.followup_id = f.id "
        f"AND c.state IN ({marks(UNSENT + AWAITING)})) ORDER BY f.id",
        (*UNSENT, *AWAITING),
    )
    return [s for s in map(_series, rows) if s is not None]


async def created_before(conn: Connection, before: datetime) -> list[str]:
    """Residents whose series began before `before` (retention's safety net)."""
    rows = await conn.fetch(
        "SELECT user_key FROM followups WHERE created_at < ? ORDER BY id", (iso(before),)
    )
    return [r["user_key"] for r in rows]


# ---------------------------------------------------------------------------- check-ins
async def checkins_of(conn: Connection, user_key: str) -> list[Checkin]:
    rows = await conn.fetch(
        "SELECT * FROM checkins WHERE user_key = ? ORDER BY step, id", (user_key,)
    )
    return [_checkin(r) for r in rows]


async def checkin_by_id(conn: Connection, checkin_id: int) -> Checkin | None:
    row = await conn.fetchone("SELECT * FROM checkins WHERE id = ?", (checkin_id,))
    return _checkin(row) if row is not None else None


async def any_due(conn: Connection, now: datetime) -> bool:
    """Is anything due to claim? (A cheap read first, so an idle tick takes no write lock.)"""
    row = await conn.fetchone(
        "SELECT 1 AS due FROM checkins WHERE (state = 'pending' AND due_at <= ?) "
        "OR (state = 'claimed' AND lease_until <= ?) LIMIT 1",
        (iso(now), iso(now)),
    )
    return row is not None


async def claim_due(
    conn: Connection, now: datetime, token: str, lease_until: datetime, limit: int
) -> list[Checkin]:
    """Take up to `limit` due check-ins for this scheduler, inside the caller's transaction.

    Due: `pending` rows whose time has come, and `claimed` rows whose scheduler died before
    it began sending. SQLite: the transaction holds the write lock. PostgreSQL: `FOR UPDATE
    SKIP LOCKED`, so another worker passes over these rows instead of waiting for them.
    """
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect == "postgresql" else ""
    rows = await conn.fetch(
        "SELECT id FROM checkins WHERE (state = 'pending' AND due_at <= ?) "
        f"OR (state = 'claimed' AND lease_until <= ?) ORDER BY due_at, id LIMIT ?{lock}",
        (iso(now), iso(now), limit),
    )
    ids = [r["id"] for r in rows]
    if not ids:
        return []
    await conn.write(
        f"UPDATE checkins SET state = 'claimed', claimed_by = ?, lease_until = ? "
        f"WHERE id IN ({marks(ids)})",
        (token, iso(lease_until), *ids),
    )
    claimed = await conn.fetch(
        f"SELECT * FROM checkins WHERE id IN ({marks(ids)}) ORDER BY due_at, id", ids
    )
    return [_checkin(r) for r in claimed]


async def mark_sending(
    conn: Connection, checkin_id: int, token: str, lease_until: datetime
) -> bool:
    """The send begins: True only if this scheduler still holds the claim (the check-in
    was not cancelled or taken over meanwhile)."""
    changed = await conn.execute(
        "UPDATE checkins SET state = 'sending', lease_until = ?, attempts = attempts + 1 "
        "WHERE id = ? AND claimed_by = ? AND state = 'claimed'",
        (iso(lease_until), checkin_id, token),
    )
    return changed == 1


async def finish(
    conn: Connection,
    checkin_id: int,
    token: str,
    state: str,
    now: datetime,
    *,
    via: str | None = None,
    error: str | None = None,
) -> bool:
    """End this scheduler's claim with `state` (sent, unconfirmed, failed, skipped)."""
    sent_at = iso(now) if state in AWAITING else None
    changed = await conn.execute(
        "UPDATE checkins SET state = ?, via = COALESCE(?, via), sent_at = COALESCE(?, sent_at), "
        "last_error = ?, claimed_by = NULL, lease_until = NULL "
        "WHERE id = ? AND claimed_by = ? AND state IN ('claimed', 'sending')",
        (state, via, sent_at, (error or "")[:300] or None, checkin_id, token),
    )
    return changed == 1


async def release(
    conn: Connection, checkin_id: int, token: str, due_at: datetime, error: str | None = None
) -> bool:
    """Back to `pending` at `due_at` (nothing was sent: a later attempt, or a better hour)."""
    changed = await conn.execute(
        "UPDATE checkins SET state = 'pending', due_at = ?, last_error = ?, claimed_by = NULL, "
        "lease_until = NULL WHERE id = ? AND claimed_by = ? AND state IN ('claimed', 'sending')",
        (iso(due_at), (error or "")[:300] or None, checkin_id, token),
    )
    return changed == 1


async def expire_sending(conn: Connection, now: datetime) -> list[Checkin]:
    """`sending` rows whose lease ran out: their scheduler died during the send, which may
    have reached the resident. They become `unconfirmed` and are never sent again."""
    rows = await conn.fetch(
        "SELECT * FROM checkins WHERE state = 'sending' AND lease_until <= ? ORDER BY id",
        (iso(now),),
    )
    found = [_checkin(r) for r in rows]
    if found:
        ids = [c.id for c in found]
        await conn.write(
            f"UPDATE checkins SET state = 'unconfirmed', sent_at = lease_until, claimed_by = NULL, "
            f"lease_until = NULL WHERE id IN ({marks(ids)}) AND state = 'sending'",
            ids,
        )
    return found


async def mark_answered(conn: Connection, checkin_id: int, user_key: str, now: datetime) -> bool:
    """The resident replied to this check-in (first reply only)."""
    changed = await conn.execute(
        "UPDATE checkins SET state = 'answered', answered_at = ? WHERE id = ? AND user_key = ? "
        "AND state IN ('sent', 'unconfirmed', 'unanswered')",
        (iso(now), checkin_id, user_key),
    )
    return changed == 1


async def mark_escalated(conn: Connection, checkin_id: int, user_key: str) -> bool:
    """A crisis case was opened or raised while answering this check-in (counted once)."""
    changed = await conn.execute(
        "UPDATE checkins SET escalated = ? WHERE id = ? AND user_key = ? AND escalated = ?",
        (True, checkin_id, user_key, False),
    )
    return changed == 1


async def overdue(conn: Connection, sent_before: datetime) -> list[Checkin]:
    """Delivered check-ins still without an answer, sent at or before `sent_before`."""
    rows = await conn.fetch(
        "SELECT * FROM checkins WHERE state IN ('sent', 'unconfirmed') AND sent_at <= ? "
        "ORDER BY id",
        (iso(sent_before),),
    )
    return [_checkin(r) for r in rows]


async def mark_unanswered(conn: Connection, checkin_id: int) -> None:
    await conn.write(
        "UPDATE checkins SET state = 'unanswered' WHERE id = ? AND state IN ('sent', "
        "'unconfirmed')",
        (checkin_id,),
    )


async def still_to_come(conn: Connection, followup_id: int) -> int:
    """Check-ins of the series not delivered yet or still waiting for an answer."""
    row = await conn.fetchone(
        f"SELECT count(*) AS n FROM checkins WHERE followup_id = ? "
        f"AND state IN ({marks(UNSENT + AWAITING)})",
        (followup_id, *UNSENT, *AWAITING),
    )
    return int(row["n"]) if row else 0


async def facts(conn: Connection, user_key: str) -> dict[str, Any]:
    """What flows may read about the resident's series: `followup` (the kind of an active
    series, "offered", "declined", or "") and `followup_next` (the next check-in's time)."""
    series = await series_of(conn, user_key)
    if series is None:
        return {"followup": "", "followup_next": None}
    row = await conn.fetchone(
        "SELECT min(due_at) AS due FROM checkins WHERE followup_id = ? AND step > 0 "
        f"AND state IN ({marks(UNSENT)})",
        (series.id, *UNSENT),
    )
    status = series.kind if series.status == "active" else series.status
    return {"followup": status, "followup_next": parse_time(row["due"] if row else None)}


# ---------------------------------------------------------------------------- session
async def save_session_state(conn: Connection, user_key: str, session: Session) -> bool:
    """Store where the resident's conversation stands after the bot spoke first (a
    check-in). `updated_at` is left alone: it says when the *resident* last wrote, which
    retention counts inactivity from and WhatsApp's 24-hour window is judged by. False if
    the resident has no session (their data was deleted)."""
    changed = await conn.execute(
        "UPDATE sessions SET state = ? WHERE user_key = ?",
        (json.dumps(session.to_dict(), separators=(",", ":")), user_key),
    )
    return changed == 1
