"""SQL for a resident's data rights (UU PDP 27/2022, issue 7).

`consent_log` is the proof of consent: one row per agreement (user_key, the consent text
version agreed to, given_at) and, once withdrawn, withdrawn_at. It is written in the same
turn transaction as the session change, and deleted with everything else by /hapus
(storage.sqlite.USER_TABLES) or by retention.

Times are ISO-8601 strings in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiosqlite


def _db(conn: Any) -> aiosqlite.Connection:
    return getattr(conn, "db", conn)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class ConsentRecord:
    version: str
    given_at: datetime | None  # None: given before the log existed and not known
    withdrawn_at: datetime | None


async def record_consent_given(conn: Any, user_key: str, version: str, at: datetime) -> None:
    """A new agreement. An earlier one still open (e.g. a new consent version) is closed."""
    db = _db(conn)
    await db.execute(
        "UPDATE consent_log SET withdrawn_at = ? WHERE user_key = ? AND withdrawn_at IS NULL",
        (_iso(at), user_key),
    )
    await db.execute(
        "INSERT INTO consent_log (user_key, version, given_at) VALUES (?, ?, ?)",
        (user_key, version, _iso(at)),
    )


async def record_consent_withdrawn(conn: Any, user_key: str, version: str, at: datetime) -> None:
    db = _db(conn)
    cursor = await db.execute(
        "UPDATE consent_log SET withdrawn_at = ? WHERE user_key = ? AND withdrawn_at IS NULL",
        (_iso(at), user_key),
    )
    if cursor.rowcount == 0:  # no open agreement on record: still record the withdrawal
        await db.execute(
            "INSERT INTO consent_log (user_key, version, given_at, withdrawn_at) "
            "VALUES (?, ?, NULL, ?)",
            (user_key, version, _iso(at)),
        )


async def consent_history(conn: Any, user_key: str) -> list[ConsentRecord]:
    async with _db(conn).execute(
        "SELECT version, given_at, withdrawn_at FROM consent_log WHERE user_key = ? ORDER BY id",
        (user_key,),
    ) as cursor:
        rows = await cursor.fetchall()
    return [
        ConsentRecord(
            r[0],
            datetime.fromisoformat(r[1]) if r[1] else None,
            datetime.fromisoformat(r[2]) if r[2] else None,
        )
        for r in rows
    ]


async def delete_results(conn: Any, user_key: str) -> int:
    cursor = await _db(conn).execute("DELETE FROM results WHERE user_key = ?", (user_key,))
    return cursor.rowcount
