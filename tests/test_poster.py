"""Posters (bot/studio/poster.py): the QR code read back from the PNG is the link, and the
link really opens the flow; the SVG, PNG and PDF carry the same page."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest
import zxingcpp
from PIL import Image

from bot.config import ConfigError, parse_config
from bot.studio.poster import (
    MARGIN,
    PAGE_W,
    PosterError,
    Text,
    _width,
    build_poster,
    deep_link,
)
from flows.linter import load_content
from flows.messages import Inbound
from flows.runtime import Engine
from flows.session import Session
from tests.conftest import REAL_CONTENT

NS = {"svg": "http://www.w3.org/2000/svg"}
BOT = "TemanJiwaBot"
NUMBER = "6281234567890"


@pytest.fixture(scope="module")
def content():
    return load_content(REAL_CONTENT)


def decode(png: bytes) -> list[str]:
    image = Image.open(io.BytesIO(png))
    return [r.text for r in zxingcpp.read_barcodes(image)
            if r.format == zxingcpp.BarcodeFormat.QRCode]


def test_telegram_poster_qr_decodes_to_the_deep_link(content):
    poster = build_poster(content, "phq9", "telegram", telegram=BOT)
    assert poster.link == "https://t.me/TemanJiwaBot?start=phq9"
    png = poster.png()
    assert decode(png) == [poster.link]
    image = Image.open(io.BytesIO(png))
    assert image.size == (2480, 3508)  # A4 at 300 dpi
    assert round(image.info["dpi"][0]) == 300
    assert poster.lines("title") == ["Cek suasana hati (PHQ-9)"]
    assert poster.lines("description") and "Bukan diagnosis" in " ".join(
        poster.lines("description"))
    assert poster.lines("link") == [poster.link]


async def test_whatsapp_poster_prefills_a_text_the_engine_opens_the_flow_with(content):
    poster = build_poster(content, "gad7", "whatsapp", whatsapp="+62 812-3456-7890")
    (link,) = decode(poster.png(dpi=200))
    assert link == poster.link == f"https://wa.me/{NUMBER}?text=mulai%20gad7"
    (text,) = parse_qs(urlsplit(link).query)["text"]
    assert text == "mulai gad7"
    intro = " ".join(poster.lines("link_intro"))
    assert '"mulai gad7"' in intro and f"+{NUMBER}" in intro

    engine = Engine(content)
    agreed = Session(consent_at="2025-01-01T00:00:00+00:00", consent_version="1")
    turn = await engine.handle(agreed, Inbound(text=text))
    assert turn.replies[-1].node.startswith("gad7.intro")
    before_consent = await engine.handle(None, Inbound(text=text))
    assert before_consent.replies[-1].node.startswith("consent.")
    assert before_consent.session.pending_start == "gad7"


def test_svg_has_the_same_page_title_link_hotlines_and_qr(content):
    poster = build_poster(content, "srq20", "telegram", telegram=f"@{BOT}")
    root = ET.fromstring(poster.svg())
    assert root.get("width") == "210mm" and root.get("height") == "297mm"
    assert root.get("data-link") == poster.link == "https://t.me/TemanJiwaBot?start=srq20"
    texts = {t.get("class"): [] for t in root.iterfind("svg:text", NS)}
    for t in root.iterfind("svg:text", NS):
        texts[t.get("class")].append(t.text)
    assert texts["title"] == ["Cek umum (SRQ-20)"]
    assert texts["link"] == [poster.link]
    hotlines = " ".join(texts["hotline"])
    for number in ("119, lalu tekan 8", "112", "129"):
        assert number in hotlines
    assert not re.search(r"[\U0001F300-\U0001FAFF]", hotlines), "emoji are not printed"
    assert "bukan diagnosis" in " ".join(texts["footer"])
    (qr,) = [p for p in root.iterfind("svg:path", NS) if p.get("class") == "qr"]
    assert qr.get("d").count("z") > 100
    # Every line fits between the margins, measured with the font the PNG is drawn with.
    lines = [i for i in poster.items if isinstance(i, Text)]
    assert len(lines) > 15
    for line in lines:
        width = _width(line.text, line.size, line.bold)
        left = line.x - (width / 2 if line.anchor == "middle" else 0)
        assert left >= MARGIN - 0.01 and left + width <= PAGE_W - MARGIN + 0.01, line


def test_pdf_is_one_a4_page(content):
    pdf = build_poster(content, "phq9", "telegram", telegram=BOT).pdf(dpi=150)
    assert pdf.startswith(b"%PDF-")
    (box,) = re.findall(rb"/MediaBox \[ ?0 0 ([\d.]+) ([\d.]+) ?\]", pdf)
    assert (round(float(box[0])), round(float(box[1]))) == (595, 842)  # A4 in points
    assert re.findall(rb"/Count \d+", pdf) == [b"/Count 1"]


def test_a_deployment_hotline_text_is_printed(content):
    poster = build_poster(content, "phq9", "telegram", telegram=BOT,
                          hotline_texts={"sejiwa": "SEJIWA Kabupaten Contoh: 0800-000"})
    assert any("SEJIWA Kabupaten Contoh: 0800-000" in line for line in poster.lines("hotline"))


@pytest.mark.parametrize(("flow", "kwargs", "words"), [
    ("tidak_ada", {"telegram": BOT}, "There is no flow 'tidak_ada'"),
    ("crisis", {"telegram": BOT}, "needs params"),
    ("phq9", {}, "Telegram username is not known"),
    ("phq9", {"telegram": "@x"}, "is not a Telegram username"),
])
def test_telegram_poster_mistakes_are_explained(content, flow, kwargs, words):
    with pytest.raises(PosterError, match=words):
        build_poster(content, flow, "telegram", **kwargs)


@pytest.mark.parametrize(("number", "words"), [
    (None, "WhatsApp number is not known"),
    ("081234567890", "country code instead of the 0"),
    ("62-abc", "is not a phone number"),
])
def test_whatsapp_poster_mistakes_are_explained(content, number, words):
    with pytest.raises(PosterError, match=words):
        deep_link(content, "phq9", "whatsapp", whatsapp=number)


def test_content_without_open_words_or_poster_texts_is_explained(fixture_content):
    with pytest.raises(PosterError, match="no 'open' words"):
        deep_link(fixture_content, "quiz", "whatsapp", whatsapp=NUMBER)
    with pytest.raises(PosterError, match="no text 'poster_heading'"):
        build_poster(fixture_content, "quiz", "telegram", telegram=BOT)


def test_config_posters_section_is_validated():
    config = parse_config({"posters": {"telegram_username": "@TemanJiwaBot",
                                       "whatsapp_number": "+62 812 3456 7890"}})
    assert (config.posters.telegram_username, config.posters.whatsapp_number) == (
        "TemanJiwaBot", NUMBER)
    assert parse_config({}).posters.telegram_username is None
    with pytest.raises(ConfigError, match=r"posters\.whatsapp_number"):
        parse_config({"posters": {"whatsapp_number": "0812345678"}})
    with pytest.raises(ConfigError, match=r"posters\.nomor"):
        parse_config({"posters": {"nomor": "62812345678"}})
