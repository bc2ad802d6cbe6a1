"""Cadre alerts to WhatsApp numbers, and what cadres can do from WhatsApp.

`WhatsAppAlertSender` implements bot/alerts.py's `AlertSender` for routes with
`whatsapp_numbers` (attached to the runtime's `RoutingAlertSender` as "whatsapp"):

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

`CadreCommands` reads messages from cadre numbers (listed in the routes): the card's
buttons and short commands (`ambil TJ-XXXX`, `hubungi TJ-XXXX`, `catatan TJ-XXXX teks`,
`selesai TJ-XXXX [hasil]`, `akhiri TJ-XXXX`, `daftar KODE`, `TJ-XXXX teks` for the relay)
and calls bot/cadre.py's `CadreDesk`, which checks that the number belongs to a route the
case was alerted to.
"""

from __future__ import annotations

import json
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from bot.alerts import OUTCOME_LABELS, Alert, AlertSender, render_alert
from bot.config import Config, Route
from flows.messages import Choice, Reply

from .address import Address
from .channel import WhatsAppChannel, address_for, normalise_number
from .client import GraphError, RetriesExhausted
from .parse import InboundMessage
from .window import Delivered, HeldForReply

log = logging.getLogger(__name__)

CADRE_NODE = "kader"  # the node part of the ids of buttons we put under case cards
CASE_RE = re.compile(r"\bTJ-[23456789A-Z]{4}\b", re.IGNORECASE)

#: Short list-row titles (≤ 24) for the outcomes; the long labels go in the description.
OUTCOME_TITLES = {
    "contacted": "Sudah dihubungi",
    "referred_puskesmas": "Dirujuk ke puskesmas",
    "referred_rsj": "Dirujuk ke RSJ / RS",
    "emergency_services": "Ke layanan darurat",
    "no_response": "Tidak ada tanggapan",
    "false_alarm": "Bukan keadaan krisis",
}

CADRE_HELP = (
    "Perintah kader (ganti TJ-XXXX dengan kode kasus):\n"
    "• *ambil TJ-XXXX*: ambil kasus\n"
    "• *hubungi TJ-XXXX*: minta izin warga untuk mengobrol lewat bot\n"
    "• *TJ-XXXX pesan Anda*: kirim pesan ke warga (setelah warga setuju)\n"
    "• *akhiri TJ-XXXX*: akhiri obrolan\n"
    "• *catatan TJ-XXXX teks*: simpan catatan\n"
    "• *selesai TJ-XXXX*: tutup kasus\n"
    "• *daftar KODE*: daftar dengan kode undangan"
)
NO_DESK = "Perintah kader belum aktif di server ini. Hubungi operator."


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
        from bot.escalation import next_route

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


# -- cadre commands ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Command:
    verb: str
    case: str | None = None
    rest: str = ""


_VERBS = {
    "ambil": "claim",
    "hubungi": "relay",
    "catatan": "note",
    "selesai": "resolve",
    "tutup": "resolve",
    "akhiri": "end",
    "daftar": "register",
    "bantuan": "help",
    "help": "help",
    "kader": "help",
}


def parse_command(text: str) -> _Command | None:
    """`ambil TJ-7K3Q`, `catatan TJ-7K3Q teks`, `TJ-7K3Q teks` (relay) … or None."""
    words = text.strip().split(maxsplit=1)
    if not words:
        return None
    first = words[0].lower().lstrip("/")
    rest = words[1] if len(words) > 1 else ""
    if first in _VERBS:
        verb = _VERBS[first]
        if verb == "register":
            return _Command(verb, None, rest.strip())
        match = CASE_RE.match(rest.strip())
        if match is None:
            return _Command(verb) if verb == "help" else _Command("help", None, first)
        return _Command(verb, match.group(0).upper(), rest.strip()[match.end() :].strip())
    match = CASE_RE.match(text.strip())
    if match is not None:
        return _Command("say", match.group(0).upper(), text.strip()[match.end() :].strip(" :"))
    return None


class CadreCommands:
    """Messages from cadre numbers → `CadreDesk` actions (install with `attach_cadres`)."""

    def __init__(self, channel: WhatsAppChannel, desk: Any) -> None:
        self.channel = channel
        self.desk = desk

    async def handle(self, message: InboundMessage) -> None:
        from bot.cadre import CadreIdentity

        number = normalise_number(message.wa_id or message.user_ref)
        actor = CadreIdentity("whatsapp", number, f"Kader WA …{number[-4:]}")
        inbound = message.inbound
        if inbound.choice is not None:
            command = parse_command(inbound.choice) if inbound.node == CADRE_NODE else None
        elif inbound.text is not None:
            command = parse_command(inbound.text)
        else:
            command = None
        self.channel.counters["cadre_messages"] += 1
        if command is None and inbound.text:
            command = await self._relay_default(actor, inbound.text)
        replies, messages = await self._run(command, actor)
        if replies:
            await self.channel.send_replies(message.reply_to, replies)
        for outbound in messages:
            await self.channel.route_outbound(outbound)

    async def _relay_default(self, actor: Any, text: str) -> _Command | None:
        """Plain text from a cadre in exactly one active relay goes to that resident."""
        active = [code for code, state in await self.desk.relays_of(actor) if state == "active"]
        return _Command("say", active[0], text.strip()) if len(active) == 1 else None

    async def _run(self, command: _Command | None, actor: Any) -> tuple[list[Reply], list[Any]]:
        if command is None or command.verb == "help":
            return [Reply(CADRE_HELP)], []
        desk, case = self.desk, command.case or ""
        if command.verb == "claim":
            result = await desk.claim(case, actor)
        elif command.verb == "relay":
            result = await desk.request_relay(case, actor)
        elif command.verb == "note":
            result = await desk.note(case, actor, command.rest)
        elif command.verb == "end":
            result = await desk.end_relay(case, actor)
        elif command.verb == "register":
            result = await desk.register(command.rest, actor)
        elif command.verb == "say":
            result = await desk.relay_to_resident(case, actor, command.rest)
        else:  # resolve
            outcome = _outcome(command.rest)
            if outcome is None:
                return [_outcome_menu(case)], []
            note = command.rest.split(maxsplit=1)[1] if " " in command.rest.strip() else None
            result = await desk.resolve(case, actor, outcome, note)
        self.channel.counters[f"cadre_{command.verb}_{'ok' if result.ok else 'refused'}"] += 1
        replies = [Reply(result.reply)] if result.reply else []
        return replies, list(result.messages)


def _outcome(rest: str) -> str | None:
    word = rest.strip().split(maxsplit=1)[0].lower() if rest.strip() else ""
    if word in OUTCOME_LABELS:
        return word
    if word.isdigit() and 1 <= int(word) <= len(OUTCOME_LABELS):
        return list(OUTCOME_LABELS)[int(word) - 1]
    return None


def _outcome_menu(case: str) -> Reply:
    choices = tuple(
        Choice(f"selesai {case} {key}", OUTCOME_TITLES.get(key, key), description=label)
        for key, label in OUTCOME_LABELS.items()
    )
    return Reply(f"Bagaimana hasil kasus {case}? Pilih satu.", choices, CADRE_NODE)


def install_whatsapp_cadres(channel: WhatsAppChannel, desk: Any) -> CadreCommands:
    """Turn on cadre commands for the numbers in the routes (desk: EscalationKit.desk)."""
    commands = CadreCommands(channel, desk)
    channel.attach_cadres(commands)
    return commands


__all__ = [
    "CADRE_NODE",
    "AlertNotDelivered",
    "CadreCommands",
    "WhatsAppAlertSender",
    "address_for",
    "install_whatsapp_cadres",
    "parse_command",
]
