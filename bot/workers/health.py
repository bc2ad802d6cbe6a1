"""What `GET /healthz` says about the database and this worker (numbers and names only).

    "database": {"backend": "postgresql", "reachable": true, "schema_version": 4,
                 "latency_ms": 0.8, "inbox_waiting": 0, "inbox_claimed": 2},
    "worker": {"id": "host:pid:abc123", "role": "worker", "runs": [...], "inbox": {...}}

An unreachable database makes the status "degraded" (HTTP 503), so a load balancer stops
sending webhooks to this worker while it cannot keep them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from bot.workers.inbox import Inbox
from storage.base import Store


async def database_health(store: Store) -> dict[str, Any]:
    started = time.perf_counter()
    backend = getattr(store, "dialect", "unknown")
    try:
        version = await store.schema_version()
        counts = await Inbox.counts_of(store)
    except Exception as exc:
        return {"backend": backend, "reachable": False, "error": type(exc).__name__}
    return {
        "backend": backend,
        "reachable": True,
        "schema_version": version,
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        **counts,
    }


def worker_role(*, postgres: bool, polling: bool) -> str:
    """"worker": one of any number on PostgreSQL; "single": the only process allowed
    (an SQLite file, or Telegram long polling, which one process at a time may do)."""
    return "worker" if postgres and not polling else "single"


async def health(store: Store, inbox: Inbox, *, role: str,
                 runs: Sequence[str]) -> dict[str, Any]:
    database = await database_health(store)
    body: dict[str, Any] = {
        "database": database,
        "worker": {"id": inbox.worker_id, "role": role, "runs": list(runs),
                   "inbox": inbox.metrics()},
    }
    if not database["reachable"]:
        body["status"] = "degraded"
    return body
