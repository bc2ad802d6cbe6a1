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
import html
import inspect
import itertools
import json
import re
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DEFAULT_TOKEN = "123456789:AAFakeTokenForTemanJiwaTests_0123456"

# Fields that are human text or opaque strings: never JSON-decode them from a form body
# (a resident may well type "123" or "true").
_RAW_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "data",
        "query",
        "title",
        "description",
        "short_description",
        "name",
        "first_name",
        "last_name",
        "phone_number",
        "address",
        "question",
        "explanation",
        "emoji",
        "custom_title",
        "callback_query_id",
        "inline_message_id",
        "url",
        "secret_token",
        "parse_mode",
        "action",
        "language_code",
        "vcard",
        "file_id",
        "next_offset",
        "business_connection_id",
        "message_effect_id",
    }
)

# Methods whose `chat_id` names the chat the call acts on (for block_chat and chat checks).
_NO_CHAT_METHODS = frozenset({"getUpdates", "getMe", "answerCallbackQuery", "getFile"})

_KNOWN_METHODS = (
    "getMe",
    "logOut",
    "close",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "editMessageCaption",
    "deleteMessage",
    "deleteMessages",
    "answerCallbackQuery",
    "sendChatAction",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "getChat",
    "getFile",
    "sendPhoto",
    "sendDocument",
    "sendSticker",
    "sendVoice",
    "sendLocation",
    "sendContact",
)
_CANONICAL = {m.lower(): m for m in _KNOWN_METHODS}

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_TAG_RE = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)"
    r"((?:\s+[a-zA-Z_:-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)\s*>"
)
_HREF_RE = re.compile(r"""href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_HTML_ENTITY_RE = re.compile(r"&(lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);")

_BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: injected failure",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
    504: "Gateway Timeout",
}


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets and lengths."""
    return len(text.encode("utf-16-le")) // 2


class ApiError(Exception):
    """Raised inside a method handler to answer with a Bot API error."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


class WaitTimeout(AssertionError):
    """`wait_for` / `wait_until` gave up: the bot did not do what the test waited for."""


@dataclass
class Call:
    """One Bot API request as the fake server saw it."""

    seq: int
    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() when the request arrived
    status: int | None = None  # HTTP status answered; None while still in flight
    result: Any = None  # `result` of an ok answer
    description: str | None = None  # description of an error answer
    injected: bool = False  # the answer came from an injected failure

    @property
    def done(self) -> bool:
        return self.status is not None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def chat_id(self) -> int | str | None:
        return _norm_chat_id(self.params.get("chat_id"))

    @property
    def text(self) -> str | None:
        value = self.params.get("text")
        return value if isinstance(value, str) else None

    def short(self) -> str:
        bits = [f"#{self.seq} {self.method}"]
        if self.chat_id is not None:
            bits.append(f"chat={self.chat_id}")
        if self.text is not None:
            bits.append(repr(self.text[:60]))
        bits.append(f"-> {self.status if self.done else 'pending'}")
        if self.description:
            bits.append(f"({self.description})")
        return " ".join(bits)


@dataclass
class _Fault:
    method: str | None
    chat_id: int | str | None
    remaining: int | None  # None: until cleared
    status: int = 500
    description: str | None = None
    parameters: dict[str, Any] | None = None
    hang: bool = False
    hang_seconds: float | None = None
    apply_after_hang: bool = False

    def matches(self, method: str, chat_id: int | str | None) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.chat_id is None or self.chat_id == chat_id


@dataclass
class _CallbackQuery:
    id: str
    chat_id: int
    message_id: int | None
    data: str
    answered: bool = False
    answer: dict[str, Any] = field(default_factory=dict)


def _norm_chat_id(value: Any) -> int | str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        stripped = value.lstrip("-")
        if stripped.isdigit():
            return int(value)
        return value
    return None


def _decode_form_value(key: str, value: str) -> Any:
    if key in _RAW_STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    params: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename is not None:
            params[name] = {
                "filename": filename,
                "content_type": part.get_content_type(),
                "size": len(payload),
            }
        else:
            params[name] = _decode_form_value(name, payload.decode("utf-8", "replace"))
    return params


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram-style HTML → (plain text, entities); raises ApiError(400) like Telegram."""

    def fail(reason: str, index: int) -> ApiError:
        offset = len(source[:index].encode("utf-8"))
        return ApiError(400, f"Bad Request: can't parse entities: {reason} at byte offset {offset}")

    out: list[str] = []
    stack: list[tuple[str, int, str, int]] = []  # tag, utf16 start, attrs, source index
    entities: list[dict[str, Any]] = []
    pos16 = 0
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "<":
            m = _TAG_RE.match(source, i)
            if not m:
                raise fail(f'Unsupported start tag "{source[i + 1 : i + 11]}"', i)
            closing, name, attrs = m.group(1), m.group(2).lower(), m.group(3) or ""
            if name not in _HTML_TAGS:
                raise fail(f'Unsupported start tag "{name}"', i)
            if closing:
                if not stack or stack[-1][0] != name:
                    expected = f'"</{stack[-1][0]}>"' if stack else "no end tag"
                    raise fail(f'Unmatched end tag, expected {expected}, found "</{name}>"', i)
                tag, start16, open_attrs, _ = stack.pop()
                if pos16 > start16:
                    entity: dict[str, Any] = {
                        "type": _HTML_TAGS[tag],
                        "offset": start16,
                        "length": pos16 - start16,
                    }
                    if tag == "a":
                        href = _HREF_RE.search(open_attrs)
                        url = next((g for g in href.groups() if g is not None), "") if href else ""
                        entity["url"] = html.unescape(url)
                    entities.append(entity)
            else:
                stack.append((name, pos16, attrs, i))
            i = m.end()
            continue
        if ch == "&":
            m = _HTML_ENTITY_RE.match(source, i)
            piece = html.unescape(m.group(0)) if m else "&"
            i = m.end() if m else i + 1
        else:
            piece = ch
            i += 1
        out.append(piece)
        pos16 += utf16_len(piece)
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"', stack[-1][3])
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _check_reply_markup(markup: Any) -> Any:
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return markup
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise ApiError(400, 'Bad Request: field "inline_keyboard" must be an Array of Arrays')
    total = 0
    for row in rows:
        for button in row:
            total += 1
            if not isinstance(button, dict) or not button.get("text"):
                raise ApiError(400, "Bad Request: can't parse inline keyboard button: text empty")
            actions = set(button) - {"text", "style", "icon_custom_emoji_id"}
            if not actions:
                raise ApiError(
                    400, "Bad Request: text buttons are unallowed in the inline keyboard"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    if total > 100:
        raise ApiError(400, "Bad Request: reply markup is too long (fake server: > 100 buttons)")
    return markup


class _QuietServer(uvicorn.Server):
    """uvicorn without signal capture: the test runner owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        yield


class FakeTelegram:
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

    # ------------------------------------------------------------------ failure injection

    def fail_next(
        self,
        method: str | None,
        *,
        status: int = 500,
        times: int | None = 1,
        description: str | None = None,
        retry_after: int | None = None,
        chat_id: int | str | None = None,
    ) -> None:
        """The next `times` calls to `method` (None: any method) get an error answer.

        `times=None` keeps failing until `clear_faults()`. `chat_id` restricts the fault to
        calls about that chat.
        """
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        if description is None:
            description = _DEFAULT_DESCRIPTIONS.get(status, f"Error {status}").format(
                retry_after=retry_after
            )
        self._faults.append(
            _Fault(
                method=self._canonical(method) if method else None,
                chat_id=_norm_chat_id(chat_id),
                remaining=times,
                status=status,
                description=description,
                parameters=parameters,
            )
        )

    def rate_limit_next(
        self,
        method: str | None,
        retry_after: int = 1,
        *,
        times: int | None = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """429 Too Many Requests with `parameters.retry_after` (PTB raises RetryAfter)."""
        self.fail_next(method, status=429, times=times, retry_after=retry_after, chat_id=chat_id)

    def hang_next(
        self,
        method: str | None,
        *,
        times: int | None = 1,
        seconds: float | None = None,
        apply: bool = False,
    ) -> None:
        """The next `times` calls hang (for `seconds`, or until `release_hung()`/stop).

        Make the client's read timeout shorter than the hang to get `telegram.error.TimedOut`.
        With `apply=True` the call takes effect once released (Telegram did send the message
        although the client gave up: the classic source of duplicates).
        """
        self._faults.append(
            _Fault(
                method=self._canonical(method) if method else None,
                chat_id=None,
                remaining=times,
                status=504,
                description=_DEFAULT_DESCRIPTIONS[504],
                hang=True,
                hang_seconds=seconds,
                apply_after_hang=apply,
            )
        )

    def release_hung(self) -> None:
        if self._hang_release is not None:
            self._hang_release.set()
            self._hang_release = asyncio.Event()

    def block_chat(self, chat_id: int | str) -> None:
        """Every call about this chat answers 403 (user blocked the bot / bot was kicked)."""
        self.blocked_chats.add(_norm_chat_id(chat_id))  # type: ignore[arg-type]

    def unblock_chat(self, chat_id: int | str) -> None:
        self.blocked_chats.discard(_norm_chat_id(chat_id))  # type: ignore[arg-type]

    def clear_faults(self) -> None:
        self._faults.clear()
        self.blocked_chats.clear()
        self.release_hung()

    # ------------------------------------------------------------------ chats and users

    def add_user(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "id",
    ) -> dict[str, Any]:
        user = self.users.get(user_id)
        if user is None:
            user = {"id": user_id, "is_bot": False, "first_name": first_name or f"Warga{user_id}"}
            if username:
                user["username"] = username
            if language_code:
                user["language_code"] = language_code
            self.users[user_id] = user
        return user

    def add_chat(
        self,
        chat_id: int,
        *,
        chat_type: str | None = None,
        title: str | None = None,
        first_name: str | None = None,
        username: str | None = None,
    ) -> dict[str, Any]:
        chat = self.chats.get(chat_id)
        if chat is None:
            chat_type = chat_type or ("private" if chat_id > 0 else "supergroup")
            chat = {"id": chat_id, "type": chat_type}
            if chat_type == "private":
                chat["first_name"] = first_name or f"Warga{chat_id}"
                if username:
                    chat["username"] = username
            else:
                chat["title"] = title or f"Grup {chat_id}"
            self.chats[chat_id] = chat
        return chat

    def _message_id(self, chat_id: int) -> int:
        n = self._next_message_id.get(chat_id, 0) + 1
        self._next_message_id[chat_id] = n
        return n

    def _user_message(
        self, chat_id: int, user_id: int, *, chat_type: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        user = self.add_user(user_id)
        if chat_id == user_id and chat_type in (None, "private"):
            chat = self.add_chat(chat_id, chat_type="private", first_name=user["first_name"])
        else:
            chat = self.add_chat(chat_id, chat_type=chat_type)
        message = {
            "message_id": self._message_id(chat_id),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            **{k: v for k, v in fields.items() if v is not None},
        }
        self.messages.setdefault(chat_id, {})[message["message_id"]] = message
        return message

    # ------------------------------------------------------------------ pushing updates

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (update_id assigned when missing); returns it."""
        update = dict(update)
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, update["update_id"] + 1)
        self._push_marks[update["update_id"]] = len(self.calls)
        self.pushed_updates.append(update)
        self._pending.append(update)
        self._wake_pollers("update")
        self._notify()
        return update

    def push_message(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        chat_type: str | None = None,
        entities: list[dict[str, Any]] | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """A text message from a user. Text starting with "/" gets a bot_command entity at
        offset 0 (CommandHandler needs it); pass `entities=[]` to send a bare slash."""
        if entities is None:
            entities = []
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0]
                entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command)})
        reply_to = None
        if reply_to_message_id is not None:
            reply_to = self.messages.get(chat_id, {}).get(reply_to_message_id)
        message = self._user_message(
            chat_id,
            user_id,
            chat_type=chat_type,
            text=text,
            entities=entities or None,
            reply_to_message=reply_to,
        )
        return self.push_update({"message": message})

    def push_group_message(
        self, chat_id: int, user_id: int, text: str, *, title: str | None = None, **kw: Any
    ) -> dict[str, Any]:
        """A message in a supergroup (negative chat id), e.g. a cadre group."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative (supergroups: -100...)")
        self.add_chat(chat_id, chat_type="supergroup", title=title)
        return self.push_message(chat_id, user_id, text, chat_type="supergroup", **kw)

    def push_edited_message(
        self, chat_id: int, user_id: int, message_id: int, text: str
    ) -> dict[str, Any]:
        original = self.messages.get(chat_id, {}).get(message_id)
        if original is None:
            original = self._user_message(chat_id, user_id, text=text)
        edited = {**original, "text": text, "edit_date": int(time.time())}
        edited.pop("entities", None)
        self.messages.setdefault(chat_id, {})[edited["message_id"]] = edited
        return self.push_update({"edited_message": edited})

    def _new_file(
        self, kind: str, *, size: int = 1024, content: bytes | None = None, ext: str = "bin"
    ) -> dict[str, Any]:
        n = next(self._ids)
        file_id = f"FAKE{kind.upper()}{n:06d}AgADBAAD"
        content = content if content is not None else bytes(size)
        info = {
            "file_id": file_id,
            "file_unique_id": f"U{kind[:3]}{n}",
            "file_size": len(content),
            "file_path": f"{kind}s/file_{n}.{ext}",
        }
        self.files[file_id] = {**info, "content": content}
        return {k: info[k] for k in ("file_id", "file_unique_id", "file_size")}

    def push_sticker(
        self, chat_id: int, user_id: int, *, emoji: str = "🙂", **kw: Any
    ) -> dict[str, Any]:
        sticker = {
            **self._new_file("sticker", ext="webp"),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self.push_update({"message": self._user_message(chat_id, user_id, sticker=sticker)})

    def push_photo(
        self, chat_id: int, user_id: int, *, caption: str | None = None
    ) -> dict[str, Any]:
        small = {**self._new_file("photo", size=900, ext="jpg"), "width": 90, "height": 90}
        large = {**self._new_file("photo", size=40_000, ext="jpg"), "width": 800, "height": 800}
        message = self._user_message(chat_id, user_id, photo=[small, large], caption=caption)
        return self.push_update({"message": message})

    def push_voice(self, chat_id: int, user_id: int, *, duration: int = 3) -> dict[str, Any]:
        voice = {**self._new_file("voice", size=6000, ext="oga"), "duration": duration}
        voice["mime_type"] = "audio/ogg"
        return self.push_update({"message": self._user_message(chat_id, user_id, voice=voice)})

    def push_document(
        self,
        chat_id: int,
        user_id: int,
        *,
        file_name: str = "catatan.pdf",
        mime_type: str = "application/pdf",
        content: bytes = b"%PDF-1.4 fake",
        caption: str | None = None,
    ) -> dict[str, Any]:
        document = {
            **self._new_file("document", content=content, ext=file_name.rsplit(".", 1)[-1]),
            "file_name": file_name,
            "mime_type": mime_type,
        }
        message = self._user_message(chat_id, user_id, document=document, caption=caption)
        return self.push_update({"message": message})

    def push_location(
        self, chat_id: int, user_id: int, *, latitude: float = -6.2, longitude: float = 106.8
    ) -> dict[str, Any]:
        location = {"latitude": latitude, "longitude": longitude}
        message = self._user_message(chat_id, user_id, location=location)
        return self.push_update({"message": message})

    def push_contact(
        self,
        chat_id: int,
        user_id: int,
        *,
        phone_number: str = "+6281234567890",
        first_name: str = "Ibu",
        contact_user_id: int | None = None,
    ) -> dict[str, Any]:
        contact: dict[str, Any] = {"phone_number": phone_number, "first_name": first_name}
        if contact_user_id is not None:
            contact["user_id"] = contact_user_id
        return self.push_update({"message": self._user_message(chat_id, user_id, contact=contact)})

    def push_callback(
        self, chat_id: int, user_id: int, data: str, message_id: int | None = None
    ) -> dict[str, Any]:
        """A press on an inline button. Without `message_id`: the latest bot message in the
        chat that has an inline keyboard."""
        if message_id is None:
            message = self.last_bot_message(chat_id, with_keyboard=True)
            if message is None:
                raise LookupError(f"no bot message with an inline keyboard in chat {chat_id}")
        else:
            message = self.messages.get(chat_id, {}).get(message_id)
            if message is None:  # a message Telegram no longer has: an inaccessible one
                message = {"message_id": message_id, "date": 0, "chat": self.add_chat(chat_id)}
        user = self.add_user(user_id)
        query_id = str(4_000_000_000_000 + next(self._ids))
        self.callback_queries[query_id] = _CallbackQuery(
            id=query_id, chat_id=chat_id, message_id=message["message_id"], data=data
        )
        query = {
            "id": query_id,
            "from": user,
            "message": message,
            "chat_instance": str(-(10**18) - chat_id),
            "data": data,
        }
        return self.push_update({"callback_query": query})

    def press(
        self, chat_id: int, user_id: int, label: str, *, message_id: int | None = None
    ) -> dict[str, Any]:
        """Press the inline button whose text is `label` (latest keyboard by default)."""
        if message_id is None:
            message = self.last_bot_message(chat_id, with_keyboard=True)
        else:
            message = self.messages.get(chat_id, {}).get(message_id)
        if message is None:
            raise LookupError(f"no bot message with an inline keyboard in chat {chat_id}")
        for row in self.buttons(message):
            for text, data in row:
                if text == label and data is not None:
                    return self.push_callback(chat_id, user_id, data, message["message_id"])
        raise LookupError(f"no button {label!r}; buttons are {self.buttons(message)}")

    def push_my_chat_member(
        self, chat_id: int, user_id: int, *, new_status: str = "kicked", old_status: str = "member"
    ) -> dict[str, Any]:
        """The bot's membership changed (status "kicked" in a private chat: user blocked it)."""
        user = self.add_user(user_id)
        chat = self.add_chat(chat_id)
        member = {"user": self.bot_user}
        update = {
            "my_chat_member": {
                "chat": chat,
                "from": user,
                "date": int(time.time()),
                "old_chat_member": {**member, "status": old_status}
                | ({"until_date": 0} if old_status == "kicked" else {}),
                "new_chat_member": {**member, "status": new_status}
                | ({"until_date": 0} if new_status == "kicked" else {}),
            }
        }
        return self.push_update(update)

    def push_blocked_by_user(self, chat_id: int, user_id: int) -> dict[str, Any]:
        """The user blocks the bot: later sends fail with 403 and the bot gets an update."""
        self.block_chat(chat_id)
        return self.push_my_chat_member(chat_id, user_id, new_status="kicked")

    # ------------------------------------------------------------------ inspecting

    def mark(self) -> int:
        """Position in the call log; pass as `since=` to only look at later calls."""
        return len(self.calls)

    def calls_to(self, method: str, **params: Any) -> list[Call]:
        method = self._canonical(method)
        return [
            c
            for c in self.calls
            if c.method == method and all(_param_eq(c, k, v) for k, v in params.items())
        ]

    def sent_texts(self, chat_id: int) -> list[str]:
        """Texts of successful sendMessage calls to the chat, in order."""
        return [
            c.result.get("text", "")
            for c in self.calls
            if c.method == "sendMessage" and c.ok and c.chat_id == chat_id
        ]

    def bot_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages as they are now (after edits, without deleted ones)."""
        bot_id = self.bot_user["id"]
        return [
            m
            for m in self.messages.get(chat_id, {}).values()
            if m.get("from", {}).get("id") == bot_id
        ]

    def last_bot_message(self, chat_id: int, *, with_keyboard: bool = False) -> dict | None:
        for message in reversed(self.bot_messages(chat_id)):
            if not with_keyboard or (message.get("reply_markup") or {}).get("inline_keyboard"):
                return message
        return None

    @staticmethod
    def buttons(message: dict[str, Any]) -> list[list[tuple[str, str | None]]]:
        """Inline keyboard of a message as rows of (text, callback_data)."""
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        return [[(b.get("text", ""), b.get("callback_data")) for b in row] for row in rows]

    def transcript(self, chat_id: int) -> list[str]:
        """The chat as lines "user: ..." / "bot: ... [buttons]" (for failure messages)."""
        bot_id = self.bot_user["id"]
        lines = []
        for message in self.messages.get(chat_id, {}).values():
            who = "bot" if message.get("from", {}).get("id") == bot_id else "user"
            body = message.get("text") or message.get("caption") or ""
            if not body:
                kinds = ("sticker", "photo", "voice", "document", "location", "contact")
                body = "<" + next((k for k in kinds if k in message), "other") + ">"
            buttons = [t for row in self.buttons(message) for t, _ in row]
            lines.append(f"{who}: {body}" + (f" {buttons}" if buttons else ""))
        return lines

    def unanswered_callbacks(self) -> list[str]:
        return [q.id for q in self.callback_queries.values() if not q.answered]

    def duplicate_deliveries(self) -> dict[int, int]:
        """update_id -> times delivered, for updates getUpdates returned more than once."""
        return {uid: n for uid, n in self.delivered.items() if n > 1}

    # ------------------------------------------------------------------ waiting

    async def wait_until(
        self, condition: Callable[[], Any], timeout: float = 5.0, *, what: str = ""
    ) -> Any:
        """Await until `condition()` is truthy (re-checked after every call/push/state
        change); returns its value. `timeout` is only a failure guard."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = condition()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = "\n  ".join(c.short() for c in self.calls[-15:]) or "(none)"
                raise WaitTimeout(
                    f"gave up after {timeout}s waiting for {what or condition!r}; "
                    f"last calls:\n  {recent}"
                )
            waiter: asyncio.Future[None] = loop.create_future()
            self._change_waiters.add(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                pass
            finally:
                self._change_waiters.discard(waiter)

    async def wait_for(
        self,
        what: str | Callable[[Call], bool],
        *,
        timeout: float = 5.0,
        count: int = 1,
        since: int | dict[str, Any] | None = None,
        pending: bool = False,
        **params: Any,
    ) -> Call:
        """Await the `count`-th call matching `what` (a method name or a predicate on
        `Call`) and `params` (compared with the decoded request parameters).

        `since`: a `mark()` or a pushed update (only calls after that push count).
        Only answered calls count unless `pending=True`.
        """
        if isinstance(since, dict):
            start = self._push_marks.get(since.get("update_id", -1), 0)
        else:
            start = since or 0
        method = self._canonical(what) if isinstance(what, str) else None

        def match(call: Call) -> bool:
            if not (pending or call.done):
                return False
            if method is not None and call.method != method:
                return False
            if method is None and not what(call):  # type: ignore[operator]
                return False
            return all(_param_eq(call, k, v) for k, v in params.items())

        def found() -> Call | None:
            hits = 0
            for call in itertools.islice(self.calls, start, None):
                if match(call):
                    hits += 1
                    if hits == count:
                        return call
            return None

        label = f"{what if isinstance(what, str) else 'predicate'} {params or ''} x{count}"
        return await self.wait_until(found, timeout, what=label)

    async def wait_acked(self, update_id: int | None = None, timeout: float = 5.0) -> None:
        """Await until the bot confirmed `update_id` (default: the last pushed update) by
        asking getUpdates for a later offset."""
        if update_id is None:
            update_id = self._next_update_id - 1
        await self.wait_until(
            lambda: self.acked_offset > update_id, timeout, what=f"ack of update {update_id}"
        )

    def _notify(self) -> None:
        for waiter in self._change_waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _wake_pollers(self, reason: str) -> None:
        for poller in self._pollers:
            if not poller.done():
                poller.set_result(reason)

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

    # ------------------------------------------------------------------ method handlers

    def _chat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _norm_chat_id(params.get("chat_id"))
        if chat_id is None:
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            if self.strict_chats or not isinstance(chat_id, int):
                raise ApiError(400, "Bad Request: chat not found")
            chat = self.add_chat(chat_id)
        return chat

    def _find_message(self, params: dict[str, Any], verb: str) -> dict[str, Any]:
        chat = self._chat(params)
        message_id = params.get("message_id")
        message = self.messages.get(chat["id"], {}).get(message_id)  # type: ignore[arg-type]
        if message is None:
            raise ApiError(400, f"Bad Request: message to {verb} not found")
        return message

    @staticmethod
    def _formatted(params: dict[str, Any], key: str = "text") -> tuple[str, list | None]:
        text = params.get(key)
        if text is None:
            return "", None
        text = str(text)
        if str(params.get("parse_mode") or "").lower() == "html":
            text, entities = parse_html(text)
            return text, entities or None
        return text, params.get("entities" if key == "text" else "caption_entities") or None

    def _bot_message(self, chat: dict[str, Any], **fields: Any) -> dict[str, Any]:
        message = {
            "message_id": self._message_id(chat["id"]),
            "date": int(time.time()),
            "chat": chat,
            "from": self.bot_user,
            **{k: v for k, v in fields.items() if v is not None},
        }
        self.messages.setdefault(chat["id"], {})[message["message_id"]] = message
        return message

    @staticmethod
    def _inline_only(markup: Any) -> Any:
        # Only inline keyboards are echoed back in Message.reply_markup.
        return markup if isinstance(markup, dict) and "inline_keyboard" in markup else None

    def _m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.bot_user

    def _m_logOut(self, params: dict[str, Any]) -> bool:
        return True

    def _m_close(self, params: dict[str, Any]) -> bool:
        return True

    def _m_setWebhook(self, params: dict[str, Any]) -> bool:
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.match(str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._drop_pending()
        self.webhook = {k: v for k, v in params.items() if k != "certificate"}
        return True

    def _m_deleteWebhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates"):
            self._drop_pending()
        self.webhook = {}
        return True

    def _drop_pending(self) -> None:
        if self._pending:
            self.acked_offset = max(self.acked_offset, self._pending[-1]["update_id"] + 1)
        self._pending.clear()

    def _m_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    async def _m_getUpdates(
        self, params: dict[str, Any], request: Request | None = None
    ) -> list[dict[str, Any]]:
        if self.webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.get("offset")
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0.0, float(params.get("timeout") or 0))
        if "allowed_updates" in params:
            self.allowed_updates = list(params["allowed_updates"] or []) or None
        if offset is not None:
            offset = int(offset)
            if offset < 0:
                self._pending = self._pending[offset:]
            else:
                self._pending = [u for u in self._pending if u["update_id"] >= offset]
                if offset > self.acked_offset:
                    self.acked_offset = offset
                    self._notify()
        # A newer getUpdates terminates an older long poll, as Telegram does.
        self._wake_pollers("conflict")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.allowed_updates:
                allowed = set(self.allowed_updates)
                self._pending = [u for u in self._pending if allowed & set(u)]
            batch = self._pending[:limit]
            remaining = deadline - loop.time()
            if batch or remaining <= 0:
                break
            poller: asyncio.Future[str] = loop.create_future()
            self._pollers.add(poller)
            try:
                reason = await asyncio.wait_for(poller, remaining)
            except TimeoutError:
                break
            finally:
                self._pollers.discard(poller)
            if reason == "conflict":
                if request is not None and await request.is_disconnected():
                    # The client gave up on this poll (e.g. the updater stopped): not a
                    # second bot instance, so no 409 in the log.
                    raise ApiError(499, "Client Closed Request: long poll abandoned")
                raise ApiError(409, _DEFAULT_DESCRIPTIONS[409])
            if reason == "down":
                raise ApiError(502, "Bad Gateway")
            if reason == "closing":
                return []
        for update in batch:
            self.delivered[update["update_id"]] += 1
        return batch

    def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        text, entities = self._formatted(params)
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        markup = _check_reply_markup(params.get("reply_markup"))
        reply_to = None
        reply_parameters = params.get("reply_parameters") or {}
        reply_id = reply_parameters.get("message_id") or params.get("reply_to_message_id")
        if reply_id is not None:
            reply_to = self.messages.get(chat["id"], {}).get(reply_id)
        return self._bot_message(
            chat,
            text=text,
            entities=entities,
            reply_markup=self._inline_only(markup),
            reply_to_message=reply_to,
        )

    def _m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        if params.get("inline_message_id"):
            return True
        message = self._find_message(params, "edit")
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities = self._formatted(params)
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        markup = self._inline_only(_check_reply_markup(params.get("reply_markup")))
        same = (
            text == message.get("text")
            and entities == message.get("entities")
            and markup == message.get("reply_markup")
        )
        if same:
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        # Like Telegram: an edit without reply_markup removes the inline keyboard.
        edited = {**message, "text": text, "edit_date": int(time.time())}
        for key, value in (("entities", entities), ("reply_markup", markup)):
            if value is None:
                edited.pop(key, None)
            else:
                edited[key] = value
        self.messages[message["chat"]["id"]][message["message_id"]] = edited
        return edited

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        if params.get("inline_message_id"):
            return True
        message = self._find_message(params, "edit")
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        markup = self._inline_only(_check_reply_markup(params.get("reply_markup")))
        if markup == message.get("reply_markup"):
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        edited = {**message, "edit_date": int(time.time())}
        if markup is None:
            edited.pop("reply_markup", None)
        else:
            edited["reply_markup"] = markup
        self.messages[message["chat"]["id"]][message["message_id"]] = edited
        return edited

    def _m_editMessageCaption(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        if params.get("inline_message_id"):
            return True
        message = self._find_message(params, "edit")
        caption, entities = self._formatted(params, "caption")
        edited = {**message, "caption": caption, "edit_date": int(time.time())}
        if entities:
            edited["caption_entities"] = entities
        markup = self._inline_only(_check_reply_markup(params.get("reply_markup")))
        if markup is None:
            edited.pop("reply_markup", None)
        else:
            edited["reply_markup"] = markup
        self.messages[message["chat"]["id"]][message["message_id"]] = edited
        return edited

    def _m_deleteMessage(self, params: dict[str, Any]) -> bool:
        message = self._find_message(params, "delete")
        del self.messages[message["chat"]["id"]][message["message_id"]]
        return True

    def _m_deleteMessages(self, params: dict[str, Any]) -> bool:
        chat = self._chat(params)
        for message_id in params.get("message_ids") or []:
            self.messages.get(chat["id"], {}).pop(message_id, None)
        return True

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        query = self.callback_queries.get(str(params.get("callback_query_id")))
        if query is None or query.answered:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        if len(str(params.get("text") or "")) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query.answered = True
        query.answer = dict(params)
        return True

    def _m_sendChatAction(self, params: dict[str, Any]) -> bool:
        self._chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _m_setMyCommands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be an array of at most 100 items")
        for command in commands:
            name = str(command.get("command", "")) if isinstance(command, dict) else ""
            description = str(command.get("description", "")) if isinstance(command, dict) else ""
            if not _COMMAND_RE.match(name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = [dict(c) for c in commands]
        return True

    def _m_getMyCommands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.commands.get(self._commands_key(params), [])

    def _m_deleteMyCommands(self, params: dict[str, Any]) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _m_getChat(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**self._chat(params), "accent_color_id": 0, "max_reaction_count": 11}

    def _m_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        info = self.files.get(str(params.get("file_id")))
        if info is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {k: v for k, v in info.items() if k != "content"}

    def _sent_media(self, params: dict[str, Any], **fields: Any) -> dict[str, Any]:
        chat = self._chat(params)
        caption, entities = self._formatted(params, "caption")
        markup = self._inline_only(_check_reply_markup(params.get("reply_markup")))
        return self._bot_message(
            chat,
            caption=caption or None,
            caption_entities=entities,
            reply_markup=markup,
            **fields,
        )

    def _m_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        photo = {**self._new_file("photo", ext="jpg"), "width": 800, "height": 800}
        return self._sent_media(params, photo=[photo])

    def _m_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._sent_media(params, document=self._new_file("document"))

    def _m_sendSticker(self, params: dict[str, Any]) -> dict[str, Any]:
        sticker = {
            **self._new_file("sticker", ext="webp"),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return self._sent_media(params, sticker=sticker)

    def _m_sendVoice(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._sent_media(params, voice={**self._new_file("voice"), "duration": 1})

    def _m_sendLocation(self, params: dict[str, Any]) -> dict[str, Any]:
        location = {"latitude": params.get("latitude"), "longitude": params.get("longitude")}
        return self._sent_media(params, location=location)

    def _m_sendContact(self, params: dict[str, Any]) -> dict[str, Any]:
        contact = {k: params.get(k) for k in ("phone_number", "first_name")}
        return self._sent_media(params, contact=contact)

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

    async def _ctl_reset_calls(self, request: Request) -> Response:
        self.calls.clear()
        self.method_counts.clear()
        self._push_marks.clear()
        return JSONResponse({"ok": True})


def _param_eq(call: Call, key: str, expected: Any) -> bool:
    if key == "chat_id":
        return call.chat_id == _norm_chat_id(expected)
    return call.params.get(key) == expected


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
