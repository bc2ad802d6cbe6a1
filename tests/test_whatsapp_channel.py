"""The WhatsApp channel end to end: signed webhooks → web app → engine → fake Graph API.

Real pieces only: the Starlette app (through httpx's ASGI transport, or served by uvicorn
on 127.0.0.1 where it matters), the real engine with content/id, SQLite files in
tmp_path, the escalation code with its dispatcher, and the fake Graph API on 127.0.0.1.
Time is a controllable clock (the 24-hour window); nothing waits on wall-clock time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import signal
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route as StarletteRoute

from bot.app import EscalationKit, Runtime, build_runtime, build_whatsapp
from bot.cases.cards import Alert
from bot.config import ConfigError, Route, parse_config
from bot.conversations import Outbound
from bot.web import bound_port, create_web_app, serve
from bot.whatsapp.cadre_commands import parse_command
from bot.whatsapp.channel import WhatsAppChannel
from bot.whatsapp.settings import WhatsAppSettings
from bot.whatsapp.signature import sign
from flows.convtest import session_from_setup
from flows.messages import Choice
from storage import cases
from tests.conftest import REAL_CONTENT
from tests.fakes.graph_api import FakeGraphApi, running_graph_api
from tests.support import databases
from tests.support.whatsapp_driver import (
    button_reply,
    failed_status,
    list_reply,
    media_message,
    message,
    payload,
    signed,
    template_button,
    text_message,
)

SECRET = "wa-app-secret"
TOKEN = "test-token"
PHONE_ID = "106540352242922"
VERIFY = "verify-me"
TEMPLATE = "teman_jiwa_pemberitahuan"
KADER = "6281200001111"  # configured as "0812-0000-1111"
PUSKESMAS = "6281300002222"  # configured as "+62 813 0000 2222"
START = datetime(2026, 11, 22, 7, 5, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def config_data(*, template: bool = True, areas: list[dict] | None = None) -> dict:
    data: dict[str, Any] = {
        "timezone": "WIB",
        "areas": areas
        or [
            {"id": "ngunut", "label": "Kec. Ngunut", "route": "kader_ngunut"},
            {"id": "kota", "label": "Kota"},
        ],
        "routes": {
            "kader_ngunut": {
                "name": "Kader Ngunut",
                "whatsapp_numbers": ["0812-0000-1111"],
                "supervisor": "puskesmas",
            },
            "puskesmas": {
                "name": "Puskesmas Ngunut",
                "whatsapp_numbers": ["+62 813 0000 2222"],
                "telegram_chat_id": -100222,
            },
        },
        "default_route": "puskesmas",
    }
    if template:
        data["whatsapp"] = {"alert_template": {"name": TEMPLATE, "language": "id"}}
    return data


@dataclass
class RecordingTelegram:
    """Stands in for the Telegram alert sender (another engineer's), recording calls."""

    sent: list[tuple[str, Alert]] = field(default_factory=list)

    async def send_alert(self, route: Route, alert: Alert) -> str:
        self.sent.append((route.id, alert))
        return f"tg:{len(self.sent)}"

    async def update_alert(self, route: Route, external_ref: str, alert: Alert) -> None:
        return None


@dataclass
class Stack:
    runtime: Runtime
    channel: WhatsAppChannel
    graph: FakeGraphApi
    http: httpx.AsyncClient
    kit: EscalationKit
    clock: Clock
    telegram: RecordingTelegram
    turns: list[tuple[str, Any]] = field(default_factory=list)
    url: str = "http://wa.test/whatsapp/webhook"

    # -- playing Meta -------------------------------------------------------------------

    def ts(self) -> int:
        return int(self.clock.now.timestamp())

    async def post(self, *messages: dict, statuses=(), **kw) -> httpx.Response:
        raw, headers = signed(
            payload(messages, statuses=statuses, phone_number_id=PHONE_ID, **kw), SECRET
        )
        response = await self.http.post(self.url, content=raw, headers=headers)
        await self.channel.wait_idle()
        return response

    async def text(self, wa_id: str, text: str, **kw) -> list[dict]:
        before = len(self.to(wa_id))
        response = await self.post(text_message(text, sender=wa_id, ts=self.ts(), **kw))
        assert response.status_code == 200
        return self.to(wa_id)[before:]

    async def tap(self, wa_id: str, choice: str) -> list[dict]:
        """Tap the button or list row `choice` on the last message this resident got."""
        last = self.to(wa_id)[-1]
        assert last["type"] == "interactive", last
        inter = last["interactive"]
        items = (
            [b["reply"] for b in inter["action"]["buttons"]]
            if inter["type"] == "button"
            else [r for s in inter["action"]["sections"] for r in s["rows"]]
        )
        item = next(i for i in items if i["id"].rsplit("|", 1)[-1] == choice)
        build = button_reply if inter["type"] == "button" else list_reply
        before = len(self.to(wa_id))
        response = await self.post(build(item["id"], item["title"], sender=wa_id, ts=self.ts()))
        assert response.status_code == 200
        return self.to(wa_id)[before:]

    # -- reading the fake Graph API ----------------------------------------------------

    def to(self, wa_id: str) -> list[dict]:
        return [c.body for c in self.graph.delivered if c.recipient == wa_id]

    def events(self, wa_id: str) -> list[str]:
        return [e.name for ref, turn in self.turns if ref == wa_id for e in turn.events]

    async def seed(self, wa_id: str, **profile: str) -> None:
        session = session_from_setup({"consent": True, "profile": profile})
        key = self.runtime.conversations.key_for("whatsapp", wa_id)
        async with self.runtime.store.transaction() as tx:
            await tx.save_session(key, session, self.clock())


def texts(bodies: list[dict]) -> str:
    out = []
    for b in bodies:
        if b["type"] == "text":
            out.append(b["text"]["body"])
        elif b["type"] == "interactive":
            out.append(b["interactive"]["body"]["text"])
        elif b["type"] == "template":
            out.append(f"[template {b['template']['name']}]")
    return "\n".join(out)


async def make_stack(
    tmp_path: Path,
    graph: FakeGraphApi,
    *,
    template: bool = True,
    areas: list[dict] | None = None,
    db: str = "wa.db",
    clock: Clock | None = None,
    transport: bool = True,
    store: Any = None,
) -> Stack:
    clock = clock or Clock()
    config = parse_config(config_data(template=template, areas=areas))
    runtime = await build_runtime(
        config, content_dir=REAL_CONTENT, db_path=tmp_path / db, clock=clock
    )
    env = {
        "WHATSAPP_ACCESS_TOKEN": TOKEN,
        "WHATSAPP_APP_SECRET": SECRET,
        "WHATSAPP_VERIFY_TOKEN": VERIFY,
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_ID,
        "WHATSAPP_API_BASE_URL": graph.base_url,
    }
    parts = build_whatsapp(runtime, env)
    assert parts is not None
    channel = parts.channel
    if store is not None:
        runtime.conversations.store = store
    telegram = RecordingTelegram()
    runtime.alerts.attach("telegram", telegram)  # the Telegram engineer's sender, recorded
    assert runtime.alerts.senders["whatsapp"] is parts.alert_sender
    kit = runtime.escalation
    app = create_web_app(whatsapp=channel)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://wa.test")
    stack = Stack(runtime, channel, graph, http, kit, clock, telegram)

    async def on_turn(msg, turn):
        stack.turns.append((msg.user_ref, turn))

    channel.on_turn = on_turn
    return stack


def rows_of(stack: Stack, sql: str, *params: Any) -> list[Any]:
    return databases.rows(stack.runtime.database.target, sql, *params)


async def close(stack: Stack) -> None:
    await stack.http.aclose()
    await stack.channel.aclose()
    await stack.runtime.close()


@pytest.fixture
async def graph():
    async with running_graph_api(TOKEN) as fake:
        yield fake


@pytest.fixture
async def s(tmp_path, graph):
    stack = await make_stack(tmp_path, graph)
    yield stack
    await close(stack)


RESIDENT = "6285700001234"


# -- the webhook door -------------------------------------------------------------------


async def test_verification_handshake(s: Stack):
    ok = await s.http.get(
        "/whatsapp/webhook",
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "8814"},
    )
    assert (ok.status_code, ok.text) == (200, "8814")
    assert ok.headers["content-type"].startswith("text/plain")
    bad = await s.http.get(
        "/whatsapp/webhook",
        params={"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "8814"},
    )
    assert bad.status_code == 403 and "8814" not in bad.text


async def test_unsigned_forged_and_tampered_posts_are_refused_and_nothing_is_processed(s: Stack):
    msg = text_message("halo", sender=RESIDENT, mid="wamid.FORGED1", ts=s.ts())
    raw, headers = signed(payload([msg], phone_number_id=PHONE_ID), SECRET)
    attempts = [
        {"Content-Type": "application/json"},
        {"X-Hub-Signature-256": sign("attacker-secret", raw)},
        {"X-Hub-Signature-256": "sha256=" + "0" * 64},
    ]
    for forged in attempts:
        response = await s.http.post(s.url, content=raw, headers=forged)
        assert response.status_code == 403
    tampered = raw.replace(b"halo", b"HALO")
    response = await s.http.post(s.url, content=tampered, headers=headers)
    assert response.status_code == 403
    await s.channel.wait_idle()
    assert s.graph.calls == [] and s.turns == []
    assert s.channel.counters["webhook_refused"] == 4 and s.channel.counters["messages"] == 0
    # Nothing was recorded either: the genuine delivery of that very id is processed.
    response = await s.http.post(s.url, content=raw, headers=headers)
    await s.channel.wait_idle()
    assert response.status_code == 200
    assert "Setuju" in str(s.to(RESIDENT)[-1])


async def test_oversized_body_is_refused(s: Stack):
    raw = b"{" + b" " * 1_100_000 + b"}"
    response = await s.http.post(
        s.url, content=raw, headers={"X-Hub-Signature-256": sign(SECRET, raw)}
    )
    assert response.status_code == 413 and s.turns == []


# -- a resident's conversation ----------------------------------------------------------


async def test_resident_completes_gad7_with_buttons_and_a_list_over_a_real_server(tmp_path, graph):
    stack = await make_stack(tmp_path, graph)
    stop, started, holder = asyncio.Event(), asyncio.Event(), []
    app = create_web_app(whatsapp=stack.channel)
    server = asyncio.create_task(
        serve(
            app,
            "127.0.0.1",
            0,
            stop=stop,
            started=started,
            server_holder=holder,
            handle_signals=False,
            log_level="warning",
        )
    )
    await started.wait()
    await stack.http.aclose()
    stack.http = httpx.AsyncClient(timeout=30)
    stack.url = f"http://127.0.0.1:{bound_port(holder[0])}/whatsapp/webhook"
    try:
        first = await stack.text(RESIDENT, "halo")
        assert "program otomatis" in texts(first)
        assert first[-1]["interactive"]["type"] == "button"  # Setuju / Tidak setuju
        await stack.tap(RESIDENT, "setuju")
        assert stack.to(RESIDENT)[-1]["interactive"]["type"] == "list"  # 4 age groups
        await stack.tap(RESIDENT, "dewasa")
        await stack.tap(RESIDENT, "ngunut")  # Kec. Ngunut / Kota / Lewati: buttons
        intro = await stack.text(RESIDENT, "/start gad7")
        assert "GAD-7" in texts(intro) and intro[-1]["interactive"]["type"] == "button"
        await stack.tap(RESIDENT, "mulai")
        answers = ["beberapa_hari"] * 5 + ["lebih_separuh", "tidak_pernah"]
        kinds = set()
        for answer in answers:
            kinds.add(stack.to(RESIDENT)[-1]["interactive"]["type"])
            result = await stack.tap(RESIDENT, answer)
        assert kinds == {"list"}  # four answers: a list, rows ≤ 24 characters
        said = texts(result)
        assert "7 dari 21" in said and "bukan diagnosis" in said
        rows = result[-1]["interactive"]["action"]["sections"][0]["rows"]
        assert {"gad7.lanjut_mild|layanan", "gad7.lanjut_mild|menu"} <= {r["id"] for r in rows}
        assert "screening_completed" in stack.events(RESIDENT)
        key = stack.runtime.conversations.key_for("whatsapp", RESIDENT)
        history = await stack.runtime.store.history(key)
        assert [(h.instrument, h.score) for h in history] == [("gad7", 7.0)]
        health = (await stack.http.get(stack.url.replace("/whatsapp/webhook", "/healthz"))).json()
        assert health["whatsapp"]["turns"] == 13 and health["whatsapp"]["send_failed"] == 0
    finally:
        stop.set()
        await server
        await close(stack)


async def test_typed_number_and_label_answer_a_list(s: Stack):
    await s.seed(RESIDENT)
    await s.text(RESIDENT, "/start gad7")
    await s.tap(RESIDENT, "mulai")
    await s.text(RESIDENT, "2")  # "Beberapa hari", typed as the row number
    after = await s.text(RESIDENT, "hampir setiap hari")  # typed label
    assert "3 dari 7" in texts(after)


async def test_media_gets_a_kind_reply_and_a_reaction_none(s: Stack):
    await s.seed(RESIDENT)
    for kind in ("sticker", "voice", "image", "location"):
        before = len(s.to(RESIDENT))
        await s.post(media_message(kind, sender=RESIDENT, ts=s.ts()))
        assert "hanya bisa membaca teks" in texts(s.to(RESIDENT)[before:])
    reaction = message("reaction", {"message_id": "wamid.X", "emoji": "👍"}, sender=RESIDENT)
    before = len(s.to(RESIDENT))
    await s.post(reaction)
    assert s.to(RESIDENT)[before:] == []  # acknowledging a message asks for no answer


async def test_a_batch_keeps_each_residents_order(s: Stack):
    other = "6285700009999"
    await s.seed(RESIDENT)
    await s.seed(other)
    await s.post(
        text_message("menu", sender=RESIDENT, ts=s.ts()),
        text_message("menu", sender=other, ts=s.ts()),
        text_message("bantuan", sender=RESIDENT, ts=s.ts()),
        text_message("/start gad7", sender=RESIDENT, ts=s.ts()),
    )
    mine = s.to(RESIDENT)
    menu = next(i for i, b in enumerate(mine) if "Menu utama" in texts([b]))
    gad = next(i for i, b in enumerate(mine) if "GAD-7" in texts([b]))
    help_ = next(i for i, b in enumerate(mine) if "119" in texts([b]))
    assert menu < help_ < gad
    assert any("Menu utama" in texts([b]) for b in s.to(other))


async def test_a_resident_known_only_by_bsuid_is_answered_by_recipient(s: Stack):
    bsuid = "ID.13491208655302741918"
    msg = message("text", {"body": "halo"}, sender="", ts=s.ts())
    del msg["from"]
    msg["from_user_id"] = bsuid
    await s.post(msg, contacts=[{"profile": {"name": "Sari"}, "user_id": bsuid}])
    sent = s.to(bsuid)
    assert sent and all(b.get("recipient") == bsuid and "to" not in b for b in sent)


# -- de-duplication and bad payloads ----------------------------------------------------


async def test_a_redelivered_message_is_processed_once_also_after_a_restart(tmp_path, graph):
    first = await make_stack(tmp_path, graph)
    msg = text_message("halo", sender=RESIDENT, mid="wamid.ONCE", ts=first.ts())
    await first.post(msg)
    answered = len(first.to(RESIDENT))
    assert answered > 0
    await first.post(msg)  # Meta retries
    await first.post(msg, msg)  # and even twice in one batch
    assert len(first.to(RESIDENT)) == answered
    assert first.channel.counters["duplicates"] == 3 and first.channel.counters["turns"] == 1
    await close(first)

    again = await make_stack(tmp_path, graph)  # a restart: new memory, same database
    response = await again.post(msg)
    assert response.status_code == 200
    assert len(again.to(RESIDENT)) == answered and again.turns == []
    assert again.channel.counters["duplicates"] == 1
    await close(again)


class FlakyStore:
    """The real store, except that its short transactions (keeping a message in the inbox)
    fail `failures` times."""

    def __init__(self, store: Any, failures: int = 1) -> None:
        self.store = store
        self.failures = failures

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def standalone(self) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise OSError("database is locked")
        return self.store.standalone()


async def test_when_ids_cannot_be_recorded_the_post_gets_500_and_the_retry_works(tmp_path, graph):
    s = await make_stack(tmp_path, graph)
    assert s.channel.inbox is not None
    s.channel.inbox.store = FlakyStore(s.runtime.store)
    msg = text_message("halo", sender=RESIDENT, mid="wamid.RETRY", ts=s.ts())
    failed = await s.post(msg)
    assert failed.status_code == 500 and s.to(RESIDENT) == []
    assert rows_of(s, "SELECT id FROM inbox") == []  # nothing half-kept
    retried = await s.post(msg)  # Meta delivers again: not taken for a duplicate
    assert retried.status_code == 200 and len(s.to(RESIDENT)) > 0
    assert s.channel.counters["webhook_errors"] == 1
    await close(s)


async def test_malformed_payloads_are_counted_and_the_good_parts_kept(s: Stack):
    garbage = b"this is not json"
    response = await s.http.post(
        s.url, content=garbage, headers={"X-Hub-Signature-256": sign(SECRET, garbage)}
    )
    assert response.status_code == 200
    no_id = {"from": RESIDENT, "timestamp": str(s.ts()), "type": "text", "text": {"body": "x"}}
    nobody = {
        "id": "wamid.NOBODY",
        "timestamp": str(s.ts()),
        "type": "text",
        "text": {"body": "rahasia"},
    }
    good = text_message("halo", sender=RESIDENT, ts=s.ts())
    raw, headers = signed(
        payload([no_id, good, nobody], contacts=[], phone_number_id=PHONE_ID), SECRET
    )
    response = await s.http.post(s.url, content=raw, headers=headers)
    await s.channel.wait_idle()
    assert response.status_code == 200
    assert "program otomatis" in texts(s.to(RESIDENT))  # the good message was answered
    health = (await s.http.get("/healthz")).json()
    assert health["status"] == "ok"
    assert health["whatsapp"]["parse_problems"] == 3  # garbage, no id, no sender
    assert "rahasia" not in str(health) and RESIDENT not in str(health)


async def test_send_failures_are_counted_and_the_next_message_works(s: Stack):
    await s.seed(RESIDENT)
    s.graph.fail_next("131026")  # not on WhatsApp / cannot be reached
    await s.text(RESIDENT, "menu")
    assert s.channel.counters["send_unreachable"] == 1
    assert "Menu utama" in texts(await s.text(RESIDENT, "menu"))


# -- numbered fallback ------------------------------------------------------------------


async def test_more_than_ten_choices_become_a_numbered_menu_answered_by_number(tmp_path, graph):
    areas = [{"id": f"desa{i}", "label": f"Desa Nomor {i}"} for i in range(1, 12)]
    s = await make_stack(tmp_path, graph, areas=areas)
    await s.text(RESIDENT, "halo")
    await s.tap(RESIDENT, "setuju")
    menu = await s.tap(RESIDENT, "dewasa")
    body = menu[-1]
    assert body["type"] == "text"  # 11 areas + Lewati: more than a list holds
    assert "11. Desa Nomor 11" in body["text"]["body"] and "12. Lewati" in body["text"]["body"]
    await s.text(RESIDENT, "11")
    session = await s.runtime.store.load_session(
        s.runtime.conversations.key_for("whatsapp", RESIDENT)
    )
    assert session is not None and session.session.profile["area"] == "desa11"
    await close(s)


async def test_labels_too_long_for_buttons_and_rows_become_numbered_text(s: Stack):
    await s.text(RESIDENT, "halo")  # opens the window
    long = (
        Choice("a", "Pilihan pertama yang sangat panjang sekali"),
        Choice("b", "Pilihan kedua yang juga terlalu panjang"),
    )
    await s.channel.deliver_outbound(Outbound("whatsapp", RESIDENT, "Pilih satu:", long, "x.y"))
    last = s.to(RESIDENT)[-1]
    assert last["type"] == "text"
    assert "1. Pilihan pertama yang sangat panjang sekali" in last["text"]["body"]


# -- crisis, cadre alerts and the 24-hour window ----------------------------------------


async def crisis(s: Stack) -> tuple[list[dict], str]:
    await s.seed(RESIDENT, area="ngunut", age_group="dewasa")
    reply = await s.text(RESIDENT, "saya mau bunuh diri")
    created = [e for _r, t in s.turns for e in t.events if e.name == "escalation_created"]
    assert created, s.events(RESIDENT)
    return reply, created[-1].data["case"]


async def test_crisis_message_gets_hotlines_and_a_template_then_the_card_on_reply(s: Stack):
    reply, code = await crisis(s)
    said = texts(reply)
    assert "119" in said and "112" in said
    assert "escalate" in s.events(RESIDENT)

    assert await s.kit.dispatcher.tick() == 1
    to_kader = s.to(KADER)
    assert [b["type"] for b in to_kader] == ["template"]  # never wrote to us: window closed
    assert to_kader[0]["template"] == {"name": TEMPLATE, "language": {"code": "id"}}
    assert code not in str(to_kader)  # nothing about the case in the template
    assert await s.channel.held_count(KADER) > 0

    s.clock.advance(hours=2)  # the cadre taps the template's button later
    await s.post(template_button("Lihat pesan", sender=KADER, ts=s.ts()))
    card = texts(s.to(KADER)[1:])
    assert code in card and "TINGGI" in card and "Kec. Ngunut" in card
    assert RESIDENT not in card
    assert await s.channel.held_count(KADER) == 0
    assert s.to(KADER)[-1]["interactive"]["type"] == "button"  # Ambil / Hubungi / Selesai
    assert s.turns[-1][0] == RESIDENT  # the cadre's tap never became a resident turn


async def test_alert_to_a_number_inside_its_window_is_sent_directly(s: Stack):
    await s.text(KADER, "bantuan")  # the cadre wrote today: the window is open
    assert "ambil TJ-XXXX" in texts(s.to(KADER))
    _reply, code = await crisis(s)
    await s.kit.dispatcher.tick()
    sent = s.to(KADER)
    assert all(b["type"] != "template" for b in sent)
    assert code in texts(sent[1:])


async def test_cadre_claims_notes_and_closes_from_whatsapp(s: Stack):
    _reply, code = await crisis(s)
    await s.kit.dispatcher.tick()
    await s.post(template_button("Lihat pesan", sender=KADER, ts=s.ts()))
    await s.tap(KADER, f"ambil {code}")
    assert f"Kasus {code} Anda ambil" in texts(s.to(KADER)[-1:])
    async with s.runtime.store.transaction() as tx:
        case = await cases.case_by_code(tx, code)
    assert case is not None and case.status == "claimed"
    await s.kit.dispatcher.tick()  # the card update: a new message, WhatsApp cannot edit
    assert "Diambil oleh" in texts(s.to(KADER)[-2:])
    # The supervisor's cadre was not alerted for this case (yet): refused.
    await s.text(PUSKESMAS, f"ambil {code}")
    assert "tidak berwenang" in texts(s.to(PUSKESMAS)[-1:])
    # A note, then closing the case through the outcome list.
    await s.text(KADER, f"catatan {code} sudah ditelepon, aman bersama ibunya")
    assert f"Catatan untuk {code} disimpan" in texts(s.to(KADER)[-1:])
    outcomes = await s.text(KADER, f"selesai {code}")
    assert outcomes[-1]["interactive"]["type"] == "list"
    await s.tap(KADER, f"selesai {code} contacted")
    assert f"Kasus {code} selesai: sudah dihubungi" in texts(s.to(KADER)[-1:])
    async with s.runtime.store.transaction() as tx:
        case = await cases.case_by_code(tx, code)
    assert case is not None and (case.status, case.outcome) == ("closed", "contacted")
    # Anyone else writing is a resident: the bot's own conversation, not a cadre command.
    stranger = "6281999999999"
    await s.text(stranger, f"ambil {code}")
    assert "program otomatis" in texts(s.to(stranger))


async def crisis_with_contact(s: Stack) -> str:
    """The crisis flow from the menu, agreeing to be contacted; returns the case code."""
    await s.seed(RESIDENT, area="ngunut", age_group="dewasa")
    await s.text(RESIDENT, "menu")
    for choice in (
        "darurat",
        "kader",
        "boleh",
        "ya",
        "tidak",
        "tidak",
        "tidak",
        "tidak",
        "ya",
        "tidak",
        "ya",
    ):
        await s.tap(RESIDENT, choice)
    assert "contact_ok" in str([e.data for _r, t in s.turns for e in t.events])
    return next(
        e.data["case"] for _r, t in s.turns for e in t.events if e.name == "escalation_created"
    )


async def test_relay_between_a_whatsapp_cadre_and_a_whatsapp_resident(s: Stack):
    code = await crisis_with_contact(s)
    await s.kit.dispatcher.tick()
    await s.post(template_button("Lihat pesan", sender=KADER, ts=s.ts()))

    await s.text(KADER, f"hubungi {code}")
    ask = s.to(RESIDENT)[-1]
    assert "kader kesehatan jiwa" in texts([ask]) and ask["type"] == "interactive"
    await s.tap(RESIDENT, "terima")
    assert "warga bersedia" in texts(s.to(KADER)[-1:])
    await s.text(KADER, f"{code} Halo, saya kader dari puskesmas.")
    assert "Kader: Halo, saya kader dari puskesmas." in texts(s.to(RESIDENT)[-1:])
    await s.text(RESIDENT, "terima kasih kak")
    assert f"{code}: terima kasih kak" in texts(s.to(KADER)[-1:])
    await s.text(KADER, "boleh cerita sedikit?")  # one active relay: plain text goes there
    assert "boleh cerita sedikit?" in texts(s.to(RESIDENT)[-1:])


async def test_relay_with_a_telegram_cadre_goes_through_forward_without_deadlock(s: Stack):
    from bot.cases.desk import CadreIdentity

    code = await crisis_with_contact(s)
    desk = s.kit.desk
    invite = await desk.create_invite("Bu Sri")
    cadre = CadreIdentity("telegram", "777001", "Bu Sri")
    assert (await desk.register(invite, cadre)).ok
    forwarded: list[Outbound] = []

    async def telegram_forward(outbound: Outbound) -> None:
        # The Telegram side answers at once, back into WhatsApp: had forwarding run inside
        # the resident's turn, this would wait on itself forever.
        forwarded.append(outbound)
        if "bersedia" in outbound.text:
            await s.channel.deliver_outbound(
                Outbound("whatsapp", RESIDENT, "💬 Kader: Halo, saya Bu Sri.")
            )

    s.channel.forward = telegram_forward
    asked = await desk.request_relay(code, cadre)
    for outbound in asked.messages:  # what the Telegram channel does with the result
        await s.channel.deliver_outbound(outbound)
    assert "kader kesehatan jiwa" in texts(s.to(RESIDENT)[-1:])
    await asyncio.wait_for(s.tap(RESIDENT, "terima"), 30)  # a guard, not a timing check
    assert [o.channel for o in forwarded] == ["telegram"] and forwarded[0].address == "777001"
    assert "Halo, saya Bu Sri." in texts(s.to(RESIDENT)[-1:])
    await s.text(RESIDENT, "iya kak")
    assert forwarded[-1].text.endswith("iya kak") and s.channel.counters["outbound_forwarded"] == 2


async def test_a_131047_status_for_an_alert_holds_it_and_sends_the_template(s: Stack):
    await s.text(KADER, "bantuan")  # window open by our clock…
    _reply, code = await crisis(s)
    await s.kit.dispatcher.tick()
    card = [c for c in s.graph.delivered if c.recipient == KADER and code in str(c.body)]
    assert card
    wamid = f"wamid.FAKE{s.graph.delivered.index(card[-1]) + 1}"  # the fake numbers them
    # …but Meta reports later that the card failed: the window had closed.
    await s.post(statuses=[failed_status(wamid, KADER, 131047)])
    assert s.channel.counters["delivery_failures_outside_window"] == 1
    assert s.to(KADER)[-1]["type"] == "template"
    await s.text(KADER, "ok")
    assert code in texts(s.to(KADER)[-3:])


async def test_without_a_template_the_alert_goes_to_the_fallback_route(tmp_path, graph):
    s = await make_stack(tmp_path, graph, template=False)
    _reply, code = await crisis(s)
    await s.kit.dispatcher.tick()
    assert s.to(KADER) == [] and s.to(PUSKESMAS) == []  # no template, both windows closed
    assert [(route, a.case) for route, a in s.telegram.sent] == [("puskesmas", code)]
    assert s.channel.counters["alerts_fallback_route"] == 1
    # The card still waits for the kader's number, should they write.
    await s.text(KADER, "halo")
    assert code in texts(s.to(KADER))
    await close(s)


async def test_an_unreachable_chain_makes_the_dispatcher_retry(tmp_path, graph):
    s = await make_stack(tmp_path, graph, template=False)
    del s.runtime.alerts.senders["telegram"]  # the supervisor's Telegram group is not running
    await crisis(s)
    assert await s.kit.dispatcher.tick() == 0
    rows = [
        (r["state"], r["attempts"])
        for r in await s.runtime.store.reader.fetch(
            "SELECT state, attempts FROM outbox WHERE kind = 'alert'"
        )
    ]
    assert rows == [("pending", 1)]
    await close(s)


# -- the web app and the runner's API ---------------------------------------------------


async def test_graceful_shutdown_finishes_the_turn_in_flight(tmp_path, graph):
    s = await make_stack(tmp_path, graph)
    await s.seed(RESIDENT)
    gate, entered = asyncio.Event(), asyncio.Event()

    async def slow(msg, turn):
        entered.set()
        await gate.wait()

    s.channel.on_turn = slow
    draining, drain = asyncio.Event(), s.channel.drain

    async def observed_drain(timeout: float | None = 30.0) -> bool:  # a spy: same behaviour
        draining.set()
        return await drain(timeout)

    s.channel.drain = observed_drain
    app = create_web_app(whatsapp=s.channel)
    stop, started, holder = asyncio.Event(), asyncio.Event(), []
    server = asyncio.create_task(
        serve(
            app,
            "127.0.0.1",
            0,
            stop=stop,
            started=started,
            server_holder=holder,
            handle_signals=False,
            log_level="warning",
        )
    )
    await started.wait()
    url = f"http://127.0.0.1:{bound_port(holder[0])}/whatsapp/webhook"
    raw, headers = signed(
        payload([text_message("menu", sender=RESIDENT, ts=s.ts())], phone_number_id=PHONE_ID),
        SECRET,
    )
    async with httpx.AsyncClient() as client:
        response = await client.post(url, content=raw, headers=headers)
    assert response.status_code == 200  # answered while the turn is still running
    await entered.wait()
    assert s.to(RESIDENT) == []
    stop.set()
    # Wait until shutdown reaches the channel's drain (or serve returns without it).
    draining_task = asyncio.create_task(draining.wait())
    await asyncio.wait([draining_task, server], return_when=asyncio.FIRST_COMPLETED)
    in_shutdown = draining.is_set() and not server.done()
    listening = bool(holder[0].servers) and holder[0].servers[0].is_serving()
    gate.set()
    await server  # returns only after the background turn finished and its reply was sent
    assert in_shutdown and not listening
    assert "Menu utama" in texts(s.to(RESIDENT))
    await close(s)


SERVE_SCRIPT = """
import asyncio
from bot.web import bound_port, create_web_app, serve

async def main():
    started, holder = asyncio.Event(), []
    app = create_web_app(health=lambda: {"probe": 1})
    task = asyncio.create_task(serve(app, "127.0.0.1", 0, started=started,
                                     server_holder=holder, log_level="warning"))
    await started.wait()
    print(bound_port(holder[0]), flush=True)
    await task
    print("serve returned; closing the rest", flush=True)

asyncio.run(main())
"""


async def test_sigterm_stops_serve_gracefully_and_returns_to_the_caller():
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVE_SCRIPT,
        cwd=Path(__file__).parent.parent,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    port = int(await proc.stdout.readline())
    async with httpx.AsyncClient() as client:
        health = (await client.get(f"http://127.0.0.1:{port}/healthz")).json()
    assert health == {"status": "ok", "probe": 1}
    proc.send_signal(signal.SIGTERM)
    rest = (await proc.stdout.read()).decode()
    assert await proc.wait() == 0  # not killed by a re-raised signal
    assert "serve returned" in rest


async def test_healthz_and_a_mounted_telegram_webhook():
    seen: list[bytes] = []

    async def telegram(request: Request) -> PlainTextResponse:
        seen.append(await request.body())
        return PlainTextResponse("ok")

    app = create_web_app(telegram_webhook=telegram, health=lambda: {"telegram": {"updates": 3}})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        assert (await http.post("/telegram/webhook", content=b"{}")).status_code == 200
        health = (await http.get("/healthz")).json()
        assert health == {"status": "ok", "telegram": {"updates": 3}}
        assert (await http.post("/whatsapp/webhook", content=b"{}")).status_code == 404
    assert seen == [b"{}"]

    route = StarletteRoute("/tg/secret-path", telegram, methods=["POST"])
    app = create_web_app(telegram_webhook=route)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        assert (await http.post("/tg/secret-path", content=b"1")).status_code == 200


async def test_build_whatsapp_reads_secrets_from_the_environment_only(tmp_path):
    runtime = await build_runtime(
        parse_config(config_data()), content_dir=REAL_CONTENT, db_path=tmp_path / "b.db"
    )
    try:
        assert build_whatsapp(runtime, {}) is None
        with pytest.raises(ConfigError, match="WHATSAPP_APP_SECRET"):
            build_whatsapp(runtime, {"WHATSAPP_ACCESS_TOKEN": "t"})
        env = {
            "WHATSAPP_ACCESS_TOKEN": "t",
            "WHATSAPP_APP_SECRET": "s",
            "WHATSAPP_VERIFY_TOKEN": "v",
            "WHATSAPP_PHONE_NUMBER_ID": "123",
            "WHATSAPP_API_BASE_URL": "http://127.0.0.1:9/",
            "WHATSAPP_API_VERSION": "21.0",
        }
        parts = build_whatsapp(runtime, env)
        assert parts is not None
        channel = parts.channel
        assert channel.client.url == "http://127.0.0.1:9/v21.0/123/messages"
        assert channel.alert_template is not None and channel.alert_template.name == TEMPLATE
        assert channel.cadre_numbers == {KADER, PUSKESMAS}
        shown = repr(WhatsAppSettings.from_env({**env, "WHATSAPP_ACCESS_TOKEN": "tok-SECRET"}))
        assert "tok-SECRET" not in shown and "123" in shown
        await channel.aclose()
        with pytest.raises(ConfigError, match="alert_template"):
            bad = parse_config({**config_data(), "whatsapp": {"alert_template": {"lang": "id"}}})
            build_whatsapp(dataclasses.replace(runtime, config=bad), env)
    finally:
        await runtime.close()


def test_cadre_commands_are_parsed():
    assert parse_command("ambil tj-7k3q").case == "TJ-7K3Q"
    note = parse_command("Catatan TJ-7K3Q sudah ditelepon")
    assert (note.verb, note.rest) == ("note", "sudah ditelepon")
    say = parse_command("TJ-7K3Q: halo")
    assert (say.verb, say.rest) == ("say", "halo")
    assert parse_command("ambil").verb == "help"
    assert parse_command("halo apa kabar") is None
    assert re.fullmatch("help", parse_command("bantuan").verb)
