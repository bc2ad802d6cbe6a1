"""SQL for escalation: cases, their disclosures, event log, alert outbox, cadres, invites, relays.

Every function takes a `storage.sql.Connection`: the turn's transaction (so a caller decides
what commits together: a case and its first outbox row are written in the resident's turn
transaction, or not at all), or for reads only the store's `reader`.

Outbox states: `pending` (due at `next_attempt_at`) → `sending` (claimed by one
dispatcher `claimed_by` until `lease_until`) → `sent` | back to `pending` (after a failure,
with backoff) | `cancelled` (the case closed first). A claim and the "sent" mark are both
conditional updates of the same row, so two dispatchers never both own it; a row whose
lease ran out (its dispatcher died) is claimed again with the same `idem_key`.

Times are ISO-8601 strings in UTC (they sort as text). The SQL is portable (storage/sql.py).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from storage.base import Transaction
from storage.sql import Connection, Row, marks

OPEN_STATES = ("open", "claimed")  # a case that is not closed


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def _rows(conn: Connection, sql: str, params: Iterable[Any] = ()) -> list[Row]:
    return await conn.fetch(sql, tuple(params))


async def _one(conn: Connection, sql: str, params: Iterable[Any] = ()) -> Row | None:
    return await conn.fetchone(sql, tuple(params))


# ---------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class CaseRow:
    id: int
    code: str
    user_key: str | None
    status: str
    level: str
    category: str
    source: str
    items: dict[str, Any]
    age_group: str | None
    area: str | None
    pregnant: bool | None
    contact_ok: bool | None
    share_words: bool | None
    safe_now: bool | None
    with_someone: bool | None
    bot_said: list[str]
    words_enc: bytes | None
    words_state: str
    contact_enc: bytes | None
    route: str
    tier: int
    deadline_at: datetime | None
    claimed_by: str | None
    claimed_name: str | None
    claimed_at: datetime | None
    outcome: str | None
    created_at: datetime
    updated_at: datetime
    last_reply_at: datetime | None
    closed_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES


_BOOLS = ("pregnant", "contact_ok", "share_words", "safe_now", "with_someone")
_TIMES = ("deadline_at", "claimed_at", "created_at", "updated_at", "last_reply_at", "closed_at")
CASE_COLUMNS = (
    "code",
    "user_key",
    "status",
    "level",
    "category",
    "source",
    "items",
    "age_group",
    "area",
    "pregnant",
    "contact_ok",
    "share_words",
    "safe_now",
    "with_someone",
    "bot_said",
    "words_enc",
    "words_state",
    "contact_enc",
    "route",
    "tier",
    "deadline_at",
    "claimed_by",
    "claimed_name",
    "claimed_at",
    "outcome",
    "created_at",
    "updated_at",
    "last_reply_at",
    "closed_at",
)


def _case(row: dict[str, Any] | None) -> CaseRow | None:
    if row is None:
        return None
    data = dict(row)
    data["items"] = json.loads(data["items"] or "{}")
    data["bot_said"] = json.loads(data["bot_said"] or "[]")
    for name in _BOOLS:
        data[name] = None if data[name] is None else bool(data[name])
    for name in _TIMES:
        data[name] = parse_time(data[name])
    return CaseRow(**data)


def _column_value(name: str, value: Any) -> Any:
    if name in ("items", "bot_said"):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if name in _BOOLS and value is not None:
        return bool(value)
    if name in _TIMES and isinstance(value, datetime):
        return iso(value)
    return value


async def open_case_for(conn: Connection, user_key: str) -> CaseRow | None:
    return _case(
        await _one(
            conn, "SELECT * FROM cases WHERE user_key = ? AND status != 'closed'", (user_key,)
        )
    )


async def case_by_code(conn: Connection, code: str) -> CaseRow | None:
    return _case(await _one(conn, "SELECT * FROM cases WHERE code = ?", (code.strip().upper(),)))


async def case_by_id(conn: Connection, case_id: int) -> CaseRow | None:
    return _case(await _one(conn, "SELECT * FROM cases WHERE id = ?", (case_id,)))


async def code_taken(conn: Connection, code: str) -> bool:
    return await _one(conn, "SELECT 1 FROM cases WHERE code = ?", (code,)) is not None


async def involved_keys(conn: Connection) -> set[str]:
    """Residents with an open case, a relay or a pending disclosure: what a turn looks up
    (`relay_for_user`, `open_case_for`, `pending_disclosures`, `touch_last_reply`)."""
    rows = await _rows(
        conn,
        "SELECT user_key FROM cases WHERE user_key IS NOT NULL AND status != 'closed' "
        "UNION SELECT user_key FROM relays WHERE user_key IS NOT NULL "
        "UNION SELECT user_key FROM disclosures WHERE user_key IS NOT NULL AND case_id IS NULL",
    )
    return {r["user_key"] for r in rows}


async def insert_case(conn: Transaction, **fields: Any) -> int:
    return await _insert(conn, "cases", CASE_COLUMNS, _column_value, fields)


async def update_case(conn: Connection, case_id: int, **fields: Any) -> None:
    await _update(conn, "cases", CASE_COLUMNS, _column_value, case_id, fields)


async def _insert(conn: Transaction, table: str, columns: Any,
                  value_of: Callable[[str, Any], Any], fields: dict[str, Any]) -> int:
    """INSERT one row of `table` (a case or a disclosure) and return its id; its resident
    joins the store's index of residents with something open."""
    unknown = set(fields) - set(columns)
    assert not unknown, unknown
    conn.involve(fields.get("user_key"))
    names = list(fields)
    row = await conn.fetchone(
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks(names)}) RETURNING id",
        [value_of(n, fields[n]) for n in names],
    )
    assert row is not None
    return int(row["id"])


async def _update(conn: Connection, table: str, columns: Any,
                  value_of: Callable[[str, Any], Any], row_id: int,
                  fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(columns)
    assert not unknown, unknown
    if not fields:
        return
    sets = ", ".join(f"{n} = ?" for n in fields)
    await conn.write(
        f"UPDATE {table} SET {sets} WHERE id = ?",
        [*(value_of(n, v) for n, v in fields.items()), row_id],
    )


async def touch_last_reply(conn: Connection, user_key: str, now: datetime) -> None:
    await conn.write(
        "UPDATE cases SET last_reply_at = ? WHERE user_key = ? AND status != 'closed'",
        (iso(now), user_key),
    )


async def due_cases(conn: Connection, now: datetime) -> list[CaseRow]:
    """Unclaimed open cases whose deadline has passed: the next step of the fallback chain.

    Inside the caller's transaction, so each step is taken once however many workers look:
    SQLite's transaction holds the write lock; on PostgreSQL `FOR UPDATE SKIP LOCKED` locks
    the cases taken here until commit, another worker passes over them, and one that looks
    after the commit sees the new deadline."""
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect == "postgresql" else ""
    rows = await _rows(
        conn,
        "SELECT * FROM cases WHERE status = 'open' AND deadline_at <= ? "
        f"ORDER BY deadline_at{lock}",
        (iso(now),),
    )
    return [c for c in map(_case, rows) if c is not None]


async def list_cases(
    conn: Connection, *, include_closed: bool = False, limit: int = 50
) -> list[CaseRow]:
    where = "" if include_closed else "WHERE status != 'closed'"
    rows = await _rows(conn, f"SELECT * FROM cases {where} ORDER BY id DESC LIMIT ?", (limit,))
    return [c for c in map(_case, rows) if c is not None]


# ---------------------------------------------------------------------------- case events
@dataclass(frozen=True)
class CaseEvent:
    id: int
    case_id: int | None
    at: datetime
    kind: str
    actor: str
    detail: str


async def add_event(
    conn: Connection,
    case_id: int | None,
    user_key: str | None,
    at: datetime,
    kind: str,
    detail: str = "",
    actor: str = "system",
) -> None:
    await conn.write(
        "INSERT INTO case_events (case_id, user_key, at, kind, actor, detail) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (case_id, user_key, iso(at), kind, actor, detail),
    )


async def events_of(
    conn: Connection, case_id: int | None, kinds: Iterable[str] = ()
) -> list[CaseEvent]:
    kinds = tuple(kinds)
    where = "case_id IS NULL" if case_id is None else "case_id = ?"
    if kinds:
        where += f" AND kind IN ({marks(kinds)})"
    rows = await _rows(
        conn,
        f"SELECT id, case_id, at, kind, actor, detail FROM case_events WHERE {where} ORDER BY id",
        (*(() if case_id is None else (case_id,)), *kinds),
    )
    return [
        CaseEvent(
            r["id"],
            r["case_id"],
            datetime.fromisoformat(r["at"]),
            r["kind"],
            r["actor"],
            r["detail"],
        )
        for r in rows
    ]


# ---------------------------------------------------------------------------- outbox
@dataclass(frozen=True)
class OutboxRow:
    id: int
    idem_key: str
    case_id: int
    route: str
    kind: str  # alert | update | words
    reason: str  # new | upgrade | sla | reminder | change | words
    state: str
    attempts: int
    external_ref: str | None
    last_error: str | None = None
    # Claimed again after an earlier claim's lease ran out: that process died (or hung)
    # while sending, so the platform may already have the message.
    retaken: bool = False

    @property
    def maybe_delivered(self) -> bool:
        """An earlier attempt's outcome is unknown (it may have been posted)."""
        error = self.last_error or ""
        return self.retaken or error.startswith(("TimedOut", "TimeoutError"))
    disclosure_id: int | None = None  # for kind "words": whose words


def _outbox(row: dict[str, Any], retaken: bool = False) -> OutboxRow:
    return OutboxRow(
        row["id"],
        row["idem_key"],
        row["case_id"],
        row["route"],
        row["kind"],
        row["reason"],
        row["state"],
        row["attempts"],
        row["external_ref"],
        row["last_error"],
        retaken,
        row.get("disclosure_id"),
    )


async def enqueue(
    conn: Connection,
    case_id: int,
    code: str,
    route: str,
    kind: str,
    reason: str,
    now: datetime,
    disclosure_id: int | None = None,
) -> str:
    """Queue one delivery; returns its idempotency key (told to the sender on every attempt).
    Kinds: alert (the card), update (edit the posted cards), notice (a short line under
    the card), words (one disclosure's words, `disclosure_id`)."""
    key = f"{code}:{kind}:{uuid.uuid4().hex[:12]}"
    await conn.write(
        "INSERT INTO outbox (idem_key, case_id, route, kind, reason, next_attempt_at, "
        "created_at, disclosure_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (key, case_id, route, kind, reason, iso(now), iso(now), disclosure_id),
    )
    return key


async def claim_due(
    conn: Connection, now: datetime, token: str, lease_until: datetime, limit: int
) -> list[OutboxRow]:
    """Take up to `limit` due rows for this dispatcher, inside the caller's transaction.

    SQLite: the transaction holds the database's write lock, so no other dispatcher reads
    the same rows. PostgreSQL: `FOR UPDATE SKIP LOCKED` locks the rows taken here until
    commit, and another dispatcher passes over them instead of waiting.
    """
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect == "postgresql" else ""
    rows = await _rows(
        conn,
        "SELECT id, state FROM outbox WHERE (state = 'pending' AND next_attempt_at <= ?) "
        f"OR (state = 'sending' AND lease_until <= ?) ORDER BY id LIMIT ?{lock}",
        (iso(now), iso(now), limit),
    )
    ids = [r["id"] for r in rows]
    retaken = {r["id"] for r in rows if r["state"] == "sending"}
    if not ids:
        return []
    await conn.write(
        f"UPDATE outbox SET state = 'sending', claimed_by = ?, lease_until = ?, "
        f"attempts = attempts + 1 WHERE id IN ({marks(ids)})",
        (token, iso(lease_until), *ids),
    )
    claimed = await _rows(conn, f"SELECT * FROM outbox WHERE id IN ({marks(ids)}) ORDER BY id", ids)
    return [_outbox(r, r["id"] in retaken) for r in claimed]


async def mark_sent(
    conn: Connection, row_id: int, token: str, now: datetime, external_ref: str | None
) -> bool:
    """True if this dispatcher still owned the row (its lease had not been taken over)."""
    changed = await conn.execute(
        "UPDATE outbox SET state = 'sent', sent_at = ?, external_ref = ?, claimed_by = NULL, "
        "lease_until = NULL, last_error = NULL WHERE id = ? AND claimed_by = ? "
        "AND state = 'sending'",
        (iso(now), external_ref, row_id, token),
    )
    return changed == 1


async def mark_retry(
    conn: Connection, row_id: int, token: str, next_at: datetime, error: str
) -> bool:
    changed = await conn.execute(
        "UPDATE outbox SET state = 'pending', next_attempt_at = ?, last_error = ?, "
        "claimed_by = NULL, lease_until = NULL WHERE id = ? AND claimed_by = ? "
        "AND state = 'sending'",
        (iso(next_at), error[:300], row_id, token),
    )
    return changed == 1


async def mark_cancelled(conn: Connection, row_id: int, token: str | None = None) -> None:
    mine = "" if token is None else " AND claimed_by = ?"
    await conn.write(
        "UPDATE outbox SET state = 'cancelled', claimed_by = NULL, lease_until = NULL "
        f"WHERE id = ?{mine}",
        (row_id, *(() if token is None else (token,))),
    )


async def cancel_pending(conn: Connection, case_id: int, kinds: Iterable[str]) -> None:
    kinds = tuple(kinds)
    await conn.write(
        f"UPDATE outbox SET state = 'cancelled', claimed_by = NULL, lease_until = NULL "
        f"WHERE case_id = ? AND state = 'pending' AND kind IN ({marks(kinds)})",
        (case_id, *kinds),
    )


async def routes_alerted(conn: Connection, case_id: int) -> list[str]:
    """Routes that have (or will get) an alert for this case, first alerted first."""
    rows = await _rows(
        conn,
        "SELECT route, min(id) AS first FROM outbox WHERE case_id = ? "
        "AND kind = 'alert' GROUP BY route ORDER BY first",
        (case_id,),
    )
    return [r["route"] for r in rows]


async def sent_alerts(conn: Connection, case_id: int, route: str | None = None) -> list[OutboxRow]:
    on_route = "" if route is None else " AND route = ?"
    rows = await _rows(
        conn,
        "SELECT * FROM outbox WHERE case_id = ? AND kind = 'alert' AND state = 'sent' "
        f"AND external_ref IS NOT NULL{on_route} ORDER BY id",
        (case_id, *(() if route is None else (route,))),
    )
    return [_outbox(r) for r in rows]


async def unsent_count(conn: Connection, case_id: int, kind: str) -> int:
    row = await _one(
        conn,
        "SELECT count(*) AS n FROM outbox WHERE case_id = ? AND kind = ? "
        "AND state IN ('pending', 'sending')",
        (case_id, kind),
    )
    return int(row["n"]) if row else 0


async def unsent_words(conn: Connection, disclosure_id: int) -> int:
    """Words deliveries of one disclosure still to be made (to any route)."""
    row = await _one(
        conn,
        "SELECT count(*) AS n FROM outbox WHERE disclosure_id = ? AND kind = 'words' "
        "AND state IN ('pending', 'sending')",
        (disclosure_id,),
    )
    return int(row["n"]) if row else 0


async def cancel_words(conn: Connection, disclosure_id: int) -> None:
    await conn.write(
        "UPDATE outbox SET state = 'cancelled', claimed_by = NULL, lease_until = NULL "
        "WHERE disclosure_id = ? AND kind = 'words' AND state = 'pending'",
        (disclosure_id,),
    )


async def outbox_rows(conn: Connection, case_id: int | None = None) -> list[OutboxRow]:
    if case_id is None:
        rows = await _rows(conn, "SELECT * FROM outbox ORDER BY id")
    else:
        rows = await _rows(conn, "SELECT * FROM outbox WHERE case_id = ? ORDER BY id", (case_id,))
    return [_outbox(r) for r in rows]


# ---------------------------------------------------------------------------- disclosures
@dataclass(frozen=True)
class DisclosureRow:
    """One thing the resident disclosed in the crisis protocol (see migration 5)."""

    id: int
    user_key: str | None
    case_id: int | None
    at: datetime
    level: str
    category: str
    source: str
    subject: str  # self | other
    about: str  # who is at risk when reported: child | friend | family | neighbour | ""
    answers: dict[str, Any]  # safety answers given for it, e.g. {"safe_now": False}
    hotlines: list[str]  # hotline names the bot showed while it was open
    share_words: bool | None
    words_enc: bytes | None
    words_state: str  # none | held | delivered | declined | wiped
    words_at: datetime | None  # when its words were delivered


DISCLOSURE_COLUMNS = (
    "user_key",
    "case_id",
    "at",
    "level",
    "category",
    "source",
    "subject",
    "about",
    "answers",
    "hotlines",
    "share_words",
    "words_enc",
    "words_state",
    "words_at",
)


def _disclosure(row: dict[str, Any]) -> DisclosureRow:
    data = dict(row)
    data["answers"] = json.loads(data["answers"] or "{}")
    data["hotlines"] = json.loads(data["hotlines"] or "[]")
    data["share_words"] = None if data["share_words"] is None else bool(data["share_words"])
    data["words_enc"] = None if data["words_enc"] is None else bytes(data["words_enc"])
    data["at"] = datetime.fromisoformat(data["at"])
    data["words_at"] = parse_time(data["words_at"])
    return DisclosureRow(**data)


def _disclosure_value(name: str, value: Any) -> Any:
    if name in ("answers", "hotlines"):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if name == "share_words" and value is not None:
        return bool(value)
    if name in ("at", "words_at") and isinstance(value, datetime):
        return iso(value)
    return value


async def insert_disclosure(conn: Transaction, **fields: Any) -> int:
    return await _insert(conn, "disclosures", DISCLOSURE_COLUMNS, _disclosure_value, fields)


async def update_disclosure(conn: Connection, disclosure_id: int, **fields: Any) -> None:
    await _update(conn, "disclosures", DISCLOSURE_COLUMNS, _disclosure_value, disclosure_id,
                  fields)


async def disclosure_by_id(conn: Connection, disclosure_id: int) -> DisclosureRow | None:
    row = await _one(conn, "SELECT * FROM disclosures WHERE id = ?", (disclosure_id,))
    return _disclosure(row) if row else None


async def disclosures_of_case(conn: Connection, case_id: int) -> list[DisclosureRow]:
    rows = await _rows(conn, "SELECT * FROM disclosures WHERE case_id = ? ORDER BY id", (case_id,))
    return [_disclosure(r) for r in rows]


async def pending_disclosures(conn: Connection, user_key: str) -> list[DisclosureRow]:
    """Disclosures of a protocol still running without a case, oldest first."""
    rows = await _rows(
        conn,
        "SELECT * FROM disclosures WHERE user_key = ? AND case_id IS NULL ORDER BY id",
        (user_key,),
    )
    return [_disclosure(r) for r in rows]


async def attach_pending(conn: Connection, user_key: str, case_id: int) -> None:
    await conn.write(
        "UPDATE disclosures SET case_id = ? WHERE user_key = ? AND case_id IS NULL",
        (case_id, user_key),
    )


async def delete_pending(conn: Connection, user_key: str) -> int:
    """A protocol run ended without a case: its disclosures (and sealed words) go."""
    return await conn.execute(
        "DELETE FROM disclosures WHERE user_key = ? AND case_id IS NULL", (user_key,)
    )


async def wipe_case_words(conn: Connection, case_id: int) -> None:
    """The case closed: words still held are wiped (delivered ones are long gone)."""
    await conn.write(
        "UPDATE disclosures SET words_enc = NULL, words_state = CASE WHEN words_state = 'held' "
        "THEN 'wiped' ELSE words_state END WHERE case_id = ?",
        (case_id,),
    )


# ---------------------------------------------------------------------------- relays
@dataclass(frozen=True)
class RelayRow:
    id: int
    case_id: int
    user_key: str
    cadre_key: str
    cadre_name: str
    cadre_enc: bytes
    state: str  # requested | active (an ended relay is deleted)
    requested_at: datetime
    accepted_at: datetime | None


def _relay(row: dict[str, Any] | None) -> RelayRow | None:
    if row is None:
        return None
    return RelayRow(
        row["id"],
        row["case_id"],
        row["user_key"],
        row["cadre_key"],
        row["cadre_name"],
        row["cadre_enc"],
        row["state"],
        datetime.fromisoformat(row["requested_at"]),
        parse_time(row["accepted_at"]),
    )


async def relay_for_user(conn: Connection, user_key: str) -> RelayRow | None:
    return _relay(await _one(conn, "SELECT * FROM relays WHERE user_key = ?", (user_key,)))


async def relay_for_case(conn: Connection, case_id: int) -> RelayRow | None:
    return _relay(await _one(conn, "SELECT * FROM relays WHERE case_id = ?", (case_id,)))


async def relays_of_cadre(conn: Connection, cadre_key: str) -> list[tuple[str, str]]:
    rows = await _rows(
        conn,
        "SELECT c.code, r.state FROM relays r JOIN cases c "
        "ON c.id = r.case_id WHERE r.cadre_key = ? ORDER BY r.id",
        (cadre_key,),
    )
    return [(r["code"], r["state"]) for r in rows]


async def relay_cadre_keys(conn: Connection) -> set[str]:
    """Actor keys of cadres with a relay (requested or active): whose private messages
    are relay text (bot/telegram/cadre_chat.py keeps this set in memory)."""
    rows = await _rows(conn, "SELECT DISTINCT cadre_key FROM relays")
    return {r["cadre_key"] for r in rows}


async def insert_relay(
    conn: Transaction,
    case_id: int,
    user_key: str,
    cadre_key: str,
    cadre_name: str,
    cadre_enc: bytes,
    now: datetime,
) -> None:
    conn.involve(user_key)
    await conn.write(
        "INSERT INTO relays (case_id, user_key, cadre_key, cadre_name, cadre_enc, state, "
        "requested_at) VALUES (?, ?, ?, ?, ?, 'requested', ?)",
        (case_id, user_key, cadre_key, cadre_name, cadre_enc, iso(now)),
    )


async def activate_relay(conn: Connection, relay_id: int, now: datetime) -> None:
    await conn.write(
        "UPDATE relays SET state = 'active', accepted_at = ? WHERE id = ?", (iso(now), relay_id)
    )


async def delete_relay(conn: Connection, relay_id: int) -> None:
    await conn.write("DELETE FROM relays WHERE id = ?", (relay_id,))


# ---------------------------------------------------------------------------- cadres
@dataclass(frozen=True)
class CadreRow:
    id: int
    actor_key: str
    name: str
    route: str | None


async def cadre_by_key(conn: Connection, actor_key: str) -> CadreRow | None:
    row = await _one(
        conn,
        "SELECT id, actor_key, name, route FROM cadres WHERE actor_key = ? AND revoked_at IS NULL",
        (actor_key,),
    )
    return CadreRow(**row) if row else None


async def insert_invite(
    conn: Connection, code_hash: str, name: str, route: str | None, now: datetime, expires: datetime
) -> None:
    await conn.write(
        "INSERT INTO invites (code_hash, name, route, created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (code_hash, name, route, iso(now), iso(expires)),
    )


async def use_invite(
    conn: Connection, code_hash: str, actor_key: str, now: datetime
) -> CadreRow | None:
    """Spend a one-time invite: registers (or re-activates) the cadre; None if not valid."""
    invite = await _one(
        conn,
        "SELECT * FROM invites WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?",
        (code_hash, iso(now)),
    )
    if invite is None:
        return None
    await conn.write(
        "INSERT INTO cadres (actor_key, name, route, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(actor_key) DO UPDATE SET name = excluded.name, route = excluded.route, "
        "revoked_at = NULL",
        (actor_key, invite["name"], invite["route"], iso(now)),
    )
    cadre = await cadre_by_key(conn, actor_key)
    assert cadre is not None
    await conn.write(
        "UPDATE invites SET used_at = ?, cadre_id = ? WHERE code_hash = ?",
        (iso(now), cadre.id, code_hash),
    )
    return cadre


# ---------------------------------------------------------------------------- /hapus
async def forget_user(
    conn: Connection, user_key: str, now: datetime, *, event: str = "resident_deleted_data"
) -> list[RelayRow]:
    """A resident deleted their data: cases keep only anonymous statistics.

    The link to the resident, their words, contact address and cadre notes go; live
    relays end (their rows are deleted). Returns the relays that were live, so the caller
    can tell the cadre. An open case stays open, unlinked, for the cadre to close.
    `event` names why in each case's log (storage/residents.py: "number_reassigned").
    """
    relays = [
        r
        for r in map(
            _relay, await _rows(conn, "SELECT * FROM relays WHERE user_key = ?", (user_key,))
        )
        if r is not None
    ]
    cases = await _rows(conn, "SELECT id FROM cases WHERE user_key = ?", (user_key,))
    for row in cases:
        await conn.write(
            "UPDATE case_events SET detail = '' WHERE case_id = ? AND kind = 'note'", (row["id"],)
        )
        await add_event(conn, row["id"], None, now, event)
    await conn.write(
        "UPDATE cases SET user_key = NULL, words_enc = NULL, contact_enc = NULL, "
        "words_state = CASE WHEN words_state = 'held' THEN 'wiped' ELSE words_state END "
        "WHERE user_key = ?",
        (user_key,),
    )
    await conn.write("DELETE FROM disclosures WHERE user_key = ? AND case_id IS NULL", (user_key,))
    await conn.write(
        "UPDATE disclosures SET user_key = NULL, words_enc = NULL, words_state = CASE WHEN "
        "words_state = 'held' THEN 'wiped' ELSE words_state END WHERE user_key = ?",
        (user_key,),
    )
    await conn.write("UPDATE case_events SET user_key = NULL WHERE user_key = ?", (user_key,))
    await conn.write("DELETE FROM relays WHERE user_key = ?", (user_key,))
    return relays
