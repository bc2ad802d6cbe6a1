"""The content model the runtime executes, built by `flows.loader` from YAML."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from flows.expressions import Expression
from flows.followups import FollowupSettings
from flows.templates import Template

RouteKind = Literal["next", "goto", "call", "end"]


@dataclass(frozen=True)
class Route:
    """Where to go: a node of this flow, another flow (with or without return), or the end."""

    kind: RouteKind
    target: str | None = None  # node id (next), "flow" or "flow.node" (goto, call)
    returns_to: str | None = None  # for call: the node of this flow to continue at
    with_values: dict[str, Any] = field(default_factory=dict)  # for call: params
    line: int = 0


@dataclass(frozen=True)
class ChoiceSpec:
    id: str
    label: Template
    value: float | int | None = None
    description: str | None = None
    synonyms: tuple[str, ...] = ()
    accepts: Literal["yes", "no"] | None = None
    route: Route | None = None
    line: int = 0


@dataclass(frozen=True)
class BandRange:
    key: str
    min: float
    max: float
    label: str
    route: Route | None
    line: int = 0


@dataclass(frozen=True)
class Bands:
    score: str
    save: str
    ranges: tuple[BandRange, ...]
    line: int = 0


@dataclass(frozen=True)
class Branch:
    condition: Expression | None  # None is the "else" branch
    route: Route
    line: int = 0


@dataclass
class Node:
    id: str
    flow: str
    line: int
    sets: dict[str, Any] = field(default_factory=dict)  # values: Template or literal
    flags: dict[str, Expression] = field(default_factory=dict)
    emits: list[dict[str, Any]] = field(default_factory=list)
    consent: Literal["given", "withdrawn"] | None = None
    say: tuple[Template, ...] = ()
    choices: tuple[ChoiceSpec, ...] = ()
    choices_from: str | None = None
    input: Literal["number", "yesno"] | None = None
    min: float | None = None
    max: float | None = None
    score: str | None = None
    save: str | None = None
    reask: Template | None = None
    other: Route | None = None
    route: Route | None = None
    branch: tuple[Branch, ...] = ()
    bands: Bands | None = None

    @property
    def key(self) -> str:
        return f"{self.flow}.{self.id}"

    @property
    def waits(self) -> bool:
        return bool(self.choices or self.choices_from or self.input)


@dataclass
class Flow:
    id: str
    title: str
    file: str
    line: int
    start: str
    nodes: dict[str, Node]
    consent_required: bool = True
    params: tuple[str, ...] = ()
    description: str = ""  # one line for editors and posters: what the resident gets here


@dataclass(frozen=True)
class Hotline:
    id: str
    name: str
    text: str


@dataclass
class SystemTexts:
    consent_version: str
    minor_age_groups: tuple[str, ...]
    flows: dict[str, str]  # role -> flow id: consent, menu, help, stop, delete, crisis
    commands: dict[str, tuple[str, ...]]  # command -> words
    texts: dict[str, Template]
    file: str = "system.yaml"


@dataclass
class Content:
    """A whole, validated content set: what one running bot serves."""

    directory: str
    flows: dict[str, Flow]
    scales: dict[str, tuple[ChoiceSpec, ...]]
    hotlines: dict[str, Hotline]
    hotline_groups: dict[str, tuple[str, ...]]
    system: SystemTexts
    unreadable: frozenset[str] = frozenset()  # flow files that could not be parsed
    followups: FollowupSettings | None = None  # followups.yaml; None: no follow-ups

    def node(self, key: str) -> Node | None:
        flow_id, _, node_id = key.partition(".")
        flow = self.flows.get(flow_id)
        return flow.nodes.get(node_id) if flow else None

    def role(self, name: str) -> str:
        return self.system.flows[name]
