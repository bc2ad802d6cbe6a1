"""Crash and restart: a process writes an escalation and is killed with SIGKILL; after a
restart the alert is delivered exactly once. Real processes, real SQLite files, deliveries
counted in an fsync'd file. Waiting on a child is bounded only as a guard, never asserted."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.escalation import FileRecordingSender, make_harness, read_deliveries
from tests.support.processes import kill9, spawn_script, wait_for_line

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

CHILD = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from bot.cases.dispatcher import Dispatcher
    from tests.support.escalation import FileRecordingSender, make_harness

    tmp, mode, deliveries = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])

    class Hang(FileRecordingSender):
        async def send_alert(self, route, alert):
            if mode == "after_send":
                await super().send_alert(route, alert)  # the platform got it…
            print("SENDING", flush=True)
            await asyncio.Event().wait()  # …and the process dies before marking it sent

    async def main():
        h = await make_harness(tmp, sender=Hang(deliveries))
        if mode == "dispatch":  # one of several dispatchers sharing the database
            d = Dispatcher(h.store, FileRecordingSender(deliveries), h.config, h.kit.sealer,
                           clock=h.clock, batch=2)
            print("READY", flush=True)
            sys.stdin.readline()  # start together
            idle = 0
            while idle < 3:
                idle = idle + 1 if await d.run_once() == 0 else 0
            await h.close()  # (an open aiosqlite connection keeps the process alive)
            print("DONE", flush=True)
            return
        await h.onboard("31337")
        await h.say("31337", "darurat sekarang")
        print("WRITTEN", flush=True)
        if mode == "after_write":
            await asyncio.Event().wait()  # killed before any dispatcher runs
        await h.kit.dispatcher.run_once()

    asyncio.run(main())
""")


def spawn(tmp_path: Path, mode: str, deliveries: Path) -> subprocess.Popen:
    return spawn_script(tmp_path, CHILD, mode, deliveries)


@pytest.mark.parametrize("mode", ["after_write", "while_sending"])
async def test_killed_before_sending_delivers_exactly_once_after_restart(tmp_path, mode):
    deliveries = tmp_path / "deliveries.jsonl"
    child = spawn(tmp_path, mode, deliveries)
    wait_for_line(child, "WRITTEN")
    if mode == "while_sending":
        wait_for_line(child, "SENDING")  # claimed (leased), not yet sent
    kill9(child)
    assert read_deliveries(deliveries) == []

    h = await make_harness(tmp_path, sender=FileRecordingSender(deliveries))  # the restart
    try:
        assert len(h.rows("SELECT id FROM cases")) == 1
        if mode == "while_sending":
            assert await h.kit.dispatcher.run_once() == 0  # the dead claim still holds
            h.clock.advance(seconds=61)  # its lease runs out
        assert await h.kit.dispatcher.run_once() == 1
        assert await h.kit.dispatcher.run_once() == 0
        h.clock.advance(seconds=120)
        assert await h.kit.dispatcher.run_once() == 0
        delivered = read_deliveries(deliveries)
        assert len(delivered) == 1 and delivered[0]["pid"] == os.getpid()
        assert h.rows("SELECT state FROM outbox")[0][0] == "sent"
    finally:
        await h.close()


async def test_killed_after_the_platform_accepted_is_deduplicated_by_key(tmp_path):
    deliveries = tmp_path / "deliveries.jsonl"
    child = spawn(tmp_path, "after_send", deliveries)
    wait_for_line(child, "SENDING")
    kill9(child)
    assert len(read_deliveries(deliveries)) == 1  # delivered, but never marked sent

    h = await make_harness(tmp_path, sender=FileRecordingSender(deliveries, dedupe=True))
    try:
        h.clock.advance(seconds=61)
        assert await h.kit.dispatcher.run_once() == 1  # the retry carries the same key…
        delivered = read_deliveries(deliveries)
        assert len(delivered) == 1  # …so a key-honouring receiver keeps one copy
        assert tuple(h.rows("SELECT state, attempts FROM outbox")[0]) == ("sent", 2)
    finally:
        await h.close()


async def test_a_card_retaken_after_a_dead_claim_is_marked_as_a_repeat(tmp_path):
    """Telegram keeps no idempotency key: the second copy must say it is one ("(ulang)")."""
    deliveries = tmp_path / "deliveries.jsonl"
    child = spawn(tmp_path, "after_send", deliveries)
    wait_for_line(child, "SENDING")
    kill9(child)
    h = await make_harness(tmp_path, sender=FileRecordingSender(deliveries))
    try:
        h.clock.advance(seconds=61)
        assert await h.kit.dispatcher.run_once() == 1
        first, second = read_deliveries(deliveries)
        assert (first["key"], first["repeat"]) == (second["key"], False)
        assert second["repeat"] is True
        assert await h.kit.dispatcher.run_once() == 0  # and only once
    finally:
        await h.close()


async def test_dispatchers_in_separate_processes_share_the_work_without_duplicates(tmp_path):
    deliveries = tmp_path / "deliveries.jsonl"
    h = await make_harness(tmp_path)
    try:
        for i in range(20):
            await h.onboard(f"9{i:02d}")
            await h.say(f"9{i:02d}", "darurat sekarang")
    finally:
        await h.close()
    children = [spawn(tmp_path, "dispatch", deliveries) for _ in range(3)]
    for child in children:
        wait_for_line(child, "READY")
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    for child in children:
        wait_for_line(child, "DONE")
        try:
            child.wait(timeout=60)  # a guard only
        except subprocess.TimeoutExpired:
            child.kill()
            raise
    delivered = read_deliveries(deliveries)
    keys = [d["key"] for d in delivered]
    assert len(keys) == 20 and len(set(keys)) == 20
    assert len({d["pid"] for d in delivered}) >= 1
    h = await make_harness(tmp_path)
    try:
        assert {r[0] for r in h.rows("SELECT state FROM outbox")} == {"sent"}
    finally:
        await h.close()


def test_lease_outlives_a_send_timeout():
    from bot.cases.dispatcher import Dispatcher

    with pytest.raises(AssertionError):
        Dispatcher(
            None,
            None,
            None,
            None,
            lease=timedelta(seconds=10),  # type: ignore[arg-type]
            send_timeout=20,
        )
