"""Bad input from the platforms against a real `temanjiwa run`: bodies that can never be
read are answered 200 (a 4xx/5xx only brings them back, for days), counted on /healthz and
logged without content; nothing raises in a handler; the bot goes on answering. Then a
seeded fuzz of both webhooks with hundreds of mutated updates and payloads."""

from __future__ import annotations

import asyncio
import json
import random

import httpx

from tests.fakes.graph_api import running_graph_api
from tests.support import fuzz
from tests.support.bot_process import APP_SECRET, WEBHOOK_SECRET, BotProcess
from tests.support.residents import GUARD
from tests.support.whatsapp_driver import payload, signed, text_message

TG_HOOK, WA_HOOK = "/telegram/webhook", "/whatsapp/webhook"
TG_HEADERS = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET,
              "Content-Type": "application/json"}
FUZZ_INPUTS = 300  # per webhook
SEED = 11


def wa_signed(raw: bytes) -> dict[str, str]:
    _body, headers = signed({}, APP_SECRET)
    from bot.whatsapp.signature import SIGNATURE_HEADER, sign

    return {**headers, SIGNATURE_HEADER: sign(APP_SECRET, raw)}


async def answers_telegram(tg, http: httpx.AsyncClient, chat: int) -> bool:
    """A fresh resident's /start (posted to the webhook) gets the bot's greeting."""
    update = tg.push_message(chat, chat, "/start")
    mark = tg.mark()
    assert (await http.post(TG_HOOK, json=update, headers=TG_HEADERS)).status_code == 200
    call = await tg.wait_for("sendMessage", chat_id=chat, since=mark, timeout=3 * GUARD)
    return "Teman Jiwa" in (call.text or "")


async def answers_whatsapp(graph, http: httpx.AsyncClient, number: str) -> bool:
    raw, headers = signed(payload([text_message("halo", sender=number)]), APP_SECRET)
    assert (await http.post(WA_HOOK, content=raw, headers=headers)).status_code == 200
    for _ in range(int(GUARD / 0.05)):
        if any(c.recipient == number for c in graph.delivered):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_unreadable_bodies_are_answered_200_counted_and_the_bot_goes_on(tg, tmp_path):
    async with running_graph_api() as graph, BotProcess(
        tmp_path, telegram=tg, graph=graph, webhook=True
    ) as bot:
        await bot.start()
        async with httpx.AsyncClient(base_url=bot.url, timeout=GUARD) as http:
            deep = fuzz.deep_nesting()
            update = tg.push_message(860001, 860001, "halo")
            huge_date = json.loads(json.dumps(update))
            huge_date["message"]["date"] = 2**63 - 1
            for body in (deep, fuzz.encode(huge_date)):
                response = await http.post(TG_HOOK, content=body, headers=TG_HEADERS)
                assert response.status_code == 200, response.text
            wrong = [
                fuzz.telegram_update(910001, 860002, "message"),
                fuzz.telegram_update(910002, 860003, "caption"),
                fuzz.telegram_update(910003, 860004, "callback_query"),
                fuzz.telegram_update(910004, 860005, "my_chat_member"),
            ]
            wrong[0]["message"]["text"] = 5
            wrong[1]["message"]["caption"] = {"x": 1}
            wrong[2]["callback_query"]["data"] = ["menu", 1]
            del wrong[3]["my_chat_member"]["new_chat_member"]
            for body in wrong:
                response = await http.post(TG_HOOK, json=body, headers=TG_HEADERS)
                assert response.status_code == 200

            surrogate = payload([text_message("halo", sender="6281300000001")])
            surrogate["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = "wamid.\ud800"
            for raw in (deep, fuzz.encode(surrogate)):
                for _retry in range(2):  # Meta would retry a 500 for days
                    response = await http.post(WA_HOOK, content=raw, headers=wa_signed(raw))
                    assert response.status_code == 200, response.text

            assert await answers_telegram(tg, http, 860009)
            assert await answers_whatsapp(graph, http, "6281300000009")
            health = await bot.health()
        assert health["telegram"]["webhook_unusable"] == 6  # 2 unreadable, 4 malformed
        assert health["whatsapp"]["parse_problems"] >= 4
        assert await bot.stop() == 0
        log = bot.stderr()
        assert "Traceback" not in log
        assert "\\ud800" not in log and "wamid." not in log


async def test_an_update_the_library_cannot_read_does_not_freeze_long_polling(tg, tmp_path):
    async with BotProcess(tmp_path, telegram=tg, verbose=True) as bot:  # DEBUG logs too
        await bot.start()
        bad = tg.push_message(860101, 860101, "TEKS-TAK-TERBACA aku ingin bunuh diri")
        bad["message"]["date"] = 2**63 - 1  # what PTB cannot turn into a datetime
        good = tg.push_message(860102, 860102, "/start")
        call = await tg.wait_for("sendMessage", chat_id=860102, since=good, timeout=GUARD)
        assert "Teman Jiwa" in (call.text or "")
        await tg.wait_until(lambda: tg.acked_offset > good["update_id"], GUARD,
                            what="the offset confirmed past both")
        polls = tg.method_counts["getUpdates"]
        await asyncio.sleep(1.0)
        assert tg.method_counts["getUpdates"] - polls < 5  # no refetch loop
        assert tg.delivered[bad["update_id"]] == 2  # once unreadable, once skipped past
        health = await bot.health()
        assert health["telegram"]["updates_unreadable"] == 1
        assert await bot.stop() == 0
    log = bot.stderr()
    assert "TEKS-TAK-TERBACA" not in log and "bunuh diri" not in log
    assert log.count("Traceback") <= 2  # PTB's own report of the one batch it could not read


async def test_fuzzed_webhooks_never_500_never_traceback_and_the_bot_keeps_answering(
    tg, tmp_path
):
    rng = random.Random(SEED)
    statuses: dict[str, dict[int, int]] = {"telegram": {}, "whatsapp": {}}
    for chat in range(880000, 880040):
        tg.add_chat(chat, chat_type="private")
    async with running_graph_api() as graph, BotProcess(
        tmp_path, telegram=tg, graph=graph, webhook=True
    ) as bot:
        await bot.start()
        async with httpx.AsyncClient(base_url=bot.url, timeout=GUARD) as http:
            for n in range(FUZZ_INPUTS):
                kind = fuzz.TELEGRAM_KINDS[n % len(fuzz.TELEGRAM_KINDS)]
                doc = fuzz.mutate(rng, fuzz.telegram_update(700000 + n, 880000 + n % 40, kind),
                                  times=rng.randint(1, 3))
                body = fuzz.deep_nesting(rng.randint(1, 3000)) if n % 50 == 49 else \
                    fuzz.encode(doc)
                status = (await http.post(TG_HOOK, content=body, headers=TG_HEADERS)).status_code
                statuses["telegram"][status] = statuses["telegram"].get(status, 0) + 1
            for n in range(FUZZ_INPUTS):
                doc = fuzz.mutate(rng, fuzz.whatsapp_payload(f"6281390{n % 40:05d}",
                                                             f"wamid.FUZZ{n}"),
                                  times=rng.randint(1, 3))
                raw = fuzz.deep_nesting(rng.randint(1, 3000)) if n % 50 == 49 else \
                    fuzz.encode(doc)
                status = (await http.post(WA_HOOK, content=raw,
                                          headers=wa_signed(raw))).status_code
                statuses["whatsapp"][status] = statuses["whatsapp"].get(status, 0) + 1
            telegram_ok = await answers_telegram(tg, http, 889999)
            whatsapp_ok = await answers_whatsapp(graph, http, "6281399999999")
            health = await bot.health()
        assert await bot.stop() == 0
        log = bot.stderr()
    tracebacks = log.count("Traceback")
    failures = sum(n for by in statuses.values() for s, n in by.items() if s >= 500)
    print(f"\nwebhook fuzz (seed {SEED}): {2 * FUZZ_INPUTS} inputs, answers {statuses}, "
          f"{failures} server errors, {tracebacks} tracebacks, still answering: "
          f"telegram {telegram_ok}, whatsapp {whatsapp_ok}; counted: "
          f"telegram unusable {health['telegram'].get('webhook_unusable', 0)}, whatsapp "
          f"parse problems "
          f"{health['whatsapp']['parse_problems']}")
    assert tracebacks == 0, log[log.index("Traceback") - 300:][:3000]
    assert failures == 0
    assert tracebacks == 0, log[log.index("Traceback") - 300:][:3000]
    assert telegram_ok and whatsapp_ok
