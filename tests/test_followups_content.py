"""Follow-ups as content: followups.yaml is read and linted with plain-words errors, the
engine's "bot speaks first" turn (`Engine.interject`) and the `checkin:` test step, and
the sending hours of the schedule."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.followups.schedule import within_hours
from flows.convtest import EngineDriver, load_tests, run_test
from flows.followups import checkin_params
from flows.linter import lint_directory, load_content
from flows.messages import Inbound
from flows.runtime import Engine
from tests.conftest import REAL_CONTENT

WIB = ZoneInfo("Asia/Jakarta")


@pytest.fixture
def content(tmp_path):
    target = tmp_path / "content"
    shutil.copytree(REAL_CONTENT, target)
    return target


def errors(content) -> list[str]:
    return [f"{p.file}:{p.line}: {p.message}" for p in lint_directory(content)
            if p.severity == "error"]


def edit(path, old, new):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_the_shipped_schedule_is_read():
    settings = load_content(REAL_CONTENT).followups
    assert settings is not None
    assert settings.plan("crisis").days == (1, 7, 14, 30)
    assert settings.plan("crisis").flag_unanswered
    assert settings.plan("distress").days == (1, 7, 30)
    assert (settings.send_from, settings.send_until) == (time(9), time(19))


@pytest.mark.parametrize(("old", "new", "message"), [
    ("days: [1, 7, 14, 30]", "days: [7, 1]", "each later than the one before"),
    ("days: [1, 7, 14, 30]", "days: [1, 90]", "from 1 to 60"),
    ('hours: {from: "09:00", until: "19:00"}', 'hours: {from: "21:00", until: "07:00"}',
     "hours.from must be before hours.until"),
    ('hours: {from: "09:00", until: "19:00"}', 'hours: {from: "9 pagi", until: "19:00"}',
     "hours.from must be a time"),
    ("answer_days: 3", "answer_days: 0", "answer_days must be a whole number from 1 to 14"),
    ("checkin_flow: sapa", "checkin_flow: sapaan", "there is no such flow"),
    ("  distress:\n    days: [1, 7, 30]\n", "", "series needs 'distress'"),
    ("answer_days: 3", "answer_day: 3", "Unknown key 'answer_day'"),
])
def test_schedule_mistakes_are_named(content, old, new, message):
    edit(content / "followups.yaml", old, new)
    found = errors(content)
    assert any(message in e and "followups.yaml" in e for e in found), found


def test_the_follow_up_flows_must_run_without_consent_and_record_the_answers(content):
    edit(content / "flows" / "sapa.yaml", "consent: not_required\n", "")
    edit(content / "flows" / "sapa.yaml", "emit: {event: followup_stopped", "emit: {event: x")
    edit(content / "flows" / "tawar_sapa.yaml", "params: [kind, category, source]",
         "params: [kind, source]")
    found = "\n".join(errors(content))
    assert "'sapa' must have 'consent: not_required'" in found
    assert "'sapa' never emits 'followup_stopped'" in found
    assert "'tawar_sapa' must declare params: kind, category, source" in found


def test_without_followups_yaml_there_are_no_follow_ups(content):
    (content / "followups.yaml").unlink()
    for name in ("sapa", "tawar_sapa"):  # the flows may stay; nothing calls the check-in
        assert (content / "flows" / f"{name}.yaml").exists()
    assert load_content(content).followups is None


# ---------------------------------------------------------------------------- the engine
async def test_interject_runs_over_the_question_and_brings_it_back():
    engine = Engine(load_content(REAL_CONTENT))
    start = await engine.handle(None, Inbound(text="/start"))
    consented = await engine.handle(start.session, Inbound(choice="setuju"))
    question = consented.session.position
    params = checkin_params("distress", step=1, steps=3, checkin=5)
    now = datetime.now(UTC)
    first = await engine.interject(consented.session, "sapa", params, now)
    assert first.session.position == "sapa.sapa"
    assert first.events == []  # what the bot says first emits nothing
    again = await engine.interject(first.session, "sapa", {**params, "checkin": 6}, now)
    assert len(again.session.stack) == len(first.session.stack)  # replaced, not stacked
    assert again.session.top.vars["checkin"] == 6
    answered = await engine.handle(again.session, Inbound(choice="lebih_baik"))
    assert [e.data.get("checkin") for e in answered.events if e.name == "followup_answered"] \
        == [6]
    assert answered.session.position == question  # the interrupted question is back


async def test_a_checkin_step_needs_followups_yaml(tmp_path, content):
    (content / "followups.yaml").unlink()
    path = tmp_path / "t.yaml"
    path.write_text("tests:\n  - name: sapa\n    steps:\n      - checkin: {kind: crisis}\n")
    tests, problems = load_tests(path)
    assert problems == [] and tests[0].steps[0].checkin == {"kind": "crisis"}
    with pytest.raises(AssertionError, match=r"followups\.yaml"):
        await run_test(tests[0], EngineDriver(load_content(content)))


# ---------------------------------------------------------------------------- the hours
@pytest.mark.parametrize(("local", "expected"), [
    ("2026-11-23 14:05", "2026-11-23 14:05"),  # inside: unchanged
    ("2026-11-23 02:00", "2026-11-23 09:00"),  # at night: that morning
    ("2026-11-23 08:59", "2026-11-23 09:00"),
    ("2026-11-23 19:00", "2026-11-24 09:00"),  # the end is not inside
    ("2026-11-23 23:30", "2026-11-24 09:00"),
])
def test_within_hours_moves_a_time_to_a_decent_hour(local, expected):
    moment = datetime.fromisoformat(local).replace(tzinfo=WIB)
    got = within_hours(moment, WIB, time(9), time(19))
    assert got.tzinfo is not None and got.astimezone(WIB).strftime("%Y-%m-%d %H:%M") == expected
    assert got >= moment  # never earlier than it was due
