"""The Telegram channel: every update takes one ordered, de-duplicated path to the engine
(residents) or to bot/telegram/cadre_chat.py (cadres).

* One entry point (`TelegramChannel.on_update`, a `TypeHandler`). The update's chat is
  locked before anything else is awaited, so with `concurrent_updates(n)` one chat is still
  handled strictly in arrival order (the turn *and* its sending; two turns' messages never
  interleave) while different chats run in parallel.
* Duplicates: Telegram delivers at least once (a restart before the offset was confirmed,
  a webhook retry). Polling (one process): every update_id is checked in memory and
  against the ids the database recorded in the last 48 hours (loaded once); a repeat is
  dropped. The id is recorded *inside the resident's turn transaction*
  (`Conversations.handle(..., delivery_id=)`), so "answered" and "recorded" commit
  together: a crash can neither lose the update nor answer it twice, and it costs one
  INSERT instead of a transaction. Updates without a turn (cadre actions, notices) are
  recorded on their own. Webhook mode with the durable inbox (bot/telegram/lifecycle.py):
  every update is de-duplicated in the database when it arrives, before its 200, and
  reaches `handle_inboxed` with `checked=True` — neither the memory nor the 48-hour preload
  is consulted, so one worker can never take for new what another worker handled.
* Private chats are residents unless bot/telegram/cadre_chat.py claims the update (case
  buttons, /daftar, case commands, a reply to a note prompt, a cadre's relay text). Group
  chats only ever reach the cadre handlers (or nothing, without a cadre desk).
* Text (commands included: the engine reads /start, /menu, /bantuan, /hapus, /stop and
  `/start <deep link>` itself) → Inbound(text). Stickers, photos, voice... →
  Inbound(media=kind); a caption is passed as text so crisis detection sees it.
* A button press → Inbound(choice, node) from callback_data "<node>|<choice id>". The
  callback query is always answered. After the turn, the pressed message shows the chosen
  answer and loses its keyboard; a press on an old message gets a short toast, the old
  keyboard is removed, and the engine's own "that button is from an earlier message"
  reply follows.
* Flooding: more than `flood_limit` messages within `flood_window` seconds from one chat
  (by Telegram's message dates, so a backlog after an outage is not a flood) gets one
  friendly "pelan-pelan ya" and the excess is dropped, but every dropped message is
  crisis-checked first and one with crisis signs goes through as usual.
* Edited messages: crisis-checked; with crisis signs the edited text is handled like a
  new message, otherwise a short note (at most once per chat per 10 minutes) says edits are
  not re-read.
* Sending: a turn's bubbles are joined into as few messages as fit (render.render_turn).
  A network error before Telegram answered is retried with back-off; a timeout is not (the
  message may have arrived: no duplicates); 429 waits `retry_after`; a refused format
  falls back to plain text; 403 (resident blocked the bot) ends the turn and marks the
  resident unreachable (an open case says so to its cadre, see cadre_chat.py).
* `Outbound` messages (relay, notices to cadres) for Telegram are sent here; others go to
  `forward` (e.g. the WhatsApp channel's `deliver_outbound`).
* Nothing a resident wrote, and no Telegram user id, is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import logging
from collections import Counter, OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from telegram import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
    User,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ContextTypes,
    TypeHandler,
)

from bot.cases.desk import CadreDesk
from bot.conversations import FALLBACK_ERROR, Conversations, Outbound, Turn
from flows.messages import Choice, Inbound, Reply
from flows.runtime import CRISIS_SCAN_LIMIT

from .cadre_chat import NotePrompts, TelegramCadres
from .calls import CHANNEL, answer_query, retry_after_seconds
from .parse import inbound_from_message, malformed
from .polling import TolerantUpdatesRequest
from .rate_limits import CRISIS, TelegramLimits
from .render import (
    CallbackCodec,
    OutMessage,
    button_label,
    chosen_text,
    numbered_menu,
    render_turn,
)

log = logging.getLogger(__name__)

#: Shown in the chat's "/" menu (private chats). The engine understands each as text.
COMMANDS = (
    ("start", "Mulai atau mulai ulang percakapan"),
    ("menu", "Menu utama"),
    ("bantuan", "Nomor layanan darurat dan bantuan"),
    ("hapus", "Hapus semua data saya"),
    ("stop", "Berhenti sementara"),
)

# What residents read (the flood notice, the edit note, the stale-button toast) is in
# content/id/system.yaml: texts slow_down, edited_not_reread, stale_button_toast.
EDITED_NOTE_EVERY = 600.0  # seconds: the note about edits, at most once per chat this often
FLOOD_LIMIT = 8  # messages ...
FLOOD_WINDOW = 10.0  # ... within this many seconds from one chat
RECENT_IDS = dtm.timedelta(hours=48)  # recorded update ids loaded at start (Telegram: 24 h)
RESEND_WITHIN = dtm.timedelta(hours=24)  # replies a crash left unsent are resent this long
TurnCallback = Callable[[Turn], Awaitable[None]]  # sees every resident turn (tests, metrics)
Forwarder = Callable[[Outbound], Awaitable[Any]]
SendStatus = Literal["sent", "blocked", "failed"]


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


class FloodGuard:
    """More than `limit` messages from one chat within `window` seconds is a flood.

    Times are the messages' own dates (seconds). Memory: one short deque per chat that
    wrote recently; pruned when many chats are tracked."""

    MAX_CHATS = 50_000

    def __init__(self, limit: int = FLOOD_LIMIT, window: float = FLOOD_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._times: dict[int, deque[float]] = {}
        self._warned: dict[int, float] = {}

    def hit(self, chat_id: int, at: float) -> bool:
        """Count a message sent at `at`; True if it is over the limit."""
        if self.limit <= 0:
            return False
        times = self._times.get(chat_id)
        if times is None:
            if len(self._times) >= self.MAX_CHATS:
                self._prune(at)
            times = self._times[chat_id] = deque()
        while times and times[0] <= at - self.window:
            times.popleft()
        times.append(at)
        return len(times) > self.limit

    def should_warn(self, chat_id: int, at: float) -> bool:
        """True at most once per window per chat (the one friendly reply)."""
        last = self._warned.get(chat_id)
        if last is not None and at - last < self.window:
            return False
        self._warned[chat_id] = at
        return True

    def _prune(self, at: float) -> None:
        horizon = at - self.window
        self._times = {c: t for c, t in self._times.items() if t and t[-1] > horizon}
        self._warned = {c: w for c, w in self._warned.items() if w > horizon}


class _Blocked(Exception):
    """The recipient blocked the bot (403): stop sending to them."""


def _seconds(moment: dtm.datetime | None) -> float:
    return moment.timestamp() if moment is not None else 0.0


class TelegramChannel:
    """The bot's Telegram side; `register(app)` adds its one handler and error handler.

    With a `desk`, cadre updates go to bot/telegram/cadre_chat.py's `TelegramCadres`, which
    also hears about residents who blocked the bot. `forward` delivers `Outbound` messages
    meant for another channel (bot/app.py gives the `OutboundRouter`'s)."""

    def __init__(
        self,
        conversations: Conversations,
        *,
        desk: CadreDesk | None = None,
        codec: CallbackCodec | None = None,
        send_attempts: int = 4,
        retry_base_delay: float = 0.5,
        on_turn: TurnCallback | None = None,
        dedupe_capacity: int = 100_000,
        durable_dedupe: bool = True,
        flood_limit: int = FLOOD_LIMIT,
        flood_window: float = FLOOD_WINDOW,
        join_bubbles: bool = True,
        forward: Forwarder | None = None,
        prompts: NotePrompts | None = None,
        shared: bool = False,
    ) -> None:
        self.conversations = conversations
        self.codec = codec or CallbackCodec()
        self.send_attempts = send_attempts
        self.retry_base_delay = retry_base_delay
        self.on_turn = on_turn  # e.g. a test or a metrics hook reading turn.events
        self.durable_dedupe = durable_dedupe
        self.join_bubbles = join_bubbles
        self.forward = forward  # Outbound for other channels (WhatsApp)
        self.flood = FloodGuard(flood_limit, flood_window)
        self.stats: Counter[str] = Counter()
        self.cadres = (
            TelegramCadres(desk, self, prompts=prompts, shared=shared) if desk is not None else None
        )
        self._locks = _ChatLocks()
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._dedupe_capacity = dedupe_capacity
        self._edit_noted: dict[int, float] = {}
        self._unreachable: set[int] = set()
        self._recent: set[str] | None = None  # ids recorded before this process started
        self._resending: asyncio.Task[None] | None = None
        self._resending_later: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ wiring

    def register(self, app: Application, group: int = 0) -> None:
        app.add_handler(TypeHandler(Update, self.on_update), group)
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

    def _text(self, key: str) -> str:
        return self.conversations.engine.system_text(key)

    def key_for(self, platform_user_id: str) -> str:
        return self.conversations.key_for(CHANNEL, platform_user_id)

    def metrics(self) -> dict[str, Any]:
        """Counters for /healthz (numbers only)."""
        return {**dict(sorted(self.stats.items())), "unreachable_now": len(self._unreachable)}

    # ------------------------------------------------------------------ entry point

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.handle_update(update, context.bot)

    async def handle_update(self, update: Update, bot: Any, *, checked: bool = False) -> None:
        """One update, in its chat's order. `checked`: its id was already de-duplicated in
        the database (the durable inbox of webhook mode), so it is not looked up again."""
        try:
            problem = malformed(update)
        except Exception:
            problem = "fields of unexpected types"
        if problem is not None:  # would raise in a handler; a retry brings the same bytes
            self.stats["updates_malformed"] += 1
            log.warning("telegram: skipped a malformed update (%s)", problem)
            return
        chat = update.effective_chat
        if chat is None:  # e.g. one bot/telegram/polling.py could not read
            return
        await self._locks.acquire(chat.id)  # the first await: keeps arrival order per chat
        try:
            if checked or await self._first_time(update.update_id):
                delivery = str(update.update_id) if self.durable_dedupe else None
                took = await self._route(update, bot, delivery)
                if delivery is not None and not took:  # no turn recorded it
                    await self.conversations.record_delivery(CHANNEL, delivery)
        finally:
            self._locks.release(chat.id)

    async def _route(self, update: Update, bot: Any, delivery: str | None) -> bool:
        """Handle one update; True when a resident's turn took (and recorded) its id."""
        chat = update.effective_chat
        assert chat is not None
        if update.my_chat_member is not None:
            await self._on_membership(update, bot)
            return False
        private = chat.type == ChatType.PRIVATE
        if self.cadres is not None and await self.cadres.handle(update, bot, private):
            return False
        query = update.callback_query
        if not private:
            if query is not None:
                await answer_query(query, None)
            return False
        user = update.effective_user
        if query is not None:
            return await self._on_callback(update, bot, delivery)
        if update.message is not None and user is not None:
            return await self._on_message(update.message, user, bot, delivery)
        if update.edited_message is not None and user is not None:
            return await self._on_edited(update.edited_message, user, bot, delivery)
        return False

    async def _first_time(self, update_id: int) -> bool:
        """False for an update seen before (in memory, then in the database)."""
        if self._duplicate(update_id):
            return False
        if not self.durable_dedupe:
            return True
        if self._recent is None:
            await self.load_recent()
        first = str(update_id) not in (self._recent or ())
        if not first:
            self.stats["duplicate_updates"] += 1
            self.stats["duplicate_updates_durable"] += 1
        return first

    async def load_recent(self) -> None:
        """Load the update ids recorded in the last 48 hours (once, at start)."""
        since = self.conversations.clock() - RECENT_IDS
        try:
            self._recent = await self.conversations.recent_deliveries(CHANNEL, since)
        except Exception:
            log.exception("could not load recorded Telegram update ids")
            self._recent = set()

    def _duplicate(self, update_id: int) -> bool:
        if update_id in self._seen:
            self.stats["duplicate_updates"] += 1
            return True
        self._seen[update_id] = None
        if len(self._seen) > self._dedupe_capacity:
            self._seen.popitem(last=False)
        return False

    # ------------------------------------------------------------------ residents

    async def _on_message(
        self, message: Message, user: User, bot: Any, delivery: str | None
    ) -> bool:
        inbound = inbound_from_message(message)
        self.stats["text" if inbound.text is not None else "media"] += 1
        if self._flooded(message.chat_id, _seconds(message.date), inbound.text):
            await self._slow_down(bot, message.chat_id, _seconds(message.date))
            return False
        if user.id in self._unreachable:  # writing again: they unblocked the bot
            await self.mark_reachable(user.id)
        turn = await self._handle(user.id, inbound, delivery)
        await self._send_turn(bot, message.chat_id, turn)
        return True

    async def _on_edited(
        self, message: Message, user: User, bot: Any, delivery: str | None
    ) -> bool:
        inbound = inbound_from_message(message)
        at = _seconds(message.edit_date or message.date)
        if self._flooded(message.chat_id, at, inbound.text):
            await self._slow_down(bot, message.chat_id, at)
            return False
        if inbound.text and self._crisis(inbound.text):
            # Crisis words added in an edit are answered like a new message.
            self.stats["edited_crisis"] += 1
            turn = await self._handle(user.id, inbound, delivery)
            await self._send_turn(bot, message.chat_id, turn)
            return True
        # Re-running an edited answer would move the conversation twice.
        self.stats["edited_ignored"] += 1
        last = self._edit_noted.get(message.chat_id)
        if last is None or at - last >= EDITED_NOTE_EVERY:
            if len(self._edit_noted) >= FloodGuard.MAX_CHATS:
                self._edit_noted.clear()
            self._edit_noted[message.chat_id] = at
            await self._notice(bot, message.chat_id, self._text("edited_not_reread"))
        return False

    async def _on_callback(self, update: Update, bot: Any, delivery: str | None) -> bool:
        query, user = update.callback_query, update.effective_user
        assert query is not None
        answered = False
        try:
            message = query.message
            if user is None or message is None or query.data is None:
                return False
            self.stats["press"] += 1
            node, choice = self.codec.decode(query.data)
            inbound = Inbound(choice=choice or "", node=node)
            turn = await self._handle(user.id, inbound, delivery)
            stale = self._is_stale(turn)
            if stale:
                self.stats["press_stale"] += 1
            answered = await answer_query(
                query, self._text("stale_button_toast") if stale else None
            )
            if isinstance(message, Message):
                await self._mark_pressed(message, query.data, stale)
            await self._send_turn(bot, message.chat.id, turn)
            return True
        finally:
            if not answered:
                await answer_query(query, None)

    async def _on_membership(self, update: Update, bot: Any) -> None:
        change = update.my_chat_member
        assert change is not None
        chat, status = change.chat, change.new_chat_member.status
        if chat.type == ChatType.PRIVATE:
            if status in ("kicked", "left"):
                self.stats["blocked_by_resident"] += 1
                log.info("a resident blocked the bot")
                await self.mark_unreachable(bot, chat.id)
            elif status == "member":
                self.stats["unblocked_by_resident"] += 1
                await self.mark_reachable(chat.id)
        elif status in ("member", "administrator"):
            # A group is not a resident: its id is what an operator needs for the routes.
            log.info(
                "the bot was added to the group %r; for cadre alerts put "
                "telegram_chat_id: %s in its route",
                chat.title,
                chat.id,
            )
        elif status in ("kicked", "left"):
            log.warning("the bot was removed from the group %r (chat id %s)", chat.title, chat.id)

    def _flooded(self, chat_id: int, at: float, text: str | None) -> bool:
        """Over the flood limit and without crisis signs (those always go through)."""
        if not self.flood.hit(chat_id, at):
            return False
        if text and self._crisis(text):
            self.stats["flood_crisis_passed"] += 1
            return False
        return True

    async def _slow_down(self, bot: Any, chat_id: int, at: float) -> None:
        self.stats["flood_dropped"] += 1
        if self.flood.should_warn(chat_id, at):
            self.stats["flood_warned"] += 1
            await self._notice(bot, chat_id, self._text("slow_down"))

    def _crisis(self, text: str) -> bool:
        detector = getattr(self.conversations.engine, "detector", None)
        if detector is None:
            return False
        try:
            return detector.detect(text[:CRISIS_SCAN_LIMIT]) is not None
        except Exception:  # fail towards answering the message
            log.exception("crisis check failed; handling the message as usual")
            return True

    async def mark_unreachable(self, bot: Any, user_id: int) -> None:
        if user_id in self._unreachable:
            return
        self._unreachable.add(user_id)
        self.stats["residents_marked_unreachable"] += 1
        if self.cadres is not None:
            try:
                await self.cadres.resident_unreachable(bot, str(user_id))
            except Exception:
                log.exception("could not record that a resident is unreachable")

    async def mark_reachable(self, user_id: int) -> None:
        self._unreachable.discard(user_id)
        if self.cadres is not None:
            try:
                await self.cadres.resident_reachable(str(user_id))
            except Exception:
                log.exception("could not record that a resident is reachable again")

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._failed(update, context.bot, context.error)

    async def handle_inboxed(self, payload: dict[str, Any], bot: Any) -> None:
        """An update from the durable inbox (webhook mode, bot/workers/inbox.py), already
        de-duplicated in the database; failures are handled as PTB's error handler would."""
        update = Update.de_json(payload, bot)
        try:
            await self.handle_update(update, bot, checked=True)
        except Exception as error:
            await self._failed(update, bot, error)

    async def _failed(self, update: object, bot: Any, error: BaseException | None) -> None:
        self.stats["errors"] += 1
        log.error(
            "telegram handler failed: %s", type(error).__name__, exc_info=_safe_exc_info(error)
        )
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        if update.effective_chat.type != ChatType.PRIVATE or isinstance(error, Forbidden):
            return
        with contextlib.suppress(TelegramError):
            await bot.send_message(update.effective_chat.id, FALLBACK_ERROR)

    # ------------------------------------------------------------------ turn

    async def _handle(self, user_id: int, inbound: Inbound, delivery: str | None) -> Turn:
        turn = await self.conversations.handle(
            CHANNEL, str(user_id), inbound, delivery_id=delivery
        )
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
        status = await self.send(bot, chat_id, turn.replies, urgent=turn.urgent)
        if turn.kept is not None and status != "failed":
            await self.conversations.delivered(CHANNEL, turn.kept)  # else: sent at next start
        if status == "blocked":
            self.stats["blocked_on_send"] += 1
            log.info("a resident has blocked the bot; the rest of the turn was not sent")
            await self.mark_unreachable(bot, chat_id)
        for outbound in turn.outbound:  # e.g. the resident's relay message to their cadre
            await self.deliver(bot, outbound)

    async def _notice(self, bot: Any, chat_id: int, text: str) -> None:
        await self.send(bot, chat_id, [Reply(text)])

    # ------------------------------------------------------------------ after a crash

    async def resend_undelivered(self, bot: Any) -> int:
        """Send the replies earlier processes committed but never delivered; call before
        any update is read. Each resident's chat is locked at once (so their next update
        waits for it), the sending runs in the background (`wait_resent`). Replies older
        than `RESEND_WITHIN` are dropped: a day-old menu would only confuse. With several
        workers (`Conversations.resend_grace`), replies younger than the grace may be a
        live worker's: those still kept once it has passed are sent then. Returns how
        many turns are being resent now."""
        try:
            kept = await self.conversations.undelivered(CHANNEL)
        except Exception:
            log.exception("could not read the replies left unsent by an earlier process")
            return 0
        by_chat = await self._by_chat(kept)
        for chat_id in by_chat:
            await self._locks.acquire(chat_id)  # free now: nothing is being handled yet
        if by_chat:
            log.warning("resending the replies of %d turn(s) an earlier process committed "
                        "but did not deliver", sum(len(v) for v in by_chat.values()))
            self._resending = asyncio.create_task(self._resend(bot, by_chat))
        grace = self.conversations.resend_grace
        if grace > dtm.timedelta(0):
            started = {item.delivery_id for item in kept}
            self._resending_later = asyncio.create_task(
                self._resend_after_grace(bot, grace.total_seconds(), started))
        return sum(len(v) for v in by_chat.values())

    async def _by_chat(self, kept: Sequence[Any]) -> dict[int, list[Any]]:
        now = self.conversations.clock()
        by_chat: dict[int, list[Any]] = {}
        for item in kept:
            if now - item.created_at > RESEND_WITHIN:
                self.stats["resend_expired"] += 1
                await self.conversations.delivered(CHANNEL, item.delivery_id)
                continue
            try:
                by_chat.setdefault(int(item.platform_user_id), []).append(item)
            except ValueError:
                await self.conversations.delivered(CHANNEL, item.delivery_id)
        return by_chat

    async def _resend_after_grace(self, bot: Any, delay: float, started: set[str]) -> None:
        """The second look of `resend_undelivered`: what is still kept and has settled
        (its worker did not send it) goes now, in each chat's order with its new turns."""
        await asyncio.sleep(delay)
        try:
            kept = [k for k in await self.conversations.undelivered(CHANNEL)
                    if k.delivery_id not in started]
            by_chat = await self._by_chat(kept)
        except Exception:
            log.exception("could not read the replies left unsent by another worker")
            return
        if not by_chat:
            return
        for chat_id in by_chat:
            await self._locks.acquire(chat_id)  # after the turn being handled, if any
        self.stats["resent_after_grace"] += sum(len(v) for v in by_chat.values())
        await self._resend(bot, by_chat)

    async def _resend(self, bot: Any, by_chat: dict[int, list[Any]]) -> None:
        gate = asyncio.Semaphore(8)

        async def one_chat(chat_id: int, items: list[Any]) -> None:
            try:
                async with gate:
                    for item in items:
                        status = await self.send(bot, chat_id, item.replies)
                        self.stats[f"resent_{status}"] += 1
                        if status != "failed":
                            await self.conversations.delivered(CHANNEL, item.delivery_id)
                        if status == "blocked":
                            break
            except Exception:
                log.exception("resending a turn's replies failed")
            finally:
                self._locks.release(chat_id)

        await asyncio.gather(*(one_chat(c, items) for c, items in by_chat.items()))

    async def wait_resent(self, timeout: float | None = None) -> None:
        """Wait for the background resending started by `resend_undelivered` (its second
        look after the grace is called off: the next worker to start takes it over)."""
        if self._resending_later is not None and not self._resending_later.done():
            self._resending_later.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resending_later
        if self._resending is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._resending), timeout)

    # ------------------------------------------------------------------ sending

    async def send(
        self, bot: Any, chat_id: int, replies: Sequence[Reply], *, urgent: bool = False
    ) -> SendStatus:
        """Send bubbles to a chat (joined where they fit); stops at a 403. `urgent` replies
        (a crisis turn's) go before ordinary ones waiting for the rate limiter."""
        status: SendStatus = "sent"
        try:
            for out in render_turn(replies, self.codec, join=self.join_bubbles):
                if await self._send(bot, chat_id, out, urgent) is None:
                    status = "failed"
        except _Blocked:
            return "blocked"
        return status

    async def deliver(self, bot: Any, outbound: Outbound) -> SendStatus:
        """Deliver a relay message or notice: Telegram ones here, others to `forward`."""
        if outbound.channel != CHANNEL:
            if self.forward is None:
                self.stats["outbound_unrouted"] += 1
                log.error(
                    "a message for channel %r has no route (forward not set)", outbound.channel
                )
                return "failed"
            try:
                await self.forward(outbound)
            except Exception:
                self.stats["outbound_failed"] += 1
                log.exception("forwarding a message to channel %r failed", outbound.channel)
                return "failed"
            self.stats["outbound_forwarded"] += 1
            return "sent"
        try:
            chat_id = int(outbound.address)
        except ValueError:
            log.error("a Telegram message without a numeric chat id was not sent")
            return "failed"
        status = await self.send(
            bot, chat_id, [Reply(outbound.text, outbound.choices, outbound.node)]
        )
        self.stats[f"outbound_{status}"] += 1
        return status

    async def send_to_chat(self, bot: Any, chat_id: int, replies: Sequence[Reply]) -> str:
        """Send bubbles the bot starts itself (a follow-up check-in) to a resident's chat,
        in that chat's order with its own turns. Returns "sent", "blocked" (403: the
        resident blocked the bot; marked unreachable), "failed" (nothing arrived) or
        "unsure" (a timeout, or only part arrived: the caller must not resend)."""
        await self._locks.acquire(chat_id)
        try:
            status = await self._send_first(bot, chat_id, replies)
        finally:
            self._locks.release(chat_id)
        self.stats[f"first_{status}"] += 1
        if status == "blocked":
            await self.mark_unreachable(bot, chat_id)
        return status

    async def _send_first(self, bot: Any, chat_id: int, replies: Sequence[Reply]) -> str:
        for sent, out in enumerate(render_turn(replies, self.codec, join=self.join_bubbles)):
            entities = [MessageEntity(e["type"], e["offset"], e["length"]) for e in out.entities]
            try:
                try:
                    await bot.send_message(chat_id, out.text, entities=entities or None,
                                           reply_markup=_markup(out))
                except BadRequest:
                    await bot.send_message(chat_id, _plain_fallback(out))
            except Forbidden:
                return "blocked" if sent == 0 else "unsure"
            except TimedOut:
                return "unsure"
            except TelegramError as exc:  # network down, 429 after the rate limiter's retries
                log.warning("a first message was not sent: %s", type(exc).__name__)
                return "failed" if sent == 0 else "unsure"
        return "sent"

    async def _send(
        self, bot: Any, chat_id: int, out: OutMessage, urgent: bool = False
    ) -> Message | None:
        plain = False
        delay = self.retry_base_delay
        limits = {"rate_limit_args": CRISIS} if urgent else {}
        for attempt in range(1, self.send_attempts + 1):
            try:
                if plain:
                    return await bot.send_message(chat_id, _plain_fallback(out), **limits)
                return await bot.send_message(
                    chat_id,
                    out.text,
                    entities=[
                        MessageEntity(e["type"], e["offset"], e["length"]) for e in out.entities
                    ]
                    or None,
                    reply_markup=_markup(out),
                    **limits,
                )
            except Forbidden as exc:
                raise _Blocked from exc
            except RetryAfter as exc:
                seconds = retry_after_seconds(exc)
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

    `rate_limiter`: "default" = `TelegramLimits()` (bot/telegram/rate_limits.py: Telegram's
    per-chat, overall and group limits, crisis replies first, 429 waits per chat); None
    disables it (benchmarks). `base_url`/`base_file_url` point the bot
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
    channel = channel or TelegramChannel(conversations)
    try:  # an update PTB cannot read must not stop long polling (bot/telegram/polling.py)
        builder = builder.get_updates_request(TolerantUpdatesRequest(channel.stats))
    except RuntimeError:  # the caller configured its own getUpdates request
        log.warning("telegram: custom getUpdates settings; unreadable updates are not skipped")
    if rate_limiter == "default":
        rate_limiter = TelegramLimits()
    if rate_limiter is not None:
        builder = builder.rate_limiter(rate_limiter)

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
