"""Wiring: config + content + storage + engine → a ready `Conversations` service.

Content is loaded through `load_live_content`: when the folder does not pass the
linter, the last good copy is served instead, so a broken edit never takes the bot down.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from bot.alerts import AlertSender, RoutingAlertSender
from bot.config import Config
from bot.escalation import EscalationKit, install
from bot.service import Clock, Conversations, utc_now
from bot.stats import register_stats
from flows.linter import load_content
from flows.model import Content
from flows.problems import ContentError
from flows.runtime import CrisisDetector, Engine
from storage.keys import load_secret
from storage.sqlite import SqliteStore

log = logging.getLogger(__name__)

REPO_CONTENT = Path(__file__).resolve().parent.parent / "content" / "id"


def default_content_dir() -> Path:
    env = os.environ.get("TEMANJIWA_CONTENT")
    if env:
        return Path(env)
    if REPO_CONTENT.is_dir():
        return REPO_CONTENT
    return Path.cwd() / "content" / "id"


def default_db_path() -> Path:
    env = os.environ.get("TEMANJIWA_DB")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "temanjiwa" / "temanjiwa.db"


def load_live_content(directory: Path, keep_dir: Path | None) -> Content:
    """Load content; on success keep a copy as 'last good', on failure serve that copy."""
    try:
        content = load_content(directory)
    except ContentError as exc:
        snapshot = keep_dir / "content-last-good" if keep_dir else None
        if snapshot is None or not snapshot.is_dir():
            raise
        log.error("content in %s has %d problem(s); serving the last good copy from %s. "
                  "Run 'temanjiwa lint' to see them.", directory, len(exc.problems), snapshot)
        return load_content(snapshot)
    if keep_dir is not None:
        snapshot = keep_dir / "content-last-good"
        tmp = keep_dir / "content-last-good.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(directory, tmp)
        shutil.rmtree(snapshot, ignore_errors=True)
        tmp.rename(snapshot)
    return content


def load_detector(content_dir: Path) -> CrisisDetector | None:
    lexicon = content_dir / "crisis" / "lexicon.yaml"
    if not lexicon.is_file():
        log.warning("no crisis lexicon at %s: crisis detection is OFF", lexicon)
        return None
    from flows.crisis import load_detector as load

    return load(lexicon)


class ContentWatcher:
    """Reloads content when its files change; a version that fails the linter is not served."""

    def __init__(self, engine: Engine, directory: Path, keep_dir: Path):
        self.engine = engine
        self.directory = directory
        self.keep_dir = keep_dir
        self._seen = self.fingerprint()

    def fingerprint(self) -> tuple[int, float]:
        files = [p for p in self.directory.rglob("*") if p.is_file()]
        return len(files), max((p.stat().st_mtime for p in files), default=0.0)

    def check(self) -> bool:
        """Reload if anything changed; True when new content is now served."""
        current = self.fingerprint()
        if current == self._seen:
            return False
        self._seen = current
        try:
            content = load_content(self.directory)
            detector = load_detector(self.directory)
        except Exception as exc:  # a content edit must never stop the bot
            count = len(exc.problems) if isinstance(exc, ContentError) else 1
            log.error("content changed but has %d problem(s); still serving the previous "
                      "version. Run 'temanjiwa lint' to see them.", count)
            return False
        load_live_content(self.directory, self.keep_dir)  # refresh the last good copy
        self.engine.replace_content(content, detector)
        log.info("content reloaded from %s", self.directory)
        return True

    async def run(self, interval_s: float = 10.0) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await asyncio.to_thread(self.check)


@dataclass
class Runtime:
    config: Config
    content_dir: Path
    db_path: Path
    store: SqliteStore
    engine: Engine
    conversations: Conversations
    escalation: EscalationKit
    alerts: AlertSender  # a RoutingAlertSender unless the caller gave its own

    async def close(self) -> None:
        await self.store.close()


async def build_runtime(config: Config, *, content_dir: Path | None = None,
                        db_path: Path | None = None, clock: Clock = utc_now,
                        alerts: AlertSender | None = None) -> Runtime:
    """Everything a channel needs. Escalation is always installed: a crisis case and its
    alert are written even before any channel that can deliver the alert is running."""
    content_dir = Path(content_dir or config.content or default_content_dir())
    db_path = Path(db_path or config.database or default_db_path())
    content = load_live_content(content_dir, db_path.parent)
    detector = load_detector(content_dir)
    engine = Engine(content, config.engine_settings(), detector)
    store = SqliteStore(db_path)
    await store.open()
    secret = load_secret(db_path)
    conversations = Conversations(engine, store, secret, clock=clock)
    register_stats(conversations)  # consent log, withdrawal, anonymous counts (issue 7)
    alerts = alerts or RoutingAlertSender()
    kit = install(conversations, config, sender=alerts, db_path=db_path, clock=clock)
    return Runtime(config, content_dir, db_path, store, engine, conversations, kit, alerts)
