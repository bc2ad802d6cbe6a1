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
    train,
    write_weights,
)
from flows.crisis.detector import load_detector


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
        print(f"{verdict.probability:.3f} {list(verdict.reasons)}")
        return 0
    sources = sorted(p for p in TRAINING_DATA.glob("crisis_*.tsv") if p.name not in args.exclude)
    rows = read_labelled(sources)
    rows.sort(key=lambda r: (hash_text(r[0]), r[0]))
    samples = [(message_features(detector, text), label) for text, label in rows]
    weights = train(samples)
    write_weights(weights, args.out, sources)
    print(
        f"trained on {len(rows)} messages from {len(sources)} batches: "
        f"{len(weights)} weights -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
