"""The studio's simulator, live problems and conversation tests in a real headless Chromium,
used as an editor would: by clicking and typing. Screenshots are kept in tests/artifacts/.
"""

from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import Page, expect

from bot.studio.app import create_studio_app
from tests.conftest import REAL_CONTENT
from tests.support.browser import chromium_page, save_screenshot, serve_app

SOON = 5_000  # ms: live problems should show within about a second


@pytest.fixture
def folder(tmp_path):
    target = tmp_path / "content"
    shutil.copytree(REAL_CONTENT, target)
    return target


def press(page: Page, label: str, then_node: str) -> None:
    """Press the Telegram button with this label under the newest message, and wait until
    the resident has moved on."""
    page.locator(".keyboard .tg-button").filter(has_text=re.compile(f"^{label}$")).last.click()
    expect(page.locator("#node")).to_have_text(then_node)


def test_phq9_by_clicking_a_crisis_message_and_the_whatsapp_view(folder, tmp_path):
    with serve_app(create_studio_app(folder)) as base, chromium_page(tmp_path) as page:
        page.goto(base + "/flows/phq9")
        page.click("a.try")  # "Coba di simulator": a resident who opened the PHQ-9 link
        expect(page.locator("#chat .msg.out").first).to_have_text("/start phq9")
        expect(page.locator("#node")).to_have_text("consent.intro")
        press(page, "Setuju", "onboarding.usia")
        press(page, "18–59 tahun", "onboarding.daerah")
        press(page, "Lewati", "phq9.intro")
        press(page, "Mulai", "phq9.q1")
        for n in range(2, 10):
            press(page, "Tidak sama sekali", f"phq9.q{n}")
        press(page, "Tidak sama sekali", "phq9.lanjut_minimal")
        chat = page.locator("#chat")
        expect(chat).to_contain_text("0 dari 27")
        expect(chat).to_contain_text("bukan diagnosis")
        event = page.locator('#events li[data-name="screening_completed"]')
        expect(event).to_contain_text('instrument="phq9"')
        expect(event).to_contain_text("score=0")
        expect(event).to_contain_text('band="minimal"')
        # Each answered question shows its answer, as Telegram's edited message does.
        expect(chat.locator(".msg.in", has_text="9 dari 9")).to_contain_text(
            "➤ Tidak sama sekali")
        save_screenshot(page, "studio-simulator-phq9", full_page=False)

        page.fill("#text", "aku mau bunuh diri malam ini")
        page.keyboard.press("Enter")
        card = page.locator("#cards pre.card")
        expect(card).to_contain_text("DARURAT")
        expect(card).to_contain_text("pikiran bunuh diri")
        last = chat.locator(".msg.in").last
        expect(chat.locator(".msg.out").last).to_have_text("aku mau bunuh diri malam ini")
        newest = page.locator("#chat .msg.in[data-turn]").last.get_attribute("data-turn")
        reply = " ".join(chat.locator(f'.msg.in[data-turn="{newest}"]').all_inner_texts())
        assert "112" in reply and "119" in reply
        assert last.is_visible()
        for name in ("crisis_detected", "escalation_created"):
            expect(page.locator(f'#events li[data-name="{name}"]')).to_have_count(1)
        save_screenshot(page, "studio-simulator-crisis", full_page=False)

        # The same chat as WhatsApp would show it: four answers become a list, two buttons.
        page.click('.views button[data-view="whatsapp"]')
        expect(page.locator("#phone")).to_have_attribute("data-view", "whatsapp")
        expect(chat.locator(".tg-button")).to_have_count(0)
        assert chat.locator(".msg.in", has_text="1 dari 9").locator(".wa-list-open").count() == 1
        expect(chat.locator(".render-note.list").first).to_be_visible()
        # A new resident on WhatsApp, by tapping.
        page.click("#restart")
        expect(chat.locator(".msg.out").first).to_have_text("Halo")
        chat.locator(".wa-button", has_text=re.compile("^Setuju$")).click()
        expect(page.locator("#node")).to_have_text("onboarding.usia")
        expect(chat.locator(".msg.out").last).to_have_text("Setuju")  # a tap shows as a reply
        chat.locator(".wa-list-open").last.click()
        chat.locator(".wa-row", has_text="18–59 tahun").last.click()
        expect(page.locator("#node")).to_have_text("onboarding.daerah")
        expect(page.locator("#cards pre.card")).to_have_count(0)
        save_screenshot(page, "studio-simulator-whatsapp", full_page=False)


def test_a_broken_file_shows_its_problem_and_the_simulator_keeps_the_last_good(
        folder, tmp_path):
    consent = folder / "flows" / "consent.yaml"
    good = consent.read_text(encoding="utf-8")
    broken = good.replace("next: tolak,", "next: tolak_hilang,", 1)
    line = next(i for i, text in enumerate(broken.splitlines(), 1) if "tolak_hilang" in text)
    with serve_app(create_studio_app(folder)) as base, chromium_page(tmp_path) as page:
        page.goto(base + "/simulator")
        expect(page.locator("#node")).to_have_text("consent.intro")
        # The shipped content has message-budget warnings (temanjiwa lint), never an error.
        expect(page.locator("#problems li.error")).to_have_count(0)
        consent.write_text(broken, encoding="utf-8")
        problem = page.locator("#problems li", has_text="tolak_hilang")
        expect(problem).to_contain_text(f"flows/consent.yaml:{line}", timeout=SOON)
        expect(page.locator("#sim-content")).to_have_attribute("data-status", "stale")
        expect(page.locator("#sim-content")).to_contain_text("last good version")
        save_screenshot(page, "studio-simulator-broken-file", full_page=False)
        press(page, "Setuju", "onboarding.usia")  # the last good version still runs
        consent.write_text(good, encoding="utf-8")
        expect(page.locator("#problems li", has_text="tolak_hilang")).to_have_count(
            0, timeout=SOON)
        expect(page.locator("#problems li.error")).to_have_count(0)
        expect(page.locator("#sim-content")).to_have_attribute("data-status", "ok")
        # The flow map follows a saved text too, with the selected node's panel.
        page.goto(base + "/flows/consent")
        page.click('svg.flowmap g.node[data-node="setuju"]')
        bubble = page.locator("#node-panel .bubble")
        expect(bubble).to_have_text("Terima kasih atas kepercayaan Anda 🙏")
        consent.write_text(good.replace("Terima kasih atas", "Makasih atas"), encoding="utf-8")
        expect(bubble).to_have_text("Makasih atas kepercayaan Anda 🙏", timeout=SOON)
        expect(page.locator('g.node[data-node="setuju"] text.say')).to_contain_text("Makasih")


def test_conversation_tests_from_the_page_show_a_failure_with_its_difference(
        folder, tmp_path):
    (folder / "tests" / "zz_salah.yaml").write_text(
        "tests:\n"
        "  - name: Sapaan yang salah\n"
        "    steps:\n"
        "      - send: halo\n"
        "        expect: {says: Selamat pagi}\n", encoding="utf-8")
    with serve_app(create_studio_app(folder)) as base, chromium_page(tmp_path) as page:
        page.goto(base + "/")
        page.click('header a.nav[href="/tests"]')
        page.click("#run-tests")
        failed = page.locator("#test-results li.fail")
        expect(failed).to_have_count(1, timeout=30_000)
        expect(failed.locator(".name")).to_have_text("Sapaan yang salah")
        expect(failed.locator(".where")).to_contain_text("tests/zz_salah.yaml:4 (step 1)")
        expect(failed.locator("pre.difference")).to_contain_text("Selamat pagi")
        assert page.locator("#test-results li.pass").count() > 50
        expect(page.locator("#test-summary")).to_contain_text("1 failed")
        save_screenshot(page, "studio-conversation-tests")
