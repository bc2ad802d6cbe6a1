"""Framework-free webhook entry points, so the ASGI route stays a few lines.

`handle_webhook` checks the signature on the raw bytes, parses, drops redeliveries and
returns the HTTP status to answer. It does no engine work: the route should answer 200 at
once and hand the messages to a background task, because Meta retries slow or failed
deliveries for days and a retry storm would duplicate conversations.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from .parse import DeliveryFailure, InboundMessage, ParseProblem, ParseResult, parse_body
from .signature import SIGNATURE_HEADER, verify_challenge, verify_signature

log = logging.getLogger(__name__)


class RecentIds:
    """Remembers the last `size` message ids, to drop Meta's redeliveries cheaply.

    In-memory only: after a restart a redelivered message can get through once, so the
    engine side should still tolerate a duplicate.
    """

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def seen(self, message_id: str) -> bool:
        """True if the id was seen before; records it otherwise."""
        if message_id in self._ids:
            self._ids.move_to_end(message_id)
            return True
        self._ids[message_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return False

    def forget(self, message_id: str) -> None:
        """Undo `seen` for an id that could not be accepted after all (e.g. the durable
        de-duplication failed and the POST is answered 500), so Meta's retry gets through."""
        self._ids.pop(message_id, None)


@dataclass(slots=True)
class WebhookOutcome:
    """What the route answers (`status`) and what to hand to the engine (`messages`)."""

    status: int
    messages: list[InboundMessage] = field(default_factory=list)
    problems: list[ParseProblem] = field(default_factory=list)
    failures: list[DeliveryFailure] = field(default_factory=list)
    statuses: int = 0
    duplicates: int = 0
    ignored_fields: Counter[str] = field(default_factory=Counter)  # other webhook fields


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lower = name.lower()
    for key, val in headers.items():
        if key.lower() == lower:
            return val
    return None


def handle_webhook(
    raw_body: bytes,
    headers: Mapping[str, str],
    app_secret: str | bytes,
    *,
    recent: RecentIds | None = None,
) -> WebhookOutcome:
    """Verify, parse and de-duplicate one POST. Never raises.

    403 for a missing or wrong signature (nothing parsed); otherwise 200, even when parts
    could not be parsed: a retry would bring the same bytes, and the problems are
    counted and logged instead.
    """
    if not verify_signature(app_secret, raw_body, _header(headers, SIGNATURE_HEADER)):
        log.warning("whatsapp webhook: refused a POST with a missing or invalid signature")
        return WebhookOutcome(status=403)
    parsed: ParseResult = parse_body(raw_body)
    outcome = WebhookOutcome(
        status=200,
        problems=parsed.problems,
        failures=parsed.failures,
        statuses=parsed.statuses,
        ignored_fields=parsed.ignored_fields,
    )
    for message in parsed.messages:
        if recent is not None and recent.seen(message.message_id):
            outcome.duplicates += 1
            continue
        outcome.messages.append(message)
    return outcome


def handle_verification(query: Mapping[str, str], verify_token: str) -> tuple[int, str]:
    """(status, plain-text body) for Meta's GET subscription handshake."""
    challenge = verify_challenge(query, verify_token)
    if challenge is None:
        return 403, "forbidden"
    return 200, challenge
