"""The small value types that cross the boundary between channels and the engine.

Channels turn platform updates into `Inbound`, the engine answers with `Reply` and
`Event`; nothing here knows about Telegram, WhatsApp or SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

InboundKind = Literal["text", "choice", "unsupported"]


@dataclass(frozen=True, slots=True)
class Choice:
    """One answer the resident can pick; `id` is stable and is what a button sends back."""

    id: str
    label: str
    value: float | int | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """One chat bubble. Only the last bubble of a turn carries `choices`."""

    text: str
    choices: tuple[Choice, ...] = ()
    node: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    """Something the outside world must act on (store a result, alert a cadre, delete data)."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"type": "event", "name": self.name, **self.data}


@dataclass(frozen=True, slots=True)
class Inbound:
    """What the resident sent, already stripped of platform identity.

    `text` is free text (checked for crisis signs), `choice` a pressed button's choice id,
    `node` the "<flow>.<node>" the button belonged to (to recognise presses on old
    messages), `media` names what an unsupported message was (sticker, photo, voice...).
    """

    text: str | None = None
    choice: str | None = None
    node: str | None = None
    media: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def kind(self) -> InboundKind:
        if self.choice is not None:
            return "choice"
        if self.text is not None:
            return "text"
        return "unsupported"
