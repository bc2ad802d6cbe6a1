"""Measure the crisis detector on labelled TSV batches (label, category, text[, lang, tag]).

    python bench/crisis_eval.py [path.tsv ...] [--all] [--show] [--signals lexicon,cues]

label 1 = crisis, 0 = ordinary message, H = hard negative (looks like a crisis, is not).
For each batch: recall on label 1 overall, per category, per language and per tag (with
category agreement and levels), false alarms on ordinary (0) messages and hard negatives
(H) flagged, per language and tag, and microseconds per message (warm caches, and cold: a
fresh detector on its first pass), as CPU time (wall time beside it: on a busy machine it
also counts waiting for a core). `--all` measures the shared dev set and every
tests/data/crisis_*.tsv and tests/data/held_out/crisis_*.tsv (blind batches never
tuned on), one table each, then a summary. `--signals` measures some signals alone
(lexicon: the phrases; cues: the cue scorer; model: the classifier) to see what each
contributes. bench/crisis_model_eval.py measures the classifier on batches it has not seen.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flows.crisis import CrisisDetector, Detection, load_detector  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "eval" / "crisis_dev.tsv"  # beside the checkout
DEFAULT_LEXICON = ROOT / "content" / "id" / "crisis"
BATCHES = ROOT / "tests" / "data"


@dataclass(frozen=True)
class Row:
    label: str
    category: str
    text: str
    lang: str
    tag: str


@dataclass
class Report:
    """Counts for one batch."""

    name: str
    rows: int = 0
    hits: Counter[str] = field(default_factory=Counter)
    totals: Counter[str] = field(default_factory=Counter)
    agree: Counter[str] = field(default_factory=Counter)
    levels: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    misses: list[Row] = field(default_factory=list)
    alarms: list[tuple[Row, Detection]] = field(default_factory=list)
    warm_us: float = 0.0  # CPU time
    cold_us: float = 0.0
    warm_wall_us: float = 0.0

    def rate(self, key: str) -> str:
        n = self.totals[key]
        return f"{self.hits[key] / n:.3f} ({self.hits[key]}/{n})" if n else "n/a"

    def ratio(self, key: str) -> float | None:
        n = self.totals[key]
        return self.hits[key] / n if n else None


def read_rows(path: Path) -> list[Row]:
    rows = []
    with path.open(encoding="utf-8", newline="") as handle:
        for record in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if not record or record[0].startswith("#") or record[0] == "label":
                continue
            label, category, text, lang, tag = [*record, "", "", "", ""][:5]
            rows.append(
                Row(label.strip(), category.strip(), text, lang.strip() or "?", tag.strip() or "-")
            )
    return rows


def per_message_us(detector: CrisisDetector, texts: list[str], rounds: int) -> tuple[float, float]:
    """(CPU µs, wall-clock µs) per message. CPU time is the cost of detection; wall time
    also counts waiting for a core on a busy machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        for text in texts:
            detector.detect(text)
    n = rounds * max(1, len(texts))
    return (time.process_time() - cpu) / n * 1e6, (time.perf_counter() - wall) / n * 1e6


def measure(
    name: str, rows: list[Row], detector: CrisisDetector, cold: CrisisDetector, rounds: int
) -> Report:
    report = Report(name, len(rows))
    texts = [r.text for r in rows]
    report.cold_us = per_message_us(cold, texts, 1)[0]
    for row in rows:
        found = detector.detect(row.text)
        if row.label == "1":
            keys = ["1", f"cat:{row.category}", f"lang:{row.lang}", f"tag:{row.tag}"]
        else:
            keys = [row.label, f"neg_lang:{row.label}:{row.lang}", f"neg_tag:{row.label}:{row.tag}"]
        for key in keys:
            report.totals[key] += 1
            report.hits[key] += found is not None
        if row.label == "1":
            if found:
                report.levels[row.category][found.level] += 1
                report.agree[row.category] += found.category == row.category
            else:
                report.misses.append(row)
        elif found:
            report.alarms.append((row, found))
    report.warm_us, report.warm_wall_us = per_message_us(detector, texts, rounds)
    return report


def print_report(report: Report, *, breakdown: bool) -> None:
    print(f"== {report.name}  ({report.rows} messages)")
    print(f"recall (label 1):              {report.rate('1')}")
    print(f"false alarms, ordinary (0):    {report.rate('0')}")
    print(f"hard negatives flagged (H):    {report.rate('H')}")
    print("per category: recall, category agreement, levels")
    for key in sorted(k for k in report.totals if k.startswith("cat:")):
        category = key[4:]
        hits = report.hits[key]
        agree = f"{report.agree[category]}/{hits}" if hits else "-"
        levels = ", ".join(f"{k} {v}" for k, v in sorted(report.levels[category].items()))
        print(f"  {category:<10} {report.rate(key):<17} agree {agree:<8} {levels}")
    if not breakdown:
        return
    for title, prefix in (
        ("per language: recall", "lang:"),
        ("per tag: recall", "tag:"),
        ("flagged per language (0 / H)", "neg_lang:"),
        ("flagged per tag (0 / H)", "neg_tag:"),
    ):
        keys = sorted(k for k in report.totals if k.startswith(prefix))
        if not keys or keys == [f"{prefix}?"] or all(k.endswith(":?") for k in keys):
            continue
        print(title)
        for key in keys:
            print(f"  {key[len(prefix) :]:<24} {report.rate(key)}")
    print(
        f"speed: {report.warm_us:.1f} µs/message warm (CPU; {report.warm_wall_us:.1f} µs wall), "
        f"{report.cold_us:.1f} µs cold (first pass, CPU)"
    )


def print_misses(report: Report) -> None:
    for row in report.misses:
        print(f"MISS [{row.category}/{row.lang}/{row.tag}] {row.text}")
    for row, found in report.alarms:
        print(
            f"FLAGGED [{row.label}/{row.lang}/{row.tag}] {row.text} -> {found.level} "
            f"{found.category} {found.subject} {list(found.matched)}"
        )


def print_summary(reports: list[Report]) -> None:
    print("== summary")
    categories = sorted({k[4:] for r in reports for k in r.totals if k.startswith("cat:")})
    head = f"{'batch':<28} {'n':>4} {'recall':>7} {'ord FA':>7} {'hard':>6}"
    head += "".join(f" {c[:9]:>9}" for c in categories) + f" {'µs':>6}"
    print(head)
    for r in reports:

        def cell(key: str, width: int, r: Report = r) -> str:
            value = r.ratio(key)
            return f" {'-' if value is None else f'{value:.3f}':>{width}}"

        line = f"{r.name:<28} {r.rows:>4}" + cell("1", 7) + cell("0", 7) + cell("H", 6)
        line += "".join(cell(f"cat:{c}", 9) for c in categories)
        print(line + f" {r.warm_us:>6.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="*", type=Path)
    parser.add_argument("--all", action="store_true", help="dev set and every tests/data batch")
    parser.add_argument("--lexicon", type=Path, default=DEFAULT_LEXICON)
    parser.add_argument("--show", action="store_true", help="list misses and false alarms")
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument(
        "--signals",
        default="lexicon,cues,model",
        help="which signals decide: lexicon, cues, model (default all three)",
    )
    args = parser.parse_args(argv)
    signals = tuple(s.strip() for s in args.signals.split(",") if s.strip())

    paths = list(args.data)
    if args.all:
        paths = [p for p in [DEFAULT_DATA] if p.is_file()]
        paths += sorted(BATCHES.glob("crisis_*.tsv"))
        paths += sorted((BATCHES / "held_out").glob("crisis_*.tsv"))  # never trained on
    if not paths:
        paths = [DEFAULT_DATA]

    detector = load_detector(args.lexicon)
    detector.signals = signals
    reports = []
    for path in paths:
        cold = load_detector(args.lexicon)
        cold.signals = signals
        report = measure(path.stem, read_rows(path), detector, cold, args.rounds)
        reports.append(report)
        print_report(report, breakdown=True)
        if args.show:
            print_misses(report)
        print()
    if len(reports) > 1:
        print_summary(reports)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
