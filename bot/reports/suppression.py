"""Small-cell suppression for the programme report (the rules are in bot/reports/__init__.py).

A count of 1–4 is shown as "<5"; every published sum hides none or at least two of its
cells (secondary suppression "x"), so no hidden count can be recovered from a total.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

SMALL = 5  # counts below this (and above 0) are not shown
PRIMARY = "<5"
SECONDARY = "x"

Key = Hashable


class Suppressor:
    """Cells (counts) and the sums published over them; decides what is hidden."""

    def __init__(self, small: int = SMALL) -> None:
        self.small = small
        self.values: dict[Key, int] = {}
        self.totals: set[Key] = set()
        self.relations: list[tuple[Key, ...]] = []
        self.hidden: dict[Key, str] = {}
        self._solved = False

    def cell(self, key: Key, value: int, *, total: bool = False) -> Key:
        old = self.values.setdefault(key, value)
        assert old == value, (key, old, value)
        if total:
            self.totals.add(key)
        return key

    def relation(self, parts: Iterable[Key], total: Key) -> None:
        """`total` is published as the sum of `parts` (all of them published too)."""
        self.relations.append((*parts, total))

    def solve(self) -> None:
        self.hidden = {k: PRIMARY for k, v in self.values.items() if 0 < v < self.small}
        order = {k: i for i, k in enumerate(self.values)}
        changed = True
        while changed:
            changed = False
            for relation in self.relations:
                hidden = [k for k in relation if k in self.hidden]
                if len(hidden) != 1:
                    continue
                candidates = [k for k in relation if k not in self.hidden and self.values[k] > 0]
                if not candidates:  # cannot happen: the total would equal the hidden cell
                    continue
                pick = min(candidates, key=lambda k: (k in self.totals, self.values[k], order[k]))
                self.hidden[pick] = SECONDARY
                changed = True
        self._solved = True

    def shown(self, key: Key) -> int | str:
        assert self._solved, "call solve() first"
        return self.hidden.get(key, self.values[key])

    def check(self) -> list[tuple[Key, ...]]:
        """Sums that still expose a single hidden cell (always empty after solve())."""
        return [r for r in self.relations if sum(1 for k in r if k in self.hidden) == 1]
