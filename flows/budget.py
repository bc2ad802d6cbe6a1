"""The message budget of one turn: what a resident reads before the first button.

On a cheap phone on a weak signal, a turn of many bubbles is a wall. `temanjiwa lint`
warns (never refuses) when a turn can send more than `MAX_CHARS` characters or
`MAX_BUBBLES` bubbles before the bubble that carries the buttons. A turn is followed
statically from where it starts (a flow's start, or the way on after an answer) through
`next`, `goto`, `call`, `branch`, `bands` and `end` to the first node that waits; branch
conditions whose values are known on the way (`with:` and `set:` literals, such as the
crisis flow's `level`) are decided, the others may go either way, and the longest way is
reported. Placeholders count as the texts they stand for (hotlines) or a few characters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flows.graph import routes_of
from flows.model import Content, Node, Route
from flows.templates import Placeholder, Template

MAX_CHARS = 600  # characters of a turn up to and including the bubble with the buttons
MAX_BUBBLES = 3
MAX_DEPTH = 80  # nodes on one way; beyond it a way is not followed (the linter finds loops)
MAX_WAYS = 5000  # ways followed from one start; content is far smaller
SHORT_VALUE = 3  # what a score, a date part or a name counts as
LONG_VALUES = {"history": 120, "services": 160, "areas": 80}  # lists the engine fills in

_UNKNOWN = object()


@dataclass(frozen=True)
class Turn:
    start: Node  # the first node of the turn (where the warning is reported)
    chars: int
    bubbles: int
    path: tuple[str, ...]  # flow.node keys that said something, in order, up to the wait


@dataclass
class _Frame:
    flow: str
    vars: dict[str, Any]
    returns_to: str | None = None  # in the caller's flow, after a call


def over_budget(content: Content) -> list[Turn]:
    """The longest turn from each start that is over the budget, one per start node."""
    worst: dict[str, Turn] = {}
    for flow_id, node_id, frames in _starts(content):
        node = content.flows[flow_id].nodes.get(node_id)
        if node is None:
            continue
        for turn in _walk(content, node, frames):
            if turn.chars <= MAX_CHARS and turn.bubbles <= MAX_BUBBLES:
                continue
            known = worst.get(node.key)
            if known is None or (turn.chars, turn.bubbles) > (known.chars, known.bubbles):
                worst[node.key] = turn
    return sorted(worst.values(), key=lambda t: (t.start.flow, t.start.line))


def _starts(content: Content) -> Iterator[tuple[str, str, list[_Frame]]]:
    """Where turns begin: every flow's start, and every way on after an answer."""
    for flow in content.flows.values():
        yield flow.id, flow.start, [_Frame(flow.id, {})]
        for node in flow.nodes.values():
            if not node.waits:
                continue
            for route in routes_of(node):
                yield from _entered(content, route, [_Frame(flow.id, {})])


def _entered(content: Content, route: Route, frames: list[_Frame]
             ) -> Iterator[tuple[str, str, list[_Frame]]]:
    """The node a route enters first, with the frames it leaves (no text said yet)."""
    top = frames[-1]
    if route.kind == "next" and route.target:
        yield top.flow, route.target, frames
    elif route.kind in ("goto", "call") and route.target:
        flow_id, _dot, node_id = route.target.partition(".")
        flow = content.flows.get(flow_id)
        if flow is None:
            return
        params = {k: _value(v, top.vars) for k, v in route.with_values.items()}
        if route.kind == "goto":
            yield flow.id, node_id or flow.start, [*frames[:-1], _Frame(flow.id, params)]
        else:
            caller = _Frame(top.flow, top.vars, route.returns_to)
            yield flow.id, flow.start, [*frames[:-1], caller, _Frame(flow.id, params)]
    elif route.kind == "end":
        if len(frames) > 1:
            caller = frames[-2]
            if caller.returns_to:
                yield caller.flow, caller.returns_to, frames[:-1]
            return
        if top.flow == content.system.flows.get("stop"):
            return  # the resident asked to stop: nothing more is said
        menu = content.flows.get(content.system.flows.get("menu", ""))
        if menu is not None and top.flow != menu.id:
            yield menu.id, menu.start, [_Frame(menu.id, {})]


def _walk(content: Content, first: Node, frames: list[_Frame]) -> Iterator[Turn]:
    """Every way from `first` to the first node that waits, as the turn it sends."""
    todo = [(first.flow, first.id, frames, 0, 0, ())]
    ways = 0
    while todo and ways < MAX_WAYS:
        flow_id, node_id, frames, chars, bubbles, path = todo.pop()
        node = content.flows[flow_id].nodes.get(node_id) if flow_id in content.flows else None
        if node is None or len(path) > MAX_DEPTH:
            continue
        ways += 1
        frames = [*frames[:-1], _Frame(frames[-1].flow, dict(frames[-1].vars),
                                       frames[-1].returns_to)]
        for name, value in node.sets.items():
            if not name.startswith("profile."):
                frames[-1].vars[name] = _value(value, frames[-1].vars)
        if node.flags:
            frames[-1].vars["flags"] = _UNKNOWN
        said = [_length(content, t, frames[-1].vars) for t in node.say]
        chars, bubbles = chars + sum(said), bubbles + len(said)
        path = (*path, node.key)
        if node.waits:
            yield Turn(first, chars, bubbles, path)
            continue
        for route in _ways_on(node, frames[-1].vars):
            for next_flow, next_node, next_frames in _entered(content, route, frames):
                todo.append((next_flow, next_node, next_frames, chars, bubbles, path))


def _ways_on(node: Node, values: Mapping[str, Any]) -> list[Route]:
    """The routes a node that does not wait may take, given what is known."""
    if node.branch:
        ways = []
        for branch in node.branch:
            decided = _decide(branch.condition, values) if branch.condition else True
            if decided is False:
                continue
            ways.append(branch.route)
            if decided is True:
                break
        return ways
    if node.bands:
        ways = [b.route or node.route for b in node.bands.ranges]
        return [r for r in ways if r is not None]
    return [node.route] if node.route else []


def _decide(condition: Any, values: Mapping[str, Any]) -> bool | None:
    """True/False when every name in the condition is known on the way, else None."""
    if any(values.get(name, _UNKNOWN) is _UNKNOWN for name in condition.names):
        return None
    try:
        return condition.evaluate(lambda name: values[name])
    except Exception:  # a comparison of unlike values: either way is possible
        return None


def _value(raw: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(raw, Template):
        single = raw.single
        if single is not None and single.filter is None:
            return values.get(single.name, _UNKNOWN)
        if raw.names:
            return _UNKNOWN
        return raw.source
    return raw


def _length(content: Content, template: Template, values: Mapping[str, Any]) -> int:
    def resolve(placeholder: Placeholder) -> str:
        head, _dot, rest = placeholder.name.partition(".")
        if head == "hotline" and rest in content.hotlines:
            return content.hotlines[rest].text
        if head == "hotlines":
            ids = content.hotline_groups.get(rest, ())
            return "\n".join(content.hotlines[h].text for h in ids if h in content.hotlines)
        value = values.get(placeholder.name, _UNKNOWN)
        if value is not _UNKNOWN and isinstance(value, str | int | float):
            return str(value)
        return "x" * LONG_VALUES.get(placeholder.name, SHORT_VALUE)

    return len(template.render(resolve))
