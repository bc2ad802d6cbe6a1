"""The outbox dispatcher: delivers cadre alerts with retries, and climbs the fallback chain.

Loop (`tick`, every second in `run_forever`):

1. `check_deadlines`: an open case nobody claimed by its deadline (urgent 5 min, high 30 min,
   check 24 h by default; `escalation:` in the config) is re-alerted on its route and
   raised to the next tier: the route's `supervisor` (e.g. the puskesmas), that route's
   supervisor, then the default route; at the end of the chain the last route is reminded
   every period. Each step is a row in `case_events`.
2. `run_once`: claim due outbox rows in one short transaction (state `sending`, this
   dispatcher's token, a lease), build each alert from the case as it is now, send outside
   the transaction, then mark the row `sent` — only if this dispatcher still holds the
   claim. A failure puts the row back to `pending` with exponential backoff. A dispatcher
   killed mid-way leaves `pending` rows (sent after restart) or `sending` rows whose lease
   runs out (claimed again, with the same idempotency key for the sender to de-duplicate).
   Telegram has no idempotency key: a card retaken that way, or retried after a timeout,
   may be a second copy, so it is marked "(ulang)" (`OutboxRow.maybe_delivered`); the
   first copy cannot be looked up to be edited (the Bot API cannot find a message).

Two dispatchers (two processes on one SQLite file) never claim one row: claims are
`BEGIN IMMEDIATE` transactions and every state change is conditional on the claim token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.cases.cards import Alert, build_alert
from bot.cases.routing import next_route, queue_updates, route_of, sla_minutes
from bot.cases.senders import AlertSender
from bot.config import Config, Route
from bot.conversations import Clock, utc_now
from bot.crypto import Sealer
from storage import cases
from storage.base import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Delay before attempt n+1 after n failed attempts: base·factor^(n-1), at most `cap`."""

    base: float = 5.0
    factor: float = 2.0
    cap: float = 300.0

    def delay(self, attempts: int) -> timedelta:
        seconds = self.base * self.factor ** max(0, attempts - 1)
        return timedelta(seconds=min(self.cap, seconds))


@dataclass
class _Job:
    row: cases.OutboxRow
    route: Route
    alert: Alert
    targets: list[str]  # for updates: the external refs to edit


class Dispatcher:
    def __init__(
        self,
        store: Store,
        sender: AlertSender,
        config: Config,
        sealer: Sealer,
        *,
        clock: Clock = utc_now,
        lease: timedelta = timedelta(seconds=60),
        send_timeout: float = 20.0,
        backoff: Backoff | None = None,
        batch: int = 20,
        token: str | None = None,
    ):
        assert send_timeout < lease.total_seconds(), "a send must end before its lease does"
        self.store = store
        self.sender = sender
        self.config = config
        self.sealer = sealer
        self.clock = clock
        self.lease = lease
        self.send_timeout = send_timeout
        self.backoff = backoff or Backoff()
        self.batch = batch
        self.token = token or secrets.token_hex(8)

    # ------------------------------------------------------------------ loop
    async def run_forever(self, stop: asyncio.Event | None = None, interval: float = 1.0) -> None:
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("dispatcher tick failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def tick(self) -> int:
        await self.check_deadlines()
        return await self.run_once()

    # ------------------------------------------------------------------ fallback chain
    async def check_deadlines(self) -> int:
        """Raise every unclaimed case past its deadline one tier; returns how many moved."""
        now = self.clock()
        moved = 0
        async with self.store.transaction() as tx:
            for case in await cases.due_cases(tx, now):
                minutes = sla_minutes(self.config, case.level)
                visited = await cases.routes_alerted(tx, case.id)
                target = next_route(self.config, case.route, [*visited, case.route])
                await cases.enqueue(tx, case.id, case.code, case.route, "alert", "reminder", now)
                changes: dict[str, Any] = {
                    "deadline_at": now + timedelta(minutes=minutes),
                    "updated_at": now,
                }
                if target is not None:
                    await cases.enqueue(tx, case.id, case.code, target, "alert", "sla", now)
                    changes.update(route=target, tier=case.tier + 1)
                    await cases.add_event(
                        tx,
                        case.id,
                        case.user_key,
                        now,
                        "sla_raised",
                        f"unclaimed after {minutes} min: {case.route or '(no route)'} → {target} "
                        f"(tier {case.tier + 1})",
                    )
                    log.warning(
                        "case %s unclaimed after %d min: raised to %s", case.code, minutes, target
                    )
                else:
                    await cases.add_event(
                        tx,
                        case.id,
                        case.user_key,
                        now,
                        "sla_reminder",
                        f"unclaimed after {minutes} min; no further tier: reminded "
                        f"{case.route or '(no route)'}",
                    )
                    log.error("case %s still unclaimed at the end of its fallback chain", case.code)
                await cases.update_case(tx, case.id, **changes)
                moved += 1
        return moved

    # ------------------------------------------------------------------ delivery
    async def run_once(self) -> int:
        """Deliver what is due now; returns the number of rows delivered."""
        now = self.clock()
        jobs: list[_Job] = []
        async with self.store.transaction() as tx:
            rows = await cases.claim_due(tx, now, self.token, now + self.lease, self.batch)
            for row in rows:
                job = await self._prepare(tx, row, now)
                if job is not None:
                    jobs.append(job)
        delivered = 0
        for job in jobs:
            delivered += await self._deliver(job)
        return delivered

    async def _prepare(self, tx: Any, row: cases.OutboxRow, now: datetime) -> _Job | None:
        case = await cases.case_by_id(tx, row.case_id)
        if case is None:
            await cases.mark_cancelled(tx, row.id, self.token)
            return None
        if row.kind in ("alert", "words", "notice") and not case.is_open:
            await cases.mark_cancelled(tx, row.id, self.token)
            await cases.add_event(
                tx,
                case.id,
                case.user_key,
                now,
                "alert_cancelled",
                f"{row.kind} to {row.route or '(no route)'}: case closed",
            )
            return None
        route = route_of(self.config, row.route)
        words = None
        reply_to = None
        disclosure = None
        if row.kind == "words":
            disclosure = (
                await cases.disclosure_by_id(tx, row.disclosure_id) if row.disclosure_id else None
            )
            sealed = disclosure.words_enc if disclosure else None
            words = self.sealer.open(sealed) if sealed else None
            if not words or disclosure is None or not disclosure.share_words:
                await cases.mark_cancelled(tx, row.id, self.token)
                return None
        if row.kind in ("words", "notice"):
            cards = await cases.sent_alerts(tx, case.id, row.route)
            reply_to = cards[0].external_ref if cards else None
        targets: list[str] = []
        if row.kind == "update":
            targets = [
                r.external_ref
                for r in await cases.sent_alerts(tx, case.id, row.route)
                if r.external_ref
            ]
        alert = await build_alert(
            tx,
            self.config,
            case,
            kind=row.kind if row.kind in ("words", "notice") else "alert",
            reason=row.reason,
            words=words,
            words_of=disclosure,
            idempotency_key=row.idem_key,
            attempt=row.attempts,
            repeat=row.maybe_delivered,
            reply_to=reply_to,
        )
        return _Job(row, route, alert, targets)

    async def _deliver(self, job: _Job) -> int:
        row = job.row
        external_ref: str | None = None
        try:
            if row.kind == "update":
                for ref in job.targets:
                    await asyncio.wait_for(
                        self.sender.update_alert(job.route, ref, job.alert), self.send_timeout
                    )
            else:
                external_ref = await asyncio.wait_for(
                    self.sender.send_alert(job.route, job.alert), self.send_timeout
                )
        except Exception as exc:  # any failure: not delivered, try again later
            await self._failed(job, exc)
            return 0
        now = self.clock()
        async with self.store.transaction() as tx:
            owned = await cases.mark_sent(
                tx, row.id, self.token, now, str(external_ref) if external_ref is not None else None
            )
            if not owned:
                log.warning(
                    "outbox %s was delivered after its lease ran out; another dispatcher "
                    "may deliver it again (same idempotency key)",
                    row.idem_key,
                )
            case = await cases.case_by_id(tx, row.case_id)
            if row.kind != "update" and case is not None:
                await cases.add_event(
                    tx,
                    case.id,
                    case.user_key,
                    now,
                    f"{row.kind}_sent",
                    f"{row.reason} to {row.route or '(no route)'}, attempt {row.attempts}",
                )
            if (
                row.kind == "words"
                and case is not None
                and row.disclosure_id is not None
                and await cases.unsent_words(tx, row.disclosure_id) == 0
            ):
                await cases.update_disclosure(
                    tx, row.disclosure_id, words_enc=None, words_state="delivered", words_at=now
                )
                await cases.add_event(
                    tx,
                    case.id,
                    case.user_key,
                    now,
                    "words_wiped",
                    f"words of disclosure #{row.disclosure_id} delivered to the cadre "
                    "route(s); wiped",
                )
                await queue_updates(tx, case.id, case.code, now)
        return 1

    async def _failed(self, job: _Job, exc: BaseException) -> None:
        row = job.row
        now = self.clock()
        next_at = now + self.backoff.delay(row.attempts)
        error = type(exc).__name__
        if str(exc) and row.kind != "words":  # a words error could echo the words: type only
            error = f"{error}: {exc}"[:300]
        log.warning(
            "delivery of %s (attempt %d) failed: %s; next try at %s",
            row.idem_key,
            row.attempts,
            error,
            next_at.isoformat(),
        )
        async with self.store.transaction() as tx:
            await cases.mark_retry(tx, row.id, self.token, next_at, error)
            case = await cases.case_by_id(tx, row.case_id)
            if case is not None and row.kind != "update":
                await cases.add_event(
                    tx,
                    case.id,
                    case.user_key,
                    now,
                    f"{row.kind}_failed",
                    f"attempt {row.attempts} to {row.route or '(no route)'}: {error}",
                )
