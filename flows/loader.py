"""Reads `content/id/` into a `Content` model, collecting every problem on the way.

Structure is checked here (required keys, types, unknown keys); cross-references
and the shape of the whole graph are checked in `flows.linter`.
"""

from __future__ import annotations

import difflib
import re
from datetime import time
from pathlib import Path
from typing import Any

from flows.expressions import ExpressionError, compile_expression
from flows.followups import KINDS, MAX_DAY, FollowupSettings, SeriesPlan
from flows.i18n import _
from flows.model import (
    BandRange,
    Bands,
    Branch,
    ChoiceSpec,
    Content,
    Flow,
    Hotline,
    Node,
    Route,
    SystemTexts,
)
from flows.problems import Problem
from flows.templates import parse_template
from flows.yamlload import MAX_FILE_BYTES, LineDict, LineList, load_yaml

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
NODE_KEYS = {
    "say", "set", "flags", "emit", "consent", "choices", "scale", "choices_from", "input",
    "min", "max", "score", "save", "reask", "other", "next", "goto", "call", "with", "end",
    "branch", "bands", "note",
}
CHOICE_KEYS = {
    "id", "label", "value", "description", "synonyms", "accepts", "next", "goto", "call",
    "with", "end",
}
FLOW_KEYS = {"flow", "title", "consent", "start", "params", "nodes", "note", "description"}
ROLES = ("consent", "menu", "help", "stop", "delete", "crisis")
COMMANDS = ("menu", "help", "stop", "delete", "start")
MAX_FLOW_FILES = 500  # the shipped content has 33 flows
# All flow files together; the shipped ones are ~110 kB. Bounds a reload: 2 MB of flows
# take a few seconds to read and check (bench/lint_limits.py).
MAX_FLOWS_BYTES = 2 * 1024 * 1024
DESCRIPTION_LIMIT = 140  # characters of a flow's description (one line on a poster)
REQUIRED_TEXTS = (
    "reprompt", "unsupported_media", "stale_button", "too_long", "unknown_flow",
    # said by the bot outside any flow (bot/cases/desk.py, bot/telegram/channel.py)
    "relay_ask", "relay_accept_button", "relay_decline_button", "relay_accepted",
    "relay_declined", "relay_ended_by_resident", "relay_ended_by_cadre", "relay_from_cadre",
    "relay_stale", "relay_already_connected", "slow_down", "edited_not_reread",
    "stale_button_toast",
)


class _Reader:
    """Collects problems for one file while its parts are converted."""

    def __init__(self, file: str, problems: list[Problem]):
        self.file = file
        self.problems = problems

    def problem(self, line: int | None, message: str, hint: str = "") -> None:
        self.problems.append(Problem(self.file, line, message, hint))

    def unknown_keys(self, data: LineDict, allowed: set[str], where: str) -> None:
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                hint = (
                    _("Did you mean '{close}'?").format(close=close[0])
                    if close
                    else _("Allowed here: {keys}.").format(keys=", ".join(sorted(allowed)))
                )
                self.problem(
                    data.line_of(key),
                    _("Unknown key '{key}' in {where}.").format(key=key, where=where),
                    hint,
                )

    def values(self, data: dict, where: str, line: int | None = None,
               skip: str | None = None) -> dict[str, Any]:
        """`name: value` pairs for set/with/emit: texts become templates; numbers, true/false,
        null and lists of those stay as they are. Anything else (a block, a date) cannot be
        kept in a resident's session or sent with an event, so it is a problem."""
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key == skip:
                continue
            at = data.line_of(key) if isinstance(data, LineDict) else line
            if isinstance(value, str):
                out[str(key)] = parse_template(value)
            elif _is_plain(value) or (isinstance(value, list) and all(map(_is_plain, value))):
                out[str(key)] = value
            else:
                self.problem(at,
                             _("The value of '{key}' in '{where}' must be a text, a number, true "
                               "or false.").format(key=key, where=where),
                             _("Put it in quotes if it is a text, e.g. {key}: \"2024-01-31\"")
                             .format(key=key))
        return out

    def text(self, value: Any, line: int, what: str):
        if isinstance(value, bool) or value is None or isinstance(value, dict | list):
            self.problem(
                line,
                _("{what} must be a text.").format(what=what),
                _("Write the text after the colon, in quotes if it contains ':' or '#'."),
            )
            return None
        source = str(value)
        if not source.strip():
            self.problem(line, _("{what} is empty.").format(what=what), _("Write the text."))
            return None
        return parse_template(source)


def _is_plain(value: Any) -> bool:
    """A value a session or an event can hold as JSON: text, number, true/false or null."""
    return value is None or isinstance(value, str | int | float | bool)


def _as_number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    return None


def read_route(reader: _Reader, data: LineDict, where: str) -> Route | None:
    """The one route in `data` (next/goto/call/end), or None if it has none."""
    present = [k for k in ("goto", "call", "end") if k in data]
    if "next" in data and "call" not in data:
        present.insert(0, "next")
    if len(present) > 1:
        reader.problem(
            data.line_of(present[1]),
            _("{where} has more than one way to continue ({keys}).").format(
                where=where, keys=", ".join(present)),
            _("Keep only one of next / goto / call / end (call may be followed by next)."),
        )
    if not present:
        return None
    kind = present[0]
    line = data.line_of(kind)
    target = data.get(kind)
    if kind == "end":
        if target is not True:
            reader.problem(line, _("'end' must be: end: true"), _("Write end: true"))
        return Route("end", line=line)
    if not isinstance(target, str) or not target.strip():
        reader.problem(
            line,
            _("'{kind}' must name a node or flow.").format(kind=kind),
            _("Write for example: {kind}: menu").format(kind=kind),
        )
        return None
    with_values: dict[str, Any] = {}
    if "with" in data:
        if kind not in ("call", "goto"):
            reader.problem(data.line_of("with"),
                           _("'with' only works together with 'call' or 'goto'."))
        elif not isinstance(data["with"], dict):
            reader.problem(data.line_of("with"), _("'with' must be a list of name: value."))
        else:
            with_values = reader.values(data["with"], "with")
    returns_to = data.get("next") if kind == "call" else None
    if kind == "call" and returns_to is not None and not isinstance(returns_to, str):
        reader.problem(data.line_of("next"), _("'next' must name a node."))
        returns_to = None
    return Route(kind, target.strip(), returns_to, with_values, line)


def _read_choice(reader: _Reader, raw: Any, line: int, where: str) -> ChoiceSpec | None:
    if not isinstance(raw, LineDict):
        reader.problem(
            line,
            _("Each choice in {where} must have at least an id and a label.").format(where=where),
            _("Write for example: - {id: ya, label: Ya}"),
        )
        return None
    reader.unknown_keys(raw, CHOICE_KEYS, _("a choice"))
    choice_id = raw.get("id")
    if choice_id is None or not ID_RE.match(str(choice_id)):
        reader.problem(
            raw.line,
            _("A choice in {where} has a missing or invalid id '{id}'.").format(
                where=where, id=choice_id),
            _("Use lowercase letters, digits and _ only, e.g. id: sering"),
        )
        return None
    label = reader.text(raw.get("label"), raw.line_of("label"), _("The label of choice '{id}'")
                        .format(id=choice_id))
    if label is None:
        return None
    value = raw.get("value")
    if value is not None and _as_number(value) is None:
        reader.problem(
            raw.line_of("value"),
            _("The value of choice '{id}' is '{value}', which is not a number.").format(
                id=choice_id, value=value),
            _("Write a number such as 0, 1, 2 or 3 (without quotes)."),
        )
        value = None
    synonyms = raw.get("synonyms") or []
    if not isinstance(synonyms, list):
        reader.problem(raw.line_of("synonyms"), _("'synonyms' must be a list of words."))
        synonyms = []
    accepts = raw.get("accepts")
    if accepts is True:  # YAML 1.1 reads a bare yes as true
        accepts = "yes"
    elif accepts is False:
        accepts = "no"
    if accepts not in (None, "yes", "no"):
        reader.problem(raw.line_of("accepts"), _("'accepts' must be yes or no."))
        accepts = None
    return ChoiceSpec(
        id=str(choice_id),
        label=label,
        value=_as_number(value),
        description=str(raw["description"]) if raw.get("description") else None,
        synonyms=tuple(str(s) for s in synonyms),
        accepts=accepts,
        route=read_route(reader, raw, _("choice '{id}'").format(id=choice_id)),
        line=raw.line,
    )


def read_choices(reader: _Reader, raw: Any, line: int, where: str) -> tuple[ChoiceSpec, ...]:
    if not isinstance(raw, LineList) or not raw:
        reader.problem(line, _("'choices' in {where} must be a list.").format(where=where),
                       _("Start each choice on its own line with '- '."))
        return ()
    choices = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw):
        choice = _read_choice(reader, item, raw.line_of(i), where)
        if choice is None:
            continue
        if choice.id in seen:
            reader.problem(
                choice.line,
                _("Two choices in {where} have the id '{id}' (also on line {first}).").format(
                    where=where, id=choice.id, first=seen[choice.id]),
                _("Give every choice of a question its own id."),
            )
        seen[choice.id] = choice.line
        choices.append(choice)
    return tuple(choices)


def _read_emit(reader: _Reader, raw: Any, line: int) -> list[dict[str, Any]]:
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("event"), str):
            reader.problem(line, _("'emit' needs an event name."),
                           _("Write for example: emit: {event: screening_completed}"))
            continue
        out.append({"event": item["event"], **reader.values(item, "emit", line, skip="event")})
    return out


def _read_bands(reader: _Reader, raw: Any, line: int, where: str) -> Bands | None:
    if not isinstance(raw, LineDict):
        reader.problem(line, _("'bands' in {where} must have score, save and ranges.").format(
            where=where))
        return None
    reader.unknown_keys(raw, {"score", "save", "ranges"}, "bands")
    score = raw.get("score")
    ranges_raw = raw.get("ranges")
    if not isinstance(score, str):
        reader.problem(raw.line, _("'bands' needs 'score:' naming the score to read."))
        return None
    if not isinstance(ranges_raw, LineList) or not ranges_raw:
        reader.problem(raw.line, _("'bands' needs a list of 'ranges'."))
        return None
    ranges = []
    for i, item in enumerate(ranges_raw):
        if not isinstance(item, LineDict):
            reader.problem(ranges_raw.line_of(i), _("Each range needs key, min and max."))
            continue
        reader.unknown_keys(item, {"key", "min", "max", "label", "next", "goto", "call", "with",
                                   "end"}, _("a band range"))
        lo, hi = _as_number(item.get("min")), _as_number(item.get("max"))
        key = item.get("key")
        if not isinstance(key, str) or lo is None or hi is None:
            reader.problem(
                item.line,
                _("A band range needs a key and numeric min and max."),
                _("Write for example: - {key: mild, min: 5, max: 9, next: hasil_ringan}"),
            )
            continue
        if lo > hi:
            reader.problem(item.line, _("The range '{key}' has min {lo} above max {hi}.").format(
                key=key, lo=lo, hi=hi), _("Swap min and max."))
        ranges.append(BandRange(key, lo, hi, str(item.get("label") or key),
                                read_route(reader, item, _("range '{key}'").format(key=key)),
                                item.line))
    return Bands(score, str(raw.get("save") or "band"), tuple(ranges), raw.line)


def _read_node(reader: _Reader, flow_id: str, node_id: str, raw: Any, line: int,
               scales: dict[str, tuple[ChoiceSpec, ...]]) -> Node | None:
    where = _("node '{node}'").format(node=node_id)
    if not ID_RE.match(str(node_id)):
        reader.problem(line, _("The node name '{node}' is not valid.").format(node=node_id),
                       _("Use lowercase letters, digits and _ only."))
    if not isinstance(raw, LineDict):
        reader.problem(line, _("The {where} is empty or not a block of keys.").format(where=where),
                       _("Indent the node's keys (say:, next:, …) under its name."))
        return None
    reader.unknown_keys(raw, NODE_KEYS, where)
    node = Node(id=str(node_id), flow=flow_id, line=line)

    if "say" in raw:
        bubbles = raw["say"] if isinstance(raw["say"], list) else [raw["say"]]
        says = []
        for i, bubble in enumerate(bubbles):
            at = raw["say"].line_of(i) if isinstance(raw["say"], LineList) else raw.line_of("say")
            template = reader.text(bubble, at, _("A bubble of {where}").format(where=where))
            if template is not None:
                says.append(template)
        node.say = tuple(says)
    if "set" in raw:
        if isinstance(raw["set"], dict):
            node.sets = reader.values(raw["set"], "set")
        else:
            reader.problem(raw.line_of("set"), _("'set' must be a list of name: value."))
    if "flags" in raw:
        if isinstance(raw["flags"], dict):
            for name, cond in raw["flags"].items():
                try:
                    node.flags[str(name)] = compile_expression(cond)
                except ExpressionError as exc:
                    reader.problem(raw["flags"].line_of(name),
                                   _("The condition of flag '{flag}' is not valid: {err}.").format(
                                       flag=name, err=exc),
                                   _("Write for example: item9 > 0"))
        else:
            reader.problem(raw.line_of("flags"), _("'flags' must be a list of flag: condition."))
    if "emit" in raw:
        node.emits = _read_emit(reader, raw["emit"], raw.line_of("emit"))
    if "consent" in raw:
        if raw["consent"] in ("given", "withdrawn"):
            node.consent = raw["consent"]
        else:
            reader.problem(raw.line_of("consent"), _("'consent' must be given or withdrawn."))

    if "choices" in raw:
        node.choices = read_choices(reader, raw["choices"], raw.line_of("choices"), where)
    if "scale" in raw:
        if isinstance(raw["scale"], str) and raw["scale"] in scales:
            node.choices = node.choices + scales[raw["scale"]]
        else:
            reader.problem(
                raw.line_of("scale"),
                _("The scale '{scale}' does not exist.").format(scale=raw["scale"]),
                _("Known scales (scales.yaml): {names}.").format(names=", ".join(sorted(scales))),
            )
    if "choices_from" in raw:
        if raw["choices_from"] == "areas":
            node.choices_from = "areas"
        else:
            reader.problem(raw.line_of("choices_from"), _("'choices_from' can only be: areas."))
    if "input" in raw:
        if raw["input"] in ("number", "yesno"):
            node.input = raw["input"]
        else:
            reader.problem(raw.line_of("input"), _("'input' must be number or yesno."))
        for bound in ("min", "max"):
            if bound in raw:
                if _as_number(raw[bound]) is None:
                    reader.problem(raw.line_of(bound), _("'{bound}' must be a number.").format(
                        bound=bound))
                else:
                    setattr(node, bound, _as_number(raw[bound]))
    for key in ("score", "save"):
        if key in raw:
            if isinstance(raw[key], str) and raw[key].strip():
                setattr(node, key, raw[key].strip())
            else:
                reader.problem(raw.line_of(key), _("'{key}' must name a variable.").format(key=key))
    if "reask" in raw:
        node.reask = reader.text(raw["reask"], raw.line_of("reask"), "'reask'")
    if "other" in raw:
        other = raw["other"]
        node.other = Route("next", str(other), line=raw.line_of("other")) if isinstance(
            other, str) else None

    if "branch" in raw:
        node.branch = _read_branch(reader, raw["branch"], raw.line_of("branch"), where)
    if "bands" in raw:
        node.bands = _read_bands(reader, raw["bands"], raw.line_of("bands"), where)
    node.route = read_route(reader, raw, where)
    return node


def _read_branch(reader: _Reader, raw: Any, line: int, where: str) -> tuple[Branch, ...]:
    if not isinstance(raw, LineList) or not raw:
        reader.problem(line, _("'branch' in {where} must be a list of if/else.").format(
            where=where))
        return ()
    out = []
    for i, item in enumerate(raw):
        at = raw.line_of(i)
        if not isinstance(item, LineDict) or ("if" not in item and "else" not in item):
            reader.problem(at, _("Each branch needs 'if:' (or 'else:' for the last one)."))
            continue
        if "else" in item:
            target = item["else"]
            if isinstance(target, str):
                route = Route("next", target, line=at)
            elif isinstance(target, LineDict):
                route = read_route(reader, target, "else")
            else:
                route = None
            if route is None:
                reader.problem(at, _("'else' must say where to go, e.g. else: hasil"))
                continue
            out.append(Branch(None, route, at))
            continue
        try:
            condition = compile_expression(item["if"])
        except ExpressionError as exc:
            reader.problem(at, _("The condition '{cond}' is not valid: {err}.").format(
                cond=item["if"], err=exc), _("Write for example: total >= 10"))
            continue
        route = read_route(reader, item, "branch")
        if route is None:
            reader.problem(at, _("This branch does not say where to go."),
                           _("Add next:, goto:, call: or end: true."))
            continue
        out.append(Branch(condition, route, at))
    return tuple(out)


def _read_flow(reader: _Reader, data: Any, scales) -> Flow | None:
    if not isinstance(data, LineDict):
        reader.problem(1, _("A flow file must start with 'flow:' and have 'nodes:'."))
        return None
    reader.unknown_keys(data, FLOW_KEYS, _("the flow"))
    flow_id = data.get("flow")
    if not isinstance(flow_id, str) or not ID_RE.match(flow_id):
        reader.problem(data.line_of("flow"),
                       _("The flow id '{id}' is missing or not valid.").format(id=flow_id),
                       _("Write flow: <name> with lowercase letters, digits and _ only."))
        return None
    nodes_raw = data.get("nodes")
    if not isinstance(nodes_raw, LineDict) or not nodes_raw:
        reader.problem(data.line_of("nodes"), _("The flow '{id}' has no nodes.").format(
            id=flow_id), _("Add 'nodes:' with at least one node."))
        return None
    nodes: dict[str, Node] = {}
    for node_id, raw in nodes_raw.items():
        node = _read_node(reader, flow_id, str(node_id), raw, nodes_raw.line_of(node_id), scales)
        if node is not None:
            nodes[node.id] = node
    start = data.get("start") or next(iter(nodes_raw))
    params = data.get("params") or []
    consent = data.get("consent", "required")
    if consent not in ("required", "not_required"):
        reader.problem(data.line_of("consent"), _("'consent' must be required or not_required."))
    description = ""
    if "description" in data:
        at = data.line_of("description")
        template = reader.text(data["description"], at, _("The flow's description"))
        description = " ".join(template.source.split()) if template else ""
        if len(description) > DESCRIPTION_LIMIT:
            reader.problems.append(Problem(
                reader.file, at,
                _("The description has {n} characters; a poster shows at most {limit}.").format(
                    n=len(description), limit=DESCRIPTION_LIMIT),
                _("Say in one short sentence what the resident gets here."), "warning"))
    return Flow(
        id=flow_id,
        title=str(data.get("title") or flow_id),
        file=reader.file,
        line=data.line,
        start=str(start),
        nodes=nodes,
        consent_required=consent != "not_required",
        params=tuple(str(p) for p in params) if isinstance(params, list) else (),
        description=description,
    )


def _read_scales(reader: _Reader, data: Any) -> dict[str, tuple[ChoiceSpec, ...]]:
    if data is None:
        return {}
    if not isinstance(data, LineDict) or not isinstance(data.get("scales"), LineDict):
        reader.problem(1, _("scales.yaml must start with 'scales:'."))
        return {}
    scales_raw = data["scales"]
    return {
        str(name): read_choices(reader, raw, scales_raw.line_of(name),
                                _("scale '{name}'").format(name=name))
        for name, raw in scales_raw.items()
    }


def _read_hotlines(reader: _Reader, data: Any):
    hotlines: dict[str, Hotline] = {}
    groups: dict[str, tuple[str, ...]] = {}
    if not isinstance(data, LineDict) or not isinstance(data.get("hotlines"), LineDict):
        reader.problem(1, _("hotlines.yaml must have 'hotlines:'."))
        return hotlines, groups
    for hid, raw in data["hotlines"].items():
        at = data["hotlines"].line_of(hid)
        text = raw.get("text") if isinstance(raw, dict) else None
        if not _is_scalar(text) or not str(text).strip():
            reader.problem(at, _("The hotline '{id}' needs a text.").format(id=hid),
                           _("Write for example: text: \"📞 SEJIWA: telepon 119, lalu tekan 8\""))
            continue
        name = raw.get("name")
        hotlines[str(hid)] = Hotline(str(hid), str(name) if _is_scalar(name) and name else str(hid),
                                     str(text))
    raw_groups = _block(reader, data, "groups")
    for gid, members in raw_groups.items():
        at = raw_groups.line_of(gid)
        if not isinstance(members, list) or not all(_is_scalar(m) for m in members):
            reader.problem(at, _("The hotline group '{id}' must be a list.").format(id=gid))
            continue
        for m in members:
            if str(m) not in hotlines:
                reader.problem(at, _("The hotline group '{g}' names '{m}', which is not a hotline.")
                               .format(g=gid, m=m), _("Add it under hotlines: or fix the name."))
        groups[str(gid)] = tuple(str(m) for m in members if str(m) in hotlines)
        if not groups[str(gid)]:
            reader.problem(at, _("The hotline group '{id}' has no hotline in it.").format(id=gid),
                           _("List at least one hotline, e.g. {id}: [sejiwa, darurat]").format(
                               id=gid))
    if "crisis" not in groups and "crisis" not in raw_groups:
        reader.problem(raw_groups.line, _("hotlines.yaml has no 'crisis' group."),
                       _("The bot shows this group whenever crisis signs are found and when "
                         "something fails; write for example: crisis: [sejiwa, darurat]"))
    return hotlines, groups


def _block(reader: _Reader, data: LineDict, key: str) -> LineDict:
    """`data[key]` when it is a block of `name: value` lines; otherwise an empty block
    (and a problem, unless the key is simply missing: the caller reports what it needs)."""
    value = data.get(key)
    if isinstance(value, LineDict):
        return value
    if value is not None:
        reader.problem(data.line_of(key),
                       _("'{key}' must be a block of 'name: value' lines.").format(key=key),
                       _("Write each entry on its own line under '{key}:', indented by two "
                         "spaces.").format(key=key))
    empty = LineDict()
    empty.line, empty.key_lines = data.line_of(key), {}
    return empty


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _read_words(reader: _Reader, commands: LineDict, command: Any) -> tuple[str, ...] | None:
    """The words of one command (None, already reported, when they are not words)."""
    raw = commands[command]
    words = [] if raw is None else [raw] if isinstance(raw, str) else raw
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        reader.problem(commands.line_of(command),
                       _("system.yaml: the words for '{cmd}' must be a list of words.").format(
                           cmd=command),
                       _("Write for example: {cmd}: [{cmd}, /{cmd}]").format(cmd=command))
        return None
    words = [w.strip().lower() for w in words if w.strip()]
    for word in words:
        if word.isdigit():
            reader.problem(commands.line_of(command),
                           _("system.yaml: '{word}' cannot be a word for '{cmd}': residents type "
                             "numbers to pick a choice.").format(word=word, cmd=command),
                           _("Use a word, e.g. {cmd}").format(cmd=command))
    return tuple(words)


def _read_system(reader: _Reader, data: Any) -> SystemTexts | None:
    if not isinstance(data, LineDict):
        reader.problem(1, _("system.yaml is missing or empty."))
        return None
    flows_raw = _block(reader, data, "flows")
    commands_raw = _block(reader, data, "commands")
    texts_raw = _block(reader, data, "texts")
    roles: dict[str, str] = {}
    for role, flow_id in flows_raw.items():
        if isinstance(flow_id, str) and ID_RE.match(flow_id):
            roles[str(role)] = flow_id
        else:
            reader.problem(flows_raw.line_of(role),
                           _("system.yaml: the '{role}' flow must be a flow id, not '{value}'.")
                           .format(role=role, value=flow_id),
                           _("Write the id from the 'flow:' line of that flow, e.g. {role}: "
                             "{role}").format(role=role))
    for role in ROLES:
        if role not in flows_raw:
            reader.problem(flows_raw.line, _("system.yaml: flows has no '{role}'.").format(
                role=role), _("Name the flow that plays this part, e.g. {role}: {role}").format(
                role=role))
    commands: dict[str, tuple[str, ...]] = {}
    for key in commands_raw:
        words = _read_words(reader, commands_raw, key)
        if words is not None:
            commands[str(key)] = words
    for command in COMMANDS:
        if not commands.get(command) and (command in commands or command not in commands_raw):
            reader.problem(commands_raw.line,
                           _("system.yaml: commands has no words for '{cmd}'.").format(cmd=command))
    for word in commands_raw.get("open") or ():
        if len(str(word).split()) != 1:
            reader.problem(data.line_of("commands"),
                           _("system.yaml: the open word '{word}' must be one word.").format(
                               word=word),
                           _("Residents type it before a flow's name, e.g. mulai phq9."))
    texts = {}
    for key in REQUIRED_TEXTS:
        if key not in texts_raw:
            reader.problem(texts_raw.line, _("system.yaml: texts has no '{key}'.").format(
                key=key), _("Add the text the bot says in that case."))
    for key, value in texts_raw.items():
        template = reader.text(value, texts_raw.line_of(key), f"texts.{key}")
        if template is not None:
            texts[str(key)] = template
    minors = data.get("minor_age_groups") or []
    if not isinstance(minors, list) or not all(_is_scalar(a) for a in minors):
        reader.problem(data.line_of("minor_age_groups"),
                       _("'minor_age_groups' must be a list of age group ids."),
                       _("Write for example: minor_age_groups: [remaja]"))
        minors = []
    version = data.get("consent_version") or "1"
    if not _is_scalar(version):
        reader.problem(data.line_of("consent_version"),
                       _("'consent_version' must be a short text, e.g. \"2\"."))
        version = "1"
    return SystemTexts(
        consent_version=str(version),
        minor_age_groups=tuple(str(a) for a in minors),
        flows=roles,
        commands=commands,
        texts=texts,
        file=reader.file,
    )


FOLLOWUP_KEYS = {"checkin_flow", "offer_flow", "hours", "answer_days", "ask_again_days",
                 "series", "note"}
SERIES_KEYS = {"days", "flag_unanswered", "note"}
TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _whole(reader: _Reader, data: LineDict, key: str, default: int, low: int, high: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        reader.problem(data.line_of(key), _("{key} must be a whole number from {low} to {high}.")
                       .format(key=key, low=low, high=high))
        return default
    return value


def _clock(reader: _Reader, value: Any, line: int, what: str) -> time | None:
    match = TIME_RE.match(str(value or "").strip())
    if not match:
        reader.problem(line, _("{what} must be a time such as 09:00.").format(what=what))
        return None
    return time(int(match.group(1)), int(match.group(2)))


def _read_followups(reader: _Reader, data: Any) -> FollowupSettings | None:
    """followups.yaml (optional): without it the bot offers no follow-ups."""
    if not isinstance(data, LineDict):
        reader.problem(1, _("followups.yaml must be a mapping with checkin_flow, offer_flow and "
                            "series."))
        return None
    reader.unknown_keys(data, FOLLOWUP_KEYS, "followups.yaml")
    names = {}
    for key in ("checkin_flow", "offer_flow"):
        value = data.get(key)
        if not isinstance(value, str) or not ID_RE.match(value):
            reader.problem(data.line_of(key), _("followups.yaml needs {key}: the id of a flow.")
                           .format(key=key))
            return None
        names[key] = value
    hours = data.get("hours") or LineDict()
    start = end = None
    if isinstance(hours, LineDict):
        reader.unknown_keys(hours, {"from", "until"}, "hours")
        start = _clock(reader, hours.get("from", "09:00"), hours.line_of("from"), "hours.from")
        end = _clock(reader, hours.get("until", "19:00"), hours.line_of("until"), "hours.until")
        if start and end and start >= end:
            reader.problem(data.line_of("hours"), _("hours.from must be before hours.until."),
                           _("Messages go only between the two times of one day."))
    else:
        reader.problem(data.line_of("hours"), _("hours must have from and until."),
                       _("For example: hours: {{from: \"09:00\", until: \"19:00\"}}").format())
    series_raw = data.get("series")
    series: dict[str, SeriesPlan] = {}
    if not isinstance(series_raw, LineDict):
        reader.problem(data.line_of("series"), _("followups.yaml needs series: with {kinds}.")
                       .format(kinds=", ".join(KINDS)))
        return None
    reader.unknown_keys(series_raw, set(KINDS), "series")
    for kind in KINDS:
        raw = series_raw.get(kind)
        at = series_raw.line_of(kind) if kind in series_raw else series_raw.line
        if not isinstance(raw, LineDict):
            reader.problem(at, _("series needs '{kind}' with its days.").format(kind=kind))
            continue
        reader.unknown_keys(raw, SERIES_KEYS, f"series.{kind}")
        days = raw.get("days")
        good = (isinstance(days, list) and days
                and all(isinstance(d, int) and not isinstance(d, bool) for d in days))
        if not good or any(not 1 <= d <= MAX_DAY for d in days) or days != sorted(set(days)):
            reader.problem(raw.line_of("days") or at,
                           _("series.{kind}.days must be whole days from 1 to {max}, each later "
                             "than the one before, e.g. [1, 7, 30].").format(kind=kind,
                                                                               max=MAX_DAY))
            continue
        flag = raw.get("flag_unanswered", False)
        if not isinstance(flag, bool):
            reader.problem(raw.line_of("flag_unanswered"),
                           _("series.{kind}.flag_unanswered must be true or false.").format(
                               kind=kind))
            flag = False
        series[kind] = SeriesPlan(kind, tuple(days), flag, at)
    if set(series) != set(KINDS) or start is None or end is None:
        return None
    return FollowupSettings(
        names["checkin_flow"], names["offer_flow"], series, start, end,
        _whole(reader, data, "answer_days", 3, 1, 14),
        _whole(reader, data, "ask_again_days", 14, 1, 90),
        reader.file,
        {str(k): data.line_of(k) for k in data},
    )


def _display(path: Path) -> str:
    """The path as the editor typed it: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _too_much(root: Path, paths: list[Path], problems: list[Problem]) -> bool:
    """Refuse a flows folder too big to be content (each file is also capped on its own)."""
    try:
        sizes = [p.stat().st_size for p in paths if p.is_file()]
    except OSError:
        return False  # load_yaml reports the unreadable file
    total = sum(size for size in sizes if size <= MAX_FILE_BYTES)  # bigger ones: refused alone
    if len(paths) <= MAX_FLOW_FILES and total <= MAX_FLOWS_BYTES:
        return False
    problems.append(Problem(
        _display(root / "flows"), None,
        _("The flows folder has {n} files and {kb} kB; at most {max_n} files and {max_kb} kB "
          "are read.").format(n=len(paths), kb=total // 1024, max_n=MAX_FLOW_FILES,
                              max_kb=MAX_FLOWS_BYTES // 1024),
        _("Remove files that are not flows of this content set."),
    ))
    return True


def read_content(directory: Path) -> tuple[Content | None, list[Problem]]:
    """Read every file; returns the model (None if unusable) and all structural problems."""
    problems: list[Problem] = []
    root = Path(directory)

    def load(path: Path):
        display = _display(path)
        data, found = load_yaml(path, display)
        problems.extend(found)
        return data, _Reader(display, problems)

    if not root.is_dir():
        return None, [Problem(str(root), None, _("The content folder does not exist."))]
    for name in ("system.yaml", "hotlines.yaml", "scales.yaml"):
        if not (root / name).is_file():
            problems.append(Problem(_display(root / name), None, _("This file is missing."),
                                    _("Every content folder needs {name}.").format(name=name)))
    scales: dict[str, tuple[ChoiceSpec, ...]] = {}
    if (root / "scales.yaml").is_file():
        data, reader = load(root / "scales.yaml")
        scales = _read_scales(reader, data)
    hotlines, groups = {}, {}
    if (root / "hotlines.yaml").is_file():
        data, reader = load(root / "hotlines.yaml")
        hotlines, groups = _read_hotlines(reader, data)
    system = None
    if (root / "system.yaml").is_file():
        data, reader = load(root / "system.yaml")
        system = _read_system(reader, data)

    flows: dict[str, Flow] = {}
    unreadable: set[str] = set()
    paths = sorted((root / "flows").glob("*.yaml"))
    if _too_much(root, paths, problems):
        unreadable.update(p.stem for p in paths)  # no follow-up errors about missing flows
        paths = []
    for path in paths:
        found = len(problems)
        data, reader = load(path)
        if data is None and len(problems) == found:
            reader.problem(1, _("This flow file is empty: it has no flow, only blank lines, "
                                "comments or 'null'."),
                           _("Write the flow (flow:, nodes:) back, or delete the file if the "
                             "flow is no longer used."))
        flow = _read_flow(reader, data, scales) if data is not None else None
        if flow is None:
            unreadable.add(path.stem)  # its own problem is reported; no follow-up errors
            continue
        if flow.id in flows:
            problems.append(Problem(
                reader.file, flow.line,
                _("The flow id '{id}' is already used in {other}.").format(
                    id=flow.id, other=flows[flow.id].file),
                _("Every flow needs its own id; rename one of them."),
            ))
            continue
        flows[flow.id] = flow
    followups = None
    if (root / "followups.yaml").is_file():
        data, reader = load(root / "followups.yaml")
        followups = _read_followups(reader, data)
    if system is None:
        return None, problems
    content = Content(str(root), flows, scales, hotlines, groups, system, frozenset(unreadable),
                      followups)
    return content, problems
