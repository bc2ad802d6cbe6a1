"""The embedded default store: one SQLite file via aiosqlite, WAL, migrations on open.

One connection writes (group commit, storage/group_commit.py) and one reads, so reads
never see half-written turns. A batch of writes is one call on the writer's thread.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from storage.group_commit import (
    MAX_BATCH,
    USER_TABLES,
    GroupCommitStore,
    Statement,
    StorageError,
    Transaction,
)
from storage.migrations import MIGRATIONS
from storage.sql import Dialect, Params, Row

__all__ = ["MAX_BATCH", "USER_TABLES", "SqliteStore", "StorageError", "Transaction"]

log = logging.getLogger(__name__)

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA secure_delete=ON",  # deleted rows are zeroed, not left in free pages
    "PRAGMA busy_timeout=5000",
)
MIN_SQLITE = (3, 35, 0)  # RETURNING
TABLES_SQL = "SELECT name FROM sqlite_master WHERE type = 'table'"


def _rows(cursor: sqlite3.Cursor) -> list[Row]:
    if cursor.description is None:
        return []
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


async def _in_thread(db: aiosqlite.Connection, fn: Any, *args: Any) -> Any:
    """Run `fn(sqlite3_connection, *args)` as one call on the connection's own thread.

    aiosqlite runs every call this way; its `_execute` queue is not public API, but it is
    the only way to send a whole batch of statements in one trip (one thread wake-up
    instead of one per statement).
    """
    return await db._execute(lambda: fn(db._conn, *args))


def _run_batch(
    conn: sqlite3.Connection, begin: bool, statements: Sequence[Statement],
    query: Statement | None, commit: bool,
) -> tuple[list[Row], int]:
    if begin:
        conn.execute("BEGIN IMMEDIATE")
    for sql, params in statements:
        conn.execute(sql, params)
    rows: list[Row] = []
    count = 0
    if query is not None:
        cursor = conn.execute(*query)
        rows = _rows(cursor)
        count = cursor.rowcount
    if commit:
        conn.execute("COMMIT")
    return rows, count


class SqliteWriter:
    """The write connection; BEGIN IMMEDIATE goes with the first statements of a batch."""

    dialect: Dialect = "sqlite"

    def __init__(self, db: aiosqlite.Connection):
        self.db = db
        self._begun = False

    async def run(self, statements: Sequence[Statement], query: Statement) -> tuple[list[Row], int]:
        begin, self._begun = not self._begun, True
        return await _in_thread(self.db, _run_batch, begin, statements, query, False)

    async def commit(self, statements: Sequence[Statement]) -> None:
        if not self._begun and not statements:
            return
        begin, self._begun = not self._begun, False
        await _in_thread(self.db, _run_batch, begin, statements, None, True)

    async def rollback(self) -> None:
        self._begun = False
        if self.db.in_transaction:  # also after a failed COMMIT
            await self.db.execute("ROLLBACK")

    async def tables(self) -> set[str]:
        rows, _ = await self.run((), (TABLES_SQL, ()))
        return {row["name"] for row in rows}


class SqliteReader:
    """The read connection (autocommit): committed data only. Read-only by design."""

    dialect: Dialect = "sqlite"

    def __init__(self, db: aiosqlite.Connection):
        self.db = db

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        return await _in_thread(self.db, lambda conn: _rows(conn.execute(sql, tuple(params))))

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetch(sql, params)
        return rows[0] if rows else None

    async def tables(self) -> set[str]:
        return {row["name"] for row in await self.fetch(TABLES_SQL)}

    async def execute(self, sql: str, params: Params = ()) -> int:
        raise TypeError("the reader is read-only: write inside store.transaction()")

    async def write(self, sql: str, params: Params = ()) -> None:
        raise TypeError("the reader is read-only: write inside store.transaction()")

    async def write_ordered(self, key: tuple, sql: str, params: Params = ()) -> None:
        raise TypeError("the reader is read-only: write inside store.transaction()")


class SqliteStore(GroupCommitStore):
    dialect: Dialect = "sqlite"

    def __init__(self, path: Path | str, *, defer_writes: bool = True):
        super().__init__(defer_writes=defer_writes)
        self.path = Path(path)
        self._write: aiosqlite.Connection | None = None
        self._read: aiosqlite.Connection | None = None

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    async def open(self) -> None:
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise RuntimeError(f"SQLite {sqlite3.sqlite_version} is too old: Teman Jiwa needs "
                               f"{'.'.join(map(str, MIN_SQLITE))} or newer")
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in PRAGMAS:
            await self._write.execute(pragma)
        await self._migrate(self._write)
        self._read = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in PRAGMAS[1:]:
            await self._read.execute(pragma)
        self._writer = SqliteWriter(self._write)
        self._reader = SqliteReader(self._read)
        await self._load_involved()  # this process is the only writer: the index holds

    async def close(self) -> None:
        for conn in (self._read, self._write):
            if conn is not None:
                await conn.close()
        self._read = self._write = None
        self._reader = self._writer = None
        self._involved = None

    async def _migrate(self, db: aiosqlite.Connection) -> None:
        async with db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        version = row[0] if row else 0
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            log.info("applying schema migration %d", number)
            await db.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version={number};"
                                   "\nCOMMIT;")

    async def schema_version(self) -> int:
        row = await self.reader.fetchone("PRAGMA user_version")
        return int(row["user_version"]) if row else 0

    async def _deleted_user_committed(self) -> None:
        await self._checkpoint()  # the old rows must not linger in the -wal file either

    async def checkpoint(self) -> bool:
        """Copy the WAL into the database and truncate it; False if a reader kept it busy."""
        assert self._write is not None, "store is not open"
        async with self._lock:
            await self._finish_batch()
            return await self._checkpoint()

    async def _checkpoint(self) -> bool:
        assert self._write is not None
        async with self._write.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cursor:
            row = await cursor.fetchone()
        busy = bool(row and row[0])
        if busy:
            log.warning("WAL checkpoint after a deletion was blocked by a reader; the next "
                        "retention run truncates it")
        return not busy
