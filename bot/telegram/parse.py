"""Turn a Telegram `Message` into the engine's `Inbound` (no platform identity inside)."""

from __future__ import annotations

from datetime import UTC, datetime

from telegram import Message, Update

from flows.messages import Inbound

#: Message attributes checked in order to name what a non-text message is.
MEDIA_KINDS = (
    "sticker",
    "photo",
    "voice",
    "audio",
    "video",
    "video_note",
    "animation",
    "document",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
    "game",
    "story",
    "paid_media",
)


def media_kind(message: Message) -> str:
    for kind in MEDIA_KINDS:
        if getattr(message, kind, None):
            return kind
    return "unsupported"


def inbound_from_message(message: Message) -> Inbound:
    """Text → Inbound(text); anything else → Inbound(media=<kind>).

    A caption is text the resident wrote (it may say they are in danger), so media with a
    caption goes to the engine as text (crisis detection runs on it), naming the media too.
    """
    at = message.date or datetime.now(UTC)
    if message.text is not None:
        return Inbound(text=clean_text(message.text), at=at)
    kind = media_kind(message)
    if message.caption:
        return Inbound(text=clean_text(message.caption), media=kind, at=at)
    return Inbound(media=kind, at=at)


def clean_text(text: str) -> str:
    """The text as valid Unicode: a lone surrogate (JSON allows "\\ud800") would make the
    turn fail where the text is encoded (a crisis case's sealed words), so it becomes
    U+FFFD and the rest of the message is read as usual."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text_or_none(value: object) -> bool:
    return value is None or isinstance(value, str)


def malformed(update: Update) -> str | None:
    """Why an update python-telegram-bot did read cannot be handled, or None.

    PTB does not check types: `"text": 5`, a mapping as `callback_data` or a membership
    change without `new_chat_member` arrive as they are and would raise deep in a handler.
    The reason names the field only, never its value."""
    if not _int(update.update_id):
        return "update_id is not a number"
    chat = update.effective_chat
    if chat is not None and (not _int(chat.id) or not isinstance(chat.type, str)):
        return "chat without a numeric id or a type"
    user = update.effective_user
    if user is not None and not _int(user.id):
        return "sender without a numeric id"
    for message in (update.message, update.edited_message):
        if message is None:
            continue
        if not _text_or_none(message.text) or not _text_or_none(message.caption):
            return "text or caption is not a string"
        if message.date is not None and not isinstance(message.date, datetime):
            return "date is not a time"
    query = update.callback_query
    if query is not None and not _text_or_none(query.data):
        return "callback_data is not a string"
    change = update.my_chat_member
    if change is not None and (
        change.chat is None
        or change.new_chat_member is None
        or not isinstance(getattr(change.new_chat_member, "status", None), str)
    ):
        return "membership change without its chat or new member"
    return None
