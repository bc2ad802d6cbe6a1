"""bot/app.py: the runtime on either database, and what PostgreSQL requires."""

from __future__ import annotations

import pytest

from bot.app import build_runtime
from bot.config import ConfigError, choose_database, parse_config
from bot.crypto import KEY_ENV, generate_key
from flows.messages import Inbound
from storage.keys import SECRET_ENV
from tests.conftest import REAL_CONTENT

pytestmark = pytest.mark.both_backends


async def test_the_runtime_answers_and_escalates_on_each_backend(
    database, backend, tmp_path, monkeypatch
):
    monkeypatch.setenv(SECRET_ENV, "a-shared-secret")
    monkeypatch.setenv(KEY_ENV, generate_key())
    runtime = await build_runtime(
        parse_config({}), content_dir=REAL_CONTENT, db_path=str(database)
    )
    try:
        assert runtime.database.postgres is (backend == "postgres")
        await runtime.conversations.handle("telegram", "42", Inbound(text="/start"))
        await runtime.conversations.handle("telegram", "42", Inbound(choice="setuju"))
        turn = await runtime.conversations.handle(
            "telegram", "42", Inbound(text="aku mau bunuh diri malam ini")
        )
        assert any(e.name == "escalation_created" for e in turn.events)
        assert "119" in "\n".join(r.text for r in turn.replies)
        assert await runtime.store.load_session(turn.user_key) is not None
    finally:
        await runtime.close()


@pytest.mark.sqlite_only
def test_postgres_needs_the_shared_secret_and_key_from_the_environment(monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    monkeypatch.delenv(KEY_ENV, raising=False)
    url = "postgresql://teman@db.example/temanjiwa"
    with pytest.raises(ConfigError, match=f"{SECRET_ENV} and {KEY_ENV}"):
        choose_database(parse_config({}), url)
    monkeypatch.setenv(SECRET_ENV, "s")
    monkeypatch.setenv(KEY_ENV, generate_key())
    chosen = choose_database(parse_config({}), url)
    assert chosen.postgres and chosen.target == url and chosen.sqlite_path is None


@pytest.mark.sqlite_only
def test_the_database_setting_order(monkeypatch, tmp_path):
    monkeypatch.delenv("TEMANJIWA_DATABASE_URL", raising=False)
    config = parse_config({"database": str(tmp_path / "from-config.db")})
    assert choose_database(config).sqlite_path == tmp_path / "from-config.db"
    assert choose_database(config, tmp_path / "cli.db").sqlite_path == tmp_path / "cli.db"
    monkeypatch.setenv("TEMANJIWA_DATABASE_URL", str(tmp_path / "env.db"))
    assert choose_database(config).sqlite_path == tmp_path / "env.db"
