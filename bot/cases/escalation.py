"""Escalation: an `escalate` event becomes a case and its cadre alert, in the turn's transaction.

Its handlers are given to `Conversations` when bot/app.py builds it; everything runs
inside the one storage transaction of the resident's turn, before any reply is returned,
so the bot never tells a resident "a cadre is being told" without the alert being durable
(transactional outbox: the `outbox` row is delivered by bot/cases/dispatcher.py, which
survives restarts).

- `escalate` (level, category, source): one open case per resident. A new case gets a short
  code ("TJ-7K3Q"), the area's route (`Config.route_for_area`, else the default route), a
  deadline for the fallback chain, and an outbox row; the effect emits
  `escalation_created` (case, level, category). A second `escalate` for the same open case
  raises its level if higher (re-alerting, `escalation_upgraded`), otherwise only merges
  what is new.
- `case_update` (contact_ok, share_words, safe_now, with_someone) updates the open case.
  contact_ok: true seals the resident's contact address (channel + platform id) on the case
  for the relay; false deletes it. share_words: true queues the resident's own words for the
  cadre (a separate "words" delivery, then wiped); false wipes them at once.
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

WORDS_LIMIT = 2000  # characters of the resident's words kept for the cadre
ASQ_ITEMS = 5
SKIPPED = {"lewati", "skip"}  # profile answers that mean "not given"


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


def items_from_session(session: Session, source: str, crisis_flow: str) -> dict[str, Any]:
    """Item answers the cadre should see: the screening item that led here, and ASQ answers."""
    items: dict[str, Any] = {}
    match = re.fullmatch(r"([a-z0-9]+)_item(\d+)", source or "")
    for frame in session.stack:
        if match and frame.flow == match.group(1) and f"item{match.group(2)}" in frame.vars:
            items[f"{match.group(1).upper()} butir {match.group(2)}"] = frame.vars[
                f"item{match.group(2)}"
            ]
        if frame.flow == crisis_flow:
            for i in range(1, ASQ_ITEMS + 1):
                value = frame.vars.get(f"asq{i}")
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
        self._first_node_hotlines = self._crisis_start_hotlines()

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
    def _crisis_start_hotlines(self) -> list[str]:
        """Hotlines the crisis flow's first node always shows (the linter requires some)."""
        content = self.engine.content
        flow = content.flows.get(self.crisis_flow)
        node = flow.nodes.get(flow.start) if flow else None
        names: list[str] = []
        for template in node.say if node else ():
            for name in template.names:
                kind, _dot, ident = name.partition(".")
                ids = (
                    [ident]
                    if kind == "hotline"
                    else list(content.hotline_groups.get(ident, ()))
                    if kind == "hotlines"
                    else []
                )
                for hid in ids:
                    if hid in self._hotline_texts:
                        names.append(self._hotline_texts[hid][1])
        return names

    def hotlines_in(self, replies: Sequence[Reply]) -> list[str]:
        text = "\n".join(r.text for r in replies)
        return [name for body, name in self._hotline_texts.values() if body and body in text]

    @staticmethod
    def _merge(old: Sequence[str], new: Sequence[str]) -> list[str]:
        merged = list(old)
        merged.extend(n for n in new if n not in merged)
        return merged

    # ------------------------------------------------------------------ effects
    async def on_escalate(self, ctx: EffectContext, event: Event) -> list[Event]:
        data = event.data
        level = level_or_high(data.get("level"))
        category = str(data.get("category") or "suicide")
        source = str(data.get("source") or "flow")
        profile = ctx.session.profile
        items = items_from_session(ctx.session, source, self.crisis_flow)
        said = self.hotlines_in(ctx.replies)
        case = await cases.open_case_for(ctx.tx, ctx.user_key)
        if case is None:
            return await self._create(ctx, level, category, source, items, said, profile)
        changes: dict[str, Any] = {
            "items": {**case.items, **items},
            "bot_said": self._merge(case.bot_said, said),
            "age_group": self._age_group(profile) or case.age_group,
            "area": self._area(profile) or case.area,
            "updated_at": ctx.now,
        }
        if LEVELS.index(level) <= LEVELS.index(level_or_high(case.level)):
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
            bot_said=self._merge(self._first_node_hotlines, said),
            route=route,
            deadline_at=ctx.now + timedelta(minutes=sla_minutes(self.config, level)),
            created_at=ctx.now,
            updated_at=ctx.now,
            last_reply_at=ctx.now,
        )
        await cases.add_event(
            ctx.tx,
            case_id,
            ctx.user_key,
            ctx.now,
            "created",
            f"{level} {category} {source} → {route or '(no route)'}",
        )
        await cases.enqueue(ctx.tx, case_id, code, route, "alert", "new", ctx.now)
        if ctx.inbound_text:
            case = await cases.case_by_id(ctx.tx, case_id)
            assert case is not None
            await self.keep_words(ctx, case, ctx.inbound_text)
        log.info("case %s created (%s, %s) for route %s", code, level, category, route or "(none)")
        return [Event("escalation_created", {"case": code, "level": level, "category": category})]

    async def on_crisis_detected(self, ctx: EffectContext, event: Event) -> list[Event]:
        """Crisis words while a case is already open: keep them (sealed) for the cadre."""
        if not ctx.inbound_text:
            return []
        case = await cases.open_case_for(ctx.tx, ctx.user_key)
        if case is not None:
            await self.keep_words(ctx, case, ctx.inbound_text)
        return []

    async def keep_words(self, ctx: EffectContext, case: cases.CaseRow, text: str) -> None:
        if case.share_words is False:
            return  # the resident said no: nothing of what they type is kept
        before = self.sealer.open(case.words_enc) if case.words_enc else None
        words = f"{before}\n— {text}" if before else text
        words = words[-WORDS_LIMIT:]
        await cases.update_case(
            ctx.tx,
            case.id,
            words_enc=self.sealer.seal(words),
            words_state="held",
            updated_at=ctx.now,
        )
        await cases.add_event(
            ctx.tx,
            case.id,
            ctx.user_key,
            ctx.now,
            "words_kept",
            "sealed; waiting for consent" if not case.share_words else "sealed",
        )
        if case.share_words:
            await self.queue_words(ctx.tx, case.id, case.code, case.route, ctx.now)

    async def queue_words(
        self, tx: Any, case_id: int, code: str, route: str, now: datetime
    ) -> None:
        for target in await cases.routes_alerted(tx, case_id) or [route]:
            await cases.enqueue(tx, case_id, code, target, "words", "words", now)

    async def on_case_update(self, ctx: EffectContext, event: Event) -> list[Event]:
        case = await cases.open_case_for(ctx.tx, ctx.user_key)
        if case is None:
            log.info("case_update without an open case: nothing to update")
            return []
        data = event.data
        changes: dict[str, Any] = {"updated_at": ctx.now}
        notes: list[str] = []
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
        if share is True:
            changes["share_words"] = True
            notes.append("share_words=yes")
            if case.words_enc is not None:
                await self.queue_words(ctx.tx, case.id, case.code, case.route, ctx.now)
        elif share is False:
            changes.update(
                share_words=False,
                words_enc=None,
                words_state=(
                    "declined" if case.words_state in ("held", "none") else case.words_state
                ),
            )
            await cases.cancel_pending(ctx.tx, case.id, ("words",))
            notes.append("share_words=no (words wiped)")
        for name in ("safe_now", "with_someone"):
            value = _as_bool(data.get(name)) if name in data else None
            if value is not None:
                changes[name] = value
                notes.append(f"{name}={'yes' if value else 'no'}")
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
        """In every turn's transaction: the open case's "last replied" and hotlines shown."""
        await cases.touch_last_reply(ctx.tx, ctx.user_key, ctx.now)
        said = self.hotlines_in(ctx.replies)
        if said:
            case = await cases.open_case_for(ctx.tx, ctx.user_key)
            if case is not None and set(said) - set(case.bot_said):
                await cases.update_case(ctx.tx, case.id, bot_said=self._merge(case.bot_said, said))
