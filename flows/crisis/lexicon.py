"""Reading, checking and compiling the crisis material: every file of `content/id/crisis/`.

The files are written by health-promoter editors, so every mistake is reported as a
`Problem` naming the file, the line, what is wrong and how to fix it; nothing here raises
on bad content. All files are read as one set: `lexicon.yaml` (phrases, idioms, context
words), `cues.yaml` (the word classes of the cue scorer and their weights) and one file per
regional language (its words joined to the same synonym sets, groups, context lists and
cue classes). `read_lexicon` turns the set into lookup tables: every affixed spelling of
every word the files use, mapped to the ids of the words it stands for.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from flows.crisis.text import (
    CLITICS,
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
    "embarrassed",
    "hassle",
    "schoolwork",
)
# phrases (words in a row, or "..." gaps)
CONTEXT_PHRASES = (
    "info",
    "recovered",
    "relapse",
    "helper",
    "helper_question",
    "quote",
    "hypothetical",
    "reported",
    "retraction",
    "frame",
)
# everyday words never read as an affixed form of another word (checked, not matched)
COMMON = "common"
CONTEXT_LISTS = (*CONTEXT_WORDS, *CONTEXT_PHRASES, COMMON)
# function words: they take no affixes (a pronoun is never "ku-" + a verb)
CLOSED_CONTEXT = ("self", "negation", "trailing", "purpose", "other_person")
CUE_LISTS = ("anywhere", "after")
TOP_KEYS = (
    "version",
    "language",
    "crisis",
    "not_crisis",
    "urgent_cues",
    "context",
    "cues",
    "cue_scores",
    "synonyms",
    "abbreviations",
    "groups",
)
LANGUAGE_KEYS = ("name", "markers", "not_negation", "fillers", "words", "prefixes", "suffixes")
CUE_SCORE_KEYS = ("threshold", "needs", "weights", "quiets_classifier")
MAIN_FILE = "lexicon.yaml"  # read first; its words win when a regional word means two things
NUMBER_GROUP = "angka"  # built in: any number written in digits belongs to <angka>
MANY_GROUP = "angka_banyak"  # built in: a number of 10 or more written in digits
BUILT_IN_GROUPS = (NUMBER_GROUP, MANY_GROUP)
MAX_GAP = 3  # other words allowed between two words of a phrase, and where "..." is written
FIXED_GAP = 0  # … of an idiom (not_crisis), an info phrase or a cue, unless "..." is written
GAP_MARKS = ("...", "\u2026")
END_MARK = "$"  # "selamat tinggal $": nothing but trailing particles (ya, deh) after it

_GROUP_NAME = re.compile(r"[a-z][a-z0-9_]*")
# the pieces of "a_b" / "aku_<bunuh_berat>": a group name keeps its own underscores
_TIGHT_PIECE = re.compile(r"<[^<>]*>?|[^_<]+")
_PHRASE_PUNCTUATION = re.compile(r"[.,!?;:()\[\]{}\"|/\\\u2026]")


class Loc(NamedTuple):
    """Where an editor wrote something: file and line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{Path(self.file).name}:{self.line}"


@dataclass(frozen=True)
class Phrase:
    """One compiled phrase: `parts` (split at "+") of element ids, in order."""

    text: str
    where: Loc
    parts: tuple[tuple[str, ...], ...]
    gaps: tuple[tuple[int, ...], ...]  # per element: other words allowed before it
    category: str = ""
    level: int = 0  # 1 check, 2 high, 3 urgent; 0 for idioms and cues
    ends: tuple[bool, ...] = ()  # per part: written with a final "$" (ends its clause)
    cue: str = ""  # the cue class of a cue phrase ("means", "time" …)
    through_idioms: bool = False  # a cue written "!hp + mati": it may use an idiom's words

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(e for part in self.parts for e in part)

    @property
    def size(self) -> int:
        return sum(len(part) for part in self.parts)


@dataclass(frozen=True)
class CueScore:
    """How one category is scored from cue classes: the classes present in a window of
    sentences add their weights (each class once); at `threshold` or above it fires, if one
    of the `needs` classes (when given) is among them."""

    category: str
    threshold: float
    weights: dict[str, float]
    needs: frozenset[str]
    # the negative classes that also quiet the classifier's guess of this category when
    # none of `needs` is present (`quiets_classifier: true`): a cut while cooking
    quieting: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Language:
    """A regional language: when a message holds `markers` of it, `not_negation` words
    are read its way (Javanese "tak ombe" is "I drink", not "do not drink") and `fillers`
    may stand between a negation and what it denies (Minang "indak ado niaik ambo")."""

    name: str
    where: Loc
    markers: frozenset[str]  # clean words, as typed (not their synonyms)
    not_negation: frozenset[str]  # clean words
    fillers: frozenset[str] = frozenset()  # clean words: negation fillers in this language
    # its own words (every affixed form → ids): they mean this only in its messages
    # (Minang "kok" = kalau, Bugis "lima" = tangan), so they are not in the shared sets
    words: dict[str, frozenset[str]] = field(default_factory=dict)
    # its affixes, longest first: a word no file knows is read without them (Batak
    # "hubunu" = hu- + bunu, Bugis "natampeleng" = na- + tampeleng)
    prefixes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()


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
    relapse: list[Phrase] = field(default_factory=list)
    helper: list[Phrase] = field(default_factory=list)
    helper_question: list[Phrase] = field(default_factory=list)
    quote: list[Phrase] = field(default_factory=list)
    hypothetical: list[Phrase] = field(default_factory=list)
    reported: list[Phrase] = field(default_factory=list)
    retraction: list[Phrase] = field(default_factory=list)
    frame: list[Phrase] = field(default_factory=list)
    cue_phrases: list[Phrase] = field(default_factory=list)
    cue_scores: list[CueScore] = field(default_factory=list)
    languages: list[Language] = field(default_factory=list)
    # consonant skeleton → the plain words and abbreviations that have it ("bnh" → bunuh)
    skeletons: dict[str, tuple[str, ...]] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    closed: frozenset[str] = frozenset()  # ids of function words (see CLOSED_CONTEXT)
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


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return _(" Did you mean '{word}'?").format(word=close[0]) if close else ""


Entry = tuple[str, Loc]


class _Reader:
    """Walks the parsed YAML of each file, collecting problems and the raw entries with
    their file and line."""

    def __init__(self) -> None:
        self.file = ""
        self.problems: list[Problem] = []
        self.crisis: list[tuple[str, Loc, str, str]] = []  # text, where, category, level
        self.not_crisis: list[Entry] = []
        self.cues: dict[str, list[Entry]] = {k: [] for k in CUE_LISTS}
        self.context: dict[str, list[Entry]] = {k: [] for k in CONTEXT_LISTS}
        self.cue_words: dict[str, list[Entry]] = {}
        self.cue_class_where: dict[str, Loc] = {}
        # category, where, threshold, [(class, weight, where)], needs, quiets_classifier
        self.cue_scores: list[
            tuple[str, Loc, float, list[tuple[str, float, Loc]], list[Entry], bool]
        ] = []
        self.synonyms: list[tuple[list[str], Loc]] = []
        self.abbreviations: list[tuple[str, str, Loc]] = []
        self.groups: dict[str, tuple[list[Entry], Loc]] = {}
        self.languages: list[dict[str, Any]] = []

    def at(self, line: int) -> Loc:
        return Loc(self.file, line)

    def error(self, where: Loc | int | None, message: str, hint: str = "") -> None:
        self._add(where, message, hint, "error")

    def warn(self, where: Loc | int | None, message: str, hint: str = "") -> None:
        self._add(where, message, hint, "warning")

    def _add(self, where: Loc | int | None, message: str, hint: str, severity: str) -> None:
        if isinstance(where, Loc):
            self.problems.append(Problem(where.file, where.line, message, hint, severity))
        else:
            self.problems.append(Problem(self.file, where, message, hint, severity))

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

    def texts(self, value: Any, line: int, where: str) -> list[Entry]:
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
                out.append((text, self.at(item_line)))
        return out

    def read(self, file: str, data: Any, main: bool) -> None:
        self.file = file
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
        if main and "crisis" not in data:
            self.error(
                1,
                _("The section 'crisis:' is missing."),
                _("Add 'crisis:' with the categories and their phrases."),
            )
        self.read_crisis(data.get("crisis"), data.line_of("crisis"))
        self.not_crisis += self.texts(
            data.get("not_crisis"), data.line_of("not_crisis"), "not_crisis"
        )
        self.read_named_lists(data, "urgent_cues", CUE_LISTS, self.cues)
        self.read_named_lists(data, "context", CONTEXT_LISTS, self.context)
        self.read_cue_words(data.get("cues"), data.line_of("cues"))
        self.read_cue_scores(data.get("cue_scores"), data.line_of("cue_scores"))
        self.read_synonyms(data.get("synonyms"), data.line_of("synonyms"))
        self.read_abbreviations(data.get("abbreviations"), data.line_of("abbreviations"))
        self.read_groups(data.get("groups"), data.line_of("groups"))
        self.read_language(data.get("language"), data.line_of("language"))

    def known_category(self, category: Any, line: int) -> bool:
        """True for one of CATEGORIES; otherwise an error that names the nearest."""
        if category in CATEGORIES:
            return True
        self.error(
            line,
            _("Unknown category '{name}'.").format(name=category)
            + _did_you_mean(str(category), CATEGORIES),
            _("The categories are: {names}.").format(names=", ".join(CATEGORIES)),
        )
        return False

    def read_crisis(self, value: Any, line: int) -> None:
        block = self.mapping(value, line, "crisis")
        if block is None:
            return
        for category, levels in block.items():
            cat_line = block.line_of(category)
            if not self.known_category(category, cat_line):
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
                for text, item_where in self.texts(phrases, level_line, where):
                    self.crisis.append((text, item_where, category, level))

    def read_named_lists(
        self,
        data: LineDict,
        key: str,
        names: tuple[str, ...],
        into: dict[str, list[Entry]],
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
            into[name] += self.texts(value, block.line_of(name), f"{key}.{name}")

    def read_cue_words(self, value: Any, line: int) -> None:
        block = self.mapping(value, line, "cues")
        if block is None:
            return
        for name, members in block.items():
            name_line = block.line_of(name)
            if not _GROUP_NAME.fullmatch(str(name)):
                self.error(
                    name_line,
                    _("The cue class name '{name}' is not usable.").format(name=name),
                    _("Use lowercase letters, digits and _ only, e.g. 'means'."),
                )
                continue
            self.cue_class_where.setdefault(str(name), self.at(name_line))
            self.cue_words.setdefault(str(name), [])
            self.cue_words[str(name)] += self.texts(members, name_line, f"cues.{name}")

    def read_cue_scores(self, value: Any, line: int) -> None:
        block = self.mapping(value, line, "cue_scores")
        if block is None:
            return
        for category, rule in block.items():
            cat_line = block.line_of(category)
            if not self.known_category(category, cat_line):
                continue
            where = f"cue_scores.{category}"
            rule_block = self.mapping(rule, cat_line, where)
            if rule_block is None:
                continue
            for key in rule_block:
                if key not in CUE_SCORE_KEYS:
                    self.error(
                        rule_block.line_of(key),
                        _("Unknown entry '{name}' in '{key}'.").format(name=key, key=where)
                        + _did_you_mean(str(key), CUE_SCORE_KEYS),
                        _("The entries are: {names}.").format(names=", ".join(CUE_SCORE_KEYS)),
                    )
            threshold = rule_block.get("threshold")
            if (
                isinstance(threshold, bool)
                or not isinstance(threshold, int | float)
                or threshold <= 0
            ):
                self.error(
                    rule_block.line_of("threshold"),
                    _("'threshold' of '{name}' must be a number above 0.").format(name=category),
                    _("Write e.g. 'threshold: 3'."),
                )
                continue
            weight_block = self.mapping(
                rule_block.get("weights"), rule_block.line_of("weights"), where + ".weights"
            )
            weights = []
            for name, weight in (weight_block or {}).items():
                weight_line = weight_block.line_of(name)
                if isinstance(weight, bool) or not isinstance(weight, int | float):
                    self.error(
                        weight_line,
                        _("The weight of '{name}' must be a number.").format(name=name),
                        _("Write e.g. '{name}: 1.5' (negative numbers lower the score).").format(
                            name=name
                        ),
                    )
                    continue
                weights.append((str(name), float(weight), self.at(weight_line)))
            if not weights:
                self.error(
                    cat_line,
                    _("The cue score of '{name}' has no weights.").format(name=category),
                    _("Write 'weights:' with the cue classes and their weights."),
                )
                continue
            needs = self.texts(
                rule_block.get("needs"), rule_block.line_of("needs"), where + ".needs"
            )
            quiets = rule_block.get("quiets_classifier", False)
            if not isinstance(quiets, bool):
                self.error(
                    rule_block.line_of("quiets_classifier"),
                    _("'quiets_classifier' of '{name}' must be true or false.").format(
                        name=category
                    ),
                    _("Write 'quiets_classifier: true' or leave it out."),
                )
                quiets = False
            self.cue_scores.append(
                (str(category), self.at(cat_line), float(threshold), weights, needs, quiets)
            )

    def read_synonyms(self, value: Any, line: int) -> None:
        self.synonyms += self.word_sets(value, line, "synonyms")

    def word_sets(self, value: Any, line: int, where: str) -> list[tuple[list[str], Loc]]:
        """A list of word lists ([pengen, ingin, mau]), each of at least two words."""
        if value is None:
            return []
        if not isinstance(value, LineList):
            self.error(
                line,
                _("'{where}' must be a list of word lists.").format(where=where),
                _("Write each set on its own line: - [pengen, ingin, mau]"),
            )
            return []
        out = []
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
            out.append(([w for w in words if w], self.at(item_line)))
        return out

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
            self.abbreviations.append((str(short), text, self.at(block.line_of(short))))

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
            texts = self.texts(members, name_line, f"groups.{name}")
            if str(name) in self.groups:  # a regional file adds words to a group
                known, where = self.groups[str(name)]
                self.groups[str(name)] = (known + texts, where)
            else:
                self.groups[str(name)] = (texts, self.at(name_line))

    def read_language(self, value: Any, line: int) -> None:
        if value is None:
            return
        block = self.mapping(value, line, "language")
        if block is None:
            return
        for key in block:
            if key not in LANGUAGE_KEYS:
                self.error(
                    block.line_of(key),
                    _("Unknown entry '{name}' in '{key}'.").format(name=key, key="language")
                    + _did_you_mean(str(key), LANGUAGE_KEYS),
                    _("The entries are: {names}.").format(names=", ".join(LANGUAGE_KEYS)),
                )
        name = _as_text(block.get("name")) or Path(self.file).stem
        markers = self.texts(block.get("markers"), block.line_of("markers"), "language.markers")
        not_negation = self.texts(
            block.get("not_negation"), block.line_of("not_negation"), "language.not_negation"
        )
        fillers = self.texts(block.get("fillers"), block.line_of("fillers"), "language.fillers")
        words = self.word_sets(block.get("words"), block.line_of("words"), "language.words")
        affixes = {
            key: self.texts(block.get(key), block.line_of(key), f"language.{key}")
            for key in ("prefixes", "suffixes")
        }
        self.languages.append(
            {
                "name": name,
                "where": self.at(line),
                "markers": markers,
                "not_negation": not_negation,
                "fillers": fillers,
                "words": words,
                **affixes,
            }
        )


# ------------------------------------------------------------------ compiling


class _Compiler:
    def __init__(self, reader: _Reader):
        self.r = reader
        self.synonym_of: dict[str, str] = {}  # word spec ("x" or "=x") -> its first id "~head"
        self.abbreviations: dict[str, tuple[str, ...]] = {}
        self.abbreviation_where: dict[str, Loc] = {}
        self.plain: dict[str, set[str]] = defaultdict(set)  # clean plain word -> ids
        self.exact: dict[str, set[str]] = defaultdict(set)  # clean exact word -> ids
        self.group_members: dict[str, list[str]] = {}  # group -> member ids

    def error(self, where: Loc, message: str, hint: str = "") -> None:
        self.r.error(where, message, hint)

    # -- words
    def clean_single(self, text: str) -> list[str]:
        words = []
        for clause in split_clauses(prepare(text)):
            for raw in clause:
                words.extend(clean_word(raw))
        return words

    def word_spec(self, token: str, where: Loc, section: str) -> str | None:
        """One written word of a list (group member, synonym, context) → its spec."""
        exact = token.startswith("=")
        words = self.clean_single(token[1:] if exact else token)
        if len(words) != 1 or " " in token.strip():
            self.error(
                where,
                _("'{word}' in {where} must be a single word.").format(word=token, where=section),
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
            self.exact[spec[1:]].add(spec)
        else:
            self.plain[spec].add(spec)
        return spec

    def expand(self, word: str) -> tuple[str, ...]:
        return self.abbreviations.get(word, (word,))

    # -- sections
    def compile_synonyms(self) -> None:
        """Sets of words that mean the same. A set whose first word already belongs to a set
        (written in an earlier file) adds its words to that set: a regional file writes
        [mati, mate, paeh]. A word belongs to one set; a regional word that truly means two
        things is written with "+" in the second set (Bugis "elo" = pengen, Betawi "elo" =
        kamu: [pengen, +elo]) and then matches both."""
        seen: dict[str, Loc] = {}  # spec -> where it was first written
        heads: dict[str, set[str]] = defaultdict(set)  # spec -> the heads of its sets
        for words, where in self.r.synonyms:
            also = [w.startswith("+") for w in words]
            specs = [self.word_spec(w.lstrip("+"), where, "synonyms") for w in words]
            if None in specs:
                continue
            first = specs[0]
            joins = first in seen and seen[first].file != where.file
            head = self.synonym_of[first] if joins else "~" + first.lstrip("=")
            for spec, second_meaning in zip(specs, also, strict=True):
                other = seen.get(spec)
                if (
                    other is not None
                    and other != where
                    and head not in heads[spec]
                    and (other.file == where.file or not second_meaning)
                ):
                    self.error(
                        where,
                        _("'{word}' is already in another set of synonyms ({other}).").format(
                            word=spec, other=other
                        ),
                        _(
                            "A word can belong to one set only: merge the two sets or "
                            "remove it from one. A regional word that truly means both "
                            "is written with '+' here (+{word})."
                        ).format(word=spec.lstrip("=")),
                    )
                    continue
                seen.setdefault(spec, where)
                heads[spec].add(head)
                self.synonym_of.setdefault(spec, head)
                if spec.startswith("="):
                    self.exact[spec[1:]].add(head)
                else:
                    self.plain[spec].add(head)

    def compile_abbreviations(self) -> None:
        for short, meaning, where in self.r.abbreviations:
            keys = self.clean_single(short)
            value = tuple(self.clean_single(meaning))
            if len(keys) != 1:
                self.error(
                    where,
                    _("The abbreviation '{short}' must be a single word.").format(short=short),
                    _("Only one typed word can be expanded, e.g. 'bundir: bunuh diri'."),
                )
                continue
            if not value:
                self.error(
                    where,
                    _("The meaning of '{short}' has no words.").format(short=short),
                    _("Write what it stands for in plain words."),
                )
                continue
            if keys[0] in value:
                continue  # "sh: sh" would loop; it simply means nothing to expand
            known = self.abbreviations.get(keys[0])
            if known is not None and known != value:
                self.error(
                    where,
                    _("The abbreviation '{short}' already means '{meaning}' ({where}).").format(
                        short=short, meaning=" ".join(known), where=self.abbreviation_where[keys[0]]
                    ),
                    _("An abbreviation has one meaning: keep one of the two lines."),
                )
                continue
            self.abbreviations[keys[0]] = value
            self.abbreviation_where.setdefault(keys[0], where)

    def compile_groups(self) -> None:
        for name, (members, group_where) in self.r.groups.items():
            ids = []
            for text, where in members:
                if text.startswith("<"):
                    self.error(
                        where,
                        _("A group cannot contain another group ('{member}').").format(member=text),
                        _("Copy the words of that group here instead."),
                    )
                    continue
                spec = self.word_spec(text, where, f"groups.{name}")
                if spec is not None:
                    ids.append(self.spec_id(spec))
            if not ids and name not in BUILT_IN_GROUPS:
                self.error(
                    group_where,
                    _("The group '{name}' has no words.").format(name=name),
                    _("Add its words as a list, one per line, each starting with '- '."),
                )
            self.group_members[name] = ids

    def _punctuation_error(self, where: Loc, text: str) -> None:
        self.error(
            where,
            _("The phrase '{text}' contains punctuation.").format(text=text),
            _(
                "Punctuation (, . ! ? : ; quotes, brackets) separates sentences in "
                "messages, so a phrase must not contain any: remove it."
            ),
        )

    def phrase(
        self,
        text: str,
        where: Loc,
        category: str = "",
        level: int = 0,
        gap: int = MAX_GAP,
        cue: str = "",
    ) -> Phrase | None:
        if _PHRASE_PUNCTUATION.search(" ".join(t for t in text.split() if t not in GAP_MARKS)):
            self._punctuation_error(where, text)
            return None
        parts, gaps, ends = [], [], []
        for part_text in text.split("+"):
            words = part_text.split()
            ends.append(bool(words) and words[-1] == END_MARK)
            if ends[-1]:
                part_text = " ".join(words[:-1])
            elif END_MARK in words:
                self._punctuation_error(where, text)  # a "$" anywhere else is a stray sign
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
                            where,
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
                            where,
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
                            where,
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
                    where,
                    _("'...' must stand between two words ('{text}').").format(text=text),
                    _("Write it like this: <alat> ... mati"),
                )
                return None
            if not elements:
                self.error(
                    where,
                    _("The phrase '{text}' has an empty part.").format(text=text),
                    _("'+' must have words on both sides, e.g. 'pukul + suami'."),
                )
                return None
            parts.append(tuple(elements))
            gaps.append(tuple(part_gaps))
        return Phrase(
            text,
            where,
            tuple(parts),
            tuple(gaps),
            category,
            level,
            tuple(ends) if any(ends) else (),
            cue,
        )

    def phrases(self, entries: list[Entry], gap: int = MAX_GAP) -> list[Phrase]:
        return [p for text, where in entries if (p := self.phrase(text, where, gap=gap))]

    def context_ids(self, name: str) -> frozenset[str]:
        ids = set()
        for text, where in self.r.context[name]:
            spec = self.word_spec(text, where, f"context.{name}")
            if spec:
                ids.add(self.spec_id(spec))
        return frozenset(ids)

    def cue_phrases(self) -> list[Phrase]:
        """Cue phrases; one written with a leading "!" also matches the words of an idiom
        ("!hp + mati": a phone that is off is no death, but it is someone unreachable)."""
        out = []
        for name, entries in self.r.cue_words.items():
            for text, where in entries:
                through = text.startswith("!")
                phrase = self.phrase(text.lstrip("!").strip(), where, gap=FIXED_GAP, cue=name)
                if phrase is not None:
                    out.append(dataclasses.replace(phrase, through_idioms=through))
        return out

    def cue_scores(self) -> list[CueScore]:
        out = []
        seen: dict[str, Loc] = {}
        classes = self.r.cue_words
        for category, where, threshold, weights, needs, quiets in self.r.cue_scores:
            if category in seen:
                self.error(
                    where,
                    _("The cue score of '{name}' is already written ({where}).").format(
                        name=category, where=seen[category]
                    ),
                    _("Write the weights of a category in one place (cues.yaml)."),
                )
                continue
            seen[category] = where
            known: dict[str, float] = {}
            for name, weight, weight_where in weights:
                if name not in classes:
                    self.error(
                        weight_where,
                        _("The cue class '{name}' does not exist.").format(name=name)
                        + _did_you_mean(name, classes),
                        _("Cue classes are written under 'cues:' (in cues.yaml)."),
                    )
                    continue
                known[name] = weight
            for text, item_where in needs:
                if text not in known:
                    self.error(
                        item_where,
                        _("'{name}' in 'needs' has no weight in '{cat}'.").format(
                            name=text, cat=category
                        ),
                        _("List under 'needs' only classes written under 'weights'."),
                    )
            required = frozenset(text for text, _where in needs if text in known)
            quieting = frozenset(name for name, weight in known.items() if weight < 0)
            if quiets and not quieting:
                self.error(
                    where,
                    _(
                        "'quiets_classifier' of '{name}' needs a class with a negative weight."
                    ).format(name=category),
                    _("Give an ordinary-purpose class a negative weight, or leave it out."),
                )
            out.append(
                CueScore(category, threshold, known, required, quieting if quiets else frozenset())
            )
        return out

    def languages(self, closed: frozenset[str]) -> list[Language]:
        out = []
        for spec in self.r.languages:
            lists = {}
            for key in ("markers", "not_negation", "fillers"):
                lists[key] = frozenset(
                    word.lstrip("=")
                    for text, item_where in spec[key]
                    if (word := self.word_spec(text, item_where, f"language.{key}"))
                )
            affixes = {}
            for key in ("prefixes", "suffixes"):
                found = []
                for text, item_where in spec[key]:
                    if not re.fullmatch(r"[a-z]{1,6}", text):
                        self.error(
                            item_where,
                            _("'{text}' in language.{key} is not an affix.").format(
                                text=text, key=key
                            ),
                            _("Write the affix in lowercase letters only, e.g. 'na' or 'hon'."),
                        )
                        continue
                    found.append(text)
                affixes[key] = tuple(sorted(set(found), key=lambda a: (-len(a), a)))
            out.append(
                Language(
                    spec["name"],
                    spec["where"],
                    lists["markers"],
                    lists["not_negation"],
                    lists["fillers"],
                    self.own_words(spec["words"], closed),
                    affixes["prefixes"],
                    affixes["suffixes"],
                )
            )
        return out

    def own_words(
        self, sets: list[tuple[list[str], Loc]], closed: frozenset[str]
    ) -> dict[str, frozenset[str]]:
        """A language's own words: each set [head, word, ...] gives its words the meaning
        of `head` (a word of the shared sets or any plain word), with its groups, in every
        affixed form, only in messages of that language."""
        groups_of: dict[str, set[str]] = defaultdict(set)
        for name, members in self.group_members.items():
            for member in members:
                groups_of[member].add("<" + name + ">")
        table: dict[str, set[str]] = defaultdict(set)
        for words, where in sets:
            specs = [self.word_spec(w, where, "language.words") for w in words]
            if None in specs:
                continue
            head = specs[0]
            head_id = self.synonym_of.get(head) or self.spec_id(head)
            ids = {head_id} | groups_of.get(head_id, set())
            for spec in specs[1:]:
                word = spec.lstrip("=")
                forms = {word} if spec.startswith("=") or head_id in closed else family(word)
                for form in forms | {word}:
                    table[form].update(ids)
        return frozen_table(table)

    def common_words(self) -> set[str]:
        words = set()
        for text, where in self.r.context[COMMON]:
            spec = self.word_spec(text, where, f"context.{COMMON}")
            if spec:
                words.add(spec.lstrip("="))
        return words

    def tables(
        self, closed: frozenset[str]
    ) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
        """(plain forms → ids, exact spellings → ids), group names added to their words.

        Words of the `closed` ids (pronouns, negations, particles: aku, tidak, ya) take no
        affixes: Sundanese "urang" (aku) must not make "kurang" a pronoun; and no affixed
        form is an everyday word of `context.common` ("masih" is not m- + Balinese "pasih")."""
        plain: dict[str, set[str]] = defaultdict(set)
        exact: dict[str, set[str]] = defaultdict(set)
        common = self.common_words()
        for word, word_ids_ in self.plain.items():
            forms = {word} if word_ids_ & closed else family(word) - common | {word}
            for form in forms:
                plain[form].update(word_ids_)
        for word, word_ids_ in self.exact.items():
            exact[word].update(word_ids_)
        for table in (plain, exact):
            by_id: dict[str, list[str]] = defaultdict(list)
            for form, ids in table.items():
                for word_id in ids:
                    by_id[word_id].append(form)
            for name, members in self.group_members.items():
                for member in members:
                    for form in by_id.get(member, ()):
                        table[form].add("<" + name + ">")
        return frozen_table(plain), frozen_table(exact)

    def check_duplicates(self, crisis: list[Phrase], not_crisis: list[Phrase]) -> None:
        seen: dict[tuple, Phrase] = {}
        for p in crisis:
            key = tuple(sorted(p.parts))
            if key in seen:
                first = seen[key]
                self.r.warn(
                    p.where,
                    _("'{text}' means the same as '{first}' ({where}).").format(
                        text=p.text, first=first.text, where=first.where
                    ),
                    _("Keep only one of them (the one with the right category and level)."),
                )
            else:
                seen[key] = p
        for p in not_crisis:
            key = tuple(sorted(p.parts))
            if key in seen:
                self.error(
                    p.where,
                    _(
                        "'{text}' is both a crisis phrase ({where}) and a "
                        "phrase that is not a crisis."
                    ).format(text=p.text, where=seen[key].where),
                    _("Decide which one it is and delete the other line."),
                )


def frozen_table(table: dict[str, set[str]]) -> dict[str, frozenset[str]]:
    """`table` with frozen id sets, one shared object per distinct set: about 200,000 word
    forms share a few thousand sets, and a frozenset each cost some 50 MB."""
    shared: dict[frozenset[str], frozenset[str]] = {}
    out = {}
    for form, ids in table.items():
        frozen = frozenset(ids)
        out[form] = shared.setdefault(frozen, frozen)
    return out


COPY_WORDS = frozenset({"copy", "salinan", "backup", "bak", "old", "lama", "kopi", "tmp"})


def is_copy(path: Path) -> bool:
    """A copy left beside the material (lexicon_copy.yaml, lexicon (2).yaml, jawa.bak.yaml):
    not read, or every word in it would be there twice; `temanjiwa lint` warns about it."""
    stem = path.name.lower().removesuffix(".yaml")
    if stem != MAIN_FILE.removesuffix(".yaml") and stem.startswith("lexicon"):
        return True
    tokens = [t for t in re.split(r"[^a-z0-9]+", stem) if t]
    return any(t in COPY_WORDS for t in tokens) or any(t.isdigit() for t in tokens[1:])


def crisis_files(path: Path) -> list[Path]:
    """The files of the crisis material that `path` stands for, `lexicon.yaml` first.

    A folder holding `lexicon.yaml` is the crisis folder; a content folder stands for its
    `crisis/` folder; `lexicon.yaml` stands for its whole folder (the material is one
    set); any other file is read alone."""
    path = Path(path)
    if path.is_dir() and not (path / MAIN_FILE).is_file() and (path / "crisis").is_dir():
        path = path / "crisis"
    if path.is_file() and path.name == MAIN_FILE:
        path = path.parent
    if not path.is_dir():
        return [path]
    others = sorted(p for p in path.rglob("*.yaml")
                    if p.is_file() and p.name != MAIN_FILE and not is_copy(p))
    main = path / MAIN_FILE
    return [main, *others]


def read_lexicon(path: Path) -> tuple[Lexicon | None, list[Problem]]:
    """Read, check and compile every file `path` stands for (see `crisis_files`).
    Returns (lexicon or None when there are errors, problems)."""
    files = crisis_files(Path(path))
    main = files[0]
    if not main.is_file():
        return None, [
            Problem(
                str(main),
                None,
                _("The crisis lexicon file does not exist."),
                _("Create content/id/crisis/lexicon.yaml (copy it from the project repository)."),
            )
        ]
    reader = _Reader()
    for file in files:
        data, problems = load_yaml(file)
        reader.problems.extend(problems)
        if data is None:
            if not problems:
                reader.problems.append(
                    Problem(
                        str(file),
                        1,
                        _("The lexicon file is empty."),
                        _("Restore it from the project repository; it needs at least 'crisis:'.")
                        if file == main
                        else _("Write its sections (see the other files), or delete the file."),
                    )
                )
            continue
        reader.read(str(file), data, file == main)
    compiler = _Compiler(reader)
    compiler.compile_synonyms()
    compiler.compile_abbreviations()
    compiler.compile_groups()
    level_of = {name: i + 1 for i, name in enumerate(LEVELS)}
    crisis = [
        p
        for text, where, category, level in reader.crisis
        if (p := compiler.phrase(text, where, category, level_of[level]))
    ]
    not_crisis = compiler.phrases(reader.not_crisis, FIXED_GAP)
    cues_anywhere = compiler.phrases(reader.cues["anywhere"])
    cues_after = compiler.phrases(reader.cues["after"])
    fixed = {name: compiler.phrases(reader.context[name], FIXED_GAP) for name in CONTEXT_PHRASES}
    context = {name: compiler.context_ids(name) for name in CONTEXT_WORDS}
    cue_phrases = compiler.cue_phrases()
    cue_scores = compiler.cue_scores()
    compiler.check_duplicates(crisis, not_crisis)
    if not crisis and not any(p.severity == "error" for p in reader.problems):
        reader.error(
            Loc(str(main), 1),
            _("The lexicon has no crisis phrases."),
            _("Add phrases under 'crisis:', e.g. suicide: high: - bunuh diri"),
        )
    problems = reader.problems
    if any(p.severity == "error" for p in problems):
        return None, problems
    closed = frozenset().union(*(context[name] for name in CLOSED_CONTEXT))
    languages = compiler.languages(closed)
    if any(p.severity == "error" for p in problems):
        return None, problems
    surfaces, exact = compiler.tables(closed)
    skeletons = _skeletons([*compiler.plain, *compiler.abbreviations])
    lexicon = Lexicon(
        surfaces=surfaces,
        exact=exact,
        abbreviations=compiler.abbreviations,
        crisis=crisis,
        not_crisis=not_crisis,
        cues_anywhere=cues_anywhere,
        cues_after=cues_after,
        info=fixed["info"],
        context=context,
        recovered=fixed["recovered"],
        relapse=fixed["relapse"],
        helper=fixed["helper"],
        helper_question=fixed["helper_question"],
        quote=fixed["quote"],
        hypothetical=fixed["hypothetical"],
        reported=fixed["reported"],
        retraction=fixed["retraction"],
        frame=fixed["frame"],
        cue_phrases=cue_phrases,
        cue_scores=cue_scores,
        languages=languages,
        skeletons=skeletons,
        files=tuple(str(f) for f in files),
        closed=closed,
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
    """Every problem in the crisis material `path` stands for (errors and warnings), in
    file and line order; never raises."""
    try:
        problems = read_lexicon(Path(path))[1]
    except Exception as exc:  # a linter must report, not crash, whatever the file holds
        return [
            Problem(
                str(path),
                None,
                _("The lexicon could not be checked: {err}").format(err=exc),
                _("Please report this to the developers with the file attached."),
            )
        ]
    return sorted(problems, key=lambda p: (p.file, p.line or 0))


def word_ids(lexicon: Lexicon, word: str) -> frozenset[str]:
    """The ids a clean word stands for: its exact spelling, plus the plain word it is a form
    of, also when it carries -nya/-ku/-mu/-lah (one or two of them). A word the files list
    as it is ("diriku" in a cue) still also stands for its base ("diri"). A two-letter
    function word is never the base of a longer word ("tanya" is not Madurese "ta" + -nya),
    and no negation takes -ku/-mu ("ngaku", to confess, is not "ngak" + -ku)."""
    exact = lexicon.exact.get(word, frozenset())
    surfaces = lexicon.surfaces
    # the bases that -ku/-mu would leave: "ngaku" → "nga", and "ngak" (letters collapsed)
    clitic_bases = {word[:-2], word[:-1]} if word.endswith(CLITICS) else set()
    negation = lexicon.context.get("negation", frozenset())

    def base_ids(base: str) -> frozenset[str] | None:
        found = surfaces.get(base)
        if found is None:
            return None
        if len(base) < 3 and found & lexicon.closed:
            return None
        return None if base in clitic_bases and found & negation else found

    found = surfaces.get(word)
    if found is not None:
        base = next(
            (f for w in strip_particle(word) if len(w) >= 3 and (f := base_ids(w)) is not None),
            None,
        )
        return exact | found | base if base else exact | found
    for shorter in strip_particle(word):
        found = base_ids(shorter)
        if found is None:
            found = next(
                (f for w in strip_particle(shorter) if (f := base_ids(w)) is not None), None
            )
        if found is not None:
            break
    return exact | found if found else exact
