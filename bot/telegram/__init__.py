"""Telegram channel for residents (private chats) on python-telegram-bot."""

from .app import (
    CHANNEL,
    COMMANDS,
    TelegramChannel,
    build_application,
    start_polling,
    stop_polling,
)

__all__ = [
    "CHANNEL",
    "COMMANDS",
    "TelegramChannel",
    "build_application",
    "start_polling",
    "stop_polling",
]
