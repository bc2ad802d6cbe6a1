"""Residents and cadres on Telegram end to end: `start_telegram` with the real content/id,
escalation and its dispatcher, a real SQLite file, and the fake Bot API on 127.0.0.1."""

from __future__ import annotations

import pytest

from bot.cases.desk import NOT_ALLOWED
from bot.telegram.cadre_chat import DAFTAR_IN_GROUP, UNDELIVERED
from tests.fakes import FakeTelegram
from tests.support.escalation import system_text
from tests.support.telegram_system import (
    CADRE,
    GROUP,
    GUARD,
    OTHER_GROUP,
    RESIDENT,
    STRANGER,
    System,
)

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

PHQ9_MILD = ["beberapa_hari"] * 6 + ["tidak_pernah"] * 3  # total 6: mild, item 9 = 0

ASK_RESIDENT = system_text("relay_ask")
ACCEPTED_RESIDENT = system_text("relay_accepted")
ENDED_BY_CADRE = system_text("relay_ended_by_cadre")


@pytest.fixture
async def tg():
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def system(tg, tmp_path, monkeypatch):
    monkeypatch.setenv("TEMANJIWA_SECRET", "telegram-e2e")
    system = await System.start(tg, tmp_path / "tj.db")
    yield system
    await system.shutdown()


async def open_case(system: System, *, contact: bool = True) -> str:
    """Onboard the resident, say crisis words mid-PHQ-9, answer the safety questions."""
    await system.onboard()
    await system.say(RESIDENT, "/start phq9")
    await system.choose(RESIDENT, "mulai")
    for answer in PHQ9_MILD[:3]:
        await system.choose(RESIDENT, answer)
    await system.say(RESIDENT, "aku ingin bunuh diri")
    code = system.case_code()
    # safe now: yes; someone with you: yes; may a cadre contact you through the bot
    for answer in ("ya", "ya", "ya" if contact else "tidak"):
        await system.choose(RESIDENT, answer)
    await system.wait_card(code)
    return code


async def test_resident_completes_phq9_with_buttons(system: System) -> None:
    await system.onboard()
    await system.say(RESIDENT, "/start phq9")
    await system.choose(RESIDENT, "mulai")
    for answer in PHQ9_MILD:
        await system.choose(RESIDENT, answer)
    (row,) = system.rows("SELECT instrument, score, band FROM results")
    assert tuple(row) == ("phq9", 6.0, "mild")
    assert "6 dari 27" in system.texts(RESIDENT)[-1]
    # every question was one message with its keyboard; each press marked the answer
    assert system.tg.unanswered_callbacks() == []
    assert all(c.ok for c in system.tg.calls if c.method == "sendMessage")
    assert system.rows("SELECT count(*) AS n FROM cases")[0]["n"] == 0


async def test_crisis_mid_flow_gets_the_safety_reply_and_a_card_in_the_group(
    system: System,
) -> None:
    await system.onboard()
    await system.say(RESIDENT, "/start phq9")
    await system.choose(RESIDENT, "mulai")
    await system.choose(RESIDENT, "beberapa_hari")
    mark = system.tg.mark()
    await system.say(RESIDENT, "aku ingin bunuh diri")
    (reply,) = system.texts(RESIDENT, mark)  # one turn, one message: hotlines included
    assert "tidak sendirian" in reply and "112" in reply and "119" in reply
    code = system.case_code()
    card = await system.wait_card(code)
    assert "TINGGI" in card.text and "Kec. Ngunut" in card.text
    labels = [b for row in system.tg.buttons(card.result) for b, _ in row]
    assert labels[:3] == ["✋ Ambil", "📝 Catatan", "✅ Selesai"]
    assert "aku ingin" not in card.text  # the resident's words need their agreement first


async def test_cadre_claims_in_place_and_strangers_are_refused(system: System) -> None:
    code = await open_case(system)
    card = system.tg.last_bot_message(GROUP, with_keyboard=True)
    card_id = card["message_id"]
    # Crafted presses: from a private chat, and from a group the case was not alerted to.
    system.tg.push_callback(STRANGER, STRANGER, f"kd:ambil:{code}", message_id=999)
    system.tg.push_callback(OTHER_GROUP, STRANGER, f"kd:ambil:{code}", message_id=999)
    await system.settle()
    refusals = system.tg.calls_to("answerCallbackQuery")[-2:]
    assert [c.params["text"] for c in refusals] == [NOT_ALLOWED, NOT_ALLOWED]
    assert all(c.params.get("show_alert") for c in refusals)
    assert system.rows("SELECT status FROM cases")[0]["status"] == "open"
    assert len(system.events("refused")) == 2

    mark = system.tg.mark()
    await system.press(GROUP, CADRE, "✋ Ambil")
    answer = system.tg.calls_to("answerCallbackQuery")[-1]
    assert answer.params["text"].startswith(f"Kasus {code} Anda ambil")
    edit = await system.tg.wait_for(
        lambda c: c.method == "editMessageText" and "Diambil oleh" in (c.text or ""),
        since=mark,
        timeout=GUARD,
    )
    assert edit.params["message_id"] == card_id and edit.chat_id == GROUP  # in place
    assert "Diambil oleh Warga920001" in edit.text  # the cadre's Telegram name
    edited = system.tg.messages[GROUP][card_id]
    assert "✋ Ambil" not in [b for row in system.tg.buttons(edited) for b, _ in row]
    assert system.rows("SELECT status FROM cases")[0]["status"] == "claimed"
    # no second card was posted for the claim
    cards = [t for t in system.texts(GROUP) if code in t and "TINGGI" in t]
    assert len(cards) == 1


async def test_note_and_resolve_with_buttons_in_the_group(system: System) -> None:
    code = await open_case(system)
    await system.press(GROUP, CADRE, "✋ Ambil")
    await system.press(GROUP, CADRE, "📝 Catatan")
    prompt_call = system.tg.calls_to("sendMessage", chat_id=GROUP)[-1]
    assert prompt_call.params["reply_markup"]["force_reply"] is True
    assert prompt_call.params["entities"][0]["type"] == "text_mention"  # only for this cadre
    prompt = prompt_call.result
    await system.say(
        GROUP, "sudah saya telepon", user=CADRE, reply_to_message_id=prompt["message_id"]
    )
    assert system.texts(GROUP)[-1] == f"Catatan untuk {code} disimpan."
    (note,) = system.events("note")
    assert note["detail"] == "sudah saya telepon"
    mark = system.tg.mark()
    await system.press(GROUP, CADRE, "✅ Selesai")
    await system.press(GROUP, CADRE, "Dirujuk ke puskesmas")
    assert system.rows("SELECT status, outcome FROM cases")[0][:] == (
        "closed",
        "referred_puskesmas",
    )
    edit = await system.tg.wait_for(
        lambda c: c.method == "editMessageText" and "SELESAI" in (c.text or ""),
        since=mark,
        timeout=GUARD,
    )
    assert "reply_markup" not in system.tg.messages[GROUP][edit.params["message_id"]]


async def test_relay_both_ways_and_either_side_ends_it(system: System) -> None:
    code = await open_case(system)
    await system.press(GROUP, CADRE, "✋ Ambil")
    # Hubungi before the cadre ever wrote to the bot: the bot cannot open the private chat.
    await system.press(GROUP, CADRE, "💬 Hubungi")
    assert "kirim /kader" in system.tg.calls_to("answerCallbackQuery")[-1].params["text"]
    assert system.rows("SELECT count(*) AS n FROM relays")[0]["n"] == 0
    await system.say(CADRE, "/kader")
    await system.press(GROUP, CADRE, "💬 Hubungi")
    ask = system.tg.last_bot_message(RESIDENT, with_keyboard=True)
    assert ask["text"] == ASK_RESIDENT.replace("*", "")
    await system.press(RESIDENT, RESIDENT, "Ya, mau")
    assert system.texts(RESIDENT)[-1] == ACCEPTED_RESIDENT.replace("*", "")
    assert system.texts(CADRE)[-1].startswith(f"✅ {code}: warga bersedia")

    await system.say(CADRE, "Halo, saya kader dari desa Anda.")
    assert system.texts(RESIDENT)[-1] == "💬 Kader: Halo, saya kader dari desa Anda."
    await system.say(RESIDENT, "terima kasih sudah menghubungi")
    assert system.texts(CADRE)[-1] == f"💬 {code}: terima kasih sudah menghubungi"
    # Anonymity: no names or ids cross over.
    for text in system.texts(RESIDENT):
        assert "920001" not in text and "Warga920001" not in text
    for text in system.texts(CADRE):
        assert "810001" not in text and "Warga810001" not in text
    assert b"terima kasih sudah" not in system.db_path.read_bytes()

    await system.say(RESIDENT, "selesai")  # the resident ends it
    assert system.texts(CADRE)[-1] == f"{code}: warga mengakhiri obrolan."
    assert system.rows("SELECT count(*) AS n FROM relays")[0]["n"] == 0
    mark = system.tg.mark()
    await system.say(CADRE, "masih di sana?")  # no relay any more: this is not relayed
    assert not [t for t in system.texts(RESIDENT, mark) if t.startswith("💬 Kader")]

    await system.press(GROUP, CADRE, "💬 Hubungi")  # again; this time the cadre ends it
    await system.press(RESIDENT, RESIDENT, "Ya, mau")
    await system.say(CADRE, f"/akhiri {code}")
    assert system.texts(CADRE)[-1] == f"{code}: obrolan diakhiri."
    assert system.texts(RESIDENT)[-1] == ENDED_BY_CADRE.replace("*", "")


async def test_invite_registers_a_cadre_in_a_private_chat(system: System) -> None:
    code = await open_case(system)
    invite = await system.kit.desk.create_invite("Bu Wati", "kader_ngunut")
    await system.say(GROUP, f"/daftar {invite}", user=STRANGER)
    assert system.texts(GROUP)[-1] == DAFTAR_IN_GROUP
    await system.say(STRANGER, f"/ambil {code}")
    assert system.texts(STRANGER)[-1] == NOT_ALLOWED
    await system.say(STRANGER, f"/daftar {invite}")
    assert system.texts(STRANGER)[-1].startswith("Terdaftar sebagai kader: Bu Wati.")
    await system.say(STRANGER, f"/ambil {code}")
    assert system.texts(STRANGER)[-1].startswith(f"Kasus {code} Anda ambil")
    assert system.rows("SELECT claimed_name FROM cases")[0]["claimed_name"] == "Bu Wati"
    await system.say(STRANGER, f"/daftar {invite}", user=CADRE)  # one time only
    assert "tidak berlaku" in system.texts(STRANGER)[-1]


async def test_blocked_resident_is_marked_unreachable_on_the_case(system: System) -> None:
    code = await open_case(system)
    await system.say(CADRE, "/kader")
    await system.press(GROUP, CADRE, "✋ Ambil")
    await system.press(GROUP, CADRE, "💬 Hubungi")
    await system.press(RESIDENT, RESIDENT, "Ya, mau")
    system.tg.block_chat(RESIDENT)  # blocked; Telegram's update about it comes later
    mark = system.tg.mark()
    await system.say(CADRE, "apakah Anda aman?")
    attempts = [c for c in system.tg.calls[mark:] if c.chat_id == RESIDENT]
    assert [c.status for c in attempts] == [403]  # tried once, not retried
    assert UNDELIVERED in system.texts(CADRE, mark)
    notice = f"⚠️ {code}: warga memblokir bot"
    assert any(t.startswith(notice) for t in system.texts(CADRE, mark))  # the relay's cadre
    assert any(t.startswith(notice) for t in system.texts(GROUP, mark))  # under the card
    (event,) = system.events("resident_unreachable")
    assert system.rows("SELECT count(*) AS n FROM relays")[0]["n"] == 0
    # Telegram's "kicked" update, then a restart and a second 403: still one event.
    system.tg.push_my_chat_member(RESIDENT, RESIDENT, new_status="kicked")
    await system.settle()
    await system.restart()
    await system.say(CADRE, f"/hubungi {code}")
    assert len(system.events("resident_unreachable")) == 1
    # They unblock the bot: the case says they are reachable again.
    system.tg.unblock_chat(RESIDENT)
    system.tg.push_my_chat_member(RESIDENT, RESIDENT, new_status="member", old_status="kicked")
    await system.settle()
    assert len(system.events("resident_reachable")) == 1
    assert event["user_key"] is not None and "810001" not in str(tuple(event))


async def test_words_go_under_the_card_and_a_deleted_card_is_not_an_error(
    system: System,
) -> None:
    await system.onboard()
    await system.say(RESIDENT, "aku ingin bunuh diri karena hutang")
    code = system.case_code()
    card = await system.wait_card(code)
    # safe now: no; someone with you: no; contact: yes; share my words: yes
    for answer in ("tidak", "tidak", "ya", "ya"):
        await system.choose(RESIDENT, answer)
    words = await system.tg.wait_for(
        lambda c: c.method == "sendMessage" and "kata-kata warga" in (c.text or ""),
        chat_id=GROUP,
        timeout=GUARD,
    )
    assert "hutang" in words.text and "reply_markup" not in words.params
    assert words.params["reply_parameters"]["message_id"] == card.result["message_id"]
    await system.tg.wait_until(
        lambda: system.rows("SELECT words_enc FROM disclosures")[0]["words_enc"] is None, GUARD
    )
    # Someone deleted the card in the group: later edits are skipped, not retried forever.
    del system.tg.messages[GROUP][card.result["message_id"]]
    mark = system.tg.mark()
    await system.say(GROUP, f"/ambil {code}", user=CADRE)
    await system.tg.wait_for(
        lambda c: c.method == "editMessageText" and c.status == 400, since=mark, timeout=GUARD
    )
    await system.tg.wait_until(
        lambda: not system.rows("SELECT id FROM outbox WHERE state != 'sent'"), GUARD
    )
    assert system.texts(GROUP)[-1].startswith(f"Kasus {code} Anda ambil")
