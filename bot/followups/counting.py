"""Anonymous counts of follow-ups for `temanjiwa report` (storage/stats.py, metric
`followup`): the stage (offered, accepted, …) and the series kind, per week and month and
area, like every other counter. Nothing in them links back to a resident."""

from __future__ import annotations

from datetime import datetime, tzinfo

from storage import stats
from storage.sql import Connection

STAGES = (
    "offered",  # the offer question was asked
    "accepted",  # the resident agreed: a series was scheduled
    "declined",
    "sent",  # a check-in (or an offer after a resolved case) reached the platform
    "answered",  # the resident replied to a check-in
    "stopped",  # "berhenti", the stop button, or consent withdrawn
    "escalated",  # a crisis case was opened or raised while answering a check-in
    "flagged",  # a high-risk series' last check-in went unanswered: a task for the cadres
    "blocked",  # the resident blocked the bot: the series ended
    "skipped",  # a check-in that could not go out (no WhatsApp template, repeated errors)
)


async def count(conn: Connection, tz: tzinfo, now: datetime, stage: str, kind: str,
                area: str = "") -> None:
    assert stage in STAGES, stage
    await stats.bump(conn, stats.periods_of(now, tz), area, "followup", stage, kind)
