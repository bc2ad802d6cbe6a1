"""The flow map: one flow's graph drawn as SVG on the server (pure Python, nothing loaded).

A simple layered layout that stays readable for a 40-node flow: rows are BFS layers from
the start node, each box a node (id and the first words it says), arrows its ways on.
A node's ways out of the flow (goto, call, end) are listed in one small box under it; a
wrong target is written in red there. Nodes nobody can reach get their own last row,
dashed red; dead ends are orange. Every node is a `<g class="node" data-node=…>` with
its `data-line`, so a page can make it clickable; the classes `unreachable`, `dead-end`,
`start` and `missing` are the marks.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass, replace

from flows.graph import Edge, FlowGraph
from flows.i18n import _

SVG_NS = "http://www.w3.org/2000/svg"
BOX_W, BOX_H = 190, 52
PILL_W, PILL_LINE = 170, 16  # the box of a node's ways out: one line per way
H_GAP, V_GAP = 34, 64
MARGIN = 24
ROW_LABEL_H = 22  # room above the unreachable row for its label
CHAR_W = 6.6  # average width of a 12px sans-serif character, for cutting long texts

STYLE = """
.node rect { stroke: #41626b; stroke-width: 1.2; fill: #ffffff; }
.node.question rect { fill: #e6f3f1; }
.node.step rect { fill: #f1f3f4; }
.node.start rect { stroke: #1d6f65; stroke-width: 3; }
.node.dead-end rect { fill: #fde7cf; stroke: #c26a12; stroke-width: 2; }
.node.unreachable rect { stroke: #c0392b; stroke-dasharray: 6 4; stroke-width: 2; }
.node:hover rect, .node.selected rect { stroke: #0b4f8a; stroke-width: 3; }
.node { cursor: pointer; }
.pill rect { fill: #f7f7f2; stroke: #8a9599; }
.pill.missing rect { fill: #fbe3e1; stroke: #c0392b; }
.pill text.missing { fill: #a12b1f; font-weight: 700; }
text { font-family: "Noto Sans", "DejaVu Sans", Arial, sans-serif; font-size: 12px;
       fill: #1f2d33; }
text.id { font-weight: 700; }
text.mark { font-size: 10px; font-weight: 700; }
.dead-end text.mark { fill: #9a4f06; }
.unreachable text.mark { fill: #a12b1f; }
text.row { font-size: 12px; font-weight: 700; fill: #a12b1f; }
text.label { font-size: 10.5px; fill: #41626b; }
rect.label { fill: #ffffff; opacity: 0.85; stroke: none; }
.edge { fill: none; stroke: #6b7f86; stroke-width: 1.3; }
.edge.return { stroke-dasharray: 5 4; }
.edge.missing { stroke: #c0392b; }
"""


@dataclass
class _Box:
    key: str  # node id, or "exit:<n>" for a pill
    x: float  # centre
    y: float  # top
    w: float
    h: float

    @property
    def bottom(self) -> float:
        return self.y + self.h


def _cut(text: str, width: float) -> str:
    text = " ".join(text.replace("*", "").split())
    limit = max(4, int(width / CHAR_W))
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _layers(graph: FlowGraph) -> dict[str, int]:
    """Row of each reachable node: BFS from the start, then from other entries."""
    internal: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for edge in graph.edges:
        if edge.internal and edge.exists and edge.target != edge.source:
            internal[edge.source].append(edge.target or "")
    layer: dict[str, int] = {}
    seeds = [graph.start] + [n.id for n in graph.nodes.values() if n.reachable]
    for seed in seeds:
        if seed in layer or seed not in graph.nodes:
            continue
        layer[seed] = 0
        todo = deque([seed])
        while todo:
            current = todo.popleft()
            for target in internal[current]:
                if target not in layer:
                    layer[target] = layer[current] + 1
                    todo.append(target)
    return layer


@dataclass(frozen=True)
class _Exit:
    """A node's ways out of the flow (and to missing nodes), drawn as one box under it."""

    source: str
    edges: tuple[Edge, ...]


class _Layout:
    """Places boxes row by row; each row is ordered by where its parents are."""

    def __init__(self, graph: FlowGraph):
        self.graph = graph
        layer = _layers(graph)
        outs: dict[str, list[Edge]] = {}
        for edge in _merged(graph.edges):
            if not edge.internal or not edge.exists:
                outs.setdefault(edge.source, []).append(edge)
        self.exits = [_Exit(source, tuple(found)) for source, found in outs.items()]
        rows: dict[int, list[str]] = {}
        for node_id in graph.nodes:  # written order breaks ties
            if node_id in layer:
                rows.setdefault(layer[node_id], []).append(node_id)
        exit_rows: dict[int, list[int]] = {}
        for i, ex in enumerate(self.exits):
            row = layer.get(ex.source)
            if row is not None:
                exit_rows.setdefault(row + 1, []).append(i)
        parents: dict[str, list[str]] = {n: [] for n in graph.nodes}
        for edge in graph.edges:
            if edge.internal and edge.exists and edge.target in parents:
                parents[edge.target or ""].append(edge.source)
        order: dict[str, float] = {}
        row_items: list[list[str]] = []
        last = max([*rows, *exit_rows], default=-1)
        for r in range(last + 1):
            items = [(n, self._rank(n, parents, order, layer, r)) for n in rows.get(r, [])]
            items += [(f"exit:{i}", order.get(self.exits[i].source, 0) + 0.5)
                      for i in exit_rows.get(r, [])]
            items.sort(key=lambda item: item[1])
            for position, (key, _rank) in enumerate(items):
                order[key] = position
            row_items.append([key for key, _rank in items])
        self.unreachable = [n for n in graph.nodes if n not in layer]
        widest = max([len(r) for r in row_items] + [len(self.unreachable), 1])
        slot = BOX_W + H_GAP
        self.width = MARGIN * 2 + widest * slot - H_GAP + 80  # room for edges on the right
        self.boxes: dict[str, _Box] = {}
        y = MARGIN
        for items in row_items:
            offset = MARGIN + (widest - len(items)) * slot / 2
            tallest = BOX_H
            for i, key in enumerate(items):
                if key.startswith("exit:"):
                    w, h = PILL_W, 10 + PILL_LINE * len(self.exits[int(key[5:])].edges)
                else:
                    w, h = BOX_W, BOX_H
                self.boxes[key] = _Box(key, offset + i * slot + BOX_W / 2, y, w, h)
                tallest = max(tallest, h)
            y += tallest + V_GAP
        self.unreachable_label_y = y
        if self.unreachable:
            y += ROW_LABEL_H
            offset = MARGIN + (widest - len(self.unreachable)) * slot / 2
            for i, key in enumerate(self.unreachable):
                self.boxes[key] = _Box(key, offset + i * slot + BOX_W / 2, y, BOX_W, BOX_H)
            y += BOX_H + V_GAP
        self.height = y - V_GAP + MARGIN

    @staticmethod
    def _rank(node: str, parents: dict[str, list[str]], order: dict[str, float],
              layer: dict[str, int], row: int) -> float:
        above = [order[p] for p in parents[node] if p in order and layer.get(p, row) < row]
        return sum(above) / len(above) if above else float(len(order))


def _merged(edges: tuple[Edge, ...]) -> list[Edge]:
    """One arrow per way: parallel edges (two ranges to one node, the else and the return
    after a call) become one, their labels joined."""
    merged: dict[tuple[str, str, str | None], Edge] = {}
    for edge in edges:
        if edge.kind == "return":
            edge = replace(edge, label=_("after the call"))
        key = (edge.source, "inside" if edge.internal else edge.kind, edge.target)
        first = merged.get(key)
        if first is None:
            merged[key] = edge
            continue
        label = ", ".join(x for x in (first.label, edge.label) if x)
        kind = first.kind if first.kind == edge.kind else "next"
        merged[key] = replace(first, kind=kind, label=label)
    return list(merged.values())


def _exit_text(edge: Edge) -> str:
    if not edge.exists:
        return _("{target} (missing)").format(target=edge.target)
    if edge.kind == "end":
        return _("end")
    if edge.kind == "call":
        return _("call {flow}").format(flow=edge.target)
    return _("go to {flow}").format(flow=edge.target)


def _node_marks(graph: FlowGraph, node_id: str) -> list[str]:
    node = graph.nodes[node_id]
    marks = []
    if node.start:
        marks.append(_("start"))
    if node.dead_end:
        marks.append(_("dead end"))
    if not node.reachable:
        marks.append(_("unreachable"))
    return marks


def _summary(graph: FlowGraph, node_id: str) -> str:
    node = graph.nodes[node_id]
    if node.say:
        return node.say[0]
    if node.kind == "step":
        kinds = {e.via for e in graph.edges_from(node_id)}
        if "branch" in kinds:
            return _("(branch)")
        if "band" in kinds:
            return _("(score ranges)")
    return _("(no text)")


def render_flow_map(graph: FlowGraph) -> str:
    """The SVG document (a string) of the map of `graph`."""
    layout = _Layout(graph)
    ET.register_namespace("", SVG_NS)
    svg = ET.Element("svg", {
        "xmlns": SVG_NS, "class": "flowmap", "data-flow": graph.flow,
        "width": f"{layout.width:.0f}", "height": f"{layout.height:.0f}",
        "viewBox": f"0 0 {layout.width:.0f} {layout.height:.0f}",
        "role": "img",
    })
    ET.SubElement(svg, "title").text = _("Map of the flow {flow}").format(flow=graph.flow)
    ET.SubElement(svg, "style").text = STYLE
    defs = ET.SubElement(svg, "defs")
    for name, colour in (("arrow", "#6b7f86"), ("arrow-missing", "#c0392b")):
        marker = ET.SubElement(defs, "marker", {
            "id": name, "viewBox": "0 0 10 10", "refX": "9", "refY": "5",
            "markerWidth": "7", "markerHeight": "7", "orient": "auto-start-reverse"})
        ET.SubElement(marker, "path", {"d": "M 0 0 L 10 5 L 0 10 z", "fill": colour})
    edges_group = ET.SubElement(svg, "g", {"class": "edges"})
    labels_group = ET.SubElement(svg, "g", {"class": "labels"})
    for i, ex in enumerate(layout.exits):
        box = layout.boxes.get(f"exit:{i}")
        if box is not None:
            first = ex.edges[0]
            arrow = Edge(ex.source, first.kind, None, first.via, "", first.line,
                         all(e.exists for e in ex.edges))
            _draw_edge(edges_group, labels_group, layout.boxes[ex.source], box, arrow,
                       forward=True)
    for edge in _merged(graph.edges):
        if edge.internal and edge.exists and edge.target in layout.boxes:
            source, target = layout.boxes[edge.source], layout.boxes[edge.target or ""]
            _draw_edge(edges_group, labels_group, source, target, edge,
                       forward=target.y > source.y)
    if layout.unreachable:
        row = ET.SubElement(svg, "text", {"class": "row", "x": str(MARGIN),
                                          "y": f"{layout.unreachable_label_y + 12:.0f}"})
        row.text = _("Unreachable: no way leads to these nodes")
    for node_id in graph.nodes:
        _draw_node(svg, graph, node_id, layout.boxes[node_id])
    for i, ex in enumerate(layout.exits):
        box = layout.boxes.get(f"exit:{i}")
        if box is not None:
            _draw_pill(svg, box, ex)
    return ET.tostring(svg, encoding="unicode")


def _draw_node(svg: ET.Element, graph: FlowGraph, node_id: str, box: _Box) -> None:
    node = graph.nodes[node_id]
    classes = ["node", node.kind]
    if node.start:
        classes.append("start")
    if node.dead_end:
        classes.append("dead-end")
    if not node.reachable:
        classes.append("unreachable")
    group = ET.SubElement(svg, "g", {
        "class": " ".join(classes), "id": f"node-{node_id}", "data-node": node_id,
        "data-line": str(node.line), "tabindex": "0",
    })
    ET.SubElement(group, "title").text = f"{node_id} — {node.file}:{node.line}"
    left = box.x - box.w / 2
    ET.SubElement(group, "rect", {"x": f"{left:.1f}", "y": f"{box.y:.1f}",
                                  "width": f"{box.w:.0f}", "height": f"{box.h:.0f}",
                                  "rx": "7"})
    marks = " · ".join(_node_marks(graph, node_id))
    id_width = box.w - 16 - (len(marks) * CHAR_W * 0.8 if marks else 0)
    ET.SubElement(group, "text", {"class": "id", "x": f"{left + 8:.1f}",
                                  "y": f"{box.y + 18:.1f}"}).text = _cut(node_id, id_width)
    if marks:
        ET.SubElement(group, "text", {"class": "mark", "x": f"{left + box.w - 8:.1f}",
                                      "y": f"{box.y + 17:.1f}", "text-anchor": "end"}
                      ).text = marks.upper()
    ET.SubElement(group, "text", {"class": "say", "x": f"{left + 8:.1f}",
                                  "y": f"{box.y + 38:.1f}"}
                  ).text = _cut(_summary(graph, node_id), box.w - 16)


def _draw_pill(svg: ET.Element, box: _Box, ex: _Exit) -> None:
    missing = not all(e.exists for e in ex.edges)
    classes = ["pill"] + (["missing"] if missing else [])
    group = ET.SubElement(svg, "g", {"class": " ".join(classes), "data-source": ex.source,
                                     "data-line": str(ex.edges[0].line)})
    lines = [(_exit_text(e), e) for e in ex.edges]
    ET.SubElement(group, "title").text = "\n".join(
        f"{text} — {e.label}" if e.label else text for text, e in lines)
    ET.SubElement(group, "rect", {"x": f"{box.x - box.w / 2:.1f}", "y": f"{box.y:.1f}",
                                  "width": f"{box.w:.0f}", "height": f"{box.h:.0f}",
                                  "rx": "11"})
    for i, (text, edge) in enumerate(lines):
        attrs = {"x": f"{box.x - box.w / 2 + 10:.1f}", "y": f"{box.y + 18 + i * PILL_LINE:.1f}",
                 "data-line": str(edge.line)}
        if not edge.exists:
            attrs["class"] = "missing"
        ET.SubElement(group, "text", attrs).text = _cut(text, box.w - 20)


def _draw_edge(edges: ET.Element, labels: ET.Element, source: _Box, target: _Box,
               edge: Edge, *, forward: bool) -> None:
    if forward:
        x1, y1, x2, y2 = source.x, source.bottom, target.x, target.y
        bend = (y2 - y1) / 2
        points = ((x1, y1), (x1, y1 + bend), (x2, y2 - bend), (x2, y2))
    elif source.y == target.y and source.key != target.key:  # same row: side to side
        step = 1 if target.x > source.x else -1
        x1, x2 = source.x + step * source.w / 2, target.x - step * target.w / 2
        y1 = y2 = source.y + source.h / 2
        points = ((x1, y1), ((x1 + x2) / 2, y1 - 14), ((x1 + x2) / 2, y2 - 14), (x2, y2))
    else:  # back to an earlier row (a loop, a retry): around the right side of the boxes
        x1, y1 = source.x + source.w / 2, source.y + source.h / 2 + 6
        x2, y2 = target.x + target.w / 2, target.y + target.h / 2 - 6
        reach = 30 + min(abs(y1 - y2) / 6, 60)
        points = ((x1, y1), (x1 + reach, y1), (x2 + reach, y2), (x2, y2))
    (a, b, c, e) = points
    d = (f"M {a[0]:.1f} {a[1]:.1f} C {b[0]:.1f} {b[1]:.1f} {c[0]:.1f} {c[1]:.1f} "
         f"{e[0]:.1f} {e[1]:.1f}")
    mid = _bezier(points, 0.6 if forward else 0.5)  # nearer the target: fanned-out labels
    classes = ["edge", edge.kind] + ([] if edge.exists else ["missing"])
    path = ET.SubElement(edges, "path", {
        "class": " ".join(classes), "d": d, "data-source": edge.source,
        "data-target": edge.target or "", "data-line": str(edge.line),
        "marker-end": "url(#arrow)" if edge.exists else "url(#arrow-missing)",
    })
    label = edge.label
    if label:
        ET.SubElement(path, "title").text = label
    if not label:
        return
    text = _cut(label, 150)
    width = len(text) * CHAR_W * 0.85 + 6
    ET.SubElement(labels, "rect", {"class": "label", "x": f"{mid[0] - width / 2:.1f}",
                                   "y": f"{mid[1] - 9:.1f}", "width": f"{width:.0f}",
                                   "height": "13"})
    ET.SubElement(labels, "text", {"class": "label", "x": f"{mid[0]:.1f}",
                                   "y": f"{mid[1] + 1:.1f}", "text-anchor": "middle"}
                  ).text = text


def _bezier(points: tuple[tuple[float, float], ...], t: float) -> tuple[float, float]:
    """The point at `t` (0–1) on a cubic Bézier curve."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
    u = 1 - t
    return (u**3 * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t**3 * x3,
            u**3 * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t**3 * y3)
