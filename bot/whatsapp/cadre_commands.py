"""What cadres can do from WhatsApp: messages from the routes' cadre numbers become
`CadreDesk` actions (bot/cases/desk.py), which check that the number belongs to a route the
case was alerted to.

The card's buttons and short commands: `ambil TJ-XXXX`, `hubungi TJ-XXXX`,
`catatan TJ-XXXX teks`, `selesai TJ-XXXX [hasil]`, `akhiri TJ-XXXX`, `daftar KODE`, and
`TJ-XXXX teks` (or plain text in exactly one active relay) for the relay. `handle` returns
the replies for the cadre and the messages to deliver; the channel sends them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from bot.cases.cards import OUTCOME_LABELS
from bot.cases.desk import CadreDesk, CadreIdentity
from bot.config import normalise_number
from bot.conversations import Outbound
from flows.messages import Choice, Reply

from .parse import InboundMessage

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
    """Messages from cadre numbers → `CadreDesk` actions (module docstring)."""

    def __init__(self, desk: CadreDesk, counters: Counter[str]) -> None:
        self.desk = desk
        self.counters = counters  # the channel's, shown on /healthz

    async def handle(self, message: InboundMessage) -> tuple[list[Reply], list[Outbound]]:
        """The replies for the cadre and the messages to deliver (to the resident)."""
        number = normalise_number(message.wa_id or message.user_ref)
        actor = CadreIdentity("whatsapp", number, f"Kader WA …{number[-4:]}")
        inbound = message.inbound
        if inbound.choice is not None:
            command = parse_command(inbound.choice) if inbound.node == CADRE_NODE else None
        elif inbound.text is not None:
            command = parse_command(inbound.text)
        else:
            command = None
        self.counters["cadre_messages"] += 1
        if command is None and inbound.text:
            command = await self._relay_default(actor, inbound.text)
        return await self._run(command, actor)

    async def _relay_default(self, actor: CadreIdentity, text: str) -> _Command | None:
        """Plain text from a cadre in exactly one active relay goes to that resident."""
        active = [code for code, state in await self.desk.relays_of(actor) if state == "active"]
        return _Command("say", active[0], text.strip()) if len(active) == 1 else None

    async def _run(
        self, command: _Command | None, actor: CadreIdentity
    ) -> tuple[list[Reply], list[Outbound]]:
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
        self.counters[f"cadre_{command.verb}_{'ok' if result.ok else 'refused'}"] += 1
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
