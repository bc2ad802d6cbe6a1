"""`temanjiwa lint` on files built to hurt it: time and peak memory of each run.

    python bench/lint_limits.py                    # this checkout
    python bench/lint_limits.py --repo /other/co   # another checkout (e.g. before a change)

Each case is a copy of content/id with one flow replaced; `temanjiwa lint` runs in a fresh
process under a 2 GB address-space limit (so a bomb cannot take the machine down) and a
timeout. Reports wall time, peak RSS (ru_maxrss of that process), exit code and the first
line the linter printed about the file.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEMORY_LIMIT = 2 * 1024**3


def alias_bomb() -> str:
    """Nine levels of nine aliases ("billion laughs"): 9**9 values from a 1 kB file."""
    lines = ["flow: bom", "lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 9):
        refs = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"lol{level}: &l{level} [{refs}]")
    lines += ["nodes:", "  a:", "    say: halo",
              "    choices: [{id: a, label: A, value: *l8, end: true}]"]
    return "\n".join(lines) + "\n"


def flow_of_size(name: str, size: int) -> str:
    """A well-formed flow of about `size` bytes: a chain of nodes, the last one ends."""
    out = [f"flow: {name}", "consent: not_required", "nodes:"]
    n, total = 0, 0
    while total < size - 200:
        node = (f"  n{n}:\n    say: Pesan nomor {n}, teks yang cukup panjang untuk mengisi "
                f"file ini.\n    next: n{n + 1}")
        out.append(node)
        total += len(node) + 1
        n += 1
    out.append(f"  n{n}:\n    say: selesai\n    end: true")
    return "\n".join(out) + "\n"


def ten_megabytes() -> str:
    """A well-formed flow of 10 MB (about 90,000 nodes)."""
    return flow_of_size("besar", 10 * 1024 * 1024)


def deep_flow_nesting() -> str:
    return "flow: dalam\nnodes: {a: {say: " + "[" * 10_000 + "]" * 10_000 + "}}\n"


def deep_block_nesting() -> str:
    return "flow: dalam\nnodes:\n  a:\n    say:\n      " + "- " * 10_000 + "x\n"


# About the biggest set of flows the loader still reads (2 MB in all): the shipped flows
# and four more of 480 kB.
AT_THE_LIMITS = 4
LIMIT_FLOW_BYTES = 480 * 1024

CASES: dict[str, Callable[[], str]] = {
    "alias bomb (9^9)": alias_bomb,
    "10 MB flow": ten_megabytes,
    "10,000 [ deep": deep_flow_nesting,
    "10,000 - deep": deep_block_nesting,
    "NUL byte": lambda: "flow: nul\nnodes:\n  a: {say: \"ha\x00lo\", end: true}\n",
    "list as key": lambda: "flow: kunci\nnodes:\n  [a, b]: {say: halo, end: true}\n",
}


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


# The file alone, through the loader every content file goes through.
LOAD_ONE = """
import sys, time
from pathlib import Path
from flows.yamlload import load_yaml
start = time.perf_counter()
_data, problems = load_yaml(Path(sys.argv[1]))
print(f"{time.perf_counter() - start:.3f}", problems[0] if problems else "no problem")
"""


def run_case(repo: Path, folder: Path, timeout: float, *,
             alone: Path | None = None) -> tuple[float, int, int | None, str]:
    """(seconds, peak kB, exit code or None on timeout, first output line about the file).
    With `alone`, only that file is loaded and the seconds are measured inside the process."""
    env = dict(os.environ, TEMANJIWA_LANG="en", PYTHONPATH=str(repo))
    command = (["-c", LOAD_ONE, str(alone)] if alone else ["-m", "bot.cli", "lint", str(folder)])
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *command], cwd=repo,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=_limit_memory)
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            _pid, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - start
            return elapsed, usage.ru_maxrss, None, "(timed out)"
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    output = proc.stdout.read().decode("utf-8", "replace") if proc.stdout else ""
    code = os.waitstatus_to_exitcode(status)
    if alone and code == 0:
        seconds, _space, line = output.strip().partition(" ")
        return float(seconds), usage.ru_maxrss, code, line.splitlines()[0]
    about = [line for line in output.splitlines() if "case.yaml" in line or "Error" in line]
    return elapsed, usage.ru_maxrss, code, (about or ["?"])[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="checkout whose linter to run")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    print(f"linter of {repo}, content {ROOT / 'content' / 'id'}")
    print("whole = `temanjiwa lint` of content/id plus the file (wall time, whole process);")
    print("alone = flows.yamlload.load_yaml of the file only (time inside the process)")
    print(f"{'case':<20} {'run':<6} {'seconds':>8} {'peak MB':>8} {'exit':>5}  first line")
    with tempfile.TemporaryDirectory() as tmp:
        names = ["shipped content", *CASES, "2 MB of flows"]
        for name in names:
            folder = Path(tmp) / "content"
            shutil.rmtree(folder, ignore_errors=True)
            shutil.copytree(ROOT / "content" / "id", folder)
            case = folder / "flows" / "case.yaml"
            runs: list[tuple[str, Path | None]] = [("whole", None)]
            if name in CASES:
                case.write_text(CASES[name](), encoding="utf-8")
                runs.append(("alone", case))
            elif name == "2 MB of flows":
                for i in range(AT_THE_LIMITS):
                    path = folder / "flows" / f"besar{i}.yaml"
                    path.write_text(flow_of_size(f"besar{i}", LIMIT_FLOW_BYTES), encoding="utf-8")
                runs.append(("alone", folder / "flows" / "besar0.yaml"))
            for run, alone in runs:
                seconds, peak_kb, code, line = run_case(repo, folder, args.timeout, alone=alone)
                shown = "-" if code is None else str(code)
                print(f"{name:<20} {run:<6} {seconds:>8.3f} {peak_kb / 1024:>8.0f} {shown:>5}  "
                      f"{line.replace(str(folder), '')[:100]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
