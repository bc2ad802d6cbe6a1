"""Portable SQL: the one connection interface the SQL modules (cases, stats, privacy,
retention, deliveries) are written against, so the same statements run on SQLite and on
PostgreSQL.

The rules, kept by every module in `storage/`:

- Placeholders are `?`; a PostgreSQL connection translates them (`to_pyformat`).
- Only the common dialect: `INSERT … ON CONFLICT … DO NOTHING | DO UPDATE` (qualify the
  target's columns in `DO UPDATE SET`: `stats.n + excluded.n`), `RETURNING`. An optional
  filter is built in Python, not written as `? IS NULL OR …` (PostgreSQL cannot type a
  bare `? IS NULL`). Where the dialects really differ, the module branches on
  `conn.dialect` in plain sight (today only the claims of the outbox and of the follow-up
  check-ins: `FOR UPDATE SKIP LOCKED`).
- Values: times are ISO-8601 text in UTC (they sort as text; `storage.cases.iso`), JSON is
  text, booleans are Python bools (SQLite stores 0/1, PostgreSQL `boolean`), ciphertexts
  are bytes (BLOB / `bytea`). A module never needs to know which backend it talks to.
- Rows come back as dicts keyed by column name.

Writes and reads: `write` is for a statement whose result the caller does not need; inside
a turn's transaction it is recorded and sent with the next read or with the commit, so a
turn that only writes costs one trip to the database for its whole group-commit batch
(issue 15). `execute` runs at once and returns the number of rows changed; `fetch` and
`fetchone` send what was recorded first, so a read always sees the transaction's writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal, Protocol

Row = dict[str, Any]
Params = Sequence[Any]
Dialect = Literal["sqlite", "postgresql"]


class Connection(Protocol):
    """A connection, a turn's transaction, or a store's reader."""

    @property
    def dialect(self) -> Dialect: ...

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run now (after anything recorded); the number of rows changed."""
        ...

    async def write(self, sql: str, params: Params = ()) -> None:
        """Run before the next read or the commit, whichever comes first."""
        ...

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    async def tables(self) -> set[str]:
        """Names of the tables of the schema in use."""
        ...


def is_postgres_url(target: object) -> bool:
    """True for a PostgreSQL URL; anything else names an SQLite file."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def marks(values: Sequence[Any]) -> str:
    """`?, ?, ?` for an `IN (…)` list of `values`."""
    return ", ".join("?" for _ in values)


@lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """`?` placeholders as psycopg's `%s` (a literal `%` doubled). No statement in storage/
    has a `?` or `%` inside a string literal."""
    return sql.replace("%", "%%").replace("?", "%s")
