"""Three real `temanjiwa run` workers on one PostgreSQL database, webhook mode for Telegram
and WhatsApp, residents chatting and writing crisis messages while one worker after
another is killed with SIGKILL at random moments and started again.

The test plays Telegram, Meta and the load balancer (tests/support/workers.py): a webhook
goes to a random live worker and is sent again, to any worker, until one answers 200. The
fake Bot API and Graph API (tests/fakes) record everything the workers send.

Every resident writes one message at a time (its 200 received) and then waits a while for
the answer, so what each resident was sent is a sequence of answers in a known order. At
the end: every crisis message was answered, with the hotlines; every resident's ordinary
answers came in the order of their messages, an answer repeated only right after itself (a
turn's replies are kept until delivered, so a worker killed between sending and marking
them sent has them sent again; one a newer turn overtook is dropped, not sent out of
order; a crisis answer is always sent, late if need be); every case exists once, and
its alert card reached the cadre group exactly once; the inbox is empty and no typed
crisis text is left in the database. Missing and repeated answers are counted and
printed.

Bounded: about a minute on a 2-core machine; waits are guards, nothing is timed.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from flows.convtest import session_from_setup
from storage import open_store
from storage.keys import user_key
from storage.migrations_postgres import POSTGRES_MIGRATIONS
from tests.fakes.graph_api import running_graph_api
from tests.fakes.telegram_api import FakeTelegram
from tests.support import databases
from tests.support.whatsapp_driver import payload, signed, text_message
from tests.support.workers import (
    PHONE_NUMBER_ID,
    RESIDENT_SECRET,
    TELEGRAM_SECRET,
    WHATSAPP_APP_SECRET,
    Deployment,
    worker_env,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

GROUP = -100111
TRAFFIC_S = 36.0  # residents write for this long while workers are being killed
ANSWER_GUARD_S = 20.0  # a resident waits this long for an answer (a takeover takes ~5 s)
CRISIS = "aku ingin bunuh diri"
PROBES = {"menu": "M", "bantuan": "B", "layanan": "L", CRISIS: "C"}
MARKERS = (("Terima kasih sudah memberi tahu saya", "C"), ("Layanan nasional", "L"),
           ("adalah program otomatis", "B"), ("Menu utama", "M"))
CONFIG = {
    "timezone": "WIB",
    "areas": [{"id": "ngunut", "label": "Kec. Ngunut", "route": "kader_ngunut"}],
    "routes": {"kader_ngunut": {"name": "Kader Ngunut", "telegram_chat_id": GROUP}},
    "default_route": "kader_ngunut",
}


def marker(text: str) -> str | None:
    return next((m for needle, m in MARKERS if needle in text), None)


@dataclass
class Resident:
    channel: str  # telegram | whatsapp
    address: str  # chat id or wa_id
    crisis_at: int | None  # which message is the crisis one
    sent: list[str] = field(default_factory=list)  # markers of the messages sent, in order
    lost: list[float] = field(default_factory=list)  # when messages without an answer went
    log: list[tuple[float, str, int]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return user_key(RESIDENT_SECRET.encode(), self.channel, self.address)


def bot_texts(resident: Resident, telegram: FakeTelegram, graph) -> list[str]:
    """What the workers sent this resident, in the order the fakes received it."""
    if resident.channel == "telegram":
        return [c.result.get("text", "") for c in telegram.calls
                if c.method == "sendMessage" and c.ok and c.chat_id == int(resident.address)]
    out = []
    for call in graph.delivered:
        if call.recipient != resident.address:
            continue
        body = call.body
        if body.get("type") == "text":
            out.append(body["text"]["body"])
        elif body.get("type") == "interactive":
            out.append(body["interactive"]["body"]["text"])
    return out


def answers(texts: list[str]) -> list[tuple[str, str]]:
    """(marker, the whole answer) per answer: a marked message and the unmarked ones after
    it (WhatsApp sends a turn's bubbles one by one; Telegram mostly joins them)."""
    grouped: list[tuple[str, str]] = []
    for text in texts:
        found = marker(text)
        if found is not None:
            grouped.append((found, text))
        elif grouped:
            grouped[-1] = (grouped[-1][0], grouped[-1][1] + "\n" + text)
    return grouped


async def seed(database_url: str, residents: list[Resident]) -> None:
    """Residents who gave consent earlier (adults of Kec. Ngunut): every message they send
    now has an answer that says which message it answers."""
    store = await open_store(database_url)
    try:
        session = session_from_setup({"consent": True,
                                      "profile": {"age_group": "dewasa", "area": "ngunut"}})
        async with store.transaction() as tx:
            for resident in residents:
                await tx.save_session(resident.key, session, datetime.now(UTC))
    finally:
        await store.close()


async def chat(resident: Resident, deployment: Deployment, http: httpx.AsyncClient,
               telegram: FakeTelegram, graph, until: float) -> None:
    loop = asyncio.get_running_loop()
    n = 0
    while loop.time() < until or (resident.crisis_at is not None and "C" not in resident.sent):
        text = next_text(resident.sent)
        if resident.crisis_at is not None and n >= resident.crisis_at and text == "menu" \
                and "C" not in resident.sent:
            text = CRISIS  # then "menu": a word the crisis flow's question also takes
        before = len(answers(bot_texts(resident, telegram, graph)))
        t0 = loop.time()
        if resident.channel == "telegram":
            update = telegram.push_message(int(resident.address), int(resident.address), text)
            tries = await deployment.post(http, "/telegram/webhook",
                                          content=json.dumps(update).encode(),
                                          headers={"X-Telegram-Bot-Api-Secret-Token":
                                                   TELEGRAM_SECRET,
                                                   "Content-Type": "application/json"})
        else:
            raw, headers = signed(payload([text_message(text, sender=resident.address)],
                                          phone_number_id=PHONE_NUMBER_ID), WHATSAPP_APP_SECRET)
            tries = await deployment.post(http, "/whatsapp/webhook", content=raw, headers=headers)
        resident.log.append((round(t0, 1), PROBES[text], tries))
        resident.sent.append(PROBES[text])
        n += 1
        sent_at = loop.time()
        while len(answers(bot_texts(resident, telegram, graph))) <= before:
            if loop.time() > sent_at + ANSWER_GUARD_S:
                resident.lost.append(sent_at)
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(random.uniform(1.0, 1.5))  # below Telegram's flood guard (8/10 s)


def next_text(sent: list[str]) -> str:
    """menu, bantuan, layanan, menu, … ("layanan" is a button of the help text, the other
    two work in every state): no kind comes again within two messages, so an answer sent
    twice shows as the same kind twice in a row, and one missing answer does not."""
    plain = [kind for kind in sent if kind != "C"]
    return ("menu", "bantuan", "layanan")[len(plain) % 3]  # a crisis message comes before "menu"


async def kill_and_restart(deployment: Deployment, until: float) -> None:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(random.uniform(2.0, 4.0))
    while loop.time() < until - 4:
        worker = random.choice(deployment.workers)
        deployment.kill9(worker)
        await asyncio.sleep(random.uniform(0.3, 1.5))
        await deployment.restart(worker)
        await asyncio.sleep(random.uniform(2.0, 6.0))


def in_order_once(sent: list[str], got: list[str]) -> tuple[bool, int, int]:
    """Whether `got` is `sent` in order with some answers missing or repeated right away,
    how many are missing and how many repeated. Messages never repeat one kind twice in a
    row, so an answer sent twice shows as the same kind twice in a row: a turn's replies
    kept until delivered are sent again when a worker died between sending and marking
    them sent (at least once, never lost)."""
    repeated = sum(1 for a, b in itertools.pairwise(got) if a == b)
    got = [kind for n, kind in enumerate(got) if n == 0 or got[n - 1] != kind]
    i = 0
    for kind in got:
        while i < len(sent) and sent[i] != kind:
            i += 1
        if i == len(sent):
            return False, 0, repeated
        i += 1
    return True, len(sent) - len(got), repeated


async def test_killed_workers_lose_no_crisis_message_and_repeat_answers_only_around_a_kill(
        tmp_path: Path, postgres_server) -> None:
    url = postgres_server.create_database()
    config = tmp_path / "deployment.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    residents = [Resident("telegram", str(810000 + i), random.randint(2, 6) if i < 5 else None)
                 for i in range(7)]
    residents += [Resident("whatsapp", f"62812000{i:05d}", random.randint(2, 6) if i < 5 else None)
                  for i in range(7)]
    await seed(url, residents)
    try:
        async with FakeTelegram() as telegram, running_graph_api() as graph:
            telegram.add_chat(GROUP, chat_type="supergroup", title="Kader Ngunut")
            env = worker_env(url, config, telegram, graph, {"TEMANJIWA_INBOX_LEASE": "4"})
            deployment = Deployment(env, tmp_path, count=3)
            try:
                await deployment.start()
                health = await deployment.wait_healthy(deployment.workers[0])
                assert health["database"] == {**health["database"], "backend": "postgresql",
                                              "reachable": True,
                                              "schema_version": len(POSTGRES_MIGRATIONS)}
                assert health["worker"]["role"] == "worker"
                assert {"telegram:webhook", "whatsapp", "inbox"} <= set(
                    health["worker"]["runs"])
                async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:
                    loop = asyncio.get_running_loop()
                    until = loop.time() + TRAFFIC_S
                    await asyncio.gather(
                        kill_and_restart(deployment, until),
                        *(chat(r, deployment, http, telegram, graph, until) for r in residents),
                    )
                    await settle(url, residents, telegram, graph)
            finally:
                codes = await deployment.stop()
            logs = deployment.logs()
            check(url, residents, telegram, graph, deployment, logs)
            assert codes == [0, 0, 0], logs
    finally:
        postgres_server.drop_database(url)


async def settle(url: str, residents: list[Resident], telegram, graph,
                 guard: float = 90.0) -> None:
    """Until the inbox is empty, every alert went out and every crisis was answered."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + guard
    crisis = [r for r in residents if r.crisis_at is not None]
    while loop.time() < deadline:
        waiting = databases.rows(url, "SELECT count(*) FROM inbox")[0][0]
        unsent = databases.rows(url, "SELECT count(*) FROM outbox WHERE kind = 'alert' "
                                     "AND state != 'sent'")[0][0]
        answered = all("C" in [m for m, _ in answers(bot_texts(r, telegram, graph))]
                       for r in crisis)
        if not waiting and not unsent and answered:
            return
        await asyncio.sleep(0.2)


def check(url: str, residents: list[Resident], telegram, graph, deployment: Deployment,
          logs: str) -> None:
    assert deployment.kills >= 3, "the test must really kill workers"
    lost = repeated = 0
    for resident in residents:
        got = answers(bot_texts(resident, telegram, graph))
        # A crisis answer kept by a killed worker goes out late even when the resident's
        # later messages were answered meanwhile (bot/conversations.py: the hotlines late
        # beat none); ordinary answers keep their order or are dropped.
        ok, missing, again = in_order_once([m for m in resident.sent if m != "C"],
                                           [m for m, _ in got if m != "C"])
        repeated += again
        assert ok, (resident.channel, resident.address, "".join(resident.sent),
                    "".join(m for m, _ in got))
        lost += missing
        if resident.crisis_at is not None:
            crisis = [text for m, text in got if m == "C"]
            assert crisis, (resident.channel, "the crisis message was not answered")
            assert "112" in crisis[0] and "tekan 8" in crisis[0]  # the hotlines, at once
    late = sorted((round(at, 1), r.channel[0]) for r in residents for at in r.lost)
    for r in residents:
        if r.lost:
            print(r.channel, r.address, r.key[:12], "".join(r.sent),
                  "".join(m for m, _ in answers(bot_texts(r, telegram, graph))), r.log)
    print(f"\n{deployment.kills} kills at {[round(at, 1) for at, _w in deployment.killed_at]}, "
          f"{deployment.retries} webhook retries, {lost} ordinary answers missing (lost "
          f"between commit and send, or overtaken and dropped), {repeated} sent again after a "
          f"kill; waited in vain at {late}")
    assert lost <= 3, (lost, logs)  # a rare window (module docstring), not a habit
    assert repeated <= 3, (repeated, logs)  # only around a kill

    crisis_keys = sorted(r.key for r in residents if r.crisis_at is not None)
    cases = databases.rows(url, "SELECT user_key, code FROM cases ORDER BY user_key")
    assert sorted(r[0] for r in cases) == crisis_keys  # one case per crisis, none twice
    for _key, code in cases:
        cards = [c for c in telegram.calls if c.method == "sendMessage" and c.ok
                 and c.chat_id == GROUP and code in (c.text or "")]
        assert len(cards) == 1, (code, len(cards))
    states = databases.rows(url, "SELECT state, count(*) FROM outbox WHERE kind = 'alert' "
                                 "GROUP BY state")
    assert [tuple(r) for r in states] == [("sent", len(cases))]
    assert databases.rows(url, "SELECT count(*) FROM inbox")[0][0] == 0
    assert b"bunuh diri" not in databases.stored_bytes(url)
