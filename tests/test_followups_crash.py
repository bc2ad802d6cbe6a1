"""Crash and restart of the follow-up scheduler: a real child process is killed with SIGKILL
between "claimed" and "sent"; after a restart the check-in is sent exactly once, and one
whose send had begun is never sent a second time. Real processes, a real SQLite file,
deliveries counted in an fsync'd file. Waiting on a child is bounded only as a guard."""

from __future__ import annotations

import os
import sys
import textwrap
from datetime import timedelta

import pytest

from tests.support.escalation import START, make_harness
from tests.support.followups import RecordingCheckins, read_lines
from tests.support.processes import kill9, spawn_script, wait_for_line

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

RESIDENT = "31337"
CHILD = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from bot.followups.scheduler import CheckinScheduler
    from tests.support.escalation import START, make_harness
    from tests.support.followups import RecordingCheckins, accept_crisis_series

    tmp, mode, deliveries = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])

    class Hang(RecordingCheckins):
        async def send(self, platform_id, replies):
            if mode == "after_send":
                self._record("text", platform_id, list(replies))  # the platform got it…
            print("SENDING", flush=True)
            await asyncio.Event().wait()  # …and the process dies before marking it sent

    class StopAfterClaim(CheckinScheduler):
        async def _deliver(self, checkin, settings):
            print("CLAIMED", flush=True)  # the claim is committed; nothing sent yet
            await asyncio.Event().wait()

    async def main():
        h = await make_harness(tmp)
        sender = Hang(path=deliveries)
        h.kit.followups.senders.attach("telegram", sender)
        await accept_crisis_series(h, "31337")
        h.clock.advance(days=1)
        kind = StopAfterClaim if mode == "claimed" else CheckinScheduler
        scheduler = kind(h.store, h.conversations, h.conversations.engine, h.config,
                         h.kit.sealer, h.kit.followups.senders, clock=h.clock)
        await scheduler.tick()

    asyncio.run(main())
""")


async def restart(tmp_path, deliveries):
    h = await make_harness(tmp_path)
    sender = RecordingCheckins(path=deliveries)
    h.kit.followups.senders.attach("telegram", sender)
    h.clock.advance(days=1)  # where the killed process was
    return h, sender


def state(h) -> tuple[str, int]:
    row = h.rows("SELECT state, attempts FROM checkins WHERE step = 1")[0]
    return row[0], row[1]


async def test_killed_after_the_claim_sends_exactly_once_after_restart(tmp_path):
    deliveries = tmp_path / "deliveries.jsonl"
    child = spawn_script(tmp_path, CHILD, "claimed", deliveries)
    wait_for_line(child, "CLAIMED")
    kill9(child)
    assert read_lines(deliveries) == []

    h, _sender = await restart(tmp_path, deliveries)
    try:
        assert state(h)[0] == "claimed"
        scheduler = h.kit.followups.scheduler
        assert await scheduler.tick() == 0  # the dead claim's lease still holds
        h.clock.advance(minutes=2, seconds=1)  # it runs out
        assert await scheduler.tick() == 1
        assert await scheduler.tick() == 0
        h.clock.advance(hours=5)
        assert await scheduler.tick() == 0
        (delivered,) = read_lines(deliveries)
        assert delivered["pid"] == os.getpid() and "Bagaimana kabar" in delivered["text"]
        assert state(h) == ("sent", 1)
    finally:
        await h.close()


@pytest.mark.parametrize(("mode", "arrived"), [("after_send", 1), ("while_sending", 0)])
async def test_killed_while_sending_is_never_sent_twice(tmp_path, mode, arrived):
    deliveries = tmp_path / "deliveries.jsonl"
    child = spawn_script(tmp_path, CHILD, mode, deliveries)
    wait_for_line(child, "SENDING")
    kill9(child)
    assert len(read_lines(deliveries)) == arrived

    h, sender = await restart(tmp_path, deliveries)
    try:
        scheduler = h.kit.followups.scheduler
        assert state(h)[0] == "sending"
        h.clock.advance(minutes=2, seconds=1)
        assert await scheduler.tick() == 0
        assert state(h) == ("unconfirmed", 1)  # it may have arrived: not sent again
        h.clock.advance(hours=6)
        assert await scheduler.tick() == 0
        assert sender.sent == [] and len(read_lines(deliveries)) == arrived
        # The resident may still answer it: it is in their conversation.
        turn = await h.say(RESIDENT, ("c", "lebih_baik"))
        assert any(e.name == "followup_answered" for e in turn.events)
        assert state(h)[0] == "answered"
        h.clock.now = START + timedelta(days=7)  # 14.05 WIB, a week on
        assert await scheduler.tick() == 1  # the series goes on with its next check-in
    finally:
        await h.close()


def test_the_lease_outlives_a_send():
    from bot.followups.scheduler import CheckinScheduler

    with pytest.raises(AssertionError):
        CheckinScheduler(None, None, None, None, None, None,  # type: ignore[arg-type]
                         lease=timedelta(seconds=30), send_timeout=60)
