"""What the WhatsApp channel remembers about a number between messages: when it last wrote
(the 24-hour window), what is held for it until it writes, when it last got the template,
and the messages we sent that Meta may still bounce (131047 in a status webhook).

`ContactState` is what the channel needs. `MemoryContacts` keeps it in this process (a
channel built on its own, e.g. in a test); bot/app.py gives the channel the store-backed
one (bot/workers/state.py), so that every worker sees the same windows and held cards and
nothing held is lost on a restart. Keys are the channel's own (a normalised number or a
BSUID); the store-backed state only ever stores an HMAC of them, and bodies sealed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

#: Sent ids remembered to act on a later `statuses[]` failure (bounded, memory only).
SENT_INDEX_SIZE = 5_000


@dataclass(frozen=True)
class HeldBody:
    id: int
    body: dict[str, Any] = field(repr=False)
    tag: str | None = None  # a body with the same tag replaces it (the newest card wins)


@dataclass(frozen=True)
class SentMessage:
    """A message we sent that may bounce: where it went, and (for alerts and relay
    messages) what it said, to hold it again."""

    address: dict[str, str] = field(repr=False)  # {"field": "to"|"recipient", "value": …}
    body: dict[str, Any] | None = field(default=None, repr=False)
    tag: str | None = None


class ContactState(Protocol):
    async def last_inbound(self, key: str) -> datetime | None: ...

    async def saw_inbound(self, key: str, at: datetime) -> None:
        """The number wrote at `at` (Meta's timestamp); a later time is never replaced."""
        ...

    async def window_closed(self, key: str) -> None: ...

    async def held(self, key: str) -> list[HeldBody]: ...

    async def hold(self, key: str, bodies: Sequence[dict[str, Any]],
                   tags: Sequence[str | None]) -> None: ...

    async def drop(self, key: str, ids: Sequence[int]) -> None:
        """Forget held bodies (sent, or replaced); once nothing is held for the number, its
        template is forgotten too (the next hold invites it again)."""
        ...

    async def counts(self, key: str | None = None) -> tuple[int, int]:
        """(bodies held, numbers they wait for), for one number or all."""
        ...

    async def template(self, key: str) -> tuple[datetime, str] | None:
        """When the template went to the number while something is held for it, and its id."""
        ...

    async def template_sent(self, key: str, at: datetime, message_id: str) -> None: ...

    async def remember(self, message_id: str, sent: SentMessage) -> None: ...

    async def recall(self, message_id: str) -> SentMessage | None:
        """A sent message by its id (once: it is forgotten)."""
        ...


class MemoryContacts:
    """`ContactState` in this process only: lost on restart, unseen by other workers."""

    def __init__(self, sent_index: int = SENT_INDEX_SIZE) -> None:
        self._inbound: dict[str, datetime] = {}
        self._held: dict[str, list[HeldBody]] = {}
        self._templates: dict[str, tuple[datetime, str]] = {}
        self._sent: OrderedDict[str, SentMessage] = OrderedDict()
        self._sent_index = sent_index
        self._ids = 0

    async def last_inbound(self, key: str) -> datetime | None:
        return self._inbound.get(key)

    async def saw_inbound(self, key: str, at: datetime) -> None:
        last = self._inbound.get(key)
        if last is None or at > last:
            self._inbound[key] = at
        if len(self._inbound) > 50_000:  # keep memory flat: the oldest windows are closed
            for old in sorted(self._inbound, key=self._inbound.__getitem__)[:10_000]:
                del self._inbound[old]

    async def window_closed(self, key: str) -> None:
        self._inbound.pop(key, None)

    async def held(self, key: str) -> list[HeldBody]:
        return list(self._held.get(key, ()))

    async def hold(self, key: str, bodies: Sequence[dict[str, Any]],
                   tags: Sequence[str | None]) -> None:
        waiting = self._held.setdefault(key, [])
        for body, tag in zip(bodies, tags, strict=True):
            self._ids += 1
            waiting.append(HeldBody(self._ids, body, tag))

    async def drop(self, key: str, ids: Sequence[int]) -> None:
        gone = set(ids)
        left = [h for h in self._held.get(key, ()) if h.id not in gone]
        if left:
            self._held[key] = left
        else:
            self._held.pop(key, None)
            self._templates.pop(key, None)

    async def counts(self, key: str | None = None) -> tuple[int, int]:
        if key is not None:
            n = len(self._held.get(key, ()))
            return n, 1 if n else 0
        return sum(len(h) for h in self._held.values()), len(self._held)

    async def template(self, key: str) -> tuple[datetime, str] | None:
        return self._templates.get(key)

    async def template_sent(self, key: str, at: datetime, message_id: str) -> None:
        self._templates[key] = (at, message_id)

    async def remember(self, message_id: str, sent: SentMessage) -> None:
        self._sent[message_id] = sent
        while len(self._sent) > self._sent_index:
            self._sent.popitem(last=False)

    async def recall(self, message_id: str) -> SentMessage | None:
        return self._sent.pop(message_id, None)
