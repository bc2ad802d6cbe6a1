"""SQL for a resident's data rights (UU PDP 27/2022, issue 7).

`consent_log` is the proof of consent: one row per agreement (user_key, the consent text
version agreed to, given_at) and, once withdrawn, withdrawn_at. It is written in the same
turn transaction as the session change, and deleted with everything else by /hapus
(storage.group_commit.USER_TABLES) or by retention.

Times are ISO-8601 strings in UTC. The SQL is portable (storage/sql.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from storage.sql import Connection


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class ConsentRecord:
    version: str
    given_at: datetime | None  # None: given before the log existed and not known
    withdrawn_at: datetime | None


async def record_consent_given(conn: Connection, user_key: str, version: str, at: datetime) -> None:
    """A new agreement. An earlier one still open (e.g. a new consent version) is closed."""
    await conn.write(
        "UPDATE consent_log SET withdrawn_at = ? WHERE user_key = ? AND withdrawn_at IS NULL",
        (_iso(at), user_key),
    )
    await conn.write(
        "INSERT INTO consent_log (user_key, version, given_at) VALUES (?, ?, ?)",
        (user_key, version, _iso(at)),
    )


async def record_consent_withdrawn(
    conn: Connection, user_key: str, version: str, at: datetime
) -> None:
    changed = await conn.execute(
        "UPDATE consent_log SET withdrawn_at = ? WHERE user_key = ? AND withdrawn_at IS NULL",
        (_iso(at), user_key),
    )
    if changed == 0:  # no open agreement on record: still record the withdrawal
        await conn.write(
            "INSERT INTO consent_log (user_key, version, given_at, withdrawn_at) "
            "VALUES (?, ?, NULL, ?)",
            (user_key, version, _iso(at)),
        )


async def consent_history(conn: Connection, user_key: str) -> list[ConsentRecord]:
    rows = await conn.fetch(
        "SELECT version, given_at, withdrawn_at FROM consent_log WHERE user_key = ? ORDER BY id",
        (user_key,),
    )
    return [
        ConsentRecord(
            r["version"],
            datetime.fromisoformat(r["given_at"]) if r["given_at"] else None,
            datetime.fromisoformat(r["withdrawn_at"]) if r["withdrawn_at"] else None,
        )
        for r in rows
    ]


async def delete_results(conn: Connection, user_key: str) -> int:
    return await conn.execute("DELETE FROM results WHERE user_key = ?", (user_key,))
