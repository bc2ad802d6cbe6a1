"""Residents talking to a `temanjiwa run` child through the fake Bot API (tests/fault)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.fakes import FakeTelegram
from tests.fakes.telegram_wire import WaitTimeout
from tests.support.escalation import CONFIG, KADER_GROUP

GUARD = 30.0  # seconds: a failure guard only, nothing is timed
HOTLINE = "119"  # SEJIWA 119 ext 8: in every crisis reply
CRISIS_TEXT = "aku ingin bunuh diri malam ini"


def write_config(tmp: Path) -> Path:
    """The test deployment (areas and cadre routes of tests/support/escalation.py), without
    WhatsApp cadre numbers."""
    routes = {k: {f: v for f, v in r.items() if f != "whatsapp_numbers"}
              for k, r in CONFIG["routes"].items()}
    path = tmp / "deploy.yaml"
    path.write_text(yaml.safe_dump({**CONFIG, "routes": routes}), encoding="utf-8")
    return path


def add_groups(tg: FakeTelegram) -> None:
    for chat in (KADER_GROUP, -100222, -100333):
        tg.add_chat(chat, chat_type="supergroup", title=f"Kader {chat}")


def _keyboard_with(tg: FakeTelegram, chat: int, choice: str) -> dict[str, Any] | None:
    message = tg.last_bot_message(chat, with_keyboard=True)
    if message is None:
        return None
    for row in tg.buttons(message):
        for _label, data in row:
            if data and data.endswith(f"|{choice}"):
                return {"message_id": message["message_id"], "data": data}
    return None


async def choose_all(tg: FakeTelegram, chats: Sequence[int], choice: str) -> None:
    """Every chat presses the button `choice` of its latest keyboard, once it is shown."""
    for chat in chats:
        found = await tg.wait_until(lambda c=chat: _keyboard_with(tg, c, choice), GUARD,
                                    what=f"button {choice} in chat {chat}")
        tg.push_callback(chat, chat, found["data"], found["message_id"])


async def onboard_all(tg: FakeTelegram, chats: Sequence[int]) -> None:
    """/start, consent, adult, area Ngunut for every chat (in parallel)."""
    for chat in chats:
        tg.push_message(chat, chat, "/start")
    for choice in ("setuju", "dewasa"):
        await choose_all(tg, chats, choice)
    mark = tg.mark()
    await choose_all(tg, chats, "ngunut")
    # the last press is answered (the menu) before anyone writes again
    await tg.wait_until(lambda: all(_sent_since(tg, c, mark) for c in chats), GUARD,
                        what="every resident onboarded")


def _sent_since(tg: FakeTelegram, chat: int, since: int) -> bool:
    return any(c.method == "sendMessage" and c.ok and c.chat_id == chat
               for c in tg.calls[since:])


def crisis_replies(tg: FakeTelegram, chat: int, since: int) -> list[str]:
    """Texts the bot delivered to `chat` after `since` that give the crisis hotline."""
    return [
        c.text or ""
        for c in tg.calls[since:]
        if c.method == "sendMessage" and c.ok and c.chat_id == chat and HOTLINE in (c.text or "")
    ]


async def wait_answered(tg: FakeTelegram, chats: Sequence[int], since: int,
                        guard: float = GUARD) -> int:
    """Wait (bounded) until every chat has its crisis reply; the number that have one."""
    with contextlib.suppress(WaitTimeout):
        await tg.wait_until(lambda: all(crisis_replies(tg, c, since) for c in chats), guard,
                            what="a crisis reply in every chat")
    await asyncio.sleep(0)
    return sum(1 for c in chats if crisis_replies(tg, c, since))


def turn_complete(tg: FakeTelegram, chat: int, since: int) -> bool:
    """The crisis reply arrived whole: its last message (the question with buttons) too."""
    sent = [c for c in tg.calls[since:]
            if c.method == "sendMessage" and c.ok and c.chat_id == chat]
    return bool(crisis_replies(tg, chat, since)) and "reply_markup" in sent[-1].params
