"""The resident side of Telegram: updates → `Conversations.handle` → messages back.

* Private chats only; groups (cadre groups) are left to other handlers.
* Text (commands included: the engine reads /start, /menu, /bantuan, /hapus, /stop and
  `/start <deep link>` itself) → Inbound(text). Stickers, photos, voice... →
  Inbound(media=kind); a caption is passed as text so crisis detection sees it.
* A button press → Inbound(choice, node) from callback_data "<node>|<choice id>". The
  callback query is always answered. After the turn, the pressed message shows the chosen
  answer and loses its keyboard; a press on an old message gets a short toast, the old
  keyboard is removed, and the engine's own "that button is from an earlier message"
  reply follows.
* One chat is handled strictly in order (a lock spans handling *and* sending, so two
  turns' bubbles never interleave even with concurrent updates).
* Sending: a network error before Telegram answered is retried with back-off; a timeout
  is not (the message may have arrived: no duplicates); 429 waits `retry_after`; a
  refused format falls back to plain text; 403 (resident blocked the bot) ends the turn.
* Nothing a resident wrote, and no Telegram user id, is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import logging
import warnings
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning

from bot.service import FALLBACK_ERROR, Conversations, Turn
from flows.messages import Choice, Inbound

from .parse import inbound_from_message
from .render import (
    CallbackCodec,
    OutMessage,
    button_label,
    chosen_text,
    numbered_menu,
    render_reply,
)

log = logging.getLogger(__name__)

CHANNEL = "telegram"

#: Shown in the chat's "/" menu (private chats). The engine understands each as text.
COMMANDS = (
    ("start", "Mulai atau mulai ulang percakapan"),
    ("menu", "Menu utama"),
    ("bantuan", "Nomor layanan darurat dan bantuan"),
    ("hapus", "Hapus semua data saya"),
    ("stop", "Berhenti sementara"),
)

STALE_TOAST = "Tombol itu dari pesan sebelumnya."
TurnHook = Callable[[Turn], Awaitable[None]]


class _ChatLocks:
    """One asyncio.Lock per chat, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[int, list[Any]] = {}  # chat -> [lock, users]

    async def acquire(self, chat_id: int) -> asyncio.Lock:
        entry = self._locks.setdefault(chat_id, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            await entry[0].acquire()
        except BaseException:
            self._drop(chat_id)
            raise
        return entry[0]

    def release(self, chat_id: int) -> None:
        self._locks[chat_id][0].release()
        self._drop(chat_id)

    def _drop(self, chat_id: int) -> None:
        entry = self._locks[chat_id]
        entry[1] -= 1
        if entry[1] <= 0:
            del self._locks[chat_id]


class _Blocked(Exception):
    """The resident blocked the bot (403): stop sending this turn."""


class TelegramChannel:
    """Handlers for residents' private chats; `register(app)` adds them."""

    def __init__(
        self,
        conversations: Conversations,
        *,
        codec: CallbackCodec | None = None,
        send_attempts: int = 4,
        retry_base_delay: float = 0.5,
        on_turn: TurnHook | None = None,
        dedupe_capacity: int = 20_000,
    ) -> None:
        self.conversations = conversations
        self.codec = codec or CallbackCodec()
        self.send_attempts = send_attempts
        self.retry_base_delay = retry_base_delay
        self.on_turn = on_turn  # e.g. the cadre-alert wiring reading turn.events
        self.stats: Counter[str] = Counter()
        self._locks = _ChatLocks()
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._dedupe_capacity = dedupe_capacity

    # ------------------------------------------------------------------ wiring

    def register(self, app: Application, group: int = 0) -> None:
        private = filters.ChatType.PRIVATE
        app.add_handler(
            MessageHandler(private & filters.UpdateType.MESSAGE, self.on_message), group
        )
        app.add_handler(
            MessageHandler(private & filters.UpdateType.EDITED_MESSAGE, self.on_edited), group
        )
        app.add_handler(CallbackQueryHandler(self.on_callback), group)
        app.add_handler(
            ChatMemberHandler(self.on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER), group
        )
        app.add_error_handler(self.on_error)

    @staticmethod
    async def set_commands(bot: Any) -> bool:
        """Publish the Indonesian command menu for private chats; never fatal."""
        commands = [BotCommand(name, text) for name, text in COMMANDS]
        try:
            return await bot.set_my_commands(commands, scope=BotCommandScopeAllPrivateChats())
        except TelegramError as exc:
            log.warning("could not set the command menu: %s", type(exc).__name__)
            return False

    # ------------------------------------------------------------------ handlers

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.message, update.effective_user
        if message is None or user is None or self._duplicate(update.update_id):
            return
        inbound = inbound_from_message(message)
        self.stats["text" if inbound.text is not None else "media"] += 1
        chat_id = message.chat_id
        await self._locks.acquire(chat_id)
        try:
            turn = await self._handle(user.id, inbound)
            await self._send_turn(context.bot, chat_id, turn)
        finally:
            self._locks.release(chat_id)

    async def on_edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Re-running an edited answer would move the conversation twice; it is counted only.
        self.stats["edited_ignored"] += 1

    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query, user = update.callback_query, update.effective_user
        if query is None or user is None:
            return
        answered = False
        try:
            message = query.message
            private = message is not None and message.chat.type == ChatType.PRIVATE
            if self._duplicate(update.update_id) or not private or query.data is None:
                return
            self.stats["press"] += 1
            node, choice = self.codec.decode(query.data)
            inbound = Inbound(choice=choice or "", node=node)
            chat_id = message.chat.id
            await self._locks.acquire(chat_id)
            try:
                turn = await self._handle(user.id, inbound)
                stale = self._is_stale(turn)
                if stale:
                    self.stats["press_stale"] += 1
                answered = await self._answer(query, STALE_TOAST if stale else None)
                if isinstance(message, Message):
                    await self._mark_pressed(message, query.data, stale)
                await self._send_turn(context.bot, chat_id, turn)
            finally:
                self._locks.release(chat_id)
        finally:
            if not answered:
                await self._answer(query, None)

    async def on_my_chat_member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        if change is None or change.chat.type != ChatType.PRIVATE:
            return
        status = change.new_chat_member.status
        if status in ("kicked", "left"):
            self.stats["blocked_by_resident"] += 1
            log.info("a resident blocked the bot")
        elif status == "member":
            self.stats["unblocked_by_resident"] += 1

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        self.stats["errors"] += 1
        log.error(
            "telegram handler failed: %s", type(error).__name__, exc_info=_safe_exc_info(error)
        )
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        if update.effective_chat.type != ChatType.PRIVATE or isinstance(error, Forbidden):
            return
        with contextlib.suppress(TelegramError):
            await context.bot.send_message(update.effective_chat.id, FALLBACK_ERROR)

    # ------------------------------------------------------------------ turn

    async def _handle(self, user_id: int, inbound: Inbound) -> Turn:
        turn = await self.conversations.handle(CHANNEL, str(user_id), inbound)
        if self.on_turn is not None:
            try:
                await self.on_turn(turn)
            except Exception:
                log.exception("on_turn hook failed")
        return turn

    def _is_stale(self, turn: Turn) -> bool:
        """Did the engine take the press as one on an old message?"""
        if any(e.name in ("stale_button", "stale_choice") for e in turn.events):
            return True
        try:
            template = self.conversations.engine.content.system.texts.get("stale_button")
        except AttributeError:
            return False
        stale_text = getattr(template, "source", None)
        return bool(
            stale_text and turn.replies and turn.replies[0].text.strip() == stale_text.strip()
        )

    def _duplicate(self, update_id: int) -> bool:
        """Telegram delivers at least once; a repeated update_id is dropped."""
        if update_id in self._seen:
            self.stats["duplicate_updates"] += 1
            return True
        self._seen[update_id] = None
        if len(self._seen) > self._dedupe_capacity:
            self._seen.popitem(last=False)
        return False

    async def _answer(self, query: Any, text: str | None) -> bool:
        try:
            await query.answer(text=text)
        except TelegramError as exc:  # too old, already answered, network: nothing to do
            log.info("could not answer a button press: %s", type(exc).__name__)
            return False
        return True

    async def _mark_pressed(self, message: Message, data: str, stale: bool) -> None:
        markup = message.reply_markup.to_dict() if message.reply_markup else None
        if markup is None:
            return
        label = button_label(markup, data)
        try:
            if stale or label is None or message.text is None:
                await message.edit_reply_markup(reply_markup=None)
                return
            entities = [e.to_dict() for e in message.entities or ()]
            text, new_entities = chosen_text(message.text, entities, label)
            await message.edit_text(
                text, entities=[MessageEntity.de_json(e, None) for e in new_entities]
            )
        except BadRequest as exc:  # not modified (double press), too old to edit...
            log.info("could not mark the pressed message: %s", exc.message[:80])
        except Forbidden:
            pass
        except NetworkError as exc:
            log.warning("could not mark the pressed message: %s", type(exc).__name__)

    async def _send_turn(self, bot: Any, chat_id: int, turn: Turn) -> None:
        try:
            for reply in turn.replies:
                for out in render_reply(reply, self.codec):
                    await self._send(bot, chat_id, out)
        except _Blocked:
            self.stats["blocked_on_send"] += 1
            log.info("a resident has blocked the bot; the rest of the turn was not sent")

    async def _send(self, bot: Any, chat_id: int, out: OutMessage) -> Message | None:
        plain = False
        delay = self.retry_base_delay
        for attempt in range(1, self.send_attempts + 1):
            try:
                if plain:
                    return await bot.send_message(chat_id, _plain_fallback(out))
                return await bot.send_message(
                    chat_id,
                    out.text,
                    entities=[
                        MessageEntity(e["type"], e["offset"], e["length"]) for e in out.entities
                    ]
                    or None,
                    reply_markup=_markup(out),
                )
            except Forbidden as exc:
                raise _Blocked from exc
            except RetryAfter as exc:
                seconds = _retry_after_seconds(exc)
                self.stats["send_retry_after"] += 1
                if attempt == self.send_attempts:
                    break
                await asyncio.sleep(float(seconds) + 0.1)
            except TimedOut:
                # The message may well have arrived: resending could duplicate it.
                self.stats["send_timed_out"] += 1
                log.warning("sending timed out; not resent to avoid a duplicate")
                return None
            except BadRequest as exc:
                if plain:
                    break
                log.warning("Telegram refused a message (%s); sending plain text", exc.message)
                self.stats["send_plain_fallback"] += 1
                plain = True
            except NetworkError as exc:
                self.stats["send_network_retry"] += 1
                if attempt == self.send_attempts:
                    break
                log.info("network error while sending (%s); retrying", type(exc).__name__)
                await asyncio.sleep(delay)
                delay *= 2
        self.stats["send_failed"] += 1
        log.error("a message could not be sent after %d attempt(s)", self.send_attempts)
        return None


def _retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the type will become timedelta
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, dtm.timedelta) else float(wait)


def _markup(out: OutMessage) -> InlineKeyboardMarkup | None:
    if not out.keyboard:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row]
         for row in out.keyboard]
    )  # fmt: skip


def _plain_fallback(out: OutMessage) -> str:
    if not out.keyboard:
        return out.text
    labels = [Choice(str(i), label) for i, (label, _) in enumerate(_flat(out.keyboard), 1)]
    return f"{out.text}\n\n{numbered_menu(labels)}"[:4096]


def _flat(keyboard: Any) -> list[tuple[str, str]]:
    return [button for row in keyboard for button in row]


def _safe_exc_info(error: object) -> Any:
    # Tracebacks of our own code help; Telegram errors carry request details only.
    return None if isinstance(error, TelegramError) else error


def build_application(
    conversations: Conversations,
    *,
    token: str,
    base_url: str | None = None,
    base_file_url: str | None = None,
    builder: ApplicationBuilder | None = None,
    rate_limiter: Any = "default",
    concurrent_updates: int = 1,
    channel: TelegramChannel | None = None,
) -> Application:
    """A python-telegram-bot `Application` serving residents through `conversations`.

    `rate_limiter`: "default" = `AIORateLimiter(max_retries=3)` (Telegram's 30 messages/s
    and 429 waits); None disables it (benchmarks). `base_url`/`base_file_url` point the bot
    at another Bot API server (tests: the fake in tests/fakes). The command menu is set in
    `post_init` (run_polling/run_webhook) or by `start_polling` below.
    """
    if builder is None:
        builder = ApplicationBuilder().token(token)
        if base_url:
            builder = builder.base_url(base_url)
        if base_file_url:
            builder = builder.base_file_url(base_file_url)
        builder = builder.concurrent_updates(
            concurrent_updates if concurrent_updates > 1 else False
        )
    if rate_limiter == "default":
        rate_limiter = AIORateLimiter(max_retries=3)
    if rate_limiter is not None:
        builder = builder.rate_limiter(rate_limiter)
    channel = channel or TelegramChannel(conversations)

    async def post_init(app: Application) -> None:
        await channel.set_commands(app.bot)

    app = builder.post_init(post_init).build()
    channel.register(app)
    app.bot_data["telegram_channel"] = channel
    return app


async def start_polling(app: Application, *, poll_timeout: int = 30) -> None:
    """Start an initialized-or-not app in polling mode inside a running loop (for running
    next to other channels); stop with `stop_polling(app)`."""
    await app.initialize()
    channel = app.bot_data.get("telegram_channel")
    if channel is not None:
        await channel.set_commands(app.bot)
    await app.updater.start_polling(timeout=poll_timeout)
    await app.start()


async def stop_polling(app: Application) -> None:
    if app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    await app.shutdown()
