"""The engine on a small fixture content set: routing, scoring, commands, crisis hook."""

from __future__ import annotations

from flows.messages import Inbound
from flows.session import Session


async def talk(engine, session, *inbounds):
    turn = None
    for inbound in inbounds:
        turn = await engine.handle(session, inbound)
        session = turn.session
    return turn


def consented() -> Session:
    return Session(consent_at="2026-11-01T00:00:00+00:00", consent_version="t1")


async def test_first_contact_shows_consent_and_no_screening_before_it(engine):
    turn = await engine.handle(None, Inbound(text="halo"))
    assert turn.replies[-1].node == "consent.ask"
    assert [c.id for c in turn.replies[-1].choices] == ["setuju", "tolak"]
    turn = await engine.handle(None, Inbound(text="/start quiz"))
    assert turn.replies[-1].node == "consent.ask"
    assert turn.session.pending_start == "quiz"


async def test_deep_link_runs_after_consent_and_onboarding(engine):
    turn = await talk(engine, None, Inbound(text="/start quiz"), Inbound(choice="setuju"),
                      Inbound(text="18 ke atas"), Inbound(text="lewati"))
    assert turn.replies[-1].node == "quiz.intro"
    assert turn.session.has_consent
    assert turn.session.profile == {"age_group": "dewasa", "area": "lewati"}


async def test_scores_bands_flags_and_screening_event(engine):
    turn = await talk(engine, consented(), Inbound(text="/start quiz"), Inbound(choice="mulai"),
                      Inbound(choice="hampir_tiap_hari"), Inbound(choice="tidak_pernah"))
    done = [e for e in turn.events if e.name == "screening_completed"]
    assert done[0].data == {"instrument": "quiz", "score": 3, "band": "high", "flags": []}
    assert "Skor 3, high" in turn.replies[0].text
    assert turn.replies[-1].node == "quiz.umur"


async def test_flag_hands_over_to_crisis_after_the_result(engine):
    # typed "1" and "2" pick the first and second answers (values 0 and 1)
    turn = await talk(engine, consented(), Inbound(text="/start quiz"), Inbound(choice="mulai"),
                      Inbound(text="1"), Inbound(text="2"))
    names = [e.name for e in turn.events]
    assert names.index("screening_completed") < names.index("crisis_detected")
    assert turn.replies[0].node == "quiz.hasil"
    assert turn.replies[-1].node == "crisis.ask"
    # answering yes raises the level and escalates, then the sub-flow returns to the quiz
    turn = await talk(engine, turn.session, Inbound(text="iya"), Inbound(text="ya"),
                      Inbound(choice="lanjut"))
    assert turn.replies[-1].node == "quiz.umur"


async def test_typed_number_label_and_synonyms_pick_choices(engine):
    session = (await talk(engine, consented(), Inbound(text="/start quiz"))).session
    for typed in ("1", "Mulai", "  mulai!! "):
        turn = await engine.handle(session, Inbound(text=typed))
        assert turn.replies[-1].node == "quiz.q1", typed


async def test_unfit_input_gets_a_kind_reprompt_with_the_question(engine):
    session = (await talk(engine, consented(), Inbound(text="/start quiz"),
                          Inbound(choice="mulai"))).session
    turn = await engine.handle(session, Inbound(text="entahlah"))
    assert "belum mengerti" in turn.replies[0].text
    assert turn.replies[-1].node == "quiz.q1" and len(turn.replies[-1].choices) == 4


async def test_number_input_validates_range_and_reasks(engine):
    turn = await talk(engine, consented(), Inbound(text="/start quiz"), Inbound(choice="mulai"),
                      Inbound(text="1"), Inbound(text="1"))
    turn = await engine.handle(turn.session, Inbound(text="200"))
    assert "10 sampai 100" in turn.replies[0].text
    turn = await engine.handle(turn.session, Inbound(text="35 tahun"))
    assert turn.replies[-1].node == "menu.main"  # top-level end returns to the menu


async def test_crisis_interrupts_a_button_wait_and_returns_to_it(engine):
    session = (await talk(engine, consented(), Inbound(text="/start quiz"),
                          Inbound(choice="mulai"))).session
    turn = await engine.handle(session, Inbound(text="aku mau mati saja"))
    names = [e.name for e in turn.events]
    assert names == ["crisis_detected", "escalate"]
    assert "SEJIWA 119 ext 8" in turn.replies[0].text  # hotline in the same reply
    turn = await talk(engine, turn.session, Inbound(text="ya"), Inbound(choice="lanjut"))
    assert turn.replies[-1].node == "quiz.q1"


async def test_crisis_before_consent_still_answers(engine):
    turn = await engine.handle(None, Inbound(text="capek hidup rasanya"))
    assert turn.events[0].name == "crisis_detected"
    assert turn.replies[-1].node == "crisis.ask"


async def test_repeated_crisis_words_inside_the_protocol_repeat_hotlines(engine):
    turn = await engine.handle(None, Inbound(text="aku mau mati"))
    turn = await engine.handle(turn.session, Inbound(text="aku mau mati, tidak aman"))
    assert "SEJIWA" in turn.replies[0].text
    assert [e.name for e in turn.events] == ["crisis_detected"]
    higher = await engine.handle(turn.session, Inbound(text="darurat sekarang"))
    assert [e.data["level"] for e in higher.events if e.name == "escalate"] == ["urgent"]


async def test_global_commands_in_every_state(engine):
    session = (await talk(engine, consented(), Inbound(text="/start quiz"),
                          Inbound(choice="mulai"))).session
    assert (await engine.handle(session, Inbound(text="MENU"))).replies[-1].node == "menu.main"
    helped = await talk(engine, session, Inbound(text="bantuan"))
    assert "SEJIWA" in helped.replies[0].text and helped.replies[-1].node == "quiz.q1"
    stopped = await engine.handle(session, Inbound(text="berhenti"))
    assert "Sampai jumpa" in stopped.replies[0].text and stopped.session.stack == []
    again = await engine.handle(stopped.session, Inbound(text="halo"))
    assert again.replies[-1].node == "menu.main"


async def test_delete_asks_for_confirmation_and_can_be_cancelled(engine):
    session = (await talk(engine, consented(), Inbound(text="/start quiz"),
                          Inbound(choice="mulai"))).session
    turn = await engine.handle(session, Inbound(text="/hapus"))
    assert turn.replies[-1].node == "hapus.confirm" and not turn.events
    cancelled = await engine.handle(turn.session, Inbound(choice="batal"))
    assert cancelled.replies[-1].node == "quiz.q1" and cancelled.session.has_consent
    deleted = await engine.handle(turn.session, Inbound(choice="ya"))
    assert [e.name for e in deleted.events] == ["delete_requested"]
    assert not deleted.session.has_consent and deleted.session.profile == {}


async def test_stale_button_is_answered_politely(engine):
    session = (await talk(engine, consented(), Inbound(text="/start quiz"),
                          Inbound(choice="mulai"))).session
    turn = await engine.handle(session, Inbound(choice="mulai", node="quiz.intro"))
    assert "pesan lama" in turn.replies[0].text and turn.replies[-1].node == "quiz.q1"


async def test_a_stale_button_while_nothing_runs_shows_the_menu_not_an_empty_node(engine):
    turn = await engine.handle(consented(), Inbound(choice="tidak_pernah", node="quiz.q1"))
    assert "pesan lama" in turn.replies[0].text
    assert turn.replies[-1].node == "menu.main" and turn.replies[-1].choices


async def test_stickers_and_long_texts_get_a_clear_answer(engine):
    session = (await talk(engine, consented(), Inbound(text="/start quiz"))).session
    sticker = await engine.handle(session, Inbound(media="sticker"))
    assert "hanya bisa membaca teks" in sticker.replies[0].text
    assert sticker.replies[-1].node == "quiz.intro"
    long = await engine.handle(session, Inbound(text="kata " * 1000))
    assert "terlalu panjang" in long.replies[0].text
    assert long.replies[-1].choices


async def test_unknown_deep_link_explains_and_shows_menu(engine):
    turn = await engine.handle(consented(), Inbound(text="/start tidakada"))
    assert "tidak ada" in turn.replies[0].text and turn.replies[-1].node == "menu.main"


async def test_dates_are_formatted_in_indonesian(engine):
    from datetime import UTC, datetime

    turn = await engine.handle(consented(), Inbound(text="/start quiz",
                                                    at=datetime(2026, 8, 17, 3, tzinfo=UTC)))
    assert "17 Agustus 2026" in turn.replies[0].text


async def test_session_round_trips_through_json(engine):
    import json

    session = (await talk(engine, consented(), Inbound(text="/start quiz"),
                          Inbound(choice="mulai"), Inbound(text="2"))).session
    restored = Session.from_dict(json.loads(json.dumps(session.to_dict())))
    assert restored == session


async def test_engine_does_not_modify_the_callers_session(engine):
    session = consented()
    await engine.handle(session, Inbound(text="/start quiz"))
    assert session.stack == []
