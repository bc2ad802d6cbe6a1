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
- Every message says how the channel should treat it (`InboundMessage.handling`): an
  ordinary `turn` for the engine; an `edit` (crisis-checked, never re-read as an answer);
  a `quiet` event that gets no reply (a reaction, a reaction taken back, a deleted
  message, a call-permission answer, a security-code change); or a `number_change`
  (`system` / `user_changed_number`: the resident's data moves to the new number).
  Text the resident typed outside an ordinary message (an edit, a form field, an order's
  note) is in `check_text`, for the crisis check.
- Changes of other webhook fields (account updates, template status, calls, user
  preferences) are counted by field name (`ParseResult.ignored_fields`).
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

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
        "unsupported",
    }
)
#: Media whose caption is text the resident wrote: it goes to the engine as text.
CAPTIONED_TYPES = frozenset({"image", "video", "document"})

#: How the channel treats a message (see the module docstring).
Handling = Literal["turn", "edit", "quiet", "number_change"]

#: `system` types announcing a new phone number (the second is the older name).
NUMBER_CHANGED = frozenset({"user_changed_number", "customer_changed_number"})
#: `system` types announcing a new identity (security code) of the same number.
IDENTITY_CHANGED = frozenset({"customer_identity_changed", "user_identity_changed"})

#: A webhook field name as Meta spells them; anything else is counted as "other".
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


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
    handling: Handling = "turn"
    #: A fixed name for counters: the message type, or e.g. "reaction_removed", "revoke".
    kind: str = "text"
    #: Text typed outside an ordinary message (an edit, a form, an order note): crisis-checked.
    check_text: str | None = field(default=None, repr=False)
    #: For a number change: the resident's new platform id (wa_id, else BSUID) and address.
    new_ref: str | None = field(default=None, repr=False)
    new_reply_to: Address | None = field(default=None, repr=False)


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
    ignored_fields: Counter[str] = field(default_factory=Counter)

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
    name = change.get("field", "messages")
    if name != "messages":
        # Template status, account updates, calls, user preferences...: not for the engine,
        # but counted by field so an operator sees what Meta sends.
        result.ignored_changes += 1
        valid = isinstance(name, str) and _FIELD_NAME.fullmatch(name)
        result.ignored_fields[name if valid else "other"] += 1
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
    codes = _error_codes(status.get("errors"))
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
        return _system(msg, message_id, phone_number_id, where, result)

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
    read = _read(msg, mtype, timestamp)
    if read is None:
        codes = _error_codes(msg.get("errors"))
        if not codes:
            result.problem(
                where, f"{mtype or 'untyped'} message without readable content", message_id
            )
            return None
        # Meta could not deliver what the resident sent (e.g. 131000 on a button press):
        # they pressed or sent something, so they are answered like any unreadable message.
        log.info("whatsapp: a %s message arrived without its content (codes %s)", mtype, codes)
        read = _Read(Inbound(media="unsupported", at=timestamp), kind="undelivered")
    return InboundMessage(
        message_id=message_id,
        user_ref=user_ref,
        phone_number_id=phone_number_id,
        inbound=read.inbound,
        timestamp=timestamp,
        reply_to=reply_to,
        wa_id=wa_id,
        user_id=user_id,
        type=mtype if mtype else "unsupported",
        handling=read.handling,
        kind=read.kind or mtype or "unsupported",
        check_text=read.check_text,
    )


def _system(
    msg: Mapping[str, Any],
    message_id: str,
    phone_number_id: str | None,
    where: str,
    result: ParseResult,
) -> InboundMessage | None:
    """A notice from WhatsApp itself about the sender (no contacts array), never their words.

    `from` is the resident's number before the change; `system.wa_id` (older payloads:
    `new_wa_id`) the new one. Neither number is ever logged.
    """
    system = msg.get("system")
    stype = _str(system.get("type")) if isinstance(system, Mapping) else None
    if not isinstance(system, Mapping) or stype is None:
        result.problem(where, "system message without a type", message_id)
        return None
    old_wa_id = _str(msg.get("from"))
    old_bsuid = _str(msg.get("from_user_id")) or _str(system.get("previous_user_id"))
    timestamp = _timestamp(msg.get("timestamp"))
    new_ref: str | None = None
    new_reply_to: Address | None = None
    if stype in NUMBER_CHANGED:
        new_wa_id = _str(system.get("wa_id")) or _str(system.get("new_wa_id"))
        new_bsuid = _str(system.get("user_id"))
        if new_wa_id:
            new_ref, new_reply_to = new_wa_id, Address.phone(new_wa_id)
        elif new_bsuid:
            new_ref, new_reply_to = new_bsuid, Address.bsuid(new_bsuid)
        handling: Handling = "number_change"
        kind = "number_changed"
        log.info("whatsapp: a resident changed their WhatsApp number")
    elif stype == "user_changed_user_id" and not old_wa_id:
        # Only the business-scoped id changed, and it is what this resident is keyed on.
        new_bsuid = _str(system.get("user_id"))
        if new_bsuid:
            new_ref, new_reply_to = new_bsuid, Address.bsuid(new_bsuid)
        handling, kind = "number_change", "user_id_changed"
        log.info("whatsapp: a resident's business-scoped user id changed")
    elif stype == "user_changed_user_id":
        # Keyed on the phone number, which did not change: nothing to move.
        handling, kind = "quiet", "user_id_changed"
        log.info("whatsapp: a resident's business-scoped user id changed; same number")
    elif stype in IDENTITY_CHANGED:
        # A new phone or a reinstall (their security code changed): same number, same person
        # as far as WhatsApp says; nothing to move and nothing to answer.
        handling, kind = "quiet", "identity_changed"
        log.info("whatsapp: a resident's WhatsApp identity (security code) changed")
    else:
        result.problem(where, "system message of an unknown type", message_id)
        return None
    if old_wa_id:
        user_ref, reply_to = old_wa_id, Address.phone(old_wa_id)
    elif old_bsuid:
        user_ref, reply_to = old_bsuid, Address.bsuid(old_bsuid)
    else:
        result.problem(where, "system message without the sender's id", message_id)
        return None
    if handling == "number_change" and new_ref is None:
        result.problem(where, "number change without the new id", message_id)
        return None
    return InboundMessage(
        message_id=message_id,
        user_ref=user_ref,
        phone_number_id=phone_number_id,
        inbound=Inbound(media="system", at=timestamp),
        timestamp=timestamp,
        reply_to=reply_to,
        wa_id=old_wa_id,
        user_id=old_bsuid,
        type="system",
        handling=handling,
        kind=kind,
        new_ref=new_ref,
        new_reply_to=new_reply_to,
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


@dataclass(frozen=True, slots=True)
class _Read:
    """What one message's content means for the channel (see `InboundMessage`)."""

    inbound: Inbound
    handling: Handling = "turn"
    kind: str = ""
    check_text: str | None = None


def _read(msg: Mapping[str, Any], mtype: str, at: datetime) -> _Read | None:
    """The message's content; None when there is nothing readable where it should be."""
    content = msg.get(mtype)
    if mtype == "edit":
        return _edit(content, at)
    if mtype == "revoke":
        return _Read(Inbound(media="revoke", at=at), "quiet", "revoke")
    if mtype == "reaction":
        emoji = content.get("emoji") if isinstance(content, Mapping) else None
        if isinstance(emoji, str) and emoji.strip():
            # A reaction acknowledges a message; a person would not answer it either.
            return _Read(Inbound(media="reaction", at=at), "quiet", "reaction")
        return _Read(Inbound(media="reaction", at=at), "quiet", "reaction_removed")
    if mtype == "order":
        note = content.get("text") if isinstance(content, Mapping) else None
        return _Read(Inbound(media="order", at=at), check_text=_text_or_none(note))
    if mtype == "interactive":
        return _interactive(content, at)
    inbound = _inbound(msg, mtype, at)
    return _Read(inbound) if inbound is not None else None


def _edit(edit: Any, at: datetime) -> _Read:
    """The new version of an edited message: its text (or caption), read only for the
    crisis check; an edited answer is never taken as a new answer."""
    inner = edit.get("message") if isinstance(edit, Mapping) else None
    text = None
    if isinstance(inner, Mapping):
        itype = _str(inner.get("type")) or ""
        body = inner.get(itype)
        if isinstance(body, Mapping):
            text = _text_or_none(body.get("body") if itype == "text" else body.get("caption"))
    inbound = Inbound(text=text, at=at) if text else Inbound(media="edit", at=at)
    return _Read(inbound, "edit", "edit", text)


def _inbound(msg: Mapping[str, Any], mtype: str, at: datetime) -> Inbound | None:
    if mtype == "text":
        text = msg.get("text")
        body = text.get("body") if isinstance(text, Mapping) else None
        return Inbound(text=_clean(body), at=at) if isinstance(body, str) else None
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
    if mtype in CAPTIONED_TYPES:
        # A caption is text the resident wrote (it may say they are in danger): it goes to
        # the engine as text, naming the media too (as on Telegram).
        media = msg.get(mtype)
        caption = _text_or_none(media.get("caption")) if isinstance(media, Mapping) else None
        if caption:
            return Inbound(text=caption, media=mtype, at=at)
        return Inbound(media=mtype, at=at)
    if mtype == "audio":
        audio = msg.get("audio")
        voice = isinstance(audio, Mapping) and audio.get("voice") is True
        return Inbound(media="voice" if voice else "audio", at=at)
    if mtype in MEDIA_TYPES:
        return Inbound(media=mtype, at=at)
    return Inbound(media="unsupported", at=at)


def _interactive(interactive: Any, at: datetime) -> _Read | None:
    if not isinstance(interactive, Mapping):
        return None
    itype = interactive.get("type")
    if itype in ("button_reply", "list_reply"):
        reply = interactive.get(itype)
        reply_id = _str(reply.get("id")) if isinstance(reply, Mapping) else None
        return _Read(_choice(reply_id, at)) if reply_id else None
    if itype == "call_permission_reply":
        # The answer to WhatsApp's own "may this business call you?" prompt: no chat reply.
        return _Read(Inbound(media="interactive", at=at), "quiet", "call_permission_reply")
    if itype == "nfm_reply":
        # A submitted WhatsApp Flow form (we send none): the person waits for an answer, and
        # what they typed in its fields is crisis-checked.
        reply = interactive.get("nfm_reply")
        fields = reply.get("response_json") if isinstance(reply, Mapping) else None
        return _Read(
            Inbound(media="flow_reply", at=at), kind="flow_reply", check_text=_form_text(fields)
        )
    return _Read(Inbound(media="interactive", at=at))  # others we never send


def _form_text(response_json: Any) -> str | None:
    """The text fields of a Flow's `response_json`, one per line (not the flow token)."""
    try:
        data = json.loads(response_json) if isinstance(response_json, str) else None
    except ValueError:
        return None
    if not isinstance(data, Mapping):
        return None
    values = [
        v.strip() for k, v in data.items() if k != "flow_token" and isinstance(v, str) and v.strip()
    ]
    return "\n".join(values) or None


def _error_codes(errors: Any) -> tuple[int, ...]:
    return tuple(
        err["code"]
        for err in _list(errors)
        if isinstance(err, Mapping) and isinstance(err.get("code"), int)
    )


def _text_or_none(value: Any) -> str | None:
    return _clean(value) if isinstance(value, str) and value.strip() else None


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
