"""The message budget: at most 600 characters and 3 bubbles before the first button.
`temanjiwa lint` warns about a turn over it; consent and the PHQ-9 results meet it."""

from __future__ import annotations

import shutil

from flows.budget import MAX_BUBBLES, MAX_CHARS, over_budget
from flows.linter import lint_directory, load_content
from flows.messages import Inbound
from flows.runtime import Engine, EngineSettings
from tests.conftest import FIXTURE_CONTENT, REAL_CONTENT

PHQ9_ITEMS = 9


async def real_turns(*inbounds: Inbound):
    engine = Engine(load_content(REAL_CONTENT), EngineSettings())
    session, turn = None, None
    for inbound in inbounds:
        turn = await engine.handle(session, inbound)
        session = turn.session
    return turn


def sizes(turn) -> tuple[int, int]:
    return sum(len(r.text) for r in turn.replies), len(turn.replies)


async def test_consent_fits_the_budget_and_details_are_one_button_away():
    turn = await real_turns(Inbound(text="halo"))
    chars, bubbles = sizes(turn)
    assert chars <= MAX_CHARS and bubbles <= MAX_BUBBLES, (chars, bubbles)
    assert [c.id for c in turn.replies[-1].choices] == ["setuju", "tidak_setuju", "rincian"]


async def test_severe_phq9_turns_fit_the_budget_and_say_not_alone_once():
    consent = (Inbound(text="/start phq9"), Inbound(choice="setuju"),
               Inbound(choice="dewasa"), Inbound(choice="lewati"), Inbound(choice="mulai"))
    flagged = await real_turns(*consent, *[Inbound(choice="hampir_tiap_hari")] * PHQ9_ITEMS)
    assert flagged.replies[-1].node == "crisis.cek_hasil"
    unflagged = await real_turns(*consent, *[Inbound(choice="hampir_tiap_hari")] * 8,
                                 Inbound(choice="tidak_pernah"))
    assert unflagged.replies[-1].node == "tawar_sapa.tanya"
    for turn in (flagged, unflagged):
        chars, bubbles = sizes(turn)
        text = "\n".join(r.text for r in turn.replies)
        assert chars <= MAX_CHARS and bubbles <= MAX_BUBBLES, (chars, bubbles, text)
        assert text.count("tidak sendirian") <= 1, text
        assert "bukan diagnosis" in text


def test_shipped_consent_and_phq9_have_no_turn_over_budget():
    over = {t.start.key for t in over_budget(load_content(REAL_CONTENT))}
    assert not {k for k in over if k.startswith(("consent.", "phq9.", "dengar."))}, over


def test_lint_warns_about_a_turn_over_the_budget(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, content)
    quiz = content / "flows" / "quiz.yaml"
    long = "Kalimat yang cukup panjang untuk mengisi layar HP murah. " * 3
    text = quiz.read_text()
    old = "    say: Tes {today|date}\n"
    assert old in text
    quiz.write_text(text.replace(old, "    say:\n" + "".join(
        f"      - \"{long}{i}\"\n" for i in range(4)) + "      - Tes {today|date}\n"))
    problems = lint_directory(content)
    assert not [p for p in problems if p.severity == "error"], [str(p) for p in problems]
    budget = [p for p in problems if "before the first button" in p.message]
    assert len(budget) == 1 and budget[0].severity == "warning", [str(p) for p in problems]
    assert "5 bubbles" in budget[0].message and "quiz.intro" in budget[0].message
    assert budget[0].file.endswith("quiz.yaml")
