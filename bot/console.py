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


MAX_LINE = 1024 * 1024  # characters of one protocol line; a longer one is refused
FIELDS = ("text", "choice", "media")


def parse_jsonl_input(line: str) -> Inbound | None:
    """One stdin line → Inbound; None for a line that is not a JSON object we understand."""
    inbound, _error = read_jsonl_input(line)
    return inbound


def read_jsonl_input(line: str) -> tuple[Inbound | None, str]:
    """One stdin line → (Inbound, "") or (None, why it cannot be used). Never raises."""
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):  # not JSON, an int over 4,300 digits, deep nesting
        return None, "not a JSON object"
    if not isinstance(data, dict):
        return None, "not a JSON object"
    given = [f for f in FIELDS if data.get(f) is not None]
    if len(given) != 1:
        return None, 'expected exactly one of {"text": …}, {"choice": …} or {"media": …}'
    field = given[0]
    value, node = data[field], data.get("node")
    if not isinstance(value, str) or not _is_unicode(value):
        return None, f'"{field}" must be a string'
    if node is not None and not (isinstance(node, str) and _is_unicode(node)):
        return None, '"node" must be a string'
    if field == "choice":
        return Inbound(choice=value, node=node), ""
    if field == "text":
        return Inbound(text=value), ""
    return Inbound(media=value), ""


def _is_unicode(text: str) -> bool:
    """False for lone surrogates (from "\\ud800" or undecodable input): they cannot be
    stored or written back as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def _read_line(stream: TextIO) -> str:
    return await asyncio.to_thread(stream.readline, MAX_LINE + 1)


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
        self.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
        self.stdout.flush()

    async def run_jsonl(self) -> int:
        if hasattr(self.stdin, "reconfigure"):  # undecodable bytes: a protocol error, not a crash
            self.stdin.reconfigure(errors="surrogateescape")
        self._write_json({"type": "await"})
        while line := await _read_line(self.stdin):
            error = ""
            if len(line) > MAX_LINE and not line.endswith("\n"):
                while (rest := await _read_line(self.stdin)) and not rest.endswith("\n"):
                    pass  # skip the rest of the over-long line
                error = f"line longer than {MAX_LINE} characters"
            elif not line.strip():
                continue
            inbound, error = (None, error) if error else read_jsonl_input(line)
            if inbound is None:
                self._write_json({"type": "error", "error": error})
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
