"""One offer after a resolved case: when a cadre resolves the case of a resident who agreed
to be contacted through the bot, the bot asks them later whether it may check in.

The desk (bot/cases/desk.py) calls `on_case_resolved` inside the resolve transaction,
before the case's sealed contact address is wiped. The address moves, still sealed, to a
follow-up row of status "offered" with one check-in of step 0 (the offer flow), due an
hour later inside the sending hours. It is deleted when the resident says no, does not
answer within `answer_days`, stops, or deletes their data; it stays only if they agree.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from bot.config import Config
from bot.crypto import Sealer
from bot.followups.effects import DELIVERABLE
from bot.followups.schedule import next_allowed
from flows.runtime import Engine
from storage import cases, followups

log = logging.getLogger(__name__)

OFFER_DELAY = timedelta(hours=1)  # not in the same minute as the cadre's last message


class CaseOffers:
    def __init__(self, engine: Engine, config: Config, sealer: Sealer,
                 deliverable: tuple[str, ...] = DELIVERABLE):
        self.engine = engine
        self.config = config
        self.sealer = sealer
        self.deliverable = deliverable

    async def on_case_resolved(self, tx: Any, case: cases.CaseRow, now: datetime) -> None:
        settings = self.engine.content.followups
        if settings is None or case.user_key is None or not case.contact_ok:
            return
        if not case.contact_enc or case.source.startswith("followup"):
            return  # no address, or the case was itself about a follow-up
        if case.age_group in self.engine.content.system.minor_age_groups:
            return
        address = self.sealer.open_json(case.contact_enc)
        if not isinstance(address, dict) or address.get("channel") not in self.deliverable:
            return
        existing = await followups.series_of(tx, case.user_key)
        if existing is not None and existing.status in ("active", "declined"):
            return  # already checked in on, or said no recently
        series_id = await followups.start_series(
            tx,
            user_key=case.user_key,
            status="offered",
            kind="crisis",
            category=case.category,
            source="case_resolved",
            route=case.route,
            area=case.area or "",
            address_enc=bytes(case.contact_enc),
            now=now,
        )
        due = next_allowed(now + OFFER_DELAY, self.config.tz, settings)
        await followups.add_checkin(tx, series_id, case.user_key, 0, True, due)
        await cases.add_event(tx, case.id, case.user_key, now, "followup_offer_scheduled",
                              "the bot will ask the resident about check-ins")
        log.info("case %s resolved: a follow-up offer is scheduled", case.code)
