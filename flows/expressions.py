"""Tiny, safe conditions for `if:` and `flags:` (`total >= 10 and item9 > 0`).

Parsed once with Python's `ast` and checked against a short whitelist: names,
dotted names (`profile.area`), numbers, strings, true/false, comparisons, `in`,
and/or/not. Nothing is ever passed to `eval`.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flows.i18n import _

Lookup = Callable[[str], Any]

_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: b is not None and a in b,
    ast.NotIn: lambda a, b: b is None or a not in b,
}
_LITERAL_NAMES = {"true": True, "false": False, "True": True, "False": False, "none": None}


class ExpressionError(ValueError):
    """A condition an editor wrote that cannot be understood."""


@dataclass(frozen=True)
class Expression:
    """A compiled condition: `names` are the variables it reads (for the linter)."""

    source: str
    names: frozenset[str]
    _fn: Callable[[Lookup], Any]

    def evaluate(self, lookup: Lookup) -> bool:
        try:
            return bool(self._fn(lookup))
        except TypeError:
            # Comparing a missing answer (None) with a number means "not true", not a crash.
            return False


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _compile(node: ast.AST, names: set[str]) -> Callable[[Lookup], Any]:
    if isinstance(node, ast.Expression):
        return _compile(node.body, names)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | bool):
        value = node.value
        return lambda _lookup: value
    if isinstance(node, ast.List | ast.Tuple):
        items = [_compile(item, names) for item in node.elts]
        return lambda lookup: [item(lookup) for item in items]
    dotted = _dotted(node)
    if dotted is not None:
        if dotted in _LITERAL_NAMES:
            literal = _LITERAL_NAMES[dotted]
            return lambda _lookup: literal
        names.add(dotted)
        return lambda lookup: lookup(dotted)
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v, names) for v in node.values]
        if isinstance(node.op, ast.And):
            return lambda lookup: all(p(lookup) for p in parts)
        return lambda lookup: any(p(lookup) for p in parts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _compile(node.operand, names)
        return lambda lookup: not inner(lookup)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _compile(node.operand, names)
        return lambda lookup: -inner(lookup)
    if isinstance(node, ast.Compare):
        left = _compile(node.left, names)
        steps = []
        for op, right in zip(node.ops, node.comparators, strict=True):
            if type(op) not in _COMPARE:
                raise ExpressionError(_("the comparison '{op}' is not allowed").format(
                    op=type(op).__name__))
            steps.append((_COMPARE[type(op)], _compile(right, names)))

        def compare(lookup: Lookup) -> bool:
            current = left(lookup)
            for fn, right_fn in steps:
                other = right_fn(lookup)
                if not fn(current, other):
                    return False
                current = other
            return True

        return compare
    raise ExpressionError(_("'{part}' is not allowed in a condition").format(
        part=ast.unparse(node) if hasattr(ast, "unparse") else type(node).__name__))


def compile_expression(source: Any) -> Expression:
    """Compile an editor's condition; raises ExpressionError with a readable reason."""
    if isinstance(source, bool):
        return Expression(str(source), frozenset(), lambda _lookup: source)
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError(_("a condition must be a short text such as: total >= 10"))
    text = source.strip().replace("&&", " and ").replace("||", " or ")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(_("it cannot be read ({msg})").format(msg=exc.msg)) from None
    names: set[str] = set()
    fn = _compile(tree, names)
    return Expression(source, frozenset(names), fn)


def mapping_lookup(values: Mapping[str, Any]) -> Lookup:
    return values.get
