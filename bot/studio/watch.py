"""The studio's view of one content folder: reloaded when a file in it changes.

Checked on each request (a folder of ~50 small YAML files is listed in about a
millisecond), so an editor's save shows on the next page load without a restart. The
newest readable content is what the map draws, mistakes included; `good` is the last
content without errors, which the simulator keeps running while the folder is broken,
with `detector`, the crisis detector compiled from that version's lexicon.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from flows.crisis import CrisisDetector, read_crisis
from flows.i18n import _
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
    detector: CrisisDetector | None = None  # of `good`; None: it has no lexicon

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
        self._lexicon_key: tuple[tuple[str, int, int], ...] | None = None
        self._lexicon: list[Problem] = []
        self._detector: CrisisDetector | None = None

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
            good, detector = content, self._detector
        else:
            good, detector = previous.good, previous.detector
        return Snapshot(previous.version + 1, content or previous.content, good,
                        tuple(problems), detector)

    def _lexicon_problems(self) -> list[Problem]:
        lexicon = self.directory / "crisis" / "lexicon.yaml"
        if not lexicon.is_file():
            self._lexicon_key, self._lexicon, self._detector = None, [], None
            return []
        # Every file of crisis/ (regional files, cues, the classifier's weights) is one set.
        key = tuple(
            (str(p), p.stat().st_mtime_ns, p.stat().st_size)
            for p in sorted(lexicon.parent.rglob("*")) if p.is_file()
        )
        if self._lexicon_key != key:
            self._lexicon_key = key
            try:
                self._detector, self._lexicon = read_crisis(lexicon)
            except Exception as exc:  # report, never crash, whatever the file holds
                self._detector, self._lexicon = None, [Problem(str(lexicon), None, _(
                    "The lexicon could not be checked: {err}").format(err=exc))]
        return list(self._lexicon)
