"""The editors' conversation tests (content/id/tests) through the real WhatsApp channel.

Every step is a signed webhook POST to the Starlette app served by uvicorn on 127.0.0.1,
handled by the real engine and SQLite store, and answered through the Graph API client to
the fake Graph API (tests/fakes/graph_api.py); replies are read back from what was sent.
One server and one database serve the whole module; each test is a new resident.

All of them run by default (92 tests in about 7 s); TEMANJIWA_WA_CONVTESTS=subset runs
a sample (the crisis file whole, every eighth test of the others) if they ever get slow.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio

from bot.app import build_runtime, build_whatsapp
from bot.config import parse_config
from bot.web import bound_port, create_web_app, serve
from bot.whatsapp.channel import WhatsAppChannel
from flows.convtest import collect, run_test
from tests.conftest import REAL_CONTENT
from tests.fakes.graph_api import FakeGraphApi, running_graph_api
from tests.support.whatsapp_driver import WhatsAppDriver

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECRET = "conv-app-secret"
TOKEN = "test-token"
PHONE_ID = "106540352242922"

TESTS, PROBLEMS = collect(REAL_CONTENT)
if os.environ.get("TEMANJIWA_WA_CONVTESTS") == "subset":
    # One of every kind: each file's first tests, the crisis file whole.
    TESTS = [t for i, t in enumerate(TESTS) if "krisis" in t.file or i % 8 == 0]


@dataclass
class Stack:
    channel: WhatsAppChannel
    graph: FakeGraphApi
    http: httpx.AsyncClient
    url: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp("wa-conv")
    config = parse_config(
        {
            "areas": [
                {"id": "contoh_desa", "label": "Desa Contoh"},
                {"id": "contoh_kec", "label": "Kec. Contoh"},
            ]
        }
    )
    async with running_graph_api(TOKEN) as graph:
        runtime = await build_runtime(config, content_dir=REAL_CONTENT, db_path=tmp / "wa.db")
        env = {
            "WHATSAPP_ACCESS_TOKEN": TOKEN,
            "WHATSAPP_APP_SECRET": SECRET,
            "WHATSAPP_VERIFY_TOKEN": "verify",
            "WHATSAPP_PHONE_NUMBER_ID": PHONE_ID,
            "WHATSAPP_API_BASE_URL": graph.base_url,
            "WHATSAPP_API_VERSION": "v25.0",
        }
        parts = build_whatsapp(runtime, env)
        assert parts is not None
        channel = parts.channel
        app = create_web_app(whatsapp=channel)
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
        async with httpx.AsyncClient(timeout=30) as http:
            yield Stack(channel, graph, http, url)
        stop.set()
        await server
        await channel.client.aclose()
        await runtime.close()


def _driver(stack: Stack) -> WhatsAppDriver:
    return WhatsAppDriver(
        stack.channel,
        stack.http,
        stack.url,
        SECRET,
        lambda: [c.body for c in stack.graph.delivered],
        phone_number_id=PHONE_ID,
    )


async def test_the_conversation_tests_are_there():
    assert PROBLEMS == []
    assert len(TESTS) > 10


IDS = [f"{t.file.rsplit('/', 1)[-1]}:{t.name}" for t in TESTS]


@pytest.mark.parametrize("conv", TESTS, ids=IDS)
async def test_conversation_over_whatsapp(conv, stack: Stack):
    driver = _driver(stack)
    try:
        failure = await run_test(conv, driver)
    finally:
        await driver.close()
    assert failure is None, str(failure)
    assert stack.channel.counters["send_failed"] == 0
    assert stack.channel.counters["turns_failed"] == 0
