"""Message templates: `{name}`, `{profile.area}`, `{today|date}`, `{total|number}`.

Parsed once at load time so the linter knows every name a message reads and the
runtime only joins ready pieces. `{{` and `}}` print literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{\s*([A-Za-z_][\w.]*)\s*(?:\|\s*([a-z_]+)\s*)?\}")

# `label`: the label of the choice whose id a `save:`d variable holds ({profile.age_group|label})
FILTERS = frozenset({"date", "datetime", "time", "number", "area", "label", "upper", "lower"})


@dataclass(frozen=True)
class Placeholder:
    name: str
    filter: str | None


@dataclass(frozen=True)
class Template:
    """A parsed text: a tuple of literal strings and placeholders. What the runtime asks of
    it on every message (names, the literal text) is worked out once per content load."""

    source: str
    parts: tuple[str | Placeholder, ...]

    @cached_property
    def names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.parts if isinstance(p, Placeholder))

    @cached_property
    def filters(self) -> frozenset[str]:
        return frozenset(p.filter for p in self.parts if isinstance(p, Placeholder) and p.filter)

    @cached_property
    def single(self) -> Placeholder | None:
        """The placeholder if the text is exactly one `{name}` (its value keeps its type)."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Placeholder):
            return self.parts[0]
        return None

    @cached_property
    def literal(self) -> str | None:
        """The whole text when it has no placeholder (most labels): nothing to render."""
        if all(isinstance(p, str) for p in self.parts):
            return "".join(p for p in self.parts if isinstance(p, str))
        return None

    def render(self, resolve: Callable[[Placeholder], Any]) -> str:
        literal = self.literal
        if literal is not None:
            return literal
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                value = resolve(part)
                out.append("" if value is None else str(value))
        return "".join(out)


def parse_template(source: str) -> Template:
    parts: list[str | Placeholder] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(source):
        if match.start() > pos:
            parts.append(source[pos : match.start()])
        token = match.group(0)
        if token in ("{{", "}}"):
            parts.append(token[0])
        else:
            parts.append(Placeholder(match.group(1), match.group(2)))
        pos = match.end()
    if pos < len(source):
        parts.append(source[pos:])
    merged: list[str | Placeholder] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return Template(source, tuple(merged))


def stray_braces(source: str) -> bool:
    """True when a `{` or `}` is left that is not a valid placeholder (a likely typo)."""
    rest = _PLACEHOLDER.sub("", source)
    return "{" in rest or "}" in rest
