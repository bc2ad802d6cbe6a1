"""Telegram channel on python-telegram-bot: residents in private chats, cadres in their
groups and private chats, polling or webhook (bot/telegram/lifecycle.py)."""

from .cadre_chat import TelegramCadres
from .calls import CHANNEL
from .card_sender import TelegramAlertSender
from .channel import (
    COMMANDS,
    TelegramChannel,
    build_application,
    start_polling,
    stop_polling,
)
from .lifecycle import TelegramHandle, TelegramSettings, prepare_telegram, start_telegram

__all__ = [
    "CHANNEL",
    "COMMANDS",
    "TelegramAlertSender",
    "TelegramCadres",
    "TelegramChannel",
    "TelegramHandle",
    "TelegramSettings",
    "build_application",
    "prepare_telegram",
    "start_polling",
    "start_telegram",
    "stop_polling",
]
