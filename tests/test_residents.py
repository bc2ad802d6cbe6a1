"""storage/residents.py on both backends: a resident's rows move to a new key in one go."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flows.session import Session
from storage.residents import MOVED_TABLES, holds_rows, move_user

pytestmark = pytest.mark.both_backends

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


async def count(store, key: str) -> int:
    total = 0
    for table in MOVED_TABLES:
        row = await store.reader.fetchone(
            f"SELECT count(*) AS n FROM {table} WHERE user_key = ?", (key,)
        )
        total += row["n"]
    return total


async def test_rows_move_to_the_new_key_and_nothing_stays_under_the_old(store):
    async with store.transaction() as tx:
        await tx.save_session("old", Session(consent_version="1"), NOW)
        await tx.add_result("old", "phq9", 7, "mild", [], NOW)
    assert await holds_rows(store.reader, "old") and not await holds_rows(store.reader, "new")
    async with store.transaction() as tx:
        moved = await move_user(tx, "old", "new", NOW)
    assert moved.moved and not moved.replaced
    assert moved.rows["sessions"] == 1 and moved.rows["results"] == 1
    assert await count(store, "old") == 0 and await count(store, "new") == 2
    history = await store.history("new")
    assert [(h.instrument, h.score) for h in history] == [("phq9", 7)]


async def test_what_the_new_key_held_is_removed_first_never_merged(store):
    async with store.transaction() as tx:
        await tx.save_session("old", Session(), NOW)
        await tx.add_result("new", "gad7", 15, "severe", [], NOW)  # someone else's result
    async with store.transaction() as tx:
        moved = await move_user(tx, "old", "new", NOW)
    assert moved.replaced
    assert await store.history("new") == []  # the earlier holder's result is gone


async def test_nothing_under_the_old_key_changes_nothing(store):
    async with store.transaction() as tx:
        await tx.add_result("new", "gad7", 3, "minimal", [], NOW)
    async with store.transaction() as tx:
        moved = await move_user(tx, "nobody", "new", NOW)
    assert not moved.moved and len(await store.history("new")) == 1
