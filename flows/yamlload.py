"""Safe YAML loading that remembers line numbers, so every content problem can name its line.

Built on `yaml.SafeLoader` (no arbitrary objects). Mappings come back as `LineDict`, a
plain dict that also knows the line of each key; duplicate keys are reported instead of
being silently overwritten as plain PyYAML does.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from flows.i18n import _
from flows.problems import Problem


class LineDict(dict):
    """A dict from YAML that knows where it (and each of its keys) was written."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):
    """A list from YAML that knows the line of each item."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class _Loader(yaml.SafeLoader):
    def __init__(self, stream: str, file: str, problems: list[Problem]):
        super().__init__(stream)
        self._file = file
        self._problems = problems


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in result:
            loader._problems.append(
                Problem(
                    loader._file,
                    line,
                    _("The key '{key}' is written twice in the same block (first on line {first}).")
                    .format(key=key, first=result.key_lines[key]),
                    _("Remove one of them or give it another name; only one can be used."),
                )
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


# YAML 1.1 reads yes/no/on/off as true/false, which surprises editors (`next: no`).
# Like YAML 1.2, only true/false are booleans here.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(path: Path, display: str | None = None) -> tuple[Any, list[Problem]]:
    """Parse one file. Returns (data or None, problems); never raises for content mistakes."""
    file = display or str(path)
    problems: list[Problem] = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None, [
            Problem(file, None, _("The file is not UTF-8 text."), _("Save it as UTF-8."))
        ]
    except OSError as exc:
        return None, [Problem(file, None, _("Cannot read the file: {err}").format(err=exc))]
    if "\t" in text:
        line = text[: text.index("\t")].count("\n") + 1
        return None, [
            Problem(
                file,
                line,
                _("There is a TAB character; YAML only allows spaces for indentation."),
                _("Replace the TAB with spaces (2 spaces per level)."),
            )
        ]
    loader = _Loader(text, file, problems)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else None
        what = getattr(exc, "problem", None) or str(exc)
        return None, [
            Problem(
                file,
                line,
                _("The YAML cannot be read here ({what}).").format(what=what),
                _(
                    "Check the indentation and the colons on this line and the one above; "
                    "put text containing ':' or '#' in quotes."
                ),
            )
        ]
    finally:
        loader.dispose()
    return data, problems
