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
ABOUT_LABELS = {
    "child": "anak",
    "friend": "teman",
    "family": "anggota keluarga",
    "neighbour": "tetangga",
    "other": "orang lain",
}
ANSWER_LABELS = {
    "safe_now": "aman saat ini",
    "with_someone": "ada yang menemani",
    "talk_safe": "aman membalas chat",
    "abuser_near": "pelaku ada di dekatnya",
    "injured": "terluka",
    "needs_care": "luka perlu pertolongan medis",
    "person_safe": "orang yang dilaporkan aman",
    "with_person": "pelapor sedang bersamanya",
    "danger_now": "bahaya segera",
    "anyone_hurt": "ada yang terluka",
    "reporter_safe": "pelapor sendiri aman",
    "asq_declined": "tidak mau menjawab pertanyaan ASQ",
}
WORDS_LABELS = {
    "held": "menunggu persetujuan warga",
    "delivered": "dikirim terpisah",
    "declined": "warga tidak setuju dibagikan",
    "wiped": "dihapus",
}
REASON_LABELS = {
    "new": "Kasus baru",
    "upgrade": "Tingkat naik",
    "sla": "Belum diambil: diteruskan ke tingkat berikutnya",
    "reminder": "Pengingat: belum diambil",
    "change": "Pembaruan",
    "words": "Kata-kata warga",
    "disclosure": "Warga menyampaikan hal baru",
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
class Disclosure:
    """One thing the resident disclosed, as the card shows it (never their words)."""

    at: datetime
    level: str
    category: str
    source: str
    subject: str = "self"  # self | other
    about: str = ""  # child | friend | family | neighbour | other | "" (not said)
    answers: dict[str, object] = field(default_factory=dict)
    share_words: bool | None = None
    words_state: str = "none"
    words_at: datetime | None = None

    @property
    def reported(self) -> bool:
        """Told by someone else about the person at risk (a helper or a witness)."""
        return self.subject == "other"


@dataclass(frozen=True)
class Alert:
    """The handoff packet for cadres. Nothing here identifies the resident."""

    case: str  # short case code, e.g. "TJ-7K3Q"
    level: str
    category: str
    source: str  # "free_text", "phq9_item9", "menu", ...
    kind: str = "alert"  # alert | words | notice
    reason: str = "new"  # new | upgrade | sla | reminder | change | words | disclosure
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
    disclosures: tuple[Disclosure, ...] = ()  # oldest first
    words: str | None = None  # only when kind == "words"
    words_of: Disclosure | None = None  # only when kind == "words": whose words
    idempotency_key: str = ""
    attempt: int = 1
    # An earlier attempt may have been posted (its process died mid-send, or it timed out):
    # the card says "(ulang)" so a cadre who sees two knows they are one case.
    repeat: bool = False
    reply_to: str | None = None  # for kind "words": the card's external_ref on this route
    timezone: tzinfo | None = None  # for rendering times


#: On a card that may be the second copy of one already posted (see `Alert.repeat`).
REPEAT_MARK = "(ulang)"
REPEAT_NOTE = (
    "🔁 Dikirim ulang setelah gangguan: jika kartu kasus ini sudah ada di atas, itu kasus "
    "yang sama; pakai kartu ini."
)


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


def _shown(value: object) -> object:
    return {True: "ya", False: "tidak"}.get(value, value) if isinstance(value, bool) else value


def _items(items: dict[str, object]) -> str:
    return "; ".join(f"{name} = {_shown(value)}" for name, value in items.items()) or "—"


def _answers(answers: dict[str, object]) -> str:
    return "; ".join(
        f"{ANSWER_LABELS.get(name, name)} = {_shown(value)}" for name, value in answers.items()
    )


def _about(disclosure: Disclosure) -> str:
    return ABOUT_LABELS.get(disclosure.about, "(hubungan belum diketahui)")


def _words_state(disclosure: Disclosure, tz: tzinfo | None) -> str | None:
    label = WORDS_LABELS.get(disclosure.words_state)
    if disclosure.words_state == "held" and disclosure.share_words:
        return "disetujui, segera dikirim terpisah"
    if disclosure.words_state == "delivered" and disclosure.words_at is not None:
        return f"{label} {format_time(disclosure.words_at, tz)} (lalu dihapus dari sistem)"
    return label


def _disclosure_lines(number: int, disclosure: Disclosure, tz: tzinfo | None) -> list[str]:
    level = LEVEL_LABELS.get(disclosure.level, disclosure.level.upper())
    head = (
        f"{number}) {format_time(disclosure.at, tz)} · "
        f"{CATEGORY_LABELS.get(disclosure.category, disclosure.category)} · {level} · "
        f"{_source(disclosure.source)}"
    )
    lines = [head]
    if disclosure.reported:
        lines.append(f"   👥 dilaporkan oleh orang lain: {_about(disclosure)}")
    if disclosure.answers:
        lines.append(f"   Jawaban: {_answers(disclosure.answers)}")
    words = _words_state(disclosure, tz)
    if words:
        lines.append(f"   Kata-kata warga: {words}")
    return lines


def _categories(alert: Alert) -> str:
    names = list(dict.fromkeys(d.category for d in alert.disclosures)) or [alert.category]
    return " + ".join(CATEGORY_LABELS.get(n, n) for n in names)


def _render_words(alert: Alert, again: str = "") -> str:
    of = alert.words_of
    which = ""
    if of is not None:
        which = (
            f" (disampaikan {format_time(of.at, alert.timezone)}, "
            f"{CATEGORY_LABELS.get(of.category, of.category)})"
        )
    return (
        f"💬 {alert.case}{again}: kata-kata warga{which}, dibagikan dengan persetujuannya, hanya "
        f"untuk penanganan kasus ini, jangan diteruskan:\n{alert.words or ''}"
    )


def _render_notice(alert: Alert) -> str:
    latest = alert.disclosures[-1] if alert.disclosures else None
    if latest is None:
        return f"🆕 {alert.case}: ada pembaruan. Kartu kasus sudah diperbarui."
    level = LEVEL_LABELS.get(latest.level, latest.level.upper())
    who = f", dilaporkan oleh orang lain: {_about(latest)}" if latest.reported else ""
    return (
        f"🆕 {alert.case}: warga menyampaikan hal baru, "
        f"{format_time(latest.at, alert.timezone)}: "
        f"{CATEGORY_LABELS.get(latest.category, latest.category)} ({level}{who}). "
        f"Kasus ini sekarang punya {len(alert.disclosures)} hal yang disampaikan; kartu kasus "
        "sudah diperbarui."
    )


def render_alert(alert: Alert) -> str:
    """The packet as plain text (Indonesian, for cadres)."""
    tz = alert.timezone
    again = f" {REPEAT_MARK}" if alert.repeat else ""
    if alert.kind == "words":
        return _render_words(alert, again)
    if alert.kind == "notice":
        return _render_notice(alert)
    icon = LEVEL_ICONS.get(alert.level, "⚪")
    level = LEVEL_LABELS.get(alert.level, alert.level.upper())
    lines = [f"{icon} {level} · {_categories(alert)} · {alert.case}{again}"]
    if alert.repeat:
        lines.append(REPEAT_NOTE)
    if alert.reason not in ("new", "change"):
        lines.append(f"⏰ {REASON_LABELS.get(alert.reason, alert.reason)}")
    reported = list(dict.fromkeys(_about(d) for d in alert.disclosures if d.reported))
    if reported:
        lines.append("👥 Dilaporkan oleh orang lain: " + ", ".join(reported))
    lines.append(f"Sumber: {_source(alert.source)}")
    if alert.items and not alert.disclosures:
        lines.append(f"Jawaban: {_items(alert.items)}")
    profile = [f"Usia: {alert.age_group or '—'}", f"Wilayah: {alert.area or '—'}"]
    if alert.pregnant is not None:
        profile.append(f"Hamil/nifas: {_yes_no(alert.pregnant)}")
    lines.append(" · ".join(profile))
    contact = _yes_no(alert.contact_ok, "ya, lewat bot (tanpa nama/nomor)", "tidak")
    lines.append(f"Boleh dihubungi: {contact}")
    if not alert.disclosures or any(not d.reported for d in alert.disclosures):
        lines.append(
            f"Aman saat ini: {_yes_no(alert.safe_now)} · "
            f"Ada yang menemani: {_yes_no(alert.with_someone)}"
        )
    unsafe = [d for d in alert.disclosures if d.answers.get("talk_safe") is False]
    if unsafe and unsafe[-1] is alert.disclosures[-1]:
        lines.append(
            "⚠️ Warga tidak aman membalas chat: jangan menghubungi lewat bot sampai warga "
            "menulis lagi."
        )
    if alert.disclosures:
        lines.append(f"Yang disampaikan warga ({len(alert.disclosures)}):")
        for number, disclosure in enumerate(alert.disclosures, start=1):
            lines.extend(_disclosure_lines(number, disclosure, tz))
    else:
        words = {
            "held": "ada, menunggu persetujuan warga"
            if not alert.share_words
            else "dikirim terpisah",
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


def as_disclosure(row: cases.DisclosureRow) -> Disclosure:
    return Disclosure(
        at=row.at,
        level=row.level,
        category=row.category,
        source=row.source,
        subject=row.subject,
        about=row.about,
        answers=dict(row.answers),
        share_words=row.share_words,
        words_state=row.words_state,
        words_at=row.words_at,
    )


async def build_alert(
    conn: Any,
    config: Config,
    case: cases.CaseRow,
    *,
    kind: str = "alert",
    reason: str = "change",
    words: str | None = None,
    words_of: cases.DisclosureRow | None = None,
    idempotency_key: str = "",
    attempt: int = 1,
    repeat: bool = False,
    reply_to: str | None = None,
) -> Alert:
    """The handoff packet for `case` as it is now (never with identity)."""
    chain = [route_of(config, r).name for r in await cases.routes_alerted(conn, case.id)]
    relay = await cases.relay_for_case(conn, case.id)
    notes = await cases.events_of(conn, case.id, ("note",))
    area = next((a.label for a in config.areas if a.id == case.area), case.area)
    disclosures = tuple(as_disclosure(d) for d in await cases.disclosures_of_case(conn, case.id))
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
        disclosures=disclosures,
        words=words,
        words_of=as_disclosure(words_of) if words_of else None,
        idempotency_key=idempotency_key,
        attempt=attempt,
        repeat=repeat,
        reply_to=reply_to,
        timezone=config.tz,
    )
