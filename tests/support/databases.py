"""A real PostgreSQL server for the tests, and a fresh database for each test.

The server is TEMANJIWA_TEST_DATABASE_URL when set (.ci/run starts one and sets it);
otherwise the tests start their own throwaway cluster (tests/support/cluster.py).

Each test gets its own database, copied from a template that already holds the schema
(CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY: about 10 ms), dropped afterwards.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from storage.sql import is_postgres_url, to_pyformat
from tests.support.cluster import ServerUnavailable, start_cluster, stop_cluster

TEST_URL_ENV = "TEMANJIWA_TEST_DATABASE_URL"


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead (host, user and options kept)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


class PostgresServer:
    """A server the tests may create databases on (as a superuser or a CREATEDB role)."""

    def __init__(self, url: str, directory: Path | None = None):
        self.url = url
        self.directory = directory  # set when the tests started the cluster themselves
        self._names = itertools.count(1)
        self._prefix = f"tj_test_{os.getpid()}"
        self.template: str | None = None

    @classmethod
    def start(cls) -> PostgresServer:
        """The server of TEMANJIWA_TEST_DATABASE_URL, else a throwaway cluster."""
        url = os.environ.get(TEST_URL_ENV)
        if url:
            server = cls(url)
            server.check()
            return server
        directory = Path(tempfile.mkdtemp(prefix="temanjiwa-pg-"))
        try:
            server = cls(start_cluster(directory), directory)
            server.check()
        except BaseException:
            stop_cluster(directory)
            raise
        return server

    def stop(self) -> None:
        if self.template is not None:
            self._admin(f'DROP DATABASE IF EXISTS "{self.template}"')
        if self.directory is not None:
            stop_cluster(self.directory)

    def check(self) -> None:
        try:
            self._admin("SELECT 1")
        except Exception as exc:
            raise ServerUnavailable(f"cannot connect to PostgreSQL at {self.url}: {exc}") from exc

    def _admin(self, statement: str) -> None:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    def _version(self) -> int:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            return conn.info.server_version

    def prepare_template(self, migrate: Callable[[str], None]) -> None:
        """Create the template database once; `migrate(url)` applies the schema to it."""
        if self.template is not None:
            return
        name = f"{self._prefix}_template"
        self._admin(f'DROP DATABASE IF EXISTS "{name}"')
        self._admin(f'CREATE DATABASE "{name}"')
        migrate(with_database(self.url, name))
        self.template = name

    def create_database(self, *, empty: bool = False) -> str:
        """A fresh database from the template (`empty`: without the schema); its URL."""
        name = f"{self._prefix}_{next(self._names)}"
        if empty:
            self._admin(f'CREATE DATABASE "{name}"')
        else:
            assert self.template is not None, "prepare_template first"
            strategy = " STRATEGY FILE_COPY" if self._version() >= 150000 else ""
            self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"{strategy}')
        return with_database(self.url, name)

    def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ------------------------------------------------------------------ looking into a database
class Row(tuple):
    """A result row by index and by column name, as sqlite3.Row (for either backend)."""

    _names: tuple[str, ...] = ()

    def __new__(cls, names: tuple[str, ...], values: tuple) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def keys(self) -> tuple[str, ...]:
        return self._names

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            return super().__getitem__(self._names.index(key))
        return super().__getitem__(key)


def is_postgres(target: str | Path) -> bool:
    return is_postgres_url(target)


def rows(target: str | Path, sql: str, *params) -> list[Row]:
    """Run a `?`-placeholder query on the database (its own connection, committed data)."""
    if is_postgres(target):
        with psycopg.connect(str(target), autocommit=True) as conn:
            cursor = conn.execute(to_pyformat(sql), params)  # type: ignore[arg-type]
            if cursor.description is None:
                return []
            names = tuple(column.name for column in cursor.description)
            return [Row(names, tuple(values)) for values in cursor.fetchall()]
    conn = sqlite3.connect(target)
    try:
        cursor = conn.execute(sql, params)
        if cursor.description is None:
            conn.commit()
            return []
        names = tuple(column[0] for column in cursor.description)
        return [Row(names, tuple(values)) for values in cursor.fetchall()]
    finally:
        conn.close()


def stored_bytes(target: str | Path) -> bytes:
    """Everything the database keeps, to search for what must not be there.

    SQLite: every byte on disk (the file, its WAL, shared memory and journal). PostgreSQL:
    every value of every row of every table, bytea as stored (its files are the server's,
    not the test's; deleted row versions there are VACUUM's concern)."""
    if is_postgres(target):
        with psycopg.connect(str(target), autocommit=True) as conn:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
                )
            ]
            values = [
                value if isinstance(value, bytes) else str(value).encode()
                for table in tables
                for row in conn.execute(f'SELECT * FROM "{table}"')  # type: ignore[arg-type]
                for value in row
            ]
        return b"\n".join(values)  # bytea as stored, not as hex text
    data = b""
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = Path(str(target) + suffix)
        if path.exists():
            data += path.read_bytes()
    return data
