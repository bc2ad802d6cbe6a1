"""Small Bot API calls shared by the resident side (channel.py) and the cadre side
(cadre_chat.py), and the channel's name."""

from __future__ import annotations

import datetime as dtm
import logging
import warnings
from typing import Any

from telegram.error import RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)

CHANNEL = "telegram"


async def answer_query(query: Any, text: str | None, *, alert: bool = False) -> bool:
    """Answer a button press (its spinner stops); False when Telegram refused or was gone."""
    try:
        await query.answer(text=text[:200] if text else None, show_alert=alert)
    except TelegramError as exc:  # too old, already answered, network: nothing to do
        log.info("could not answer a button press: %s", type(exc).__name__)
        return False
    return True


def retry_after_seconds(exc: RetryAfter) -> float:
    """How long Telegram asked to wait after a 429."""
    with warnings.catch_warnings():  # PTB 22 warns that the type will become timedelta
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, dtm.timedelta) else float(wait)
