"""Privacy by design (issue 7): /hapus leaves nothing on disk, consent is provable and its
withdrawal deletes results and profile, "Data saya" is complete, and logs never carry what a
resident typed or their platform id. Real content, real SQLite files and a real PostgreSQL
server, controllable clock."""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cases.desk import OPERATOR
from flows.crisis import load_detector
from flows.linter import load_content
from flows.messages import Choice
from flows.runtime import Engine, EngineSettings
from storage.group_commit import USER_TABLES
from storage.keys import user_key
from tests.conftest import REAL_CONTENT
from tests.support.escalation import make_harness

ROOT = Path(__file__).resolve().parent.parent
RESIDENT = "6281234567890"  # a phone-number-like platform id (WhatsApp wa_id)
CRISIS_WORDS = "aku sudah tidak kuat lagi, aku mau bunuh diri saja zebra"
ODD_TEXT = "kuda laut ungu 7731"  # typed where a button is expected: not understood


pytestmark = pytest.mark.both_backends


@pytest.fixture
async def h(tmp_path, database):
    harness = await make_harness(tmp_path, content_dir=REAL_CONTENT, database=database)
    harness.conversations.engine.detector = load_detector(REAL_CONTENT)
    yield harness
    await harness.close()


def on_disk(h) -> dict[str, bytes]:
    """What the database keeps, by place: SQLite's file, WAL and shared memory; for
    PostgreSQL every row of every table (its files are the server's; dead row versions
    there are VACUUM's concern, not this test's)."""
    if h.on_postgres:
        return {"tables": h.raw_bytes()}
    files = {}
    for suffix in ("", "-wal", "-shm"):
        path = Path(str(h.db_path) + suffix)
        files[suffix or "db"] = path.read_bytes() if path.exists() else b""
    return files


async def screening(h, user: str) -> None:
    await h.say(user, "/start phq2", ("c", "mulai"))
    await h.say(user, ("c", "lebih_separuh"), ("c", "beberapa_hari"))


async def test_hapus_leaves_no_trace_in_db_wal_or_shm(h):
    # Other residents around the one who deletes, so their rows share pages with hers.
    for n in range(40):
        await h.onboard(f"other{n}")
        await screening(h, f"other{n}")
    await h.onboard(RESIDENT)
    await screening(h, RESIDENT)
    turn = await h.say(RESIDENT, CRISIS_WORDS)
    key = turn.user_key
    code = next(e.data["case"] for e in turn.events if e.name == "escalation_created")
    await h.kit.dispatcher.tick()
    h.clock.advance(minutes=3)
    assert (await h.kit.desk.claim(code, OPERATOR)).ok
    assert (await h.kit.desk.resolve(code, OPERATOR, "contacted")).ok
    await h.kit.dispatcher.tick()  # the cards say "closed" (a case waits for its deliveries)
    marker = key.encode()
    before = on_disk(h)
    assert marker in b"".join(before.values()), "the test must see the marker first"
    for table in USER_TABLES:
        # relays and pending replies last only minutes; follow-ups: tests/test_followups.py
        if table not in ("relays", "pending_replies", "checkins", "followups"):
            assert h.rows(f"SELECT count(*) FROM {table} WHERE user_key = ?", key)[0][0] > 0

    await h.say(RESIDENT, "/hapus")
    turn = await h.say(RESIDENT, ("c", "ya"))
    assert [e.name for e in turn.events] == ["delete_requested"]

    after = on_disk(h)
    for name, data in after.items():
        assert marker not in data, f"user_key still in {name}"
        assert RESIDENT.encode() not in data, f"platform id in {name}"
    if not h.on_postgres:
        assert after["-wal"] == b""  # checkpointed and truncated after the deletion
    for table in USER_TABLES:
        assert h.rows(f"SELECT count(*) FROM {table} WHERE user_key = ?", key)[0][0] == 0
    # The closed case is now one anonymous statistics row; no case, event or outbox row left.
    assert h.rows("SELECT count(*) FROM cases WHERE code = ?", code)[0][0] == 0
    stats = [dict(r) for r in h.rows("SELECT * FROM case_stats")]
    assert len(stats) == 1
    row = stats[0]
    assert (row["area"], row["level"], row["category"], row["source_kind"], row["outcome"]) == (
        "ngunut",
        "high",
        "suicide",
        "free_text",
        "contacted",
    )
    assert row["minutes_to_claim"] == 3.0 and row["week"] == "2026-W47"
    assert set(row) == {
        "id",
        "week",
        "month",
        "area",
        "level",
        "category",
        "source_kind",
        "minutes_to_claim",
        "sla_breaches",
        "outcome",
    }
    # Other residents are untouched.
    assert h.rows("SELECT count(*) FROM results")[0][0] == 40


async def test_hapus_with_an_open_case_unlinks_it_for_the_cadre(h):
    await h.onboard(RESIDENT)
    turn = await h.say(RESIDENT, CRISIS_WORDS)
    key = turn.user_key
    await h.say(RESIDENT, "/hapus", ("c", "ya"))
    rows = h.rows("SELECT user_key, status, words_enc, contact_enc FROM cases")
    assert [tuple(r) for r in rows] == [(None, "open", None, None)]
    rows = h.rows("SELECT user_key, words_enc, words_state FROM disclosures")
    assert [tuple(r) for r in rows] == [(None, None, "wiped")]
    for name, data in on_disk(h).items():
        assert key.encode() not in data, name


async def test_consent_is_logged_with_version_and_withdrawal_deletes_results_and_profile(h):
    turn = await h.onboard(RESIDENT)
    key = turn.user_key
    log = [
        tuple(r)
        for r in h.rows(
            "SELECT version, given_at, withdrawn_at FROM consent_log WHERE user_key = ?", key
        )
    ]
    given = (await h.store.load_session(key)).session.consent_at  # when the "Setuju" was sent
    assert log == [("1", given, None)]
    await screening(h, RESIDENT)
    assert len(await h.store.history(key)) == 1

    h.clock.advance(hours=2)
    await h.say(RESIDENT, "menu", ("c", "data"), ("c", "tarik"))
    turn = await h.say(RESIDENT, ("c", "ya"))
    assert [e.name for e in turn.events] == ["consent_withdrawn"]
    withdrawn = h.clock.now.isoformat()
    assert [
        tuple(r)
        for r in h.rows(
            "SELECT version, given_at, withdrawn_at FROM consent_log WHERE user_key = ?", key
        )
    ] == [("1", given, withdrawn)]
    assert await h.store.history(key) == []
    session = (await h.store.load_session(key)).session
    assert not session.has_consent
    assert "age_group" not in session.profile and "area" not in session.profile
    assert set(session.profile) <= {"_counted"}
    assert "ngunut" not in session.profile.get("_counted", "")
    # No new results without consent: the screening asks for consent first.
    turn = await h.say(RESIDENT, "/start phq2")
    assert turn.replies[-1].node == "consent.intro"
    # Agreeing again is a new, separately provable record.
    h.clock.advance(hours=1)
    await h.say(RESIDENT, ("c", "setuju"))
    again = (await h.store.load_session(key)).session.consent_at
    rows = h.rows(
        "SELECT version, given_at, withdrawn_at FROM consent_log WHERE user_key = ? ORDER BY id",
        key,
    )
    assert [tuple(r) for r in rows] == [("1", given, withdrawn), ("1", again, None)]
    assert again > given


async def test_data_saya_shows_labels_consent_version_and_history(h):
    await h.onboard(RESIDENT)
    await screening(h, RESIDENT)
    turn = await h.say(RESIDENT, "menu", ("c", "data"))
    text = "\n".join(r.text for r in turn.replies)
    assert re.search(
        r"Persetujuan: \d+ \w+ 20\d\d, \d\d\.\d\d WIB "
        r"\(teks persetujuan versi 1\)",
        text,
    )
    assert "Kelompok usia: 18–59 tahun" in text
    assert "Daerah: Kec. Ngunut" in text
    assert "Hasil cek yang tersimpan: 1" in text
    assert re.search(r"• 22 November 2026: .*PHQ-2.*, skor 3 \(", text), text
    assert "90 hari" in text and "TIDAK saya simpan" in text


def test_label_filter_uses_choice_labels_and_leaves_unknown_ids(tmp_path):
    content = load_content(REAL_CONTENT)
    engine = Engine(content, EngineSettings(areas=(Choice("ngunut", "Kec. Ngunut"),)))
    assert engine.labels["profile.age_group"]["lansia"] == "60 tahun ke atas"
    assert engine.labels["profile.area"]["ngunut"] == "Kec. Ngunut"
    assert engine.labels["profile.area"]["lewati"] == "Lewati"


# ---------------------------------------------------------------------------- logs
def typed_secrets() -> list[str]:
    return [CRISIS_WORDS, "bunuh diri saja zebra", ODD_TEXT, RESIDENT]


async def test_service_logs_at_debug_never_contain_texts_or_platform_ids(h, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger().setLevel(logging.DEBUG)
    await h.onboard(RESIDENT)
    await h.say(RESIDENT, ODD_TEXT)
    await screening(h, RESIDENT)
    turn = await h.say(RESIDENT, CRISIS_WORDS)
    assert any(e.name == "escalation_created" for e in turn.events)
    await h.say(RESIDENT, ODD_TEXT, "/hapus", ("c", "ya"))
    await h.kit.dispatcher.tick()
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "case" in logged  # something was logged at all
    for secret in typed_secrets():
        assert secret not in logged, secret


def test_console_jsonl_verbose_stderr_never_contains_texts_or_platform_ids(tmp_path):
    lines = [
        {"text": "halo"},
        {"choice": "setuju"},
        {"choice": "dewasa"},
        {"choice": "contoh_desa"},
        {"text": ODD_TEXT},
        {"text": "/start phq2"},
        {"choice": "mulai"},
        {"choice": "lebih_separuh"},
        {"choice": "beberapa_hari"},
        {"text": CRISIS_WORDS},
        {"text": ODD_TEXT},
        {"text": "/hapus"},
        {"choice": "ya"},
    ]
    env = {**os.environ, "TEMANJIWA_SECRET": "log-test", "PYTHONPATH": str(ROOT)}
    env.pop("TEMANJIWA_CONFIG", None)
    config = tmp_path / "config.yaml"
    config.write_text("areas:\n  - {id: contoh_desa, label: Desa Contoh}\n", encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "chat",
            "--jsonl",
            "-v",
            "--db",
            str(tmp_path / "c.db"),
            "--user-id",
            RESIDENT,
            "--config",
            str(config),
        ],
        input="".join(json.dumps(line) + "\n" for line in lines),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [json.loads(x) for x in proc.stdout.splitlines()]
    names = [e.get("name") for e in events if e["type"] == "event"]
    assert "crisis_detected" in names and "delete_requested" in names
    assert "DEBUG" in proc.stderr  # -v really logged at debug level
    for secret in typed_secrets():
        assert secret not in proc.stderr, secret
    # Nor the pseudonymous key or session state (aiosqlite's DEBUG lines would carry them).
    assert user_key(b"log-test", "console", RESIDENT) not in proc.stderr
    assert '"profile"' not in proc.stderr and "INSERT INTO results" not in proc.stderr
    db = sqlite3.connect(tmp_path / "c.db")
    assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
    db.close()
