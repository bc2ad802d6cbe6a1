"""Shared helpers for the escalation and cadre tests.

A controllable clock, recording alert senders, a deployment config with a fallback chain,
and a content set that runs the REAL crisis flow (content/id/flows/crisis.yaml) on top of
the small fixture content, so conversation tests follow what residents will see even while
the rest of content/id is still being written.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import EscalationKit, wire
from bot.cases.cards import Alert, render_alert
from bot.config import Config, Route, parse_config
from bot.conversations import Conversations
from bot.crypto import Sealer, load_key
from flows.linter import load_content
from flows.messages import Choice, Inbound
from flows.runtime import Engine, EngineSettings
from storage import make_store
from storage.base import Store
from tests.conftest import FIXTURE_CONTENT, REAL_CONTENT, KeywordDetector
from tests.support import databases

START = datetime(2026, 11, 22, 7, 5, tzinfo=UTC)  # 14.05 WIB


@functools.cache
def system_text(key: str, content_dir: Path = REAL_CONTENT) -> str:
    """What the bot says for a system.yaml text, as the engine renders it."""
    return Engine(load_content(content_dir)).system_text(key)


class FakeClock:
    def __init__(self, start: datetime = START):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class RecordingSender:
    """Keeps every delivery; `fail_next` makes the next N calls raise."""

    sent: list[tuple[str, Alert]] = field(default_factory=list)
    updates: list[tuple[str, str, Alert]] = field(default_factory=list)
    fail_next: int = 0
    keys_tried: list[str] = field(default_factory=list)

    async def send_alert(self, route: Route, alert: Alert) -> str:
        self.keys_tried.append(alert.idempotency_key)
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError("cadre group unreachable")
        self.sent.append((route.id, alert))
        return f"ref-{len(self.sent)}"

    async def update_alert(self, route: Route, external_ref: str, alert: Alert) -> None:
        self.updates.append((route.id, external_ref, alert))

    def texts(self) -> list[str]:
        return [render_alert(a) for _r, a in self.sent]


class FileRecordingSender:
    """Appends one JSON line per delivery to a file (fsync'd), as a separate process would.

    With `dedupe`, it behaves like a receiver that honours the idempotency key: a retry of
    a key it already has is acknowledged without a second delivery.
    """

    def __init__(self, path: Path, dedupe: bool = False):
        self.path = path
        self.dedupe = dedupe

    async def send_alert(self, route: Route, alert: Alert) -> str:
        if self.dedupe and any(
            d["key"] == alert.idempotency_key for d in read_deliveries(self.path)
        ):
            return alert.idempotency_key
        line = json.dumps(
            {
                "key": alert.idempotency_key,
                "case": alert.case,
                "route": route.id,
                "kind": alert.kind,
                "repeat": alert.repeat,
                "pid": os.getpid(),
            }
        )
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return alert.idempotency_key

    async def update_alert(self, route: Route, external_ref: str, alert: Alert) -> None:
        return None


def read_deliveries(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


CONFIG = {
    "timezone": "WIB",
    "areas": [
        {"id": "ngunut", "label": "Kec. Ngunut", "route": "kader_ngunut"},
        {"id": "kota", "label": "Kota"},
    ],
    "routes": {
        "kader_ngunut": {
            "name": "Kader Ngunut",
            "telegram_chat_id": -100111,
            "whatsapp_numbers": ["+62 812-0000-1111"],
            "supervisor": "puskesmas_ngunut",
        },
        "puskesmas_ngunut": {"name": "Puskesmas Ngunut", "telegram_chat_id": -100222},
        "dinkes": {"name": "Dinkes Kabupaten", "telegram_chat_id": -100333},
    },
    "default_route": "dinkes",
}
KADER_GROUP = -100111
PUSKESMAS_GROUP = -100222


def make_config(**overrides) -> Config:
    return parse_config({**CONFIG, **overrides})


REAL_FLOWS = ("crisis", "tawar_sapa", "sapa")  # the crisis protocol and the follow-ups


def hybrid_content_dir(tmp: Path) -> Path:
    """Fixture content + the real crisis flow, follow-up flows and schedule, and hotlines
    (+ stubs for flows they leave to)."""
    target = tmp / "content"
    if target.exists():
        return target
    shutil.copytree(FIXTURE_CONTENT, target)
    real = ""
    for name in REAL_FLOWS:
        text = (REAL_CONTENT / "flows" / f"{name}.yaml").read_text(encoding="utf-8")
        (target / "flows" / f"{name}.yaml").write_text(text, encoding="utf-8")
        real += text
    shutil.copy(REAL_CONTENT / "hotlines.yaml", target / "hotlines.yaml")
    shutil.copy(REAL_CONTENT / "followups.yaml", target / "followups.yaml")
    existing = {p.stem for p in (target / "flows").glob("*.yaml")}
    for flow in sorted(set(re.findall(r"goto: ([a-z0-9_]+)", real)) - existing):
        (target / "flows" / f"{flow}.yaml").write_text(
            f"flow: {flow}\nconsent: not_required\nnodes:\n  main:\n    say: Stub {flow}.\n"
            "    end: true\n",
            encoding="utf-8",
        )
    return target


@dataclass
class Harness:
    store: Store
    conversations: Conversations
    kit: EscalationKit
    clock: FakeClock
    sender: RecordingSender
    config: Config
    db_path: Path  # the SQLite file, or for PostgreSQL where the key files are kept
    database: Path | str  # where the store lives: `db_path`, or a postgresql:// URL

    async def say(self, user: str, *messages: str | tuple[str, str], channel: str = "telegram"):
        """Send texts (str) or button presses (("choice", id)); returns the last turn."""
        turn = None
        for message in messages:
            inbound = (
                Inbound(choice=message[1]) if isinstance(message, tuple) else Inbound(text=message)
            )
            turn = await self.conversations.handle(channel, user, inbound)
        return turn

    async def onboard(self, user: str, area: str = "ngunut", channel: str = "telegram"):
        return await self.say(
            user, "/start", ("c", "setuju"), ("c", "dewasa"), ("c", area), channel=channel
        )

    @property
    def on_postgres(self) -> bool:
        return databases.is_postgres(self.database)

    def rows(self, sql: str, *params) -> list[databases.Row]:
        """A `?` query on its own connection (committed data); rows by index and name."""
        return databases.rows(self.database, sql, *params)

    def columns(self, table: str) -> list[str]:
        if self.on_postgres:
            found = self.rows(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?", table
            )
            return [r[0] for r in found]
        return [r[1] for r in self.rows(f"PRAGMA table_info({table})")]

    def raw_bytes(self) -> bytes:
        """Everything the database keeps (SQLite: every byte on disk, with the WAL and
        shared memory; PostgreSQL: every row of every table)."""
        return databases.stored_bytes(self.database)

    async def close(self) -> None:
        await self.store.close()


async def make_harness(
    tmp_path: Path,
    *,
    content_dir: Path | None = None,
    config: Config | None = None,
    clock: FakeClock | None = None,
    sender: RecordingSender | None = None,
    detector=None,
    database: Path | str | None = None,
) -> Harness:
    """The escalation stack on a store at `database` (default: an SQLite file in tmp_path)."""
    clock = clock or FakeClock()
    sender = sender or RecordingSender()
    config = config or make_config()
    content = load_content(content_dir or hybrid_content_dir(tmp_path))
    settings = EngineSettings(
        areas=tuple(Choice(a.id, a.label) for a in config.areas), timezone=config.tz
    )
    engine = Engine(content, settings, detector or KeywordDetector())
    db_path = tmp_path / "esc.db"
    if database is None or not databases.is_postgres(database):
        database = db_path
    store = make_store(database)
    await store.open()
    conversations, kit = wire(
        engine,
        store,
        config,
        secret=b"test-secret",
        sealer=Sealer(load_key(db_path)),  # a key file beside the db: restarts share it
        alerts=sender,
        clock=clock,
    )
    return Harness(store, conversations, kit, clock, sender, config, db_path, database)


@pytest.fixture(name="h")
async def escalation_harness(tmp_path, database):
    """`h` in a test module that imports this: the escalation harness on the test's database
    (SQLite, or PostgreSQL too in a `both_backends` module), closed after the test."""
    harness = await make_harness(tmp_path, database=database)
    yield harness
    await harness.close()
