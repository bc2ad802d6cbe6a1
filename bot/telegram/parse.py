"""Turn a Telegram `Message` into the engine's `Inbound` (no platform identity inside)."""

from __future__ import annotations

from datetime import UTC, datetime

from telegram import Message

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
        return Inbound(text=message.text, at=at)
    kind = media_kind(message)
    if message.caption:
        return Inbound(text=message.caption, media=kind, at=at)
    return Inbound(media=kind, at=at)
