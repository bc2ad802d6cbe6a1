"""The one HTTP server of a deployment: health, the WhatsApp webhook, and room for Telegram.

`create_web_app(...)` builds a Starlette app with

- `GET /healthz`: JSON `{"status": "ok", "whatsapp": {counters...}, ...}` — numbers only;
- `GET /whatsapp/webhook`: Meta's verification handshake (200 + challenge, else 403);
- `POST /whatsapp/webhook`: a signed delivery (403 unless `X-Hub-Signature-256` matches);
  answered as soon as the messages are recorded, the work runs in the background;
- `POST /telegram/webhook`, if `telegram_webhook` is given: either a ready Starlette route
  (any path) or an async handler `(Request) -> Response` mounted at that path.

`serve(app, host, port)` runs it under uvicorn. Shutdown (SIGINT/SIGTERM, or `stop` set)
is graceful: no new connections, open requests finish, then the app's lifespan waits for
the WhatsApp background work (turns being answered) before `serve` returns — it returns
normally instead of re-raising the signal, so the caller can close the rest in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.whatsapp.channel import WhatsAppChannel

log = logging.getLogger(__name__)

#: Meta's payloads are a few kB; anything far larger is not a webhook.
MAX_BODY_BYTES = 1_000_000
WHATSAPP_PATH = "/whatsapp/webhook"
TELEGRAM_PATH = "/telegram/webhook"

Handler = Callable[[Request], Awaitable[Response]]
Health = Callable[[], Mapping[str, Any] | Awaitable[Mapping[str, Any]]]


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def create_web_app(
    *,
    whatsapp: WhatsAppChannel | None = None,
    telegram_webhook: BaseRoute | Handler | None = None,
    health: Health | None = None,
    routes: Sequence[BaseRoute] = (),
    drain_timeout: float = 30.0,
) -> Starlette:
    """The ASGI app. Pass only the channels that are configured.

    `health` adds fields to /healthz (sync or async callable returning a mapping, e.g. the
    Telegram channel's counters). `routes` are appended as they are (operator endpoints).
    On shutdown the WhatsApp channel gets `drain_timeout` seconds to finish its work.
    """

    async def healthz(request: Request) -> Response:
        body: dict[str, Any] = {"status": "ok"}
        if whatsapp is not None:
            try:
                body["whatsapp"] = await whatsapp.metrics()
            except Exception:
                log.exception("whatsapp metrics failed")
                body["status"] = "degraded"
        if health is not None:
            try:
                extra = health()
                if inspect.isawaitable(extra):
                    extra = await extra
                body.update(extra)
            except Exception:
                log.exception("health callback failed")
                body["status"] = "degraded"
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)

    app_routes: list[BaseRoute] = [Route("/healthz", healthz, methods=["GET"])]

    if whatsapp is not None:
        channel = whatsapp

        async def whatsapp_webhook(request: Request) -> Response:
            if request.method == "GET":
                status, text = channel.handle_get(dict(request.query_params))
                return PlainTextResponse(text, status_code=status)
            try:
                raw = await _read_body(request)
            except _TooLarge:
                channel.counters["webhook_too_large"] += 1
                return PlainTextResponse("payload too large", status_code=413)
            status = await channel.handle_post(raw, request.headers)
            text = {200: "ok", 403: "forbidden"}.get(status, "error")
            return PlainTextResponse(text, status_code=status)

        app_routes.append(Route(WHATSAPP_PATH, whatsapp_webhook, methods=["GET", "POST"]))

    if telegram_webhook is not None:
        if isinstance(telegram_webhook, BaseRoute):
            app_routes.append(telegram_webhook)
        else:
            app_routes.append(Route(TELEGRAM_PATH, telegram_webhook, methods=["POST"]))
    app_routes.extend(routes)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if whatsapp is not None:
            await whatsapp.drain(drain_timeout)

    app = Starlette(routes=app_routes, lifespan=lifespan)
    app.state.whatsapp = whatsapp
    app.state.drain_timeout = drain_timeout
    return app


class _Server(uvicorn.Server):
    """uvicorn without its signal capture: `serve` installs handlers that only stop it."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        yield


async def serve(
    app: Starlette,
    host: str,
    port: int,
    *,
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
    log_level: str = "info",
    started: asyncio.Event | None = None,
    server_holder: list[uvicorn.Server] | None = None,
) -> None:
    """Serve `app` on host:port until SIGINT/SIGTERM (if `handle_signals`) or `stop` is set.

    Graceful: stops accepting, lets open requests finish, runs the lifespan shutdown (the
    WhatsApp channel finishes in-flight turns), then drains once more and returns. A second
    signal forces the exit. `port=0` picks a free port; `started` is set once listening and
    `server_holder` receives the uvicorn server (to read the port in tests).
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        log_level=log_level,
        access_log=False,  # access lines would carry nothing useful but could carry ids
        log_config=None,  # uvicorn logs through our handler and its privacy filter
        proxy_headers=True,
    )
    server = _Server(config)
    if server_holder is not None:
        server_holder.append(server)
    loop = asyncio.get_running_loop()
    installed: list[int] = []
    if handle_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, server.handle_exit, sig, None)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread, or a platform without loop signal support

    async def watch() -> None:
        while not server.started and not server.should_exit:
            await asyncio.sleep(0.01)
        if started is not None and server.started:
            started.set()
        if stop is not None:
            await stop.wait()
            server.should_exit = True

    watcher = asyncio.create_task(watch())
    try:
        await server.serve()
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        for sig in installed:
            loop.remove_signal_handler(sig)
        channel = getattr(app.state, "whatsapp", None)
        if channel is not None:
            await channel.drain(getattr(app.state, "drain_timeout", 30.0))


def bound_port(server: uvicorn.Server) -> int:
    """The port a started server listens on (useful with port=0)."""
    return server.servers[0].sockets[0].getsockname()[1]
