"""What cadres (kader kesehatan jiwa) can do with a case, independent of the channel.

Channels (Telegram cadre group buttons Ambil / Catatan / Selesai / Hubungi, WhatsApp
numbers, `temanjiwa cases` for operators) build a `CadreIdentity` for whoever acted and
call a `CadreDesk` method; each returns an `ActionResult`: a short `reply` for the acting
cadre and `messages` (`bot.conversations.Outbound`) the channel must deliver now, e.g. to the
resident in a relay. Changes to the case card go through the outbox (the dispatcher edits
the posted alerts), so they are not in `messages`.

Authorised: the operator CLI; whoever acts from the Telegram group of a route the case was
alerted to (`actor.chat_id`, which the channel sets only from the update's real chat); a
WhatsApp number listed in such a route; or a cadre registered with a one-time invite
(`temanjiwa cases invite`), limited to their route if the invite named one. Anything else
is refused and logged in `case_events` with an HMAC of the actor, never the platform id.

The relay: `request_relay` asks the resident through the bot ("a cadre wants to talk with
you here, ok?"); only after they accept do `relay_to_resident` and the resident's own
messages (forwarded by `resident_turn`, which `Conversations` calls before the engine)
pass between them. Relay messages are never stored or logged. Either side ends it
(`end_relay`, or the resident typing "selesai"); resolving the case, the resident
declining contact or deleting their data end it too. The resident's contact address is
sealed on the case only while they agree to contact and the case is open; the cadre's
address is sealed on the relay row, which is deleted when the relay ends.

A resident whose number changes (`move_resident`, WhatsApp's `user_changed_number`) takes
everything with them: their open case (its contact address re-sealed for the new number)
and its relay follow, so the cadre goes on talking with the same person.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.cases.cards import OUTCOME_LABELS, build_alert, format_time, render_alert
from bot.cases.routing import new_invite_code, queue_updates
from bot.config import Config, normalise_number
from bot.conversations import Clock, Intercept, Outbound, Turn, utc_now
from bot.crypto import Sealer
from flows.messages import Choice, Event, Inbound, Reply
from flows.runtime import CRISIS_SCAN_LIMIT, Engine
from flows.text import normalise_answer
from storage import cases, residents
from storage.base import Store
from storage.keys import user_key

log = logging.getLogger(__name__)

OUTCOMES = tuple(OUTCOME_LABELS)
RELAY_NODE = "relay.request"  # the node id of the "may a cadre talk with you?" buttons
RELAY_REQUEST_TTL = timedelta(hours=24)
RELAY_TEXT_LIMIT = 3500
NOTE_LIMIT = 500
ACCEPT_WORDS = {"terima", "/terima"}
DECLINE_WORDS = {"tolak", "/tolak"}
END_WORDS = {"selesai", "/selesai", "akhiri", "/akhiri"}
INVITE_HOURS = 72

# What the resident reads comes from content/id/system.yaml (`texts: relay_*`).
ACCEPT, DECLINE = "terima", "tolak"  # the ids of the two buttons of the request

# Cadre-facing texts
TO_CADRE = "💬 {code}: {text}"
TO_CADRE_CRISIS = (
    "⚠️ {code}: pesan ini berisi tanda krisis; bot sudah menampilkan nomor "
    "darurat kepada warga.\n💬 {code}: {text}"
)
RELAY_OVER_TO_CADRE = {
    "accepted": (
        "✅ {code}: warga bersedia mengobrol. Tulis pesan Anda di sini; pesan diteruskan "
        "tanpa identitas dan tidak disimpan."
    ),
    "declined": "{code}: warga belum mau mengobrol sekarang.",
    "resident": "{code}: warga mengakhiri obrolan.",
    "resident_stop": "{code}: warga mengetik 'stop'; obrolan berakhir.",
    "resident_deleted": "{code}: warga menghapus datanya; obrolan berakhir.",
    "resident_declined": "{code}: warga tidak lagi mau dihubungi; obrolan berakhir.",
    "expired": "{code}: permintaan obrolan tidak dijawab dalam 24 jam dan dibatalkan.",
    "number_reassigned": (
        "{code}: nomor WhatsApp warga kini dipakai percakapan lain; obrolan berakhir."
    ),
}
NOT_ALLOWED = "Tidak bisa: kasus tidak ditemukan, atau Anda tidak berwenang untuk kasus ini."


@dataclass(frozen=True)
class CadreIdentity:
    """Who acts. Built by a channel from the update; `user_id` is never stored in clear.

    `chat_id`: the group chat the action came from (Telegram callback/message in a cadre
    group) — set it only from the platform update, never from what someone typed. The
    channel "cli" means the operator (`temanjiwa cases`); no channel may use it for others.
    """

    channel: str  # "telegram" | "whatsapp" | "cli"
    user_id: str
    name: str = ""
    chat_id: int | str | None = None


OPERATOR = CadreIdentity("cli", "operator", "Operator")


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    reply: str  # for the acting cadre (callback answer / DM)
    messages: tuple[Outbound, ...] = ()  # deliver these now (resident, or the other side)
    case: str | None = None
    error: str | None = None  # not_allowed | closed | already_claimed | no_contact | no_relay
    #                          | relay_pending | bad_outcome | empty | bad_invite


@dataclass(frozen=True)
class Unreachable:
    """A resident with an open case can no longer be reached (they blocked the bot)."""

    case: str
    notices: tuple[Outbound, ...]  # for the cadre of a relay that ended
    card_refs: tuple[str, ...]  # external refs of the case's posted cards


REACHABILITY = ("resident_unreachable", "resident_reachable")


@dataclass(frozen=True)
class ResidentMoved:
    """What `move_resident` did."""

    moved: bool  # something was keyed to the old id (False: a repeated notice, or a stranger)
    replaced: bool = False  # the new id's earlier rows were removed first (storage/residents.py)
    case: str | None = None  # the open case that followed the resident
    notices: tuple[Outbound, ...] = ()  # for cadres whose relay on the new id's case ended


@dataclass(frozen=True)
class _Actor:
    key: str
    name: str
    operator: bool


_Work = Callable[[Any, cases.CaseRow, _Actor, datetime], Awaitable[ActionResult]]
# Runs inside the resolve transaction with the case as it was (e.g. a follow-up offer).
ResolvedHook = Callable[[Any, cases.CaseRow, datetime], Awaitable[None]]


class CadreDesk:
    def __init__(
        self,
        store: Store,
        config: Config,
        secret: bytes,
        sealer: Sealer,
        *,
        engine: Engine,
        clock: Clock = utc_now,
        on_resolved: ResolvedHook | None = None,
    ):
        self.store = store
        self.config = config
        self.secret = secret
        self.sealer = sealer
        self.clock = clock
        self.engine = engine  # the live content: texts, crisis detector and commands
        self.on_resolved = on_resolved  # in the resolve transaction (bot/followups/offers.py)

    def text(self, key: str) -> str:
        """A resident-facing text from the content being served (system.yaml)."""
        return self.engine.system_text(key)

    # ------------------------------------------------------------------ identity
    def actor_key(self, actor: CadreIdentity) -> str:
        return user_key(self.secret, f"cadre-{actor.channel}", str(actor.user_id))

    async def _authorise(
        self, tx: Any, actor: CadreIdentity, case: cases.CaseRow | None
    ) -> _Actor | None:
        key = self.actor_key(actor)
        if actor.channel == "cli":
            return _Actor(key, actor.name or "Operator", True)
        if case is None:
            return None
        if case.claimed_by is not None and case.claimed_by == key:
            # the cadre who claimed it (authorised then), e.g. now in a private chat
            return _Actor(key, case.claimed_name or actor.name or "kader", False)
        routes = {*await cases.routes_alerted(tx, case.id), case.route}
        for route_id in routes:
            route = self.config.routes.get(route_id)
            if route is None:
                continue
            if (
                actor.channel == "telegram"
                and actor.chat_id is not None
                and route.telegram_chat_id is not None
                and str(actor.chat_id) == str(route.telegram_chat_id)
            ):
                return _Actor(key, actor.name or "kader", False)
            if actor.channel == "whatsapp" and normalise_number(actor.user_id) in {
                normalise_number(n) for n in route.whatsapp_numbers
            }:
                return _Actor(key, actor.name or "kader", False)
        cadre = await cases.cadre_by_key(tx, key)
        if cadre is not None and (cadre.route is None or cadre.route in routes):
            return _Actor(key, cadre.name, False)
        return None

    async def _refuse(
        self, tx: Any, actor: CadreIdentity, case: cases.CaseRow | None, action: str, code: str
    ) -> ActionResult:
        short = self.actor_key(actor)[:16]
        await cases.add_event(
            tx,
            case.id if case else None,
            case.user_key if case else None,
            self.clock(),
            "refused",
            f"{action} {code[:12]} via {actor.channel}",
            actor=short,
        )
        log.warning(
            "refused %s on %s by unauthorised %s actor %s", action, code[:12], actor.channel, short
        )
        return ActionResult(False, NOT_ALLOWED, error="not_allowed")

    async def _case_for(
        self, tx: Any, code: str, actor: CadreIdentity, action: str
    ) -> tuple[cases.CaseRow | None, _Actor | None, ActionResult | None]:
        case = await cases.case_by_code(tx, code)
        who = await self._authorise(tx, actor, case)
        if case is None or who is None:
            return None, None, await self._refuse(tx, actor, case, action, code)
        return case, who, None

    # ------------------------------------------------------------------ claim / note / resolve
    async def _act(
        self, case_code: str, actor: CadreIdentity, action: str, work: _Work, *, claim: bool
    ) -> ActionResult:
        """What every case action shares: one transaction, the case by its code, the actor
        authorised (a refusal is logged), with `claim` the case claimed first; then `work`.
        The result is returned only once the transaction has committed."""
        now = self.clock()
        async with self.store.transaction() as tx:
            case, who, refused = await self._case_for(tx, case_code, actor, action)
            if refused:
                return refused
            assert case and who
            if claim:
                refused = await self._claim(tx, case, who, now)
                if refused is not None:
                    return refused
            return await work(tx, case, who, now)

    async def claim(self, case_code: str, actor: CadreIdentity) -> ActionResult:
        async def claimed(tx: Any, case: cases.CaseRow, who: _Actor, now: datetime) -> ActionResult:
            hint = (
                "Warga setuju dihubungi lewat bot: tekan Hubungi."
                if case.contact_ok
                else "Warga belum/tidak setuju dihubungi lewat bot."
            )
            return ActionResult(True, f"Kasus {case.code} Anda ambil. {hint}", case=case.code)

        return await self._act(case_code, actor, "claim", claimed, claim=True)

    async def _claim(
        self, tx: Any, case: cases.CaseRow, who: _Actor, now: datetime
    ) -> ActionResult | None:
        """Claim the case for `who` (already theirs: nothing to do); a refusal, or None."""
        if not case.is_open:
            return ActionResult(
                False, f"Kasus {case.code} sudah selesai.", case=case.code, error="closed"
            )
        if case.status == "claimed":
            if case.claimed_by == who.key:
                return None
            if not who.operator:
                return ActionResult(
                    False,
                    f"Kasus {case.code} sudah diambil oleh {case.claimed_name}.",
                    case=case.code,
                    error="already_claimed",
                )
        await cases.update_case(
            tx,
            case.id,
            status="claimed",
            claimed_by=who.key,
            claimed_name=who.name,
            claimed_at=now,
            deadline_at=None,
            updated_at=now,
        )
        await cases.add_event(
            tx, case.id, case.user_key, now, "claimed", who.name, actor=who.key[:16]
        )
        await queue_updates(tx, case.id, case.code, now)
        return None

    async def note(self, case_code: str, actor: CadreIdentity, text: str) -> ActionResult:
        text = " ".join(text.split())[:NOTE_LIMIT]

        async def noted(tx: Any, case: cases.CaseRow, who: _Actor, now: datetime) -> ActionResult:
            if not text:
                return ActionResult(False, "Catatan kosong.", case=case.code, error="empty")
            await cases.add_event(tx, case.id, case.user_key, now, "note", text, actor=who.key[:16])
            await queue_updates(tx, case.id, case.code, now)
            return ActionResult(True, f"Catatan untuk {case.code} disimpan.", case=case.code)

        return await self._act(case_code, actor, "note", noted, claim=False)

    async def resolve(
        self, case_code: str, actor: CadreIdentity, outcome: str, note: str | None = None
    ) -> ActionResult:
        if outcome not in OUTCOMES:
            return ActionResult(
                False, "Hasil harus salah satu dari: " + ", ".join(OUTCOMES), error="bad_outcome"
            )

        async def resolved(
            tx: Any, case: cases.CaseRow, who: _Actor, now: datetime
        ) -> ActionResult:
            messages = await self.end_relays_of_case(tx, case, now, "cadre")
            if self.on_resolved is not None:  # before the contact address is wiped
                await self.on_resolved(tx, case, now)
            await cases.update_case(
                tx,
                case.id,
                status="closed",
                outcome=outcome,
                closed_at=now,
                deadline_at=None,
                contact_enc=None,
                words_enc=None,
                updated_at=now,
                words_state="wiped" if case.words_state == "held" else case.words_state,
            )
            await cases.wipe_case_words(tx, case.id)
            await cases.cancel_pending(tx, case.id, ("alert", "words", "notice"))
            if note:
                await cases.add_event(
                    tx,
                    case.id,
                    case.user_key,
                    now,
                    "note",
                    " ".join(note.split())[:NOTE_LIMIT],
                    actor=who.key[:16],
                )
            await cases.add_event(
                tx, case.id, case.user_key, now, "resolved", outcome, actor=who.key[:16]
            )
            await queue_updates(tx, case.id, case.code, now)
            label = OUTCOME_LABELS[outcome]
            return ActionResult(
                True, f"Kasus {case.code} selesai: {label}.", tuple(messages), case=case.code
            )

        return await self._act(case_code, actor, "resolve", resolved, claim=True)

    # ------------------------------------------------------------------ relay, cadre side
    async def request_relay(self, case_code: str, actor: CadreIdentity) -> ActionResult:
        async def requested(
            tx: Any, case: cases.CaseRow, who: _Actor, now: datetime
        ) -> ActionResult:
            if who.operator and actor.channel == "cli":
                return ActionResult(
                    False,
                    "Obrolan hanya dari Telegram/WhatsApp kader.",
                    case=case.code,
                    error="no_channel",
                )
            address = self.sealer.open_json(case.contact_enc) if case.contact_enc else None
            if not case.contact_ok or not address or case.user_key is None:
                return ActionResult(
                    False,
                    f"{case.code}: warga belum atau tidak setuju dihubungi lewat bot.",
                    case=case.code,
                    error="no_contact",
                )
            refused = await self._claim(tx, case, who, now)
            if refused is not None:
                return refused
            relay = await cases.relay_for_case(tx, case.id)
            if relay is not None and relay.cadre_key != who.key:
                return ActionResult(
                    False,
                    f"{case.code}: kader lain sedang mengobrol dengan warga.",
                    case=case.code,
                    error="already_claimed",
                )
            if relay is not None and relay.state == "active":
                return ActionResult(True, f"{case.code}: obrolan sudah aktif.", case=case.code)
            if relay is None:
                await cases.insert_relay(
                    tx,
                    case.id,
                    case.user_key,
                    who.key,
                    who.name,
                    self.sealer.seal_json({"channel": actor.channel, "id": str(actor.user_id)}),
                    now,
                )
            await cases.add_event(
                tx, case.id, case.user_key, now, "relay_requested", actor=who.key[:16]
            )
            await queue_updates(tx, case.id, case.code, now)
            choices = (
                Choice(ACCEPT, self.text("relay_accept_button")),
                Choice(DECLINE, self.text("relay_decline_button")),
            )
            ask = Outbound(
                address["channel"], address["id"], self.text("relay_ask"), choices, RELAY_NODE
            )
            return ActionResult(
                True,
                f"{case.code}: warga sedang ditanya apakah mau mengobrol. "
                "Anda akan diberi tahu jawabannya.",
                (ask,),
                case=case.code,
            )

        return await self._act(case_code, actor, "relay", requested, claim=False)

    async def relay_to_resident(
        self, case_code: str, actor: CadreIdentity, text: str
    ) -> ActionResult:
        """Forward a cadre's message to the resident (never stored)."""
        text = text.strip()[:RELAY_TEXT_LIMIT]
        async with self.store.transaction() as tx:
            case = await cases.case_by_code(tx, case_code)
            relay = await cases.relay_for_case(tx, case.id) if case else None
            if case is None or relay is None or relay.cadre_key != self.actor_key(actor):
                return await self._refuse(tx, actor, case, "relay_message", case_code)
            if relay.state != "active":
                return ActionResult(
                    False,
                    f"{case.code}: warga belum menerima obrolan.",
                    case=case.code,
                    error="relay_pending",
                )
            address = self.sealer.open_json(case.contact_enc) if case.contact_enc else None
        if not address:
            return ActionResult(
                False,
                f"{case.code}: alamat warga tidak tersedia.",
                case=case.code,
                error="no_contact",
            )
        if not text:
            return ActionResult(False, "Pesan kosong.", case=case.code, error="empty")
        message = Outbound(
            address["channel"], address["id"], f"{self.text('relay_from_cadre')} {text}"
        )
        return ActionResult(True, "", (message,), case=case.code)

    async def end_relay(self, case_code: str, actor: CadreIdentity) -> ActionResult:
        now = self.clock()
        async with self.store.transaction() as tx:
            case = await cases.case_by_code(tx, case_code)
            relay = await cases.relay_for_case(tx, case.id) if case else None
            operator = actor.channel == "cli"
            if (
                case is None
                or relay is None
                or not (operator or relay.cadre_key == self.actor_key(actor))
            ):
                return await self._refuse(tx, actor, case, "end_relay", case_code)
            messages = await self.end_relays_of_case(tx, case, now, "cadre")
        return ActionResult(
            True, f"{case.code}: obrolan diakhiri.", tuple(messages), case=case.code
        )

    async def relays_of(self, actor: CadreIdentity) -> list[tuple[str, str]]:
        """(case code, state) of the relays this cadre runs: where their DM text should go."""
        async with self.store.transaction() as tx:
            return await cases.relays_of_cadre(tx, self.actor_key(actor))

    async def end_relays_of_case(
        self, tx: Any, case: cases.CaseRow, now: datetime, why: str
    ) -> list[Outbound]:
        """End the case's relay (if any) inside `tx`; returns the notices to deliver."""
        relay = await cases.relay_for_case(tx, case.id)
        if relay is None:
            return []
        await cases.delete_relay(tx, relay.id)
        await cases.add_event(tx, case.id, case.user_key, now, "relay_ended", why)
        await queue_updates(tx, case.id, case.code, now)
        messages: list[Outbound] = []
        if why == "cadre":
            address = self.sealer.open_json(case.contact_enc) if case.contact_enc else None
            if address and relay.state == "active":
                messages.append(
                    Outbound(address["channel"], address["id"], self.text("relay_ended_by_cadre"))
                )
        else:
            messages.extend(self.tell_cadre_relay_over(relay, case.code, why))
        return messages

    def tell_cadre_relay_over(self, relay: cases.RelayRow, code: str, why: str) -> list[Outbound]:
        address = self.sealer.open_json(relay.cadre_enc)
        if not address:
            return []
        text = RELAY_OVER_TO_CADRE.get(why, "{code}: obrolan berakhir.").format(code=code)
        return [Outbound(address["channel"], address["id"], text)]

    # ------------------------------------------------------------------ relay, resident side
    async def resident_turn(
        self, channel: str, platform_user_id: str, key: str, inbound: Inbound, now: datetime
    ) -> Intercept | None:
        """Called by `Conversations` before the engine, for every resident message."""
        has_case = self.store.may_have_case(key)  # False: no relay either, skip the lookup
        relay = await cases.relay_for_user(self.store.reader, key) if has_case else None
        if relay is None:
            if inbound.choice is not None and inbound.node == RELAY_NODE:
                return Intercept(Turn([Reply(self.text("relay_stale"))], [], key))
            return None
        if relay.state == "requested":
            return await self._answer_request(relay, key, inbound, now)
        if inbound.choice is not None:
            if inbound.node == RELAY_NODE:
                return Intercept(Turn([Reply(self.text("relay_already_connected"))], [], key))
            return None  # buttons keep working in the flow
        text = inbound.text or ""
        if not text.strip():
            return None
        code = await self._code(relay.case_id)
        detector = self.engine.detector
        if detector is not None and detector.detect(text[:CRISIS_SCAN_LIMIT]) is not None:
            # Crisis signs: the engine runs the crisis flow (hotlines, escalate), and the
            # cadre sees the message flagged.
            return Intercept(None, self._to_cadre(relay, TO_CADRE_CRISIS, code, text))
        command = self._command(text)
        if command == "stop":
            return Intercept(None, await self._end_by_resident(relay, key, now, "resident_stop"))
        if command is not None:
            return None
        if normalise_answer(text) in END_WORDS:
            notices = await self._end_by_resident(relay, key, now, "resident")
            ended = Reply(self.text("relay_ended_by_resident"))
            return Intercept(Turn([ended], [Event("relay_ended")], key, notices))
        async with self.store.transaction() as tx:
            await cases.touch_last_reply(tx, key, now)
        return Intercept(
            Turn([], [Event("relay_forwarded")], key, self._to_cadre(relay, TO_CADRE, code, text))
        )

    async def _answer_request(
        self, relay: cases.RelayRow, key: str, inbound: Inbound, now: datetime
    ) -> Intercept | None:
        code = await self._code(relay.case_id)
        if now - relay.requested_at > RELAY_REQUEST_TTL:
            async with self.store.transaction() as tx:
                await cases.delete_relay(tx, relay.id)
                await cases.add_event(tx, relay.case_id, key, now, "relay_ended", "expired")
                await queue_updates(tx, relay.case_id, code, now)
            return Intercept(None, self.tell_cadre_relay_over(relay, code, "expired"))
        if inbound.choice is not None and inbound.node == RELAY_NODE:
            answer = inbound.choice
        elif inbound.text is not None and normalise_answer(inbound.text) in ACCEPT_WORDS:
            answer = ACCEPT
        elif inbound.text is not None and normalise_answer(inbound.text) in DECLINE_WORDS:
            answer = DECLINE
        else:
            return None  # anything else goes to the flow; the question stays open
        async with self.store.transaction() as tx:
            if answer == ACCEPT:
                await cases.activate_relay(tx, relay.id, now)
                await cases.add_event(tx, relay.case_id, key, now, "relay_accepted")
            else:
                await cases.delete_relay(tx, relay.id)
                await cases.add_event(tx, relay.case_id, key, now, "relay_declined")
            await cases.touch_last_reply(tx, key, now)
            await queue_updates(tx, relay.case_id, code, now)
        if answer == ACCEPT:
            return Intercept(
                Turn(
                    [Reply(self.text("relay_accepted"))],
                    [Event("relay_accepted")],
                    key,
                    self.tell_cadre_relay_over(relay, code, "accepted"),
                )
            )
        return Intercept(
            Turn(
                [Reply(self.text("relay_declined"))],
                [Event("relay_declined")],
                key,
                self.tell_cadre_relay_over(relay, code, "declined"),
            )
        )

    async def _end_by_resident(
        self, relay: cases.RelayRow, key: str, now: datetime, why: str
    ) -> list[Outbound]:
        code = await self._code(relay.case_id)
        async with self.store.transaction() as tx:
            await cases.delete_relay(tx, relay.id)
            await cases.add_event(tx, relay.case_id, key, now, "relay_ended", why)
            await queue_updates(tx, relay.case_id, code, now)
        return self.tell_cadre_relay_over(relay, code, why)

    def relay_to_cadre(self, relay: cases.RelayRow, code: str, text: str) -> list[Outbound]:
        """The resident's message for their cadre (never stored)."""
        return self._to_cadre(relay, TO_CADRE, code, text)

    def _to_cadre(
        self, relay: cases.RelayRow, template: str, code: str, text: str
    ) -> list[Outbound]:
        address = self.sealer.open_json(relay.cadre_enc)
        if not address:
            return []
        body = template.format(code=code, text=text.strip()[:RELAY_TEXT_LIMIT])
        return [Outbound(address["channel"], address["id"], body)]

    def _command(self, text: str) -> str | None:
        commands = self.engine.commands
        words = text.strip().split(maxsplit=1)
        first = words[0].lower().split("@", 1)[0] if words else ""
        return commands.get(normalise_answer(text)) or (
            commands.get(first) if first.startswith("/") else None
        )

    async def _code(self, case_id: int) -> str:
        case = await cases.case_by_id(self.store.reader, case_id)
        return case.code if case else "TJ-?"

    async def cadres_with_relays(self) -> set[str]:
        """Actor keys of cadres who run a relay now (a channel checks its cadres' texts)."""
        return await cases.relay_cadre_keys(self.store.reader)

    # ------------------------------------------------------------------ reachability
    async def resident_unreachable(self, user_key: str, why: str) -> Unreachable | None:
        """The resident blocked the bot: record it on their open case (once), end its relay
        and update the card. None when there is no open case or it is already recorded."""
        now = self.clock()
        async with self.store.transaction() as tx:
            case = await cases.open_case_for(tx, user_key)
            if case is None:
                return None
            marks = await cases.events_of(tx, case.id, REACHABILITY)
            if marks and marks[-1].kind == "resident_unreachable":
                return None
            await cases.add_event(tx, case.id, user_key, now, "resident_unreachable", why)
            ended = await self.end_relays_of_case(tx, case, now, "resident_unreachable")
            await queue_updates(tx, case.id, case.code, now)
            refs = [r.external_ref for r in await cases.sent_alerts(tx, case.id) if r.external_ref]
        log.info("case %s: the resident blocked the bot", case.code)
        return Unreachable(case.code, tuple(ended), tuple(refs))

    async def resident_reachable(self, user_key: str, why: str) -> None:
        """The resident unblocked the bot (or wrote again): the open case says so."""
        now = self.clock()
        async with self.store.transaction() as tx:
            case = await cases.open_case_for(tx, user_key)
            if case is None:
                return
            marks = await cases.events_of(tx, case.id, REACHABILITY)
            if not marks or marks[-1].kind != "resident_unreachable":
                return
            await cases.add_event(tx, case.id, user_key, now, "resident_reachable", why)
            await queue_updates(tx, case.id, case.code, now)

    # ------------------------------------------------------------------ number change
    async def move_resident(self, channel: str, old_id: str, new_id: str) -> ResidentMoved:
        """The resident's platform id changed (a new WhatsApp number): everything keyed to
        the old id moves to the new one in one transaction (storage/residents.py), and the
        open case's sealed contact address now names the new id. Run it while neither id
        has a turn in progress (`Conversations.exclusive`)."""
        old_key = user_key(self.secret, channel, str(old_id))
        new_key = user_key(self.secret, channel, str(new_id))
        now = self.clock()
        async with self.store.transaction() as tx:
            moved = await residents.move_user(tx, old_key, new_key, now)
            if not moved.moved:
                return ResidentMoved(False)
            notices: list[Outbound] = []
            for relay in moved.ended_relays:
                earlier = await cases.case_by_id(tx, relay.case_id)
                code = earlier.code if earlier else "TJ-?"
                notices += self.tell_cadre_relay_over(relay, code, "number_reassigned")
            case = await cases.open_case_for(tx, new_key)
            if case is not None:
                changes: dict[str, Any] = {"updated_at": now}
                if case.contact_ok and case.contact_enc is not None:
                    address = {"channel": channel, "id": str(new_id)}
                    changes["contact_enc"] = self.sealer.seal_json(address)
                await cases.update_case(tx, case.id, **changes)
                await cases.add_event(tx, case.id, new_key, now, "resident_changed_number")
        log.info(
            "a %s resident's data moved to their new id%s",
            channel,
            f" (case {case.code} follows)" if case else "",
        )
        return ResidentMoved(True, moved.replaced, case.code if case else None, tuple(notices))

    # ------------------------------------------------------------------ cadre accounts
    def _invite_hash(self, code: str) -> str:
        cleaned = "".join(ch for ch in code.upper() if ch.isalnum())
        return hmac.new(self.secret, f"invite:{cleaned}".encode(), hashlib.sha256).hexdigest()

    async def create_invite(
        self, name: str, route: str | None = None, *, hours: int = INVITE_HOURS
    ) -> str:
        """A one-time code a cadre sends to the bot (e.g. "/daftar K7QM-X2PA-9RHT")."""
        if route is not None and route not in self.config.routes:
            raise ValueError(f"'{route}' is not one of the routes in the config")
        code = new_invite_code()
        now = self.clock()
        async with self.store.transaction() as tx:
            await cases.insert_invite(
                tx,
                self._invite_hash(code),
                name.strip() or "kader",
                route,
                now,
                now + timedelta(hours=hours),
            )
            await cases.add_event(
                tx,
                None,
                None,
                now,
                "invite_created",
                f"{name.strip()} route={route or '*'}",
                actor="operator",
            )
        return code

    async def register(self, invite_code: str, actor: CadreIdentity) -> ActionResult:
        now = self.clock()
        async with self.store.transaction() as tx:
            cadre = await cases.use_invite(
                tx, self._invite_hash(invite_code), self.actor_key(actor), now
            )
            if cadre is None:
                await self._refuse(tx, actor, None, "register", "invite")
                return ActionResult(
                    False,
                    "Kode undangan tidak berlaku (salah, sudah dipakai, atau kedaluwarsa).",
                    error="bad_invite",
                )
            await cases.add_event(
                tx,
                None,
                None,
                now,
                "cadre_registered",
                f"{cadre.name} route={cadre.route or '*'}",
                actor=cadre.actor_key[:16],
            )
        return ActionResult(True, f"Terdaftar sebagai kader: {cadre.name}.")

    # ------------------------------------------------------------------ operator views
    async def list_cases(self, include_closed: bool = False) -> list[cases.CaseRow]:
        async with self.store.transaction() as tx:
            return await cases.list_cases(tx, include_closed=include_closed)

    async def show(self, case_code: str) -> str | None:
        """The case card and its event log, for operators (no words, no addresses)."""
        async with self.store.transaction() as tx:
            case = await cases.case_by_code(tx, case_code)
            if case is None:
                return None
            card = render_alert(await build_alert(tx, self.config, case))
            events = await cases.events_of(tx, case.id)
            outbox = await cases.outbox_rows(tx, case.id)
        tz = self.config.tz
        lines = [card, "", "Riwayat:"]
        lines += [f"  {format_time(e.at, tz)}  {e.kind}  {e.detail}".rstrip() for e in events]
        lines += ["", "Pengiriman:"]
        lines += [
            f"  {r.kind:<6} {r.reason:<8} {r.route or '(no route)':<14} {r.state} "
            f"(percobaan {r.attempts})"
            for r in outbox
        ]
        return "\n".join(lines)
