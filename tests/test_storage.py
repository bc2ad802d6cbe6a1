"""SQLite store and the Conversations service on real files."""

from __future__ import annotations

import os
import sqlite3
import stat
from datetime import UTC, datetime

from flows.messages import Inbound
from flows.session import Session
from storage.keys import load_secret, user_key
from storage.migrations import MIGRATIONS
from storage.sqlite import SqliteStore


async def test_migrations_and_pragmas(store, tmp_path):
    assert await store.schema_version() == len(MIGRATIONS)
    async with store.reader.execute("PRAGMA journal_mode") as cursor:
        assert (await cursor.fetchone())[0] == "wal"
    # opening again applies nothing new and keeps data
    async with store.transaction() as tx:
        await tx.save_session("k", Session(), datetime.now(UTC))
    await store.close()
    again = SqliteStore(tmp_path / "t.db")
    await again.open()
    assert await again.load_session("k") is not None
    await again.close()
    await store.open()


async def test_every_per_resident_table_has_user_key(store):
    db = sqlite3.connect(store.path)
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    for table in ("sessions", "results"):
        assert table in tables
        columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
        assert "user_key" in columns
    db.close()


async def test_first_delivery_deduplicates(store):
    now = datetime.now(UTC)
    assert await store.first_delivery("telegram", "1", now)
    assert not await store.first_delivery("telegram", "1", now)
    assert await store.first_delivery("whatsapp", "1", now)


def test_user_key_is_an_hmac_not_the_id():
    key = user_key(b"s", "telegram", "12345")
    assert "12345" not in key and len(key) == 64
    assert key != user_key(b"other", "telegram", "12345")
    assert key != user_key(b"s", "whatsapp", "12345")


def test_secret_file_is_created_once_with_mode_0600(tmp_path, monkeypatch):
    monkeypatch.delenv("TEMANJIWA_SECRET", raising=False)
    db = tmp_path / "x.db"
    first = load_secret(db)
    assert load_secret(db) == first
    mode = stat.S_IMODE(os.stat(str(db) + ".secret").st_mode)
    assert mode == 0o600
    monkeypatch.setenv("TEMANJIWA_SECRET", "from-env")
    assert load_secret(db) == b"from-env"


async def test_conversation_state_and_results_persist_without_platform_ids(conversations,
                                                                          store):
    steps = [Inbound(text="/start quiz"), Inbound(choice="setuju"), Inbound(choice="dewasa"),
             Inbound(choice="lewati"), Inbound(choice="mulai"), Inbound(choice="hampir_tiap_hari"),
             Inbound(choice="tidak_pernah")]
    for inbound in steps:
        turn = await conversations.handle("telegram", "987654321", inbound)
    assert any(e.name == "screening_completed" for e in turn.events)
    history = await store.history(turn.user_key)
    assert [(h.instrument, h.score, h.band) for h in history] == [("quiz", 3.0, "high")]
    raw = store.path.read_bytes() + (store.path.parent / "t.db-wal").read_bytes()
    assert b"987654321" not in raw


async def test_minors_results_are_not_stored(conversations, store):
    steps = [Inbound(text="/start quiz"), Inbound(choice="setuju"), Inbound(choice="remaja"),
             Inbound(choice="lewati"), Inbound(choice="mulai"), Inbound(choice="tidak_pernah"),
             Inbound(choice="tidak_pernah")]
    for inbound in steps:
        turn = await conversations.handle("telegram", "42", inbound)
    assert any(e.name == "screening_completed" for e in turn.events)
    assert await store.history(turn.user_key) == []


async def test_delete_removes_every_row_of_the_resident(conversations, store):
    for inbound in [Inbound(text="/start quiz"), Inbound(choice="setuju"),
                    Inbound(choice="dewasa"), Inbound(choice="lewati"), Inbound(choice="mulai"),
                    Inbound(choice="tidak_pernah"), Inbound(choice="tidak_pernah"),
                    Inbound(text="/hapus"), Inbound(choice="ya")]:
        turn = await conversations.handle("telegram", "7", inbound)
    assert "dihapus" in turn.replies[0].text
    db = sqlite3.connect(store.path)
    for table in ("sessions", "results"):
        count = db.execute(f"SELECT count(*) FROM {table} WHERE user_key=?",
                           (turn.user_key,)).fetchone()[0]
        assert count == 0, table
    db.close()


async def test_history_is_shown_from_storage(conversations):
    for inbound in [Inbound(text="/start quiz"), Inbound(choice="setuju"),
                    Inbound(choice="dewasa"), Inbound(choice="lewati"), Inbound(choice="mulai"),
                    Inbound(choice="tidak_pernah"), Inbound(choice="beberapa_hari")]:
        await conversations.handle("console", "h", inbound)
    turn = await conversations.handle("console", "h", Inbound(text="menu"))
    turn = await conversations.handle("console", "h", Inbound(choice="riwayat"))
    assert "Tes Singkat, skor 1 (rendah)" in turn.replies[0].text


async def test_per_resident_order_is_kept_under_concurrency(conversations):
    import asyncio

    await conversations.handle("console", "c", Inbound(text="/start quiz"))
    await conversations.handle("console", "c", Inbound(choice="setuju"))
    await conversations.handle("console", "c", Inbound(choice="dewasa"))
    await conversations.handle("console", "c", Inbound(choice="lewati"))
    await conversations.handle("console", "c", Inbound(choice="mulai"))
    turns = await asyncio.gather(
        conversations.handle("console", "c", Inbound(choice="hampir_tiap_hari")),
        conversations.handle("console", "c", Inbound(choice="hampir_tiap_hari")),
    )
    assert turns[0].replies[-1].node == "quiz.q2"
    assert any(e.name == "screening_completed" and e.data["score"] == 6 for e in turns[1].events)


async def test_a_failed_write_still_answers_with_hotlines_and_keeps_the_session(
        conversations, store):
    await conversations.handle("console", "f", Inbound(text="halo"))
    before = await store.load_session(conversations.key_for("console", "f"))
    await store._write.execute("CREATE TRIGGER no_write BEFORE UPDATE ON sessions "
                               "BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
    turn = await conversations.handle("console", "f", Inbound(choice="setuju"))
    assert [e.name for e in turn.events] == ["storage_error"]
    assert "SEJIWA 119 ext 8" in turn.replies[0].text
    after = await store.load_session(conversations.key_for("console", "f"))
    assert after.session == before.session


async def test_group_commit_commits_every_waiting_turn(store):
    import asyncio

    now = datetime.now(UTC)

    async def turn(i: int) -> None:
        async with store.transaction() as tx:
            await tx.save_session(f"k{i}", Session(), now)

    await asyncio.gather(*(turn(i) for i in range(50)))
    for i in range(50):
        assert await store.load_session(f"k{i}") is not None


async def test_a_failing_turn_rolls_back_its_batch_and_no_turn_claims_success(store):
    import asyncio

    from storage.sqlite import StorageError

    now = datetime.now(UTC)
    second_queued = asyncio.Event()

    async def first() -> None:
        async with store.transaction() as tx:
            await tx.save_session("first", Session(), now)
            await second_queued.wait()  # the failing turn now waits for the lock

    async def failing() -> None:
        second_queued.set()
        async with store.transaction() as tx:
            await tx.save_session("failing", Session(), now)
            raise RuntimeError("handler bug")

    async def later() -> None:
        await asyncio.sleep(0.05)
        async with store.transaction() as tx:
            await tx.save_session("later", Session(), now)

    results = await asyncio.gather(first(), failing(), later(), return_exceptions=True)
    assert isinstance(results[0], StorageError)  # its writes were in the rolled-back batch
    assert isinstance(results[1], RuntimeError)
    assert results[2] is None
    assert await store.load_session("first") is None
    assert await store.load_session("failing") is None
    assert await store.load_session("later") is not None
