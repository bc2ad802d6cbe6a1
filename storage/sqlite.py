"""The embedded default store: one SQLite file via aiosqlite, WAL, migrations on open.

One connection writes (behind an asyncio lock, one transaction at a time) and one reads,
so reads never see half-written turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from flows.runtime import HistoryItem
from flows.session import Session
from storage.base import StoredSession
from storage.cases import forget_user
from storage.migrations import MIGRATIONS

log = logging.getLogger(__name__)

# Tables holding per-resident rows (children before parents): what /hapus deletes.
# Cases and case_events are not deleted but anonymised first (storage.cases.forget_user):
# closed cases keep only anonymous statistics; a live relay ends (its row goes).
# consent_log: the proof of consent (storage.privacy); it goes with the rest.
USER_TABLES: tuple[str, ...] = ("relays", "disclosures", "results", "consent_log", "sessions")

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA secure_delete=ON",  # deleted rows are zeroed, not left in free pages
    "PRAGMA busy_timeout=5000",
)


def _iso(moment: datetime) -> str:
    return moment.isoformat()


class SqliteTransaction:
    """Writes of one turn; committed together by `SqliteStore.transaction()`."""

    def __init__(self, db: aiosqlite.Connection):
        self.db = db
        self.deleted_user = False  # the store checkpoints the WAL after this commits

    async def save_session(self, user_key: str, session: Session, now: datetime) -> None:
        await self.db.execute(
            """INSERT INTO sessions (user_key, state, consent_at, consent_version, locale,
                                     created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(user_key) DO UPDATE SET state=excluded.state,
                   consent_at=excluded.consent_at, consent_version=excluded.consent_version,
                   locale=excluded.locale, updated_at=excluded.updated_at""",
            (user_key, json.dumps(session.to_dict(), separators=(",", ":")), session.consent_at,
             session.consent_version, session.locale, _iso(now), _iso(now)),
        )

    async def add_result(self, user_key: str, instrument: str, score: float, band: str,
                         flags: Sequence[str], at: datetime) -> None:
        await self.db.execute(
            "INSERT INTO results (user_key, instrument, score, band, flags, completed_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (user_key, instrument, score, band, json.dumps(list(flags)), _iso(at)),
        )

    async def delete_user(self, user_key: str) -> None:
        self.deleted_user = True
        await forget_user(self.db, user_key, datetime.now(UTC))
        for table in USER_TABLES:
            await self.db.execute(f"DELETE FROM {table} WHERE user_key = ?", (user_key,))


MAX_BATCH = 64  # turns per group commit at most


class StorageError(Exception):
    """A write batch could not be committed."""


@dataclass
class _Batch:
    """Turns sharing one SQLite transaction; `done` resolves when it is committed."""

    done: asyncio.Future
    turns: int = 0
    error: BaseException | None = None
    deleted_user: bool = False


class SqliteStore:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._write: aiosqlite.Connection | None = None
        self._read: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._waiting = 0  # turns waiting for the write lock (they join the open batch)
        self._batch: _Batch | None = None

    async def open(self) -> None:
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write = await aiosqlite.connect(self.path, isolation_level=None)
        self._write.row_factory = aiosqlite.Row  # rows by name and by index, on both connections
        for pragma in PRAGMAS:
            await self._write.execute(pragma)
        await self._migrate(self._write)
        self._read = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in PRAGMAS[1:]:
            await self._read.execute(pragma)
        self._read.row_factory = aiosqlite.Row

    async def close(self) -> None:
        for conn in (self._read, self._write):
            if conn is not None:
                await conn.close()
        self._read = self._write = None

    async def __aenter__(self) -> SqliteStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def reader(self) -> aiosqlite.Connection:
        assert self._read is not None, "store is not open"
        return self._read

    async def _migrate(self, db: aiosqlite.Connection) -> None:
        async with db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        version = row[0] if row else 0
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            log.info("applying schema migration %d", number)
            await db.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version={number};"
                                   "\nCOMMIT;")

    async def schema_version(self) -> int:
        async with self.reader.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTransaction]:
        """One turn's writes, durable when the block exits (group commit).

        Turns take the write lock one at a time; while others are waiting, a turn's writes
        join the open SQLite transaction and the last turn of the burst commits them all.
        Every turn returns only after its writes are committed. If one turn fails, the
        whole batch is rolled back and every turn in it raises (callers answer with the
        fallback text; nothing half-written stays).
        """
        assert self._write is not None, "store is not open"
        self._waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._waiting -= 1
        batch: _Batch | None = None
        try:
            if self._batch is None:
                await self._write.execute("BEGIN IMMEDIATE")
                self._batch = _Batch(asyncio.get_running_loop().create_future())
            batch = self._batch
            batch.turns += 1
            tx = SqliteTransaction(self._write)
            try:
                yield tx
            except BaseException as exc:
                batch.error = batch.error or exc
                raise
            finally:
                batch.deleted_user = batch.deleted_user or tx.deleted_user
                if batch.error or self._waiting == 0 or batch.turns >= MAX_BATCH:
                    await self._finish_batch()
        finally:
            self._lock.release()
        await asyncio.shield(batch.done)

    async def _finish_batch(self) -> None:
        """COMMIT (or ROLLBACK after an error) the open batch; the write lock is held."""
        batch, self._batch = self._batch, None
        if batch is None:
            return
        assert self._write is not None
        try:
            if batch.error is not None:
                await self._write.execute("ROLLBACK")
                raise batch.error
            await self._write.execute("COMMIT")
        except BaseException:
            if batch.error is None:
                with contextlib.suppress(Exception):
                    await self._write.execute("ROLLBACK")
            batch.done.set_exception(StorageError("the write batch was not committed"))
            batch.done.exception()  # mark retrieved: turns that failed raise their own error
            if batch.error is None:
                raise
            return
        batch.done.set_result(None)
        if batch.deleted_user:  # the old rows must not linger in the -wal file either
            await self._checkpoint()

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

    async def load_session(self, user_key: str) -> StoredSession | None:
        # execute_fetchall: one trip to the database thread instead of three
        rows = await self.reader.execute_fetchall(
            "SELECT state, updated_at FROM sessions WHERE user_key = ?", (user_key,)
        )
        if not rows:
            return None
        row = rows[0]
        return StoredSession(Session.from_dict(json.loads(row["state"])),
                             datetime.fromisoformat(row["updated_at"]))

    async def history(self, user_key: str) -> list[HistoryItem]:
        rows = await self.reader.execute_fetchall(
            "SELECT instrument, score, band, completed_at FROM results WHERE user_key = ? "
            "ORDER BY completed_at", (user_key,)
        )
        return [HistoryItem(r["instrument"], r["score"], r["band"],
                            datetime.fromisoformat(r["completed_at"])) for r in rows]

    async def first_delivery(self, channel: str, update_id: str, now: datetime) -> bool:
        async with self.transaction() as tx:
            cursor = await tx.db.execute(
                "INSERT OR IGNORE INTO inbound_seen (channel, update_id, seen_at) VALUES (?, ?, ?)",
                (channel, update_id, _iso(now)),
            )
            return cursor.rowcount == 1
