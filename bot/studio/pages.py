"""The studio's HTML pages: plain server-side HTML, one small script and one style sheet
from the package (no CDN, nothing from the network). Editors read them in Indonesian."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from bot.studio.flowmap import render_flow_map
from bot.studio.watch import Snapshot
from flows.graph import FlowGraph
from flows.i18n import _


def short_path(file: str, directory: str) -> str:
    """A content file as the editor knows it, relative to the folder (flows/phq9.yaml)."""
    try:
        return str(Path(file).resolve().relative_to(Path(directory).resolve()))
    except ValueError:
        return file


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="id"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        '<link rel="stylesheet" href="/static/studio.css">'
        '<script src="/static/studio.js" defer></script>'
        f"</head><body>{body}</body></html>"
    )


def _header(snapshot: Snapshot, directory: str) -> str:
    home = escape(_("Teman Jiwa studio"))
    return (f'<header><a class="home" href="/">{home}</a> '
            f'<span class="dir">{escape(directory)}</span></header>'
            + _problems(snapshot, directory))


def _problems(snapshot: Snapshot, directory: str) -> str:
    if not snapshot.problems:
        ok = _("No problems.")
        return f'<section id="problems" class="ok">{escape(ok)}</section>'
    items = []
    for problem in snapshot.problems:
        file = short_path(problem.file, directory)
        where = f"{file}:{problem.line}" if problem.line else file
        hint = f'<div class="hint">{escape(problem.hint)}</div>' if problem.hint else ""
        items.append(f'<li class="{problem.severity}"><code>{escape(where)}</code> '
                     f"{escape(problem.message)}{hint}</li>")
    note = ""
    if snapshot.errors:
        kept = _("The bot keeps the last good content until these errors are fixed.")
        note = f'<p class="note">{escape(kept)}</p>'
    return f'<section id="problems"><ul>{"".join(items)}</ul>{note}</section>'


def flow_list_page(snapshot: Snapshot, directory: str) -> str:
    content = snapshot.content
    rows = []
    for flow in sorted(content.flows.values(), key=lambda f: f.id) if content else ():
        rows.append(
            f'<li><a href="/flows/{escape(flow.id)}" data-flow="{escape(flow.id)}">'
            f"<b>{escape(flow.id)}</b> · {escape(flow.title)}</a>"
            f'<div class="desc">{escape(flow.description)}</div></li>')
    if not rows:
        unreadable = _("The content cannot be read yet.")
        rows.append(f"<li>{escape(unreadable)}</li>")
    heading = _("Flows")
    body = (_header(snapshot, directory) + f"<main><h1>{escape(heading)}</h1>"
            f'<ul class="flows">{"".join(rows)}</ul></main>')
    return _page(_("Teman Jiwa studio"), body)


def node_details(graph: FlowGraph, directory: str) -> dict[str, dict]:
    """What the side panel shows for each node (also the JSON API for later pages)."""
    details = {}
    for node in graph.nodes.values():
        file = short_path(node.file, directory)
        ways = [{"kind": e.kind, "target": e.target, "label": e.label, "line": e.line,
                 "exists": e.exists} for e in graph.edges_from(node.id)]
        details[node.id] = {
            "id": node.id, "file": file, "line": node.line, "where": f"{file}:{node.line}",
            "kind": node.kind, "say": list(node.say),
            "choices": [{"id": c, "label": label} for c, label in node.choices],
            "input": node.input, "start": node.start, "reachable": node.reachable,
            "dead_end": node.dead_end, "ways": ways,
        }
    return details


def flow_page(snapshot: Snapshot, directory: str, graph: FlowGraph,
              posters: tuple[str, ...]) -> str:
    data = json.dumps(node_details(graph, directory), ensure_ascii=False).replace("</", "<\\/")
    word = _("Poster")
    links = "".join(
        f'<a class="poster" href="/flows/{escape(graph.flow)}/poster.{kind}?channel={channel}">'
        f"{escape(word)} {escape(channel.capitalize())} ({kind.upper()})</a> "
        for channel in posters for kind in ("pdf", "png", "svg"))
    if not posters:
        links = escape(_("Posters: give the bot's Telegram username or WhatsApp number "
                         "(--telegram-username, --whatsapp-number or posters: in the config)."))
    marks = []
    if graph.unreachable:
        marks.append(_("{n} unreachable").format(n=len(graph.unreachable)))
    if graph.dead_ends:
        marks.append(_("{n} dead end(s)").format(n=len(graph.dead_ends)))
    summary = " · ".join([_("{n} nodes").format(n=len(graph.nodes)), *marks])
    hint = _("Click a node to see its text and where it is written.")
    body = (
        _header(snapshot, directory)
        + f'<main class="flow"><h1>{escape(graph.title)} <small>({escape(graph.flow)})</small>'
        f'</h1><p class="desc">{escape(graph.description)}</p>'
        f'<p class="summary">{escape(summary)} · '
        f"<code>{escape(short_path(graph.file, directory))}</code></p>"
        f'<p class="posters">{links}</p>'
        f'<div class="layout"><div class="map">{render_flow_map(graph)}</div>'
        f'<aside id="node-panel"><p class="hint">{escape(hint)}</p></aside></div></main>'
        f'<script type="application/json" id="nodes-data">{data}</script>'
        f'<script type="application/json" id="panel-words">{json.dumps(_panel_words())}'
        "</script>"
    )
    studio = _("Teman Jiwa studio")
    return _page(f"{graph.flow} · {studio}", body)


def _panel_words() -> dict[str, str]:
    return {"says": _("Says"), "choices": _("Choices"), "ways": _("Ways on"),
            "input": _("Waits for"), "dead_end": _("Dead end: the resident cannot go on "
                                                    "from here."),
            "unreachable": _("Unreachable: no way leads here."), "missing": _("missing")}


def message_page(title: str, message: str) -> str:
    back = _("Back to the flows")
    return _page(title, f"<main><h1>{escape(title)}</h1><p>{escape(message)}</p>"
                        f'<p><a href="/">{escape(back)}</a></p></main>')
