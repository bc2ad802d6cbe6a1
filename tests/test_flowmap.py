"""The SVG flow map (bot/studio/flowmap.py), read back with xml.etree as a browser would."""

from __future__ import annotations

import itertools
import shutil
import xml.etree.ElementTree as ET

import pytest

from bot.studio.flowmap import render_flow_map
from flows.graph import build_graph
from flows.linter import load_content
from flows.loader import read_content
from tests.conftest import FIXTURE_CONTENT, REAL_CONTENT

NS = {"svg": "http://www.w3.org/2000/svg"}
QUIZ = "flows/quiz.yaml"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def classes(element: ET.Element) -> set[str]:
    return set((element.get("class") or "").split())


def nodes(root: ET.Element) -> dict[str, ET.Element]:
    return {g.get("data-node"): g for g in root.iterfind(".//svg:g", NS)
            if "node" in classes(g)}


def pills(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iterfind(".//svg:g", NS) if "pill" in classes(g)]


def edges(root: ET.Element) -> list[ET.Element]:
    return [p for p in root.iterfind(".//svg:path", NS) if "edge" in classes(p)]


def box(group: ET.Element) -> tuple[float, float, float, float]:
    rect = group.find("svg:rect", NS)
    assert rect is not None
    x, y = float(rect.get("x")), float(rect.get("y"))
    return x, y, x + float(rect.get("width")), y + float(rect.get("height"))


def texts(group: ET.Element) -> list[str]:
    return [t.text or "" for t in group.iterfind(".//svg:text", NS)]


@pytest.fixture
def content_dir(tmp_path):
    target = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, target)
    return target


def edit(directory, old, new):
    path = directory / QUIZ
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture changed: {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def quiz_map(directory):
    content, _problems = read_content(directory)
    assert content is not None
    return build_graph(content, "quiz"), parse(render_flow_map(build_graph(content, "quiz")))


def test_every_node_is_a_clickable_box_with_its_line_and_every_way_an_arrow(fixture_content):
    graph = build_graph(fixture_content, "quiz")
    root = parse(render_flow_map(graph))
    assert root.get("data-flow") == "quiz"
    drawn = nodes(root)
    assert list(drawn) == list(graph.nodes)
    for node_id, group in drawn.items():
        assert group.get("data-line") == str(graph.nodes[node_id].line)
        assert texts(group)[0] == node_id
    assert "start" in classes(drawn["intro"]) and "START" in texts(drawn["intro"])
    assert "question" in classes(drawn["q1"]) and "Pertanyaan satu?" in texts(drawn["q1"])
    arrows = {(p.get("data-source"), p.get("data-target")) for p in edges(root)}
    inside = {("intro", "q1"), ("q1", "q2"), ("q2", "hitung"), ("hitung", "hasil"),
              ("hasil", "umur")}
    assert inside <= arrows
    # two band ranges and two branches to the same node are one arrow each, labels joined
    labels = [t.text for t in root.iterfind(".//svg:text", NS) if "label" in classes(t)]
    assert "low (0–2), high (3–6)" in labels
    assert "after the call, else" in labels  # the return after `call: crisis` and the else
    exits = {(g.get("data-source"), tuple(texts(g))) for g in pills(root)}
    assert exits == {("hasil", ("call crisis",)), ("umur", ("end",))}
    assert not [g for g in drawn.values() if classes(g) & {"unreachable", "dead-end"}]


def test_rows_follow_the_flow_from_the_start(fixture_content):
    root = parse(render_flow_map(build_graph(fixture_content, "quiz")))
    tops = {node_id: box(g)[1] for node_id, g in nodes(root).items()}
    order = ["intro", "q1", "q2", "hitung", "hasil", "umur"]
    assert [tops[n] for n in order] == sorted(tops[n] for n in order)
    assert len(set(tops.values())) == len(order)  # a chain: one node per row


def test_unreachable_nodes_get_their_own_marked_row(content_dir):
    edit(content_dir, "  umur:\n", "  lupa:\n    say: Tidak ada yang ke sini\n    end: true\n"
                                   "  umur:\n")
    _graph, root = quiz_map(content_dir)
    drawn = nodes(root)
    lost = drawn["lupa"]
    assert "unreachable" in classes(lost) and "UNREACHABLE" in texts(lost)
    assert box(lost)[1] > max(box(g)[3] for n, g in drawn.items() if n != "lupa")
    rows = [t.text for t in root.iterfind(".//svg:text", NS) if "row" in classes(t)]
    assert rows == ["Unreachable: no way leads to these nodes"]
    assert [n for n, g in drawn.items() if "unreachable" in classes(g)] == ["lupa"]


def test_dead_ends_are_marked(content_dir):
    edit(content_dir, "    reask: Tulis angka 10 sampai 100.\n    end: true\n",
         "    reask: Tulis angka 10 sampai 100.\n")
    _graph, root = quiz_map(content_dir)
    drawn = nodes(root)
    assert "dead-end" in classes(drawn["umur"]) and "DEAD END" in texts(drawn["umur"])
    assert [n for n, g in drawn.items() if "dead-end" in classes(g)] == ["umur"]
    assert not [g for g in pills(root) if g.get("data-source") == "umur"]


def test_a_wrong_target_is_a_red_pill_and_arrow(content_dir):
    edit(content_dir, "    next: q2\n", "    next: q_2\n")
    _graph, root = quiz_map(content_dir)
    (missing,) = [g for g in pills(root) if "missing" in classes(g)]
    assert missing.get("data-source") == "q1" and texts(missing) == ["q_2 (missing)"]
    assert [p.get("data-source") for p in edges(root) if "missing" in classes(p)] == ["q1"]


def test_text_is_escaped_not_markup(content_dir):
    edit(content_dir, "    say: Pertanyaan satu?\n", "    say: \"<b>satu</b> & dua\"\n")
    _graph, root = quiz_map(content_dir)
    assert "<b>satu</b> & dua" in texts(nodes(root)["q1"])


@pytest.mark.parametrize("flow_id", ["crisis", "srq20", "phq9", "menu"])
def test_a_big_real_flow_stays_readable(flow_id):
    """No two boxes overlap, everything lies inside the picture, ids are written in full."""
    content = load_content(REAL_CONTENT)
    graph = build_graph(content, flow_id)
    root = parse(render_flow_map(graph))
    width, height = float(root.get("width")), float(root.get("height"))
    assert root.get("viewBox") == f"0 0 {width:.0f} {height:.0f}"
    drawn = nodes(root)
    assert set(drawn) == set(graph.nodes)
    boxes = [box(g) for g in drawn.values()] + [box(g) for g in pills(root)]
    for a, b in itertools.combinations(boxes, 2):
        overlap = a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
        assert not overlap, (a, b)
    for x1, y1, x2, y2 in boxes:
        assert x1 >= 0 and x2 <= width and y1 >= 0 and y2 <= height
    for node_id, group in drawn.items():
        assert texts(group)[0] == node_id
    assert width <= 4000, "too wide to read on a laptop"
    if flow_id == "crisis":
        assert len(graph.nodes) >= 30
