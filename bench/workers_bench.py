"""Several workers: messages per second and latency of real `temanjiwa run` processes,
SQLite (one process) and PostgreSQL with 1, 2 and 4 workers, side by side in one run.

    python bench/workers_bench.py                          # the four, default sizes
    python bench/workers_bench.py --scenarios postgres:2,postgres:4 --messages 4000
    python bench/workers_bench.py --residents 128 --json results.json

What is measured: the whole path of a WhatsApp message. This process plays Meta and the
load balancer: a signed webhook POST goes to the workers in turn; the worker keeps it in
the durable inbox before its 200, claims the resident, runs the turn (one transaction),
and sends the answer to the fake Graph API (tests/fakes/graph_api.py, in this process).
Latency is from the start of the POST to the answer's arrival at the fake. Each resident
has one message in flight at a time (closed loop); `--residents` of them at once. Every
message is "menu", whose answer is one message, from residents who consented earlier
(seeded), so every turn costs the same.

The databases: a fresh SQLite file (WAL, synchronous=NORMAL, the embedded default), and a
fresh database on a throwaway PostgreSQL 15 cluster started here with its default, durable
settings (fsync and synchronous_commit on; unix socket) — or `--database` for a server of
yours (a database is created and dropped per scenario; the role needs CREATEDB).

Everything shares this machine: the workers, PostgreSQL, the fake Graph API and the load
generator. On a 2-core machine more workers cannot mean more CPU; see README Benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/workers_bench.py` works too
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402
import uvicorn  # noqa: E402
import yaml  # noqa: E402

from flows.convtest import session_from_setup  # noqa: E402
from storage import open_store  # noqa: E402
from storage.keys import user_key  # noqa: E402
from tests.fakes.graph_api import FakeGraphApi  # noqa: E402
from tests.support.cluster import start_cluster, stop_cluster  # noqa: E402
from tests.support.databases import with_database  # noqa: E402
from tests.support.whatsapp_driver import payload, signed, text_message  # noqa: E402
from tests.support.workers import (  # noqa: E402
    PHONE_NUMBER_ID,
    RESIDENT_SECRET,
    WHATSAPP_APP_SECRET,
    Deployment,
    worker_env,
)

DURABLE = ("listen_addresses=", "max_connections=200")  # PostgreSQL's defaults otherwise


class TimedGraphApi(FakeGraphApi):
    """The fake Graph API, telling the load generator when a resident's answer arrived."""

    def __init__(self) -> None:
        super().__init__("bench-token")
        self.waiting: dict[str, asyncio.Future[float]] = {}

    async def _messages(self, request: Any) -> Any:
        body = await request.json()  # Starlette keeps the body: the fake reads it again
        response = await super()._messages(request)
        recipient = body.get("to") or body.get("recipient") if isinstance(body, dict) else None
        waiter = self.waiting.pop(recipient or "", None)
        if waiter is not None and not waiter.done():
            waiter.set_result(time.perf_counter())
        if len(self.calls) > 1000:  # keep memory flat over long runs
            del self.calls[:500]
        return response


async def serve_graph() -> tuple[TimedGraphApi, uvicorn.Server, asyncio.Task]:
    fake = TimedGraphApi()
    server = uvicorn.Server(uvicorn.Config(fake.app, host="127.0.0.1", port=0,
                                           log_level="warning", lifespan="off",
                                           access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    fake.base_url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    return fake, server, task


def numbers(n: int) -> list[str]:
    return [f"62813{i:07d}" for i in range(n)]


async def seed(target: str, residents: list[str]) -> None:
    store = await open_store(target)
    try:
        session = session_from_setup({"consent": True, "profile": {"age_group": "dewasa"}})
        async with store.transaction() as tx:
            for number in residents:
                key = user_key(RESIDENT_SECRET.encode(), "whatsapp", number)
                await tx.save_session(key, session, datetime.now(UTC))
    finally:
        await store.close()


async def drive(deployment: Deployment, graph: TimedGraphApi, residents: list[str],
                messages: int) -> dict[str, Any]:
    """Warm up (one message each), then `messages` more, one in flight per resident."""
    latencies: list[float] = []
    sent = 0
    turn = 0
    limits = httpx.Limits(max_connections=len(residents) + 8,
                          max_keepalive_connections=len(residents) + 8)

    async def one(http: httpx.AsyncClient, number: str) -> float:
        nonlocal turn
        worker = deployment.workers[turn % len(deployment.workers)]
        turn += 1
        raw, headers = signed(payload([text_message("menu", sender=number)],
                                      phone_number_id=PHONE_NUMBER_ID), WHATSAPP_APP_SECRET)
        arrived = asyncio.get_running_loop().create_future()
        graph.waiting[number] = arrived
        started = time.perf_counter()
        answer = await http.post(worker.url + "/whatsapp/webhook", content=raw,
                                 headers=headers)
        assert answer.status_code == 200, answer.text
        return await asyncio.wait_for(arrived, 60) - started

    async def resident(http: httpx.AsyncClient, number: str) -> None:
        nonlocal sent
        while sent < messages:
            sent += 1
            latencies.append(await one(http, number))

    async with httpx.AsyncClient(timeout=60, limits=limits, trust_env=False) as http:
        await asyncio.gather(*(one(http, n) for n in residents))  # warm-up
        pids = [w.proc.pid for w in deployment.workers if w.proc is not None]
        cpu_before, own_before = sum(map(cpu_seconds, pids)), time.process_time()
        began = time.perf_counter()
        await asyncio.gather(*(resident(http, n) for n in residents))
        seconds = time.perf_counter() - began
        cpu = sum(map(cpu_seconds, pids)) - cpu_before
        own = time.process_time() - own_before
    latencies.sort()
    return {
        "messages": len(latencies),
        "seconds": round(seconds, 2),
        "messages_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000, 1),
        # CPU per message of the workers together, and of this process (Meta + the fake)
        "worker_cpu_ms": round(cpu / len(latencies) * 1000, 2),
        "driver_cpu_ms": round(own / len(latencies) * 1000, 2),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def scenario(kind: str, workers: int, server_url: str | None, tmp: Path,
                   args: argparse.Namespace, n: int) -> dict[str, Any]:
    residents = numbers(args.residents)
    name = f"bench_{n}"
    if kind == "sqlite":
        target = str(tmp / f"{name}.db")
    else:
        assert server_url is not None
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        target = with_database(server_url, name)
    try:
        await seed(target, residents)
        graph, server, task = await serve_graph()
        config = tmp / "deployment.yaml"
        config.write_text(yaml.safe_dump({"timezone": "WIB"}))
        env = worker_env(target, config, graph=graph)
        logs = tmp / f"logs-{n}"
        logs.mkdir()
        deployment = Deployment(env, logs, count=workers)
        try:
            await deployment.start()
            result = await drive(deployment, graph, residents, args.messages)
        finally:
            await deployment.stop()
            server.should_exit = True
            await task
    finally:
        if kind == "postgres":
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return {"database": kind, "workers": workers, "residents": args.residents, **result}


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default="sqlite:1,postgres:1,postgres:2,postgres:4",
                        help="database:workers, comma-separated")
    parser.add_argument("--residents", type=int, default=64,
                        help="residents writing at once (one message in flight each)")
    parser.add_argument("--messages", type=int, default=3000, help="measured messages")
    parser.add_argument("--database", help="a PostgreSQL server URL (default: a throwaway "
                        "cluster with durable settings)")
    parser.add_argument("--repeat", type=int, default=1, help="run the scenarios this many "
                        "times, interleaved, and report the median (the range in brackets)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    plan = [(k, int(w)) for k, w in (s.split(":") for s in args.scenarios.split(","))]
    plan = plan * args.repeat
    results = []
    with tempfile.TemporaryDirectory(prefix="tj-workers-bench-") as name:
        tmp = Path(name)
        cluster = Path(tempfile.mkdtemp(prefix="temanjiwa-pg-"))  # the server user reads it
        server_url = args.database
        started_cluster = False
        if server_url is None and any(k == "postgres" for k, _w in plan):
            server_url = start_cluster(cluster, settings=DURABLE)
            started_cluster = True
        try:
            for n, (kind, workers) in enumerate(plan):
                result = await scenario(kind, workers, server_url, tmp, args, n)
                results.append(result)
                print(json.dumps(result), flush=True)
        finally:
            if started_cluster:
                stop_cluster(cluster)
            else:
                cluster.rmdir()
    print()
    print(f"{args.residents} residents at once, {args.messages} messages per run, "
          f"{args.repeat} run(s) each")
    print("| database | workers | messages/s | p50 ms | p99 ms | worker CPU ms/msg |")
    print("|---|---|---|---|---|---|")
    for kind, workers in dict.fromkeys(plan):
        runs = [r for r in results if (r["database"], r["workers"]) == (kind, workers)]
        cells = [_cell([r[key] for r in runs])
                 for key in ("messages_per_s", "p50_ms", "p99_ms", "worker_cpu_ms")]
        print(f"| {kind} | {workers} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def _cell(values: list[float]) -> str:
    median = statistics.median(values)
    digits = 1 if median < 20 else 0
    if len(values) == 1:
        return f"{median:,.{digits}f}"
    return f"{median:,.{digits}f} ({min(values):,.{digits}f}–{max(values):,.{digits}f})"


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
