"""Several workers on one database (issue 16), in one process: each "worker" is its own
store (its own connections; on PostgreSQL its own pool) on the same database. The durable
inbox and its claims, the channel state, the SLA chain and the retention lease, on SQLite
and on a real PostgreSQL server. The real processes are in tests/test_workers_fault.py."""

from __future__ import annotations

import asyncio
import random
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.fernet import Fernet

from bot.app import build_runtime, build_whatsapp
from bot.config import parse_config
from bot.crypto import Sealer
from bot.web import create_web_app
from bot.workers.health import health
from bot.workers.inbox import Inbox
from bot.workers.state import SharedContacts, SharedNotePrompts
from flows.contentset import keep_last_good, load_content_set
from flows.session import Session
from storage import deliveries, inbox, make_store
from storage.retention import run_retention_schedule
from tests.conftest import REAL_CONTENT
from tests.fakes.graph_api import running_graph_api
from tests.support import databases
from tests.support.escalation import FakeClock, make_harness
from tests.support.whatsapp_driver import payload, signed, text_message

pytestmark = pytest.mark.both_backends

NOW = datetime(2026, 11, 22, 7, 5, tzinfo=UTC)
SEALER = Sealer(Fernet.generate_key())


@pytest.fixture
async def workers(database):
    """Three stores on the one database: three workers."""
    stores = [make_store(database) for _ in range(3)]
    for store in stores:
        await store.open()
    yield stores
    for store in stores:
        await store.close()


async def put(store, delivery_id: str, user: str, text: str = "halo") -> bool:
    async with store.standalone() as tx:
        return await inbox.put(tx, "whatsapp", delivery_id, user, SEALER.seal_json(
            {"text": text}), NOW)


async def test_a_message_is_kept_sealed_once_and_leaves_with_its_turn(store, database):
    assert await put(store, "wamid.1", "warga-a", "aku sedih sekali hari ini")
    assert not await put(store, "wamid.1", "warga-a", "aku sedih sekali hari ini")  # a retry
    (row,) = await inbox.next_rows(store.reader, "warga-a")
    assert SEALER.open_json(row.payload_enc) == {"text": "aku sedih sekali hari ini"}
    assert b"sedih" not in databases.stored_bytes(database)
    async with store.transaction() as tx:  # the turn records the id: the message goes
        await tx.save_session("warga-a", Session(), NOW)
        await deliveries.note(tx, "whatsapp", "wamid.1", NOW)
        assert await inbox.next_rows(store.reader, "warga-a")  # not before COMMIT
    assert await inbox.next_rows(store.reader, "warga-a") == []
    assert not await put(store, "wamid.1", "warga-a")  # and stays a duplicate after


async def test_one_claim_per_resident_until_released_or_its_lease_runs_out(workers):
    a, b, _c = workers
    until = NOW + timedelta(seconds=15)
    async with a.standalone() as tx:
        assert await inbox.claim(tx, "warga", "A", NOW, until)
    async with b.standalone() as tx:
        assert not await inbox.claim(tx, "warga", "B", NOW, until)
        assert await inbox.claim(tx, "other", "B", NOW, until)
    later = NOW + timedelta(seconds=10)
    async with a.standalone() as tx:
        assert await inbox.renew(tx, "A", later + timedelta(seconds=15)) == 1
    async with b.standalone() as tx:  # 16 s on: A's lease would have run out, but renewed
        assert not await inbox.claim(tx, "warga", "B", NOW + timedelta(seconds=16), until)
    async with b.standalone() as tx:  # A died: nobody renews, the lease runs out
        assert await inbox.claim(tx, "warga", "B", later + timedelta(seconds=16),
                                 later + timedelta(seconds=31))
    async with a.standalone() as tx:
        await inbox.release(tx, "warga", "A")  # a late release of a lost claim changes nothing
    async with a.standalone() as tx:
        assert not await inbox.claim(tx, "warga", "A", later, later + timedelta(seconds=15))


async def test_workers_asking_at_the_same_moment_get_one_claim(workers):
    for round_ in range(10):
        user = f"warga-{round_}"

        async def ask(store, name, user=user):
            async with store.standalone() as tx:
                return await inbox.claim(tx, user, name, NOW, NOW + timedelta(seconds=15))

        won = await asyncio.gather(*(ask(s, f"W{i}") for i, s in enumerate(workers * 2)))
        assert sum(won) == 1


async def test_waiting_finds_messages_nobody_serves(store):
    for n, user in enumerate(("free", "served", "fresh")):
        async with store.standalone() as tx:
            await inbox.put(tx, "telegram", str(n), user, b"x", NOW if user != "fresh"
                            else NOW + timedelta(seconds=5))
    async with store.standalone() as tx:
        await inbox.claim(tx, "served", "A", NOW, NOW + timedelta(seconds=15))
    now = NOW + timedelta(seconds=6)
    found = await inbox.waiting(store.reader, ["telegram"], now, now - timedelta(seconds=2))
    assert found == [("telegram", "free")]
    assert await inbox.waiting(store.reader, ["whatsapp"], now, now) == []
    much_later = NOW + timedelta(seconds=30)  # the claim of "served" ran out
    found = await inbox.waiting(store.reader, ["telegram"], much_later, much_later)
    assert sorted(found) == [("telegram", "free"), ("telegram", "fresh"), ("telegram", "served")]


class Recorder:
    """A channel handler that records what it handled, where, and whether two workers ever
    handled one resident at the same time; its turn records the delivery id."""

    def __init__(self) -> None:
        self.handled: list[tuple[str, str, int]] = []  # (worker, user, n)
        self.busy: set[str] = set()
        self.overlaps = 0

    def handler(self, worker: str, store):
        async def handle(payload: dict) -> None:
            user = payload["user"]
            if user in self.busy:
                self.overlaps += 1
            self.busy.add(user)
            try:
                await asyncio.sleep(random.random() * 0.01)  # a turn and its replies
                async with store.transaction() as tx:
                    await deliveries.note(tx, "whatsapp", payload["id"], NOW)
                self.handled.append((worker, user, payload["n"]))
            finally:
                self.busy.discard(user)

        return handle


def inboxes(workers, recorder: Recorder, clock=None, lease: float = 15.0) -> list[Inbox]:
    made = []
    for i, store in enumerate(workers):
        box = Inbox(store, SEALER, worker_id=f"W{i}", clock=clock or (lambda: NOW), lease=lease)
        box.register("whatsapp", recorder.handler(f"W{i}", store))
        made.append(box)
    return made


async def test_messages_arriving_at_any_worker_are_handled_once_in_order(workers):
    recorder = Recorder()
    boxes = inboxes(workers, recorder)
    sent = {f"warga-{u}": 0 for u in range(6)}
    for step in range(60):  # residents write; each message reaches a random worker
        user = random.choice(list(sent))
        n = sent[user] = sent[user] + 1
        box = random.choice(boxes)
        await box.put("whatsapp", f"{user}:{n}", user, {"user": user, "n": n,
                                                         "id": f"{user}:{n}"})
        if step % 7 == 0:
            await asyncio.sleep(0.005)
    for _ in range(3):  # whoever still waits for a claim elsewhere finishes too
        await asyncio.gather(*(b.wait_idle() for b in boxes))
    assert recorder.overlaps == 0
    for user, count in sent.items():
        assert [n for _w, u, n in recorder.handled if u == user] == list(range(1, count + 1))
    assert len({w for w, _u, _n in recorder.handled}) >= 2  # really shared out
    assert await inbox.counts(workers[0].reader) == {"inbox_waiting": 0, "inbox_claimed": 0}


async def test_a_dead_workers_residents_are_taken_over_when_its_lease_runs_out(workers):
    clock = FakeClock(NOW)
    recorder = Recorder()
    dead, alive, _ = inboxes(workers, recorder, clock=clock, lease=15.0)
    async with workers[0].standalone() as tx:  # the dead worker had claimed "warga"…
        await inbox.claim(tx, "warga", dead.worker_id, clock(), clock() + timedelta(seconds=15))
        await inbox.put(tx, "whatsapp", "m1", "warga", SEALER.seal_json(
            {"user": "warga", "n": 1, "id": "m1"}), clock())
    clock.advance(seconds=5)
    assert await alive.tick() == 0  # the claim is still alive: nobody takes over
    clock.advance(seconds=11)
    assert await alive.tick() == 1  # its lease ran out
    await alive.wait_idle()
    assert recorder.handled == [("W1", "warga", 1)]
    assert alive.counters["taken_over"] == 1


async def test_a_message_that_keeps_killing_its_worker_is_given_up(store):
    recorder = Recorder()
    (box,) = inboxes([store], recorder)
    async with store.standalone() as tx:
        await inbox.put(tx, "whatsapp", "bad", "warga", SEALER.seal_json(
            {"user": "warga", "n": 1, "id": "bad"}), NOW)
        await tx.execute("UPDATE inbox SET attempts = ?", (box.max_attempts,))
    box.serve("warga")
    await box.wait_idle()
    assert recorder.handled == [] and box.counters["given_up"] == 1
    assert await inbox.next_rows(store.reader, "warga") == []


async def test_a_handler_that_records_nothing_still_empties_the_inbox(store):
    box = Inbox(store, SEALER, clock=lambda: NOW)
    seen: list[dict] = []

    async def handle(payload: dict) -> None:  # e.g. a cadre command: no turn
        seen.append(payload)

    box.register("telegram", handle)
    assert await box.put("telegram", "7", "chat", {"update_id": 7})
    await box.wait_idle()
    assert seen == [{"update_id": 7}]
    assert await inbox.next_rows(store.reader, "chat") == []


async def test_a_background_job_runs_on_one_worker_per_period(workers):
    hour = timedelta(minutes=54)

    async def take(store, name, at):
        async with store.standalone() as tx:
            return await inbox.claim_job(tx, "retention", name, at, at + hour)

    won = await asyncio.gather(*(take(s, f"W{i}", NOW) for i, s in enumerate(workers)))
    assert sum(won) == 1
    assert not await take(workers[0], "W9", NOW + timedelta(minutes=30))
    assert await take(workers[1], "W9", NOW + timedelta(minutes=55))


async def test_the_retention_schedule_purges_once_whatever_the_number_of_workers(workers,
                                                                                 monkeypatch):
    from storage import retention

    runs: list[str] = []

    async def purge(store, config, now):
        runs.append(repr(store))
        return retention.PurgeReport()

    monkeypatch.setattr(retention, "purge", purge)
    tasks = [asyncio.create_task(run_retention_schedule(s, None, lambda: NOW, 3600,
                                                        holder=f"W{i}"))
             for i, s in enumerate(workers)]
    await asyncio.sleep(0.5)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert len(runs) == 1


async def test_held_cards_windows_and_sent_messages_are_shared_and_sealed(workers, database):
    clock = FakeClock(NOW)
    a, b = (SharedContacts(s, SEALER, b"secret", clock=clock) for s in workers[:2])
    card = {"to": "6281200001111", "type": "text", "text": {"body": "TJ-7K3Q TINGGI"}}
    await a.hold("6281200001111", [card, card], ["card:TJ-7K3Q", None])
    await a.template_sent("6281200001111", clock(), "wamid.T1")
    held = await b.held("6281200001111")  # another worker sees what one held
    assert [(h.body, h.tag) for h in held] == [(card, "card:TJ-7K3Q"), (card, None)]
    assert await b.counts() == (2, 1)
    assert (await b.template("6281200001111"))[1] == "wamid.T1"
    await b.drop("6281200001111", [held[0].id])
    assert await a.template("6281200001111") is not None  # still something held
    await b.drop("6281200001111", [held[1].id])
    assert await a.template("6281200001111") is None  # nothing held: the next hold invites

    await a.saw_inbound("6281200001111", NOW)
    await b.saw_inbound("6281200001111", NOW - timedelta(hours=1))  # older: kept the later
    assert await b.last_inbound("6281200001111") == NOW
    await b.window_closed("6281200001111")
    assert await a.last_inbound("6281200001111") is None

    sent = type("Sent", (), {"address": {"field": "to", "value": "6281200001111"},
                             "body": card, "tag": "card:TJ-7K3Q"})()
    await a.remember("wamid.C1", sent)
    back = await b.recall("wamid.C1")
    assert back is not None and (back.address, back.body, back.tag) == (
        sent.address, card, "card:TJ-7K3Q")
    assert await a.recall("wamid.C1") is None  # once
    await a.hold("6281200001111", [card], [None])
    stored = databases.stored_bytes(database)
    assert b"TJ-7K3Q" not in stored and b"6281200001111" not in stored


async def test_note_prompts_reach_any_worker_once_for_the_cadre_asked(workers):
    clock = FakeClock(NOW)
    a, b = (SharedNotePrompts(s, b"secret", clock=clock) for s in workers[:2])
    await a.add(-100111, 55, "TJ-7K3Q", 920001, ttl=3600)
    assert await b.take(-100111, 55, 940001) is None  # another group member: not theirs
    assert await b.take(-100111, 55, 920001) == "TJ-7K3Q"
    assert await a.take(-100111, 55, 920001) is None  # answered once
    await a.add(-100111, 56, "TJ-7K3Q", 920001, ttl=3600)
    clock.advance(hours=2)
    assert await b.take(-100111, 56, 920001) is None  # ran out


async def test_each_step_of_the_sla_chain_is_taken_once_by_concurrent_workers(tmp_path, database):
    harnesses = [await make_harness(tmp_path, database=database) for _ in range(3)]
    try:
        first = harnesses[0]
        for n in range(4):
            await first.onboard(f"70{n}")
            await first.say(f"70{n}", "darurat sekarang")
        for h in harnesses:
            h.clock.advance(minutes=6)  # urgent: 5 minutes unclaimed
        moved = await asyncio.gather(*(h.kit.dispatcher.check_deadlines() for h in harnesses))
        assert sum(moved) == 4
        raised = first.rows("SELECT case_id FROM case_events WHERE kind = 'sla_raised'")
        assert sorted(r[0] for r in raised) == sorted({r[0] for r in raised}) and len(raised) == 4
        reminders = first.rows("SELECT count(*) FROM outbox WHERE reason = 'reminder'")
        assert reminders[0][0] == 4
    finally:
        for h in harnesses:
            await h.close()


# ------------------------------------------------------------------ a worker that died
@pytest.fixture
async def graph():
    async with running_graph_api("test-token") as fake:
        yield fake


async def whatsapp_worker(database, graph, clock):
    runtime = await build_runtime(parse_config({"timezone": "WIB"}), content_dir=REAL_CONTENT,
                                  db_path=database, clock=clock)
    parts = build_whatsapp(runtime, {
        "WHATSAPP_ACCESS_TOKEN": "test-token", "WHATSAPP_APP_SECRET": "wa-secret",
        "WHATSAPP_VERIFY_TOKEN": "v", "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
        "WHATSAPP_API_BASE_URL": graph.base_url,
    })
    assert parts is not None
    app = create_web_app(whatsapp=parts.channel)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://wa.test")
    return runtime, parts, http


async def test_a_message_answered_200_by_a_worker_that_died_is_answered_by_the_next(
        database, graph, monkeypatch, tmp_path):
    monkeypatch.setenv("TEMANJIWA_SECRET", "shared-by-all-workers")
    monkeypatch.setenv("TEMANJIWA_ENCRYPTION_KEY", Fernet.generate_key().decode())
    clock = FakeClock(NOW)
    dying, dying_parts, dying_http = await whatsapp_worker(database, graph, clock)
    hang = asyncio.Event()

    async def dies_mid_turn(payload: dict) -> None:
        await hang.wait()  # the process is killed here: no reply, no release, no renewal

    dying.inbox.register("whatsapp", dies_mid_turn)
    raw, headers = signed(payload([text_message("aku sedih sekali", sender="6281211112222",
                                                ts=int(NOW.timestamp()))]), "wa-secret")
    response = await dying_http.post("/whatsapp/webhook", content=raw, headers=headers)
    assert response.status_code == 200  # Meta will not send it again
    await asyncio.sleep(0.05)
    assert await inbox.counts(dying.store.reader) == {"inbox_waiting": 1, "inbox_claimed": 1}
    assert b"sedih sekali" not in databases.stored_bytes(database)

    runtime, parts, http = await whatsapp_worker(database, graph, clock)  # another worker
    try:
        assert await runtime.inbox.tick() == 0  # the dying worker's claim is still alive
        clock.advance(seconds=16)  # nobody renewed it: its lease ran out
        assert await runtime.inbox.tick() == 1
        await parts.channel.wait_idle()
        answers = [c for c in graph.delivered if c.recipient == "6281211112222"]
        assert answers and "dengar.sedih" in str(answers[0].body)  # the kind answer to distress
        assert await inbox.counts(runtime.store.reader) == {"inbox_waiting": 0,
                                                            "inbox_claimed": 0}
        assert b"sedih sekali" not in databases.stored_bytes(database)
    finally:
        hang.set()
        await dying.inbox.drain(5)
        for closing in (dying_http.aclose(), http.aclose(), dying_parts.aclose(),
                        parts.aclose(), dying.close(), runtime.close()):
            await closing


def test_workers_starting_together_on_one_machine_all_keep_the_last_good_content(tmp_path):
    """Each worker copies the content it lints to content-last-good at start; several
    starting at once must neither fail nor leave a half copy."""
    errors: list[Exception] = []

    content_set = load_content_set(REAL_CONTENT)

    def start() -> None:
        try:
            for _ in range(3):
                keep_last_good(content_set, tmp_path / "content-last-good")
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [p.name for p in tmp_path.iterdir()] == ["content-last-good"]
    copied = sorted(p.relative_to(tmp_path / "content-last-good")
                    for p in (tmp_path / "content-last-good").rglob("*.yaml"))
    assert copied == sorted(p.relative_to(REAL_CONTENT) for p in REAL_CONTENT.rglob("*.yaml"))


async def test_healthz_names_the_database_and_the_worker_and_fails_without_the_database(
        database):
    store = make_store(database)
    await store.open()
    box = Inbox(store, SEALER, worker_id="host:1:abc")
    app = create_web_app(health=lambda: health(store, box, role="worker", runs=["inbox"]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://w.test") as http:
        ok = await http.get("/healthz")
        assert ok.status_code == 200
        body = ok.json()
        assert body["status"] == "ok"
        assert body["database"]["backend"] == ("postgresql" if databases.is_postgres(database)
                                               else "sqlite")
        assert body["database"]["reachable"] is True
        assert body["database"]["schema_version"] == await store.schema_version() >= 4
        assert body["database"]["inbox_waiting"] == 0
        assert body["worker"] == {**body["worker"], "id": "host:1:abc", "role": "worker",
                                  "runs": ["inbox"]}
        await store.close()  # the database is gone
        down = await http.get("/healthz")
        assert down.status_code == 503
        assert down.json()["status"] == "degraded"
        assert down.json()["database"]["reachable"] is False


async def test_a_message_put_while_the_residents_last_task_is_ending_is_served_at_once(store):
    """The race the benchmark found: a task that has just returned is done but still listed
    until its done-callback runs; a message put in between must start a new task, not wait
    for the once-a-second sweep (which this test never runs)."""
    box = Inbox(store, SEALER, clock=lambda: NOW)
    handled: list[dict] = []

    async def handle(payload: dict) -> None:
        handled.append(payload)

    box.register("telegram", handle)
    ending = asyncio.get_running_loop().create_task(asyncio.sleep(0))
    await ending
    box._tasks["chat"] = ending  # returned; its callback has not removed it yet
    assert await box.put("telegram", "1", "chat", {"update_id": 1})
    await asyncio.wait_for(box.wait_idle(), 5)
    assert handled == [{"update_id": 1}]
