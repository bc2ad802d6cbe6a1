"""Counting without identity (issue 7): anonymous programme counters, written in the turn.

A turn observer (`Counting.observe`, given to `Conversations` by bot/app.py) sees every
turn's events inside its storage transaction and increments the anonymous `stats` table
(storage/stats.py): screenings by instrument and band, crisis detections by category and
level, consent decisions, /hapus. Escalations, time to claim, SLA breaches and outcomes
come from the cases themselves (storage/stats.py `live_case_stats`, then `case_stats` once
retention has reduced them).

"Residents served" is counted once per resident per week and per month without storing
who was counted: the session profile keeps only the labels of the last week and month the
resident was counted in, each with the area counted under
(`_counted`: "2026-W47|desa_a|2026-11|desa_a").
A resident counted before choosing an area is moved to that area when they choose it in
the same period. Deleting one's data (/hapus) deletes the labels too, so a resident who
comes back in the same period is counted again.

"""

from __future__ import annotations

import logging
from datetime import tzinfo
from typing import Any

from bot.conversations import EffectContext
from flows.messages import Event
from storage import stats
from storage.retention import reduce_closed_cases

log = logging.getLogger(__name__)

COUNTED = "_counted"  # session profile key: "week|area|month|area" last counted
FIXED = "*"  # area part after consent was withdrawn: the count stays where it is
NO_AREA = ("", "lewati", None)


def area_of(profile: dict[str, Any]) -> str:
    area = profile.get("area")
    return "" if area in NO_AREA else str(area)


def keep_after_withdrawal(profile: dict[str, Any]) -> dict[str, Any]:
    """What of the profile survives a consent withdrawal: the period labels, without the area."""
    counted = _parse(profile.get(COUNTED))
    if not any(label for label, _area in counted):
        return {}
    return {COUNTED: _format([(label, FIXED) for label, _area in counted])}


def _parse(marker: Any) -> list[tuple[str, str]]:
    """[(week, area), (month, area)] from the profile marker (empty labels if none)."""
    parts = marker.split("|") if isinstance(marker, str) else []
    if len(parts) != 4:
        return [("", ""), ("", "")]
    return [(parts[0], parts[1]), (parts[2], parts[3])]


def _format(counted: list[tuple[str, str]]) -> str:
    return "|".join(f"{label}|{area}" for label, area in counted)


class Counting:
    """The anonymous counters, as a turn observer (module docstring)."""

    def __init__(self, tz: tzinfo):
        self.tz = tz  # the deployment's: weeks and months are counted in local time

    async def observe(self, ctx: EffectContext, events: list[Event]) -> None:
        week, month = stats.periods_of(ctx.now, self.tz)
        both = (week, month)
        area = area_of(ctx.session.profile)
        deleted = any(e.name == "delete_requested" for e in events)
        if not deleted:
            await self.count_served(ctx, week, month, area)
        for event in events:
            data = event.data
            if event.name == "screening_completed":
                await stats.bump(
                    ctx.tx,
                    both,
                    area,
                    "screening",
                    str(data.get("instrument")),
                    str(data.get("band")),
                )
            elif event.name == "crisis_detected":
                await stats.bump(
                    ctx.tx,
                    both,
                    area,
                    "crisis",
                    str(data.get("category") or "suicide"),
                    str(data.get("level") or "check"),
                )
            elif event.name == "consent_given":
                await stats.bump(ctx.tx, both, area, "consent", "given")
            elif event.name == "consent_withdrawn":
                await stats.bump(ctx.tx, both, area, "consent", "withdrawn")
            elif event.name == "delete_requested":
                await stats.bump(ctx.tx, both, "", "deleted")
        if deleted:
            # Closed cases keep only anonymous statistics: forget_user has just unlinked them.
            await reduce_closed_cases(ctx.tx, self.tz)

    async def count_served(self, ctx: EffectContext, week: str, month: str, area: str) -> None:
        profile = ctx.session.profile
        counted = []
        for label, (old_label, old_area) in zip(
            (week, month), _parse(profile.get(COUNTED)), strict=True
        ):
            if label != old_label:
                await stats.bump(ctx.tx, (label,), area, "served")
                counted.append((label, area))
            elif old_area == "" and area:  # counted before the area was known: move it
                await stats.bump(ctx.tx, (label,), "", "served", delta=-1)
                await stats.bump(ctx.tx, (label,), area, "served")
                counted.append((label, area))
            else:
                counted.append((label, old_area))
        marker = _format(counted)
        if profile.get(COUNTED) != marker:
            profile[COUNTED] = marker
