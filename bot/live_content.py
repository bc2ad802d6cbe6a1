"""The content a running bot serves: linted on start and on every edit, never served broken.

On start `load_live_content` lints the content folder; when it passes, a copy is kept
beside the database as `content-last-good/`; when it does not, the problems are logged and
the last good copy is served. While running, `ContentWatcher` reloads edited files only
when they pass the linter, so a broken edit never takes the bot down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
from pathlib import Path

from flows.crisis import load_detector as load_lexicon
from flows.linter import load_content
from flows.model import Content
from flows.problems import ContentError
from flows.runtime import CrisisDetector, Engine

log = logging.getLogger(__name__)

LAST_GOOD = "content-last-good"


def load_live_content(directory: Path, keep_dir: Path | None) -> Content:
    """Load content; on success keep a copy as 'last good', on failure serve that copy."""
    try:
        content = load_content(directory)
    except ContentError as exc:
        snapshot = keep_dir / LAST_GOOD if keep_dir else None
        if snapshot is None or not snapshot.is_dir():
            raise
        log.error("content in %s has %d problem(s); serving the last good copy from %s. "
                  "Run 'temanjiwa lint' to see them.", directory, len(exc.problems), snapshot)
        return load_content(snapshot)
    if keep_dir is not None:
        keep_last_good(directory, keep_dir)
    return content


def keep_last_good(directory: Path, keep_dir: Path) -> None:
    """Copy `directory` to `keep_dir/content-last-good`. Several workers on one machine may
    do this at the same moment: each copies to a name of its own and swaps it in with
    renames, so none of them fails and a copy is always complete."""
    snapshot = keep_dir / LAST_GOOD
    mine = f"{os.getpid()}.{secrets.token_hex(4)}"
    tmp, old = keep_dir / f"{LAST_GOOD}.{mine}.tmp", keep_dir / f"{LAST_GOOD}.{mine}.old"
    keep_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(directory, tmp)
    with contextlib.suppress(FileNotFoundError):
        snapshot.rename(old)
    try:
        tmp.rename(snapshot)
    except OSError:  # another worker put its copy there first: it is as good as ours
        shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)


def load_detector(content_dir: Path) -> CrisisDetector | None:
    lexicon = content_dir / "crisis" / "lexicon.yaml"
    if not lexicon.is_file():
        log.warning("no crisis lexicon at %s: crisis detection is OFF", lexicon)
        return None
    return load_lexicon(lexicon)


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
