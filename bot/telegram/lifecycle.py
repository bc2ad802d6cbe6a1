"""Telegram inside `temanjiwa run`: long polling by default, or a webhook on the shared web app.

bot/app.py builds and starts it (`start_telegram`) with the runtime's conversations, cadre
desk and outbound router, then attaches `handle.alert_sender` to the runtime's alert router
and `handle.deliver_outbound` to its outbound router; bot/serve.py mounts
`handle.webhook_route` (None in polling mode) and `handle.health` on the web app and calls
`handle.stop()` after the web server stopped (updates received are finished first).

Environment (secrets only here): `TELEGRAM_BOT_TOKEN` (required: without it
`prepare_telegram` returns None), `TELEGRAM_API_BASE_URL` (another Bot API server, e.g. a
local one or the tests' fake; "http://host:port" or ".../bot"), `TELEGRAM_WEBHOOK_URL`,
`TELEGRAM_WEBHOOK_SECRET` (1-256 of A-Z a-z 0-9 _ -; without it a random one is made at
each start and given to setWebhook). Deployment file, section `telegram:` (all optional):
`webhook_url`, `concurrency` (updates handled at once, default 32; one chat is always in
order), `flood_messages`/`flood_seconds` (default 8 in 10), `join_bubbles` (default true).

Webhook mode: the Application is built with `updater(None)`; `webhook_route` is a Starlette
route at the webhook URL's path (default /telegram/webhook) that checks
`X-Telegram-Bot-Api-Secret-Token` with `hmac.compare_digest` (403 otherwise), puts the
update on the Application's queue and answers 200 at once (a body that can never be read,
e.g. nested too deeply or with an impossible date, is answered 200 too, counted as
`webhook_unusable` and logged by type only: a 4xx/5xx would only bring it back);
setWebhook is called with the secret on every start, and the webhook is left in place on
stop (Telegram keeps updates while the bot restarts). Polling mode: deleteWebhook, then getUpdates.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application, ApplicationBuilder

from bot.cases.desk import CadreDesk
from bot.config import ConfigError
from bot.conversations import Conversations, Outbound
from flows.messages import Reply

from .card_sender import TelegramAlertSender
from .channel import FLOOD_LIMIT, FLOOD_WINDOW, Forwarder, TelegramChannel, build_application
from .parse import malformed

log = logging.getLogger(__name__)

ENV_TOKEN = "TELEGRAM_BOT_TOKEN"
ENV_BASE_URL = "TELEGRAM_API_BASE_URL"
ENV_WEBHOOK_URL = "TELEGRAM_WEBHOOK_URL"
ENV_WEBHOOK_SECRET = "TELEGRAM_WEBHOOK_SECRET"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DEFAULT_WEBHOOK_PATH = "/telegram/webhook"
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")
MAX_BODY_BYTES = 1_000_000
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_SECTION_KEYS = {"webhook_url", "concurrency", "flood_messages", "flood_seconds", "join_bubbles"}


@dataclass(frozen=True)
class TelegramSettings:
    token: str = field(repr=False)
    base_url: str | None = None
    base_file_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    concurrency: int = 32
    flood_messages: int = FLOOD_LIMIT
    flood_seconds: float = FLOOD_WINDOW
    join_bubbles: bool = True

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        section: Mapping[str, Any] | None = None,
        webhook_url: str | None = None,
    ) -> TelegramSettings | None:
        """None without TELEGRAM_BOT_TOKEN; ConfigError for a bad value (named)."""
        token = (env.get(ENV_TOKEN) or "").strip()
        if not token:
            return None
        section = dict(section or {})
        unknown = set(section) - _SECTION_KEYS
        if unknown:
            raise ConfigError(
                f"telegram.{sorted(unknown)[0]}: unknown key; known keys: "
                + ", ".join(sorted(_SECTION_KEYS))
            )
        base_url = base_file_url = None
        base = (env.get(ENV_BASE_URL) or "").strip().rstrip("/")
        if base:
            if not base.startswith(("http://", "https://")):
                raise ConfigError(f"{ENV_BASE_URL}: must start with http:// or https://")
            root = base[: -len("/bot")] if base.endswith("/bot") else base
            base_url, base_file_url = f"{root}/bot", f"{root}/file/bot"
        url = webhook_url or env.get(ENV_WEBHOOK_URL) or section.get("webhook_url") or None
        if url and not str(url).startswith("https://") and not _local(str(url)):
            raise ConfigError("telegram webhook_url: Telegram only calls https:// URLs")
        secret = (env.get(ENV_WEBHOOK_SECRET) or "").strip() or None
        if secret is not None and not _SECRET_RE.match(secret):
            raise ConfigError(
                f"{ENV_WEBHOOK_SECRET}: 1-256 characters of A-Z, a-z, 0-9, _ and - only"
            )
        return cls(
            token=token,
            base_url=base_url,
            base_file_url=base_file_url,
            webhook_url=str(url) if url else None,
            webhook_secret=secret,
            concurrency=_number(section, "concurrency", 32, int),
            flood_messages=_number(section, "flood_messages", FLOOD_LIMIT, int),
            flood_seconds=_number(section, "flood_seconds", FLOOD_WINDOW, float),
            join_bubbles=bool(section.get("join_bubbles", True)),
        )

    @property
    def webhook_path(self) -> str:
        path = urlsplit(self.webhook_url or "").path.rstrip("/")
        return path or DEFAULT_WEBHOOK_PATH


def _local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("127.0.0.1", "localhost", "::1")


def _number(section: Mapping[str, Any], key: str, default: Any, kind: type) -> Any:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"telegram.{key}: must be a number above 0, got {value!r}")
    return kind(value)


class DeliveryFailed(Exception):
    """An `Outbound` for Telegram could not be delivered (blocked, or Telegram failed)."""


@dataclass
class TelegramHandle:
    """A running Telegram channel. `webhook_route` is None in polling mode."""

    app: Application
    channel: TelegramChannel
    alert_sender: TelegramAlertSender
    settings: TelegramSettings
    webhook_route: Route | None = None
    poll_timeout: int = 30
    _secret: str | None = field(default=None, repr=False)
    _stopped: bool = False

    @property
    def mode(self) -> str:
        return "webhook" if self.settings.webhook_url else "polling"

    async def start(self) -> None:
        app = self.app
        await app.initialize()  # getMe: a wrong token fails here, loudly
        await self.channel.set_commands(app.bot)
        # Before any update is read: replies a crash left unsent go first (their chats wait).
        await self.channel.resend_undelivered(app.bot)
        if self.settings.webhook_url:
            await app.start()  # first: Telegram may POST as soon as the webhook is set
            await app.bot.set_webhook(
                self.settings.webhook_url,
                secret_token=self._secret,
                allowed_updates=list(ALLOWED_UPDATES),
            )
            log.info("telegram: webhook mode, updates at %s", self.settings.webhook_path)
        else:
            assert app.updater is not None
            await app.updater.start_polling(  # deletes any webhook first
                timeout=self.poll_timeout, allowed_updates=list(ALLOWED_UPDATES)
            )
            await app.start()
            log.info("telegram: polling mode")

    async def stop(self) -> None:
        """Graceful: stop fetching, finish every update already received (their turns and
        sends), confirm the polling offset, then close the Bot API client. In webhook mode
        stop the web server first. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        app = self.app
        await self.channel.wait_resent(timeout=30)
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()

    async def deliver_outbound(self, outbound: Outbound) -> None:
        """For other channels' `forward`: deliver a Telegram `Outbound` or raise."""
        status = await self.channel.deliver(self.app.bot, outbound)
        if status != "sent":
            raise DeliveryFailed(f"telegram message not delivered: {status}")

    async def send_to_chat(self, platform_id: str, replies: Sequence[Reply]) -> str:
        """A message the bot starts itself (a follow-up check-in) to a resident's private
        chat (its id is the resident's user id); the status of `TelegramChannel.send_to_chat`."""
        try:
            chat_id = int(platform_id)
        except ValueError:
            return "failed"
        return await self.channel.send_to_chat(self.app.bot, chat_id, replies)

    def metrics(self) -> dict[str, Any]:
        return {"mode": self.mode, **self.channel.metrics()}

    def health(self) -> dict[str, Any]:
        """For `create_web_app(health=...)`: {"telegram": counters} (numbers only)."""
        return {"telegram": self.metrics()}

    def _make_webhook_route(self) -> Route:
        secret = (self._secret or "").encode()
        app, stats = self.app, self.channel.stats

        async def telegram_webhook(request: Request) -> Response:
            given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
            if not secret or not hmac.compare_digest(given, secret):
                stats["webhook_refused"] += 1
                return PlainTextResponse("forbidden", status_code=403)
            if not app.running:  # starting or stopping: Telegram delivers it again later
                return PlainTextResponse("not ready", status_code=503)
            body = await request.body()
            if len(body) > MAX_BODY_BYTES:
                return PlainTextResponse("payload too large", status_code=413)
            try:
                update = Update.de_json(json.loads(body), app.bot)
            except Exception as exc:  # RecursionError, a date past 9999, wrong shapes...
                # It can never succeed: 200, so Telegram does not send it again for a day.
                stats["webhook_unusable"] += 1
                log.warning("telegram webhook: an update that cannot be read was dropped (%s)",
                            type(exc).__name__)
                return PlainTextResponse("ok")
            try:
                problem = "empty update" if update is None else malformed(update)
            except Exception as exc:
                problem = type(exc).__name__
            if problem is not None:  # would raise in PTB's processing or in a handler
                stats["webhook_unusable"] += 1
                log.warning("telegram webhook: an update was dropped (%s)", problem)
                return PlainTextResponse("ok")
            stats["webhook_updates"] += 1
            await app.update_queue.put(update)  # handled in the background, in order
            return PlainTextResponse("ok")

        return Route(self.settings.webhook_path, telegram_webhook, methods=["POST"])


def prepare_telegram(
    conversations: Conversations,
    env: Mapping[str, str],
    *,
    section: Mapping[str, Any] | None = None,
    desk: CadreDesk | None = None,
    webhook_url: str | None = None,
    forward: Forwarder | None = None,
    rate_limiter: Any = "default",
    poll_timeout: int = 30,
    builder: ApplicationBuilder | None = None,
) -> TelegramHandle | None:
    """Build (no network yet) the Telegram side; None without TELEGRAM_BOT_TOKEN.

    `section` is the deployment file's `telegram:`; `desk` turns on the cadre side (card
    buttons, /daftar, relay); `forward` delivers `Outbound` messages for other channels.
    `builder` replaces the default ApplicationBuilder (tests)."""
    settings = TelegramSettings.from_env(env, section, webhook_url)
    if settings is None:
        return None
    channel = TelegramChannel(
        conversations,
        desk=desk,
        flood_limit=settings.flood_messages,
        flood_window=settings.flood_seconds,
        join_bubbles=settings.join_bubbles,
        forward=forward,
    )
    if builder is None:
        builder = ApplicationBuilder().token(settings.token)
        if settings.base_url:
            builder = builder.base_url(settings.base_url).base_file_url(settings.base_file_url)
        builder = builder.concurrent_updates(
            settings.concurrency if settings.concurrency > 1 else False
        )
    secret = None
    if settings.webhook_url:
        builder = builder.updater(None)
        secret = settings.webhook_secret
        if secret is None:
            secret = secrets.token_urlsafe(32)
            log.info("telegram: %s is not set; using a new random secret", ENV_WEBHOOK_SECRET)
    app = build_application(
        conversations,
        token=settings.token,
        builder=builder,
        rate_limiter=rate_limiter,
        channel=channel,
    )
    handle = TelegramHandle(
        app,
        channel,
        TelegramAlertSender(app.bot),
        settings,
        poll_timeout=poll_timeout,
        _secret=secret,
    )
    if settings.webhook_url:
        handle.webhook_route = handle._make_webhook_route()
    return handle


async def start_telegram(
    conversations: Conversations, env: Mapping[str, str], **kwargs: Any
) -> TelegramHandle | None:
    """Build and start Telegram (keyword arguments as `prepare_telegram`); None without a
    token. A failed start stops what was started and raises."""
    handle = prepare_telegram(conversations, env, **kwargs)
    if handle is None:
        return None
    try:
        await handle.start()
    except BaseException:
        await handle.stop()
        raise
    return handle
