"""`python -m flows.crisis.train`: retrain the crisis classifier on the labelled batches.

    python -m flows.crisis.train                  # every tests/data/crisis_*.tsv
    python -m flows.crisis.train --exclude crisis_blind_round13.tsv --out /tmp/w.tsv
    python -m flows.crisis.train --explain "aku udah siapin semuanya"

Deterministic and offline: the same data gives the same weights file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flows.crisis.classifier import (
    DEFAULT_WEIGHTS,
    ROOT,
    TRAINING_DATA,
    Classifier,
    hash_text,
    message_features,
    read_labelled,
    train_heads,
    write_weights,
)
from flows.crisis.detector import load_detector
from flows.crisis.lexicon import CATEGORIES


def training_sources(exclude: list[str] | tuple[str, ...] = ()) -> list[Path]:
    """The labelled batches the classifier learns from: tests/data/crisis_*.tsv, never the
    held-out blind batches in tests/data/held_out/ (they measure, they do not teach)."""
    return sorted(p for p in TRAINING_DATA.glob("crisis_*.tsv") if p.name not in exclude)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument(
        "--exclude", action="append", default=[], help="a batch file name to leave out"
    )
    parser.add_argument("--explain", metavar="TEXT", help="score one message instead")
    args = parser.parse_args(argv)
    detector = load_detector(ROOT / "content" / "id" / "crisis")
    if args.explain is not None:
        model = Classifier.load(args.out)
        if model is None:
            print(f"no weights at {args.out}: train first", file=sys.stderr)
            return 2
        verdict = model.score(message_features(detector, args.explain))
        print(f"{verdict.probability:.3f} {verdict.category} {list(verdict.reasons)}")
        return 0
    sources = training_sources(args.exclude)
    heads = train_on(detector, sources)
    write_weights(heads, args.out, sources)
    size = sum(len(h) for h in heads.values())
    print(f"trained on {len(sources)} batches: {len(heads)} heads, {size} weights -> {args.out}")
    return 0


def train_on(detector, sources: list[Path]) -> dict[str, dict[str, float]]:
    """The heads trained on the labelled rows of `sources`, in a stable order."""
    rows = read_labelled(sources)
    rows.sort(key=lambda r: (hash_text(r[2]), r[2]))
    return train_heads(
        [(label, category, message_features(detector, text)) for label, category, text in rows],
        CATEGORIES,
    )


if __name__ == "__main__":
    raise SystemExit(main())
