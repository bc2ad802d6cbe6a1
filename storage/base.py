"""The one small async interface the rest of the bot uses to persist things.

Everything per-resident is keyed by `user_key` (an HMAC, see `storage.keys`). Writes of
one inbound message happen in one `transaction()`, so a crisis case and its alert are
durable together with the session, or not at all.

Two stores implement it: `storage.sqlite.SqliteStore` (the embedded default) and
`storage.postgres.PostgresStore` (several workers); `storage.make_store` picks one from
the database setting. Both share group commit (storage/group_commit.py) and run the same
portable SQL (storage/sql.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from flows.runtime import HistoryItem
from flows.session import Session
from storage.sql import Connection


@dataclass(frozen=True)
class StoredSession:
    session: Session
    updated_at: datetime


class Transaction(Connection, Protocol):
    """One turn's writes; also a `Connection` for the functions of storage.cases etc."""

    async def save_session(self, user_key: str, session: Session, now: datetime) -> None: ...

    async def add_result(self, user_key: str, instrument: str, score: float, band: str,
                         flags: Sequence[str], at: datetime) -> None: ...

    async def delete_user(self, user_key: str) -> None: ...

    def involve(self, user_key: str | None) -> None:
        """The resident now may have a case, relay or pending disclosure (storage.cases
        calls this when it writes one; see `Store.may_have_case`)."""
        ...


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    @property
    def reader(self) -> Connection:
        """Reads outside a turn (committed data only); read-only."""
        ...

    async def load_session(self, user_key: str) -> StoredSession | None: ...

    async def history(self, user_key: str) -> list[HistoryItem]: ...

    def transaction(self, *, urgent: bool = False) -> AbstractAsyncContextManager[Transaction]:
        """One turn's writes, committed together; `urgent` (a crisis) goes first."""
        ...

    def standalone(self) -> AbstractAsyncContextManager[Connection]:
        """A short transaction outside group commit (claims, leases, the inbox)."""
        ...

    async def first_delivery(self, channel: str, update_id: str, now: datetime) -> bool:
        """Record an inbound update id; False if it was seen before (a redelivery)."""
        ...

    async def schema_version(self) -> int: ...

    def may_have_case(self, user_key: str) -> bool:
        """False only if the resident certainly has no open case, relay or pending
        disclosure (SQLite keeps an index, rebuilt at open); PostgreSQL always says True."""
        ...
