"""Follow-ups on Telegram end to end: `start_telegram` with the real content/id, a real
SQLite file, the fake Bot API on 127.0.0.1 and a controllable clock. A distress result is
offered check-ins, the check-in arrives as a message with buttons, the answer is a normal
turn, and a resident who blocked the bot (403) ends the series."""

from __future__ import annotations

import pytest

from tests.fakes import FakeTelegram
from tests.support.escalation import FakeClock
from tests.support.telegram_system import RESIDENT, System

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

PHQ9_MODERATE = ["hampir_tiap_hari"] * 3 + ["lebih_separuh"] + ["tidak_pernah"] * 5  # 11


@pytest.fixture
async def tg():
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def system(tg, tmp_path, monkeypatch):
    monkeypatch.setenv("TEMANJIWA_SECRET", "telegram-followups")
    clock = FakeClock()
    system = await System.start(tg, tmp_path / "tj.db", clock=clock)
    system.clock = clock
    yield system
    await system.shutdown()


async def agree_after_a_distress_result(system: System) -> None:
    await system.onboard()
    await system.say(RESIDENT, "/start phq9")
    await system.choose(RESIDENT, "mulai")
    for answer in PHQ9_MODERATE:
        await system.choose(RESIDENT, answer)
    assert "Boleh saya menyapa lagi besok dan minggu depan" in system.texts(RESIDENT)[-1]
    await system.choose(RESIDENT, "ya")
    (row,) = system.rows("SELECT status, kind, source FROM followups")
    assert tuple(row) == ("active", "distress", "phq9")


async def test_the_check_in_arrives_with_buttons_and_the_answer_is_a_turn(system: System):
    await agree_after_a_distress_result(system)
    scheduler = system.runtime.escalation.followups.scheduler
    mark = system.tg.mark()
    assert await scheduler.tick() == 0
    system.clock.advance(days=1)
    assert await scheduler.tick() == 1
    message = system.tg.last_bot_message(RESIDENT, with_keyboard=True)
    assert message is not None and "Bagaimana kabar Anda" in message["text"]
    labels = [label for row in system.tg.buttons(message) for label, _data in row]
    assert labels == ["Lebih baik", "Sama saja", "Lebih berat", "Berhenti disapa"]
    assert len([t for t in system.texts(RESIDENT, mark) if "Bagaimana kabar" in t]) == 1
    await system.choose(RESIDENT, "lebih_baik")
    assert "Senang mendengarnya" in "\n".join(system.texts(RESIDENT)[-2:])
    (row,) = system.rows("SELECT state FROM checkins WHERE step = 1")
    assert row["state"] == "answered"
    assert system.tg.unanswered_callbacks() == []


async def test_a_resident_who_blocked_the_bot_ends_the_series(system: System):
    await agree_after_a_distress_result(system)
    scheduler = system.runtime.escalation.followups.scheduler
    system.tg.block_chat(RESIDENT)
    system.clock.advance(days=1)
    assert await scheduler.tick() == 0
    assert system.rows("SELECT count(*) AS n FROM followups")[0]["n"] == 0
    assert system.rows("SELECT count(*) AS n FROM checkins")[0]["n"] == 0
    assert system.channel.stats["first_blocked"] == 1
    (row,) = system.rows("SELECT n FROM stats WHERE metric = 'followup' AND dim1 = 'blocked' "
                         "AND period LIKE '%-W%'")
    assert row["n"] == 1
    system.tg.unblock_chat(RESIDENT)
    system.clock.advance(days=6)
    assert await scheduler.tick() == 0  # nothing left to send


async def test_data_saya_lists_the_address_and_stop_deletes_it(system: System):
    await agree_after_a_distress_result(system)
    await system.say(RESIDENT, "menu")
    await system.choose(RESIDENT, "data")
    shown = "\n".join(system.texts(RESIDENT)[-4:])
    assert "Sapaan lanjutan: Anda setuju disapa lagi" in shown
    assert "alamat chat Anda (terkunci)" in shown
    await system.say(RESIDENT, "berhenti")
    assert "Sapaan lanjutan juga saya hentikan" in "\n".join(system.texts(RESIDENT)[-3:])
    assert system.rows("SELECT count(*) AS n FROM followups")[0]["n"] == 0
    await system.say(RESIDENT, "menu")
    await system.choose(RESIDENT, "data")
    assert "alamat chat Anda tidak disimpan" in "\n".join(system.texts(RESIDENT)[-4:])


async def test_withdrawing_consent_ends_the_series(system: System):
    await agree_after_a_distress_result(system)
    await system.say(RESIDENT, "menu")
    await system.choose(RESIDENT, "data")
    await system.choose(RESIDENT, "tarik")
    await system.choose(RESIDENT, "ya")
    assert system.rows("SELECT count(*) AS n FROM followups")[0]["n"] == 0
    assert system.rows("SELECT count(*) AS n FROM checkins")[0]["n"] == 0
