"""`temanjiwa cases` for operators, and cadre alerts in `temanjiwa chat` (real processes)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import yaml

from bot.cases.desk import CadreIdentity
from tests.conftest import REAL_CONTENT, ROOT
from tests.support.escalation import CONFIG, make_harness


def cli(tmp_path, *args: str) -> subprocess.CompletedProcess:
    config = tmp_path / "deploy.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMANJIWA_")}
    env["TEMANJIWA_SECRET"] = "test-secret"  # the same secret as the harness's bot
    env["TEMANJIWA_LANG"] = "en"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "cases",
            "--config",
            str(config),
            "--db",
            str(tmp_path / "esc.db"),
            *args,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_cases_list_show_claim_note_resolve_invite(tmp_path):
    h = await make_harness(tmp_path)
    await h.onboard("111")
    turn = await h.say("111", "darurat sekarang")
    code = next(e.data["case"] for e in turn.events if e.name == "escalation_created")
    await h.kit.dispatcher.run_once()
    await h.close()

    listed = cli(tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    assert code in listed.stdout and "urgent" in listed.stdout and "kader_ngunut" in listed.stdout
    assert "22 Nov 2026 14.05 WIB" in listed.stdout
    shown = cli(tmp_path, "show", code)
    assert shown.returncode == 0 and "DARURAT" in shown.stdout and "created" in shown.stdout
    assert "alert_sent" in shown.stdout and "111" not in shown.stdout
    assert cli(tmp_path, "show", "TJ-NONE").returncode == 1
    claimed = cli(tmp_path, "claim", code, "--name", "Pak Operator")
    assert claimed.returncode == 0 and code in claimed.stdout
    assert cli(tmp_path, "note", code, "ditelepon, aman").returncode == 0
    assert cli(tmp_path, "resolve", code, "pulang").returncode == 2  # not an outcome
    resolved = cli(tmp_path, "resolve", code, "emergency_services", "--note", "ke IGD")
    assert resolved.returncode == 0, resolved.stderr
    open_only = cli(tmp_path, "list")
    assert open_only.returncode == 0 and code not in open_only.stdout  # (message is translated)
    assert code in cli(tmp_path, "list", "--all").stdout
    invited = cli(tmp_path, "invite", "--name", "Bu Wati", "--route", "kader_ngunut")
    assert invited.returncode == 0, invited.stderr
    invite = re.search(r"[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}", invited.stdout).group(0)
    assert cli(tmp_path, "invite", "--name", "X", "--route", "nowhere").returncode == 2
    assert "Traceback" not in invited.stderr + resolved.stderr

    h = await make_harness(tmp_path)
    try:
        row = h.rows("SELECT status, outcome, claimed_name FROM cases")[0]
        assert tuple(row) == ("closed", "emergency_services", "Pak Operator")
        notes = [r[0] for r in h.rows("SELECT detail FROM case_events WHERE kind = 'note'")]
        assert notes == ["ditelepon, aman", "ke IGD"]
        wati = CadreIdentity("telegram", "777", "Wati")  # the cadre sends the code to the bot
        assert (await h.kit.desk.register(invite, wati)).ok
        assert (await h.kit.desk.register(invite, wati)).error == "bad_invite"  # one time only
    finally:
        await h.close()


def test_console_chat_shows_cadre_alerts(tmp_path):
    """The whole path without Telegram: the real content and lexicon, a console sender."""
    config = tmp_path / "deploy.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    env = dict(os.environ, TEMANJIWA_SECRET="console-test", PYTHONUNBUFFERED="1")
    env.pop("TEMANJIWA_CONTENT", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "chat",
            "--jsonl",
            "--db",
            str(tmp_path / "c.db"),
            "--content",
            str(REAL_CONTENT),
            "--config",
            str(config),
        ],
        input="\n".join(
            json.dumps(m)
            for m in (
                {"text": "/start"},
                {"choice": "setuju"},
                {"choice": "dewasa"},
                {"choice": "ngunut"},
                {"text": "aku ingin bunuh diri karena hutang"},
            )
        )
        + "\n",
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    alerts = [o["text"] for o in out if o["type"] == "cadre_alert"]
    assert len(alerts) == 1
    assert "Kader Ngunut" in alerts[0] and "TINGGI" in alerts[0] and "TJ-" in alerts[0]
    created = [o for o in out if o.get("name") == "escalation_created"]
    assert created and created[0]["case"] in alerts[0]
    assert "hutang" not in alerts[0]  # the words: not without the resident's agreement
