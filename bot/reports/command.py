"""`temanjiwa report`: the programme report for a period, or `--demo` on synthetic data."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime

from bot.config import choose_database, load_config
from bot.reports.build import build_report
from bot.reports.demo import demo_report
from bot.reports.files import load_report_content, write_report
from bot.reports.model import default_spec
from storage import open_store

log = logging.getLogger(__name__)


async def report_command(args: argparse.Namespace) -> int:
    if args.demo is not None:
        paths, summary = await demo_report(args.demo, content_dir=args.content)
        print(summary)
        for path in paths:
            print(path)
        return 0
    config = load_config(args.config)
    now = datetime.now(config.tz)
    spec = default_spec(now.date(), args.by, args.start, args.end, args.area)
    if spec.area and spec.area not in {a.id for a in config.areas}:
        log.warning("area %r is not in the deployment config", spec.area)
    database = choose_database(config, args.db)
    if database.sqlite_path is not None and not database.sqlite_path.exists():
        print(f"no database at {database.sqlite_path}", file=sys.stderr)
        return 2
    content = load_report_content(config, args.content)
    store = await open_store(database.target)
    try:
        report = await build_report(store.reader, config, spec, now=now, content=content)
    finally:
        await store.close()
    for path in write_report(report, args.out):
        print(path)
    return 0
