"""Follow-ups inside the resident's turn: effect handlers for the follow-up events and a
turn observer, given to `Conversations` by bot/app.py. Everything runs in the turn's one
transaction, so "the bot said it will check in" and "the series is stored" commit together.

- `followup_offered` (kind, source): counted.
- `followup_accepted` (kind, category, source): the series is scheduled (content's days,
  inside its sending hours) and the platform address is sealed (bot/crypto.py). Only on a
  channel the bot can write to first, never for a minor (data of children needs a
  parent's consent). A crisis series is never replaced by a distress one.
- `followup_declined`: a "no" without any address, so the bot does not ask again for
  `ask_again_days`; a pending offer after a resolved case loses its address.
- `followup_answered` (checkin, last): the check-in is answered; after the last one the
  series and its address are deleted.
- `followup_stopped` (the stop button), `stop_requested` ("berhenti" anywhere) and
  `consent_withdrawn`: the series and its address are deleted at once. (/hapus deletes
  them with everything else: storage.group_commit.USER_TABLES.)
- observer: a check-in answered with crisis words is an answer too; a case opened or
  raised while the resident is in a check-in is counted as "escalated from a check-in".
"""

from __future__ import annotations

import logging
from typing import Any

from bot.cases.routing import route_id_for_area
from bot.config import Config
from bot.conversations import EffectContext, EffectHandler
from bot.crypto import Sealer
from bot.followups.counting import count
from bot.followups.schedule import series_times
from bot.rights.counting import area_of
from flows.followups import KINDS, FollowupSettings
from flows.messages import Event
from flows.runtime import Engine
from flows.session import Session
from storage import cases, followups

log = logging.getLogger(__name__)

DELIVERABLE = ("telegram", "whatsapp")  # channels the bot can write to first
ESCALATIONS = ("escalation_created", "escalation_upgraded")


def checkin_frame(session: Session, flow_id: str) -> int | None:
    """The id of the check-in the resident is answering (its flow is on their stack)."""
    for frame in reversed(session.stack):
        if frame.flow == flow_id:
            value = frame.vars.get("checkin")
            return value if isinstance(value, int) and not isinstance(value, bool) else None
    return None


def _as_id(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "ya", "1")


class Followups:
    """The follow-up effect handlers and observer (module docstring)."""

    def __init__(self, engine: Engine, config: Config, sealer: Sealer,
                 deliverable: tuple[str, ...] = DELIVERABLE):
        self.engine = engine  # the live content: followups.yaml may change while running
        self.config = config
        self.sealer = sealer
        self.deliverable = deliverable

    @property
    def settings(self) -> FollowupSettings | None:
        return self.engine.content.followups

    def effects(self) -> dict[str, EffectHandler]:
        """The engine events this module handles, for `Conversations(effects=...)`."""
        return {
            "followup_offered": self.on_offered,
            "followup_accepted": self.on_accepted,
            "followup_declined": self.on_declined,
            "followup_answered": self.on_answered,
            "followup_stopped": self.on_stopped,
            "stop_requested": self.on_stopped,
            "consent_withdrawn": self.on_stopped,
        }

    async def _count(self, ctx: EffectContext, stage: str, kind: str) -> None:
        await count(ctx.tx, self.config.tz, ctx.now, stage, kind, area_of(ctx.session.profile))

    @staticmethod
    def _kind(event: Event) -> str:
        kind = str(event.data.get("kind") or "")
        return kind if kind in KINDS else KINDS[0]

    # ------------------------------------------------------------------ the offer
    async def on_offered(self, ctx: EffectContext, event: Event) -> list[Event]:
        await self._count(ctx, "offered", self._kind(event))
        return []

    async def on_accepted(self, ctx: EffectContext, event: Event) -> list[Event]:
        settings = self.settings
        kind = self._kind(event)
        minors = self.engine.content.system.minor_age_groups
        if settings is None:
            log.error("followup_accepted but the content has no followups.yaml: nothing stored")
            return []
        if ctx.session.profile.get("age_group") in minors:
            log.error("followup_accepted from a minor: refused (no address stored); the offer "
                      "flow must not ask minors")
            return []
        if ctx.channel not in self.deliverable:
            log.info("followup_accepted on %s: the bot cannot write first there", ctx.channel)
            return []
        existing = await followups.series_of(ctx.tx, ctx.user_key)
        if existing and existing.status == "active" and existing.kind == "crisis" \
                and kind != "crisis":
            return []  # a crisis series already runs; a distress one would check in less
        case = await cases.open_case_for(ctx.tx, ctx.user_key)
        area = area_of(ctx.session.profile)
        route = case.route if case else route_id_for_area(self.config, area or None)
        category = str(event.data.get("category") or (case.category if case else "") or "")
        series_id = await followups.start_series(
            ctx.tx,
            user_key=ctx.user_key,
            status="active",
            kind=kind,
            category=category,
            source=str(event.data.get("source") or ""),
            route=route,
            area=area,
            address_enc=self.sealer.seal_json({"channel": ctx.channel,
                                               "id": ctx.platform_user_id}),
            now=ctx.now,
        )
        days = settings.plan(kind).days
        times = series_times(ctx.now, days, self.config.tz, settings)
        for step, due in enumerate(times, start=1):
            await followups.add_checkin(ctx.tx, series_id, ctx.user_key, step,
                                        step == len(times), due)
        await self._count(ctx, "accepted", kind)
        log.info("follow-up series (%s) scheduled: %d check-ins", kind, len(times))
        return []

    async def on_declined(self, ctx: EffectContext, event: Event) -> list[Event]:
        kind = self._kind(event)
        existing = await followups.series_of(ctx.tx, ctx.user_key)
        if existing is None or existing.status != "active":
            # Remember the "no" (no address), replacing a pending offer and its address.
            await followups.start_series(ctx.tx, user_key=ctx.user_key, status="declined",
                                         kind=kind, now=ctx.now, address_enc=None,
                                         source=str(event.data.get("source") or ""))
        await self._count(ctx, "declined", kind)
        return []

    # ------------------------------------------------------------------ the check-ins
    async def on_answered(self, ctx: EffectContext, event: Event) -> list[Event]:
        checkin = _as_id(event.data.get("checkin"))
        series = await followups.series_of(ctx.tx, ctx.user_key)
        if checkin and await followups.mark_answered(ctx.tx, checkin, ctx.user_key, ctx.now):
            await self._count(ctx, "answered", series.kind if series else KINDS[0])
        if series is not None and _truthy(event.data.get("last")):
            await followups.end_series(ctx.tx, ctx.user_key)
            log.info("follow-up series ended: the last check-in was answered")
        return []

    async def on_stopped(self, ctx: EffectContext, event: Event) -> list[Event]:
        series = await followups.end_series(ctx.tx, ctx.user_key)
        if series is not None and series.status in ("active", "offered"):
            await self._count(ctx, "stopped", series.kind)
            log.info("follow-up series stopped by the resident (%s)", event.name)
        return []

    # ------------------------------------------------------------------ every turn
    async def observe(self, ctx: EffectContext, events: list[Event]) -> None:
        """A check-in answered with crisis words counts as answered; a case opened or raised
        while the resident is in a check-in counts once as escalated from it."""
        settings = self.settings
        names = {e.name for e in events}
        if settings is None or not names & {"crisis_detected", *ESCALATIONS}:
            return
        checkin = checkin_frame(ctx.session, settings.checkin_flow)
        if checkin is None:
            return
        series = await followups.series_of(ctx.tx, ctx.user_key)
        kind = series.kind if series else KINDS[0]
        if "crisis_detected" in names and await followups.mark_answered(
                ctx.tx, checkin, ctx.user_key, ctx.now):
            await self._count(ctx, "answered", kind)
        if names & set(ESCALATIONS):
            marked = await followups.mark_escalated(ctx.tx, checkin, ctx.user_key)
            if marked or (series is None and "escalation_created" in names):
                await self._count(ctx, "escalated", kind)
