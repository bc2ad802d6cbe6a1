"""A resident's conversation state: where they are, and the few answers the flow needs.

Serialised to plain JSON for storage. It never holds platform ids or anything the
resident typed: only choice ids, numbers, yes/no and the profile fields below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

    def clone(self) -> Session:
        """A copy the engine may change freely (cheaper than deepcopy: values are plain)."""
        return Session.from_dict(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": [
                {"flow": f.flow, "node": f.node, "vars": _copy_vars(f.vars), "resume": f.resume,
                 "rerender": f.rerender, "waiting": f.waiting}
                for f in self.stack
            ],
            "profile": dict(self.profile),
            "consent_at": self.consent_at,
            "consent_version": self.consent_version,
            "pending_start": self.pending_start,
            "locale": self.locale,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        data = dict(data)
        data["stack"] = [Frame(**{**f, "vars": _copy_vars(f.get("vars", {}))})
                         for f in data.get("stack", [])]
        data["profile"] = dict(data.get("profile") or {})
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


def _copy_vars(values: dict[str, Any]) -> dict[str, Any]:
    """Frame variables hold numbers, strings, booleans and lists of strings (flags)."""
    return {k: list(v) if isinstance(v, list) else v for k, v in values.items()}
