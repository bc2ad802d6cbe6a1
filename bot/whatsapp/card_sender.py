"""Case cards to WhatsApp numbers: the `AlertSender` (bot/cases/senders.py) for routes with
`whatsapp_numbers`, attached to the runtime's alert router as "whatsapp" by bot/app.py.

- Inside a number's 24-hour window the case card goes out as a normal message (with the
  buttons Ambil / Hubungi / Selesai when cadre commands are on). Outside it, the approved
  template (`whatsapp.alert_template`) goes out and the card is held in memory until the
  cadre replies (bot/whatsapp/channel.py). Held cards of one case are replaced by newer
  ones, so a cadre reading late sees the case as it is now.
- No template configured and every number's window closed (or the numbers unreachable):
  the alert goes at once to the route's fallback — its `supervisor`, else the default
  route — through `fallback` (the runtime's routing sender, so a Telegram supervisor gets
  it in its group), and the card stays held for the numbers in case they write. If no
  route in the chain takes it, `send_alert` raises and the dispatcher retries later.
  Meta refusing for a passing reason (rate limits, 5xx after the client's retries) also
  raises: the dispatcher retries, and the SLA chain moves on if that takes too long.
- WhatsApp cannot edit a sent message: `update_alert` sends the updated card as a new
  message, only when its text changed, and never sends a template for an update.
- `alert.idempotency_key`: a retry of a key already delivered returns the same reference
  without sending again (in memory, for this process).
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from typing import Any

from bot.cases.cards import Alert, render_alert
from bot.cases.routing import next_route
from bot.cases.senders import AlertSender
from bot.config import Config, Route, normalise_number
from flows.messages import Choice, Reply

from .address import Address
from .cadre_commands import CADRE_NODE
from .channel import WhatsAppChannel
from .client import GraphError, RetriesExhausted
from .window import Delivered, HeldForReply

log = logging.getLogger(__name__)

class AlertNotDelivered(Exception):
    """No destination on the route or its fallback chain accepted the alert (retry later)."""


def _ref(route_id: str, wamids: list[str], fallback: str | None = None) -> str:
    data: dict[str, Any] = {"r": route_id, "w": wamids}
    if fallback is not None:
        data["f"] = fallback
    return json.dumps(data, separators=(",", ":"))


def _parse_ref(ref: str) -> dict[str, Any]:
    try:
        data = json.loads(ref)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class WhatsAppAlertSender:
    """`AlertSender` for WhatsApp numbers (see the module docstring)."""

    def __init__(
        self,
        channel: WhatsAppChannel,
        config: Config,
        *,
        fallback: AlertSender | None = None,
        cache_size: int = 2_000,
    ) -> None:
        self.channel = channel
        self.config = config
        self.fallback = fallback
        self._done: OrderedDict[str, str] = OrderedDict()
        self._last_card: OrderedDict[tuple[str, str, str], str] = OrderedDict()
        self._chains: dict[str, list[str]] = {}
        self._cache_size = cache_size

    # -- AlertSender --------------------------------------------------------------------

    async def send_alert(self, route: Route, alert: Alert) -> str:
        key = alert.idempotency_key or f"obj:{id(alert)}"
        if key in self._done:
            return self._done[key]
        chain = self._chains.get(key)
        outer = chain is None
        if chain is None:
            chain = self._chains[key] = []
        chain.append(route.id)  # re-entered through `fallback`: the same chain, no loops
        try:
            ref = await self._send(route, alert, chain)
        finally:
            if outer:
                del self._chains[key]
        if alert.idempotency_key:
            self._done[key] = ref
            while len(self._done) > self._cache_size:
                self._done.popitem(last=False)
        return ref

    async def update_alert(self, route: Route, external_ref: str, alert: Alert) -> None:
        data = _parse_ref(external_ref)
        used = self.config.routes.get(str(data.get("r") or "")) or route
        if data.get("f") is not None and self.fallback is not None:
            await self.fallback.update_alert(used, str(data["f"]), alert)
            return
        for number in used.whatsapp_numbers:
            to = Address.phone(normalise_number(number))
            text = render_alert(alert)
            last = (used.id, alert.case, to.value)
            if self._last_card.get(last) == text:
                continue
            try:
                await self.channel.deliver_to(
                    to, self._card(to, alert), tag=f"card:{alert.case}", use_template=False
                )
            except GraphError as err:
                self.channel.counters["alert_update_failed"] += 1
                log.warning("whatsapp: alert update for %s not sent (%s)", alert.case, err)
                continue
            self._remember_card(last, text)

    # -- internals ----------------------------------------------------------------------

    async def _send(self, route: Route, alert: Alert, chain: list[str]) -> str:
        wamids: list[str] = []
        transient: GraphError | None = None
        for number in route.whatsapp_numbers:
            to = Address.phone(normalise_number(number))
            tag = f"card:{alert.case}" if alert.kind == "alert" else None
            try:
                outcome = await self.channel.deliver_to(to, self._bodies(to, alert), tag=tag)
            except RetriesExhausted as err:
                transient = err
                self.channel.counters["alerts_failed"] += 1
                log.warning("whatsapp: alert %s to a cadre number failed (%s)", alert.case, err)
                continue
            except GraphError as err:
                self.channel.counters["alerts_unreachable"] += 1
                log.warning(
                    "whatsapp: alert %s: a cadre number is unreachable (%s)", alert.case, err
                )
                continue
            if isinstance(outcome, Delivered):
                wamids.append(outcome.message_ids[-1] if outcome.message_ids else "sent")
                self.channel.counters["alerts_sent"] += 1
                if alert.kind == "alert":
                    self._remember_card((route.id, alert.case, to.value), render_alert(alert))
            elif isinstance(outcome, HeldForReply):
                wamids.append("held:" + outcome.template_message_id)
                self.channel.counters["alerts_held_template"] += 1
            else:
                self.channel.counters["alerts_held_no_template"] += 1
        if wamids:
            return _ref(route.id, wamids)
        if transient is not None:
            raise AlertNotDelivered(f"alert {alert.case}: WhatsApp failed ({transient})")
        nxt = next_route(self.config, route.id, chain)
        target = self.config.routes.get(nxt) if nxt else None
        if target is None:
            raise AlertNotDelivered(
                f"alert {alert.case}: no reachable destination on route {route.id or '(none)'} "
                "or its fallback chain"
            )
        self.channel.counters["alerts_fallback_route"] += 1
        log.warning(
            "whatsapp: alert %s could not reach route %s (window closed, no template): sending "
            "it to fallback route %s",
            alert.case,
            route.id,
            target.id,
        )
        if self.fallback is None:
            chain.append(target.id)
            return await self._send(target, alert, chain)
        return _ref(target.id, [], await self.fallback.send_alert(target, alert))

    def _bodies(self, to: Address, alert: Alert) -> list[dict[str, Any]]:
        if alert.kind == "alert":
            return self._card(to, alert)
        return self.channel.bodies(to, [Reply(render_alert(alert))])

    def _card(self, to: Address, alert: Alert) -> list[dict[str, Any]]:
        text = render_alert(alert)
        choices: list[Choice] = []
        if self.channel.cadres is not None and alert.status != "closed":
            if alert.status == "open":
                choices.append(Choice(f"ambil {alert.case}", "Ambil"))
            if alert.contact_ok and not alert.resident_left:
                choices.append(Choice(f"hubungi {alert.case}", "Hubungi warga"))
            choices.append(Choice(f"selesai {alert.case}", "Selesai"))
        return self.channel.bodies(to, [Reply(text, tuple(choices), CADRE_NODE)])

    def _remember_card(self, key: tuple[str, str, str], text: str) -> None:
        self._last_card[key] = text
        self._last_card.move_to_end(key)
        while len(self._last_card) > self._cache_size:
            self._last_card.popitem(last=False)
