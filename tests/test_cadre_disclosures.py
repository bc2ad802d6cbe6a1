"""What the cadre group sees when one resident discloses several things (Telegram end to end:
`start_telegram` with the real content/id, escalation and its dispatcher, a real SQLite
file, and the fake Bot API on 127.0.0.1).

Self-harm first, then domestic violence while the case is open: the card in the group is
edited to show both (categories, the highest level, the latest safety answers, whose words
were shared and when), a short notice is posted under it, and only the words the resident
agreed to share for the second disclosure are sent. Also: a report about a child says so
on the card."""

from __future__ import annotations

import pytest

from tests.fakes import FakeTelegram
from tests.support.telegram_system import GROUP, GUARD, RESIDENT, System

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


@pytest.fixture
async def tg():
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def system(tg, tmp_path, monkeypatch):
    monkeypatch.setenv("TEMANJIWA_SECRET", "telegram-disclosures")
    system = await System.start(tg, tmp_path / "tj.db")
    yield system
    await system.shutdown()


def card_text(system: System, message_id: int) -> str:
    return system.tg.messages[GROUP][message_id]["text"]


async def test_a_second_disclosure_edits_the_card_and_posts_a_notice(system: System) -> None:
    await system.onboard()
    await system.say(RESIDENT, "tadi aku nyilet lagi KATA-PERTAMA")
    code = system.case_code()
    # injured: no; safe now: yes; someone with me: yes; contact: yes; share words: NO
    for answer in ("tidak", "ya", "ya", "ya", "tidak"):
        await system.choose(RESIDENT, answer)
    card = await system.wait_card(code)
    card_id = card.result["message_id"]
    first = card_text(system, card_id)
    await system.tg.wait_until(
        lambda: "tidak setuju dibagikan" in card_text(system, card_id), GUARD
    )
    assert "menyakiti diri" in first and "penganiayaan" not in first
    mark = system.tg.mark()

    await system.say(RESIDENT, "suamiku memukulku tiap malam KATA-KEDUA")
    # safe to reply: yes; the person who hurts me is near: no; contact: yes; share: YES
    for answer in ("aman", "tidak", "ya", "ya"):
        await system.choose(RESIDENT, answer)

    notice = await system.tg.wait_for(
        lambda c: c.method == "sendMessage" and "hal baru" in (c.text or ""),
        chat_id=GROUP,
        since=mark,
        timeout=GUARD,
    )
    assert code in notice.text and "penganiayaan" in notice.text
    assert notice.params["reply_parameters"]["message_id"] == card_id
    assert "reply_markup" not in notice.params
    words = await system.tg.wait_for(
        lambda c: c.method == "sendMessage" and "kata-kata warga" in (c.text or ""),
        chat_id=GROUP,
        since=mark,
        timeout=GUARD,
    )
    assert "KATA-KEDUA" in words.text and "KATA-PERTAMA" not in words.text
    assert "penganiayaan" in words.text and "WIB" in words.text  # whose words, and when
    assert words.params["reply_parameters"]["message_id"] == card_id
    await system.tg.wait_until(
        lambda: "(lalu dihapus dari sistem)" in card_text(system, card_id), GUARD
    )
    await system.tg.wait_until(
        lambda: not system.rows("SELECT id FROM outbox WHERE state != 'sent'"), GUARD
    )

    text = card_text(system, card_id)
    lines = text.splitlines()
    assert lines[0].startswith("🟠 TINGGI · menyakiti diri + penganiayaan / pelecehan · ")
    assert "Yang disampaikan warga (2):" in text
    first_at = next(i for i, line in enumerate(lines) if line.startswith("1) "))
    second_at = next(i for i, line in enumerate(lines) if line.startswith("2) "))
    assert "menyakiti diri · TINGGI" in lines[first_at] and "WIB" in lines[first_at]
    assert "penganiayaan / pelecehan · TINGGI" in lines[second_at]
    first_block = "\n".join(lines[first_at:second_at])
    second_block = "\n".join(lines[second_at:second_at + 3])
    assert "terluka = tidak" in first_block and "aman saat ini = ya" in first_block
    assert "Kata-kata warga: warga tidak setuju dibagikan" in first_block
    assert "aman membalas chat = ya" in second_block
    assert "pelaku ada di dekatnya = tidak" in second_block
    assert "Kata-kata warga: dikirim terpisah" in second_block and "WIB" in second_block
    assert "SAPA 129" in text and "SEJIWA" in text  # every hotline the bot showed
    # one card, edited in place: no second card with buttons was posted
    cards = [
        c
        for c in system.tg.calls
        if c.method == "sendMessage" and c.chat_id == GROUP and "reply_markup" in c.params
    ]
    assert len(cards) == 1
    # nothing the resident typed is left in the database
    raw = b"".join(p.read_bytes() for p in system.db_path.parent.glob("tj.db*"))
    assert b"KATA-PERTAMA" not in raw and b"KATA-KEDUA" not in raw


async def test_a_report_about_a_child_says_who_reported_on_the_card(system: System) -> None:
    await system.onboard()
    await system.say(RESIDENT, "anakku dipukuli ayahnya")
    code = system.case_code()
    card = await system.wait_card(code)
    assert "👥 Dilaporkan oleh orang lain: anak" in card.text
    assert "Aman saat ini" not in card.text and "ASQ" not in card.text
    await system.choose(RESIDENT, "tidak")  # is the child safe now? no / I do not know
    await system.tg.wait_for(
        lambda c: c.method == "sendMessage" and "DARURAT" in (c.text or ""),
        chat_id=GROUP,
        timeout=GUARD,
    )
    card_id = card.result["message_id"]
    await system.tg.wait_until(
        lambda: "orang yang dilaporkan aman = tidak" in card_text(system, card_id), GUARD
    )
