"""Conversation tests for editors (`content/id/tests/*.yaml`), run by `temanjiwa test` and pytest.

A test is a list of steps (what the resident sends) with expectations (what the bot
must say or emit). Tests talk to a `Driver`; the default one runs the engine in memory,
channel drivers (console, Telegram, WhatsApp) run the same scripts end to end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from flows.crisis import load_detector
from flows.followups import checkin_params
from flows.i18n import _
from flows.linter import load_content
from flows.messages import Choice, Event, Inbound, Reply
from flows.model import Content
from flows.problems import ContentError, Problem
from flows.runtime import Engine, EngineSettings, HistoryItem
from flows.session import Session
from flows.yamlload import LineDict, load_yaml


class Driver(Protocol):
    async def start(self, setup: dict[str, Any]) -> None: ...

    async def send(self, inbound: Inbound) -> tuple[list[Reply], list[Event]]: ...

    async def checkin(self, params: dict[str, Any]) -> tuple[list[Reply], list[Event]]:
        """The bot checks in first (a `checkin:` step): the content's check-in flow with
        `params` (flows.followups.checkin_params)."""
        ...

    async def close(self) -> None: ...


@dataclass
class Step:
    inbounds: list[Inbound]
    expect: dict[str, Any]
    line: int
    checkin: dict[str, Any] | None = None  # the bot speaks first instead (follow-ups)


@dataclass
class ConvTest:
    name: str
    file: str
    line: int
    setup: dict[str, Any]
    steps: list[Step]


@dataclass
class Failure:
    test: ConvTest
    step: int
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.test.file}:{self.line}: {self.test.name} (step {self.step}): {self.message}"


@dataclass
class Outcome:
    passed: list[ConvTest] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class EngineDriver:
    """Runs a script against the engine alone, keeping history in memory."""

    def __init__(self, content: Content, settings: EngineSettings | None = None,
                 detector: Any = None):
        self.engine = Engine(content, settings, detector)
        self.session: Session | None = None
        self.history: list[HistoryItem] = []
        self.followup = ""  # the series the events so far would have stored (bot/followups)
        self.last_node: str | None = None  # a press answers the last message, as on a phone

    async def start(self, setup: dict[str, Any]) -> None:
        self.session = session_from_setup(setup)
        self.history = []
        self.followup = str(setup.get("followup") or "")

    def _context(self) -> Any:
        driver = self

        class _Ctx:
            async def history(self) -> Sequence[HistoryItem]:
                return list(driver.history)

            async def followup(self) -> Mapping[str, Any]:
                return {"followup": driver.followup, "followup_next": None}

        return _Ctx()

    async def send(self, inbound: Inbound) -> tuple[list[Reply], list[Event]]:
        if inbound.choice is not None and inbound.node is None and self.last_node:
            inbound = Inbound(choice=inbound.choice, node=self.last_node, at=inbound.at)
        turn = await self.engine.handle(self.session, inbound, self._context())
        return self._after(turn.replies, turn.events, turn.session, inbound.at)

    async def checkin(self, params: dict[str, Any]) -> tuple[list[Reply], list[Event]]:
        settings = self.engine.content.followups
        if settings is None:
            raise AssertionError(_("a checkin: step needs followups.yaml"))
        turn = await self.engine.interject(self.session, settings.checkin_flow,
                                           checkin_step_params(params), datetime.now(UTC),
                                           self._context())
        return self._after(turn.replies, turn.events, turn.session, datetime.now(UTC))

    def _after(self, replies: list[Reply], events: list[Event], session: Session,
               at: datetime) -> tuple[list[Reply], list[Event]]:
        self.session = session
        if replies and replies[-1].node:
            self.last_node = replies[-1].node
        for event in events:
            score = event.data.get("score") or 0
            if event.name == "screening_completed" and _is_number(score):
                # (the bot does not store a result without a numeric score either)
                self.history.append(HistoryItem(str(event.data.get("instrument")), float(score),
                                                str(event.data.get("band")), at))
            if event.name == "followup_accepted":
                self.followup = str(event.data.get("kind") or "")
            elif event.name == "followup_declined":
                self.followup = "declined"
            elif event.name in ("followup_stopped", "stop_requested", "consent_withdrawn") or (
                    event.name == "followup_answered" and event.data.get("last")):
                self.followup = ""
            if event.name == "delete_requested":  # as the store does: nothing is left
                self.history = []
                self.session = None
                self.followup = ""
        return replies, events

    async def close(self) -> None:
        return None


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def session_from_setup(setup: dict[str, Any]) -> Session | None:
    if not setup:
        return None
    session = Session()
    if setup.get("consent"):
        session.consent_at = datetime.now(UTC).isoformat()
        session.consent_version = str(setup.get("consent_version", "test"))
    session.profile.update(setup.get("profile") or {})
    return session


def checkin_step_params(raw: dict[str, Any]) -> dict[str, Any]:
    """A `checkin:` step's values as the bot passes them (defaults: the first of three
    check-ins of a crisis series, as text)."""
    return checkin_params(str(raw.get("kind") or "crisis"),
                          category=str(raw.get("category") or ""),
                          step=int(raw.get("step") or 1), steps=int(raw.get("steps") or 3),
                          checkin=int(raw.get("checkin") or 0),
                          via=str(raw.get("via") or "text"))


def _inbounds(raw: LineDict) -> list[Inbound]:
    if "send" in raw:
        sends = raw["send"] if isinstance(raw["send"], list) else [raw["send"]]
        return [Inbound(text=str(s)) for s in sends]
    if "press" in raw:
        presses = raw["press"] if isinstance(raw["press"], list) else [raw["press"]]
        return [Inbound(choice=str(p)) for p in presses]
    if "media" in raw:
        return [Inbound(media=str(raw["media"]))]
    return []


def load_tests(path: Path) -> tuple[list[ConvTest], list[Problem]]:
    data, problems = load_yaml(path)
    tests: list[ConvTest] = []
    if data is None:
        return tests, problems
    if not isinstance(data, LineDict) or not isinstance(data.get("tests"), list):
        problems.append(Problem(str(path), 1, _("A test file must start with 'tests:'.")))
        return tests, problems
    for i, raw in enumerate(data["tests"]):
        line = data["tests"].line_of(i)
        if not isinstance(raw, LineDict) or not isinstance(raw.get("steps"), list):
            problems.append(Problem(str(path), line, _("Each test needs a name and steps.")))
            continue
        steps = []
        for j, step in enumerate(raw["steps"]):
            at = raw["steps"].line_of(j)
            inbounds = _inbounds(step) if isinstance(step, LineDict) else []
            checkin = step.get("checkin") if isinstance(step, LineDict) else None
            if checkin is not None and not isinstance(checkin, dict):
                checkin = {}
            if not inbounds and checkin is None:
                problems.append(Problem(str(path), at, _(
                    "A step needs send:, press:, media: or checkin:.")))
                continue
            steps.append(Step(inbounds, dict(step.get("expect") or {}), at,
                              dict(checkin) if checkin is not None else None))
        tests.append(ConvTest(str(raw.get("name") or f"test {i + 1}"), str(path), line,
                              dict(raw.get("setup") or {}), steps))
    return tests, problems


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def check_expectations(expect: dict[str, Any], replies: list[Reply],
                       events: list[Event]) -> list[str]:
    """Human-readable mismatches between what a step expected and what the bot did."""
    errors: list[str] = []
    text = "\n".join(r.text for r in replies)
    shown = text if len(text) < 600 else text[:600] + "…"
    for needle in _as_list(expect.get("says")):
        if str(needle).lower() not in text.lower():
            errors.append(_("expected the bot to say '{needle}', but it said:\n{text}").format(
                needle=needle, text=shown))
    for needle in _as_list(expect.get("not_says")):
        if str(needle).lower() in text.lower():
            errors.append(_("the bot must not say '{needle}', but it did").format(needle=needle))
    if "node" in expect:
        node = replies[-1].node if replies else None
        if node != expect["node"]:
            errors.append(_("expected to end at node '{want}', but ended at '{got}'").format(
                want=expect["node"], got=node))
    if "choices" in expect:
        offered = [c.id for c in replies[-1].choices] if replies else []
        missing = [c for c in _as_list(expect["choices"]) if c not in offered]
        if missing:
            errors.append(_("expected the choices {missing}, but the bot offered {offered}")
                          .format(missing=missing, offered=offered))
    for wanted in _as_list(expect.get("events")):
        wanted = wanted if isinstance(wanted, dict) else {"name": wanted}
        if not any(_event_matches(e, wanted) for e in events):
            got = [e.as_dict() for e in events]
            errors.append(_("expected the event {want}, but the bot emitted {got}").format(
                want=dict(wanted), got=got))
    for name in _as_list(expect.get("no_events")):
        if any(e.name == name for e in events):
            errors.append(_("the event '{name}' must not be emitted, but it was").format(
                name=name))
    return errors


def _event_matches(event: Event, wanted: dict[str, Any]) -> bool:
    if event.name != wanted.get("name"):
        return False
    for key, value in wanted.items():
        if key == "name":
            continue
        got = event.data.get(key)
        if isinstance(value, list) and isinstance(got, list):
            if sorted(map(str, value)) != sorted(map(str, got)):
                return False
        elif got != value and str(got) != str(value):
            return False
    return True


async def run_test(test: ConvTest, driver: Driver) -> Failure | None:
    await driver.start(test.setup)
    for number, step in enumerate(test.steps, start=1):
        replies: list[Reply] = []
        events: list[Event] = []
        if step.checkin is not None:
            replies, events = await driver.checkin(step.checkin)
        for inbound in step.inbounds:
            replies, new_events = await driver.send(inbound)
            events.extend(new_events)
        errors = check_expectations(step.expect, replies, events)
        if errors:
            return Failure(test, number, step.line, "\n    ".join(errors))
    return None


async def run_tests(tests: list[ConvTest], make_driver: Callable[[], Driver]) -> Outcome:
    outcome = Outcome()
    for test in tests:
        driver = make_driver()
        try:
            failure = await run_test(test, driver)
        finally:
            await driver.close()
        if failure:
            outcome.failures.append(failure)
        else:
            outcome.passed.append(test)
    return outcome


def collect(directory: Path, pattern: str | None = None) -> tuple[list[ConvTest], list[Problem]]:
    tests: list[ConvTest] = []
    problems: list[Problem] = []
    for path in sorted((directory / "tests").glob("*.yaml")):
        found, found_problems = load_tests(path)
        tests += [t for t in found if not pattern or pattern.lower() in t.name.lower()]
        problems += found_problems
    return tests, problems


def default_driver_factory(directory: Path) -> Callable[[], Driver]:
    content = load_content(directory)
    detector = None
    lexicon = directory / "crisis" / "lexicon.yaml"
    if lexicon.is_file():
        detector = load_detector(lexicon)
    settings = EngineSettings(areas=_example_areas())
    return lambda: EngineDriver(content, settings, detector)


def _example_areas() -> tuple[Choice, ...]:
    return (Choice("contoh_desa", "Desa Contoh"), Choice("contoh_kec", "Kec. Contoh"))


async def run_directory(directory: Path, *, pattern: str | None = None,
                        out: TextIO | None = None) -> int:
    """`temanjiwa test`: exit 0 when every conversation test passes."""
    try:
        factory = default_driver_factory(directory)
    except ContentError as exc:
        for problem in exc.problems:
            print(problem, file=out)
        print(_("The content has errors: run 'temanjiwa lint' first."), file=out)
        return 1
    tests, problems = collect(directory, pattern)
    for problem in problems:
        print(problem, file=out)
    outcome = await run_tests(tests, factory)
    for failure in outcome.failures:
        print(_("FAIL {failure}").format(failure=failure), file=out)
    print(_("{passed} passed, {failed} failed").format(
        passed=len(outcome.passed), failed=len(outcome.failures)), file=out)
    return 1 if outcome.failures or problems else 0


def main(directory: Path) -> int:
    return asyncio.run(run_directory(directory))
