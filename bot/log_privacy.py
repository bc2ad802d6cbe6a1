"""Keeps residents out of the log at every level, including the libraries' own lines.

python-telegram-bot logs at DEBUG every Bot API call with its parameters and every
getUpdates result (chat ids, names, usernames, phone numbers, what the resident typed);
on a parse failure it logs the raw updates even at CRITICAL. httpx logs request URLs
(with the bot token), aiosqlite SQL parameters, uvicorn client addresses. Our own modules
never put content in a message, but an exception's text can carry a value it choked on.

`PrivacyFilter`, attached to the log handler (bot/cli.py), rewrites each record before it
is written:

* records of the libraries (`LIBRARY_LOGGERS`) keep their message template and lose its
  arguments: "Calling Bot API endpoint `<…>` with parameters `<…>`";
* every record's exception keeps its type and traceback (file, line, function) and loses
  its message, which could quote the data.

The level of detail still helps an operator (which call, which module, which line) and no
level lets a chat id, a name or a message through.
"""

from __future__ import annotations

import logging
import traceback

#: Loggers whose arguments may carry platform data (prefixes: "telegram" covers
#: "telegram.ext.Updater", "telegram.Bot", ...).
LIBRARY_LOGGERS = (
    "telegram",
    "httpx",
    "httpcore",
    "uvicorn",
    "aiosqlite",
    "asyncio",
    "starlette",
    "hpack",
    "h11",
    "anyio",
)
REDACTED = "<…>"


def _library(name: str) -> bool:
    return any(name == lib or name.startswith(lib + ".") for lib in LIBRARY_LOGGERS)


def _template(msg: object) -> str:
    """The message with every %-placeholder replaced by REDACTED (never formatted)."""
    text = str(msg) if isinstance(msg, str) else type(msg).__name__
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "%":
            out.append(char)
            i += 1
            continue
        if text.startswith("%%", i):
            out.append("%")
            i += 2
            continue
        j = i + 1
        if j < len(text) and text[j] == "(":
            close = text.find(")", j)
            j = close + 1 if close != -1 else len(text)
        while j < len(text) and text[j] in "#0- +*.0123456789hlL":
            j += 1
        out.append(REDACTED)
        i = j + 1
    return "".join(out)


def _exception_text(exc_info: tuple) -> str:
    kind, _value, tb = exc_info
    frames = "".join(traceback.format_tb(tb)) if tb is not None else ""
    name = getattr(kind, "__qualname__", "Exception")
    return f"Traceback (most recent call last):\n{frames}{name}: {REDACTED}".rstrip()


class PrivacyFilter(logging.Filter):
    """Rewrites records so no platform data reaches the handler (module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _library(record.name):
            if record.args or not isinstance(record.msg, str):
                record.msg = _template(record.msg)
                record.args = None
            else:
                record.msg = _literal(record.msg)
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = _exception_text(record.exc_info)
        if record.stack_info:
            record.stack_info = None
        return True


def _literal(message: str) -> str:
    """A library message without arguments: kept unless it looks like it embeds data.

    Such lines are fixed strings ("Bootstrap done", "Application started"); one that was
    built with an f-string could hold anything, so a long or bracketed one is cut."""
    if len(message) <= 120 and not any(c in message for c in "{}[]'\"@+"):
        return message
    return message[:40].split("{")[0].split("[")[0].split("'")[0] + REDACTED


def install(handler: logging.Handler) -> None:
    """Attach the filter to `handler` (once)."""
    if not any(isinstance(f, PrivacyFilter) for f in handler.filters):
        handler.addFilter(PrivacyFilter())
