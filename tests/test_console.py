"""`temanjiwa chat --jsonl`: the stable machine protocol, and resuming after a kill."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

from tests.conftest import FIXTURE_CONTENT, ROOT


def start(tmp_path, *extra):
    env = dict(os.environ, TEMANJIWA_SECRET="console-test", PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "chat", "--jsonl", "--db", str(tmp_path / "c.db"),
         "--content", str(FIXTURE_CONTENT), *extra],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )


def read_until_await(proc):
    out = []
    while True:
        line = proc.stdout.readline()
        assert line, "the bot closed stdout: " + proc.stderr.read()
        obj = json.loads(line)
        if obj["type"] == "await":
            return out
        out.append(obj)


def send(proc, obj):
    proc.stdin.write(json.dumps(obj) + "\n")
    proc.stdin.flush()
    return read_until_await(proc)


def test_protocol_shapes_and_events(tmp_path):
    proc = start(tmp_path)
    assert read_until_await(proc) == []  # one await at start-up
    out = send(proc, {"text": "/start quiz"})
    assert all(o["type"] == "message" for o in out)
    last = out[-1]
    assert last["node"] == "consent.ask"
    assert last["choices"] == [{"id": "setuju", "label": "Setuju"},
                               {"id": "tolak", "label": "Tidak setuju"}]
    for choice in ("setuju", "dewasa", "lewati", "mulai"):
        out = send(proc, {"choice": choice})
    assert out[-1]["node"] == "quiz.q1"
    assert [c["value"] for c in out[-1]["choices"]] == [0, 1, 2, 3]  # scored answers carry value
    send(proc, {"choice": "hampir_tiap_hari"})
    out = send(proc, {"choice": "beberapa_hari"})
    events = [o for o in out if o["type"] == "event"]
    assert {"type": "event", "name": "screening_completed", "instrument": "quiz", "score": 4,
            "band": "high", "flags": ["self_harm_item"]} in events
    assert any(e["name"] == "crisis_detected" and e["level"] == "check" for e in events)
    out = send(proc, {"oops": 1})
    assert out[0]["type"] == "error"
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    assert "Traceback" not in proc.stderr.read()


def test_killed_mid_flow_resumes_at_the_same_node(tmp_path):
    proc = start(tmp_path)
    read_until_await(proc)
    for message in ({"text": "/start quiz"}, {"choice": "setuju"}, {"choice": "dewasa"},
                    {"choice": "lewati"}, {"choice": "mulai"}):
        out = send(proc, message)
    assert out[-1]["node"] == "quiz.q1"
    send(proc, {"choice": "lebih_separuh"})
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    again = start(tmp_path)
    read_until_await(again)
    out = send(again, {"media": "sticker"})  # shows where we are without answering
    assert out[-1]["node"] == "quiz.q2"
    out = send(again, {"choice": "lebih_separuh"})
    done = [o for o in out if o.get("name") == "screening_completed"]
    assert done and done[0]["score"] == 4  # the first answer survived the kill
    again.stdin.close()
    assert again.wait(timeout=30) == 0


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (DEBUG|INFO|WARNING|ERROR) [\w.]+: ")


def test_logs_go_to_stderr_only(tmp_path):
    proc = start(tmp_path, "-v")
    stdout, stderr = proc.communicate(json.dumps({"text": "halo"}) + "\n", timeout=60)
    assert proc.returncode == 0, stderr
    objects = [json.loads(line) for line in stdout.splitlines()]  # nothing but protocol lines
    assert [o["type"] for o in objects].count("await") == 2  # start-up and after "halo"
    assert any(o["type"] == "message" for o in objects)
    assert not any(LOG_LINE.match(line) for line in stdout.splitlines())
    logged = [line for line in stderr.splitlines() if LOG_LINE.match(line)]
    # A fresh database always logs its migrations; -v adds DEBUG lines (asyncio logs one when
    # the event loop starts).
    assert any("storage.sqlite: applying schema migration" in line for line in logged), stderr
    assert any(" DEBUG " in line for line in logged), stderr
