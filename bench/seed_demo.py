"""Seed a demo database with realistic synthetic activity through the real service, then write
its weekly and monthly programme reports (CSV + HTML) and print how long each step took.

    python bench/seed_demo.py --out /tmp/laporan-demo [--residents 320] [--weeks 12]
                              [--end 2026-11-22] [--seed 7] [--db /tmp/demo.db]

The same as `temanjiwa report --demo OUT_DIR` with knobs; `--db` keeps the database.
Nothing in it is real (bot/reports/demo.py describes what is simulated).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.reports.build import build_report  # noqa: E402
from bot.reports.demo import seed_demo  # noqa: E402
from bot.reports.files import load_report_content, write_report  # noqa: E402
from bot.reports.model import default_spec  # noqa: E402
from storage.sqlite import SqliteStore  # noqa: E402


async def main(args: argparse.Namespace) -> int:
    db = args.db or args.out / "demo.db"
    if db.exists():
        print(f"{db} exists: choose another --db (the demo needs a new database)")
        return 2
    config, summary = await seed_demo(
        db, residents=args.residents, weeks=args.weeks, end=args.end, seed=args.seed
    )
    print(summary.text())
    end = args.end or datetime.now(config.tz).date()
    first = end - timedelta(weeks=args.weeks) + timedelta(days=1)
    content = load_report_content(config, None)
    async with SqliteStore(db) as store:
        for by, start in (("week", first), ("month", first.replace(day=1))):
            began = time.perf_counter()
            report = await build_report(
                store.reader,
                config,
                default_spec(end, by, start, end),
                now=datetime.now(config.tz),
                content=content,
            )
            paths = write_report(report, args.out)
            took = (time.perf_counter() - began) * 1000
            hidden = sum(1 for v in report.sup.hidden.values() if v == "<5")
            secondary = len(report.sup.hidden) - hidden
            print(
                f"report by {by}: {len(report.periods)} periods, {len(report.sup.values)} "
                f"cells ({hidden} '<5', {secondary} 'x'), {took:.0f} ms"
            )
            for path in paths:
                print(f"  {path} ({path.stat().st_size / 1024:.0f} KB)")
    print(f"database: {db} ({db.stat().st_size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--residents", type=int, default=320)
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--end", type=date.fromisoformat, default=None)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, default=None)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    cli = parser.parse_args()
    cli.out.mkdir(parents=True, exist_ok=True)
    sys.exit(asyncio.run(main(cli)))
