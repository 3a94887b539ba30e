"""/v1 ingestion over a real socket: the official clients, retries, limits and errors."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from rudderstack.analytics import Client as RudderClient
from segment.analytics import Client as SegmentClient
from tests.factories import make_batch, make_group, make_identify, make_page, make_track
from tests.server.conftest import NOW, Server

from winnow.server import Settings, create_app
from winnow.store.keys import create_key, revoke_key
from winnow.store.people import find_account, find_person
from winnow.store.queue import queued
from winnow.store.schema import events, rejected_messages, scores, stage_history


def stored_events(server: Server) -> list[tuple[str, str]]:
    with server.engine.connect() as conn:
        rows = conn.execute(
            sa.select(events.c.name, events.c.message_id)
            .where(events.c.workspace_id == server.workspace_id)
            .order_by(events.c.id)
        )
        return [(r.name, r.message_id) for r in rows]


def send_with(client: Any) -> list[Exception]:
    client.identify("ada", {"email": "ada@initech.com", "title": "VP Data"})
    client.group("ada", "initech", {"name": "Initech", "employees": 120, "plan": "trial"})
    client.page("ada", category=None, name="Pricing", properties={"path": "/pricing"})
    client.track("ada", "Demo Requested", {"source": "pricing page"})
    client.flush()
    return []


def test_the_segment_client_works_unchanged(server: Server) -> None:
    failures: list[Exception] = []
    client = SegmentClient(
        server.write_key, host=server.url, sync_mode=True,
        on_error=lambda error, _: failures.append(error),
    )  # fmt: skip
    send_with(client)
    assert failures == []
    names = [name for name, _ in stored_events(server)]
    assert names == ["Identify", "Group", "Page Viewed", "Demo Requested"]
    with server.engine.connect() as conn:
        ada = find_person(conn, server.workspace_id, "ada")
        account = find_account(conn, server.workspace_id, "initech")
        assert ada.email == "ada@initech.com" and ada.account_id == account.id
        assert account.plan == "trial" and account.traits["employees"] == 120
        # The people the batch touched wait for the scorer.
        assert queued(conn, server.workspace_id) == 1


def test_the_rudderstack_client_works_unchanged_gzip_and_all(server: Server) -> None:
    failures: list[Exception] = []
    client = RudderClient(
        server.write_key, host=server.url, sync_mode=True, gzip=True,
        on_error=lambda error, _: failures.append(error),
    )  # fmt: skip
    send_with(client)
    assert failures == []
    assert len(stored_events(server)) == 4


def test_a_retried_batch_is_stored_once(server: Server) -> None:
    body = make_batch(make_track(userId="ada"), make_page(userId="ada"), writeKey=server.write_key)
    first = httpx.post(f"{server.url}/v1/batch", json=body)
    again = httpx.post(f"{server.url}/v1/batch", json=body)
    assert first.status_code == again.status_code == 200
    assert (first.json()["accepted"], first.json()["duplicates"]) == (2, 0)
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 2)
    assert len(stored_events(server)) == 2


def test_bad_messages_are_reported_by_index_and_kept(server: Server) -> None:
    too_big = make_track(userId="ada", properties={"blob": "x" * 3000})
    body = make_batch(
        make_track(userId="ada"),
        make_track(drop=("event",)),
        too_big,
        make_identify(userId=None, anonymousId=None),
        writeKey=server.write_key,
    )
    answer = httpx.post(f"{server.url}/v1/batch", json=body)
    assert answer.status_code == 200
    result = answer.json()
    assert result["accepted"] == 1
    rejected = {r["index"]: r["reason"] for r in result["rejected"]}
    assert sorted(rejected) == [1, 2, 3]
    assert "event" in rejected[1]
    assert "limit is 2048" in rejected[2]
    assert "userId" in rejected[3] or "anonymousId" in rejected[3]
    with server.engine.connect() as conn:
        kept = conn.execute(
            sa.select(rejected_messages.c.reason, rejected_messages.c.payload).where(
                rejected_messages.c.workspace_id == server.workspace_id
            )
        ).all()
    assert len(kept) == 3
    assert any(json.loads(payload) == too_big for _, payload in kept)


def test_keys_from_basic_auth_or_body_and_clear_401s(server: Server) -> None:
    track = make_track(userId="ada")
    by_basic = httpx.post(f"{server.url}/v1/track", json=track, auth=(server.write_key, ""))
    assert by_basic.status_code == 200
    by_body = httpx.post(
        f"{server.url}/v1/track", json=make_track(userId="ada", writeKey=server.write_key)
    )
    assert by_body.status_code == 200
    for key, code in ((None, "missing_key"), ("wn_write_nope", "invalid_key")):
        answer = httpx.post(f"{server.url}/v1/batch", json=make_batch(track, writeKey=key))
        assert answer.status_code == 401 and answer.json()["code"] == code
    secret = httpx.post(f"{server.url}/v1/track", json=track, auth=(server.secret_key, ""))
    assert secret.status_code == 401 and "write key" in secret.json()["message"]
    with server.engine.begin() as conn:
        key, token = create_key(conn, server.workspace_id, kind="write", name="old", by="t")
        revoke_key(conn, server.workspace_id, key.id)
    revoked = httpx.post(f"{server.url}/v1/track", json=track, auth=(token, ""))
    assert revoked.status_code == 401


def test_malformed_requests_get_400_with_a_reason(server: Server) -> None:
    auth = (server.write_key, "")
    headers = {"Content-Type": "application/json"}
    cases = {
        "invalid_json": httpx.post(
            f"{server.url}/v1/batch", content=b"{nope", headers=headers, auth=auth
        ),
        "invalid_gzip": httpx.post(
            f"{server.url}/v1/batch", content=b"not gzip", auth=auth,
            headers={**headers, "Content-Encoding": "gzip"},
        ),
        "too_large": httpx.post(
            f"{server.url}/v1/batch", auth=auth,
            json=make_batch(*[make_track(userId=f"u{i}", properties={"p": "x" * 1500}) for i in range(50)]),
        ),
        "invalid_batch": httpx.post(f"{server.url}/v1/batch", json={"batch": "no"}, auth=auth),
        "invalid_message": httpx.post(
            f"{server.url}/v1/track", json=make_track(drop=("event",)), auth=auth
        ),
    }  # fmt: skip
    for code, answer in cases.items():
        assert answer.status_code == 400, code
        assert answer.json()["code"] == code and answer.json()["message"], code
    gzipped = gzip.compress(json.dumps(make_batch(make_track(userId="ada"))).encode())
    ok = httpx.post(
        f"{server.url}/v1/batch", content=gzipped, auth=auth,
        headers={**headers, "Content-Encoding": "gzip"},
    )  # fmt: skip
    assert ok.status_code == 200 and ok.json()["accepted"] == 1
    unknown = httpx.post(f"{server.url}/v1/nope", json={}, auth=auth)
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"


def test_queued_people_are_scored_and_promoted(server: Server) -> None:
    body = make_batch(
        make_identify(userId="ada", traits={"email": "ada@initech.com", "title": "VP Data"}),
        make_page(userId="ada", properties={"path": "/pricing"}),
        make_track(userId="ada", event="Demo Requested"),
        writeKey=server.write_key,
    )
    assert httpx.post(f"{server.url}/v1/batch", json=body).status_code == 200
    assert server.app.state.scorer.score_queued() == 1
    assert server.app.state.scorer.score_queued() == 0
    with server.engine.connect() as conn:
        ada = find_person(conn, server.workspace_id, "ada")
        score = conn.execute(sa.select(scores).where(scores.c.person_id == ada.id)).mappings().one()
        moves = conn.execute(
            sa.select(stage_history.c.to_stage, stage_history.c.cause).where(
                stage_history.c.person_id == ada.id
            )
        ).all()
    assert (score["fit"], score["engagement"], score["grade"]) == (30.0, 60.0, "B")
    assert ada.stage == "mql" and ("mql", "rule:stages.mql") in moves


def test_overload_is_answered_429_with_retry_after(server: Server) -> None:
    app = create_app(
        Settings(scorer=False, dispatcher=False, max_concurrent_ingest=1), engine=server.engine
    )

    async def scenario() -> httpx.Response:
        gate = asyncio.Semaphore(1)
        app.state.ingest_gate = gate
        await gate.acquire()  # another request holds the only slot
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://winnow") as client:
            return await client.post(
                "/v1/track", json=make_track(userId="ada"), auth=(server.write_key, "")
            )

    answer = asyncio.run(scenario())
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "1"
    assert answer.json()["code"] == "overloaded"
    assert NOW.year == 2026  # the shared clock of these tests


def test_an_account_that_starts_paying_makes_all_its_people_customers(server: Server) -> None:
    people = [
        make_identify(userId=who, traits={"email": f"{who}@initech.com"}) for who in ("ada", "bo")
    ]
    groups = [make_group(userId=who, groupId="initech") for who in ("ada", "bo")]
    body = make_batch(*people, *groups, writeKey=server.write_key)
    assert httpx.post(f"{server.url}/v1/batch", json=body).status_code == 200
    server.app.state.scorer.score_queued()
    # Only Ada's message says so; Bo, her account-mate, is queued with her.
    paid = make_group(userId="ada", groupId="initech", traits={"plan": "paid"})
    assert httpx.post(f"{server.url}/v1/group", json=paid, auth=(server.write_key, "")).is_success
    assert server.app.state.scorer.score_queued() == 2
    with server.engine.connect() as conn:
        stages = {who: find_person(conn, server.workspace_id, who).stage for who in ("ada", "bo")}
    assert stages == {"ada": "customer", "bo": "customer"}


def test_a_request_chosen_as_deadlock_victim_is_run_again(server: Server) -> None:
    # PostgreSQL only: SQLite has one writer and cannot deadlock.
    if server.engine.dialect.name != "postgresql":
        pytest.skip("deadlocks between writers happen on PostgreSQL")
    send = make_batch(make_identify(userId="u1"), make_identify(userId="u2"))
    assert (
        httpx.post(f"{server.url}/v1/batch", json=send, auth=(server.write_key, "")).status_code
        == 200
    )
    with server.engine.connect() as conn:
        first, second = (find_person(conn, server.workspace_id, u).id for u in ("u1", "u2"))
    answers: list[httpx.Response] = []
    body = make_batch(
        make_track(userId="u1", messageId="m-1"), make_track(userId="u2", messageId="m-2")
    )
    lock = "SELECT id FROM people WHERE id = :id FOR UPDATE"
    with server.engine.connect() as blocker:
        # The blocker waits patiently, so the request is the one to find the deadlock
        # (PostgreSQL aborts the transaction that detects it).
        blocker.execute(sa.text("SET LOCAL deadlock_timeout = '60s'"))
        blocker.execute(sa.text(lock), {"id": second})
        request = threading.Thread(
            target=lambda: answers.append(
                httpx.post(
                    f"{server.url}/v1/batch", json=body, auth=(server.write_key, ""), timeout=60
                )
            )
        )
        request.start()
        # The request locks the first person, then waits for the second...
        waiting = sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted AND pid <> :blocker")
        blocker_pid = blocker.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        while True:
            # A connection of its own: statistics views hold still within a transaction.
            with server.engine.connect() as watcher:
                if watcher.execute(waiting, {"blocker": blocker_pid}).scalar_one():
                    break
            request.join(0.01)
            assert request.is_alive(), "the request finished without waiting for the lock"
        # ...and the blocker asks for the first: a cycle. This returns once PostgreSQL
        # has rolled the request's transaction back.
        blocker.execute(sa.text(lock), {"id": first})
        blocker.commit()
    request.join()
    assert [a.status_code for a in answers] == [200]
    assert (answers[0].json()["accepted"], answers[0].json()["duplicates"]) == (2, 0)
    assert [m for _, m in stored_events(server) if m.startswith("m-")] == ["m-1", "m-2"]
