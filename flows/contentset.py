"""One content set — flows, texts, hotlines and the crisis lexicon — linted and served together.

The bot serves a content set whole or not at all. `load_content_set` checks everything
`temanjiwa lint` checks, the lexicon included, and builds the engine's content and the
crisis detector from the same reading, so a set that passes is exactly the set served.
`load_serving_set` picks what to serve: the live folder when it passes, otherwise the last
good copy `keep_last_good` made of an earlier live folder that passed.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from flows.crisis import CrisisDetector, read_crisis
from flows.i18n import _
from flows.linter import lint_content
from flows.loader import read_content
from flows.model import Content
from flows.problems import ContentError, Problem

LEXICON = Path("crisis") / "lexicon.yaml"


@dataclass(frozen=True)
class ContentSet:
    """What one running bot serves: the engine's content and the detector built with it."""

    directory: Path
    content: Content
    detector: CrisisDetector | None  # None only when the lexicon was not required
    warnings: tuple[Problem, ...] = ()


def check_content_set(directory: Path, *,
                      require_lexicon: bool = True) -> tuple[ContentSet | None, list[Problem]]:
    """Every problem of the set (as `temanjiwa lint` reports them) and the set itself when it
    has no errors. Never raises for what the files contain."""
    directory = Path(directory)
    content, problems = read_content(directory)
    if content is not None:
        problems.extend(lint_content(content))
    detector = None
    lexicon_path = directory / LEXICON
    if lexicon_path.is_file() or require_lexicon:
        try:
            detector, found = read_crisis(lexicon_path)
        except Exception as exc:  # the lexicon reader must report, not stop the bot
            detector, found = None, [Problem(
                str(lexicon_path), None,
                _("The lexicon could not be checked: {err}").format(err=exc),
                _("Please report this to the developers with the file attached."))]
        problems.extend(found)
    problems.sort(key=lambda p: (p.file, p.line or 0))
    if content is None or any(p.severity == "error" for p in problems):
        return None, problems
    return ContentSet(directory, content, detector, tuple(problems)), problems


def load_content_set(directory: Path, *, require_lexicon: bool = True) -> ContentSet:
    """The set in `directory`; raises ContentError listing every error when it cannot be
    served (a missing lexicon is an error unless `require_lexicon` is False)."""
    content_set, problems = check_content_set(directory, require_lexicon=require_lexicon)
    if content_set is None:
        raise ContentError([p for p in problems if p.severity == "error"] or problems)
    return content_set


def load_serving_set(live: Path, last_good: Path | None, *,
                     require_lexicon: bool = True) -> tuple[ContentSet, list[Problem]]:
    """The set to serve and the live folder's problems (to log when the copy is used).

    The live folder when it passes; otherwise the last good copy, when there is one and it
    still passes. Raises the live folder's ContentError when neither can be served."""
    content_set, problems = check_content_set(live, require_lexicon=require_lexicon)
    if content_set is not None:
        return content_set, problems
    errors = [p for p in problems if p.severity == "error"] or problems
    if last_good is not None and not Path(last_good).is_dir():
        last_good = _previous(Path(last_good))  # a crash inside keep_last_good
    if last_good is None or not Path(last_good).is_dir():
        raise ContentError(errors)
    kept, _kept_problems = check_content_set(last_good, require_lexicon=require_lexicon)
    if kept is None:
        raise ContentError(errors)
    return kept, problems


def _previous(last_good: Path) -> Path:
    return last_good.with_name(last_good.name + ".old")


def keep_last_good(content_set: ContentSet, last_good: Path) -> None:
    """Copy a set that passed to `last_good`. The copy is made beside it and swapped in by
    renames; a crash between them leaves the previous copy as `<name>.old`, which
    `load_serving_set` falls back to."""
    last_good = Path(last_good)
    tmp = last_good.with_name(last_good.name + ".tmp")
    old = _previous(last_good)
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(content_set.directory, tmp)
    if last_good.exists():
        shutil.rmtree(old, ignore_errors=True)
        last_good.rename(old)
    tmp.rename(last_good)
    shutil.rmtree(old, ignore_errors=True)
