"""bot/log_privacy.py on single records (the whole-process scan is tests/fault/test_log_scan.py)."""

from __future__ import annotations

import io
import logging

from bot.log_privacy import PrivacyFilter

WORDS = "aku ingin bunuh diri"


def _formatted(name: str, msg: str, *args, exc: BaseException | None = None) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PrivacyFilter())
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        if exc is not None:
            try:
                raise exc
            except BaseException:
                logger.exception(msg, *args)
        else:
            logger.warning(msg, *args)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    return stream.getvalue()


def test_library_arguments_are_replaced_and_the_template_kept():
    out = _formatted("telegram.ext.ExtBot", "Calling `%s` with parameters `%r` (%d%%)",
                     "sendMessage", {"chat_id": 5550123, "text": WORDS}, 5)
    assert out.strip() == "Calling `<…>` with parameters `<…>` (<…>%)"


def test_own_messages_stay_as_they_are():
    assert _formatted("bot.serve", "listening on %s:%d", "127.0.0.1", 80).strip() == (
        "listening on 127.0.0.1:80"
    )


def test_an_exception_keeps_its_type_and_lines_but_not_its_message():
    out = _formatted("bot.conversations", "engine failed", exc=ValueError(f"bad {WORDS!r}"))
    assert "ValueError: <…>" in out and "test_log_privacy.py" in out
    assert WORDS not in out


def test_a_library_line_built_with_an_fstring_is_cut():
    out = _formatted("telegram.Bot", f"Error while parsing updates! {{'text': '{WORDS}'}}")
    assert WORDS not in out and out.startswith("Error while parsing updates!")
