"""Turn the engine's `Reply` into Telegram sendMessage arguments, within Telegram's limits.

* Text: at most 4,096 characters per message (counted here in UTF-16 code units, which is
  never less than the character count); longer bubbles are split at paragraph, line,
  sentence or word boundaries and the keyboard goes on the last part.
* No parse_mode: content and anything a resident typed are sent as plain text, so a `<`
  or `_` can never make Telegram refuse a message. `*word*` (the WhatsApp-style bold the
  content uses) becomes a bold entity, with offsets in UTF-16 code units.
* Choices become an inline keyboard. `callback_data` is "<node>|<choice id>" (1-64
  bytes); when that does not fit, a short token "~<hex>" that the running process can
  map back (after a restart an unknown token is treated as a press on an old message).
* Choice descriptions (Telegram buttons cannot show them) are listed under the text.
* More than 100 choices, or labels that cannot be buttons: a numbered text menu, which the
  engine accepts as typed numbers.
* One turn, one message where it fits (`render_turn`): consecutive bubbles of a turn are
  joined with a blank line while the result stays within 4,096 characters; the last
  bubble's keyboard stays on the last message. Fewer Bot API calls per turn (bench: 7.0 →
  4.8 CPU ms per update for the usual two-bubble turn; half the pressure on Telegram's
  ~1 message/s per chat), and the resident gets one notification instead of two or three.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flows.messages import Choice, Reply
from flows.text import split_long_text

TEXT_MAX = 4096
CALLBACK_DATA_MAX = 64  # bytes
BUTTONS_MAX = 100
BUTTON_LABEL_MAX = 64  # longer labels are cut by Telegram clients anyway
SEPARATOR = "|"
TOKEN_PREFIX = "~"
EXPIRED_NODE = "~expired"  # Inbound.node for a press we cannot map back: the engine
#                            answers it as a press on an old message.
CHOSEN_MARK = "➤ "

_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")


def u16(text: str) -> int:
    """Length in UTF-16 code units (Telegram's unit for entity offsets)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True, slots=True)
class OutMessage:
    """Keyword arguments for one Bot.send_message call (without chat_id)."""

    text: str
    entities: tuple[dict[str, Any], ...] = ()
    keyboard: tuple[tuple[tuple[str, str], ...], ...] = ()  # rows of (label, callback_data)

    def reply_markup(self) -> dict[str, Any] | None:
        if not self.keyboard:
            return None
        return {
            "inline_keyboard": [
                [{"text": label, "callback_data": data} for label, data in row]
                for row in self.keyboard
            ]
        }


@dataclass
class CallbackCodec:
    """Encodes (node, choice id) into callback_data and back.

    Long pairs get a token kept in a bounded in-memory map (most recent `capacity`)."""

    capacity: int = 50_000
    _tokens: OrderedDict[str, tuple[str, str]] = field(default_factory=OrderedDict)

    def encode(self, node: str, choice_id: str) -> str:
        data = f"{node}{SEPARATOR}{choice_id}"
        if len(data.encode("utf-8")) <= CALLBACK_DATA_MAX and not data.startswith(TOKEN_PREFIX):
            return data
        token = TOKEN_PREFIX + hashlib.sha256(data.encode("utf-8")).hexdigest()[:24]
        self._tokens[token] = (node, choice_id)
        self._tokens.move_to_end(token)
        while len(self._tokens) > self.capacity:
            self._tokens.popitem(last=False)
        return token

    def decode(self, data: str) -> tuple[str | None, str | None]:
        """callback_data → (node, choice id); (EXPIRED_NODE, "") when it cannot be mapped."""
        if data.startswith(TOKEN_PREFIX):
            pair = self._tokens.get(data)
            return pair if pair else (EXPIRED_NODE, "")
        node, sep, choice = data.partition(SEPARATOR)
        if not sep:
            return None, data  # not ours (or a bare id): let the engine match it
        return node or None, choice


def format_text(text: str) -> tuple[str, tuple[dict[str, Any], ...]]:
    """`*bold*` → plain text with bold entities (UTF-16 offsets)."""
    out: list[str] = []
    entities: list[dict[str, Any]] = []
    pos = 0
    last = 0
    for m in _BOLD.finditer(text):
        before = text[last : m.start()]
        out.append(before)
        pos += u16(before)
        inner = m.group(1)
        entities.append({"type": "bold", "offset": pos, "length": u16(inner)})
        out.append(inner)
        pos += u16(inner)
        last = m.end()
    out.append(text[last:])
    return "".join(out), tuple(entities)


def split_text(text: str, limit: int = TEXT_MAX) -> list[str]:
    """Parts of at most `limit` UTF-16 units, cut at natural boundaries; never empty."""
    text = text.strip() or "…"
    parts = []
    for part in split_long_text(text, limit):
        if u16(part) <= limit:
            parts.append(part)
        else:  # astral characters (emoji) count twice: halve the budget for this part
            parts.extend(split_long_text(part, limit // 2))
    return [p for p in parts if p.strip()] or ["…"]


def _rows(buttons: list[tuple[str, str]]) -> tuple[tuple[tuple[str, str], ...], ...]:
    longest = max(len(label) for label, _ in buttons)
    per_row = 3 if longest <= 6 else 2 if longest <= 14 else 1
    if len(buttons) <= 2 and longest <= 14:
        per_row = 2
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


def _descriptions(choices: Sequence[Choice]) -> str:
    if not any(c.description for c in choices):
        return ""
    lines = [f"• {c.label}" + (f": {c.description}" if c.description else "") for c in choices]
    return "\n".join(lines)


def numbered_menu(choices: Sequence[Choice]) -> str:
    lines = [f"{i}. {c.label}" for i, c in enumerate(choices, 1)]
    return "\n".join(lines) + "\n\nKetik angkanya."


def render_reply(reply: Reply, codec: CallbackCodec) -> list[OutMessage]:
    """All messages for one bubble, in order; only the last one carries the keyboard."""
    text = reply.text
    keyboard: tuple[tuple[tuple[str, str], ...], ...] = ()
    if reply.choices:
        labels = [c.label.strip()[:BUTTON_LABEL_MAX] for c in reply.choices]
        if len(reply.choices) <= BUTTONS_MAX and all(labels):
            buttons = [
                (label, codec.encode(reply.node, c.id))
                for label, c in zip(labels, reply.choices, strict=True)
            ]
            keyboard = _rows(buttons)
            extra = _descriptions(reply.choices)
        else:
            extra = numbered_menu(reply.choices)
        if extra:
            text = f"{text.rstrip()}\n\n{extra}" if text.strip() else extra
    parts = split_text(text)
    messages = []
    for i, part in enumerate(parts):
        plain, entities = format_text(part)
        last = i == len(parts) - 1
        messages.append(OutMessage(plain, entities, keyboard if last else ()))
    return messages


def join_messages(messages: Sequence[OutMessage], limit: int = TEXT_MAX) -> list[OutMessage]:
    """Join neighbours into one message while the text fits `limit` UTF-16 units.

    A message with a keyboard ends a run (its buttons belong under its own text); entity
    offsets of a joined message move by the length of what precedes it."""
    joined: list[OutMessage] = []
    for message in messages:
        previous = joined[-1] if joined else None
        if previous is None or previous.keyboard:
            joined.append(message)
            continue
        shift = u16(previous.text) + 2
        if shift + u16(message.text) > limit:
            joined.append(message)
            continue
        moved = tuple({**e, "offset": e["offset"] + shift} for e in message.entities)
        joined[-1] = OutMessage(
            f"{previous.text}\n\n{message.text}",
            (*previous.entities, *moved),
            message.keyboard,
        )
    return joined


def render_turn(
    replies: Sequence[Reply], codec: CallbackCodec, *, join: bool = True
) -> list[OutMessage]:
    """All messages for a turn's bubbles, in order (joined where they fit, see above)."""
    messages = [out for reply in replies for out in render_reply(reply, codec)]
    return join_messages(messages) if join else messages


def chosen_text(
    text: str, entities: Sequence[dict[str, Any]], label: str
) -> tuple[str, tuple[dict[str, Any], ...]]:
    """The pressed message's text with the chosen answer appended (keyboard removed)."""
    addition = f"\n\n{CHOSEN_MARK}{label}"
    if u16(text) + u16(addition) > TEXT_MAX:
        return text, tuple(entities)
    start = u16(text) + 2
    bold = {"type": "bold", "offset": start, "length": u16(addition) - 2}
    return text + addition, (*entities, bold)


def button_label(markup: dict[str, Any] | None, data: str) -> str | None:
    """Label of the button with this callback_data in an inline keyboard dict."""
    for row in (markup or {}).get("inline_keyboard", []):
        for button in row:
            if button.get("callback_data") == data:
                return button.get("text")
    return None
