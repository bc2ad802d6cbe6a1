"""The studio app over real HTTP (uvicorn on 127.0.0.1): pages, posters, reload on save, and
refusing requests that are not from its own page (DNS rebinding)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import httpx
import pytest
import zxingcpp
from PIL import Image

from bot.studio.app import StudioSettings, create_studio_app
from tests.conftest import REAL_CONTENT, ROOT
from tests.support.browser import serve_app

get = functools.partial(httpx.get, timeout=30)  # a loaded CI machine can take seconds


@pytest.fixture
def folder(tmp_path):
    target = tmp_path / "content"
    shutil.copytree(REAL_CONTENT, target)
    return target


@pytest.fixture
def studio(folder):
    app = create_studio_app(folder, StudioSettings(telegram_username="TemanJiwaBot"))
    app.state.watch.current()  # read the folder once before the first request
    with serve_app(app) as base:
        yield base


def test_flow_list_and_flow_page(studio):
    home = get(studio + "/")
    assert home.status_code == 200 and 'href="/flows/phq9"' in home.text
    assert "Cek suasana hati (PHQ-9)" in home.text
    page = get(studio + "/flows/phq9")
    assert page.status_code == 200
    assert 'class="flowmap"' in page.text and 'data-node="q9"' in page.text
    assert "/static/studio.js" in page.text and "https://" not in page.text.split("<body")[0]
    assert get(studio + "/static/studio.js").status_code == 200
    svg = get(studio + "/flows/phq9/map.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert ET.fromstring(svg.text).get("data-flow") == "phq9"
    data = get(studio + "/api/flows/phq9").json()
    assert data["nodes"]["q1"]["where"].endswith("phq9.yaml:" + str(data["nodes"]["q1"]["line"]))
    assert get(studio + "/flows/tidak_ada").status_code == 404


def test_poster_png_from_the_page_decodes_to_the_link(studio, tmp_path):
    response = get(studio + "/flows/phq2/poster.png?channel=telegram")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    path = tmp_path / "poster.png"
    path.write_bytes(response.content)
    (found,) = zxingcpp.read_barcodes(Image.open(path))
    assert found.text == "https://t.me/TemanJiwaBot?start=phq2"
    unknown = get(studio + "/flows/phq2/poster.png?channel=whatsapp")
    assert unknown.status_code == 400 and "WhatsApp number is not known" in unknown.text


def test_a_saved_mistake_shows_with_its_line_and_goes_when_fixed(studio, folder):
    path = folder / "flows" / "phq2.yaml"
    good = path.read_text(encoding="utf-8")
    before = get(studio + "/api/problems").json()["problems"]
    assert not [p for p in before if p["severity"] == "error"]  # budget warnings at most
    broken = good.replace("next: q2", "next: q_2", 1)
    assert broken != good
    time.sleep(0.01)  # a new mtime even on coarse clocks
    path.write_text(broken, encoding="utf-8")
    problems = get(studio + "/api/problems").json()["problems"]
    (problem,) = [p for p in problems if "q_2" in p["message"]]
    assert problem["file"].endswith("phq2.yaml") and problem["severity"] == "error"
    lines = broken.splitlines()
    assert "next: q_2" in lines[problem["line"] - 1]
    page = get(studio + "/flows/phq2").text
    assert "q_2 (missing)" in page and "q_2" in page.split('id="problems"')[1]
    path.write_text(good, encoding="utf-8")
    assert get(studio + "/api/problems").json()["problems"] == before


@pytest.mark.parametrize("headers", [
    {"Host": "evil.example:8080"},  # DNS rebinding: another name pointing at 127.0.0.1
    {"Host": "127.0.0.1.evil.example"},
    {"Origin": "http://evil.example"},
    {"Origin": "http://localhost:1"},  # another local page
])
def test_requests_not_from_its_own_page_are_refused(studio, headers):
    response = get(studio + "/", headers=headers)
    assert response.status_code == 403
    assert "Teman Jiwa" not in response.text


def test_its_own_origin_and_localhost_are_allowed(studio):
    host = studio.removeprefix("http://")
    assert get(studio + "/", headers={"Origin": studio}).status_code == 200
    port = host.rsplit(":", 1)[1]
    assert get(studio + "/", headers={"Host": f"localhost:{port}"}).status_code == 200


def test_poster_command_writes_pdf_and_png(tmp_path):
    out = tmp_path / "poster.pdf"
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "poster", "phq9", "--channel", "whatsapp",
         "--whatsapp-number", "+62 812 3456 7890", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(b"%PDF-")
    (found,) = zxingcpp.read_barcodes(Image.open(out.with_suffix(".png")))
    assert found.text == "https://wa.me/6281234567890?text=mulai%20phq9"
    assert found.text in result.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "bot.cli", "poster", "phq9", "--out", str(tmp_path / "x.svg")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "TEMANJIWA_CONFIG": ""})
    assert missing.returncode == 2 and "Telegram username is not known" in missing.stderr
    assert not (tmp_path / "x.svg").exists()


def test_studio_command_serves_on_a_free_local_port_and_stops_on_sigterm(folder, tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "studio", str(folder), "--no-browser"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TMPDIR": str(temp)})
    try:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line + process.stderr.read()
        base = match.group(0)
        page = get(base + "flows/menu", timeout=30)
        assert page.status_code == 200 and 'data-node="utama"' in page.text
        state = httpx.post(base + "api/simulator/restart", json={"view": "telegram"},
                           headers={"Origin": base.rstrip("/")}, timeout=30).json()
        assert state["node"] == "consent.intro"
        assert [p.name[:17] for p in temp.iterdir()] == ["temanjiwa-studio-"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert list(temp.iterdir()) == []  # the simulator's database went with it
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
