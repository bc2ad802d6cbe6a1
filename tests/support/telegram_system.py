"""A whole Telegram deployment for end-to-end tests (no tests here): the real content/id,
a real SQLite file, escalation installed, `start_telegram` (polling or webhook) against
the fake Bot API on 127.0.0.1, and optionally the outbox dispatcher running. As in
production, `build_runtime` installs escalation and `start_telegram` attaches its alert
sender to the runtime's `RoutingAlertSender`."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.app import EscalationKit, Runtime, build_runtime, start_telegram
from bot.cases.dispatcher import Backoff
from bot.telegram import TelegramHandle
from tests.conftest import REAL_CONTENT
from tests.fakes import FakeTelegram
from tests.support.escalation import KADER_GROUP, PUSKESMAS_GROUP, make_config

GUARD = 15.0  # seconds: only a failure guard, nothing is timed
RESIDENT = 810001
CADRE = 920001  # a member of the Kader Ngunut group ("Bu Sri")
STRANGER = 940001  # a member of no cadre group
GROUP = KADER_GROUP
OTHER_GROUP = PUSKESMAS_GROUP


@dataclass
class System:
    tg: FakeTelegram
    db_path: Path
    runtime: Runtime | None = None
    kit: EscalationKit | None = None
    handle: TelegramHandle | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _dispatcher: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls,
        tg: FakeTelegram,
        db_path: Path,
        *,
        dispatcher: bool = True,
        env: dict[str, str] | None = None,
        config: dict[str, Any] | None = None,
        clock: Any = None,
        **kwargs: Any,
    ) -> System:
        system = cls(tg, db_path)
        await system.boot(dispatcher=dispatcher, env=env, config=config, clock=clock, **kwargs)
        return system

    async def boot(
        self,
        *,
        dispatcher: bool = True,
        env: dict[str, str] | None = None,
        config: dict[str, Any] | None = None,
        clock: Any = None,
        **kwargs: Any,
    ) -> None:
        tg = self.tg
        tg.add_chat(GROUP, chat_type="supergroup", title="Kader Ngunut")
        tg.add_chat(OTHER_GROUP, chat_type="supergroup", title="Puskesmas Ngunut")
        cfg = make_config(**(config or {}))
        extra = {"clock": clock} if clock is not None else {}  # a controllable clock
        self.runtime = await build_runtime(cfg, content_dir=REAL_CONTENT, db_path=self.db_path,
                                           **extra)
        self.kit = self.runtime.escalation
        self.kit.dispatcher.backoff = Backoff(base=0.01, factor=1.0, cap=0.01)
        full_env = {"TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_BASE_URL": tg.base_url}
        full_env.update(env or {})
        kwargs.setdefault("rate_limiter", None)
        kwargs.setdefault("poll_timeout", 5)
        handle = await start_telegram(self.runtime, full_env, **kwargs)
        assert handle is not None
        self.handle = handle
        self._stop = asyncio.Event()
        if dispatcher:
            self._dispatcher = asyncio.create_task(
                self.kit.dispatcher.run_forever(self._stop, interval=0.02)
            )

    async def shutdown(self) -> None:
        self._stop.set()
        if self._dispatcher is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
            self._dispatcher = None
        if self.handle is not None:
            await self.handle.stop()
        if self.runtime is not None:
            await self.runtime.close()

    async def restart(self, **kwargs: Any) -> None:
        """A new Application, dispatcher and store on the same database file."""
        await self.shutdown()
        await self.boot(**kwargs)

    @property
    def app(self) -> Any:
        assert self.handle is not None
        return self.handle.app

    @property
    def channel(self) -> Any:
        assert self.handle is not None
        return self.handle.channel

    # ------------------------------------------------------------------ driving

    async def settle(self) -> None:
        """Every pushed update fetched (polling) and fully handled."""
        if self.handle is not None and self.handle.mode == "polling":
            await self.tg.wait_acked(timeout=GUARD)
        await asyncio.wait_for(self.app.update_queue.join(), GUARD)
        if self.runtime is not None:  # webhook mode: updates are served from the inbox
            await asyncio.wait_for(self.runtime.inbox.wait_idle(), GUARD)

    async def say(self, chat: int, text: str, user: int | None = None, **kw: Any) -> dict:
        pushed = self.tg.push_message(chat, user or chat, text, **kw)
        await self.settle()
        return pushed

    async def press(self, chat: int, user: int, label: str) -> dict:
        """Press a button of the latest keyboard in `chat`, once it shows one labelled
        `label` (case cards change as the dispatcher edits them)."""

        def shown() -> bool:
            message = self.tg.last_bot_message(chat, with_keyboard=True)
            return message is not None and any(
                text == label for row in self.tg.buttons(message) for text, _ in row
            )

        await self.tg.wait_until(shown, GUARD, what=f"a button {label!r} in chat {chat}")
        pushed = self.tg.press(chat, user, label)
        await self.settle()
        return pushed

    async def choose(self, chat: int, choice_id: str) -> dict:
        """Press the button of the latest keyboard whose choice id is `choice_id`."""
        message = self.tg.last_bot_message(chat, with_keyboard=True)
        assert message is not None, self.tg.transcript(chat)[-5:]
        for row in self.tg.buttons(message):
            for _label, data in row:
                if data and data.endswith(f"|{choice_id}"):
                    pushed = self.tg.push_callback(chat, chat, data, message["message_id"])
                    await self.settle()
                    return pushed
        raise AssertionError(f"no button {choice_id!r} in {self.tg.buttons(message)}")

    async def onboard(self, chat: int = RESIDENT) -> None:
        await self.say(chat, "/start")
        for choice in ("setuju", "dewasa", "ngunut"):
            await self.choose(chat, choice)

    async def wait_card(self, code: str, chat: int = GROUP) -> Any:
        return await self.tg.wait_for(
            lambda c: c.method == "sendMessage" and c.ok and code in (c.text or ""),
            chat_id=chat,
            timeout=GUARD,
        )

    # ------------------------------------------------------------------ reading

    def rows(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        conn = sqlite3.connect(self.db_path)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def case_code(self) -> str:
        (row,) = self.rows("SELECT code FROM cases")
        return row["code"]

    def events(self, kind: str) -> list[sqlite3.Row]:
        return self.rows("SELECT * FROM case_events WHERE kind = ? ORDER BY id", kind)

    def texts(self, chat: int, since: int = 0) -> list[str]:
        return [
            c.result.get("text", "")
            for c in self.tg.calls[since:]
            if c.method == "sendMessage" and c.ok and c.chat_id == chat
        ]
