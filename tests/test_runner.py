"""`temanjiwa run` as a real process: Telegram and WhatsApp served at once, clean SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys

import httpx

from storage.migrations import MIGRATIONS
from tests.conftest import ROOT
from tests.fakes.graph_api import running_graph_api
from tests.fakes.telegram_api import FakeTelegram
from tests.support.whatsapp_driver import payload, signed, text_message

APP_SECRET = "runner-app-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_until(predicate, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


async def test_run_serves_telegram_and_whatsapp_in_one_process(tmp_path):
    port = free_port()
    async with FakeTelegram() as telegram, running_graph_api() as graph:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TEMANJIWA_", "WHATS",
                                                                       "TELEGRAM"))},
            "TEMANJIWA_SECRET": "runner-secret",
            "TEMANJIWA_LANG": "en",
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_API_BASE_URL": telegram.base_url,
            "WHATSAPP_ACCESS_TOKEN": graph.token,
            "WHATSAPP_APP_SECRET": APP_SECRET,
            "WHATSAPP_VERIFY_TOKEN": "verify",
            "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
            "WHATSAPP_API_BASE_URL": graph.base_url,
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--db", str(tmp_path / "run.db"),
             "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                async def healthy() -> bool:
                    try:
                        return (await http.get("/healthz")).status_code == 200
                    except httpx.TransportError:
                        return False

                for _ in range(400):
                    if proc.poll() is not None or await healthy():
                        break
                    await asyncio.sleep(0.05)
                assert proc.poll() is None, proc.stderr.read()
                health = (await http.get("/healthz")).json()
                assert health["database"]["backend"] == "sqlite"
                assert health["database"]["reachable"] is True
                assert health["database"]["schema_version"] == len(MIGRATIONS)
                assert health["worker"]["role"] == "single"  # one SQLite file, polling
                assert "telegram:polling" in health["worker"]["runs"]

                pushed = telegram.push_message(5001, 5001, "/start")
                call = await telegram.wait_for("sendMessage", chat_id=5001, since=pushed,
                                               timeout=20)
                assert "Teman Jiwa" in call.text

                raw, headers = signed(payload([text_message("halo", sender="6281200000001")]),
                                      APP_SECRET)
                response = await http.post("/whatsapp/webhook", content=raw, headers=headers)
                assert response.status_code == 200
                await wait_until(lambda: any(c.recipient == "6281200000001"
                                             for c in graph.delivered))
                forged = await http.post("/whatsapp/webhook", content=raw,
                                         headers={**headers, "X-Hub-Signature-256": "sha256=00"})
                assert forged.status_code == 403
        finally:
            proc.send_signal(signal.SIGTERM)
            # the fake servers live in this event loop: keep it running while the bot stops
            _out, err = await asyncio.to_thread(proc.communicate, timeout=60)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
