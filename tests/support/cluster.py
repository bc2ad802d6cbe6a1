"""A throwaway PostgreSQL cluster: initdb + pg_ctl from the local PostgreSQL installation,
data and unix socket in one directory, deleted when stopped. As root (CI), initdb refuses to
run, so the cluster runs as the `postgres` user.

Standard library only, so .ci/run can use it before the test dependencies are installed:

    python -m tests.support.cluster start DIR   # prints the server's URL
    python -m tests.support.cluster stop DIR
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

BIN_ENV = "TEMANJIWA_PG_BIN"  # a PostgreSQL bin directory, if not found by itself
# A throwaway cluster: durability is not under test, speed is welcome. No TCP listener:
# the unix socket in the cluster's own directory only.
SERVER_SETTINGS = (
    "listen_addresses=",
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=200",
)


class ServerUnavailable(Exception):
    """No PostgreSQL server could be reached or started; the message says why."""


def find_bindir() -> Path | None:
    """The directory with initdb and pg_ctl: $TEMANJIWA_PG_BIN, the newest
    /usr/lib/postgresql/*/bin (Debian, Ubuntu), or wherever initdb is on PATH."""
    candidates = [os.environ.get(BIN_ENV, "")]
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    on_path = shutil.which("initdb")
    candidates.append(str(Path(on_path).parent) if on_path else "")
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    return None


def _as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL will not run as root: run its programs as the `postgres` user then."""
    if os.geteuid() != 0:
        return command
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise ServerUnavailable(
            "running as root and there is no 'postgres' user to run the PostgreSQL server as"
        ) from exc
    return ["runuser", "-u", "postgres", "--", *command]


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(
        _as_server_user(command), capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise ServerUnavailable(
            f"{what} failed ({result.returncode}): "
            f"{(result.stderr or result.stdout).strip()[-500:]}"
        )


def start_cluster(directory: Path, bindir: Path | None = None,
                  settings: tuple[str, ...] = SERVER_SETTINGS) -> str:
    """initdb + pg_ctl start in `directory` (created if needed); returns the server's URL.
    `settings`: server options (default: the tests' fast, non-durable ones)."""
    bindir = bindir or find_bindir()
    if bindir is None:
        raise ServerUnavailable(
            f"no PostgreSQL installation found (no initdb; set {BIN_ENV} or install PostgreSQL)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(directory, user="postgres")
    data = directory / "data"
    _run(
        [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ],
        "initdb",
    )
    _run(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(directory / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            " ".join([*(f"-c {s}" for s in settings), "-k", str(directory)]),
            "start",
        ],
        "pg_ctl start",
    )
    (directory / "bindir").write_text(str(bindir))
    return f"postgresql://postgres@/postgres?host={directory}"


def stop_cluster(directory: Path) -> None:
    """Stop the cluster in `directory` at once and delete it."""
    bindir_file = directory / "bindir"
    if bindir_file.exists() and (directory / "data" / "postmaster.pid").exists():
        bindir = Path(bindir_file.read_text())
        try:
            _run(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(directory / "data"),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                "pg_ctl stop",
            )
        except ServerUnavailable as exc:
            print(f"could not stop the test PostgreSQL server: {exc}", file=sys.stderr)
    shutil.rmtree(directory, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print(__doc__, file=sys.stderr)
        return 2
    directory = Path(argv[1])
    if argv[0] == "start":
        try:
            print(start_cluster(directory))
        except ServerUnavailable as exc:
            print(f"could not start PostgreSQL: {exc}", file=sys.stderr)
            return 1
        return 0
    stop_cluster(directory)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
