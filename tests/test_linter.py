"""`temanjiwa lint`: each kind of editor mistake is reported with file, line and a fix."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flows.linter import lint_directory, load_content
from flows.problems import ContentError
from flows.yamlload import LOADERS, MAX_FILE_BYTES, parse_yaml
from tests.conftest import FIXTURE_CONTENT, REAL_CONTENT, ROOT

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


# -- flows the engine relies on --------------------------------------------------------------

@pytest.mark.parametrize("flow", ["crisis", "consent", "menu", "quiz"])
@pytest.mark.parametrize("text", ["", "\n\n", "# dikosongkan dulu\n", "null\n", "~\n", "---\n"],
                         ids=["empty", "blank", "comment", "null", "tilde", "document-marker"])
def test_an_empty_flow_file_is_an_error_with_file_and_line(content, flow, text):
    (content / "flows" / f"{flow}.yaml").write_text(text)
    problem = find(only_error(content), "empty")
    assert problem.file.endswith(f"flows/{flow}.yaml") and problem.line == 1
    assert problem.hint
    with pytest.raises(ContentError):
        load_content(content)


def test_an_empty_crisis_flow_is_refused_by_the_cli(content):
    (content / "flows" / "crisis.yaml").write_text("# nanti diisi\n")
    result = subprocess.run([sys.executable, "-m", "bot.cli", "lint", str(content)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout
    assert "crisis.yaml:1:" in result.stdout and "Traceback" not in result.stderr


@pytest.mark.parametrize("flow", ["crisis", "consent", "bantuan", "stop", "hapus", "menu"])
def test_flows_the_engine_starts_must_not_ask_for_consent(content, flow):
    edit(content, f"flows/{flow}.yaml", "consent: not_required\n", "")
    problem = find(only_error(content), "without consent")
    assert problem.file.endswith(f"{flow}.yaml") and problem.line == 1
    assert "not_required" in problem.hint


def test_a_role_flow_cannot_expect_values_the_engine_does_not_give(content):
    edit(content, "flows/bantuan.yaml", "consent: not_required\n",
         "consent: not_required\nparams: [nama]\n")
    assert find(only_error(content), "expects nama").file.endswith("bantuan.yaml")
    edit(content, "flows/crisis.yaml", "params: [level, category, source]",
         "params: [level, category, source, subject, umur]")
    assert find(only_error(content), "expects umur").file.endswith("crisis.yaml")


def test_call_names_a_flow_not_a_node(content):
    path = edit(content, QUIZ, "        call: crisis\n", "        call: crisis.first\n")
    problem = find(only_error(content), "can only start a whole flow")
    assert problem.line == line_of(path, "call: crisis.first")
    assert "call: crisis" in problem.hint


def test_the_crisis_hotline_group_must_exist_and_not_be_empty(content):
    path = edit(content, "hotlines.yaml", "  crisis: [sejiwa, darurat]\n", "  crisis: []\n")
    problem = find(only_error(content), "no hotline in it")
    assert problem.line == line_of(path, "crisis: []")
    edit(content, "hotlines.yaml", "  crisis: []\n", "  lain: [sejiwa]\n")
    assert find(only_error(content), "no 'crisis' group").file.endswith("hotlines.yaml")


@pytest.mark.parametrize(("old", "new", "needle"), [
    ("stop: [stop, /stop, berhenti]", "stop: 2.5", "stop: 2.5"),
    ("stop: [stop, /stop, berhenti]", "stop: [[stop], /stop]", "stop: [[stop]"),
    ("flows: {consent: consent,", "flows: {consent: [consent],", "flows:"),
    ("texts:\n", "texts: halo\nxtexts:\n", "texts: halo"),
    ("minor_age_groups: [remaja]", "minor_age_groups: 17", "minor_age_groups"),
    ("consent_version: \"t1\"", "consent_version: {v: 1}", "consent_version"),
])
def test_wrong_types_in_system_yaml_are_reported_not_raised(content, old, new, needle):
    path = edit(content, "system.yaml", old, new)
    problems = [p for p in only_error(content) if p.file.endswith("system.yaml")]
    assert problems, "system.yaml's mistake was not reported"
    assert problems[0].line == line_of(path, needle)


@pytest.mark.parametrize(("old", "new"), [
    ("groups:\n  crisis: [sejiwa, darurat]", "groups: [crisis]"),
    ("  crisis: [sejiwa, darurat]", "  crisis: [[sejiwa], darurat]"),
    ('text: "SEJIWA 119 ext 8"', "text: [119]"),
])
def test_wrong_types_in_hotlines_yaml_are_reported_not_raised(content, old, new):
    edit(content, "hotlines.yaml", old, new)
    assert any(p.file.endswith("hotlines.yaml") and p.line for p in only_error(content))


# -- what the loader refuses before it costs time or memory -----------------------------------

def write_flow(content, text, name="x"):
    path = content / "flows" / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_over_the_size_limit_is_not_read(content):
    write_flow(content, "flow: besar\nnodes:\n" + "  # isi\n" * (MAX_FILE_BYTES // 8 + 1))
    problem = find(only_error(content), "larger than 512 kB")
    assert problem.file.endswith("x.yaml") and problem.line == 1


def test_ten_megabytes_are_refused(content):
    write_flow(content, "flow: besar\nnodes:\n  a: {say: '" + "x" * 10_000_000 + "', end: true}\n")
    problems = only_error(content)
    assert len(problems) == 1 and "larger than" in problems[0].message


def test_a_billion_laughs_is_refused(content):
    lines = ["flow: bom", "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    lines += ["nodes:", "  a: {say: halo, choices: [{id: a, label: A, value: *l8}], end: true}"]
    write_flow(content, "\n".join(lines) + "\n")
    problem = find(only_error(content), "more than 20 aliases")
    assert problem.file.endswith("x.yaml") and problem.line == 5  # the 21st alias


def test_a_few_aliases_that_expand_hugely_are_refused(content):
    """Merge keys double a block per level: 20 aliases can stand for a million values."""
    lines = ["flow: bom", "m0: &m0 {a: 1, b: 2, c: 3, d: 4}"]
    lines += [f"m{i}: &m{i} [*m{i - 1}, *m{i - 1}]" for i in range(1, 11)]
    lines += ["nodes:", "  a: {say: halo, end: true}"]
    write_flow(content, "\n".join(lines) + "\n")
    problem = find(only_error(content), "stand for more than 10000 values")
    assert problem.file.endswith("x.yaml") and problem.line == 1


def test_aliases_that_expand_hugely_are_refused_in_a_big_file_too(content):
    """The count of what aliases add must not be hidden by the many values written out."""
    lines = ["flow: bom", "pad: [" + ", ".join(["1"] * 60_000) + "]",
             "m0: &m0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"]
    lines += [f"m{i}: &m{i} [*m{i - 1}, *m{i - 1}]" for i in range(1, 11)]
    lines += ["nodes:", "  a: {say: halo, end: true}"]
    write_flow(content, "\n".join(lines) + "\n")
    assert find(only_error(content), "stand for more than 10000 values").file.endswith("x.yaml")


def test_an_alias_inside_itself_is_refused(content):
    write_flow(content, "flow: x\nloop: &a [1, *a]\nnodes:\n  a: {say: halo, end: true}\n")
    problem = find(only_error(content), "refer to themselves")
    assert problem.file.endswith("x.yaml") and problem.line


def test_a_few_small_aliases_still_work(content):
    write_flow(content, "flow: x\nconsent: not_required\nnodes:\n"
               "  a: {say: &tanya Apa kabar, choices: &ok [{id: baik, label: Baik}], next: b}\n"
               "  b: {say: *tanya, choices: *ok, end: true}\n")
    assert [p for p in lint_directory(content) if p.file.endswith("x.yaml")] == []


@pytest.mark.parametrize("text", [
    "flow: x\nnodes: {a: {say: " + "[" * 10_000 + "]" * 10_000 + "}}\n",
    "flow: x\nnodes: {a: {say: " + "[" * 60 + "]" * 60 + "}}\n",
    "flow: x\nnodes:\n  a:\n    say:\n      " + "- " * 10_000 + "x\n",
    "flow: x\nnodes:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 400)),
], ids=["10000-flow", "60-flow", "10000-block", "400-indented"])
def test_deep_nesting_is_refused_with_a_line(content, text):
    write_flow(content, text)
    problem = find(only_error(content), "nested more than 50 levels")
    assert problem.file.endswith("x.yaml") and problem.line is not None


def test_a_long_chain_of_nodes_is_checked_without_recursion(content):
    """The loop check walked the nodes recursively: 3,000 in a row raised RecursionError."""
    nodes = "".join(f"  n{i}: {{say: pesan {i}, next: n{i + 1}}}\n" for i in range(3000))
    write_flow(content, "flow: x\nnodes:\n" + nodes + "  n3000: {say: selesai, end: true}\n")
    assert [p for p in lint_directory(content) if p.file.endswith("x.yaml")] == []


def test_a_fifo_in_the_flows_folder_is_reported_not_read(content):
    os.mkfifo(content / "flows" / "pipa.yaml")
    problem = find(only_error(content), "not a plain file")
    assert problem.file.endswith("pipa.yaml")


def test_too_many_flow_files_are_refused_together(content, monkeypatch):
    monkeypatch.setattr("flows.loader.MAX_FLOW_FILES", 3)
    problems = only_error(content)
    assert any("at most 3 files" in p.message for p in problems)
    assert not any("no such flow" in p.message for p in problems), "no follow-up errors"


# -- what used to raise a traceback in the linter ----------------------------------------------

@pytest.mark.parametrize(("char", "code"), [("\x00", "U+0000"), ("\x1b", "U+001B"),
                                            ("\x07", "U+0007"), ("\ufffe", "U+FFFE")])
def test_control_characters_get_a_plain_message_with_the_line(content, char, code):
    path = edit(content, QUIZ, "say: Pertanyaan dua?", f"say: Pertanyaan{char} dua?")
    problem = find(only_error(content), code)
    assert problem.file.endswith("quiz.yaml") and problem.line == line_of(path, f"Pertanyaan{char}")
    assert "invisible" in problem.message and problem.hint


@pytest.mark.parametrize("key", ["[q1, q2]", "{q1: 1}", "? [a]\n  "])
def test_a_list_or_block_as_a_key_gets_a_plain_message(content, key):
    path = edit(content, QUIZ, "  umur:\n", f"  {key}: {{say: x, end: true}}\n  umur:\n")
    problem = find(only_error(content), "not a name")
    assert problem.file.endswith("quiz.yaml")
    assert problem.line == line_of(path, key.split("\n")[0])


def test_lint_cli_never_prints_a_traceback_for_hostile_files(content):
    write_flow(content, "flow: a\nnodes: {a: {say: \"ha\x00lo\", end: true}}\n", "nul")
    write_flow(content, "flow: b\nnodes: {[a]: {say: x, end: true}}\n", "kunci")
    write_flow(content, "flow: c\nnodes: {a: {say: " + "[" * 5000 + "]" * 5000 + "}}\n", "dalam")
    write_flow(content, "flow: d\nx0: &x0 [a, b]\n" + "".join(
        f"x{i}: &x{i} [*x{i - 1}, *x{i - 1}]\n" for i in range(1, 30)), "bom")
    result = subprocess.run([sys.executable, "-m", "bot.cli", "lint", str(content)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    for name in ("nul", "kunci", "dalam", "bom"):
        assert re.search(rf"flows/{name}\.yaml:\d+: ", result.stdout), (name, result.stdout)


def test_a_loop_through_other_flows_that_never_waits(content):
    """Each flow alone is fine; together they spin until the engine gives up."""
    write_flow(content, "flow: a\nconsent: not_required\nnodes:\n  x: {say: satu, goto: b}\n", "a")
    write_flow(content, "flow: b\nconsent: not_required\nnodes:\n  y: {say: dua, call: a, "
               "next: z}\n  z: {say: tiga, end: true}\n", "b")
    problem = find(only_error(content), "loop through other flows")
    assert problem.file.endswith(("a.yaml", "b.yaml")) and problem.line


@pytest.mark.parametrize("loader", LOADERS, ids=[c.__name__ for c in LOADERS])
def test_both_parsers_read_the_shipped_content_alike_and_keep_the_limits(loader):
    """libyaml's parser is used when PyYAML has it; the pure-Python one must agree."""
    for path in sorted(REAL_CONTENT.rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert parse_yaml(text, path.name, loader) == parse_yaml(text, path.name), path
    bomb = "x0: &x0 [a, b]\n" + "".join(f"x{i}: &x{i} [*x{i - 1}, *x{i - 1}]\n"
                                         for i in range(1, 30))
    deep = "a: " + "[" * 10_000 + "]" * 10_000 + "\n"
    for text, words in [(bomb, "aliases"), (deep, "nested more than 50"),
                        ("[a]: 1\n", "not a name"), ("a: {b: 1\n", "cannot be read")]:
        _data, problems = parse_yaml(text, "x.yaml", loader)
        assert problems and words in problems[0].message and problems[0].line, (words, problems)


# ---------------------------------------------------------------- one cause, one report
@pytest.mark.parametrize(("typo", "hint"), [("next: qq1", "Did you mean 'q1'"),
                                            ("next: zzz", "nodes in this flow")])
def test_a_misspelt_reference_is_one_error_without_follow_on_unreachable_nodes(
        content, typo, hint):
    path = edit(content, QUIZ, "next: q1}", typo + "}")
    problems = only_error(content)
    assert len(problems) == 1, [str(p) for p in problems]
    assert "no such node" in problems[0].message and hint in problems[0].hint
    assert problems[0].line == line_of(path, typo)


def test_a_misspelt_goto_into_another_flow_is_one_error(content):
    edit(content, "flows/menu.yaml", "goto: quiz}", "goto: quiz.intor}")
    problems = only_error(content)
    assert len(problems) == 1, [str(p) for p in problems]
    assert "Did you mean 'quiz.intro'" in problems[0].hint


@pytest.mark.parametrize(("old", "new"), [
    ("choices: [{id: mulai, label: Mulai, next: q1}]",
     'choices: [{id: mulai, label: "Mulai, next: q1}]'),
    ("    say: Pertanyaan satu?", '    say: "Pertanyaan satu?'),
    ("    say: Pertanyaan satu?", "    say: 'Pertanyaan satu?"),
])
def test_a_missing_quote_is_reported_where_it_opens_in_indonesian(content, old, new):
    path = edit(content, QUIZ, old, new)
    opened = line_of(path, new.strip())
    problems = only_error(content)
    assert len(problems) == 1 and problems[0].line == opened, [str(p) for p in problems]
    env = dict(os.environ, TEMANJIWA_LANG="id")
    out = subprocess.run([sys.executable, "-m", "bot.cli", "lint", str(content)], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120).stdout
    assert f"quiz.yaml:{opened}: kesalahan: Tanda kutip" in out, out
    assert "expected" not in out and "while scanning" not in out, out


def test_files_the_loader_does_not_read_are_warned_about(content):
    shutil.copy(content / "crisis" / "lexicon.yaml", content / "crisis" / "lexicon_copy.yaml")
    shutil.copy(content / QUIZ, content / "flows" / "quiz.yml")
    (content / "flows" / "catatan.txt").write_text("ide alur baru\n")
    shutil.copy(content / "system.yaml", content / "system.yml")
    problems = lint_directory(content)
    assert not [p for p in problems if p.severity == "error"]
    warned = {Path(p.file).name: p for p in problems if p.severity == "warning"}
    assert set(warned) == {"lexicon_copy.yaml", "quiz.yml", "catatan.txt", "system.yml"}, (
        [str(p) for p in problems])  # one each: the copy's words are not read twice
    assert "copy" in warned["lexicon_copy.yaml"].message
    assert ".yml" in warned["quiz.yml"].message and "quiz.yaml" in warned["quiz.yml"].hint
