"""Problems found in content, written for editors: which file, which line, what to do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from flows.i18n import _

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One content mistake. `hint` says in plain words how to fix it."""

    file: str
    line: int | None
    message: str
    hint: str = ""
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        label = _("error") if self.severity == "error" else _("warning")
        text = f"{where}: {label}: {self.message}"
        return f"{text}\n    → {self.hint}" if self.hint else text


class ContentError(Exception):
    """Raised when content cannot be loaded; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
