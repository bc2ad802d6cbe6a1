"""The case card: the handoff packet a cadre receives (never with identity), and its text.

`build_alert` reads the case as it is now (so a card sent late, or edited after a change,
says what is true at that moment); `render_alert` writes it in Indonesian for cadres.
Senders (bot/cases/senders.py and the channels' card senders) decide where it goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from bot.cases.routing import route_of
from bot.config import TIMEZONE_LABELS, Config
from storage import cases

DEFAULT_TZ = ZoneInfo("Asia/Jakarta")
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


def format_time(moment: datetime | None, tz: tzinfo | None) -> str:
    """Cadre-facing time, e.g. "22 Nov 2026 14.05 WIB" (Babel, locale id)."""
    if moment is None:
        return "—"
    if tz is None:
        tz = DEFAULT_TZ
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
    if source == "followup":
        return "jawaban warga atas sapaan lanjutan bot"
    if source == "followup_unanswered":
        return "sapaan lanjutan terakhir tidak dijawab (tugas ringan, tanpa kontak warga)"
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


async def build_alert(
    conn: Any,
    config: Config,
    case: cases.CaseRow,
    *,
    kind: str = "alert",
    reason: str = "change",
    words: str | None = None,
    idempotency_key: str = "",
    attempt: int = 1,
    reply_to: str | None = None,
) -> Alert:
    """The handoff packet for `case` as it is now (never with identity)."""
    chain = [route_of(config, r).name for r in await cases.routes_alerted(conn, case.id)]
    relay = await cases.relay_for_case(conn, case.id)
    notes = await cases.events_of(conn, case.id, ("note",))
    area = next((a.label for a in config.areas if a.id == case.area), case.area)
    return Alert(
        case=case.code,
        level=case.level,
        category=case.category,
        source=case.source,
        kind=kind,
        reason=reason,
        status=case.status,
        items=dict(case.items),
        age_group=case.age_group,
        area=area,
        pregnant=case.pregnant,
        contact_ok=case.contact_ok,
        share_words=case.share_words,
        words_state=case.words_state,
        safe_now=case.safe_now,
        with_someone=case.with_someone,
        bot_said=tuple(case.bot_said),
        created_at=case.created_at,
        last_reply_at=case.last_reply_at,
        claimed_name=case.claimed_name,
        claimed_at=case.claimed_at,
        outcome=case.outcome,
        route_chain=tuple(chain),
        relay=relay.state if relay else None,
        last_note=(notes[-1].detail[:200] or None) if notes else None,
        resident_left=case.user_key is None and case.is_open,
        words=words,
        idempotency_key=idempotency_key,
        attempt=attempt,
        reply_to=reply_to,
        timezone=config.tz,
    )
