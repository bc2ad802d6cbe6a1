"""The simulator: a phone-like chat with the real bot on the folder's last good content.

The bot is bot/app.py's `build_studio_bot`: the engine, crisis detector, escalation,
cadre desk and dispatcher of a real deployment, on a SQLite file in a temporary directory
that `close` deletes (never the deployment's database). Before each message the newest
good content of the `ContentWatch` is put in, as the running bot's ContentWatcher does;
while the folder is broken the last good version keeps running and the page says so.
Each turn is rendered by both channels' own renderers, so the page can switch between
Telegram and WhatsApp at any time. "Mulai lagi" is a new resident.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot.app import StudioBot, build_studio_bot
from bot.config import Config
from bot.conversations import Turn
from bot.studio.watch import ContentWatch, Snapshot
from flows.i18n import _
from flows.messages import Inbound
from flows.runtime import openable_flows

View = Literal["telegram", "whatsapp"]
VIEWS: tuple[View, ...] = ("telegram", "whatsapp")
CHANNEL = "studio"  # the residents' channel name: one resident, whichever view is shown
#: What a new resident's first message is: Telegram's Start button, a WhatsApp greeting,
#: and with a flow, what a poster's link sends (a deep link, the prefilled "mulai" text).
OPENERS: dict[View, str] = {"telegram": "/start", "whatsapp": "Halo"}
OPENERS_TO_FLOW: dict[View, str] = {"telegram": "/start {flow}", "whatsapp": "mulai {flow}"}
MAX_TEXT = 10_000  # longer than the engine's own limit, so its "too long" answer shows


class NoGoodContent(Exception):
    """The folder has never linted clean since the studio started: nothing to run."""


@dataclass
class Resident:
    """One simulated resident: the chat as shown, and what happened beside it."""

    number: int
    chat: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    cards: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)  # messages for other people
    node: str | None = None
    turns: int = 0

    @property
    def platform_id(self) -> str:
        return f"warga-{self.number}"


def content_status(snapshot: Snapshot) -> dict[str, Any]:
    """What the simulator runs, in the editor's words."""
    if snapshot.good is None:
        status, message = "none", _(
            "The simulator cannot start: the content has errors and no good version was "
            "read since the studio started. Fix the problems above.")
    elif snapshot.errors:
        status, message = "stale", _(
            "The content has errors: the simulator keeps running the last good version "
            "until they are fixed.")
    else:
        status, message = "ok", _(
            "The simulator runs the content as saved; a change is used from the next "
            "message.")
    return {"version": snapshot.version, "status": status, "message": message,
            "crisis_detection": snapshot.detector is not None}


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """Event data as JSON (dates and other values as text)."""
    return json.loads(json.dumps(data, ensure_ascii=False, default=str))


class Simulator:
    """The simulated residents of one studio; one turn at a time."""

    def __init__(self, watch: ContentWatch, config: Config):
        self.watch = watch
        self.config = config
        self.resident = Resident(1)
        self._lock = asyncio.Lock()
        self._bot: StudioBot | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._running: Snapshot | None = None  # the snapshot whose good content runs

    @property
    def database(self) -> Path | None:
        """The throwaway database file, once the bot is built."""
        return self._bot.runtime.db_path if self._bot else None

    async def snapshot(self) -> Snapshot:
        return await asyncio.to_thread(self.watch.current)

    async def state(self) -> dict[str, Any]:
        snapshot = await self.snapshot()
        resident = self.resident
        flows = []
        if snapshot.good is not None:
            titles = {f.id: f.title for f in snapshot.good.flows.values()}
            flows = [{"id": flow_id, "title": titles.get(flow_id, flow_id)}
                     for flow_id in sorted(set(openable_flows(snapshot.good).values()))]
        return {
            "resident": resident.number, "chat": resident.chat, "events": resident.events,
            "cards": resident.cards, "notes": resident.notes, "node": resident.node,
            "content": content_status(snapshot), "flows": flows,
        }

    async def restart(self, view: View, flow: str | None = None) -> dict[str, Any]:
        """A new resident, who sends the first message a real one would."""
        async with self._lock:
            self.resident = Resident(self.resident.number + 1)
            opener = OPENERS_TO_FLOW[view].format(flow=flow) if flow else OPENERS[view]
            await self._turn(view, Inbound(text=opener), shown=opener)
        return await self.state()

    async def send_text(self, view: View, text: str) -> dict[str, Any]:
        async with self._lock:
            await self._turn(view, Inbound(text=text[:MAX_TEXT]), shown=text[:MAX_TEXT])
        return await self.state()

    async def press(self, view: View, data: str) -> dict[str, Any]:
        """A pressed Telegram button (its callback_data) or WhatsApp button or list row
        (its id)."""
        async with self._lock:
            bot = await self._bot_for(await self.snapshot())
            chat = self.resident.chat
            if view == "telegram":
                label = _telegram_label(chat, data) or data
                await self._turn(view, bot.telegram_press(data), shown=label, kind="press",
                                 pressed=data)
            else:
                label = _whatsapp_label(chat, data) or data
                await self._turn(view, bot.whatsapp_press(data), shown=label, kind="press")
        return await self.state()

    async def close(self) -> None:
        """Close the database and delete its directory."""
        async with self._lock:
            if self._bot is not None:
                await self._bot.runtime.close()
                self._bot = None
            if self._tmp is not None:
                self._tmp.cleanup()
                self._tmp = None

    async def _bot_for(self, snapshot: Snapshot) -> StudioBot:
        if snapshot.good is None:
            raise NoGoodContent()
        if self._bot is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="temanjiwa-studio-",
                                                    ignore_cleanup_errors=True)
            self._bot = await build_studio_bot(
                self.config, snapshot.good, snapshot.detector,
                content_dir=self.watch.directory, db_path=Path(self._tmp.name) / "simulator.db")
        elif self._running is None or snapshot.good is not self._running.good:
            self._bot.runtime.engine.replace_content(snapshot.good, snapshot.detector)
        self._running = snapshot
        return self._bot

    async def _turn(self, view: View, inbound: Inbound, *, shown: str | None = None,
                    kind: str = "text", pressed: str | None = None) -> Turn:
        bot = await self._bot_for(await self.snapshot())
        resident = self.resident
        if shown is not None:  # a press shows as the resident's bubble only on WhatsApp
            resident.chat.append({"from": "resident", "kind": kind, "text": shown})
        runtime = bot.runtime
        turn = await runtime.conversations.handle(CHANNEL, resident.platform_id, inbound)
        resident.turns += 1
        number = resident.turns
        if pressed is not None:
            _mark_pressed(bot, resident.chat, pressed, _is_stale(bot, turn))
        resident.chat.append({"from": "bot", "turn": number, "telegram": bot.telegram(turn.replies),
                              "whatsapp": bot.whatsapp(turn.replies)})
        resident.events += [{"turn": number, "name": e.name, "data": _plain(e.data)}
                            for e in turn.events]
        resident.cards += [{"turn": number, "text": card} for card in await bot.deliver_cards()]
        resident.notes += [{"turn": number, "channel": o.channel, "text": o.text}
                           for o in turn.outbound]
        stored = await runtime.store.load_session(turn.user_key)
        resident.node = stored.session.position if stored else None
        return turn


def _is_stale(bot: StudioBot, turn: Turn) -> bool:
    """Did the engine take the press as one on an old message? (as the Telegram channel)"""
    if any(e.name in ("stale_button", "stale_choice") for e in turn.events):
        return True
    stale = bot.runtime.engine.system_text("stale_button").strip()
    return bool(turn.replies and turn.replies[0].text.strip() == stale)


def _mark_pressed(bot: StudioBot, chat: list[dict[str, Any]], data: str, stale: bool) -> None:
    """Edit the Telegram message whose keyboard had the pressed button, newest first."""
    for item in reversed(chat):
        for i, message in enumerate(item.get("telegram", ())):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            if any(button.get("callback_data") == data for row in rows for button in row):
                item["telegram"][i] = bot.telegram_pressed(message, data, stale)
                return


def _telegram_label(chat: list[dict[str, Any]], data: str) -> str | None:
    for item in reversed(chat):
        for message in item.get("telegram", ()):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            for button in (b for row in rows for b in row):
                if button.get("callback_data") == data:
                    return button["text"]
    return None


def _whatsapp_label(chat: list[dict[str, Any]], reply_id: str) -> str | None:
    """The title WhatsApp shows in the resident's bubble for a button or list row."""
    for item in reversed(chat):
        for body in item.get("whatsapp", ()):
            action = body.get("interactive", {}).get("action", {})
            options = [b["reply"] for b in action.get("buttons", ())]
            options += [row for section in action.get("sections", ()) for row in section["rows"]]
            for option in options:
                if option["id"] == reply_id:
                    return option["title"]
    return None
