"""Cadre actions: who may act, refusals logged without platform ids, invites, and the
anonymous relay (only after the resident accepts, either side ends it, never stored)."""

from __future__ import annotations

import logging

import pytest

from bot.cases.desk import OPERATOR, RELAY_NODE, CadreIdentity
from flows.messages import Inbound
from tests.support.escalation import (
    KADER_GROUP,
    PUSKESMAS_GROUP,
    escalation_harness,  # noqa: F401 (fixture h)
    system_text,
)

ASK_RESIDENT = system_text("relay_ask")
ACCEPTED_RESIDENT = system_text("relay_accepted")
ENDED_BY_CADRE = system_text("relay_ended_by_cadre")
ENDED_BY_RESIDENT = system_text("relay_ended_by_resident")

KADER = CadreIdentity("telegram", "4242", "Bu Sri", chat_id=KADER_GROUP)
KADER_DM = CadreIdentity("telegram", "4242", "Bu Sri")  # the same person, in a private chat
OTHER_KADER = CadreIdentity("telegram", "4343", "Pak Budi", chat_id=KADER_GROUP)
STRANGER = CadreIdentity("telegram", "66613", "Iseng", chat_id=-100999)
RESIDENT = "80012345"


pytestmark = pytest.mark.both_backends


async def open_case(h, user: str = RESIDENT, contact: bool = True) -> str:
    await h.onboard(user)
    turn = await h.say(user, "aku mau mati saja")
    code = next(e.data["case"] for e in turn.events if e.name == "escalation_created")
    # safe now: yes; someone with you: yes; may a cadre contact you: yes / no
    await h.say(user, ("c", "ya"), ("c", "ya"), ("c", "ya" if contact else "tidak"))
    await h.kit.dispatcher.run_once()  # the alert card is posted
    return code


def refusals(h) -> list:
    return h.rows("SELECT case_id, actor, detail FROM case_events WHERE kind = 'refused'")


async def test_unauthorised_actions_are_refused_and_logged_without_platform_ids(h, caplog):
    code = await open_case(h)
    caplog.set_level(logging.WARNING)
    desk = h.kit.desk
    results = [
        await desk.claim(code, STRANGER),
        await desk.note(code, STRANGER, "iseng"),
        await desk.resolve(code, STRANGER, "false_alarm"),
        await desk.request_relay(code, STRANGER),
        await desk.relay_to_resident(code, STRANGER, "halo"),
        await desk.end_relay(code, STRANGER),
        await desk.claim("TJ-ZZZZ", STRANGER),  # unknown code: same answer, no hint
    ]
    assert [r.error for r in results] == ["not_allowed"] * 7
    assert len({r.reply for r in results}) == 1
    logged = refusals(h)
    assert len(logged) == 7
    expected = desk.actor_key(STRANGER)[:16]
    assert {row["actor"] for row in logged} == {expected}
    assert logged[-1]["case_id"] is None
    everything = "\n".join(str(tuple(r)) for r in h.rows("SELECT * FROM case_events"))
    assert "66613" not in everything and "66613" not in caplog.text
    assert expected in caplog.text
    assert b"66613" not in h.raw_bytes()
    row = h.rows("SELECT status FROM cases")[0]
    assert row["status"] == "open"  # nothing changed


async def test_group_members_of_an_alerted_route_may_act(h):
    code = await open_case(h)
    desk = h.kit.desk
    # the puskesmas group has not been alerted for this case yet
    puskesmas = CadreIdentity("telegram", "7", "Bu Rina", chat_id=PUSKESMAS_GROUP)
    assert (await desk.claim(code, puskesmas)).error == "not_allowed"
    result = await desk.claim(code, KADER)
    assert result.ok and "Hubungi" in result.reply
    assert (await desk.claim(code, KADER)).ok  # again: idempotent
    assert (await desk.claim(code, OTHER_KADER)).error == "already_claimed"
    assert (await desk.note(code, OTHER_KADER, "  saya bantu  cek ")).ok  # notes: any member
    assert (await desk.resolve(code, OTHER_KADER, "contacted")).error == "already_claimed"
    assert (await desk.resolve(code, KADER, "pulang")).error == "bad_outcome"
    assert (await desk.resolve(code, KADER, "referred_puskesmas")).ok
    assert (await desk.claim(code, KADER)).error == "closed"
    row = h.rows("SELECT status, claimed_name, outcome FROM cases")[0]
    assert tuple(row) == ("closed", "Bu Sri", "referred_puskesmas")
    notes = h.rows("SELECT detail FROM case_events WHERE kind = 'note'")
    assert [n[0] for n in notes] == ["saya bantu cek"]
    # the posted cards are updated in place
    await h.kit.dispatcher.run_once()
    await h.kit.dispatcher.run_once()
    assert h.sender.updates and h.sender.updates[-1][2].status == "closed"


async def test_whatsapp_numbers_of_the_route_may_act(h):
    code = await open_case(h)
    number = CadreIdentity("whatsapp", "6281200001111", "Bu Ani")
    assert (await h.kit.desk.claim(code, number)).ok
    other = CadreIdentity("whatsapp", "6281299999999", "?")
    assert (await h.kit.desk.note(code, other, "x")).error == "not_allowed"


async def test_invite_codes_register_cadres_once_and_only_for_their_route(h):
    code = await open_case(h)
    desk = h.kit.desk
    wati = CadreIdentity("telegram", "5151", "Wati")
    assert (await desk.claim(code, wati)).error == "not_allowed"
    invite = await desk.create_invite("Bu Wati", "kader_ngunut")
    assert (await desk.register(invite.lower(), wati)).ok  # case and dashes do not matter
    assert (await desk.register(invite, CadreIdentity("telegram", "5252"))).error == "bad_invite"
    result = await desk.claim(code, wati)
    assert result.ok
    assert h.rows("SELECT claimed_name FROM cases")[0][0] == "Bu Wati"
    # an invite for another route does not open this case
    second = await open_case(h, user="80099")
    rina = CadreIdentity("telegram", "5353", "Rina")
    await desk.register(await desk.create_invite("Rina", "puskesmas_ngunut"), rina)
    assert (await desk.claim(second, rina)).error == "not_allowed"
    # invites expire
    late = await desk.create_invite("Telat", None, hours=1)
    h.clock.advance(hours=2)
    assert (await desk.register(late, CadreIdentity("telegram", "5454"))).error == "bad_invite"
    assert b"5151" not in h.raw_bytes() and invite.encode() not in h.raw_bytes()
    with pytest.raises(ValueError):
        await desk.create_invite("X", "no_such_route")


async def test_relay_starts_only_after_the_resident_accepts(h):
    code = await open_case(h)
    desk = h.kit.desk
    ask = await desk.request_relay(code, KADER)
    assert ask.ok
    (message,) = ask.messages
    assert (message.channel, message.address, message.text) == ("telegram", RESIDENT, ASK_RESIDENT)
    assert [c.id for c in message.choices] == ["terima", "tolak"] and message.node == RELAY_NODE
    assert h.rows("SELECT status FROM cases")[0][0] == "claimed"  # asking claims the case
    # not yet accepted: the cadre cannot talk, the resident's text goes to the flow
    assert (await desk.relay_to_resident(code, KADER_DM, "halo")).error == "relay_pending"
    turn = await h.say(RESIDENT, "halo?")
    assert turn.outbound == [] and turn.replies
    turn = await h.conversations.handle(
        "telegram", RESIDENT, Inbound(choice="terima", node=RELAY_NODE)
    )
    assert [r.text for r in turn.replies] == [ACCEPTED_RESIDENT]
    assert [(o.address, "bersedia" in o.text) for o in turn.outbound] == [("4242", True)]
    assert (await desk.relays_of(KADER_DM)) == [(code, "active")]


async def test_relay_messages_flow_both_ways_and_never_touch_the_database(h):
    code = await open_case(h)
    desk = h.kit.desk
    await desk.request_relay(code, KADER)
    await h.say(RESIDENT, "terima")
    to_resident = await desk.relay_to_resident(code, KADER_DM, "Halo, saya Sri. KATA-KADER-91")
    (message,) = to_resident.messages
    assert message.address == RESIDENT and "KATA-KADER-91" in message.text
    turn = await h.say(RESIDENT, "aku lagi di rumah KATA-WARGA-92")
    assert turn.replies == [] and [e.name for e in turn.events] == ["relay_forwarded"]
    (forward,) = turn.outbound
    assert forward.address == "4242" and "KATA-WARGA-92" in forward.text and code in forward.text
    # global commands still work, and the relay stays
    turn = await h.say(RESIDENT, "menu")
    assert turn.replies[-1].node == "menu.main"
    # crisis words are checked first: the crisis flow runs, the cadre sees them flagged
    turn = await h.say(RESIDENT, "darurat sekarang KATA-WARGA-93")
    assert any(e.name == "escalation_upgraded" for e in turn.events)
    assert any("112" in r.text for r in turn.replies)
    assert "⚠️" in turn.outbound[0].text and "KATA-WARGA-93" in turn.outbound[0].text
    # only the relay's cadre may write through it
    other = await desk.relay_to_resident(code, OTHER_KADER, "x")
    assert other.error == "not_allowed"
    # the resident ends it with a word
    turn = await h.say(RESIDENT, "Selesai")
    assert [r.text for r in turn.replies] == [ENDED_BY_RESIDENT]
    assert "mengakhiri" in turn.outbound[0].text and turn.outbound[0].address == "4242"
    assert h.rows("SELECT count(*) FROM relays")[0][0] == 0
    turn = await h.say(RESIDENT, "masih di sini KATA-WARGA-94")
    assert turn.outbound == []
    raw = h.raw_bytes()
    for marker in (b"KATA-KADER-91", b"KATA-WARGA-92", b"KATA-WARGA-93", b"KATA-WARGA-94"):
        assert marker not in raw
    kinds = [r[0] for r in h.rows("SELECT kind FROM case_events ORDER BY id")]
    assert kinds.count("relay_requested") == 1 and "relay_accepted" in kinds
    assert "relay_ended" in kinds


async def test_the_cadre_can_end_the_relay_and_resolving_ends_it_too(h):
    code = await open_case(h)
    desk = h.kit.desk
    await desk.request_relay(code, KADER)
    await h.say(RESIDENT, "terima")
    ended = await desk.end_relay(code, KADER_DM)
    assert ended.ok and [(m.address, m.text) for m in ended.messages] == [
        (RESIDENT, ENDED_BY_CADRE)
    ]
    turn = await h.say(RESIDENT, "halo lagi")
    assert turn.outbound == []
    await desk.request_relay(code, KADER)
    await h.say(RESIDENT, "terima")
    resolved = await desk.resolve(code, KADER_DM, "contacted")
    assert resolved.ok and [m.text for m in resolved.messages] == [ENDED_BY_CADRE]
    row = h.rows("SELECT contact_enc, status FROM cases")[0]
    assert row["contact_enc"] is None and row["status"] == "closed"
    assert h.rows("SELECT count(*) FROM relays")[0][0] == 0


async def test_resident_may_decline_and_a_resident_without_consent_is_never_asked(h):
    code = await open_case(h)
    desk = h.kit.desk
    await desk.request_relay(code, KADER)
    turn = await h.say(RESIDENT, "tolak")
    assert "tidak apa-apa" in turn.replies[0].text and "belum mau" in turn.outbound[0].text
    assert h.rows("SELECT count(*) FROM relays")[0][0] == 0
    # an old "terima" button after that is answered politely, nothing opens
    turn = await h.conversations.handle(
        "telegram", RESIDENT, Inbound(choice="terima", node=RELAY_NODE)
    )
    assert "tidak berlaku" in turn.replies[0].text
    no_contact = await open_case(h, user="80077", contact=False)
    result = await desk.request_relay(no_contact, KADER)
    assert result.error == "no_contact" and result.messages == ()
    row = h.rows("SELECT contact_enc FROM cases WHERE code = ?", no_contact)[0]
    assert row["contact_enc"] is None


async def test_an_unanswered_request_expires(h):
    code = await open_case(h)
    await h.kit.desk.request_relay(code, KADER)
    h.clock.advance(hours=25)
    turn = await h.say(RESIDENT, "terima")
    assert not any(r.text == ACCEPTED_RESIDENT for r in turn.replies)
    assert any("24 jam" in o.text for o in turn.outbound)
    assert h.rows("SELECT count(*) FROM relays")[0][0] == 0


async def test_deleting_data_ends_the_relay_and_tells_the_cadre(h):
    code = await open_case(h)
    await h.kit.desk.request_relay(code, KADER)
    await h.say(RESIDENT, "terima")
    await h.say(RESIDENT, "/hapus")
    turn = await h.conversations.handle("telegram", RESIDENT, Inbound(choice="ya"))
    assert "dihapus" in turn.replies[0].text
    assert any("menghapus datanya" in o.text and o.address == "4242" for o in turn.outbound)
    assert h.rows("SELECT count(*) FROM relays")[0][0] == 0
    row = h.rows("SELECT user_key, status, contact_enc FROM cases")[0]
    assert row["user_key"] is None and row["contact_enc"] is None and row["status"] == "claimed"
    await h.kit.dispatcher.run_once()
    await h.kit.dispatcher.run_once()
    assert h.sender.updates[-1][2].resident_left
    assert (await h.kit.desk.request_relay(code, KADER)).error == "no_contact"


async def test_operator_cli_identity_may_act_but_not_relay(h):
    code = await open_case(h)
    desk = h.kit.desk
    assert (await desk.claim(code, KADER)).ok
    assert (await desk.note(code, OPERATOR, "dicek operator")).ok
    assert (await desk.request_relay(code, OPERATOR)).error == "no_channel"
    assert (await desk.resolve(code, OPERATOR, "no_response")).ok  # operators may take over
    text = await desk.show(code)
    assert code in text and "resolved" in text and "Pengiriman:" in text


async def test_stop_during_a_relay_ends_it_and_still_runs_the_stop_flow(h):
    code = await open_case(h)
    await h.kit.desk.request_relay(code, KADER)
    await h.say(RESIDENT, "terima")
    turn = await h.say(RESIDENT, "stop")
    assert turn.replies and turn.replies[0].node.startswith("stop.")
    assert any("stop" in o.text and o.address == "4242" for o in turn.outbound)
    assert h.rows("SELECT count(*) FROM relays")[0][0] == 0
