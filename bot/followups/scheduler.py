"""The follow-up scheduler: sends each due check-in exactly once, inside the sending hours.

A tick (every few seconds in `run_forever`, run by bot/serve.py beside the dispatcher):

1. `expire_sending`: a check-in whose send began but whose lease ran out (the process died
   mid-send) may have reached the resident: it becomes `unconfirmed` and is never resent.
2. `close_overdue`: a check-in without an answer after `answer_days` is `unanswered`. An
   unanswered offer (after a resolved case) ends: its address is deleted. An unanswered
   last check-in ends the series, and for a high-risk series (`flag_unanswered`) becomes a
   low-urgency task for the cadre route of the resident's case (flag.py, through the
   outbox like any case card). A series with nothing left to send or wait for ends.
3. `forget_old_noes`: a "no" older than `ask_again_days` is forgotten.
4. `run_once`: due check-ins are claimed in one short transaction (state `claimed`, this
   scheduler's token, a lease; PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: the write
   lock). For each: outside the sending hours it goes back to wait for the next start;
   the resident in a relay with a cadre, or in the crisis flow within the last hour: an
   hour later; otherwise
   `Conversations.interject` puts the check-in into their conversation and, in the same
   transaction, marks it `sending` — only if this scheduler still holds the claim, so a
   check-in cancelled meanwhile ("berhenti", /hapus, retention deleted its row) is never
   sent. Then the channel sends it once and the row becomes `sent`; a failure that
   certainly sent nothing goes back to `pending` with backoff (at most MAX_ATTEMPTS
   tries); "maybe sent" is `unconfirmed`; a resident who blocked the bot ends the series.

A process killed after claiming and before sending leaves a `claimed` row: once its lease
runs out, another tick claims it again and sends it (exactly once). WhatsApp outside the
24-hour window without a `whatsapp.followup_template`: the check-in is `skipped`, counted
and logged, never reported as sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from bot.cases.dispatcher import Backoff
from bot.config import Config
from bot.conversations import Clock, Conversations, utc_now
from bot.crypto import Sealer
from bot.followups.counting import count
from bot.followups.delivery import CheckinRouter, Status
from bot.followups.flag import flag_unanswered
from bot.followups.schedule import next_allowed
from flows.followups import FollowupSettings, checkin_params, offer_params
from flows.runtime import Engine
from storage import cases, followups
from storage.base import Store
from storage.followups import Checkin, Series

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BUSY_DELAY = timedelta(hours=1)  # in the crisis flow, or in a relay with a cadre
NO_CHANNEL_DELAY = timedelta(minutes=5)  # the resident's channel is not running (yet)
CLOSED_DELAY = timedelta(minutes=1)  # WhatsApp said the window closed: plan again
HOUSEKEEPING_EVERY = timedelta(minutes=1)


class CheckinScheduler:
    def __init__(
        self,
        store: Store,
        conversations: Conversations,
        engine: Engine,
        config: Config,
        sealer: Sealer,
        senders: CheckinRouter,
        *,
        clock: Clock = utc_now,
        lease: timedelta = timedelta(minutes=2),
        send_timeout: float = 60.0,
        backoff: Backoff | None = None,
        batch: int = 10,
        token: str | None = None,
    ):
        assert send_timeout < lease.total_seconds(), "a send must end before its lease does"
        self.store = store
        self.conversations = conversations
        self.engine = engine
        self.config = config
        self.sealer = sealer
        self.senders = senders
        self.clock = clock
        self.lease = lease
        self.send_timeout = send_timeout
        self.backoff = backoff or Backoff(base=60.0, factor=3.0, cap=3600.0)
        self.batch = batch
        self.token = token or secrets.token_hex(8)
        self.counters: Counter[str] = Counter()
        self._housekept: datetime | None = None

    @property
    def settings(self) -> FollowupSettings | None:
        return self.engine.content.followups

    # ------------------------------------------------------------------ loop
    async def run_forever(self, stop: asyncio.Event | None = None, interval: float = 10.0) -> None:
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("follow-up tick failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def tick(self) -> int:
        """One round; returns how many check-ins were sent. The housekeeping (steps 1–3)
        runs at most once a minute by the scheduler's clock."""
        settings = self.settings
        if settings is None:
            return 0
        now = self.clock()
        if self._housekept is None or now - self._housekept >= HOUSEKEEPING_EVERY:
            self._housekept = now
            await self.expire_sending()
            await self.close_overdue(settings)
            await self.forget_old_noes(settings)
        return await self.run_once(settings)

    def health(self) -> dict[str, Any]:
        """For /healthz: counts only, and whether WhatsApp can check in outside its window."""
        return {"followups": {"enabled": self.settings is not None,
                              "channels": list(self.senders.channels), **self.senders.notes,
                              **dict(sorted(self.counters.items()))}}

    # ------------------------------------------------------------------ housekeeping
    async def expire_sending(self) -> int:
        async with self.store.transaction() as tx:
            found = await followups.expire_sending(tx, self.clock())
        for checkin in found:
            self.counters["unconfirmed"] += 1
            log.warning("check-in %s was being sent when its scheduler stopped; it may have "
                        "arrived, so it is not sent again", checkin.idem_key)
        return len(found)

    async def close_overdue(self, settings: FollowupSettings) -> int:
        now = self.clock()
        tz = self.config.tz
        async with self.store.transaction() as tx:
            overdue = await followups.overdue(tx, now - timedelta(days=settings.answer_days))
            for checkin in overdue:
                await followups.mark_unanswered(tx, checkin.id)
                series = await followups.series_by_id(tx, checkin.followup_id)
                if series is None or not (checkin.step == 0 or checkin.is_last):
                    continue
                if checkin.step > 0 and settings.plan(series.kind).flag_unanswered:
                    code = await flag_unanswered(tx, self.config, series, now)
                    await count(tx, tz, now, "flagged", series.kind, series.area)
                    self.counters["flagged"] += 1
                    log.info("unanswered high-risk follow-up: cadre task %s", code)
                await followups.end_series(tx, series.user_key)
            for series in await followups.finished(tx):  # e.g. the last one answered in words
                await followups.end_series(tx, series.user_key)
        return len(overdue)

    async def forget_old_noes(self, settings: FollowupSettings) -> int:
        before = self.clock() - timedelta(days=settings.ask_again_days)
        async with self.store.transaction() as tx:
            old = await followups.expired(tx, "declined", before)
            for series in old:
                await followups.end_series(tx, series.user_key)
        return len(old)

    # ------------------------------------------------------------------ delivery
    async def run_once(self, settings: FollowupSettings | None = None) -> int:
        settings = settings or self.settings
        if settings is None:
            return 0
        now = self.clock()
        if not await followups.any_due(self.store.reader, now):
            return 0
        async with self.store.transaction() as tx:
            claimed = await followups.claim_due(tx, now, self.token, now + self.lease,
                                                self.batch)
        sent = 0
        for checkin in claimed:
            try:
                sent += await self._deliver(checkin, settings)
            except Exception:
                # As after a crash: the lease runs out; a check-in still `claimed` is claimed
                # again, one already `sending` (it may have gone out) becomes unconfirmed.
                log.exception("a check-in could not be handled; its lease decides what next")
        return sent

    async def _deliver(self, checkin: Checkin, settings: FollowupSettings) -> int:
        now = self.clock()
        allowed = next_allowed(now, self.config.tz, settings)
        if allowed > now:
            await self._release(checkin, allowed, None)  # quiet hours: the next decent hour
            return 0
        reader = self.store.reader
        series = await followups.series_by_id(reader, checkin.followup_id)
        if series is None:
            return 0  # cancelled since the claim: its rows are gone
        address = self.sealer.open_json(series.address_enc) if series.address_enc else None
        if not isinstance(address, dict) or not address.get("id"):
            log.error("a follow-up address cannot be opened (key changed?): series ended")
            await self._end(series, "skipped")
            return 0
        channel, platform_id = str(address.get("channel")), str(address["id"])
        sender = self.senders.get(channel)
        if sender is None:
            self.counters["waiting_for_channel"] += 1
            await self._release(checkin, now + NO_CHANNEL_DELAY, f"{channel} is not running")
            return 0
        if await cases.relay_for_user(reader, checkin.user_key) is not None:
            await self._release(checkin, now + BUSY_DELAY, "in a relay with a cadre")
            return 0
        stored = await self.store.load_session(checkin.user_key)
        if stored is None:
            await self._end(series, None)
            return 0
        crisis = self.engine.content.role("crisis")
        if any(f.flow == crisis for f in stored.session.stack) and \
                now - stored.updated_at < BUSY_DELAY:
            await self._release(checkin, now + BUSY_DELAY, "talking through the crisis flow")
            return 0
        plan = sender.plan(platform_id, stored.updated_at, now)
        if plan == "closed":
            self.counters["skipped_no_template"] += 1
            log.warning("a %s check-in was not sent: the 24-hour window is closed and "
                        "whatsapp.followup_template is not configured", channel)
            await self._give_up(checkin, series, "skipped", "window closed, no template")
            return 0
        flow, params = self._flow(checkin, series, settings, plan)
        lease_until = now + self.lease

        async def hold(tx: Any) -> bool:
            return await followups.mark_sending(tx, checkin.id, self.token, lease_until)

        replies = await self.conversations.interject(checkin.user_key, flow, params, hold=hold)
        if replies is None:  # cancelled meanwhile: nothing to do (the rows are gone)
            await self._release(checkin, now + NO_CHANNEL_DELAY, "not sent")
            return 0
        status: Status
        try:
            if plan == "text":
                status = await asyncio.wait_for(sender.send(platform_id, replies),
                                                self.send_timeout)
            else:
                status = await asyncio.wait_for(sender.invite(platform_id), self.send_timeout)
        except TimeoutError:
            status = "unsure"
        except Exception:
            log.exception("a check-in sender failed unexpectedly; not resent")
            status = "unsure"
        return await self._record(checkin, series, status, plan)

    def _flow(self, checkin: Checkin, series: Series, settings: FollowupSettings,
              via: str) -> tuple[str, dict[str, Any]]:
        if checkin.step == 0:
            return settings.offer_flow, offer_params(series.kind, category=series.category,
                                                     source=series.source or "case_resolved")
        steps = checkin.step if checkin.is_last else max(
            checkin.step + 1, len(settings.plan(series.kind).days))
        return settings.checkin_flow, checkin_params(
            series.kind, category=series.category, step=checkin.step, steps=steps,
            checkin=checkin.id, via=via)

    async def _record(self, checkin: Checkin, series: Series, status: Status, via: str) -> int:
        now = self.clock()
        tz = self.config.tz
        attempts = checkin.attempts + 1  # counted when the send began
        self.counters[f"status_{status}"] += 1
        if status == "sent":
            async with self.store.transaction() as tx:
                owned = await followups.finish(tx, checkin.id, self.token, "sent", now, via=via)
                await count(tx, tz, now, "sent", series.kind, series.area)
            if not owned:
                log.warning("check-in %s was sent after its lease ran out", checkin.idem_key)
            return 1
        if status == "blocked":
            log.info("a resident blocked the bot: their follow-up series ended")
            await self._end(series, "blocked")
            return 0
        if status == "unsure":
            async with self.store.transaction() as tx:
                await followups.finish(tx, checkin.id, self.token, "unconfirmed", now, via=via,
                                       error="may have arrived; not resent")
            log.warning("check-in %s may have arrived (timeout); not resent", checkin.idem_key)
            return 0
        if attempts >= MAX_ATTEMPTS:
            log.error("check-in %s not delivered after %d attempts; skipped", checkin.idem_key,
                      attempts)
            await self._give_up(checkin, series, "failed", f"{status} after {attempts} attempts")
            return 0
        delay = CLOSED_DELAY if status == "closed" else self.backoff.delay(attempts)
        settings = self.settings
        due = next_allowed(now + delay, tz, settings) if settings else now + delay
        await self._release(checkin, due, status)
        return 0

    # ------------------------------------------------------------------ state changes
    async def _release(self, checkin: Checkin, due: datetime, error: str | None) -> None:
        async with self.store.transaction() as tx:
            await followups.release(tx, checkin.id, self.token, due, error)

    async def _give_up(self, checkin: Checkin, series: Series, state: str, error: str) -> None:
        now = self.clock()
        async with self.store.transaction() as tx:
            if not await followups.finish(tx, checkin.id, self.token, state, now, error=error):
                return
            await count(tx, self.config.tz, now, "skipped", series.kind, series.area)
            if checkin.step == 0 or await followups.still_to_come(tx, series.id) == 0:
                await followups.end_series(tx, series.user_key)

    async def _end(self, series: Series, stage: str | None) -> None:
        now = self.clock()
        async with self.store.transaction() as tx:
            ended = await followups.end_series(tx, series.user_key)
            if ended is not None and stage is not None:
                await count(tx, self.config.tz, now, stage, series.kind, series.area)
        if stage is not None:
            self.counters[f"ended_{stage}"] += 1
