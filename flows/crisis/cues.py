"""The second signal: a message caught by what it does, not by a listed phrase.

The lexicon catches what someone says ("pengen mati", "aku dipukul suami"). Many people
in danger say it another way: a date and a decision, a farewell and thanks for
everything, rat poison already in the bag, a passport held by the employer. The cue
scorer reads word classes that editors keep in `content/id/crisis/cues.yaml` (and the
regional files): `means`, `time`, `farewell`, `burden`, `decision` … Each category has
weights per class (`cue_scores`); the classes found in a window of a few sentences add
their weights, each class once, and at the threshold the category fires.

The detector finds the cue words (with the same normaliser, morphology, negation and
context rules as the lexicon) and hands them here as `CueHit`s; this module only adds
up. The verdict names every cue it used, so a cadre or an editor can see why a message
was flagged ("means: <racun>", "prepare: =taruh", "time: malam ini").
"""

from __future__ import annotations

from dataclasses import dataclass

from flows.crisis.lexicon import CueScore

WINDOW = 3  # sentences read together: a disclosure is told in a few sentences


@dataclass(frozen=True)
class CueHit:
    """One cue phrase found in a message."""

    cue: str  # its class ("means")
    text: str  # the phrase as the editor wrote it ("racun tikus")
    sentence: int  # index of its sentence in the message
    position: int  # index of its first word
    words: frozenset[int]  # the positions of its words


@dataclass(frozen=True)
class CueVerdict:
    """The category that fired, its score and the hits that made it (strongest first)."""

    category: str
    score: float
    threshold: float
    hits: tuple[CueHit, ...]

    @property
    def matched(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f"cue {h.cue}: {h.text}" for h in self.hits))


def score(rules: list[CueScore], hits: list[CueHit], sentences: int) -> CueVerdict | None:
    """The strongest category over every window of `WINDOW` sentences, or None.

    Categories are compared by score over threshold; on a tie the order of `rules`
    (as written in cues.yaml) decides."""
    if not hits:
        return None
    best: CueVerdict | None = None
    best_ratio = 0.0
    last_start = max(0, sentences - WINDOW)
    for start in range(last_start + 1):
        window = [h for h in hits if start <= h.sentence < start + WINDOW]
        if not window:
            continue
        for rule in rules:
            verdict = _score_window(rule, window)
            if verdict is None:
                continue
            ratio = verdict.score / rule.threshold
            if ratio > best_ratio:
                best, best_ratio = verdict, ratio
    return best


def _choose(rule: CueScore, window: list[CueHit]) -> dict[str, CueHit]:
    """Each class counts once, and each word for one class only: "cutter" is a blade, not
    also a cut; the heaviest classes choose first (negative ones last), the longest phrase
    of a class first ("racun tikus" before "racun")."""
    weights = rule.weights
    chosen: dict[str, CueHit] = {}
    taken: set[int] = set()
    ranked = sorted(
        (h for h in window if h.cue in weights),
        # the class name and phrase last: a tie must not fall to the order the hits came in
        # (it followed the process's string hashes, so one message fired in some processes)
        key=lambda h: (
            weights[h.cue] < 0,
            -abs(weights[h.cue]),
            -len(h.words),
            h.position,
            h.cue,
            h.text,
        ),
    )
    for hit in ranked:
        if hit.cue in chosen:
            continue
        if taken.isdisjoint(hit.words):
            chosen[hit.cue] = hit
            taken |= hit.words
            continue
        if weights[hit.cue] <= 0:
            continue
        # another phrase shares a word with it (not the same words: those are one reading,
        # and it went to the heavier class) and its class can do with another phrase:
        # "<tuhan> + ngomong" (delusion) leaves "ngomong sendiri" to disorganized when
        # "dipilih" is a delusion too
        rivals = [c for c, h in chosen.items() if not h.words.isdisjoint(hit.words)]
        if len(rivals) != 1 or chosen[rivals[0]].words == hit.words:
            continue
        rival = rivals[0]
        rest = taken - chosen[rival].words
        alternative = next(
            (
                h
                for h in ranked
                if h.cue == rival and rest.isdisjoint(h.words) and h.words.isdisjoint(hit.words)
            ),
            None,
        )
        if alternative is not None:
            chosen[rival], chosen[hit.cue] = alternative, hit
            taken = rest | alternative.words | hit.words
    return chosen


def _score_window(rule: CueScore, window: list[CueHit]) -> CueVerdict | None:
    weights = rule.weights
    chosen = _choose(rule, window)
    if rule.needs and not rule.needs & chosen.keys():
        return None
    total = sum(weights[c] for c in chosen)
    if total < rule.threshold:
        return None
    positive = sorted(
        (h for c, h in chosen.items() if weights[c] > 0),
        key=lambda h: (-weights[h.cue], h.position),
    )
    return CueVerdict(rule.category, total, rule.threshold, tuple(positive))
