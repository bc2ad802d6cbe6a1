"""`start_telegram` as `temanjiwa run` uses it: the webhook on the shared web app (secret
checked, each update once), durable de-duplication across restarts, and cadre alerts that
survive Bot API errors, an outage and a restart without being lost or posted twice."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest

from bot.cases.dispatcher import Backoff
from bot.config import ConfigError
from bot.telegram.lifecycle import SECRET_HEADER, TelegramSettings
from bot.web import bound_port, create_web_app, serve
from tests.fakes import FakeTelegram
from tests.support.telegram_system import GROUP, GUARD, RESIDENT, System

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

SECRET = "s3cret-Token_for_tests"
WEBHOOK = "https://bot.example.test/hooks/telegram"


@pytest.fixture
async def tg():
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("TEMANJIWA_SECRET", "telegram-runner-tests")


@contextlib.asynccontextmanager
async def web_server(system: System):
    """The deployment's one web app (bot/web.py) with the Telegram route, on 127.0.0.1."""
    assert system.handle is not None
    app = create_web_app(telegram_webhook=system.handle.webhook_route, health=system.handle.health)
    stop, started, holder = asyncio.Event(), asyncio.Event(), []
    task = asyncio.create_task(
        serve(
            app,
            "127.0.0.1",
            0,
            stop=stop,
            handle_signals=False,
            started=started,
            server_holder=holder,
            log_level="warning",
        )
    )
    await asyncio.wait_for(started.wait(), GUARD)
    base = f"http://127.0.0.1:{bound_port(holder[0])}"
    try:
        async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=GUARD) as http:
            yield http
    finally:
        stop.set()
        await task


async def test_webhook_refuses_a_wrong_secret_and_handles_a_retry_once(tg, tmp_path) -> None:
    env = {"TELEGRAM_WEBHOOK_SECRET": SECRET}
    system = await System.start(tg, tmp_path / "tj.db", env=env, webhook_url=WEBHOOK)
    try:
        (hook,) = tg.calls_to("setWebhook")
        assert hook.params["url"] == WEBHOOK and hook.params["secret_token"] == SECRET
        assert system.handle.webhook_route.path == "/hooks/telegram"
        update = tg.push_message(RESIDENT, RESIDENT, "/start")  # Telegram would POST this
        async with web_server(system) as http:
            missing = await http.post("/hooks/telegram", json=update)
            wrong = await http.post(
                "/hooks/telegram", json=update, headers={SECRET_HEADER: SECRET[:-1] + "X"}
            )
            assert (missing.status_code, wrong.status_code) == (403, 403)
            assert tg.calls_to("sendMessage") == []
            first = await http.post("/hooks/telegram", json=update, headers={SECRET_HEADER: SECRET})
            await system.settle()
            answered = len(system.texts(RESIDENT))
            again = await http.post("/hooks/telegram", json=update, headers={SECRET_HEADER: SECRET})
            await system.settle()
            assert (first.status_code, again.status_code) == (200, 200)
            assert answered >= 1 and len(system.texts(RESIDENT)) == answered
            health = (await http.get("/healthz")).json()["telegram"]
        assert health["mode"] == "webhook" and health["webhook_refused"] == 2
        assert health["webhook_updates"] == 2 and health["duplicate_updates"] == 1
        assert tg.calls_to("getUpdates") == []  # no polling in webhook mode

        await system.restart(env=env, webhook_url=WEBHOOK)  # the same update after a restart
        async with web_server(system) as http:
            late = await http.post("/hooks/telegram", json=update, headers={SECRET_HEADER: SECRET})
            await system.settle()
        assert late.status_code == 200 and len(system.texts(RESIDENT)) == answered
        assert system.channel.stats["duplicate_updates_durable"] == 1
    finally:
        await system.shutdown()


async def test_the_same_update_after_a_restart_is_handled_once(tg, tmp_path) -> None:
    system = await System.start(tg, tmp_path / "tj.db", dispatcher=False)
    try:
        update = await system.say(RESIDENT, "/start")
        answered = len(system.texts(RESIDENT))
        assert answered >= 1
        # recorded in the turn's own transaction, next to the session it changed
        seen = system.rows("SELECT update_id FROM inbound_seen WHERE channel = 'telegram'")
        assert [r["update_id"] for r in seen] == [str(update["update_id"])]
        assert tg.calls_to("deleteWebhook")  # polling mode drops any webhook first
        await system.restart(dispatcher=False)
        tg.push_update(update)  # delivered again (its offset was never confirmed)
        await system.say(RESIDENT, "menu")  # queued behind it: handled after it, in order
        assert tg.delivered[update["update_id"]] == 2
        assert len(system.texts(RESIDENT)) == answered + 1  # only the answer to "menu"
        assert system.channel.stats["duplicate_updates_durable"] == 1
    finally:
        await system.shutdown()


async def test_alerts_survive_api_errors_an_outage_and_a_restart(tg, tmp_path) -> None:
    system = await System.start(tg, tmp_path / "tj.db", dispatcher=False)
    try:
        await system.onboard()
        await system.say(RESIDENT, "aku ingin bunuh diri")
        code = system.case_code()
        assert "112" in system.texts(RESIDENT)[-1]

        def dispatcher():
            assert system.kit is not None
            system.kit.dispatcher.backoff = Backoff(base=0.0, factor=1.0, cap=0.0)
            return system.kit.dispatcher

        tg.fail_next("sendMessage", status=500, chat_id=GROUP)
        assert await dispatcher().run_once() == 0
        tg.rate_limit_next("sendMessage", retry_after=1, chat_id=GROUP)
        assert await dispatcher().run_once() == 0
        system.handle.alert_sender.read_timeout = 0.2
        tg.hang_next("sendMessage", seconds=1.0)  # answered 504 long after the client gave up
        assert await dispatcher().run_once() == 0
        system.handle.alert_sender.read_timeout = 15.0
        for mode in ("refuse", "502"):
            await tg.go_down(mode)
            assert await dispatcher().run_once() == 0
            await tg.come_back()
        tg.fail_next("sendMessage", status=500, chat_id=GROUP, times=None)
        assert await dispatcher().run_once() == 0
        await system.restart(dispatcher=False)  # a new process on the same database
        assert await dispatcher().run_once() == 0
        tg.clear_faults()
        assert await dispatcher().run_once() >= 1

        cards = [t for t in system.texts(GROUP) if code in t and "TINGGI" in t]
        assert len(cards) == 1
        assert len(system.events("alert_failed")) == 7
        assert len(system.events("alert_sent")) == 1
        (row,) = system.rows("SELECT state, external_ref FROM outbox WHERE kind = 'alert'")
        card = system.tg.last_bot_message(GROUP, with_keyboard=True)
        assert tuple(row) == ("sent", f"telegram|{GROUP}:{card['message_id']}")
        assert len(system.rows("SELECT id FROM cases")) == 1
    finally:
        await system.shutdown()


def test_settings_come_from_the_environment_and_the_telegram_section() -> None:
    assert TelegramSettings.from_env({}) is None
    env = {"TELEGRAM_BOT_TOKEN": "1:A", "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/"}
    settings = TelegramSettings.from_env(env, {"concurrency": 4, "flood_messages": 5})
    assert settings is not None
    assert (settings.base_url, settings.base_file_url) == (
        "http://127.0.0.1:8081/bot",
        "http://127.0.0.1:8081/file/bot",
    )
    assert (settings.concurrency, settings.flood_messages, settings.webhook_url) == (4, 5, None)
    assert "1:A" not in repr(settings)
    hooked = TelegramSettings.from_env(
        {**env, "TELEGRAM_WEBHOOK_URL": "https://x.test/tg/"}, {"webhook_url": "https://y.test"}
    )
    assert hooked is not None and hooked.webhook_path == "/tg"
    for bad_env, section in (
        ({**env, "TELEGRAM_WEBHOOK_SECRET": "has space"}, {}),
        (env, {"webhook_url": "http://public.example/hook"}),
        (env, {"concurency": 3}),
        (env, {"flood_seconds": 0}),
    ):
        with pytest.raises(ConfigError):
            TelegramSettings.from_env(bad_env, section)


async def test_stop_finishes_the_updates_already_received(tg, tmp_path) -> None:
    system = await System.start(tg, tmp_path / "tj.db", dispatcher=False)
    stopped = False
    try:
        await system.onboard()
        chats = [RESIDENT + i for i in range(1, 6)]
        tg.hang_next("sendMessage", seconds=0.3, apply=True)  # one answer is slow to go out
        pushed = [tg.push_message(chat, chat, "/start") for chat in chats]
        last = pushed[-1]["update_id"]
        await tg.wait_for("sendMessage", pending=True, since=pushed[0], timeout=GUARD)
        assert tg.delivered[last] == 1  # the whole batch is in, one answer is on its way
        await system.handle.stop()  # a signal arrives while those turns are running
        stopped = True
        assert all(system.texts(chat) for chat in chats)  # every one was answered
        assert tg.acked_offset > last  # and confirmed: Telegram will not send them again
    finally:
        if not stopped:
            await system.shutdown()
        else:
            await system.runtime.close()


def test_the_runner_respects_telegram_rate_limits_by_default(conversations) -> None:
    from bot.telegram.lifecycle import prepare_telegram
    from bot.telegram.rate_limits import TelegramLimits

    handle = prepare_telegram(conversations, {"TELEGRAM_BOT_TOKEN": "1:A"})
    assert handle is not None and handle.mode == "polling" and handle.webhook_route is None
    assert isinstance(handle.app.bot.rate_limiter, TelegramLimits)
    assert handle.app.concurrent_updates == 32  # one chat still strictly in order


async def test_two_webhook_workers_share_one_deduplication(tg, tmp_path) -> None:
    """An update handled by one worker and delivered again to another (Telegram retries on
    any connection) is dropped there: the check is the database's, not a worker's memory."""
    env = {"TELEGRAM_WEBHOOK_SECRET": SECRET}
    first = await System.start(tg, tmp_path / "tj.db", env=env, webhook_url=WEBHOOK)
    second = await System.start(tg, tmp_path / "tj.db", env=env, webhook_url=WEBHOOK)
    try:
        update = tg.push_message(RESIDENT, RESIDENT, "/start")
        headers = {SECRET_HEADER: SECRET}
        async with web_server(second) as http:  # started (and preloaded its ids) before
            async with web_server(first) as http_first:
                assert (await http_first.post("/hooks/telegram", json=update,
                                              headers=headers)).status_code == 200
                await first.settle()
            answered = len(first.texts(RESIDENT))
            assert answered >= 1
            again = await http.post("/hooks/telegram", json=update, headers=headers)
            await second.settle()
        assert again.status_code == 200 and len(second.texts(RESIDENT)) == answered
        assert second.channel.stats["duplicate_updates_durable"] == 1
        assert first.rows("SELECT count(*) AS n FROM inbox")[0]["n"] == 0
    finally:
        await first.shutdown()
        await second.shutdown()


def test_several_workers_need_one_webhook_secret(conversations) -> None:
    from bot.telegram.lifecycle import prepare_telegram

    env = {"TELEGRAM_BOT_TOKEN": "1:A"}
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        prepare_telegram(conversations, env, webhook_url=WEBHOOK, shared=True)
    one = prepare_telegram(conversations, env, webhook_url=WEBHOOK)  # alone: a random one
    shared = prepare_telegram(conversations, {**env, "TELEGRAM_WEBHOOK_SECRET": SECRET},
                              webhook_url=WEBHOOK, shared=True)
    assert one is not None and shared is not None and shared.webhook_route is not None
