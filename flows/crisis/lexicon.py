"""Reading, checking and compiling `content/id/crisis/lexicon.yaml`.

The file is written by health-promoter editors, so every mistake is reported as a
`Problem` naming the file, the line, what is wrong and how to fix it; nothing here raises
on bad content. `compile_lexicon` turns a checked file into lookup tables: every affixed
spelling of every word the file uses, mapped to the ids of the words it stands for.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.crisis.text import (
    clean_word,
    family,
    prepare,
    skeleton,
    split_clauses,
    strip_particle,
)
from flows.i18n import _
from flows.problems import Problem
from flows.yamlload import LineDict, LineList, load_yaml

CATEGORIES = ("suicide", "self_harm", "violence", "abuse", "psychosis")
LEVELS = ("check", "high", "urgent")
# one word per item
CONTEXT_WORDS = (
    "negation",
    "negation_fillers",
    "purpose",
    "self",
    "other_person",
    "past",
    "game",
    "reflexive",
    "trailing",
    "joke",
)
# phrases (words in a row, or "..." gaps)
CONTEXT_PHRASES = ("info", "recovered")
CONTEXT_LISTS = CONTEXT_WORDS + CONTEXT_PHRASES
CUE_LISTS = ("anywhere", "after")
TOP_KEYS = (
    "version",
    "crisis",
    "not_crisis",
    "urgent_cues",
    "context",
    "synonyms",
    "abbreviations",
    "groups",
)
NUMBER_GROUP = "angka"  # built in: any number written in digits belongs to <angka>
MANY_GROUP = "angka_banyak"  # built in: a number of 10 or more written in digits
BUILT_IN_GROUPS = (NUMBER_GROUP, MANY_GROUP)
MAX_GAP = 3  # other words allowed between two words of a phrase, and where "..." is written
FIXED_GAP = 0  # … of an idiom (not_crisis) or an info phrase, unless "..." is written
GAP_MARKS = ("...", "\u2026")
END_MARK = "$"  # "selamat tinggal $": nothing but trailing particles (ya, deh) after it

_GROUP_NAME = re.compile(r"[a-z][a-z0-9_]*")
# the pieces of "a_b" / "aku_<bunuh_berat>": a group name keeps its own underscores
_TIGHT_PIECE = re.compile(r"<[^<>]*>?|[^_<]+")
_PHRASE_PUNCTUATION = re.compile(r"[.,!?;:()\[\]{}\"|/\\\u2026]")


@dataclass(frozen=True)
class Phrase:
    """One compiled phrase: `parts` (split at "+") of element ids, in order."""

    text: str
    line: int
    parts: tuple[tuple[str, ...], ...]
    gaps: tuple[tuple[int, ...], ...]  # per element: other words allowed before it
    category: str = ""
    level: int = 0  # 1 check, 2 high, 3 urgent; 0 for idioms and cues
    ends: tuple[bool, ...] = ()  # per part: written with a final "$" (ends its clause)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(e for part in self.parts for e in part)

    @property
    def size(self) -> int:
        return sum(len(part) for part in self.parts)


@dataclass
class Lexicon:
    """The compiled tables the detector runs on."""

    surfaces: dict[str, frozenset[str]]  # every affixed form of the plain words
    exact: dict[str, frozenset[str]]  # "=word" spellings: exactly these, no endings
    abbreviations: dict[str, tuple[str, ...]]
    crisis: list[Phrase]
    not_crisis: list[Phrase]
    cues_anywhere: list[Phrase]
    cues_after: list[Phrase]
    info: list[Phrase]
    context: dict[str, frozenset[str]]
    recovered: list[Phrase] = field(default_factory=list)
    # consonant skeleton → the plain words and abbreviations that have it ("bnh" → bunuh)
    skeletons: dict[str, tuple[str, ...]] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)


# ------------------------------------------------------------------ reading


def _as_text(value: Any) -> str | None:
    """A YAML scalar as editor text; None when it is a list or a block."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value).strip()
    return None


def _did_you_mean(word: str, options: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return _(" Did you mean '{word}'?").format(word=close[0]) if close else ""


class _Reader:
    """Walks the parsed YAML, collecting problems and the raw entries with their lines."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []
        # (text, line) lists
        self.crisis: list[tuple[str, int, str, str]] = []  # text, line, category, level
        self.not_crisis: list[tuple[str, int]] = []
        self.cues: dict[str, list[tuple[str, int]]] = {k: [] for k in CUE_LISTS}
        self.context: dict[str, list[tuple[str, int]]] = {k: [] for k in CONTEXT_LISTS}
        self.synonyms: list[tuple[list[str], int]] = []
        self.abbreviations: list[tuple[str, str, int]] = []
        self.groups: dict[str, tuple[list[tuple[str, int]], int]] = {}

    def error(self, line: int | None, message: str, hint: str = "") -> None:
        self.problems.append(Problem(self.file, line, message, hint))

    def warn(self, line: int | None, message: str, hint: str = "") -> None:
        self.problems.append(Problem(self.file, line, message, hint, "warning"))

    def mapping(self, value: Any, line: int, where: str) -> LineDict | None:
        if isinstance(value, LineDict):
            return value
        if value is None:
            return LineDict()
        self.error(
            line,
            _("'{where}' must be a block of named entries (name: ...).").format(where=where),
            _("Write each entry on its own line as 'name:', indented below '{where}:'.").format(
                where=where
            ),
        )
        return None

    def texts(self, value: Any, line: int, where: str) -> list[tuple[str, int]]:
        """A list of phrases: each item one line of text."""
        if value is None:
            return []
        if not isinstance(value, LineList):
            self.error(
                line,
                _("'{where}' must be a list: one phrase per line, each starting with '- '.").format(
                    where=where
                ),
                _(
                    "Write it like:\n      {where}:\n        - first phrase\n"
                    "        - second phrase"
                ).format(where=where),
            )
            return []
        out = []
        for index, item in enumerate(value):
            item_line = value.line_of(index)
            text = _as_text(item)
            if text is None:
                self.error(
                    item_line,
                    _("This item of '{where}' is not a phrase.").format(where=where),
                    _(
                        "Write one phrase per line after '- ', as plain text. "
                        "If it contains ':' or '#', put it in quotes."
                    ),
                )
            elif not text:
                self.error(
                    item_line,
                    _("Empty phrase in '{where}'.").format(where=where),
                    _("Write the phrase after '- ', or delete the line."),
                )
            else:
                out.append((text, item_line))
        return out

    def read(self, data: Any) -> None:
        if not isinstance(data, LineDict):
            self.error(
                1,
                _("The lexicon must start with named sections such as 'crisis:'."),
                _("Compare with the example at the top of the original lexicon.yaml."),
            )
            return
        for key in data:
            if key not in TOP_KEYS:
                self.error(
                    data.line_of(key),
                    _("Unknown section '{key}'.").format(key=key)
                    + _did_you_mean(str(key), TOP_KEYS),
                    _("The sections are: {keys}.").format(keys=", ".join(TOP_KEYS)),
                )
        if "crisis" not in data:
            self.error(
                1,
                _("The section 'crisis:' is missing."),
                _("Add 'crisis:' with the categories and their phrases."),
            )
        self.read_crisis(data.get("crisis"), data.line_of("crisis"))
        self.not_crisis = self.texts(
            data.get("not_crisis"), data.line_of("not_crisis"), "not_crisis"
        )
        self.read_named_lists(data, "urgent_cues", CUE_LISTS, self.cues)
        self.read_named_lists(data, "context", CONTEXT_LISTS, self.context)
        self.read_synonyms(data.get("synonyms"), data.line_of("synonyms"))
        self.read_abbreviations(data.get("abbreviations"), data.line_of("abbreviations"))
        self.read_groups(data.get("groups"), data.line_of("groups"))

    def read_crisis(self, value: Any, line: int) -> None:
        block = self.mapping(value, line, "crisis")
        if block is None:
            return
        for category, levels in block.items():
            cat_line = block.line_of(category)
            if category not in CATEGORIES:
                self.error(
                    cat_line,
                    _("Unknown category '{name}'.").format(name=category)
                    + _did_you_mean(str(category), CATEGORIES),
                    _("The categories are: {names}.").format(names=", ".join(CATEGORIES)),
                )
                continue
            level_block = self.mapping(levels, cat_line, f"crisis.{category}")
            if level_block is None:
                continue
            for level, phrases in level_block.items():
                level_line = level_block.line_of(level)
                if level not in LEVELS:
                    self.error(
                        level_line,
                        _("Unknown level '{name}' in '{cat}'.").format(name=level, cat=category)
                        + _did_you_mean(str(level), LEVELS),
                        _(
                            "The levels are: check (unclear or passive: the bot asks), "
                            "high (active thoughts, self-harm, violence told), urgent "
                            "(plan, means at hand, attempt now, goodbye)."
                        ),
                    )
                    continue
                where = f"crisis.{category}.{level}"
                for text, item_line in self.texts(phrases, level_line, where):
                    self.crisis.append((text, item_line, category, level))

    def read_named_lists(
        self,
        data: LineDict,
        key: str,
        names: tuple[str, ...],
        into: dict[str, list[tuple[str, int]]],
    ) -> None:
        block = self.mapping(data.get(key), data.line_of(key), key)
        if block is None:
            return
        for name, value in block.items():
            if name not in names:
                self.error(
                    block.line_of(name),
                    _("Unknown list '{name}' in '{key}'.").format(name=name, key=key)
                    + _did_you_mean(str(name), names),
                    _("The lists in '{key}' are: {names}.").format(key=key, names=", ".join(names)),
                )
                continue
            into[name] = self.texts(value, block.line_of(name), f"{key}.{name}")

    def read_synonyms(self, value: Any, line: int) -> None:
        if value is None:
            return
        if not isinstance(value, LineList):
            self.error(
                line,
                _("'synonyms' must be a list of word lists."),
                _("Write each set on its own line: - [pengen, ingin, mau]"),
            )
            return
        for index, item in enumerate(value):
            item_line = value.line_of(index)
            if not isinstance(item, LineList) or len(item) < 2:
                self.error(
                    item_line,
                    _("A set of synonyms must be a list of at least two words."),
                    _(
                        "Write it as: - [pengen, ingin, mau] (the first word is the one "
                        "you use in phrases)."
                    ),
                )
                continue
            words = [_as_text(w) for w in item]
            if any(not w for w in words):
                self.error(
                    item_line,
                    _("A set of synonyms has an empty or non-text word."),
                    _("Write plain words separated by commas inside [ ]."),
                )
                continue
            self.synonyms.append(([w for w in words if w], item_line))

    def read_abbreviations(self, value: Any, line: int) -> None:
        block = self.mapping(value, line, "abbreviations")
        if block is None:
            return
        for short, meaning in block.items():
            text = _as_text(meaning)
            if not text:
                self.error(
                    block.line_of(short),
                    _("The abbreviation '{short}' has no meaning.").format(short=short),
                    _("Write what it stands for after the colon, e.g. 'pgn: pengen'."),
                )
                continue
            self.abbreviations.append((str(short), text, block.line_of(short)))

    def read_groups(self, value: Any, line: int) -> None:
        block = self.mapping(value, line, "groups")
        if block is None:
            return
        for name, members in block.items():
            name_line = block.line_of(name)
            if not _GROUP_NAME.fullmatch(str(name)):
                self.error(
                    name_line,
                    _("The group name '{name}' is not usable.").format(name=name),
                    _("Use lowercase letters, digits and _ only, e.g. 'orang'."),
                )
                continue
            self.groups[str(name)] = (self.texts(members, name_line, f"groups.{name}"), name_line)


# ------------------------------------------------------------------ compiling


class _Compiler:
    def __init__(self, reader: _Reader):
        self.r = reader
        self.synonym_of: dict[str, str] = {}  # word spec ("x" or "=x") -> id "~head"
        self.abbreviations: dict[str, tuple[str, ...]] = {}
        self.plain: dict[str, str] = {}  # clean plain word -> id
        self.exact: dict[str, str] = {}  # clean exact word -> id
        self.group_members: dict[str, list[str]] = {}  # group -> member ids

    def error(self, line: int, message: str, hint: str = "") -> None:
        self.r.error(line, message, hint)

    # -- words
    def clean_single(self, text: str) -> list[str]:
        words = []
        for clause in split_clauses(prepare(text)):
            for raw in clause:
                words.extend(clean_word(raw))
        return words

    def word_spec(self, token: str, line: int, where: str) -> str | None:
        """One written word of a list (group member, synonym, context) → its spec."""
        exact = token.startswith("=")
        words = self.clean_single(token[1:] if exact else token)
        if len(words) != 1 or " " in token.strip():
            self.error(
                line,
                _("'{word}' in {where} must be a single word.").format(word=token, where=where),
                _(
                    "Write one word per item. For a short form that stands for several words "
                    "(gamau = tidak mau), use 'abbreviations'."
                ),
            )
            return None
        return ("=" if exact else "") + words[0]

    def spec_id(self, spec: str) -> str:
        if spec in self.synonym_of:
            return self.synonym_of[spec]
        if spec.startswith("="):
            self.exact[spec[1:]] = spec
        else:
            self.plain[spec] = spec
        return spec

    def expand(self, word: str) -> tuple[str, ...]:
        return self.abbreviations.get(word, (word,))

    # -- sections
    def compile_synonyms(self) -> None:
        seen: dict[str, int] = {}
        for words, line in self.r.synonyms:
            specs = [self.word_spec(w, line, "synonyms") for w in words]
            if None in specs:
                continue
            head = "~" + specs[0].lstrip("=")
            for spec in specs:
                if spec in seen and seen[spec] != line:
                    self.error(
                        line,
                        _("'{word}' is already in another set of synonyms (line {other}).").format(
                            word=spec, other=seen[spec]
                        ),
                        _(
                            "A word can belong to one set only: merge the two sets or "
                            "remove it from one."
                        ),
                    )
                    continue
                seen[spec] = line
                self.synonym_of[spec] = head
                if spec.startswith("="):
                    self.exact[spec[1:]] = head
                else:
                    self.plain[spec] = head

    def compile_abbreviations(self) -> None:
        for short, meaning, line in self.r.abbreviations:
            keys = self.clean_single(short)
            value = tuple(self.clean_single(meaning))
            if len(keys) != 1:
                self.error(
                    line,
                    _("The abbreviation '{short}' must be a single word.").format(short=short),
                    _("Only one typed word can be expanded, e.g. 'bundir: bunuh diri'."),
                )
                continue
            if not value:
                self.error(
                    line,
                    _("The meaning of '{short}' has no words.").format(short=short),
                    _("Write what it stands for in plain words."),
                )
                continue
            if keys[0] in value:
                continue  # "sh: sh" would loop; it simply means nothing to expand
            self.abbreviations[keys[0]] = value

    def compile_groups(self) -> None:
        for name, (members, group_line) in self.r.groups.items():
            ids = []
            for text, line in members:
                if text.startswith("<"):
                    self.error(
                        line,
                        _("A group cannot contain another group ('{member}').").format(member=text),
                        _("Copy the words of that group here instead."),
                    )
                    continue
                spec = self.word_spec(text, line, f"groups.{name}")
                if spec is not None:
                    ids.append(self.spec_id(spec))
            if not ids and name not in BUILT_IN_GROUPS:
                self.error(
                    group_line,
                    _("The group '{name}' has no words.").format(name=name),
                    _("Add its words as a list, one per line, each starting with '- '."),
                )
            self.group_members[name] = ids

    def _punctuation_error(self, line: int, text: str) -> None:
        self.error(
            line,
            _("The phrase '{text}' contains punctuation.").format(text=text),
            _(
                "Punctuation (, . ! ? : ; quotes, brackets) separates sentences in "
                "messages, so a phrase must not contain any: remove it."
            ),
        )

    def phrase(
        self, text: str, line: int, category: str = "", level: int = 0, gap: int = MAX_GAP
    ) -> Phrase | None:
        if _PHRASE_PUNCTUATION.search(" ".join(t for t in text.split() if t not in GAP_MARKS)):
            self._punctuation_error(line, text)
            return None
        parts, gaps, ends = [], [], []
        for part_text in text.split("+"):
            words = part_text.split()
            ends.append(bool(words) and words[-1] == END_MARK)
            if ends[-1]:
                part_text = " ".join(words[:-1])
            elif END_MARK in words:
                self._punctuation_error(line, text)  # a "$" anywhere else is a stray sign
                return None
            elements: list[str] = []
            part_gaps: list[int] = []
            wide = tight = False
            tokens = []
            for written in part_text.split():  # "bunuh_aku", "aku_<bunuh>": side by side
                pieces = [] if written in GAP_MARKS else _TIGHT_PIECE.findall(written)
                tokens += [(w, k > 0) for k, w in enumerate(pieces)] or [(written, False)]
            for token, tight in tokens:
                if token in GAP_MARKS:
                    if not elements:
                        self.error(
                            line,
                            _("'...' must stand between two words ('{text}').").format(text=text),
                            _("Write it like this: <alat> ... mati"),
                        )
                        return None
                    wide = True
                    continue
                before = len(elements)
                if token.startswith("<") or token.endswith(">"):
                    name = token.strip("<>").lower()
                    if not (token.startswith("<") and token.endswith(">")) or (
                        name not in self.group_members and name not in BUILT_IN_GROUPS
                    ):
                        self.error(
                            line,
                            _("The group '{token}' used in '{text}' does not exist.").format(
                                token=token, text=text
                            )
                            + _did_you_mean(name, list(self.group_members)),
                            _(
                                "Write a group as <name> with a name defined under "
                                "'groups:', e.g. <orang>."
                            ),
                        )
                        return None
                    elements.append("<" + name + ">")
                elif token.startswith("="):
                    words = self.clean_single(token[1:])
                    if len(words) != 1:
                        self.error(
                            line,
                            _("'{word}' after '=' must be one word.").format(word=token),
                            _("Write '=' right before a single word, no space."),
                        )
                        return None
                    elements.append(self.spec_id("=" + words[0]))
                else:
                    for word in self.clean_single(token):
                        elements.extend(self.spec_id(w) for w in self.expand(word))
                added = len(elements) - before
                if added:
                    part_gaps.append(0 if tight else MAX_GAP if wide else gap)
                    part_gaps.extend([0] * (added - 1))  # words of one abbreviation stay together
                    wide = False
            if wide:
                self.error(
                    line,
                    _("'...' must stand between two words ('{text}').").format(text=text),
                    _("Write it like this: <alat> ... mati"),
                )
                return None
            if not elements:
                self.error(
                    line,
                    _("The phrase '{text}' has an empty part.").format(text=text),
                    _("'+' must have words on both sides, e.g. 'pukul + suami'."),
                )
                return None
            parts.append(tuple(elements))
            gaps.append(tuple(part_gaps))
        return Phrase(
            text, line, tuple(parts), tuple(gaps), category, level, tuple(ends) if any(ends) else ()
        )

    def phrases(self, entries: list[tuple[str, int]], gap: int = MAX_GAP) -> list[Phrase]:
        return [p for text, line in entries if (p := self.phrase(text, line, gap=gap))]

    def context_ids(self, name: str) -> frozenset[str]:
        ids = set()
        for text, line in self.r.context[name]:
            spec = self.word_spec(text, line, f"context.{name}")
            if spec:
                ids.add(self.spec_id(spec))
        return frozenset(ids)

    def tables(self) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
        """(plain forms → ids, exact spellings → ids), group names added to their words."""
        plain: dict[str, set[str]] = defaultdict(set)
        exact: dict[str, set[str]] = defaultdict(set)
        for word, word_id in self.plain.items():
            for form in family(word):
                plain[form].add(word_id)
        for word, word_id in self.exact.items():
            exact[word].add(word_id)
        for table in (plain, exact):
            by_id: dict[str, list[str]] = defaultdict(list)
            for form, ids in table.items():
                for word_id in ids:
                    by_id[word_id].append(form)
            for name, members in self.group_members.items():
                for member in members:
                    for form in by_id.get(member, ()):
                        table[form].add("<" + name + ">")
        return (
            {f: frozenset(ids) for f, ids in plain.items()},
            {f: frozenset(ids) for f, ids in exact.items()},
        )

    def check_duplicates(self, crisis: list[Phrase], not_crisis: list[Phrase]) -> None:
        seen: dict[tuple, Phrase] = {}
        for p in crisis:
            key = tuple(sorted(p.parts))
            if key in seen:
                first = seen[key]
                self.r.warn(
                    p.line,
                    _("'{text}' means the same as '{first}' on line {line}.").format(
                        text=p.text, first=first.text, line=first.line
                    ),
                    _("Keep only one of them (the one with the right category and level)."),
                )
            else:
                seen[key] = p
        for p in not_crisis:
            key = tuple(sorted(p.parts))
            if key in seen:
                self.error(
                    p.line,
                    _(
                        "'{text}' is both a crisis phrase (line {line}) and a "
                        "phrase that is not a crisis."
                    ).format(text=p.text, line=seen[key].line),
                    _("Decide which one it is and delete the other line."),
                )


def read_lexicon(path: Path) -> tuple[Lexicon | None, list[Problem]]:
    """Read, check and compile. Returns (lexicon or None when there are errors, problems)."""
    file = str(path)
    if not path.is_file():
        return None, [
            Problem(
                file,
                None,
                _("The crisis lexicon file does not exist."),
                _("Create content/id/crisis/lexicon.yaml (copy it from the project repository)."),
            )
        ]
    data, problems = load_yaml(path)
    if data is None:
        return None, problems or [
            Problem(
                file,
                1,
                _("The lexicon file is empty."),
                _("Restore it from the project repository; it needs at least 'crisis:'."),
            )
        ]
    reader = _Reader(file)
    reader.problems.extend(problems)
    reader.read(data)
    compiler = _Compiler(reader)
    compiler.compile_synonyms()
    compiler.compile_abbreviations()
    compiler.compile_groups()
    level_of = {name: i + 1 for i, name in enumerate(LEVELS)}
    crisis = [
        p
        for text, line, category, level in reader.crisis
        if (p := compiler.phrase(text, line, category, level_of[level]))
    ]
    not_crisis = compiler.phrases(reader.not_crisis, FIXED_GAP)
    cues_anywhere = compiler.phrases(reader.cues["anywhere"])
    cues_after = compiler.phrases(reader.cues["after"])
    info = compiler.phrases(reader.context["info"], FIXED_GAP)
    recovered = compiler.phrases(reader.context["recovered"], FIXED_GAP)
    context = {name: compiler.context_ids(name) for name in CONTEXT_WORDS}
    compiler.check_duplicates(crisis, not_crisis)
    if not crisis and not any(p.severity == "error" for p in reader.problems):
        reader.error(
            1,
            _("The lexicon has no crisis phrases."),
            _("Add phrases under 'crisis:', e.g. suicide: high: - bunuh diri"),
        )
    problems = reader.problems
    if any(p.severity == "error" for p in problems):
        return None, problems
    surfaces, exact = compiler.tables()
    skeletons = _skeletons([*compiler.plain, *compiler.abbreviations])
    lexicon = Lexicon(
        surfaces=surfaces,
        exact=exact,
        abbreviations=compiler.abbreviations,
        crisis=crisis,
        not_crisis=not_crisis,
        cues_anywhere=cues_anywhere,
        cues_after=cues_after,
        info=info,
        context=context,
        recovered=recovered,
        skeletons=skeletons,
        warnings=problems,
    )
    return lexicon, problems


def _skeletons(words: list[str]) -> dict[str, tuple[str, ...]]:
    """Skeletons of 3+ consonants → the plain words and abbreviations that have them."""
    found: dict[str, list[str]] = defaultdict(list)
    for word in words:
        bone = skeleton(word)
        if len(bone) >= 3 and bone != word and word not in found[bone]:
            found[bone].append(word)
    return {bone: tuple(found_words) for bone, found_words in found.items()}


def lint_lexicon(path: Path) -> list[Problem]:
    """Every problem in the lexicon file (errors and warnings); never raises."""
    try:
        return read_lexicon(Path(path))[1]
    except Exception as exc:  # a linter must report, not crash, whatever the file holds
        return [
            Problem(
                str(path),
                None,
                _("The lexicon could not be checked: {err}").format(err=exc),
                _("Please report this to the developers with the file attached."),
            )
        ]


def word_ids(lexicon: Lexicon, word: str) -> frozenset[str]:
    """The ids a clean word stands for: its exact spelling, plus the plain word it is a form
    of, also when it carries -nya/-ku/-mu/-lah (one or two of them)."""
    exact = lexicon.exact.get(word, frozenset())
    surfaces = lexicon.surfaces
    found = surfaces.get(word)
    if found is None:
        for shorter in strip_particle(word):
            found = surfaces.get(shorter)
            if found is None:
                found = next((surfaces[w] for w in strip_particle(shorter) if w in surfaces), None)
            if found is not None:
                break
    return exact | found if found else exact
