"""Follow-ups over WhatsApp: the real channel, signed webhook POSTs and the fake Graph API
on 127.0.0.1, a real SQLite file and a controllable clock. Inside the 24-hour window the
check-in goes as text; outside it the approved `whatsapp.followup_template` goes first and
the caring text follows the resident's reply; without a template nothing is pretended."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from bot.app import Runtime, WhatsAppParts, build_runtime, build_whatsapp
from tests.conftest import REAL_CONTENT
from tests.fakes.graph_api import FakeGraphApi, running_graph_api
from tests.support.escalation import CONFIG, FakeClock, make_config
from tests.support.whatsapp_driver import payload, signed, template_button, text_message

SECRET = "followup-app-secret"
TOKEN = "test-token"
PHONE_ID = "106540352242922"
RESIDENT = "6281234500001"
TEMPLATE = {"name": "teman_jiwa_sapaan", "language": "id"}
# The real crisis flow at the high level, answered by typing: safe now, someone is with me,
# a cadre may contact me, do not pass my words on, no safety plan now → the offer.
TO_THE_OFFER = ("aku pengen bunuh diri", "ya", "ya", "ya", "tidak", "tidak")


@dataclass
class WhatsApp:
    runtime: Runtime
    parts: WhatsAppParts
    graph: FakeGraphApi
    clock: FakeClock

    @property
    def scheduler(self):
        return self.runtime.escalation.followups.scheduler

    async def say(self, text: str, *, button: bool = False) -> None:
        """The resident writes (Meta's timestamp is the clock's time)."""
        ts = int(self.clock().timestamp())
        message = (template_button(text, sender=RESIDENT, ts=ts) if button
                   else text_message(text, sender=RESIDENT, ts=ts))
        raw, headers = signed(payload([message], phone_number_id=PHONE_ID), SECRET)
        assert await self.parts.channel.handle_post(raw, headers) == 200
        await self.parts.channel.wait_idle()

    def bodies(self, since: int = 0) -> list[dict]:
        return [c.body for c in self.graph.delivered[since:]]

    def texts(self, since: int = 0) -> str:
        out = []
        for body in self.bodies(since):
            if body["type"] == "text":
                out.append(body["text"]["body"])
            elif body["type"] == "interactive":
                out.append(body["interactive"]["body"]["text"])
        return "\n".join(out)


async def start(tmp_path, graph: FakeGraphApi, template: bool) -> WhatsApp:
    clock = FakeClock()
    section = {"followup_template": TEMPLATE} if template else {}
    config = make_config(whatsapp=section, **{k: v for k, v in CONFIG.items()
                                              if k == "routes"})
    runtime = await build_runtime(config, content_dir=REAL_CONTENT,
                                  db_path=tmp_path / "wa.db", clock=clock)
    env = {
        "WHATSAPP_ACCESS_TOKEN": TOKEN,
        "WHATSAPP_APP_SECRET": SECRET,
        "WHATSAPP_VERIFY_TOKEN": "verify",
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_ID,
        "WHATSAPP_API_BASE_URL": graph.base_url,
    }
    parts = build_whatsapp(runtime, env)
    assert parts is not None
    return WhatsApp(runtime, parts, graph, clock)


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphApi]:
    async with running_graph_api(TOKEN) as fake:
        yield fake


async def agree_to_checkins(wa: WhatsApp) -> None:
    await wa.say("halo")
    await wa.say("setuju")
    for text in TO_THE_OFFER:
        await wa.say(text)
    assert "Boleh saya menyapa lagi" in wa.texts()
    await wa.say("ya")
    (row,) = await wa.runtime.store.reader.fetch("SELECT status, kind FROM followups")
    assert (row["status"], row["kind"]) == ("active", "crisis")


async def test_outside_the_window_the_template_goes_first_and_the_reply_opens_the_check_in(
        tmp_path, graph):
    wa = await start(tmp_path, graph, template=True)
    try:
        await agree_to_checkins(wa)
        wa.clock.advance(days=1)  # 24 hours after the resident's last message
        mark = len(graph.delivered)
        assert await wa.scheduler.tick() == 1
        (body,) = wa.bodies(mark)
        assert body["type"] == "template" and body["template"]["name"] == "teman_jiwa_sapaan"
        assert body["to"] == RESIDENT
        assert "Bagaimana kabar" not in wa.texts(mark)  # the caring text waits for a reply
        assert await wa.scheduler.tick() == 0  # and the template goes once
        wa.clock.advance(hours=2)
        await wa.say("Lanjut", button=True)  # the template's quick-reply button
        assert "Bagaimana kabar Anda" in wa.texts(mark)
        (sent,) = await wa.runtime.store.reader.fetch(
            "SELECT state, via FROM checkins WHERE step = 1")
        assert (sent["state"], sent["via"]) == ("sent", "template")  # opened, not answered
        mark = len(graph.delivered)
        await wa.say("lebih baik")
        assert "Senang mendengarnya" in wa.texts(mark)
        (sent,) = await wa.runtime.store.reader.fetch(
            "SELECT state FROM checkins WHERE step = 1")
        assert sent["state"] == "answered"
    finally:
        await wa.parts.aclose()
        await wa.runtime.close()


async def test_inside_the_window_the_check_in_goes_as_text(tmp_path, graph):
    wa = await start(tmp_path, graph, template=True)
    try:
        await agree_to_checkins(wa)
        wa.clock.advance(hours=20)
        await wa.say("menu")  # the resident wrote: the window is open again
        wa.clock.advance(hours=4)
        mark = len(graph.delivered)
        assert await wa.scheduler.tick() == 1
        assert [b["type"] for b in wa.bodies(mark)][-1] == "interactive"
        assert "Bagaimana kabar Anda" in wa.texts(mark)
        assert all(b["type"] != "template" for b in wa.bodies(mark))
    finally:
        await wa.parts.aclose()
        await wa.runtime.close()


async def test_without_a_template_it_says_so_and_does_not_pretend(tmp_path, graph, caplog):
    caplog.set_level(logging.WARNING)
    wa = await start(tmp_path, graph, template=False)
    try:
        assert "followup_template is not set" in caplog.text
        health = wa.scheduler.health()
        assert health["followups"]["whatsapp_followup_template"] is False
        assert (await wa.parts.channel.metrics())["followup_template_configured"] is False
        await agree_to_checkins(wa)
        wa.clock.advance(days=1)
        mark = len(graph.delivered)
        assert await wa.scheduler.tick() == 0
        assert wa.bodies(mark) == []  # nothing went out…
        (row,) = await wa.runtime.store.reader.fetch("SELECT state FROM checkins WHERE step = 1")
        assert row["state"] == "skipped"  # …and nothing is recorded as sent
        assert wa.scheduler.health()["followups"]["skipped_no_template"] == 1
        sent = await wa.runtime.store.reader.fetch(
            "SELECT n FROM stats WHERE metric = 'followup' AND dim1 = 'sent'")
        assert sent == []
    finally:
        await wa.parts.aclose()
        await wa.runtime.close()


async def test_an_unreachable_number_ends_the_series(tmp_path, graph):
    wa = await start(tmp_path, graph, template=True)
    try:
        await agree_to_checkins(wa)
        wa.clock.advance(days=1)
        graph.fail_next("131026")  # Message Undeliverable
        assert await wa.scheduler.tick() == 0
        assert await wa.runtime.store.reader.fetch("SELECT * FROM followups") == []
        assert await wa.runtime.store.reader.fetch("SELECT * FROM checkins") == []
        wa.clock.advance(days=7)
        mark = len(graph.delivered)
        assert await wa.scheduler.tick() == 0 and wa.bodies(mark) == []
    finally:
        await wa.parts.aclose()
        await wa.runtime.close()


def test_template_setting_is_checked():
    from bot.config import ConfigError
    from bot.whatsapp.settings import ChannelOptions

    with pytest.raises(ConfigError, match="followup_template"):
        ChannelOptions.from_config({"followup_template": {"language": "id"}})
    options = ChannelOptions.from_config({"followup_template": TEMPLATE})
    assert options.followup_template is not None
    assert options.followup_template.name == "teman_jiwa_sapaan"
    assert timedelta(0) < options.template_every
