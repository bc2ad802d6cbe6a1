"""Safe YAML loading that remembers line numbers, so every content problem can name its line.

Built on `yaml.SafeLoader` (no arbitrary objects), with libyaml's parser when PyYAML has it
(about seven times faster; the pure-Python parser otherwise). Mappings come back as
`LineDict`, a plain dict that also knows the line of each key; duplicate keys are reported
instead of being silently overwritten as plain PyYAML does.

A content file is written by people, so anything the loader cannot use is a `Problem`
with file and line, never an exception. That includes files built to hurt the bot, which
are refused before they cost time or memory: more than `MAX_FILE_BYTES`, blocks nested
deeper than `MAX_DEPTH`, more than `MAX_ALIASES` `*alias` references, or aliases that
together stand for more than `MAX_ALIASED_VALUES` values (a "billion laughs").
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.resolver import Resolver

from flows.i18n import _
from flows.problems import Problem

try:
    from yaml.cyaml import CParser as _FastParser
except ImportError:  # PyYAML built without libyaml
    _FastParser = None

MAX_FILE_BYTES = 512 * 1024  # the largest shipped file, crisis/lexicon.yaml, is about 42 kB
MAX_DEPTH = 50  # values inside values; the shipped content goes 10 deep
MAX_ALIASES = 20  # `*name` references per file; the shipped content uses none
MAX_ALIASED_VALUES = 10_000  # values all aliases of a file may stand for together

# The characters YAML itself accepts (yaml.reader.Reader.NON_PRINTABLE).
_NON_PRINTABLE = re.compile(
    r"[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]"
)


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


class _Refused(yaml.YAMLError):
    """The file breaks one of the loader's limits; carries the editor's message."""

    def __init__(self, line: int | None, message: str, hint: str):
        super().__init__(message)
        self.line, self.message, self.hint = line, message, hint


def _too_deep(file: str, line: int | None) -> Problem:
    return Problem(
        file,
        line,
        _("The values here are nested more than {max} levels deep.").format(max=MAX_DEPTH),
        _("Content never needs this many levels; check the indentation and that every "
          "opening bracket is closed."),
    )


class _LimitedComposer(Composer):
    """Builds the node tree while counting nesting depth and aliases."""

    def __init__(self) -> None:
        Composer.__init__(self)
        self.depth = 0
        self.aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise _Refused(
                    self.peek_event().start_mark.line + 1,
                    _("This file uses more than {max} aliases (*name).").format(max=MAX_ALIASES),
                    _("Write the values out instead of repeating them with & and *; shared "
                      "answer lists belong in scales.yaml."),
                )
            return Composer.compose_node(self, parent, index)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                problem = _too_deep("", self.peek_event().start_mark.line + 1)
                raise _Refused(problem.line, problem.message, problem.hint)
            return Composer.compose_node(self, parent, index)
        finally:
            self.depth -= 1


class _PythonBase(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,
                  _LimitedComposer, SafeConstructor, Resolver):
    def __init__(self, stream: str):
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        _LimitedComposer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)


class _PythonLoader(_PythonBase):
    def __init__(self, stream: str, file: str, problems: list[Problem]):
        super().__init__(stream)
        self._file = file
        self._problems = problems


_Loader = _PythonLoader  # the type the constructors below are written for
LOADERS: list[type] = [_PythonLoader]  # the fastest first

if _FastParser is not None:

    class _FastLoader(_LimitedComposer, _FastParser, SafeConstructor, Resolver):  # type: ignore[misc]
        def __init__(self, stream: str, file: str, problems: list[Problem]):
            _FastParser.__init__(self, stream)
            _LimitedComposer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._file = file
            self._problems = problems

    LOADERS.insert(0, _FastLoader)


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        yield from node.value
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value


def _expanded_size(root: yaml.Node) -> int | None:
    """How many values the aliases add to the document once each is written out; None when
    an alias refers to a block it is inside. Counted once per node (the nodes form a DAG)."""
    cap = 10**15  # keeps the numbers small; any real count is far below
    done: dict[int, int] = {}
    open_: set[int] = set()  # the blocks around the one being counted
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_counted = stack.pop()
        if children_counted:
            open_.discard(id(node))
            done[id(node)] = min(cap, 1 + sum(done[id(c)] for c in _children(node)))
            continue
        if id(node) in done:
            continue
        if id(node) in open_:
            return None
        open_.add(id(node))
        stack.append((node, True))
        for child in _children(node):
            if id(child) in open_:
                return None
            if id(child) not in done:
                stack.append((child, False))
    return done[id(root)] - len(done)  # what the aliases add to the values actually written


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, Hashable):
            loader._problems.append(
                Problem(
                    loader._file,
                    line,
                    _("This key is a list or a block of keys, not a name."),
                    _("Write a plain name before the ':'; if the key really is a text that "
                      "starts with a bracket, put it in quotes."),
                )
            )
            continue
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


for _loader in LOADERS:
    # YAML 1.1 reads yes/no/on/off as true/false, which surprises editors (`next: no`).
    # Like YAML 1.2, only true/false are booleans here.
    _loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    _loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"),
    )
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(path: Path, display: str | None = None) -> tuple[Any, list[Problem]]:
    """Parse one file. Returns (data or None, problems); never raises for content mistakes."""
    file = display or str(path)
    try:
        if not path.is_file():
            return None, [Problem(file, None, _("This is not a plain file."),
                                  _("Content must be ordinary text files."))]
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return None, [Problem(file, None, _("Cannot read the file: {err}").format(err=exc))]
    if len(raw) > MAX_FILE_BYTES:
        return None, [
            Problem(
                file,
                1,
                _("The file is larger than {max} kB; it is not read.").format(
                    max=MAX_FILE_BYTES // 1024),
                _("Split it into smaller files (one flow per file), or check that the right "
                  "file was saved here."),
            )
        ]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [
            Problem(file, raw[: exc.start].count(b"\n") + 1, _("The file is not UTF-8 text."),
                    _("Save it as UTF-8."))
        ]
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
    bad = _NON_PRINTABLE.search(text)
    if bad:
        return None, [
            Problem(
                file,
                text[: bad.start()].count("\n") + 1,
                _("There is an invisible control character (code {code}) in this line.").format(
                    code=f"U+{ord(bad.group()):04X}"),
                _("Delete it (it often comes with text copied from another program) and "
                  "save again."),
            )
        ]
    return parse_yaml(text, file)


def parse_yaml(text: str, file: str, loader_class: type | None = None
               ) -> tuple[Any, list[Problem]]:
    """Parse text already read and checked by load_yaml (tests pass `loader_class` to try
    each of LOADERS)."""
    problems: list[Problem] = []
    loader = None
    try:
        loader = (loader_class or LOADERS[0])(text, file, problems)
        node = loader.get_single_node()
        if node is not None and loader.aliases:
            added = _expanded_size(node)
            if added is None or added > MAX_ALIASED_VALUES:
                raise _Refused(
                    node.start_mark.line + 1,
                    _("The aliases (*name) in this file refer to themselves or stand for more "
                      "than {max} values.").format(max=MAX_ALIASED_VALUES),
                    _("Write the values out instead of repeating them with & and *."),
                )
        data = loader.construct_document(node) if node is not None else None
    except _Refused as exc:
        return None, [Problem(file, exc.line, exc.message, exc.hint)]
    except RecursionError:  # MAX_DEPTH keeps this away; a last guard, never a traceback
        return None, [_too_deep(file, None)]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else None
        what = getattr(exc, "problem", None) or str(exc)
        if "nesting depth" in str(what):  # libyaml's own limit, far beyond MAX_DEPTH
            return None, [_too_deep(file, line)]
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
        if loader is not None:
            loader.dispose()
    return data, problems
