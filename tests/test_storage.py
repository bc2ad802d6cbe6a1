"""The stores (real SQLite files, a real PostgreSQL server) and the Conversations service."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from datetime import UTC, datetime

import pytest

from flows.messages import Inbound
from flows.session import Session
from storage import DATABASE_URL_ENV, database_target, make_store, stats
from storage.group_commit import StorageError
from storage.keys import load_secret, user_key
from storage.migrations import MIGRATIONS
from storage.migrations_postgres import POSTGRES_MIGRATIONS
from storage.postgres import PostgresStore
from storage.sqlite import SqliteStore
from tests.support.databases import is_postgres, rows, stored_bytes

pytestmark = pytest.mark.both_backends


async def test_migrations_apply_once_and_keep_data(store, database):
    assert await store.schema_version() == len(MIGRATIONS) == len(POSTGRES_MIGRATIONS)
    async with store.transaction() as tx:
        await tx.save_session("k", Session(), datetime.now(UTC))
    await store.close()
    again = make_store(database)  # opening again applies nothing new and keeps data
    await again.open()
    assert await again.schema_version() == len(MIGRATIONS)
    assert await again.load_session("k") is not None
    await again.close()
    await store.open()


@pytest.mark.sqlite_only
async def test_sqlite_runs_in_wal_mode(store):
    assert (await store.reader.fetchone("PRAGMA journal_mode"))["journal_mode"] == "wal"


async def test_workers_starting_together_migrate_once(postgres_server):
    url = postgres_server.create_database(empty=True)
    try:
        stores = [PostgresStore(url) for _ in range(4)]
        await asyncio.gather(*(s.open() for s in stores))
        assert [await s.schema_version() for s in stores] == [len(POSTGRES_MIGRATIONS)] * 4
        applied = rows(url, "SELECT version FROM schema_version ORDER BY version")
        assert [r[0] for r in applied] == list(range(1, len(POSTGRES_MIGRATIONS) + 1))
        for s in stores:
            await s.close()
    finally:
        postgres_server.drop_database(url)


def _columns(database) -> dict[str, set[str]]:
    if is_postgres(database):
        found = rows(database, "SELECT table_name, column_name FROM information_schema.columns "
                               "WHERE table_schema = current_schema()")
        tables: dict[str, set[str]] = {}
        for table, column in found:
            tables.setdefault(table, set()).add(column)
        tables.pop("schema_version", None)  # PostgreSQL's record of applied steps
        return tables
    names = [r[0] for r in rows(database, "SELECT name FROM sqlite_master WHERE type='table'")]
    return {t: {r[1] for r in rows(database, f"PRAGMA table_info({t})")} for t in names}


async def test_both_schemas_have_the_same_tables_and_columns(tmp_path, postgres_server):
    lite = SqliteStore(tmp_path / "schema.db")
    await lite.open()
    await lite.close()
    url = postgres_server.create_database()
    try:
        assert _columns(url) == _columns(tmp_path / "schema.db")
    finally:
        postgres_server.drop_database(url)


async def test_every_per_resident_table_has_user_key(store, database):
    columns = _columns(database)
    for table in ("sessions", "results", "consent_log", "relays"):
        assert "user_key" in columns[table]


async def test_first_delivery_deduplicates(store):
    now = datetime.now(UTC)
    assert await store.first_delivery("telegram", "1", now)
    assert not await store.first_delivery("telegram", "1", now)
    assert await store.first_delivery("whatsapp", "1", now)


async def test_the_reader_is_read_only(store):
    with pytest.raises(TypeError):
        await store.reader.write("DELETE FROM sessions")
    with pytest.raises(TypeError):
        await store.reader.execute("DELETE FROM sessions")


async def test_a_read_in_the_transaction_sees_its_recorded_writes_and_others_do_not(store):
    now = datetime.now(UTC)
    async with store.transaction() as tx:
        await tx.save_session("seen", Session(), now)
        await tx.add_result("seen", "phq9", 3, "minimal", [], now)
        assert (await tx.fetchone("SELECT count(*) AS n FROM sessions"))["n"] == 1
        assert (await tx.fetchone("SELECT count(*) AS n FROM results"))["n"] == 1
        assert await store.load_session("seen") is None  # not committed yet
    assert await store.load_session("seen") is not None


async def test_counters_are_written_last_in_one_order_whatever_order_turns_bump_them(store):
    """Rows every worker bumps (the stats) go at COMMIT, sorted: two workers' batches take
    them in the same order, so they cannot deadlock on each other."""
    sent: list[str] = []
    real_commit = store._writer.commit

    async def commit(statements):
        sent.extend(str(params[0:3]) for sql, params in statements if "INTO stats" in sql)
        await real_commit(statements)

    store._writer.commit = commit
    async with store.transaction() as tx:
        await stats.bump(tx, ("2026-W48",), "desa", "crisis", "suicide", "high")
        await tx.save_session("a", Session(), datetime.now(UTC))
        await stats.bump(tx, ("2026-W47", "2026-11"), "", "served")
        assert await stats.stat_rows(tx, ["2026-W47"]) == []  # not before COMMIT
    assert sent == sorted(sent) and len(sent) == 3
    counted = {(r.period, r.metric): r.n for r in await stats.stat_rows(store.reader,
                                                                          ["2026-W47",
                                                                           "2026-W48"])}
    assert counted == {("2026-W47", "served"): 1, ("2026-W48", "crisis"): 1}


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


def test_one_setting_selects_the_backend(tmp_path, monkeypatch):
    url = "postgresql://bot@db.internal/temanjiwa"
    assert isinstance(make_store(url), PostgresStore)
    assert isinstance(make_store(tmp_path / "t.db"), SqliteStore)
    assert isinstance(make_store(str(tmp_path / "t.db")), SqliteStore)
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    assert database_target(None, None, tmp_path / "d.db") == tmp_path / "d.db"
    assert database_target(None, "/srv/tj.db", tmp_path / "d.db") == "/srv/tj.db"
    monkeypatch.setenv(DATABASE_URL_ENV, url)
    assert database_target(None, "/srv/tj.db", tmp_path / "d.db") == url
    assert database_target(tmp_path / "cli.db", "/srv/tj.db", "x") == tmp_path / "cli.db"
    assert "secret" not in repr(PostgresStore("postgresql://bot:secret@db/tj"))


async def test_conversation_state_and_results_persist_without_platform_ids(conversations,
                                                                          store, database):
    steps = [Inbound(text="/start quiz"), Inbound(choice="setuju"), Inbound(choice="dewasa"),
             Inbound(choice="lewati"), Inbound(choice="mulai"), Inbound(choice="hampir_tiap_hari"),
             Inbound(choice="tidak_pernah")]
    for inbound in steps:
        turn = await conversations.handle("telegram", "987654321", inbound)
    assert any(e.name == "screening_completed" for e in turn.events)
    history = await store.history(turn.user_key)
    assert [(h.instrument, h.score, h.band) for h in history] == [("quiz", 3.0, "high")]
    raw = stored_bytes(database)
    assert turn.user_key.encode() in raw  # the search below looks where the data is
    assert b"987654321" not in raw


async def test_minors_results_are_not_stored(conversations, store):
    steps = [Inbound(text="/start quiz"), Inbound(choice="setuju"), Inbound(choice="remaja"),
             Inbound(choice="lewati"), Inbound(choice="mulai"), Inbound(choice="tidak_pernah"),
             Inbound(choice="tidak_pernah")]
    for inbound in steps:
        turn = await conversations.handle("telegram", "42", inbound)
    assert any(e.name == "screening_completed" for e in turn.events)
    assert await store.history(turn.user_key) == []


async def test_delete_removes_every_row_of_the_resident(conversations, store, database):
    for inbound in [Inbound(text="/start quiz"), Inbound(choice="setuju"),
                    Inbound(choice="dewasa"), Inbound(choice="lewati"), Inbound(choice="mulai"),
                    Inbound(choice="tidak_pernah"), Inbound(choice="tidak_pernah")]:
        turn = await conversations.handle("telegram", "7", inbound)
    assert rows(database, "SELECT count(*) FROM results WHERE user_key=?", turn.user_key)[0][0]
    for inbound in [Inbound(text="/hapus"), Inbound(choice="ya")]:
        turn = await conversations.handle("telegram", "7", inbound)
    assert "dihapus" in turn.replies[0].text
    for table in ("sessions", "results", "consent_log"):
        count = rows(database, f"SELECT count(*) FROM {table} WHERE user_key=?", turn.user_key)
        assert count[0][0] == 0, table


async def test_history_is_shown_from_storage(conversations):
    for inbound in [Inbound(text="/start quiz"), Inbound(choice="setuju"),
                    Inbound(choice="dewasa"), Inbound(choice="lewati"), Inbound(choice="mulai"),
                    Inbound(choice="tidak_pernah"), Inbound(choice="beberapa_hari")]:
        await conversations.handle("console", "h", inbound)
    turn = await conversations.handle("console", "h", Inbound(text="menu"))
    turn = await conversations.handle("console", "h", Inbound(choice="riwayat"))
    assert "Tes Singkat, skor 1 (rendah)" in turn.replies[0].text


async def test_per_resident_order_is_kept_under_concurrency(conversations):
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


def _refuse_session_updates(database) -> None:
    """A trigger that makes every UPDATE of a session fail, as a broken disk would."""
    if is_postgres(database):
        rows(database, "CREATE FUNCTION no_write() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$ BEGIN RAISE EXCEPTION 'disk says no'; END $$")
        rows(database, "CREATE TRIGGER no_write BEFORE UPDATE ON sessions "
                       "FOR EACH ROW EXECUTE FUNCTION no_write()")
    else:
        rows(database, "CREATE TRIGGER no_write BEFORE UPDATE ON sessions "
                       "BEGIN SELECT RAISE(ABORT, 'disk says no'); END")


async def test_a_failed_write_still_answers_with_hotlines_and_keeps_the_session(
        conversations, store, database):
    await conversations.handle("console", "f", Inbound(text="halo"))
    before = await store.load_session(conversations.key_for("console", "f"))
    _refuse_session_updates(database)
    turn = await conversations.handle("console", "f", Inbound(choice="setuju"))
    assert [e.name for e in turn.events] == ["storage_error"]
    assert "SEJIWA 119 ext 8" in turn.replies[0].text
    after = await store.load_session(conversations.key_for("console", "f"))
    assert after.session == before.session
    rows(database, "DROP TRIGGER no_write" + (" ON sessions" if is_postgres(database) else ""))
    turn = await conversations.handle("console", "f", Inbound(choice="setuju"))
    assert [e.name for e in turn.events] != ["storage_error"]  # the store works again


async def test_group_commit_commits_every_waiting_turn(store):
    now = datetime.now(UTC)

    async def turn(i: int) -> None:
        async with store.transaction() as tx:
            await tx.save_session(f"k{i}", Session(), now)

    await asyncio.gather(*(turn(i) for i in range(50)))
    for i in range(50):
        assert await store.load_session(f"k{i}") is not None


async def test_an_urgent_turn_goes_before_the_ordinary_turns_waiting_for_the_lock(store):
    now = datetime.now(UTC)
    committed: list[str] = []
    holding = asyncio.Event()
    go_on = asyncio.Event()

    async def first() -> None:  # holds the write lock while the others queue up
        async with store.transaction() as tx:
            await tx.save_session("first", Session(), now)
            holding.set()
            await go_on.wait()
        committed.append("first")

    async def turn(name: str, urgent: bool = False) -> None:
        async with store.transaction(urgent=urgent) as tx:
            await tx.save_session(name, Session(), now)
        committed.append(name)

    holder = asyncio.create_task(first())
    await holding.wait()
    ordinary = [asyncio.create_task(turn(f"o{i}")) for i in range(30)]
    await asyncio.sleep(0.01)  # all thirty are waiting for the lock
    crisis = asyncio.create_task(turn("crisis", urgent=True))
    await asyncio.sleep(0.01)
    go_on.set()
    await asyncio.gather(holder, crisis, *ordinary)
    # The crisis turn took the lock next and committed its batch at once: at most the
    # holder's batch was committed before it, none of the thirty that were waiting.
    assert committed.index("crisis") <= 1
    assert await store.load_session("crisis") is not None
    assert all([await store.load_session(f"o{i}") is not None for i in range(30)])


async def test_a_failing_turn_rolls_back_its_batch_and_no_turn_claims_success(store):
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


async def test_a_statement_that_fails_at_commit_rolls_back_the_whole_batch(store):
    """A recorded write fails only when the batch is sent: every turn in it raises."""
    now = datetime.now(UTC)
    release = asyncio.Event()

    async def good() -> None:
        async with store.transaction() as tx:
            await tx.save_session("good", Session(), now)
            await release.wait()

    async def bad() -> None:
        release.set()
        async with store.transaction() as tx:
            await tx.write("INSERT INTO results (user_key) VALUES (?)", ("x",))  # NOT NULLs

    results = await asyncio.gather(good(), bad(), return_exceptions=True)
    assert isinstance(results[0], StorageError)
    assert isinstance(results[1], Exception) and not isinstance(results[1], StorageError)
    assert await store.load_session("good") is None
    async with store.transaction() as tx:  # the next batch works
        await tx.save_session("after", Session(), now)
    assert await store.load_session("after") is not None


def test_sqlite_files_stay_sqlite(tmp_path):
    """The embedded default is a plain SQLite file that sqlite3 can open."""
    async def make() -> None:
        async with SqliteStore(tmp_path / "plain.db") as s, s.transaction() as tx:
            await tx.save_session("k", Session(), datetime.now(UTC))

    asyncio.run(make())
    conn = sqlite3.connect(tmp_path / "plain.db")
    assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
    conn.close()
