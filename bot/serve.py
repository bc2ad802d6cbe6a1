"""`temanjiwa run`: every configured channel in one process, plus the background jobs.

Telegram (polling, or webhook on the shared web app), WhatsApp (webhook on the shared
web app), the alert dispatcher, the follow-up scheduler, the retention schedule and the
content watcher all run until SIGINT/SIGTERM; then channels stop taking new updates,
in-flight turns finish and the database is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.app import Runtime, build_runtime, build_whatsapp, start_telegram
from bot.config import Config
from bot.live_content import ContentWatcher
from bot.web import create_web_app, serve
from storage.retention import run_retention_schedule

log = logging.getLogger(__name__)

RETENTION_INTERVAL_S = 3600.0
CONTENT_CHECK_INTERVAL_S = 10.0
FOLLOWUP_INTERVAL_S = 10.0


@dataclass
class RunOptions:
    content_dir: Path | None = None
    db_path: Path | None = None
    webhook_url: str | None = None  # Telegram webhook mode when set
    host: str = "0.0.0.0"
    port: int = 8080


@dataclass
class _Running:
    runtime: Runtime
    tasks: list[asyncio.Task] = field(default_factory=list)
    closers: list[Any] = field(default_factory=list)  # async callables, run in reverse


def channels_configured(env: Mapping[str, str]) -> bool:
    return bool(env.get("TELEGRAM_BOT_TOKEN") or env.get("WHATSAPP_ACCESS_TOKEN"))


async def run(config: Config, env: Mapping[str, str], options: RunOptions,
              stop: asyncio.Event | None = None) -> int:
    """Serve until `stop` is set (or a signal arrives); returns the exit code."""
    stop = stop or _stop_on_signals()
    runtime = await build_runtime(config, content_dir=options.content_dir,
                                  db_path=options.db_path)
    running = _Running(runtime)
    try:
        web_parts = await _start_channels(running, env, options)
        _start_background(running, stop)
        if web_parts is not None:
            app = create_web_app(**web_parts)
            log.info("web app (webhooks, /healthz) listening on %s:%d", options.host,
                     options.port)
            await serve(app, options.host, options.port, stop=stop, handle_signals=False)
        else:
            await stop.wait()
        return 0
    finally:
        await _shutdown(running)


async def _start_channels(running: _Running, env: Mapping[str, str],
                          options: RunOptions) -> dict[str, Any] | None:
    """Start Telegram and WhatsApp; returns the web app's parts (None: no channel runs)."""
    runtime = running.runtime
    web: dict[str, Any] = {}
    whatsapp = build_whatsapp(runtime, env)
    if whatsapp is not None:
        await whatsapp.start()
        running.closers.append(whatsapp.aclose)
        web["whatsapp"] = whatsapp.channel
        log.info("WhatsApp channel configured (webhook at /whatsapp/webhook)")
    telegram = await start_telegram(runtime, env, webhook_url=options.webhook_url)
    followups = runtime.escalation.followups.scheduler
    if telegram is not None:
        running.closers.append(telegram.stop)
        if telegram.webhook_route is not None:
            web["telegram_webhook"] = telegram.webhook_route
        log.info("Telegram channel started (%s)", telegram.mode)
    if web or telegram is not None:
        parts = [telegram.health] if telegram is not None else []
        web["health"] = combined_health(*parts, followups.health)
    return web or None  # the web app serves the webhooks and /healthz


def combined_health(*parts: Callable[[], Mapping[str, Any]]) -> Callable[[], dict[str, Any]]:
    """One /healthz callback from several, each adding its own keys ("telegram", …)."""

    def health() -> dict[str, Any]:
        body: dict[str, Any] = {}
        for part in parts:
            body.update(part())
        return body

    return health


def _start_background(running: _Running, stop: asyncio.Event) -> None:
    runtime = running.runtime
    watcher = ContentWatcher(runtime.engine, runtime.content_dir, runtime.database.state_dir)
    clock = runtime.conversations.clock
    running.tasks += [
        asyncio.create_task(runtime.escalation.dispatcher.run_forever(stop), name="dispatcher"),
        asyncio.create_task(runtime.escalation.followups.scheduler.run_forever(
            stop, FOLLOWUP_INTERVAL_S), name="followups"),
        asyncio.create_task(run_retention_schedule(runtime.store, runtime.config, clock,
                                                   RETENTION_INTERVAL_S), name="retention"),
        asyncio.create_task(watcher.run(CONTENT_CHECK_INTERVAL_S), name="content-watcher"),
    ]


async def _shutdown(running: _Running) -> None:
    for close in reversed(running.closers):
        try:
            await close()
        except Exception:
            log.exception("error while stopping a channel")
    for task in running.tasks:
        task.cancel()
    for task in running.tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    await running.runtime.close()
    log.info("stopped")


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop
