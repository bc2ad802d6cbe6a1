"""Engine + SQLite benchmark: many residents completing a screening at once.

    python bench/engine_bench.py                      # 1,000 residents, fresh database
    python bench/engine_bench.py --prefill 100000     # the same with 100,000 stored residents
    python bench/engine_bench.py --both               # both, each in its own process

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

from bot.app import build_runtime  # noqa: E402
from bot.config import Config  # noqa: E402
from flows.messages import Inbound  # noqa: E402

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


async def scenario(residents: int, prefilled: int, flow: str, content: Path | None,
                   rate: float = 0) -> dict:
    os.environ.setdefault("TEMANJIWA_SECRET", "bench")
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        runtime = await build_runtime(Config(), content_dir=content, db_path=db_path)
        if prefilled:
            await runtime.store.close()
            prefill(db_path, prefilled)
            await runtime.store.open()
        latencies: list[float] = []
        pacer = Pacer(rate)
        started = time.perf_counter()
        counts = await asyncio.gather(*(
            resident(runtime.conversations, f"r{i}", flow, latencies, pacer)
            for i in range(residents)
        ))
        elapsed = time.perf_counter() - started
        await runtime.close()
    latencies.sort()
    return {
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
    args = parser.parse_args()
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
                                  args.rate))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
