"""The floor of the cases package: case codes, risk levels, deadlines and where alerts go.

Everything else in `bot.cases` builds on these; this module imports nothing of theirs.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.config import Config, Route
from storage import cases

log = logging.getLogger(__name__)

LEVELS = ("check", "high", "urgent")
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud over a phone
NO_ROUTE = Route(id="", name="(rute kader belum diatur)")


def new_case_code() -> str:
    return "TJ-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(4))


def new_invite_code() -> str:
    """A one-time cadre invite such as "K7QM-X2PA-9RHT" (12 characters of the code alphabet)."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


def level_or_high(value: Any) -> str:
    """A known level, or "high" for anything else (an unknown level is never treated lightly)."""
    return value if value in LEVELS else "high"


def sla_minutes(config: Config, level: str) -> int:
    esc = config.escalation
    return {"urgent": esc.urgent_minutes, "high": esc.high_minutes}.get(level, esc.check_minutes)


def route_id_for_area(config: Config, area: str | None) -> str:
    route = config.route_for_area(area)
    return route.id if route else ""


def next_route(config: Config, current: str, visited: Sequence[str]) -> str | None:
    """The next tier of the fallback chain: the route's supervisor, else the default route."""
    route = config.routes.get(current)
    if route and route.supervisor and route.supervisor not in visited:
        return route.supervisor
    if config.default_route and config.default_route not in visited:
        return config.default_route
    return None


def route_of(config: Config, route_id: str) -> Route:
    """The route a stored case or outbox row names; the default route if it left the config."""
    route = config.routes.get(route_id) if route_id else None
    if route is None and route_id:
        log.warning("route '%s' is no longer in the config: using the default route", route_id)
        route = config.routes.get(config.default_route or "")
    return route or NO_ROUTE


async def queue_updates(tx: Any, case_id: int, code: str, now: datetime) -> None:
    """Edit the alert cards already posted for this case (one pending update per route)."""
    pending = {
        r.route
        for r in await cases.outbox_rows(tx, case_id)
        if r.kind == "update" and r.state == "pending"
    }
    for route in await cases.routes_alerted(tx, case_id):
        if route not in pending:
            await cases.enqueue(tx, case_id, code, route, "update", "change", now)
