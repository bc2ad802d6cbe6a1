"""Escalation: case + outbox in the turn's transaction, dispatch with retries, the fallback
chain, the handoff packet, and the resident's words (real SQLite files and a real
PostgreSQL server, controllable clock)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bot.cases.cards import REPEAT_MARK, REPEAT_NOTE, format_time, render_alert
from bot.cases.desk import OPERATOR, CadreIdentity
from bot.cases.dispatcher import Backoff, Dispatcher
from bot.conversations import Conversations
from flows.messages import Inbound
from storage import cases, make_store
from tests.support.escalation import (
    KADER_GROUP,
    START,
    FakeClock,
    RecordingSender,
    escalation_harness,  # noqa: F401 (fixture h)
    make_harness,
)

pytestmark = pytest.mark.both_backends


def disclosure_rows(h):
    return h.rows("SELECT * FROM disclosures ORDER BY id")


def case_row(h, user_key=None):
    rows = h.rows(
        "SELECT * FROM cases" + (" WHERE user_key = ?" if user_key else ""),
        *([user_key] if user_key else []),
    )
    assert len(rows) == 1, [dict(r) for r in rows]
    return rows[0]


async def test_crisis_text_writes_case_and_alert_in_the_turn(h):
    platform_id = "5550123987"  # long enough not to turn up by chance in PostgreSQL's files
    await h.onboard(platform_id)
    turn = await h.say(platform_id, "aku mau mati saja")
    created = [e for e in turn.events if e.name == "escalation_created"]
    assert len(created) == 1
    assert re.fullmatch(r"TJ-[2-9A-HJKMNP-Z]{4}", created[0].data["case"])
    assert created[0].data["level"] == "high" and created[0].data["category"] == "suicide"
    row = case_row(h, turn.user_key)
    assert (row["code"], row["status"], row["route"]) == (
        created[0].data["case"],
        "open",
        "kader_ngunut",
    )
    assert row["deadline_at"] == (START + timedelta(minutes=30)).isoformat()
    outbox = h.rows("SELECT kind, route, state, reason FROM outbox")
    assert [tuple(r) for r in outbox] == [("alert", "kader_ngunut", "pending", "new")]
    assert platform_id not in h.raw_bytes().decode("latin-1")  # no platform id on disk


async def test_a_failed_turn_transaction_writes_nothing_and_answers_with_hotlines(h):
    await h.onboard("556")
    state_before = [tuple(r) for r in h.rows("SELECT state FROM sessions")]
    original = h.kit.escalations.on_escalate

    async def escalate_then_fail(ctx, event):
        await original(ctx, event)  # the case and its outbox row are written in the tx…
        raise RuntimeError("disk full")  # …and then the turn fails

    h.conversations = Conversations(
        h.conversations.engine,
        h.store,
        h.conversations.secret,
        clock=h.clock,
        effects={"escalate": [escalate_then_fail]},
    )
    turn = await h.say("556", "aku mau mati saja")
    # nothing of the failed turn is said: only the fallback text with the hotlines
    assert [e.name for e in turn.events] == ["storage_error"]
    assert len(turn.replies) == 1 and "119" in turn.replies[0].text
    for table in ("cases", "outbox", "case_events"):
        assert h.rows(f"SELECT count(*) FROM {table}")[0][0] == 0, table
    assert [tuple(r) for r in h.rows("SELECT state FROM sessions")] == state_before
    assert await h.kit.dispatcher.run_once() == 0
    assert h.sender.sent == []


async def test_second_escalate_upgrades_the_open_case_and_realerts(h):
    await h.onboard("557")
    first = await h.say("557", "aku mau mati saja")
    code = next(e.data["case"] for e in first.events if e.name == "escalation_created")
    h.clock.advance(minutes=2)
    turn = await h.say("557", "darurat sekarang")
    assert not any(e.name == "escalation_created" for e in turn.events)
    upgraded = [e.data for e in turn.events if e.name == "escalation_upgraded"]
    assert upgraded == [{"case": code, "level": "urgent", "category": "suicide"}]
    row = case_row(h)
    assert row["level"] == "urgent"
    # the deadline tightens to the urgent one (5 min from now)
    assert row["deadline_at"] == (START + timedelta(minutes=7)).isoformat()
    alerts = h.rows("SELECT reason FROM outbox WHERE kind = 'alert' ORDER BY id")
    assert [r[0] for r in alerts] == ["new", "upgrade"]
    # a lower level again: no new case, no new alert
    await h.say("557", "menu", "aku mau mati saja")
    assert len(h.rows("SELECT id FROM cases")) == 1
    assert len(h.rows("SELECT id FROM outbox WHERE kind = 'alert'")) == 2
    kinds = [r[0] for r in h.rows("SELECT kind FROM case_events ORDER BY id")]
    assert "upgraded" in kinds and "escalate_repeat" in kinds


async def test_a_closed_case_lets_a_new_one_open(h):
    await h.onboard("558")
    first = await h.say("558", "aku mau mati saja")
    code = next(e.data["case"] for e in first.events if e.name == "escalation_created")
    assert (await h.kit.desk.resolve(code, OPERATOR, "contacted")).ok
    turn = await h.say("558", "menu", "aku mau mati saja")
    again = [e.data["case"] for e in turn.events if e.name == "escalation_created"]
    assert again and again[0] != code


async def test_no_area_or_area_without_route_goes_to_the_default_route(h):
    await h.onboard("560", area="lewati")
    await h.say("560", "aku mau mati saja")
    await h.onboard("561", area="kota")
    await h.say("561", "aku mau mati saja")
    assert sorted(r[0] for r in h.rows("SELECT route FROM cases")) == ["dinkes", "dinkes"]


async def test_handoff_packet_has_what_cadres_need_and_no_identity(h):
    await h.onboard("6281234567890")
    await h.say("6281234567890", "aku mau mati saja")
    assert await h.kit.dispatcher.run_once() == 1
    ((route, alert),) = h.sender.sent
    assert route == "kader_ngunut"
    text = render_alert(alert)
    for needle in (
        alert.case,
        "TINGGI",
        "pikiran bunuh diri",
        "pesan yang diketik warga",
        "dewasa",
        "Kec. Ngunut",
        "Boleh dihubungi: belum dijawab",
        "SEJIWA",
        "Terakhir membalas: 22 Nov 2026 14.05 WIB",
        "BELUM DIAMBIL",
    ):
        assert needle in text, needle
    assert "6281234567890" not in repr(alert)
    assert alert.words is None and "mau mati" not in text  # words: not without agreement
    assert alert.idempotency_key.startswith(alert.case)


def test_cadre_times_use_babel_and_the_deployment_zone():
    from zoneinfo import ZoneInfo

    assert format_time(START, ZoneInfo("Asia/Jakarta")) == "22 Nov 2026 14.05 WIB"
    assert format_time(START, ZoneInfo("Asia/Makassar")) == "22 Nov 2026 15.05 WITA"
    assert format_time(START, ZoneInfo("Asia/Jayapura")) == "22 Nov 2026 16.05 WIT"
    assert (
        format_time(START.replace(month=8, day=17), ZoneInfo("Asia/Jakarta"))
        == "17 Agu 2026 14.05 WIB"
    )


async def test_screening_item_answers_reach_the_packet(h):
    # the real crisis flow's ASQ answers, then an upgrade: the packet lists them
    await h.onboard("562")
    await h.say(
        "562",
        "capek hidup",
        ("c", "boleh"),
        ("c", "ya"),
        ("c", "tidak"),
        ("c", "ya"),
        ("c", "tidak"),
        ("c", "ya"),
    )
    row = case_row(h)
    assert row["level"] == "urgent" and row["source"] == "free_text"
    await h.kit.dispatcher.run_once()
    text = render_alert(h.sender.sent[0][1])
    assert "ASQ 1 = ya; ASQ 2 = tidak; ASQ 3 = ya; ASQ 4 = tidak; ASQ 5 = ya" in text
    assert "DARURAT" in text and "112 / 119 / IGD" in text


async def test_failed_sends_are_retried_with_backoff_and_the_same_key(h):
    h.sender.fail_next = 2
    await h.onboard("563")
    await h.say("563", "darurat sekarang")
    dispatcher = h.kit.dispatcher
    assert await dispatcher.run_once() == 0  # attempt 1 fails
    row = h.rows("SELECT state, attempts, next_attempt_at, last_error FROM outbox")[0]
    assert (row["state"], row["attempts"]) == ("pending", 1)
    assert row["next_attempt_at"] == (START + timedelta(seconds=5)).isoformat()
    assert "unreachable" in row["last_error"]
    assert await dispatcher.run_once() == 0  # not due yet: nothing is tried
    assert len(h.sender.keys_tried) == 1
    h.clock.advance(seconds=5)
    assert await dispatcher.run_once() == 0  # attempt 2 fails: backoff doubles
    row = h.rows("SELECT attempts, next_attempt_at FROM outbox")[0]
    assert row["next_attempt_at"] == (START + timedelta(seconds=15)).isoformat()
    h.clock.advance(seconds=9)
    assert await dispatcher.run_once() == 0
    h.clock.advance(seconds=1)
    assert await dispatcher.run_once() == 1  # attempt 3 succeeds
    assert len(set(h.sender.keys_tried)) == 1 and len(h.sender.keys_tried) == 3
    assert len(h.sender.sent) == 1
    kinds = [r[0] for r in h.rows("SELECT kind FROM case_events ORDER BY id")]
    assert kinds.count("alert_failed") == 2 and kinds.count("alert_sent") == 1
    assert h.rows("SELECT state FROM outbox")[0][0] == "sent"
    assert await dispatcher.run_once() == 0


def test_backoff_is_exponential_and_capped():
    backoff = Backoff(base=5, factor=2, cap=300)
    assert [backoff.delay(n).total_seconds() for n in (1, 2, 3, 4, 7, 20)] == [
        5,
        10,
        20,
        40,
        300,
        300,
    ]


async def test_two_dispatchers_never_send_one_row_twice(h, tmp_path):
    for i in range(12):
        await h.onboard(f"7{i:02d}")
        await h.say(f"7{i:02d}", "darurat sekarang")
    other_store = make_store(h.database)  # its own connections, as a second process has
    await other_store.open()
    try:
        second_sender = RecordingSender()
        second = Dispatcher(
            other_store, second_sender, h.config, h.kit.sealer, clock=h.clock, batch=3
        )
        first = Dispatcher(h.store, h.sender, h.config, h.kit.sealer, clock=h.clock, batch=3)
        import asyncio

        for _ in range(10):
            await asyncio.gather(first.run_once(), second.run_once())
        keys = [a.idempotency_key for _r, a in h.sender.sent + second_sender.sent]
        assert len(keys) == 12 and len(set(keys)) == 12
        assert h.sender.sent and second_sender.sent  # both did some of the work
        assert {r[0] for r in h.rows("SELECT state FROM outbox")} == {"sent"}
    finally:
        await other_store.close()


async def test_a_dead_dispatchers_claim_is_taken_over_after_its_lease(h):
    await h.onboard("570")
    await h.say("570", "darurat sekarang")
    # a dispatcher claims the row and dies before sending
    async with h.store.transaction() as tx:
        claimed = await cases.claim_due(
            tx, h.clock(), "dead-dispatcher", h.clock() + timedelta(seconds=60), 10
        )
    assert len(claimed) == 1
    dispatcher = h.kit.dispatcher
    assert await dispatcher.run_once() == 0  # still leased: not sent twice
    h.clock.advance(seconds=61)
    assert await dispatcher.run_once() == 1
    assert await dispatcher.run_once() == 0
    assert len(h.sender.sent) == 1
    assert h.sender.sent[0][1].idempotency_key == claimed[0].idem_key
    assert h.sender.sent[0][1].attempt == 2
    # the dead one's late "sent" is refused: the row belongs to the other dispatcher now
    async with h.store.transaction() as tx:
        assert not await cases.mark_sent(tx, claimed[0].id, "dead-dispatcher", h.clock(), "x")


async def test_unclaimed_urgent_case_climbs_the_fallback_chain(h):
    await h.onboard("580")
    turn = await h.say("580", "darurat sekarang")
    code = next(e.data["case"] for e in turn.events if e.name == "escalation_created")
    dispatcher = h.kit.dispatcher
    await dispatcher.tick()
    h.clock.advance(minutes=4, seconds=59)
    assert await dispatcher.check_deadlines() == 0
    h.clock.advance(seconds=1)  # 5 minutes unclaimed
    assert await dispatcher.check_deadlines() == 1
    assert case_row(h)["route"] == "puskesmas_ngunut"
    await dispatcher.run_once()
    assert [(r, a.reason) for r, a in h.sender.sent] == [
        ("kader_ngunut", "new"),
        ("kader_ngunut", "reminder"),
        ("puskesmas_ngunut", "sla"),
    ]
    h.clock.advance(minutes=5)
    assert await dispatcher.check_deadlines() == 1
    assert case_row(h)["route"] == "dinkes"  # then the default route
    h.clock.advance(minutes=5)
    assert await dispatcher.check_deadlines() == 1  # end of the chain: reminders
    assert case_row(h)["route"] == "dinkes"
    await dispatcher.run_once()
    steps = h.rows("SELECT kind, detail FROM case_events WHERE kind LIKE 'sla%' ORDER BY id")
    assert [s["kind"] for s in steps] == ["sla_raised", "sla_raised", "sla_reminder"]
    assert "kader_ngunut → puskesmas_ngunut" in steps[0]["detail"]
    assert "puskesmas_ngunut → dinkes" in steps[1]["detail"]
    last = h.sender.sent[-1][1]
    assert last.route_chain == ("Kader Ngunut", "Puskesmas Ngunut", "Dinkes Kabupaten")
    # a cadre of the supervisor route may now claim it; then the chain stops
    puskesmas = CadreIdentity("telegram", "9001", "Bu Rina", chat_id=-100222)
    assert (await h.kit.desk.claim(code, puskesmas)).ok
    h.clock.advance(hours=3)
    assert await dispatcher.check_deadlines() == 0


async def test_high_case_waits_thirty_minutes_and_a_claimed_case_never_climbs(h):
    await h.onboard("581")
    turn = await h.say("581", "aku mau mati saja")
    code = next(e.data["case"] for e in turn.events if e.name == "escalation_created")
    h.clock.advance(minutes=29)
    assert await h.kit.dispatcher.check_deadlines() == 0
    kader = CadreIdentity("telegram", "42", "Bu Sri", chat_id=KADER_GROUP)
    assert (await h.kit.desk.claim(code, kader)).ok
    h.clock.advance(minutes=60)
    assert await h.kit.dispatcher.check_deadlines() == 0


async def test_sla_minutes_come_from_the_config(tmp_path, database):
    from tests.support.escalation import make_config

    harness = await make_harness(
        tmp_path, config=make_config(escalation={"urgent_minutes": 2}), database=database
    )
    try:
        await harness.onboard("582")
        await harness.say("582", "darurat sekarang")
        harness.clock.advance(minutes=2)
        assert await harness.kit.dispatcher.check_deadlines() == 1
    finally:
        await harness.close()


async def test_words_are_sealed_and_sent_only_with_agreement_then_wiped(h):
    secret = "hutang rentenir di gang mawar"
    await h.onboard("590")
    await h.say("590", f"aku mau mati saja karena {secret}")
    assert secret.encode() not in h.raw_bytes()
    assert disclosure_rows(h)[0]["words_state"] == "held"
    assert disclosure_rows(h)[0]["words_enc"] is not None
    await h.kit.dispatcher.run_once()
    assert all(secret not in render_alert(a) for _r, a in h.sender.sent)
    # safe? no; with someone? no; contact? yes; share words? yes
    await h.say("590", ("c", "tidak"), ("c", "tidak"), ("c", "ya"), ("c", "ya"))
    await h.kit.dispatcher.run_once()
    words = [a for _r, a in h.sender.sent if a.kind == "words"]
    assert len(words) == 1 and secret in words[0].words
    assert words[0].reply_to == "ref-1"  # a reply to the case card in that group
    row = disclosure_rows(h)[0]
    assert row["words_enc"] is None and row["words_state"] == "delivered"
    assert row["words_at"] is not None
    assert secret.encode() not in h.raw_bytes()
    await h.kit.dispatcher.run_once()
    assert len([a for _r, a in h.sender.sent if a.kind == "words"]) == 1


async def test_words_declined_are_wiped_at_once_and_never_sent(h):
    secret = "nomor rumah tujuh belas"
    await h.onboard("591")
    await h.say("591", f"aku mau mati saja {secret}")
    await h.say("591", ("c", "ya"), ("c", "ya"), ("c", "ya"), ("c", "tidak"))
    assert case_row(h)["share_words"] == 0
    row = disclosure_rows(h)[0]
    assert row["share_words"] == 0 and row["words_enc"] is None
    assert row["words_state"] == "declined"
    await h.kit.dispatcher.run_once()
    assert not any(a.kind == "words" for _r, a in h.sender.sent)
    assert secret.encode() not in h.raw_bytes()
    # more crisis words after a "no": nothing is kept
    await h.say("591", f"darurat sekarang {secret}")
    assert [r["words_enc"] for r in disclosure_rows(h)] == [None]


async def test_resolving_wipes_words_and_contact_and_cancels_pending_alerts(h):
    await h.onboard("592")
    turn = await h.say("592", "aku mau mati saja, rahasia")
    code = next(e.data["case"] for e in turn.events if e.name == "escalation_created")
    await h.say("592", ("c", "ya"), ("c", "ya"), ("c", "ya"))  # contact ok, words not yet
    assert case_row(h)["contact_enc"] is not None
    result = await h.kit.desk.resolve(code, OPERATOR, "false_alarm", note="salah paham")
    assert result.ok
    row = case_row(h)
    assert row["status"] == "closed" and row["outcome"] == "false_alarm"
    assert row["contact_enc"] is None and row["words_enc"] is None
    assert {r[0] for r in h.rows("SELECT state FROM outbox WHERE kind = 'alert'")} == {"cancelled"}
    await h.kit.dispatcher.run_once()
    assert h.sender.sent == []


async def test_delete_keeps_only_anonymous_statistics(h):
    await h.onboard("593")
    turn = await h.say("593", "aku mau mati saja, rahasia sekali")
    code = next(e.data["case"] for e in turn.events if e.name == "escalation_created")
    await h.say("593", ("c", "ya"), ("c", "ya"), ("c", "ya"))
    await h.kit.desk.note(code, OPERATOR, "sudah ditelepon ibunya, Bu Ani")
    await h.kit.desk.resolve(code, OPERATOR, "contacted")
    key = turn.user_key
    await h.say("593", "/hapus", ("c", "ya"))
    row = case_row(h)
    assert row["user_key"] is None and row["level"] == "high" and row["outcome"] == "contacted"
    assert row["words_enc"] is None and row["contact_enc"] is None
    assert h.rows("SELECT count(*) FROM case_events WHERE user_key = ?", key)[0][0] == 0
    notes = h.rows("SELECT detail FROM case_events WHERE kind = 'note'")
    assert [n[0] for n in notes] == [""]
    for table in ("sessions", "results", "relays", "cases", "case_events"):
        assert h.rows(f"SELECT count(*) FROM {table} WHERE user_key = ?", key)[0][0] == 0


async def test_escalate_without_install_is_logged_loudly(engine, store, caplog):
    plain = Conversations(engine, store, b"s")
    await plain.handle("console", "x", Inbound(text="/start"))
    await plain.handle("console", "x", Inbound(choice="setuju"))
    await plain.handle("console", "x", Inbound(choice="dewasa"))
    await plain.handle("console", "x", Inbound(choice="lewati"))
    await plain.handle("console", "x", Inbound(text="aku mau mati saja"))
    assert "NO CADRE ALERT" in caplog.text


async def test_fake_clock_is_the_only_time_source(tmp_path, database):
    clock = FakeClock()
    harness = await make_harness(tmp_path, clock=clock, database=database)
    try:
        await harness.onboard("594")
        clock.advance(days=3)
        await harness.say("594", "aku mau mati saja")
        row = case_row(harness)
        assert row["created_at"] == clock().isoformat()
    finally:
        await harness.close()


def test_encryption_key_from_env_or_a_0600_file(tmp_path, monkeypatch, caplog):
    import os
    import stat

    from bot.crypto import KEY_ENV, EncryptionKeyError, Sealer, generate_key, load_key

    monkeypatch.delenv(KEY_ENV, raising=False)
    db = tmp_path / "k.db"
    first = load_key(db)
    assert load_key(db) == first
    assert stat.S_IMODE(os.stat(str(db) + ".key").st_mode) == 0o600
    assert "TEMANJIWA_ENCRYPTION_KEY is not set" in caplog.text
    sealer = Sealer(first)
    token = sealer.seal("kata-kata rahasia")
    assert b"rahasia" not in token and sealer.open(token) == "kata-kata rahasia"
    assert Sealer(generate_key().encode()).open(token) is None  # another key: unreadable
    key = generate_key()
    monkeypatch.setenv(KEY_ENV, key)
    assert load_key(db) == key.encode()
    monkeypatch.setenv(KEY_ENV, "not-a-key")
    with pytest.raises(EncryptionKeyError, match=KEY_ENV):
        load_key(db)


async def test_every_escalation_table_with_resident_data_has_user_key(h):
    for table in ("cases", "case_events", "relays"):
        assert "user_key" in h.columns(table), table
    from storage.group_commit import USER_TABLES

    assert "relays" in USER_TABLES  # deleted with /hapus; cases are anonymised instead


async def test_only_escalation_handlers_see_the_typed_words(h):
    seen: dict[str, list] = {}
    effects = h.kit.escalations.effects()
    for name in ("escalate", "crisis_detected", "case_update"):
        original = effects[name]

        async def spy(ctx, event, _original=original, _name=name):
            seen.setdefault(_name, []).append(ctx.inbound_text)
            return await _original(ctx, event)

        effects[name] = spy
    h.conversations = Conversations(
        h.conversations.engine,
        h.store,
        h.conversations.secret,
        clock=h.clock,
        effects={name: [handler] for name, handler in effects.items()},
        before_engine=h.kit.desk.resident_turn,
        observers=[h.kit.escalations.observe],
    )
    await h.onboard("595")
    await h.say("595", "halo semua")  # not a crisis: nobody sees it
    await h.say("595", "aku mau mati saja")
    await h.say("595", ("c", "ya"))
    assert seen["escalate"] == ["aku mau mati saja"]
    assert seen["crisis_detected"] == ["aku mau mati saja"]
    assert seen["case_update"] == [None] * len(seen["case_update"])


class _PostedThenTimedOut(RecordingSender):
    """Telegram posted the card, the answer never came back in time."""

    async def send_alert(self, route, alert):
        ref = await super().send_alert(route, alert)
        if len(self.sent) == 1:
            raise TimeoutError
        return ref


async def test_a_card_retried_after_a_timeout_says_it_may_be_a_repeat(tmp_path):
    sender = _PostedThenTimedOut()
    h = await make_harness(tmp_path, sender=sender)
    try:
        await h.onboard("564")
        await h.say("564", "darurat sekarang")
        await h.kit.dispatcher.run_once()
        h.clock.advance(seconds=30)
        await h.kit.dispatcher.run_once()
        first, second = sender.texts()
        assert REPEAT_MARK not in first and REPEAT_NOTE not in first
        assert REPEAT_MARK in second.splitlines()[0] and REPEAT_NOTE in second
    finally:
        await h.close()
