"""`temanjiwa lint`: checks a whole content set and explains every mistake in plain words.

The loader finds what is wrong inside one file; this module checks what only the whole
set can tell: references between nodes and flows, unreachable nodes, dead ends, band
ranges, variables, and button labels that will not fit the channels.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flows.crisis import lint_crisis
from flows.followups import CHECKIN_EVENTS, CHECKIN_PARAMS, OFFER_EVENTS, OFFER_PARAMS
from flows.graph import reachable, routes_of
from flows.i18n import _
from flows.loader import read_content
from flows.model import Content, Flow, Node, Route
from flows.problems import ContentError, Problem
from flows.templates import FILTERS, Template

CALLBACK_LIMIT = 64  # Telegram callback_data, bytes
WA_BUTTON_TITLE = 20  # WhatsApp reply button title, characters
WA_LIST_TITLE = 24  # WhatsApp list row title, characters
WA_MAX_BUTTONS = 3
WA_MAX_ROWS = 10

# The flows the engine starts by itself (system.yaml `flows:`) and the values it gives them.
ROLE_PARAMS: dict[str, set[str]] = {
    "consent": set(), "menu": set(), "help": set(), "stop": set(), "delete": set(),
    "crisis": {"level", "category", "source", "subject"},
}
PROFILE_FIELDS = {"age_group", "area", "pregnant"}
GLOBAL_NAMES = {"today", "now", "consent_at", "consent_version", "history", "history_count",
                "services", "areas", "flags", "retention_days", "followup", "followup_next"}


def lint_directory(directory: Path) -> list[Problem]:
    """Every problem in the content folder, structural and cross-file, in file/line order."""
    content, problems = read_content(directory)
    if content is not None:
        problems.extend(lint_content(content))
    if (Path(directory) / "crisis").is_dir():
        problems.extend(lint_crisis(Path(directory)))  # every file of crisis/, together
    return sorted(problems, key=lambda p: (p.file, p.line or 0))


def load_content(directory: Path) -> Content:
    """Load content for running; raises ContentError listing every error if it is not valid."""
    content, problems = read_content(directory)
    if content is not None:
        problems.extend(lint_content(content))
    errors = [p for p in problems if p.severity == "error"]
    if errors or content is None:
        raise ContentError(errors or problems)
    return content


def lint_content(content: Content) -> list[Problem]:
    problems: list[Problem] = []
    checker = _Checker(content, problems)
    checker.roles()
    checker.followups()
    for flow in content.flows.values():
        checker.flow(flow)
    if not checker.loop_found:
        checker.loops_across_flows()
    return problems


def _some(names: Iterable[str], limit: int = 12) -> str:
    """A readable list of names for a hint; long lists are cut (a hint per problem would
    otherwise grow with the size of the file)."""
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + ", …" if len(names) > limit else shown


class _Checker:
    def __init__(self, content: Content, problems: list[Problem]):
        self.content = content
        self.problems = problems
        self._entries: dict[str, set[str]] | None = None  # flow id → nodes jumped to from outside
        self.loop_found = False

    def add(self, flow: Flow, line: int | None, message: str, hint: str = "",
            severity: str = "error") -> None:
        self.problems.append(Problem(flow.file, line, message, hint, severity))  # type: ignore[arg-type]

    # -- the whole set -------------------------------------------------------------------
    def roles(self) -> None:
        system = self.content.system
        for role, flow_id in system.flows.items():
            if flow_id not in self.content.flows and flow_id not in self.content.unreadable:
                self.problems.append(Problem(
                    system.file, None,
                    _("system.yaml says the '{role}' flow is '{flow}', but there is no such flow.")
                    .format(role=role, flow=flow_id),
                    _("Create flows/{flow}.yaml or correct the name.").format(flow=flow_id),
                ))
        for role, flow_id in system.flows.items():
            flow = self.content.flows.get(flow_id)
            if flow is not None and role in ROLE_PARAMS:
                self.role_flow(role, flow)
        consent = self.content.flows.get(system.flows.get("consent", ""))
        if consent and not any(n.consent == "given" for n in consent.nodes.values()):
            self.add(consent, consent.line, _("The consent flow never records consent."),
                     _("Add 'consent: given' to the node reached when the resident agrees."))
        crisis = self.content.flows.get(system.flows.get("crisis", ""))
        if crisis:
            start = crisis.nodes.get(crisis.start)
            names = {n for t in (start.say if start else ()) for n in t.names}
            if not any(n.startswith(("hotline.", "hotlines.")) for n in names):
                self.add(crisis, start.line if start else crisis.line,
                         _("The first message of the crisis flow does not show any hotline."),
                         _("Add {hotlines.crisis} (or the hotlines that fit) to its first node."))

    def role_flow(self, role: str, flow: Flow) -> None:
        """The engine itself starts these flows, for anyone and without values of its own."""
        if flow.consent_required:
            self.add(flow, flow.line,
                     _("The '{role}' flow must work without consent, but it asks for it.").format(
                         role=role),
                     _("Add 'consent: not_required'. The bot starts this flow for residents "
                       "who have not agreed yet; otherwise they would get the consent question "
                       "instead (for the crisis flow: instead of the hotlines)."))
        extra = sorted(set(flow.params) - ROLE_PARAMS[role])
        if extra:
            self.add(flow, flow.line,
                     _("The '{role}' flow expects {names} (params:), but the bot starts it "
                       "without them.").format(role=role, names=", ".join(extra)),
                     _("Remove them from 'params:' and set them inside the flow instead."))

    # -- one flow ------------------------------------------------------------------------
    def followups(self) -> None:
        """followups.yaml names two flows that run without consent (a resident in crisis may
        not have agreed to the rest), take the parameters the bot passes, and emit the
        events that record the offer's answer and the easy stop."""
        settings = self.content.followups
        if settings is None:
            return
        wanted = (
            ("checkin_flow", settings.checkin_flow, CHECKIN_PARAMS, CHECKIN_EVENTS),
            ("offer_flow", settings.offer_flow, OFFER_PARAMS, OFFER_EVENTS),
        )
        for key, flow_id, params, events in wanted:
            line = settings.lines.get(key)
            flow = self.content.flows.get(flow_id)
            if flow is None:
                if flow_id not in self.content.unreadable:
                    self.problems.append(Problem(
                        settings.file, line,
                        _("followups.yaml says {key} is '{flow}', but there is no such flow.")
                        .format(key=key, flow=flow_id)))
                continue
            if flow.consent_required:
                self.add(flow, flow.line,
                         _("The follow-up flow '{flow}' must have 'consent: not_required'.")
                         .format(flow=flow.id),
                         _("It also runs for residents who agreed only to be checked in on."))
            missing = [p for p in params if p not in flow.params]
            if missing:
                self.add(flow, flow.line,
                         _("The follow-up flow '{flow}' must declare params: {params}.").format(
                             flow=flow.id, params=", ".join(params)),
                         _("The bot passes them in; missing: {missing}.").format(
                             missing=", ".join(missing)))
            emitted = {e.get("event") for n in flow.nodes.values() for e in n.emits}
            for event in events:
                if event not in emitted:
                    self.add(flow, flow.line,
                             _("The follow-up flow '{flow}' never emits '{event}'.").format(
                                 flow=flow.id, event=event),
                             _("Without it the bot cannot act on the resident's answer."))

    def flow(self, flow: Flow) -> None:
        if flow.start not in flow.nodes:
            self.add(flow, flow.line, _("The start node '{node}' does not exist.").format(
                node=flow.start))
            return
        defined = self.defined_names(flow)
        for node in flow.nodes.values():
            self.node_routes(flow, node)
            self.node_shape(flow, node)
            self.node_names(flow, node, defined)
            self.labels(flow, node)
            if node.bands:
                self.bands(flow, node)
        self.reachability(flow)
        self.loops(flow)

    def defined_names(self, flow: Flow) -> set[str]:
        names = set(flow.params)
        for node in flow.nodes.values():
            names.update(k for k in node.sets if not k.startswith("profile."))
            names.update(n for n in (node.save, node.score) if n)
            if node.bands:
                names.add(node.bands.save)
        return names

    def node_routes(self, flow: Flow, node: Node) -> None:
        for route in routes_of(node):
            self.route(flow, node, route)

    def route(self, flow: Flow, node: Node, route: Route) -> None:
        if route.kind == "next" and route.target not in flow.nodes:
            self.add(flow, route.line,
                     _("Node '{node}' goes to '{target}', but this flow has no such node.").format(
                         node=node.id, target=route.target),
                     _("Check the spelling; nodes in this flow: {nodes}.").format(
                         nodes=_some(flow.nodes)))
        if route.kind in ("goto", "call"):
            target_flow, _dot, target_node = (route.target or "").partition(".")
            other = self.content.flows.get(target_flow)
            if other is None and target_flow in self.content.unreadable:
                return  # its own file's syntax error is already reported
            if other is None:
                self.add(flow, route.line,
                         _("Node '{node}' refers to the flow '{target}', which does not exist.")
                         .format(node=node.id, target=target_flow),
                         _("Check the spelling of the flow id (the 'flow:' line of its file)."))
            elif target_node and target_node not in other.nodes:
                self.add(flow, route.line,
                         _("Node '{node}' refers to '{target}', but flow '{flow}' has no node "
                           "'{tnode}'.").format(node=node.id, target=route.target,
                                                flow=target_flow, tnode=target_node))
            elif other is not None:
                missing = set(other.params) - set(route.with_values)
                if route.kind == "call" and missing:
                    self.add(flow, route.line,
                             _("The call to '{target}' does not give: {names}.").format(
                                 target=target_flow, names=", ".join(sorted(missing))),
                             _("Add them under 'with:'."))
        if route.kind == "call" and "." in (route.target or ""):
            self.add(flow, route.line,
                     _("Node '{node}' calls '{target}', but 'call:' can only start a whole "
                       "flow.").format(node=node.id, target=route.target),
                     _("Write call: {flow} (the flow begins at its start node), or use goto: "
                       "to jump to a node without coming back.").format(
                         flow=(route.target or "").partition(".")[0]))
        if route.kind == "call":
            if route.returns_to is None:
                self.add(flow, route.line,
                         _("Node '{node}' calls '{target}' but does not say where to continue "
                           "afterwards.").format(node=node.id, target=route.target),
                         _("Add next: <node> to say where to continue when it ends."))
            elif route.returns_to not in flow.nodes:
                self.add(flow, route.line,
                         _("After the call, node '{node}' continues at '{target}', which does not "
                           "exist.").format(node=node.id, target=route.returns_to))

    def node_shape(self, flow: Flow, node: Node) -> None:
        routers = [x for x in (node.route, node.branch, node.bands) if x]
        if len(routers) > 1:
            self.add(flow, node.line,
                     _("Node '{node}' has more than one of next/goto/call/end, branch and bands.")
                     .format(node=node.id), _("Keep one way to continue."))
        if node.waits:
            if not node.say:
                self.add(flow, node.line,
                         _("Node '{node}' waits for an answer but asks nothing.").format(
                             node=node.id),
                         _("Add 'say:' with the question."))
            if node.choices or node.choices_from:
                unrouted = [c.id for c in node.choices if c.route is None]
                if unrouted and not routers:
                    self.add(flow, node.line,
                             _("In node '{node}' the choices {ids} do not say where to go.").format(
                                 node=node.id, ids=", ".join(unrouted)),
                             _("Give the node a 'next:' or give each choice its own 'next:'."))
                if node.choices_from and not routers:
                    self.add(flow, node.line,
                             _("Node '{node}' lists areas but does not say where to go next.")
                             .format(node=node.id), _("Add 'next:'."))
            elif node.input and not routers:
                self.add(flow, node.line,
                         _("Node '{node}' asks for an answer but does not say where to go next.")
                         .format(node=node.id), _("Add 'next:' (or 'branch:')."))
            if node.input == "number" and (node.min is None or node.max is None):
                self.add(flow, node.line,
                         _("Node '{node}' asks for a number without min and max.").format(
                             node=node.id), _("Add min: and max: so wrong numbers are re-asked."))
        elif not routers:
            self.add(flow, node.line,
                     _("Node '{node}' is a dead end: it asks nothing and does not continue.")
                     .format(node=node.id),
                     _("Add next:, goto:, end: true, or choices so the resident can go on."))
        if node.branch and node.branch[-1].condition is not None:
            self.add(flow, node.branch[-1].line,
                     _("The branch of node '{node}' has no 'else:' at the end.").format(
                         node=node.id),
                     _("Add '- else: <node>' as the last line so every case has a way on."))
        if node.bands and not all(b.route for b in node.bands.ranges) and not node.route:
            self.add(flow, node.bands.line,
                     _("Not every range of node '{node}' says where to go.").format(node=node.id),
                     _("Give each range a 'next:'."))
        if (node.score or node.save) and not node.waits:
            self.add(flow, node.line,
                     _("Node '{node}' has score/save but asks no question.").format(node=node.id),
                     _("Put score:/save: on the question node."), "warning")
        if node.score and any(c.value is None for c in node.choices):
            missing = [c.id for c in node.choices if c.value is None]
            self.add(flow, node.line,
                     _("Node '{node}' adds to the score '{score}', but choices {ids} have no "
                       "value.").format(node=node.id, score=node.score, ids=", ".join(missing)),
                     _("Give every choice a numeric 'value:'."))

    def node_names(self, flow: Flow, node: Node, defined: set[str]) -> None:
        templates: list[Template] = list(node.say)
        templates += [c.label for c in node.choices]
        if node.reask:
            templates.append(node.reask)
        for value in node.sets.values():
            if isinstance(value, Template):
                templates.append(value)
        for event in node.emits:
            templates += [v for v in event.values() if isinstance(v, Template)]
        for route in routes_of(node):
            templates += [v for v in route.with_values.values() if isinstance(v, Template)]
        names = {n for t in templates for n in t.names}
        for expr in [b.condition for b in node.branch if b.condition] + list(node.flags.values()):
            names |= expr.names
        for name in sorted(names):
            problem = self.unknown_name(name, defined)
            if problem:
                self.add(flow, node.line, problem[0].format(node=node.id, name=name), problem[1])
        for template in templates:
            for bad in template.filters - FILTERS:
                self.add(flow, node.line,
                         _("Node '{node}' uses the unknown format '|{f}'.").format(
                             node=node.id, f=bad),
                         _("Known formats: {known}.").format(known=", ".join(sorted(FILTERS))))

    def unknown_name(self, name: str, defined: set[str]) -> tuple[str, str] | None:
        head, _dot, rest = name.partition(".")
        if name in defined or name in GLOBAL_NAMES:
            return None
        if head == "profile" and rest in PROFILE_FIELDS:
            return None
        if head == "hotline":
            if rest in self.content.hotlines:
                return None
            return (_("Node '{node}' shows the hotline '{name}', which is not in hotlines.yaml."),
                    _("Known hotlines: {known}.").format(known=_some(self.content.hotlines)))
        if head == "hotlines":
            if rest in self.content.hotline_groups:
                return None
            return (_("Node '{node}' shows the hotline group '{name}', which is not in "
                      "hotlines.yaml."),
                    _("Known groups: {known}.").format(
                        known=_some(self.content.hotline_groups)))
        return (_("Node '{node}' uses '{{{name}}}', but nothing in this flow sets it."),
                _("Set it first (set:, save:, score:, bands: save:) or declare it in params:, "
                  "or check the spelling."))

    def labels(self, flow: Flow, node: Node) -> None:
        limit = WA_BUTTON_TITLE if len(node.choices) <= WA_MAX_BUTTONS else WA_LIST_TITLE
        for choice in node.choices:
            data = f"{flow.id}.{node.id}|{choice.id}".encode()
            if len(data) > CALLBACK_LIMIT:
                self.add(flow, choice.line,
                         _("The button '{id}' is too long for Telegram: flow, node and choice "
                           "ids together take {n} bytes (at most {limit}).").format(
                             id=choice.id, n=len(data), limit=CALLBACK_LIMIT),
                         _("Use shorter ids for the node or the choice."))
            label = choice.label.source
            if len(label) > limit:
                kind = _("button") if limit == WA_BUTTON_TITLE else _("list row")
                self.add(flow, choice.line,
                         _("The label '{label}' has {n} characters; a WhatsApp {kind} shows at "
                           "most {limit}.").format(label=label, n=len(label), kind=kind,
                                                   limit=limit),
                         _("Shorten the label; put longer explanations in the question text."))
        if len(node.choices) > WA_MAX_ROWS:
            self.add(flow, node.line,
                     _("Node '{node}' has {n} choices; WhatsApp lists show at most {max}, so "
                       "WhatsApp users will get a numbered text menu.").format(
                         node=node.id, n=len(node.choices), max=WA_MAX_ROWS),
                     _("Split the choices over two questions if you can."), "warning")

    def bands(self, flow: Flow, node: Node) -> None:
        assert node.bands
        ranges = sorted(node.bands.ranges, key=lambda b: b.min)
        integral = all(float(b.min).is_integer() and float(b.max).is_integer() for b in ranges)
        for before, after in itertools.pairwise(ranges):
            if after.min <= before.max:
                self.add(flow, after.line,
                         _("The ranges '{a}' ({amin}–{amax}) and '{b}' ({bmin}–{bmax}) overlap.")
                         .format(a=before.key, amin=before.min, amax=before.max, b=after.key,
                                 bmin=after.min, bmax=after.max),
                         _("A score must fall in exactly one range."))
            elif integral and after.min != before.max + 1:
                self.add(flow, after.line,
                         _("Scores between {lo} and {hi} fall in no range (between '{a}' and "
                           "'{b}').").format(lo=before.max + 1, hi=after.min - 1, a=before.key,
                                             b=after.key),
                         _("Make each range start right after the previous one ends."))
        keys = [b.key for b in ranges]
        for key in {k for k in keys if keys.count(k) > 1}:
            self.add(flow, node.bands.line, _("The range key '{key}' is used twice.").format(
                key=key))

    def reachability(self, flow: Flow) -> None:
        seen = reachable(self.content, flow)
        for node in flow.nodes.values():
            if node.id not in seen:
                self.add(flow, node.line,
                         _("Node '{node}' can never be reached.").format(node=node.id),
                         _("Point a next:/choice to it from another node, or delete it."))

    def loops(self, flow: Flow) -> None:
        """A cycle of nodes that never wait would spin forever."""
        silent = {n.id for n in flow.nodes.values() if not n.waits}
        edges = {
            n: {r.target for r in routes_of(flow.nodes[n])
                if r.kind == "next" and r.target in silent}
            for n in silent
        }
        hit = _find_cycle(edges)
        if hit is not None:
            self.loop_found = True
            self.add(flow, flow.nodes[hit].line,
                     _("Node '{node}' is in a loop that never waits for the resident.").format(
                         node=hit),
                     _("Put a question somewhere in the loop or end it."))

    def loops_across_flows(self) -> None:
        """The same across flows: goto/call into a flow whose nodes lead back without a
        question, or a menu that can end without one (a flow that ends returns to the menu)."""
        flows = self.content.flows
        menu = flows.get(self.content.system.flows.get("menu", ""))
        stop = self.content.system.flows.get("stop")
        silent = {(f.id, n.id) for f in flows.values() for n in f.nodes.values() if not n.waits}
        edges: dict[tuple[str, str], set[tuple[str, str]]] = {}
        for flow_id, node_id in silent:
            targets = set()
            for route in routes_of(flows[flow_id].nodes[node_id]):
                if route.kind == "next" and route.target:
                    targets.add((flow_id, route.target))
                elif route.kind in ("goto", "call") and route.target:
                    target_flow, _dot, target_node = route.target.partition(".")
                    if target_flow in flows:
                        targets.add((target_flow, target_node or flows[target_flow].start))
                elif route.kind == "end" and menu is not None and flow_id != stop:
                    targets.add((menu.id, menu.start))
            edges[(flow_id, node_id)] = targets & silent
        hit = _find_cycle(edges)
        if hit is not None:
            flow = flows[hit[0]]
            self.add(flow, flow.nodes[hit[1]].line,
                     _("Node '{node}' is in a loop through other flows that never waits for the "
                       "resident.").format(node=hit[1]),
                     _("Follow its goto:/call:/end: to the flows it leads to and put a question "
                       "on the way (a flow that ends at the top goes back to the menu)."))


def _find_cycle(edges: dict[Any, set[Any]]) -> Any | None:
    """A node on a cycle of `edges`, or None. Iterative: a long chain must not hit Python's
    recursion limit."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    for root in sorted(edges):
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(sorted(edges.get(root, ()))))]
        while stack:
            node, successors = stack[-1]
            for nxt in successors:
                if state.get(nxt) == 1:
                    return nxt
                if nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, iter(sorted(edges.get(nxt, ())))))
                    break
            else:
                state[node] = 2
                stack.pop()
    return None


__all__ = ["ContentError", "lint_content", "lint_directory", "load_content"]
