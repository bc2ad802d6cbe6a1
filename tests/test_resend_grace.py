"""Kept replies and several workers: a starting worker leaves a live worker's fresh ones.

With one database shared by several workers, a reply kept a moment ago may be one another
worker is sending right now; `Conversations.undelivered` returns only those kept at least
`resend_grace` ago (bot/app.py sets it for PostgreSQL), and the channels look again once
the grace has passed.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import SHARED_RESEND_GRACE, build_runtime
from bot.config import parse_config
from bot.crypto import KEY_ENV, generate_key
from flows.messages import Inbound
from storage.keys import SECRET_ENV
from tests.conftest import REAL_CONTENT
from tests.support.escalation import (
    escalation_harness,  # noqa: F401 (fixture h)
    )
from tests.support.followups import CRISIS_WORDS

pytestmark = pytest.mark.both_backends


async def test_fresh_kept_replies_wait_for_the_grace_and_settled_ones_are_returned(h):
    turn = await h.conversations.handle("telegram", "81001", Inbound(text="/start"),
                                        delivery_id="u1")
    assert turn.kept == "u1"
    assert [k.delivery_id for k in await h.conversations.undelivered("telegram")] == ["u1"]

    h.conversations.resend_grace = timedelta(seconds=30)
    assert await h.conversations.undelivered("telegram") == []  # a live worker may send it
    h.clock.advance(seconds=31)
    kept = await h.conversations.undelivered("telegram")
    assert [k.delivery_id for k in kept] == ["u1"] and kept[0].platform_user_id == "81001"


async def test_only_a_shared_database_gets_a_grace(database, backend, monkeypatch):
    monkeypatch.setenv(SECRET_ENV, "a-shared-secret")
    monkeypatch.setenv(KEY_ENV, generate_key())
    runtime = await build_runtime(parse_config({}), content_dir=REAL_CONTENT,
                                  db_path=str(database))
    try:
        expected = SHARED_RESEND_GRACE if backend == "postgres" else timedelta(0)
        assert runtime.conversations.resend_grace == expected
    finally:
        await runtime.close()


async def test_an_ordinary_turn_a_newer_turn_overtook_is_dropped_not_sent_out_of_order(h):
    await h.conversations.handle("telegram", "81002", Inbound(text="/start"), delivery_id="u1")
    h.clock.advance(seconds=5)
    # The worker that kept u1 died before sending it; another answered the next message.
    await h.conversations.handle("telegram", "81002", Inbound(text="menu"), delivery_id="u2")
    await h.conversations.delivered("telegram", "u2")
    assert await h.conversations.undelivered("telegram") == []
    assert await h.conversations.undelivered("telegram") == []  # forgotten, not only skipped
    assert h.rows("SELECT count(*) FROM pending_replies") == [(0,)]


async def test_a_crisis_turn_is_resent_even_after_a_newer_turn(h):
    await h.onboard("81003")
    h.clock.advance(seconds=5)
    crisis = await h.conversations.handle("telegram", "81003", Inbound(text=CRISIS_WORDS),
                                          delivery_id="u2")
    assert crisis.urgent
    h.clock.advance(seconds=5)
    await h.conversations.handle("telegram", "81003", Inbound(text="menu"), delivery_id="u3")
    await h.conversations.delivered("telegram", "u3")
    kept = await h.conversations.undelivered("telegram")
    assert [k.delivery_id for k in kept] == ["u2"]
    assert "119" in "\n".join(r.text for r in kept[0].replies)
