"""A fake WhatsApp Cloud API (Graph API `/messages`) on 127.0.0.1 for transport tests.

It records every POST and answers like Meta does, including the error bodies for the
cases the client must handle: 131047 (window closed), 130429 (throughput), 131056 (pair
rate), 131026 (undeliverable), a bare HTTP 500, a 429 with Retry-After, and a request
that never answers (timeout). Faults are queued with `fail_next` and consumed in order.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

_ERRORS: dict[str, tuple[int, int, str]] = {
    # kind: (http status, Graph error code, title)
    "131047": (400, 131047, "Re-engagement message"),
    "130429": (400, 130429, "Rate limit hit"),
    "131056": (400, 131056, "(Business Account, Consumer Account) pair rate limit hit"),
    "131026": (400, 131026, "Message Undeliverable"),
    "131009": (400, 131009, "Parameter value is not valid"),
}
FAULT_KINDS = frozenset({*_ERRORS, "500", "429", "timeout"})


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One POST as received, and the status we answered (0 = left hanging)."""

    path: str
    authorization: str | None
    body: Any
    status: int

    @property
    def recipient(self) -> str | None:
        if isinstance(self.body, dict):
            return self.body.get("to") or self.body.get("recipient")
        return None

    @property
    def type(self) -> str | None:
        return self.body.get("type") if isinstance(self.body, dict) else None


class FakeGraphApi:
    """State and ASGI app of the fake. Use `running_graph_api()` to serve it."""

    def __init__(self, token: str = "test-token", hang_seconds: float = 30.0) -> None:
        self.token = token
        self.hang_seconds = hang_seconds
        self.calls: list[RecordedCall] = []
        self.closed_windows: set[str] = set()  # recipients whose 24 h window is over
        self.base_url = ""
        self._faults: deque[str | None] = deque()
        self._ids = itertools.count(1)
        self._release: asyncio.Event | None = None
        self.app = Starlette(
            routes=[
                Route("/{version}/{phone_number_id}/messages", self._messages, methods=["POST"])
            ]
        )

    def fail_next(self, kind: str, times: int = 1, *, after: int = 0) -> None:
        """Answer `after` POSTs normally, then the next `times` with fault `kind`."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; use one of {sorted(FAULT_KINDS)}")
        self._faults.extend([None] * after + [kind] * times)

    @property
    def delivered(self) -> list[RecordedCall]:
        """Calls answered 200, i.e. messages Meta would have accepted."""
        return [c for c in self.calls if c.status == 200]

    async def _messages(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body: Any = await request.json()
        except ValueError:
            body = raw.decode(errors="replace")
        auth = request.headers.get("authorization")

        def record(status: int) -> None:
            self.calls.append(RecordedCall(request.url.path, auth, body, status))

        kind = self._faults.popleft() if self._faults else None
        if kind is not None:
            if kind == "timeout":
                record(0)
                await self._hang()
                return PlainTextResponse("too late", status_code=504)
            if kind == "500":
                record(500)
                return PlainTextResponse("Internal Server Error", status_code=500)
            if kind == "429":
                record(429)
                return JSONResponse({"error": {"message": "Too many"}}, 429, {"Retry-After": "0"})
            record(_ERRORS[kind][0])
            return _graph_error(*_ERRORS[kind])

        if auth != f"Bearer {self.token}":
            record(401)
            return _graph_error(401, 190, "Invalid OAuth access token")
        recipient = (body.get("to") or body.get("recipient")) if isinstance(body, dict) else None
        if (
            not isinstance(body, dict)
            or body.get("messaging_product") != "whatsapp"
            or not recipient
        ):
            record(400)
            return _graph_error(400, 100, "Invalid parameter")
        if recipient in self.closed_windows and body.get("type") != "template":
            record(400)
            return _graph_error(*_ERRORS["131047"])

        record(200)
        wamid = f"wamid.FAKE{next(self._ids)}"
        contact = {"input": recipient}
        contact["wa_id" if "to" in body else "user_id"] = recipient
        answer: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "contacts": [contact],
            "messages": [{"id": wamid}],
        }
        if body.get("type") == "template":
            answer["messages"][0]["message_status"] = "accepted"
        return JSONResponse(answer)

    async def _hang(self) -> None:
        if self._release is None:
            self._release = asyncio.Event()
        with suppress(TimeoutError):
            await asyncio.wait_for(self._release.wait(), self.hang_seconds)


def _graph_error(http_status: int, code: int, title: str) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "message": f"(#{code}) {title}",
                "type": "OAuthException",
                "code": code,
                "error_data": {"messaging_product": "whatsapp", "details": title},
                "fbtrace_id": "AFakeTraceId",
            }
        },
        status_code=http_status,
    )


@asynccontextmanager
async def running_graph_api(token: str = "test-token") -> AsyncIterator[FakeGraphApi]:
    """Serve a fresh fake on 127.0.0.1 at a random free port for the duration of the block."""
    fake = FakeGraphApi(token)
    fake._release = asyncio.Event()
    config = uvicorn.Config(
        fake.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # startup failed: raise its error
            raise RuntimeError("fake Graph API stopped during startup")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    fake.base_url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        fake._release.set()  # let any hanging "timeout" request finish
        server.should_exit = True
        await task
