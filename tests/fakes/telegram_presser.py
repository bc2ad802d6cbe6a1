"""A closed-loop button presser for benchmarks: a simulated resident in every chat presses
a button of each new inline keyboard the bot posts, until a number of presses is used up.

Lives next to the fake server (runs in its process) so the bot's process pays nothing for
the load generator. One press in flight per chat: a turn that posts two keyboards is
pressed once. The time from a press to the bot's next keyboard in that chat is recorded.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

PressFn = Callable[[int, str, int], Any]  # (chat_id, callback_data, message_id)


class AutoPresser:
    def __init__(self, presses: int, prefer: Sequence[str], press: PressFn) -> None:
        self.left = presses
        self.prefer = tuple(p.lower() for p in prefer)
        self.pressed = 0
        self._press = press
        self._waiting: dict[int, float] = {}  # chat -> when its press was pushed
        self.latencies: list[float] = []

    def choose(self, rows: list[list[tuple[str, str | None]]]) -> str | None:
        buttons = [(text.lower(), data) for row in rows for text, data in row if data]
        for wanted in self.prefer:
            for text, data in buttons:
                if text.startswith(wanted):
                    return data
        return buttons[0][1] if buttons else None

    def seen(
        self, chat_id: int, message: dict[str, Any], rows: list[list[tuple[str, str | None]]]
    ) -> None:
        """The bot posted or edited `message` (with `rows` of buttons) in `chat_id`."""
        if self.left <= 0 or not rows:
            return
        pushed = self._waiting.pop(chat_id, None)
        if pushed is not None:
            self.latencies.append(time.perf_counter() - pushed)
        data = self.choose(rows)
        if data is None:
            return
        self.left -= 1
        self.pressed += 1
        self._waiting[chat_id] = time.perf_counter()
        self._press(chat_id, data, message["message_id"])

    def stats(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        return {
            "pressed": self.pressed,
            "left": self.left,
            "in_flight": len(self._waiting),
            "p50_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
            "p99_ms": round(lat[max(0, int(len(lat) * 0.99) - 1)] * 1000, 1) if lat else None,
        }
