"""`temanjiwa chat`: the bot in a terminal, for trying flows and for tests and tools.

Interactive mode numbers the choices; `--jsonl` is the stable machine protocol:
stdin `{"text": …}` or `{"choice": …}` per line, stdout one JSON object per line
(`message`, `event`, `await`). Logs go to stderr only.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

from bot.conversations import Conversations, Turn
from flows.messages import Event, Inbound, Reply

CHANNEL = "console"


def reply_as_json(reply: Reply) -> dict[str, Any]:
    choices = []
    for c in reply.choices:
        item: dict[str, Any] = {"id": c.id, "label": c.label}
        if c.value is not None:
            item["value"] = c.value
        choices.append(item)
    return {"type": "message", "text": reply.text, "choices": choices, "node": reply.node}


def parse_jsonl_input(line: str) -> Inbound | None:
    """One stdin line → Inbound; None for a line that is not a JSON object we understand."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("choice"), str):
        return Inbound(choice=data["choice"], node=data.get("node"))
    if isinstance(data.get("text"), str):
        return Inbound(text=data["text"])
    if isinstance(data.get("media"), str):
        return Inbound(media=data["media"])
    return None


async def _read_line(stream: TextIO) -> str:
    return await asyncio.to_thread(stream.readline)


class ConsoleChat:
    """Drives one resident's conversation from a text stream."""

    def __init__(self, conversations: Conversations, user_id: str = "console", *,
                 stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout,
                 on_turn: Callable[[Turn], Awaitable[list[str]]] | None = None):
        self.conversations = conversations
        self.user_id = user_id
        self.stdin = stdin
        self.stdout = stdout
        self.on_turn = on_turn  # e.g. cadre alerts to show after each turn
        self._last: Reply | None = None

    def _write_json(self, obj: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self.stdout.flush()

    async def run_jsonl(self) -> int:
        self._write_json({"type": "await"})
        while line := await _read_line(self.stdin):
            if not line.strip():
                continue
            inbound = parse_jsonl_input(line)
            if inbound is None:
                self._write_json({"type": "error", "error": "expected {\"text\": …} or "
                                  "{\"choice\": …}"})
                self._write_json({"type": "await"})
                continue
            if inbound.choice is not None and inbound.node is None and self._last:
                inbound = Inbound(choice=inbound.choice, node=self._last.node or None)
            turn = await self.conversations.handle(CHANNEL, self.user_id, inbound)
            for reply in turn.replies:
                self._write_json(reply_as_json(reply))
            for event in turn.events:
                self._write_json(event_as_json(event))
            if turn.replies:
                self._last = turn.replies[-1]
            if self.on_turn:
                for note in await self.on_turn(turn):
                    self._write_json({"type": "cadre_alert", "text": note})
            self._write_json({"type": "await"})
        return 0

    async def run_interactive(self) -> int:
        out = self.stdout
        out.write("Teman Jiwa — percakapan di terminal. Ketik pesan; angka memilih jawaban. "
                  "Ctrl-D untuk keluar.\n\n")
        turn = await self.conversations.handle(CHANNEL, self.user_id, Inbound(text="/start"))
        await self._show(turn)
        while True:
            out.write("> ")
            out.flush()
            line = await _read_line(self.stdin)
            if not line:
                out.write("\n")
                return 0
            text = line.rstrip("\n")
            inbound = self._interpret(text)
            turn = await self.conversations.handle(CHANNEL, self.user_id, inbound)
            await self._show(turn)

    def _interpret(self, text: str) -> Inbound:
        last = self._last
        if last and last.choices and text.strip().isdigit():
            index = int(text.strip()) - 1
            if 0 <= index < len(last.choices):
                return Inbound(choice=last.choices[index].id, node=last.node or None)
        return Inbound(text=text)

    async def _show(self, turn: Turn) -> None:
        out = self.stdout
        for reply in turn.replies:
            if reply.text:
                out.write(f"\n🤖 {reply.text}\n")
            for i, choice in enumerate(reply.choices, start=1):
                out.write(f"   {i}. {choice.label}\n")
        if turn.replies:
            self._last = turn.replies[-1]
        if self.on_turn:
            for note in await self.on_turn(turn):
                out.write(f"\n📣 [kader] {note}\n")
        out.write("\n")
        out.flush()


def event_as_json(event: Event) -> dict[str, Any]:
    return event.as_dict()
