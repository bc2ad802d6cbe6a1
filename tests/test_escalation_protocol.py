"""The crisis protocol for the person actually in danger, end to end through `Conversations`
with the real content/id and its real crisis lexicon: who is at risk (`subject`, `about`),
crisis words typed inside the protocol, several disclosures on one case, the share-my-words
answer per disclosure, declined questions, and what the cadre's card says.

The engine part (`flows/people.py`, the in-protocol crisis check) is tested here too."""

from __future__ import annotations

import sqlite3

import pytest

from bot.cases.cards import render_alert
from flows.convtest import default_driver_factory
from flows.crisis import load_detector
from flows.messages import Inbound
from flows.people import person_at_risk
from storage.migrations import MIGRATIONS
from storage.retention import purge
from storage.sqlite import SqliteStore
from tests.conftest import REAL_CONTENT
from tests.support.escalation import make_harness, system_text

PHQ9_ALL_NEARLY_EVERY_DAY = ["hampir_tiap_hari"] * 9  # total 27, item 9 = 3


@pytest.fixture
async def h(tmp_path):
    harness = await make_harness(
        tmp_path, content_dir=REAL_CONTENT, detector=load_detector(REAL_CONTENT)
    )
    yield harness
    await harness.close()


async def start(h, user: str, area: str = "ngunut"):
    return await h.say(user, "/start", ("c", "setuju"), ("c", "dewasa"), ("c", area))


def the_case(h):
    rows = h.rows("SELECT * FROM cases")
    assert len(rows) == 1, [dict(r) for r in rows]
    return rows[0]


def disclosures(h) -> list[sqlite3.Row]:
    return h.rows("SELECT * FROM disclosures ORDER BY id")


def card(h) -> str:
    """The case card as the cadre group sees it now (the last post or edit)."""
    latest = h.sender.updates[-1][2] if h.sender.updates else None
    alerts = [a for _r, a in h.sender.sent if a.kind == "alert"]
    return render_alert(latest or alerts[-1])


def said(turn) -> str:
    return "\n".join(r.text for r in turn.replies)


# ---------------------------------------------------------------------------- who is at risk
@pytest.mark.parametrize(
    ("text", "about"),
    [
        ("anakku dipukuli ayahnya", "child"),
        ("suamiku memukul anak kami", "child"),  # a child named anywhere comes first
        ("tetanggaku mukulin anaknya", "child"),
        ("temanku dipukuli pacarnya", "friend"),  # otherwise the first person named
        ("temen gw mau bunuh diri", "friend"),
        ("adik saya ngamuk bawa parang", "family"),
        ("ibuku bilang mau bunuh diri", "family"),
        ("tetangga saya dipukuli suaminya", "neighbour"),
        ("aku anak SMP, ayah memukul aku", ""),  # no one's child: the resident is the child
        ("dia mau bunuh diri", ""),  # nobody named: the flow asks
    ],
)
def test_the_person_at_risk_is_named_from_the_words(text, about):
    assert person_at_risk(text) == about


async def engine_turns(*messages: str | tuple[str, str]):
    driver = default_driver_factory(REAL_CONTENT)()
    await driver.start({"consent": True})
    turns = []
    for message in messages:
        inbound = (
            Inbound(choice=message[1]) if isinstance(message, tuple) else Inbound(text=message)
        )
        turns.append(await driver.send(inbound))
    return driver, turns


async def test_subject_and_person_reach_the_crisis_flow_and_its_events():
    driver, turns = await engine_turns("temanku mau bunuh diri")
    replies, events = turns[-1]
    frame = driver.session.top
    assert (frame.flow, frame.vars["subject"], frame.vars["about"]) == ("crisis", "other", "friend")
    detected = next(e.data for e in events if e.name == "crisis_detected")
    assert detected["subject"] == "other" and detected["about"] == "friend"
    assert replies[-1].node == "crisis.lain_dampingi"
    text = "\n".join(r.text for r in replies)
    assert "teman Anda" in text and "berharap Anda sudah meninggal" not in text


async def test_crisis_words_inside_the_protocol_are_never_not_understood():
    _driver, turns = await engine_turns("aku ingin bunuh diri", "aku pengen mati aja")
    replies, events = turns[-1]
    text = "\n".join(r.text for r in replies)
    assert system_text("reprompt") not in text and "belum mengerti" not in text
    assert "tekan 8" in text and "Saya membaca pesan Anda" in text
    assert replies[-1].node == "crisis.aman" and [c.id for c in replies[-1].choices] == [
        "ya",
        "tidak",
    ]
    assert [(e.name, e.data["continues"]) for e in events] == [("crisis_detected", True)]


async def test_a_crisis_message_that_answers_the_question_is_taken_as_the_answer():
    # "tidak" alone is no crisis; a crisis message matching a choice would be its answer
    _driver, turns = await engine_turns("aku ingin bunuh diri", ("c", "ya"), "tidak ada")
    assert turns[-1][0][-1].node == "crisis.kontak"


async def test_a_different_disclosure_inside_the_protocol_starts_its_own_path():
    _driver, turns = await engine_turns("aku ingin bunuh diri", "suamiku memukulku tiap malam")
    replies, events = turns[-1]
    assert replies[-1].node == "crisis.kekerasan_tanya"
    detected = next(e.data for e in events if e.name == "crisis_detected")
    assert detected["category"] == "abuse" and detected["continues"] is False
    assert any(e.name == "escalate" and e.data["category"] == "abuse" for e in events)


async def test_a_higher_level_of_the_same_disclosure_restarts_the_protocol_as_one():
    _driver, turns = await engine_turns("aku pengen mati aja", "aku sudah siapkan tali malam ini")
    replies, events = turns[-1]
    detected = next(e.data for e in events if e.name == "crisis_detected")
    assert detected["level"] == "urgent" and detected["continues"] is True
    assert "crisis.darurat" in [r.node for r in replies]


# ---------------------------------------------------------------------------- third parties
@pytest.mark.parametrize(
    ("message", "presses", "label"),
    [
        ("anakku dipukuli ayahnya", ["tidak", "ya"], "anak"),
        ("temanku mau bunuh diri", ["ya", "tidak", "ya"], "teman"),
        ("adik saya ngamuk bawa parang", ["ya", "ya"], "anggota keluarga"),
    ],
)
async def test_a_report_about_someone_else_says_so_on_the_card(h, message, presses, label):
    await start(h, "100")
    await h.say("100", message, *[("c", p) for p in presses])
    case = the_case(h)
    assert case["contact_ok"] == 1
    await h.kit.dispatcher.run_once()
    text = card(h)
    assert f"Dilaporkan oleh orang lain: {label}" in text
    assert "ASQ" not in text  # the reporter was not asked about their own wish to die
    assert "Aman saat ini" not in text  # the resident's own safety was not the question
    (row,) = disclosures(h)
    assert (row["subject"], row["case_id"]) == ("other", case["id"])


async def test_a_reporter_who_speaks_about_themselves_gets_the_asq_as_a_second_disclosure(h):
    await start(h, "110")
    # friend with me: yes; in danger now: no; cadre may contact: yes; share: no
    await h.say("110", "temanku mau bunuh diri", ("c", "ya"), ("c", "tidak"), ("c", "ya"))
    turn = await h.say("110", ("c", "tidak"), ("c", "berat"))
    assert turn.replies[-1].node == "crisis.cek"
    turn = await h.say("110", ("c", "boleh"), ("c", "ya"), ("c", "tidak"), ("c", "tidak"))
    turn = await h.say("110", ("c", "tidak"), ("c", "tidak"))  # right now: no → high
    assert [e.data["level"] for e in turn.events if e.name == "escalation_upgraded"] == ["high"]
    rows = disclosures(h)
    assert [(r["subject"], r["level"], r["source"]) for r in rows] == [
        ("other", "check", "free_text"),
        ("self", "high", "pelapor"),
    ]
    await h.kit.dispatcher.run_once()
    text = card(h)
    assert "ASQ 1 = ya" in text and "Dilaporkan oleh orang lain: teman" in text


# ---------------------------------------------------------------------------- several disclosures
async def test_share_my_words_is_per_disclosure(h):
    await start(h, "200")
    await h.say("200", "tadi aku nyilet lagi RAHASIA-SATU")
    # injured: no; safe: yes; someone with me: yes; contact: yes; share: NO
    await h.say("200", ("c", "tidak"), ("c", "ya"), ("c", "ya"), ("c", "ya"), ("c", "tidak"))
    await h.kit.dispatcher.run_once()
    h.clock.advance(minutes=4)
    await h.say("200", "suamiku memukulku tiap malam RAHASIA-DUA")
    # safe to reply: yes; abuser near: no; contact: yes; share: YES
    await h.say("200", ("c", "aman"), ("c", "tidak"), ("c", "ya"), ("c", "ya"))
    await h.kit.dispatcher.run_once()
    words = [a for _r, a in h.sender.sent if a.kind == "words"]
    assert len(words) == 1 and "RAHASIA-DUA" in words[0].words
    assert "RAHASIA-SATU" not in words[0].words
    assert words[0].words_of is not None and words[0].words_of.category == "abuse"
    assert b"RAHASIA" not in h.raw_bytes()
    assert [(r["share_words"], r["words_state"]) for r in disclosures(h)] == [
        (0, "declined"),
        (1, "delivered"),
    ]


async def test_a_check_sign_raised_by_the_asq_keeps_the_words_that_started_it(h):
    await start(h, "300")
    turn = await h.say("300", "aku pengen mati aja, KATA-AWAL")
    assert not h.rows("SELECT id FROM cases")  # check level: no case yet, words sealed
    assert b"KATA-AWAL" not in h.raw_bytes()
    (pending,) = disclosures(h)
    assert pending["case_id"] is None and pending["words_state"] == "held"
    turn = await h.say("300", ("c", "boleh"), ("c", "ya"), ("c", "tidak"), ("c", "tidak"))
    turn = await h.say("300", ("c", "tidak"), ("c", "tidak"))  # right now: no
    assert [e.data["level"] for e in turn.events if e.name == "escalation_created"] == ["high"]
    (row,) = disclosures(h)
    assert (row["case_id"], row["level"]) == (the_case(h)["id"], "high")
    # safe: yes; with someone: yes; contact: yes; share: yes
    await h.say("300", ("c", "ya"), ("c", "ya"), ("c", "ya"), ("c", "ya"))
    await h.kit.dispatcher.run_once()
    (words,) = [a for _r, a in h.sender.sent if a.kind == "words"]
    assert "KATA-AWAL" in words.words and b"KATA-AWAL" not in h.raw_bytes()


async def test_a_check_run_that_ends_without_a_case_leaves_nothing(h):
    await start(h, "310")
    await h.say("310", "aku pengen mati aja, KATA-HILANG")
    await h.say("310", ("c", "boleh"), ("c", "tidak"), ("c", "tidak"), ("c", "tidak"))
    turn = await h.say("310", ("c", "tidak"), ("c", "tidak"))  # ASQ all no; offer: no
    assert turn.replies[-1].node == "crisis.penutup_umum"
    assert disclosures(h)[0]["case_id"] is None  # sealed while the protocol still runs
    await h.say("310", ("c", "lanjut"))  # the protocol is over: no case, nothing kept
    assert disclosures(h) == [] and h.rows("SELECT id FROM cases") == []
    assert b"KATA-HILANG" not in h.raw_bytes()


async def test_declining_the_asq_after_phq9_item9_records_a_check_case_and_says_so(h):
    await start(h, "400")
    await h.say("400", "/start phq9", ("c", "mulai"))
    turn = await h.say("400", *[("c", a) for a in PHQ9_ALL_NEARLY_EVERY_DAY])
    assert "27 dari 27" in said(turn) and turn.replies[-1].node == "crisis.cek"
    turn = await h.say("400", ("c", "nanti"))
    assert "24 jam" in said(turn) and turn.replies[-1].node == "crisis.kontak"
    created = [e.data for e in turn.events if e.name == "escalation_created"]
    assert [c["level"] for c in created] == ["check"]
    case = the_case(h)
    assert (case["level"], case["source"]) == ("check", "phq9_item9")
    await h.kit.dispatcher.run_once()
    text = card(h)
    assert "PHQ9 butir 9 = 3" in text and "tidak mau menjawab pertanyaan ASQ = ya" in text


async def test_the_card_lists_every_hotline_the_bot_showed(h):
    await start(h, "500")
    shown: list[str] = []
    await h.say("500", "menu", ("c", "darurat"))
    for message in [("c", "kader"), ("c", "boleh")] + [("c", "tidak")] * 4 + [("c", "ya")]:
        turn = await h.say("500", message)
        shown.append(said(turn))
    await h.kit.dispatcher.run_once()
    text = card(h)
    names = {
        "SEJIWA": "tekan 8",
        "Healing119.id": "healing119.id",
        "Darurat": "telepon 112",
        "Darurat lain": "110 polisi",
    }
    listed = text.split("Bot sudah memberi nomor: ")[1].split("\n")[0].split(", ")
    assert sorted(listed) == sorted(n for n, mark in names.items() if mark in "".join(shown))
    assert len(listed) == 4  # shown in the protocol's first turns, before any case existed


async def test_who_reads_shared_words_is_what_the_resident_was_told(h):
    """Decision: shared words go, as a reply under the card, to every route the case was
    alerted to (the area's cadres, and the supervisor once the case was raised there)."""
    await start(h, "600")
    await h.say("600", "aku ingin bunuh diri, KATA-UNTUK-KADER")
    await h.kit.dispatcher.run_once()
    h.clock.advance(minutes=31)  # unclaimed high case: raised to the puskesmas
    assert await h.kit.dispatcher.check_deadlines() == 1
    await h.kit.dispatcher.run_once()
    turn = await h.say("600", ("c", "ya"), ("c", "ya"), ("c", "ya"))
    question = said(turn)
    assert "kader kesehatan jiwa yang bertugas di daerah Anda" in question
    assert "petugas puskesmas bila kasusnya diteruskan" in question
    assert "Hanya kader yang menangani" not in question
    turn = await h.say("600", ("c", "ya"))
    assert "dikirim kepada kader yang bertugas di daerah Anda" in said(turn)
    await h.kit.dispatcher.run_once()
    words = sorted(r for r, a in h.sender.sent if a.kind == "words")
    assert words == ["kader_ngunut", "puskesmas_ngunut"]


async def test_migration_keeps_the_words_of_an_existing_case_as_its_first_disclosure(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:3]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version=3")
    conn.execute(
        "INSERT INTO cases (code, user_key, level, category, source, words_enc, words_state, "
        "share_words, created_at, updated_at) VALUES ('TJ-AAAA', 'k', 'high', 'suicide', "
        "'free_text', x'01', 'held', 1, '2026-11-22T07:05:00+00:00', "
        "'2026-11-22T07:05:00+00:00')"
    )
    conn.execute(
        "INSERT INTO outbox (idem_key, case_id, route, kind, reason, next_attempt_at, "
        "created_at) VALUES ('w', 1, 'r', 'words', 'words', 'x', 'x')"
    )
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    await store.open()
    await store.close()
    conn = sqlite3.connect(path)
    try:
        row = conn.execute(
            "SELECT case_id, level, words_enc, words_state, share_words FROM disclosures"
        ).fetchone()
        assert row == (1, "high", b"\x01", "held", 1)
        assert conn.execute("SELECT words_enc FROM cases").fetchone() == (None,)
        assert conn.execute("SELECT disclosure_id FROM outbox").fetchone() == (1,)
    finally:
        conn.close()


async def test_a_protocol_left_mid_way_keeps_its_sealed_words_one_day_at_most(h):
    await start(h, "700")
    await h.say("700", "aku pengen mati aja, KATA-TERTINGGAL")  # then never answers
    assert len(disclosures(h)) == 1
    h.clock.advance(hours=23)
    await purge(h.store, h.config, h.clock())
    assert len(disclosures(h)) == 1
    h.clock.advance(hours=2)
    report = await purge(h.store, h.config, h.clock())
    assert disclosures(h) == [] and report.rows.get("disclosures") == 1
    assert b"KATA-TERTINGGAL" not in h.raw_bytes()
