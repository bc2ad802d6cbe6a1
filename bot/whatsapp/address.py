"""How to address a WhatsApp user when sending.

A user is reached by phone number (`wa_id`, sent in the `to` field) or, once they hide
their number behind a username, only by their business-scoped user ID (BSUID, sent in
the `recipient` field). Keeping the field name next to the value means render and
client never have to guess which one they hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

AddressField = Literal["to", "recipient"]


@dataclass(frozen=True, slots=True)
class Address:
    """Where a reply goes. `field` is the Graph API body key, `value` the id.

    `repr` hides the value: it is a phone number or a personal id and must not end up
    in logs or tracebacks by accident.
    """

    field: AddressField
    value: str

    def __repr__(self) -> str:
        return f"Address(field={self.field!r}, value=<hidden>)"

    @classmethod
    def phone(cls, wa_id: str) -> Address:
        return cls("to", wa_id)

    @classmethod
    def bsuid(cls, user_id: str) -> Address:
        return cls("recipient", user_id)

    def envelope(self) -> dict[str, Any]:
        """The common head of every Graph API message body for this recipient."""
        return {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            self.field: self.value,
        }
