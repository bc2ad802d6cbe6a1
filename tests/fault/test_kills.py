"""SIGKILL a real `temanjiwa run` at the moments that used to leave a resident in silence
or a cadre with a card they could not place: after a turn committed but before its reply
arrived, right after the reply arrived, right after a case card was posted. Then restart
it on the same database and count who got their answer."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3

import httpx

from tests.fakes.graph_api import running_graph_api
from tests.support.bot_process import APP_SECRET, BotProcess
from tests.support.escalation import KADER_GROUP
from tests.support.residents import (
    CRISIS_TEXT,
    GUARD,
    HOTLINE,
    add_groups,
    crisis_replies,
    onboard_all,
    turn_complete,
    wait_answered,
    write_config,
)
from tests.support.whatsapp_driver import payload, signed, text_message

RESIDENTS = [830000 + n for n in range(12)]


def _rows(db, sql: str, *params):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


async def settled(bot: BotProcess) -> None:
    """Every reply so far delivered (none kept as pending)."""
    await wait_for(lambda: not _rows(bot.db, "SELECT 1 FROM pending_replies"))


async def test_killed_after_commit_before_the_reply_every_resident_is_answered(tg, tmp_path):
    add_groups(tg)
    async with BotProcess(tmp_path, telegram=tg, config=write_config(tmp_path)) as bot:
        await bot.start()
        await onboard_all(tg, RESIDENTS)
        await settled(bot)
        for chat in RESIDENTS:  # the reply never arrives: the turn has committed, the send hangs
            tg.hang_next("sendMessage", times=None, chat_id=chat)
        mark = tg.mark()
        for chat in RESIDENTS:
            tg.push_message(chat, chat, CRISIS_TEXT)
        await tg.wait_until(
            lambda: {c.chat_id for c in tg.calls[mark:] if c.method == "sendMessage"
                     and not c.done and HOTLINE in (c.text or "")} >= set(RESIDENTS), GUARD,
            what="every crisis reply in flight")
        bot.kill()
        assert sum(1 for c in RESIDENTS if crisis_replies(tg, c, mark)) == 0
        assert len(_rows(bot.db, "SELECT id FROM cases")) == len(RESIDENTS)  # committed
        tg.clear_faults()

        await bot.start()  # the restart: Telegram redelivers the unconfirmed updates
        answered = await wait_answered(tg, RESIDENTS, mark)
        print(f"\nkill after commit, before reply: {answered}/{len(RESIDENTS)} residents "
              "answered after the restart")
        assert answered == len(RESIDENTS)
        assert len(_rows(bot.db, "SELECT id FROM cases")) == len(RESIDENTS)  # handled once
        await settled(bot)
        assert await bot.stop() == 0
        assert "Traceback" not in bot.stderr()


async def test_killed_right_after_the_reply_arrived_every_resident_keeps_one(tg, tmp_path):
    add_groups(tg)
    async with BotProcess(tmp_path, telegram=tg, config=write_config(tmp_path)) as bot:
        await bot.start()
        await onboard_all(tg, RESIDENTS)
        await settled(bot)
        mark = tg.mark()

        def kill_when_all_answered(call) -> None:
            if call.ok and call.method == "sendMessage" and all(
                turn_complete(tg, c, mark) for c in RESIDENTS
            ) and bot.proc.poll() is None:
                os.kill(bot.proc.pid, signal.SIGKILL)  # before the bot reads this answer
                bot.proc.wait()

        tg.after_call = kill_when_all_answered
        for chat in RESIDENTS:  # one after another: the kill lands right after the last reply
            tg.push_message(chat, chat, CRISIS_TEXT)
            await tg.wait_until(lambda c=chat: turn_complete(tg, c, mark), GUARD, what="reply")
        await wait_for(lambda: bot.proc.poll() is not None)  # the kill
        tg.after_call = None
        await bot.start()
        await settled(bot)
        answered = await wait_answered(tg, RESIDENTS, mark)
        twice = sum(1 for c in RESIDENTS if len(crisis_replies(tg, c, mark)) > 1)
        print(f"\nkill right after the reply: {answered}/{len(RESIDENTS)} answered, "
              f"{twice} got the reply twice")
        assert answered == len(RESIDENTS)
        # A reply whose "delivered" was not yet recorded is sent once more, never more.
        assert all(len(crisis_replies(tg, c, mark)) <= 2 for c in RESIDENTS)
        assert len(_rows(bot.db, "SELECT id FROM cases")) == len(RESIDENTS)
        assert await bot.stop() == 0


async def test_killed_after_the_card_was_posted_the_repeat_says_so(tg, tmp_path):
    add_groups(tg)
    chat = RESIDENTS[0]
    async with BotProcess(tmp_path, telegram=tg, config=write_config(tmp_path)) as bot:
        await bot.start()
        await onboard_all(tg, [chat])
        await settled(bot)
        mark = tg.mark()

        def kill_on_card(call) -> None:
            if (call.ok and call.method == "sendMessage" and call.chat_id == KADER_GROUP
                    and bot.proc.poll() is None):
                os.kill(bot.proc.pid, signal.SIGKILL)  # posted; the bot never hears it
                bot.proc.wait()

        tg.after_call = kill_on_card
        tg.push_message(chat, chat, CRISIS_TEXT)
        await wait_for(lambda: bot.proc.poll() is not None)  # the kill
        tg.after_call = None
        (code,) = _rows(bot.db, "SELECT code FROM cases")[0]
        # The dead claim's lease (60 s) runs out: moved back instead of waited for.
        conn = sqlite3.connect(bot.db)
        conn.execute("UPDATE outbox SET lease_until = '2000-01-01T00:00:00+00:00' "
                     "WHERE state = 'sending'")
        conn.commit()
        conn.close()
        await bot.start()

        def cards():
            return [c.text for c in tg.calls[mark:] if c.method == "sendMessage" and c.ok
                    and c.chat_id == KADER_GROUP and code in (c.text or "")]

        await tg.wait_until(lambda: len(cards()) >= 2, GUARD, what="the card posted again")
        first, second = cards()[:2]
        print(f"\nkill after the card was posted: {len(cards())} cards for the case; "
              f"the second says (ulang): {'(ulang)' in second}")
        assert "(ulang)" not in first and "(ulang)" in second.splitlines()[0]
        assert await wait_answered(tg, [chat], mark) == 1
        assert await bot.stop() == 0
        assert len(cards()) == 2


async def test_whatsapp_killed_after_commit_before_the_reply_every_resident_is_answered(
    tmp_path,
):
    numbers = [f"62813000{n:04d}" for n in range(8)]

    def answered(graph) -> set[str]:
        return {c.recipient for c in graph.delivered if HOTLINE in json.dumps(c.body)}

    async with running_graph_api() as graph, BotProcess(tmp_path, graph=graph) as bot:
        await bot.start()
        graph.fail_next("timeout", times=len(numbers))  # every first reply hangs
        async with httpx.AsyncClient(base_url=bot.url, timeout=GUARD) as http:
            for number in numbers:
                raw, headers = signed(payload([text_message(CRISIS_TEXT, sender=number)]),
                                      APP_SECRET)
                assert (await http.post("/whatsapp/webhook", content=raw,
                                        headers=headers)).status_code == 200
        await wait_for(lambda: sum(1 for c in graph.calls if c.status == 0) >= len(numbers))
        bot.kill()
        assert answered(graph) == set()
        assert len(_rows(bot.db, "SELECT 1 FROM pending_replies")) == len(numbers)
        await bot.start()
        await wait_for(lambda: answered(graph) >= set(numbers))
        print(f"\nWhatsApp kill after commit, before reply: {len(answered(graph))}/"
              f"{len(numbers)} residents answered after the restart")
        assert answered(graph) == set(numbers)
        await wait_for(lambda: not _rows(bot.db, "SELECT 1 FROM pending_replies"))
        assert await bot.stop() == 0


async def wait_for(condition, guard: float = GUARD) -> None:
    deadline = asyncio.get_running_loop().time() + guard
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)
