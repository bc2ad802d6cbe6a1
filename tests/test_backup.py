"""`temanjiwa backup`: a real process copies a real SQLite file while turns are being
written to it; every copy is whole, consistent and opens as a Teman Jiwa database."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from flows.session import Session
from storage.backup import BackupError, backup_sqlite
from storage.migrations import MIGRATIONS
from storage.sqlite import SqliteStore
from tests.conftest import ROOT


def run_backup(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMANJIWA_")}
    return subprocess.run([sys.executable, "-m", "bot.cli", "backup", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


async def test_backups_taken_while_turns_are_written_are_whole_and_consistent(tmp_path):
    db = tmp_path / "live.db"
    store = SqliteStore(db)
    await store.open()
    stop = asyncio.Event()
    written = 0

    async def resident(n: int) -> None:
        """Each turn writes a session and a result in one transaction: a copy taken in the
        middle of a turn would show one without the other."""
        nonlocal written
        turn = 0
        while not stop.is_set():
            turn += 1
            key = f"warga-{n}-{turn}"
            async with store.transaction() as tx:
                await tx.save_session(key, Session(), datetime.now(UTC))
                await tx.add_result(key, "phq9", 4, "minimal", [], datetime.now(UTC))
            written += 1
            await asyncio.sleep(0)

    writers = [asyncio.create_task(resident(n)) for n in range(8)]
    copies = []
    try:
        while written < 200:
            await asyncio.sleep(0.01)
        folder = tmp_path / "backups"
        folder.mkdir()
        for n in range(3):
            done = await asyncio.to_thread(run_backup, str(tmp_path / f"copy{n}.db"),
                                           "--db", str(db))
            assert done.returncode == 0, done.stderr
            assert "integrity ok" in done.stdout and ".secret" in done.stderr
            copies.append((tmp_path / f"copy{n}.db", written))
        dated = await asyncio.to_thread(run_backup, str(folder), "--db", str(db))
        assert dated.returncode == 0, dated.stderr
        (in_folder,) = folder.iterdir()
        assert in_folder.name.startswith("temanjiwa-") and in_folder.suffix == ".db"
        copies.append((in_folder, written))
    finally:
        stop.set()
        await asyncio.gather(*writers)
    total = (await store.reader.fetchone("SELECT count(*) AS n FROM sessions"))["n"]
    await store.close()

    counts = []
    for path, written_by_then in copies:
        assert not Path(str(path) + "-wal").exists()  # one self-contained file
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
            sessions = conn.execute("SELECT count(*) FROM sessions").fetchone()[0]
            results = conn.execute("SELECT count(*) FROM results").fetchone()[0]
        finally:
            conn.close()
        assert sessions == results  # no turn half in the copy
        assert 200 <= sessions <= written_by_then
        counts.append(sessions)
    assert counts == sorted(counts) and counts[0] < total  # taken while writes went on

    restored = SqliteStore(copies[0][0])  # restoring: the copy is a working database
    await restored.open()
    try:
        assert await restored.load_session("warga-0-1") is not None
        assert await restored.schema_version() == len(MIGRATIONS)
    finally:
        await restored.close()


def test_backup_refuses_postgresql_and_its_own_database(tmp_path):
    pg = run_backup(str(tmp_path / "x.db"), "--db", "postgresql://u@/temanjiwa?host=/nowhere")
    assert pg.returncode == 2 and "pg_dump" in pg.stderr
    missing = run_backup(str(tmp_path / "x.db"), "--db", str(tmp_path / "none.db"))
    assert missing.returncode == 1 and "no SQLite database" in missing.stderr
    db = tmp_path / "live.db"
    sqlite3.connect(db).close()
    try:
        backup_sqlite(db, db)
    except BackupError as exc:
        assert "overwrite" in str(exc)
    else:
        raise AssertionError("a backup over its own database must be refused")
    assert not list(tmp_path.glob("*.partial"))
