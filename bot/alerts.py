"""Cadre alerts: the handoff packet (no identity), how it reads, and who delivers it.

The dispatcher (bot/dispatcher.py) builds an `Alert` from the case at send time and hands
it to an `AlertSender` for the case's route. Channels implement the protocol:

```python
class AlertSender(Protocol):
    async def send_alert(self, route: Route, alert: Alert) -> str: ...
    async def update_alert(self, route: Route, external_ref: str, alert: Alert) -> None: ...
```

- `send_alert` posts a new message to the route (its Telegram group `route.telegram_chat_id`
  or its WhatsApp numbers) and returns an `external_ref` the sender can later find it by
  (e.g. "chat_id:message_id"). `alert.kind` is "alert" (the case card: put the buttons
  Ambil / Catatan / Selesai / Hubungi under it, with callback data carrying `alert.case`)
  or "words" (the resident's own words, sent once as a reply to the card `alert.reply_to`
  when known; no buttons). Render with `render_alert(alert)` or your own layout.
- `update_alert` edits that message in place after a change (claimed, note, level,
  resolved, fallback step). Edits must be idempotent; a vanished message is not an error.
- Idempotency: `alert.idempotency_key` is the same on every attempt of one outbox row. A
  retry follows an unknown outcome (timeout, crash after sending); if the platform lets
  you (a dedupe table of yours, a message tag), use the key to avoid a second post. Raise
  any exception to mean "not delivered, retry later" (the dispatcher backs off); return
  normally only once the platform accepted the message.
- Never log `alert.words`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from typing import Protocol

from babel.dates import format_datetime

from bot.config import TIMEZONE_LABELS, Route

log = logging.getLogger(__name__)

LEVEL_LABELS = {"check": "CEK", "high": "TINGGI", "urgent": "DARURAT"}
LEVEL_ICONS = {"check": "🟡", "high": "🟠", "urgent": "🔴"}
CATEGORY_LABELS = {
    "suicide": "pikiran bunuh diri",
    "self_harm": "menyakiti diri",
    "violence": "kekerasan",
    "abuse": "penganiayaan / pelecehan",
    "psychosis": "gejala psikosis",
}
REASON_LABELS = {
    "new": "Kasus baru",
    "upgrade": "Tingkat naik",
    "sla": "Belum diambil: diteruskan ke tingkat berikutnya",
    "reminder": "Pengingat: belum diambil",
    "change": "Pembaruan",
    "words": "Kata-kata warga",
}
OUTCOME_LABELS = {
    "contacted": "sudah dihubungi",
    "referred_puskesmas": "dirujuk ke puskesmas",
    "referred_rsj": "dirujuk ke RSJ / rumah sakit",
    "emergency_services": "diteruskan ke layanan darurat",
    "no_response": "tidak ada tanggapan",
    "false_alarm": "bukan keadaan krisis",
}
NO_ROUTE = Route(id="", name="(rute kader belum diatur)")


@dataclass(frozen=True)
class Alert:
    """The handoff packet for cadres. Nothing here identifies the resident."""

    case: str  # short case code, e.g. "TJ-7K3Q"
    level: str
    category: str
    source: str  # "free_text", "phq9_item9", "menu", ...
    kind: str = "alert"  # alert | words
    reason: str = "new"  # new | upgrade | sla | reminder | change | words
    status: str = "open"  # open | claimed | closed
    items: dict[str, object] = field(default_factory=dict)  # item answers where known
    age_group: str | None = None
    area: str | None = None  # the area's label
    pregnant: bool | None = None
    contact_ok: bool | None = None
    share_words: bool | None = None
    words_state: str = "none"  # none | held | delivered | declined | wiped
    safe_now: bool | None = None
    with_someone: bool | None = None
    bot_said: tuple[str, ...] = ()  # hotline names the bot showed the resident
    created_at: datetime | None = None
    last_reply_at: datetime | None = None
    claimed_name: str | None = None
    claimed_at: datetime | None = None
    outcome: str | None = None
    route_chain: tuple[str, ...] = ()  # route names alerted so far, in order
    relay: str | None = None  # requested | active
    last_note: str | None = None  # the latest cadre note
    resident_left: bool = False  # the resident deleted their data: no contact through the bot
    words: str | None = None  # only when kind == "words"
    idempotency_key: str = ""
    attempt: int = 1
    reply_to: str | None = None  # for kind "words": the card's external_ref on this route
    timezone: tzinfo | None = None  # for rendering times


class AlertSender(Protocol):
    async def send_alert(self, route: Route, alert: Alert) -> str: ...

    async def update_alert(self, route: Route, external_ref: str, alert: Alert) -> None: ...


def format_time(moment: datetime | None, tz: tzinfo | None) -> str:
    """Cadre-facing time, e.g. "22 Nov 2026 14.05 WIB" (Babel, locale id)."""
    if moment is None:
        return "—"
    if tz is None:
        from zoneinfo import ZoneInfo

        tz = ZoneInfo("Asia/Jakarta")
    text = format_datetime(moment, "d MMM y HH.mm", tzinfo=tz, locale="id")
    label = TIMEZONE_LABELS.get(getattr(tz, "key", ""), getattr(tz, "key", ""))
    return f"{text} {label}".strip()


def _yes_no(value: bool | None, yes: str = "ya", no: str = "tidak") -> str:
    return "belum dijawab" if value is None else yes if value else no


def _source(source: str) -> str:
    if source == "free_text":
        return "pesan yang diketik warga"
    if source == "menu":
        return "warga memilih 'butuh bantuan' di menu"
    instrument, _sep, item = source.partition("_item")
    if item.isdigit():
        return f"{instrument.upper()} butir {item}"
    return source


def _items(items: dict[str, object]) -> str:
    parts = []
    for name, value in items.items():
        shown = {True: "ya", False: "tidak"}.get(value, value) if isinstance(value, bool) else value
        parts.append(f"{name} = {shown}")
    return "; ".join(parts) or "—"


def render_alert(alert: Alert) -> str:
    """The packet as plain text (Indonesian, for cadres)."""
    tz = alert.timezone
    if alert.kind == "words":
        return (
            f"💬 {alert.case}: kata-kata warga (dibagikan dengan persetujuannya, hanya "
            f"untuk penanganan kasus ini, jangan diteruskan):\n{alert.words or ''}"
        )
    icon = LEVEL_ICONS.get(alert.level, "⚪")
    level = LEVEL_LABELS.get(alert.level, alert.level.upper())
    category = CATEGORY_LABELS.get(alert.category, alert.category)
    lines = [f"{icon} {level} · {category} · {alert.case}"]
    if alert.reason not in ("new", "change"):
        lines.append(f"⏰ {REASON_LABELS.get(alert.reason, alert.reason)}")
    lines.append(f"Sumber: {_source(alert.source)}")
    if alert.items:
        lines.append(f"Jawaban: {_items(alert.items)}")
    profile = [f"Usia: {alert.age_group or '—'}", f"Wilayah: {alert.area or '—'}"]
    if alert.pregnant is not None:
        profile.append(f"Hamil/nifas: {_yes_no(alert.pregnant)}")
    lines.append(" · ".join(profile))
    contact = _yes_no(alert.contact_ok, "ya, lewat bot (tanpa nama/nomor)", "tidak")
    lines.append(f"Boleh dihubungi: {contact}")
    lines.append(
        f"Aman saat ini: {_yes_no(alert.safe_now)} · "
        f"Ada yang menemani: {_yes_no(alert.with_someone)}"
    )
    words = {
        "held": "ada, menunggu persetujuan warga" if not alert.share_words else "dikirim terpisah",
        "delivered": "sudah dikirim terpisah (lalu dihapus dari sistem)",
        "declined": "warga tidak setuju dibagikan",
        "wiped": "dihapus",
    }.get(alert.words_state)
    if words:
        lines.append(f"Kata-kata warga: {words}")
    if alert.bot_said:
        lines.append("Bot sudah memberi nomor: " + ", ".join(alert.bot_said))
    lines.append(
        f"Terakhir membalas: {format_time(alert.last_reply_at, tz)} · "
        f"masuk {format_time(alert.created_at, tz)}"
    )
    if alert.resident_left:
        lines.append("⚠️ Warga menghapus datanya: tidak bisa dihubungi lewat bot.")
    if alert.last_note:
        lines.append(f"📝 Catatan terakhir: {alert.last_note}")
    if len(alert.route_chain) > 1:
        lines.append("Diteruskan: " + " → ".join(alert.route_chain))
    if alert.status == "closed":
        outcome = OUTCOME_LABELS.get(alert.outcome or "", alert.outcome or "")
        lines.append(f"✅ SELESAI: {outcome} ({alert.claimed_name or 'operator'})")
    elif alert.status == "claimed":
        lines.append(
            f"👤 Diambil oleh {alert.claimed_name or 'kader'}, {format_time(alert.claimed_at, tz)}"
        )
        if alert.relay:
            lines.append(
                "💬 Percakapan lewat bot: "
                + ("aktif" if alert.relay == "active" else "menunggu jawaban warga")
            )
    else:
        lines.append("❗ BELUM DIAMBIL: tekan Ambil")
    if alert.level == "urgent" and alert.status != "closed":
        lines.append("Bahaya segera: arahkan ke 112 / 119 / IGD; kader bukan layanan darurat.")
    return "\n".join(lines)


class ConsoleAlertSender:
    """Collects rendered alerts as notes (for `temanjiwa chat`; `drain()` hands them out)."""

    def __init__(self) -> None:
        self._notes: list[str] = []
        self._count = 0

    async def send_alert(self, route: Route, alert: Alert) -> str:
        self._count += 1
        self._notes.append(f"→ {route.name or '(rute)'}\n{render_alert(alert)}")
        return f"console:{self._count}"

    async def update_alert(self, route: Route, external_ref: str, alert: Alert) -> None:
        self._notes.append(f"↻ {route.name or '(rute)'} ({external_ref})\n{render_alert(alert)}")

    def drain(self) -> list[str]:
        notes, self._notes = self._notes, []
        return notes


class LogAlertSender:
    """Writes alerts to the log (a stand-in until a channel sender is configured).

    Words are never logged: only the fact that they were sent.
    """

    def __init__(self, logger: logging.Logger | None = None):
        self.log = logger or log
        self._count = 0

    async def send_alert(self, route: Route, alert: Alert) -> str:
        self._count += 1
        shown = (
            replace(alert, words="(kata-kata warga disembunyikan di log)")
            if alert.kind == "words"
            else alert
        )
        self.log.warning(
            "CADRE ALERT to %s [%s]\n%s",
            route.id or "(no route)",
            alert.idempotency_key,
            render_alert(shown),
        )
        return f"log:{self._count}"

    async def update_alert(self, route: Route, external_ref: str, alert: Alert) -> None:
        self.log.info("cadre alert %s updated on %s: status %s", alert.case, route.id, alert.status)


class ChannelNotReady(Exception):
    """The route's channel is not running (yet): the outbox keeps the alert and retries."""


class RoutingAlertSender:
    """Sends each alert through the channel its route names (Telegram group, WhatsApp numbers).

    Channels attach their sender when they start; until then a send raises, so the alert
    stays in the outbox. A route with neither goes to the log (and `temanjiwa cases`).
    """

    def __init__(self, fallback: AlertSender | None = None) -> None:
        self.senders: dict[str, AlertSender] = {}
        self.fallback = fallback or LogAlertSender()

    def attach(self, kind: str, sender: AlertSender) -> None:
        self.senders[kind] = sender

    def _sender(self, route: Route) -> tuple[str, AlertSender]:
        if route.telegram_chat_id is not None:
            kind = "telegram"
        elif route.whatsapp_numbers:
            kind = "whatsapp"
        else:
            return "log", self.fallback
        sender = self.senders.get(kind)
        if sender is None:
            raise ChannelNotReady(f"{kind} is not running; alert for route {route.id} waits")
        return kind, sender

    async def send_alert(self, route: Route, alert: Alert) -> str:
        kind, sender = self._sender(route)
        return f"{kind}|{await sender.send_alert(route, alert)}"

    async def update_alert(self, route: Route, external_ref: str, alert: Alert) -> None:
        kind, _sep, ref = external_ref.partition("|")
        sender = self.fallback if kind == "log" else self.senders.get(kind)
        if sender is None:
            raise ChannelNotReady(f"{kind} is not running; update for route {route.id} waits")
        await sender.update_alert(route, ref, alert)
