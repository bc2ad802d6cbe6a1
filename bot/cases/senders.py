"""Who delivers a case card: the `AlertSender` protocol and the senders that need no channel.

The dispatcher (bot/cases/dispatcher.py) builds an `Alert` from the case at send time and hands
it to an `AlertSender` for the case's route. Channels implement the protocol:

```python
class AlertSender(Protocol):
    async def send_alert(self, route: Route, alert: Alert) -> str: ...
    async def update_alert(self, route: Route, external_ref: str, alert: Alert) -> None: ...
```

- `send_alert` posts a new message to the route (its Telegram group `route.telegram_chat_id`
  or its WhatsApp numbers) and returns an `external_ref` the sender can later find it by
  (e.g. "chat_id:message_id"). `alert.kind` is "alert" (the case card: put the buttons
  Ambil / Catatan / Selesai / Hubungi under it, with callback data carrying `alert.case`)
  or "words" (the words of one disclosure, sent once as a reply to the card `alert.reply_to`
  when known; no buttons) or "notice" (a short line under the card: the resident
  disclosed something new and the card was edited; no buttons). Render with
  `render_alert(alert)` or your own layout.
- `update_alert` edits that message in place after a change (claimed, note, level,
  resolved, fallback step). Edits must be idempotent; a vanished message is not an error.
- Idempotency: `alert.idempotency_key` is the same on every attempt of one outbox row. A
  retry follows an unknown outcome (timeout, crash after sending); if the platform lets
  you (a dedupe table of yours, a message tag), use the key to avoid a second post. Raise
  any exception to mean "not delivered, retry later" (the dispatcher backs off); return
  normally only once the platform accepted the message.
- Never log `alert.words`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Protocol

from bot.cases.cards import Alert, render_alert
from bot.config import Route

log = logging.getLogger(__name__)


class AlertSender(Protocol):
    async def send_alert(self, route: Route, alert: Alert) -> str: ...

    async def update_alert(self, route: Route, external_ref: str, alert: Alert) -> None: ...


class ConsoleAlertSender:
    """Collects rendered alerts as notes (for `temanjiwa chat`; `drain()` hands them out)."""

    def __init__(self) -> None:
        self._notes: list[str] = []
        self._count = 0

    async def send_alert(self, route: Route, alert: Alert) -> str:
        self._count += 1
        self._notes.append(f"→ {route.name or '(rute)'}\n{render_alert(alert)}")
        return f"console:{self._count}"

    async def update_alert(self, route: Route, external_ref: str, alert: Alert) -> None:
        self._notes.append(f"↻ {route.name or '(rute)'} ({external_ref})\n{render_alert(alert)}")

    def drain(self) -> list[str]:
        notes, self._notes = self._notes, []
        return notes


class LogAlertSender:
    """Writes alerts to the log (a stand-in until a channel sender is configured).

    Words are never logged: only the fact that they were sent.
    """

    def __init__(self, logger: logging.Logger | None = None):
        self.log = logger or log
        self._count = 0

    async def send_alert(self, route: Route, alert: Alert) -> str:
        self._count += 1
        shown = (
            replace(alert, words="(kata-kata warga disembunyikan di log)")
            if alert.kind == "words"
            else alert
        )
        self.log.warning(
            "CADRE ALERT to %s [%s]\n%s",
            route.id or "(no route)",
            alert.idempotency_key,
            render_alert(shown),
        )
        return f"log:{self._count}"

    async def update_alert(self, route: Route, external_ref: str, alert: Alert) -> None:
        self.log.info("cadre alert %s updated on %s: status %s", alert.case, route.id, alert.status)


class ChannelNotReady(Exception):
    """The route's channel is not running (yet): the outbox keeps the alert and retries."""


class RoutingAlertSender:
    """Sends each alert through the channel its route names (Telegram group, WhatsApp numbers).

    Channels attach their sender when they start; until then a send raises, so the alert
    stays in the outbox. A route with neither goes to the log (and `temanjiwa cases`).
    """

    def __init__(self, fallback: AlertSender | None = None) -> None:
        self.senders: dict[str, AlertSender] = {}
        self.fallback = fallback or LogAlertSender()

    def attach(self, kind: str, sender: AlertSender) -> None:
        self.senders[kind] = sender

    def _sender(self, route: Route) -> tuple[str, AlertSender]:
        if route.telegram_chat_id is not None:
            kind = "telegram"
        elif route.whatsapp_numbers:
            kind = "whatsapp"
        else:
            return "log", self.fallback
        sender = self.senders.get(kind)
        if sender is None:
            raise ChannelNotReady(f"{kind} is not running; alert for route {route.id} waits")
        return kind, sender

    async def send_alert(self, route: Route, alert: Alert) -> str:
        kind, sender = self._sender(route)
        return f"{kind}|{await sender.send_alert(route, alert)}"

    async def update_alert(self, route: Route, external_ref: str, alert: Alert) -> None:
        kind, _sep, ref = external_ref.partition("|")
        sender = self.fallback if kind == "log" else self.senders.get(kind)
        if sender is None:
            raise ChannelNotReady(f"{kind} is not running; update for route {route.id} waits")
        await sender.update_alert(route, ref, alert)
