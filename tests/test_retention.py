"""Retention (issue 7): inactive residents purged, closed cases reduced to anonymous statistics,
on a schedule and by `temanjiwa purge`, always with a controllable clock."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cases.desk import OPERATOR
from bot.cli import main as cli_main
from flows.session import Session
from storage.group_commit import USER_TABLES
from storage.retention import purge, run_retention_schedule
from storage.sqlite import SqliteStore
from tests.support.escalation import (
    escalation_harness,  # noqa: F401 (fixture h)
    make_config,
)

HIGH = "aku mau mati"  # high with the fixture detector


pytestmark = pytest.mark.both_backends


async def screening(h, user: str) -> str:
    turn = await h.say(
        user, "/start quiz", ("c", "mulai"), ("c", "beberapa_hari"), ("c", "tidak_pernah")
    )
    return turn.user_key


def count(h, table: str, key: str | None = None) -> int:
    if key is None:
        return h.rows(f"SELECT count(*) FROM {table}")[0][0]
    return h.rows(f"SELECT count(*) FROM {table} WHERE user_key = ?", key)[0][0]


async def test_inactive_residents_are_purged_after_the_configured_days(h):
    await h.onboard("old")
    old = await screening(h, "old")
    h.clock.advance(days=60)
    await h.onboard("recent")
    recent = await screening(h, "recent")
    config = make_config()  # defaults: 90 days

    h.clock.advance(days=30)  # "old": 90 days inactive exactly, not more
    report = await purge(h.store, config, h.clock.now)
    assert report.residents == 0 and count(h, "sessions", old) == 1

    h.clock.advance(days=1)
    report = await purge(h.store, config, h.clock.now)
    assert report.residents == 1
    assert report.rows == {"sessions": 1, "results": 1, "consent_log": 1}
    for table in USER_TABLES:
        assert count(h, table, old) == 0, table
    assert count(h, "sessions", recent) == 1 and count(h, "results", recent) == 1
    if not h.on_postgres:  # SQLite: the deleted rows do not linger in the WAL file
        assert report.checkpointed
        assert Path(str(h.db_path) + "-wal").stat().st_size == 0
    # Anonymous counters stay.
    served = h.rows("SELECT sum(n) FROM stats WHERE metric = 'served' AND period LIKE '%-W%'")
    assert served[0][0] == 2

    shorter = make_config(retention={"inactive_days": 10, "closed_case_days": 5})
    h.clock.advance(days=20)
    report = await purge(h.store, shorter, h.clock.now)
    assert report.residents == 1 and count(h, "sessions") == 0


async def test_a_resident_who_comes_back_is_not_purged(h):
    await h.onboard("back")
    key = await screening(h, "back")
    h.clock.advance(days=89)
    await h.say("back", "menu")
    h.clock.advance(days=89)
    assert (await purge(h.store, make_config(), h.clock.now)).residents == 0
    assert count(h, "results", key) == 1


async def close_case(h, user: str, outcome: str = "referred_puskesmas") -> str:
    await h.onboard(user)
    turn = await h.say(user, HIGH)
    code = next(e.data["case"] for e in turn.events if e.name == "escalation_created")
    await h.kit.dispatcher.tick()
    h.clock.advance(minutes=12)
    assert (await h.kit.desk.claim(code, OPERATOR)).ok
    h.clock.advance(hours=1)
    assert (await h.kit.desk.resolve(code, OPERATOR, outcome)).ok
    await h.kit.dispatcher.tick()
    return code


async def test_closed_cases_are_reduced_to_anonymous_statistics_after_n_days(h):
    config = make_config()  # closed_case_days: 30
    code = await close_case(h, "a")
    await h.onboard("b")
    await h.say("b", HIGH)  # stays open
    h.clock.advance(days=30)
    assert (await purge(h.store, config, h.clock.now)).cases_reduced == 0
    h.clock.advance(minutes=1)
    report = await purge(h.store, config, h.clock.now)
    assert report.cases_reduced == 1
    assert count(h, "cases") == 1 and h.rows("SELECT status FROM cases")[0][0] == "open"
    assert h.rows("SELECT count(*) FROM cases WHERE code = ?", code)[0][0] == 0
    assert (
        h.rows("SELECT count(*) FROM case_events WHERE case_id NOT IN (SELECT id FROM cases)")[0][0]
        == 0
    )
    assert (
        h.rows("SELECT count(*) FROM outbox WHERE case_id NOT IN (SELECT id FROM cases)")[0][0] == 0
    )
    rows = [dict(r) for r in h.rows("SELECT * FROM case_stats")]
    assert rows == [
        {
            "id": 1,
            "week": "2026-W47",
            "month": "2026-11",
            "area": "ngunut",
            "level": "high",
            "category": "suicide",
            "source_kind": "free_text",
            "minutes_to_claim": 12.0,
            "sla_breaches": 0,
            "outcome": "referred_puskesmas",
        }
    ]
    # The resident herself is still there (active 30 days ago): only the case was reduced.
    assert count(h, "sessions") == 2


async def test_sla_breaches_are_kept_in_the_statistics(h):
    await h.onboard("late")
    turn = await h.say("late", HIGH)
    code = next(e.data["case"] for e in turn.events if e.name == "escalation_created")
    await h.kit.dispatcher.tick()
    h.clock.advance(minutes=31)  # past the 30-minute deadline for "high": raised a tier
    await h.kit.dispatcher.tick()
    h.clock.advance(minutes=31)
    await h.kit.dispatcher.tick()
    assert (await h.kit.desk.claim(code, OPERATOR)).ok
    assert (await h.kit.desk.resolve(code, OPERATOR, "contacted")).ok
    await h.kit.dispatcher.tick()
    h.clock.advance(days=31)
    assert (await purge(h.store, make_config(), h.clock.now)).cases_reduced == 1
    row = h.rows("SELECT sla_breaches, minutes_to_claim FROM case_stats")[0]
    assert (row[0], row[1]) == (2, 62.0)


async def test_a_closed_case_waits_for_its_pending_deliveries(h):
    code = await close_case(h, "w")
    async with h.store.transaction() as tx:  # a card update still queued
        await tx.execute(
            "UPDATE outbox SET state = 'pending' WHERE id = (SELECT max(id) FROM outbox)"
        )
    h.clock.advance(days=31)
    assert (await purge(h.store, make_config(), h.clock.now)).cases_reduced == 0
    await h.kit.dispatcher.tick()
    assert (await purge(h.store, make_config(), h.clock.now)).cases_reduced == 1
    assert h.rows("SELECT count(*) FROM cases WHERE code = ?", code)[0][0] == 0


async def test_a_case_closed_after_the_resident_deleted_their_data_is_reduced_at_once(h):
    await h.onboard("gone")
    turn = await h.say("gone", HIGH)
    code = next(e.data["case"] for e in turn.events if e.name == "escalation_created")
    await h.say("gone", "/hapus", ("c", "ya"))  # the case stays open, unlinked
    assert h.rows("SELECT user_key, status FROM cases")[0][1] == "open"
    await h.kit.dispatcher.tick()
    h.clock.advance(minutes=5)
    assert (await h.kit.desk.resolve(code, OPERATOR, "no_response")).ok  # claims it too
    await h.kit.dispatcher.tick()
    report = await purge(h.store, make_config(), h.clock.now)  # not 30 days later: now
    assert report.cases_reduced == 1 and count(h, "cases") == 0
    assert h.rows("SELECT outcome, minutes_to_claim FROM case_stats")[0][:] == ("no_response", 5.0)


async def test_purged_residents_cases_lose_the_link(h):
    await h.onboard("quiet")
    turn = await h.say("quiet", HIGH)
    key = turn.user_key
    h.clock.advance(days=91)
    report = await purge(h.store, make_config(), h.clock.now)
    assert report.residents == 1 and report.cases_unlinked == 1
    assert h.rows("SELECT user_key, words_enc, contact_enc FROM cases")[0][:] == (None, None, None)
    assert [r[:] for r in h.rows("SELECT user_key, words_enc FROM disclosures")] == [(None, None)]
    assert key.encode() not in h.raw_bytes()


async def test_old_inbound_dedupe_ids_are_dropped(h):
    assert await h.store.first_delivery("telegram", "u1", h.clock.now)
    h.clock.advance(days=8)
    assert await h.store.first_delivery("telegram", "u2", h.clock.now)
    report = await purge(h.store, make_config(), h.clock.now)
    assert report.inbound_seen == 1
    assert [r[0] for r in h.rows("SELECT update_id FROM inbound_seen")] == ["u2"]


async def test_the_schedule_purges_now_and_then_every_interval(h):
    await h.onboard("sched")
    clock = h.clock
    runs = []
    task = asyncio.create_task(run_retention_schedule(h.store, make_config(), clock, 0.05))
    try:
        await asyncio.sleep(0.02)
        assert count(h, "sessions") == 1  # first run at start: nothing old yet
        clock.advance(days=91)
        for _ in range(100):
            await asyncio.sleep(0.02)
            if count(h, "sessions") == 0:
                runs.append(clock.now)
                break
        assert runs, "the schedule did not purge after the clock moved"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_the_schedule_survives_a_failed_run(h, caplog):
    class Broken:
        def transaction(self):
            raise RuntimeError("disk gone")

    task = asyncio.create_task(run_retention_schedule(Broken(), make_config(), h.clock, 0.01))
    await asyncio.sleep(0.05)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "retention purge failed" in caplog.text


def test_purge_command(tmp_path, capsys):
    db_path = tmp_path / "cli.db"

    async def seed() -> None:
        async with SqliteStore(db_path) as store, store.transaction() as tx:
            long_ago = datetime.now(UTC) - timedelta(days=200)
            await tx.save_session("k-old", Session(), long_ago)
            await tx.add_result("k-old", "phq9", 3, "minimal", [], long_ago)
            await tx.save_session("k-new", Session(), datetime.now(UTC))

    asyncio.run(seed())
    config = tmp_path / "c.yaml"
    config.write_text("retention: {inactive_days: 100, closed_case_days: 10}\n")
    assert cli_main(["purge", "--db", str(db_path), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "residents purged 1" in out and "results 1" in out
    db = sqlite3.connect(db_path)
    assert [r[0] for r in db.execute("SELECT user_key FROM sessions")] == ["k-new"]
    db.close()
