"""Printable A4 posters for one flow: title, one line about it, a QR code, the link, hotlines.

The QR code is made by segno (a well-kept, dependency-free encoder). The page is laid out
once, in millimetres, as a list of boxes, texts and the QR matrix; the SVG and the PNG are
two renderings of that same list, so they say the same thing in the same places. The PNG
is drawn with Pillow (no browser, no system library); the PDF is that PNG at 300 dpi in a
one-page PDF written by Pillow too. Text is wrapped with Pillow's font metrics: DejaVu Sans
where the system has it (Debian: fonts-dejavu-core), else Pillow's own built-in font.
Every word a resident reads comes from the content folder (system.yaml `poster_*` texts,
the flow's title and description, hotlines.yaml's `poster` or `crisis` group).
"""

from __future__ import annotations

import io
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import cache
from typing import Literal
from urllib.parse import quote

import segno
from PIL import Image, ImageDraw, ImageFont

from bot.config import ConfigError, telegram_username, whatsapp_number
from flows.i18n import _
from flows.model import Content
from flows.runtime import openable_flows

Channel = Literal["telegram", "whatsapp"]
CHANNELS: tuple[Channel, ...] = ("telegram", "whatsapp")

PAGE_W, PAGE_H = 210.0, 297.0  # A4, mm
MARGIN = 16.0
DPI = 300
TEAL, DARK, GREY, PALE, RED_PALE, RED = (
    "#1d6f65", "#1f2d33", "#56656b", "#eef7f5", "#fdecea", "#a12b1f")
FONT_SANS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
FONT_FAMILY = "'DejaVu Sans', 'Noto Sans', Arial, sans-serif"
TEXT_KEYS = ("poster_heading", "poster_tagline", "poster_scan_{channel}",
             "poster_link_{channel}", "poster_hotlines", "poster_footer")


class PosterError(ValueError):
    """A poster cannot be made; the message says what to add or correct."""


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    fill: str
    radius: float = 0.0


@dataclass(frozen=True)
class Text:
    """One line of text; `y` is its baseline, `anchor` is "start" or "middle"."""

    x: float
    y: float
    text: str
    size: float  # mm, the font's em size
    bold: bool = False
    colour: str = DARK
    anchor: Literal["start", "middle"] = "start"
    role: str = ""  # what the line is (title, link, hotline, …), for tests and styling


@dataclass(frozen=True)
class QRBlock:
    x: float
    y: float
    size: float  # mm, the whole symbol including its quiet zone
    matrix: tuple[tuple[bool, ...], ...]  # dark modules, quiet zone included


@dataclass
class Poster:
    """One laid-out page; `svg()`, `png()` and `pdf()` render it."""

    flow: str
    channel: Channel
    link: str
    items: list[Box | Text | QRBlock] = field(default_factory=list)

    def svg(self) -> str:
        return _render_svg(self)

    def png(self, dpi: int = DPI) -> bytes:
        out = io.BytesIO()
        _render_image(self, dpi).save(out, "PNG", dpi=(dpi, dpi), optimize=True)
        return out.getvalue()

    def pdf(self, dpi: int = DPI) -> bytes:
        out = io.BytesIO()
        _render_image(self, dpi).save(out, "PDF", resolution=dpi, quality=92)
        return out.getvalue()

    def lines(self, role: str) -> list[str]:
        return [i.text for i in self.items if isinstance(i, Text) and i.role == role]


# -- links -------------------------------------------------------------------------------

def start_text(content: Content, flow_id: str) -> str:
    """What a resident sends on WhatsApp to open the flow, e.g. "mulai phq9"."""
    words = content.system.commands.get("open") or ()
    if not words:
        raise PosterError(_("system.yaml has no 'open' words (commands: open: [mulai]), so "
                            "WhatsApp cannot open a flow by a message."))
    return f"{words[0]} {flow_id}"


def deep_link(content: Content, flow_id: str, channel: Channel, *,
              telegram: str | None = None, whatsapp: str | None = None) -> str:
    """`https://t.me/<bot>?start=<flow>` or `https://wa.me/<number>?text=mulai%20<flow>`."""
    _check_flow(content, flow_id)
    try:
        if channel == "telegram":
            if not telegram:
                raise PosterError(_("The bot's Telegram username is not known: give "
                                    "--telegram-username or posters.telegram_username in the "
                                    "config."))
            return f"https://t.me/{telegram_username(telegram)}?start={flow_id}"
        if not whatsapp:
            raise PosterError(_("The bot's WhatsApp number is not known: give "
                                "--whatsapp-number or posters.whatsapp_number in the config."))
        number = whatsapp_number(whatsapp)
        return f"https://wa.me/{number}?text={quote(start_text(content, flow_id))}"
    except ConfigError as exc:
        raise PosterError(str(exc)) from None


def _check_flow(content: Content, flow_id: str) -> None:
    if flow_id not in content.flows:
        raise PosterError(_("There is no flow '{flow}'. Flows: {flows}.").format(
            flow=flow_id, flows=", ".join(sorted(content.flows))))
    if flow_id not in openable_flows(content).values():
        raise PosterError(_("The flow '{flow}' needs params, so a link cannot open it.").format(
            flow=flow_id))


# -- layout ------------------------------------------------------------------------------

def build_poster(content: Content, flow_id: str, channel: Channel = "telegram", *,
                 telegram: str | None = None, whatsapp: str | None = None,
                 hotline_texts: dict[str, str] | None = None) -> Poster:
    """Lay out the poster of `flow_id` for `channel`. `hotline_texts` are the deployment's
    overrides by hotline id (config `hotlines:`), as the bot itself uses them."""
    if channel not in CHANNELS:
        raise PosterError(_("The channel must be telegram or whatsapp."))
    link = deep_link(content, flow_id, channel, telegram=telegram, whatsapp=whatsapp)
    texts = _texts(content, channel)
    flow = content.flows[flow_id]
    values = {"link": link}
    if channel == "whatsapp":
        values |= {"text": start_text(content, flow_id),
                   "number": "+" + whatsapp_number(whatsapp)}
    poster = Poster(flow_id, channel, link)
    add = poster.items.append
    inner = PAGE_W - 2 * MARGIN

    add(Box(0, 0, PAGE_W, 34, TEAL))
    add(Text(MARGIN, 17, texts["poster_heading"].render(lambda p: ""), 10, True, "#ffffff",
             role="heading"))
    for i, line in enumerate(_wrap(_plain(texts["poster_tagline"].source), 4.6, inner)):
        add(Text(MARGIN, 25 + i * 5.6, line, 4.6, colour="#ffffff", role="tagline"))

    y = 50.0
    for line in _wrap(_plain(flow.title), 10, inner, bold=True):
        add(Text(MARGIN, y, line, 10, True, TEAL, role="title"))
        y += 12
    for line in _wrap(_plain(flow.description), 5.4, inner):
        add(Text(MARGIN, y, line, 5.4, role="description"))
        y += 7
    y += 2

    bottom = _bottom_blocks(content, texts, values, link, inner, hotline_texts or {})
    space = PAGE_H - MARGIN - bottom.height - y - 4
    qr = segno.make(link, error="m", micro=False)
    matrix = tuple(tuple(bool(v) for v in row) for row in qr.matrix_iter(scale=1, border=4))
    size = max(60.0, min(100.0, space))
    y += max(0.0, (space - size) / 2)  # the QR code in the middle of the room it has
    add(QRBlock((PAGE_W - size) / 2, y, size, matrix))
    y += size + 2
    for item in bottom.place(y):
        add(item)
    return poster


@dataclass
class _Bottom:
    """The blocks under the QR code, measured before the QR code gets the space left."""

    parts: list[tuple[float, Box | Text]]  # (offset from the block's top, item)
    height: float

    def place(self, top: float) -> list[Box | Text]:
        placed: list[Box | Text] = []
        for offset, item in self.parts:
            if isinstance(item, Box):
                placed.append(Box(item.x, top + offset, item.w, item.h, item.fill, item.radius))
            else:
                placed.append(Text(item.x, top + offset, item.text, item.size, item.bold,
                                   item.colour, item.anchor, item.role))
        return placed


def _bottom_blocks(content: Content, texts: dict, values: dict[str, str], link: str,
                   inner: float, overrides: dict[str, str]) -> _Bottom:
    parts: list[tuple[float, Box | Text]] = []
    y = 0.0
    centre = PAGE_W / 2

    def lines(text: str, size: float, role: str, *, bold: bool = False, colour: str = DARK,
              anchor: Literal["start", "middle"] = "middle", x: float = centre,
              width: float = inner, step: float = 1.3) -> None:
        nonlocal y
        for line in _wrap(text, size, width, bold=bold):
            y += size * step
            parts.append((y, Text(x, y, line, size, bold, colour, anchor, role)))

    channel_key = "whatsapp" if "number" in values else "telegram"
    lines(_plain(_fill(texts[f"poster_scan_{channel_key}"], values)), 4.6, "scan", bold=True)
    y += 2
    lines(_plain(_fill(texts[f"poster_link_{channel_key}"], values)), 4.2, "link_intro",
          colour=GREY)
    lines(link, 4.6, "link", bold=True, colour=TEAL, step=1.35)
    y += 5

    hotlines = _hotlines(content, overrides)
    box_top = y
    y += 2
    lines(_plain(texts["poster_hotlines"].source), 4.8, "hotlines_intro", bold=True,
          colour=RED, anchor="start", x=MARGIN + 5, width=inner - 10)
    for text in hotlines:
        lines(f"• {text}", 4.3, "hotline", anchor="start", x=MARGIN + 5, width=inner - 10,
              step=1.4)
    y += 4
    parts.insert(0, (box_top, Box(MARGIN, 0, inner, y - box_top, RED_PALE, 3)))
    y += 3
    lines(_plain(texts["poster_footer"].source), 3.5, "footer", colour=GREY)
    return _Bottom(parts, y + 1)


def _texts(content: Content, channel: Channel) -> dict:
    found = {}
    for key in (k.format(channel=channel) for k in TEXT_KEYS):
        template = content.system.texts.get(key)
        if template is None:
            raise PosterError(_("system.yaml has no text '{key}' (texts: {key}: …), which "
                                "the poster needs.").format(key=key))
        found[key] = template
    return found


def _fill(template, values: dict[str, str]) -> str:
    return template.render(lambda p: values.get(p.name, ""))


def _hotlines(content: Content, overrides: dict[str, str]) -> list[str]:
    group = content.hotline_groups.get("poster") or content.hotline_groups.get("crisis") or ()
    if not group:
        raise PosterError(_("hotlines.yaml has no 'poster' or 'crisis' group to print."))
    return [_plain(overrides.get(h) or content.hotlines[h].text) for h in group]


def _plain(text: str) -> str:
    """For print: no chat formatting (*bold*) and no emoji, which fonts may not have."""
    kept = [ch for ch in text.replace("*", "")
            if unicodedata.category(ch) not in ("So", "Cs", "Co")
            and ch not in "\ufe0f\u200d\u20e3"]
    return " ".join("".join(kept).split())


# -- fonts and wrapping ------------------------------------------------------------------

@cache
def _font(bold: bool, px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(FONT_SANS[1 if bold else 0], px)
    except OSError:
        return ImageFont.load_default(size=px)


def _width(text: str, size: float, bold: bool) -> float:
    """Width in mm of `text` at em size `size` mm (measured at 100 px per mm)."""
    return _font(bold, int(size * 100)).getlength(text) / 100


def _wrap(text: str, size: float, width: float, *, bold: bool = False) -> list[str]:
    """Lines that fit `width` mm; a word longer than a line (a link) is cut anywhere."""
    limit = width * 0.95  # browsers' fonts differ a little from Pillow's
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if _width(candidate, size, bold) <= limit:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        while _width(word, size, bold) > limit:
            cut = len(word)
            while cut > 1 and _width(word[:cut], size, bold) > limit:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    if current:
        lines.append(current)
    return lines


# -- rendering ---------------------------------------------------------------------------

def _render_svg(poster: Poster) -> str:
    ns = "http://www.w3.org/2000/svg"
    ET.register_namespace("", ns)
    svg = ET.Element("svg", {"xmlns": ns, "width": f"{PAGE_W:g}mm", "height": f"{PAGE_H:g}mm",
                             "viewBox": f"0 0 {PAGE_W:g} {PAGE_H:g}", "class": "poster",
                             "data-flow": poster.flow, "data-link": poster.link})
    ET.SubElement(svg, "rect", {"width": f"{PAGE_W:g}", "height": f"{PAGE_H:g}",
                                "fill": "#ffffff"})
    for item in poster.items:
        if isinstance(item, Box):
            ET.SubElement(svg, "rect", {"x": f"{item.x:g}", "y": f"{item.y:.2f}",
                                        "width": f"{item.w:g}", "height": f"{item.h:.2f}",
                                        "rx": f"{item.radius:g}", "fill": item.fill})
        elif isinstance(item, Text):
            attrs = {"x": f"{item.x:.2f}", "y": f"{item.y:.2f}", "font-size": f"{item.size:g}",
                     "font-family": FONT_FAMILY, "fill": item.colour, "class": item.role}
            if item.bold:
                attrs["font-weight"] = "bold"
            if item.anchor == "middle":
                attrs["text-anchor"] = "middle"
            ET.SubElement(svg, "text", attrs).text = item.text
        else:
            module = item.size / len(item.matrix)
            d = []
            for r, row in enumerate(item.matrix):
                c = 0
                while c < len(row):
                    if row[c]:
                        start = c
                        while c < len(row) and row[c]:
                            c += 1
                        d.append(f"M{item.x + start * module:.3f} {item.y + r * module:.3f}"
                                 f"h{(c - start) * module:.3f}v{module:.3f}"
                                 f"h{-(c - start) * module:.3f}z")
                    else:
                        c += 1
            ET.SubElement(svg, "rect", {"x": f"{item.x:.2f}", "y": f"{item.y:.2f}",
                                        "width": f"{item.size:.2f}", "height": f"{item.size:.2f}",
                                        "fill": "#ffffff"})
            ET.SubElement(svg, "path", {"d": "".join(d), "fill": "#000000", "class": "qr",
                                        "shape-rendering": "crispEdges"})
    return ET.tostring(svg, encoding="unicode")


def _render_image(poster: Poster, dpi: int) -> Image.Image:
    scale = dpi / 25.4  # px per mm
    image = Image.new("RGB", (round(PAGE_W * scale), round(PAGE_H * scale)), "#ffffff")
    draw = ImageDraw.Draw(image)
    for item in poster.items:
        if isinstance(item, Box):
            box = [item.x * scale, item.y * scale, (item.x + item.w) * scale,
                   (item.y + item.h) * scale]
            draw.rounded_rectangle(box, radius=item.radius * scale, fill=item.fill)
        elif isinstance(item, Text):
            anchor = "ms" if item.anchor == "middle" else "ls"  # baseline, like SVG
            draw.text((item.x * scale, item.y * scale), item.text, fill=item.colour,
                      font=_font(item.bold, max(1, round(item.size * scale))), anchor=anchor)
        else:
            n = len(item.matrix)
            module = max(1, int(item.size * scale / n))  # whole pixels: crisp modules
            left = round(item.x * scale + (item.size * scale - module * n) / 2)
            top = round(item.y * scale + (item.size * scale - module * n) / 2)
            for r, row in enumerate(item.matrix):
                for c, dark in enumerate(row):
                    if dark:
                        draw.rectangle([left + c * module, top + r * module,
                                        left + (c + 1) * module - 1,
                                        top + (r + 1) * module - 1], fill="#000000")
    return image
