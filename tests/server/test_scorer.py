"""The scoring queue and the scorer: claims, rollbacks, workers side by side, full rescores."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from tests.factories import CREATED, RECEIVED, make_person

from winnow.server.scorer import Scorer
from winnow.store.queue import claim, claim_everyone, enqueue, queued, release, settle
from winnow.store.schema import account_scores, accounts, scores
from winnow.store.specs import publish_spec
from winnow.store.workspaces import create_workspace

SPEC = "fit: {rules: [{name: vp, when: 'person.title == \"VP\"', points: 10}]}"


def people(engine: sa.Engine, count: int, *, spec: bool = True) -> tuple[int, list[int]]:
    with engine.begin() as conn:
        ws = create_workspace(conn, "acme", now=CREATED)
        if spec:
            publish_spec(conn, ws.id, SPEC, by="test", now=CREATED)
        ids = [make_person(conn, ws.id, user_id=f"u{i}", title="VP") for i in range(count)]
        enqueue(conn, ws.id, ids, at=RECEIVED)
    return ws.id, ids


def test_claimed_people_stay_queued_until_settled_and_nobody_else_claims_them(
    engine: sa.Engine,
) -> None:
    ws, ids = people(engine, 3)
    with engine.begin() as conn:
        assert claim(conn, now=RECEIVED, limit=2) == {ws: ids[:2]}
    with engine.begin() as conn:
        # Leased: another claim gets only the third, the queue still holds all three.
        assert claim(conn, now=RECEIVED) == {ws: ids[2:]}
        assert queued(conn, ws) == 3
        settle(conn, ws, ids[:2])
        assert queued(conn, ws) == 1
        enqueue(conn, ws, ids[2:], at=RECEIVED)  # already queued: no second row
        assert queued(conn, ws) == 1


def test_a_full_rescore_leases_everyone_who_is_not_queued(engine: sa.Engine) -> None:
    ws, ids = people(engine, 4)
    with engine.begin() as conn:
        settle(conn, ws, ids[2:])  # two scored already, two still queued
        assert claim(conn, now=RECEIVED, limit=1) == {ws: ids[:1]}  # another scorer's
    with engine.begin() as conn:
        leased = claim_everyone(conn, ws, now=RECEIVED)
        assert leased == ids[2:]
        assert queued(conn, ws) == 4
        # The queued ones stay the micro-batches' (scored as of when they are claimed).
        assert claim(conn, now=RECEIVED) == {ws: ids[1:2]}
        settle(conn, ws, leased)
        assert queued(conn, ws) == 2


def test_a_full_rescore_stores_only_the_people_it_leased(engine: sa.Engine) -> None:
    ws, ids = people(engine, 3)
    with engine.begin() as conn:
        settle(conn, ws, ids[1:])
        claim(conn, now=RECEIVED, limit=1)  # another scorer has the first
    Scorer(engine, clock=lambda: RECEIVED).score_stale()
    with engine.connect() as conn:
        stored = conn.execute(sa.select(scores.c.person_id).where(scores.c.workspace_id == ws))
        assert sorted(stored.scalars()) == ids[1:]
        assert queued(conn, ws) == 1


def test_a_full_rescore_drops_the_rollups_of_accounts_left_without_people(
    engine: sa.Engine,
) -> None:
    ws, _ = people(engine, 1)
    with engine.begin() as conn:
        empty = conn.execute(
            accounts.insert()
            .values(workspace_id=ws, group_id="gone", traits={}, created_at=CREATED,
                    updated_at=CREATED)
            .returning(accounts.c.id)
        ).scalar_one()  # fmt: skip
        conn.execute(
            account_scores.insert().values(
                workspace_id=ws,
                account_id=empty,
                spec_version=1,
                as_of=CREATED,
                fit=0.0,
                engagement=5.0,
                score=5.0,
                people=2,
            )  # fmt: skip
        )
    Scorer(engine, clock=lambda: RECEIVED).score_stale()
    with engine.connect() as conn:
        left = conn.execute(sa.select(account_scores.c.account_id).where(
            account_scores.c.workspace_id == ws)).scalars()  # fmt: skip
        assert list(left) == []


def test_events_for_a_claimed_person_have_them_scored_again(engine: sa.Engine) -> None:
    ws, ids = people(engine, 2)
    with engine.begin() as conn:
        claim(conn, now=RECEIVED)
        enqueue(conn, ws, ids[:1], at=RECEIVED)  # new events while being scored
        settle(conn, ws, ids)
        assert queued(conn, ws) == 1
        assert claim(conn, now=RECEIVED) == {ws: ids[:1]}


def test_a_lease_runs_out_and_a_failed_scoring_gives_people_back(engine: sa.Engine) -> None:
    ws, ids = people(engine, 2)
    with engine.begin() as conn:
        claim(conn, now=RECEIVED, lease=timedelta(minutes=5))
        assert claim(conn, now=RECEIVED + timedelta(minutes=4)) == {}
        # The scorer died: after its lease anyone may take them.
        assert claim(conn, now=RECEIVED + timedelta(minutes=5)) == {ws: ids}
        release(conn, ws, ids)
        assert claim(conn, now=RECEIVED + timedelta(minutes=5)) == {ws: ids}


@pytest.mark.postgres
def test_workers_never_claim_the_same_person(postgres_engine: sa.Engine) -> None:
    ws, ids = people(postgres_engine, 6)
    try:
        with postgres_engine.connect() as first, postgres_engine.connect() as second:
            with first.begin(), second.begin():
                mine = claim(first, now=RECEIVED, limit=4)
                theirs = claim(second, now=RECEIVED, limit=4)  # skips the rows `first` holds
            assert mine == {ws: ids[:4]} and theirs == {ws: ids[4:]}
    finally:
        with postgres_engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE workspaces CASCADE"))


def test_the_scorer_scores_what_is_queued_then_everyone_when_stale(engine: sa.Engine) -> None:
    ws, ids = people(engine, 4)
    now = [RECEIVED]
    scorer = Scorer(engine, batch=3, full_every=timedelta(hours=1), clock=lambda: now[0])
    assert [scorer.score_queued(), scorer.score_queued(), scorer.score_queued()] == [3, 1, 0]

    def scored_at() -> set[object]:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(scores.c.as_of).where(scores.c.workspace_id == ws))
            return {r.as_of.replace(tzinfo=RECEIVED.tzinfo) for r in rows}

    assert scored_at() == {RECEIVED}
    assert scorer.score_stale() == 1  # never fully rescored yet
    now[0] = RECEIVED + timedelta(minutes=30)
    assert scorer.score_stale() == 0
    now[0] = RECEIVED + timedelta(hours=1)
    assert scorer.score_stale() == 1
    assert scored_at() == {RECEIVED + timedelta(hours=1)}
    assert len(ids) == 4


def test_people_of_a_workspace_without_spec_are_dropped_quietly(engine: sa.Engine) -> None:
    ws, _ = people(engine, 2, spec=False)
    scorer = Scorer(engine, clock=lambda: RECEIVED)
    assert scorer.score_queued() == 2
    with engine.connect() as conn:
        assert queued(conn, ws) == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(scores)).scalar_one() == 0
