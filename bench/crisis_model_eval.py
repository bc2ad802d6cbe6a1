"""What the classifier adds, measured on batches it was not trained on.

    python bench/crisis_model_eval.py [--thresholds 0.9,0.93,0.95]
    python bench/crisis_model_eval.py --honest [--thresholds ...]
    python bench/crisis_model_eval.py --untuned tests/data/crisis_corpus_*.tsv [--thresholds ...]

Default (leave one batch out): for every tests/data/crisis_*.tsv batch B, train the crisis
head on all the other batches, then count on B the crisis messages the lexicon and cue
scorer miss but the model catches (gain), and the ordinary (0) and hard-negative (H)
messages it newly flags, per threshold. The lexicon and cues were developed on these
batches, so the gain is a lower bound; the new flags are the honest cost.

`--honest`: for every blind batch whose `.before.txt` names the commit it was measured on,
read the crisis content of that commit (git), train the classifier only on the batches
that existed then (never B, never a later blind batch), and measure the whole detector on
B: lexicon and cues alone, then with the model at each threshold. Nothing in it has seen
B, so it is what the current classifier design would have scored on B when it was fresh.

`--untuned B1 B2 ...`: batches the word lists were never tuned on (blind batches released
without fixes, the written-blind corpora). For each, train the crisis head on every other
tests/data batch and measure the whole detector on it at each threshold; the totals over
all of them choose MODEL_THRESHOLD.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.crisis_eval import measure, read_rows  # noqa: E402
from flows.crisis import CrisisDetector, load_detector  # noqa: E402
from flows.crisis import detector as detection  # noqa: E402
from flows.crisis.classifier import (  # noqa: E402
    CRISIS_HEAD,
    TRAINING_DATA,
    Classifier,
    hash_text,
    message_features,
    read_labelled,
    train,
)
from flows.crisis.train import train_on  # noqa: E402

CONTENT = Path("content") / "id" / "crisis"
_COMMIT = re.compile(r"commit ([0-9a-f]{7,40})")
_ROUND = re.compile(r"crisis_blind_round(\d+)$")


def probability(detector: CrisisDetector, text: str) -> float | None:
    """The classifier's probability for a message the other signals let through (None
    when the detector's context rules forbid the model)."""
    message = detector._read(text)
    if not message.keys:
        return None
    found = detector._all_candidates(set().union(*message.keys))
    return detector.model_probability(message, found, None)


Featured = dict[Path, list[tuple[str, str, list[str]]]]


def featured_batches(detector: CrisisDetector, batches: list[Path]) -> Featured:
    """(label, text, classifier features) of every row, per batch: read once, reused for
    every batch left out."""
    return {
        b: [
            (label, text, message_features(detector, text))
            for label, _c, text in read_labelled([b])
        ]
        for b in batches
    }


def crisis_head(rows: list[tuple[str, list[str]]]) -> Classifier:
    """A classifier with only the crisis head, trained on (label, features) in this order."""
    return Classifier({CRISIS_HEAD: train([(f, 1 if label == "1" else 0) for label, f in rows])})


def leave_one_out(thresholds: list[float]) -> None:
    detector = load_detector(ROOT / CONTENT)
    detector.signals = ("lexicon", "cues")
    batches = sorted(TRAINING_DATA.glob("crisis_*.tsv"))
    featured = featured_batches(detector, batches)
    totals = {t: [0, 0, 0, 0, 0, 0] for t in thresholds}  # gain, missed, flag0, n0, flagH, nH
    print(f"{'batch':<26} {'missed':>6} " + " ".join(f"{'p>=' + str(t):>16}" for t in thresholds))
    for held in batches:
        rows = sorted(
            ((label, f) for b in batches if b != held for label, text, f in featured[b]),
            key=lambda r: hash_text(" ".join(r[1][:8])),
        )
        detector.model = crisis_head(rows)
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


def untuned(paths: list[Path], thresholds: list[float]) -> None:
    detector = load_detector(ROOT / CONTENT)
    batches = sorted(TRAINING_DATA.glob("crisis_*.tsv"))
    featured = featured_batches(detector, batches)
    held_names = {p.resolve() for p in paths}
    totals = {t: {"1": [0, 0], "0": [0, 0], "H": [0, 0]} for t in thresholds}
    print(f"{'batch':<26} " + " ".join(f"{'p>=' + str(t):>24}" for t in thresholds))
    for held in (b for b in batches if b.resolve() in held_names):
        rows = sorted(
            ((label, text, f) for b in batches if b != held for label, text, f in featured[b]),
            key=lambda r: (hash_text(r[1]), r[1]),
        )
        detector.model = crisis_head([(label, f) for label, _t, f in rows])
        cells = []
        for t in thresholds:
            detection.MODEL_THRESHOLD = t
            report = measure(held.stem, read_rows(held), detector, detector, 1)
            for key in "10H":
                totals[t][key][0] += report.hits[key]
                totals[t][key][1] += report.totals[key]
            cells.append(
                f"{_share(report.hits['1'], report.totals['1'])} "
                f"0:{report.hits['0']}/{report.totals['0']} "
                f"H:{report.hits['H']}/{report.totals['H']}"
            )
        print(f"{held.stem:<26} " + " ".join(f"{c:>24}" for c in cells), flush=True)
    detection.MODEL_THRESHOLD = DEFAULT_THRESHOLD
    print("totals: recall / ordinary flagged / hard flagged")
    for t in thresholds:
        (c, n1), (o, n0), (h, nh) = (totals[t][k] for k in "10H")
        print(
            f"  p>={t}: {_share(c, n1)} ({c}/{n1}) / {_share(o, n0)} ({o}/{n0}) "
            f"/ {_share(h, nh)} ({h}/{nh})"
        )


def _share(hits: int, total: int) -> str:
    """hits/total to three places, or "-" for a batch without rows of that label."""
    return f"{hits / total:.3f}" if total else "-"


def blind_round(path: Path) -> int | None:
    match = _ROUND.fullmatch(path.stem)
    return int(match[1]) if match else None


def content_at(commit: str, into: Path) -> Path | None:
    """The crisis folder of `commit`, written under `into` (None when git lacks it)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, str(CONTENT)],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        return None
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / CONTENT


def honest(thresholds: list[float]) -> None:
    batches = sorted(TRAINING_DATA.glob("crisis_*.tsv"))
    print(
        f"{'batch':<22} {'commit':<8} {'lexicon+cues':>14} "
        + " ".join(f"{'p>=' + str(t):>24}" for t in thresholds)
    )
    for held in batches:
        number = blind_round(held)
        before = held.with_name(held.stem + ".before.txt")
        found = _COMMIT.search(before.read_text(encoding="utf-8")) if before.is_file() else None
        if number is None or found is None:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            folder = content_at(found[1], Path(tmp))
            if folder is None:
                print(f"{held.stem:<22} {found[1][:7]:<8} (commit not in this clone)")
                continue
            detector = load_detector(folder)
            detector.model = None
            seen = [
                b for b in batches if b != held and (blind_round(b) or 0) < number
            ]  # what existed when B was fresh
            detector.model = Classifier(train_on(detector, seen))
            rows = read_rows(held)
            detector.signals = ("lexicon", "cues")
            alone = measure(held.stem, rows, detector, detector, 1)
            detector.signals = ("lexicon", "cues", "model")
            cells = []
            for t in thresholds:
                detection.MODEL_THRESHOLD = t
                report = measure(held.stem, rows, detector, detector, 1)
                cells.append(
                    f"{report.ratio('1'):.3f} 0:{report.hits['0']}/{report.totals['0']} "
                    f"H:{report.hits['H']}/{report.totals['H']}"
                )
            print(
                f"{held.stem:<22} {found[1][:7]:<8} {alone.ratio('1'):>14.3f} "
                + " ".join(f"{c:>24}" for c in cells)
            )
    detection.MODEL_THRESHOLD = DEFAULT_THRESHOLD


DEFAULT_THRESHOLD = detection.MODEL_THRESHOLD


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thresholds", default=None)
    parser.add_argument("--honest", action="store_true", help="each blind batch as it was fresh")
    parser.add_argument("--untuned", nargs="+", type=Path, help="batches never tuned on")
    args = parser.parse_args(argv)
    default = "0.9,0.93,0.95" if args.honest or args.untuned else "0.8,0.9,0.95,0.98"
    thresholds = [float(t) for t in (args.thresholds or default).split(",")]
    if args.untuned:
        untuned(args.untuned, thresholds)
    elif args.honest:
        honest(thresholds)
    else:
        leave_one_out(thresholds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
