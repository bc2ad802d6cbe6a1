"""The store's index of residents who may have an open case, a relay or a pending
disclosure (`Store.may_have_case`): residents outside it cost no relay lookup and no case
update per message. On SQLite it is rebuilt at every start; on PostgreSQL, where other
workers write too, there is no index and every turn looks."""

from __future__ import annotations

import pytest

from bot.cases.desk import OPERATOR
from storage import cases
from tests.support.escalation import make_harness

pytestmark = pytest.mark.both_backends


def case_code(turn) -> str:
    return next(e.data["case"] for e in turn.events if e.name == "escalation_created")


@pytest.mark.sqlite_only
async def test_sqlite_knows_who_has_a_case_across_restarts(tmp_path, database):
    h = await make_harness(tmp_path, database=database)
    calm = await h.onboard("701")
    await h.onboard("702")
    assert not h.store.may_have_case(calm.user_key)
    crisis = await h.say("702", "aku mau mati saja")
    assert h.store.may_have_case(crisis.user_key)
    code = case_code(crisis)
    await h.close()

    h = await make_harness(tmp_path, database=database, clock=h.clock)  # a restart
    assert h.store.may_have_case(crisis.user_key) and not h.store.may_have_case(calm.user_key)
    h.clock.advance(minutes=5)
    await h.say("702", "halo")  # the rebuilt index still finds the open case
    row = h.rows("SELECT last_reply_at FROM cases WHERE code = ?", code)[0]
    assert row["last_reply_at"] == h.clock.now.isoformat()
    assert (await h.kit.desk.resolve(code, OPERATOR, "contacted")).ok
    await h.close()

    h = await make_harness(tmp_path, database=database, clock=h.clock)
    assert not h.store.may_have_case(crisis.user_key)  # closed: no longer looked up
    await h.close()


async def test_a_case_another_worker_opened_is_found(tmp_path, database, backend):
    """Two stores on one database (two workers, or on SQLite a restart in between): a case
    written by the other is seen by this one's next turn for that resident."""
    worker_a = await make_harness(tmp_path, database=database)
    worker_b = await make_harness(tmp_path, database=database, clock=worker_a.clock)
    turn = await worker_a.onboard("703")
    key = turn.user_key
    if backend == "sqlite":  # one writer only: B starts after A wrote the case
        await worker_b.close()
        crisis = await worker_a.say("703", "aku mau mati saja")
        await worker_a.close()
        worker_b = await make_harness(tmp_path, database=database, clock=worker_a.clock)
    else:
        assert worker_b.store.may_have_case(key)  # PostgreSQL: always looks
        crisis = await worker_a.say("703", "aku mau mati saja")
    assert worker_b.store.may_have_case(key)
    worker_b.clock.advance(minutes=3)
    await worker_b.say("703", "halo")
    case = await cases.case_by_code(worker_b.store.reader, case_code(crisis))
    assert case is not None and case.last_reply_at == worker_b.clock.now
    await worker_b.close()
    if backend != "sqlite":
        await worker_a.close()
