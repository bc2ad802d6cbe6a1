"""The resident side of Telegram end to end: the real python-telegram-bot Application,
the real engine and SQLite store, and the fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest
from telegram import Update

from bot.app import build_runtime
from bot.config import Config
from bot.conversations import FALLBACK_ERROR, Turn
from bot.telegram import COMMANDS, TelegramChannel, build_application
from tests.conftest import FIXTURE_CONTENT, REAL_CONTENT
from tests.fakes import FakeTelegram, running_application
from tests.support.escalation import system_text

# PTB itself warns when it builds a RetryAfter (the attribute becomes a timedelta in v23).
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

STALE_TOAST = system_text("stale_button_toast", FIXTURE_CONTENT)
SLOW_DOWN = system_text("slow_down", FIXTURE_CONTENT)
EDITED_NOTE = system_text("edited_not_reread", FIXTURE_CONTENT)
GUARD = 10.0
ALICE = 700001


@pytest.fixture
async def tg():
    async with FakeTelegram() as fake:
        yield fake


def make_app(tg: FakeTelegram, conversations, **kw):
    channel = kw.pop("channel", None) or TelegramChannel(conversations, retry_base_delay=0.05)
    app = build_application(
        conversations,
        token=tg.token,
        base_url=tg.base_url,
        base_file_url=tg.base_file_url,
        rate_limiter=kw.pop("rate_limiter", None),
        channel=channel,
        **kw,
    )
    return app, channel


async def settle(tg: FakeTelegram, app) -> None:
    """Every pushed update fetched and fully handled (no sleeping)."""
    await tg.wait_acked(timeout=GUARD)
    await asyncio.wait_for(app.update_queue.join(), GUARD)


async def test_start_consent_press_marks_the_answer(tg: FakeTelegram, conversations) -> None:
    app, channel = make_app(tg, conversations)
    async with running_application(app):
        tg.push_message(ALICE, ALICE, "/start quiz")
        await settle(tg, app)
        ask = tg.last_bot_message(ALICE, with_keyboard=True)
        assert tg.buttons(ask) == [
            [("Setuju", "consent.ask|setuju"), ("Tidak setuju", "consent.ask|tolak")]
        ]

        pushed = tg.press(ALICE, ALICE, "Setuju")
        await settle(tg, app)

    (answered,) = tg.calls_to("answerCallbackQuery")
    assert answered.params["callback_query_id"] == pushed["callback_query"]["id"]
    assert "text" not in answered.params  # no toast for a normal press
    assert tg.unanswered_callbacks() == []
    edited = tg.messages[ALICE][ask["message_id"]]
    assert edited["text"].endswith("\n\n➤ Setuju")
    assert "reply_markup" not in edited  # keyboard replaced by the chosen answer
    following = tg.last_bot_message(ALICE, with_keyboard=True)
    assert following["message_id"] > ask["message_id"]
    assert channel.stats["press"] == 1 and channel.stats["send_failed"] == 0


async def test_press_on_old_message_is_answered_politely(tg: FakeTelegram, conversations) -> None:
    app, channel = make_app(tg, conversations)
    async with running_application(app):
        tg.push_message(ALICE, ALICE, "/start quiz")
        await settle(tg, app)
        ask = tg.last_bot_message(ALICE, with_keyboard=True)
        tg.press(ALICE, ALICE, "Setuju")
        await settle(tg, app)
        current = tg.last_bot_message(ALICE, with_keyboard=True)
        # A second press on the first question (a slow client still showing it).
        pushed = tg.push_callback(ALICE, ALICE, "consent.ask|tolak", message_id=ask["message_id"])
        mark = tg.mark()
        await settle(tg, app)

    answer = tg.calls_to("answerCallbackQuery")[-1]
    assert answer.params["callback_query_id"] == pushed["callback_query"]["id"]
    assert answer.params["text"] == STALE_TOAST
    texts = [c.text for c in tg.calls[mark:] if c.method == "sendMessage"]
    # One turn, one message: the engine's note and the current question joined.
    assert texts[0].startswith("Tombol itu dari pesan lama.\n\n")
    # The current question is asked again, with its keyboard.
    assert tg.buttons(tg.last_bot_message(ALICE, with_keyboard=True)) == tg.buttons(current)
    assert channel.stats["press_stale"] == 1


async def test_media_gets_a_kind_reply_and_caption_is_read(tg: FakeTelegram, conversations) -> None:
    app, _ = make_app(tg, conversations)
    async with running_application(app):
        tg.push_message(ALICE, ALICE, "/start quiz")
        await settle(tg, app)
        for push in (tg.push_sticker, tg.push_voice, tg.push_location, tg.push_document):
            mark = tg.mark()
            push(ALICE, ALICE)
            await settle(tg, app)
            sent = [c.text for c in tg.calls[mark:] if c.method == "sendMessage"]
            assert sent[0].startswith("Saya hanya bisa membaca teks.")
        mark = tg.mark()
        tg.push_photo(ALICE, ALICE, caption="bantuan")
        await settle(tg, app)
        sent = [c.text for c in tg.calls[mark:] if c.method == "sendMessage"]
        assert sent and not sent[0].startswith("Saya hanya")  # the caption was read


async def test_groups_ignored_and_commands_published(tg: FakeTelegram, conversations) -> None:
    app, _ = make_app(tg, conversations)
    from bot.telegram import start_polling, stop_polling

    await start_polling(app, poll_timeout=5)
    try:
        tg.push_group_message(-1009876543210, ALICE, "/start")
        await settle(tg, app)
    finally:
        await stop_polling(app)
    assert tg.calls_to("sendMessage") == []
    (call,) = tg.calls_to("setMyCommands")
    assert call.params["scope"] == {"type": "all_private_chats"}
    assert [c["command"] for c in call.params["commands"]] == [c for c, _ in COMMANDS]
    assert [c["command"] for c in call.params["commands"]] == [
        "start", "menu", "bantuan", "hapus", "stop"
    ]  # fmt: skip


async def test_turns_of_one_chat_never_interleave(tg: FakeTelegram, conversations) -> None:
    turns: list[Turn] = []

    async def record(turn: Turn) -> None:
        turns.append(turn)

    channel = TelegramChannel(conversations, on_turn=record)
    app, _ = make_app(tg, conversations, channel=channel, concurrent_updates=16)
    async with running_application(app):
        # The first answer is slow to send: the next turns must wait, not overtake it.
        tg.hang_next("sendMessage", seconds=0.2, apply=True)
        for text in ("/start quiz", "halo", "menu", "bantuan", "apa ini", "menu"):
            tg.push_message(ALICE, ALICE, text)
        await settle(tg, app)
    # A turn's bubbles are joined into one message (they fit in 4,096 characters).
    expected = ["\n\n".join(r.text for r in t.replies) for t in turns]
    sent = [c.text for c in tg.calls_to("sendMessage", chat_id=ALICE)]
    assert len(turns) == 6
    assert [s.replace("*", "") for s in expected] == sent


async def test_blocked_resident_stops_the_turn(tg: FakeTelegram, conversations) -> None:
    app, channel = make_app(tg, conversations)
    async with running_application(app):
        tg.push_message(ALICE, ALICE, "/start quiz")
        await settle(tg, app)
        tg.push_blocked_by_user(ALICE, ALICE)
        mark = tg.mark()
        tg.push_message(ALICE, ALICE, "menu")
        await settle(tg, app)
    attempts = [c for c in tg.calls[mark:] if c.method == "sendMessage"]
    assert len(attempts) == 1 and attempts[0].status == 403
    assert channel.stats["blocked_on_send"] == 1
    assert channel.stats["blocked_by_resident"] == 1


async def test_network_errors_are_retried_timeouts_are_not(tg: FakeTelegram, conversations) -> None:
    app, channel = make_app(tg, conversations)
    async with running_application(app):
        tg.fail_next("sendMessage", status=502, times=2)
        tg.push_message(ALICE, ALICE, "menu")
        await settle(tg, app)
        statuses = [c.status for c in tg.calls_to("sendMessage")]
        assert statuses[:3] == [502, 502, 200]
        assert channel.stats["send_network_retry"] == 2

        tg.rate_limit_next("sendMessage", retry_after=1)
        mark = tg.mark()
        tg.push_message(ALICE, ALICE, "menu")
        await settle(tg, app)
        first, second = [c for c in tg.calls[mark:] if c.method == "sendMessage"][:2]
        assert first.status == 429 and second.ok and second.at - first.at >= 1.0
    assert channel.stats["send_failed"] == 0


async def test_timed_out_send_is_not_duplicated(tg: FakeTelegram, conversations) -> None:
    builder = tg.builder().read_timeout(0.3)
    app, channel = make_app(tg, conversations, builder=builder)
    async with running_application(app):
        tg.hang_next("sendMessage", apply=True)
        tg.push_message(ALICE, ALICE, "menu")
        await settle(tg, app)
        tg.release_hung()
        await tg.wait_for("sendMessage", chat_id=ALICE)
    assert channel.stats["send_timed_out"] == 1
    first_text = tg.calls_to("sendMessage")[0].text
    assert [c.text for c in tg.calls_to("sendMessage")].count(first_text) == 1


async def test_duplicate_update_is_handled_once(tg: FakeTelegram, conversations) -> None:
    app, channel = make_app(tg, conversations)
    raw = tg.push_message(ALICE, ALICE, "/start quiz")
    async with app:
        update = Update.de_json(raw, app.bot)
        await app.process_update(update)
        await app.process_update(update)
    assert channel.stats["duplicate_updates"] == 1
    assert len(tg.calls_to("sendMessage")) == len({c.seq for c in tg.calls_to("sendMessage")})
    assert tg.sent_texts(ALICE).count(tg.sent_texts(ALICE)[0]) == 1


async def test_handler_failure_sends_the_fallback(tg: FakeTelegram, conversations) -> None:
    async def broken(*args, **kwargs):
        raise RuntimeError("database is locked")

    conversations.handle = broken
    app, channel = make_app(tg, conversations)
    async with running_application(app):
        tg.push_message(ALICE, ALICE, "halo")
        await tg.wait_for("sendMessage", chat_id=ALICE, timeout=GUARD)
    assert tg.sent_texts(ALICE) == [FALLBACK_ERROR]
    assert channel.stats["errors"] == 1


async def test_real_content_start_fits_telegram(tg: FakeTelegram, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TEMANJIWA_SECRET", "telegram-test")
    runtime = await build_runtime(Config(), content_dir=REAL_CONTENT, db_path=tmp_path / "t.db")
    try:
        app, channel = make_app(tg, runtime.conversations)
        async with running_application(app):
            tg.push_message(ALICE, ALICE, "/start")
            await settle(tg, app)
            tg.press(ALICE, ALICE, "Setuju")
            await settle(tg, app)
    finally:
        await runtime.close()
    sends = tg.calls_to("sendMessage")
    assert sends and all(c.ok for c in sends), [c.short() for c in sends if not c.ok]
    assert "*" not in sends[0].text and sends[0].params.get("entities")  # *Teman Jiwa* → bold
    for call in sends:
        for row in (call.params.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                assert len(button["callback_data"].encode()) <= 64
    assert channel.stats["send_plain_fallback"] == 0


async def test_press_with_unknown_token_counts_as_old(tg: FakeTelegram, conversations) -> None:
    app, channel = make_app(tg, conversations)
    async with running_application(app):
        tg.push_message(ALICE, ALICE, "/start quiz")
        await settle(tg, app)
        # A token from before a restart: the process no longer knows what it meant.
        tg.push_callback(ALICE, ALICE, "~0123456789abcdef01234567")
        await settle(tg, app)
    assert tg.calls_to("answerCallbackQuery")[-1].params["text"] == STALE_TOAST
    assert channel.stats["press_stale"] == 1


async def test_a_flood_gets_one_polite_reply_and_crisis_words_still_go_through(
    tg: FakeTelegram, conversations
) -> None:
    turns: list[Turn] = []

    async def record(turn: Turn) -> None:
        turns.append(turn)

    channel = TelegramChannel(conversations, on_turn=record, flood_limit=3, flood_window=60)
    app, _ = make_app(tg, conversations, channel=channel)
    async with running_application(app):
        for text in ("halo", "halo", "halo", "halo", "halo", "aku mau mati", "halo"):
            tg.push_message(ALICE, ALICE, text)
        await settle(tg, app)
    assert len(turns) == 4  # three within the limit, then the crisis message
    assert any(e.name == "crisis_detected" for e in turns[-1].events)
    assert tg.sent_texts(ALICE).count(SLOW_DOWN.replace("*", "")) == 1
    assert channel.stats["flood_dropped"] == 3 and channel.stats["flood_crisis_passed"] == 1


async def test_edits_are_crisis_checked_and_otherwise_noted_once(
    tg: FakeTelegram, conversations
) -> None:
    turns: list[Turn] = []

    async def record(turn: Turn) -> None:
        turns.append(turn)

    channel = TelegramChannel(conversations, on_turn=record)
    app, _ = make_app(tg, conversations, channel=channel)
    async with running_application(app):
        pushed = tg.push_message(ALICE, ALICE, "/start quiz")
        await settle(tg, app)
        message_id = pushed["message"]["message_id"]
        mark = tg.mark()
        tg.push_edited_message(ALICE, ALICE, message_id, "/start lagi")
        tg.push_edited_message(ALICE, ALICE, message_id, "/start lagi dong")
        await settle(tg, app)
        assert [c.text for c in tg.calls[mark:] if c.method == "sendMessage"] == [EDITED_NOTE]
        assert len(turns) == 1  # an edited answer does not move the conversation
        tg.push_edited_message(ALICE, ALICE, message_id, "sebenarnya aku mau mati")
        await settle(tg, app)
    assert len(turns) == 2 and any(e.name == "crisis_detected" for e in turns[-1].events)
    assert channel.stats["edited_ignored"] == 2 and channel.stats["edited_crisis"] == 1


async def test_a_message_of_4096_characters_is_answered(tg: FakeTelegram, conversations) -> None:
    app, channel = make_app(tg, conversations)
    async with running_application(app):
        tg.push_message(ALICE, ALICE, ("aku capek sekali " * 300)[:4096])
        await settle(tg, app)
    sends = tg.calls_to("sendMessage", chat_id=ALICE)
    assert sends and all(c.ok for c in sends)
    assert channel.stats["send_failed"] == 0 and channel.stats["errors"] == 0
