"""Shared fixtures: the small fixture content set, and a real SQLite store in tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

# Tests assert on the English source strings of linter/CLI messages; the Indonesian
# catalog is checked on its own in tests/test_i18n.py.
os.environ.setdefault("TEMANJIWA_LANG", "en")

import pytest

from bot.conversations import Conversations
from flows.linter import load_content
from flows.messages import Choice
from flows.runtime import Engine, EngineSettings
from storage.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_CONTENT = Path(__file__).parent / "fixtures" / "content"
REAL_CONTENT = ROOT / "content" / "id"


class KeywordDetector:
    """A stand-in detector for engine tests that must not depend on the real lexicon."""

    def detect(self, text: str):
        from types import SimpleNamespace

        lowered = text.lower()
        if "darurat sekarang" in lowered:
            return SimpleNamespace(level="urgent", category="suicide", matched=("darurat",))
        if "mau mati" in lowered:
            return SimpleNamespace(level="high", category="suicide", matched=("mau mati",))
        if "capek hidup" in lowered:
            return SimpleNamespace(level="check", category="suicide", matched=("capek hidup",))
        return None


@pytest.fixture
def fixture_content():
    return load_content(FIXTURE_CONTENT)


@pytest.fixture
def engine(fixture_content):
    settings = EngineSettings(areas=(Choice("ngunut", "Kec. Ngunut"),))
    return Engine(fixture_content, settings, KeywordDetector())


@pytest.fixture
async def store(tmp_path):
    store = SqliteStore(tmp_path / "t.db")
    await store.open()
    yield store
    await store.close()


@pytest.fixture
def conversations(engine, store):
    return Conversations(engine, store, b"test-secret")
