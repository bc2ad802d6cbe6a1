"""Turn the engine's `Reply` into Graph API message bodies, within WhatsApp's limits.

Choices become reply buttons (≤3, titles ≤20), else an interactive list (≤10 rows, titles
≤24, descriptions ≤72), else a numbered text menu; the engine accepts the typed number
or label, so the menu always works. Lengths are counted in UTF-16 code units, which is
never less than the character count, so an emoji cannot push a title over the limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flows.messages import Choice, Reply

from .address import Address
from .parse import ID_SEPARATOR

TEXT_MAX = 4096
INTERACTIVE_BODY_MAX = 1024
BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
LIST_ROWS_MAX = 10
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
ROW_ID_MAX = 200
LIST_BUTTON_MAX = 20

DEFAULT_LIST_BUTTON = "Pilih jawaban"
DEFAULT_MENU_HINT = "Ketik angkanya."
DEFAULT_PROMPT = "Pilih salah satu:"


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """Words the renderer adds itself; Indonesian defaults, overridable from content."""

    list_button: str = DEFAULT_LIST_BUTTON
    menu_hint: str = DEFAULT_MENU_HINT
    empty_prompt: str = DEFAULT_PROMPT


def wlen(text: str) -> int:
    """Length as WhatsApp is most likely to count it (UTF-16 code units), never less."""
    return len(text.encode("utf-16-le")) // 2


def render_reply(
    reply: Reply, to: Address, options: RenderOptions | None = None
) -> list[dict[str, Any]]:
    """All message bodies for one bubble, in sending order (the menu, if any, is last)."""
    opts = options or RenderOptions()
    if not reply.choices:
        return [text_body(to, part) for part in split_text(reply.text)]
    ids = _choice_ids(reply.node, reply.choices)
    if ids is not None and _fits_buttons(reply.choices):
        return _with_lead(reply.text, to, opts, lambda body: _buttons(to, body, reply.choices, ids))
    if ids is not None and _fits_list(reply.choices, opts):
        return _with_lead(
            reply.text, to, opts, lambda body: _list(to, body, reply.choices, ids, opts)
        )
    menu = numbered_menu(reply.choices, opts.menu_hint)
    text = f"{reply.text.rstrip()}\n\n{menu}" if reply.text.strip() else menu
    return [text_body(to, part) for part in split_text(text)]


def text_body(to: Address, text: str) -> dict[str, Any]:
    """A plain text message (caller keeps it ≤4096; see `split_text`)."""
    return {**to.envelope(), "type": "text", "text": {"body": text, "preview_url": False}}


def template_body(
    to: Address, name: str, language: str, parameters: Sequence[str] = ()
) -> dict[str, Any]:
    """An approved template message; `parameters` fill the body's {{1}}, {{2}}, ..."""
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if parameters:
        template["components"] = [
            {"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]}
        ]
    return {**to.envelope(), "type": "template", "template": template}


def numbered_menu(choices: Sequence[Choice], hint: str = DEFAULT_MENU_HINT) -> str:
    """ "1. label\\n2. label\\nKetik angkanya." — the fallback that always fits."""
    lines = [f"{n}. {c.label}" for n, c in enumerate(choices, start=1)]
    return "\n".join([*lines, hint])


def split_text(text: str, limit: int = TEXT_MAX) -> list[str]:
    """Split at paragraph, then line, then sentence, then word boundaries; hard cut last.

    Always returns at least one non-empty part, so an empty bubble never reaches the API.
    """
    text = text.strip()
    if not text:
        return ["…"]
    if wlen(text) <= limit:
        return [text]
    parts: list[str] = []
    for piece in _pieces(text, limit):
        if parts and wlen(parts[-1]) + wlen(piece) <= limit:
            parts[-1] += piece
        else:
            parts.append(piece)
    return [p.strip() for p in parts if p.strip()]


# Boundaries tried in order; each is a lookbehind, so "".join(chunks) == text.
_SEPARATORS = (r"(?<=\n\n)", r"(?<=\n)", r"(?<=[.!?…]\s)", r"(?<=\s)")


def _split_level(text: str, level: int) -> list[str]:
    return [c for c in re.split(_SEPARATORS[level], text) if c]


def _pieces(text: str, limit: int, level: int = 0) -> list[str]:
    """Pieces ≤ limit, each keeping its trailing separator so joining restores the text."""
    if wlen(text) <= limit:
        return [text]
    if level >= len(_SEPARATORS):
        return _hard_cut(text, limit)
    chunks = _split_level(text, level)
    if len(chunks) <= 1:
        return _pieces(text, limit, level + 1)
    out: list[str] = []
    for chunk in chunks:
        out.extend(_pieces(chunk, limit, level + 1))
    return out


def _hard_cut(text: str, limit: int) -> list[str]:
    out, current = [], ""
    for ch in text:
        if wlen(current) + wlen(ch) > limit:
            out.append(current)
            current = ""
        current += ch
    if current:
        out.append(current)
    return out


def _tail(text: str, limit: int, level: int = 0) -> tuple[str, str]:
    """Split into (lead, tail): the tail ≤ limit, cut at the coarsest boundary possible.

    Whole paragraphs are kept together in the tail before falling back to lines,
    sentences, words and finally characters.
    """
    if wlen(text) <= limit:
        return "", text
    if level >= len(_SEPARATORS):
        cut = _hard_cut(text, limit)
        return "".join(cut[:-1]), cut[-1]
    chunks = _split_level(text, level)
    body, i = "", len(chunks)
    while i > 0 and wlen(chunks[i - 1] + body) <= limit:
        body = chunks[i - 1] + body
        i -= 1
    if body.strip():
        return "".join(chunks[:i]), body
    lead, tail = _tail(chunks[-1], limit, level + 1)
    return "".join(chunks[:-1]) + lead, tail


def _choice_ids(node: str, choices: Sequence[Choice]) -> list[str] | None:
    """ "<node>|<choice id>" per choice; the bare id if that is too long; None if no id fits."""
    ids = []
    for c in choices:
        full = f"{node}{ID_SEPARATOR}{c.id}" if node else c.id
        if len(full) <= ROW_ID_MAX:
            ids.append(full)
        elif 0 < len(c.id) <= ROW_ID_MAX and ID_SEPARATOR not in c.id:
            ids.append(c.id)  # the engine still matches the choice, just not the old node
        else:
            return None
    return ids if len(set(ids)) == len(ids) and all(ids) else None


def _labels_ok(choices: Sequence[Choice], max_len: int) -> bool:
    labels = [c.label.strip() for c in choices]
    unique = len({label.casefold() for label in labels}) == len(labels)
    return unique and all(0 < wlen(label) <= max_len for label in labels)


def _fits_buttons(choices: Sequence[Choice]) -> bool:
    return len(choices) <= BUTTONS_MAX and _labels_ok(choices, BUTTON_TITLE_MAX)


def _fits_list(choices: Sequence[Choice], opts: RenderOptions) -> bool:
    return (
        len(choices) <= LIST_ROWS_MAX
        and _labels_ok(choices, ROW_TITLE_MAX)
        and all(wlen(c.description or "") <= ROW_DESCRIPTION_MAX for c in choices)
        and 0 < wlen(opts.list_button) <= LIST_BUTTON_MAX
    )


def _with_lead(
    text: str, to: Address, opts: RenderOptions, build: Callable[[str], dict[str, Any]]
) -> list[dict[str, Any]]:
    """Keep the end of the text (≤1024) with the buttons; anything before goes first as text.

    The question usually comes last, so it stays next to its answers.
    """
    text = text.strip()
    if not text:
        return [build(opts.empty_prompt)]
    lead, body = _tail(text, INTERACTIVE_BODY_MAX)
    bodies = [text_body(to, p) for p in split_text(lead)] if lead.strip() else []
    return [*bodies, build(body.strip() or opts.empty_prompt)]


def _buttons(to: Address, body: str, choices: Sequence[Choice], ids: list[str]) -> dict[str, Any]:
    buttons = [
        {"type": "reply", "reply": {"id": i, "title": c.label.strip()}}
        for c, i in zip(choices, ids, strict=True)
    ]
    return {
        **to.envelope(),
        "type": "interactive",
        "interactive": {"type": "button", "body": {"text": body}, "action": {"buttons": buttons}},
    }


def _list(
    to: Address, body: str, choices: Sequence[Choice], ids: list[str], opts: RenderOptions
) -> dict[str, Any]:
    rows = []
    for c, i in zip(choices, ids, strict=True):
        row = {"id": i, "title": c.label.strip()}
        if c.description:
            row["description"] = c.description
        rows.append(row)
    return {
        **to.envelope(),
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": body},
            "action": {"button": opts.list_button, "sections": [{"rows": rows}]},
        },
    }
