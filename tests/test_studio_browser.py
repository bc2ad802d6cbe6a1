"""The studio in a real headless Chromium: the flow map page, clicking nodes, the poster.

Screenshots are kept in tests/artifacts/ (gitignored) for people to look at.
"""

from __future__ import annotations

import shutil

import pytest
import zxingcpp
from PIL import Image

from bot.studio.app import StudioSettings, create_studio_app
from flows.linter import load_content
from tests.conftest import REAL_CONTENT
from tests.support.browser import chromium_page, save_screenshot, serve_app


@pytest.fixture
def folder(tmp_path):
    target = tmp_path / "content"
    shutil.copytree(REAL_CONTENT, target)
    return target


def test_click_a_node_to_see_its_text_and_file_line(folder, tmp_path):
    content = load_content(folder)
    q3 = content.flows["phq9"].nodes["q3"]
    app = create_studio_app(folder, StudioSettings(telegram_username="TemanJiwaBot"))
    with serve_app(app) as base, chromium_page(tmp_path) as page:
        page.goto(base + "/")
        page.click('a[data-flow="phq9"]')
        page.wait_for_selector("svg.flowmap")
        assert page.locator("svg.flowmap g.node").count() == len(content.flows["phq9"].nodes)
        page.click('svg.flowmap g.node[data-node="q3"]')
        panel = page.locator("#node-panel")
        assert panel.locator("h2").inner_text() == "q3"
        assert panel.locator(".where").inner_text().endswith(f"phq9.yaml:{q3.line}")
        bubble = panel.locator(".bubble").first.inner_text()
        assert "3 dari 9" in bubble and "2 minggu terakhir" in bubble
        assert "Tidak sama sekali (tidak_pernah)" in panel.locator("ul.choices").inner_text()
        assert page.locator('g.node[data-node="q3"]').get_attribute("class").endswith(
            "selected")
        save_screenshot(page, "studio-flow-map-phq9")
        # Another node replaces the panel; the keyboard works too.
        page.focus('svg.flowmap g.node[data-node="hitung"]')
        page.keyboard.press("Enter")
        assert panel.locator("h2").inner_text() == "hitung"
        assert "minimal (0–4)" in panel.locator("ul.ways").inner_text()


def test_marks_of_a_broken_flow_show_in_the_page(folder, tmp_path):
    path = folder / "flows" / "phq2.yaml"
    text = path.read_text(encoding="utf-8").rstrip("\n") + "\n"
    line = text.count("\n") + 1
    path.write_text(text + "  lupa:\n    say: Tidak ada yang ke sini.\n    end: true\n",
                    encoding="utf-8")
    app = create_studio_app(folder)
    with serve_app(app) as base, chromium_page(tmp_path) as page:
        page.goto(base + "/flows/phq2")
        problems = page.locator("#problems").inner_text()
        assert f"phq2.yaml:{line}" in problems and "'lupa' can never be reached" in problems
        lost = page.locator('g.node[data-node="lupa"]')
        assert "unreachable" in lost.get_attribute("class").split()
        save_screenshot(page, "studio-flow-map-unreachable")
        lost.click()
        assert page.locator("#node-panel .where").inner_text().endswith(f"phq2.yaml:{line}")
        assert "Unreachable" in page.locator("#node-panel .mark").inner_text()


def test_poster_opened_from_the_page_shows_a_qr_code_that_decodes(folder, tmp_path):
    app = create_studio_app(folder, StudioSettings(telegram_username="TemanJiwaBot"))
    with serve_app(app) as base, chromium_page(tmp_path, width=900, height=1300) as page:
        page.goto(base + "/flows/gad7")
        href = page.get_attribute('a.poster[href$="poster.svg?channel=telegram"]', "href")
        page.goto(base + href)  # the SVG as the browser draws it, not as we wrote it
        shot = save_screenshot(page, "studio-poster-gad7", full_page=False)
    found = [r.text for r in zxingcpp.read_barcodes(Image.open(shot))]
    assert found == ["https://t.me/TemanJiwaBot?start=gad7"]
