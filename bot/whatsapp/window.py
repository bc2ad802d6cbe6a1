"""WhatsApp's 24-hour customer-service window, and what to do outside it.

Free-form messages (text, buttons, lists) may be sent only within 24 hours of the user's
last message to us; after that only an approved template may be sent, which invites the
user to reply and so reopens the window. Teman Jiwa never sends the real (possibly
sensitive) content in a template: it sends a neutral approved template and keeps the
content until the resident replies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .address import Address
from .client import GraphClient, OutsideWindow
from .render import template_body

CUSTOMER_SERVICE_WINDOW = timedelta(hours=24)


def can_send_free_form(
    last_inbound_at: datetime | None, now: datetime, *, margin: timedelta = timedelta(0)
) -> bool:
    """True if `now` is within 24 h (minus `margin`) of the user's last inbound message.

    `last_inbound_at` should be Meta's message timestamp, not our receive time. Both
    datetimes must be timezone-aware: mixing naive and aware times silently shifts the
    window by the server's UTC offset.
    """
    if last_inbound_at is None:
        return False
    if last_inbound_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("can_send_free_form needs timezone-aware datetimes")
    return now - last_inbound_at < CUSTOMER_SERVICE_WINDOW - margin


@dataclass(frozen=True, slots=True)
class TemplateConfig:
    """An approved template used to reopen the window (e.g. "Ada pesan untukmu...")."""

    name: str
    language: str = "id"
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Delivered:
    """Everything was sent as free-form messages."""

    message_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HeldForReply:
    """Outside the window: the template went out; `unsent` waits for the resident's reply.

    The caller stores `unsent` (or the replies it came from) and sends it when the next
    inbound message from this resident arrives.
    """

    template_message_id: str
    sent_ids: tuple[str, ...] = ()
    unsent: tuple[dict[str, Any], ...] = field(default=(), repr=False)


@dataclass(frozen=True, slots=True)
class NeedsFallback:
    """Outside the window and no template configured: nothing sent to WhatsApp.

    The caller must use its fallback route (e.g. keep the content for the next inbound
    message, alert a cadre through another channel).
    """

    sent_ids: tuple[str, ...] = ()
    unsent: tuple[dict[str, Any], ...] = field(default=(), repr=False)


Outcome = Delivered | HeldForReply | NeedsFallback


async def deliver(
    client: GraphClient,
    to: Address,
    bodies: Sequence[dict[str, Any]],
    *,
    last_inbound_at: datetime | None,
    now: datetime,
    template: TemplateConfig | None,
    margin: timedelta = timedelta(minutes=1),
) -> Outcome:
    """Send `bodies` free-form inside the window, else the template, else signal fallback.

    If Meta answers 131047 although our clock said the window was open, the same
    template/fallback path is taken for whatever was not sent yet. `Unreachable` and other
    `GraphError`s propagate.
    """
    sent: tuple[str, ...] = ()
    unsent = tuple(bodies)
    if can_send_free_form(last_inbound_at, now, margin=margin):
        try:
            return Delivered(tuple(await client.send_many(bodies)))
        except OutsideWindow as err:
            sent, unsent = tuple(err.sent_ids), tuple(err.unsent)
    if template is None:
        return NeedsFallback(sent, unsent)
    template_id = await client.send(
        template_body(to, template.name, template.language, template.parameters)
    )
    return HeldForReply(template_id, sent, unsent)
