"""Cadres on Telegram: case-card buttons, notes and outcomes, /daftar, the anonymous relay.

Where: the cadre group of a route (the card's buttons, commands) and a cadre's private
chat with the bot (the relay, /daftar, commands). Every action, and every change to a
case, goes through bot/cases/desk.py's `CadreDesk`, which decides who may do what. The
`CadreIdentity` is built from the update itself: the user who pressed or wrote, and the
chat it happened in when that chat is a group. Callback data and typed text only ever name
a case and an action.

Buttons under a card (callback data "kd:<verb>:<case>[:<n>]", bot/telegram/card_sender.py):
- Ambil: claim. The card is then edited in place by the dispatcher (outbox).
- Catatan: a prompt with ForceReply in the same chat ("reply to this message"); the reply
  becomes the note. Prompts are valid for an hour, kept in the database by `temanjiwa
  run` (any worker takes the reply, also after a restart), else in memory.
- Selesai: a message with one button per outcome (and Batal); a press resolves the case.
- Hubungi: the relay runs in the cadre's private chat. From a group, the bot first checks
  that it can write there (the cadre must have sent it something, e.g. /kader); then the
  resident is asked.

Commands (group or private chat, `@botname` accepted): /ambil TJ-XXXX, /catatan TJ-XXXX
[teks], /selesai TJ-XXXX [hasil], /hubungi TJ-XXXX, /akhiri TJ-XXXX, /kader (help). Only
in a private chat: /daftar KODE (a one-time invite from `temanjiwa cases invite`); a code
typed in a group is refused (it is no longer secret: ask for a new one).

The relay (private chat): once the resident accepted, plain text goes to them as
"💬 Kader: …" (with several relays at once, start with the case code: "TJ-XXXX pesan");
/akhiri ends it. The resident's messages arrive as "💬 TJ-XXXX: …". Neither side sees the
other's name, username or number. Whether a private message is relay text is decided by
an in-memory set of actor keys of cadres with a relay (loaded from the database on first
use, updated on every request), so residents' messages cost no extra query; with several
workers (`shared`) a key not in the set is looked up again, as the relay may have started
on another worker.

A resident who blocked the bot (403 on a send, or Telegram's "kicked" update) is
unreachable: their open case gets a `resident_unreachable` event and a card update, a
live relay ends with a notice to its cadre, and the Telegram groups that have the card are
told under it. When they unblock the bot or write again, `resident_reachable` is recorded.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from telegram import (
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.cases.cards import OUTCOME_LABELS
from bot.cases.desk import ActionResult, CadreDesk, CadreIdentity
from bot.conversations import Outbound

from .calls import CHANNEL, answer_query
from .card_sender import CALLBACK_PREFIX, callback, parse_ref
from .render import format_text, u16

log = logging.getLogger(__name__)

CASE_RE = re.compile(r"TJ-[23456789A-Z]{4}\b", re.IGNORECASE)
COMMAND_RE = re.compile(r"^/([A-Za-z_]+)(?:@(\w+))?(?:\s+(.*))?$", re.DOTALL)
CASE_COMMANDS = ("ambil", "catatan", "selesai", "hubungi", "akhiri")
VERBS = ("ambil", "catatan", "selesai", "hubungi", "hasil", "batal")
OUTCOMES = tuple(OUTCOME_LABELS)
PROMPT_TTL = 3600.0  # seconds a "reply to this message" prompt stays valid
PROMPTS_MAX = 2_000

HELP = (
    "Untuk kader Teman Jiwa:\n"
    "• Di grup kader, tekan tombol di bawah kartu kasus: Ambil, Catatan, Selesai, Hubungi.\n"
    "• Atau ketik: /ambil TJ-XXXX, /catatan TJ-XXXX teks, /selesai TJ-XXXX, "
    "/hubungi TJ-XXXX.\n"
    "• Obrolan dengan warga berjalan di chat pribadi ini: tulis pesan biasa (atau "
    "TJ-XXXX pesan bila ada beberapa obrolan); /akhiri TJ-XXXX untuk mengakhiri.\n"
    "• /daftar KODE: daftar dengan kode undangan dari operator (hanya di chat pribadi).\n"
    "Warga tidak melihat nama atau nomor Anda, dan Anda tidak melihat milik warga."
)
RELAY_HELP = (
    "Setelah warga setuju, tulis pesan Anda di sini. Ketik /akhiri {code} untuk mengakhiri."
)
DM_FIRST = (
    "Obrolan dengan warga berjalan di chat pribadi Anda dengan bot. Buka chat dengan {bot}, "
    "kirim /kader, lalu tekan Hubungi lagi."
)
DAFTAR_IN_GROUP = (
    "Kirim /daftar KODE di chat pribadi dengan bot, bukan di grup. Kode ini sudah terlihat "
    "orang lain: minta kode baru ke operator."
)
DAFTAR_USAGE = "Tulis: /daftar KODE (kode undangan dari operator)."
NOTE_PROMPT = (
    "📝 Catatan untuk {code}: balas pesan ini dengan catatan Anda (paling banyak 500 huruf)."
)
NOTE_TOAST = "Balas pesan catatan dari bot."
NOTE_NOT_TEXT = "Catatan harus berupa teks. Tekan Catatan lagi."
ASK_OUTCOME = "Hasil kasus {code}? Pilih satu:"
CANCELLED = "Dibatalkan."
UNKNOWN_BUTTON = "Tombol ini tidak dikenal lagi."
RELAY_NOT_TEXT = "Hanya pesan teks yang bisa diteruskan ke warga."
RELAY_PENDING = "Warga belum menjawab permintaan obrolan. Anda akan diberi tahu jawabannya."
RELAY_WHICH = "Anda punya beberapa obrolan. Mulai pesan dengan kode kasus, misalnya: {code} halo."
RELAY_END_WHICH = "Anda punya beberapa obrolan. Tulis kodenya, misalnya: /akhiri {code}"
RELAY_UNKNOWN_COMMAND = "Perintah itu tidak dikenal di obrolan kader. Ketik /kader untuk bantuan."
UNDELIVERED = "Pesan tidak terkirim: warga tidak bisa dihubungi lewat bot (bot diblokir)."
UNREACHABLE = (
    "⚠️ {code}: warga memblokir bot, jadi tidak bisa dihubungi lewat bot. Obrolan lewat bot "
    "(jika ada) berakhir."
)


@dataclass(frozen=True)
class _Prompt:
    case: str
    user_id: int
    at: float


class NotePrompts(Protocol):
    """Where note prompts are kept until the cadre replies. bot/app.py gives the one in the
    database (bot/workers/state.py), so the reply may reach any worker, or this one after a
    restart; `MemoryNotePrompts` keeps them in this process."""

    async def add(self, chat_id: int, message_id: int, case: str, user_id: int,
                  ttl: float) -> None: ...

    async def take(self, chat_id: int, message_id: int, user_id: int) -> str | None:
        """The case the prompt asked a note for, once, if `user_id` was asked and it is
        still valid."""
        ...


class MemoryNotePrompts:
    def __init__(self, limit: int = PROMPTS_MAX) -> None:
        self._prompts: OrderedDict[tuple[int, int], tuple[_Prompt, float]] = OrderedDict()
        self._limit = limit

    async def add(self, chat_id: int, message_id: int, case: str, user_id: int,
                  ttl: float) -> None:
        self._prompts[(chat_id, message_id)] = (_Prompt(case, user_id, time.monotonic()), ttl)
        while len(self._prompts) > self._limit:
            self._prompts.popitem(last=False)

    async def take(self, chat_id: int, message_id: int, user_id: int) -> str | None:
        found = self._prompts.get((chat_id, message_id))
        if found is None or found[0].user_id != user_id:
            return None
        del self._prompts[(chat_id, message_id)]
        prompt, ttl = found
        return prompt.case if time.monotonic() - prompt.at <= ttl else None


def _outcome(text: str) -> str | None:
    """An outcome from typed text: its key ("contacted") or its number (1-6)."""
    word = text.strip().split(maxsplit=1)[0].lower() if text.strip() else ""
    if word in OUTCOME_LABELS:
        return word
    if word.isdigit() and 1 <= int(word) <= len(OUTCOMES):
        return OUTCOMES[int(word) - 1]
    return None


def outcome_keyboard(code: str) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(
                label[:1].upper() + label[1:], callback_data=callback("hasil", code, str(i))
            )
        ]
        for i, label in enumerate(OUTCOME_LABELS.values())
    ]
    rows.append([InlineKeyboardButton("Batal", callback_data=callback("batal", code))])
    return InlineKeyboardMarkup(rows)


class ResidentSide(Protocol):
    """What the cadre side needs of the Telegram channel (bot/telegram/channel.py)."""

    stats: Counter[str]

    def key_for(self, platform_user_id: str) -> str: ...

    async def deliver(self, bot: Any, outbound: Outbound) -> str: ...

    async def mark_unreachable(self, bot: Any, user_id: int) -> None: ...


class TelegramCadres:
    """Cadre updates of the Telegram channel → `CadreDesk` (see the module docstring).

    Built by the channel itself (`TelegramChannel(desk=...)`), which passes itself as
    `residents`: relay messages and notices go out through it."""

    def __init__(self, desk: CadreDesk, residents: ResidentSide, *,
                 prompts: NotePrompts | None = None, shared: bool = False) -> None:
        self.desk = desk
        self.residents = residents
        self.stats = residents.stats
        self.prompts: NotePrompts = prompts or MemoryNotePrompts()
        # With several workers a relay may start on another one: the set below then only
        # answers "yes" quickly, and a "no" is checked in the database.
        self.shared = shared
        self._relay_keys: set[str] | None = None

    # ------------------------------------------------------------------ routing

    async def handle(self, update: Update, bot: Any, private: bool) -> bool:
        """Handle a cadre's update; False if it is not one (a resident's)."""
        query = update.callback_query
        if query is not None:
            if not (query.data or "").startswith(CALLBACK_PREFIX):
                return False
            await self._on_button(update, bot)
            return True
        message, user = update.message, update.effective_user
        if message is None or user is None:
            return not private  # edits, channel posts...: nothing for cadres in groups
        actor = self.identity(update)
        command = self._command(message.text or "", bot.username)
        if command is not None and self._for_cadres(command, private):
            await self._on_command(command, message, actor, bot, private)
            return True
        prompt = await self._prompt_for(message)
        if prompt is not None:
            await self._on_note_reply(prompt, message, actor, bot)
            return True
        if not private:
            return True  # other group messages are not the bot's to answer
        relays = await self._relays(actor)
        if relays:
            await self._on_relay_text(relays, message, actor, bot, command)
            return True
        return False

    @staticmethod
    def identity(update: Update) -> CadreIdentity:
        """Who acts, from the update itself (never from callback data or text)."""
        user, chat = update.effective_user, update.effective_chat
        assert user is not None and chat is not None
        group = chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
        return CadreIdentity(
            CHANNEL, str(user.id), user.full_name or "kader", chat_id=chat.id if group else None
        )

    def _command(self, text: str, bot_username: str | None) -> tuple[str, str] | None:
        match = COMMAND_RE.match(text.strip())
        if match is None:
            return None
        mention = match.group(2)
        if mention and bot_username and mention.lower() != bot_username.lower():
            return None  # "/ambil@OtherBot": not for us
        return match.group(1).lower(), (match.group(3) or "").strip()

    @staticmethod
    def _for_cadres(command: tuple[str, str], private: bool) -> bool:
        name, rest = command
        if name in ("kader", "daftar"):
            return True
        if name == "start":
            return private and rest.lower() == "kader"  # the t.me/<bot>?start=kader link
        if name in CASE_COMMANDS:
            # In a private chat "/akhiri" or "/selesai" alone is a resident ending a relay.
            return not private or CASE_RE.match(rest) is not None
        return False

    # ------------------------------------------------------------------ commands

    async def _on_command(
        self,
        command: tuple[str, str],
        message: Message,
        actor: CadreIdentity,
        bot: Any,
        private: bool,
    ) -> None:
        name, rest = command
        chat_id = message.chat_id
        self.stats[f"cadre_cmd_{name}"] += 1
        if name in ("kader", "start"):
            await self._say(bot, chat_id, HELP, reply_to=message.message_id)
            return
        if name == "daftar":
            if not private:
                await self._say(bot, chat_id, DAFTAR_IN_GROUP, reply_to=message.message_id)
                return
            if not rest:
                await self._say(bot, chat_id, DAFTAR_USAGE)
                return
            result = await self.desk.register(rest, actor)
            self._count("register", result)
            await self._say(bot, chat_id, result.reply + ("\n\n" + HELP if result.ok else ""))
            return
        match = CASE_RE.match(rest)
        if match is None:
            await self._say(bot, chat_id, HELP, reply_to=message.message_id)
            return
        code, tail = match.group(0).upper(), rest[match.end() :].strip()
        if name == "catatan" and not tail:
            await self._prompt_note(bot, chat_id, code, message.from_user, not private)
            return
        if name == "selesai" and _outcome(tail) is None:
            await self._say(
                bot, chat_id, ASK_OUTCOME.format(code=code), keyboard=outcome_keyboard(code)
            )
            return
        if name == "ambil":
            result = await self.desk.claim(code, actor)
        elif name == "catatan":
            result = await self.desk.note(code, actor, tail)
        elif name == "selesai":
            outcome = _outcome(tail)
            assert outcome is not None
            note = tail.split(maxsplit=1)[1] if len(tail.split(maxsplit=1)) > 1 else None
            result = await self.desk.resolve(code, actor, outcome, note)
        elif name == "hubungi":
            result = await self._request_relay(bot, code, actor)
        else:
            result = await self.desk.end_relay(code, actor)
        self._count(name, result)
        if result.reply and not (name == "hubungi" and result.ok and private):
            await self._say(bot, chat_id, result.reply, reply_to=message.message_id)
        if name != "hubungi":
            await self._deliver_to_residents(bot, result.messages, chat_id)

    # ------------------------------------------------------------------ buttons

    async def _on_button(self, update: Update, bot: Any) -> None:
        query, user, chat = update.callback_query, update.effective_user, update.effective_chat
        assert query is not None and chat is not None
        parts = (query.data or "")[len(CALLBACK_PREFIX) :].split(":")
        verb = parts[0] if parts[0] in VERBS else "unknown"
        code = parts[1] if len(parts) > 1 else ""
        extra = parts[2] if len(parts) > 2 else ""
        self.stats[f"cadre_press_{verb}"] += 1
        toast: str | None = None
        alert = False
        try:
            if user is None or verb == "unknown":
                toast = UNKNOWN_BUTTON
                return
            actor = self.identity(update)
            group = actor.chat_id is not None
            message = query.message if isinstance(query.message, Message) else None
            if verb == "catatan":
                sent = await self._prompt_note(bot, chat.id, code, user, group)
                toast = NOTE_TOAST if sent else None
                return
            if verb == "selesai":
                await self._say(
                    bot, chat.id, ASK_OUTCOME.format(code=code), keyboard=outcome_keyboard(code)
                )
                return
            if verb == "batal":
                if message is not None:
                    await self._edit(message, CANCELLED)
                return
            if verb == "ambil":
                result = await self.desk.claim(code, actor)
            elif verb == "hubungi":
                result = await self._request_relay(bot, code, actor)
            else:  # hasil
                index = int(extra) if extra.isdigit() else -1
                if not 0 <= index < len(OUTCOMES):
                    toast = UNKNOWN_BUTTON
                    return
                result = await self.desk.resolve(code, actor, OUTCOMES[index])
                if result.ok and message is not None:
                    await self._edit(message, f"✅ {result.reply} ({actor.name})")
                await self._deliver_to_residents(bot, result.messages, None)
            self._count(verb, result)
            toast, alert = result.reply or None, not result.ok
        finally:
            await answer_query(query, toast, alert=alert)

    # ------------------------------------------------------------------ actions

    async def _request_relay(self, bot: Any, code: str, actor: CadreIdentity) -> ActionResult:
        """Ask the resident; the relay will run in the cadre's private chat."""
        cadre_chat = int(actor.user_id)
        if actor.chat_id is not None and not await self._can_write(bot, cadre_chat):
            bot_name = f"@{bot.username}" if bot.username else "bot ini"
            return ActionResult(False, DM_FIRST.format(bot=bot_name), error="no_private_chat")
        result = await self.desk.request_relay(code, actor)
        if result.ok:
            (await self._relay_key_set()).add(self.desk.actor_key(actor))
            await self._say(bot, cadre_chat, f"{result.reply}\n\n{RELAY_HELP.format(code=code)}")
        await self._deliver_to_residents(bot, result.messages, cadre_chat)
        return result

    async def _prompt_note(
        self, bot: Any, chat_id: int, code: str, user: User | None, group: bool
    ) -> bool:
        if user is None:
            return False
        text = NOTE_PROMPT.format(code=code.upper())
        entities = None
        if group:  # ForceReply(selective) shows the reply field only to the mentioned cadre
            name = user.full_name or "Kader"
            text = f"{name}, {text}"
            entities = [MessageEntity(MessageEntity.TEXT_MENTION, 0, u16(name), user=user)]
        try:
            sent = await bot.send_message(
                chat_id,
                text,
                entities=entities,
                reply_markup=ForceReply(selective=True, input_field_placeholder=f"Catatan {code}"),
            )
        except TelegramError as exc:
            log.warning("could not ask for a note: %s", type(exc).__name__)
            return False
        try:
            await self.prompts.add(chat_id, sent.message_id, code.upper(), user.id, PROMPT_TTL)
        except Exception:
            log.exception("could not keep a note prompt")
            return False
        return True

    async def _prompt_for(self, message: Message) -> str | None:
        """The case of the note prompt this message answers (by the cadre it was meant
        for), if any. Only replies to a bot message are looked up."""
        reply = message.reply_to_message
        if reply is None or message.from_user is None:
            return None
        author = reply.from_user
        if author is not None and not author.is_bot:
            return None
        return await self.prompts.take(message.chat_id, reply.message_id, message.from_user.id)

    async def _on_note_reply(
        self, case: str, message: Message, actor: CadreIdentity, bot: Any
    ) -> None:
        if not message.text:
            await self._say(bot, message.chat_id, NOTE_NOT_TEXT, reply_to=message.message_id)
            return
        result = await self.desk.note(case, actor, message.text)
        self._count("catatan", result)
        await self._say(bot, message.chat_id, result.reply, reply_to=message.message_id)

    async def _on_relay_text(
        self,
        relays: Sequence[tuple[str, str]],
        message: Message,
        actor: CadreIdentity,
        bot: Any,
        command: tuple[str, str] | None,
    ) -> None:
        chat_id = message.chat_id
        active = [code for code, state in relays if state == "active"]
        if command is not None:
            name, rest = command
            if name not in ("akhiri", "selesai"):
                await self._say(bot, chat_id, RELAY_UNKNOWN_COMMAND)
                return
            match = CASE_RE.match(rest)
            codes = [match.group(0).upper()] if match else [code for code, _ in relays]
            if len(codes) != 1:
                await self._say(bot, chat_id, RELAY_END_WHICH.format(code=codes[0]))
                return
            result = await self.desk.end_relay(codes[0], actor)
            self._count("akhiri", result)
            await self._say(bot, chat_id, result.reply)
            await self._deliver_to_residents(bot, result.messages, chat_id)
            return
        if message.text is None:
            await self._say(bot, chat_id, RELAY_NOT_TEXT)
            return
        text = message.text.strip()
        match = CASE_RE.match(text)
        if match is not None:
            code, text = match.group(0).upper(), text[match.end() :].strip(" :")
        elif len(active) == 1:
            code = active[0]
        elif not active:
            await self._say(bot, chat_id, RELAY_PENDING)
            return
        else:
            await self._say(bot, chat_id, RELAY_WHICH.format(code=active[0]))
            return
        result = await self.desk.relay_to_resident(code, actor, text)
        self.stats["relay_to_resident" if result.ok else "relay_to_resident_refused"] += 1
        if not result.ok:
            await self._say(bot, chat_id, result.reply)
            return
        await self._deliver_to_residents(bot, result.messages, chat_id)

    async def _deliver_to_residents(
        self, bot: Any, messages: Sequence[Outbound], notify_chat: int | None
    ) -> None:
        """Deliver a cadre action's messages (they go to residents); a resident who blocked
        the bot is marked unreachable and the acting cadre is told."""
        for outbound in messages:
            status = await self.residents.deliver(bot, outbound)
            if status == "blocked" and outbound.channel == CHANNEL:
                if notify_chat is not None:
                    await self._say(bot, notify_chat, UNDELIVERED)
                await self.residents.mark_unreachable(bot, int(outbound.address))

    # ------------------------------------------------------------------ relay set

    async def _relay_key_set(self) -> set[str]:
        if self._relay_keys is None:
            keys = await self.desk.cadres_with_relays()
            if self._relay_keys is None:
                self._relay_keys = keys
        return self._relay_keys

    async def _relays(self, actor: CadreIdentity) -> list[tuple[str, str]]:
        """(case, state) of the relays this private-chat user runs as a cadre."""
        keys = await self._relay_key_set()
        key = self.desk.actor_key(actor)
        if key not in keys:
            if not self.shared:
                return []
            keys |= await self.desk.cadres_with_relays()  # started on another worker?
            if key not in keys:
                return []
        relays = await self.desk.relays_of(actor)
        if not relays:
            keys.discard(key)
        return relays

    # ------------------------------------------------------------------ reachability

    async def resident_unreachable(self, bot: Any, platform_user_id: str) -> None:
        """The resident blocked the bot: the desk records it on their open case; the relay's
        cadre and the groups that have the card are told."""
        key = self.residents.key_for(platform_user_id)
        marked = await self.desk.resident_unreachable(key, "telegram: the bot is blocked")
        if marked is None:
            return
        self.stats["cases_marked_unreachable"] += 1
        text = UNREACHABLE.format(code=marked.case)
        for notice in marked.notices:  # the relay's cadre
            await self.residents.deliver(bot, dataclasses.replace(notice, text=text))
        refs = [parse_ref(ref) for ref in marked.card_refs]
        for group in sorted({ref[0] for ref in refs if ref is not None}):
            await self._say(bot, group, text)

    async def resident_reachable(self, platform_user_id: str) -> None:
        """The resident unblocked the bot (or wrote again): the open case says so."""
        await self.desk.resident_reachable(self.residents.key_for(platform_user_id), "telegram")

    # ------------------------------------------------------------------ helpers

    def _count(self, action: str, result: ActionResult) -> None:
        self.stats[f"cadre_{action}_{'ok' if result.ok else result.error or 'refused'}"] += 1

    async def _can_write(self, bot: Any, chat_id: int) -> bool:
        """Can the bot write to this private chat (has the cadre ever started it)?"""
        try:
            await bot.send_chat_action(chat_id, "typing")
        except TelegramError:
            return False
        return True

    async def _say(
        self,
        bot: Any,
        chat_id: int,
        text: str,
        *,
        reply_to: int | None = None,
        keyboard: InlineKeyboardMarkup | None = None,
    ) -> Message | None:
        plain, entities = format_text(text)
        try:
            return await bot.send_message(
                chat_id,
                plain,
                entities=[MessageEntity(e["type"], e["offset"], e["length"]) for e in entities]
                or None,
                reply_markup=keyboard,
                reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True)
                if reply_to
                else None,
            )
        except TelegramError as exc:
            log.warning("could not send a message to a cadre chat: %s", type(exc).__name__)
            return None

    async def _edit(self, message: Message, text: str) -> None:
        try:
            await message.edit_text(text)
        except TelegramError as exc:
            log.info("could not edit a cadre message: %s", type(exc).__name__)
