"""The graph of one flow: its nodes and every way between them, each with file and line.

One place answers "where can the resident go from here?": `temanjiwa lint` uses
`routes_of` and `reachable` to find nodes nobody can reach, and the editors' studio draws
`build_graph(...)` as a map with the unreachable nodes and dead ends marked. It works on
content with mistakes too (a `next:` to a missing node becomes an edge marked missing),
so the map can show an editor what is broken.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from flows.model import Content, Flow, Node, Route

EdgeKind = Literal["next", "goto", "call", "return", "end"]
Via = Literal["node", "choice", "branch", "band", "other"]
NodeKind = Literal["question", "message", "step"]


def routes_of(node: Node) -> Iterator[Route]:
    """Every route written on a node: its own, its choices', branches', ranges' and `other:`."""
    if node.route:
        yield node.route
    for choice in node.choices:
        if choice.route:
            yield choice.route
    for branch in node.branch:
        yield branch.route
    if node.bands:
        for band in node.bands.ranges:
            if band.route:
                yield band.route
    if node.other:
        yield node.other


def external_entries(content: Content, flow: Flow) -> set[str]:
    """Nodes of `flow` that other flows (or itself) enter directly with goto/call: flow.node,
    and the topic nodes the engine enters for distress.yaml."""
    entries = set()
    if content.distress is not None and content.distress.flow == flow.id:
        entries.update(content.distress.topics)
    for other in content.flows.values():
        for node in other.nodes.values():
            for route in routes_of(node):
                if route.kind in ("goto", "call") and route.target:
                    target_flow, _dot, target_node = route.target.partition(".")
                    if target_flow == flow.id and target_node:
                        entries.add(target_node)
    return entries


def reachable(content: Content, flow: Flow, also: set[str] | frozenset[str] = frozenset()
              ) -> set[str]:
    """The nodes a resident can reach: from the start, or from a direct entry by another flow
    (or from `also`: the linter's guesses at what a misspelt reference meant).

    After a `call:` the flow continues at its `next:` node, so that node counts as reached.
    """
    seen = ({flow.start} | external_entries(content, flow) | set(also)) & flow.nodes.keys()
    todo = list(seen)
    while todo:
        for route in routes_of(flow.nodes[todo.pop()]):
            for target in (route.target if route.kind == "next" else None, route.returns_to):
                if target and target in flow.nodes and target not in seen:
                    seen.add(target)
                    todo.append(target)
    return seen


def is_dead_end(node: Node) -> bool:
    """True when some answer or case leaves the resident with nowhere written to go."""
    routed = bool(node.route or node.branch or node.bands)
    if node.branch and node.branch[-1].condition is not None and not node.route:
        return True  # no else: a case that matches no condition goes nowhere
    if node.bands and not node.route and not all(b.route for b in node.bands.ranges):
        return True
    if node.choices or node.choices_from:
        unrouted = node.choices_from is not None or any(c.route is None for c in node.choices)
        return unrouted and not routed
    return not routed


@dataclass(frozen=True)
class GraphNode:
    """One node as an editor sees it: what it says and asks, and where it is written."""

    id: str
    file: str
    line: int
    kind: NodeKind  # question: waits for an answer; message: only says; step: neither
    start: bool
    reachable: bool
    dead_end: bool
    say: tuple[str, ...]  # the bubbles as written (templates unrendered)
    choices: tuple[tuple[str, str], ...]  # (id, label) as written
    input: str | None  # "number", "yesno", "areas" or None


@dataclass(frozen=True)
class Edge:
    """One way from a node: to another node, into another flow, back after a call, or the end.

    `target` is a node id for next/return, "flow" or "flow.node" for goto/call, None for
    end. `exists` is False when that node or flow is not in the content.
    """

    source: str
    kind: EdgeKind
    target: str | None
    via: Via
    label: str
    line: int
    exists: bool = True

    @property
    def internal(self) -> bool:
        """Stays inside this flow (next or the return after a call)."""
        return self.kind in ("next", "return")


@dataclass(frozen=True)
class FlowGraph:
    flow: str
    title: str
    description: str
    file: str
    start: str
    nodes: dict[str, GraphNode]  # in the order they are written
    edges: tuple[Edge, ...]

    @property
    def unreachable(self) -> list[str]:
        return [n.id for n in self.nodes.values() if not n.reachable]

    @property
    def dead_ends(self) -> list[str]:
        return [n.id for n in self.nodes.values() if n.dead_end]

    def edges_from(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.source == node_id]


def build_graph(content: Content, flow_id: str) -> FlowGraph:
    """The graph of one flow of `content`; KeyError if there is no such flow."""
    flow = content.flows[flow_id]
    seen = reachable(content, flow)
    nodes = {
        node.id: GraphNode(
            id=node.id,
            file=flow.file,
            line=node.line,
            kind="question" if node.waits else "message" if node.say else "step",
            start=node.id == flow.start,
            reachable=node.id in seen,
            dead_end=is_dead_end(node),
            say=tuple(t.source for t in node.say),
            choices=tuple((c.id, c.label.source) for c in node.choices),
            input=node.input or node.choices_from,
        )
        for node in flow.nodes.values()
    }
    edges = [edge for node in flow.nodes.values() for edge in _edges(content, flow, node)]
    return FlowGraph(flow.id, flow.title, flow.description, flow.file, flow.start, nodes,
                     tuple(edges))


def _edges(content: Content, flow: Flow, node: Node) -> Iterator[Edge]:
    for choice in node.choices:
        if choice.route:
            yield from _route_edges(content, flow, node, choice.route, "choice",
                                    choice.label.source)
    for branch in node.branch:
        label = branch.condition.source if branch.condition else "else"
        yield from _route_edges(content, flow, node, branch.route, "branch", label)
    if node.bands:
        for band in node.bands.ranges:
            if band.route:
                label = f"{band.key} ({_number(band.min)}–{_number(band.max)})"
                yield from _route_edges(content, flow, node, band.route, "band", label)
    if node.route:
        yield from _route_edges(content, flow, node, node.route, "node", "")
    if node.other:
        yield from _route_edges(content, flow, node, node.other, "other", "other")


def _route_edges(content: Content, flow: Flow, node: Node, route: Route, via: Via,
                 label: str) -> Iterator[Edge]:
    if route.kind == "end":
        yield Edge(node.id, "end", None, via, label, route.line)
        return
    if route.kind == "next":
        yield Edge(node.id, "next", route.target, via, label, route.line,
                   route.target in flow.nodes)
        return
    yield Edge(node.id, route.kind, route.target, via, label, route.line,
               _flow_target_exists(content, route.target or ""))
    if route.kind == "call" and route.returns_to:
        yield Edge(node.id, "return", route.returns_to, via, label, route.line,
                   route.returns_to in flow.nodes)


def _flow_target_exists(content: Content, target: str) -> bool:
    flow_id, _dot, node_id = target.partition(".")
    other = content.flows.get(flow_id)
    return other is not None and (not node_id or node_id in other.nodes)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
