"""`temanjiwa backup`: a consistent copy of the embedded SQLite database, taken while the bot
runs, with SQLite's own online backup API (sqlite3.Connection.backup).

The copy is made in one step, inside one read transaction: in WAL mode the bot keeps
writing meanwhile and the copy is the database exactly as it was when the step began (no
half-written turn, nothing from after). It is written next to its destination, checked
(`PRAGMA integrity_check`), flushed to disk and only then renamed into place, so a backup
that exists is a whole one. PostgreSQL deployments use pg_dump instead (README).

Not in the copy, on purpose: the HMAC secret and the encryption key (`<db>.secret`,
`<db>.key`, or TEMANJIWA_SECRET / TEMANJIWA_ENCRYPTION_KEY). Keep them apart from the
backups; without them a restored database cannot recognise residents or open sealed values.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


class BackupError(Exception):
    """The copy could not be made or did not check out; nothing was left at the target."""


@dataclass(frozen=True)
class BackupReport:
    path: Path
    size: int
    schema_version: int
    tables: int


def backup_target(target: Path, now: datetime | None = None) -> Path:
    """A directory gets a dated file name (for a schedule); anything else is the file."""
    if target.is_dir():
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
        return target / f"temanjiwa-{stamp}.db"
    return target


def backup_sqlite(source: Path, target: Path) -> BackupReport:
    """Copy the database at `source` to `target` (a file, or a directory for a dated file)."""
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}")
    target = backup_target(target)
    if target.resolve() == source.resolve():
        raise BackupError("the backup must not overwrite the database itself")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        src = sqlite3.connect(source, timeout=30)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst, pages=-1)  # all pages in one step: one consistent snapshot
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
                checked = dst.execute("PRAGMA integrity_check").fetchone()[0]
                if checked != "ok":
                    raise BackupError(f"the copy failed its integrity check: {checked}")
                version = dst.execute("PRAGMA user_version").fetchone()[0]
                tables = dst.execute(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                ).fetchone()[0]
            finally:
                dst.close()
        finally:
            src.close()
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
        _fsync_dir(target.parent)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"the backup failed: {exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupReport(target, target.stat().st_size, int(version), int(tables))


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
