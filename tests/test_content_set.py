"""flows.contentset: flows and crisis lexicon linted, loaded and served together."""

from __future__ import annotations

import shutil

import pytest

from flows.contentset import (
    check_content_set,
    keep_last_good,
    load_content_set,
    load_serving_set,
)
from flows.linter import lint_directory
from flows.problems import ContentError
from tests.conftest import FIXTURE_CONTENT, REAL_CONTENT

CRISIS = "aku mau bunuh diri malam ini"


@pytest.fixture
def live(tmp_path):
    target = tmp_path / "content"
    shutil.copytree(REAL_CONTENT, target)
    return target


def break_lexicon(folder):
    lexicon = folder / "crisis" / "lexicon.yaml"
    lexicon.write_text(lexicon.read_text(encoding="utf-8") + "\n  [rusak\n", encoding="utf-8")


def test_the_shipped_set_loads_with_its_detector():
    content_set = load_content_set(REAL_CONTENT)
    assert "crisis" in content_set.content.flows
    assert content_set.detector.detect(CRISIS).level == "urgent"


def test_unchanged_crisis_material_is_compiled_once_and_every_edit_is_read(live):
    first = load_content_set(live).detector
    again = load_content_set(live).detector
    assert again is not first and again.lexicon is first.lexicon  # same bytes: not recompiled
    again.signals = ("lexicon",)
    assert first.signals == ("lexicon", "cues", "model")  # each reader has a detector of its own
    lexicon = live / "crisis" / "lexicon.yaml"
    lexicon.write_text(lexicon.read_text(encoding="utf-8") + "\n# catatan editor\n", "utf-8")
    edited = load_content_set(live).detector
    assert edited.lexicon is not first.lexicon
    break_lexicon(live)
    with pytest.raises(ContentError):
        load_content_set(live)


def test_a_broken_lexicon_fails_the_whole_set_like_lint(live):
    break_lexicon(live)
    with pytest.raises(ContentError) as info:
        load_content_set(live)
    assert any(p.file.endswith("lexicon.yaml") and p.line for p in info.value.problems)
    _set, problems = check_content_set(live)
    assert [str(p) for p in problems] == [str(p) for p in lint_directory(live)]


def test_a_missing_lexicon_is_an_error_unless_not_required(tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(FIXTURE_CONTENT, bare)
    shutil.rmtree(bare / "crisis")
    with pytest.raises(ContentError) as info:
        load_content_set(bare)
    assert any("lexicon" in p.file for p in info.value.problems)
    assert load_content_set(bare, require_lexicon=False).detector is None


def test_a_broken_live_lexicon_serves_the_last_good_set(live, tmp_path):
    last_good = tmp_path / "content-last-good"
    keep_last_good(load_content_set(live), last_good)
    break_lexicon(live)
    served, problems = load_serving_set(live, last_good)
    assert served.directory == last_good
    assert any(p.file.endswith("lexicon.yaml") and p.severity == "error" for p in problems)
    assert served.detector.detect(CRISIS) is not None


def test_an_empty_live_crisis_flow_serves_the_last_good_set(live, tmp_path):
    last_good = tmp_path / "content-last-good"
    keep_last_good(load_content_set(live), last_good)
    (live / "flows" / "crisis.yaml").write_text("# kosong\n")
    served, problems = load_serving_set(live, last_good)
    assert served.directory == last_good and "crisis" in served.content.flows
    assert any(p.file.endswith("crisis.yaml") and p.line == 1 for p in problems)


def test_a_passing_live_set_is_served_and_nothing_without_a_good_copy(live, tmp_path):
    served, problems = load_serving_set(live, tmp_path / "none")
    assert served.directory == live and not [p for p in problems if p.severity == "error"]
    break_lexicon(live)
    with pytest.raises(ContentError):
        load_serving_set(live, tmp_path / "none")


def test_keep_last_good_replaces_the_copy_and_survives_a_crash_between_renames(live,
                                                                               tmp_path):
    last_good = tmp_path / "content-last-good"
    keep_last_good(load_content_set(live), last_good)
    (live / "README.md").write_text("versi baru\n", encoding="utf-8")
    keep_last_good(load_content_set(live), last_good)
    assert (last_good / "README.md").read_text(encoding="utf-8") == "versi baru\n"
    assert not (tmp_path / "content-last-good.old").exists()
    last_good.rename(tmp_path / "content-last-good.old")  # as a crash between the renames
    break_lexicon(live)
    served, _problems = load_serving_set(live, last_good)
    assert served.directory == tmp_path / "content-last-good.old"
