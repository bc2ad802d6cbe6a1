"""A high-risk series whose last check-in went unanswered: a low-urgency task for the cadres.

It becomes a case like any other (so it is delivered through the outbox and the dispatcher
as a card, claimed, resolved and counted): level "check" (the slowest deadline), source
"followup_unanswered", on the route of the resident's original case, without any contact
address or identity. If the resident has an open case already, that case gets a note and
its cards are updated instead.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from bot.cases.routing import new_case_code, queue_updates, route_id_for_area, sla_minutes
from bot.config import Config
from storage import cases
from storage.followups import Series

log = logging.getLogger(__name__)

SOURCE = "followup_unanswered"
ITEM = "Sapaan lanjutan"
WHAT = "sapaan terakhir tidak dijawab"


async def flag_unanswered(tx: Any, config: Config, series: Series, now: datetime) -> str:
    """Write the task; returns its case code."""
    open_case = await cases.open_case_for(tx, series.user_key)
    if open_case is not None:
        await cases.update_case(tx, open_case.id, items={**open_case.items, ITEM: WHAT},
                                updated_at=now)
        await cases.add_event(tx, open_case.id, series.user_key, now, "followup_unanswered",
                              WHAT)
        await queue_updates(tx, open_case.id, open_case.code, now)
        return open_case.code
    code = new_case_code()
    while await cases.code_taken(tx, code):
        code = new_case_code()
    route = series.route if series.route in config.routes else route_id_for_area(
        config, series.area or None)
    area = series.area if any(a.id == series.area for a in config.areas) else None
    case_id = await cases.insert_case(
        tx,
        code=code,
        user_key=series.user_key,
        status="open",
        level="check",
        category=series.category if series.category in _CATEGORIES else "suicide",
        source=SOURCE,
        items={ITEM: WHAT},
        area=area,
        route=route,
        deadline_at=now + timedelta(minutes=sla_minutes(config, "check")),
        created_at=now,
        updated_at=now,
    )
    detail = f"check {series.category or 'suicide'} {SOURCE} → {route or '(no route)'}"
    await cases.add_event(tx, case_id, series.user_key, now, "created", detail)
    await cases.enqueue(tx, case_id, code, route, "alert", "new", now)
    log.info("case %s: a high-risk follow-up went unanswered (task for route %s)", code,
             route or "(none)")
    return code


_CATEGORIES = ("suicide", "self_harm", "violence", "abuse", "psychosis")
