"""Telegram's flood limits as the Bot API documents them, with crisis replies first.

python-telegram-bot's `AIORateLimiter` puts every call through one global budget, callback
answers included, so under load a resident in crisis waits behind everyone's button
presses. `TelegramLimits` follows what Telegram asks instead:

- about one message per second in one private chat (a short burst is fine: a turn's
  bubbles are joined into one or two messages), about 30 messages per second across all
  chats, and at most 20 messages per minute in one group;
- only calls that post or change a message count; answering a button press, a chat
  action, getUpdates and the like go straight through;
- a call made with `rate_limit_args=CRISIS` (the channel does this for the replies of a
  crisis turn) is served before every ordinary call waiting for the shared budget;
- a 429 (`RetryAfter`) pauses only the chat it came from (or everything, if it named
  none) for the time Telegram asks, then the call is tried again, at most `max_retries`
  times.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from .calls import retry_after_seconds

log = logging.getLogger(__name__)

CRISIS, ORDINARY = 0, 1  # `rate_limit_args`: lower is served first
#: Calls that put a message in a chat or change one: the ones Telegram's limits are about.
MESSAGE_CALLS = frozenset(
    {
        "sendMessage", "sendPhoto", "sendDocument", "sendSticker", "sendVoice", "sendAudio",
        "sendVideo", "sendAnimation", "sendLocation", "sendContact", "sendMediaGroup",
        "copyMessage", "forwardMessage", "editMessageText", "editMessageReplyMarkup",
        "editMessageCaption",
    }
)  # fmt: skip
CHATS_TRACKED = 10_000  # idle chat buckets beyond this are dropped (memory stays flat)


@dataclass
class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up."""

    rate: float
    burst: float
    tokens: float = field(init=False)
    stamp: float = field(default_factory=time.monotonic)
    paused_until: float = 0.0

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0: now)."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        pause = max(0.0, self.paused_until - now)
        return max(pause, 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate)

    def take(self) -> None:
        self.tokens -= 1

    @property
    def idle(self) -> bool:
        return self.tokens >= self.burst and self.paused_until <= time.monotonic()


class PriorityGate:
    """A token bucket whose waiters are served by priority, then in arrival order."""

    def __init__(self, bucket: TokenBucket) -> None:
        self.bucket = bucket
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._pump: asyncio.Task[None] | None = None

    async def acquire(self, priority: int) -> bool:
        """Take a token, waiting for it if needed; True if the caller had to wait."""
        if not self._waiting and self.bucket.wait_time(time.monotonic()) == 0:
            self.bucket.take()
            return False
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._order), future))
        if self._pump is None or self._pump.done():
            self._pump = asyncio.get_running_loop().create_task(self._serve())
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.bucket.tokens += 1  # granted just as the caller gave up: give it back
            raise
        return True

    async def _serve(self) -> None:
        while self._waiting:
            wait = self.bucket.wait_time(time.monotonic())
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            _priority, _n, future = heapq.heappop(self._waiting)
            if future.cancelled():
                continue
            self.bucket.take()
            future.set_result(None)

    def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
        for _p, _n, future in self._waiting:
            future.cancel()
        self._waiting.clear()


class TelegramLimits(BaseRateLimiter[int]):
    """`BaseRateLimiter` for Telegram's documented limits (see the module docstring)."""

    def __init__(
        self,
        *,
        overall_per_second: float = 30.0,
        chat_per_second: float = 1.0,
        chat_burst: float = 3.0,
        group_per_minute: float = 20.0,
        max_retries: int = 3,
    ) -> None:
        self.overall = PriorityGate(TokenBucket(overall_per_second, overall_per_second))
        self.chat_per_second = chat_per_second
        self.chat_burst = chat_burst
        self.group_per_minute = group_per_minute
        self.max_retries = max_retries
        self._chats: dict[int | str, PriorityGate] = {}
        self.queued: Counter[str] = Counter()  # calls that had to wait, by kind (metrics)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        self.overall.close()
        for gate in self._chats.values():
            gate.close()

    def _chat_gate(self, chat_id: int | str) -> PriorityGate:
        gate = self._chats.get(chat_id)
        if gate is None:
            if len(self._chats) >= CHATS_TRACKED:
                self._chats = {c: g for c, g in self._chats.items() if not g.bucket.idle}
            group = isinstance(chat_id, str) or chat_id < 0
            bucket = (
                TokenBucket(self.group_per_minute / 60.0, self.group_per_minute)
                if group
                else TokenBucket(self.chat_per_second, self.chat_burst)
            )
            gate = self._chats[chat_id] = PriorityGate(bucket)
        return gate

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        priority = ORDINARY if rate_limit_args is None else rate_limit_args
        chat_id = _chat_id(data.get("chat_id"))
        counted = endpoint in MESSAGE_CALLS and chat_id is not None
        for attempt in range(self.max_retries + 1):
            if counted:
                waited = await self._chat_gate(chat_id).acquire(priority)
                waited = await self.overall.acquire(priority) or waited
                if waited:
                    self.queued["crisis" if priority == CRISIS else "ordinary"] += 1
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == self.max_retries:
                    raise
                seconds = retry_after_seconds(exc) + 0.1
                log.info("telegram asked to wait %.1f s (429); this chat pauses", seconds)
                if chat_id is not None:
                    self._chat_gate(chat_id).bucket.paused_until = time.monotonic() + seconds
                await asyncio.sleep(seconds)
        raise AssertionError("unreachable: the last attempt returns or raises")


def _chat_id(value: Any) -> int | str | None:
    if value is None:
        return None
    with contextlib.suppress(ValueError, TypeError):
        return int(value)
    return str(value)

