"""An `InboundMessage` as plain JSON and back, for the durable inbox (bot/workers/inbox.py
seals it with the encryption key before it is stored and deletes it when its turn has
committed).

Written from the dataclass fields themselves, so a field added to `InboundMessage` or
`Inbound` travels without a change here (values: text, numbers, None, datetimes and
`Address`es).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from flows.messages import Inbound

from .address import Address
from .parse import InboundMessage

_TIME = "$time"
_ADDRESS = "$address"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return {_TIME: value.isoformat()}
    if isinstance(value, Address):
        return {_ADDRESS: [value.field, value.value]}
    return value


def _value(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {_TIME}:
        return datetime.fromisoformat(value[_TIME])
    if isinstance(value, dict) and set(value) == {_ADDRESS}:
        return Address(*value[_ADDRESS])
    return value


def _fields(obj: Any) -> dict[str, Any]:
    return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def message_record(message: InboundMessage) -> dict[str, Any]:
    record = _fields(message)
    record["inbound"] = _fields(message.inbound)
    return record


def message_from_record(record: dict[str, Any]) -> InboundMessage:
    data = {name: _value(value) for name, value in record.items()}
    data["inbound"] = Inbound(**{k: _value(v) for k, v in record["inbound"].items()})
    known = {f.name for f in dataclasses.fields(InboundMessage)}
    return InboundMessage(**{k: v for k, v in data.items() if k in known})
