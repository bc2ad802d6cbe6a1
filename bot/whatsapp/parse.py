"""Turn a Cloud API webhook payload into `InboundMessage`s for the engine.

Rules that shape this module:
- Meta batches: one POST can hold several entries, each with several changes, each with
  several messages and statuses. Everything is iterated; nothing assumes `[0]`.
- Nothing a resident sent is dropped silently and nothing here raises: every message is
  either parsed or reported as a `ParseProblem`, which is counted and logged without
  content (no text, no phone numbers, no user ids).
- Identity: the resident is keyed on `wa_id` (their phone number) when Meta sends it, and
  on the business-scoped user id (`user_id` / `from_user_id`, "BSUID") otherwise, which
  is what users who adopt a WhatsApp username will look like.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flows.messages import Inbound

from .address import Address

log = logging.getLogger(__name__)

#: Separates the flow node from the choice id in button and list-row ids we send.
ID_SEPARATOR = "|"

#: Message types that carry no text the engine can read; passed on as `Inbound(media=...)`.
MEDIA_TYPES = frozenset(
    {
        "image",
        "audio",
        "voice",
        "video",
        "sticker",
        "document",
        "location",
        "contacts",
        "reaction",
        "order",
        "unsupported",
    }
)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message from a resident, stripped down to what the engine needs.

    `user_ref` is the stable key for the resident (wa_id, else BSUID); `reply_to` says how
    to send back (`to` for a wa_id, `recipient` for a BSUID). `wa_id` and `user_id` are
    both kept when present so the wiring can link the two ids of one person.
    Personal fields are left out of `repr` so a stray log line cannot leak them.
    """

    message_id: str
    user_ref: str = field(repr=False)
    phone_number_id: str | None
    inbound: Inbound = field(repr=False)
    timestamp: datetime
    reply_to: Address
    wa_id: str | None = field(default=None, repr=False)
    user_id: str | None = field(default=None, repr=False)
    type: str = "text"


@dataclass(frozen=True, slots=True)
class ParseProblem:
    """Something in a payload that could not become an `InboundMessage`.

    `where` is a JSON path like `entry[0].changes[1].messages[2]`, `reason` a fixed
    phrase; neither ever contains what the resident wrote or who they are.
    """

    where: str
    reason: str
    message_id: str | None = None

    def __str__(self) -> str:
        mid = f" (message {self.message_id})" if self.message_id else ""
        return f"{self.where}: {self.reason}{mid}"


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    """A `statuses[]` entry with status `failed`: Meta could not deliver one of our messages.

    131047 here means the 24-hour window had closed; 131026 that the user is unreachable.
    """

    message_id: str | None
    codes: tuple[int, ...]
    recipient: str | None = field(default=None, repr=False)


@dataclass(slots=True)
class ParseResult:
    """Everything found in one webhook POST, with counts for metrics."""

    messages: list[InboundMessage] = field(default_factory=list)
    problems: list[ParseProblem] = field(default_factory=list)
    failures: list[DeliveryFailure] = field(default_factory=list)
    statuses: int = 0
    ignored_changes: int = 0

    def problem(self, where: str, reason: str, message_id: str | None = None) -> None:
        """Record and log a problem; only the path and a fixed reason are logged."""
        p = ParseProblem(where, reason, message_id)
        self.problems.append(p)
        log.warning("whatsapp webhook problem: %s", p)


def parse_body(raw_body: bytes) -> ParseResult:
    """Decode the raw POST body and parse it; undecodable JSON becomes one problem."""
    try:
        payload = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        result = ParseResult()
        result.problem("$", "body is not valid JSON")
        return result
    except RecursionError:
        result = ParseResult()
        result.problem("$", "body is nested too deeply")
        return result
    return parse_webhook(payload)


def parse_webhook(payload: Any) -> ParseResult:
    """Parse a decoded webhook payload. Never raises; see module docstring."""
    result = ParseResult()
    try:
        _parse_payload(payload, result)
    except Exception:  # a bug or a shape we never imagined: count it, do not crash the hook
        log.exception("whatsapp webhook: unexpected error while parsing")
        result.problem("$", "unexpected error while parsing")
    return result


def _parse_payload(payload: Any, result: ParseResult) -> None:
    if not isinstance(payload, Mapping):
        result.problem("$", "payload is not a JSON object")
        return
    if payload.get("object") != "whatsapp_business_account":
        result.problem("$.object", "not a whatsapp_business_account payload")
        return
    entries = payload.get("entry")
    if not isinstance(entries, list):
        result.problem("$.entry", "missing or not a list")
        return
    for e, entry in enumerate(entries):
        where = f"entry[{e}]"
        changes = entry.get("changes") if isinstance(entry, Mapping) else None
        if not isinstance(changes, list):
            result.problem(f"{where}.changes", "missing or not a list")
            continue
        for c, change in enumerate(changes):
            _parse_change(change, f"{where}.changes[{c}]", result)


def _parse_change(change: Any, where: str, result: ParseResult) -> None:
    if not isinstance(change, Mapping) or not isinstance(change.get("value"), Mapping):
        result.problem(where, "change without a value object")
        return
    if change.get("field", "messages") != "messages":
        result.ignored_changes += 1  # template status, account updates...: not for the engine
        return
    value: Mapping[str, Any] = change["value"]
    metadata = value.get("metadata")
    phone_number_id = (
        _str(metadata.get("phone_number_id")) if isinstance(metadata, Mapping) else None
    )

    for i, err in enumerate(_list(value.get("errors"))):
        code = err.get("code") if isinstance(err, Mapping) else None
        result.problem(f"{where}.value.errors[{i}]", f"webhook error code {code}")

    statuses = _list(value.get("statuses"))
    result.statuses += len(statuses)
    for s, status in enumerate(statuses):
        _parse_status(status, f"{where}.value.statuses[{s}]", result)

    contacts = [c for c in _list(value.get("contacts")) if isinstance(c, Mapping)]
    messages = value.get("messages")
    if messages is None:
        return
    if not isinstance(messages, list):
        result.problem(f"{where}.value.messages", "not a list")
        return
    for m, msg in enumerate(messages):
        mwhere = f"{where}.value.messages[{m}]"
        try:
            parsed = _parse_message(msg, contacts, phone_number_id, mwhere, result)
        except Exception:
            log.exception("whatsapp webhook: unexpected error at %s", mwhere)
            mid = _str(msg.get("id")) if isinstance(msg, Mapping) else None
            result.problem(mwhere, "unexpected error while parsing message", mid)
            continue
        if parsed is not None:
            result.messages.append(parsed)


def _parse_status(status: Any, where: str, result: ParseResult) -> None:
    if not isinstance(status, Mapping) or status.get("status") != "failed":
        return
    codes = tuple(
        err["code"]
        for err in _list(status.get("errors"))
        if isinstance(err, Mapping) and isinstance(err.get("code"), int)
    )
    recipient = _str(status.get("recipient_id")) or _str(status.get("recipient_user_id"))
    result.failures.append(DeliveryFailure(_str(status.get("id")), codes, recipient))
    log.info("whatsapp delivery failed at %s: codes %s", where, codes)


def _parse_message(
    msg: Any,
    contacts: list[Mapping[str, Any]],
    phone_number_id: str | None,
    where: str,
    result: ParseResult,
) -> InboundMessage | None:
    if not isinstance(msg, Mapping):
        result.problem(where, "message is not an object")
        return None
    message_id = _str(msg.get("id"))
    if not message_id:
        result.problem(where, "message without id")
        return None
    if not _storable(message_id):
        # Cannot be recorded (a lone surrogate, a huge id): it would fail on every retry.
        result.problem(where, "message id is not storable text")
        return None
    mtype = _str(msg.get("type")) or ""
    if mtype == "system":
        # A number change notice from WhatsApp itself, not something the resident said.
        result.problem(where, "system message (user changed number) not handled", message_id)
        return None

    wa_id, user_id = _identity(msg, contacts)
    if not all(_storable(v) for v in (wa_id, user_id) if v):
        result.problem(where, "sender id is not storable text", message_id)
        return None
    if wa_id:
        user_ref, reply_to = wa_id, Address.phone(wa_id)
    elif user_id:
        user_ref, reply_to = user_id, Address.bsuid(user_id)
    else:
        result.problem(where, "no sender id (neither wa_id nor user_id)", message_id)
        return None

    timestamp = _timestamp(msg.get("timestamp"))
    inbound = _inbound(msg, mtype, timestamp)
    if inbound is None:
        result.problem(where, f"{mtype or 'untyped'} message without readable content", message_id)
        return None
    return InboundMessage(
        message_id=message_id,
        user_ref=user_ref,
        phone_number_id=phone_number_id,
        inbound=inbound,
        timestamp=timestamp,
        reply_to=reply_to,
        wa_id=wa_id,
        user_id=user_id,
        type=mtype if mtype else "unsupported",
    )


def _identity(
    msg: Mapping[str, Any], contacts: list[Mapping[str, Any]]
) -> tuple[str | None, str | None]:
    """(wa_id, bsuid) of the sender: the message's own fields, completed by its contact."""
    wa_id = _str(msg.get("from"))
    user_id = _str(msg.get("from_user_id"))
    contact = _matching_contact(wa_id, user_id, contacts)
    if contact is not None:
        wa_id = wa_id or _str(contact.get("wa_id"))
        user_id = user_id or _str(contact.get("user_id"))
    return wa_id, user_id


def _matching_contact(
    wa_id: str | None, user_id: str | None, contacts: list[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    for contact in contacts:
        if wa_id and _str(contact.get("wa_id")) == wa_id:
            return contact
        if user_id and _str(contact.get("user_id")) == user_id:
            return contact
    # Only one contact in this change and it does not contradict the message: it is the
    # sender. With several and no match we refuse to guess, so one resident's message is
    # never attributed to another.
    if len(contacts) != 1:
        return None
    only = contacts[0]
    other_wa_id, other_user_id = _str(only.get("wa_id")), _str(only.get("user_id"))
    if (wa_id and other_wa_id and other_wa_id != wa_id) or (
        user_id and other_user_id and other_user_id != user_id
    ):
        return None
    return only


def _inbound(msg: Mapping[str, Any], mtype: str, at: datetime) -> Inbound | None:
    if mtype == "text":
        text = msg.get("text")
        body = text.get("body") if isinstance(text, Mapping) else None
        return Inbound(text=_clean(body), at=at) if isinstance(body, str) else None
    if mtype == "interactive":
        return _interactive(msg.get("interactive"), at)
    if mtype == "button":
        # Legacy quick-reply button on a template message.
        button = msg.get("button")
        if not isinstance(button, Mapping):
            return None
        payload = _str(button.get("payload"))
        if payload and ID_SEPARATOR in payload:
            return _choice(payload, at)
        label = button.get("text")
        if isinstance(label, str) and label:
            return Inbound(text=_clean(label), at=at)  # the engine also accepts a typed label
        return _choice(payload, at) if payload else None
    if mtype == "audio":
        audio = msg.get("audio")
        voice = isinstance(audio, Mapping) and audio.get("voice") is True
        return Inbound(media="voice" if voice else "audio", at=at)
    if mtype in MEDIA_TYPES:
        return Inbound(media=mtype, at=at)
    return Inbound(media="unsupported", at=at)


def _interactive(interactive: Any, at: datetime) -> Inbound | None:
    if not isinstance(interactive, Mapping):
        return None
    itype = interactive.get("type")
    if itype in ("button_reply", "list_reply"):
        reply = interactive.get(itype)
        reply_id = _str(reply.get("id")) if isinstance(reply, Mapping) else None
        return _choice(reply_id, at) if reply_id else None
    return Inbound(media="interactive", at=at)  # flows (nfm_reply) and others we never send


def _choice(reply_id: str, at: datetime) -> Inbound:
    """Split "<node>|<choice id>"; an id without the separator is a bare choice id."""
    node, sep, choice = reply_id.partition(ID_SEPARATOR)
    if not sep:
        return Inbound(choice=reply_id, at=at)
    return Inbound(choice=choice, node=node or None, at=at)


def _timestamp(value: Any) -> datetime:
    """Meta sends Unix seconds as a string; anything else falls back to now."""
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)


MAX_ID_LENGTH = 512  # Meta's ids are ~60 characters; the database keys them as text


def _storable(value: str) -> bool:
    """Valid Unicode of a sane length (what the database can record as a key)."""
    return len(value) <= MAX_ID_LENGTH and _valid(value)


def _clean(text: str) -> str:
    """A lone surrogate becomes U+FFFD, so the turn can store and seal the text."""
    if _valid(text):
        return text
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _valid(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
