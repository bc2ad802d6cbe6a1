"""Engine + store benchmark: many residents completing a screening at once.

    python bench/engine_bench.py                      # 1,000 residents, fresh database
    python bench/engine_bench.py --prefill 100000     # the same with 100,000 stored residents
    python bench/engine_bench.py --both               # both, each in its own process
    python bench/engine_bench.py --database postgresql://…   # on PostgreSQL instead
    python bench/engine_bench.py --compare-batching [--database …]
        # group-commit batches as one trip (recorded writes) against one trip per
        # statement (--write-each), interleaved, three times each

    python bench/engine_bench.py --vs-naive       # engine + SQLite against a naive aiosqlite
        # loop (read a row, upsert JSON state, commit) at the same concurrency, 3 interleaved
    python bench/engine_bench.py --crisis         # crisis reply p50/p99 alone and while ordinary
        # residents send --load (500) messages/s, 3 interleaved; p99 ratio (target <= 2)
    python bench/engine_bench.py --memory         # peak RSS with 1,000 and 100,000 stored
        # residents, 3 interleaved; ratio (target: within 10 %)

Each scenario runs in a fresh process so peak memory (ru_maxrss) is comparable. Reports
messages per second, p50/p99 latency of `Conversations.handle`, and peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
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

import aiosqlite

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


def percentile(values: list[float], share: float) -> float:
    values = sorted(values)
    return values[max(0, int(len(values) * share) - 1)]


async def naive_scenario(residents: int, messages: int = 14) -> dict:
    """The baseline a bot without this store would write: one aiosqlite connection (WAL, the
    store's pragmas), each message reads the resident's row, updates its JSON state, upserts
    it and commits; `residents` tasks at once, `messages` each (a PHQ-9 run is 14)."""
    latencies: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        db = await aiosqlite.connect(Path(tmp) / "naive.db")
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("CREATE TABLE sessions (user_key TEXT PRIMARY KEY, state TEXT NOT NULL,"
                         " updated_at TEXT NOT NULL)")
        await db.commit()

        async def one(user: str) -> None:
            for step in range(messages):
                started = time.perf_counter()
                async with db.execute("SELECT state FROM sessions WHERE user_key = ?",
                                      (user,)) as cursor:
                    row = await cursor.fetchone()
                state = json.loads(row[0]) if row else {"node": "start", "answers": []}
                state["node"] = f"q{step}"
                state["answers"].append(step % 4)
                await db.execute(
                    "INSERT INTO sessions (user_key, state, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT(user_key) DO UPDATE SET state = excluded.state, "
                    "updated_at = excluded.updated_at",
                    (user, json.dumps(state), datetime.now(UTC).isoformat()),
                )
                await db.commit()
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(one(f"naive{i}") for i in range(residents)))
        elapsed = time.perf_counter() - started
        await db.close()
    total = residents * messages
    return {"store": "naive aiosqlite loop", "residents": residents, "messages": total,
            "seconds": round(elapsed, 2), "messages_per_s": round(total / elapsed),
            "p50_ms": round(statistics.median(latencies) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


CRISIS_TEXT = "aku pengen mati aja"


async def crisis_scenario(load: float, crises: int, crisis_rate: float, flow: str,
                          content: Path | None) -> dict:
    """Crisis messages (each from a new resident, "aku pengen mati aja") at `crisis_rate`
    per second, alone or while ordinary residents run screenings at `load` messages/s in all
    (1,000 residents, each starting over when done). Latency of each crisis turn."""
    os.environ.setdefault("TEMANJIWA_SECRET", "bench")
    with tempfile.TemporaryDirectory() as tmp:
        runtime = await build_runtime(Config(), content_dir=content, db_path=Path(tmp) / "b.db")
        conversations, store = runtime.conversations, runtime.store
        ordinary: list[float] = []
        stop = asyncio.Event()
        pacer = Pacer(load) if load else None

        async def resident_loop(i: int) -> None:
            for run in itertools.count():
                if stop.is_set():
                    return
                assert pacer is not None
                await resident(conversations, f"o{i}-{run}", flow, ordinary, pacer)

        async def crisis_one(i: int) -> float:
            started = time.perf_counter()
            turn = await conversations.handle("bench", f"crisis{i}", Inbound(text=CRISIS_TEXT))
            took = time.perf_counter() - started
            if not turn.urgent or not any("119" in r.text for r in turn.replies):
                raise RuntimeError(f"crisis turn {i} was not urgent or gave no hotline")
            return took

        await crisis_one(-1)  # warm-up: the crisis flow's first run
        background = [asyncio.create_task(resident_loop(i)) for i in range(1000 if load else 0)]
        await asyncio.sleep(2.0 if load else 0)  # the ordinary load reaches its rate
        before, t0 = len(ordinary), time.perf_counter()
        tasks = []
        for i in range(crises):
            tasks.append(asyncio.create_task(crisis_one(i)))
            await asyncio.sleep(1 / crisis_rate)
        latencies = list(await asyncio.gather(*tasks))
        achieved = (len(ordinary) - before) / (time.perf_counter() - t0)
        stop.set()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await store.close()
    return {"load_offered_per_s": load, "load_achieved_per_s": round(achieved),
            "crises": crises, "crisis_p50_ms": round(statistics.median(latencies) * 1000, 2),
            "crisis_p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "crisis_max_ms": round(max(latencies) * 1000, 2),
            "ordinary_p50_ms": round(statistics.median(ordinary) * 1000, 2) if ordinary else None,
            "ordinary_p99_ms": round(percentile(ordinary, 0.99) * 1000, 2) if ordinary else None}


def run_child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def side_by_side(variants: dict[str, list[str]], keys: list[str], repeats: int) -> dict:
    """Run each variant in its own process, interleaved `repeats` times; print every row and
    return the medians per variant."""
    rows: dict[str, list[dict]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, child_args in variants.items():
            row = run_child(child_args)
            rows[name].append(row)
            print(name, " | ".join(f"{k}={row.get(k)}" for k in keys), flush=True)
    return {name: {k: statistics.median([r[k] for r in got if r[k] is not None] or [0])
                   for k in keys} for name, got in rows.items()}


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
    parser.add_argument("--naive", action="store_true", help="run only the naive aiosqlite loop")
    parser.add_argument("--vs-naive", action="store_true",
                        help="engine + SQLite vs the naive loop, interleaved, --repeat times")
    parser.add_argument("--crisis-only", action="store_true",
                        help="one crisis run at --load ordinary messages/s (0 = none)")
    parser.add_argument("--crisis", action="store_true",
                        help="crisis p50/p99 idle vs under --load, interleaved, --repeat times")
    parser.add_argument("--load", type=float, default=500)
    parser.add_argument("--crises", type=int, default=200)
    parser.add_argument("--crisis-rate", type=float, default=10)
    parser.add_argument("--memory", action="store_true",
                        help="peak RSS with 1,000 and 100,000 stored, interleaved, --repeat")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    common = ["--flow", args.flow] + (["--content", str(args.content)] if args.content else [])
    if args.compare_batching:
        return compare_batching(args)
    if args.naive:
        print(json.dumps(asyncio.run(naive_scenario(args.residents))))
        return 0
    if args.crisis_only:
        print(json.dumps(asyncio.run(crisis_scenario(args.load, args.crises, args.crisis_rate,
                                                     args.flow, args.content))))
        return 0
    if args.vs_naive:
        n = ["--residents", str(args.residents)]
        med = side_by_side({"engine+sqlite": n + common, "naive": [*n, "--naive"]},
                           ["messages_per_s", "p50_ms", "p99_ms"], args.repeat)
        for k in ("messages_per_s", "p50_ms", "p99_ms"):
            print(f"median {k}: engine {med['engine+sqlite'][k]} / naive {med['naive'][k]} = "
                  f"{med['engine+sqlite'][k] / med['naive'][k]:.2f}x")
        print("target: messages_per_s >= 1.0x")
        return 0
    if args.crisis:
        c = ["--crisis-only", "--crises", str(args.crises), "--crisis-rate",
             str(args.crisis_rate), *common]
        keys = ["crisis_p50_ms", "crisis_p99_ms", "crisis_max_ms", "load_achieved_per_s",
                "ordinary_p50_ms", "ordinary_p99_ms"]
        med = side_by_side({"idle": [*c, "--load", "0"], "loaded": [*c, "--load", str(args.load)]},
                           keys, args.repeat)
        for k in ("crisis_p50_ms", "crisis_p99_ms"):
            print(f"median {k}: under {args.load:g}/s {med['loaded'][k]} / idle {med['idle'][k]}"
                  f" = {med['loaded'][k] / med['idle'][k]:.2f}x")
        print(f"ordinary load achieved: {med['loaded']['load_achieved_per_s']}/s; "
              "target: crisis p99 under load <= 2.0x idle")
        return 0
    if args.memory:
        base = ["--residents", str(args.residents), *common]
        med = side_by_side({"1k stored": [*base, "--prefill", "1000"],
                            "100k stored": [*base, "--prefill", "100000"]},
                           ["peak_rss_mb", "messages_per_s", "p99_ms"], args.repeat)
        ratio = med["100k stored"]["peak_rss_mb"] / med["1k stored"]["peak_rss_mb"]
        print(f"median peak RSS: 100k {med['100k stored']['peak_rss_mb']} MB / 1k "
              f"{med['1k stored']['peak_rss_mb']} MB = {ratio:.3f}x (target <= 1.10)")
        return 0
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
