"""Caring follow-ups as content (`followups.yaml`): the schedule, the sending hours, and the
two flows that offer a series and check in. Read by flows/loader.py, checked by
flows/linter.py, run by bot/followups/.

```yaml
checkin_flow: sapa            # the check-in (params: CHECKIN_PARAMS)
offer_flow: tawar_sapa        # "Boleh saya menyapa lagi besok dan minggu depan?" (OFFER_PARAMS)
hours: {from: "09:00", until: "19:00"}   # local time of the deployment; never outside
answer_days: 3                # a check-in waits this long for an answer
ask_again_days: 14            # after a "no", no new offer for this long
series:
  crisis: {days: [1, 7, 14, 30], flag_unanswered: true}
  distress: {days: [1, 7, 30]}
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import Any

KINDS = ("crisis", "distress")  # after a crisis (case or high/urgent) | a distress-tier result
CHECKIN_PARAMS = ("kind", "category", "step", "steps", "last", "checkin", "via")
OFFER_PARAMS = ("kind", "category", "source")
VIAS = ("text", "template")  # template: WhatsApp, outside the 24-hour window
MAX_DAY = 60  # a series longer than two months is not a follow-up any more
# Events the follow-up flows emit (bot/followups/effects.py acts on them).
OFFER_EVENTS = ("followup_offered", "followup_accepted", "followup_declined")
CHECKIN_EVENTS = ("followup_answered", "followup_stopped")


@dataclass(frozen=True)
class SeriesPlan:
    kind: str
    days: tuple[int, ...]  # after the resident agreed, e.g. (1, 7, 30)
    flag_unanswered: bool = False  # no answer to the last check-in: a task for the cadres
    line: int = 0


@dataclass(frozen=True)
class FollowupSettings:
    checkin_flow: str
    offer_flow: str
    series: Mapping[str, SeriesPlan]
    send_from: time = time(9, 0)
    send_until: time = time(19, 0)
    answer_days: int = 3
    ask_again_days: int = 14
    file: str = "followups.yaml"
    lines: Mapping[str, int] = field(default_factory=dict)  # key → line, for the linter

    def plan(self, kind: str) -> SeriesPlan:
        return self.series.get(kind) or self.series[KINDS[0]]


def checkin_params(kind: str, *, category: str = "", step: int = 1, steps: int = 1,
                   checkin: int = 0, via: str = "text") -> dict[str, Any]:
    """What the check-in flow gets (`params:` of `checkin_flow`)."""
    return {"kind": kind, "category": category or "suicide", "step": step, "steps": steps,
            "last": step >= steps, "checkin": checkin, "via": via}


def offer_params(kind: str, *, category: str = "", source: str = "") -> dict[str, Any]:
    """What the offer flow gets (`params:` of `offer_flow`)."""
    return {"kind": kind, "category": category or "suicide", "source": source}
