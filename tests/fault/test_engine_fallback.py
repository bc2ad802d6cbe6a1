"""A turn the engine cannot finish still answers with the fallback and the hotlines, and a
crisis found in the message still opens its case.

The content is broken in memory, the way a set the linter missed would be (its crisis flow
or a node the resident waits at gone), with the real engine, store and escalation.
"""

from __future__ import annotations

from flows.linter import load_content
from flows.messages import Inbound
from flows.runtime import FALLBACK_TEXT, Engine, EngineSettings
from flows.session import Frame, Session
from tests.conftest import FIXTURE_CONTENT, KeywordDetector
from tests.support.escalation import make_harness

HOTLINES = ("SEJIWA 119 ext 8", "Darurat 112")  # tests/fixtures/content/hotlines.yaml


def consented() -> Session:
    return Session(consent_at="2026-01-01T00:00:00+00:00", consent_version="t1")


async def test_a_crisis_message_the_crisis_flow_cannot_answer_still_escalates():
    content = load_content(FIXTURE_CONTENT)
    del content.flows["crisis"]  # what an empty crisis.yaml that passed lint used to do
    engine = Engine(content, detector=KeywordDetector())
    session = consented()
    turn = await engine.handle(session, Inbound(text="aku mau mati saja"))
    assert [e.name for e in turn.events] == ["crisis_detected", "escalate", "engine_error"]
    assert turn.events[0].data == {"level": "high", "category": "suicide",
                                   "source": "free_text", "subject": "self"}
    assert turn.events[1].data == {"level": "high", "category": "suicide", "source": "free_text"}
    [reply] = turn.replies
    assert reply.text.startswith(FALLBACK_TEXT)
    assert all(hotline in reply.text for hotline in HOTLINES)
    assert turn.session.to_dict() == session.to_dict()


async def test_any_failure_answers_with_the_fallback_and_keeps_the_session():
    content = load_content(FIXTURE_CONTENT)
    engine = Engine(content, detector=KeywordDetector())
    session = consented()
    session.stack = [Frame("quiz", "q1", {"total": "tiga"}, waiting=True)]  # a bad stored value
    turn = await engine.handle(session, Inbound(choice="beberapa_hari", node="quiz.q1"))
    assert [e.name for e in turn.events] == ["engine_error"]
    assert all(hotline in turn.replies[0].text for hotline in HOTLINES)
    assert turn.session.to_dict() == session.to_dict()


async def test_system_error_text_and_deployment_hotline_texts_are_used():
    content = load_content(FIXTURE_CONTENT)
    content.system.texts["error"] = content.system.texts["reprompt"]
    del content.flows["crisis"]
    settings = EngineSettings(hotline_texts={"sejiwa": "SEJIWA lokal 0800"})
    engine = Engine(content, settings, KeywordDetector())
    turn = await engine.handle(consented(), Inbound(text="capek hidup"))
    text = turn.replies[0].text
    assert text.splitlines() == ["Maaf, saya belum mengerti.", "SEJIWA lokal 0800", "Darurat 112"]
    assert [e.name for e in turn.events] == ["crisis_detected", "engine_error"]  # check: no case


async def test_the_case_is_written_even_when_the_crisis_flow_fails(tmp_path):
    h = await make_harness(tmp_path)
    try:
        await h.onboard("557")
        del h.conversations.engine.content.flows["crisis"]
        turn = await h.say("557", "aku mau mati saja")
        names = [e.name for e in turn.events]
        assert "escalation_created" in names and "engine_error" in names, names
        assert "119" in turn.replies[0].text
        assert h.rows("SELECT count(*) FROM cases")[0][0] == 1
        assert [tuple(r) for r in h.rows("SELECT kind FROM outbox")] == [("alert",)]
    finally:
        await h.close()
