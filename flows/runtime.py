"""The engine: inbound message + session → replies + events + new session.

Channel-agnostic and free of I/O: storage is reached only through the small
`EngineContext` a caller passes in (the resident's own results history and follow-up
series). Order of work for every message: crisis check (free text) → global commands →
the question the resident is answering → the flow's next nodes until one waits.
`Engine.interject` is the one turn the bot starts itself (a follow-up check-in).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal

from flows.messages import Choice, Event, Inbound, Reply
from flows.model import ChoiceSpec, Content, Flow, Node, Route
from flows.people import person_at_risk
from flows.session import Frame, Session
from flows.templates import Placeholder, Template
from flows.text import NO_WORDS, YES_WORDS, normalise_answer, split_long_text

log = logging.getLogger(__name__)

MAX_STEPS = 300  # nodes run for one message; more means a loop the linter missed
MAX_TEXT = 4096  # longer free text is not an answer to anything
CRISIS_SCAN_LIMIT = 10_000  # characters the crisis detector reads of very long messages
LEVELS = ("check", "high", "urgent")
# Said when a turn fails and system.yaml has no `error` text; the crisis hotlines follow.
FALLBACK_TEXT = (
    "Maaf, ada gangguan di sistem kami. Ketik menu untuk mulai lagi. "
    "Jika Anda dalam bahaya, hubungi 112 atau SEJIWA 119 lalu tekan 8."
)
CRISIS_EVENTS = ("crisis_detected", "escalate")  # kept from a turn that failed


class Detection(Protocol):
    level: str
    category: str  # and optionally `subject`: "self" | "other" (who the words are about)


class CrisisDetector(Protocol):
    def detect(self, text: str) -> Detection | None: ...


@dataclass(frozen=True)
class HistoryItem:
    instrument: str
    score: float
    band: str
    completed_at: datetime


class EngineContext(Protocol):
    """What the engine may ask of storage while it runs; kept tiny on purpose."""

    async def history(self) -> Sequence[HistoryItem]: ...

    async def followup(self) -> Mapping[str, Any]:
        """The resident's follow-up series for `{followup}` and `{followup_next}`
        (storage/followups.py `facts`); read only when a node shows or tests them."""
        ...


FOLLOWUP_NAMES = frozenset({"followup", "followup_next"})
NO_FOLLOWUP: Mapping[str, Any] = {"followup": "", "followup_next": None}


class _NoContext:
    async def history(self) -> Sequence[HistoryItem]:
        return ()

    async def followup(self) -> Mapping[str, Any]:
        return NO_FOLLOWUP


@dataclass(frozen=True)
class EngineSettings:
    """The deployment facts the engine shows residents (areas, local services, time zone)."""

    areas: tuple[Choice, ...] = ()
    services_text: str = ""
    hotline_texts: dict[str, str] = field(default_factory=dict)  # overrides by hotline id
    timezone: tzinfo = field(default_factory=lambda: ZoneInfo("Asia/Jakarta"))
    locale: str = "id"
    retention_days: int = 90


@dataclass
class EngineResult:
    replies: list[Reply]
    events: list[Event]
    session: Session


class Engine:
    def __init__(self, content: Content, settings: EngineSettings | None = None,
                 detector: CrisisDetector | None = None):
        self.settings = settings or EngineSettings()
        self.replace_content(content, detector)

    def replace_content(self, content: Content, detector: CrisisDetector | None) -> None:
        """Serve new content from the next message on (sessions on removed nodes go home)."""
        self.content = content
        self.detector = detector
        self.commands = {
            word: name for name, words in content.system.commands.items() for word in words
        }
        self.openable = openable_flows(content)
        self.labels = _choice_labels(content, self.settings.areas)  # for `|label`

    def system_text(self, key: str) -> str:
        """A system.yaml text rendered outside any conversation (hotlines and settings only),
        for what the bot says beside the flows (the relay, the flood guard); "" if absent."""
        template = self.content.system.texts.get(key)
        if template is None:
            return ""
        return _Run(self, Session(), Inbound(text=""), _NoContext()).render(template, None)

    async def handle(self, session: Session | None, inbound: Inbound,
                     context: EngineContext | None = None) -> EngineResult:
        """Answer one inbound message. The given session is not modified.

        Never raises for what content or a stored session can do: a turn that fails is
        answered with `fallback_text()` (which carries the crisis hotlines) and an
        `engine_error` event, the session stays as it was, and a crisis found in the message
        still yields its `crisis_detected` / `escalate` events, so the case is written."""
        start = session or Session()
        run = _Run(self, start.clone(), inbound, context or _NoContext())
        try:
            await run.handle()
        except Exception:
            log.exception("the engine failed at %s; answering with the fallback text",
                          start.position or "the start")
            events = [*run.crisis_events(), Event("engine_error")]
            return EngineResult([Reply(self.fallback_text())], events, start.clone())
        return EngineResult(run.replies, run.events, run.session)

    async def interject(self, session: Session | None, flow_id: str, params: Mapping[str, Any],
                        at: datetime, context: EngineContext | None = None
                        ) -> EngineResult:
        """The bot speaks first (a follow-up check-in): run `flow_id` over whatever the
        resident was doing; when it ends, the interrupted question comes back. A frame of
        the same flow already on top (an earlier check-in nobody answered) is replaced,
        not stacked. (Whether now is a good moment is the caller's decision.)"""
        run = _Run(self, session.clone() if session else Session(), Inbound(text="", at=at),
                   context or _NoContext())
        await run.interject(flow_id, dict(params))
        return EngineResult(run.replies, run.events, run.session)

    def fallback_text(self) -> str:
        """What the resident reads when a turn cannot be answered: system.yaml's `error`
        text (or a built-in one), then the crisis hotlines, one per line."""
        content = self.content
        template = content.system.texts.get("error")
        lines = [template.source if template else FALLBACK_TEXT]
        for hotline_id in content.hotline_groups.get("crisis", ()):
            hotline = content.hotlines.get(hotline_id)
            text = self.settings.hotline_texts.get(hotline_id) or (hotline.text if hotline
                                                                    else None)
            if text:
                lines.append(text)
        return "\n".join(lines)


class _Stop(Exception):
    """Raised inside a run when the conversation now waits for the resident."""


class _Run:
    """One message being handled: collects replies and events, moves the session."""

    def __init__(self, engine: Engine, session: Session, inbound: Inbound,
                 context: EngineContext):
        self.engine = engine
        self.content = engine.content
        self.settings = engine.settings
        self.session = session
        self.inbound = inbound
        self.context = context
        self.replies: list[Reply] = []
        self.events: list[Event] = []
        self._pending: list[tuple[str, str]] = []  # (text, node) bubbles not yet sent
        self._history: str | None = None
        self._history_count = 0
        self._followup: Mapping[str, Any] | None = None
        self._steps = 0
        self._entry_continues = False  # the next crisis entry continues the open disclosure
        self.detection: tuple[str, str, str] | None = None  # level, category, subject

    def crisis_events(self) -> list[Event]:
        """The crisis events of this turn, also when it failed half way: those already
        emitted, or the ones the crisis flow's entry would have emitted for a detection."""
        kept = [e for e in self.events if e.name in CRISIS_EVENTS]
        if self.detection is not None and not any(e.name == "crisis_detected" for e in kept):
            level, category, subject = self.detection
            kept.insert(0, Event("crisis_detected", {"level": level, "category": category,
                                                     "source": "free_text",
                                                     "subject": subject}))
            if level in ("high", "urgent") and not any(e.name == "escalate" for e in kept):
                kept.insert(1, Event("escalate", {"level": level, "category": category,
                                                  "source": "free_text"}))
        return kept

    # ------------------------------------------------------------------ entry point
    async def handle(self) -> None:
        inbound = self.inbound
        try:
            if inbound.kind == "unsupported":
                await self.say_system("unsupported_media")
                await self.show_current_or_idle()
            elif inbound.kind == "text":
                await self.handle_text(inbound.text or "")
            else:
                await self.handle_choice(inbound.choice or "", inbound.node)
        except _Stop:
            pass
        self.flush(())

    async def interject(self, flow_id: str, params: dict[str, Any]) -> None:
        top = self.session.top
        if top is not None and top.flow == flow_id:
            self.session.stack.pop()
        with contextlib.suppress(_Stop):
            await self.call_over_current(flow_id, params)
        self.flush(())

    async def handle_text(self, text: str) -> None:
        detection = None
        if self.engine.detector and text.strip():
            detection = self.engine.detector.detect(text[:CRISIS_SCAN_LIMIT])
        if detection is not None:
            subject = getattr(detection, "subject", None) or "self"
            self.detection = (detection.level, detection.category, subject)
            await self.on_detection(detection.level, detection.category, subject,
                                    person_at_risk(text[:CRISIS_SCAN_LIMIT]))
            return
        if len(text) > MAX_TEXT:
            await self.say_system("too_long")
            await self.show_current_or_idle()
            return
        command, argument = self.match_command(text)
        if command:
            await self.run_command(command, argument)
            return
        frame, node = self.waiting_node()
        if node is None:
            await self.start_home()
            return
        await self.answer(frame, node, text=text)

    async def handle_choice(self, choice_id: str, node_key: str | None) -> None:
        frame, node = self.waiting_node()
        if node_key and (node is None or node.key != node_key):
            old = self.content.node(node_key)
            if node is None and old is not None and self.leaves_flow(old, choice_id):
                # Idle, and an old message's button that leads somewhere on its own (a menu
                # choice, "Ke menu utama" after /hapus): it still works.
                self.session.stack = [Frame(old.flow, old.id, waiting=True)]
                await self.answer(self.session.stack[-1], old, choice_id=choice_id)
                return
            await self.say_system("stale_button")
            await self.show_current_or_idle()
            await self.start_home()  # nothing is running: the menu is the question now
            return
        if node is None:
            await self.start_home()
            return
        await self.answer(frame, node, choice_id=choice_id)

    # ------------------------------------------------------------------ commands
    def match_command(self, text: str) -> tuple[str | None, str | None]:
        words = text.strip().split(maxsplit=1)
        if not words:
            return None, None
        first = words[0].lower()
        if first.startswith("/"):
            first = first.split("@", 1)[0]  # /start@TemanJiwaBot
        if first in ("/start",) or self.engine.commands.get(first) == "start":
            argument = words[1].strip().lower() if len(words) > 1 else None
            return "start", argument
        if self.engine.commands.get(first) == "open" and len(words) > 1:
            # "mulai phq9" (a WhatsApp poster's prefilled text) opens that flow like
            # /start phq9; followed by anything else the words are an ordinary answer.
            flow_id = self.engine.openable.get(compact_flow_name(words[1]))
            if flow_id:
                return "start", flow_id
        phrase = normalise_answer(text)
        command = self.engine.commands.get(phrase) or (
            self.engine.commands.get(first) if first.startswith("/") else None)
        return (None if command == "open" else command), None

    async def run_command(self, command: str, argument: str | None) -> None:
        roles = self.content.system.flows
        if command == "menu":
            await self.start_flow(roles["menu"], fresh=True)
        elif command == "stop":
            self.emit("stop_requested")  # also ends a follow-up series (bot/followups)
            await self.start_flow(roles["stop"], fresh=True)
        elif command in ("help", "delete"):
            await self.call_over_current(roles[command])
        elif command == "start":
            await self.deep_link(argument)

    async def deep_link(self, flow_id: str | None) -> None:
        if flow_id:
            flow = self.content.flows.get(flow_id)
            if flow is None or flow.params:
                await self.say_system("unknown_flow")
            else:
                await self.start_flow(flow.id, fresh=True)
                return
        await self.start_home()

    def leaves_flow(self, node: Node, choice_id: str) -> bool:
        """Does this choice of `node` lead out of its flow by itself (needing nothing the flow
        collected)? A menu's choices all do; elsewhere a choice with `goto`."""
        if node.flow == self.content.role("menu"):
            return True
        choice = next((c for c in self.choices_of(node) if c.id == choice_id), None)
        return choice is not None and choice.route is not None and choice.route.kind == "goto"

    async def start_home(self) -> None:
        roles = self.content.system.flows
        if self.session.has_consent:
            await self.start_flow(roles["menu"], fresh=True)
        else:
            await self.start_flow(roles["consent"], fresh=True)

    # ------------------------------------------------------------------ crisis
    async def on_detection(self, level: str, category: str, subject: str = "self",
                           about: str = "") -> None:
        """Crisis signs in typed text: open the crisis flow, or, inside it, move on sensibly.

        Inside the running protocol, the same disclosure again (same category, same person)
        at the same or a lower level, or any lower-level sign, is acknowledged with the
        hotlines and the waiting question is shown again (never "I did not understand");
        a higher level, or a different disclosure at the same or a higher level, starts
        the protocol again for it. `continues` on `crisis_detected` tells the escalation
        that the words belong to the disclosure already open."""
        crisis = self.content.role("crisis")
        top = self.session.top
        params = {"level": level, "category": category, "source": "free_text",
                  "subject": subject, "about": about}
        continues = False
        if top and top.flow == crisis:
            current = top.vars.get("level", "check")
            rank = LEVELS.index(level)
            current_rank = LEVELS.index(current if current in LEVELS else "check")
            continues = (category == top.vars.get("category")
                         and subject == (top.vars.get("subject") or "self"))
            if rank < current_rank or (continues and rank == current_rank):
                self.emit("crisis_detected", **{**params, "continues": continues})
                await self.stay_in_protocol(top, category)
                return
            self.session.stack.pop()
        self._entry_continues = continues
        await self.call_over_current(crisis, params)

    async def stay_in_protocol(self, frame: Frame, category: str) -> None:
        """Crisis words while the protocol waits: hotlines, a word of thanks, the same
        question again — or the words taken as its answer when they are one."""
        group = "violence" if category in ("violence", "abuse") else "crisis"
        self.say_text(self.render_name(f"hotlines.{group}"), frame)
        waiting, node = self.waiting_node()
        if node is None or waiting is None:
            return
        text = self.inbound.text or ""
        if (self.match_choice(node, text) if node.choices or node.choices_from
                else self.parse_input(node, text) is not None):
            await self.answer(waiting, node, text=text)
            return
        await self.say_system("crisis_heard")
        self.show_question(waiting, node, resay=True)
        raise _Stop

    def crisis_entry_events(self, values: dict[str, Any]) -> None:
        level = values.get("level") or "check"
        category = values.get("category") or "suicide"
        source = values.get("source") or "flow"
        who = {"subject": values.get("subject") or "self", "about": values.get("about") or ""}
        continues, self._entry_continues = self._entry_continues, False
        self.emit("crisis_detected", level=level, category=category, source=source,
                  continues=continues, **who)
        if level in ("high", "urgent"):
            self.emit("escalate", level=level, category=category, source=source, **who)

    # ------------------------------------------------------------------ answers
    def waiting_node(self) -> tuple[Frame | None, Node | None]:
        frame = self.session.top
        if frame is None or not frame.waiting:
            return None, None
        return frame, self.node_of(frame)

    def node_of(self, frame: Frame) -> Node | None:
        flow = self.content.flows.get(frame.flow)
        return flow.nodes.get(frame.node) if flow else None

    def choices_of(self, node: Node) -> list[ChoiceSpec]:
        choices = list(node.choices)
        if node.choices_from == "areas":
            dynamic = [ChoiceSpec(a.id, Template(a.label, (a.label,))) for a in self.settings.areas]
            choices = dynamic + choices
        return choices

    def match_choice(self, node: Node, text: str) -> ChoiceSpec | None:
        choices = self.choices_of(node)
        answer = normalise_answer(text)
        if answer.isdigit() and 1 <= int(answer) <= len(choices):
            return choices[int(answer) - 1]
        for choice in choices:
            if answer in (choice.id, normalise_answer(choice.label.source)) or answer in (
                normalise_answer(s) for s in choice.synonyms
            ):
                return choice
        for choice in choices:
            words = YES_WORDS if choice.accepts == "yes" else NO_WORDS if choice.accepts else ()
            if answer in words:
                return choice
        return None

    async def answer(self, frame: Frame, node: Node, *, text: str | None = None,
                     choice_id: str | None = None) -> None:
        if node.choices or node.choices_from:
            if choice_id is not None:
                choice = next((c for c in self.choices_of(node) if c.id == choice_id), None)
            else:
                choice = self.match_choice(node, text or "")
            if choice is None:
                await self.not_understood(frame, node)
                return
            frame.waiting = False
            value = choice.value if choice.value is not None else choice.id
            self.keep_answer(frame, node, value)
            await self.follow(choice.route or self.route_of(node))
            return
        value = self.parse_input(node, text)
        if value is None:
            await self.not_understood(frame, node)
            return
        frame.waiting = False
        self.keep_answer(frame, node, value)
        await self.follow(self.route_of(node))

    def parse_input(self, node: Node, text: str | None) -> Any:
        if text is None:
            return None
        answer = normalise_answer(text)
        if node.input == "yesno":
            return True if answer in YES_WORDS else False if answer in NO_WORDS else None
        match = re.match(r"^-?\d+(?:[.,]\d+)?", answer)
        if not match:
            return None
        number = float(match.group(0).replace(",", "."))
        number = int(number) if number.is_integer() else number
        if (node.min is not None and number < node.min) or (
                node.max is not None and number > node.max):
            return None
        return number

    def keep_answer(self, frame: Frame, node: Node, value: Any) -> None:
        if node.score and isinstance(value, int | float) and not isinstance(value, bool):
            frame.vars[node.score] = frame.vars.get(node.score, 0) + value
        if node.save:
            self.assign(frame, node.save, value)

    async def not_understood(self, frame: Frame, node: Node) -> None:
        if node.other:
            frame.waiting = False
            await self.follow(node.other)
            return
        if node.reask:
            self.say_text(self.render(node.reask, frame), frame)
        else:
            await self.say_system("reprompt")
        self.show_question(frame, node)
        raise _Stop

    # ------------------------------------------------------------------ running nodes
    async def start_flow(self, flow_id: str, node_id: str | None = None, *, fresh: bool = False,
                         params: dict[str, Any] | None = None) -> None:
        flow = self.content.flows[flow_id]
        if flow.consent_required and not self.session.has_consent:
            self.session.pending_start = flow_id
            flow = self.content.flows[self.content.role("consent")]
            node_id, params, fresh = None, None, True
        if fresh:
            self.session.stack = []
        elif self.session.stack:
            self.session.stack.pop()
        if flow.id == self.content.role("crisis"):
            self.crisis_entry_events(params or {})
        self.session.stack.append(Frame(flow.id, node_id or flow.start, dict(params or {})))
        await self.run()

    async def call_over_current(self, flow_id: str, params: dict[str, Any] | None = None) -> None:
        """Run a flow on top of the current one; when it ends, the interrupted question returns."""
        top = self.session.top
        if top is None:
            await self.start_flow(flow_id, fresh=True, params=params)
            return
        if top.waiting:
            top.rerender = True
        await self.push(flow_id, params)

    async def push(self, flow_id: str, params: dict[str, Any] | None) -> None:
        flow = self.content.flows[flow_id]
        if flow.consent_required and not self.session.has_consent:
            await self.start_flow(flow_id, fresh=True)
            return
        if flow.id == self.content.role("crisis"):
            self.crisis_entry_events(params or {})
        self.session.stack.append(Frame(flow.id, flow.start, dict(params or {})))
        await self.run()

    async def run(self) -> None:
        """Run the top frame from its current node until something waits."""
        while True:
            self._steps += 1
            if self._steps > MAX_STEPS:
                raise RuntimeError(f"flow loop at {self.session.top}")
            frame = self.session.top
            assert frame is not None
            node = self.node_of(frame)
            if node is None:  # content changed under a stored session
                await self.start_home()
                return
            await self.enter(frame, node)
            if node.waits:
                frame.waiting = True
                self.show_question(frame, node, resay=False)
                raise _Stop
            await self.follow(self.route_of(node))

    async def enter(self, frame: Frame, node: Node) -> None:
        templates = [*node.say, *(v for v in node.sets.values() if isinstance(v, Template))]
        conditions = [b.condition for b in node.branch if b.condition]
        if any(FOLLOWUP_NAMES & t.names for t in templates) or any(
                FOLLOWUP_NAMES & c.names for c in conditions):
            await self.load_followup()
        for name, value in node.sets.items():
            self.assign(frame, name, self.value(value, frame))
        for flag, condition in node.flags.items():
            if condition.evaluate(lambda n: self.lookup(n, frame)):
                flags = list(frame.vars.get("flags", []))
                if flag not in flags:
                    flags.append(flag)
                frame.vars["flags"] = flags
        for emit in node.emits:
            data = {k: self.value(v, frame) for k, v in emit.items() if k != "event"}
            self.emit(emit["event"], **data)
        if node.consent:
            self.record_consent(node.consent)
        if any({"history", "history_count"} & t.names for t in node.say) or any(
                "history_count" in b.condition.names for b in node.branch if b.condition):
            await self.load_history()
        for bubble in node.say:
            self.say_text(self.render(bubble, frame), frame, node)

    def route_of(self, node: Node) -> Route | None:
        if node.branch:
            frame = self.session.top
            for branch in node.branch:
                if branch.condition is None or branch.condition.evaluate(
                        lambda n: self.lookup(n, frame)):
                    return branch.route
        if node.bands:
            frame = self.session.top
            score = self.lookup(node.bands.score, frame) or 0
            for band in node.bands.ranges:
                if band.min <= score <= band.max:
                    frame.vars[node.bands.save] = band.key
                    return band.route or node.route
        return node.route

    async def follow(self, route: Route | None) -> None:
        frame = self.session.top
        assert frame is not None
        if route is None:  # the linter forbids it; never leave the resident stuck
            await self.start_home()
            return
        if route.kind == "next":
            frame.node = route.target or frame.node
            await self.run()
        elif route.kind == "goto":
            flow_id, _dot, node_id = (route.target or "").partition(".")
            menu = self.content.role("menu")
            params = {k: self.value(v, frame) for k, v in route.with_values.items()}
            await self.start_flow(flow_id, node_id or None, fresh=flow_id == menu,
                                  params=params or None)
        elif route.kind == "call":
            frame.resume = route.returns_to
            params = {k: self.value(v, frame) for k, v in route.with_values.items()}
            await self.push(route.target or "", params)
        else:
            await self.end_frame()

    async def end_frame(self) -> None:
        finished = self.session.stack.pop()
        if self.session.stack:
            caller = self.session.stack[-1]
            if caller.rerender:
                caller.rerender = False
                node = self.node_of(caller)
                if node is not None and caller.waiting:
                    self.show_question(caller, node)
                    raise _Stop
            caller.node = caller.resume or caller.node
            caller.resume = None
            caller.waiting = False
            await self.run()
            return
        roles = self.content.system.flows
        if finished.flow in (roles["stop"],):
            raise _Stop  # the resident asked to stop: wait quietly
        pending = self.session.pending_start
        if pending and self.session.has_consent and pending in self.content.flows:
            self.session.pending_start = None
            await self.start_flow(pending, fresh=True)
        else:
            await self.start_flow(roles["menu"], fresh=True)

    # ------------------------------------------------------------------ state changes
    def assign(self, frame: Frame, name: str, value: Any) -> None:
        if name.startswith("profile."):
            self.session.profile[name.removeprefix("profile.")] = value
        else:
            frame.vars[name] = value

    def record_consent(self, what: str) -> None:
        version = self.content.system.consent_version
        if what == "given":
            self.session.consent_at = self.inbound.at.astimezone(UTC).isoformat()
            self.session.consent_version = version
            self.emit("consent_given", version=version)
        else:
            self.session.consent_at = None
            self.session.consent_version = None
            self.session.pending_start = None
            self.emit("consent_withdrawn", version=version)

    def emit(self, name: str, **data: Any) -> None:
        if name == "delete_requested":
            # Everything about the resident goes; only the running flow stays to say so.
            top = self.session.top
            self.session = Session(stack=[top] if top else [])
        self.events.append(Event(name, data))

    # ------------------------------------------------------------------ output
    def say_text(self, text: str, frame: Frame | None, node: Node | None = None) -> None:
        key = node.key if node else (f"{frame.flow}.{frame.node}" if frame else "")
        for part in split_long_text(text):
            self._pending.append((part, key))

    async def say_system(self, key: str) -> None:
        template = self.content.system.texts.get(key)
        if template is not None:
            self.say_text(self.render(template, self.session.top), self.session.top)

    def show_question(self, frame: Frame, node: Node, resay: bool = True) -> None:
        """Attach the node's choices to its last bubble (saying it again if asked)."""
        if resay and node.say:
            self.say_text(self.render(node.say[-1], frame), frame, node)
        choices = tuple(
            Choice(c.id, self.render(c.label, frame), c.value if node.score else None,
                   c.description)
            for c in self.choices_of(node)
        )
        self.flush(choices, node.key)

    async def show_current_or_idle(self) -> None:
        frame, node = self.waiting_node()
        if node is not None and frame is not None:
            self.show_question(frame, node)
            raise _Stop

    def flush(self, choices: tuple[Choice, ...], node_key: str | None = None) -> None:
        pending, self._pending = self._pending, []
        if not pending and not choices:
            return
        if not pending:
            pending = [("", node_key or "")]
        for i, (text, key) in enumerate(pending):
            last = i == len(pending) - 1
            self.replies.append(Reply(text, choices if last else (), node_key if last and
                                      node_key else key))

    # ------------------------------------------------------------------ values
    def value(self, raw: Any, frame: Frame | None) -> Any:
        if isinstance(raw, Template):
            single = raw.single
            if single is not None and single.filter is None:
                return self.lookup(single.name, frame)
            return self.render(raw, frame)
        return raw

    def render(self, template: Template, frame: Frame | None) -> str:
        return template.render(lambda p: self.format(p, frame))

    def render_name(self, name: str) -> str:
        return str(self.format(Placeholder(name, None), self.session.top) or "")

    def lookup(self, name: str, frame: Frame | None) -> Any:
        head, _dot, rest = name.partition(".")
        if frame is not None and name in frame.vars:
            return frame.vars[name]
        if head == "profile":
            return self.session.profile.get(rest)
        if head == "hotline":
            hotline = self.content.hotlines.get(rest)
            return self.settings.hotline_texts.get(rest) or (hotline.text if hotline else None)
        if head == "hotlines":
            ids = self.content.hotline_groups.get(rest, ())
            return "\n".join(str(self.lookup(f"hotline.{h}", frame)) for h in ids)
        if name in ("today", "now"):
            return self.inbound.at
        if name == "consent_at":
            return datetime.fromisoformat(self.session.consent_at) if (
                self.session.consent_at) else None
        if name == "consent_version":
            return self.session.consent_version
        if name == "history":
            return self._history or ""
        if name == "history_count":
            return self._history_count
        if name in FOLLOWUP_NAMES:
            return (self._followup or NO_FOLLOWUP).get(name)
        if name == "retention_days":
            return self.settings.retention_days
        if name == "services":
            return self.settings.services_text
        if name == "areas":
            return "\n".join(f"• {a.label}" for a in self.settings.areas)
        if name == "flags":
            return []
        return None

    def format(self, placeholder: Placeholder, frame: Frame | None) -> Any:
        value = self.lookup(placeholder.name, frame)
        if placeholder.filter == "label" and value is not None:
            return self.engine.labels.get(placeholder.name, {}).get(str(value), value)
        return self.apply_filter(value, placeholder.filter)

    def apply_filter(self, value: Any, name: str | None) -> Any:
        locale, tz = self.settings.locale, self.settings.timezone
        if value is None:
            return ""
        if isinstance(value, str) and name in ("date", "datetime", "time"):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return value
        if isinstance(value, datetime):
            value = value if value.tzinfo else value.replace(tzinfo=UTC)
            if name == "datetime":
                return format_datetime(value, "d MMMM y, HH.mm zzz", tzinfo=tz, locale=locale)
            if name == "time":
                return format_time(value, "HH.mm", tzinfo=tz, locale=locale)
            return format_date(value.astimezone(tz).date(), "d MMMM y", locale=locale)
        if name == "number" and isinstance(value, int | float):
            return format_decimal(value, locale=locale)
        if name == "area":
            return next((a.label for a in self.settings.areas if a.id == value), value)
        if name == "upper":
            return str(value).upper()
        if name == "lower":
            return str(value).lower()
        if isinstance(value, bool):
            return "ya" if value else "tidak"
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return value

    async def load_followup(self) -> None:
        if self._followup is None:
            self._followup = await self.context.followup()

    async def load_history(self) -> None:
        if self._history is not None:
            return
        items = await self.context.history()
        self._history_count = len(items)
        lines = []
        for item in items:
            flow = self.content.flows.get(item.instrument)
            band = item.band
            if flow is not None:
                band = _band_label(flow, item.band)
            when = self.apply_filter(item.completed_at, "date")
            score = self.apply_filter(item.score, "number")
            title = flow.title if flow else item.instrument
            lines.append(f"• {when}: {title}, skor {score} ({band})")
        self._history = "\n".join(lines) if lines else "–"


def compact_flow_name(text: str) -> str:
    """How a typed flow name is compared: case, spaces and punctuation ignored (PHQ-9 = phq9)."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


def openable_flows(content: Content) -> dict[str, str]:
    """Flows a resident may open by name (`/start phq9`, `mulai phq9`): all without params."""
    return {compact_flow_name(f.id): f.id for f in content.flows.values() if not f.params}


def _choice_labels(content: Content, areas: Sequence[Choice]) -> dict[str, dict[str, str]]:
    """variable → {choice id → label} for every node that `save:`s a chosen choice."""
    labels: dict[str, dict[str, str]] = {}
    for flow in content.flows.values():
        for node in flow.nodes.values():
            if node.save and (node.choices or node.choices_from):
                known = labels.setdefault(node.save, {})
                if node.choices_from == "areas":
                    known.update((a.id, a.label) for a in areas)
                known.update((c.id, c.label.source) for c in node.choices)
    return labels


def _band_label(flow: Flow, key: str) -> str:
    for node in flow.nodes.values():
        if node.bands:
            for band in node.bands.ranges:
                if band.key == key:
                    return band.label
    return key
