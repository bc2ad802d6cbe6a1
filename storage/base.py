"""The one small async interface the rest of the bot uses to persist things.

Everything per-resident is keyed by `user_key` (an HMAC, see `storage.keys`). Writes of
one inbound message happen in one `transaction()`, so a crisis case and its alert are
durable together with the session, or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from flows.runtime import HistoryItem
from flows.session import Session


@dataclass(frozen=True)
class StoredSession:
    session: Session
    updated_at: datetime


class Transaction(Protocol):
    async def save_session(self, user_key: str, session: Session, now: datetime) -> None: ...

    async def add_result(self, user_key: str, instrument: str, score: float, band: str,
                         flags: Sequence[str], at: datetime) -> None: ...

    async def delete_user(self, user_key: str) -> None: ...


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def load_session(self, user_key: str) -> StoredSession | None: ...

    async def history(self, user_key: str) -> list[HistoryItem]: ...

    def transaction(self) -> AbstractAsyncContextManager[Transaction]: ...

    async def first_delivery(self, channel: str, update_id: str, now: datetime) -> bool:
        """Record an inbound update id; False if it was seen before (a redelivery)."""
        ...
