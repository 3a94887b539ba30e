"""Many processes, one database: two API processes and two scoring workers on PostgreSQL.

Client threads send Segment batches to both `winnow serve` processes (their own scorers
off) over real sockets, some batches twice on purpose, while two `winnow worker`
processes score the queued people. Once the queue is drained:

- every message answered 200 is stored exactly once, and was accepted once;
- no person's lease was taken while another process held it, and each person's score
  was written only by the worker holding their lease (triggers on the queue and the
  scores log claims and score writes, with the process that made each: its
  application_name); no scoring failed (a collision or a deadlock, then retried);
- every stage move, review and notification happened once, and the final scores and
  stages are the ones the events give.
"""

from __future__ import annotations

import itertools
import random
import subprocess
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tests.factories import CREATED, make_batch, make_group, make_identify, make_page, make_track
from tests.server.conftest import free_port, launch, listening, winnow_command
from tests.server.leases import lease_log, lease_violations

from winnow.notify.outbox import add_endpoint, add_rule
from winnow.store.keys import create_key
from winnow.store.specs import publish_spec
from winnow.store.workspaces import create_workspace

SPEC = """
fit: {rules: [{name: vp, when: 'person.title == "VP"', points: 30}]}
engagement:
  rules:
    - {name: pricing, event: Page Viewed, where: 'starts_with(properties.path, "/pricing")', points: 20}
    - {name: demo, event: Demo Requested, points: 40}
stages:
  mql: 'engagement >= 40 and grade in ("A", "B", "C")'
  pql: 'account.engagement >= 140'
  customer_plans: [paid]
handoff:
  owners: [{round_robin: [ana@example.com, ben@example.com]}]
"""
PEOPLE = 60  # three to an account
NOISE = 16  # events per person that score nothing
PER_BATCH = 12
CLIENTS = 4
DEADLINE = timedelta(seconds=120)


@dataclass(frozen=True, kw_only=True)
class Person:
    user_id: str
    account: int  # three people to an account
    pays: bool  # tells that the account's plan is paid (its first member does)
    vp: bool  # grade B with it, D without
    views: int  # of the pricing page, 20 points each
    demo: bool  # requested one: 40 points

    @property
    def engagement(self) -> float:
        return 20.0 * self.views + 40.0 * self.demo


def population() -> list[Person]:
    return [
        Person(
            user_id=f"mp{n}",
            account=n // 3,
            pays=n % 12 == 3,
            vp=n % 6 != 5,
            views=n % 4,
            demo=n % 5 == 0,
        )  # fmt: skip
        for n in range(PEOPLE)
    ]


def messages(person: Person, at: str) -> list[dict[str, Any]]:
    """What one person does: who they are, their account, scoring and other events."""
    user = person.user_id
    traits = {"email": f"{user}@example.com", "title": "VP" if person.vp else "Engineer"}
    account = {"name": "Initech", **({"plan": "paid"} if person.pays else {})}
    sent = [
        make_identify(userId=user, traits=traits),
        make_group(userId=user, groupId=f"acct{person.account}", traits=account),
    ]
    sent += [make_page(userId=user) for _ in range(person.views)]  # /pricing
    if person.demo:
        sent.append(make_track(userId=user, event="Demo Requested"))
    sent += [make_page(userId=user, properties={"path": f"/docs/{n}"}) for n in range(NOISE)]
    for number, message in enumerate(sent):
        message.update(messageId=f"{user}-{number}", timestamp=at)
    return sent


def expected_stage(person: Person, everyone: list[Person]) -> str:
    mates = [p for p in everyone if p.account == person.account]
    if any(p.pays for p in mates):
        return "customer"
    if sum(sorted((p.engagement for p in mates), reverse=True)[:3]) >= 140:
        return "pql"
    return "mql" if person.engagement >= 40 and person.vp else "lead"


@dataclass
class Sent:
    """What the clients saw, per batch."""

    answers: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    # Attempts that may have been stored though not answered 200 (no answer, or 5xx).
    uncertain: Counter[int] = field(default_factory=Counter)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (status, body), not 200
    lock: threading.Lock = field(default_factory=threading.Lock)


def send(urls: list[str], key: str, batches: list[list[dict[str, Any]]]) -> Sent:
    """Send every batch, some twice, from CLIENTS threads alternating between the APIs."""
    work: SimpleQueue[int] = SimpleQueue()
    order = list(range(len(batches)))
    # Every fifth batch again a few places later: possibly while its first copy is
    # still being stored by the other API process.
    for number in range(0, len(batches), 5):
        order.insert(min(order.index(number) + 3, len(order)), number)
    for number in order:
        work.put(number)
    sent = Sent()

    def client(offset: int) -> None:
        with httpx.Client(auth=(key, ""), timeout=60) as http:
            for request in itertools.count(offset):
                try:
                    number = work.get_nowait()
                except Empty:
                    return
                body = make_batch(*batches[number])
                # A failed attempt is retried on the other API; after 20, the batch is
                # left unanswered, for the assertions to name.
                for attempt in range(20):
                    try:
                        answer = http.post(urls[(request + attempt) % len(urls)], json=body)
                    except httpx.TransportError:
                        answer = None
                    with sent.lock:
                        if answer is not None and answer.status_code == 200:
                            sent.answers[number].append(answer.json())
                            break
                        if answer is None or answer.status_code >= 500:
                            sent.uncertain[number] += 1
                        if answer is not None:
                            sent.refused.append((answer.status_code, answer.text))
                    time.sleep(0.05 * attempt)  # a pause before retrying, not a synchronisation

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent


@contextmanager
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """The processes the test starts; all ended when it ends, however it ends."""
    started: list[subprocess.Popen[str]] = []
    try:
        yield started
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def queued(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM scoring_queue")).scalar_one())


def poll(condition: Callable[[], bool], what: str, started: list[subprocess.Popen[str]]) -> None:
    """Wait until `condition()` holds, checking often; fail after DEADLINE or if a process
    has ended."""
    give_up = time.monotonic() + DEADLINE.total_seconds()
    while not condition():
        ended = [p.args for p in started if p.poll() is not None]
        if ended or time.monotonic() > give_up:
            pytest.fail(f"gave up waiting for {what}; ended: {ended}")
        time.sleep(0.1)


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_two_apis_and_two_workers_share_one_database(engine: sa.Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
        ws = create_workspace(conn, "multi", now=CREATED)
        publish_spec(conn, ws.id, SPEC, by="test", now=CREATED)
        _, key = create_key(conn, ws.id, kind="write", name="site", by="test", now=CREATED)
        # Nothing delivers in this test (no dispatcher): the outbox is what is checked.
        hook = add_endpoint(
            conn, ws.id, name="crm", kind="webhook", url="http://127.0.0.1:9/hooks",
            by="test", now=CREATED,
        )  # fmt: skip
        add_rule(
            conn, ws.id, name="moves", happenings=["person.*", "account.*"], endpoint_id=hook.id,
            by="test", now=CREATED,
        )  # fmt: skip

    def database(process: str) -> str:
        # Each process on the test's schema, named so that the evidence says who did what.
        url = engine.url.update_query_dict(
            {"options": f"-csearch_path={schema}", "application_name": process}
        )
        return url.render_as_string(hide_password=False)

    everyone = population()
    stages = {p.user_id: expected_stage(p, everyone) for p in everyone}
    assert set(stages.values()) == {"lead", "mql", "pql", "customer"}  # every path is taken
    at = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    pending = [m for p in everyone for m in messages(p, at)]
    random.Random(7).shuffle(pending)
    batches = [pending[i : i + PER_BATCH] for i in range(0, len(pending), PER_BATCH)]
    worker_logs = [tmp_path / f"worker-{n}.log" for n in (1, 2)]

    workers = {"worker-1", "worker-2"}
    # The log is read once the processes have ended.
    with lease_log(engine) as log, processes() as started:
        for n, path in enumerate(worker_logs, 1):
            with path.open("w") as stderr:
                # Full rescores every second, so that they overlap the send.
                command = [winnow_command(), "worker", "--batch", "8", "--full-rescore", "1"]
                command += ["--database", database(f"worker-{n}")]
                worker = subprocess.Popen(
                    command, stdout=subprocess.DEVNULL, stderr=stderr, text=True
                )
                started.append(worker)
        ports = [free_port(), free_port()]
        for n, port in enumerate(ports, 1):
            started.append(launch(database(f"api-{n}"), port, "--no-scorer", "--no-dispatcher"))
        for api in started[2:]:
            listening(api)
        urls = [f"http://127.0.0.1:{port}/v1/batch" for port in ports]
        sent = send(urls, key, batches)
        poll(lambda: queued(engine) == 0, "the scoring queue to drain", started)

    check_ingestion(engine, ws.id, batches, sent)
    for path in worker_logs:
        # A scoring that failed (a collision, a deadlock) is logged, then retried.
        said = path.read_text()
        assert "scoring failed" not in said, [s for s in said.splitlines() if "Error" in s][:4]
    check_outcome(engine, ws.id, everyone, stages)
    claimers = {process for kind, _, process in log if kind == "claim"}
    assert claimers == workers
    assert lease_violations(log) == []


def check_ingestion(
    engine: sa.Engine, workspace_id: int, batches: list[list[dict[str, Any]]], sent: Sent
) -> None:
    assert [(status, body) for status, body in sent.refused if status != 429] == []
    assert sorted(sent.answers) == list(range(len(batches)))  # every batch answered 200
    for number, batch in enumerate(batches):
        accepted = sum(a["accepted"] for a in sent.answers[number])
        # Once each, whichever process stored it; a lost answer may hide one acceptance.
        assert accepted == len(batch) or (sent.uncertain[number] and accepted < len(batch))
        for answer in sent.answers[number]:
            assert answer["accepted"] + answer["duplicates"] == len(batch)
    with engine.connect() as conn:
        stored = Counter(
            conn.execute(
                sa.text("SELECT message_id FROM events WHERE workspace_id = :ws"),
                {"ws": workspace_id},
            ).scalars()
        )
    assert set(stored) == {m["messageId"] for batch in batches for m in batch}
    assert set(stored.values()) == {1}


def check_outcome(
    engine: sa.Engine, workspace_id: int, everyone: list[Person], stages: dict[str, str]
) -> None:
    with engine.connect() as conn:

        def rows(query: str) -> list[sa.Row[Any]]:
            return list(conn.execute(sa.text(query), {"ws": workspace_id}))

        people = {
            r.id: r
            for r in rows(
                "SELECT people.id, user_id, stage, group_id FROM people"
                " LEFT JOIN accounts ON accounts.id = people.account_id"
                " WHERE people.workspace_id = :ws"
            )
        }
        moves = rows(
            "SELECT person_id, from_stage, to_stage FROM stage_history"
            " WHERE workspace_id = :ws ORDER BY id"
        )
        notified = rows("SELECT id, person_id, type FROM notifications WHERE workspace_id = :ws")
        deliveries = rows("SELECT notification_id FROM deliveries WHERE workspace_id = :ws")
        reviews = rows(
            "SELECT person_id, stage, closed_at FROM reviews WHERE workspace_id = :ws ORDER BY id"
        )
        scores = {
            r.person_id: r.engagement
            for r in rows("SELECT person_id, engagement FROM scores WHERE workspace_id = :ws")
        }
    engagement = {p.user_id: p.engagement for p in everyone}

    assert {r.user_id: r.stage for r in people.values()} == stages
    assert {people[p].user_id: e for p, e in scores.items()} == engagement
    # Each person's moves: a chain from their creation to where they are, no stage
    # entered twice.
    assert Counter((m.person_id, m.to_stage) for m in moves).most_common(1)[0][1] == 1
    chains: dict[int, list[str | None]] = defaultdict(lambda: [None])
    for move in moves:
        assert move.from_stage == chains[move.person_id][-1], move
        chains[move.person_id].append(move.to_stage)
    assert {p: chain[-1] for p, chain in chains.items()} == {p: r.stage for p, r in people.items()}
    promotions = [m for m in moves if m.from_stage is not None]
    assert {m.to_stage for m in promotions} == {"mql", "pql", "customer"}
    # One notification per promotion and per account that started paying, one delivery
    # per notification (one endpoint).
    moved = Counter((n.person_id, n.type) for n in notified if n.type.startswith("person."))
    assert moved == Counter((m.person_id, f"person.{m.to_stage}") for m in promotions)
    paying = [people[n.person_id].group_id for n in notified if n.type == "account.converted"]
    assert sorted(paying) == sorted({f"acct{p.account}" for p in everyone if p.pays})
    assert sorted(d.notification_id for d in deliveries) == sorted(n.id for n in notified)
    # One review per move into the queue; the open one is for the stage they wait in.
    queue = ("mql", "pql")
    assert sorted((r.person_id, r.stage) for r in reviews) == sorted(
        (m.person_id, m.to_stage) for m in promotions if m.to_stage in queue
    )
    assert {r.person_id: r.stage for r in reviews if r.closed_at is None} == {
        p: r.stage for p, r in people.items() if r.stage in queue
    }
