"""A resident's conversation state: where they are, and the few answers the flow needs.

Serialised to plain JSON for storage. It never holds platform ids or anything the
resident typed: only choice ids, numbers, yes/no and the profile fields below.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Frame:
    """One running flow. `resume` is where to continue when a called sub-flow ends;
    `rerender` means: show the waiting question again (the sub-flow interrupted it)."""

    flow: str
    node: str
    vars: dict[str, Any] = field(default_factory=dict)
    resume: str | None = None
    rerender: bool = False
    waiting: bool = False


@dataclass
class Session:
    stack: list[Frame] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)  # age_group, area, pregnant
    consent_at: str | None = None  # ISO time in UTC
    consent_version: str | None = None
    pending_start: str | None = None  # a deep-linked flow to start after consent
    locale: str = "id"

    @property
    def has_consent(self) -> bool:
        return self.consent_at is not None

    @property
    def top(self) -> Frame | None:
        return self.stack[-1] if self.stack else None

    @property
    def position(self) -> str | None:
        """`flow.node` the resident is waiting at, if any."""
        top = self.top
        return f"{top.flow}.{top.node}" if top and top.waiting else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        data = dict(data)
        data["stack"] = [Frame(**f) for f in data.get("stack", [])]
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})
