"""`temanjiwa crisis-check`: one message per line on stdin → one JSON object per line.

    echo "pengen mati aja" | python -m flows.crisis.command
    {"text": "pengen mati aja", "crisis": true, "level": "check", "category": "suicide",
     "matched": ["pengen mati", "mati aja"]}

Every input line gets exactly one output line (blank lines too), flushed at once, so it
can be used interactively or in a pipe. Exit 2 when the crisis material has errors (listed
on stderr with file and line), 0 otherwise. `--lexicon` takes the crisis folder or its
lexicon.yaml (both read every file of the folder). `--signals lexicon,cues` leaves the
classifier out: what the phrases and cue words alone say, for an editor asking why a phrase
did not fire (the classifier may set aside a short message's `check` or `high` reading).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flows.crisis import load_detector
from flows.crisis.detector import SIGNALS, check_lines, dumps
from flows.problems import ContentError

DEFAULT_LEXICON = Path(__file__).resolve().parents[2] / "content" / "id" / "crisis"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="temanjiwa crisis-check",
        description="Check messages on stdin (one per line) for crisis signs; JSON lines out.",
    )
    parser.add_argument(
        "--lexicon",
        type=Path,
        default=DEFAULT_LEXICON,
        help=(
            "the crisis folder, or its lexicon.yaml (which stands for the whole folder); "
            "default: content/id/crisis"
        ),
    )
    parser.add_argument(
        "--signals",
        default=",".join(SIGNALS),
        help="which signals decide, of lexicon, cues, model (default: all three)",
    )
    args = parser.parse_args(argv)
    signals = tuple(s.strip() for s in args.signals.split(",") if s.strip())
    if not signals or set(signals) - set(SIGNALS):
        parser.error(f"--signals takes a comma-separated choice of {', '.join(SIGNALS)}")
    try:
        detector = load_detector(args.lexicon)
    except ContentError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    detector.signals = signals
    for result in check_lines(detector, sys.stdin):
        sys.stdout.write(dumps(result) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
