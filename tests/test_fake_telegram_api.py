"""Self-tests of the fake Telegram Bot API: a bare python-telegram-bot echo bot, in polling
mode, talks to it over 127.0.0.1. No sleeps as assertions: every wait is on an event, and
timeouts only guard against hanging."""

from __future__ import annotations

import asyncio
import datetime as dtm
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakes import FakeTelegram, running_application
from tests.fakes.telegram_wire import WaitTimeout, parse_html

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

GUARD = 10.0  # seconds; only a guard against a hanging test


class Collector:
    """Things the bot reports (errors), awaitable without sleeping."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = asyncio.Event()

    def add(self, item: Any) -> None:
        self.items.append(item)
        self._changed.set()

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.add(context.error)

    async def wait(self, predicate: Callable[[list[Any]], bool], timeout: float = GUARD) -> None:
        async with asyncio.timeout(timeout):
            while not predicate(self.items):
                self._changed.clear()
                await self._changed.wait()

    def of_type(self, kind: type) -> list[Any]:
        return [e for e in self.items if isinstance(e, kind)]


def echo_app(tg: FakeTelegram, *, errors: Collector | None = None, builder=None) -> Application:
    app = (builder or tg.builder()).build()

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton("Ya", callback_data="n|ya")],
             [InlineKeyboardButton("Tidak", callback_data="n|tidak")]]
        )  # fmt: skip
        await update.message.reply_text("Halo! Mau lanjut?", reply_markup=keyboard)

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(update.effective_message.text)

    async def media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        kind = next(
            k
            for k in ("sticker", "photo", "voice", "document", "location", "contact")
            if getattr(message, k)
        )
        await message.reply_text(f"media:{kind}")

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer()
        await query.edit_message_text(f"Kamu memilih: {query.data.split('|')[1]}")

    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(MessageHandler(~filters.TEXT, media))
    app.add_handler(CallbackQueryHandler(pressed))
    if errors is not None:
        app.add_error_handler(errors.on_error)
    return app


def seconds(value: int | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


@pytest.fixture
async def tg():
    async with FakeTelegram() as fake:
        yield fake


# --------------------------------------------------------------------------- happy paths


async def test_echo_command_keyboard_and_press(tg: FakeTelegram) -> None:
    async with running_application(echo_app(tg)):
        pushed = tg.push_message(1001, 1001, "/start")
        call = await tg.wait_for("sendMessage", chat_id=1001, since=pushed)
        assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "n|ya"
        assert tg.buttons(call.result) == [[("Ya", "n|ya")], [("Tidak", "n|tidak")]]

        pushed = tg.press(1001, 1001, "Tidak")
        edit = await tg.wait_for("editMessageText", chat_id=1001, since=pushed)
        assert edit.params["message_id"] == call.result["message_id"]
        await tg.wait_for("answerCallbackQuery", since=pushed)

        pushed = tg.push_message(1001, 1001, "aku capek banget")
        await tg.wait_for("sendMessage", chat_id=1001, since=pushed, text="aku capek banget")

    assert tg.unanswered_callbacks() == []
    # The edit without reply_markup removed the keyboard, as on Telegram.
    assert tg.last_bot_message(1001, with_keyboard=True) is None
    assert tg.transcript(1001) == [
        "user: /start",
        "bot: Kamu memilih: tidak",
        "user: aku capek banget",
        "bot: aku capek banget",
    ]
    # User and bot share one message id sequence per chat.
    assert sorted(tg.messages[1001]) == [1, 2, 3, 4]


async def test_command_handler_needs_bot_command_entity(tg: FakeTelegram) -> None:
    async with running_application(echo_app(tg)):
        # Without the entity, "/start" is plain text: the echo handler answers it.
        pushed = tg.push_message(7, 7, "/start", entities=[])
        call = await tg.wait_for("sendMessage", chat_id=7, since=pushed)
        assert call.text == "/start"
        assert "reply_markup" not in call.params


async def test_media_messages_reach_the_bot(tg: FakeTelegram) -> None:
    async with running_application(echo_app(tg)) as app:
        pushers = {
            "sticker": tg.push_sticker,
            "photo": tg.push_photo,
            "voice": tg.push_voice,
            "document": tg.push_document,
            "location": tg.push_location,
            "contact": tg.push_contact,
        }
        for kind, push in pushers.items():
            pushed = push(2002, 2002)
            await tg.wait_for("sendMessage", chat_id=2002, since=pushed, text=f"media:{kind}")

        # Files can be fetched through base_file_url.
        file_id = tg.pushed_updates[1]["message"]["photo"][-1]["file_id"]
        telegram_file = await app.bot.get_file(file_id)
        data = await telegram_file.download_as_bytearray()
        assert len(data) == 40_000


async def test_group_message_and_edited_message(tg: FakeTelegram) -> None:
    seen: list[Update] = []

    async with running_application(echo_app(tg)) as app:
        app.add_handler(MessageHandler(filters.ALL, lambda u, c: _record(seen, u)), group=1)
        pushed = tg.push_group_message(-1001234567890, 42, "rapat kader jam 3", title="Kader RW 05")
        call = await tg.wait_for("sendMessage", chat_id=-1001234567890, since=pushed)
        assert call.result["chat"]["type"] == "supergroup"
        tg.push_message(42, 42, "typo")
        pushed = tg.push_edited_message(42, 42, 1, "bukan typo")
        await tg.wait_for("sendMessage", chat_id=42, since=pushed, text="bukan typo")

    assert seen[0].effective_chat.type == "supergroup"
    assert seen[0].effective_chat.title == "Kader RW 05"


async def _record(seen: list[Update], update: Update) -> None:
    seen.append(update)


async def test_offsets_advance_and_no_update_is_delivered_twice(tg: FakeTelegram) -> None:
    chats = range(5000, 5015)
    for i in range(150):  # queued before the bot starts: more than one getUpdates batch
        tg.push_message(chats[i % 15], chats[i % 15], f"pesan {i}")

    async with running_application(echo_app(tg)):
        for i in range(150, 250):
            tg.push_message(chats[i % 15], chats[i % 15], f"pesan {i}")
        await tg.wait_until(lambda: len(tg.calls_to("sendMessage")) >= 250, GUARD, what="250")
        await tg.wait_acked()

    assert tg.duplicate_deliveries() == {}
    assert set(tg.delivered) == {u["update_id"] for u in tg.pushed_updates}
    offsets = [c.params.get("offset", 0) for c in tg.calls_to("getUpdates")]
    assert offsets == sorted(offsets)
    for n, chat in enumerate(chats):  # per-chat order is kept
        assert tg.sent_texts(chat) == [f"pesan {i}" for i in range(n, 250, 15)]

    # A restarted bot does not see the old updates again: the updater confirmed them.
    async with running_application(echo_app(tg)):
        pushed = tg.push_message(9999, 9999, "setelah restart")
        await tg.wait_for("sendMessage", chat_id=9999, since=pushed)
    assert tg.duplicate_deliveries() == {}
    assert len(tg.calls_to("sendMessage")) == 251


# --------------------------------------------------------------------------- failures


async def test_429_retry_after_is_honoured_by_aio_rate_limiter(tg: FakeTelegram) -> None:
    errors = Collector()
    builder = tg.builder().rate_limiter(AIORateLimiter(max_retries=2))
    async with running_application(echo_app(tg, errors=errors, builder=builder)):
        tg.rate_limit_next("sendMessage", retry_after=1)
        pushed = tg.push_message(3003, 3003, "halo")
        await tg.wait_for(lambda c: c.method == "sendMessage" and c.ok, since=pushed)

    first, second = tg.calls_to("sendMessage", chat_id=3003)
    assert first.status == 429 and first.injected
    assert second.ok and second.text == "halo"
    assert second.at - first.at >= 1.0  # the limiter waited retry_after before retrying
    assert tg.sent_texts(3003) == ["halo"]
    assert errors.items == []


async def test_429_surfaces_as_retry_after_without_limiter(tg: FakeTelegram) -> None:
    errors = Collector()
    async with running_application(echo_app(tg, errors=errors)):
        tg.rate_limit_next("sendMessage", retry_after=7)
        tg.push_message(3004, 3004, "halo")
        await errors.wait(lambda items: items)
    (error,) = errors.items
    assert isinstance(error, RetryAfter)
    assert seconds(error.retry_after) == 7
    assert tg.sent_texts(3004) == []


async def test_403_when_user_blocked_the_bot(tg: FakeTelegram) -> None:
    errors = Collector()
    async with running_application(echo_app(tg, errors=errors)) as app:
        tg.push_message(4004, 4004, "halo")
        await tg.wait_for("sendMessage", chat_id=4004)
        tg.push_blocked_by_user(4004, 4004)
        with pytest.raises(Forbidden, match=r"(?i)blocked by the user"):
            await app.bot.send_message(4004, "masih di sana?")
        tg.push_message(4004, 4004, "pesan lama yang tertunda")
        await errors.wait(lambda items: items)
        tg.unblock_chat(4004)
        await app.bot.send_message(4004, "selamat datang kembali")
    assert isinstance(errors.items[0], Forbidden)
    assert tg.sent_texts(4004) == ["halo", "selamat datang kembali"]


async def test_500_and_400_injection(tg: FakeTelegram) -> None:
    async with running_application(echo_app(tg)) as app:
        tg.push_message(5005, 5005, "halo")
        await tg.wait_for("sendMessage", chat_id=5005)
        tg.fail_next("sendMessage", status=500)
        with pytest.raises(NetworkError, match=r"(?i)Internal Server Error"):
            await app.bot.send_message(5005, "satu")
        tg.fail_next("sendMessage", status=400, description="Bad Request: whatever", chat_id=5005)
        with pytest.raises(BadRequest, match=r"(?i)whatever"):
            await app.bot.send_message(5005, "dua")
        await app.bot.send_message(5005, "tiga")
    assert tg.sent_texts(5005) == ["halo", "tiga"]


async def test_hang_longer_than_client_timeout(tg: FakeTelegram) -> None:
    app = tg.builder().read_timeout(0.3).build()
    async with running_application(app):
        tg.push_message(6006, 6006, "halo")
        tg.hang_next("sendMessage", apply=True)
        with pytest.raises(TimedOut):
            await app.bot.send_message(6006, "terlambat")
        # Telegram may still deliver what the client gave up on.
        tg.release_hung()
        await tg.wait_for("sendMessage", chat_id=6006, text="terlambat")
        assert tg.sent_texts(6006) == ["terlambat"]


async def test_outage_connection_refused_and_recovery(tg: FakeTelegram) -> None:
    polling_errors = Collector()
    async with running_application(echo_app(tg), error_callback=polling_errors.add) as app:
        pushed = tg.push_message(7007, 7007, "sebelum")
        await tg.wait_for("sendMessage", chat_id=7007, since=pushed)

        await tg.go_down("refuse")
        with pytest.raises(NetworkError):
            await app.bot.send_message(7007, "saat down")
        await polling_errors.wait(lambda items: any(isinstance(e, NetworkError) for e in items))
        pushed = tg.push_message(7007, 7007, "selama gangguan")  # queued at "Telegram"

        await tg.come_back()
        await tg.wait_for("sendMessage", chat_id=7007, since=pushed, timeout=3 * GUARD)
    assert tg.sent_texts(7007) == ["sebelum", "selama gangguan"]
    assert tg.duplicate_deliveries() == {}


async def test_outage_502_and_recovery(tg: FakeTelegram) -> None:
    polling_errors = Collector()
    async with running_application(echo_app(tg), error_callback=polling_errors.add) as app:
        await tg.wait_for("getUpdates", pending=True)
        await tg.go_down("502")
        with pytest.raises(NetworkError, match=r"(?i)Bad Gateway"):
            await app.bot.send_message(7008, "saat down")
        await polling_errors.wait(lambda items: items)
        pushed = tg.push_message(7008, 7008, "selama gangguan")
        await tg.come_back()
        await tg.wait_for("sendMessage", chat_id=7008, since=pushed, timeout=3 * GUARD)
    assert tg.sent_texts(7008) == ["selama gangguan"]


async def test_second_poller_gets_conflict(tg: FakeTelegram) -> None:
    first_errors = Collector()
    async with running_application(echo_app(tg), error_callback=first_errors.add):
        await tg.wait_for("getUpdates", count=1, pending=True)
        async with running_application(echo_app(tg)):
            await first_errors.wait(lambda items: items)
    assert "Conflict" in str(first_errors.items[0])


async def test_wait_for_fails_when_the_bot_stays_silent(tg: FakeTelegram) -> None:
    app = tg.builder().build()  # no handlers at all
    async with running_application(app):
        tg.push_message(8008, 8008, "halo?")
        await tg.wait_acked()
        with pytest.raises(WaitTimeout, match="sendMessage"):
            await tg.wait_for("sendMessage", chat_id=8008, timeout=0.2)


# --------------------------------------------------------------------------- Bot API rules


async def test_realistic_bad_requests(tg: FakeTelegram) -> None:
    app = tg.builder().build()
    async with app:
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await app.bot.send_message(123, "siapa?")
        tg.push_message(9009, 9009, "halo")
        too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="é" * 33)]])
        with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
            await app.bot.send_message(9009, "pilih", reply_markup=too_long)
        with pytest.raises(BadRequest, match=r"(?i)too long"):
            await app.bot.send_message(9009, "a" * 4097)
        await app.bot.send_message(9009, "a" * 4096)
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await app.bot.send_message(9009, "skor < 5 <b>rendah", parse_mode="HTML")
        sent = await app.bot.send_message(9009, "skor &lt; 5 <b>rendah</b>", parse_mode="HTML")
        assert sent.text == "skor < 5 rendah"
        assert sent.entities[0].type == "bold" and sent.entities[0].offset == 9

        ok = InlineKeyboardMarkup([[InlineKeyboardButton("Ya", callback_data="n|ya")]])
        sent = await app.bot.send_message(9009, "pilih", reply_markup=ok)
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await sent.edit_text("pilih", reply_markup=ok)
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await app.bot.edit_message_text("x", chat_id=9009, message_id=999)
        with pytest.raises(BadRequest, match=r"(?i)can't be edited"):
            await app.bot.edit_message_text("x", chat_id=9009, message_id=1)
        assert await sent.delete()
        with pytest.raises(BadRequest, match=r"(?i)to delete not found"):
            await sent.delete()

        pushed = tg.push_callback(9009, 9009, "n|ya", message_id=sent.message_id)
        query_id = pushed["callback_query"]["id"]
        assert await app.bot.answer_callback_query(query_id, text="Oke")
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await app.bot.answer_callback_query(query_id)


async def test_commands_round_trip_and_chat_action(tg: FakeTelegram) -> None:
    app = tg.builder().build()
    commands = [
        BotCommand("start", "Mulai"),
        BotCommand("menu", "Menu utama"),
        BotCommand("bantuan", "Bantuan darurat"),
        BotCommand("hapus", "Hapus data saya"),
        BotCommand("stop", "Berhenti"),
    ]
    async with app:
        assert await app.bot.set_my_commands(commands, language_code="id")
        assert await app.bot.get_my_commands(language_code="id") == tuple(commands)
        assert await app.bot.get_my_commands() == ()
        with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
            await app.bot.set_my_commands([BotCommand("Bantuan", "x")])
        tg.push_message(1, 1, "halo")
        assert await app.bot.send_chat_action(1, "typing")
    call = tg.calls_to("setMyCommands")[0]
    assert call.params["commands"][2] == {"command": "bantuan", "description": "Bantuan darurat"}


async def test_form_json_and_query_bodies_are_decoded(tg: FakeTelegram) -> None:
    tg.push_message(11, 11, "halo")
    url = f"{tg.base_url}{tg.token}/sendMessage"
    markup = {"inline_keyboard": [[{"text": "Ya", "callback_data": "n|ya"}]]}
    async with httpx.AsyncClient(trust_env=False) as client:
        form = await client.post(
            url, data={"chat_id": "11", "text": "123", "reply_markup": _j(markup)}
        )
        body = await client.post(url, json={"chat_id": 11, "text": "true", "reply_markup": markup})
        query = await client.get(url, params={"chat_id": 11, "text": "null"})
        wrong = await client.post(f"{tg.base_url}1:bad/getMe")
    assert form.json()["ok"] and body.json()["ok"] and query.json()["ok"]
    assert wrong.status_code == 401
    texts = [c.params["text"] for c in tg.calls_to("sendMessage")]
    assert texts == ["123", "true", "null"]  # human text is never JSON-decoded
    assert tg.calls_to("sendMessage")[0].params["reply_markup"] == markup
    assert tg.calls_to("sendMessage")[0].chat_id == 11


def _j(value: Any) -> str:
    import json

    return json.dumps(value)


def test_parse_html_counts_utf16_offsets() -> None:
    text, entities = parse_html("🙂 <i>tenang</i> &amp; <a href='https://x.id'>link</a>")
    assert text == "🙂 tenang & link"
    assert entities == [
        {"type": "italic", "offset": 3, "length": 6},
        {"type": "text_link", "offset": 12, "length": 4, "url": "https://x.id"},
    ]
