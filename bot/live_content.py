"""The content a running bot serves: linted on start and on every edit, never served broken.

Content and crisis material are one set (flows/contentset.py): both are read and linted
together, and served together or not at all. On start, a set that passes is kept beside
the database as `content-last-good/`; one that does not is logged and the last good copy
is served instead (its flows and its crisis material). While running, `ContentWatcher`
reloads edited files only when the whole set passes, in a worker thread, so the event loop
keeps answering residents while a large folder is read.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from flows.contentset import ContentSet, check_content_set, keep_last_good, load_serving_set
from flows.runtime import Engine

log = logging.getLogger(__name__)

LAST_GOOD = "content-last-good"


def load_live_content(directory: Path, keep_dir: Path | None) -> ContentSet:
    """The set to serve: the folder if it passes (and it becomes the last good copy), else
    the last good copy; raises ContentError when neither can be served."""
    last_good = keep_dir / LAST_GOOD if keep_dir is not None else None
    content_set, problems = load_serving_set(Path(directory), last_good)
    if content_set.directory != Path(directory):
        errors = sum(1 for p in problems if p.severity == "error")
        log.error("content in %s has %d problem(s); serving the last good copy from %s. "
                  "Run 'temanjiwa lint' to see them.", directory, errors, content_set.directory)
    elif last_good is not None:
        keep_last_good(content_set, last_good)
    return content_set


class ContentWatcher:
    """Reloads content when its files change; a set that fails the linter is not served."""

    def __init__(self, engine: Engine, directory: Path, keep_dir: Path):
        self.engine = engine
        self.directory = directory
        self.last_good = keep_dir / LAST_GOOD
        self._seen = self.fingerprint()

    def fingerprint(self) -> tuple[int, float]:
        files = [p for p in self.directory.rglob("*") if p.is_file()]
        return len(files), max((p.stat().st_mtime for p in files), default=0.0)

    def read_changes(self) -> ContentSet | None:
        """The folder's set if anything changed and it passes (now the last good copy);
        None otherwise. Safe in a worker thread: it does not touch the engine."""
        current = self.fingerprint()
        if current == self._seen:
            return None
        self._seen = current
        try:
            content_set, problems = check_content_set(self.directory)
        except Exception:  # a content edit must never stop the bot
            log.exception("content changed but could not be read; still serving the previous "
                          "version")
            return None
        if content_set is None:
            errors = sum(1 for p in problems if p.severity == "error")
            log.error("content changed but has %d problem(s); still serving the previous "
                      "version. Run 'temanjiwa lint' to see them.", errors)
            return None
        keep_last_good(content_set, self.last_good)
        return content_set

    def serve(self, content_set: ContentSet) -> None:
        """Swap the engine's content and detector (on the event loop, between turns)."""
        self.engine.replace_content(content_set.content, content_set.detector)
        log.info("content reloaded from %s", self.directory)

    def check(self) -> bool:
        """Reload now if anything changed; True when new content is now served."""
        content_set = self.read_changes()
        if content_set is None:
            return False
        self.serve(content_set)
        return True

    async def run(self, interval_s: float = 10.0) -> None:
        """Every `interval_s`: read and lint in a worker thread, swap on the loop."""
        while True:
            await asyncio.sleep(interval_s)
            content_set = await asyncio.to_thread(self.read_changes)
            if content_set is not None:
                self.serve(content_set)
