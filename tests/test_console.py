"""`temanjiwa chat`: the stable --jsonl protocol, resuming after a kill, and the interactive
console on a real terminal (a pty): a quiet start, resuming, Ctrl-C, cadre cards once."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import platform
import pty
import re
import select
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import FIXTURE_CONTENT, REAL_CONTENT, ROOT


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


# ---------------------------------------------------------------- the interactive console
def start_in_pty(tmp_path, content=FIXTURE_CONTENT):
    """`temanjiwa chat` as a person runs it: stdin, stdout and stderr on one terminal."""
    env = dict(os.environ, TEMANJIWA_SECRET="console-test", PYTHONUNBUFFERED="1")
    pid, fd = pty.fork()
    if pid == 0:  # the child: exec at once (nothing else may run in a forked test process)
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "bot.cli", "chat", "--db",
                                   str(tmp_path / "i.db"), "--content", str(content)], env)
    return pid, fd


def read_prompt(fd, timeout=60.0) -> str:
    """Everything the terminal shows until the chat waits at its "> " prompt."""
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not out.endswith(b"> "):
        ready, _w, _x = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child has gone
                break
            if not chunk:
                break
            out += chunk
    text = out.decode(errors="replace")
    assert text.endswith("> "), "no prompt: " + text
    return text


def type_line(fd, text: str) -> str:
    os.write(fd, (text + "\n").encode())
    return read_prompt(fd)


TGKILL = {"x86_64": 234, "aarch64": 131}.get(platform.machine())  # the Linux syscall number


def send_to_thread(pid: int, tid: int, sig: int) -> None:
    """A signal for one thread of `pid` (tgkill): what the kernel does when it hands a
    process's Ctrl-C to a thread other than the main one."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(TGKILL, pid, tid, sig) != 0:
        raise OSError(ctypes.get_errno(), "tgkill failed")


def other_threads(pid: int) -> list[int]:
    return sorted(int(tid) for tid in os.listdir(f"/proc/{pid}/task") if int(tid) != pid)


def interrupt(pid, fd, *, thread: int | None = None) -> tuple[int, float, str]:
    """Ctrl-C while the chat waits for a line: (exit code, seconds to exit, what it printed);
    `thread` delivers it to that thread instead of letting the kernel choose."""
    sent = time.monotonic()
    if thread is None:
        os.kill(pid, signal.SIGINT)
    else:
        send_to_thread(pid, thread, signal.SIGINT)
    deadline = sent + 10
    status = None
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise AssertionError("Ctrl-C did not end the chat within 10 s")
    took = time.monotonic() - sent
    rest = b""
    with contextlib.suppress(OSError):
        while chunk := os.read(fd, 65536):
            rest += chunk
    os.close(fd)
    return os.waitstatus_to_exitcode(status), took, rest.decode(errors="replace")


def test_interactive_starts_quietly_and_ctrl_c_ends_at_once(tmp_path):
    pid, fd = start_in_pty(tmp_path)
    first = read_prompt(fd)
    lines = [line for line in first.splitlines() if line.strip()]
    assert lines[0].startswith("Teman Jiwa di terminal"), first
    assert not any(LOG_LINE.match(line) for line in lines), first  # no INFO/WARNING lines
    assert "consent.ask" not in first and "Setuju" in first
    type_line(fd, "1")  # agree
    code, took, rest = interrupt(pid, fd)
    assert code in (0, 130), rest
    assert took < 5, f"Ctrl-C took {took:.1f} s"
    assert "Traceback" not in rest and "KeyboardInterrupt" not in rest, rest


@pytest.mark.skipif(TGKILL is None or not sys.platform.startswith("linux"),
                    reason="needs Linux tgkill")
def test_ctrl_c_that_lands_on_another_thread_still_ends_the_chat(tmp_path):
    """The stdin reader and the database threads can receive the terminal's SIGINT; the
    chat must wake and end all the same (it once slept in select until killed)."""
    for index in range(3):  # the stdin reader and both database threads, in turn
        pid, fd = start_in_pty(tmp_path)
        read_prompt(fd)
        type_line(fd, "1")
        threads = other_threads(pid)
        assert len(threads) >= 3, threads
        code, took, rest = interrupt(pid, fd, thread=threads[index])
        assert code in (0, 130), rest
        assert took < 5, f"Ctrl-C took {took:.1f} s"
        assert "Traceback" not in rest, rest


def test_interactive_resumes_where_the_resident_was_after_a_kill(tmp_path):
    pid, fd = start_in_pty(tmp_path)
    read_prompt(fd)
    type_line(fd, "1")  # agree → age
    shown = type_line(fd, "2")  # adult → area
    assert "Di mana?" in shown, shown
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(fd)

    pid, fd = start_in_pty(tmp_path)
    again = read_prompt(fd)
    assert "Di mana?" in again, again  # the waiting question, not the start again
    assert "Setuju" not in again, again
    code, _took, rest = interrupt(pid, fd)
    assert code in (0, 130) and "Traceback" not in rest


def test_cadre_card_is_shown_once_per_change_in_the_turn_of_the_change(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "chat", "--jsonl", "--db", str(tmp_path / "a.db"),
         "--content", str(REAL_CONTENT)],
        cwd=ROOT, env=dict(os.environ, TEMANJIWA_SECRET="console-test"),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    read_until_await(proc)
    alerts_per_turn = []
    script = [{"text": "/start"}, {"choice": "setuju"}, {"text": "menu"},
              {"text": "aku pengen mati aja"}, {"choice": "boleh"}, {"choice": "ya"},
              *[{"choice": "tidak"}] * 4, {"choice": "ya"}, {"choice": "ya"}, {"choice": "ya"},
              {"choice": "ya"}, {"text": "halo"}, {"text": "halo"}]
    for message in script:
        out = send(proc, message)
        alerts_per_turn.append([o["text"] for o in out if o["type"] == "cadre_alert"])
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0
    alerts = [a for turn in alerts_per_turn for a in turn]
    assert alerts, "the crisis made no card"
    assert len(alerts) == len(set(alerts)), "a card was shown twice unchanged"
    assert alerts_per_turn[-2:] == [[], []], alerts_per_turn[-2:]  # nothing changed: nothing shown
