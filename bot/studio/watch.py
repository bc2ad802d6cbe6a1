"""The studio's view of one content folder: reloaded when a file in it changes.

Checked on each request (a folder of ~50 small YAML files is listed in about a
millisecond), so an editor's save shows on the next page load without a restart. The
newest readable content is what the map draws, mistakes included; `good` is the last
content without errors, which a simulator must keep running while the folder is broken.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from flows.crisis import lint_lexicon
from flows.linter import lint_content
from flows.loader import read_content
from flows.model import Content
from flows.problems import Problem

Fingerprint = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Snapshot:
    """The folder as last read: `version` grows by one at every change."""

    version: int
    content: Content | None  # the newest content that could be read (may have errors)
    good: Content | None  # the newest content without errors
    problems: tuple[Problem, ...] = field(default=())

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


class ContentWatch:
    """Reads `directory` again when any file under it is added, removed or changed."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._fingerprint: Fingerprint | None = None
        self._snapshot = Snapshot(0, None, None)
        self._lexicon_key: tuple[int, int] | None = None
        self._lexicon: list[Problem] = []

    def fingerprint(self) -> Fingerprint:
        entries = []
        for path in sorted(self.directory.rglob("*")):
            if path.is_file() and path.suffix in (".yaml", ".yml"):
                stat = path.stat()
                entries.append((str(path), stat.st_mtime_ns, stat.st_size))
        return tuple(entries)

    def current(self) -> Snapshot:
        """The folder now; reads it again only if something changed since the last call."""
        with self._lock:
            fingerprint = self.fingerprint()
            if fingerprint != self._fingerprint:
                self._fingerprint = fingerprint
                self._snapshot = self._read(self._snapshot)
            return self._snapshot

    def _read(self, previous: Snapshot) -> Snapshot:
        # What lint_directory does, but the crisis lexicon (slow to check) only when it
        # changed: a save of a flow is then read again in well under a second.
        content, problems = read_content(self.directory)
        if content is not None:
            problems.extend(lint_content(content))
        problems.extend(self._lexicon_problems())
        problems.sort(key=lambda p: (p.file, p.line or 0))
        if content is not None and not any(p.severity == "error" for p in problems):
            good = content
        else:
            good = previous.good
        return Snapshot(previous.version + 1, content or previous.content, good,
                        tuple(problems))

    def _lexicon_problems(self) -> list[Problem]:
        lexicon = self.directory / "crisis" / "lexicon.yaml"
        if not lexicon.is_file():
            return []
        stat = lexicon.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        if self._lexicon_key != key:
            self._lexicon_key = key
            self._lexicon = lint_lexicon(lexicon)
        return list(self._lexicon)
