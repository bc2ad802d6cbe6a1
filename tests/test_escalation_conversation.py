"""Conversation-level escalation tests through `Conversations` with the real content/id and
its real crisis lexicon: what residents do, what lands in the case and the cadre packet.

Skipped (with the reason) while content/id does not pass `temanjiwa lint`."""

from __future__ import annotations

import pytest

from bot.cases.cards import render_alert
from bot.cases.desk import RELAY_NODE, CadreIdentity
from flows.crisis import load_detector
from flows.linter import lint_directory
from flows.messages import Inbound
from tests.conftest import REAL_CONTENT
from tests.support.escalation import KADER_GROUP, make_harness, system_text

_errors = [p for p in lint_directory(REAL_CONTENT) if p.severity == "error"]
pytestmark = pytest.mark.skipif(bool(_errors), reason=f"content/id has lint errors: {_errors[:1]}")

KADER = CadreIdentity("telegram", "4242", "Bu Sri", chat_id=KADER_GROUP)
ASK_RESIDENT = system_text("relay_ask")
PHQ9_MILD_WITH_ITEM9 = ["beberapa_hari"] * 8 + ["beberapa_hari"]  # total 9, item 9 = 1


pytestmark = pytest.mark.both_backends


@pytest.fixture
async def h(tmp_path, database):
    harness = await make_harness(
        tmp_path, content_dir=REAL_CONTENT, detector=load_detector(REAL_CONTENT),
        database=database,
    )
    yield harness
    await harness.close()


async def start(h, user: str, area: str = "ngunut"):
    return await h.say(user, "/start", ("c", "setuju"), ("c", "dewasa"), ("c", area))


def nodes(turn) -> list[str]:
    return [r.node for r in turn.replies]


def the_case(h):
    rows = h.rows("SELECT * FROM cases")
    assert len(rows) == 1
    return rows[0]


async def test_menu_help_request_becomes_a_check_case_with_contact_consent(h):
    await start(h, "100")
    await h.say("100", "menu", ("c", "darurat"))
    turn = await h.say("100", ("c", "kader"))
    assert "crisis.cek" in nodes(turn)
    assert not h.rows("SELECT id FROM cases")  # a check-level entry alone opens no case
    turn = await h.say(
        "100", ("c", "boleh"), ("c", "tidak"), ("c", "tidak"), ("c", "tidak"), ("c", "tidak")
    )
    assert turn.replies[-1].node == "crisis.tawar"
    turn = await h.say("100", ("c", "ya"))
    created = [e.data for e in turn.events if e.name == "escalation_created"]
    assert created and created[0]["level"] == "check"
    case = the_case(h)
    assert (case["level"], case["source"], case["route"]) == ("check", "menu", "kader_ngunut")
    assert case["contact_ok"] == 1 and case["contact_enc"] is not None
    deadline = h.clock() + __import__("datetime").timedelta(hours=24)
    assert case["deadline_at"] == deadline.isoformat()
    turn = await h.say("100", ("c", "ya"))  # share words: yes, but nothing was typed
    assert the_case(h)["share_words"] == 1 and the_case(h)["words_state"] == "none"
    await h.kit.dispatcher.run_once()
    assert [a.kind for _r, a in h.sender.sent] == ["alert"]
    text = render_alert(h.sender.sent[0][1])
    assert "ASQ 1 = tidak" in text and "menu" in text and "Boleh dihubungi: ya" in text


async def test_typed_crisis_words_reach_the_cadre_only_with_agreement(h):
    await start(h, "200")
    turn = await h.say("200", "aku ingin bunuh diri karena hutang pinjol")
    assert [e.data["level"] for e in turn.events if e.name == "escalation_created"] == ["high"]
    assert turn.replies[-1].node == "crisis.aman"
    assert b"pinjol" not in h.raw_bytes()
    await h.kit.dispatcher.run_once()
    first = render_alert(h.sender.sent[0][1])
    assert "pinjol" not in first and "menunggu persetujuan" in first
    # safe now? no → someone with you? no → contact? yes → share words? yes
    turn = await h.say("200", ("c", "tidak"), ("c", "tidak"), ("c", "ya"), ("c", "ya"))
    updates = [e.data for e in turn.events if e.name == "case_update"]
    assert {"share_words": True} in updates
    case = the_case(h)
    assert (case["safe_now"], case["with_someone"], case["contact_ok"]) == (0, 0, 1)
    await h.kit.dispatcher.run_once()
    words = [a for _r, a in h.sender.sent if a.kind == "words"]
    assert len(words) == 1 and "pinjol" in words[0].words
    assert the_case(h)["words_enc"] is None and b"pinjol" not in h.raw_bytes()
    card = render_alert(h.sender.updates[-1][2]) if h.sender.updates else ""
    assert "Aman saat ini: tidak" in card and "SEJIWA" in card


async def test_phq9_item9_hands_over_with_the_item_answer(h):
    await start(h, "300")
    await h.say("300", "/start phq9", ("c", "mulai"))
    for answer in PHQ9_MILD_WITH_ITEM9:
        turn = await h.say("300", ("c", answer))
    assert any(
        e.name == "crisis_detected" and e.data["source"] == "phq9_item9" for e in turn.events
    )
    position = turn.replies[-1].node
    assert position.startswith("crisis.")
    # walk the ASQ: yes to question 3, no to "right now"
    if position in ("crisis.cek", "crisis.cek_hasil"):
        turn = await h.say("300", ("c", "boleh"))
    turn = await h.say("300", ("c", "tidak"), ("c", "tidak"), ("c", "ya"), ("c", "tidak"))
    turn = await h.say("300", ("c", "tidak"))
    assert [e.data for e in turn.events if e.name == "escalation_created"] == [
        {"case": the_case(h)["code"], "level": "high", "category": "suicide"}
    ]
    await h.kit.dispatcher.run_once()
    text = render_alert(h.sender.sent[0][1])
    assert "Sumber: PHQ9 butir 9" in text
    assert "PHQ9 butir 9 = 1" in text and "ASQ 3 = ya" in text and "ASQ 5 = tidak" in text


async def test_urgent_words_open_an_urgent_case_on_the_default_route_without_area(h):
    await start(h, "400", area="lewati")
    turn = await h.say("400", "aku sudah siapkan tali, malam ini aku akhiri hidupku")
    assert [e.data["level"] for e in turn.events if e.name == "escalation_created"] == ["urgent"]
    assert any("112" in r.text for r in turn.replies)
    case = the_case(h)
    assert case["route"] == "dinkes" and case["area"] is None
    h.clock.advance(minutes=5)
    assert await h.kit.dispatcher.check_deadlines() == 1  # dinkes has no supervisor:
    assert the_case(h)["route"] == "dinkes"  # reminders at the end of the chain


async def test_relay_with_the_real_flow_running_underneath(h):
    await start(h, "500")
    turn = await h.say("500", "aku ingin bunuh diri")
    code = next(e.data["case"] for e in turn.events if e.name == "escalation_created")
    await h.say("500", ("c", "ya"), ("c", "ya"), ("c", "ya"))  # contact: yes
    ask = await h.kit.desk.request_relay(code, KADER)
    assert ask.messages[0].text == ASK_RESIDENT
    turn = await h.conversations.handle(
        "telegram", "500", Inbound(choice="terima", node=RELAY_NODE)
    )
    assert "terhubung" in turn.replies[0].text
    turn = await h.say("500", "terima kasih kak, aku takut RAHASIA-77")
    assert turn.replies == [] and "RAHASIA-77" in turn.outbound[0].text
    # a button of the flow still answers the flow
    turn = await h.say("500", ("c", "ya"))
    assert turn.replies and turn.outbound == []
    turn = await h.say("500", "selesai")
    assert "diakhiri" in turn.replies[0].text
    assert b"RAHASIA-77" not in h.raw_bytes()
