"""Re-asks that fit the question, on the shipped content: the number of buttons, a single
button by its label, the gentle crisis re-ask; and distress words that are not a crisis."""

from __future__ import annotations

from flows.distress import DistressSettings, find_topic, words_of
from flows.linter import load_content
from flows.messages import Inbound
from flows.runtime import Engine, EngineSettings
from flows.session import Session
from tests.conftest import REAL_CONTENT


def consented() -> Session:
    return Session(consent_at="2026-11-01T00:00:00+00:00", consent_version="1")


async def talk(engine: Engine, session: Session | None, *inbounds: Inbound):
    turn = None
    for inbound in inbounds:
        turn = await engine.handle(session, inbound)
        session = turn.session
    return turn


async def test_one_button_is_named_not_numbered():
    """No areas configured (the console's default): the area question has one button."""
    engine = Engine(load_content(REAL_CONTENT), EngineSettings())
    turn = await talk(engine, None, Inbound(text="/start"), Inbound(choice="setuju"),
                      Inbound(choice="dewasa"))
    assert turn.replies[-1].node == "onboarding.daerah"
    assert [c.id for c in turn.replies[-1].choices] == ["lewati"]
    turn = await talk(engine, turn.session, Inbound(text="Kampung Melayu"))
    text = "\n".join(r.text for r in turn.replies)
    assert "*Lewati*" in text
    assert "1–" not in text and "1, 2" not in text and "nomornya" not in text
    assert turn.replies[-1].node == "onboarding.daerah"


async def test_several_buttons_name_the_last_number():
    engine = Engine(load_content(REAL_CONTENT), EngineSettings())
    turn = await talk(engine, consented(), Inbound(text="menu"), Inbound(text="xyz"))
    assert "(1–8)" in turn.replies[0].text


def test_phrases_match_whole_words_and_not_after_a_negation():
    settings = DistressSettings("dengar", {"tidur": (words_of("gak bisa tidur"),),
                                           "sedih": (words_of("sedih"),)})
    assert find_topic(settings, "Aku GAK bisa tidur!!") == "tidur"
    assert find_topic(settings, "sedihhh banget") == "sedih"
    assert find_topic(settings, "aku gak sedih kok") is None
    assert find_topic(settings, "kesedihan") is None  # not a whole word
    assert find_topic(None, "sedih") is None
