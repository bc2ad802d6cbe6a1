"""The PostgreSQL store (several workers against one database): psycopg 3, async, with a
psycopg_pool connection pool. Selected by `TEMANJIWA_DATABASE_URL=postgresql://…`
(`storage.make_store`).

The same interface and the same portable SQL as the SQLite store (storage/sql.py), and the
same group commit (storage/group_commit.py): within one process, turns share a
transaction; a batch borrows one pool connection and its recorded writes, BEGIN and COMMIT
go to the server as one pipeline (one round trip). Reads outside a turn (`reader`) take
any pool connection in autocommit, so they see committed data only.

Migrations (storage/migrations_postgres.py) run on open inside one transaction holding a
transaction-level advisory lock, so workers starting together apply each step once.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import sql as pgsql
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from storage.group_commit import GroupCommitStore, Statement
from storage.migrations_postgres import POSTGRES_MIGRATIONS
from storage.sql import Dialect, Params, Row, to_pyformat

log = logging.getLogger(__name__)

# The pg_advisory_xact_lock key held while migrating (a bigint derived from a fixed name).
MIGRATION_LOCK = int.from_bytes(hashlib.sha256(b"temanjiwa:migrate").digest()[:8], "big",
                                signed=True)
TABLES_SQL = (
    "SELECT table_name AS name FROM information_schema.tables "
    "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
)
CONNECT_TIMEOUT_S = 10.0

Pool = AsyncConnectionPool[psycopg.AsyncConnection[Row]]


def redact(url: str) -> str:
    """The URL without its password, for logs and error messages."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    info.pop("password", None)
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in info.items() if v is not None})


class PostgresWriter:
    """A batch's connection, borrowed from the pool at its first statement and given back
    at COMMIT or ROLLBACK. Autocommit mode with an explicit BEGIN, so BEGIN travels in the
    same pipeline as the batch's first statements."""

    dialect: Dialect = "postgresql"

    def __init__(self, pool: Pool):
        self.pool = pool
        self._conn: psycopg.AsyncConnection[Row] | None = None

    async def run(self, statements: Sequence[Statement], query: Statement) -> tuple[list[Row], int]:
        begin = self._conn is None
        conn = self._conn = self._conn or await self.pool.getconn()
        async with conn.pipeline():
            if begin:
                await conn.execute("BEGIN")
            for sql, params in statements:
                await conn.execute(to_pyformat(sql), params)
            cursor = await conn.execute(to_pyformat(query[0]), query[1])
        rows = await cursor.fetchall() if cursor.description is not None else []
        return rows, cursor.rowcount

    async def commit(self, statements: Sequence[Statement]) -> None:
        if self._conn is None and not statements:
            return
        begin = self._conn is None
        conn = self._conn = self._conn or await self.pool.getconn()
        async with conn.pipeline():
            if begin:
                await conn.execute("BEGIN")
            for sql, params in statements:
                await conn.execute(to_pyformat(sql), params)
            await conn.execute("COMMIT")
        await self._release()

    async def rollback(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
                await conn.execute("ROLLBACK")
        finally:
            await self._release()

    async def tables(self) -> set[str]:
        rows, _ = await self.run((), (TABLES_SQL, ()))
        return {row["name"] for row in rows}

    async def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await self.pool.putconn(conn)  # a broken connection is discarded by the pool


class PostgresReader:
    """Reads outside a turn: any pool connection, autocommit. Read-only by design."""

    dialect: Dialect = "postgresql"

    def __init__(self, pool: Pool):
        self.pool = pool

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(to_pyformat(sql), tuple(params))
            return await cursor.fetchall() if cursor.description is not None else []

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


class PostgresShortTransaction:
    """A transaction of its own on one pool connection, outside group commit (see
    `PostgresStore.standalone`). Writes are recorded and sent with the next read or with
    COMMIT, in one pipeline, as in a batch."""

    dialect: Dialect = "postgresql"

    def __init__(self, conn: psycopg.AsyncConnection[Row]):
        self._conn = conn
        self._pending: list[Statement] = []
        self._begun = False

    async def write(self, sql: str, params: Params = ()) -> None:
        self._pending.append((sql, tuple(params)))

    def involve(self, user_key: str | None) -> None:
        """PostgreSQL keeps no index of residents with a case (other workers write too)."""

    async def write_ordered(self, key: tuple, sql: str, params: Params = ()) -> None:
        await self.write(sql, params)

    async def execute(self, sql: str, params: Params = ()) -> int:
        return (await self._run(sql, params))[1]

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        return (await self._run(sql, params))[0]

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetch(sql, params)
        return rows[0] if rows else None

    async def tables(self) -> set[str]:
        return {row["name"] for row in await self.fetch(TABLES_SQL)}

    async def _send(self, query: Statement | None) -> Any:
        pending, self._pending = self._pending, []
        conn, begin, self._begun = self._conn, not self._begun, True
        cursor = None
        async with conn.pipeline():
            if begin:
                await conn.execute("BEGIN")
            for sql, params in pending:
                await conn.execute(to_pyformat(sql), params)
            if query is not None:
                cursor = await conn.execute(to_pyformat(query[0]), query[1])
            else:
                await conn.execute("COMMIT")
        return cursor

    async def _run(self, sql: str, params: Params) -> tuple[list[Row], int]:
        cursor = await self._send((sql, tuple(params)))
        rows = await cursor.fetchall() if cursor.description is not None else []
        return rows, cursor.rowcount

    async def commit(self) -> None:
        if self._pending or self._begun:
            await self._send(None)

    async def rollback(self) -> None:
        conn = self._conn
        if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
            await conn.execute("ROLLBACK")


class PostgresStore(GroupCommitStore):
    dialect: Dialect = "postgresql"

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10,
                 defer_writes: bool = True):
        super().__init__(defer_writes=defer_writes)
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        self._pool: Pool | None = None

    def __repr__(self) -> str:
        return f"PostgresStore({redact(self.url)!r})"

    async def open(self) -> None:
        pool: Pool = AsyncConnectionPool(
            self.url,
            kwargs={"autocommit": True, "row_factory": dict_row},
            min_size=self.min_size,
            max_size=self.max_size,
            open=False,
            name="temanjiwa",
        )
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
            await self._migrate(pool)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool
        self._writer = PostgresWriter(pool)
        self._reader = PostgresReader(pool)

    async def close(self) -> None:
        if self._batch is not None:
            await self.flush()
        if self._pool is not None:
            await self._pool.close()
        self._pool = None
        self._reader = self._writer = None

    async def _migrate(self, pool: Pool) -> None:
        async with pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
                "applied_at timestamptz NOT NULL DEFAULT now())"
            )
            version = await _version(conn)
            for number, script in enumerate(POSTGRES_MIGRATIONS[version:], start=version + 1):
                log.info("applying schema migration %d", number)
                await conn.execute(pgsql.SQL(script))  # several statements, no parameters
                await conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))

    @asynccontextmanager
    async def standalone(self) -> AsyncIterator[PostgresShortTransaction]:
        """A short transaction on a pool connection of its own, outside group commit: for
        claims, leases and the inbox, whose row locks must not wait inside a batch of turns
        (another worker's batch could be waiting for this one's: a deadlock)."""
        assert self._pool is not None, "store is not open"
        async with self._pool.connection() as conn:
            tx = PostgresShortTransaction(conn)
            try:
                yield tx
            except BaseException:
                with contextlib.suppress(Exception):
                    await tx.rollback()
                raise
            await tx.commit()

    async def schema_version(self) -> int:
        assert self._pool is not None, "store is not open"
        async with self._pool.connection() as conn:
            return await _version(conn)


async def _version(conn: psycopg.AsyncConnection[Any]) -> int:
    cursor = await conn.execute("SELECT coalesce(max(version), 0) AS version FROM schema_version")
    row = await cursor.fetchone()
    return int(row["version"]) if row else 0
