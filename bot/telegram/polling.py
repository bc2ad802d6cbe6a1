"""Long polling that survives an update python-telegram-bot cannot read.

PTB parses a whole getUpdates batch at once (`Update.de_list` in `Bot.get_updates`); one
update it cannot read (a Bot API change the pinned library does not know yet, a value
out of range) makes the call raise, the Updater logs it and asks again with the same
offset: the same batch comes back forever and nobody is served.

`TolerantUpdatesRequest` is the getUpdates connection (`ApplicationBuilder.
get_updates_request`); it overrides `parse_json_payload`, PTB's documented place to change
how answers are read. Reading every update twice would cost CPU on every poll, so it acts
only when PTB asks again with the same offset after a non-empty answer, which the Updater
does only when it could not read that answer (PTB has then logged it once, its content
stripped by bot/log_privacy.py). Then each update of the answer is tried on its own, and one that
cannot be read, or that has fields of the wrong type (`parse.malformed`: it would raise
inside PTB or a handler), is replaced by its bare `update_id`: PTB then reads the batch, the Updater
confirms the offset past it as usual, and the channel ignores the empty update. Each one
is counted (`updates_unreadable` on /healthz) and logged by type only, never its content.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.request import HTTPXRequest, RequestData

from .parse import malformed

log = logging.getLogger(__name__)


class TolerantUpdatesRequest(HTTPXRequest):
    """The getUpdates request: unreadable updates become `{"update_id": n}` (docstring)."""

    def __init__(self, stats: Counter[str], **kwargs: Any) -> None:
        kwargs.setdefault("connection_pool_size", 1)  # as PTB's own getUpdates request
        super().__init__(**kwargs)
        self.stats = stats
        self._asked: Any = None  # the offset of the previous getUpdates
        self._answered = 0  # how many updates it returned
        self._careful = False

    async def post(self, url: str, request_data: RequestData | None = None,
                   *args: Any, **kwargs: Any) -> Any:
        offset = request_data.parameters.get("offset") if request_data is not None else None
        # The same offset after a non-empty answer: PTB could not read that answer.
        self._careful = offset is not None and offset == self._asked and self._answered > 0
        result = await super().post(url, request_data, *args, **kwargs)
        self._asked, self._answered = offset, len(result) if isinstance(result, list) else 0
        return result

    def parse_json_payload(self, payload: bytes) -> dict[str, Any]:  # type: ignore[override]
        try:
            data = HTTPXRequest.parse_json_payload(payload)
        except RecursionError:  # nested too deeply for json: not an answer we can use
            raise TelegramError("Invalid server response") from None
        result = data.get("result") if isinstance(data, dict) else None
        if self._careful and isinstance(result, list):
            data["result"] = [u for u in (self._readable(raw) for raw in result) if u]
        return data

    def _readable(self, raw: Any) -> dict[str, Any] | None:
        try:
            problem = malformed(Update.de_json(raw, None))
        except Exception as exc:
            problem = type(exc).__name__
        if problem is None:
            return raw
        update_id = raw.get("update_id") if isinstance(raw, dict) else None
        self.stats["updates_unreadable"] += 1
        log.warning("telegram: skipped an update that cannot be handled (%s)", problem)
        if isinstance(update_id, int) and not isinstance(update_id, bool):
            return {"update_id": update_id}
        return None
