"""Group commit, shared by both stores: turns waiting for the write lock share one
transaction, and each returns only once that transaction is committed.

A backend gives a `Writer`: one connection that runs a list of statements in one trip
(SQLite: one call on aiosqlite's thread; PostgreSQL: one pipeline). Inside a batch, a
turn's `write`s are only recorded; the next read in the batch (`fetch`, `execute`) sends
them ahead of itself, and the commit sends the rest with COMMIT. A batch of turns that only
write (the common turn: session, counters, dedupe id, `last_reply_at`) is therefore one
trip to the database, however many turns and statements it holds.

If one turn fails, the whole batch is rolled back and every turn in it raises (callers
answer with the fallback text; nothing half-written stays).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from flows.runtime import HistoryItem
from flows.session import Session
from storage import cases, deliveries
from storage.base import StoredSession
from storage.cases import forget_user, iso
from storage.sql import Connection, Dialect, Params, Row

MAX_BATCH = 64  # turns per group commit at most


class PriorityLock:
    """An asyncio lock whose waiters are served urgent first, then in arrival order.

    A turn about a crisis must not wait behind hundreds of ordinary turns at the write lock.
    """

    def __init__(self) -> None:
        self._locked = False
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def acquire(self, *, urgent: bool = False) -> None:
        if not self._locked and not self._waiters:
            self._locked = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (0 if urgent else 1, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # handed the lock just as we gave up: pass it on
            raise

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        """Hand the lock to the first waiter (it stays locked), or unlock."""
        while self._waiters:
            _urgent, _n, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)
                return
        self._locked = False

# Tables holding per-resident rows (children before parents): what /hapus deletes.
# Cases and case_events are not deleted but anonymised first (storage.cases.forget_user):
# closed cases keep only anonymous statistics; a live relay ends (its row goes).
# consent_log: the proof of consent (storage.privacy); it goes with the rest.
# checkins, followups: a follow-up series and its sealed address (storage.followups).
USER_TABLES: tuple[str, ...] = (
    "checkins", "followups", "relays", "disclosures", "results", "consent_log", "sessions",
    "pending_replies",
)

Statement = tuple[str, Params]


class StorageError(Exception):
    """A write batch could not be committed."""


class Writer(Protocol):
    """A backend's write connection: one open transaction at a time, begun lazily."""

    @property
    def dialect(self) -> Dialect: ...

    async def run(self, statements: Sequence[Statement], query: Statement) -> tuple[list[Row], int]:
        """In one trip: BEGIN (if not yet begun), `statements`, then `query`; its rows and
        the number of rows it changed."""
        ...

    async def commit(self, statements: Sequence[Statement]) -> None:
        """In one trip: BEGIN (if not yet begun), `statements`, COMMIT."""
        ...

    async def rollback(self) -> None:
        """Undo the open transaction, if one was begun; the writer is ready for the next."""
        ...

    async def tables(self) -> set[str]: ...


@dataclass
class _Batch:
    """Turns sharing one transaction; `done` resolves when it is committed."""

    done: asyncio.Future
    turns: int = 0
    pending: list[Statement] = field(default_factory=list)  # recorded, not yet sent
    ordered: list[tuple[tuple, Statement]] = field(default_factory=list)  # sent last, sorted
    error: BaseException | None = None
    deleted_user: bool = False


class Transaction:
    """Writes of one turn; committed together with its batch by `GroupCommitStore.transaction()`.

    A `storage.sql.Connection`: pass it to the functions of storage.cases, storage.stats, …
    """

    def __init__(self, writer: Writer, batch: _Batch, defer_writes: bool,
                 involved: set[str] | None = None):
        self._writer = writer
        self._batch = batch
        self._defer = defer_writes
        self._involved = involved
        self.deleted_user = False

    def involve(self, user_key: str | None) -> None:
        """This resident now may have a case, a relay or a pending disclosure: from now on
        their turns look these up (`GroupCommitStore.may_have_case`). Noted at once, before
        the commit: a rolled-back batch only leaves a harmless extra lookup."""
        if self._involved is not None and user_key:
            self._involved.add(user_key)

    @property
    def dialect(self) -> Dialect:
        return self._writer.dialect

    async def write(self, sql: str, params: Params = ()) -> None:
        if self._defer:
            self._batch.pending.append((sql, tuple(params)))
        else:
            await self._run(sql, params)

    async def write_ordered(self, key: tuple, sql: str, params: Params = ()) -> None:
        """A write to a row many workers share (a counter): sent at COMMIT, after everything
        else and sorted by `key`, so batches of different workers take such rows in one
        order and cannot deadlock on them. Nothing in the batch can read it before."""
        if self._defer:
            self._batch.ordered.append((key, (sql, tuple(params))))
        else:
            await self._run(sql, params)

    async def execute(self, sql: str, params: Params = ()) -> int:
        return (await self._run(sql, params))[1]

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        return (await self._run(sql, params))[0]

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetch(sql, params)
        return rows[0] if rows else None

    async def tables(self) -> set[str]:
        return await self._writer.tables()

    async def _run(self, sql: str, params: Params) -> tuple[list[Row], int]:
        pending, self._batch.pending = self._batch.pending, []
        return await self._writer.run(pending, (sql, tuple(params)))

    # ---------------------------------------------------------------- a turn's writes
    async def save_session(self, user_key: str, session: Session, now: datetime) -> None:
        await self.write(
            """INSERT INTO sessions (user_key, state, consent_at, consent_version, locale,
                                     created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(user_key) DO UPDATE SET state=excluded.state,
                   consent_at=excluded.consent_at, consent_version=excluded.consent_version,
                   locale=excluded.locale, updated_at=excluded.updated_at""",
            (user_key, json.dumps(session.to_dict(), separators=(",", ":")), session.consent_at,
             session.consent_version, session.locale, iso(now), iso(now)),
        )

    async def add_result(self, user_key: str, instrument: str, score: float, band: str,
                         flags: Sequence[str], at: datetime) -> None:
        await self.write(
            "INSERT INTO results (user_key, instrument, score, band, flags, completed_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (user_key, instrument, score, band, json.dumps(list(flags)), iso(at)),
        )

    async def delete_user(self, user_key: str) -> None:
        self.deleted_user = True
        await forget_user(self, user_key, datetime.now(UTC))
        for table in USER_TABLES:
            await self.write(f"DELETE FROM {table} WHERE user_key = ?", (user_key,))


class GroupCommitStore:
    """What both stores share: group commit over a `Writer`, and the portable reads.

    A subclass opens `self._writer` and `self.reader` (a read-only `Connection` that never
    sees half-written turns), and may act after a commit (`_committed`).
    """

    def __init__(self, *, defer_writes: bool = True):
        self.defer_writes = defer_writes  # False: every write is its own trip (for benchmarks)
        self._writer: Writer | None = None
        self._reader: Connection | None = None
        self._lock = PriorityLock()
        self._waiting = 0  # turns waiting for the write lock (they join the open batch)
        self._batch: _Batch | None = None
        # Residents who may have an open case, a relay or a pending disclosure (a superset:
        # it only grows until the next start). Kept by a store that is the database's only
        # writer (SQLite); None means "unknown, always look" (PostgreSQL: other workers
        # write too).
        self._involved: set[str] | None = None

    def may_have_case(self, user_key: str) -> bool:
        """False only when `user_key` certainly has no open case, relay or pending
        disclosure: the turn may skip looking for them (no relay lookup, no case update)."""
        return self._involved is None or user_key in self._involved

    async def _load_involved(self) -> None:
        """Build the index from the database (at open: correct across restarts)."""
        self._involved = await cases.involved_keys(self.reader)

    @property
    def reader(self) -> Connection:
        """Reads outside a turn: committed data only (autocommit, its own connection)."""
        assert self._reader is not None, "store is not open"
        return self._reader

    async def __aenter__(self):
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    @asynccontextmanager
    async def transaction(self, *, urgent: bool = False) -> AsyncIterator[Transaction]:
        """One turn's writes, durable when the block exits (group commit).

        Turns take the write lock one at a time; while others are waiting, a turn's writes
        join the open transaction and the last turn of the burst commits them all.
        Every turn returns only after its writes are committed. An `urgent` turn (a crisis)
        takes the lock before every ordinary turn waiting for it, and its batch commits as
        soon as it has written, without waiting for more turns to join.
        """
        writer = self._writer
        assert writer is not None, "store is not open"
        self._waiting += 1
        try:
            await self._lock.acquire(urgent=urgent)
        finally:
            self._waiting -= 1
        batch: _Batch | None = None
        try:
            if self._batch is None:
                self._batch = _Batch(asyncio.get_running_loop().create_future())
            batch = self._batch
            batch.turns += 1
            tx = Transaction(writer, batch, self.defer_writes, self._involved)
            try:
                yield tx
            except BaseException as exc:
                batch.error = batch.error or exc
                raise
            finally:
                batch.deleted_user = batch.deleted_user or tx.deleted_user
                if batch.error or urgent or self._waiting == 0 or batch.turns >= MAX_BATCH:
                    await self._finish_batch()
        finally:
            self._lock.release()
        await asyncio.shield(batch.done)

    def standalone(self) -> contextlib.AbstractAsyncContextManager[Transaction]:
        """A short transaction of its own, outside group commit, for claims, leases and the
        inbox (storage/inbox.py): it holds row locks only for its own statements, so it
        cannot close a lock cycle with other workers' batches. PostgreSQL overrides it; with
        one SQLite writer there are no such cycles and it is an ordinary transaction."""
        return self.transaction()

    async def _finish_batch(self) -> None:
        """COMMIT (or ROLLBACK after an error) the open batch; the write lock is held."""
        batch, self._batch = self._batch, None
        if batch is None:
            return
        writer = self._writer
        assert writer is not None
        try:
            if batch.error is not None:
                await writer.rollback()
                raise batch.error
            ordered = [s for _key, s in sorted(batch.ordered, key=lambda item: item[0])]
            await writer.commit([*batch.pending, *ordered])
        except BaseException:
            if batch.error is None:
                with contextlib.suppress(Exception):
                    await writer.rollback()
            batch.done.set_exception(StorageError("the write batch was not committed"))
            batch.done.exception()  # mark retrieved: turns that failed raise their own error
            if batch.error is None:
                raise
            return
        batch.done.set_result(None)
        if batch.deleted_user:
            await self._deleted_user_committed()

    async def _deleted_user_committed(self) -> None:
        """After a batch that deleted a resident's data (SQLite: truncate the WAL)."""

    async def flush(self) -> None:
        """Commit the open batch now, if there is one (e.g. before maintenance)."""
        async with self._lock:
            await self._finish_batch()

    # ---------------------------------------------------------------- portable reads
    async def load_session(self, user_key: str) -> StoredSession | None:
        row = await self.reader.fetchone(
            "SELECT state, updated_at FROM sessions WHERE user_key = ?", (user_key,)
        )
        if row is None:
            return None
        return StoredSession(Session.from_dict(json.loads(row["state"])),
                             datetime.fromisoformat(row["updated_at"]))

    async def history(self, user_key: str) -> list[HistoryItem]:
        rows = await self.reader.fetch(
            "SELECT instrument, score, band, completed_at FROM results WHERE user_key = ? "
            "ORDER BY completed_at", (user_key,)
        )
        return [HistoryItem(r["instrument"], r["score"], r["band"],
                            datetime.fromisoformat(r["completed_at"])) for r in rows]

    async def first_delivery(self, channel: str, update_id: str, now: datetime) -> bool:
        """Record an inbound update id; False if it was seen before (a redelivery)."""
        async with self.transaction() as tx:
            return await deliveries.record(tx, channel, update_id, now)
