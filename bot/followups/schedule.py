"""When check-ins go out: on the content's days after the resident agreed, and only inside
the sending hours of the deployment's time zone (never at 02:00: the next decent hour)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta, tzinfo

from flows.followups import FollowupSettings


def within_hours(moment: datetime, tz: tzinfo, start: time, until: time) -> datetime:
    """`moment` if it falls inside [start, until) local time, else the next `start`."""
    local = moment.astimezone(tz)
    begin = datetime.combine(local.date(), start, tz)
    end = datetime.combine(local.date(), until, tz)
    if local < begin:
        return begin.astimezone(UTC)
    if local < end:
        return moment.astimezone(UTC)
    return datetime.combine(local.date() + timedelta(days=1), start, tz).astimezone(UTC)


def series_times(agreed_at: datetime, days: Sequence[int], tz: tzinfo,
                 settings: FollowupSettings) -> list[datetime]:
    """The due time of each check-in: `agreed_at` + day, moved into the sending hours."""
    return [
        within_hours(agreed_at + timedelta(days=day), tz, settings.send_from, settings.send_until)
        for day in days
    ]


def next_allowed(moment: datetime, tz: tzinfo, settings: FollowupSettings) -> datetime:
    return within_hours(moment, tz, settings.send_from, settings.send_until)
