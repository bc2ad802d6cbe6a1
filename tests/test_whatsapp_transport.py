"""WhatsApp Cloud API transport: signatures, parsing, rendering, sending, the 24 h window.

Payloads follow the shapes Meta documents (entry[].changes[].value with metadata,
contacts, messages, statuses). Network traffic goes only to the fake Graph API on
127.0.0.1; backoff is checked through an injected `sleep`, never by timing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.whatsapp import (
    Address,
    Delivered,
    GraphClient,
    GraphError,
    HeldForReply,
    NeedsFallback,
    OutsideWindow,
    RecentIds,
    RetriesExhausted,
    RetryPolicy,
    TemplateConfig,
    Unreachable,
    can_send_free_form,
    deliver,
    handle_verification,
    handle_webhook,
    parse_body,
    parse_webhook,
    render_reply,
    sign,
    split_text,
    verify_challenge,
    verify_signature,
)
from bot.whatsapp.render import wlen
from flows.messages import Choice, Reply
from tests.fakes.graph_api import running_graph_api
from tests.support import whatsapp_bodies as bodies

SECRET = "app-secret-for-tests"
TOKEN = "test-token"
PHONE_ID = "106540352242922"
WA_ID = "6281234567890"
BSUID = "ID.13491208655302741918"
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


# -- payload builders (shapes as in Meta's webhook reference) ---------------------------


def contact(wa_id: str | None = WA_ID, user_id: str | None = BSUID, name: str = "Sari") -> dict:
    c: dict[str, Any] = {"profile": {"name": name}}
    if wa_id:
        c["wa_id"] = wa_id
    if user_id:
        c["user_id"] = user_id
    return c


def message(
    mtype: str,
    content: dict | None = None,
    *,
    mid: str = "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYFDNB",
    sender: str | None = WA_ID,
    sender_user_id: str | None = None,
    ts: str = "1777636800",
) -> dict:
    m: dict[str, Any] = {"id": mid, "timestamp": ts, "type": mtype}
    if sender:
        m["from"] = sender
    if sender_user_id:
        m["from_user_id"] = sender_user_id
    if content is not None:
        m[mtype] = content
    return m


def value(messages=None, contacts=None, statuses=None) -> dict:
    v: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_ID},
    }
    if contacts is not None:
        v["contacts"] = contacts
    if messages is not None:
        v["messages"] = messages
    if statuses is not None:
        v["statuses"] = statuses
    return v


def payload(*values: dict, field: str = "messages") -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "102290129340398", "changes": [{"value": v, "field": field} for v in values]}
        ],
    }


def one(msg: dict, contacts: list | None = None) -> dict:
    return payload(value([msg], [contact()] if contacts is None else contacts))


def signed(body: dict) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body, separators=(",", ":")).encode()
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(SECRET, raw)}


# -- signature and handshake ------------------------------------------------------------


def test_signature_accepts_a_real_signed_body():
    raw, headers = signed(one(message("text", {"body": "halo"})))
    sig = headers["X-Hub-Signature-256"]
    assert verify_signature(SECRET, raw, sig)
    assert verify_signature(SECRET.encode(), raw, "sha256=" + sig[len("sha256=") :].upper())


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda raw, sig: (raw + b" ", sig), id="body-tampered"),
        pytest.param(lambda raw, sig: (raw, sign("wrong-secret", raw)), id="wrong-secret"),
        pytest.param(lambda raw, sig: (raw, None), id="missing"),
        pytest.param(lambda raw, sig: (raw, ""), id="empty"),
        pytest.param(lambda raw, sig: (raw, sig.replace("sha256=", "sha1=")), id="wrong-prefix"),
        pytest.param(lambda raw, sig: (raw, sig[len("sha256=") :]), id="no-prefix"),
        pytest.param(lambda raw, sig: (raw, "sha256=" + "0" * 64), id="forged-hex"),
        pytest.param(lambda raw, sig: (raw, sig[:-2]), id="truncated"),
        pytest.param(lambda raw, sig: (raw, "sha256=ünïcode"), id="non-ascii"),
    ],
)
def test_signature_refuses(mutate):
    raw, headers = signed(one(message("text", {"body": "halo"})))
    raw2, sig2 = mutate(raw, headers["X-Hub-Signature-256"])
    assert not verify_signature(SECRET, raw2, sig2)


def test_signature_refuses_when_no_secret_is_configured():
    raw = b"{}"
    assert not verify_signature("", raw, sign("", raw))


def test_verification_handshake():
    good = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    assert verify_challenge(good, "tok") == "1158201444"
    assert handle_verification(good, "tok") == (200, "1158201444")
    assert verify_challenge({**good, "hub.verify_token": "nope"}, "tok") is None
    assert verify_challenge({**good, "hub.mode": "unsubscribe"}, "tok") is None
    assert verify_challenge({k: v for k, v in good.items() if k != "hub.challenge"}, "tok") is None
    assert verify_challenge(good, "") is None
    assert handle_verification({}, "tok")[0] == 403


# -- webhook entry point ----------------------------------------------------------------


def test_handle_webhook_signed_body_gives_messages():
    raw, headers = signed(one(message("text", {"body": "aku capek banget"})))
    out = handle_webhook(raw, headers, SECRET)
    assert out.status == 200
    assert [m.inbound.text for m in out.messages] == ["aku capek banget"]


def test_handle_webhook_headers_are_case_insensitive():
    raw, headers = signed(one(message("text", {"body": "halo"})))
    lower = {k.lower(): v for k, v in headers.items()}
    assert handle_webhook(raw, lower, SECRET).status == 200


def test_handle_webhook_refuses_unsigned_and_forged():
    raw, _ = signed(one(message("text", {"body": "halo"})))
    assert handle_webhook(raw, {}, SECRET).status == 403
    forged = {"X-Hub-Signature-256": sign("attacker", raw)}
    out = handle_webhook(raw, forged, SECRET)
    assert out.status == 403 and out.messages == []


def test_handle_webhook_drops_redeliveries():
    raw, headers = signed(one(message("text", {"body": "halo"})))
    recent = RecentIds(size=2)
    first = handle_webhook(raw, headers, SECRET, recent=recent)
    again = handle_webhook(raw, headers, SECRET, recent=recent)
    assert len(first.messages) == 1
    assert again.messages == [] and again.duplicates == 1


def test_handle_webhook_garbage_is_200_with_a_problem():
    raw = b"not json at all"
    out = handle_webhook(raw, {"X-Hub-Signature-256": sign(SECRET, raw)}, SECRET)
    assert out.status == 200 and out.messages == [] and len(out.problems) == 1


# -- parsing ----------------------------------------------------------------------------


def test_parse_text():
    result = parse_webhook(one(message("text", {"body": "Halo"})))
    (m,) = result.messages
    assert m.inbound.text == "Halo" and m.inbound.kind == "text"
    assert m.user_ref == WA_ID and m.wa_id == WA_ID and m.user_id == BSUID
    assert m.reply_to == Address("to", WA_ID)
    assert m.phone_number_id == PHONE_ID
    assert m.timestamp == datetime.fromtimestamp(1777636800, UTC) == m.inbound.at
    assert result.problems == []


def test_parse_button_reply_splits_node_and_choice():
    interactive = {
        "type": "button_reply",
        "button_reply": {"id": "phq9.q1|sering", "title": "Sering"},
    }
    (m,) = parse_webhook(one(message("interactive", interactive))).messages
    assert (m.inbound.choice, m.inbound.node, m.inbound.kind) == ("sering", "phq9.q1", "choice")


def test_parse_list_reply():
    interactive = {
        "type": "list_reply",
        "list_reply": {
            "id": "menu.start|cek_phq9",
            "title": "Cek suasana hati",
            "description": "9",
        },
    }
    (m,) = parse_webhook(one(message("interactive", interactive))).messages
    assert (m.inbound.choice, m.inbound.node) == ("cek_phq9", "menu.start")


def test_parse_reply_id_without_node():
    interactive = {"type": "button_reply", "button_reply": {"id": "ya", "title": "Ya"}}
    (m,) = parse_webhook(one(message("interactive", interactive))).messages
    assert (m.inbound.choice, m.inbound.node) == ("ya", None)


def test_parse_legacy_template_button():
    (a,) = parse_webhook(
        one(message("button", {"payload": "x.y|lanjut", "text": "Lanjut"}))
    ).messages
    assert (a.inbound.choice, a.inbound.node) == ("lanjut", "x.y")
    (b,) = parse_webhook(
        one(message("button", {"payload": "RESUME", "text": "Lanjutkan"}))
    ).messages
    assert b.inbound.text == "Lanjutkan"


@pytest.mark.parametrize(
    ("mtype", "content", "media"),
    [
        ("image", {"id": "1", "mime_type": "image/jpeg", "sha256": "x"}, "image"),
        ("sticker", {"id": "2", "mime_type": "image/webp", "animated": False}, "sticker"),
        ("location", {"latitude": -6.2, "longitude": 106.8, "name": "Rumah"}, "location"),
        ("reaction", {"message_id": "wamid.OURS", "emoji": "❤️"}, "reaction"),
        ("audio", {"id": "3", "mime_type": "audio/ogg", "voice": True}, "voice"),
        ("audio", {"id": "4", "mime_type": "audio/mpeg"}, "audio"),
        ("video", {"id": "5", "mime_type": "video/mp4"}, "video"),
        ("document", {"id": "6", "filename": "a.pdf"}, "document"),
        ("contacts", [{"name": {"formatted_name": "Budi"}}], "contacts"),
        ("unsupported", None, "unsupported"),
        ("something_new", {"x": 1}, "unsupported"),
    ],
)
def test_parse_media_becomes_unsupported_inbound(mtype, content, media):
    (m,) = parse_webhook(one(message(mtype, content))).messages
    assert m.inbound.media == media and m.inbound.kind == "unsupported"
    assert m.inbound.text is None and m.inbound.choice is None


def test_parse_a_caption_is_text_naming_the_media():
    content = {"id": "1", "mime_type": "image/jpeg", "sha256": "x", "caption": "lihat ini"}
    (m,) = parse_webhook(one(message("image", content))).messages
    assert (m.inbound.text, m.inbound.media, m.inbound.kind) == ("lihat ini", "image", "text")
    assert m.handling == "turn"


def test_parse_statuses_are_counted_and_failures_kept():
    statuses = [
        {"id": "wamid.A", "status": "sent", "timestamp": "1", "recipient_id": WA_ID},
        {"id": "wamid.B", "status": "delivered", "timestamp": "2", "recipient_id": WA_ID},
        {
            "id": "wamid.C",
            "status": "failed",
            "timestamp": "3",
            "recipient_id": WA_ID,
            "errors": [{"code": 131047, "title": "Re-engagement message"}],
        },
    ]
    result = parse_webhook(payload(value(statuses=statuses)))
    assert result.messages == [] and result.problems == []
    assert result.statuses == 3
    (failure,) = result.failures
    assert failure.message_id == "wamid.C" and failure.codes == (131047,)


def test_parse_batched_entries_changes_and_messages():
    ana, budi, cici = "628111", "628222", "628333"
    v1 = value(
        [
            message("text", {"body": "satu"}, mid="wamid.1", sender=ana),
            message("text", {"body": "dua"}, mid="wamid.2", sender=budi),
        ],
        [contact(ana, "ID.1"), contact(budi, "ID.2")],
    )
    v2 = value(
        [message("text", {"body": "tiga"}, mid="wamid.3", sender=cici)], [contact(cici, "ID.3")]
    )
    v3 = value(
        statuses=[{"id": "wamid.X", "status": "read", "timestamp": "1", "recipient_id": ana}]
    )
    body = payload(v1, v2)
    body["entry"].append({"id": "other-waba", "changes": [{"value": v3, "field": "messages"}]})
    result = parse_webhook(body)
    got = [(m.message_id, m.user_ref, m.user_id, m.inbound.text) for m in result.messages]
    assert got == [
        ("wamid.1", ana, "ID.1", "satu"),
        ("wamid.2", budi, "ID.2", "dua"),
        ("wamid.3", cici, "ID.3", "tiga"),
    ]
    assert result.statuses == 1 and result.problems == []


def test_parse_missing_wa_id_falls_back_to_bsuid():
    msg = message("text", {"body": "halo"}, sender=None, sender_user_id=BSUID)
    (m,) = parse_webhook(one(msg, [contact(wa_id=None)])).messages
    assert m.user_ref == BSUID and m.wa_id is None
    assert m.reply_to == Address("recipient", BSUID)


def test_parse_bsuid_only_in_contacts():
    msg = message("text", {"body": "halo"}, sender=None)
    (m,) = parse_webhook(one(msg, [contact(wa_id=None)])).messages
    assert m.user_ref == BSUID and m.reply_to.field == "recipient"


def test_parse_missing_user_id_is_not_dropped():
    # The payload shape pywa was seen to drop while answering 200.
    msg = message("text", {"body": "halo"})
    result = parse_webhook(one(msg, [contact(user_id=None)]))
    (m,) = result.messages
    assert m.user_ref == WA_ID and m.user_id is None and result.problems == []


def test_parse_no_contacts_uses_message_from():
    result = parse_webhook(payload(value([message("text", {"body": "halo"})])))
    assert [m.user_ref for m in result.messages] == [WA_ID]


def test_parse_contradicting_contact_is_not_merged():
    msg = message("text", {"body": "halo"}, sender="628111")
    (m,) = parse_webhook(one(msg, [contact("628222", "ID.2")])).messages
    assert m.user_ref == "628111" and m.user_id is None


def test_parse_no_identity_at_all_is_a_problem():
    msg = message("text", {"body": "halo"}, sender=None)
    result = parse_webhook(one(msg, []))
    assert result.messages == []
    (p,) = result.problems
    assert "no sender id" in p.reason and p.message_id == msg["id"]


def test_parse_several_contacts_without_match_does_not_guess():
    msg = message("text", {"body": "halo"}, sender=None)
    result = parse_webhook(one(msg, [contact("1", "ID.1"), contact("2", "ID.2")]))
    assert result.messages == [] and len(result.problems) == 1


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([], id="list"),
        pytest.param("x", id="string"),
        pytest.param({"object": "page", "entry": []}, id="other-object"),
        pytest.param({"object": "whatsapp_business_account"}, id="no-entry"),
        pytest.param(
            {"object": "whatsapp_business_account", "entry": [{"changes": "x"}]}, id="bad-changes"
        ),
        pytest.param(
            {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": 3}]}]},
            id="bad-value",
        ),
        pytest.param(payload({**value(), "messages": {"not": "a list"}}), id="messages-not-list"),
        pytest.param(payload(value(["just a string"], [contact()])), id="message-not-object"),
        pytest.param(
            payload(value([{"type": "text", "from": WA_ID}], [contact()])), id="message-without-id"
        ),
        pytest.param(one(message("text", {"no": "body"})), id="text-without-body"),
        pytest.param(one(message("interactive", {"type": "button_reply"})), id="reply-without-id"),
        pytest.param(
            one(message("system", {"body": "changed number", "type": "user_changed_number"})),
            id="system",
        ),
    ],
)
def test_parse_garbage_is_reported_never_raised(body):
    result = parse_webhook(body)
    assert result.messages == []
    assert len(result.problems) == 1


def test_parse_bad_part_does_not_lose_the_good_ones():
    good = message("text", {"body": "halo"}, mid="wamid.good")
    body = payload(
        value([{"id": "wamid.bad", "type": "text", "from": WA_ID, "text": 7}, good], [contact()])
    )
    result = parse_webhook(body)
    assert [m.message_id for m in result.messages] == ["wamid.good"]
    assert [p.message_id for p in result.problems] == ["wamid.bad"]


def test_parse_invalid_json_body():
    result = parse_body(b"\xff\xfe{")
    assert result.messages == [] and len(result.problems) == 1


def test_parse_other_fields_are_ignored_not_problems():
    result = parse_webhook(payload({"event": "APPROVED"}, field="message_template_status_update"))
    assert result.messages == [] and result.problems == [] and result.ignored_changes == 1


def test_parse_logs_no_content_or_identity(caplog):
    secret_text = "aku ingin mengakhiri semuanya"
    body = payload(
        value(
            [
                message("text", {"body": secret_text}, sender=None),  # no identity -> problem
                message("interactive", {"type": "nfm_reply"}, mid="wamid.2"),
            ],
            [contact(), contact("6289999", "ID.9")],
        )
    )
    with caplog.at_level(logging.DEBUG, logger="bot.whatsapp"):
        result = parse_webhook(body)
        repr(result)
    assert result.problems  # something was logged
    logged = caplog.text + repr(result)
    for private in (secret_text, WA_ID, BSUID, "6289999", "Sari"):
        assert private not in logged


# -- every kind of body Meta sends (tests/data/whatsapp) ---------------------------------

# file: (handling, kind, what the engine would get, the text kept for the crisis check)
KINDS = {
    "text": ("turn", "text", "text", None),
    "edit_text": ("edit", "edit", "text", "maaf, maksudku yang kedua"),
    "edit_text_crisis": ("edit", "edit", "text", "aku mau bunuh diri malam ini"),
    "edit_image_caption": ("edit", "edit", "text", "ini foto kamarku"),
    "revoke": ("quiet", "revoke", "unsupported", None),
    "reaction": ("quiet", "reaction", "unsupported", None),
    "reaction_removed": ("quiet", "reaction_removed", "unsupported", None),
    "reaction_empty_emoji": ("quiet", "reaction_removed", "unsupported", None),
    "interactive_error_131000": ("turn", "undelivered", "unsupported", None),
    "order": ("turn", "order", "unsupported", "mau pesan yang ini"),
    "nfm_reply": ("turn", "flow_reply", "unsupported", "Sari\nbesok saja"),
    "nfm_reply_crisis": ("turn", "flow_reply", "unsupported", "aku ingin mengakhiri hidupku"),
    "call_permission_reply": ("quiet", "call_permission_reply", "unsupported", None),
    "unsupported": ("turn", "unsupported", "unsupported", None),
    "image_caption_crisis": ("turn", "image", "text", None),
    "system_customer_identity_changed": ("quiet", "identity_changed", "unsupported", None),
    "system_user_changed_number": ("number_change", "number_changed", "unsupported", None),
}
OTHER_FIELDS = ("account_update", "calls", "message_template_status_update", "user_preferences")


@pytest.mark.parametrize("name", sorted(KINDS))
def test_parse_each_kind_of_message(name):
    handling, kind, inbound_kind, check_text = KINDS[name]
    result = parse_webhook(bodies.load(name))
    assert result.problems == []
    (m,) = result.messages
    assert (m.handling, m.kind, m.inbound.kind, m.check_text) == (
        handling,
        kind,
        inbound_kind,
        check_text,
    )
    assert m.user_ref == bodies.RESIDENT and m.reply_to == Address.phone(bodies.RESIDENT)


def test_parse_a_number_change_names_the_new_number():
    (m,) = parse_webhook(bodies.load("system_user_changed_number")).messages
    assert (m.new_ref, m.new_reply_to) == (bodies.NEW_NUMBER, Address.phone(bodies.NEW_NUMBER))
    older = bodies.load("system_user_changed_number")
    system = older["entry"][0]["changes"][0]["value"]["messages"][0]["system"]
    system["new_wa_id"] = system.pop("wa_id")  # the field's older name
    system["type"] = "customer_changed_number"
    (m,) = parse_webhook(older).messages
    assert (m.handling, m.new_ref) == ("number_change", bodies.NEW_NUMBER)


def test_parse_a_number_change_without_the_new_number_is_a_problem():
    body = bodies.load("system_user_changed_number")
    del body["entry"][0]["changes"][0]["value"]["messages"][0]["system"]["wa_id"]
    result = parse_webhook(body)
    assert result.messages == [] and [p.reason for p in result.problems] == [
        "number change without the new id"
    ]


def test_parse_system_notices_log_their_own_message_and_no_number(caplog):
    with caplog.at_level(logging.INFO, logger="bot.whatsapp"):
        parse_webhook(bodies.load("system_user_changed_number"))
        parse_webhook(bodies.load("system_customer_identity_changed"))
    changed, identity = (r.getMessage() for r in caplog.records)
    assert "changed their WhatsApp number" in changed
    assert "identity" in identity and "number" not in identity
    for private in (bodies.RESIDENT, bodies.NEW_NUMBER, "Sari"):
        assert private not in caplog.text


def test_parse_the_other_bodies_statuses_and_other_fields_counted_by_field():
    rest = [name for name in bodies.names() if name not in KINDS]  # every body is covered
    assert sorted(rest) == sorted([*OTHER_FIELDS, "statuses"])
    for name in rest:
        result = parse_webhook(bodies.load(name))
        assert result.messages == [] and result.problems == []
        if name == "statuses":
            assert (result.statuses, result.ignored_fields) == (3, {})
        else:
            assert result.ignored_fields == {name: 1}
    strange = payload({"x": 1}, field="Not a Field!")
    assert parse_webhook(strange).ignored_fields == {"other": 1}


NEW_BSUID = "ID.99887766554433221100"


def test_parse_a_changed_business_scoped_id():
    notice = {
        "id": "wamid.SYS",
        "timestamp": "1795331100",
        "type": "system",
        "system": {
            "body": "User changed their user id",
            "type": "user_changed_user_id",
            "previous_user_id": BSUID,
            "user_id": NEW_BSUID,
        },
    }
    (m,) = parse_webhook(payload(value([notice]))).messages
    assert (m.handling, m.user_ref, m.new_ref) == ("number_change", BSUID, NEW_BSUID)
    assert m.new_reply_to == Address.bsuid(NEW_BSUID)
    (same_number,) = parse_webhook(payload(value([{**notice, "from": WA_ID}]))).messages
    assert (same_number.handling, same_number.user_ref) == ("quiet", WA_ID)  # key unchanged


# -- rendering --------------------------------------------------------------------------

TO = Address.phone(WA_ID)


def choices(n: int, width: int = 6, description: str | None = None) -> tuple[Choice, ...]:
    return tuple(
        Choice(id=f"c{i}", label=f"{i}".rjust(width, "x"), description=description)
        for i in range(n)
    )


def kind(bodies: list[dict]) -> str:
    last = bodies[-1]
    return last["interactive"]["type"] if last["type"] == "interactive" else last["type"]


@pytest.mark.parametrize(
    ("n", "width", "expected"),
    [
        (1, 6, "button"),
        (3, 20, "button"),
        (3, 21, "list"),
        (4, 6, "list"),
        (10, 24, "list"),
        (10, 25, "text"),
        (11, 6, "text"),
        (4, 25, "text"),
    ],
)
def test_render_boundaries(n, width, expected):
    bodies = render_reply(Reply("Pilih:", choices(n, width), node="f.n"), TO)
    assert kind(bodies) == expected


def test_render_buttons_shape_and_ids():
    reply = Reply(
        "Bagaimana tidurmu?", (Choice("baik", "Baik"), Choice("buruk", "Buruk")), node="tidur.q1"
    )
    (body,) = render_reply(reply, TO)
    assert body["to"] == WA_ID and body["messaging_product"] == "whatsapp"
    inter = body["interactive"]
    assert inter["body"]["text"] == "Bagaimana tidurmu?"
    assert inter["action"]["buttons"] == [
        {"type": "reply", "reply": {"id": "tidur.q1|baik", "title": "Baik"}},
        {"type": "reply", "reply": {"id": "tidur.q1|buruk", "title": "Buruk"}},
    ]


def test_render_list_shape():
    reply = Reply("Menu", choices(5, description="d" * 72), node="menu.start")
    (body,) = render_reply(reply, Address.bsuid(BSUID))
    assert body["recipient"] == BSUID and "to" not in body
    action = body["interactive"]["action"]
    assert action["button"] == "Pilih jawaban"
    rows = action["sections"][0]["rows"]
    assert (
        len(rows) == 5 and rows[0]["id"] == "menu.start|c0" and rows[0]["description"] == "d" * 72
    )


def test_render_long_description_falls_back_to_numbered_menu():
    (body,) = render_reply(Reply("Menu", choices(5, description="d" * 73), node="m"), TO)
    assert body["type"] == "text"


def test_render_numbered_menu_text():
    reply = Reply(
        "Pilih layanan:", tuple(Choice(f"c{i}", f"Layanan {i}") for i in range(1, 12)), node="m"
    )
    (body,) = render_reply(reply, TO)
    text = body["text"]["body"]
    assert text.startswith("Pilih layanan:\n\n1. Layanan 1\n2. Layanan 2\n")
    assert text.endswith("11. Layanan 11\nKetik angkanya.")


def test_render_duplicate_labels_fall_back_to_text():
    reply = Reply("?", (Choice("a", "Ya"), Choice("b", "ya")), node="n")
    assert kind(render_reply(reply, TO)) == "text"


def test_render_emoji_counts_conservatively():
    label = "😊" * 10  # 10 code points, 20 UTF-16 units: still a button
    assert kind(render_reply(Reply("?", (Choice("a", label),), node="n"), TO)) == "button"
    label = "😊" * 11  # 22 units: too long for a button, fits a list row
    assert kind(render_reply(Reply("?", (Choice("a", label),), node="n"), TO)) == "list"


def test_render_too_long_ids_drop_the_node_then_fall_back():
    long_node = "f." + "n" * 250
    (body,) = render_reply(Reply("?", (Choice("ya", "Ya"),), node=long_node), TO)
    assert body["interactive"]["action"]["buttons"][0]["reply"]["id"] == "ya"
    (body,) = render_reply(Reply("?", (Choice("y" * 300, "Ya"),), node="n"), TO)
    assert body["type"] == "text"


def test_render_plain_text_is_split_at_paragraphs():
    para = ("Kalimat yang cukup panjang untuk mengisi pesan. " * 20).strip()
    text = "\n\n".join([para] * 8)
    bodies = render_reply(Reply(text), TO)
    assert len(bodies) > 1
    parts = [b["text"]["body"] for b in bodies]
    assert all(wlen(p) <= 4096 for p in parts)
    assert all(p.startswith("Kalimat") and p.endswith(".") for p in parts)
    assert "\n\n".join(parts) == text


def test_render_long_text_with_buttons_keeps_the_question_with_them():
    intro = ("Ini penjelasan panjang. " * 60).strip()
    reply = Reply(
        f"{intro}\n\nMau lanjut?", (Choice("ya", "Ya"), Choice("tidak", "Tidak")), node="n"
    )
    bodies = render_reply(reply, TO)
    assert [b["type"] for b in bodies] == ["text", "interactive"]
    assert bodies[-1]["interactive"]["body"]["text"] == "Mau lanjut?"
    assert bodies[0]["text"]["body"] == intro


def test_render_empty_text_with_choices_has_a_body():
    (body,) = render_reply(Reply("", (Choice("a", "A"),), node="n"), TO)
    assert body["interactive"]["body"]["text"]


def test_split_text_sentences_and_hard_cut():
    sentences = "Satu dua tiga. " * 400
    parts = split_text(sentences, limit=100)
    assert all(wlen(p) <= 100 for p in parts) and all(p.endswith(".") for p in parts)
    parts = split_text("x" * 250, limit=100)
    assert [len(p) for p in parts] == [100, 100, 50]
    assert split_text("   ") == ["…"]


def test_rendered_ids_round_trip_through_the_webhook_parser():
    reply = Reply(
        "Seberapa sering?",
        (Choice("0", "Tidak pernah"), Choice("3", "Hampir tiap hari")),
        node="phq9.q2",
    )
    (body,) = render_reply(reply, TO)
    sent = body["interactive"]["action"]["buttons"][1]["reply"]
    press = {"type": "button_reply", "button_reply": {"id": sent["id"], "title": sent["title"]}}
    (m,) = parse_webhook(one(message("interactive", press))).messages
    assert (m.inbound.node, m.inbound.choice) == ("phq9.q2", "3")


# -- client against the fake Graph API --------------------------------------------------


@pytest.fixture
async def graph_api():
    async with running_graph_api(token=TOKEN) as fake:
        yield fake


class Sleeps:
    """Records requested delays instead of waiting them out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


POLICY = RetryPolicy(attempts=4, base_delay=0.01, pair_delay=0.5, max_delay=10.0, jitter=0.5)


def make_client(fake, sleeps: Sleeps | None = None, **kw) -> GraphClient:
    return GraphClient(
        base_url=fake.base_url,
        api_version="v25.0",
        phone_number_id=PHONE_ID,
        token=TOKEN,
        retry=kw.pop("retry", POLICY),
        sleep=sleeps or Sleeps(),
        random=lambda: 0.5,
        **kw,
    )


async def test_client_sends_text_with_bearer_token(graph_api):
    async with make_client(graph_api) as client:
        wamid = await client.send_text(Address.phone(WA_ID), "Halo, aku Teman Jiwa.")
    assert wamid == "wamid.FAKE1"
    (call,) = graph_api.calls
    assert call.path == f"/v25.0/{PHONE_ID}/messages"
    assert call.authorization == f"Bearer {TOKEN}"
    assert call.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": WA_ID,
        "type": "text",
        "text": {"body": "Halo, aku Teman Jiwa.", "preview_url": False},
    }


async def test_client_addresses_bsuid_with_recipient(graph_api):
    async with make_client(graph_api) as client:
        await client.send_text(Address.bsuid(BSUID), "Halo")
    (call,) = graph_api.calls
    assert call.body["recipient"] == BSUID and "to" not in call.body


async def test_client_uses_a_shared_http_client_without_closing_it(graph_api):
    async with httpx.AsyncClient() as http:
        client = make_client(graph_api, http=http)
        await client.send_text(TO, "a")
        await client.aclose()
        assert not http.is_closed


async def test_client_retries_throughput_limit_with_exponential_backoff(graph_api):
    graph_api.fail_next("130429", times=3)
    sleeps = Sleeps()
    async with make_client(graph_api, sleeps) as client:
        assert await client.send_text(TO, "halo") == "wamid.FAKE1"
    assert [c.status for c in graph_api.calls] == [400, 400, 400, 200]
    # base 0.01 doubling, each times (1 + jitter 0.5 * random 0.5)
    assert sleeps.delays == pytest.approx([0.0125, 0.025, 0.05])


async def test_client_pair_rate_limit_waits_longer(graph_api):
    graph_api.fail_next("131056")
    sleeps = Sleeps()
    async with make_client(graph_api, sleeps) as client:
        await client.send_text(TO, "halo")
    assert sleeps.delays == pytest.approx([0.625])  # pair_delay 0.5 * 1.25


@pytest.mark.parametrize("fault", ["500", "429"])
async def test_client_retries_http_errors(graph_api, fault):
    graph_api.fail_next(fault)
    async with make_client(graph_api) as client:
        assert await client.send_text(TO, "halo") == "wamid.FAKE1"
    assert len(graph_api.calls) == 2


async def test_client_retries_a_timeout(graph_api):
    graph_api.fail_next("timeout")
    async with make_client(graph_api, timeout=0.3) as client:
        assert await client.send_text(TO, "halo") == "wamid.FAKE1"
    assert [c.status for c in graph_api.calls] == [0, 200]


async def test_client_gives_up_after_the_last_attempt(graph_api):
    graph_api.fail_next("130429", times=10)
    sleeps = Sleeps()
    async with make_client(graph_api, sleeps) as client:
        with pytest.raises(RetriesExhausted) as info:
            await client.send_text(TO, "halo")
    assert info.value.code == 130429 and info.value.attempts == 4
    assert len(graph_api.calls) == 4 and len(sleeps.delays) == 3


async def test_client_backoff_is_capped():
    policy = RetryPolicy(base_delay=1, max_delay=5, jitter=0)
    assert [policy.delay(n, pair=False, retry_after=None, rnd=0) for n in range(5)] == [
        1,
        2,
        4,
        5,
        5,
    ]
    assert policy.delay(0, pair=False, retry_after=3, rnd=0) == 3


async def test_client_outside_window_is_typed_and_not_retried(graph_api):
    graph_api.fail_next("131047")
    async with make_client(graph_api) as client:
        with pytest.raises(OutsideWindow) as info:
            await client.send_text(TO, "rahasia")
    assert info.value.code == 131047 and len(graph_api.calls) == 1
    assert "rahasia" not in str(info.value) and WA_ID not in str(info.value)


async def test_client_unreachable_is_typed(graph_api):
    graph_api.fail_next("131026")
    async with make_client(graph_api) as client:
        with pytest.raises(Unreachable):
            await client.send_text(TO, "halo")
    assert len(graph_api.calls) == 1


async def test_client_batch_failure_keeps_what_was_not_sent(graph_api):
    bodies = (
        render_reply(Reply("satu"), TO)
        + render_reply(Reply("dua"), TO)
        + render_reply(Reply("tiga"), TO)
    )
    graph_api.fail_next("131009", after=1)  # permanent parameter error on the 2nd body
    async with make_client(graph_api) as client:
        with pytest.raises(GraphError) as info:
            await client.send_many(bodies)
    err = info.value
    assert err.code == 131009 and len(graph_api.calls) == 2  # not retried
    assert err.sent_ids == ["wamid.FAKE1"]
    assert [b["text"]["body"] for b in err.unsent] == ["dua", "tiga"]


async def test_client_keeps_order_per_recipient_under_concurrency(graph_api):
    a, b = Address.phone("628111"), Address.phone("628222")
    graph_api.fail_next("131056")  # whichever send comes first is retried; order must hold
    async with make_client(graph_api) as client:
        await asyncio.gather(
            client.send_replies(a, [Reply("a1"), Reply("a2")]),
            client.send_replies(b, [Reply("b1")]),
            client.send_replies(a, [Reply("a3")]),
            client.send_replies(b, [Reply("b2"), Reply("b3")]),
        )

    def texts(to):
        return [c.body["text"]["body"] for c in graph_api.delivered if c.recipient == to.value]

    assert texts(a) == ["a1", "a2", "a3"]
    assert texts(b) == ["b1", "b2", "b3"]


async def test_client_paces_messages_to_one_recipient(graph_api):
    clock = [100.0]
    sleeps = Sleeps()
    async with make_client(graph_api, sleeps, min_interval=6.0, clock=lambda: clock[0]) as client:
        await client.send_text(TO, "satu")
        clock[0] += 2.0
        await client.send_text(TO, "dua")
        await client.send_text(Address.phone("628999"), "orang lain")
    assert sleeps.delays == pytest.approx([4.0])


async def test_client_requires_credentials():
    with pytest.raises(ValueError):
        GraphClient(base_url="http://127.0.0.1:9", phone_number_id="", token="t")


# -- 24-hour window ---------------------------------------------------------------------


def test_window_rule():
    assert can_send_free_form(NOW - timedelta(hours=23, minutes=59), NOW)
    assert not can_send_free_form(NOW - timedelta(hours=24), NOW)
    assert not can_send_free_form(NOW - timedelta(days=3), NOW)
    assert not can_send_free_form(None, NOW)
    assert not can_send_free_form(
        NOW - timedelta(hours=23, minutes=59), NOW, margin=timedelta(minutes=5)
    )
    with pytest.raises(ValueError):
        can_send_free_form(datetime(2026, 5, 1, 11, 0), NOW)


TEMPLATE = TemplateConfig(name="pesan_menunggu", language="id", parameters=("Sari",))


async def test_deliver_inside_window_sends_free_form(graph_api):
    bodies = render_reply(Reply("Halo lagi"), TO)
    async with make_client(graph_api) as client:
        out = await deliver(
            client, TO, bodies, last_inbound_at=NOW - timedelta(hours=1), now=NOW, template=TEMPLATE
        )
    assert out == Delivered(("wamid.FAKE1",))
    assert [c.type for c in graph_api.calls] == ["text"]


async def test_deliver_outside_window_sends_template_and_holds_content(graph_api):
    bodies = render_reply(Reply("Hasil cek kamu: berat."), TO)
    async with make_client(graph_api) as client:
        out = await deliver(
            client, TO, bodies, last_inbound_at=NOW - timedelta(days=2), now=NOW, template=TEMPLATE
        )
    assert isinstance(out, HeldForReply)
    assert out.unsent == tuple(bodies) and out.sent_ids == ()
    (call,) = graph_api.calls
    assert call.body["type"] == "template"
    assert call.body["template"] == {
        "name": "pesan_menunggu",
        "language": {"code": "id"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Sari"}]}],
    }
    assert "berat" not in json.dumps(call.body)


async def test_deliver_outside_window_without_template_needs_fallback(graph_api):
    bodies = render_reply(Reply("Halo"), TO)
    async with make_client(graph_api) as client:
        out = await deliver(client, TO, bodies, last_inbound_at=None, now=NOW, template=None)
    assert isinstance(out, NeedsFallback) and out.unsent == tuple(bodies)
    assert graph_api.calls == []


async def test_deliver_falls_back_when_meta_says_window_closed(graph_api):
    graph_api.closed_windows.add(WA_ID)
    bodies = render_reply(Reply("satu"), TO) + render_reply(Reply("dua"), TO)
    async with make_client(graph_api) as client:
        out = await deliver(
            client, TO, bodies, last_inbound_at=NOW - timedelta(hours=2), now=NOW, template=TEMPLATE
        )
    assert isinstance(out, HeldForReply) and out.template_message_id == "wamid.FAKE1"
    assert [b["text"]["body"] for b in out.unsent] == ["satu", "dua"]
    assert [(c.type, c.status) for c in graph_api.calls] == [("text", 400), ("template", 200)]
