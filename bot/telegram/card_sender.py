"""Case cards in Telegram groups: the `AlertSender` (bot/cases/senders.py) for
`route.telegram_chat_id`.

- `send_alert`: the case card (`render_alert`) with the buttons Ambil / Catatan / Selesai /
  Hubungi (see `card_keyboard`), or for `alert.kind == "words"` the resident's words (and
  for "notice" a short line that something new arrived) as a reply to the card, without
  buttons. Returns `external_ref` = "chat_id:message_id".
- `update_alert`: editMessageText of that card in place (text and buttons as the case is
  now). "Message is not modified", a vanished card and a group the bot was removed from are
  not errors (nothing left to edit); anything else raises and the dispatcher retries.
- `alert.idempotency_key`: a retry of a key this process already delivered returns the same
  reference without posting again (in memory). Telegram has no idempotency of its own: if
  a send times out *after* Telegram posted the card, the dispatcher's retry posts it again
  (the read timeout here is long, 15 s, to make that rare). A route without a Telegram group
  raises `NoTelegramGroup`, so the dispatcher retries and the SLA chain moves on.

Callback data on the buttons: "kd:<verb>:<case code>". It only
names the case and the action: who pressed is taken from the update, never from the data
(bot/telegram/cadre_chat.py).
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.error import BadRequest, Forbidden

from bot.cases.cards import Alert, render_alert
from bot.config import Route

from .render import TEXT_MAX

log = logging.getLogger(__name__)

CALLBACK_PREFIX = "kd:"
ALERT_READ_TIMEOUT = 15.0  # below the dispatcher's 20 s send timeout
_GONE = ("message is not modified", "message to edit not found", "message can't be edited")


class NoTelegramGroup(Exception):
    """The route has no `telegram_chat_id`: this sender cannot deliver its alert."""


def callback(verb: str, case: str, extra: str = "") -> str:
    return f"{CALLBACK_PREFIX}{verb}:{case}" + (f":{extra}" if extra else "")


def card_keyboard(alert: Alert) -> InlineKeyboardMarkup | None:
    """Buttons under a case card: what can still be done with the case."""
    if alert.kind != "alert" or alert.status == "closed":
        return None
    first = []
    if alert.status == "open":
        first.append(InlineKeyboardButton("✋ Ambil", callback_data=callback("ambil", alert.case)))
    first.append(InlineKeyboardButton("📝 Catatan", callback_data=callback("catatan", alert.case)))
    second = [InlineKeyboardButton("✅ Selesai", callback_data=callback("selesai", alert.case))]
    if alert.contact_ok and not alert.resident_left:
        second.append(
            InlineKeyboardButton("💬 Hubungi", callback_data=callback("hubungi", alert.case))
        )
    return InlineKeyboardMarkup([first, second])


def parse_ref(ref: str | None) -> tuple[int, int] | None:
    """(chat_id, message_id) from "chat_id:message_id", also as bot/cases/senders.py's
    `RoutingAlertSender` stores it ("telegram|chat_id:message_id") or inside the WhatsApp
    sender's combined reference ({"o": "<this sender's ref>", ...}); None if not ours."""
    if not ref:
        return None
    kind, sep, rest = ref.partition("|")
    if sep and not ref.startswith("{"):
        return parse_ref(rest) if kind == "telegram" else None
    if ref.startswith("{"):
        try:
            data = json.loads(ref)
        except ValueError:
            return None
        inner = data.get("o") if isinstance(data, dict) else None
        return parse_ref(inner) if isinstance(inner, str) else None
    chat, sep, message = ref.rpartition(":")
    try:
        return (int(chat), int(message)) if sep else None
    except ValueError:
        return None


def _card_text(alert: Alert) -> str:
    text = render_alert(alert)
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 1] + "…"


class TelegramAlertSender:
    """`AlertSender` posting case cards to a route's Telegram group (module docstring)."""

    def __init__(self, bot: Any, *, read_timeout: float = ALERT_READ_TIMEOUT) -> None:
        self.bot = bot
        self.read_timeout = read_timeout
        self._done: OrderedDict[str, str] = OrderedDict()
        self.sent = 0
        self.updated = 0

    async def send_alert(self, route: Route, alert: Alert) -> str:
        key = alert.idempotency_key
        if key and key in self._done:
            return self._done[key]
        chat_id = route.telegram_chat_id
        if chat_id is None:
            raise NoTelegramGroup(f"route {route.id or '(none)'} has no telegram_chat_id")
        reply_to = None
        if alert.kind in ("words", "notice"):
            card = parse_ref(alert.reply_to)
            if card is not None and card[0] == chat_id:
                reply_to = ReplyParameters(card[1], allow_sending_without_reply=True)
        message = await self.bot.send_message(
            chat_id,
            _card_text(alert),
            reply_markup=card_keyboard(alert),
            reply_parameters=reply_to,
            read_timeout=self.read_timeout,
        )
        ref = f"{chat_id}:{message.message_id}"
        if key:
            self._done[key] = ref
            while len(self._done) > 2_000:
                self._done.popitem(last=False)
        self.sent += 1
        return ref

    async def update_alert(self, route: Route, external_ref: str, alert: Alert) -> None:
        target = parse_ref(external_ref)
        if target is None:
            return  # a card another sender posted (e.g. only to WhatsApp numbers)
        chat_id, message_id = target
        try:
            await self.bot.edit_message_text(
                _card_text(alert),
                chat_id=chat_id,
                message_id=message_id,
                reply_markup=card_keyboard(alert),
                read_timeout=self.read_timeout,
            )
        except BadRequest as exc:
            if not any(reason in exc.message.lower() for reason in _GONE):
                raise
        except Forbidden:
            log.warning("the bot can no longer write in the cadre group of route %s", route.id)
            return
        self.updated += 1
