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
from flows.problems import Problem


def short_path(file: str, directory: str) -> str:
    """A content file as the editor knows it, relative to the folder (flows/phq9.yaml)."""
    try:
        return str(Path(file).resolve().relative_to(Path(directory).resolve()))
    except ValueError:
        return file


def _json_script(element_id: str, data: object) -> str:
    text = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def _page(title: str, body: str, scripts: tuple[str, ...] = ()) -> str:
    tags = "".join(f'<script src="/static/{name}" defer></script>'
                   for name in ("studio.js", *scripts))
    return (
        "<!doctype html>\n"
        '<html lang="id"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        '<link rel="icon" href="data:,">'
        f'<link rel="stylesheet" href="/static/studio.css">{tags}'
        f"</head><body>{body}{_json_script('problem-words', _problem_words())}</body></html>"
    )


def _header(snapshot: Snapshot, directory: str, here: str = "") -> str:
    home = escape(_("Teman Jiwa studio"))
    links = "".join(
        f'<a class="nav{" here" if path == here else ""}" href="{path}">{escape(label)}</a>'
        for path, label in (("/", _("Flows")), ("/simulator", _("Simulator")),
                            ("/tests", _("Conversation tests"))))
    return (f'<header><a class="home" href="/">{home}</a> <nav>{links}</nav> '
            f'<span class="dir">{escape(directory)}</span></header>'
            + _problems(snapshot, directory))


def problem_json(problem: Problem, directory: str) -> dict[str, object]:
    """One problem as the page shows it: where (file:line in the folder), message, hint."""
    file = short_path(problem.file, directory)
    return {"file": file, "line": problem.line,
            "where": f"{file}:{problem.line}" if problem.line else file,
            "message": problem.message, "hint": problem.hint, "severity": problem.severity}


def _problem_words() -> dict[str, str]:
    return {"ok": _("No problems."),
            "kept": _("The bot keeps the last good content until these errors are fixed.")}


def _problems(snapshot: Snapshot, directory: str) -> str:
    """The problems bar; studio.js redraws it the same way when /api/problems changes."""
    version = f'data-version="{snapshot.version}"'
    if not snapshot.problems:
        ok = _("No problems.")
        return f'<section id="problems" class="ok" {version}>{escape(ok)}</section>'
    items = []
    for problem in snapshot.problems:
        shown = problem_json(problem, directory)
        hint = f'<div class="hint">{escape(problem.hint)}</div>' if problem.hint else ""
        items.append(f'<li class="{problem.severity}"><code>{escape(str(shown["where"]))}'
                     f"</code> {escape(problem.message)}{hint}</li>")
    note = ""
    if snapshot.errors:
        kept = _("The bot keeps the last good content until these errors are fixed.")
        note = f'<p class="note">{escape(kept)}</p>'
    return f'<section id="problems" {version}><ul>{"".join(items)}</ul>{note}</section>'


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
    body = (_header(snapshot, directory, "/") + f"<main><h1>{escape(heading)}</h1>"
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
    try_it = _("Try it in the simulator")
    body = (
        _header(snapshot, directory)
        + f'<main class="flow"><h1>{escape(graph.title)} <small>({escape(graph.flow)})</small>'
        f'</h1><p class="desc">{escape(graph.description)}</p>'
        f'<p class="summary">{escape(summary)} · '
        f"<code>{escape(short_path(graph.file, directory))}</code> · "
        f'<a class="try" href="/simulator?flow={escape(graph.flow)}">{escape(try_it)}</a></p>'
        f'<p class="posters">{links}</p>'
        f'<div class="layout"><div class="map">{render_flow_map(graph)}</div>'
        f'<aside id="node-panel"><p class="hint">{escape(hint)}</p></aside></div></main>'
        + _json_script("nodes-data", node_details(graph, directory))
        + _json_script("panel-words", _panel_words())
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


def simulator_page(snapshot: Snapshot, directory: str) -> str:
    """The phone on the left (simulator.js draws the chat), what happened on the right."""
    words = {
        "send": _("Send"), "placeholder": _("Write as the resident…"),
        "restart": _("Start again"), "home": _("(the usual start)"),
        "node": _("Where the resident is"), "none": _("(not waiting anywhere)"),
        "events": _("Events"), "no_events": _("No events yet."),
        "cards": _("Card for the cadres"),
        "no_cards": _("No card: nothing was escalated to a cadre."),
        "notes": _("Messages for other people"), "turn": _("turn"),
        "resident": _("Resident"),
        "buttons": _("WhatsApp: reply buttons (at most 3, titles up to 20 characters)"),
        "list": _("WhatsApp: a list (at most 10 rows, titles up to 24 characters)"),
        "menu": _("WhatsApp: a numbered menu (the choices do not fit buttons or a list); "
                  "the resident types the number"),
        "detector_off": _("Crisis detection is off: the folder has no crisis/lexicon.yaml."),
        "busy": _("The bot is answering…"),
    }
    title = _("Simulator")
    lead = _("The real bot on this folder: engine, crisis detection and escalation, on a "
             "temporary database that is deleted when the studio stops.")
    body = (
        _header(snapshot, directory, "/simulator")
        + f'<main class="sim"><section class="phone" id="phone" data-view="telegram">'
        '<div class="phone-bar"><span class="bot-name">Teman Jiwa</span>'
        '<span class="views" role="group">'
        '<button type="button" data-view="telegram" class="on">Telegram</button>'
        '<button type="button" data-view="whatsapp">WhatsApp</button></span></div>'
        '<div class="chat" id="chat" aria-live="polite"></div>'
        '<form id="send" autocomplete="off">'
        f'<textarea id="text" rows="1" placeholder="{escape(words["placeholder"])}"></textarea>'
        f'<button type="submit">{escape(words["send"])}</button></form></section>'
        f'<aside class="sim-side"><h1>{escape(title)}</h1><p class="desc">{escape(lead)}</p>'
        '<div id="sim-content" class="content-status"></div>'
        '<div class="restart"><select id="start-flow"></select>'
        f'<button type="button" id="restart">{escape(words["restart"])}</button>'
        '<span id="resident"></span></div>'
        f'<h2>{escape(words["node"])}</h2><code id="node"></code>'
        f'<h2>{escape(words["events"])}</h2><ol id="events" reversed></ol>'
        f'<h2>{escape(words["cards"])}</h2><div id="cards"></div>'
        f'<div id="notes-box" hidden><h2>{escape(words["notes"])}</h2><ul id="notes"></ul>'
        "</div></aside></main>"
        + _json_script("sim-words", words)
    )
    studio = _("Teman Jiwa studio")
    return _page(f"{title} · {studio}", body, ("simulator.js",))


def tests_page(snapshot: Snapshot, directory: str) -> str:
    """A button that runs DIR/tests/*.yaml (convtests.js shows the result)."""
    title = _("Conversation tests")
    words = {"run": _("Run the tests"), "running": _("Running…"),
             "passed": _("passed"), "failed": _("failed"), "step": _("step")}
    lead = _("The scripts in tests/ of this folder, as 'temanjiwa test' runs them. A "
             "failing test shows its first step that did not go as written.")
    body = (
        _header(snapshot, directory, "/tests")
        + f'<main class="tests"><h1>{escape(title)}</h1><p class="desc">{escape(lead)}</p>'
        f'<p><button type="button" id="run-tests">{escape(words["run"])}</button> '
        '<span id="test-summary"></span></p>'
        '<ul id="test-problems"></ul><ul id="test-results"></ul></main>'
        + _json_script("test-words", words)
    )
    studio = _("Teman Jiwa studio")
    return _page(f"{title} · {studio}", body, ("convtests.js",))
