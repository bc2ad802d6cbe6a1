"""Helpers for the follow-up tests: a recording check-in sender (a channel stand-in) and
the conversation steps that lead a resident of the escalation harness to a follow-up."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flows.messages import Reply

CRISIS_WORDS = "aku mau mati saja"  # tests.conftest.KeywordDetector: high, suicide
# aman: ya, teman: ya, kontak: ya, bagikan: tidak, rencana: tidak → the offer
TO_THE_OFFER = (("c", "ya"), ("c", "ya"), ("c", "ya"), ("c", "tidak"), ("c", "tidak"))


@dataclass
class RecordingCheckins:
    """A `CheckinSender` that keeps what it was given; `answers` are returned in turn (then
    "sent"); `plan_as` is what `plan` says."""

    sent: list[tuple[str, str, list[Reply]]] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    plan_as: str = "text"
    path: Path | None = None  # also append one fsync'd JSON line per send (other processes)

    async def plan(self, platform_id: str, last_seen: datetime | None, now: datetime) -> str:
        return self.plan_as

    async def send(self, platform_id: str, replies: Sequence[Reply]) -> str:
        return self._record("text", platform_id, list(replies))

    async def invite(self, platform_id: str) -> str:
        return self._record("template", platform_id, [])

    def _record(self, how: str, platform_id: str, replies: list[Reply]) -> str:
        self.sent.append((how, platform_id, replies))
        if self.path is not None:
            line = json.dumps({"how": how, "to": platform_id, "pid": os.getpid(),
                               "text": "\n".join(r.text for r in replies)})
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        return self.answers.pop(0) if self.answers else "sent"

    def texts(self) -> list[str]:
        return ["\n".join(r.text for r in replies) for _how, _to, replies in self.sent]


def read_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def crisis_until_offer(h, user: str, channel: str = "telegram"):
    """Onboard `user`, write crisis words, answer the safety questions: at the offer."""
    await h.onboard(user, channel=channel)
    await h.say(user, CRISIS_WORDS, channel=channel)
    return await h.say(user, *TO_THE_OFFER, channel=channel)


async def accept_crisis_series(h, user: str, channel: str = "telegram"):
    turn = await crisis_until_offer(h, user, channel)
    assert turn.replies[-1].node == "tawar_sapa.tanya", turn.replies
    return await h.say(user, ("c", "ya"), channel=channel)
