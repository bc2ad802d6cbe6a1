"""The README promises logs without residents in them. A real `temanjiwa run -v` (DEBUG:
python-telegram-bot logs every Bot API call with its parameters and every getUpdates
result) serves Telegram and WhatsApp residents with names, usernames, phone numbers and a
crisis message; then its whole stderr is scanned for each of them."""

from __future__ import annotations

import asyncio

import httpx

from tests.fakes.graph_api import running_graph_api
from tests.support.bot_process import APP_SECRET, BotProcess
from tests.support.residents import (
    CRISIS_TEXT,
    GUARD,
    add_groups,
    onboard_all,
    wait_answered,
    write_config,
)
from tests.support.whatsapp_driver import payload, signed, text_message

USER_ID = 5550123457
FIRST, LAST, USERNAME = "Sulastri", "Wibisono", "sulastri_wbs"
PHONE = "6281399887766"  # shared as a Telegram contact
WA_NUMBER = "6281311122233"
WA_NAME = "Kartini Purbasari"
TYPED = "nasi goreng kesukaanku"


def _resident(tg) -> None:
    tg.users[USER_ID] = {"id": USER_ID, "is_bot": False, "first_name": FIRST,
                         "last_name": LAST, "username": USERNAME, "language_code": "id"}
    tg.chats[USER_ID] = {"id": USER_ID, "type": "private", "first_name": FIRST,
                         "last_name": LAST, "username": USERNAME}


async def test_debug_logs_carry_no_ids_names_numbers_or_texts(tg, tmp_path):
    add_groups(tg)
    _resident(tg)
    async with running_graph_api() as graph, BotProcess(
        tmp_path, telegram=tg, graph=graph, config=write_config(tmp_path), verbose=True
    ) as bot:
        await bot.start()
        await onboard_all(tg, [USER_ID])
        tg.push_contact(USER_ID, USER_ID, phone_number=f"+{PHONE}", first_name=FIRST)
        tg.push_message(USER_ID, USER_ID, TYPED)
        mark = tg.mark()
        tg.push_message(USER_ID, USER_ID, CRISIS_TEXT)
        assert await wait_answered(tg, [USER_ID], mark) == 1
        contacts = [{"profile": {"name": WA_NAME}, "wa_id": WA_NUMBER}]
        async with httpx.AsyncClient(base_url=bot.url, timeout=GUARD) as http:
            for text in (TYPED, CRISIS_TEXT):
                raw, headers = signed(payload([text_message(text, sender=WA_NUMBER)],
                                              contacts=contacts), APP_SECRET)
                assert (await http.post("/whatsapp/webhook", content=raw,
                                        headers=headers)).status_code == 200
        for _ in range(400):
            if len([c for c in graph.delivered if c.recipient == WA_NUMBER]) >= 2:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # the dispatcher posts the card (its calls are logged too)
        assert await bot.stop() == 0
    log = bot.stderr()
    assert "Calling Bot API endpoint" in log and "DEBUG" in log  # DEBUG really was on
    secrets = {
        "Telegram user id": str(USER_ID), "first name": FIRST, "last name": LAST,
        "username": USERNAME, "phone number": PHONE, "WhatsApp number": WA_NUMBER,
        "WhatsApp profile name": WA_NAME.split()[0], "typed text": TYPED,
        "crisis text": CRISIS_TEXT, "bot token": tg.token.split(":")[1],
        "Graph API token": graph.token,
    }
    found = {what: log.count(value) for what, value in secrets.items() if value in log}
    lines = len(log.splitlines())
    print(f"\nDEBUG log scan: {lines} lines, {len(secrets)} kinds of personal data looked "
          f"for, found: {found or 'none'}")
    assert found == {}
