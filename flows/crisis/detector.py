"""The crisis detector: one free-text message → `Detection` or None.

How a message is read (see `flows/crisis/__init__.py` for the policy in plain words):

1. The text is cut into sentences (at . ! ? ; and line breaks) and clauses (at , : and
   brackets) of clean words; each word is looked up once (cached) and becomes the set of
   lexicon ids it stands for.
2. Idioms (`not_crisis`) are matched first; the words they use are masked, so "mati" in
   "listrik mati" can never be the "mati" of "pengen mati".
3. Crisis phrases are matched in order within a clause, up to `MAX_GAP` other words
   between two of their words (idioms and info phrases: none unless written "...";
   "a_b": none), never across a negation word; the parts of "a + b" lie in one sentence.
   A match is dropped when a negation governs it ("aku tidak ada keinginan untuk mati"),
   or when it is talk about the topic (an `info` phrase such as artikel/pencegahan/tanda
   shortly before it, or right after it, with no "aku/saya" closer).
4. Each match gets a subject: "other" when a person word (temanku, dia, adik) stands just
   before it, "self" otherwise. Suicide and self-harm about someone else become `check`
   unless urgent. Urgency cues (malam ini, sudah siap, …) raise a match one level.
5. The highest level wins; on a tie the most specific category, then the longest phrase.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from flows.crisis.classifier import DEFAULT_WEIGHTS, Classifier, cue_features, features
from flows.crisis.cues import CueHit, score
from flows.crisis.lexicon import (
    LEVELS,
    MANY_GROUP,
    NUMBER_GROUP,
    Language,
    Lexicon,
    Phrase,
    crisis_files,
    lint_lexicon,
    read_lexicon,
    word_ids,
)
from flows.crisis.text import (
    CLITICS,
    clean_word,
    is_subsequence,
    prepare,
    respellings,
    skeleton,
    split_clauses,
    split_clitic,
    split_sentences,
    strip_particle,
)
from flows.i18n import _
from flows.problems import ContentError, Problem

Level = Literal["check", "high", "urgent"]
Subject = Literal["self", "other"]

# When two categories reach the same level, the more specific one names the detection:
# voices commanding self-harm are psychosis; a beating by a husband is abuse.
PRECEDENCE = {"psychosis": 5, "abuse": 4, "violence": 3, "self_harm": 2, "suicide": 1}
# a rampage ("<amuk>") is violence even when an abuse sign matches too; violence told with a
# sign of psychosis (voices, delusions, stopped medication, nights without sleep) is psychosis
_AMOK = "<amuk>"
_INTENT = "<niat>"  # mau, pengen, akan…: a violence sign with it is the resident's own intent
PSYCHOSIS_SIGNS = frozenset({"voice", "delusion", "disorganized", "medication", "sleepless"})
DELUSIONS = frozenset({"voice", "delusion"})  # … in an abuse sign (a relapse may explain pasung)
NEGATION_REACH = 4  # filler words allowed between a negation and the phrase it negates
SUBJECT_REACH = 3  # words before a match searched for who it is about
INFO_REACH_BACK = 6  # words before a match searched for artikel/pencegahan/tanda…
INFO_REACH_AHEAD = 3  # … and after it, in the same clause
WISH_REACH = 2  # words before a sign searched for pengen/mau (a wish of one's own)
_CACHE_LIMIT = 200_000
_EMPTY: frozenset[str] = frozenset()
_NUMBER: frozenset[str] = frozenset({"<" + NUMBER_GROUP + ">"})
_MANY: frozenset[str] = frozenset({"<" + NUMBER_GROUP + ">", "<" + MANY_GROUP + ">"})
PAST_REACH = 12  # words before a match (same sentence) searched for dulu/pernah
PAST_AFTER = 4  # words after a sign, in its clause, where a past word still counts
# kinds of phrases in the detector's one index
(
    _CRISIS,
    _IDIOM,
    _INFO,
    _RECOVERED,
    _QUOTE,
    _HYPOTHETICAL,
    _REPORTED,
    _RETRACTION,
    _FRAMES,
    _CUE,
    _ANYWHERE,
    _AFTER,
    _RELAPSE,
    _HELPER,
    _HELPER_QUESTION,
) = range(15)
_KINDS = 15
_FILLER = frozenset({"<filler>"})  # a language's own negation fillers, in its messages
QUOTE_REACH = 3  # words between a quote frame (liriknya, the song says) and the sign
HYPOTHETICAL_REACH = 10  # words between "kalau ada warga" and the sign, same sentence
LANGUAGE_MARKERS = 2  # marker words that make a message read as a regional language
MODEL_THRESHOLD = 0.93  # probability at which the classifier (signal "model") fires (leaving out
# each untuned batch in turn, bench/crisis_model_eval.py --untuned: 0.9 adds under 1% recall)
# the classifier overrules a phrase reading (`check` or `high`, never `urgent`) of a message of
# at most MODEL_OVERRULES_WORDS words when its probability is below MODEL_OVERRULES: a helper's
# question, a joke, a lesson the phrase rules did not frame. Leaving out a quarter of the
# released blind batches in turn (20 batches, 3,405 crisis messages caught), these bounds set
# aside 21 of the 75 hard negatives flagged and no crisis message; the nearest crisis message
# scored 0.0012, a long disclosure below 0.0001 (hence the length bound). The cue scorer's
# `check` is overruled the same way (25 released batches, each quarter scored by a classifier
# trained without it: 8 more of 91 hard negatives set aside, no crisis message lost)
MODEL_OVERRULES = 0.0005
MODEL_OVERRULES_WORDS = 30
# cue classes that state a decision or an ending ("wis tak putuske", "turu selawase"): a
# message that holds one is never overruled, whatever its other words ("wkwk") weigh
DECIDED_CUES = frozenset({"decision", "finality"})
SIGNALS = ("lexicon", "cues", "model")  # what may decide; `signals` on a detector picks some
SHORT_MESSAGE = 2  # sentences: in a message this short an idiom or a game explains the words
# emoji that laugh or cringe: with a word of shame in a short message, a figure of speech
# ("malu bgt, pengen ngilang aja 🙈"); not a joke for anything else (laughter also masks)
LAUGH_EMOJI = frozenset("😂🤣😆😹🙈🤭😅🫣")
# cue classes that mean a plan, not a figure of speech: an embarrassed or hassled joke with one
# of them is still asked about ("malu bgt wkwk, tali udah siap"). A place, a jump or a time is
# not enough: "macet 2 jam, pengen loncat dari flyover wkwk", "besok presentasi, bunuh aku aja 😂"
PLAN_CUES = frozenset(
    {
        "means",
        "pills",
        "prepare",
        "decision",
        "finality",
        "farewell",
        "bequest",
        "note",
        "will",
        "absence",
        "blade",
        "cut",
        "wound",
    }
)


def _has_plan(hits: Iterable[CueHit]) -> bool:
    """Whether any cue hit is of a plan class (PLAN_CUES)."""
    return any(hit.cue in PLAN_CUES for hit in hits)


@dataclass(frozen=True)
class Detection:
    """What the detector found. `matched` lists the lexicon phrases (never the resident's
    words), strongest first, then any urgency cue. `subject` is "other" when the words are
    about another person (a friend, a child) rather than the resident."""

    level: Level
    category: str
    matched: tuple[str, ...]
    subject: Subject = "self"


@dataclass(frozen=True)
class _Entry:
    phrase: Phrase
    ids: frozenset[str]
    negates: bool  # the phrase itself holds a negation word ("tidak mau hidup lagi")


class _Frame:
    """What frames a message's signs: idioms, topic talk, quotes, hypotheticals, the past
    and over, games, jokes, reported speech (positions of words, or sentence indexes)."""

    __slots__ = (
        "cue_hits",
        "figurative",
        "frames",
        "games",
        "hassled",
        "helper",
        "hypotheticals",
        "jokes",
        "masked",
        "quotes",
        "recovered",
        "relapses",
        "reported",
        "retractions",
        "topics",
    )

    def __init__(self) -> None:
        self.masked: set[int] = set()
        self.topics: list[frozenset[int]] = []
        self.recovered: set[int] = set()
        self.relapses: set[int] = set()  # where "kambuh lagi", "ngelakuin lagi" start
        self.helper = False  # "saya kader … bagaimana saya harus bicara dengan dia?"
        self.quotes: list[tuple[int, int]] = []
        self.hypotheticals: list[tuple[int, int]] = []
        self.reported: set[int] = set()
        self.retractions: list[int] = []  # where "canda", "just kidding" start
        self.frames: list[int] = []  # where "berita", "artikel" end
        self.games: list[int] = []
        self.jokes: list[int] = []
        self.figurative = False  # short, ashamed or hassled, and laughing ("malu bgt wkwk")
        self.hassled = False  # … hassled ("macet 2 jam, pengen mati aja wkwk")
        self.cue_hits: list[CueHit] | None = None  # read once per message (`_own_cues`)


def _without_topics(frame: _Frame, covered: set[int]) -> _Frame:
    """`frame` with no topic phrase that shares a word with `covered` (a copy, when any)."""
    kept = [span for span in frame.topics if span.isdisjoint(covered)]
    if len(kept) == len(frame.topics):
        return frame
    other = copy.copy(frame)
    other.topics = kept
    return other


@dataclass(frozen=True)
class _Match:
    entry: _Entry
    start: int
    sentence_end: int
    subject: Subject
    used: frozenset[int] = frozenset()  # the positions of its words


class _Message:
    """A message as the detector sees it: ids per word, and its sentence/clause bounds."""

    __slots__ = (
        "clause_hi",
        "clause_lo",
        "keys",
        "laughs",
        "light",
        "sentence_lo",
        "sentence_of",
        "sentences",
        "words",
    )

    def __init__(self) -> None:
        self.words: list[str] = []
        self.keys: list[frozenset[str]] = []
        self.light: set[int] = set()  # split-off -ku/-mu: not counted as a word in between
        self.laughs = False  # a laughing or embarrassed emoji (😂 🙈), which words do not keep
        self.sentences: list[list[tuple[int, int]]] = []  # clauses (lo, hi) per sentence
        self.clause_lo: list[int] = []  # per word: where its clause starts
        self.clause_hi: list[int] = []
        self.sentence_lo: list[int] = []
        self.sentence_of: list[int] = []  # per word: the index of its sentence


class CrisisDetector:
    """Detects crisis signs in free text; build it with `load_detector`."""

    def __init__(self, lexicon: Lexicon, model: Classifier | None = None):
        self.lexicon = lexicon
        self.model = model  # the statistical classifier (signal "model"), when trained
        # features never shown as the classifier's reasons: function words
        self._quiet = frozenset("i:" + i for i in lexicon.closed)
        self._cue_rules = {rule.category: rule for rule in lexicon.cue_scores}
        # which signals decide (all three when the classifier's weights are there);
        # bench/crisis_eval.py --signals measures one alone
        self.signals: tuple[str, ...] = SIGNALS
        context = lexicon.context
        self._negation = context["negation"]
        self._fillers = context["negation_fillers"]
        self._purpose = context["purpose"]
        self._self = context["self"]
        self._other = context["other_person"]
        self._persons = self._self | self._other
        self._past = context["past"]
        self._game = context["game"]
        self._reflexives = context["reflexive"]
        self._trailing = context["trailing"]
        self._joke = context["joke"]
        self._embarrassed = context["embarrassed"]
        self._hassle = context["hassle"]
        self._schoolwork = context["schoolwork"]
        common = self._negation | self._fillers | self._self | self._other
        self._crisis = self._index(lexicon.crisis, common)
        self._idioms = self._index(lexicon.not_crisis, common)
        self._info = self._index(lexicon.info, common)
        self._recovered = self._index(lexicon.recovered, common)
        self._relapse = self._index(lexicon.relapse, common)
        self._helper = self._index(lexicon.helper, common)
        self._helper_question = self._index(lexicon.helper_question, common)
        self._cues_anywhere = self._index(lexicon.cues_anywhere, common)
        self._cues_after = self._index(lexicon.cues_after, common)
        self._quote = self._index(lexicon.quote, common)
        self._hypothetical = self._index(lexicon.hypothetical, common)
        self._reported = self._index(lexicon.reported, common)
        self._retraction = self._index(lexicon.retraction, common)
        self._frames = self._index(lexicon.frame, common)
        self._cue_words = self._index(lexicon.cue_phrases, common)
        # one index for every kind of phrase: a message's words are looked up once
        self._index_all: dict[str, list[tuple[int, _Entry]]] = defaultdict(list)
        for kind, index in enumerate(
            (
                self._crisis,
                self._idioms,
                self._info,
                self._recovered,
                self._quote,
                self._hypothetical,
                self._reported,
                self._retraction,
                self._frames,
                self._cue_words,
                self._cues_anywhere,
                self._cues_after,
                self._relapse,
                self._helper,
                self._helper_question,
            )
        ):
            for key, entries in index.items():
                self._index_all[key] += [(kind, entry) for entry in entries]
        self._index_all = dict(self._index_all)
        # every language with markers takes part in choosing the language of a message
        self._languages = [language for language in lexicon.languages if language.markers]
        self._own_cache: dict[tuple[str, str, bool], frozenset[str]] = {}
        self._marker_cache: dict[str, tuple[str, ...]] = {}
        self._fillers = self._fillers | _FILLER
        # the ids a three-letter half of a run-together word may have: aku, aja
        self._short_halves = self._self | word_ids(lexicon, "aja")
        self._wish = word_ids(lexicon, "pengen")
        self._word_cache: dict[str, tuple[str, ...]] = {}
        self._key_cache: dict[str, frozenset[str]] = {}

    # ------------------------------------------------------------------ compile

    def _index(self, phrases: list[Phrase], common: frozenset[str]) -> dict[str, list[_Entry]]:
        """Each phrase filed under its least common word, tried only when all are present."""
        index: dict[str, list[_Entry]] = defaultdict(list)

        def rarity(element: str) -> tuple[int, int, str]:
            kind = 0 if element.startswith("<") else 1 if element in common else 2
            return kind, len(element), element  # the word itself breaks a tie, in any process

        for phrase in phrases:
            ids = phrase.ids
            entry = _Entry(phrase, ids, bool(ids & self._negation))
            index[max(ids, key=rarity)].append(entry)
        return dict(index)

    # ------------------------------------------------------------------ words

    def _keys(self, word: str) -> frozenset[str]:
        found = self._key_cache.get(word)
        if found is None:
            if word.isdigit():
                found = _MANY if len(word) > 1 and int(word) >= 10 else _NUMBER
            else:
                found = word_ids(self.lexicon, word)
            if len(self._key_cache) > _CACHE_LIMIT:
                self._key_cache.clear()
            self._key_cache[word] = found
        return found

    def _words(self, raw: str) -> tuple[str, ...]:
        found = self._word_cache.get(raw)
        if found is None:
            out: list[str] = []
            abbreviations = self.lexicon.abbreviations
            for word in clean_word(raw):
                expansion = abbreviations.get(word)
                if expansion is None and not self._keys(word):
                    expansion = next(
                        (abbreviations[w] for w in strip_particle(word) if w in abbreviations),
                        None,
                    )  # "tmnku" → teman
                if expansion:
                    out.extend(expansion)
                elif not self._keys(word):
                    spelled = next(
                        (
                            w
                            for w in (*respellings(word), self._unvoweled(word))
                            if w and (w in abbreviations or self._keys(w))
                        ),
                        None,
                    )
                    if spelled in abbreviations:  # "b*ndir"
                        out.extend(abbreviations[spelled])
                    elif spelled:  # "b*nuh", "bvnvh"
                        out.extend(self._split_clitic(spelled))
                    else:
                        word = word.replace("*", "")
                        split = self._split_clitic(word)  # an exact "=word" + -ku/-mu
                        if len(split) == 1 and len(word) >= 6:
                            split = self._split_compound(word)
                        out.extend(split)
                else:
                    out.extend(self._split_clitic(word))
            found = tuple(out)
            if len(self._word_cache) > _CACHE_LIMIT:
                self._word_cache.clear()
            self._word_cache[raw] = found
        return found

    def _unvoweled(self, word: str) -> str | None:
        """The lexicon word a vowel-less typing stands for: "bunh" → bunuh, "hdup" → hidup."""
        vowels = len(word) - len(skeleton(word))
        if len(word) < 3 or "*" in word or vowels > 1 or (vowels == 1 and len(word) < 4):
            return None  # a real word ("habis", "serak") is never read as another one
        fits = [
            w
            for w in self.lexicon.skeletons.get(skeleton(word), ())
            if len(w) > len(word) and is_subsequence(word, w)
        ]
        meanings = {self._meaning(w) for w in fits}
        return fits[0] if len(meanings) == 1 else None  # one meaning, or none at all

    def _meaning(self, word: str) -> frozenset[str] | tuple[str, ...]:
        """What a word or abbreviation stands for ("bnuh" and "bunuh" mean the same)."""
        expansion = self.lexicon.abbreviations.get(word)
        if expansion is None:
            return self._keys(word)
        return self._keys(expansion[0]) if len(expansion) == 1 else expansion

    def _split_clitic(self, word: str) -> tuple[str, ...]:
        """'memukulku' → memukul ku; a word the lexicon knows as it is stays whole."""
        if word in self.lexicon.surfaces or word in self.lexicon.exact:
            return (word,)
        for base, clitic in split_clitic(word):
            if self._keys(base):
                return base, clitic
        return (word,)

    def _split_compound(self, word: str) -> tuple[str, ...]:
        """'bunuhdiri' → bunuh diri, 'pengenmati' → pengen mati, 'matiaja' → mati aja;
        otherwise the word. A three-letter half must be a pronoun or "aja" ("timbang" is
        Javanese "than", not "tim bang")."""
        for cut in range(len(word) - 3, 2, -1):
            head, tail = word[:cut], word[cut:]
            short = min(head, tail, key=len)
            if len(short) < 4 and not self._keys(short) & self._short_halves:
                continue
            if self._keys(head) and self._keys(tail):
                return head, tail
        return (word,)

    def word_keys(self, word: str) -> frozenset[str]:
        """The lexicon ids a clean word stands for (cached)."""
        return self._keys(word)

    def tokens(self, text: str) -> list[list[str]]:
        """The clean words the detector sees, clause by clause (for editors and debugging)."""
        return [
            [w for raw in clause for w in self._words(raw)]
            for clause in split_clauses(prepare(text))
        ]

    def reading(self, text: str) -> tuple[list[list[str]], list[frozenset[str]]]:
        """The clean words clause by clause and the ids of each word, as detection reads
        them (a regional message's own words included): the classifier's input."""
        message = self._read(text)
        words = [message.words[lo:hi] for clauses in message.sentences for lo, hi in clauses]
        return words, message.keys

    def _read(self, text: str) -> _Message:
        message = _Message()
        message.laughs = not text.isascii() and any(c in LAUGH_EMOJI for c in text)
        keys = message.keys
        for sentence in split_sentences(prepare(text)):
            sentence_lo = len(keys)
            clauses = []
            for clause in sentence:
                lo = len(keys)
                for raw in clause:
                    words = self._words(raw)
                    for word in words:
                        keys.append(self._keys(word))
                        message.words.append(word)
                    if len(words) > 1 and words[-1] in CLITICS:
                        message.light.add(len(keys) - 1)
                if len(keys) > lo:
                    clauses.append((lo, len(keys)))
                    message.clause_lo.extend([lo] * (len(keys) - lo))
                    message.clause_hi.extend([len(keys)] * (len(keys) - lo))
            if clauses:
                message.sentence_of.extend([len(message.sentences)] * (len(keys) - sentence_lo))
                message.sentences.append(clauses)
                message.sentence_lo.extend([sentence_lo] * (len(keys) - sentence_lo))
        if self._languages:
            self._read_as_language(message)
        return message

    def _read_as_language(self, message: _Message) -> None:
        """In a message written in a regional language (at least two of its marker words,
        and no language with more), its `not_negation` words are not negations (Javanese
        "arep tak ombe" = "I will drink"), its `fillers` may stand between a negation and
        what it denies (Minang "indak ado niaik ambo nak mati"), and its own words and
        affixes are read."""
        typed: set[str] = set()
        for word in message.words:
            typed.update(self._marker_forms(word))
        counts = [len(language.markers & typed) for language in self._languages]
        most = max(counts, default=0)
        if most < LANGUAGE_MARKERS:
            return
        for language, count in zip(self._languages, counts, strict=True):
            if count < most:
                continue  # Balinese "sing" (tidak) is not read as Javanese "sing" (yang)
            for i, word in enumerate(message.words):
                if word in language.not_negation:
                    message.keys[i] = message.keys[i] - self._negation
                if word in language.fillers:
                    message.keys[i] = message.keys[i] | _FILLER
                own = self._own_keys(language, word, message.keys[i])
                if not own:
                    continue
                if word not in language.words:
                    message.keys[i] = message.keys[i] | own  # a stem or an ending it knows
                elif own & self._persons:
                    # a word this language lists as a person is only that person here:
                    # Malay and Betawi "die" is dia, not the English "die"
                    message.keys[i] = own
                else:
                    # a pronoun or negation another language reads into a word this language
                    # lists does not hold here: Minang and Banjar "urang" is orang, not aku
                    foreign = (message.keys[i] & (self._self | self._negation)) - own
                    message.keys[i] = (message.keys[i] - foreign) | own

    def _marker_forms(self, word: str) -> tuple[str, ...]:
        """A typed word as a language marker: itself and without -ku/-nya ("siriku" is
        "siri"), cached."""
        found = self._marker_cache.get(word)
        if found is None:
            found = (word, *strip_particle(word))
            if len(self._marker_cache) > _CACHE_LIMIT:
                self._marker_cache.clear()
            self._marker_cache[word] = found
        return found

    def _own_keys(self, language: Language, word: str, known: frozenset[str]) -> frozenset[str]:
        """What `word` means in `language` besides its shared meaning: its own words (with
        -nya/-ku endings), and, for a word no file knows, the word without the language's
        affixes (Batak "hubunu" → bunu, Banjar "mandangarakan" → dangar)."""
        cache_key = (language.name, word, bool(known))  # stems are tried only for unknown words
        found = self._own_cache.get(cache_key)
        if found is not None:
            return found
        own = language.words
        found = own.get(word) or next(
            (own[w] for w in strip_particle(word) if len(w) >= 3 and w in own), _EMPTY
        )
        if not found and not known and len(word) >= 5:
            for stem in _stems(word, language.prefixes, language.suffixes):
                found = own.get(stem) or self._keys(stem)
                if found and not found & self.lexicon.closed:
                    break  # a pronoun or a negation is never a stem ("nyama" is not ny- + ama)
                found = _EMPTY
        if len(self._own_cache) > _CACHE_LIMIT:
            self._own_cache.clear()
        self._own_cache[cache_key] = found
        return found

    # ------------------------------------------------------------------ detection

    def detect(self, text: str) -> Detection | None:
        message = self._read(text)
        keys = message.keys
        if not keys:
            return None
        present = set().union(*keys)
        found = self._all_candidates(present)
        signals = self.signals
        candidates = found[_CRISIS] if "lexicon" in signals else []
        cue_entries = found[_CUE] if "cues" in signals else []
        if not self._cues_could_fire(cue_entries):
            cue_entries = []
        frame = self._frame(message, found) if candidates or cue_entries else None
        overruled = False  # the classifier set a reading aside: nothing else reads the message
        if candidates:
            verdict = self._lexicon_verdict(candidates, message, found, frame)
            if verdict is not None:
                overruled = self._overruled(verdict, message, found, frame)
                if not overruled:
                    return verdict
        if cue_entries and not overruled:
            verdict = self._cue_verdict(found, message, frame)
            if verdict is not None:
                overruled = self._overruled(verdict, message, found, frame)
                if not overruled:
                    return verdict
        if self.model is not None and "model" in signals and not overruled:
            if frame is None:
                frame = self._frame(message, found)
            model_input = self._model_input(message, found, frame)
            if model_input is not None:
                probability = self.model.probability(model_input)
                if probability >= MODEL_THRESHOLD:
                    return self._model_verdict(message, model_input, probability)
        return None

    def _overruled(
        self, verdict: Detection, message: _Message, found: list[list[_Entry]], frame: _Frame
    ) -> bool:
        """The classifier is all but certain a short message is no crisis, and the phrase
        or cue reading is not `urgent` (a plan, a means, now): "beta guru, mau tanya bagimana
        bantu ana murid yang bilang mau mati", "tali jemuran pegat, dimana meser tali nu
        kuat". Never when a cue states a decision or an ending. A long message is never
        overruled: its disclosure may sit among ordinary words the classifier weighs as a
        whole; nor is one told as past and over: the phrase rules read whether it has come
        back ("biyen aku tau arep nglalu … saiki kok bali maneh"), the classifier weighs the
        past words alone."""
        if (
            self.model is None
            or "model" not in self.signals
            or verdict.level == "urgent"
            or len(message.words) > MODEL_OVERRULES_WORDS
            or frame.recovered
            or any(hit.cue in DECIDED_CUES for hit in self._own_cues(found, message, frame))
        ):
            return False
        features = self._model_features(message, found, frame)
        return self.model.probability(features) < MODEL_OVERRULES

    def _ordinary_purpose(self, category: str, features: list[str]) -> bool:
        """The message names an ordinary purpose for its category (a negative cue class of
        a rule with `quiets_classifier`: cutting onions in the kitchen) and none of the
        category's essential cue classes: the classifier stays quiet."""
        rule = self._cue_rules.get(category)
        if rule is None or not rule.quieting:
            return False
        present = {f[2:] for f in features if f.startswith("q:")}
        return bool(present & rule.quieting) and not present & rule.needs

    def model_probability(
        self, message: _Message, found: list[list[_Entry]], frame: _Frame | None
    ) -> float | None:
        """The classifier's probability of a crisis, or None when the lexicon's reading of
        context forbids it (see `_model_input`)."""
        assert self.model is not None
        if frame is None:
            frame = self._frame(message, found)
        model_input = self._model_input(message, found, frame)
        return None if model_input is None else self.model.probability(model_input)

    def _model_input(
        self, message: _Message, found: list[list[_Entry]], frame: _Frame
    ) -> list[str] | None:
        """The classifier's features of a message, or None when the lexicon's reading of
        context forbids the classifier: a sign the lexicon found negated ("teu hayang
        paeh") or framed (news, a lesson, a quote, a hypothetical, taken back, past and
        over)."""
        if frame.helper:
            return None
        frame_ends = [
            *(max(span) for span in frame.topics),
            *frame.frames,
            *(hi for _lo, hi in (*frame.quotes, *frame.hypotheticals)),
        ]
        if frame_ends and not self._resident_named(
            message, message.clause_hi[max(frame_ends)], len(message.words)
        ):
            # talk about the topic, news, a quote or a hypothetical, unless the resident
            # speaks of themselves after it: "baca berita soal anak terjun, aku juga pengen
            # terjun malam ini"
            return None
        if frame.retractions or (
            frame.recovered and not frame.relapses and any(k & self._past for k in message.keys)
        ):
            return None  # taken back, or told as past and over ("dulu … sekarang sudah")
        if (frame.masked or frame.games) and len(message.sentences) <= SHORT_MESSAGE:
            return None  # a short message whose words an idiom or a game explains
        if frame.figurative and not self._plan(found, message, frame):
            return None  # ashamed or hassled and laughing, with no plan: a figure of speech
        for entry in found[_CRISIS]:
            if next(self._occurrences(entry, message, frame.masked, False), None):
                return None  # the lexicon saw a sign and set it aside (negated, framed)
        return self._model_features(message, found, frame)

    def model_features(self, text: str) -> list[str]:
        """The classifier's features of a message (flows/crisis/classifier.py), as the
        detector reads it: its words and their ids, and the cue classes it holds."""
        message = self._read(text)
        if not message.keys:
            return []
        found = self._all_candidates(set().union(*message.keys))
        return self._model_features(message, found, self._frame(message, found))

    def _model_features(
        self, message: _Message, found: list[list[_Entry]], frame: _Frame
    ) -> list[str]:
        words = [message.words[lo:hi] for clauses in message.sentences for lo, hi in clauses]
        return features(words, message.keys) + cue_features(self._own_cues(found, message, frame))

    def _model_verdict(
        self, message: _Message, features: list[str], probability: float
    ) -> Detection | None:
        """The classifier's verdict on a message's `features` (flows/crisis/classifier.py):
        always `check`; none when the message names an ordinary purpose for the category
        it chose."""
        assert self.model is not None
        verdict = self.model.score(features, self._quiet)
        if self._ordinary_purpose(verdict.category, features):
            return None
        reasons = ", ".join(verdict.reasons) or "-"
        subject = self._message_subject(message)
        matched = (f"model {probability:.2f}: {reasons}",)
        return Detection("check", verdict.category, matched, subject)

    def _message_subject(self, message: _Message) -> Subject:
        """ "self" when the resident writes "aku" anywhere, "other" when only another
        person is named."""
        other = False
        for i, key in enumerate(message.keys):
            if key & self._self and i not in message.light:
                return "self"
            other = other or bool(key & self._other)
        return "other" if other else "self"

    def _all_candidates(self, present: set[str]) -> list[list[_Entry]]:
        """The phrases of every kind whose words are all in the message (one pass), in the
        same order in every process (a set's order follows the string hashes)."""
        found: list[list[_Entry]] = [[] for _kind in range(_KINDS)]
        index = self._index_all
        for key in sorted(present):
            for kind, entry in index.get(key, ()):
                if entry.ids <= present:
                    found[kind].append(entry)
        return found

    def _cues_could_fire(self, entries: list[_Entry]) -> bool:
        """Whether the cue classes present could reach a threshold at all (most ordinary
        messages cannot, and are not searched further)."""
        if not entries:
            return False
        classes = {entry.phrase.cue for entry in entries}
        for rule in self.lexicon.cue_scores:
            if rule.needs and not rule.needs & classes:
                continue
            best = sum(w for c, w in rule.weights.items() if w > 0 and c in classes)
            if best >= rule.threshold:
                return True
        return False

    def _frame(self, message: _Message, found: list[list[_Entry]]) -> _Frame:
        keys = message.keys
        frame = _Frame()
        frame.masked = self._positions(found[_IDIOM], message, set())
        frame.topics = self._spans(found[_INFO], message)
        frame.recovered = self._positions(found[_RECOVERED], message, set(), check=True)
        frame.hypotheticals = [(min(s), max(s)) for s in self._spans(found[_HYPOTHETICAL], message)]
        frame.relapses = {
            min(span)
            for span in self._spans(found[_RELAPSE], message)
            if not self._negated(message, min(span), message.clause_lo[min(span)])
            and not self._hoped_against(message, min(span))
            and not self._supposed(message, frame.hypotheticals, min(span))
        }  # "semoga ga kambuh lagi" hopes, "nek ana wong sing kumat maning" supposes
        # a helper's question, unless it tells of danger now ("… mau gantung diri malam ini")
        frame.helper = bool(
            self._spans(found[_HELPER], message)
            and self._spans(found[_HELPER_QUESTION], message)
            and not self._spans(found[_ANYWHERE] + found[_AFTER], message)
        )
        frame.quotes = [(min(s), max(s)) for s in self._spans(found[_QUOTE], message)]
        frame.reported = {
            message.sentence_of[p] for p in self._positions(found[_REPORTED], message, frame.masked)
        }
        frame.retractions = [
            min(span)
            for span in self._spans(found[_RETRACTION], message)
            if not self._retraction_denied(message, min(span))
        ]
        frame.frames = [max(span) for span in self._spans(found[_FRAMES], message)]
        if any(k & self._game for k in keys):
            frame.games = [i for i, k in enumerate(keys) if k & self._game]
        if any(k & self._joke for k in keys):
            frame.jokes = [i for i, k in enumerate(keys) if k & self._joke]
        if (frame.jokes or message.laughs) and len(message.sentences) <= SHORT_MESSAGE:
            # "malu bgt wkwk", "malu bgt 🙈", "macet parah wkwk"
            frame.hassled = any(k & self._hassle for k in keys)
            frame.figurative = frame.hassled or any(k & self._embarrassed for k in keys)
        return frame

    def _not_own(
        self, message: _Message, frame: _Frame, start: int, end: int, used: set[int]
    ) -> bool:
        """The sign is not the resident's own: a helper's question about someone else, or
        framed (see `_framed`)."""
        return self._asked_by_helper(message, frame, start, used) or self._framed(
            message, frame, start, end, used
        )

    def _asked_by_helper(
        self, message: _Message, frame: _Frame, start: int, used: set[int]
    ) -> bool:
        """A cadre, teacher or relative asking how to help someone else: "beta kader, ada mama
        omong dia mau mati. kermana beta omong deng dia?"."""
        return bool(frame.helper) and self._nearest_person(message, start, used) != "self"

    def _framed(
        self, message: _Message, frame: _Frame, start: int, end: int, used: set[int]
    ) -> bool:
        """The sign is told, not lived: talk about the topic, a news frame, a quote (lyrics, a
        film), a hypothetical ("kalau ada warga bilang …"), past and over, taken back ("…
        wkwk canda"), or a joke reported from someone else ("bunuh aku, kata temenku wkwk")."""
        if frame.topics:
            # an info phrase sharing a word with the sign is not talk about it:
            # "pengen bunuh orang yang ..." is not "orang yang ..."
            topic = {p for span in frame.topics if span.isdisjoint(used) for p in span}
            if topic and self._about_topic(message, topic, start, end, used):
                return True
        sentence_lo = message.sentence_lo[start]
        for lo, hi in frame.quotes:
            if sentence_lo <= lo and hi < start and start - hi <= QUOTE_REACH:
                return True  # "liriknya ku ingin mati saja", "the song says i wanna die"
            if (
                sentence_lo <= lo
                and hi + 1 == message.clause_hi[hi]
                and message.clause_lo[start] == hi + 1
            ):
                return True  # 'lirik "lebih baik ku mati saja" itu lagu siapa': the quoted part
        if frame.games:  # "kms di game biar respawn": the sign is a move in the game
            clause = (message.clause_lo[start], message.clause_hi[end])
            near = [g for g in frame.games if g not in used and -2 <= g - end <= 2]
            if any(clause[0] <= g < clause[1] for g in near):
                return True
        for lo, hi in frame.hypotheticals:
            # the sign may begin with the hypothetical's person: "kalo ada anak dipukul senior";
            # the resident named in a later clause is no longer hypothetical: "kalau ada yang
            # nanya, bilang aja aku udah pergi jauh" (in the same clause it is reported:
            # "kalo ada mama yang bilang 'beta mau mati'")
            if (
                sentence_lo <= lo < start
                and hi < end
                and start - hi <= HYPOTHETICAL_REACH
                and not self._resident_named(message, message.clause_hi[hi], end + 1)
            ):
                return True  # "kalau ada warga bilang mau mati, saya harus ngomong apa?"
        if frame.recovered and self._in_the_past(message, frame, start, end, used):
            return True
        sentence = message.sentence_of[start]
        for at in frame.retractions:  # "aku bunuh diri aja lah wkwk canda"
            if message.sentence_of[at] == sentence and at > end:
                return True
        for at in frame.frames:  # "berita hari ini ada petani di brebes yg bunuh diri"
            if (
                message.sentence_of[at] == sentence
                and at < start
                and not any(message.keys[j] & self._self for j in range(at + 1, start))
            ):
                return True
        return sentence in frame.reported and any(
            message.sentence_of[j] == sentence for j in frame.jokes
        )

    def _resident_named(self, message: _Message, lo: int, hi: int) -> bool:
        """An "aku" of the resident's own among words lo..hi-1 (a possessive -ku is not one)."""
        return any(
            message.keys[j] & self._self and j not in message.light for j in range(lo, hi)
        )

    def _retraction_denied(self, message: _Message, at: int) -> bool:
        """ "bukan bercanda", "gak becanda": a denied retraction means it is meant."""
        return at > 0 and bool(message.keys[at - 1] & self._negation)

    def _lexicon_verdict(
        self,
        candidates: list[_Entry],
        message: _Message,
        found: list[list[_Entry]],
        frame: _Frame | None,
    ) -> Detection | None:
        assert frame is not None
        masked = frame.masked
        matches: list[_Match] = []
        relapse = max(frame.relapses, default=-1)
        plan: bool | None = None  # a plan among the cues: read once, only when needed
        for entry in candidates:
            for combo, sentence_hi in self._occurrences(entry, message, masked, True, relapse):
                start = min(o[0] for o in combo)
                end = max(o[-1] for o in combo)
                used = {p for o in combo for p in o}
                category = entry.phrase.category
                if self._framed(message, frame, start, end, used):
                    continue
                # a helper's question sets a sign aside, but abuse a helper tells is a case to
                # hand on ("sy guru, ada murid sering lebam … sy harus lapor kemana")
                if category != "abuse" and self._asked_by_helper(message, frame, start, used):
                    continue
                if category == "violence" and self._reflexive(message, end):
                    continue  # "pengen bunuh diri" is not violence against someone
                # "malu bgt, pengen mati aja wkwk", "ujian besok, bunuh aku aja 😂"
                if self._figurative(entry.phrase, frame):
                    if plan is None:
                        plan = self._plan(found, message, frame)
                    if not plan:
                        continue
                if (
                    frame.jokes
                    and category in ("violence", "abuse")
                    and any(
                        message.clause_lo[start] <= j < message.clause_hi[end] for j in frame.jokes
                    )
                ):
                    continue  # "kakakku pukul aku pake bantal pas bercanda"
                if (
                    frame.games
                    and category == "violence"
                    and any(message.sentence_lo[start] <= g < sentence_hi for g in frame.games)
                ):
                    continue  # "di game tadi aku bunuh bosnya"
                subject = self._subject(message, start, used)
                matches.append(_Match(entry, start, sentence_hi, subject, frozenset(used)))
                break
        if not matches:
            return None
        cues: list[str] = []
        boost_all = False
        for entry in found[_ANYWHERE]:
            if next(self._occurrences(entry, message, masked, True), None):
                cues.append(entry.phrase.text)
                boost_all = True
        after_cues = [
            (
                entry,
                [
                    (min(o[0] for o in combo), hi)
                    for combo, hi in self._occurrences(entry, message, masked, True)
                ],
            )
            for entry in found[_AFTER]
        ]
        scored = []
        for match in matches:
            phrase = match.entry.phrase
            level = phrase.level
            boosted = boost_all
            for entry, spots in after_cues:
                if any(hi == match.sentence_end and at > match.start for at, hi in spots):
                    boosted = True
                    if entry.phrase.text not in cues:
                        cues.append(entry.phrase.text)
            if boosted:
                level = min(level + 1, len(LEVELS))
            if match.subject == "other" and phrase.category in ("suicide", "self_harm"):
                level = level if level == len(LEVELS) else 1
            scored.append((level, PRECEDENCE.get(phrase.category, 0), phrase.size, match))
        scored.sort(key=lambda s: s[:3], reverse=True)
        level, _precedence, _size, best = scored[0]
        matched = list(dict.fromkeys(s[3].entry.phrase.text for s in scored))
        matched += [c for c in cues if c not in matched]
        category = best.entry.phrase.category
        amok = next((s[3] for s in scored if _AMOK in s[3].entry.ids), None)
        if category == "abuse" and amok is not None:
            # someone on a rampage: violence, whoever is threatened, and about that person
            category, best = "violence", amok
        if category == "abuse":
            revenge = self._revenge([s[3] for s in scored])
            if revenge is not None:
                category, best = "violence", revenge
        if category in ("violence", "abuse"):
            # beside an abuse sign, only in other words ("suamiku mau membunuhku" is no delusion)
            signs = PSYCHOSIS_SIGNS if category == "violence" else DELUSIONS
            own = best.used if category == "abuse" else frozenset()
            if any(
                s[3].entry.phrase.category == "psychosis" and s[3].used.isdisjoint(own)
                for s in scored
            ) or self._psychotic(found[_CUE], message, frame, signs, own):
                category = "psychosis"  # with voices or delusions: psychosis, at the same level
        return Detection(
            level=LEVELS[level - 1],
            category=category,
            matched=tuple(matched),
            subject=best.subject,
        )

    @staticmethod
    def _revenge(matches: list[_Match]) -> _Match | None:
        """Told what was done, the resident means to hurt back ("dorang pukul kita pe ade,
        malam ini torang pigi serang"): a violence sign of intent (mau, akan…) in the
        resident's own voice, in words no abuse sign uses ("suami ngancam mau bunuh aku" is
        the husband's intent)."""
        abuse = [m.used for m in matches if m.entry.phrase.category == "abuse"]
        return next(
            (
                m
                for m in matches
                if m.entry.phrase.category == "violence"
                and m.subject == "self"
                and _INTENT in m.entry.ids
                and all(m.used.isdisjoint(used) for used in abuse)
            ),
            None,
        )

    def _psychotic(
        self,
        entries: list[_Entry],
        message: _Message,
        frame: _Frame,
        signs: frozenset[str],
        besides: frozenset[int],
    ) -> bool:
        """Whether the message tells a sign of psychosis in the resident's own words (voices,
        delusions, talking to oneself, stopped medication, nights without sleep)."""
        for entry in entries:
            if entry.phrase.cue not in signs:
                continue
            masked = set() if entry.phrase.through_idioms else frame.masked
            for combo, _hi in self._occurrences(entry, message, masked, True):
                start = min(o[0] for o in combo)
                end = max(o[-1] for o in combo)
                used = {p for o in combo for p in o}
                if besides.isdisjoint(used) and not self._not_own(message, frame, start, end, used):
                    return True
        return False

    @staticmethod
    def _figurative(phrase: Phrase, frame: _Frame) -> bool:
        """A wish to die or to hurt said ashamed or hassled and laughing, a figure of speech
        unless the message names a plan: any suicide or violence sign when hassled ("macet 2
        jam, bunuh aku aja 😂"), only the mildest suicide signs when ashamed ("malu bgt,
        pengen mati aja wkwk")."""
        if not frame.figurative or phrase.category not in ("suicide", "violence"):
            return False
        return frame.hassled or (phrase.category == "suicide" and phrase.level == 1)

    def _plan(self, found: list[list[_Entry]], message: _Message, frame: _Frame) -> bool:
        """A cue of a plan (means, pills, a farewell, a note…) in the resident's own words."""
        return _has_plan(self._own_cues(found, message, frame))

    def _cue_verdict(
        self, found: list[list[_Entry]], message: _Message, frame: _Frame | None
    ) -> Detection | None:
        """The second signal (see flows/crisis/cues.py): always `check`, the bot asks."""
        assert frame is not None
        hits = self._own_cues(found, message, frame)
        if frame.figurative and not _has_plan(hits):
            return None  # "era pisan, paehan we aing wkwk"
        verdict = score(self.lexicon.cue_scores, hits, len(message.sentences))
        if verdict is None:
            return None
        return Detection(
            level="check",
            category=verdict.category,
            matched=verdict.matched,
            subject=self._window_subject(message, verdict.hits),
        )

    def _own_cues(
        self, found: list[list[_Entry]], message: _Message, frame: _Frame
    ) -> list[CueHit]:
        """The message's cue hits (`_cue_hits`), read once: the cue verdict, the plan of a
        figurative message and the classifier's features all ask for them."""
        if frame.cue_hits is None:
            frame.cue_hits = self._cue_hits(found[_CUE], message, frame) if found[_CUE] else []
        return frame.cue_hits

    def _cue_hits(self, entries: list[_Entry], message: _Message, frame: _Frame) -> list[CueHit]:
        """The cue phrases found in the resident's own words (not negated, not framed). A
        topic phrase inside a cue phrase of several words frames nothing: "ngomong sama
        orang yg gak ada, skrg dia pegang pisau" is no talk about "orang yang …"."""
        found = []
        for entry in entries:
            masked = set() if entry.phrase.through_idioms else frame.masked
            for combo, _hi in self._occurrences(entry, message, masked, True):
                found.append((entry.phrase, combo, {p for o in combo for p in o}))
        covered = {p for _phrase, _combo, used in found if len(used) > 1 for p in used}
        framing = _without_topics(frame, covered)
        hits = []
        for phrase, combo, used in found:
            start = min(o[0] for o in combo)
            end = max(o[-1] for o in combo)
            if self._not_own(message, framing, start, end, used):
                continue
            hits.append(
                CueHit(phrase.cue, phrase.text, message.sentence_of[start], start, frozenset(used))
            )
        return hits

    def _window_subject(self, message: _Message, hits: tuple[CueHit, ...]) -> Subject:
        """ "self" when the resident speaks as "aku" in the cue sentences (a possessive -ku,
        "temanku", does not count), "other" when only another person is named there."""
        first = min(h.sentence for h in hits)
        last = max(h.sentence for h in hits)
        other = False
        for i, key in enumerate(message.keys):
            if first <= message.sentence_of[i] <= last:
                if key & self._self and i not in message.light:
                    return "self"
                other = other or bool(key & self._other)
        return "other" if other else "self"

    def _spans(self, entries: list[_Entry], message: _Message) -> list[frozenset[int]]:
        """The words of each occurrence of `entries` (info, quote, hypothetical phrases)."""
        return [
            frozenset(p for occurrence in combo for p in occurrence)
            for entry in entries
            for combo, _hi in self._occurrences(entry, message, set(), False)
        ]

    def _reflexive(self, message: _Message, end: int) -> bool:
        """The word after a violent verb turns it on oneself (diri, myself, sendiri)."""
        after = end + 1
        return after < message.clause_hi[end] and bool(message.keys[after] & self._reflexives)

    def _positions(
        self, entries: list[_Entry], message: _Message, masked: set[int], check: bool = False
    ) -> set[int]:
        """Every word used by any occurrence of `entries` (idioms, recovery phrases); with
        `check`, not those a negation governs ("belum sembuh")."""
        used: set[int] = set()
        for entry in entries:
            for combo, _hi in self._occurrences(entry, message, masked, check):
                for occurrence in combo:
                    used.update(occurrence)
        return used

    # ------------------------------------------------------------------ matching

    def _occurrences(
        self, entry: _Entry, message: _Message, masked: set[int], check: bool, relapse: int = -1
    ) -> Iterator[tuple[list[tuple[int, ...]], int]]:
        """Where the phrase occurs: (one position tuple per part, end of its sentence).

        Each part lies inside one clause; the parts of "a + b" inside one sentence. With
        `check`, occurrences governed by a negation are skipped, except those before a
        relapse told at `relapse` ("udh 8 bulan ga nyakitin diri … kemarin ngelakuin lagi")."""
        phrase = entry.phrase
        for clauses in message.sentences:
            found = []
            for k, (part, gaps) in enumerate(zip(phrase.parts, phrase.gaps, strict=True)):
                occurrences = []
                ends = bool(phrase.ends) and phrase.ends[k]
                for lo, hi in clauses:
                    for occurrence in self._part(part, gaps, message, lo, hi, masked, entry):
                        if ends and not self._at_end(message, occurrence[-1], hi):
                            continue
                        if (
                            check
                            and not entry.negates
                            and occurrence[-1] >= relapse
                            and self._negated(message, occurrence[0], lo)
                        ):
                            continue
                        occurrences.append(occurrence)
                if not occurrences:
                    break
                found.append(occurrences)
            else:
                sentence_hi = clauses[-1][1]
                if len(found) == 1:
                    for occurrence in found[0]:
                        yield [occurrence], sentence_hi
                else:
                    combo = _combine(found, [], set())
                    if combo:
                        yield combo, sentence_hi

    def _part(
        self,
        part: tuple[str, ...],
        gaps: tuple[int, ...],
        message: _Message,
        lo: int,
        hi: int,
        masked: set[int],
        entry: _Entry,
    ) -> list[tuple[int, ...]]:
        first = part[0]
        keys = message.keys
        out = []
        subject = first in self._self
        for i in range(lo, hi):
            # "temanku cerita soal self harm": a possessive -ku is not the "aku" that
            # starts a phrase ("aku sh"); it still counts later in one ("memukulku")
            if first in keys[i] and i not in masked and not (subject and i in message.light):
                rest = self._extend(part, gaps, 1, i, hi, message, masked, entry.negates)
                if rest is not None:
                    out.append((i, *rest))
        return out

    def _extend(
        self,
        part: tuple[str, ...],
        gaps: tuple[int, ...],
        j: int,
        at: int,
        hi: int,
        message: _Message,
        masked: set[int],
        negates: bool,
    ) -> tuple[int, ...] | None:
        """Positions of part[j:], element j within gaps[j] words after position `at`."""
        if j == len(part):
            return ()
        element = part[j]
        keys = message.keys
        budget = gaps[j]
        for q in range(at + 1, hi):
            # "pengen ga mati" is not "pengen mati"; a negation that governs other words
            # does not stop the phrase ("majikan tidak bayar gaji dan memukul saya")
            if (
                element in keys[q]
                and q not in masked
                and (negates or not self._negated(message, q, at + 1))
                # "nyubit pipi ponakanku": a possessive -ku after another word is not "aku"
                and not (q in message.light and q > at + 1 and element in self._self)
            ):
                rest = self._extend(part, gaps, j + 1, q, hi, message, masked, negates)
                if rest is not None:
                    return (q, *rest)
            if q not in message.light:
                budget -= 1
                if budget < 0:
                    return None
        return None

    def _at_end(self, message: _Message, last: int, hi: int) -> bool:
        """Only clitics and trailing particles (ya, deh, semua) after `last` in its clause."""
        return all(
            q in message.light or message.keys[q] & self._trailing for q in range(last + 1, hi)
        )

    def _negated(self, message: _Message, start: int, lo: int) -> bool:
        """A negation word just before, perhaps over fillers ("tidak ada keinginan untuk");
        a split-off -ku/-mu is part of its word ("ndada niatku mau mati")."""
        keys = message.keys
        j, steps = start - 1, 0
        while j >= lo and steps <= NEGATION_REACH:
            here = keys[j]
            if here & self._negation:
                # "biar ga kepikiran bunuh diri" asks for help, it does not deny
                return not (j - 1 >= lo and keys[j - 1] & self._purpose)
            if not here & self._fillers and j not in message.light:
                return False
            j -= 1
            steps += 1 if j + 1 not in message.light else 0
        return False

    @staticmethod
    def _supposed(message: _Message, hypotheticals: list[tuple[int, int]], at: int) -> bool:
        """The word at `at` follows a hypothetical in its sentence ("kalau ada yang kambuh
        lagi, lapor ke mana?"): supposed, not told."""
        sentence = message.sentence_of[at]
        return any(
            message.sentence_of[lo] == sentence and hi < at and at - hi <= HYPOTHETICAL_REACH
            for lo, hi in hypotheticals
        )

    def _hoped_against(self, message: _Message, at: int) -> bool:
        """ "biar gak kambuh", "supaya tidak kambuh lagi": a negation after a word of purpose
        hopes against what follows (`_negated` reads it as asking, not denying)."""
        keys, lo = message.keys, message.clause_lo[at]
        return at - 2 >= lo and bool(keys[at - 1] & self._negation and keys[at - 2] & self._purpose)

    def _about_topic(
        self, message: _Message, topic: set[int], start: int, end: int, used: set[int]
    ) -> bool:
        """Talk about the topic (article, prevention, signs), not about the resident.

        An info phrase shortly before the sign in the same sentence, or right after it in
        the same clause, with no "aku/saya" closer to the sign (one that owns a piece of
        schoolwork, "skripsi aku", "tugasku", does not count); for a wish of one's own
        ("pengen mati"), only in its own clause."""
        keys = message.keys
        if any(keys[p] & self._self and not self._owns_schoolwork(message, p) for p in used):
            return False
        if any(p in topic for p in range(start, end + 1) if p not in used):
            return True  # "cara mencegah bunuh diri"
        # a wish of one's own is not the topic of an earlier clause: "tugas sekolah numpuk,
        # rasanya pengen bunuh diri"
        wish = self._opens_with_wish(message, start)
        for j in range(
            start - 1, max(start - 1 - INFO_REACH_BACK, message.sentence_lo[start] - 1), -1
        ):
            if wish and j < message.clause_lo[start]:
                return False
            if j in topic:
                return True
            if keys[j] & self._self and not self._owns_schoolwork(message, j):
                return False  # "skripsi aku tentang pasung": a possessive, not the subject
        for j in range(end + 1, min(end + 1 + INFO_REACH_AHEAD, message.clause_hi[end])):
            if j in topic:
                return True
            if keys[j] & self._self:
                return False
        return False

    def _opens_with_wish(self, message: _Message, start: int) -> bool:
        """The sign is a wish ("pengen/mau …" in it or just before it) in a clause that names
        no one else: a wish of the writer's own."""
        keys = message.keys
        if any(keys[j] & self._other for j in range(message.clause_lo[start], start)):
            return False
        for j in range(max(message.clause_lo[start], start - WISH_REACH), start + 1):
            if keys[j] & self._wish:
                return True
        return False

    def _owns_schoolwork(self, message: _Message, at: int) -> bool:
        """The "aku" at `at` owns a piece of schoolwork named just before it ("skripsi aku",
        "topik aku self-harm"): the topic's owner, not the sign's subject."""
        return at > 0 and bool(message.keys[at - 1] & self._schoolwork)

    def _in_the_past(
        self, message: _Message, frame: _Frame, start: int, end: int, used: set[int]
    ) -> bool:
        """Told as the past and over now: "dulu aku pernah pengen bunuh diri, tapi sekarang
        udah jauh lebih baik". A past word (dulu, pernah) shortly before the sign in its
        sentence ("3 tahun lalu, aku …") or inside it, and a recovery phrase (sekarang sudah,
        sudah sembuh) after it, with no relapse after that ("… udh sembuh 2 tahun, tapi
        sekarang kambuh lagi")."""
        after = [p for p in frame.recovered if p > start and p not in used]
        if not after:
            return False
        if any(p > min(after) and p not in used for p in frame.relapses):
            return False
        keys = message.keys
        lo = message.sentence_lo[start]
        if any(
            keys[j] & self._past for j in range(max(lo, start - PAST_REACH), end) if j not in used
        ):
            return True
        # … or a time ago just after it in its clause: "dipasung 5 tahun lalu, sekarang sudah
        # dilepas" (a number before it: "aku pergi dulu" is leaving first, not the past)
        hi = min(message.clause_hi[end], end + 1 + PAST_AFTER)
        return any(
            keys[j] & self._past and any(keys[k] & _NUMBER for k in range(max(end + 1, j - 2), j))
            for j in range(end + 1, hi)
        )

    def _subject(self, message: _Message, start: int, used: set[int]) -> Subject:
        """Who the sign is about: the nearest person named before it, else the resident."""
        return self._nearest_person(message, start, used) or "self"

    def _nearest_person(self, message: _Message, start: int, used: set[int]) -> Subject | None:
        """The person in the sign or shortly before it in its clause, or None when no one is
        named there (a helper's question then sets the sign aside: "ada mama omong dia mau
        mati")."""
        keys = message.keys
        if any(keys[p] & self._self for p in used):
            return "self"
        lo = message.clause_lo[start]
        for j in range(start - 1, max(start - 1 - SUBJECT_REACH, lo - 1), -1):
            if keys[j] & self._self:
                # "temen gw", "kakak saya": a person of mine is the subject
                return "other" if j - 1 >= lo and keys[j - 1] & self._other else "self"
            if keys[j] & self._other:
                return "other"
        return None


def _stems(word: str, prefixes: tuple[str, ...], suffixes: tuple[str, ...]) -> Iterator[str]:
    """`word` without one prefix, one suffix, or both (longest affixes first); every stem
    keeps at least three letters."""
    heads = [word[len(p) :] for p in prefixes if word.startswith(p) and len(word) - len(p) >= 3]
    for stem in heads:
        yield stem
    for s in suffixes:
        if word.endswith(s) and len(word) - len(s) >= 3:
            yield word[: -len(s)]
    for stem in heads:
        for s in suffixes:
            if stem.endswith(s) and len(stem) - len(s) >= 3:
                yield stem[: -len(s)]


def _combine(
    found: list[list[tuple[int, ...]]], chosen: list[tuple[int, ...]], used: set[int]
) -> list[tuple[int, ...]] | None:
    """One occurrence per part of a "a + b" phrase, none sharing a word."""
    if len(chosen) == len(found):
        return chosen
    for occurrence in found[len(chosen)]:
        if used.isdisjoint(occurrence):
            result = _combine(found, [*chosen, occurrence], used | set(occurrence))
            if result:
                return result
    return None


def read_crisis(path: Path) -> tuple[CrisisDetector | None, list[Problem]]:
    """The detector for the crisis material at `path` (lexicon, regional files, cues and the
    classifier's weights beside them), or None, and every problem found; never raises for
    what the files contain. `path` as for `load_detector`.

    Compiling takes over a second; material whose files hold the same bytes as one compiled
    before in this process is not compiled again (a reload after an edit elsewhere, several
    bots in one process). Each call still gets a detector of its own."""
    files = crisis_files(Path(path))
    weights = files[0].parent / "model" / DEFAULT_WEIGHTS.name
    key = _material_key([*files, weights])
    compiled = _COMPILED.pop(key, None)
    if compiled is None:
        lexicon, problems = read_lexicon(Path(path))
        model = Classifier.load(weights) if lexicon is not None else None
        compiled = (lexicon, tuple(problems), model)
    _COMPILED[key] = compiled  # the most recently used last
    while len(_COMPILED) > _COMPILED_KEEP:
        del _COMPILED[next(iter(_COMPILED))]
    lexicon, problems, model = compiled
    if lexicon is None:
        return None, list(problems)
    return CrisisDetector(lexicon, model), list(problems)


_COMPILED: dict[tuple[tuple[str, bytes | None], ...], tuple[
    Lexicon | None, tuple[Problem, ...], Classifier | None]] = {}
_COMPILED_KEEP = 4  # sets of crisis material kept compiled (live, last good, a studio copy)


def _material_key(files: list[Path]) -> tuple[tuple[str, bytes | None], ...]:
    """Each file's full path and a digest of its bytes (None when it cannot be read)."""
    key = []
    for file in files:
        try:
            digest: bytes | None = hashlib.blake2b(file.read_bytes()).digest()
        except OSError:
            digest = None
        key.append((str(file.resolve()), digest))
    return tuple(key)


def load_detector(path: Path) -> CrisisDetector:
    """Load and check the crisis material; raises `ContentError` listing every error found
    (each with its file and line).

    `path` is the crisis folder (content/id/crisis), a content folder (its crisis/ is
    read), or `lexicon.yaml` (which stands for its whole folder); any other single file
    is read alone (an editor's experiment, a test)."""
    detector, problems = read_crisis(Path(path))
    if detector is None:
        raise ContentError([p for p in problems if p.severity == "error"])
    return detector


def load_crisis(content_dir: Path) -> CrisisDetector:
    """The detector of a content folder: every file under `content_dir/crisis/`, checked
    together; raises `ContentError` (file and line per problem), so the caller can keep
    serving the last good content and detector together."""
    folder = Path(content_dir) / "crisis"
    if not folder.is_dir():
        raise ContentError(
            [
                Problem(
                    str(folder),
                    None,
                    _("The crisis folder does not exist."),
                    _("Create content/id/crisis/ with lexicon.yaml (copy it from the project)."),
                )
            ]
        )
    return load_detector(folder)


def lint_crisis(content_dir: Path) -> list[Problem]:
    """Every problem in `content_dir/crisis/` (errors and warnings), file and line order;
    nothing when the content folder has no crisis folder."""
    folder = Path(content_dir) / "crisis"
    return lint_lexicon(folder) if folder.is_dir() else []


def check_lines(detector: CrisisDetector, lines: Iterable[str]) -> Iterator[dict]:
    """One result per message: {text, crisis, level, category, matched}."""
    for line in lines:
        text = line.rstrip("\r\n")
        found = detector.detect(text)
        yield {
            "text": text,
            "crisis": found is not None,
            "level": found.level if found else None,
            "category": found.category if found else None,
            "matched": list(found.matched) if found else [],
        }


def dumps(result: dict) -> str:
    """A `check_lines` result as one JSON line (UTF-8 text kept readable)."""
    return json.dumps(result, ensure_ascii=False)
