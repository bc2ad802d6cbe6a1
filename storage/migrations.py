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
    # 2: escalation (issue 4): cases, their event log, the alert outbox, cadres, invites, relays.
    # Words and contact addresses are Fernet tokens (bot/crypto.py), never plain text.
    """
    CREATE TABLE cases (
        id INTEGER PRIMARY KEY,
        code TEXT NOT NULL UNIQUE,
        user_key TEXT,
        status TEXT NOT NULL DEFAULT 'open',
        level TEXT NOT NULL,
        category TEXT NOT NULL,
        source TEXT NOT NULL,
        items TEXT NOT NULL DEFAULT '{}',
        age_group TEXT,
        area TEXT,
        pregnant INTEGER,
        contact_ok INTEGER,
        share_words INTEGER,
        safe_now INTEGER,
        with_someone INTEGER,
        bot_said TEXT NOT NULL DEFAULT '[]',
        words_enc BLOB,
        words_state TEXT NOT NULL DEFAULT 'none',
        contact_enc BLOB,
        route TEXT NOT NULL DEFAULT '',
        tier INTEGER NOT NULL DEFAULT 0,
        deadline_at TEXT,
        claimed_by TEXT,
        claimed_name TEXT,
        claimed_at TEXT,
        outcome TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_reply_at TEXT,
        closed_at TEXT
    );
    CREATE UNIQUE INDEX cases_one_open ON cases(user_key)
        WHERE status != 'closed' AND user_key IS NOT NULL;
    CREATE INDEX cases_due ON cases(status, deadline_at);
    CREATE TABLE case_events (
        id INTEGER PRIMARY KEY,
        case_id INTEGER REFERENCES cases(id),
        user_key TEXT,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL DEFAULT 'system',
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX case_events_case ON case_events(case_id, id);
    CREATE INDEX case_events_user ON case_events(user_key);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        idem_key TEXT NOT NULL UNIQUE,
        case_id INTEGER NOT NULL REFERENCES cases(id),
        route TEXT NOT NULL,
        kind TEXT NOT NULL,
        reason TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        claimed_by TEXT,
        lease_until TEXT,
        external_ref TEXT,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT
    );
    CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
    CREATE INDEX outbox_case ON outbox(case_id, kind);
    CREATE TABLE cadres (
        id INTEGER PRIMARY KEY,
        actor_key TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        route TEXT,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    CREATE TABLE invites (
        code_hash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        route TEXT,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT,
        cadre_id INTEGER REFERENCES cadres(id)
    );
    CREATE TABLE relays (
        id INTEGER PRIMARY KEY,
        case_id INTEGER NOT NULL REFERENCES cases(id),
        user_key TEXT NOT NULL UNIQUE,
        cadre_key TEXT NOT NULL,
        cadre_name TEXT NOT NULL DEFAULT '',
        cadre_enc BLOB NOT NULL,
        state TEXT NOT NULL,
        requested_at TEXT NOT NULL,
        accepted_at TEXT
    );
    CREATE INDEX relays_case ON relays(case_id);
    """,
    # 3: privacy and programme reports (issue 7). `consent_log` proves which consent text a
    # resident agreed to and when (deleted with /hapus). `stats` and `case_stats` hold only
    # anonymous counts: no user_key, no words, no contact data, no case code.
    """
    CREATE TABLE consent_log (
        id INTEGER PRIMARY KEY,
        user_key TEXT NOT NULL,
        version TEXT NOT NULL,
        given_at TEXT,
        withdrawn_at TEXT
    );
    CREATE INDEX consent_log_user ON consent_log(user_key, id);
    INSERT INTO consent_log (user_key, version, given_at)
        SELECT user_key, COALESCE(consent_version, ''), consent_at FROM sessions
        WHERE consent_at IS NOT NULL;
    CREATE TABLE stats (
        period TEXT NOT NULL,
        area TEXT NOT NULL DEFAULT '',
        metric TEXT NOT NULL,
        dim1 TEXT NOT NULL DEFAULT '',
        dim2 TEXT NOT NULL DEFAULT '',
        n INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (period, area, metric, dim1, dim2)
    ) WITHOUT ROWID;
    CREATE TABLE case_stats (
        id INTEGER PRIMARY KEY,
        week TEXT NOT NULL,
        month TEXT NOT NULL,
        area TEXT NOT NULL DEFAULT '',
        level TEXT NOT NULL,
        category TEXT NOT NULL,
        source_kind TEXT NOT NULL,
        minutes_to_claim REAL,
        sla_breaches INTEGER NOT NULL DEFAULT 0,
        outcome TEXT
    );
    CREATE INDEX case_stats_week ON case_stats(week);
    CREATE INDEX case_stats_month ON case_stats(month);
    """,
    # 4: replies a turn committed but that were not yet delivered (issue 11): kept with the
    # platform's delivery id in the turn's own transaction, sealed (Fernet: the replies and
    # the address to send them to), deleted once sent; sent at start after a crash.
    """
    CREATE TABLE pending_replies (
        channel TEXT NOT NULL,
        delivery_id TEXT NOT NULL,
        user_key TEXT NOT NULL,
        sealed BLOB NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (channel, delivery_id)
    );
    CREATE INDEX pending_replies_created ON pending_replies(created_at);
    CREATE INDEX pending_replies_user ON pending_replies(user_key);
    """,
    # 5: disclosures (issue 13). One row per thing a resident disclosed in the crisis
    # protocol: its level, category, who is at risk (`subject` self/other, `about` child,
    # friend, family, neighbour), the safety answers given for it, the hotlines shown, and
    # its own share-my-words answer and sealed words (Fernet; wiped once delivered). A row
    # without `case_id` belongs to a protocol still running without a case (a check-level
    # sign before the ASQ answers); it goes when that run ends without one. A words
    # delivery names its disclosure (`outbox.disclosure_id`). Existing cases keep their
    # words as their first disclosure.
    """
    CREATE TABLE disclosures (
        id INTEGER PRIMARY KEY,
        user_key TEXT,
        case_id INTEGER REFERENCES cases(id),
        at TEXT NOT NULL,
        level TEXT NOT NULL,
        category TEXT NOT NULL,
        source TEXT NOT NULL,
        subject TEXT NOT NULL DEFAULT 'self',
        about TEXT NOT NULL DEFAULT '',
        answers TEXT NOT NULL DEFAULT '{}',
        hotlines TEXT NOT NULL DEFAULT '[]',
        share_words INTEGER,
        words_enc BLOB,
        words_state TEXT NOT NULL DEFAULT 'none',
        words_at TEXT
    );
    CREATE INDEX disclosures_case ON disclosures(case_id, id);
    CREATE INDEX disclosures_user ON disclosures(user_key, id);
    ALTER TABLE outbox ADD COLUMN disclosure_id INTEGER;
    INSERT INTO disclosures (user_key, case_id, at, level, category, source, share_words,
                             words_enc, words_state)
        SELECT user_key, id, created_at, level, category, source, share_words, words_enc,
               words_state FROM cases;
    UPDATE outbox SET disclosure_id = (SELECT d.id FROM disclosures d
                                       WHERE d.case_id = outbox.case_id)
        WHERE kind = 'words';
    UPDATE cases SET words_enc = NULL;
    """,
    # 6: caring follow-ups (issue 18). `followups`: at most one series per resident who
    # agreed to be checked in on (or a pending offer after a resolved case, or a recent
    # "no" without any address); `address_enc` is the platform address, a Fernet token
    # (bot/crypto.py), kept only while the series runs. `checkins`: the series' steps with
    # their claim (lease) and delivery state. Both are deleted when the series ends.
    """
    CREATE TABLE followups (
        id INTEGER PRIMARY KEY,
        user_key TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL,
        kind TEXT NOT NULL,
        category TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT '',
        route TEXT NOT NULL DEFAULT '',
        area TEXT NOT NULL DEFAULT '',
        address_enc BLOB,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX followups_status ON followups(status, updated_at);
    CREATE TABLE checkins (
        id INTEGER PRIMARY KEY,
        followup_id INTEGER NOT NULL REFERENCES followups(id),
        user_key TEXT NOT NULL,
        step INTEGER NOT NULL,
        is_last INTEGER NOT NULL DEFAULT 0,
        due_at TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        claimed_by TEXT,
        lease_until TEXT,
        idem_key TEXT NOT NULL UNIQUE,
        via TEXT,
        sent_at TEXT,
        answered_at TEXT,
        escalated INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );
    CREATE INDEX checkins_due ON checkins(state, due_at);
    CREATE INDEX checkins_user ON checkins(user_key);
    CREATE INDEX checkins_followup ON checkins(followup_id);
    """,
]
