"""Seeded random mutations of the shipped content, and what each one does to lint and engine.

Every mutant is the real `content/id` with one random editor-style mistake in one file
(a deleted key, a changed type, a swapped or misspelt reference, an empty text, a
duplicated line, an emptied file, a stray control character, ...). For each mutant:

- the linter must answer with problems, never with a traceback or a hang;
- if the linter passes it, the engine must serve it: every conversation test of
  `content/id/tests` is replayed (expectations are ignored: the content changed, but nothing
  may raise), after each test and in a fresh session a crisis message must still give
  `crisis_detected` (and `escalate` when it is high or urgent) and a hotline, and every
  session and event must stay plain JSON, as storage and the console write them.

Used with a bounded count by tests/fault/test_content_mutations.py; run it by hand for a
longer search (the seed makes every run repeatable):

    python -m tests.fault.mutations --count 2000 --seed 11
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import random
import shutil
import signal
import sys
import tempfile
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from flows.convtest import ConvTest, EngineDriver, collect
from flows.crisis import lint_lexicon, load_detector
from flows.linter import lint_content, load_content
from flows.loader import read_content
from flows.messages import Choice, Inbound
from flows.model import Content
from flows.problems import Problem
from flows.runtime import EngineSettings
from flows.yamlload import load_yaml

ROOT = Path(__file__).resolve().parents[2]
REAL_CONTENT = ROOT / "content" / "id"
LEXICON = "crisis/lexicon.yaml"
AREAS = (Choice("contoh_desa", "Desa Contoh"), Choice("contoh_kec", "Kec. Contoh"))
TIME_LIMIT_S = 20  # CPU seconds per mutant; far above the normal ~0.1 s, only a hang gets there

# (message, level the shipped lexicon gives it): checked on the unmutated content first.
CRISIS_MESSAGES = (
    ("aku mau bunuh diri malam ini", "urgent"),
    ("aku dipukuli suami tiap hari", "high"),
    ("capek hidup rasanya pengen mati aja", "check"),
)

# What a changed value becomes: other types, empty and odd texts, containers.
ODD_VALUES: tuple[Any, ...] = (
    0, 1, -1, 7, 2.5, 10**30, True, False, None, "", "   ", "x", "menu", "{nama}",
    "{hotline.tidak_ada}", "a" * 300, [], {}, ["a"], {"a": 1}, [[]], {"say": "x"},
    date(2024, 1, 31), datetime(2024, 1, 31, 8, 0), b"\x00biner", {"satu", "dua"},
)
ODD_CHARACTERS = ("\x00", "\x07", "\x1b", "\t", "\u00a0", "\u200b", "\u2028", "\ufeff",
                  "\ud7ff", "#", ":", "'", '"', "{", "}", "[", "&a", "*a", "!!binary ", "<<: ")
EMPTY_FILES = ("", "\n", "# hanya komentar\n", "null\n", "~\n", "---\n", "[]\n", "{}\n",
               "flow: x\n", "nodes:\n", "- a\n- b\n", "teks saja\n", "0\n")


@dataclass(frozen=True)
class Mutant:
    number: int
    file: str  # relative to the content folder
    operation: str
    detail: str
    text: str  # the whole mutated file


@dataclass(frozen=True)
class Verdict:
    """rejected: lint found errors (good). served: lint passed and the engine coped (good).
    Anything else is a defect: lint_crash, hang, load_mismatch, engine_error, crisis_lost,
    not_json."""

    mutant: Mutant
    outcome: str
    message: str = ""

    @property
    def defect(self) -> bool:
        return self.outcome not in ("rejected", "served")

    def __str__(self) -> str:
        m = self.mutant
        return f"#{m.number} {m.file} {m.operation} ({m.detail}): {self.outcome}: {self.message}"


class _Hang(BaseException):
    """Raised by the CPU timer; a BaseException so the engine's own guard lets it through."""


# ---------------------------------------------------------------------------- mutations
def _plain(value: Any) -> Any:
    """LineDict/LineList → dict/list, so yaml.safe_dump can write them back."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10_000)


Slot = tuple[Any, Any]  # (container, key or index)


def _slots(data: Any) -> Iterator[Slot]:
    """Every place in the tree that holds a value."""
    todo = [data]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                yield node, key
                todo.append(value)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield node, index
                todo.append(value)


def _misspell(rng: random.Random, word: str) -> str:
    variants = [word + "x", word.upper(), word[:-1], word.replace("_", "-"), " " + word,
                word + ".x", "menu." + word, word + " ", word.capitalize(), word * 2]
    return rng.choice([v for v in variants if v != word] or ["x"])


class Mutator:
    """Makes one mutant from a file's text; each operation returns None when it does not apply."""

    def __init__(self, rng: random.Random, names: list[str]):
        self.rng = rng
        self.names = names  # ids found in the content: nodes, flows, flow.node, hotlines...

    def operations(self) -> list[tuple[str, Callable[[str], tuple[str, str] | None]]]:
        return [
            ("delete_key", self.delete_key), ("change_type", self.change_type),
            ("empty_string", self.empty_string), ("swap_reference", self.swap_reference),
            ("wrong_id", self.wrong_id), ("rename_key", self.rename_key),
            ("swap_values", self.swap_values), ("drop_item", self.drop_item),
            ("duplicate_item", self.duplicate_item), ("copy_key", self.copy_key),
            ("duplicate_line", self.duplicate_line), ("delete_line", self.delete_line),
            ("swap_lines", self.swap_lines), ("reindent", self.reindent),
            ("truncate", self.truncate), ("insert_character", self.insert_character),
            ("empty_file", self.empty_file),
        ]

    # -- on the parsed data (written back with yaml.safe_dump; comments are lost) --------
    def _data(self, text: str) -> Any:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            data, _problems = load_yaml(Path(f.name))
        return _plain(data)

    def _pick(self, text: str, want: Callable[[Any, Any], bool] = lambda c, k: True):
        data = self._data(text)
        slots = [s for s in _slots(data) if want(*s)]
        return (data, self.rng.choice(slots)) if slots else (data, None)

    def delete_key(self, text: str):
        data, slot = self._pick(text, lambda c, k: isinstance(c, dict))
        if slot is None:
            return None
        container, key = slot
        del container[key]
        return _dump(data), f"deleted '{key}'"

    def change_type(self, text: str):
        data, slot = self._pick(text)
        if slot is None:
            return None
        container, key = slot
        new = self.rng.choice(ODD_VALUES)
        old = container[key]
        container[key] = copy.deepcopy(new)
        return _dump(data), f"'{key}': {str(old)[:30]!r} → {new!r}"[:120]

    def empty_string(self, text: str):
        data, slot = self._pick(text, lambda c, k: isinstance(c[k], str))
        if slot is None:
            return None
        container, key = slot
        container[key] = self.rng.choice(["", " ", "\n"])
        return _dump(data), f"'{key}' emptied"

    def swap_reference(self, text: str):
        names = set(self.names)
        data, slot = self._pick(text, lambda c, k: isinstance(c[k], str) and c[k] in names)
        if slot is None:
            return None
        container, key = slot
        old, new = container[key], self.rng.choice(self.names)
        container[key] = new
        return _dump(data), f"'{key}': {old} → {new}"

    def wrong_id(self, text: str):
        data, slot = self._pick(text, lambda c, k: isinstance(c[k], str) and len(c[k]) < 40)
        if slot is None:
            return None
        container, key = slot
        old = container[key]
        container[key] = _misspell(self.rng, old)
        return _dump(data), f"'{key}': {old!r} → {container[key]!r}"

    def rename_key(self, text: str):
        data, slot = self._pick(text, lambda c, k: isinstance(c, dict) and isinstance(k, str))
        if slot is None:
            return None
        container, key = slot
        new = self.rng.choice([_misspell(self.rng, key), self.rng.choice(self.names)])
        if new in container:
            return None
        items = [(new if k == key else k, v) for k, v in container.items()]
        container.clear()
        container.update(items)
        return _dump(data), f"key '{key}' → '{new}'"

    def swap_values(self, text: str):
        data, slot = self._pick(text, lambda c, k: isinstance(c, dict) and len(c) > 1)
        if slot is None:
            return None
        container, key = slot
        other = self.rng.choice([k for k in container if k != key])
        container[key], container[other] = container[other], container[key]
        return _dump(data), f"swapped '{key}' and '{other}'"

    def drop_item(self, text: str):
        data, slot = self._pick(text, lambda c, k: isinstance(c, list))
        if slot is None:
            return None
        container, index = slot
        del container[index]
        return _dump(data), f"dropped item {index}"

    def duplicate_item(self, text: str):
        data, slot = self._pick(text, lambda c, k: isinstance(c, list))
        if slot is None:
            return None
        container, index = slot
        container.insert(index, copy.deepcopy(container[index]))
        return _dump(data), f"duplicated item {index}"

    def copy_key(self, text: str):
        """A key/value of one block copied into another block of the same file."""
        data = self._data(text)
        blocks = [c for c, k in _slots(data) if isinstance(c, dict)]
        if len(blocks) < 2:
            return None
        source, target = self.rng.sample(blocks, 2)
        key = self.rng.choice(list(source))
        target[key] = copy.deepcopy(source[key])
        return _dump(data), f"copied '{key}' into another block"

    # -- on the text (comments and layout kept) ------------------------------------------
    def _lines(self, text: str) -> list[str]:
        return text.splitlines(keepends=True)

    def _content_line(self, lines: list[str]) -> int | None:
        candidates = [i for i, line in enumerate(lines)
                      if line.strip() and not line.lstrip().startswith("#")]
        return self.rng.choice(candidates) if candidates else None

    def duplicate_line(self, text: str):
        lines = self._lines(text)
        i = self._content_line(lines)
        if i is None:
            return None
        lines.insert(i, lines[i])
        return "".join(lines), f"line {i + 1} twice"

    def delete_line(self, text: str):
        lines = self._lines(text)
        i = self._content_line(lines)
        if i is None:
            return None
        del lines[i]
        return "".join(lines), f"line {i + 1} deleted"

    def swap_lines(self, text: str):
        lines = self._lines(text)
        i = self._content_line(lines)
        if i is None or i + 1 >= len(lines):
            return None
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
        return "".join(lines), f"lines {i + 1} and {i + 2} swapped"

    def reindent(self, text: str):
        lines = self._lines(text)
        i = self._content_line(lines)
        if i is None:
            return None
        line = lines[i]
        lines[i] = line[2:] if line.startswith("  ") and self.rng.random() < 0.5 else "  " + line
        return "".join(lines), f"line {i + 1} re-indented"

    def truncate(self, text: str):
        if not text:
            return None
        at = self.rng.randrange(len(text))
        return text[:at], f"cut at character {at}"

    def insert_character(self, text: str):
        at = self.rng.randrange(len(text) + 1)
        char = self.rng.choice(ODD_CHARACTERS)
        return text[:at] + char + text[at:], f"{char!r} at character {at}"

    def empty_file(self, text: str):
        new = self.rng.choice(EMPTY_FILES)
        return new, f"file is now {new!r}"


def content_names(content: Content) -> list[str]:
    """Ids a swapped reference may become: nodes, flows, flow.node, hotlines, scales, roles."""
    names: set[str] = set(content.system.flows) | set(content.hotlines) | set(content.scales)
    names |= set(content.hotline_groups)
    for flow in content.flows.values():
        names.add(flow.id)
        for node in flow.nodes.values():
            names.add(node.id)
            names.add(node.key)
            names.update(c.id for c in node.choices)
    return sorted(names)


# ---------------------------------------------------------------------------- checking
class MutationRun:
    """One seeded sequence of mutants over a private copy of the content."""

    def __init__(self, workdir: Path, seed: int, source: Path = REAL_CONTENT):
        engine_log = logging.getLogger("flows.runtime")
        if FAILURES not in engine_log.handlers:
            engine_log.addHandler(FAILURES)
        self.source = source
        self.folder = workdir / "content"
        shutil.copytree(source, self.folder)
        self.rng = random.Random(seed)
        original = load_content(source)
        self.mutator = Mutator(self.rng, content_names(original))
        flows = sorted(str(p.relative_to(source)) for p in (source / "flows").glob("*.yaml"))
        # One in four mutants hits a file the whole set depends on; the rest hit a flow.
        self.shared = ["system.yaml", "hotlines.yaml", "scales.yaml", LEXICON]
        self.flows = flows
        self.originals = {name: (source / name).read_text(encoding="utf-8")
                          for name in [*self.shared, *flows]}
        self.tests: list[ConvTest] = collect(source)[0]
        self.detector = load_detector(source / LEXICON)
        self.lexicon_problems = lint_lexicon(self.folder / LEXICON)

    def mutant(self, number: int) -> Mutant:
        while True:
            name = (self.rng.choice(self.shared) if self.rng.random() < 0.25
                    else self.rng.choice(self.flows))
            operation, apply = self.rng.choice(self.mutator.operations())
            done = apply(self.originals[name])
            if done is not None and done[0] != self.originals[name]:
                return Mutant(number, name, operation, done[1], done[0])

    def lint(self, mutated: str) -> tuple[Content | None, list[Problem]]:
        """What `temanjiwa lint` reports (flows.linter.lint_directory: read_content,
        lint_content, lint_lexicon), the lexicon's part reused from the unmutated run when
        the lexicon is not the mutated file; and the content read on the way."""
        content, problems = read_content(self.folder)
        if content is not None:
            problems = problems + lint_content(content)
        lexicon = lint_lexicon(self.folder / LEXICON) if mutated == LEXICON else (
            self.lexicon_problems)
        return content, problems + lexicon

    @contextmanager
    def applied(self, mutant: Mutant) -> Iterator[Path]:
        """The content folder with `mutant` written into it, restored afterwards."""
        path = self.folder / mutant.file
        path.write_text(mutant.text, encoding="utf-8")
        try:
            yield self.folder
        finally:
            path.write_text(self.originals[mutant.file], encoding="utf-8")

    def check(self, mutant: Mutant) -> Verdict:
        previous = signal.signal(signal.SIGVTALRM, _raise_hang)
        signal.setitimer(signal.ITIMER_VIRTUAL, TIME_LIMIT_S)  # CPU time: a busy machine is no hang
        try:
            with self.applied(mutant):
                return self._check(mutant)
        except _Hang:
            return Verdict(mutant, "hang", f"no answer within {TIME_LIMIT_S} CPU seconds")
        finally:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            signal.signal(signal.SIGVTALRM, previous)

    def _check(self, mutant: Mutant) -> Verdict:
        try:
            content, problems = self.lint(mutant.file)
        except Exception as exc:
            return Verdict(mutant, "lint_crash", _short_traceback(exc))
        if any(p.severity == "error" for p in problems):
            return Verdict(mutant, "rejected", str(problems[0]).splitlines()[0])
        try:
            if content is None:
                raise AssertionError("no errors, yet no content")
            # load_content is read_content + lint_content, just done: the content is reused.
            detector = (load_detector(self.folder / LEXICON) if mutant.file == LEXICON
                        else self.detector)
        except Exception as exc:
            return Verdict(mutant, "load_mismatch", _short_traceback(exc))
        return asyncio.run(self.serve(mutant, content, detector))

    async def serve(self, mutant: Mutant, content: Content, detector: Any) -> Verdict:
        settings = EngineSettings(areas=AREAS)
        hotline_texts = [h.text for h in content.hotlines.values()]
        driver = EngineDriver(content, settings, detector)  # start() gives each test a fresh one
        for number, test in enumerate(self.tests):
            await driver.start(test.setup)
            try:
                for step in test.steps:
                    for inbound in step.inbounds:
                        problem = await _send_and_check(driver, inbound)
                        if problem:
                            return Verdict(mutant, problem[0], f"{test.name}: {problem[1]}")
                message, level = CRISIS_MESSAGES[number % len(CRISIS_MESSAGES)]
                problem = await _crisis_and_check(driver, message, level, hotline_texts,
                                                  need_escalate=False)
            except Exception as exc:
                return Verdict(mutant, "engine_error", f"{test.name}: {_short_traceback(exc)}")
            if problem:
                return Verdict(mutant, problem[0], f"after '{test.name}': {problem[1]}")
        for setup in ({}, {"consent": True}):
            for message, level in CRISIS_MESSAGES:
                await driver.start(setup)
                try:
                    problem = await _crisis_and_check(driver, message, level, hotline_texts,
                                                      need_escalate=True)
                except Exception as exc:
                    return Verdict(mutant, "engine_error", _short_traceback(exc))
                if problem:
                    return Verdict(mutant, problem[0], f"fresh {setup}: {problem[1]}")
        return Verdict(mutant, "served")


class _EngineFailures(logging.Handler):
    """Keeps the exception behind the engine's `engine_error` (flows.runtime logs it)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.last: BaseException | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.last = record.exc_info[1]


FAILURES = _EngineFailures()


async def _send_and_check(driver: EngineDriver, inbound: Inbound) -> tuple[str, str] | None:
    FAILURES.last = None
    replies, events = await driver.send(inbound)
    if any(e.name == "engine_error" for e in events):
        why = _short_traceback(FAILURES.last) if FAILURES.last else "?"
        return "engine_error", f"answering {inbound.text or inbound.choice!r}: {why}"
    if not replies:
        return "engine_error", f"no reply at all to {inbound}"
    try:
        json.dumps(driver.session.to_dict() if driver.session else None)
        for event in events:
            json.dumps(event.as_dict(), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        return "not_json", f"{exc} after {inbound}"
    return None


async def _crisis_and_check(driver: EngineDriver, message: str, level: str,
                            hotlines: list[str], *, need_escalate: bool) -> tuple[str, str] | None:
    FAILURES.last = None
    replies, events = await driver.send(Inbound(text=message))
    names = [e.name for e in events]
    if "engine_error" in names:  # the crisis events and hotlines must come even so
        why = _short_traceback(FAILURES.last) if FAILURES.last else "?"
        problem = _crisis_verdict(replies, events, message, level, hotlines,
                                  need_escalate=need_escalate)
        return problem or ("engine_error", f"answering {message!r}: {why}")
    return _crisis_verdict(replies, events, message, level, hotlines, need_escalate=need_escalate)


def _crisis_verdict(replies: list[Any], events: list[Any], message: str, level: str,
                          hotlines: list[str], *, need_escalate: bool) -> tuple[str, str] | None:
    names = [e.name for e in events]
    said = "\n".join(r.text for r in replies)
    if "crisis_detected" not in names:
        return "crisis_lost", f"no crisis_detected for {message!r} (events {names})"
    if need_escalate and level in ("high", "urgent") and "escalate" not in names:
        return "crisis_lost", f"no escalate for {message!r} (events {names})"
    if not any(text in said for text in hotlines):
        return "crisis_lost", f"no hotline in the answer to {message!r}: {said[:200]!r}"
    return None


def _raise_hang(signum: int, frame: Any) -> None:
    raise _Hang


def _short_traceback(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)[-2:]
    where = " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames))
    return f"{type(exc).__name__}: {str(exc)[:160]} at {where}"


def run(count: int, seed: int, workdir: Path) -> list[Verdict]:
    mutation = MutationRun(workdir, seed)
    return [mutation.check(mutation.mutant(n)) for n in range(count)]


def summary(verdicts: list[Verdict]) -> str:
    outcomes = Counter(v.outcome for v in verdicts)
    passed = sum(n for o, n in outcomes.items() if o not in ("rejected", "lint_crash", "hang"))
    lines = [f"{len(verdicts)} mutants: {passed} passed lint; " + ", ".join(
        f"{o} {n}" for o, n in sorted(outcomes.items()))]
    lines += [f"  {v}" for v in verdicts if v.defect]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    logging.getLogger("flows.runtime").propagate = False  # kept by FAILURES, not printed
    with tempfile.TemporaryDirectory() as tmp:
        verdicts = run(args.count, args.seed, Path(tmp))
    print(summary(verdicts))
    return 1 if any(v.defect for v in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
