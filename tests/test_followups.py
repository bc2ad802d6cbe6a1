"""Caring follow-ups (issue 18) on a real store (SQLite and PostgreSQL) with a controllable
clock: the offer, the series in the sending hours, exactly once, cancellation, the answer
window and the cadre task, the offer after a resolved case, and the counts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.cases.desk import OPERATOR
from storage import followups
from tests.support.escalation import START, make_harness
from tests.support.followups import (
    CRISIS_WORDS,
    RecordingCheckins,
    accept_crisis_series,
    crisis_until_offer,
)

pytestmark = pytest.mark.both_backends
WIB = timedelta(hours=7)
USER = "4242"


@pytest.fixture
async def h(tmp_path, database):
    harness = await make_harness(tmp_path, database=database)
    harness.checkins = RecordingCheckins()
    harness.kit.followups.senders.attach("telegram", harness.checkins)
    yield harness
    await harness.close()


def scheduler(h):
    return h.kit.followups.scheduler


def checkins(h):
    return [dict(r) for r in h.rows("SELECT * FROM checkins ORDER BY step")]


def local(iso: str) -> datetime:
    """The deployment's wall-clock time (WIB) of a stored UTC time."""
    return (datetime.fromisoformat(iso).astimezone(UTC) + WIB).replace(tzinfo=None)


async def test_accepting_after_a_crisis_schedules_the_content_days_and_seals_the_address(h):
    turn = await accept_crisis_series(h, USER)
    assert any(e.name == "followup_accepted" and e.data["kind"] == "crisis"
               for e in turn.events)
    (series,) = h.rows("SELECT * FROM followups")
    assert (series["status"], series["kind"], series["route"]) == ("active", "crisis",
                                                                   "kader_ngunut")
    address = h.kit.sealer.open_json(bytes(series["address_enc"]))
    assert address == {"channel": "telegram", "id": USER}
    assert USER.encode() not in h.raw_bytes()  # sealed: the id itself is nowhere
    due = [r["due_at"] for r in checkins(h)]
    assert [datetime.fromisoformat(d) - START for d in due] == [
        timedelta(days=d) for d in (1, 7, 14, 30)
    ]  # 14.05 WIB is inside the sending hours
    assert [r["is_last"] for r in checkins(h)] == [False, False, False, True]


async def test_the_series_fires_on_its_days_exactly_once_each(h):
    await accept_crisis_series(h, USER)
    assert await scheduler(h).tick() == 0  # nothing is due yet
    h.clock.advance(days=1, seconds=-1)
    assert await scheduler(h).tick() == 0
    h.clock.advance(seconds=1)
    assert await scheduler(h).tick() == 1
    assert await scheduler(h).tick() == 0  # not twice
    h.clock.advance(hours=3)
    assert await scheduler(h).tick() == 0
    (how, to, replies), = h.checkins.sent
    assert (how, to) == ("text", USER)
    assert "Bagaimana kabar Anda" in "\n".join(r.text for r in replies)
    assert [c.id for c in replies[-1].choices] == ["lebih_baik", "sama", "lebih_berat",
                                                   "berhenti"]
    states = [r["state"] for r in checkins(h)]
    assert states == ["sent", "pending", "pending", "pending"]
    for days in (6, 7, 16):  # day 7, 14, 30
        h.clock.advance(days=days)
        assert await scheduler(h).tick() == 1
    assert len(h.checkins.sent) == 4


async def test_no_message_at_night_the_next_one_goes_at_a_decent_hour(h):
    h.clock.now = datetime(2026, 11, 22, 19, 0, tzinfo=UTC)  # 23 Nov, 02.00 WIB
    await accept_crisis_series(h, USER)
    due = [local(r["due_at"]) for r in checkins(h)]
    assert due[0] == datetime(2026, 11, 24, 9, 0)  # day 1 at 09.00, not at 02.00
    assert all(d.hour == 9 and d.minute == 0 for d in due)
    # The process was down all day: at 20.30 WIB the check-in is due but waits till morning.
    h.clock.now = datetime(2026, 11, 24, 13, 30, tzinfo=UTC)
    assert await scheduler(h).tick() == 0
    assert checkins(h)[0]["state"] == "pending"
    assert local(checkins(h)[0]["due_at"]) == datetime(2026, 11, 25, 9, 0)
    h.clock.now = datetime(2026, 11, 25, 1, 59, tzinfo=UTC)  # 08.59 WIB
    assert await scheduler(h).tick() == 0
    h.clock.advance(minutes=1)
    assert await scheduler(h).tick() == 1
    assert h.checkins.sent


async def test_the_schedule_survives_a_restart_and_still_fires_once(tmp_path, database):
    h = await make_harness(tmp_path, database=database)
    try:
        await accept_crisis_series(h, USER)
    finally:
        await h.close()
    h = await make_harness(tmp_path, database=database)  # a new process on the same store
    try:
        sender = RecordingCheckins()
        h.kit.followups.senders.attach("telegram", sender)
        h.clock.advance(days=1)
        assert await scheduler(h).tick() == 1
        assert await scheduler(h).tick() == 0
        assert len(sender.sent) == 1
    finally:
        await h.close()


async def test_two_schedulers_never_send_one_check_in_twice(h):
    for n in range(6):
        await accept_crisis_series(h, f"77{n}")
    h.clock.advance(days=1)
    other = type(scheduler(h))(h.store, h.conversations, h.conversations.engine, h.config,
                               h.kit.sealer, h.kit.followups.senders, clock=h.clock, batch=2)
    first = type(scheduler(h))(h.store, h.conversations, h.conversations.engine, h.config,
                               h.kit.sealer, h.kit.followups.senders, clock=h.clock, batch=2)
    totals = await asyncio.gather(*(s.tick() for s in (first, other, first, other, first)))
    assert sum(totals) == 6
    assert sorted(to for _how, to, _r in h.checkins.sent) == [f"77{n}" for n in range(6)]


async def test_a_reply_is_a_normal_turn_answered_counted_and_the_last_ends_the_series(h):
    await accept_crisis_series(h, USER)
    for days in (1, 6, 7, 16):
        h.clock.advance(days=days)
        assert await scheduler(h).tick() == 1
    turn = await h.say(USER, ("c", "lebih_baik"))
    assert any(e.name == "followup_answered" and e.data["last"] is True for e in turn.events)
    assert "sapaan terakhir" in "\n".join(r.text for r in turn.replies)
    assert h.rows("SELECT count(*) FROM followups")[0][0] == 0
    assert h.rows("SELECT count(*) FROM checkins")[0][0] == 0


# ---------------------------------------------------------------------------- cancellation
def sealed_address(h) -> bytes:
    (row,) = h.rows("SELECT address_enc FROM followups")
    token = bytes(row["address_enc"])
    assert token in h.raw_bytes(), "the scan must see the sealed address first"
    return token


def assert_gone(h, token: bytes) -> None:
    data = h.raw_bytes()
    assert token not in data
    assert USER.encode() not in data
    assert h.rows("SELECT count(*) FROM followups")[0][0] == 0
    assert h.rows("SELECT count(*) FROM checkins")[0][0] == 0


@pytest.mark.parametrize("how", ["berhenti", "button", "/hapus"])
async def test_stopping_deletes_the_address_and_every_pending_check_in(h, how):
    await accept_crisis_series(h, USER)
    token = sealed_address(h)
    if how == "berhenti":
        turn = await h.say(USER, "berhenti")
        assert "stop_requested" in [e.name for e in turn.events]
    elif how == "button":
        h.clock.advance(days=1)
        assert await scheduler(h).tick() == 1
        turn = await h.say(USER, ("c", "berhenti"))
        assert "followup_stopped" in [e.name for e in turn.events]
    else:
        await h.say(USER, "/hapus")
        await h.say(USER, ("c", "ya"))
    assert_gone(h, token)
    h.clock.advance(days=40)
    assert await scheduler(h).tick() == 0
    assert [how for how, _to, _r in h.checkins.sent if how == "text"] == (
        ["text"] if how == "button" else [])


async def test_a_check_in_cancelled_after_its_claim_is_never_sent(h):
    await accept_crisis_series(h, USER)
    h.clock.advance(days=1)
    now = h.clock()
    async with h.store.transaction() as tx:
        (claimed,) = await followups.claim_due(tx, now, scheduler(h).token,
                                               now + timedelta(minutes=2), 10)
    await h.say(USER, "berhenti")  # while the scheduler holds the claim
    assert await scheduler(h)._deliver(claimed, h.conversations.engine.content.followups) == 0
    assert h.checkins.sent == []


async def test_retention_ends_a_series_that_outlived_it_and_an_inactive_residents(h):
    from storage.retention import purge

    await accept_crisis_series(h, USER)
    token = sealed_address(h)
    h.clock.advance(days=91)
    report = await purge(h.store, h.config, h.clock())
    assert report.residents == 1  # inactive for 90 days: everything of theirs goes
    assert_gone(h, token)


async def test_retention_safety_net_for_a_series_left_behind(h):
    from storage.retention import purge

    await accept_crisis_series(h, USER)
    token = sealed_address(h)
    async with h.store.transaction() as tx:  # the resident stays active, the series stuck
        await tx.execute("UPDATE followups SET created_at = ?", ("2026-01-01T00:00:00+00:00",))
    report = await purge(h.store, h.config, h.clock())
    assert report.residents == 0 and report.followups_ended == 1
    assert_gone(h, token)


# ---------------------------------------------------------------------------- delivery outcomes
async def send_all(h, days=(1, 6, 7, 16)) -> None:
    for step in days:
        h.clock.advance(days=step)
        assert await scheduler(h).tick() == 1


def stats(h, stage: str) -> int:
    rows = h.rows("SELECT n FROM stats WHERE metric = 'followup' AND dim1 = ? "
                  "AND period LIKE '%-W%'", stage)
    return sum(r[0] for r in rows)


async def test_a_resident_who_blocked_the_bot_ends_the_series(h):
    await accept_crisis_series(h, USER)
    token = sealed_address(h)
    h.checkins.answers = ["blocked"]
    h.clock.advance(days=1)
    assert await scheduler(h).tick() == 0
    assert_gone(h, token)
    assert stats(h, "blocked") == 1
    h.clock.advance(days=30)
    assert await scheduler(h).tick() == 0 and len(h.checkins.sent) == 1


async def test_a_failed_send_is_retried_with_backoff_and_sent_once(h):
    await accept_crisis_series(h, USER)
    h.checkins.answers = ["failed", "failed"]
    h.clock.advance(days=1)
    assert await scheduler(h).tick() == 0
    assert checkins(h)[0]["state"] == "pending"
    h.clock.advance(seconds=59)
    assert await scheduler(h).tick() == 0 and len(h.checkins.sent) == 1  # backoff: 60 s
    h.clock.advance(seconds=1)
    assert await scheduler(h).tick() == 0  # failed again: 180 s
    h.clock.advance(seconds=180)
    assert await scheduler(h).tick() == 1
    first = checkins(h)[0]
    assert (first["state"], first["attempts"]) == ("sent", 3)
    assert stats(h, "sent") == 1


async def test_maybe_delivered_is_never_resent(h):
    await accept_crisis_series(h, USER)
    h.checkins.answers = ["unsure"]
    h.clock.advance(days=1)
    await scheduler(h).tick()
    assert checkins(h)[0]["state"] == "unconfirmed"
    h.clock.advance(hours=6)
    await scheduler(h).tick()
    assert len(h.checkins.sent) == 1


async def test_whatsapp_without_template_outside_the_window_is_skipped_not_sent(h):
    await accept_crisis_series(h, USER)
    h.checkins.plan_as = "closed"
    h.clock.advance(days=1)
    assert await scheduler(h).tick() == 0
    assert h.checkins.sent == []
    assert checkins(h)[0]["state"] == "skipped"
    assert stats(h, "sent") == 0 and stats(h, "skipped") == 1
    assert scheduler(h).health()["followups"]["skipped_no_template"] == 1


# ---------------------------------------------------------------------------- answers
async def test_an_unanswered_last_check_in_of_a_crisis_series_is_a_task_for_the_cadres(h):
    turn = await accept_crisis_series(h, USER)
    (case,) = h.rows("SELECT code FROM cases")
    assert (await h.kit.desk.resolve(case["code"], OPERATOR, "contacted")).ok
    await send_all(h)
    h.clock.advance(days=3, minutes=-1)
    await scheduler(h).tick()
    assert h.rows("SELECT count(*) FROM cases WHERE status = 'open'")[0][0] == 0
    h.clock.advance(minutes=1)  # the housekeeping runs once a minute
    await scheduler(h).tick()
    (task,) = h.rows("SELECT * FROM cases WHERE status = 'open'")
    assert (task["level"], task["source"], task["route"]) == ("check", "followup_unanswered",
                                                              "kader_ngunut")
    assert task["contact_enc"] is None and task["user_key"] == turn.user_key
    assert h.rows("SELECT count(*) FROM followups")[0][0] == 0
    h.sender.sent.clear()
    await h.kit.dispatcher.tick()
    (card,) = h.sender.texts()
    assert "sapaan lanjutan terakhir tidak dijawab" in card and task["code"] in card
    assert USER not in card
    assert stats(h, "flagged") == 1


async def test_an_unanswered_distress_series_just_ends(h):
    await h.onboard(USER)
    key = h.conversations.key_for("telegram", USER)
    async with h.store.transaction() as tx:  # as followup_accepted does for a PHQ-9 result
        ctx = _ctx(h, tx, key)
        await h.kit.followups.effects.on_accepted(ctx, _event("followup_accepted",
                                                              kind="distress"))
    assert [r["step"] for r in checkins(h)] == [1, 2, 3]
    await send_all(h, (1, 6, 23))
    h.clock.advance(days=4)
    await scheduler(h).tick()
    assert h.rows("SELECT count(*) FROM followups")[0][0] == 0
    assert h.rows("SELECT count(*) FROM cases")[0][0] == 0


async def test_crisis_words_in_reply_to_a_check_in_are_an_answer_and_an_escalation(h):
    await accept_crisis_series(h, USER)
    (case,) = h.rows("SELECT code FROM cases")
    assert (await h.kit.desk.resolve(case["code"], OPERATOR, "contacted")).ok
    h.clock.advance(days=1)
    assert await scheduler(h).tick() == 1
    turn = await h.say(USER, CRISIS_WORDS)
    names = [e.name for e in turn.events]
    assert "escalation_created" in names
    assert "tekan 8" in "\n".join(r.text for r in turn.replies)  # hotline in the same reply
    first = checkins(h)[0]
    assert first["state"] == "answered" and first["escalated"]
    assert stats(h, "answered") == 1 and stats(h, "escalated") == 1


async def test_worse_in_a_crisis_series_opens_the_crisis_protocol(h):
    await accept_crisis_series(h, USER)
    h.clock.advance(days=1)
    await scheduler(h).tick()
    turn = await h.say(USER, ("c", "lebih_berat"))
    assert turn.replies[-1].node == "crisis.cek"
    assert any(e.name == "crisis_detected" and e.data["source"] == "followup"
               for e in turn.events)
    assert checkins(h)[0]["state"] == "answered"


# ---------------------------------------------------------------------------- offers
async def test_a_resolved_case_brings_one_offer_an_hour_later(h):
    await h.onboard(USER)
    await h.say(USER, CRISIS_WORDS, ("c", "ya"), ("c", "ya"), ("c", "ya"))  # contact: yes
    (case,) = h.rows("SELECT code, contact_enc FROM cases")
    h.clock.advance(minutes=10)
    assert (await h.kit.desk.resolve(case["code"], OPERATOR, "contacted")).ok
    (series,) = h.rows("SELECT * FROM followups")
    assert series["status"] == "offered"
    assert bytes(series["address_enc"]) == bytes(case["contact_enc"])  # moved, still sealed
    assert h.rows("SELECT contact_enc FROM cases")[0][0] is None
    h.clock.advance(minutes=59)
    assert await scheduler(h).tick() == 0
    h.clock.advance(minutes=1)
    assert await scheduler(h).tick() == 1
    text = h.checkins.texts()[0]
    assert "Boleh saya menyapa lagi" in text and "kasus" not in text
    turn = await h.say(USER, ("c", "ya"))
    assert any(e.name == "followup_accepted" and e.data["source"] == "case_resolved"
               for e in turn.events)
    assert [r["step"] for r in checkins(h)] == [1, 2, 3, 4]
    assert h.rows("SELECT status FROM followups")[0][0] == "active"


async def test_an_offer_declined_or_unanswered_leaves_no_address(h):
    await h.onboard(USER)
    await h.say(USER, CRISIS_WORDS, ("c", "ya"), ("c", "ya"), ("c", "ya"))
    (case,) = h.rows("SELECT code FROM cases")
    assert (await h.kit.desk.resolve(case["code"], OPERATOR, "contacted")).ok
    token = sealed_address(h)
    h.clock.advance(hours=1)
    await scheduler(h).tick()
    h.clock.advance(days=3, seconds=1)
    await scheduler(h).tick()  # nobody answered within answer_days
    assert_gone(h, token)


async def test_a_no_is_respected_by_the_offer_after_the_case(h):
    await crisis_until_offer(h, USER)
    turn = await h.say(USER, ("c", "tidak"))
    assert any(e.name == "followup_declined" for e in turn.events)
    (row,) = h.rows("SELECT status, address_enc FROM followups")
    assert tuple(row) == ("declined", None)
    (case,) = h.rows("SELECT code FROM cases")
    assert (await h.kit.desk.resolve(case["code"], OPERATOR, "contacted")).ok
    assert h.rows("SELECT status FROM followups")[0][0] == "declined"
    h.clock.advance(days=15)
    await scheduler(h).tick()  # after ask_again_days the "no" is forgotten
    assert h.rows("SELECT count(*) FROM followups")[0][0] == 0
    assert h.checkins.sent == []


def _ctx(h, tx, key):
    from bot.conversations import EffectContext
    from flows.session import Session

    session = Session(profile={"age_group": "dewasa", "area": "ngunut"})
    return EffectContext(tx, key, "telegram", USER, session, h.clock())


def _event(name, **data):
    from flows.messages import Event

    return Event(name, data)


# ---------------------------------------------------------------------------- counts
PHQ9_MODERATE = ["hampir_tiap_hari"] * 3 + ["lebih_separuh"] + ["tidak_pernah"] * 5


async def test_the_report_counts_each_stage_with_small_cell_suppression(tmp_path, database):
    import csv
    from datetime import date

    from bot.reports.build import build_report
    from bot.reports.csv_file import report_csv
    from bot.reports.html_page import render_html
    from bot.reports.model import default_spec
    from bot.reports.suppression import PRIMARY
    from tests.conftest import REAL_CONTENT
    from tests.support.escalation import make_config

    h = await make_harness(tmp_path, content_dir=REAL_CONTENT, database=database)
    sender = RecordingCheckins()
    h.kit.followups.senders.attach("telegram", sender)
    try:
        for n in range(7):
            user = f"r{n}"
            await h.onboard(user)
            await h.say(user, "/start phq9", ("c", "mulai"), *(("c", a) for a in PHQ9_MODERATE))
            await h.say(user, ("c", "ya" if n < 6 else "tidak"))
        h.clock.advance(days=1)
        assert await scheduler(h).tick() == 6
        for n in range(2):
            await h.say(f"r{n}", ("c", "lebih_baik"))
        await h.say("r2", "berhenti")
        today = (START + timedelta(days=7)).date()
        spec = default_spec(today, "week", date(2026, 11, 16), date(2026, 11, 29))
        report = await build_report(h.store.reader, make_config(), spec,
                                    now=h.clock.now + timedelta(days=7))
        grid = report.grids["followups"]
        shown = {name: [report.shown(k) for k in row] for name, row in zip(
            grid.rows, grid.cells, strict=True)}
        assert shown["Ditawari sapaan lanjutan"] == [7, 0]
        assert shown["Setuju disapa lagi"] == [6, 0]
        assert shown["Tidak mau disapa"] == [PRIMARY, 0]
        assert shown["Sapaan terkirim"] == [0, 6]  # Monday: the next ISO week
        assert shown["Sapaan dijawab warga"] == [0, PRIMARY]
        assert shown["Berhenti atas permintaan warga"] == [0, PRIMARY]
        assert grid.col_totals is None  # the stages are not parts of one total
        assert not report.sup.check()
        rows = list(csv.reader(report_csv(report).splitlines()))
        assert ["Sapaan lanjutan", "Sapaan terkirim", "2026-W48", "2026-11-23", "2026-11-29",
                "6"] in rows
        assert "5. Sapaan lanjutan" in render_html(report)
    finally:
        await h.close()


async def test_workers_with_their_own_stores_share_the_check_ins_without_duplicates(
        tmp_path, database):
    """Two workers (two stores on one database: PostgreSQL skips rows another holds, SQLite
    serialises the claims) tick at the same moment; every check-in goes out once."""
    first = await make_harness(tmp_path, database=database)
    second = await make_harness(tmp_path, database=database)
    sender = RecordingCheckins()
    try:
        for n in range(8):
            await accept_crisis_series(first, f"88{n}")
        for h in (first, second):
            h.kit.followups.senders.attach("telegram", sender)
            h.clock.advance(days=1)
            h.kit.followups.scheduler.batch = 3
        ticks = [h.kit.followups.scheduler.tick() for h in (first, second) for _ in range(3)]
        assert sum(await asyncio.gather(*ticks)) == 8
        assert sorted(to for _how, to, _r in sender.sent) == [f"88{n}" for n in range(8)]
    finally:
        await second.close()
        await first.close()


async def test_an_error_after_the_send_began_never_leads_to_a_second_send(h, monkeypatch):
    await accept_crisis_series(h, USER)
    h.clock.advance(days=1)

    async def broken(*args, **kwargs):
        raise RuntimeError("the database went away while marking it sent")

    monkeypatch.setattr(scheduler(h), "_record", broken)
    assert await scheduler(h).tick() == 0
    assert len(h.checkins.sent) == 1  # it went out…
    monkeypatch.undo()
    h.clock.advance(minutes=3)  # …the lease runs out: unconfirmed, not resent
    assert await scheduler(h).tick() == 0
    assert checkins(h)[0]["state"] == "unconfirmed" and len(h.checkins.sent) == 1
