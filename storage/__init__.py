"""Persistence behind one small async interface (storage/base.py).

`make_store(target)` picks the backend from the database setting: a `postgresql://` URL
gives the PostgreSQL store (several workers), anything else is the path of the embedded
SQLite file. `database_target` says which setting wins.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from storage.base import Store
from storage.sql import is_postgres_url
from storage.sqlite import SqliteStore

if TYPE_CHECKING:
    from storage.postgres import PostgresStore

DATABASE_URL_ENV = "TEMANJIWA_DATABASE_URL"

__all__ = ["DATABASE_URL_ENV", "Store", "database_target", "is_postgres_url", "make_store",
           "open_store"]


def database_target(explicit: str | Path | None, configured: str | None,
                    default: str | Path) -> str | Path:
    """The database to use: a command-line `--db`, else TEMANJIWA_DATABASE_URL, else the
    deployment config's `database`, else `default` (the SQLite file)."""
    return explicit or os.environ.get(DATABASE_URL_ENV) or configured or default


def make_store(target: str | Path) -> SqliteStore | PostgresStore:
    """A store for `target` (not yet open): a postgresql:// URL, or an SQLite file path."""
    if is_postgres_url(target):
        # Imported here, not above: psycopg and libpq (about 13 MB of memory) are loaded
        # only by deployments that use PostgreSQL, not by every embedded SQLite one.
        from storage.postgres import PostgresStore

        return PostgresStore(str(target))
    return SqliteStore(target)


async def open_store(target: str | Path) -> SqliteStore | PostgresStore:
    """`make_store(target)`, opened (migrations applied)."""
    store = make_store(target)
    await store.open()
    return store
