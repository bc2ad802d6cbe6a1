"""The one place that connects the parts: store, engine, escalation, counters and channels.

`build_runtime` loads the content (last good copy if the folder does not lint), opens the
store and wires everything a turn needs into one `Conversations` (`wire`); the channel
builders below give each channel what it needs when it is built and attach its senders to
the runtime's routers. Parts never reach into each other after construction: if something
needs another part, it is passed here.

    runtime = await build_runtime(config)
    telegram = await start_telegram(runtime, os.environ)          # None without a token
    whatsapp = build_whatsapp(runtime, os.environ)                # None without secrets
    ... bot/serve.py runs the dispatcher, the follow-up scheduler, retention and the web
    app until a signal ...

`build_studio_bot` is the same wiring for the editors' simulator: given content, a
throwaway database, cards recorded, and the channels' renderers to show their messages.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.cases.desk import CadreDesk
from bot.cases.dispatcher import Dispatcher
from bot.cases.escalation import Escalations
from bot.cases.senders import AlertSender, ConsoleAlertSender, RoutingAlertSender
from bot.config import Config, Database, choose_database, default_content_dir
from bot.console import ConsoleChat
from bot.conversations import Clock, Conversations, OutboundRouter, Turn, utc_now
from bot.crypto import Sealer, generate_key, load_key
from bot.followups.delivery import CheckinRouter, TextSender, WindowSender
from bot.followups.effects import Followups
from bot.followups.offers import CaseOffers
from bot.followups.scheduler import CheckinScheduler
from bot.live_content import load_live_content
from bot.rights import consent
from bot.rights.counting import Counting
from bot.telegram.calls import CHANNEL as TELEGRAM
from bot.telegram.lifecycle import TelegramHandle
from bot.telegram.lifecycle import start_telegram as start_telegram_channel
from bot.telegram.render import CallbackCodec, button_label, chosen_text, render_turn
from bot.whatsapp.address import Address
from bot.whatsapp.card_sender import WhatsAppAlertSender
from bot.whatsapp.channel import CHANNEL as WHATSAPP
from bot.whatsapp.channel import TurnCallback as WhatsAppTurnCallback
from bot.whatsapp.channel import WhatsAppChannel
from bot.whatsapp.client import GraphClient
from bot.whatsapp.parse import ID_SEPARATOR
from bot.whatsapp.render import render_reply
from bot.whatsapp.settings import ChannelOptions, WhatsAppSettings
from bot.workers.inbox import LEASE_S, Inbox
from bot.workers.state import SharedContacts, SharedNotePrompts
from flows.messages import Inbound, Reply
from flows.model import Content
from flows.runtime import CrisisDetector, Engine
from storage import make_store
from storage.base import Store
from storage.keys import load_secret

log = logging.getLogger(__name__)

#: With several workers on one database, a starting worker leaves kept replies younger than
#: this to the live worker that may be sending them (it sends in milliseconds; 30 s leaves
#: room for Telegram's rate limits), and sends those still kept afterwards.
SHARED_RESEND_GRACE = timedelta(seconds=30)


@dataclass
class FollowupKit:
    """Caring follow-ups: run `scheduler` in the background (bot/serve.py); channels attach
    their check-in senders to `senders` when they start."""

    effects: Followups
    scheduler: CheckinScheduler
    senders: CheckinRouter


@dataclass
class EscalationKit:
    """The case side of a runtime: give `desk` to the channels, run `dispatcher` (and the
    follow-ups' scheduler) in the background (bot/serve.py)."""

    escalations: Escalations
    desk: CadreDesk
    dispatcher: Dispatcher
    sealer: Sealer
    followups: FollowupKit


@dataclass
class Runtime:
    config: Config
    content_dir: Path
    database: Database
    store: Store
    engine: Engine
    conversations: Conversations
    escalation: EscalationKit
    alerts: RoutingAlertSender | AlertSender  # a RoutingAlertSender unless the caller gave one
    outbound: OutboundRouter  # relay messages and notices, to whichever channel they name
    inbox: Inbox  # webhook messages kept until their turn commits; one worker per resident

    @property
    def db_path(self) -> Path | None:
        """The SQLite file (None on PostgreSQL)."""
        return self.database.sqlite_path

    async def close(self) -> None:
        await self.store.close()


def wire(
    engine: Engine,
    store: Store,
    config: Config,
    *,
    secret: bytes,
    sealer: Sealer,
    alerts: AlertSender,
    clock: Clock = utc_now,
    resend_grace: timedelta = timedelta(0),
) -> tuple[Conversations, EscalationKit]:
    """Everything one turn runs, connected: escalation effects and the cadre desk (relay),
    the consent log and the anonymous counters, the follow-ups (offer, series, answers),
    the dispatcher that delivers alerts and the scheduler that sends check-ins."""
    followups = Followups(engine, config, sealer)
    offers = CaseOffers(engine, config, sealer)
    desk = CadreDesk(store, config, secret, sealer, clock=clock, engine=engine,
                     on_resolved=offers.on_case_resolved)
    escalations = Escalations(engine, config, sealer, desk)
    counting = Counting(engine.settings.timezone)
    effects: dict[str, list[Any]] = {}
    for handlers in (escalations.effects(), consent.effects(), followups.effects()):
        for name, handler in handlers.items():
            effects.setdefault(name, []).append(handler)
    conversations = Conversations(
        engine,
        store,
        secret,
        clock=clock,
        effects=effects,
        before_engine=desk.resident_turn,
        observers=(escalations.observe, counting.observe, followups.observe),
        sealer=sealer,
        resend_grace=resend_grace,
    )
    dispatcher = Dispatcher(store, alerts, config, sealer, clock=clock)
    senders = CheckinRouter()
    scheduler = CheckinScheduler(store, conversations, engine, config, sealer, senders,
                                 clock=clock)
    if not config.default_route:
        log.warning(
            "no default_route in the deployment config: cases from residents without an "
            "area route go to '(no route)'; set default_route (README: Escalation)"
        )
    kit = EscalationKit(escalations, desk, dispatcher, sealer,
                        FollowupKit(followups, scheduler, senders))
    return conversations, kit


async def build_runtime(
    config: Config,
    *,
    content_dir: Path | None = None,
    db_path: str | Path | None = None,
    clock: Clock = utc_now,
    alerts: AlertSender | None = None,
    inbox_lease: float = LEASE_S,
) -> Runtime:
    """Everything a channel needs. Escalation is always wired: a crisis case and its alert
    are written even before any channel that can deliver the alert is running.

    `db_path` (`--db`) is an SQLite file or a postgresql:// URL; without it the database is
    chosen by `bot.config.choose_database`."""
    content_dir = Path(content_dir or config.content or default_content_dir())
    database = choose_database(config, db_path)
    served = load_live_content(content_dir, database.state_dir)
    engine = Engine(served.content, config.engine_settings(), served.detector)
    store = make_store(database.target)
    await store.open()
    router = alerts or RoutingAlertSender()
    sealer = Sealer(load_key(database.sqlite_path))
    conversations, kit = wire(
        engine,
        store,
        config,
        secret=load_secret(database.sqlite_path),
        sealer=sealer,
        alerts=router,
        clock=clock,
        resend_grace=SHARED_RESEND_GRACE if database.postgres else timedelta(0),
    )
    inbox = Inbox(store, sealer, clock=clock, lease=inbox_lease)
    return Runtime(
        config,
        content_dir,
        database,
        store,
        engine,
        conversations,
        kit,
        router,
        OutboundRouter(),
        inbox,
    )


# ---------------------------------------------------------------------------- channels
async def start_telegram(
    runtime: Runtime, env: Mapping[str, str], **kwargs: Any
) -> TelegramHandle | None:
    """Start Telegram with the runtime's desk and routers; None without TELEGRAM_BOT_TOKEN.

    Keyword arguments go to bot/telegram/lifecycle.py's `prepare_telegram` (webhook_url,
    rate_limiter, poll_timeout, builder)."""
    handle = await start_telegram_channel(
        runtime.conversations,
        env,
        section=runtime.config.telegram,
        desk=runtime.escalation.desk,
        forward=runtime.outbound.deliver,
        inbox=runtime.inbox,
        prompts=SharedNotePrompts(
            runtime.store, runtime.conversations.secret, clock=runtime.conversations.clock
        ),
        shared=runtime.database.postgres,
        **kwargs,
    )
    if handle is None:
        return None
    if isinstance(runtime.alerts, RoutingAlertSender):
        runtime.alerts.attach(TELEGRAM, handle.alert_sender)  # waiting alerts go now
    runtime.outbound.attach(TELEGRAM, handle.deliver_outbound)
    runtime.escalation.followups.senders.attach(TELEGRAM, TextSender(handle.send_to_chat))
    return handle


@dataclass
class WhatsAppParts:
    channel: WhatsAppChannel
    alert_sender: WhatsAppAlertSender

    async def start(self) -> None:
        """Before the webhook is served: queue replies a crash left unsent."""
        await self.channel.start()

    async def aclose(self) -> None:
        await self.channel.aclose()


def build_whatsapp(
    runtime: Runtime,
    env: Mapping[str, str],
    *,
    http: Any = None,
    on_turn: WhatsAppTurnCallback | None = None,
) -> WhatsAppParts | None:
    """The WhatsApp channel with its cadre commands and card sender; None when not configured.

    Secrets come only from `env` (WHATSAPP_ACCESS_TOKEN, WHATSAPP_APP_SECRET,
    WHATSAPP_VERIFY_TOKEN, WHATSAPP_PHONE_NUMBER_ID; optional WHATSAPP_API_BASE_URL,
    WHATSAPP_API_VERSION); other settings from `runtime.config.whatsapp`. Raises
    `ConfigError` for a half-configured environment or a bad `whatsapp:` section.
    """
    settings = WhatsAppSettings.from_env(env)
    if settings is None:
        return None
    config = runtime.config
    options = ChannelOptions.from_config(config.whatsapp or {})
    client = GraphClient(
        settings.base_url,
        settings.api_version,
        settings.phone_number_id,
        settings.access_token,
        http,
        min_interval=options.min_interval,
        render_options=options.render,
    )
    numbers = [n for route in config.routes.values() for n in route.whatsapp_numbers]
    if numbers and options.alert_template is None:
        log.warning(
            "whatsapp: routes list WhatsApp numbers but whatsapp.alert_template is not "
            "set: alerts to a number outside its 24-hour window go to the fallback route"
        )
    channel = WhatsAppChannel(
        runtime.conversations,
        client,
        app_secret=settings.app_secret,
        verify_token=settings.verify_token,
        phone_number_id=settings.phone_number_id,
        options=options,
        cadre_numbers=numbers,
        desk=runtime.escalation.desk,
        clock=runtime.conversations.clock,
        forward=runtime.outbound.deliver,
        on_turn=on_turn,
        inbox=runtime.inbox,
        contacts=SharedContacts(
            runtime.store,
            runtime.escalation.sealer,
            runtime.conversations.secret,
            clock=runtime.conversations.clock,
        ),
    )
    routing = runtime.alerts if isinstance(runtime.alerts, RoutingAlertSender) else None
    sender = WhatsAppAlertSender(channel, config, fallback=routing)
    if routing is not None:
        routing.attach(WHATSAPP, sender)  # alerts waiting for WhatsApp routes go now
    runtime.outbound.attach(WHATSAPP, channel.deliver_outbound)
    configured = channel.followup_template_configured
    runtime.escalation.followups.senders.attach(
        WHATSAPP, WindowSender(channel), whatsapp_followup_template=configured
    )
    if not configured and runtime.engine.content.followups is not None:
        log.warning(
            "whatsapp: whatsapp.followup_template is not set: a follow-up check-in to a "
            "resident whose 24-hour window has closed is NOT sent (it is counted as skipped; "
            "/healthz shows whatsapp_followup_template: false)"
        )
    return WhatsAppParts(channel, sender)


def build_console(runtime: Runtime, user_id: str, alerts: ConsoleAlertSender) -> ConsoleChat:
    """`temanjiwa chat`: after each turn the dispatcher runs once, so the cadre card the
    turn caused (from `alerts`, the runtime's sender) and relay messages are shown."""

    async def after_turn(turn: Turn) -> list[str]:
        for _round in range(5):  # a sent card can queue its own edit (words delivered)
            if not await runtime.escalation.dispatcher.tick():
                break
        relayed = [f"(→ {o.channel}:{o.address}) {o.text}" for o in turn.outbound]
        return alerts.drain() + relayed

    return ConsoleChat(runtime.conversations, user_id, on_turn=after_turn)


# ---------------------------------------------------------------------------- studio
@dataclass
class StudioBot:
    """The editors' simulator (bot/studio/simulator.py): the whole runtime on a throwaway
    database, cadre cards recorded instead of sent, and each channel's own renderer, so
    the page shows exactly what a resident on Telegram or WhatsApp would receive."""

    runtime: Runtime
    cards: ConsoleAlertSender
    codec: CallbackCodec
    whatsapp_options: ChannelOptions
    join_bubbles: bool = True

    def telegram(self, replies: Sequence[Reply]) -> list[dict[str, Any]]:
        """One turn as Bot API sendMessage arguments (text, entities, reply_markup)."""
        return [
            {"text": m.text, "entities": list(m.entities), "reply_markup": m.reply_markup()}
            for m in render_turn(replies, self.codec, join=self.join_bubbles)
        ]

    def whatsapp(self, replies: Sequence[Reply]) -> list[dict[str, Any]]:
        """One turn as Graph API message bodies (reply buttons, list, or numbered menu)."""
        to = Address.phone("simulator")
        return [b for r in replies for b in render_reply(r, to, self.whatsapp_options.render)]

    def telegram_press(self, data: str) -> Inbound:
        node, choice = self.codec.decode(data)
        return Inbound(choice=choice or "", node=node)

    def whatsapp_press(self, reply_id: str) -> Inbound:
        node, sep, choice = reply_id.partition(ID_SEPARATOR)
        return Inbound(choice=choice, node=node or None) if sep else Inbound(choice=reply_id)

    def telegram_pressed(self, message: dict[str, Any], data: str, stale: bool) -> dict[str, Any]:
        """The pressed message as the Telegram channel edits it: keyboard gone, and (unless
        the press was on an old message) the chosen answer under the text."""
        label = button_label(message.get("reply_markup"), data)
        if stale or label is None:
            return {**message, "reply_markup": None}
        text, entities = chosen_text(message["text"], message.get("entities", ()), label)
        return {"text": text, "entities": list(entities), "reply_markup": None}

    async def deliver_cards(self) -> list[str]:
        """One dispatcher tick, as the running bot does in the background: the case cards
        this turn caused, rendered as cadres would read them."""
        await self.runtime.escalation.dispatcher.tick()
        return self.cards.drain()


async def build_studio_bot(
    config: Config,
    content: Content,
    detector: CrisisDetector | None,
    *,
    content_dir: Path,
    db_path: Path,
    clock: Clock = utc_now,
) -> StudioBot:
    """The studio's bot for `content` (the folder's last good version) on `db_path`, a
    file in a temporary directory the studio deletes. Secret and encryption key are fresh
    and only in memory, never the deployment's."""
    engine = Engine(content, config.engine_settings(), detector)
    store = make_store(db_path)
    await store.open()
    cards = ConsoleAlertSender()
    sealer = Sealer(generate_key().encode())
    conversations, kit = wire(
        engine,
        store,
        config,
        secret=secrets.token_bytes(32),
        sealer=sealer,
        alerts=cards,
        clock=clock,
    )
    database = Database(db_path, db_path, db_path.parent)
    runtime = Runtime(
        config, content_dir, database, store, engine, conversations, kit, cards,
        OutboundRouter(), Inbox(store, sealer, clock=clock),
    )
    return StudioBot(
        runtime,
        cards,
        CallbackCodec(),
        ChannelOptions.from_config(config.whatsapp or {}),
        join_bubbles=bool(config.telegram.get("join_bubbles", True)),
    )
