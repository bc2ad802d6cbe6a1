"""The flow graph (flows/graph.py): nodes, every way between them, file:line, and the marks."""

from __future__ import annotations

import shutil

import pytest

from flows.graph import build_graph
from flows.linter import lint_directory, load_content
from flows.loader import read_content
from tests.conftest import FIXTURE_CONTENT, REAL_CONTENT

QUIZ = "flows/quiz.yaml"


@pytest.fixture
def content_dir(tmp_path):
    target = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, target)
    return target


def edit(directory, relative, old, new):
    path = directory / relative
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture changed: {old!r} not in {relative}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def line_of(path, needle):
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def read(directory):
    content, _problems = read_content(directory)
    assert content is not None
    return content


def edges(graph, source):
    return {(e.kind, e.target, e.via, e.label) for e in graph.edges_from(source)}


def test_quiz_graph_has_every_node_edge_and_line(fixture_content):
    graph = build_graph(fixture_content, "quiz")
    path = FIXTURE_CONTENT / QUIZ
    assert list(graph.nodes) == ["intro", "q1", "q2", "hitung", "hasil", "umur"]
    assert graph.start == "intro" and graph.nodes["intro"].start
    assert graph.title == "Tes Singkat"
    for node_id in graph.nodes:
        assert graph.nodes[node_id].line == line_of(path, f"  {node_id}:")
        assert graph.nodes[node_id].file.endswith("quiz.yaml")
    assert edges(graph, "intro") == {("next", "q1", "choice", "Mulai")}
    assert edges(graph, "q1") == {("next", "q2", "node", "")}
    assert edges(graph, "hitung") == {("next", "hasil", "band", "low (0–2)"),
                                      ("next", "hasil", "band", "high (3–6)")}
    assert edges(graph, "hasil") == {
        ("call", "crisis", "branch", '"self_harm_item" in flags'),
        ("return", "umur", "branch", '"self_harm_item" in flags'),
        ("next", "umur", "branch", "else"),
    }
    assert edges(graph, "umur") == {("end", None, "node", "")}
    (band_edge, _other) = graph.edges_from("hitung")
    assert band_edge.line == line_of(path, "key: low")
    assert graph.nodes["q1"].kind == "question" and graph.nodes["hitung"].kind == "step"
    assert graph.nodes["hasil"].kind == "message"
    assert graph.nodes["q1"].say == ("Pertanyaan satu?",)
    assert ("tidak_pernah", "Tidak sama sekali") in graph.nodes["q1"].choices
    assert graph.nodes["umur"].input == "number"
    assert graph.unreachable == [] and graph.dead_ends == []
    assert all(e.exists for e in graph.edges)


def test_unreachable_node_is_marked_like_the_linter_says(content_dir):
    path = edit(content_dir, QUIZ, "  umur:\n", "  lupa:\n    say: x\n    end: true\n  umur:\n")
    graph = build_graph(read(content_dir), "quiz")
    assert graph.unreachable == ["lupa"]
    assert not graph.nodes["lupa"].reachable and graph.nodes["umur"].reachable
    linted = [p for p in lint_directory(content_dir) if "never be reached" in p.message]
    assert [p.line for p in linted] == [graph.nodes["lupa"].line] == [line_of(path, "lupa:")]


def test_dead_ends_are_marked(content_dir):
    edit(content_dir, QUIZ, "    reask: Tulis angka 10 sampai 100.\n    end: true\n",
         "    reask: Tulis angka 10 sampai 100.\n")
    edit(content_dir, QUIZ, "      - else: umur\n", "")
    graph = build_graph(read(content_dir), "quiz")
    assert graph.dead_ends == ["hasil", "umur"]  # no else: / asks but goes nowhere
    assert graph.edges_from("umur") == []


def test_a_choice_without_a_way_on_makes_a_dead_end(content_dir):
    edit(content_dir, QUIZ, "{id: mulai, label: Mulai, next: q1}",
         "{id: mulai, label: Mulai, next: q1}, {id: nanti, label: Nanti}")
    graph = build_graph(read(content_dir), "quiz")
    assert graph.dead_ends == ["intro"]


def test_missing_targets_become_edges_marked_missing(content_dir):
    edit(content_dir, QUIZ, "    next: q2\n", "    next: q_2\n")
    edit(content_dir, QUIZ, "        call: crisis\n", "        call: krisis\n")
    graph = build_graph(read(content_dir), "quiz")
    (broken,) = graph.edges_from("q1")
    assert (broken.target, broken.exists) == ("q_2", False)
    call = next(e for e in graph.edges_from("hasil") if e.kind == "call")
    assert (call.target, call.exists) == ("krisis", False)
    assert graph.unreachable == ["q2", "hitung", "hasil", "umur"]  # cut off by the typo


def test_a_direct_entry_from_another_flow_counts_as_reachable(content_dir):
    edit(content_dir, QUIZ, "  umur:\n", "  lupa:\n    say: x\n    end: true\n  umur:\n")
    edit(content_dir, "flows/bantuan.yaml", "    end: true\n", "    goto: quiz.lupa\n")
    graph = build_graph(read(content_dir), "quiz")
    assert graph.unreachable == []
    goto = build_graph(read(content_dir), "bantuan").edges
    assert [(e.kind, e.target, e.exists) for e in goto] == [("goto", "quiz.lupa", True)]


def test_unknown_flow_raises_keyerror(fixture_content):
    with pytest.raises(KeyError):
        build_graph(fixture_content, "tidak_ada")


def test_every_real_flow_builds_clean_and_screenings_are_chains():
    content = load_content(REAL_CONTENT)
    for flow_id in content.flows:
        graph = build_graph(content, flow_id)
        assert graph.unreachable == [] and graph.dead_ends == [], flow_id
        assert all(e.exists for e in graph.edges), flow_id
    phq9 = build_graph(content, "phq9")
    for n in range(1, 9):
        assert ("next", f"q{n + 1}", "node", "") in edges(phq9, f"q{n}")
    srq20 = build_graph(content, "srq20")
    assert len(srq20.nodes) >= 25  # the map test below draws a flow of this size
