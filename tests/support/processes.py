"""Child processes for crash tests: run a script, wait for a line it prints, SIGKILL it.
Waiting is bounded only as a guard against a hung child, never asserted on."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def spawn_script(tmp_path: Path, source: str, *args: object) -> subprocess.Popen:
    """Run `source` as a Python script in a child (PYTHONPATH: the repository)."""
    script = tmp_path / "child.py"
    script.write_text(source)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TEMANJIWA_ENCRYPTION_KEY", None)  # the key file beside the database is shared
    return subprocess.Popen(
        [sys.executable, str(script), str(tmp_path), *map(str, args)],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )


def wait_for_line(proc: subprocess.Popen, wanted: str, guard: float = 300) -> None:
    assert proc.stdout is not None
    while True:
        ready, _w, _x = select.select([proc.stdout], [], [], guard)
        if not ready:
            proc.kill()
            raise AssertionError(f"child never printed {wanted}")
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"child ended before {wanted}: {proc.stderr.read()}")
        if line.strip() == wanted:
            return


def kill9(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
