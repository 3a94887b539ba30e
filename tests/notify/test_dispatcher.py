"""Delivering the outbox to a real HTTP receiver on a local socket, with an injected clock."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook
from tests.notify.conftest import Receiver

from winnow.clock import utcnow
from winnow.notify.dispatcher import RETRY_DELAYS, Dispatcher, next_attempt
from winnow.notify.outbox import add_endpoint, add_rule, emit, get_endpoint, redeliver
from winnow.notify.signing import verify
from winnow.store.schema import deliveries, delivery_attempts
from winnow.store.workspaces import Workspace

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
DATA = {"person": {"id": 7, "name": "Ada Lovelace", "email": "ada@initech.com", "title": "VP"},
        "account": {"id": 3, "name": "Initech"}, "stage_change": {"from": "lead", "to": "mql"},
        "score": {"fit": 30.0, "grade": "B", "engagement": 60.0, "score": 90.0},
        "reasons": [{"rule": "webinar", "points": 40.0}], "owner": "ana@lumen.example"}  # fmt: skip


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def subscribe(conn: sa.Connection, workspace_id: int, url: str, kind: str = "webhook") -> int:
    endpoint = add_endpoint(conn, workspace_id, name=kind, kind=kind, url=url, by="t", now=T0)
    add_rule(conn, workspace_id, name="mql", happenings=["person.*"], endpoint_id=endpoint.id,
             by="t", now=T0)  # fmt: skip
    return endpoint.id


_made: list[Dispatcher] = []


@pytest.fixture(autouse=True)
def _close_dispatchers() -> Iterator[None]:
    yield
    while _made:
        _made.pop().close()


def dispatcher(engine: sa.Engine, clock: Clock) -> Dispatcher:
    made = Dispatcher(engine, clock=clock, rng=random.Random(7))
    _made.append(made)
    return made


def attempts(engine: sa.Engine) -> list[int | None]:
    with engine.connect() as conn:
        query = sa.select(delivery_attempts.c.status_code).order_by(delivery_attempts.c.id)
        return list(conn.execute(query).scalars())


def delivery(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(deliveries)).mappings().one())


def test_a_webhook_is_signed_so_the_reference_verifier_accepts_it(
    engine: sa.Engine, workspace: Workspace, conn: sa.Connection, receiver: Receiver
) -> None:
    endpoint_id = subscribe(conn, workspace.id, receiver.url)
    message_id = emit(conn, workspace.id, "person.mql", DATA, at=T0, person_id=7)
    conn.commit()
    # The reference verifier checks the timestamp against the real clock.
    clock = Clock(utcnow())

    assert dispatcher(engine, clock).deliver_due() == 1

    ((headers, body),) = receiver.received
    secret = get_endpoint(conn, workspace.id, endpoint_id).secret
    assert secret is not None and secret.startswith("whsec_")
    Webhook(secret).verify(body, headers)
    assert headers["webhook-id"] == message_id
    sent = json.loads(body)
    assert (sent["type"], sent["data"]["person"]["name"]) == ("person.mql", "Ada Lovelace")
    assert delivery(engine)["status"] == "delivered"
    assert attempts(engine) == [200]


def test_failures_are_retried_on_the_schedule_with_the_same_webhook_id(
    engine: sa.Engine, workspace: Workspace, conn: sa.Connection, receiver: Receiver
) -> None:
    subscribe(conn, workspace.id, receiver.url)
    emit(conn, workspace.id, "person.mql", DATA, at=T0, person_id=7)
    conn.commit()
    receiver.script = [(500, {}), (503, {})]
    clock = Clock(T0)
    send = dispatcher(engine, clock)

    assert send.deliver_due() == 1  # 500
    first_retry = delivery(engine)["next_attempt_at"]
    # 5 s, give or take 10%.
    assert T0 + timedelta(seconds=4) <= first_retry.replace(tzinfo=UTC) <= T0 + timedelta(seconds=6)
    clock.now = T0 + timedelta(seconds=3)
    assert send.deliver_due() == 0  # not due yet
    clock.now = T0 + timedelta(seconds=6)
    assert send.deliver_due() == 1  # 503
    clock.now = T0 + timedelta(minutes=6)
    assert send.deliver_due() == 1  # 200

    assert attempts(engine) == [500, 503, 200]
    assert len(set(receiver.ids())) == 1 and len(receiver.ids()) == 3
    assert (delivery(engine)["status"], delivery(engine)["attempts"]) == ("delivered", 3)


def test_retry_after_is_honoured_and_410_disables_the_endpoint(
    engine: sa.Engine, workspace: Workspace, conn: sa.Connection, receiver: Receiver
) -> None:
    endpoint_id = subscribe(conn, workspace.id, receiver.url)
    emit(conn, workspace.id, "person.mql", DATA, at=T0, person_id=7)
    conn.commit()
    receiver.script = [(429, {"Retry-After": "120"}), (410, {})]
    clock = Clock(T0)
    send = dispatcher(engine, clock)

    send.deliver_due()
    assert delivery(engine)["next_attempt_at"] >= (T0 + timedelta(seconds=120)).replace(tzinfo=None)
    clock.now = T0 + timedelta(seconds=121)
    send.deliver_due()

    endpoint = get_endpoint(conn, workspace.id, endpoint_id)
    assert endpoint.disabled_at == clock.now
    assert endpoint.disabled_reason == "the endpoint answered 410 Gone"
    # Later notifications wait for the endpoint to be enabled again.
    emit(conn, workspace.id, "person.sql", DATA, at=clock.now, person_id=7)
    conn.commit()
    clock.now += timedelta(days=1)
    assert send.deliver_due() == 0
    assert attempts(engine) == [429, 410]


def test_slack_endpoints_get_text_and_blocks(
    engine: sa.Engine, workspace: Workspace, conn: sa.Connection, receiver: Receiver
) -> None:
    subscribe(conn, workspace.id, receiver.url, kind="slack")
    emit(conn, workspace.id, "person.mql", DATA, at=T0, person_id=7)
    conn.commit()

    dispatcher(engine, Clock(T0)).deliver_due()

    ((headers, body),) = receiver.received
    assert "webhook-signature" not in headers
    message = json.loads(body)
    assert message["text"].startswith("New MQL: Ada Lovelace")
    assert any("+40 webinar" in json.dumps(block) for block in message["blocks"])


def test_a_redelivery_sends_the_same_message_again(
    engine: sa.Engine, workspace: Workspace, conn: sa.Connection, receiver: Receiver
) -> None:
    endpoint_id = subscribe(conn, workspace.id, receiver.url)
    message_id = emit(conn, workspace.id, "person.mql", DATA, at=T0, person_id=7)
    conn.commit()
    clock = Clock(T0)
    send = dispatcher(engine, clock)
    send.deliver_due()

    clock.now = T0 + timedelta(hours=1)
    assert redeliver(conn, workspace.id, now=clock.now, since=T0, until=clock.now) == 1
    conn.commit()
    send.deliver_due()

    assert receiver.ids() == [message_id, message_id]
    secret = get_endpoint(conn, workspace.id, endpoint_id).secret
    assert secret is not None
    headers, body = receiver.received[1]
    verify(secret=secret, headers=headers, body=body, now=int(clock.now.timestamp()))
    assert int(headers["webhook-timestamp"]) == int(clock.now.timestamp())


def test_the_schedule_gives_up_after_about_three_days() -> None:
    rng = random.Random(1)
    waits = []
    for attempt in range(1, len(RETRY_DELAYS) + 1):
        at = next_attempt(attempt, T0, retry_after=None, rng=rng)
        assert at is not None
        waits.append((at - T0).total_seconds() / RETRY_DELAYS[attempt - 1].total_seconds())
    assert all(0.9 <= w <= 1.1 for w in waits)
    assert next_attempt(len(RETRY_DELAYS) + 1, T0, retry_after=None, rng=rng) is None
    total = sum(RETRY_DELAYS, timedelta())
    assert timedelta(days=3) <= total <= timedelta(days=3, hours=12)
