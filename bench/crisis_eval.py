"""Measure the crisis detector on a labelled TSV (label, category, text).

    python bench/crisis_eval.py [path.tsv] [--lexicon PATH] [--show]

label 1 = crisis, 0 = ordinary message, H = hard negative (looks like a crisis, is not).
Prints recall on label 1, false-alarm rates on 0 and H rows, per-category recall (any
detection counts) and category agreement, and microseconds per message (warm caches, and
cold: a fresh detector on its first pass). Default data: /work/shared/eval/crisis_dev.tsv.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flows.crisis import CrisisDetector, load_detector  # noqa: E402

DEFAULT_DATA = Path("/work/shared/eval/crisis_dev.tsv")
DEFAULT_LEXICON = ROOT / "content" / "id" / "crisis" / "lexicon.yaml"


def read_rows(path: Path) -> list[tuple[str, str, str]]:
    rows = []
    with path.open(encoding="utf-8", newline="") as handle:
        for record in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if not record or record[0].startswith("#") or record[0] == "label":
                continue
            label, category, text = [*record, "", ""][:3]
            rows.append((label.strip(), category.strip(), text))
    return rows


def per_message_us(detector: CrisisDetector, texts: list[str], rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            detector.detect(text)
    return (time.perf_counter() - start) / (rounds * len(texts)) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--lexicon", type=Path, default=DEFAULT_LEXICON)
    parser.add_argument("--show", action="store_true", help="list misses and false alarms")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)

    rows = read_rows(args.data)
    detector = load_detector(args.lexicon)
    cold = per_message_us(load_detector(args.lexicon), [r[2] for r in rows], 1)

    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    same_category: Counter[str] = Counter()
    levels: dict[str, Counter[str]] = defaultdict(Counter)
    misses, alarms = [], []
    for label, category, text in rows:
        found = detector.detect(text)
        key = category if label == "1" else label
        totals[key] += 1
        if label == "1":
            totals["1"] += 1
        if found:
            hits[key] += 1
            if label == "1":
                hits["1"] += 1
                levels[category][found.level] += 1
                same_category[category] += found.category == category
            else:
                alarms.append((label, text, found))
        elif label == "1":
            misses.append((category, text))

    def rate(key: str) -> str:
        n = totals[key]
        return f"{hits[key] / n:.3f} ({hits[key]}/{n})" if n else "n/a"

    print(f"data: {args.data}  ({len(rows)} messages)")
    print(f"recall (label 1):              {rate('1')}")
    print(f"false alarms, ordinary (0):    {rate('0')}")
    print(f"false alarms, hard (H):        {rate('H')}")
    print("per category: recall, category agreement, levels")
    for category in sorted(c for c in totals if c not in ("0", "1", "H")):
        agree = f"{same_category[category]}/{hits[category]}" if hits[category] else "-"
        level_text = ", ".join(f"{k} {v}" for k, v in sorted(levels[category].items()))
        print(f"  {category:<10} {rate(category):<16} agree {agree:<7} {level_text}")
    texts = [r[2] for r in rows]
    warm = per_message_us(detector, texts, args.rounds)
    print(f"speed: {warm:.1f} µs/message warm, {cold:.1f} µs/message cold (first pass)")
    if args.show:
        for category, text in misses:
            print(f"MISS [{category}] {text}")
        for label, text, found in alarms:
            print(
                f"FALSE ALARM [{label}] {text} -> {found.level} {found.category} "
                f"{list(found.matched)}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
