"""A small statistical classifier over the detector's own reading of a message.

Features are what the detector sees: each clean word, the lexicon ids it stands for
(synonym sets and groups, so Javanese "pejah" and Indonesian "mati" are one feature
"~mati"), word pairs, and letter 4-grams (for typos and words no file lists). A logistic
regression is trained on the labelled batches shipped in tests/data (label 1 against 0 and
H) by one deterministic command, offline:

    python -m flows.crisis.train [--out content/id/crisis/model/weights.tsv]
    python -m flows.crisis.train --explain "aku udah siapin semuanya"

One head answers "is this a crisis", one per category "which one". The weights file is
plain text (head, feature, weight), written in a fixed order, so a retrain on the same data
gives the same file. A verdict lists the words and lexicon ids that weighed most, so it is
explainable like a lexicon match. The features are the lexicon's ids: after a big lexicon
change, retrain.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_WEIGHTS = ROOT / "content" / "id" / "crisis" / "model" / "weights.tsv"
TRAINING_DATA = ROOT / "tests" / "data"
BIAS = "<bias>"
EPOCHS = 30
RATE = 0.2
L2 = 1e-4
KEEP = 0.02  # weights smaller than this are left out of the file


CRISIS_HEAD = "crisis"  # crisis (label 1) against ordinary and hard-negative messages


@dataclass(frozen=True)
class ModelVerdict:
    probability: float  # of a crisis
    category: str  # the most likely category, from the per-category heads
    reasons: tuple[str, ...]  # the words and lexicon ids that pushed most towards "crisis"


class Classifier:
    """Logistic regressions over sparse binary features: one head for "is this a crisis",
    one per category ("which one, given it is")."""

    def __init__(self, heads: dict[str, dict[str, float]]):
        self.heads = heads

    @classmethod
    def load(cls, path: Path = DEFAULT_WEIGHTS) -> Classifier | None:
        """The weights at `path`, or None when there are none (or they are unreadable:
        the classifier is then off, the lexicon and the cue scorer still run)."""
        if not path.is_file():
            return None
        heads: dict[str, dict[str, float]] = {}
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("#") or not line.strip():
                    continue
                fields = line.rstrip("\n").split("\t")
                try:
                    head, feature, value = fields
                    heads.setdefault(head, {})[feature] = float(value)
                except ValueError:
                    return None  # not a weights file of this version: retrain
        return cls(heads) if CRISIS_HEAD in heads else None

    def probability(self, found: Iterable[str]) -> float:
        """The probability of a crisis alone (the category heads are read only for a verdict)."""
        weights = self.heads.get(CRISIS_HEAD, {})
        return _sigmoid(weights.get(BIAS, 0.0) + _total(weights, set(found)))

    def score(self, found: Iterable[str], quiet: frozenset[str] = frozenset()) -> ModelVerdict:
        """`quiet`: feature names never given as a reason (function words)."""
        unique = set(found)
        weights = self.heads.get(CRISIS_HEAD, {})
        total = weights.get(BIAS, 0.0) + _total(weights, unique)
        contributions = []
        for feature in unique:
            weight = weights.get(feature, 0.0)
            if weight > 0 and feature[:2] in ("w:", "i:", "b:", "q:") and feature not in quiet:
                contributions.append((weight, feature))
        contributions.sort(reverse=True)
        reasons = tuple(
            ("cue " if f.startswith("q:") else "") + f.split(":", 1)[1]
            for _w, f in contributions[:4]
        )
        category, best = "suicide", -math.inf
        for head, head_weights in sorted(self.heads.items()):
            if head == CRISIS_HEAD:
                continue
            z = head_weights.get(BIAS, 0.0) + _total(head_weights, unique)
            if z > best:
                category, best = head, z
        return ModelVerdict(_sigmoid(total), category, reasons)


def _total(weights: dict[str, float], found: set[str] | frozenset[str]) -> float:
    """The features' summed weights, exactly rounded: a set's order follows the process's
    string hashes, and a plain sum in that order moved a message at the threshold from one
    process to the next."""
    return math.fsum(weights.get(f, 0.0) for f in found)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def features(words: list[list[str]], ids: list[frozenset[str]]) -> list[str]:
    """Features of a message: `words` clause by clause, `ids` per word (same order)."""
    out = []
    flat = [w for clause in words for w in clause]
    for word, word_ids in zip(flat, ids, strict=False):
        out.append("w:" + word)
        out.extend("i:" + i for i in word_ids)
        padded = f"#{word}#"
        out.extend("c:" + padded[k : k + 4] for k in range(max(1, len(padded) - 3)))
    for clause in words:
        out.extend(f"b:{a}_{b}" for a, b in itertools.pairwise(clause))
    return out


def cue_features(hits: Iterable[_Hit]) -> list[str]:
    """The cue classes a message holds ("q:farewell", "q:time"): word classes that reach
    across phrasings and languages where single words do not."""
    return sorted({"q:" + hit.cue for hit in hits})


class _Hit(Protocol):
    cue: str


def train(samples: list[tuple[list[str], int]]) -> dict[str, float]:
    """Deterministic SGD: samples in the given order, learning rate decaying per epoch."""
    weights: dict[str, float] = {}
    # each sample's features once, sorted: a plain sum in a fixed order is as independent
    # of the process as math.fsum over a set, and cheaper over 30 epochs
    prepared = [(sorted(set(feats) | {BIAS}), label) for feats, label in samples]
    for epoch in range(EPOCHS):
        rate = RATE / (1 + epoch)
        for unique, label in prepared:
            z = sum(weights.get(f, 0.0) for f in unique)
            gradient = _sigmoid(z) - label
            for f in unique:
                w = weights.get(f, 0.0)
                weights[f] = w - rate * (gradient + L2 * w)
    return {f: w for f, w in weights.items() if abs(w) >= KEEP or f == BIAS}


def read_labelled(paths: list[Path]) -> list[tuple[str, str, str]]:
    """(label, category, text) of every labelled row."""
    rows = []
    for path in paths:
        with path.open(encoding="utf-8", newline="") as handle:
            for record in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                if not record or record[0].startswith("#") or record[0] == "label":
                    continue
                if len(record) >= 3 and record[0] in ("1", "0", "H"):
                    rows.append((record[0], record[1].strip(), record[2]))
    return rows


def train_heads(
    rows: list[tuple[str, str, list[str]]], categories: Iterable[str]
) -> dict[str, dict[str, float]]:
    """The crisis head on every row, one head per category on the crisis rows; `rows` are
    (label, category, features) in a fixed order."""
    heads = {CRISIS_HEAD: train([(f, 1 if label == "1" else 0) for label, _c, f in rows])}
    # which category is told by words and lexicon ids; letter 4-grams only decide "crisis?"
    crisis = [(c, [x for x in f if not x.startswith("c:")]) for label, c, f in rows if label == "1"]
    for category in categories:
        heads[category] = train([(f, 1 if c == category else 0) for c, f in crisis])
    return heads


def message_features(detector: _Reader, text: str) -> list[str]:
    return detector.model_features(text)


class _Reader(Protocol):
    """What the classifier needs of the detector: its reading of a message."""

    def model_features(self, text: str) -> list[str]: ...


def write_weights(heads: dict[str, dict[str, float]], path: Path, sources: list[Path]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        handle.write("# Teman Jiwa crisis classifier weights (python -m flows.crisis.train)\n")
        handle.write("# trained on: " + ", ".join(p.name for p in sources) + "\n")
        handle.write("# head<TAB>feature<TAB>weight\n")
        for head in sorted(heads):
            for feature in sorted(heads[head]):
                handle.write(f"{head}\t{feature}\t{heads[head][feature]:.4f}\n")


def hash_text(text: str) -> int:
    """A stable order for training (Python's hash() changes between runs)."""
    value = 2166136261
    for byte in text.encode("utf-8"):
        value = ((value ^ byte) * 16777619) & 0xFFFFFFFF
    return value
