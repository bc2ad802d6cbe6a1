"""WhatsApp events as Meta sends them, end to end: which get an answer, which stay quiet.

Each body comes from tests/data/whatsapp/ (written from the Cloud API webhook reference),
is signed with the app secret and posted over HTTP to the web app served by uvicorn on
127.0.0.1; the real engine, SQLite store, escalation and desk answer it, and what the bot
said is read back from the fake Graph API. The README's WhatsApp section has the table
these tests check.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.web import bound_port, create_web_app, serve
from bot.whatsapp.signature import SIGNATURE_HEADER, sign
from storage import cases
from storage.privacy import consent_history, record_consent_given
from storage.residents import MOVED_TABLES
from tests.support.whatsapp_bodies import NEW_NUMBER, RESIDENT, fresh, load
from tests.support.whatsapp_driver import list_reply
from tests.test_whatsapp_channel import (
    KADER,
    SECRET,
    Stack,
    close,
    graph,  # noqa: F401  (the fake Graph API fixture)
    make_stack,
    texts,
)

UNREADABLE = "hanya bisa membaca teks"
NOT_REREAD = "tidak saya baca ulang"
HOTLINES = ("119", "112")


@pytest.fixture
async def s(tmp_path, graph) -> AsyncIterator[Stack]:  # noqa: F811
    """The stack, its web app served on 127.0.0.1 (a real HTTP server)."""
    stack = await make_stack(tmp_path, graph)
    stop, started, holder = asyncio.Event(), asyncio.Event(), []
    app = create_web_app(whatsapp=stack.channel)
    server = asyncio.create_task(
        serve(
            app,
            "127.0.0.1",
            0,
            stop=stop,
            started=started,
            server_holder=holder,
            handle_signals=False,
            log_level="warning",
        )
    )
    await started.wait()
    await stack.http.aclose()
    stack.http = httpx.AsyncClient(timeout=30)
    stack.url = f"http://127.0.0.1:{bound_port(holder[0])}/whatsapp/webhook"
    try:
        yield stack
    finally:
        stop.set()
        await server
        await close(stack)


async def post(s: Stack, body: dict[str, Any]) -> None:
    raw = json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(SECRET, raw)}
    response = await s.http.post(s.url, content=raw, headers=headers)
    assert response.status_code == 200
    await s.channel.wait_idle()


async def send(s: Stack, name: str, *, to: str = RESIDENT, **kw: Any) -> list[dict]:
    """Post one body from the data folder (new ids, the stack's time); what `to` got."""
    before = len(s.to(to))
    await post(s, fresh(load(name), ts=kw.pop("ts", s.ts()), **kw))
    return s.to(to)[before:]


async def health(s: Stack) -> dict[str, Any]:
    response = await s.http.get(s.url.replace("/whatsapp/webhook", "/healthz"))
    return response.json()["whatsapp"]


def key(s: Stack, wa_id: str) -> str:
    return s.runtime.conversations.key_for("whatsapp", wa_id)


async def rows_for(s: Stack, user_key: str) -> dict[str, int]:
    counts = {}
    for table in MOVED_TABLES:
        row = await s.runtime.store.reader.fetchone(
            f"SELECT count(*) AS n FROM {table} WHERE user_key = ?", (user_key,)
        )
        counts[table] = row["n"]
    return counts


async def in_gad7(s: Stack, wa_id: str = RESIDENT) -> dict:
    """A consented resident at the first GAD-7 question; returns that question's body."""
    await s.seed(wa_id, area="ngunut", age_group="dewasa")
    await s.text(wa_id, "/start gad7")
    await s.tap(wa_id, "mulai")
    question = s.to(wa_id)[-1]
    assert question["type"] == "interactive"
    return question


# -- quiet events ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("reaction_removed", "reaction_removed"),
        ("reaction_empty_emoji", "reaction_removed"),
        ("revoke", "revoke"),
        ("reaction", "reaction"),
        ("call_permission_reply", "call_permission_reply"),
        ("system_customer_identity_changed", "identity_changed"),
    ],
)
async def test_quiet_events_get_no_reply_and_are_counted(s: Stack, name: str, kind: str):
    await in_gad7(s)
    turns = len(s.turns)
    assert await send(s, name) == []
    assert len(s.turns) == turns  # not a turn: the question stays where it was
    counters = await health(s)
    assert counters[f"quiet_{kind}"] == 1 and counters["quiet"] == 1
    assert UNREADABLE not in texts(s.to(RESIDENT))


# -- edits -----------------------------------------------------------------------------


async def test_an_edit_with_crisis_words_is_handled_like_a_new_message(s: Stack):
    await in_gad7(s)
    reply = await send(s, "edit_text_crisis")
    said = texts(reply)
    assert all(number in said for number in HOTLINES), said
    assert "escalate" in s.events(RESIDENT)
    async with s.runtime.store.transaction() as tx:
        case = await cases.open_case_for(tx, key(s, RESIDENT))
    assert case is not None and case.level == "urgent" and case.source == "free_text"
    assert (await health(s))["edited_crisis"] == 1


async def test_an_ordinary_edit_is_not_reread_and_noted_once_per_ten_minutes(s: Stack):
    question = await in_gad7(s)
    stored = await s.runtime.store.load_session(key(s, RESIDENT))
    turns = len(s.turns)
    first = await send(s, "edit_text")
    assert NOT_REREAD in texts(first) and len(first) == 1
    s.clock.advance(minutes=5)
    assert await send(s, "edit_image_caption") == []  # within ten minutes: no second note
    assert len(s.turns) == turns  # neither edit moved the conversation
    after = await s.runtime.store.load_session(key(s, RESIDENT))
    assert after is not None and stored is not None
    assert after.session.to_dict() == stored.session.to_dict()
    s.clock.advance(minutes=6)
    assert NOT_REREAD in texts(await send(s, "edit_text"))
    counters = await health(s)
    assert counters["edited_ignored"] == 3 and counters["edited_crisis"] == 0
    # The question is still open: a row of it (above the notes) answers it as before.
    row = question["interactive"]["action"]["sections"][0]["rows"][0]
    before = len(s.to(RESIDENT))
    await s.post(list_reply(row["id"], row["title"], sender=RESIDENT, ts=s.ts()))
    assert "2 dari 7" in texts(s.to(RESIDENT)[before:])


# -- unreadable, undelivered, orders, forms, captions -------------------------------------


async def test_content_meta_could_not_deliver_gets_the_current_question_again(s: Stack):
    question = await in_gad7(s)
    reply = await send(s, "interactive_error_131000")
    assert UNREADABLE in texts(reply)
    assert reply[-1]["interactive"] == question["interactive"]  # asked again
    assert (await health(s))["parse_problems"] == 0


@pytest.mark.parametrize("name", ["order", "nfm_reply", "unsupported"])
async def test_orders_flow_replies_and_unknown_types_are_answered(s: Stack, name: str):
    question = await in_gad7(s)
    reply = await send(s, name)
    assert UNREADABLE in texts(reply)
    assert reply[-1]["interactive"] == question["interactive"]
    assert "escalate" not in s.events(RESIDENT)


@pytest.mark.parametrize("name", ["nfm_reply_crisis", "image_caption_crisis"])
async def test_crisis_words_in_a_form_or_a_caption_get_the_hotlines(s: Stack, name: str):
    await in_gad7(s)
    said = texts(await send(s, name))
    assert all(number in said for number in HOTLINES), said
    async with s.runtime.store.transaction() as tx:
        assert await cases.open_case_for(tx, key(s, RESIDENT)) is not None


# -- other fields, statuses -------------------------------------------------------------


async def test_other_fields_and_statuses_are_counted_on_healthz_and_get_no_reply(s: Stack):
    fields = ("account_update", "message_template_status_update", "calls", "user_preferences")
    for name in fields:
        await send(s, name)
    await send(s, "calls")
    await send(s, "statuses")
    assert s.graph.delivered == [] and s.turns == []
    counters = await health(s)
    assert counters["ignored_fields"] == {
        "account_update": 1,
        "calls": 2,
        "message_template_status_update": 1,
        "user_preferences": 1,
    }
    assert counters["ignored_changes"] == 5 and counters["statuses"] == 3
    assert counters["parse_problems"] == 0 and RESIDENT not in json.dumps(counters)


# -- a number change ----------------------------------------------------------------------

CRISIS_WITH_CONTACT = (
    "darurat", "kader", "boleh", "ya", "tidak", "tidak", "tidak", "tidak", "ya", "tidak", "ya",
)  # fmt: skip


async def onboard(s: Stack, wa_id: str) -> None:
    """Consent, age group and area through the real flow (the consent log records it)."""
    await s.text(wa_id, "halo")
    for choice in ("setuju", "dewasa", "ngunut"):
        await s.tap(wa_id, choice)


async def gad7(s: Stack, wa_id: str) -> None:
    await s.text(wa_id, "/start gad7")
    await s.tap(wa_id, "mulai")
    for answer in ["beberapa_hari"] * 5 + ["lebih_separuh", "tidak_pernah"]:
        await s.tap(wa_id, answer)


async def crisis_with_relay(s: Stack, wa_id: str) -> str:
    """The crisis flow agreeing to contact, then a relay the cadre asked for and the
    resident accepted; returns the case code."""
    await s.text(wa_id, "menu")
    for choice in CRISIS_WITH_CONTACT:
        await s.tap(wa_id, choice)
    async with s.runtime.store.transaction() as tx:
        case = await cases.open_case_for(tx, key(s, wa_id))
    assert case is not None and case.contact_ok
    await s.kit.dispatcher.tick()
    await s.text(KADER, f"hubungi {case.code}")  # the cadre's first message opens its window
    await s.tap(wa_id, "terima")
    assert "warga bersedia" in texts(s.to(KADER)[-1:])
    return case.code


async def test_a_number_change_moves_session_consent_results_case_and_relay(s: Stack):
    await onboard(s, RESIDENT)
    await gad7(s, RESIDENT)
    code = await crisis_with_relay(s, RESIDENT)
    old, new = key(s, RESIDENT), key(s, NEW_NUMBER)
    before = await rows_for(s, old)
    assert all(before[t] for t in MOVED_TABLES), before
    consents = await consent_history(s.runtime.store.reader, old)
    # A day later the resident's window is closed: the cadre's next message waits for them.
    s.clock.advance(hours=25)
    await s.text(KADER, f"{code} Apa kabar hari ini?")
    assert s.to(RESIDENT)[-1]["type"] == "template" and await s.channel.held_count(RESIDENT) == 1

    assert await send(s, "system_user_changed_number") == []  # a notice, not a message
    assert s.to(NEW_NUMBER) == []

    assert await rows_for(s, old) == dict.fromkeys(MOVED_TABLES, 0)  # nothing left behind
    noted = before["case_events"] + 1  # the case's log says the number changed
    assert await rows_for(s, new) == {**before, "case_events": noted}
    stored = await s.runtime.store.load_session(new)
    assert stored is not None and stored.session.has_consent
    assert stored.session.profile["area"] == "ngunut"
    assert await consent_history(s.runtime.store.reader, new) == consents
    assert [h.instrument for h in await s.runtime.store.history(new)] == ["gad7"]
    async with s.runtime.store.transaction() as tx:
        case = await cases.open_case_for(tx, new)
        relay = await cases.relay_for_user(tx, new)
        events = [e.kind for e in await cases.events_of(tx, case.id)] if case else []
    assert case is not None and case.code == code and "resident_changed_number" in events
    assert s.kit.sealer.open_json(case.contact_enc) == {"channel": "whatsapp", "id": NEW_NUMBER}
    assert relay is not None and relay.state == "active"
    counters = await health(s)
    assert counters["number_changes"] == 1 and counters["number_changes_moved"] == 1

    # The resident writes from the new number: the held message reaches them there, and
    # what they write goes on to the same cadre.
    await s.text(NEW_NUMBER, "baik kak, terima kasih")
    assert "Apa kabar hari ini?" in texts(s.to(NEW_NUMBER))
    assert f"{code}: baik kak, terima kasih" in texts(s.to(KADER)[-1:])
    await s.text(KADER, f"{code} Senang mendengarnya.")
    assert "Senang mendengarnya." in texts(s.to(NEW_NUMBER)[-1:])
    # The old number is a stranger now: whoever writes from it starts from the beginning.
    assert "program otomatis" in texts(await s.text(RESIDENT, "halo"))


async def test_a_number_change_onto_a_number_with_earlier_data_keeps_only_the_movers(s: Stack):
    # The new number was someone else's before (a recycled number): a consented session,
    # a result, and an open case with a relay to the cadre.
    await onboard(s, NEW_NUMBER)
    async with s.runtime.store.transaction() as tx:
        await tx.add_result(key(s, NEW_NUMBER), "phq9", 21.0, "severe", [], s.clock())
    earlier_code = await crisis_with_relay(s, NEW_NUMBER)
    # The resident who moves there: their own session and result, no case.
    await s.seed(RESIDENT, area="kota", age_group="lansia")
    old, new = key(s, RESIDENT), key(s, NEW_NUMBER)
    async with s.runtime.store.transaction() as tx:
        await record_consent_given(tx, old, "v-old", s.clock())
        await tx.add_result(old, "gad7", 4.0, "minimal", [], s.clock())
    to_kader = len(s.to(KADER))

    assert await send(s, "system_user_changed_number") == []

    assert await rows_for(s, old) == dict.fromkeys(MOVED_TABLES, 0)
    stored = await s.runtime.store.load_session(new)
    assert stored is not None and stored.session.profile["area"] == "kota"  # the mover's
    history = await s.runtime.store.history(new)
    assert [(h.instrument, h.score) for h in history] == [("gad7", 4.0)]  # never merged
    assert [c.version for c in await consent_history(s.runtime.store.reader, new)] == ["v-old"]
    async with s.runtime.store.transaction() as tx:
        earlier = await cases.case_by_code(tx, earlier_code)
        assert await cases.open_case_for(tx, new) is None
        assert await cases.relay_for_user(tx, new) is None
        events = [e.kind for e in await cases.events_of(tx, earlier.id)] if earlier else []
    # The earlier holder's case stays open for its cadre, unlinked like after /hapus.
    assert earlier is not None and earlier.is_open and earlier.user_key is None
    assert earlier.contact_enc is None and "number_reassigned" in events
    assert "obrolan berakhir" in texts(s.to(KADER)[to_kader:])  # the cadre is told
    counters = await health(s)
    assert counters["number_changes_moved"] == 1 and counters["number_changes_replaced"] == 1


async def test_a_repeated_notice_or_a_stranger_changing_number_changes_nothing(s: Stack):
    await s.seed(RESIDENT, area="ngunut", age_group="dewasa")
    notice = fresh(load("system_user_changed_number"), ts=s.ts())
    await post(s, notice)
    await post(s, notice)  # Meta redelivers the same notice
    await post(s, fresh(notice))  # or sends it again under a new id
    new = key(s, NEW_NUMBER)
    stored = await s.runtime.store.load_session(new)
    assert stored is not None and stored.session.profile["area"] == "ngunut"
    counters = await health(s)
    assert counters["duplicates"] == 1 and counters["number_changes_moved"] == 1
    assert counters["number_changes_nothing_to_move"] == 1
    # Someone the bot never spoke with changes number: nothing to move, nothing said.
    stranger = fresh(load("system_user_changed_number"), ts=s.ts(), sender="6281111111111")
    await post(s, stranger)
    assert (await health(s))["number_changes_nothing_to_move"] == 2
    assert s.graph.delivered == []


async def test_a_cadre_number_change_is_reported_not_moved(s: Stack, caplog):
    with caplog.at_level(logging.WARNING, logger="bot.whatsapp"):
        assert await send(s, "system_user_changed_number", sender=KADER) == []
    assert (await health(s))["cadre_number_changed"] == 1
    assert "update routes" in caplog.text and KADER not in caplog.text
