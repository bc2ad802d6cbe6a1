"""The fake Bot API's wire formats and records: form/multipart/JSON parameters, Telegram's
HTML subset, reply markup checks, errors, and the `Call` record of every request."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

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


def _param_eq(call: Call, key: str, expected: Any) -> bool:
    if key == "chat_id":
        return call.chat_id == _norm_chat_id(expected)
    return call.params.get(key) == expected
