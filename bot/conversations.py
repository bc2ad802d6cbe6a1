"""Conversations: the one path every channel uses for a resident's message.

platform id → user_key (HMAC) → load session → engine → one storage transaction
(session, results, cases…, the platform's update id) → replies. The transaction commits
before any reply is returned, so whatever the bot says has already been recorded.

What else happens in a turn is given when the service is built (bot/app.py), never added
later: `effects` (handlers for the engine's events, e.g. escalation), `before_engine` (a
resident in a relay with a cadre) and `observers` (they see every turn's events inside its
transaction: anonymous counts, a case's "last replied").

`interject` is the one turn the bot starts itself (a follow-up check-in, bot/followups/):
the same per-resident lock, the engine, and one transaction for the new session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from flows.messages import Choice, Event, Inbound, Reply
from flows.runtime import FALLBACK_TEXT, Engine, EngineResult, HistoryItem
from flows.session import Session
from storage import deliveries, followups, replies
from storage.base import Store, Transaction
from storage.keys import user_key

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], datetime]
EffectHandler = Callable[["EffectContext", Event], Awaitable[list[Event]]]
# Sees all of a turn's events (incl. those effects added) inside its transaction.
TurnObserver = Callable[["EffectContext", list[Event]], Awaitable[None]]
# Runs before the engine; may answer instead of it (bot/cases/desk.py: the relay).
BeforeEngine = Callable[[str, str, str, Inbound, datetime], Awaitable["Intercept | None"]]

FALLBACK_ERROR = FALLBACK_TEXT  # for a channel whose turn failed before the engine answered


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Outbound:
    """A message for someone other than this turn's resident (the cadre in a relay), or for a
    resident from a cadre. Delivered by the channel named `channel` to `address` (its
    platform id / chat id); never stored."""

    channel: str
    address: str
    text: str
    choices: tuple[Choice, ...] = ()
    node: str = ""


@dataclass
class Turn:
    replies: list[Reply]
    events: list[Event]
    user_key: str
    outbound: list[Outbound] = field(default_factory=list)  # send after `replies`
    recorded: bool = False  # the delivery id was recorded in this turn's transaction
    urgent: bool = False  # a crisis turn: its writes and its replies go before ordinary ones
    kept: str | None = None  # the replies are kept under this delivery id until `delivered`


@dataclass
class EffectContext:
    """What an effect handler may use: the open transaction and who/when the turn is."""

    tx: Transaction
    user_key: str
    channel: str
    platform_user_id: str  # only to encrypt an agreed contact address; never stored plain
    session: Session
    now: datetime
    replies: Sequence[Reply] = ()  # what the bot says this turn (e.g. which hotlines it gave)
    # The resident's message, only for `escalate`/`crisis_detected` events when this very
    # message triggered the crisis detector (see WORDS_EVENTS). In memory only: a handler
    # must encrypt it before it touches the database, and only for an escalation.
    inbound_text: str | None = None
    outbound: list[Outbound] = field(default_factory=list)  # e.g. "relay ended" to a cadre


@dataclass
class Intercept:
    """`before_engine`'s answer (bot/cases/desk.py: the relay)."""

    turn: Turn | None = None  # answer with this and skip the engine
    outbound: list[Outbound] = field(default_factory=list)  # deliver these as well


Deliver = Callable[[Outbound], Awaitable[Any]]


class OutboundRouter:
    """Delivers an `Outbound` through the channel it names (a relay may cross channels).

    Channels get `router.deliver` when they are built and bot/app.py attaches each running
    channel's own delivery; until a channel is attached, its messages raise `NoChannel`.
    """

    def __init__(self) -> None:
        self._channels: dict[str, Deliver] = {}

    def attach(self, channel: str, deliver: Deliver) -> None:
        self._channels[channel] = deliver

    async def deliver(self, outbound: Outbound) -> Any:
        deliver = self._channels.get(outbound.channel)
        if deliver is None:
            raise NoChannel(f"no running channel {outbound.channel!r} for this message")
        return await deliver(outbound)


class NoChannel(Exception):
    """An `Outbound` names a channel that is not running in this process."""


class Sealing(Protocol):
    """What keeping replies needs from bot/crypto.py's `Sealer` (given by bot/app.py)."""

    def seal_json(self, value: Any) -> bytes: ...

    def open_json(self, token: bytes | str | None) -> Any: ...


@dataclass(frozen=True)
class Undelivered:
    """Replies a turn committed that were never marked delivered (a crash, an outage)."""

    delivery_id: str
    platform_user_id: str
    replies: list[Reply]
    created_at: datetime


def _reply_dict(reply: Reply) -> dict[str, Any]:
    return {
        "text": reply.text,
        "node": reply.node,
        "choices": [[c.id, c.label, c.value, c.description] for c in reply.choices],
    }


def _reply_from(data: Mapping[str, Any]) -> Reply:
    choices = tuple(Choice(*c) for c in data.get("choices") or ())
    return Reply(str(data["text"]), choices, str(data.get("node") or ""))


WORDS_EVENTS = ("escalate", "crisis_detected")
URGENT_EVENTS = ("escalate", "crisis_detected")  # the turn goes first (store, channel)


class _StoreContext:
    """The engine's window on storage: only the resident's own history."""

    def __init__(self, store: Store, key: str):
        self.store = store
        self.key = key

    async def history(self) -> Sequence[HistoryItem]:
        return await self.store.history(self.key)

    async def followup(self) -> Mapping[str, Any]:
        return await followups.facts(self.store.reader, self.key)


class _KeyedLocks:
    """One asyncio.Lock per resident, dropped when nobody waits (memory stays flat)."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def __call__(self, key: str):
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        await lock.acquire()
        return _Release(self, key, lock)

    def _release(self, key: str, lock: asyncio.Lock) -> None:
        lock.release()
        _lock, users = self._locks[key]
        if users <= 1:
            del self._locks[key]
        else:
            self._locks[key] = (lock, users - 1)


class _Release:
    def __init__(self, owner: _KeyedLocks, key: str, lock: asyncio.Lock):
        self.owner, self.key, self.lock = owner, key, lock

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        self.owner._release(self.key, self.lock)


class Conversations:
    def __init__(self, engine: Engine, store: Store, secret: bytes, *,
                 clock: Clock = utc_now,
                 effects: Mapping[str, Sequence[EffectHandler]] | None = None,
                 before_engine: BeforeEngine | None = None,
                 observers: Sequence[TurnObserver] = (),
                 sealer: Sealing | None = None,
                 resend_grace: timedelta = timedelta(0)) -> None:
        self.engine = engine
        self.store = store
        self.secret = secret
        self.clock = clock
        self._locks = _KeyedLocks()
        handlers: dict[str, tuple[EffectHandler, ...]] = {
            "screening_completed": (self._store_result,),
        }
        for name, more in (effects or {}).items():
            handlers[name] = (*handlers.get(name, ()), *more)
        self._effects = handlers
        self._before_engine = before_engine
        self._observers = tuple(observers)
        self._sealer = sealer  # without one, replies are not kept (they hold results)
        # With several workers on one database, kept replies younger than this may be a
        # live worker's, being sent right now: a starting worker leaves them a while.
        self.resend_grace = resend_grace

    def key_for(self, channel: str, platform_user_id: str) -> str:
        return user_key(self.secret, channel, str(platform_user_id))

    async def handle(self, channel: str, platform_user_id: str, inbound: Inbound, *,
                     delivery_id: str | None = None) -> Turn:
        """Answer one message; per resident, messages are handled strictly one at a time.

        `delivery_id` (the platform's update or message id) is recorded in the turn's own
        transaction, so "answered" and "recorded as handled" commit together; a turn that
        writes nothing (a relay message) records it on its own.
        """
        key = self.key_for(channel, platform_user_id)
        async with await self._locks(key):
            turn = await self._handle_locked(channel, str(platform_user_id), key, inbound,
                                             delivery_id)
        if delivery_id is not None and not turn.recorded:
            await self.record_delivery(channel, delivery_id)
        return turn

    async def resume(self, channel: str, platform_user_id: str) -> list[Reply] | None:
        """The waiting question of a stored session, shown again (for a console restarted
        after a kill); nothing is written. None when the resident has no session."""
        key = self.key_for(channel, platform_user_id)
        async with await self._locks(key):
            stored = await self.store.load_session(key)
            if stored is None:
                return None
            return await self.engine.resume(stored.session, _StoreContext(self.store, key))

    async def exclusive(self, channel: str, platform_user_ids: Sequence[str],
                        work: Callable[[], Awaitable[T]]) -> T:
        """Run `work` while no message of these residents is being handled (e.g. moving one
        resident's data to their new number). Locks are taken in key order, so two such
        calls never wait on each other."""
        keys = sorted({self.key_for(channel, p) for p in platform_user_ids})
        async with contextlib.AsyncExitStack() as stack:
            for key in keys:
                await stack.enter_async_context(await self._locks(key))
            return await work()

    async def first_delivery(self, channel: str, delivery_id: str) -> bool:
        """Record a platform id now; False if it was recorded before (a redelivery)."""
        return await self.store.first_delivery(channel, delivery_id, self.clock())

    async def record_delivery(self, channel: str, delivery_id: str) -> None:
        """Record a platform id handled without a turn (a cadre action); never raises."""
        try:
            await self.store.first_delivery(channel, delivery_id, self.clock())
        except Exception:
            log.exception("could not record a %s delivery id", channel)

    async def delivered(self, channel: str, delivery_id: str) -> None:
        """The kept replies of `delivery_id` went out (or never can): forget them. Never
        raises; a row left behind is sent once more at the next start."""
        try:
            async with self.store.transaction() as tx:
                await replies.delivered(tx, channel, delivery_id)
        except Exception:
            log.exception("could not forget the delivered replies of a %s turn", channel)

    async def undelivered(self, channel: str) -> list[Undelivered]:
        """Replies of `channel` committed but not marked delivered at least `resend_grace`
        ago, oldest first. A row that cannot be opened (the key changed) is dropped and
        logged. So is an ordinary turn a newer turn of the resident has overtaken (another
        worker answered their next message): sent now, it would arrive after the answers
        to later messages, a stale menu out of order. A crisis turn's replies always go:
        the hotlines late beat no hotlines."""
        if self._sealer is None:
            return []
        settled = self.clock() - self.resend_grace
        out: list[Undelivered] = []
        for row in await replies.undelivered(self.store.reader, channel):
            if row.created_at > settled:
                continue
            try:
                data = self._sealer.open_json(row.sealed)
                kept = Undelivered(row.delivery_id, str(data["to"]),
                                   [_reply_from(r) for r in data["replies"]], row.created_at)
                urgent = bool(data.get("urgent", True))  # rows kept before the flag: send
            except Exception:
                log.error("kept replies of a %s turn cannot be read; dropped", channel)
                await self.delivered(channel, row.delivery_id)
                continue
            overtaken = row.session_saved_at is not None and row.session_saved_at > row.created_at
            if overtaken and not urgent:
                log.info("kept replies of a %s turn were overtaken by a newer turn; dropped",
                         channel)
                await self.delivered(channel, row.delivery_id)
                continue
            out.append(kept)
        return out

    async def recent_deliveries(self, channel: str, since: datetime) -> set[str]:
        """Platform ids recorded since `since` (a channel loads them once, at start)."""
        return await deliveries.seen_since(self.store.reader, channel, since)

    async def interject(self, key: str, flow_id: str, params: Mapping[str, Any], *,
                        hold: Callable[[Transaction], Awaitable[bool]]) -> list[Reply] | None:
        """The bot speaks first (a follow-up check-in): `flow_id` runs over whatever the
        resident was doing, under their lock, and the new session is stored with `hold`'s
        writes in one transaction (`hold` runs first: False means "not now", nothing is
        written). Returns what to send; None when nothing was written (hold refused, or
        the resident has no session any more). Effects do not run: what the bot says
        first emits nothing; the resident's answer is a normal turn."""
        async with await self._locks(key):
            stored = await self.store.load_session(key)
            if stored is None:
                return None
            result = await self.engine.interject(stored.session, flow_id, params, self.clock(),
                                                 _StoreContext(self.store, key))
            async with self.store.transaction() as tx:
                if not await hold(tx):
                    return None
                saved = await followups.save_session_state(tx, key, result.session)
            return result.replies if saved else None  # (retention purged it meanwhile)

    async def _handle_locked(self, channel: str, platform_user_id: str, key: str,
                             inbound: Inbound, delivery_id: str | None) -> Turn:
        now = self.clock()
        if inbound.at is None or inbound.at.tzinfo is None:
            inbound = Inbound(inbound.text, inbound.choice, inbound.node, inbound.media, now)
        intercept = None
        if self._before_engine is not None:
            intercept = await self._before_engine(channel, platform_user_id, key, inbound, now)
            if intercept is not None and intercept.turn is not None:
                return intercept.turn
        stored = await self.store.load_session(key)
        try:
            result = await self.engine.handle(stored.session if stored else None, inbound,
                                              _StoreContext(self.store, key))
        except Exception:
            log.exception("engine failed; answering with the fallback message")
            return Turn([Reply(self.engine.fallback_text())], [Event("engine_error")], key,
                        intercept.outbound if intercept else [])
        events = list(result.events)
        deleted = any(e.name == "delete_requested" for e in events)
        words = None  # the message that set off the crisis detector, for the cadre (encrypted)
        if inbound.text and any(e.name == "crisis_detected" and e.data.get("source") ==
                                "free_text" for e in events):
            words = inbound.text
        try:
            return await self._commit(channel, platform_user_id, key, now, result, events,
                                      deleted, words, intercept, delivery_id)
        except Exception:
            # The resident still gets the hotlines; the unchanged session lets them resend.
            log.exception("storing the turn failed; answering with the fallback message")
            return Turn([Reply(self.engine.fallback_text())], [Event("storage_error")], key, [])

    async def _commit(self, channel: str, platform_user_id: str, key: str, now: datetime,
                      result: EngineResult, events: list[Event], deleted: bool,
                      words: str | None, intercept: Intercept | None,
                      delivery_id: str | None) -> Turn:
        urgent = self._is_crisis(result, events)
        async with self.store.transaction(urgent=urgent) as tx:
            ctx = EffectContext(tx, key, channel, platform_user_id, result.session, now,
                                result.replies)
            for event in list(events):
                handlers = self._effects.get(event.name, ())
                with_words = words is not None and event.name in WORDS_EVENTS
                for handler in handlers:
                    events.extend(await handler(replace(ctx, inbound_text=words)
                                                if with_words else ctx, event))
                if not handlers and event.name == "escalate":
                    log.error("escalate event but no escalation handler: NO CADRE ALERT was "
                              "written (build the service with bot.app)")
            for observer in self._observers:
                await observer(ctx, events)
            if delivery_id is not None:
                await deliveries.note(tx, channel, delivery_id, now)
            if deleted:
                await tx.delete_user(key)
            else:
                await tx.save_session(key, result.session, now)
            kept = None
            if delivery_id is not None and self._sealer is not None and result.replies:
                # After delete_user: a /hapus turn's farewell is kept until it is sent, and
                # without the user_key, so nothing links the resident to it.
                sealed = self._sealer.seal_json(
                    {"to": platform_user_id, "urgent": urgent,
                     "replies": [_reply_dict(r) for r in result.replies]}
                )
                await replies.keep(tx, channel, delivery_id, "" if deleted else key, sealed, now)
                kept = delivery_id
        outbound = (intercept.outbound if intercept else []) + ctx.outbound
        return Turn(result.replies, events, key, outbound, recorded=delivery_id is not None,
                    urgent=urgent, kept=kept)

    def _is_crisis(self, result: EngineResult, events: Sequence[Event]) -> bool:
        """A turn that detected crisis signs, or that runs inside the crisis protocol."""
        if any(e.name in URGENT_EVENTS for e in events):
            return True
        top = result.session.top
        return top is not None and top.flow == self.engine.content.role("crisis")

    async def _store_result(self, ctx: EffectContext, event: Event) -> list[Event]:
        """Keep a screening result in the resident's history: adults who consented only."""
        session = ctx.session
        minors = self.engine.content.system.minor_age_groups
        if not session.has_consent or session.profile.get("age_group") in minors:
            return []
        data = event.data
        try:
            score = float(data.get("score") or 0)
        except (TypeError, ValueError):
            log.error("screening_completed without a numeric score from %s", data.get("instrument"))
            return []
        await ctx.tx.add_result(ctx.user_key, str(data.get("instrument")), score,
                                str(data.get("band")), list(data.get("flags") or []), ctx.now)
        return []
