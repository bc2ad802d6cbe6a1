"""The WhatsApp channel: signed webhook → background work per resident → engine → Graph API.

What happens to one POST (`WhatsAppChannel.handle_post`, called by bot/web.py):

1. The signature is checked on the raw bytes and the payload parsed (bot/whatsapp/webhook.py);
   a missing or wrong signature answers 403 and nothing is looked at.
2. Every message id is de-duplicated twice: in memory (`RecentIds`, cheap) and durably,
   *before* the 200 goes out. With the durable inbox (bot/workers/inbox.py, always given by
   bot/app.py) the message itself is kept there too, sealed, until its turn has committed;
   without it only the id is recorded (`store.first_delivery`). If the database cannot
   record it, the POST is answered 500 so Meta delivers it again: nothing is lost.
   Only a transient failure earns that retry: a payload that can never succeed (nested
   too deeply, an id that is not valid Unicode) is answered 200, counted and logged
   without content. Quiet events (below) are neither kept nor de-duplicated.
3. Accepted messages are queued per recipient and the POST is answered at once. One worker
   per resident (with the inbox: one worker of all the workers, which claims the resident)
   handles that resident's messages strictly in arrival order — engine turn *and* sending —
   so two quick messages never get interleaved answers.
4. Payload parts that cannot be parsed are counted and logged (path and reason only, never
   content); `statuses[]` failures are counted, and a 131047 ("outside the 24-hour
   window") for a message we sent to a cadre or as a relay puts that message on hold and
   sends the approved template instead. Changes of other webhook fields are counted by
   field (`ignored_fields` on /healthz).

What each kind of message gets (bot/whatsapp/parse.py sorts them; the README has the table):
an ordinary message is a turn of the engine; an `edit` is crisis-checked and, with crisis
signs, handled like a new message, otherwise answered at most once per number per
`EDITED_NOTE_EVERY` with a note that edits are not re-read (as on Telegram); quiet events
(a reaction, a reaction taken back, a deleted message, a call-permission answer, a
security-code change) are counted and get no reply; text typed outside an ordinary message
(a form, an order's note) is crisis-checked first; a number change (`system`
`user_changed_number`) moves the resident's data to the new number in one transaction
(`CadreDesk.move_resident`), while neither number has a turn running.

The 24-hour window: free-form messages reach a number only within 24 h of its last message
to us. Cadre alerts and other messages the resident or cadre did not just ask for
(`Outbound`) go through `deliver_to`: inside the window they are sent; outside it the
configured template (`whatsapp.alert_template` in the deployment file) is sent and the
real content is held until that number writes to us, then sent before anything else.
Without a template the content is held and the caller is told (`NeedsFallback`) so the
alert can go to the fallback route. Windows and held content live in `contacts`
(bot/whatsapp/held.py): in the database, sealed, when bot/app.py builds the channel (every
worker sees them, a restart keeps them), else in this process; `/healthz` shows how much is
held.

Nothing a resident wrote, and no phone number or user id, is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bot.cases.desk import CadreDesk
from bot.config import normalise_number
from bot.conversations import FALLBACK_ERROR, Conversations, Outbound, Turn, utc_now
from bot.workers.inbox import Inbox
from flows.messages import Inbound, Reply
from flows.runtime import CRISIS_SCAN_LIMIT

from .address import Address
from .cadre_commands import CadreCommands
from .client import (
    CODE_OUTSIDE_WINDOW,
    UNREACHABLE_CODES,
    GraphClient,
    GraphError,
    OutsideWindow,
    Unreachable,
)
from .held import ContactState, MemoryContacts, SentMessage
from .parse import DeliveryFailure, InboundMessage
from .record import message_from_record, message_record
from .render import render_reply, template_body
from .settings import ChannelOptions
from .webhook import RecentIds, handle_verification, handle_webhook
from .window import (
    CUSTOMER_SERVICE_WINDOW,
    Delivered,
    HeldForReply,
    NeedsFallback,
    Outcome,
    TemplateConfig,
    can_send_free_form,
)

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"


#: Held bodies per recipient; older ones are dropped (and counted) beyond this.
HELD_PER_RECIPIENT = 50
#: The note that edits are not re-read: at most once per number this often.
EDITED_NOTE_EVERY = timedelta(minutes=10)
#: Numbers remembered for that note (the map is cleared beyond this; a note may repeat).
EDITED_NOTE_NUMBERS = 10_000

#: Always present on /healthz (0 until something happens), so alerts can rely on them.
BASE_COUNTERS = (
    "webhook_posts",
    "webhook_refused",
    "webhook_errors",
    "messages",
    "duplicates",
    "parse_problems",
    "statuses",
    "ignored_changes",
    "quiet",
    "edited_crisis",
    "edited_ignored",
    "number_changes",
    "delivery_failures",
    "turns",
    "turns_failed",
    "sent",
    "send_failed",
    "send_outside_window",
    "send_unreachable",
    "held",
    "held_delivered",
    "templates_sent",
    "outbound_unrouted",
    "job_errors",
)

#: Errors recording a message id that no retry can cure (the value itself is unusable);
#: anything else (the database is locked, the disk is full) answers 500 for Meta's retry.
PERMANENT = (UnicodeError, ValueError, TypeError, OverflowError)

T = TypeVar("T")
TurnCallback = Callable[[InboundMessage, Turn], Awaitable[None]]  # sees every resident turn
Forwarder = Callable[[Outbound], Awaitable[Any]]


def address_for(platform_id: str) -> Address:
    """How to reach a stored platform id: digits are a phone number (wa_id), else a BSUID."""
    value = str(platform_id)
    return Address.phone(value) if value.isdigit() else Address.bsuid(value)


# -- per-recipient work queues ----------------------------------------------------------


class _Queues:
    """One FIFO of jobs per key, worked by one task per key; every task is tracked.

    Jobs of one key run strictly one after another, in the order they were queued; keys
    run in parallel. A failing job is logged and the next one runs.
    """

    def __init__(self, on_error: Callable[[], None]) -> None:
        self._queues: dict[str, deque[Callable[[], Awaitable[None]]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._on_error = on_error

    def put(self, key: str, job: Callable[[], Awaitable[None]]) -> None:
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(job)
            return
        self._queues[key] = deque([job])
        self._idle.clear()
        task = asyncio.get_running_loop().create_task(self._work(key))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()

    async def _work(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue:
                job = queue[0]
                try:
                    await job()
                except Exception:
                    self._on_error()
                    log.exception("whatsapp: a background job failed")
                finally:
                    queue.popleft()
        finally:
            del self._queues[key]

    @property
    def pending(self) -> int:
        return sum(len(q) for q in self._queues.values())

    async def idle(self) -> None:
        """Wait until every queued job has finished (new jobs queued meanwhile included)."""
        while self._tasks:
            await self._idle.wait()

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()


# -- the channel ------------------------------------------------------------------------


class WhatsAppChannel:
    """Residents (and cadres listed in the routes) on the WhatsApp Cloud API.

    bot/app.py builds it (`build_whatsapp`); bot/web.py serves `handle_get` and
    `handle_post`. With a `desk`, messages from the routes' cadre numbers are cadre
    commands (bot/whatsapp/cadre_commands.py); `forward` delivers `Outbound` messages
    meant for another channel (e.g. Telegram).
    """

    def __init__(
        self,
        conversations: Conversations,
        client: GraphClient,
        *,
        app_secret: str,
        verify_token: str,
        phone_number_id: str | None = None,
        options: ChannelOptions | None = None,
        cadre_numbers: Iterable[str] = (),
        desk: CadreDesk | None = None,
        clock: Callable[[], datetime] = utc_now,
        recent: RecentIds | None = None,
        on_turn: TurnCallback | None = None,
        forward: Forwarder | None = None,
        inbox: Inbox | None = None,
        contacts: ContactState | None = None,
    ) -> None:
        self.conversations = conversations
        self.client = client
        self.app_secret = app_secret
        self.verify_token = verify_token
        self.phone_number_id = phone_number_id
        self.options = options or ChannelOptions()
        self.cadre_numbers = frozenset(normalise_number(n) for n in cadre_numbers if n)
        self.clock = clock
        self.recent = recent if recent is not None else RecentIds()
        self.on_turn = on_turn
        self.forward = forward
        self.counters: Counter[str] = Counter()
        self.ignored_fields: Counter[str] = Counter()  # changes of other webhook fields
        self.desk = desk
        self.cadres = CadreCommands(desk, self.counters) if desk is not None else None
        self._edit_noted: dict[str, datetime] = {}
        self._queues: _Queues | None = None
        # Windows, held cards, templates sent, bounce-able messages: in the database when
        # bot/app.py builds the channel (shared by all workers), else in this process.
        self.contacts: ContactState = contacts if contacts is not None else MemoryContacts()
        self.inbox = inbox
        if inbox is not None:
            inbox.register(CHANNEL, self.process_inboxed)
        self._closed = False
        self._resending_later: asyncio.Task[None] | None = None

    @property
    def alert_template(self) -> TemplateConfig | None:
        return self.options.alert_template

    @property
    def followup_template_configured(self) -> bool:
        return self.options.followup_template is not None

    # -- HTTP entry points --------------------------------------------------------------

    def handle_get(self, query: Mapping[str, str]) -> tuple[int, str]:
        """Meta's subscription handshake: (status, plain-text body)."""
        status, text = handle_verification(query, self.verify_token)
        self.counters["verify_ok" if status == 200 else "verify_refused"] += 1
        return status, text

    async def handle_post(self, raw_body: bytes, headers: Mapping[str, str]) -> int:
        """Check, parse, de-duplicate and queue one webhook POST; returns the HTTP status."""
        self.counters["webhook_posts"] += 1
        outcome = handle_webhook(raw_body, headers, self.app_secret, recent=self.recent)
        if outcome.status != 200:
            self.counters["webhook_refused"] += 1
            return outcome.status
        self.counters["parse_problems"] += len(outcome.problems)
        self.counters["statuses"] += outcome.statuses
        self.counters["ignored_changes"] += sum(outcome.ignored_fields.values())
        self.ignored_fields.update(outcome.ignored_fields)
        self.counters["duplicates"] += outcome.duplicates
        status = 200
        accepted: list[InboundMessage] = []
        for n, message in enumerate(outcome.messages):
            if self._for_another_number(message):
                continue
            if message.handling == "quiet":
                # Nothing the person would expect an answer to; it does not open the window.
                self.counters["quiet"] += 1
                self.counters[f"quiet_{message.kind}"] += 1
                continue
            try:
                first = await self._keep(message)
            except PERMANENT as exc:
                # This id can never be recorded: a retry would fail the same way for days.
                self.counters["messages_unusable"] += 1
                log.warning("whatsapp: a message id that cannot be recorded was dropped (%s)",
                            type(exc).__name__)
                continue
            except Exception:
                log.exception("whatsapp: cannot record message ids; answering 500 for a retry")
                self.counters["webhook_errors"] += 1
                for rest in outcome.messages[n:]:
                    self.recent.forget(rest.message_id)
                status = 500
                break
            if not first:
                self.counters["duplicates"] += 1
                continue
            accepted.append(message)
        for message in accepted:
            self._accept(message)
        for failure in outcome.failures:
            await self._on_delivery_failure(failure)
        return status

    def _for_another_number(self, message: InboundMessage) -> bool:
        if (
            self.phone_number_id
            and message.phone_number_id
            and message.phone_number_id != self.phone_number_id
        ):
            # Another business number of the same app: not ours to answer.
            self.counters["other_number"] += 1
            log.warning("whatsapp: message for another phone number id ignored")
            return True
        return False

    async def _keep(self, message: InboundMessage) -> bool:
        """Before the 200: de-duplicate in the database and, with the durable inbox, keep
        the message there (sealed) until its turn has committed; False for a repeat."""
        if self.inbox is None:
            return await self.conversations.first_delivery(CHANNEL, message.message_id)
        key = self.conversations.key_for(CHANNEL, message.user_ref)
        return await self.inbox.put(CHANNEL, message.message_id, key, message_record(message))

    def _accept(self, message: InboundMessage) -> None:
        if message.handling == "number_change":
            self.counters["number_changes"] += 1
        else:
            self.counters["messages"] += 1
            if message.inbound.media is not None:
                self.counters["media"] += 1
        if self.inbox is None:  # with the inbox, it serves the resident (process_inboxed)
            self._put(self._key(message.reply_to), lambda: self._process(message))

    async def process_inboxed(self, payload: dict[str, Any]) -> None:
        """A message from the durable inbox (bot/workers/inbox.py), in its number's queue;
        its turn records the id, which takes it out of the inbox in the same transaction."""
        message = message_from_record(payload)
        await self._call(
            self._key(message.reply_to),
            lambda: self._process(message),
        )

    # -- background work ----------------------------------------------------------------

    def _put(self, key: str, job: Callable[[], Awaitable[None]]) -> None:
        if self._queues is None:
            self._queues = _Queues(lambda: self.counters.update(["job_errors"]))
        self._queues.put(key, job)

    async def wait_idle(self) -> None:
        """Wait until all queued work (turns, sends, held deliveries) has finished."""
        while True:
            if self.inbox is not None:
                await self.inbox.wait_idle()
            if self._queues is not None:
                await self._queues.idle()
            if self.inbox is None or not self.inbox.metrics()["serving"]:
                return

    async def drain(self, timeout: float | None = 30.0) -> bool:
        """Finish in-flight work before shutdown; True if everything finished in time."""
        if self._queues is None:
            return True
        try:
            await asyncio.wait_for(self._queues.idle(), timeout)
        except TimeoutError:
            log.error(
                "whatsapp: %d job(s) still running at shutdown; cancelled", self._queues.pending
            )
            self._queues.cancel()
            return False
        finally:
            if isinstance(self.contacts, MemoryContacts) and not self._closed:
                held, numbers = await self.contacts.counts()
                if held:
                    self._closed = True  # say it once, however often shutdown drains
                    log.warning(
                        "whatsapp: %d held message(s) for %d number(s) are lost at shutdown "
                        "(this channel keeps them in memory)",
                        held,
                        numbers,
                    )
        return True

    async def aclose(self) -> None:
        if self._resending_later is not None:  # the next worker to start takes it over
            self._resending_later.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resending_later
        await self.drain()
        await self.client.aclose()

    async def _process(self, message: InboundMessage) -> None:
        if message.handling == "number_change":
            await self._change_number(message)
            return
        await self.contacts.saw_inbound(self._key(message.reply_to), message.timestamp)
        flushed = await self._flush_held(message.reply_to)
        if flushed and message.type == "button":
            # A tap on the template's quick-reply button: it asked for the held content.
            self.counters["template_replies"] += 1
            return
        if message.handling == "edit":
            await self._on_edit(message)
            return
        if self.is_cadre(message):
            if self.cadres is not None:
                replies, messages = await self.cadres.handle(message)
                if replies:
                    await self.send_replies(message.reply_to, replies)
                for outbound in messages:
                    await self.route_outbound(outbound)
            else:
                self.counters["cadre_messages_unhandled"] += 1
                await self.send_replies(
                    message.reply_to,
                    [
                        Reply(
                            "Nomor ini terdaftar sebagai nomor kader. Perintah kader belum aktif "
                            "di server ini; pakai grup Telegram kader atau hubungi operator."
                        )
                    ],
                )
            return
        inbound = message.inbound
        if message.check_text and self._crisis(message.check_text):
            # Crisis signs in a form field or an order's note: answered like a message.
            self.counters["checked_text_crisis"] += 1
            inbound = Inbound(text=message.check_text, at=message.timestamp)
        await self._turn(message, inbound)

    async def _turn(self, message: InboundMessage, inbound: Inbound) -> None:
        """One resident turn: the engine (via `Conversations`), then its replies and messages."""
        try:
            turn = await self.conversations.handle(
                CHANNEL, message.user_ref, inbound, delivery_id=message.message_id
            )
        except Exception:
            self.counters["turns_failed"] += 1
            log.exception("whatsapp: a turn failed; the resident gets the fallback message")
            await self.send_replies(message.reply_to, [Reply(FALLBACK_ERROR)])
            return
        self.counters["turns"] += 1
        if self.on_turn is not None:
            try:
                await self.on_turn(message, turn)
            except Exception:
                log.exception("whatsapp: on_turn hook failed")
        await self._send_turn_replies(message.reply_to, turn.replies, turn.kept)
        for outbound in turn.outbound:
            await self.route_outbound(outbound)

    async def _send_turn_replies(
        self, to: Address, replies: Sequence[Reply], kept: str | None
    ) -> None:
        sent = await self.send_replies(to, replies)
        if kept is not None and sent:
            await self.conversations.delivered(CHANNEL, kept)  # else: sent at the next start

    async def start(self) -> int:
        """Queue the replies earlier processes committed but never delivered (a crash
        between a turn and its answer), each in its resident's queue ahead of anything
        new; call before the webhook is served. With several workers
        (`Conversations.resend_grace`) replies younger than the grace may be a live
        worker's: those still kept once it has passed are queued then. Returns how many
        turns are queued now."""
        try:
            kept = await self.conversations.undelivered(CHANNEL)
        except Exception:
            log.exception("whatsapp: could not read the replies left unsent by an earlier process")
            return 0
        queued = await self._queue_resends(kept)
        if queued:
            log.warning("whatsapp: resending the replies of %d turn(s) an earlier process "
                        "committed but did not deliver", queued)
        grace = self.conversations.resend_grace
        if grace > timedelta(0):
            started = {item.delivery_id for item in kept}
            self._resending_later = asyncio.get_running_loop().create_task(
                self._resend_after_grace(grace.total_seconds(), started))
        return queued

    async def _queue_resends(self, kept: Sequence[Any]) -> int:
        now = self.clock()
        queued = 0
        for item in kept:
            if now - item.created_at > CUSTOMER_SERVICE_WINDOW:  # free-form would be refused
                self.counters["resend_expired"] += 1
                await self.conversations.delivered(CHANNEL, item.delivery_id)
                continue
            to = address_for(item.platform_user_id)
            self._put(self._key(to), self._resend_job(to, item.replies, item.delivery_id))
            queued += 1
        self.counters["resent"] += queued
        return queued

    async def _resend_after_grace(self, delay: float, started: set[str]) -> None:
        """The second look of `start`: what is still kept and has settled (its worker did
        not send it) is queued now, behind what the number's queue already holds."""
        await asyncio.sleep(delay)
        try:
            kept = [k for k in await self.conversations.undelivered(CHANNEL)
                    if k.delivery_id not in started]
            self.counters["resent_after_grace"] += await self._queue_resends(kept)
        except Exception:
            log.exception("whatsapp: could not read the replies left unsent by another worker")

    def _resend_job(
        self, to: Address, replies: Sequence[Reply], delivery_id: str
    ) -> Callable[[], Awaitable[None]]:
        return lambda: self._send_turn_replies(to, replies, delivery_id)

    def is_cadre(self, message: InboundMessage) -> bool:
        return bool(message.wa_id) and normalise_number(message.wa_id or "") in self.cadre_numbers

    # -- edits, crisis checks, number changes -------------------------------------------

    async def _on_edit(self, message: InboundMessage) -> None:
        """An edited message: crisis signs make it a new message; otherwise it is not re-read
        (re-running an edited answer would move the conversation twice) and the person is
        told so, at most once per number every `EDITED_NOTE_EVERY`."""
        text = message.check_text
        if text and not self.is_cadre(message) and self._crisis(text):
            self.counters["edited_crisis"] += 1
            await self._turn(message, Inbound(text=text, at=message.timestamp))
            return
        self.counters["edited_ignored"] += 1
        key, at = self._key(message.reply_to), message.timestamp
        last = self._edit_noted.get(key)
        if last is not None and at - last < EDITED_NOTE_EVERY:
            return
        if len(self._edit_noted) >= EDITED_NOTE_NUMBERS:
            self._edit_noted.clear()
        self._edit_noted[key] = at
        note = self.conversations.engine.system_text("edited_not_reread")
        await self.send_replies(message.reply_to, [Reply(note)])

    def _crisis(self, text: str) -> bool:
        """The engine's own crisis check, for text that is not an ordinary message."""
        detector = getattr(self.conversations.engine, "detector", None)
        if detector is None:
            return False
        try:
            return detector.detect(text[:CRISIS_SCAN_LIMIT]) is not None
        except Exception:  # fail towards answering the message
            log.exception("whatsapp: crisis check failed; handling the text as a message")
            return True

    async def _change_number(self, message: InboundMessage) -> None:
        """The resident's number changed: their session, consent, results, open case (its
        contact address re-sealed) and relay move to the new number's key in one
        transaction, with neither number's turn running, so the case follows them."""
        new_ref, new_to = message.new_ref, message.new_reply_to
        assert new_ref is not None and new_to is not None
        if self.is_cadre(message):
            self.counters["cadre_number_changed"] += 1
            log.warning(
                "whatsapp: a cadre number listed in the routes changed to a new number; "
                "update routes.<id>.whatsapp_numbers in the deployment file"
            )
            return
        if self.desk is None:
            self.counters["number_changes_unhandled"] += 1
            log.error("whatsapp: a resident changed number, but no desk is wired to move it")
            return
        desk = self.desk
        moved = await self.conversations.exclusive(
            CHANNEL,
            (message.user_ref, new_ref),
            lambda: desk.move_resident(CHANNEL, message.user_ref, new_ref),
        )
        if not moved.moved:
            self.counters["number_changes_nothing_to_move"] += 1
            return
        self.counters["number_changes_moved"] += 1
        if moved.replaced:
            self.counters["number_changes_replaced"] += 1
        old_key = self._key(message.reply_to)
        held = await self.contacts.held(old_key)
        if held:  # e.g. a cadre's relay message: now for the new number
            await self.contacts.hold(self._key(new_to), [h.body for h in held],
                                     [h.tag for h in held])
            await self.contacts.drop(old_key, [h.id for h in held])
        log.info(
            "whatsapp: a resident's conversation moved to their new number%s",
            " (with an open case)" if moved.case else "",
        )
        for outbound in moved.notices:
            await self.route_outbound(outbound)

    # -- sending ------------------------------------------------------------------------

    def bodies(self, to: Address, replies: Sequence[Reply]) -> list[dict[str, Any]]:
        return [b for r in replies for b in render_reply(r, to, self.options.render)]

    async def send_replies(self, to: Address, replies: Sequence[Reply]) -> bool:
        """Answer a message the resident just sent (their window is open). False when Meta
        refused or could not be reached (the replies were not all sent)."""
        bodies = self.bodies(to, replies)
        if not bodies:
            return True
        try:
            ids = await self.client.send_many(bodies)
        except GraphError as err:
            self._count_send_error(err, len(err.sent_ids))
            return isinstance(err, Unreachable)  # never deliverable: nothing to keep
        self.counters["sent"] += len(ids)
        return True

    def _count_send_error(self, err: GraphError, sent: int) -> None:
        self.counters["sent"] += sent
        if isinstance(err, OutsideWindow):
            self.counters["send_outside_window"] += 1
        elif isinstance(err, Unreachable):
            self.counters["send_unreachable"] += 1
        else:
            self.counters["send_failed"] += 1
        log.warning("whatsapp: sending failed (%s); %d message(s) not sent", err, len(err.unsent))

    async def deliver_to(
        self,
        to: Address,
        bodies: Sequence[dict[str, Any]],
        *,
        tag: str | None = None,
        use_template: bool = True,
    ) -> Outcome:
        """Send content nobody just asked for (alerts, relay messages), minding the window.

        Runs in `to`'s queue, so it is ordered with that number's own turns; do not await
        it from inside a job of the same number (use `route_outbound`).
        `tag` replaces an older held body with the same tag (the newest alert card wins).
        """
        return await self._call(
            self._key(to), lambda: self._deliver_now(to, list(bodies), tag, use_template)
        )

    async def _call(self, key: str, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work` as a job in `key`'s queue and wait for its result (or its error)."""
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()

        async def job() -> None:
            try:
                result = await work()
            except Exception as exc:  # the caller gets it; not a job failure of ours
                if not done.done():
                    done.set_exception(exc)
                return
            except BaseException as exc:
                if not done.done():
                    done.set_exception(exc)
                raise
            if not done.done():
                done.set_result(result)

        self._put(key, job)
        return await done

    async def _deliver_now(
        self, to: Address, bodies: list[dict[str, Any]], tag: str | None, use_template: bool
    ) -> Outcome:
        key = self._key(to)
        now = self.clock()
        waiting, _numbers = await self.contacts.counts(key)
        if waiting:
            # Something is already waiting for this number: keep the order, wait too.
            await self._hold(key, bodies, tag)
            sent = await self.contacts.template(key)
            return HeldForReply(sent[1]) if sent and sent[1] else NeedsFallback()
        last = await self.contacts.last_inbound(key)
        if can_send_free_form(last, now, margin=timedelta(minutes=1)):
            try:
                ids = await self.client.send_many(bodies)
            except OutsideWindow as err:
                self.counters["sent"] += len(err.sent_ids)
                await self.contacts.window_closed(key)
                bodies = list(err.unsent)
            else:
                self.counters["sent"] += len(ids)
                for wamid, body in zip(ids, bodies, strict=False):
                    await self._remember(wamid, to, body, tag)
                return Delivered(tuple(ids))
        await self._hold(key, bodies, tag)
        return await self._invite(to, bodies, use_template)

    async def _invite(
        self, to: Address, bodies: Sequence[dict[str, Any]], use_template: bool
    ) -> Outcome:
        """Something is held for `to`: send the template that asks them to reply (at most
        once per `template_every`), or say the caller needs its fallback."""
        key = self._key(to)
        template = self.alert_template if use_template else None
        if template is None:
            self.counters["held_without_template"] += 1
            return NeedsFallback((), tuple(bodies))
        now = self.clock()
        sent = await self.contacts.template(key)
        if sent is not None and now - sent[0] < self.options.template_every:
            return HeldForReply(sent[1], (), tuple(bodies))
        params = tuple(template.parameters)
        wamid = await self.client.send(template_body(to, template.name, template.language, params))
        await self.contacts.template_sent(key, now, wamid)
        self.counters["templates_sent"] += 1
        return HeldForReply(wamid, (), tuple(bodies))

    async def _hold(self, key: str, bodies: Sequence[dict[str, Any]], tag: str | None) -> None:
        """Keep bodies for the number until it writes; one with `tag` replaces the held
        body with the same tag. New ones are kept before old ones go, so the template sent
        for what is held stays valid."""
        before = await self.contacts.held(key)
        replaced = [h.id for h in before if tag is not None and h.tag == tag]
        await self.contacts.hold(key, bodies, [tag] * len(bodies))
        self.counters["held"] += len(bodies)
        gone = list(replaced)
        overflow = len(before) - len(replaced) + len(bodies) - HELD_PER_RECIPIENT
        if overflow > 0:
            kept = [h.id for h in await self.contacts.held(key) if h.id not in replaced]
            gone += kept[:overflow]
            self.counters["held_dropped"] += overflow
            log.error(
                "whatsapp: too many held messages for one number; %d oldest dropped", overflow
            )
        if gone:
            await self.contacts.drop(key, gone)

    async def _flush_held(self, to: Address) -> bool:
        """The number wrote to us (window open): send what was held for it. True if any.

        Runs in the number's queue, and with the durable inbox while this worker serves the
        number, so no other worker sends the same held bodies. A body is forgotten after
        it was sent: a worker that dies in between sends it again, never loses it."""
        key = self._key(to)
        held = await self.contacts.held(key)
        if not held:
            return False
        bodies = [_readdress(h.body, to) for h in held]
        try:
            ids = await self.client.send_many(bodies)
        except GraphError as err:
            self._count_send_error(err, len(err.sent_ids))
            done = len(bodies) - len(err.unsent)
            if done > 0:
                await self.contacts.drop(key, [h.id for h in held[:done]])
            return True
        self.counters["sent"] += len(ids)
        self.counters["held_delivered"] += len(ids)
        for wamid, body, h in zip(ids, bodies, held, strict=False):
            await self._remember(wamid, to, body, h.tag)
        await self.contacts.drop(key, [h.id for h in held])
        return True

    async def held_count(self, platform_id: str | None = None) -> int:
        key = None if platform_id is None else self._key(address_for(platform_id))
        return (await self.contacts.counts(key))[0]

    # -- messages the bot starts itself (follow-up check-ins, bot/followups) --------------

    async def last_inbound_at(self, platform_id: str) -> datetime | None:
        """When this number last wrote to us (None if not within the window's memory)."""
        return await self.contacts.last_inbound(self._key(address_for(platform_id)))

    async def send_first(self, platform_id: str, replies: Sequence[Reply]) -> str:
        """Send bubbles the bot starts itself, free-form, in the number's queue (ordered with
        its own turns); never held. Returns "sent", "closed" (the 24-hour window is closed:
        nothing was sent), "blocked" (the number cannot be reached), "failed" (nothing was
        sent) or "unsure" (part was sent, or a timeout: it may have arrived)."""
        to = address_for(platform_id)
        bodies = self.bodies(to, replies)
        return await self._call(self._key(to), lambda: self._send_first(to, bodies))

    async def send_followup_template(self, platform_id: str) -> str:
        """The approved `whatsapp.followup_template`, for a check-in outside the window (the
        resident's reply opens the window and the conversation); "closed" if not set."""
        template = self.options.followup_template
        if template is None:
            return "closed"
        to = address_for(platform_id)
        body = template_body(to, template.name, template.language, template.parameters)
        status = await self._call(self._key(to), lambda: self._send_first(to, [body]))
        if status == "sent":
            self.counters["followup_templates_sent"] += 1
        return status

    async def _send_first(self, to: Address, bodies: list[dict[str, Any]]) -> str:
        try:
            ids = await self.client.send_many(bodies)
        except GraphError as err:
            self._count_send_error(err, len(err.sent_ids))
            if err.sent_ids:
                return "unsure"
            if isinstance(err, OutsideWindow):
                await self.contacts.window_closed(self._key(to))
                return "closed"
            if isinstance(err, Unreachable):
                return "blocked"
            return "unsure" if err.detail == "timeout" else "failed"
        self.counters["sent"] += len(ids)
        self.counters["sent_first"] += 1
        return "sent"

    # -- outbound (relay messages, notices to cadres) ------------------------------------

    async def route_outbound(self, outbound: Outbound, *, wait: bool = False) -> None:
        """Queue an `Outbound`: WhatsApp ones in the recipient's queue (ordered with their
        own turns; window rules apply), others to `forward` in a queue per destination.

        Forwarding never runs inside a resident's turn, so two channels waiting on each
        other (a Telegram cadre's relay message while the resident's answer goes the other
        way) cannot deadlock. `wait=True` waits for the delivery; never use it from inside
        a job of this channel.
        """
        if outbound.channel == CHANNEL:
            to = address_for(outbound.address)
            bodies = self.bodies(to, [Reply(outbound.text, outbound.choices, outbound.node)])
            key, work = self._key(to), lambda: self._outbound_job(to, bodies)
        else:
            key = f"forward:{outbound.channel}:{outbound.address}"
            work = lambda: self._forward(outbound)  # noqa: E731
        if wait:
            await self._call(key, work)
        else:
            self._put(key, work)

    async def _forward(self, outbound: Outbound) -> None:
        if self.forward is None:
            self.counters["outbound_unrouted"] += 1
            log.error(
                "whatsapp: a message for channel %r has no route (forward not set)",
                outbound.channel,
            )
            return
        try:
            await self.forward(outbound)
        except Exception:
            self.counters["outbound_failed"] += 1
            log.exception("whatsapp: forwarding a message to %r failed", outbound.channel)
            return
        self.counters["outbound_forwarded"] += 1

    async def deliver_outbound(self, outbound: Outbound) -> Outcome:
        """For other channels' `forward` (e.g. a Telegram cadre in a relay): deliver a
        WhatsApp `Outbound` and wait. Outside the person's 24-hour window it is held until
        they write (with the template, if configured) and the outcome says so; a refusal
        by Meta raises `GraphError`."""
        if outbound.channel != CHANNEL:
            raise ValueError(f"not a WhatsApp message: channel {outbound.channel!r}")
        to = address_for(outbound.address)
        reply = Reply(outbound.text, outbound.choices, outbound.node)
        try:
            outcome = await self.deliver_to(to, self.bodies(to, [reply]))
        except GraphError as err:
            self._count_send_error(err, len(err.sent_ids))
            raise
        self.counters["outbound" if isinstance(outcome, Delivered) else "outbound_held"] += 1
        return outcome

    async def _outbound_job(self, to: Address, bodies: list[dict[str, Any]]) -> None:
        try:
            outcome = await self._deliver_now(to, bodies, None, True)
        except GraphError as err:
            self._count_send_error(err, len(err.sent_ids))
            return
        self.counters["outbound" if isinstance(outcome, Delivered) else "outbound_held"] += 1

    # -- statuses[] failures ------------------------------------------------------------

    async def _remember(
        self, wamid: str, to: Address, body: dict[str, Any] | None, tag: str | None
    ) -> None:
        """Keep an alert or relay message we sent, to hold it again if Meta bounces it
        later (131047 in a status webhook, which may reach another worker)."""
        if not wamid or body is None:
            return
        address = {"field": to.field, "value": to.value}
        await self.contacts.remember(wamid, SentMessage(address, body, tag))

    async def _on_delivery_failure(self, failure: DeliveryFailure) -> None:
        self.counters["delivery_failures"] += 1
        sent = await self.contacts.recall(failure.message_id) if failure.message_id else None
        if CODE_OUTSIDE_WINDOW in failure.codes:
            self.counters["delivery_failures_outside_window"] += 1
            if sent is not None:
                to: Address | None = Address(sent.address["field"], sent.address["value"])
            else:
                to = address_for(failure.recipient) if failure.recipient else None
            if to is None:
                return
            key = self._key(to)
            await self.contacts.window_closed(key)
            if sent is not None and sent.body is not None:
                # Our alert/relay message bounced on the window: hold it now (before the
                # 200), send the template in the number's queue.
                body = sent.body
                await self._hold(key, [body], sent.tag)
                self._put(key, lambda: self._reinvite(to, body))
        elif set(failure.codes) & UNREACHABLE_CODES:
            self.counters["delivery_failures_unreachable"] += 1

    async def _reinvite(self, to: Address, body: dict[str, Any]) -> None:
        try:
            await self._invite(to, [body], True)
        except GraphError as err:
            self._count_send_error(err, 0)

    # -- bookkeeping --------------------------------------------------------------------

    @staticmethod
    def _key(to: Address) -> str:
        return normalise_number(to.value) if to.field == "to" else to.value

    async def window_open(self, platform_id: str) -> bool:
        key = self._key(address_for(platform_id))
        return can_send_free_form(await self.contacts.last_inbound(key), self.clock())

    async def metrics(self) -> dict[str, Any]:
        """Counters for /healthz (numbers only: no ids, no content)."""
        queued = self._queues.pending if self._queues is not None else 0
        base = dict.fromkeys(BASE_COUNTERS, 0)
        held, numbers = await self.contacts.counts()
        return {
            **base,
            **dict(sorted(self.counters.items())),
            "ignored_fields": dict(sorted(self.ignored_fields.items())),
            "queued": queued,
            "held_now": held,
            "held_numbers": numbers,
            "template_configured": self.alert_template is not None,
            "followup_template_configured": self.followup_template_configured,
        }


def _readdress(body: dict[str, Any], to: Address) -> dict[str, Any]:
    """A held body sent to the address the person wrote from (phone or BSUID)."""
    out = {k: v for k, v in body.items() if k not in ("to", "recipient")}
    out[to.field] = to.value
    return out
