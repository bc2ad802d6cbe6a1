"""A fake Telegram Bot API server for end-to-end tests and benchmarks.

The real python-telegram-bot `Application` talks to it over HTTP on 127.0.0.1, exactly as
it would talk to api.telegram.org::

    async with FakeTelegram() as tg:
        app = tg.builder().build()          # token, base_url and base_file_url preset
        app.add_handler(...)
        async with running_application(app):
            tg.push_message(chat_id=1001, user_id=1001, text="/start")
            call = await tg.wait_for("sendMessage", chat_id=1001)
            assert "Halo" in call.params["text"]

Layout: this module is the server (lifecycle, HTTP plumbing, control routes, the child
process mode); `telegram_state.py` holds what a test drives (chats, pushed updates, faults,
inspecting and waiting), `telegram_methods.py` the Bot API methods, and
`telegram_wire.py` the wire formats and the `Call` record.

Design:

* Starlette + uvicorn served from the *current* event loop (the test's loop), so the test,
  the bot and the fake share one loop and the fake's state can be read and changed without
  locks. `FakeTelegramProcess` runs the same server in a child process (used by the
  benchmark so that the bot's CPU time is measured alone); it is driven over `/_fake/...`
  control routes.
* Every Bot API call is recorded as a `Call` (method, decoded params, HTTP status, result).
  PTB sends form bodies (strings raw, other values JSON-encoded); JSON and multipart bodies
  and query strings are accepted too.
* State is kept like Telegram keeps it: per-chat message ids shared by user and bot,
  messages that can be edited and deleted, callback queries that must be answered once,
  pending updates confirmed by the `offset` of the next getUpdates.
* Realistic errors: unknown chat ("chat not found"), editing a missing message, "message is
  not modified", callback_data over 64 bytes (BUTTON_DATA_INVALID), text over 4096
  characters, broken HTML with parse_mode=HTML, answering a callback twice, a second
  concurrent getUpdates (409 Conflict).
* Injected failures: `fail_next`, `rate_limit_next` (429 + retry_after), `block_chat`
  (403), `hang_next` (longer than the client's timeout), `go_down`/`come_back` (connection
  refused or 502 for every request).

Approximations (documented so nobody mistakes them for Telegram's behaviour): MarkdownV2
and Markdown texts are stored as sent, not validated; the HTML checker only knows the tags
Telegram documents and refuses a `<` that starts no tag; the length limit counts code
points; there is no flood control unless injected.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.telegram_methods import BotApiMethods
from tests.fakes.telegram_presser import AutoPresser
from tests.fakes.telegram_state import FakeTelegramState
from tests.fakes.telegram_wire import (
    _BAD_GATEWAY_HTML,
    _CANONICAL,
    _NO_CHAT_METHODS,
    DEFAULT_TOKEN,
    ApiError,
    Call,
    WaitTimeout,
    _CallbackQuery,
    _decode_form_value,
    _Fault,
    _parse_multipart,
)

# Calls after which the benchmark presser looks for a new keyboard.
_PRESSED_AFTER = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup"})


class _QuietServer(uvicorn.Server):
    """uvicorn without signal capture: the test runner owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        yield


class FakeTelegram(FakeTelegramState, BotApiMethods):
    """An in-loop fake Telegram Bot API server. Use `async with FakeTelegram() as tg:`."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "TemanJiwaTestBot",
        bot_name: str = "Teman Jiwa",
        host: str = "127.0.0.1",
        strict_chats: bool = True,
        max_hang: float = 120.0,
    ) -> None:
        self.token = token
        self.host = host
        self.port: int | None = None
        self.strict_chats = strict_chats
        self.max_hang = max_hang
        self.bot_user: dict[str, Any] = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.calls: list[Call] = []
        self.method_counts: Counter[str] = Counter()
        self.pushed_updates: list[dict[str, Any]] = []
        self.delivered: Counter[int] = Counter()  # update_id -> times returned by getUpdates
        self.acked_offset = 0  # highest getUpdates offset seen: updates below it are confirmed
        self.chats: dict[int, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.messages: dict[int, dict[int, dict[str, Any]]] = {}  # chat -> message_id -> msg
        self.callback_queries: dict[str, _CallbackQuery] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.blocked_chats: set[int | str] = set()
        self.allowed_updates: list[str] | None = None
        self.down: str | None = None  # None, "refuse" or "502"
        # Called with each answered call before the answer is written (fault injection).
        self.after_call: Callable[[Call], None] | None = None
        self.presser: AutoPresser | None = None  # benchmarks: simulated button presses
        self._pending: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._next_message_id: dict[int, int] = {}
        self._push_marks: dict[int, int] = {}
        self._ids = itertools.count(1)
        self._faults: list[_Fault] = []
        self._pollers: set[asyncio.Future[str]] = set()
        self._change_waiters: set[asyncio.Future[None]] = set()
        self._hang_release: asyncio.Event | None = None
        self._server: _QuietServer | None = None
        self._socket: socket.socket | None = None
        self.app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._api, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._file, methods=["GET"]),
                Route("/_fake/push", self._ctl_push, methods=["POST"]),
                Route("/_fake/push_text_bulk", self._ctl_push_text_bulk, methods=["POST"]),
                Route("/_fake/wait_acked", self._ctl_wait_acked, methods=["GET"]),
                Route("/_fake/stats", self._ctl_stats, methods=["GET"]),
                Route("/_fake/reset_calls", self._ctl_reset_calls, methods=["POST"]),
                Route("/_fake/auto_press", self._ctl_auto_press, methods=["POST"]),
            ]
        )

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """Pass to `ApplicationBuilder().base_url(...)`; PTB appends the token."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self.host}:{self.port}/file/bot"

    def builder(self):
        """An `ApplicationBuilder` with token, base_url and base_file_url pointing here."""
        from telegram.ext import ApplicationBuilder

        return (
            ApplicationBuilder()
            .token(self.token)
            .base_url(self.base_url)
            .base_file_url(self.base_file_url)
        )

    async def start(self) -> FakeTelegram:
        self._hang_release = asyncio.Event()
        await self._serve(port=0)
        return self

    async def stop(self) -> None:
        await self._shutdown_server()
        self._wake_pollers("closing")

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _serve(self, port: int) -> None:
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
        # proto is TCP; without it every answer waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            # PTB keeps connections alive; a server-side idle close racing a new request
            # would make tests flaky, so idle connections are kept for long.
            timeout_keep_alive=600,
            timeout_graceful_shutdown=2,
            backlog=2048,
        )
        config.load()
        server = _QuietServer(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        await server.on_tick(0)
        self._server, self._socket = server, sock

    async def _shutdown_server(self) -> None:
        server, sock = self._server, self._socket
        self._server = self._socket = None
        # Let in-flight long polls and hung requests answer so connections can close.
        self._wake_pollers("closing")
        if self._hang_release is not None:
            self._hang_release.set()
        if server is not None:
            server.should_exit = True
            await server.shutdown(sockets=[sock] if sock else None)
        if self._hang_release is not None:
            self._hang_release = asyncio.Event()

    async def go_down(self, mode: str = "refuse") -> None:
        """Simulate a Telegram outage.

        mode="refuse": the port is closed, every request fails with connection refused.
        mode="502": every request is answered 502 Bad Gateway with an HTML body.
        Pending long polls are ended. State (queued updates, messages) is kept.
        """
        if mode not in ("refuse", "502"):
            raise ValueError("mode must be 'refuse' or '502'")
        if self.down:
            raise RuntimeError(f"already down ({self.down})")
        self.down = mode
        self._wake_pollers("down")
        if mode == "refuse":
            await self._shutdown_server()
        self._notify()

    async def come_back(self) -> None:
        """End the outage; the server listens again on the same port."""
        mode, self.down = self.down, None
        if mode == "refuse":
            assert self.port is not None
            await self._serve(port=self.port)
        self._notify()

    # ------------------------------------------------------------------ HTTP plumbing

    @staticmethod
    def _canonical(method: str) -> str:
        return _CANONICAL.get(method.lower(), method)

    async def _read_params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = {
            k: _decode_form_value(k, v) for k, v in request.query_params.items()
        }
        body = await request.body()
        if not body:
            return params
        content_type = request.headers.get("content-type", "")
        if "application/json" in content_type:
            data = json.loads(body)
            if isinstance(data, dict):
                params.update(data)
        elif "multipart/form-data" in content_type:
            params.update(_parse_multipart(body, content_type))
        else:
            for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
                params[key] = _decode_form_value(key, value)
        return params

    @staticmethod
    def _error_body(status: int, description: str, parameters: dict | None) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return body

    def _take_fault(self, method: str, chat_id: int | str | None) -> _Fault | None:
        for fault in self._faults:
            if fault.matches(method, chat_id):
                if fault.remaining is not None:
                    fault.remaining -= 1
                return fault
        return None

    async def _api(self, request: Request) -> Response:
        if self.down == "502":
            self.method_counts["<down>"] += 1
            return Response(_BAD_GATEWAY_HTML, status_code=502, media_type="text/html")
        if request.path_params["token"] != self.token:
            return JSONResponse(self._error_body(401, "Unauthorized", None), status_code=401)
        method = self._canonical(request.path_params["method"])
        try:
            params = await self._read_params(request)
        except (ValueError, UnicodeDecodeError) as exc:
            return JSONResponse(
                self._error_body(400, f"Bad Request: can't parse request: {exc}", None), 400
            )
        call = Call(seq=len(self.calls), method=method, params=params, at=time.monotonic())
        self.calls.append(call)
        self._notify()
        status, body = await self._answer(call, request)
        call.status = status
        if status == 200:
            call.result = body["result"]
        else:
            call.description = body.get("description")
        self.method_counts[method] += 1
        if self.after_call is not None:
            self.after_call(call)  # e.g. SIGKILL the bot before it reads this answer
        if self.presser is not None and status == 200 and method in _PRESSED_AFTER:
            self._auto_press(call)
        self._notify()
        if self.down == "502":
            return Response(_BAD_GATEWAY_HTML, status_code=502, media_type="text/html")
        return JSONResponse(body, status_code=status)

    async def _answer(self, call: Call, request: Request) -> tuple[int, dict[str, Any]]:
        method, params = call.method, call.params
        chat_id = call.chat_id
        fault = self._take_fault(method, chat_id)
        if fault is not None:
            call.injected = True
            if fault.hang:
                await self._hang(fault.hang_seconds)
                if not fault.apply_after_hang:
                    return fault.status, self._error_body(fault.status, fault.description, None)
            else:
                return fault.status, self._error_body(
                    fault.status, fault.description or "", fault.parameters
                )
        if chat_id in self.blocked_chats and method not in _NO_CHAT_METHODS:
            call.injected = True
            chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
            if chat and chat["type"] != "private":
                reason = f"Forbidden: bot was kicked from the {chat['type']} chat"
            else:
                reason = "Forbidden: bot was blocked by the user"
            return 403, self._error_body(403, reason, None)
        handler = getattr(self, f"_m_{method}", None)
        try:
            if handler is None:
                result: Any = True  # generic fallback: unknown methods succeed
            else:
                result = handler(params, request) if method == "getUpdates" else handler(params)
                if inspect.isawaitable(result):
                    result = await result
        except ApiError as exc:
            return exc.status, self._error_body(exc.status, exc.description, exc.parameters)
        return 200, {"ok": True, "result": result}

    async def _hang(self, seconds: float | None) -> None:
        release = self._hang_release
        timeout = self.max_hang if seconds is None else seconds
        if release is None:
            await asyncio.sleep(timeout)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(release.wait(), timeout)

    async def _file(self, request: Request) -> Response:
        if self.down == "502":
            return Response(_BAD_GATEWAY_HTML, status_code=502, media_type="text/html")
        if request.path_params["token"] != self.token:
            return Response(b"Unauthorized", status_code=401)
        path = request.path_params["path"]
        for info in self.files.values():
            if info["file_path"] == path:
                return Response(info["content"], media_type="application/octet-stream")
        return Response(b"Not Found", status_code=404)

    # ------------------------------------------------------------------ control routes

    def push_text_bulk(
        self,
        n: int,
        *,
        chats: int = 100,
        first_chat_id: int = 10_000,
        text: str = "halo",
        start: bool = True,
    ) -> tuple[int, int]:
        """Queue `n` private text messages round-robin over `chats` chats; with `start` the
        first message of every chat is "/start". Returns (first, last) update_id."""
        first = self._next_update_id
        for i in range(n):
            chat_id = first_chat_id + i % chats
            body = "/start" if start and i < chats else f"{text} {i}"
            self.push_message(chat_id, chat_id, body)
        return first, self._next_update_id - 1

    async def _ctl_push(self, request: Request) -> Response:
        data = await request.json()
        ids = [self.push_update(u)["update_id"] for u in data.get("updates", [])]
        return JSONResponse({"update_ids": ids})

    async def _ctl_push_text_bulk(self, request: Request) -> Response:
        data = await request.json()
        first, last = self.push_text_bulk(
            int(data["n"]),
            chats=int(data.get("chats", 100)),
            first_chat_id=int(data.get("first_chat_id", 10_000)),
            text=str(data.get("text", "halo")),
            start=bool(data.get("start", True)),
        )
        return JSONResponse({"first": first, "last": last})

    async def _ctl_wait_acked(self, request: Request) -> Response:
        update_id = int(request.query_params["update_id"])
        timeout = float(request.query_params.get("timeout", "60"))
        try:
            await self.wait_acked(update_id, timeout)
        except WaitTimeout as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, status_code=504)
        return JSONResponse({"ok": True})

    async def _ctl_stats(self, request: Request) -> Response:
        return JSONResponse(
            {
                "calls": dict(self.method_counts),
                "errors": sum(1 for c in self.calls if c.done and not c.ok),
                "pushed": len(self.pushed_updates),
                "pending": len(self._pending),
                "duplicates": len(self.duplicate_deliveries()),
                "acked_offset": self.acked_offset,
                "cpu_seconds": time.process_time(),
            }
        )

    def _auto_press(self, call: Call) -> None:
        message = call.result
        if not isinstance(message, dict) or call.chat_id is None:
            return
        assert self.presser is not None
        self.presser.seen(int(call.chat_id), message, self.buttons(message))

    async def _ctl_auto_press(self, request: Request) -> Response:
        """Start (or with presses=0 stop) the closed-loop presser; returns its stats."""
        data = await request.json()
        if "presses" in data:
            presses = int(data["presses"])
            self.presser = (
                AutoPresser(
                    presses,
                    data.get("prefer", ()),
                    lambda chat, cb, mid: self.push_callback(chat, chat, cb, mid),
                )
                if presses
                else None
            )
        return JSONResponse(self.presser.stats() if self.presser else {})

    async def _ctl_reset_calls(self, request: Request) -> Response:
        self.calls.clear()
        self.method_counts.clear()
        self._push_marks.clear()
        return JSONResponse({"ok": True})


@contextlib.asynccontextmanager
async def running_application(
    app: Any,
    *,
    poll_timeout: float = 10.0,
    drop_pending_updates: bool = False,
    error_callback: Callable[[Exception], None] | None = None,
) -> AsyncIterator[Any]:
    """Run a PTB `Application` in polling mode for the duration of the block, then stop it
    cleanly (the updater confirms the last offset on the way out).

    `error_callback` (a plain function) receives errors of the polling loop itself, e.g.
    NetworkError during an outage; handler errors go to the app's error handlers."""
    async with app:
        await app.updater.start_polling(
            poll_interval=0.0,
            timeout=int(poll_timeout),
            drop_pending_updates=drop_pending_updates,
            error_callback=error_callback,
        )
        await app.start()
        try:
            yield app
        finally:
            if app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()


# ---------------------------------------------------------------------- child process mode


def _serve_in_process(conn: Any, token: str, kwargs: dict[str, Any]) -> None:
    async def main() -> None:
        fake = FakeTelegram(token, **kwargs)
        await fake.start()
        conn.send(fake.port)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, conn.recv)  # any message (or EOF) means stop
        await fake.stop()

    with contextlib.suppress(EOFError, KeyboardInterrupt):
        asyncio.run(main())


class FakeTelegramProcess:
    """The fake server in a child process (its CPU is not the caller's), driven over HTTP.

    Use as `with FakeTelegramProcess() as tg:`; `tg.base_url`, `tg.base_file_url`,
    `await tg.push_text_bulk(...)`, `await tg.wait_acked(...)`, `await tg.stats()`.
    """

    def __init__(self, token: str = DEFAULT_TOKEN, **kwargs: Any) -> None:
        self.token = token
        self.kwargs = kwargs
        self.port: int | None = None
        self._proc: Any = None
        self._conn: Any = None

    def __enter__(self) -> FakeTelegramProcess:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_serve_in_process, args=(child, self.token, self.kwargs), daemon=True
        )
        self._proc.start()
        child.close()
        if not parent.poll(60):
            self._proc.terminate()
            raise RuntimeError("fake Telegram server process did not start")
        self.port = parent.recv()
        self._conn = parent
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self._conn.send("stop")
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def _control(self, verb: str, path: str, **kw: Any) -> Any:
        import httpx

        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.port}", timeout=None, trust_env=False
        ) as client:
            response = await client.request(verb, f"/_fake/{path}", **kw)
            response.raise_for_status()
            return response.json()

    async def push_updates(self, updates: Iterable[dict[str, Any]]) -> list[int]:
        data = await self._control("POST", "push", json={"updates": list(updates)})
        return data["update_ids"]

    async def push_text_bulk(
        self,
        n: int,
        *,
        chats: int = 100,
        first_chat_id: int = 10_000,
        text: str = "halo",
        start: bool = True,
    ) -> tuple[int, int]:
        body = {
            "n": n,
            "chats": chats,
            "first_chat_id": first_chat_id,
            "text": text,
            "start": start,
        }
        data = await self._control("POST", "push_text_bulk", json=body)
        return data["first"], data["last"]

    async def wait_acked(self, update_id: int, timeout: float = 120.0) -> None:
        params = {"update_id": update_id, "timeout": timeout}
        await self._control("GET", "wait_acked", params=params)

    async def stats(self) -> dict[str, Any]:
        return await self._control("GET", "stats")

    async def reset_calls(self) -> None:
        await self._control("POST", "reset_calls")

    async def auto_press(self, presses: int | None = None,
                         prefer: Iterable[str] = ()) -> dict[str, Any]:
        """Start the closed-loop presser (`presses` in all; 0 stops it); None: its stats."""
        body: dict[str, Any] = {} if presses is None else {"presses": presses,
                                                           "prefer": list(prefer)}
        return await self._control("POST", "auto_press", json=body)
