"""`temanjiwa run` as a real child process, for the fault suite (tests/fault).

The child talks to fakes served in the test's own event loop (tests/fakes: the Bot API and
the Graph API on 127.0.0.1); its stderr goes to a file (a DEBUG run writes a lot, and a
full pipe would stall it). `BotProcess.kill()` is a real SIGKILL; `start()` again on the
same database is the restart.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ROOT

APP_SECRET = "fault-app-secret"
VERIFY_TOKEN = "fault-verify"
PHONE_NUMBER_ID = "106540352242922"
WEBHOOK_SECRET = "fault-webhook-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env() -> dict[str, str]:
    """This environment without any of the bot's own settings."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TEMANJIWA_", "WHATSAPP_", "TELEGRAM_"))
    } | {"TEMANJIWA_SECRET": "fault-secret", "TEMANJIWA_LANG": "en"}


@dataclass
class BotProcess:
    """One `temanjiwa run` child. `telegram` / `graph` are the fakes it is pointed at."""

    tmp: Path
    telegram: Any = None
    graph: Any = None
    webhook: bool = False  # Telegram in webhook mode (else long polling)
    verbose: bool = False
    config: Path | None = None
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    runs: int = 0

    @property
    def db(self) -> Path:
        return self.tmp / "bot.db"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stderr_path(self, run: int | None = None) -> Path:
        return self.tmp / f"stderr-{self.runs if run is None else run}.log"

    def stderr(self) -> str:
        """Everything every run of this process wrote to stderr so far."""
        return "".join(
            self.stderr_path(n).read_text(errors="replace")
            for n in range(1, self.runs + 1)
            if self.stderr_path(n).exists()
        )

    def env(self) -> dict[str, str]:
        env = base_env()
        if self.telegram is not None:
            env |= {"TELEGRAM_BOT_TOKEN": self.telegram.token,
                    "TELEGRAM_API_BASE_URL": self.telegram.base_url}
            if self.webhook:
                env |= {"TELEGRAM_WEBHOOK_URL": f"{self.url}/telegram/webhook",
                        "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET}
        if self.graph is not None:
            env |= {"WHATSAPP_ACCESS_TOKEN": self.graph.token,
                    "WHATSAPP_APP_SECRET": APP_SECRET,
                    "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
                    "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
                    "WHATSAPP_API_BASE_URL": self.graph.base_url}
        return env

    async def start(self, timeout: float = 60.0) -> None:
        """Start (or restart) the child and wait until /healthz answers."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.runs += 1
        args = [sys.executable, "-m", "bot.cli", "run", "--db", str(self.db),
                "--host", "127.0.0.1", "--port", str(self.port)]
        if self.config is not None:
            args += ["--config", str(self.config)]
        if self.verbose:
            args.append("-v")
        with open(self.stderr_path(), "wb") as err:
            self.proc = subprocess.Popen(args, cwd=ROOT, env=self.env(),
                                         stdout=subprocess.DEVNULL, stderr=err)
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as http:
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError(f"the bot exited at start:\n{self.stderr()[-3000:]}")
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                assert asyncio.get_running_loop().time() < deadline, "the bot never got healthy"
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL, at once; nothing in the child gets to run."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        assert self.proc.returncode == -signal.SIGKILL

    async def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait (in a thread: the fakes live in this loop); the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait)
                raise AssertionError("the bot did not stop on SIGTERM") from None
        return self.proc.returncode

    async def health(self) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.url, timeout=5) as http:
            return (await http.get("/healthz")).json()

    async def __aenter__(self) -> BotProcess:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)
