"""TelegramLimits: Telegram's per-chat, overall and group limits, crisis first, 429 per chat.

These tests check order and counts, never durations.
"""

from __future__ import annotations

import asyncio
import datetime as dtm

import pytest
from telegram.error import RetryAfter

from bot.telegram.rate_limits import CRISIS, ORDINARY, TelegramLimits

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


def recorder(log: list[str]):
    async def call(name: str) -> dict:
        log.append(name)
        return {"ok": name}

    return call


async def send(limits: TelegramLimits, call, name: str, chat_id: int, priority=None,
               endpoint: str = "sendMessage"):
    return await limits.process_request(
        call, (name,), {}, endpoint, {"chat_id": chat_id, "text": name}, priority
    )


async def test_button_answers_and_chat_actions_are_not_throttled():
    limits = TelegramLimits(overall_per_second=1, chat_per_second=1, chat_burst=1)
    done: list[str] = []
    call = recorder(done)
    for n in range(20):
        await limits.process_request(
            call, (f"answer{n}",), {}, "answerCallbackQuery", {"callback_query_id": str(n)}, None
        )
        await send(limits, call, f"typing{n}", 5, endpoint="sendChatAction")
    assert len(done) == 40 and sum(limits.queued.values()) == 0
    await limits.shutdown()


async def test_a_private_chat_gets_a_short_burst_then_waits():
    limits = TelegramLimits(overall_per_second=1000, chat_per_second=50, chat_burst=3)
    done: list[str] = []
    call = recorder(done)
    await asyncio.gather(*(send(limits, call, f"m{n}", 7) for n in range(5)))
    assert done == [f"m{n}" for n in range(5)]  # in order, all delivered
    assert limits.queued["ordinary"] == 2  # the burst of 3 went at once, 2 waited
    await asyncio.gather(*(send(limits, call, f"other{n}", 8) for n in range(3)))
    assert limits.queued["ordinary"] == 2  # another chat has its own budget
    await limits.shutdown()


async def test_a_crisis_reply_is_served_before_ordinary_ones_waiting_for_the_budget():
    limits = TelegramLimits(overall_per_second=40, chat_per_second=1000, chat_burst=1000)
    limits.overall.bucket.tokens = 0  # the shared budget is used up: everyone waits
    done: list[str] = []
    call = recorder(done)
    ordinary = [asyncio.create_task(send(limits, call, f"o{n}", 100 + n)) for n in range(8)]
    await asyncio.sleep(0)  # the ordinary sends are queued first
    crisis = asyncio.create_task(send(limits, call, "crisis", 999, CRISIS))
    await asyncio.gather(*ordinary, crisis)
    assert done.index("crisis") == 0  # ahead of the eight that were waiting before it
    assert limits.queued == {"ordinary": 8, "crisis": 1}
    await limits.shutdown()


async def test_groups_are_held_to_twenty_a_minute():
    limits = TelegramLimits(overall_per_second=1000)
    done: list[str] = []
    call = recorder(done)
    for n in range(20):
        await send(limits, call, f"card{n}", -100123)
    assert limits.queued["ordinary"] == 0
    waiting = asyncio.create_task(send(limits, call, "card20", -100123))
    await asyncio.sleep(0.05)
    assert not waiting.done() and len(done) == 20  # the 21st waits for the minute's budget
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await limits.shutdown()


async def test_a_429_pauses_that_chat_only_and_the_call_is_tried_again():
    limits = TelegramLimits(overall_per_second=1000, chat_per_second=1000, chat_burst=1000)
    done: list[str] = []
    refused = {"slow": 1}

    async def call(name: str) -> dict:
        if refused.get(name):
            refused[name] -= 1
            raise RetryAfter(dtm.timedelta(seconds=0.3))
        done.append(name)
        return {"ok": name}

    slow = asyncio.create_task(send(limits, call, "slow", 1))
    await asyncio.sleep(0.05)  # the first try was refused; the chat is paused
    await send(limits, call, "fast", 2)
    await slow
    assert done == ["fast", "slow"]
    await limits.shutdown()


async def test_retries_end_after_max_retries():
    limits = TelegramLimits(max_retries=1)

    async def always_429(name: str) -> dict:
        raise RetryAfter(dtm.timedelta(seconds=0.01))

    with pytest.raises(RetryAfter):
        await send(limits, always_429, "x", 3, ORDINARY)
    await limits.shutdown()
