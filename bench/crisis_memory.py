"""How much memory and start-up time the crisis detector costs one process.

    python bench/crisis_memory.py [--runs 5]

Each run is a fresh Python process that imports the detector, loads the shipped lexicon,
cues and classifier weights, and reports the seconds the load took, the peak resident
memory, and the resident memory after the load (what every worker keeps). Prints the
median of the runs; the machine is shared, so the seconds are noisy, the megabytes not.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ONE_RUN = """
import gc, json, os, resource, time
from pathlib import Path
import flows.crisis as crisis
before = int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
started = time.perf_counter()
detector = crisis.load_detector(Path('content/id/crisis'))
seconds = time.perf_counter() - started
gc.collect()
after = int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak": peak, "resident": after, "python": before}))
"""


def one_run() -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", ONE_RUN], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    runs = [one_run() for _ in range(args.runs)]

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    mb = 2**20
    print(f"crisis detector, median of {args.runs} fresh processes:")
    print(f"  load:                 {median('seconds'):.2f} s")
    print(f"  resident after load:  {median('resident') / mb:.0f} MB")
    print(f"  of which the detector:{(median('resident') - median('python')) / mb:5.0f} MB")
    print(f"  peak while loading:   {median('peak') / mb:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
