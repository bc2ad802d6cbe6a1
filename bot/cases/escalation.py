"""Escalation: crisis events become disclosures, a case and its alert, in the turn's transaction.

Its handlers are given to `Conversations` when bot/app.py builds it; everything runs
inside the one storage transaction of the resident's turn, before any reply is returned,
so the bot never tells a resident "a cadre is being told" without the alert being durable
(transactional outbox: the `outbox` row is delivered by bot/cases/dispatcher.py, which
survives restarts).

- `crisis_detected` (level, category, source, subject, about, continues): one
  **disclosure** — what was disclosed, about whom (`subject` self/other; `about` child,
  friend, family, neighbour), its safety answers, the hotlines shown, its own
  share-my-words answer and its words. `continues` (the same disclosure typed again
  inside the running protocol) adds to the latest one instead. Without an open case the
  disclosure waits for the protocol's outcome (a check-level sign before the ASQ answers);
  when the run ends without a case it is deleted (`observe`). With an open case it joins
  the case at once: the card is edited and a short notice is posted under it ("something
  new arrived"), unless a higher level re-alerts the whole card anyway.
- `escalate` (level, category, source, subject, about): one open case per resident. A new
  case gets a short code ("TJ-7K3Q"), the area's route (`Config.route_for_area`, else the
  default route), a deadline for the fallback chain, an outbox row, and the waiting
  disclosures; the effect emits `escalation_created`. On an open case a higher level
  re-alerts (`escalation_upgraded`); otherwise what is new is merged and the card edited.
  The disclosure it concerns (same category and person) takes the level: a check-level
  sign raised to high by the ASQ answers keeps the words of the message that started it.
- `case_update` (contact_ok, share_words, safe_now, with_someone, talk_safe, abuser_near,
  injured, needs_care, person_safe, with_person, danger_now, anyone_hurt, reporter_safe,
  asq_declined, about): safety answers go to the latest disclosure (the latest values of
  safe_now/with_someone also to the case). contact_ok: true seals the resident's contact
  address (channel + platform id) on the case for the relay; false deletes it.
  share_words answers for every disclosure not yet asked: true queues each one's words as
  a separate "words" delivery (then wiped), false wipes them at once.
- Who reads shared words: the cadres of every route the case was alerted to (the area's
  cadre group or numbers, and the supervisor's once the case was raised there), as a
  message under the card. The crisis flow tells the resident exactly this.
- The words: the service passes the message that set off the crisis detector (in memory
  only) to `escalate`/`crisis_detected`; it is Fernet-sealed before it touches the database.
- `delete_requested`: cases are anonymised (storage.cases.forget_user), a live relay ends
  and its cadre is told.
- As a turn observer (`observe`): in every turn's transaction, an open case's "last
  replied" time and the hotlines the bot showed are kept up to date. (A resident in a
  relay with a cadre is handled before the engine by bot/cases/desk.py.)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.cases.cards import format_time
from bot.cases.desk import CadreDesk
from bot.cases.routing import (
    LEVELS,
    level_or_high,
    new_case_code,
    queue_updates,
    route_id_for_area,
    sla_minutes,
)
from bot.config import Config
from bot.conversations import EffectContext, EffectHandler
from bot.crypto import Sealer
from flows.messages import Event, Reply
from flows.runtime import Engine
from flows.session import Session
from storage import cases

log = logging.getLogger(__name__)

WORDS_LIMIT = 2000  # characters of one disclosure's words kept for the cadre
ASQ_ITEMS = 5
SKIPPED = {"lewati", "skip"}  # profile answers that mean "not given"
# Safety answers the crisis flow reports with `case_update` (labels: bot/cases/cards.py).
ANSWERS = (
    "safe_now",
    "with_someone",
    "talk_safe",
    "abuser_near",
    "injured",
    "needs_care",
    "person_safe",
    "with_person",
    "danger_now",
    "anyone_hurt",
    "reporter_safe",
    "asq_declined",
)
CASE_ANSWERS = ("safe_now", "with_someone")  # also kept on the case: the latest values
ABOUT = ("child", "friend", "family", "neighbour", "other")


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "ya", "yes", "1"):
            return True
        if lowered in ("false", "tidak", "no", "0"):
            return False
    return None


def _rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else LEVELS.index("high")


def _level(value: Any) -> str:
    """A disclosure's level: check stays check; anything unknown is high."""
    return value if value in LEVELS else "high"


def _subject(value: Any) -> str:
    return "other" if value == "other" else "self"


def _about(value: Any) -> str:
    return value if value in ABOUT else ""


def items_from_session(session: Session, source: str, crisis_flow: str) -> dict[str, Any]:
    """Item answers the cadre should see: the screening item that led here, and ASQ answers
    (of the innermost running crisis protocol)."""
    items: dict[str, Any] = {}
    match = re.fullmatch(r"([a-z0-9]+)_item(\d+)", source or "")
    for frame in session.stack:
        if match and frame.flow == match.group(1) and f"item{match.group(2)}" in frame.vars:
            items[f"{match.group(1).upper()} butir {match.group(2)}"] = frame.vars[
                f"item{match.group(2)}"
            ]
    crisis = [f for f in session.stack if f.flow == crisis_flow]
    if crisis:
        for i in range(1, ASQ_ITEMS + 1):
            value = crisis[-1].vars.get(f"asq{i}")
            if value is not None:
                items[f"ASQ {i}"] = "ya" if value in (1, True, "ya") else "tidak"
    return items


class Escalations:
    """The effect handlers for escalation, and a turn observer (module docstring)."""

    def __init__(self, engine: Engine, config: Config, sealer: Sealer, desk: CadreDesk):
        self.engine = engine
        self.config = config
        self.sealer = sealer
        self.desk = desk  # the relay, ended when the resident declines contact or leaves
        self.crisis_flow = engine.content.role("crisis")
        self._hotline_texts = {
            hid: (engine.settings.hotline_texts.get(hid) or h.text, h.name)
            for hid, h in engine.content.hotlines.items()
        }

    def effects(self) -> dict[str, EffectHandler]:
        """The engine events this module handles, for `Conversations(effects=...)`."""
        return {
            "escalate": self.on_escalate,
            "case_update": self.on_case_update,
            "crisis_detected": self.on_crisis_detected,
            "delete_requested": self.on_delete,
        }

    def _area(self, profile: dict[str, Any]) -> str | None:
        """The resident's area if it is one of the deployment's (not "lewati", not stale)."""
        area = profile.get("area")
        return area if any(a.id == area for a in self.config.areas) else None

    @staticmethod
    def _age_group(profile: dict[str, Any]) -> str | None:
        age = profile.get("age_group")
        return str(age) if age and age not in SKIPPED else None

    # ------------------------------------------------------------------ what the bot said
    def hotlines_in(self, replies: Sequence[Reply]) -> list[str]:
        """Names of the hotlines whose text the bot showed in these replies."""
        text = "\n".join(r.text for r in replies)
        return [name for body, name in self._hotline_texts.values() if body and body in text]

    @staticmethod
    def _merge(old: Sequence[str], new: Sequence[str]) -> list[str]:
        merged = list(old)
        merged.extend(n for n in new if n not in merged)
        return merged

    # ------------------------------------------------------------------ disclosures
    async def _disclosures(
        self, tx: Any, user_key: str, case: cases.CaseRow | None
    ) -> list[cases.DisclosureRow]:
        """The disclosures the resident's next answer can concern: the open case's, or
        those of a protocol still running without a case."""
        if case is not None:
            return await cases.disclosures_of_case(tx, case.id)
        return await cases.pending_disclosures(tx, user_key)

    @staticmethod
    def _matching(
        disclosures: Sequence[cases.DisclosureRow], category: str, subject: str
    ) -> cases.DisclosureRow | None:
        for disclosure in reversed(disclosures):
            if disclosure.category == category and disclosure.subject == subject:
                return disclosure
        return None

    async def on_crisis_detected(self, ctx: EffectContext, event: Event) -> list[Event]:
        """A crisis protocol run starts (or a disclosure is typed again inside one)."""
        data = event.data
        level = _level(data.get("level"))
        category = str(data.get("category") or "suicide")
        subject = _subject(data.get("subject"))
        said = self.hotlines_in(ctx.replies)
        case = await cases.open_case_for(ctx.tx, ctx.user_key)
        known = await self._disclosures(ctx.tx, ctx.user_key, case)
        same = self._matching(known, category, subject) if data.get("continues") else None
        if same is not None:
            changes: dict[str, Any] = {"hotlines": self._merge(same.hotlines, said)}
            if _rank(level) > _rank(same.level):
                changes["level"] = level
            await cases.update_disclosure(ctx.tx, same.id, **changes)
            if ctx.inbound_text:
                await self.keep_words(ctx, case, same, ctx.inbound_text)
            if case is not None:
                await queue_updates(ctx.tx, case.id, case.code, ctx.now)
            return []
        disclosure_id = await cases.insert_disclosure(
            ctx.tx,
            user_key=ctx.user_key,
            case_id=case.id if case else None,
            at=ctx.now,
            level=level,
            category=category,
            source=str(data.get("source") or "flow"),
            subject=subject,
            about=_about(data.get("about")),
            hotlines=said,
        )
        disclosure = await cases.disclosure_by_id(ctx.tx, disclosure_id)
        assert disclosure is not None
        if ctx.inbound_text:
            await self.keep_words(ctx, case, disclosure, ctx.inbound_text)
        if case is not None:
            await self._new_disclosure_on_case(ctx, case, disclosure, said)
        return []

    async def _new_disclosure_on_case(
        self,
        ctx: EffectContext,
        case: cases.CaseRow,
        disclosure: cases.DisclosureRow,
        said: list[str],
    ) -> None:
        """Never a silent merge: the card is edited and its cadres get a short notice —
        unless the disclosure's level will re-alert the whole card (`on_escalate`)."""
        await cases.update_case(
            ctx.tx, case.id, bot_said=self._merge(case.bot_said, said), updated_at=ctx.now
        )
        await cases.add_event(
            ctx.tx,
            case.id,
            ctx.user_key,
            ctx.now,
            "disclosure",
            f"{disclosure.level} {disclosure.category} {disclosure.source} "
            f"subject={disclosure.subject}",
        )
        upgrade = disclosure.level in ("high", "urgent") and _rank(disclosure.level) > _rank(
            case.level
        )
        if not upgrade:
            for route in await cases.routes_alerted(ctx.tx, case.id) or [case.route]:
                await cases.enqueue(
                    ctx.tx, case.id, case.code, route, "notice", "disclosure", ctx.now
                )
        await queue_updates(ctx.tx, case.id, case.code, ctx.now)

    # ------------------------------------------------------------------ escalate
    async def on_escalate(self, ctx: EffectContext, event: Event) -> list[Event]:
        data = event.data
        level = level_or_high(data.get("level"))
        category = str(data.get("category") or "suicide")
        source = str(data.get("source") or "flow")
        subject = _subject(data.get("subject"))
        profile = ctx.session.profile
        items = items_from_session(ctx.session, source, self.crisis_flow)
        said = self.hotlines_in(ctx.replies)
        case = await cases.open_case_for(ctx.tx, ctx.user_key)
        known = await self._disclosures(ctx.tx, ctx.user_key, case)
        target = self._matching(known, category, subject)
        if target is None:  # an escalate without its crisis entry (e.g. an older session)
            target_id = await cases.insert_disclosure(
                ctx.tx,
                user_key=ctx.user_key,
                case_id=case.id if case else None,
                at=ctx.now,
                level=level,
                category=category,
                source=source,
                subject=subject,
                about=_about(data.get("about")),
                hotlines=said,
            )
            found = await cases.disclosure_by_id(ctx.tx, target_id)
            assert found is not None
            target = found
            if case is not None:
                await self._new_disclosure_on_case(ctx, case, target, said)
        await cases.update_disclosure(
            ctx.tx,
            target.id,
            level=level if _rank(level) > _rank(target.level) else target.level,
            answers={**target.answers, **items},
            hotlines=self._merge(target.hotlines, said),
        )
        if case is None:
            shown = [name for d in known for name in d.hotlines]
            return await self._create(
                ctx, level, category, source, items, self._merge(shown, said), profile
            )
        changes: dict[str, Any] = {
            "items": {**case.items, **items},
            "bot_said": self._merge(case.bot_said, said),
            "age_group": self._age_group(profile) or case.age_group,
            "area": self._area(profile) or case.area,
            "updated_at": ctx.now,
        }
        if _rank(level) <= _rank(level_or_high(case.level)):
            await cases.update_case(ctx.tx, case.id, **changes)
            await cases.add_event(
                ctx.tx,
                case.id,
                ctx.user_key,
                ctx.now,
                "escalate_repeat",
                f"{level} {category} {source}",
            )
            await queue_updates(ctx.tx, case.id, case.code, ctx.now)
            return []
        deadline = ctx.now + timedelta(minutes=sla_minutes(self.config, level))
        if case.status == "open" and case.deadline_at is not None:
            deadline = min(deadline, case.deadline_at)
        changes.update(
            level=level,
            category=category,
            source=source,
            deadline_at=deadline if case.status == "open" else case.deadline_at,
        )
        await cases.update_case(ctx.tx, case.id, **changes)
        await cases.add_event(
            ctx.tx,
            case.id,
            ctx.user_key,
            ctx.now,
            "upgraded",
            f"{case.level} → {level} ({category}, {source})",
        )
        await cases.enqueue(ctx.tx, case.id, case.code, case.route, "alert", "upgrade", ctx.now)
        await queue_updates(ctx.tx, case.id, case.code, ctx.now)
        return [
            Event("escalation_upgraded", {"case": case.code, "level": level, "category": category})
        ]

    async def _create(
        self,
        ctx: EffectContext,
        level: str,
        category: str,
        source: str,
        items: dict[str, Any],
        said: list[str],
        profile: dict[str, Any],
    ) -> list[Event]:
        code = new_case_code()
        while await cases.code_taken(ctx.tx, code):
            code = new_case_code()
        route = route_id_for_area(self.config, self._area(profile))
        pregnant = profile.get("pregnant")
        case_id = await cases.insert_case(
            ctx.tx,
            code=code,
            user_key=ctx.user_key,
            status="open",
            level=level,
            category=category,
            source=source,
            items=items,
            age_group=self._age_group(profile),
            area=self._area(profile),
            pregnant=None if pregnant is None else _as_bool(pregnant),
            bot_said=said,
            route=route,
            deadline_at=ctx.now + timedelta(minutes=sla_minutes(self.config, level)),
            created_at=ctx.now,
            updated_at=ctx.now,
            last_reply_at=ctx.now,
        )
        await cases.attach_pending(ctx.tx, ctx.user_key, case_id)
        await cases.add_event(
            ctx.tx,
            case_id,
            ctx.user_key,
            ctx.now,
            "created",
            f"{level} {category} {source} → {route or '(no route)'}",
        )
        await cases.enqueue(ctx.tx, case_id, code, route, "alert", "new", ctx.now)
        log.info("case %s created (%s, %s) for route %s", code, level, category, route or "(none)")
        return [Event("escalation_created", {"case": code, "level": level, "category": category})]

    # ------------------------------------------------------------------ words
    async def keep_words(
        self,
        ctx: EffectContext,
        case: cases.CaseRow | None,
        disclosure: cases.DisclosureRow,
        text: str,
    ) -> None:
        """Seal the message that set off the detector onto its disclosure, with its time."""
        if disclosure.share_words is False:
            return  # the resident said no for this disclosure: nothing more is kept
        current = await cases.disclosure_by_id(ctx.tx, disclosure.id)
        sealed = current.words_enc if current else None
        before = self.sealer.open(sealed) if sealed else None
        line = f"[{format_time(ctx.now, self.config.tz)}] {text}"
        words = f"{before}\n{line}" if before else line
        await cases.update_disclosure(
            ctx.tx,
            disclosure.id,
            words_enc=self.sealer.seal(words[-WORDS_LIMIT:]),
            words_state="held",
        )
        if case is None:
            return
        await cases.add_event(
            ctx.tx,
            case.id,
            ctx.user_key,
            ctx.now,
            "words_kept",
            "sealed" if disclosure.share_words else "sealed; waiting for consent",
        )
        if disclosure.share_words:
            await self.queue_words(ctx.tx, case, disclosure.id, ctx.now)

    async def queue_words(
        self, tx: Any, case: cases.CaseRow, disclosure_id: int, now: datetime
    ) -> None:
        """One words delivery per route the case was alerted to (a reply under its card)."""
        for target in await cases.routes_alerted(tx, case.id) or [case.route]:
            await cases.enqueue(
                tx, case.id, case.code, target, "words", "words", now, disclosure_id
            )

    async def _share(
        self, ctx: EffectContext, case: cases.CaseRow, share: bool
    ) -> list[str]:
        """The share-my-words answer, for every disclosure of the case not yet asked."""
        notes = []
        for disclosure in await cases.disclosures_of_case(ctx.tx, case.id):
            if disclosure.share_words is not None:
                continue
            if share:
                await cases.update_disclosure(ctx.tx, disclosure.id, share_words=True)
                if disclosure.words_enc is not None:
                    await self.queue_words(ctx.tx, case, disclosure.id, ctx.now)
                notes.append(f"share_words=yes #{disclosure.id}")
            else:
                await cases.update_disclosure(
                    ctx.tx,
                    disclosure.id,
                    share_words=False,
                    words_enc=None,
                    words_state="declined" if disclosure.words_state in ("held", "none")
                    else disclosure.words_state,
                )
                await cases.cancel_words(ctx.tx, disclosure.id)
                notes.append(f"share_words=no #{disclosure.id} (words wiped)")
        return notes

    # ------------------------------------------------------------------ case_update
    async def on_case_update(self, ctx: EffectContext, event: Event) -> list[Event]:
        data = event.data
        case = await cases.open_case_for(ctx.tx, ctx.user_key)
        known = await self._disclosures(ctx.tx, ctx.user_key, case)
        latest = known[-1] if known else None
        answers = {
            name: value
            for name in ANSWERS
            if name in data and (value := _as_bool(data.get(name))) is not None
        }
        if latest is not None:
            changes: dict[str, Any] = {}
            source = case.source if case else latest.source
            items = items_from_session(ctx.session, source, self.crisis_flow)
            if answers or items:
                changes["answers"] = {**latest.answers, **items, **answers}
            if "about" in data:
                changes["about"] = _about(data.get("about"))
            if data.get("subject") in ("self", "other"):
                changes["subject"] = data["subject"]
                if data["subject"] == "self":
                    changes["about"] = ""
            said = self.hotlines_in(ctx.replies)
            if said:
                changes["hotlines"] = self._merge(latest.hotlines, said)
            await cases.update_disclosure(ctx.tx, latest.id, **changes)
        if case is None:
            if latest is None:
                log.info("case_update without an open case: nothing to update")
            return []
        changes = {"updated_at": ctx.now}
        notes: list[str] = [f"{name}={'yes' if value else 'no'}" for name, value in answers.items()]
        contact = _as_bool(data.get("contact_ok")) if "contact_ok" in data else None
        if contact is True:
            changes.update(
                contact_ok=True,
                contact_enc=self.sealer.seal_json(
                    {"channel": ctx.channel, "id": ctx.platform_user_id}
                ),
            )
            notes.append("contact_ok=yes")
        elif contact is False:
            changes.update(contact_ok=False, contact_enc=None)
            notes.append("contact_ok=no")
            ctx.outbound.extend(
                await self.desk.end_relays_of_case(ctx.tx, case, ctx.now, "resident_declined")
            )
        share = _as_bool(data.get("share_words")) if "share_words" in data else None
        if share is not None:
            changes["share_words"] = share
            notes.extend(await self._share(ctx, case, share))
        for name in CASE_ANSWERS:
            if name in answers:
                changes[name] = answers[name]
        items = items_from_session(ctx.session, case.source, self.crisis_flow)
        changes["items"] = {**case.items, **items}
        changes["bot_said"] = self._merge(case.bot_said, self.hotlines_in(ctx.replies))
        await cases.update_case(ctx.tx, case.id, **changes)
        await cases.add_event(
            ctx.tx, case.id, ctx.user_key, ctx.now, "case_update", ", ".join(notes)
        )
        await queue_updates(ctx.tx, case.id, case.code, ctx.now)
        return []

    async def on_delete(self, ctx: EffectContext, event: Event) -> list[Event]:
        case = await cases.open_case_for(ctx.tx, ctx.user_key)
        relays = await cases.forget_user(ctx.tx, ctx.user_key, ctx.now)
        for relay in relays:
            code = case.code if case and case.id == relay.case_id else ""
            ctx.outbound.extend(self.desk.tell_cadre_relay_over(relay, code, "resident_deleted"))
        if case is not None:  # the card says the resident can no longer be reached
            await queue_updates(ctx.tx, case.id, case.code, ctx.now)
        return []

    # ------------------------------------------------------------------ every turn
    async def observe(self, ctx: EffectContext, events: list[Event]) -> None:
        """In every turn's transaction: the open case's "last replied" and hotlines shown;
        a protocol run that ended without a case leaves nothing behind. Residents the store
        knows have no case and no pending disclosure cost nothing here."""
        if not self.desk.store.may_have_case(ctx.user_key):
            return
        await cases.touch_last_reply(ctx.tx, ctx.user_key, ctx.now)
        said = self.hotlines_in(ctx.replies)
        case = await cases.open_case_for(ctx.tx, ctx.user_key)
        if case is not None:
            if said and set(said) - set(case.bot_said):
                await cases.update_case(ctx.tx, case.id, bot_said=self._merge(case.bot_said, said))
            return
        pending = await cases.pending_disclosures(ctx.tx, ctx.user_key)
        if not pending:
            return
        if not any(frame.flow == self.crisis_flow for frame in ctx.session.stack):
            await cases.delete_pending(ctx.tx, ctx.user_key)
        elif said:
            latest = pending[-1]
            await cases.update_disclosure(
                ctx.tx, latest.id, hotlines=self._merge(latest.hotlines, said)
            )
