"""A small statistical classifier over the detector's own reading of a message.

Features are what the detector sees: each clean word, the lexicon ids it stands for
(synonym sets and groups, so Javanese "pejah" and Indonesian "mati" are one feature
"~mati"), word pairs, and letter 4-grams (for typos and words no file lists). A logistic
regression is trained on the labelled batches shipped in tests/data (label 1 against 0 and
H) by one deterministic command, offline:

    python -m flows.crisis.train [--out content/id/crisis/model/weights.tsv]
    python -m flows.crisis.train --explain "aku udah siapin semuanya"

The weights file is plain text (feature, weight), written in a fixed order, so a retrain on
the same data gives the same file. A verdict lists the features that weighed most, so it is
explainable like a lexicon match.
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


@dataclass(frozen=True)
class ModelVerdict:
    probability: float
    reasons: tuple[str, ...]  # the features that pushed most towards "crisis"


class Classifier:
    """Logistic regression over sparse binary features."""

    def __init__(self, weights: dict[str, float]):
        self.weights = weights

    @classmethod
    def load(cls, path: Path = DEFAULT_WEIGHTS) -> Classifier | None:
        if not path.is_file():
            return None
        weights: dict[str, float] = {}
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("#") or not line.strip():
                    continue
                feature, _, value = line.rstrip("\n").rpartition("\t")
                weights[feature] = float(value)
        return cls(weights)

    def score(self, found: Iterable[str]) -> ModelVerdict:
        weights = self.weights
        total = weights.get(BIAS, 0.0)
        contributions = []
        for feature in set(found):
            weight = weights.get(feature)
            if weight:
                total += weight
                contributions.append((weight, feature))
        contributions.sort(reverse=True)
        reasons = tuple(f for w, f in contributions[:4] if w > 0)
        return ModelVerdict(1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, total)))), reasons)


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


def train(samples: list[tuple[list[str], int]]) -> dict[str, float]:
    """Deterministic SGD: samples in the given order, learning rate decaying per epoch."""
    weights: dict[str, float] = {}
    for epoch in range(EPOCHS):
        rate = RATE / (1 + epoch)
        for feats, label in samples:
            unique = set(feats) | {BIAS}
            z = sum(weights.get(f, 0.0) for f in unique)
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            gradient = p - label
            for f in sorted(unique):
                w = weights.get(f, 0.0)
                weights[f] = w - rate * (gradient + L2 * w)
    return {f: w for f, w in weights.items() if abs(w) >= KEEP or f == BIAS}


def read_labelled(paths: list[Path]) -> list[tuple[str, int]]:
    rows = []
    for path in paths:
        with path.open(encoding="utf-8", newline="") as handle:
            for record in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                if not record or record[0].startswith("#") or record[0] == "label":
                    continue
                if len(record) >= 3 and record[0] in ("1", "0", "H"):
                    rows.append((record[2], 1 if record[0] == "1" else 0))
    return rows


def message_features(detector: _Reader, text: str) -> list[str]:
    words = detector.tokens(text)
    ids = [detector.word_keys(w) for clause in words for w in clause]
    return features(words, ids)


class _Reader(Protocol):
    """What the classifier needs of the detector: its reading of words."""

    def tokens(self, text: str) -> list[list[str]]: ...

    def word_keys(self, word: str) -> frozenset[str]: ...


def write_weights(weights: dict[str, float], path: Path, sources: list[Path]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        handle.write(
            "# Teman Jiwa crisis classifier weights (python -m flows.crisis.classifier train)\n"
        )
        handle.write("# trained on: " + ", ".join(p.name for p in sources) + "\n")
        for feature in sorted(weights):
            handle.write(f"{feature}\t{weights[feature]:.4f}\n")


def hash_text(text: str) -> int:
    """A stable order for training (Python's hash() changes between runs)."""
    value = 2166136261
    for byte in text.encode("utf-8"):
        value = ((value ^ byte) * 16777619) & 0xFFFFFFFF
    return value
