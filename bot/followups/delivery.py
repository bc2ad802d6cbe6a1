"""What the scheduler needs of a channel to check in, and the router that picks one.

A `CheckinSender` first says how a check-in can reach the resident now (`plan`):
"text" (Telegram always; WhatsApp inside the 24-hour window), "template" (WhatsApp
outside it, with `whatsapp.followup_template` configured: the approved template goes out
and the caring text follows when the resident replies), or "closed" (WhatsApp outside
the window without a template: nothing can be sent, and the scheduler does not pretend
it was). Then `send` (the check-in's bubbles) or `invite` (the template).

Every send answers with a `Status`; a sender never raises for the platform's refusals:

- "sent": the platform accepted it;
- "blocked": the resident blocked the bot / cannot be reached (the series ends);
- "failed": certainly not delivered (network down, rate limits after retries): retry later;
- "unsure": it may have arrived (a timeout after the request went out): never resent;
- "closed": WhatsApp says the window is closed after all: plan again.

bot/app.py adapts the channels' small public methods (Telegram `send_to_chat`, WhatsApp
`send_first` / `send_followup_template`) with the two classes below and attaches them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from flows.messages import Reply

Plan = Literal["text", "template", "closed"]
Status = Literal["sent", "blocked", "failed", "unsure", "closed"]
STATUSES = ("sent", "blocked", "failed", "unsure", "closed")
WINDOW = timedelta(hours=24)
WINDOW_MARGIN = timedelta(hours=1)  # free-form only if the window stays open a while


class CheckinSender(Protocol):
    def plan(self, platform_id: str, last_seen: datetime | None, now: datetime) -> Plan: ...

    async def send(self, platform_id: str, replies: Sequence[Reply]) -> Status: ...

    async def invite(self, platform_id: str) -> Status: ...


def as_status(value: Any) -> Status:
    return value if value in STATUSES else "failed"


class TextSender:
    """A channel without a window (Telegram): every check-in goes as text."""

    def __init__(self, send: Callable[[str, Sequence[Reply]], Awaitable[str]]):
        self._send = send

    def plan(self, platform_id: str, last_seen: datetime | None, now: datetime) -> Plan:
        return "text"

    async def send(self, platform_id: str, replies: Sequence[Reply]) -> Status:
        return as_status(await self._send(platform_id, replies))

    async def invite(self, platform_id: str) -> Status:
        return "closed"


class WindowedChannel(Protocol):
    """What the WhatsApp channel offers (bot/whatsapp/channel.py)."""

    @property
    def followup_template_configured(self) -> bool: ...

    def last_inbound_at(self, platform_id: str) -> datetime | None: ...

    async def send_first(self, platform_id: str, replies: Sequence[Reply]) -> str: ...

    async def send_followup_template(self, platform_id: str) -> str: ...


class WindowSender:
    """WhatsApp: text while the resident's 24-hour window is open (by the channel's own
    record of their last message, or the last turn stored, whichever is later), else the
    follow-up template, else nothing ("closed")."""

    def __init__(self, channel: WindowedChannel):
        self.channel = channel

    def plan(self, platform_id: str, last_seen: datetime | None, now: datetime) -> Plan:
        times = [t for t in (self.channel.last_inbound_at(platform_id), last_seen) if t]
        if times and now - max(times) < WINDOW - WINDOW_MARGIN:
            return "text"
        return "template" if self.channel.followup_template_configured else "closed"

    async def send(self, platform_id: str, replies: Sequence[Reply]) -> Status:
        return as_status(await self.channel.send_first(platform_id, replies))

    async def invite(self, platform_id: str) -> Status:
        return as_status(await self.channel.send_followup_template(platform_id))


class CheckinRouter:
    """The senders of the running channels, by channel name ("telegram", "whatsapp").
    Channels attach theirs when they start (bot/app.py); until then check-ins wait."""

    def __init__(self) -> None:
        self._senders: dict[str, CheckinSender] = {}
        self.notes: dict[str, Any] = {}  # for /healthz: e.g. whatsapp_template_configured

    def attach(self, channel: str, sender: CheckinSender, **notes: Any) -> None:
        self._senders[channel] = sender
        self.notes.update(notes)

    def get(self, channel: str) -> CheckinSender | None:
        return self._senders.get(channel)

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(sorted(self._senders))
