"""`temanjiwa lint`: each kind of editor mistake is reported with file, line and a fix."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from flows.linter import lint_directory, load_content
from tests.conftest import FIXTURE_CONTENT, ROOT

QUIZ = "flows/quiz.yaml"


@pytest.fixture
def content(tmp_path):
    target = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, target)
    return target


def edit(content, relative, old, new):
    path = content / relative
    text = path.read_text()
    assert old in text, f"fixture changed: {old!r} not in {relative}"
    path.write_text(text.replace(old, new, 1))
    return path


def line_of(path, needle):
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def only_error(content):
    problems = [p for p in lint_directory(content) if p.severity == "error"]
    assert len(problems) >= 1, "the mistake was not reported"
    return problems


def find(problems, words):
    match = [p for p in problems if words in str(p)]
    assert match, f"expected '{words}' in {[str(p) for p in problems]}"
    return match[0]


def test_fixture_content_is_clean():
    assert [p for p in lint_directory(FIXTURE_CONTENT)] == []


@pytest.mark.parametrize(
    ("old", "new", "needle", "words"),
    [
        ("next: q2", "next: q_2", "next: q_2", "no such node"),
        ("{key: high, min: 3", "{key: high, min: 4", "key: high", "fall in no range"),
        ("{key: high, min: 3", "{key: high, min: 2", "key: high", "overlap"),
        ("Skor {total}", "Skor {totl}", "hasil:", "nothing in this flow sets it"),
        ("label: Mulai, next: q1}", "label: Mulai sekarang juga ya teman, next: q1}",
         "Mulai sekarang", "WhatsApp button"),
        ("{id: mulai,", "{id: mulai_" + "x" * 50 + ",", "mulai_", "too long for Telegram"),
        ("    end: true\n", "    say: selesai\n", "umur:", "does not say where to go"),
        ("say: Pertanyaan dua?", "say: ''", "say: ''", "empty"),
        ("    say: Pertanyaan dua?\n", "    say: Pertanyaan dua?\n    sya: x\n", "sya:",
         "Did you mean 'say'"),
    ],
)
def test_mistakes_in_a_flow_name_file_and_line(content, old, new, needle, words):
    path = edit(content, QUIZ, old, new)
    problems = only_error(content)
    match = [p for p in problems if words in str(p)]
    assert match, f"expected '{words}' in {[str(p) for p in problems]}"
    assert match[0].file.endswith("quiz.yaml")
    if needle and "scales" not in str(match[0].file):
        assert match[0].line == line_of(path, needle)
    assert match[0].hint


def test_unknown_flow_reference(content):
    path = edit(content, "flows/menu.yaml", "goto: quiz}", "goto: kuis}")
    problem = find(only_error(content), "does not exist")
    assert problem.file.endswith("menu.yaml") and problem.line == line_of(path, "goto: kuis")


def test_value_mistake_in_scales_names_scales_file(content):
    edit(content, "scales.yaml", "value: 0}", "value: nol}")
    problem = find(only_error(content), "not a number")
    assert problem.file.endswith("scales.yaml") and problem.line == 3


def test_yaml_syntax_error_names_the_line_without_traceback(content):
    path = edit(content, QUIZ, "    say: Pertanyaan satu?", "    say: [Pertanyaan satu?")
    problems = only_error(content)
    assert len(problems) == 1, "a broken file must not cause follow-up errors elsewhere"
    assert "cannot be read" in problems[0].message
    assert problems[0].line is not None and abs(problems[0].line - line_of(path, "[Pert")) <= 2


def test_tab_indentation_is_explained(content):
    edit(content, QUIZ, "    say: Pertanyaan satu?", "\tsay: Pertanyaan satu?")
    problem = find(only_error(content), "TAB")
    assert problem.line == line_of(content / QUIZ, "\tsay")


def test_unreachable_node(content):
    path = edit(content, QUIZ, "  umur:\n", "  lupa:\n    say: x\n    end: true\n  umur:\n")
    problems = only_error(content)
    problem = find(problems, "never be reached")
    assert problem.line == line_of(path, "lupa:")


def test_dead_end_node(content):
    edit(content, "flows/bantuan.yaml", "    end: true\n", "")
    assert any("dead end" in p.message for p in only_error(content))


def test_duplicate_ids_within_a_file_and_across_files(content):
    edit(content, QUIZ, "  umur:\n", "  q1:\n    say: dup\n    end: true\n  umur:\n")
    (content / "flows" / "quiz2.yaml").write_text((content / QUIZ).read_text())
    messages = [str(p) for p in only_error(content)]
    assert any("written twice" in m for m in messages)
    assert any("already used in" in m and "quiz2.yaml" in m for m in messages)


def test_branch_without_else(content):
    edit(content, QUIZ, "      - else: umur\n", "")
    assert any("no 'else:'" in p.message for p in only_error(content))


def test_loop_that_never_waits(content):
    edit(content, "flows/menu.yaml", "    next: main\n", "    next: riwayat\n")
    assert any("loop" in p.message for p in only_error(content))


def test_unknown_hotline(content):
    edit(content, "flows/bantuan.yaml", "{hotline.sejiwa}", "{hotline.sejiwaa}")
    assert any("hotlines.yaml" in p.message for p in only_error(content))


def test_crisis_flow_must_show_hotlines_first(content):
    edit(content, "flows/crisis.yaml", '"Kamu tidak sendiri. {hotlines.crisis}"',
         '"Kamu tidak sendiri."')
    assert any("hotline" in p.message for p in only_error(content))


def test_lint_cli_exit_codes_and_no_traceback(content):
    ok = subprocess.run([sys.executable, "-m", "bot.cli", "lint", str(content)], cwd=ROOT,
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    edit(content, QUIZ, "    say: Pertanyaan satu?", "    say: [Pertanyaan satu?")
    bad = subprocess.run([sys.executable, "-m", "bot.cli", "lint", str(content)], cwd=ROOT,
                         capture_output=True, text=True)
    assert bad.returncode == 1
    assert "quiz.yaml:" in bad.stdout and "Traceback" not in bad.stdout + bad.stderr


def test_lint_also_checks_the_crisis_lexicon(tmp_path):
    from tests.conftest import REAL_CONTENT

    target = tmp_path / "content"
    shutil.copytree(REAL_CONTENT, target)
    lexicon = target / "crisis" / "lexicon.yaml"
    lexicon.write_text(lexicon.read_text() + "\n  [broken\n")
    problems = [p for p in lint_directory(target) if p.severity == "error"]
    assert any(p.file.endswith("lexicon.yaml") and p.line for p in problems)


def test_flow_description_is_read_and_a_long_one_is_warned_about(content):
    path = edit(content, QUIZ, "title: Tes Singkat\n",
                "title: Tes Singkat\ndescription: >-\n  Dua pertanyaan\n  singkat.\n")
    loaded = load_content(content)
    assert loaded.flows["quiz"].description == "Dua pertanyaan singkat."
    edit(content, QUIZ, "  Dua pertanyaan\n", "  " + "panjang " * 20 + "\n")
    (problem,) = lint_directory(content)
    assert problem.severity == "warning" and "poster shows at most 140" in problem.message
    assert problem.line == line_of(path, "description:")
    edit(content, QUIZ, "description: >-\n", "description:\n")
    edit(content, QUIZ, "  " + "panjang " * 20 + "\n  singkat.\n", "  - a\n")
    assert any("description must be a text" in str(p) for p in only_error(content))


def test_an_open_word_must_be_one_word(content):
    edit(content, "system.yaml", "  start: [/start]\n", "  start: [/start]\n  open: [mulai alur]\n")
    assert any("open word 'mulai alur' must be one word" in p.message for p in only_error(content))
