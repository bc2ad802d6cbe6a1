"""The studio's simulator, live problems and conversation-test runner over real HTTP
(uvicorn on 127.0.0.1): the real engine, crisis detector and escalation on a copy of the
content, a throwaway database, and the security rules of a local page."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from bot.config import Config
from bot.studio.app import create_studio_app
from bot.telegram.render import CallbackCodec, render_turn
from bot.whatsapp.address import Address
from bot.whatsapp.render import render_reply
from flows.convtest import EngineDriver
from flows.crisis import load_detector
from flows.linter import load_content
from flows.messages import Inbound
from tests.conftest import REAL_CONTENT
from tests.support.browser import serve_app

CRISIS = "aku mau bunuh diri malam ini"


@pytest.fixture
def folder(tmp_path):
    target = tmp_path / "content"
    shutil.copytree(REAL_CONTENT, target)
    return target


@pytest.fixture
def temp_root(tmp_path, monkeypatch):
    """Where the studio's temporary database goes (tempfile's own directory)."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@pytest.fixture
def studio(folder, temp_root):
    with serve_app(create_studio_app(folder)) as base:
        yield Studio(base)


@pytest.fixture(scope="module")
def shared_studio(tmp_path_factory):
    """One studio for the tests that only knock on its doors (it reads the folder once)."""
    target = tmp_path_factory.mktemp("shared") / "content"
    shutil.copytree(REAL_CONTENT, target)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "tempdir", str(target.parent))
        with serve_app(create_studio_app(target)) as base:
            yield Studio(base)


class Studio:
    """The page's own requests: JSON POSTs with this page's Origin."""

    def __init__(self, base: str):
        self.base = base
        self.http = httpx.Client(base_url=base, headers={"Origin": base}, timeout=30)

    def post(self, action: str, **body) -> dict:
        response = self.http.post(f"/api/simulator/{action}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def press(self, state: dict, label: str, view: str = "telegram") -> dict:
        """Press the button (or WhatsApp button / list row) with this label in the last
        bot message that offers it."""
        for item in reversed(state["chat"]):
            if item["from"] != "bot":
                continue
            if view == "telegram":
                for message in item["telegram"]:
                    for row in (message["reply_markup"] or {}).get("inline_keyboard", []):
                        for button in row:
                            if button["text"] == label:
                                return self.post("press", view=view,
                                                 data=button["callback_data"])
            else:
                for body in item["whatsapp"]:
                    action = body.get("interactive", {}).get("action", {})
                    options = [b["reply"] for b in action.get("buttons", [])]
                    options += [r for s in action.get("sections", []) for r in s["rows"]]
                    for option in options:
                        if option["title"] == label:
                            return self.post("press", view=view, data=option["id"])
        raise AssertionError(f"no button {label!r} in the chat")


def telegram_text(state: dict) -> str:
    return "\n".join(m["text"] for m in state["chat"][-1]["telegram"])


def test_a_phq9_by_buttons_gives_the_result_and_the_screening_event(studio):
    state = studio.post("restart", view="telegram", flow="phq9")
    assert state["chat"][0] == {"from": "resident", "kind": "text", "text": "/start phq9"}
    assert state["node"] == "consent.intro" and state["content"]["status"] == "ok"
    for label in ("Setuju", "18–59 tahun", "Lewati", "Mulai"):
        state = studio.press(state, label)
    assert state["node"] == "phq9.q1"
    for _ in range(9):
        state = studio.press(state, "Beberapa hari")
    text = telegram_text(state)
    assert "9 dari 27" in text and "bukan diagnosis" in text
    (done,) = [e for e in state["events"] if e["name"] == "screening_completed"]
    assert done["data"] == {"instrument": "phq9", "score": 9, "band": "mild",
                            "flags": ["self_harm_item"]}
    # Item 9 above 0: the crisis check follows the result, with the hotline.
    assert state["node"] == "crisis.cek_hasil" and "119" in text
    # The pressed message was edited as Telegram does: its answer under it, no keyboard.
    q9 = [m for item in state["chat"] if item["from"] == "bot" for m in item["telegram"]
          if "9 dari 9" in m["text"]][-1]
    assert q9["reply_markup"] is None and q9["text"].endswith("➤ Beberapa hari")
    assert state["cards"] == []  # a "check" level: no case until the resident agrees


def test_a_crisis_message_gets_the_hotline_and_the_cadre_card(studio):
    state = studio.post("restart", view="telegram")
    state = studio.post("send", view="telegram", text=CRISIS)
    text = telegram_text(state)
    assert "112" in text and "119" in text
    names = [e["name"] for e in state["events"] if e["turn"] == 2]
    assert names[:3] == ["crisis_detected", "escalate", "escalation_created"]
    (card,) = state["cards"]
    assert "DARURAT" in card["text"] and "pikiran bunuh diri" in card["text"]
    assert "Sumber: pesan yang diketik warga" in card["text"]
    assert CRISIS not in card["text"]  # the words wait for the resident's consent
    # "Mulai lagi": a new resident, nothing carried over.
    fresh = studio.post("restart", view="telegram")
    assert fresh["resident"] == state["resident"] + 1
    assert fresh["cards"] == [] and [e["name"] for e in fresh["events"]] == []
    assert fresh["node"] == "consent.intro"


def test_each_turn_is_rendered_by_the_channels_own_renderers(studio, folder):
    state = studio.post("restart", view="whatsapp", flow="phq9")
    assert state["chat"][0]["text"] == "mulai phq9"  # what a WhatsApp poster prefills
    for label in ("Setuju", "18–59 tahun", "Lewati", "Mulai"):
        state = studio.press(state, label, view="whatsapp")
    assert state["chat"][-2] == {"from": "resident", "kind": "press", "text": "Mulai"}
    # The same conversation through the engine alone, rendered by the channels' code.
    content = load_content(REAL_CONTENT)
    driver = EngineDriver(content, Config().engine_settings(),
                          load_detector(REAL_CONTENT / "crisis" / "lexicon.yaml"))

    async def replay():
        await driver.start({})
        replies = []
        for inbound in (Inbound(text="mulai phq9"), Inbound(choice="setuju"),
                        Inbound(choice="dewasa"), Inbound(choice="lewati"),
                        Inbound(choice="mulai")):
            replies, _events = await driver.send(inbound)
        return replies

    replies = asyncio.run(replay())
    to = Address.phone("simulator")
    assert state["chat"][-1]["whatsapp"] == [b for r in replies for b in render_reply(r, to)]
    assert state["chat"][-1]["telegram"] == [
        {"text": m.text, "entities": list(m.entities), "reply_markup": m.reply_markup()}
        for m in render_turn(replies, CallbackCodec())]
    question = state["chat"][-1]["whatsapp"][-1]["interactive"]
    assert question["type"] == "list"  # four answers: more than three buttons
    assert all(len(row["title"]) <= 24 for row in question["action"]["sections"][0]["rows"])
    consent = state["chat"][1]["whatsapp"][-1]["interactive"]
    assert consent["type"] == "button" and len(consent["action"]["buttons"]) == 3
    # The menu's eight choices fit a list; eleven do not: a numbered menu, answered by
    # typing the number (an editor's change, used from the next message).
    state = studio.post("send", view="whatsapp", text="menu")
    assert state["chat"][-1]["whatsapp"][-1]["interactive"]["type"] == "list"
    menu_file = folder / "flows" / "menu.yaml"
    text = menu_file.read_text(encoding="utf-8")
    last = "      - {id: hapus, label: Hapus data saya, goto: hapus}\n"
    extra = "".join(f"      - {{id: lain{i}, label: Pilihan lain {i}, next: utama}}\n"
                    for i in range(1, 4))
    assert last in text
    menu_file.write_text(text.replace(last, last + extra), encoding="utf-8")
    state = studio.post("send", view="whatsapp", text="menu")
    menu = state["chat"][-1]["whatsapp"][-1]
    assert menu["type"] == "text" and "11. Pilihan lain 3" in menu["text"]["body"]
    state = studio.post("send", view="whatsapp", text="2")
    assert state["node"].startswith("cek.")


def test_an_edit_is_used_from_the_next_message_and_a_broken_folder_keeps_the_last_good(
        studio, folder):
    consent = folder / "flows" / "consent.yaml"
    good = consent.read_text(encoding="utf-8")
    assert "Terima kasih atas kepercayaan Anda" in good
    state = studio.post("restart", view="telegram")
    edited = good.replace("Terima kasih atas kepercayaan Anda", "Terima kasih banyak, teman")
    consent.write_text(edited, encoding="utf-8")
    state = studio.press(state, "Setuju")
    assert "Terima kasih banyak, teman" in telegram_text(state)
    # Broken: the problem shows with its line; the simulator still answers, and says why.
    broken = edited.replace("next: tolak,", "next: tolak_hilang,", 1)
    assert broken != edited
    time.sleep(0.01)
    consent.write_text(broken, encoding="utf-8")
    problems = studio.http.get("/api/problems").json()
    (problem,) = [p for p in problems["problems"] if "tolak_hilang" in p["message"]]
    assert problem["where"] == f"flows/consent.yaml:{problem['line']}"
    assert "next: tolak_hilang" in broken.splitlines()[problem["line"] - 1]
    assert problems["content"]["status"] == "stale"
    state = studio.post("restart", view="telegram")
    assert state["content"]["status"] == "stale" and "last good" in state["content"]["message"]
    state = studio.press(state, "Setuju")
    assert state["node"] == "onboarding.usia"  # the last good version ran
    assert "Terima kasih banyak, teman" in telegram_text(state)
    consent.write_text(good, encoding="utf-8")
    problems = studio.http.get("/api/problems").json()
    # Fixed again: no error is left (message-budget warnings of the shipped content may be)
    assert [p for p in problems["problems"] if p["severity"] == "error"] == []
    assert problems["content"]["status"] == "ok"


def test_the_database_is_temporary_and_the_folder_is_not_written(folder, temp_root,
                                                                  tmp_path, monkeypatch):
    deployment_db = tmp_path / "deployment" / "temanjiwa.db"
    monkeypatch.setenv("TEMANJIWA_DB", str(deployment_db))
    before = sorted((p.relative_to(folder), p.stat().st_mtime_ns) for p in folder.rglob("*"))
    app = create_studio_app(folder)
    with serve_app(app) as base:
        studio = Studio(base)
        studio.post("restart", view="telegram")
        studio.post("send", view="telegram", text=CRISIS)
        database = app.state.simulator.database
        assert database is not None and database.is_file()
        assert database.parent.parent == temp_root
    assert not database.parent.exists()  # deleted with the studio
    assert list(temp_root.iterdir()) == []
    assert not deployment_db.parent.exists()
    after = sorted((p.relative_to(folder), p.stat().st_mtime_ns) for p in folder.rglob("*"))
    assert after == before


def test_conversation_tests_run_from_the_page_and_a_failure_shows_its_first_difference(
        studio, folder):
    result = studio.http.post("/api/tests/run").json()
    assert result["status"] == "ran" and result["failed"] == [] and result["problems"] == []
    assert len(result["passed"]) > 50
    assert result["passed"][0]["where"].startswith("tests/")
    (folder / "tests" / "zz_salah.yaml").write_text(
        "tests:\n"
        "  - name: Sapaan yang salah\n"
        "    steps:\n"
        "      - send: halo\n"
        "        expect: {node: consent.intro}\n"
        "      - press: setuju\n"
        "        expect: {says: Selamat pagi}\n", encoding="utf-8")
    result = studio.http.post("/api/tests/run").json()
    (failed,) = result["failed"]
    assert failed["name"] == "Sapaan yang salah" and failed["step"] == 2
    assert failed["step_where"] == "tests/zz_salah.yaml:6"
    assert "Selamat pagi" in failed["message"] and "Terima kasih" in failed["message"]
    assert result["message"].endswith("1 failed")


@pytest.mark.parametrize("path", [
    "/static/../app.py",
    "/static/%2e%2e/app.py",
    "/static/..%2fapp.py",
    "/static/%2e%2e%2f%2e%2e%2fpyproject.toml",
    "/flows/..%2f..%2fpyproject.toml",
    "/flows/%2e%2e/map.svg",
    "/flows/..%2fflows%2fphq9/poster.svg?channel=telegram",
])
def test_paths_outside_the_folder_cannot_be_read(shared_studio, path):
    studio = shared_studio
    response = httpx.get(studio.base + path, timeout=30)
    assert response.status_code in (400, 404)
    assert "create_studio_app" not in response.text and "[project]" not in response.text


def test_a_flow_name_with_a_path_is_refused(shared_studio):
    studio = shared_studio
    response = studio.http.post("/api/simulator/restart",
                                json={"view": "telegram", "flow": "../../etc/passwd"})
    assert response.status_code == 400
    response = studio.http.post("/api/simulator/send", json={"view": "sms", "text": "halo"})
    assert response.status_code == 400
    assert studio.http.post("/api/simulator/send", content=b"not json").status_code == 400


@pytest.mark.parametrize("headers", [
    {},  # a POST must say where it comes from
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://localhost:1"},
])
def test_posts_not_from_its_own_page_are_refused(shared_studio, headers):
    studio = shared_studio
    for path, body in (("/api/simulator/restart", {"view": "telegram"}),
                       ("/api/simulator/send", {"view": "telegram", "text": CRISIS}),
                       ("/api/tests/run", {})):
        response = httpx.post(studio.base + path, json=body, headers=headers, timeout=30)
        assert response.status_code == 403, path
    assert studio.http.get("/api/simulator").json()["chat"] == []  # nothing was sent


def test_new_pages_refuse_other_hosts(shared_studio):
    studio = shared_studio
    for path in ("/simulator", "/tests", "/api/simulator", "/api/problems"):
        response = httpx.get(studio.base + path, headers={"Host": "evil.example"}, timeout=30)
        assert response.status_code == 403, path


def test_without_good_content_the_simulator_says_so(folder, temp_root):
    flow = folder / "flows" / "consent.yaml"
    flow.write_text(flow.read_text(encoding="utf-8") + "\n  rusak: [\n", encoding="utf-8")
    with serve_app(create_studio_app(folder)) as base:
        studio = Studio(base)
        response = studio.http.post("/api/simulator/restart", json={"view": "telegram"})
        assert response.status_code == 409
        assert response.json()["content"]["status"] == "none"
        page = studio.http.get("/simulator")
        assert page.status_code == 200 and "consent.yaml" in page.text
    assert list(Path(temp_root).iterdir()) == []
