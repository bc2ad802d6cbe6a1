"""A small async client for the Cloud API `/messages` endpoint, built on httpx.

Why not a full SDK: we need a configurable base URL (for the fake server in tests and for
proxies), control over retries, and typed errors for the two cases the engine must act
on: the 24-hour window closed (`OutsideWindow`) and the user cannot be reached
(`Unreachable`). Messages to one recipient are sent strictly in order, one at a time;
different recipients proceed in parallel. Logs carry error codes and attempt counts only,
never message text, phone numbers or user ids.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from flows.messages import Reply

from .address import Address
from .render import RenderOptions, render_reply, template_body, text_body

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v25.0"

#: 24-hour customer-service window closed: only templates may be sent.
CODE_OUTSIDE_WINDOW = 131047
#: Cloud API throughput for the business number reached.
CODE_THROUGHPUT = 130429
#: Too many messages to the same user in a short time (~1 per 6 s after a burst).
CODE_PAIR_RATE = 131056
#: Codes meaning this user cannot be reached (not on WhatsApp, old app, not allow-listed
#: test number...). Retrying does not help.
UNREACHABLE_CODES = frozenset({131026, 131030})
#: Temporary server-side or rate conditions worth retrying.
RETRYABLE_CODES = frozenset(
    {
        CODE_THROUGHPUT,
        CODE_PAIR_RATE,
        1,  # API unknown (often transient)
        2,  # API service temporarily down
        4,  # app-level call rate limit
        80007,  # WhatsApp Business Account rate limit
        131000,  # something went wrong
        131016,  # service unavailable
        133004,  # server temporarily unavailable
    }
)


class GraphError(Exception):
    """The Graph API refused a message. `str()` holds codes only, never content."""

    def __init__(
        self, code: int | None, http_status: int | None, detail: str = "", *, attempts: int = 1
    ) -> None:
        self.code = code
        self.http_status = http_status
        self.detail = detail  # Meta's text; may be shown to operators, not logged by us
        self.attempts = attempts
        self.sent_ids: list[str] = []
        self.unsent: list[dict[str, Any]] = []
        super().__init__(code, http_status)

    def __str__(self) -> str:
        return f"Graph API error code={self.code} http={self.http_status} attempts={self.attempts}"


class OutsideWindow(GraphError):
    """131047: more than 24 h since the user's last message; send a template instead."""


class Unreachable(GraphError):
    """The user cannot receive messages from us (see `UNREACHABLE_CODES`)."""


class RetriesExhausted(GraphError):
    """Rate limits, 5xx or timeouts persisted through every retry."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter. Tests pass tiny delays; production keeps these."""

    attempts: int = 5
    base_delay: float = 1.0
    pair_delay: float = 6.0
    max_delay: float = 60.0
    jitter: float = 0.25

    def delay(self, retry: int, *, pair: bool, retry_after: float | None, rnd: float) -> float:
        """Seconds to wait before retry number `retry` (0-based)."""
        start = self.pair_delay if pair else self.base_delay
        wait = start * (2**retry)
        if retry_after is not None:
            wait = max(wait, retry_after)
        wait = min(wait, self.max_delay)
        return wait * (1 + self.jitter * rnd)


@dataclass(slots=True)
class _Slot:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class GraphClient:
    """Send messages through `POST {base_url}/{api_version}/{phone_number_id}/messages`.

    Pass `http` to share a connection pool (the client then does not close it).
    `min_interval` paces consecutive messages to one recipient (0 = send as fast as Meta
    allows and rely on 131056 retries). `sleep`, `random` and `clock` are injectable so
    tests can check the backoff without waiting.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_version: str = DEFAULT_API_VERSION,
        phone_number_id: str = "",
        token: str = "",
        http: httpx.AsyncClient | None = None,
        *,
        retry: RetryPolicy | None = None,
        min_interval: float = 0.0,
        timeout: float = 15.0,
        render_options: RenderOptions | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not phone_number_id or not token:
            raise ValueError("phone_number_id and token are required")
        version = api_version if api_version.startswith("v") else f"v{api_version}"
        self.url = f"{base_url.rstrip('/')}/{version}/{phone_number_id}/messages"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._timeout = timeout
        self.retry = retry or RetryPolicy()
        self.min_interval = min_interval
        self.render_options = render_options
        self._sleep = sleep
        self._random = random
        self._clock = clock
        self._slots: dict[str, _Slot] = {}
        self._last_sent: dict[str, float] = {}

    async def __aenter__(self) -> GraphClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            await self._http.aclose()

    # -- public sending API -------------------------------------------------------------

    async def send(self, body: dict[str, Any]) -> str:
        """Send one prepared body; returns the `wamid` of the sent message."""
        return (await self.send_many([body]))[0]

    async def send_many(self, bodies: Sequence[dict[str, Any]]) -> list[str]:
        """Send bodies in order, holding each recipient's turn for the whole batch.

        On failure the raised `GraphError` carries `sent_ids` and the `unsent` bodies
        (the one that failed and everything after it), so nothing is lost.
        """
        if not bodies:
            return []
        key = _recipient_key(bodies[0])
        if any(_recipient_key(b) != key for b in bodies):
            raise ValueError("send_many sends to one recipient at a time")
        sent: list[str] = []
        async with self._turn(key):
            for n, body in enumerate(bodies):
                try:
                    await self._pace(key)
                    sent.append(await self._post_with_retry(body))
                except GraphError as err:
                    err.sent_ids = sent
                    err.unsent = list(bodies[n:])
                    raise
                finally:
                    self._last_sent[key] = self._clock()
        return sent

    async def send_text(self, to: Address, text: str) -> str:
        return await self.send(text_body(to, text))

    async def send_interactive(self, to: Address, interactive: dict[str, Any]) -> str:
        """Send a ready `interactive` object (button or list), as built by `render`."""
        return await self.send({**to.envelope(), "type": "interactive", "interactive": interactive})

    async def send_template(
        self, to: Address, name: str, language: str, parameters: Sequence[str] = ()
    ) -> str:
        return await self.send(template_body(to, name, language, parameters))

    async def send_reply(self, to: Address, reply: Reply) -> list[str]:
        """Render one engine `Reply` (splitting and menus included) and send it."""
        return await self.send_many(render_reply(reply, to, self.render_options))

    async def send_replies(self, to: Address, replies: Sequence[Reply]) -> list[str]:
        """All bubbles of one turn, kept together and in order."""
        bodies = [b for r in replies for b in render_reply(r, to, self.render_options)]
        return await self.send_many(bodies)

    # -- internals ----------------------------------------------------------------------

    @asynccontextmanager
    async def _turn(self, key: str) -> AsyncIterator[None]:
        """FIFO per-recipient lock: asyncio.Lock wakes waiters in arrival order."""
        slot = self._slots.setdefault(key, _Slot())
        slot.users += 1
        try:
            async with slot.lock:
                yield
        finally:
            slot.users -= 1
            if slot.users == 0:
                self._slots.pop(key, None)

    async def _pace(self, key: str) -> None:
        if self.min_interval <= 0:
            return
        last = self._last_sent.get(key)
        if last is not None:
            wait = last + self.min_interval - self._clock()
            if wait > 0:
                await self._sleep(wait)
        if len(self._last_sent) > 10_000:  # forget recipients we are no longer pacing
            horizon = self._clock() - self.min_interval
            self._last_sent = {k: t for k, t in self._last_sent.items() if t > horizon}

    async def _post_with_retry(self, body: dict[str, Any]) -> str:
        attempts = max(1, self.retry.attempts)
        for attempt in range(attempts):
            outcome = await self._post_once(body)
            if isinstance(outcome, str):
                return outcome
            error, retry_after = outcome
            retryable = _retryable(error)
            if not retryable or attempt == attempts - 1:
                error.attempts = attempt + 1
                if retryable:
                    raise RetriesExhausted(
                        error.code, error.http_status, error.detail, attempts=attempt + 1
                    )
                raise error
            delay = self.retry.delay(
                attempt,
                pair=error.code == CODE_PAIR_RATE,
                retry_after=retry_after,
                rnd=self._random(),
            )
            log.warning(
                "whatsapp send retry: code=%s http=%s attempt=%d/%d wait=%.3fs",
                error.code,
                error.http_status,
                attempt + 1,
                attempts,
                delay,
            )
            await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post_once(self, body: dict[str, Any]) -> str | tuple[GraphError, float | None]:
        try:
            response = await self._http.post(
                self.url, json=body, headers=self._headers, timeout=self._timeout
            )
        except httpx.TimeoutException:
            return GraphError(None, None, "timeout"), None
        except httpx.TransportError as exc:
            return GraphError(None, None, type(exc).__name__), None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.is_success:
            try:
                return str(data["messages"][0]["id"])
            except (TypeError, KeyError, IndexError):
                log.warning(
                    "whatsapp send: success without message id (http %s)", response.status_code
                )
                return ""
        return _error_from(response.status_code, data), _retry_after(response)


def _error_from(http_status: int, data: Any) -> GraphError:
    err = data.get("error") if isinstance(data, dict) else None
    code = err.get("code") if isinstance(err, dict) else None
    code = code if isinstance(code, int) else None
    detail = ""
    if isinstance(err, dict):
        error_data = err.get("error_data")
        details = error_data.get("details") if isinstance(error_data, dict) else None
        detail = str(details or err.get("message") or "")
    if code == CODE_OUTSIDE_WINDOW:
        return OutsideWindow(code, http_status, detail)
    if code in UNREACHABLE_CODES:
        return Unreachable(code, http_status, detail)
    return GraphError(code, http_status, detail)


def _retryable(error: GraphError) -> bool:
    if isinstance(error, OutsideWindow | Unreachable):
        return False
    if error.code in RETRYABLE_CODES:
        return True
    if error.code is None and error.http_status is None:
        return True  # timeout or connection error
    status = error.http_status or 0
    return status == 429 or status >= 500


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _recipient_key(body: dict[str, Any]) -> str:
    key = body.get("to") or body.get("recipient")
    if not isinstance(key, str) or not key:
        raise ValueError("message body has neither 'to' nor 'recipient'")
    return key
