"""A real headless Chromium for page tests: Debian's /usr/bin/chromium driven by Playwright.

Playwright never downloads a browser here: it launches the system Chromium through
`executable_path`, with a fresh profile in the test's tmp dir and every background
network feature off, so the only traffic is to the app under test on 127.0.0.1.
Without /usr/bin/chromium a test skips with the reason, except in CI (CI set), where it
fails: CI installs the `chromium` package in .ci/run, so a missing browser is a defect.

    def test_page(tmp_path):
        with serve_app(app) as base, chromium_page(tmp_path) as page:
            page.goto(base + "/")
            save_screenshot(page, "home")
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, sync_playwright

CHROMIUM = Path(os.environ.get("TEMANJIWA_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"  # gitignored


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_chromium() -> Path:
    """The browser's path; skips the test without it (fails in CI)."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    message = (f"{CHROMIUM} is not installed: browser tests need Debian's chromium package "
               "(apt-get install chromium); .ci/run installs it")
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


@contextlib.contextmanager
def chromium_page(tmp_path: Path, *, width: int = 1400, height: int = 900) -> Iterator[Page]:
    """A Playwright `Page` in a fresh headless Chromium profile under `tmp_path`."""
    executable = require_chromium()
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(executable),
            headless=True,
            args=list(CHROMIUM_ARGS),
            viewport={"width": width, "height": height},
            service_workers="block",
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            context.close()


class _ThreadServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # pragma: no cover - older uvicorn only
        pass


@contextlib.contextmanager
def serve_app(app, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread on a free port; yields its base URL.
    The app's lifespan runs, so its shutdown (the studio deleting its temporary database)
    has happened when the block ends."""
    config = uvicorn.Config(app, host=host, port=0, log_level="warning", access_log=False,
                            lifespan="on")
    server = _ThreadServer(config)
    thread = threading.Thread(target=server.run, name="test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def save_screenshot(page: Page, name: str, directory: Path | None = None, *,
                    full_page: bool = True) -> Path:
    """A PNG under tests/artifacts/ (or `directory`), kept for people to look at.

    `full_page=False` for a bare SVG or image document, which has no page to scroll.
    """
    target = directory or ARTIFACTS
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
