"""A broken content edit never takes the bot down: last good copy at start, no swap at runtime."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from bot.app import build_runtime
from bot.config import Config
from bot.live_content import ContentWatcher
from flows.messages import Inbound
from flows.problems import ContentError
from tests.conftest import FIXTURE_CONTENT


@pytest.fixture
def content(tmp_path):
    target = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, target)
    return target


def break_content(content):
    (content / "flows" / "menu.yaml").write_text("flow: menu\nnodes:\n  main: [oops\n")


async def test_start_serves_last_good_copy_when_content_is_broken(content, tmp_path):
    db = tmp_path / "data" / "t.db"
    runtime = await build_runtime(Config(), content_dir=content, db_path=db)
    await runtime.close()
    assert (db.parent / "content-last-good" / "flows" / "menu.yaml").is_file()
    break_content(content)
    runtime = await build_runtime(Config(), content_dir=content, db_path=db)
    turn = await runtime.conversations.handle("console", "u", Inbound(text="menu"))
    assert turn.replies[-1].node == "menu.main"
    await runtime.close()


async def test_start_without_any_good_copy_refuses_clearly(content, tmp_path):
    break_content(content)
    with pytest.raises(ContentError) as info:
        await build_runtime(Config(), content_dir=content, db_path=tmp_path / "x" / "t.db")
    assert "menu.yaml" in str(info.value)


async def test_running_bot_keeps_serving_when_an_edit_is_broken(content, tmp_path):
    runtime = await build_runtime(Config(), content_dir=content, db_path=tmp_path / "t.db")
    watcher = ContentWatcher(runtime.engine, content, tmp_path)
    menu = content / "flows" / "menu.yaml"
    menu.write_text(menu.read_text().replace("Menu utama", "Menu baru"))
    assert watcher.check() is True
    turn = await runtime.conversations.handle("console", "u", Inbound(text="menu"))
    assert "Menu baru" in turn.replies[0].text
    break_content(content)
    assert watcher.check() is False
    turn = await runtime.conversations.handle("console", "u", Inbound(text="menu"))
    assert "Menu baru" in turn.replies[0].text
    await runtime.close()


def break_lexicon(content):
    (content / "crisis" / "lexicon.yaml").write_text("crisis:\n  suicide:\n    check: [oops\n")


async def test_a_broken_lexicon_with_a_good_copy_still_starts_and_detects(content, tmp_path):
    db = tmp_path / "data" / "t.db"
    runtime = await build_runtime(Config(), content_dir=content, db_path=db)
    await runtime.close()
    break_lexicon(content)
    runtime = await build_runtime(Config(), content_dir=content, db_path=db)
    try:  # the last good copy's flows AND lexicon are served, together
        assert runtime.engine.detector is not None
        assert runtime.engine.detector.detect("aku pengen mati") is not None
    finally:
        await runtime.close()


async def test_a_broken_lexicon_is_not_reloaded_while_running(content, tmp_path):
    runtime = await build_runtime(Config(), content_dir=content, db_path=tmp_path / "t.db")
    watcher = ContentWatcher(runtime.engine, content, tmp_path)
    detector = runtime.engine.detector
    break_lexicon(content)
    assert watcher.check() is False
    assert runtime.engine.detector is detector
    await runtime.close()


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


async def test_an_alias_bomb_saved_while_running_is_refused_and_the_bot_answers(
    content, tmp_path
):
    runtime = await build_runtime(Config(), content_dir=content, db_path=tmp_path / "t.db")
    watcher = ContentWatcher(runtime.engine, content, tmp_path)
    (content / "flows" / "menu.yaml").write_text("flow: menu\n" + BOMB)
    reload = asyncio.create_task(asyncio.to_thread(watcher.read_changes))
    turn = await runtime.conversations.handle("console", "u", Inbound(text="menu"))
    assert turn.replies[-1].node == "menu.main"  # answered while the reload runs
    assert await reload is None  # refused: never served
    await runtime.close()
