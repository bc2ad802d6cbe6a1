"""Engine + store benchmark: many residents completing a screening at once.

    python bench/engine_bench.py                      # 1,000 residents, fresh database
    python bench/engine_bench.py --prefill 100000     # the same with 100,000 stored residents
    python bench/engine_bench.py --both               # both, each in its own process
    python bench/engine_bench.py --database postgresql://…   # on PostgreSQL instead
    python bench/engine_bench.py --compare-batching [--database …]
        # group-commit batches as one trip (recorded writes) against one trip per
        # statement (--write-each), interleaved, three times each

Each scenario runs in a fresh process so peak memory (ru_maxrss) is comparable. Reports
messages per second, p50/p99 latency of `Conversations.handle`, and peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import build_runtime, wire  # noqa: E402
from bot.cases.senders import RoutingAlertSender  # noqa: E402
from bot.config import Config, default_content_dir  # noqa: E402
from bot.conversations import Conversations  # noqa: E402
from bot.crypto import Sealer, load_key  # noqa: E402
from flows.crisis import load_detector  # noqa: E402
from flows.linter import load_content  # noqa: E402
from flows.messages import Inbound  # noqa: E402
from flows.runtime import Engine  # noqa: E402
from storage import make_store  # noqa: E402
from storage.base import Store  # noqa: E402

PREFERRED = ("setuju", "dewasa", "lewati", "mulai", "ya")


def pick(reply) -> Inbound:
    """What a simulated resident presses: consent and onboarding defaults, then answer 1."""
    ids = [c.id for c in reply.choices]
    for wanted in PREFERRED:
        if wanted in ids:
            return Inbound(choice=wanted, node=reply.node)
    return Inbound(choice=ids[0], node=reply.node)


class Pacer:
    """Releases messages at a fixed offered rate (0 = as fast as possible)."""

    def __init__(self, rate: float):
        self.interval = 1 / rate if rate else 0.0
        self.next_at = time.perf_counter()

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.perf_counter()
        self.next_at = max(self.next_at + self.interval, now)
        if self.next_at > now:
            await asyncio.sleep(self.next_at - now)


async def resident(conversations, user: str, flow: str, latencies: list[float],
                   pacer: Pacer) -> int:
    inbound = Inbound(text=f"/start {flow}")
    for sent in range(1, 60):
        await pacer.wait()
        started = time.perf_counter()
        turn = await conversations.handle("bench", user, inbound)
        latencies.append(time.perf_counter() - started)
        if any(e.name == "screening_completed" for e in turn.events):
            return sent
        last = turn.replies[-1] if turn.replies else None
        if last is None or not last.choices:
            raise RuntimeError(f"resident {user} stuck at {last.node if last else None}")
        inbound = pick(last)
    raise RuntimeError(f"resident {user} did not finish {flow}")


def prefill(db_path: Path, count: int) -> None:
    """Store `count` residents with a session and two results each, straight into SQLite."""
    db = sqlite3.connect(db_path)
    now = datetime.now(UTC).isoformat()
    state = json.dumps({"stack": [{"flow": "menu", "node": "utama", "vars": {},
                                   "resume": None, "rerender": False, "waiting": True}],
                        "profile": {"age_group": "dewasa"}, "consent_at": now,
                        "consent_version": "1", "pending_start": None, "locale": "id"})
    with db:
        db.executemany(
            "INSERT INTO sessions (user_key, state, consent_at, consent_version, locale, "
            "created_at, updated_at) VALUES (?, ?, ?, '1', 'id', ?, ?)",
            ((f"prefill{i:08d}", state, now, now, now) for i in range(count)),
        )
        db.executemany(
            "INSERT INTO results (user_key, instrument, score, band, flags, completed_at) "
            "VALUES (?, 'phq9', ?, 'mild', '[]', ?)",
            ((f"prefill{i // 2:08d}", random.randint(0, 27), now) for i in range(count * 2)),
        )
    db.close()


async def postgres_runtime(database: str, content: Path | None, tmp: Path,
                           defer_writes: bool) -> tuple[Conversations, Store]:
    """What bot.app.build_runtime wires, on a PostgreSQL store with batching chosen here."""
    content_dir = content or default_content_dir()
    config = Config()
    engine = Engine(load_content(content_dir), config.engine_settings(),
                    load_detector(content_dir))
    store = make_store(database)
    store.defer_writes = defer_writes
    await store.open()
    conversations, _kit = wire(engine, store, config, secret=b"bench",
                               sealer=Sealer(load_key(tmp / "bench.db")),
                               alerts=RoutingAlertSender())
    return conversations, store


async def scenario(residents: int, prefilled: int, flow: str, content: Path | None,
                   rate: float = 0, database: str | None = None,
                   defer_writes: bool = True) -> dict:
    os.environ.setdefault("TEMANJIWA_SECRET", "bench")
    run = f"{os.getpid()}-{time.time_ns()}"  # resident ids unique per run (a shared database)
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        if database:
            conversations, store = await postgres_runtime(database, content, Path(tmp),
                                                          defer_writes)
        else:
            runtime = await build_runtime(Config(), content_dir=content, db_path=db_path)
            conversations, store = runtime.conversations, runtime.store
            store.defer_writes = defer_writes
            if prefilled:
                await store.close()
                prefill(db_path, prefilled)
                await store.open()
        latencies: list[float] = []
        pacer = Pacer(rate)
        started = time.perf_counter()
        counts = await asyncio.gather(*(
            resident(conversations, f"{run}-r{i}", flow, latencies, pacer)
            for i in range(residents)
        ))
        elapsed = time.perf_counter() - started
        await store.close()
    latencies.sort()
    return {
        "store": "postgresql" if database else "sqlite",
        "batch": "one trip" if defer_writes else "trip per statement",
        "residents": residents,
        "prefilled": prefilled,
        "offered_per_s": rate or "max",
        "messages": sum(counts),
        "seconds": round(elapsed, 2),
        "messages_per_s": round(sum(counts) / elapsed),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--residents", type=int, default=1000)
    parser.add_argument("--prefill", type=int, default=0)
    parser.add_argument("--flow", default="phq9")
    parser.add_argument("--content", type=Path, default=None)
    parser.add_argument("--rate", type=float, default=0,
                        help="offered messages per second (0: all residents at once, flat out)")
    parser.add_argument("--both", action="store_true",
                        help="run 0 and 100,000 prefilled, flat out and at --rate (default 1000)")
    parser.add_argument("--database", default=None,
                        help="a postgresql:// URL: run on PostgreSQL (--prefill is SQLite only)")
    parser.add_argument("--write-each", action="store_true",
                        help="send every write at once instead of with the batch")
    parser.add_argument("--compare-batching", action="store_true",
                        help="one trip per batch vs --write-each, interleaved, 3 times each")
    args = parser.parse_args()
    if args.compare_batching:
        return compare_batching(args)
    if args.both:
        rows = []
        for prefilled in (0, 100_000):
            for rate in (0, args.rate or 1000):
                cmd = [sys.executable, __file__, "--residents", str(args.residents), "--prefill",
                       str(prefilled), "--flow", args.flow, "--rate", str(rate)]
                if args.content:
                    cmd += ["--content", str(args.content)]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        keys = list(rows[0])
        print(" | ".join(keys))
        for row in rows:
            print(" | ".join(str(row[k]) for k in keys))
        return 0
    result = asyncio.run(scenario(args.residents, args.prefill, args.flow, args.content,
                                  args.rate, args.database, not args.write_each))
    print(json.dumps(result))
    return 0


def compare_batching(args: argparse.Namespace, repeats: int = 3) -> int:
    """Each run in its own process, the two ways alternating; ratios of the medians."""
    rows = []
    for _ in range(repeats):
        for write_each in (False, True):
            cmd = [sys.executable, __file__, "--residents", str(args.residents), "--flow",
                   args.flow, "--rate", str(args.rate)]
            cmd += ["--database", args.database] if args.database else []
            cmd += ["--content", str(args.content)] if args.content else []
            cmd += ["--write-each"] if write_each else []
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    keys = ["store", "batch", "messages_per_s", "p50_ms", "p99_ms", "seconds"]
    print(" | ".join(keys))
    for row in rows:
        print(" | ".join(str(row[k]) for k in keys))
    batched = [r for r in rows if r["batch"] == "one trip"]
    each = [r for r in rows if r["batch"] != "one trip"]
    for key in ("messages_per_s", "p50_ms", "p99_ms"):
        ratio = statistics.median(r[key] for r in batched) / statistics.median(r[key] for r in each)
        print(f"{key}: one trip per batch / trip per statement = {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
