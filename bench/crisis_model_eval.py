"""What the classifier adds, measured honestly: each batch scored by a model trained
without it (leave one batch out).

    python bench/crisis_model_eval.py [--thresholds 0.8,0.9,0.95]

For every tests/data/crisis_*.tsv batch B: train the crisis head on all the other batches,
then count on B the crisis messages the lexicon and cue scorer miss but the model catches
(gain), and the ordinary (0) and hard-negative (H) messages it newly flags, per threshold.
The lexicon and cues were developed on some of these batches, so the gain is a lower
bound of what a fresh batch sees; the new flags are the honest cost.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flows.crisis import CrisisDetector, load_detector  # noqa: E402
from flows.crisis.classifier import (  # noqa: E402
    CRISIS_HEAD,
    TRAINING_DATA,
    Classifier,
    hash_text,
    message_features,
    read_labelled,
    train,
)


def probability(detector: CrisisDetector, text: str) -> float | None:
    """The classifier's probability for a message the other signals let through (None
    when the detector's context rules forbid the model)."""
    message = detector._read(text)
    if not message.keys:
        return None
    found = detector._all_candidates(set().union(*message.keys))
    return detector.model_probability(message, found, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thresholds", default="0.8,0.9,0.95,0.98")
    args = parser.parse_args(argv)
    thresholds = [float(t) for t in args.thresholds.split(",")]
    detector = load_detector(ROOT / "content" / "id" / "crisis")
    detector.signals = ("lexicon", "cues")
    batches = sorted(TRAINING_DATA.glob("crisis_*.tsv"))
    featured = {
        b: [
            (label, text, message_features(detector, text))
            for label, _c, text in read_labelled([b])
        ]
        for b in batches
    }
    totals = {t: [0, 0, 0, 0, 0, 0] for t in thresholds}  # gain, missed, flag0, n0, flagH, nH
    print(f"{'batch':<26} {'missed':>6} " + " ".join(f"{'p>=' + str(t):>16}" for t in thresholds))
    for held in batches:
        rows = sorted(
            ((label, f) for b in batches if b != held for label, text, f in featured[b]),
            key=lambda r: hash_text(" ".join(r[1][:8])),
        )
        detector.model = Classifier(
            {CRISIS_HEAD: train([(f, 1 if lab == "1" else 0) for lab, f in rows])}
        )
        cells = []
        missed_n = 0
        per = {t: [0, 0, 0] for t in thresholds}
        n0 = nh = 0
        for label, text, _f in featured[held]:
            n0 += label == "0"
            nh += label == "H"
            if detector.detect(text) is not None:
                continue
            missed_n += label == "1"
            p = probability(detector, text)
            if p is None:
                continue
            for t in thresholds:
                if p >= t:
                    per[t][{"1": 0, "0": 1, "H": 2}[label]] += 1
        for t in thresholds:
            gain, f0, fh = per[t]
            cells.append(f"+{gain:<3} 0:{f0:<2} H:{fh:<2}".rjust(16))
            totals[t][0] += gain
            totals[t][2] += f0
            totals[t][3] += n0
            totals[t][4] += fh
            totals[t][5] += nh
        for t in thresholds:
            totals[t][1] += missed_n
        print(f"{held.stem:<26} {missed_n:>6} " + " ".join(cells))
    print("totals (caught of missed; new flags of all ordinary / hard):")
    for t in thresholds:
        gain, missed, f0, n0, fh, nh = totals[t]
        print(
            f"  p>={t}: caught {gain}/{missed}, ordinary {f0}/{n0} = {f0 / n0:.3f}, "
            f"hard {fh}/{nh} = {fh / nh:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
