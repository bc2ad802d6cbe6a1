"""The channels' memory between messages, in the database, so any worker can serve the next
message and a restart loses nothing (issue 16). SQL: storage/channel_state.py.

- `SharedContacts`: the WhatsApp channel's `ContactState` (bot/whatsapp/held.py): the
  24-hour windows, the cards held for a number outside its window, the template sent to
  invite it, the messages that may still bounce.
- `SharedNotePrompts`: the Telegram cadres' note prompts (bot/telegram/cadre_chat.py).

Nothing here is stored plain: numbers, chats and people become HMAC keys (the resident-key
secret, a namespace per kind), bodies and addresses are sealed with the encryption key.
The types are plain dicts and strings, so this module knows no channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.conversations import Clock, utc_now
from bot.crypto import Sealer
from storage import channel_state as sql
from storage.base import Store
from storage.keys import user_key

WINDOW_REFRESH = timedelta(minutes=10)


@dataclass(frozen=True)
class HeldRow:
    """A held body as the WhatsApp channel's `HeldBody` reads it (id, body, tag)."""

    id: int
    body: dict[str, Any]
    tag: str | None


@dataclass(frozen=True)
class SentRow:
    """A sent message as the WhatsApp channel's `SentMessage` reads it."""

    address: dict[str, str]
    body: dict[str, Any] | None
    tag: str | None


class SharedContacts:
    """Per-number state of one channel (default "whatsapp") in the store."""

    def __init__(self, store: Store, sealer: Sealer, secret: bytes, *, channel: str = "whatsapp",
                 clock: Clock = utc_now) -> None:
        self.store = store
        self.sealer = sealer
        self.secret = secret
        self.channel = channel
        self.clock = clock
        self._recorded: dict[str, datetime] = {}  # when this worker last wrote a window

    def _key(self, key: str) -> str:
        return user_key(self.secret, f"{self.channel}-contact", key)

    def _tag(self, tag: str | None) -> str | None:
        """Tags name a case ("card:TJ-7K3Q"): the column keeps an HMAC, the sealed value
        the tag itself."""
        return None if tag is None else user_key(self.secret, f"{self.channel}-tag", tag)

    async def last_inbound(self, key: str) -> datetime | None:
        return await sql.last_inbound(self.store.reader, self.channel, self._key(key))

    async def saw_inbound(self, key: str, at: datetime) -> None:
        """Recorded at most every `WINDOW_REFRESH` per number by this worker: a window that
        looks up to that much older than it is closes early (a template instead of a free
        message), never late, and a resident's every message costs no write."""
        recorded = self._recorded.get(key)
        if recorded is not None and recorded <= at < recorded + WINDOW_REFRESH:
            return
        async with self.store.transaction() as tx:
            await sql.saw_inbound(tx, self.channel, self._key(key), at, self.clock())
        self._recorded[key] = at
        if len(self._recorded) > 50_000:
            self._recorded.clear()

    async def window_closed(self, key: str) -> None:
        self._recorded.pop(key, None)
        async with self.store.transaction() as tx:
            await sql.window_closed(tx, self.channel, self._key(key), self.clock())

    async def held(self, key: str) -> list[HeldRow]:
        rows = await sql.held(self.store.reader, self.channel, self._key(key))
        held = []
        for row_id, token, _tag in rows:
            value = self.sealer.open_json(token)
            if isinstance(value, dict) and isinstance(value.get("body"), dict):
                held.append(HeldRow(row_id, value["body"], value.get("tag")))
        return held

    async def hold(self, key: str, bodies: Sequence[dict[str, Any]],
                   tags: Sequence[str | None]) -> None:
        sealed = [self.sealer.seal_json({"body": body, "tag": tag})
                  for body, tag in zip(bodies, tags, strict=True)]
        async with self.store.transaction() as tx:
            await sql.hold(tx, self.channel, self._key(key), sealed,
                           [self._tag(tag) for tag in tags], self.clock())

    async def drop(self, key: str, ids: Sequence[int]) -> None:
        hashed = self._key(key)
        async with self.store.transaction() as tx:
            await sql.drop_held(tx, ids)
            left, _numbers = await sql.held_counts(tx, self.channel, hashed)
            if not left:
                await sql.forget_template(tx, self.channel, hashed)

    async def counts(self, key: str | None = None) -> tuple[int, int]:
        hashed = None if key is None else self._key(key)
        return await sql.held_counts(self.store.reader, self.channel, hashed)

    async def template(self, key: str) -> tuple[datetime, str] | None:
        return await sql.template_of(self.store.reader, self.channel, self._key(key))

    async def template_sent(self, key: str, at: datetime, message_id: str) -> None:
        async with self.store.transaction() as tx:
            await sql.template_sent(tx, self.channel, self._key(key), at, message_id)

    async def remember(self, message_id: str, sent: Any) -> None:
        body = self.sealer.seal_json({"body": sent.body, "tag": sent.tag})
        async with self.store.transaction() as tx:
            await sql.remember_sent(tx, self.channel, message_id,
                                    self.sealer.seal_json(sent.address), body,
                                    self._tag(sent.tag), self.clock())

    async def recall(self, message_id: str) -> SentRow | None:
        async with self.store.transaction() as tx:
            found = await sql.take_sent(tx, self.channel, message_id)
        if found is None:
            return None
        address = self.sealer.open_json(found[0])
        if not isinstance(address, dict):
            return None
        value = self.sealer.open_json(found[1]) if found[1] is not None else None
        value = value if isinstance(value, dict) else {}
        body = value.get("body")
        return SentRow(address, body if isinstance(body, dict) else None, value.get("tag"))


class SharedNotePrompts:
    """"Reply to this message with your note" prompts of Telegram cadres, in the store: the
    reply may reach any worker, or this one after a restart."""

    def __init__(self, store: Store, secret: bytes, *, channel: str = "telegram",
                 clock: Clock = utc_now) -> None:
        self.store = store
        self.secret = secret
        self.channel = channel
        self.clock = clock

    def _prompt(self, chat_id: int, message_id: int) -> str:
        return user_key(self.secret, f"{self.channel}-prompt", f"{chat_id}:{message_id}")

    def _actor(self, user_id: int) -> str:
        return user_key(self.secret, f"{self.channel}-prompt-actor", str(user_id))

    async def add(self, chat_id: int, message_id: int, case: str, user_id: int,
                  ttl: float) -> None:
        expires = self.clock() + timedelta(seconds=ttl)
        async with self.store.transaction() as tx:
            await sql.add_prompt(tx, self._prompt(chat_id, message_id), self._actor(user_id),
                                 case, expires)

    async def take(self, chat_id: int, message_id: int, user_id: int) -> str | None:
        async with self.store.transaction() as tx:
            return await sql.take_prompt(tx, self._prompt(chat_id, message_id),
                                         self._actor(user_id), self.clock())
