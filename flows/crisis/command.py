"""`temanjiwa crisis-check`: one message per line on stdin → one JSON object per line.

    echo "pengen mati aja" | python -m flows.crisis.command
    {"text": "pengen mati aja", "crisis": true, "level": "check", "category": "suicide",
     "matched": ["pengen mati", "mati aja"]}

Every input line gets exactly one output line (blank lines too), flushed at once, so it
can be used interactively or in a pipe. Exit 2 when the crisis material has errors (listed
on stderr with file and line), 0 otherwise. `--lexicon` takes the crisis folder or its
lexicon.yaml (both read every file of the folder).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flows.crisis import load_detector
from flows.crisis.detector import check_lines, dumps
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
    args = parser.parse_args(argv)
    try:
        detector = load_detector(args.lexicon)
    except ContentError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    for result in check_lines(detector, sys.stdin):
        sys.stdout.write(dumps(result) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
