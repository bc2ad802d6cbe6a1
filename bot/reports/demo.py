"""A demo database with realistic synthetic activity, for a sample programme report.

Everything goes through the real service (`Conversations` with the shipped content, the
crisis detector, escalation and the anonymous counters) under a controllable clock: residents
of four fictional villages agree (or not), answer the onboarding, take screenings with
answers drawn from a per-resident severity, sometimes write crisis words or ask for a cadre;
cadres claim (sometimes late: the SLA chain raises the case) and close cases. A few residents
withdraw consent or delete their data. Nothing here is real.

Used by `temanjiwa report --demo OUT_DIR` and bench/seed_demo.py.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import build_runtime
from bot.cases.desk import OPERATOR
from bot.config import Config, Route, parse_config
from bot.reports.build import build_report
from bot.reports.files import load_report_content, write_report
from bot.reports.model import default_spec
from flows.messages import Inbound
from storage.sqlite import SqliteStore

DEMO_CONFIG: dict[str, Any] = {
    "timezone": "WIB",
    "areas": [
        {"id": "sukamaju", "label": "Desa Sukamaju", "route": "kader_sukamaju"},
        {"id": "mekarsari", "label": "Desa Mekarsari", "route": "kader_mekarsari"},
        {"id": "cempaka", "label": "Kel. Cempaka", "route": "kader_cempaka"},
        {"id": "tanjung", "label": "Desa Tanjung"},
    ],
    "routes": {
        "kader_sukamaju": {
            "name": "Kader Sukamaju",
            "telegram_chat_id": -1001,
            "supervisor": "puskesmas",
        },
        "kader_mekarsari": {
            "name": "Kader Mekarsari",
            "telegram_chat_id": -1002,
            "supervisor": "puskesmas",
        },
        "kader_cempaka": {
            "name": "Kader Cempaka",
            "telegram_chat_id": -1003,
            "supervisor": "puskesmas",
        },
        "puskesmas": {"name": "Puskesmas Contoh", "telegram_chat_id": -1009},
    },
    "default_route": "puskesmas",
}
AREA_WEIGHTS = {
    "sukamaju": 0.34,
    "mekarsari": 0.27,
    "cempaka": 0.22,
    "tanjung": 0.09,
    "lewati": 0.08,
}
AGE_WEIGHTS = {"dewasa": 0.74, "remaja": 0.1, "lansia": 0.11, "lewati": 0.05}
SCREENINGS = {
    "srq20": 0.26,
    "phq9": 0.24,
    "gad7": 0.18,
    "phq2": 0.1,
    "gad2": 0.08,
    "epds": 0.08,
    "pcptsd5": 0.06,
}
CRISIS_TEXTS = [  # (text, weight): levels/categories as the shipped lexicon sees them
    ("aku capek hidup", 0.3),
    ("rasanya pengen mati aja", 0.22),
    ("aku ingin bunuh diri", 0.18),
    ("saya sudah menyakiti diri sendiri tadi", 0.1),
    ("aku dipukuli suamiku tiap malam", 0.08),
    ("saya mendengar suara yang menyuruh saya", 0.05),
    ("aku mau bunuh diri malam ini, tali sudah siap", 0.07),
]
OUTCOMES = {
    "contacted": 0.42,
    "referred_puskesmas": 0.27,
    "referred_rsj": 0.05,
    "emergency_services": 0.04,
    "no_response": 0.14,
    "false_alarm": 0.08,
}
CLAIM_MEDIAN_MIN = {"urgent": 4, "high": 18, "check": 240}


class SilentSender:
    """Cadre alerts go nowhere in the demo (the dispatcher still runs its whole cycle)."""

    def __init__(self) -> None:
        self.count = 0

    async def send_alert(self, route: Route, alert: Any) -> str:
        self.count += 1
        return f"demo:{self.count}"

    async def update_alert(self, route: Route, external_ref: str, alert: Any) -> None:
        return None


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class DemoSummary:
    residents: int = 0
    turns: int = 0
    screenings: int = 0
    crisis_detections: int = 0
    cases: int = 0
    claimed: int = 0
    closed: int = 0
    withdrawn: int = 0
    deleted: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        rate = self.turns / self.seconds if self.seconds else 0
        return (
            f"demo: {self.residents} residents, {self.turns} turns through the service "
            f"({rate:.0f} turns/s), {self.screenings} screenings, {self.crisis_detections} "
            f"crisis detections, {self.cases} cases ({self.claimed} claimed, {self.closed} "
            f"closed), {self.withdrawn} consent withdrawals, {self.deleted} deletions; "
            f"{self.seconds:.1f} s"
        )


def demo_config() -> Config:
    return parse_config(DEMO_CONFIG, "(demo)")


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class _Sim:
    def __init__(self, runtime: Any, kit: Any, clock: Clock, rng: random.Random):
        self.runtime = runtime
        self.conversations = runtime.conversations
        self.kit = kit
        self.clock = clock
        self.rng = rng
        self.summary = DemoSummary()
        self.queue: list[tuple[datetime, int, Callable[[], Any]]] = []
        self.seq = itertools.count()

    def at(self, when: datetime, action: Callable[[], Any]) -> None:
        heapq.heappush(self.queue, (when, next(self.seq), action))

    async def run(self) -> None:
        while self.queue:
            when, _n, action = heapq.heappop(self.queue)
            self.clock.now = max(self.clock.now, when)
            await self.kit.dispatcher.tick()
            await action()

    # ------------------------------------------------------------------ a resident
    async def send(
        self, user: str, text: str | None = None, choice: str | None = None, node: str | None = None
    ):
        self.clock.now += timedelta(seconds=self.rng.randint(5, 40))
        inbound = Inbound(text=text, choice=choice, node=node, at=self.clock.now)
        turn = await self.conversations.handle("telegram", user, inbound)
        self.summary.turns += 1
        for event in turn.events:
            if event.name == "screening_completed":
                self.summary.screenings += 1
            elif event.name == "crisis_detected":
                self.summary.crisis_detections += 1
            elif event.name == "escalation_created":
                self.summary.cases += 1
                self.schedule_cadre(event.data["case"], event.data.get("level", "high"))
            elif event.name == "consent_withdrawn":
                self.summary.withdrawn += 1
            elif event.name == "delete_requested":
                self.summary.deleted += 1
        return turn

    async def press(self, user: str, turn: Any, severity: float, prefer: str | None = None):
        last = turn.replies[-1] if turn.replies else None
        if last is None or not last.choices:
            return None
        ids = [c.id for c in last.choices]
        if prefer in ids:
            pick = prefer
        elif any(c.value is not None for c in last.choices):
            weights = [
                math.exp(severity * float(c.value or 0)) * (3 if not c.value else 1)
                for c in last.choices
            ]  # most answers are "not at all"
            pick = self.rng.choices(ids, weights=weights)[0]
        else:
            navigation = {"menu", "nanti", "kembali", "batal"}
            options = [i for i in ids if i not in navigation] or ids
            pick = self.rng.choice(options)
        return await self.send(user, choice=pick, node=last.node or None)

    async def visit(self, user: str, profile: dict[str, Any], first: bool) -> None:
        rng = self.rng
        greeting = ["halo", "/start", "hai"] if first else ["halo", "menu", "/start", "hai"]
        turn = await self.send(user, text=rng.choice(greeting))
        if first:
            if not profile["agrees"]:
                await self.send(user, choice="tidak_setuju", node=turn.replies[-1].node)
                await self.send(user, choice="menu", node="consent.tolak")
                return
            await self.send(user, choice="setuju", node="consent.intro")
            await self.send(user, choice=profile["age"], node="onboarding.usia")
            await self.send(user, choice=profile["area"], node="onboarding.daerah")
        elif not profile["agrees"]:
            return
        roll = rng.random()
        if roll < profile["crisis"]:
            text = rng.choices(
                [t for t, _w in CRISIS_TEXTS], weights=[w for _t, w in CRISIS_TEXTS]
            )[0]
            turn = await self.send(user, text=text)
            for _ in range(rng.randint(2, 7)):
                turn = await self.press(user, turn, 0.5, prefer=rng.choice(["boleh", "ya", None]))
                if turn is None:
                    break
            await self.send(user, text="menu")
            return
        if roll < profile["crisis"] + 0.02:
            turn = await self.send(user, choice="darurat", node="menu.utama")
            turn = await self.send(user, choice="kader", node="menu.bantuan_sekarang")
            for _ in range(rng.randint(3, 6)):
                turn = await self.press(user, turn, 0.3, prefer="ya")
                if turn is None:
                    break
            await self.send(user, text="menu")
            return
        for _ in range(1 if rng.random() < 0.8 else 2):
            if rng.random() < 0.72:
                await self.screening(user, profile)
        if rng.random() < 0.3:
            turn = await self.send(user, choice="belajar", node="menu.utama")
            await self.press(user, turn, 0)
        if rng.random() < 0.15:
            turn = await self.send(user, choice="riwayat", node="menu.utama")

    async def screening(self, user: str, profile: dict[str, Any]) -> None:
        instrument = _pick(self.rng, SCREENINGS)
        turn = await self.send(user, text=f"/start {instrument}")
        turn = await self.send(user, choice="mulai", node=turn.replies[-1].node)
        for _ in range(40):
            if any(e.name == "screening_completed" for e in turn.events):
                break
            turn = await self.press(user, turn, profile["severity"])
            if turn is None:
                break
        await self.send(user, text="menu")

    async def leave(self, user: str, how: str) -> None:
        if how == "withdraw":
            await self.send(user, choice="data", node="menu.utama")
            await self.send(user, choice="tarik", node="data_saya.lihat")
            await self.send(user, choice="ya", node="data_saya.tarik")
        else:
            await self.send(user, text="/hapus")
            await self.send(user, choice="ya", node="hapus.konfirmasi")

    # ------------------------------------------------------------------ cadres
    def schedule_cadre(self, code: str, level: str) -> None:
        median = CLAIM_MEDIAN_MIN.get(level, 60)
        minutes = median * math.exp(self.rng.gauss(0, 0.9))
        if self.rng.random() < 0.08:
            return  # never claimed in the demo period: stays open
        claim_at = self.clock.now + timedelta(minutes=minutes)
        self.at(claim_at, lambda: self.claim(code))

    async def claim(self, code: str) -> None:
        result = await self.kit.desk.claim(code, OPERATOR)
        if not result.ok:
            return
        self.summary.claimed += 1
        if self.rng.random() < 0.9:
            close_at = self.clock.now + timedelta(hours=self.rng.uniform(1, 72))
            self.at(close_at, lambda: self.resolve(code))

    async def resolve(self, code: str) -> None:
        result = await self.kit.desk.resolve(code, OPERATOR, _pick(self.rng, OUTCOMES))
        if result.ok:
            self.summary.closed += 1


def _daytime(rng: random.Random, day: date, tz: Any) -> datetime:
    hour = rng.choices(
        range(6, 24), weights=[1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 5, 5, 4, 3, 2]
    )[0]
    local = datetime(day.year, day.month, day.day, hour, rng.randint(0, 59), tzinfo=tz)
    return local.astimezone(UTC)


async def seed_demo(
    db_path: Path,
    *,
    residents: int = 320,
    weeks: int = 12,
    end: date | None = None,
    seed: int = 7,
    content_dir: Path | None = None,
) -> tuple[Config, DemoSummary]:
    """Fill a new database at `db_path` with `weeks` of synthetic activity ending at `end`."""
    config = demo_config()
    tz = config.tz
    end = end or datetime.now(tz).date()
    start = end - timedelta(weeks=weeks) + timedelta(days=1)
    rng = random.Random(seed)
    clock = Clock(datetime(start.year, start.month, start.day, tzinfo=tz).astimezone(UTC))
    # The demo's cadres are slow on purpose: the fallback chain's warnings are expected here.
    noisy = ("bot.cases.dispatcher", "bot.cases.escalation", "bot.crypto")
    quiet = [logging.getLogger(n) for n in noisy]
    levels = [q.level for q in quiet]
    for q in quiet:
        q.setLevel(logging.CRITICAL)
    runtime = await build_runtime(
        config, content_dir=content_dir, db_path=db_path, clock=clock, alerts=SilentSender()
    )
    try:
        kit = runtime.escalation
        sim = _Sim(runtime, kit, clock, rng)
        span = (end - start).days + 1
        for n in range(residents):
            user = f"demo-{n}"
            # More residents join as the programme becomes known (later weeks weigh more).
            offset = min(span - 1, int(span * rng.random() ** 0.7))
            profile = {
                "agrees": rng.random() < 0.91,
                "age": _pick(rng, AGE_WEIGHTS),
                "area": _pick(rng, AREA_WEIGHTS),
                "severity": rng.gauss(-0.2, 0.55),
                "crisis": 0.02 if rng.random() < 0.85 else 0.12,
            }
            day = start + timedelta(days=offset)
            first = True
            while day <= end:
                when = _daytime(rng, day, tz)
                sim.at(when, _visit(sim, user, profile, first))
                first = False
                if rng.random() > 0.45:
                    break
                day += timedelta(days=rng.randint(5, 21))
            if rng.random() < 0.04:
                leave_day = min(end, start + timedelta(days=offset + rng.randint(1, 30)))
                how = "withdraw" if rng.random() < 0.5 else "delete"
                sim.at(_daytime(rng, leave_day, tz) + timedelta(hours=1), _leave(sim, user, how))
        sim.summary.residents = residents
        began = time.perf_counter()
        await sim.run()
        await kit.dispatcher.tick()
        sim.summary.seconds = time.perf_counter() - began
        return config, sim.summary
    finally:
        await runtime.close()
        for q, level in zip(quiet, levels, strict=True):
            q.setLevel(level)


def _visit(sim: _Sim, user: str, profile: dict[str, Any], first: bool) -> Callable[[], Any]:
    return lambda: sim.visit(user, profile, first)


def _leave(sim: _Sim, user: str, how: str) -> Callable[[], Any]:
    return lambda: sim.leave(user, how)


async def demo_report(
    out_dir: Path,
    *,
    content_dir: Path | None = None,
    residents: int = 320,
    weeks: int = 12,
    seed: int = 7,
    end: date | None = None,
    db_path: Path | None = None,
) -> tuple[list[Path], str]:
    """Seed a temporary demo database and write its weekly and monthly reports to out_dir."""
    with tempfile.TemporaryDirectory(prefix="temanjiwa-demo-") as tmp:
        db = db_path or Path(tmp) / "demo.db"
        config, summary = await seed_demo(
            db, residents=residents, weeks=weeks, seed=seed, end=end, content_dir=content_dir
        )
        content = load_report_content(config, content_dir)
        now = datetime.now(config.tz)
        last = end or now.date()
        paths: list[Path] = []
        async with SqliteStore(db) as store:
            first = last - timedelta(weeks=weeks) + timedelta(days=1)
            for by in ("week", "month"):
                start = first if by == "week" else first.replace(day=1)
                spec = default_spec(last, by, start, last)
                report = await build_report(store.reader, config, spec, now=now, content=content)
                paths.extend(write_report(report, out_dir))
    return paths, summary.text()
