"""Several real `temanjiwa run` worker processes on one database, in webhook mode, for the
fault test and the benchmark (no tests here).

`Deployment` starts the workers on 127.0.0.1 ports with one shared secret set, talking to
the fake Bot API and the fake Graph API (tests/fakes) of the caller's event loop, and plays
the load balancer and the platforms: `post` sends a webhook to a live worker and, like
Telegram and Meta, sends it again (to any worker) until one answers 200. Workers can be
killed with SIGKILL and started again on their port. Each worker's log goes to a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from tests.conftest import ROOT

TELEGRAM_SECRET = "fault-test-webhook-secret"
WHATSAPP_APP_SECRET = "fault-test-app-secret"
PHONE_NUMBER_ID = "106540352242922"
RESIDENT_SECRET = "one-secret-for-every-worker"
ENCRYPTION_KEY = Fernet.generate_key().decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_env(database_url: str, config: Path, telegram: Any = None,
               graph: Any = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every worker shares (and nothing of the caller's own settings)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TEMANJIWA_", "WHATSAPP_", "TELEGRAM_"))}
    env.update({
        "PYTHONPATH": str(ROOT),
        "TEMANJIWA_LANG": "en",
        "TEMANJIWA_DATABASE_URL": database_url,
        "TEMANJIWA_SECRET": RESIDENT_SECRET,
        "TEMANJIWA_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "TEMANJIWA_CONFIG": str(config),
    })
    if telegram is not None:
        env.update({
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_API_BASE_URL": telegram.base_url,
            "TELEGRAM_WEBHOOK_URL": "https://bot.example.test/telegram/webhook",
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        })
    if graph is not None:
        env.update({
            "WHATSAPP_ACCESS_TOKEN": graph.token,
            "WHATSAPP_APP_SECRET": WHATSAPP_APP_SECRET,
            "WHATSAPP_VERIFY_TOKEN": "verify",
            "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
            "WHATSAPP_API_BASE_URL": graph.base_url,
        })
    env.update(extra or {})
    return env


@dataclass
class Worker:
    index: int
    port: int
    log_dir: Path
    proc: subprocess.Popen | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_path(self) -> Path:
        return self.log_dir / f"worker{self.index}-{self.starts}.log"


@dataclass
class Deployment:
    env: dict[str, str]
    log_dir: Path
    count: int = 3
    db_arg: list[str] = field(default_factory=list)  # e.g. ["--db", path] for SQLite
    workers: list[Worker] = field(default_factory=list)
    kills: int = 0
    killed_at: list[tuple[float, int]] = field(default_factory=list)  # (loop time, worker)
    retries: int = 0

    def __post_init__(self) -> None:
        self.workers = [Worker(i, free_port(), self.log_dir) for i in range(self.count)]

    # ------------------------------------------------------------------ processes
    def spawn(self, worker: Worker) -> None:
        worker.starts += 1
        log = open(worker.log_path(), "w", encoding="utf-8")  # noqa: SIM115 (kept by Popen)
        worker.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", *self.db_arg, "--host", "127.0.0.1",
             "--port", str(worker.port)],
            cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        )
        log.close()

    async def wait_healthy(self, worker: Worker, guard: float = 60.0) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + guard
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as http:
            while True:
                if not worker.alive:
                    raise AssertionError(
                        f"worker {worker.index} ended: {worker.log_path().read_text()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    answer = await http.get(worker.url + "/healthz")
                    if answer.status_code == 200:
                        return answer.json()
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"worker {worker.index} never became healthy")
                await asyncio.sleep(0.1)

    async def start(self) -> None:
        for worker in self.workers:
            self.spawn(worker)
        for worker in self.workers:
            await self.wait_healthy(worker)

    def kill9(self, worker: Worker) -> None:
        assert worker.proc is not None
        worker.proc.send_signal(signal.SIGKILL)
        worker.proc.wait()
        self.kills += 1
        with contextlib.suppress(RuntimeError):
            self.killed_at.append((asyncio.get_running_loop().time(), worker.index))

    async def restart(self, worker: Worker) -> None:
        self.spawn(worker)
        await self.wait_healthy(worker)

    async def stop(self) -> list[int]:
        """SIGTERM every live worker and wait (the fakes live in the caller's loop: keep it
        running meanwhile); their exit codes. Safe after a failed start."""
        codes = []
        for worker in self.workers:
            if worker.alive:
                assert worker.proc is not None
                worker.proc.send_signal(signal.SIGTERM)
        for worker in self.workers:
            if worker.proc is not None:
                try:
                    codes.append(await asyncio.to_thread(worker.proc.wait, 60))
                except subprocess.TimeoutExpired:
                    worker.proc.kill()
                    codes.append(-9)
        return codes

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-4000:]}"
                         for p in sorted(self.log_dir.glob("worker*.log")))

    # ------------------------------------------------------------------ the platforms
    async def post(self, http: httpx.AsyncClient, path: str, *, content: bytes,
                   headers: dict[str, str], guard: float = 90.0) -> int:
        """Deliver one webhook as the platforms do: to any live worker, again until one
        answers 200 (a worker killed mid-request, a 5xx). Returns the attempts it took."""
        deadline = asyncio.get_running_loop().time() + guard
        attempts = 0
        while True:
            attempts += 1
            live = [w for w in self.workers if w.alive] or self.workers
            worker = random.choice(live)
            with contextlib.suppress(httpx.HTTPError):
                answer = await http.post(worker.url + path, content=content, headers=headers)
                if answer.status_code == 200:
                    return attempts
                assert answer.status_code >= 500, (answer.status_code, answer.text)
            self.retries += 1
            assert asyncio.get_running_loop().time() < deadline, "never delivered"
            await asyncio.sleep(0.05)
