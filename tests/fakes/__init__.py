"""Test doubles that speak real protocols over 127.0.0.1 (no network, no mocks of our code)."""

from tests.fakes.telegram_api import Call, FakeTelegram, running_application

__all__ = ["Call", "FakeTelegram", "running_application"]
