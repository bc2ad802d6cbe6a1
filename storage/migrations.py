"""Forward-only schema migrations, applied in order on start (tracked in PRAGMA user_version).

Append new steps; never edit a step that has shipped. Every table with per-resident
data keys it by a column named `user_key`.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: sessions, screening results, inbound de-duplication
    """
    CREATE TABLE sessions (
        user_key TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        consent_at TEXT,
        consent_version TEXT,
        locale TEXT NOT NULL DEFAULT 'id',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX sessions_updated ON sessions(updated_at);
    CREATE TABLE results (
        id INTEGER PRIMARY KEY,
        user_key TEXT NOT NULL,
        instrument TEXT NOT NULL,
        score REAL NOT NULL,
        band TEXT NOT NULL,
        flags TEXT NOT NULL DEFAULT '[]',
        completed_at TEXT NOT NULL
    );
    CREATE INDEX results_user ON results(user_key, completed_at);
    CREATE TABLE inbound_seen (
        channel TEXT NOT NULL,
        update_id TEXT NOT NULL,
        seen_at TEXT NOT NULL,
        PRIMARY KEY (channel, update_id)
    ) WITHOUT ROWID;
    CREATE INDEX inbound_seen_at ON inbound_seen(seen_at);
    """,
]
