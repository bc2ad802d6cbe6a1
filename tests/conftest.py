"""Shared fixtures: the small fixture content set, and a real store.

`store` (and `database`, the place it lives) is a real SQLite file in tmp_path; in a test
marked `both_backends` it is that and, as a second run of the test, a fresh database on a
real PostgreSQL server (tests/support/databases.py). Outside CI, the PostgreSQL runs skip
with the reason when no server can be started; in CI (CI set) they fail instead.
"""

from __future__ import annotations

import asyncio
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
from storage import make_store
from storage.postgres import PostgresStore
from tests.support.cluster import ServerUnavailable
from tests.support.databases import PostgresServer

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


BACKENDS = ("sqlite", "postgres")


def pytest_configure(config):
    config.addinivalue_line("markers", "both_backends: run the test on SQLite and on PostgreSQL")
    config.addinivalue_line("markers", "sqlite_only: not on PostgreSQL (in a both_backends module)")


def pytest_generate_tests(metafunc):
    marked = metafunc.definition.get_closest_marker
    if "backend" in metafunc.fixturenames and marked("both_backends") and not marked("sqlite_only"):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@pytest.fixture
def backend(request) -> str:
    """"sqlite", or per test marked `both_backends` also "postgres"."""
    return getattr(request, "param", "sqlite")


def _migrate(url: str) -> None:
    async def run() -> None:
        store = PostgresStore(url)
        await store.open()
        await store.close()

    asyncio.run(run())


@pytest.fixture(scope="session")
def postgres_server():
    try:
        server = PostgresServer.start()
        server.prepare_template(_migrate)
    except ServerUnavailable as exc:
        message = f"PostgreSQL tests need a server: {exc}"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    yield server
    server.stop()


@pytest.fixture
def database(backend, tmp_path, request):
    """Where this test's store lives: an SQLite path, or the URL of a fresh PostgreSQL
    database (dropped after the test)."""
    if backend == "sqlite":
        yield tmp_path / "t.db"
        return
    server = request.getfixturevalue("postgres_server")
    url = server.create_database()
    yield url
    server.drop_database(url)


@pytest.fixture
async def store(database):
    store = make_store(database)
    await store.open()
    yield store
    await store.close()


@pytest.fixture
def conversations(engine, store):
    return Conversations(engine, store, b"test-secret")
