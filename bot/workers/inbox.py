"""The durable inbox: nothing a platform was answered 200 for is lost, and one resident's
messages are handled one at a time and in order, on whichever worker.

1. A webhook calls `put(channel, delivery_id, user_key, payload)` before it answers: one
   short transaction records the platform's id (the de-duplication every worker shares)
   and keeps the message, sealed with the encryption key (bot/crypto.py). False means a
   repeat (answer 200, drop it); an exception means nothing was kept (answer 500: the
   platform delivers again).
2. Then this worker serves the resident (`serve`): it claims them in the database (one
   worker at a time; the lease is renewed by `run` while the worker lives), hands their
   waiting messages, oldest first, to the channel's handler (turn and replies), and
   releases the claim after the replies went out — so the next message, on any worker, is
   answered after this one.
3. The turn's own transaction deletes the message (storage.deliveries.note): the typed text
   is gone as soon as the turn has committed, and no message is answered twice. A message
   that no turn recorded (a cadre command, a dropped flood message) is deleted after its
   handler returned.
4. A worker that dies leaves claims that run out; `run` (every worker, every second) finds
   residents with messages nobody serves and serves them. Each claim counts an attempt at
   the resident's oldest message; one that was first in line more than `max_attempts`
   times (its workers kept dying) is given up (logged and counted, its text deleted), so
   one poisonous message cannot block a resident's queue.

SQL: storage/inbox.py. Claims, leases and `put` run in short transactions of their own
(`store.standalone()`), never inside a batch of turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from bot.conversations import Clock, utc_now
from bot.crypto import Sealer
from storage import inbox
from storage.base import Store

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]

LEASE_S = 15.0  # a dead worker's residents wait at most this long for another worker
MIN_LEASE_S = 3.0  # renewed every lease/3 by a loop that ticks every second
HANDOVER_S = 2.0  # a message this old that nobody serves is taken over by any worker
MAX_ATTEMPTS = 5


def worker_name() -> str:
    """host:pid:random — unique for every start of every worker."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Inbox:
    def __init__(
        self,
        store: Store,
        sealer: Sealer,
        *,
        worker_id: str | None = None,
        clock: Clock = utc_now,
        lease: float = LEASE_S,
        handover: float = HANDOVER_S,
        concurrency: int = 32,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.store = store
        self.sealer = sealer
        if lease < MIN_LEASE_S:
            raise ValueError(f"the inbox lease must be at least {MIN_LEASE_S:g} seconds")
        self.worker_id = worker_id or worker_name()
        self.clock = clock
        self.lease = timedelta(seconds=lease)
        self.handover = timedelta(seconds=handover)
        self.max_attempts = max_attempts
        self.counters: Counter[str] = Counter()
        self._handlers: dict[str, Handler] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._slots = asyncio.Semaphore(concurrency)
        self._renewed = 0.0

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self._handlers)

    def register(self, channel: str, handler: Handler) -> None:
        """The channel's handler for one message (`payload` as given to `put`)."""
        self._handlers[channel] = handler

    # ------------------------------------------------------------------ receiving
    async def put(self, channel: str, delivery_id: str, user_key: str,
                  payload: dict[str, Any]) -> bool:
        """Keep a message before its webhook is answered; False for a repeat. Raises if it
        could not be kept (answer 500). Serving the resident starts at once."""
        sealed = self.sealer.seal_json(payload)
        async with self.store.standalone() as tx:
            first = await inbox.put(tx, channel, delivery_id, user_key, sealed, self.clock())
        self.counters["received" if first else "duplicates"] += 1
        if first:
            self.serve(user_key)
        return first

    # ------------------------------------------------------------------ serving
    def serve(self, user_key: str) -> None:
        """Handle the resident's waiting messages in the background (once per resident in
        this worker; asking again while it runs makes it look again)."""
        running = self._tasks.get(user_key)
        if running is not None and not running.done():
            self._again.add(user_key)
            return
        # (A task that has just returned is done but still listed until its callback runs:
        # a message put now would wait for the sweep if it were left to that task.)
        task = asyncio.get_running_loop().create_task(self._serve(user_key))
        self._tasks[user_key] = task
        task.add_done_callback(lambda done, key=user_key: self._finished(key, done))

    def _finished(self, key: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        if not task.cancelled() and task.exception() is not None:
            self.counters["serve_errors"] += 1
            log.error("inbox: serving a resident failed", exc_info=task.exception())

    async def _serve(self, key: str) -> None:
        delay = 0.005  # the worker before is usually just sending its last reply
        while True:
            self._again.discard(key)
            async with self._slots:
                claimed = await self._claim(key)
                if claimed:
                    try:
                        await self._drain(key)
                    finally:
                        await self._release(key)
            if claimed and key not in self._again:
                return
            if not claimed:
                # Another worker serves them (and will see this message), or it died and
                # its lease runs out: look again until the messages are gone or ours.
                self.counters["claimed_elsewhere"] += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                if not await inbox.next_rows(self.store.reader, key, limit=1):
                    return

    async def _claim(self, key: str) -> bool:
        now = self.clock()
        async with self.store.standalone() as tx:
            claimed = await inbox.claim(tx, key, self.worker_id, now, now + self.lease)
            if claimed:
                await inbox.count_attempt(tx, key)  # sent with the COMMIT
            return claimed

    async def _release(self, key: str) -> None:
        async with self.store.standalone() as tx:
            await inbox.release(tx, key, self.worker_id)

    async def _drain(self, key: str) -> None:
        last: int | None = None
        while True:
            rows = await inbox.next_rows(self.store.reader, key, limit=1)
            if not rows:
                return
            row = rows[0]
            if row.id == last:  # handled, but no turn recorded it: it leaves the inbox now
                await self._drop(row.id)
                continue
            last = row.id
            if row.attempts > self.max_attempts:
                self.counters["given_up"] += 1
                log.error(
                    "inbox: a %s message was first in line for %d claims (the workers "
                    "handling it kept stopping); it is given up (deleted)",
                    row.channel, row.attempts,
                )
                await self._drop(row.id)
                continue
            payload = self.sealer.open_json(row.payload_enc)
            handler = self._handlers.get(row.channel)
            if payload is None or handler is None:
                self.counters["unreadable"] += 1
                log.error("inbox: a %s message cannot be read here (key changed, or the "
                          "channel is not running); it is deleted", row.channel)
                await self._drop(row.id)
                continue
            try:
                await handler(payload)
            except Exception:
                self.counters["handler_errors"] += 1
                log.exception("inbox: handling a %s message failed", row.channel)
                await self._drop(row.id)
            else:
                self.counters["handled"] += 1

    async def _drop(self, row_id: int) -> None:
        async with self.store.standalone() as tx:
            await inbox.drop(tx, row_id)

    # ------------------------------------------------------------------ the worker's loop
    async def run(self, stop: asyncio.Event | None = None, every: float = 1.0) -> None:
        """Until `stop`: renew this worker's claims and serve residents nobody serves."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("inbox: renewing claims or looking for waiting messages failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    async def tick(self) -> int:
        """One round of `run`; returns how many residents were taken over."""
        if self._tasks and time.monotonic() - self._renewed >= self.lease.total_seconds() / 3:
            await self._renew()
        now = self.clock()
        waiting = await inbox.waiting(self.store.reader, self.channels, now, now - self.handover)
        taken = 0
        for _channel, key in waiting:
            if key not in self._tasks:
                taken += 1
                self.counters["taken_over"] += 1
                self.serve(key)
        return taken

    async def wait_idle(self) -> None:
        """Wait until this worker serves nobody (tests; shutdown)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks.values()))
            await asyncio.sleep(0)  # let the done-callbacks unlist them

    async def drain(self, timeout: float = 30.0) -> bool:
        """Finish the residents being served (shutdown); False if some had to be cancelled
        (their messages stay in the inbox for the next worker). The claims are renewed
        meanwhile: `run` has stopped, and a slow last turn must not be taken over while
        it is still being answered."""
        renewing = asyncio.get_running_loop().create_task(self._keep_renewing())
        try:
            await asyncio.wait_for(self.wait_idle(), timeout)
        except TimeoutError:
            for task in list(self._tasks.values()):
                task.cancel()
            return False
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        return True

    async def _keep_renewing(self) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            with contextlib.suppress(Exception):
                await self._renew()

    async def _renew(self) -> None:
        async with self.store.standalone() as tx:
            await inbox.renew(tx, self.worker_id, self.clock() + self.lease)
        self._renewed = time.monotonic()

    def metrics(self) -> dict[str, Any]:
        return {"worker": self.worker_id, "serving": len(self._tasks),
                **dict(sorted(self.counters.items()))}

    @staticmethod
    async def counts_of(store: Store) -> dict[str, int]:
        """Messages waiting in the inbox and residents claimed, over all workers."""
        return await inbox.counts(store.reader)
