"""Follow-up scheduler benchmark: how fast due check-ins go out, and what an idle tick costs.

    python bench/followup_bench.py                         # 1,000 residents, SQLite
    python bench/followup_bench.py --residents 5000
    python bench/followup_bench.py --database postgresql://…   # on PostgreSQL instead

Residents with a stored session and a crisis series are written directly (the effect
handler the offer's "ya" runs), the clock moves one day on, and the scheduler ticks until
every first check-in was handed to a sender that accepts at once (no network). Reports
check-ins per second (claim, interject into the conversation, mark sent, count) and the
mean time of a claim round with nothing due (a read, no write lock).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import wire  # noqa: E402
from bot.cases.senders import LogAlertSender  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.conversations import EffectContext  # noqa: E402
from bot.crypto import Sealer, generate_key  # noqa: E402
from flows.linter import load_content  # noqa: E402
from flows.messages import Event, Reply  # noqa: E402
from flows.runtime import Engine  # noqa: E402
from flows.session import Session  # noqa: E402
from storage import make_store  # noqa: E402

START = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)  # 10.00 WIB


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Accepting:
    """A check-in sender that takes everything at once."""

    def __init__(self) -> None:
        self.sent = 0

    def plan(self, platform_id: str, last_seen: datetime | None, now: datetime) -> str:
        return "text"

    async def send(self, platform_id: str, replies: Sequence[Reply]) -> str:
        self.sent += 1
        return "sent"

    async def invite(self, platform_id: str) -> str:
        return "sent"


async def run(residents: int, database: str) -> None:
    clock = Clock()
    engine = Engine(load_content(ROOT / "content" / "id"))
    store = make_store(database)
    await store.open()
    conversations, kit = wire(engine, store, Config(), secret=b"bench", alerts=LogAlertSender(),
                              sealer=Sealer(generate_key().encode()), clock=clock)
    sender = Accepting()
    kit.followups.senders.attach("telegram", sender)
    started = time.perf_counter()
    for first in range(0, residents, 200):
        async with store.transaction() as tx:
            for n in range(first, min(first + 200, residents)):
                key = conversations.key_for("telegram", str(n))
                session = Session(consent_at=START.isoformat(), consent_version="1",
                                  profile={"age_group": "dewasa"})
                await tx.save_session(key, session, clock.now)
                ctx = EffectContext(tx, key, "telegram", str(n), session, clock.now)
                await kit.followups.effects.on_accepted(ctx, Event("followup_accepted",
                                                                   {"kind": "crisis"}))
    print(f"{residents} series scheduled in {time.perf_counter() - started:.1f} s")
    scheduler = kit.followups.scheduler
    scheduler.batch = 50
    idle = []
    for _ in range(100):
        tick = time.perf_counter()
        await scheduler.run_once()
        idle.append(time.perf_counter() - tick)
    clock.now += timedelta(days=1)
    started = time.perf_counter()
    while sender.sent < residents:
        if await scheduler.run_once() == 0:
            raise SystemExit("a tick sent nothing before all were sent")
    elapsed = time.perf_counter() - started
    print(f"first check-ins sent: {sender.sent} in {elapsed:.2f} s "
          f"({sender.sent / elapsed:,.0f} per second)")
    print(f"a claim round with nothing due: mean {statistics.mean(idle) * 1000:.2f} ms "
          f"over {len(idle)}")
    await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=1000)
    parser.add_argument("--database", help="a postgresql:// URL (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = args.database or str(Path(tmp) / "bench.db")
        asyncio.run(run(args.residents, database))


if __name__ == "__main__":
    main()
