"""The scoring queue: people whose events arrived since they were last scored.

Ingestion enqueues the people a batch touched, and their account-mates (an account's
rollup moves with every member), in the batch's own transaction, so an accepted event is
never forgotten by the scorer, even if the process dies right after.

A scorer claims people with a lease, in a short transaction of its own (on PostgreSQL
`FOR UPDATE SKIP LOCKED`, so several workers never take the same row), scores them
without holding any lock, and then `settle`s the claim. A claimed person stays in the
queue meanwhile, so no other worker can claim them before the lease runs out: two
workers never score one person at once; a full rescore leases everyone not queued
(`claim_everyone`) and stores only them. Events arriving for a claimed person mark the
row `dirty`; settling removes the clean rows and hands the dirty ones back, to be scored
again with their new events. A scorer that dies leaves its lease to expire, and the
people are claimed again. Holding the claim in a long transaction instead would make
every ingestion that touches those people wait for the whole scoring.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from winnow.clock import to_db
from winnow.store.schema import Timestamp, people, scoring_queue

LEASE = timedelta(minutes=5)
_CHUNK = 5000  # ids in one IN (...): SQLite allows 32,766 bound values


def enqueue(
    conn: sa.Connection, workspace_id: int, person_ids: Iterable[int], *, at: datetime
) -> None:
    """Queue people for scoring; one already queued keeps its place (and, if a scorer has
    it now, is marked to be scored again)."""
    rows = [
        {"workspace_id": workspace_id, "person_id": p, "queued_at": to_db(at), "dirty": False}
        for p in sorted(set(person_ids))
    ]
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(scoring_queue)
    statement = statement.on_conflict_do_update(
        index_elements=["workspace_id", "person_id"],
        set_={"dirty": scoring_queue.c.claimed_until.is_not(None)},
    )
    conn.execute(statement, rows)


def claim(
    conn: sa.Connection, *, now: datetime, limit: int = 2000, lease: timedelta = LEASE
) -> dict[int, list[int]]:
    """Lease up to `limit` queued people, oldest first: {workspace id: person ids}.

    The caller commits at once, scores, then calls `settle`.
    """
    stamp = to_db(now)
    query = (
        sa.select(scoring_queue.c.workspace_id, scoring_queue.c.person_id)
        .where(
            sa.or_(scoring_queue.c.claimed_until.is_(None), scoring_queue.c.claimed_until <= stamp)
        )
        .order_by(scoring_queue.c.queued_at, scoring_queue.c.person_id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed: dict[int, list[int]] = defaultdict(list)
    for workspace_id, person_id in conn.execute(query):
        claimed[workspace_id].append(person_id)
    for workspace_id, person_ids in claimed.items():
        conn.execute(
            scoring_queue.update()
            .where(
                scoring_queue.c.workspace_id == workspace_id,
                scoring_queue.c.person_id.in_(person_ids),
            )
            .values(claimed_until=to_db(now + lease), dirty=False)
        )
    return dict(claimed)


def claim_everyone(
    conn: sa.Connection, workspace_id: int, *, now: datetime, lease: timedelta = LEASE
) -> list[int]:
    """Lease, for a full rescore, every person of a workspace who is not queued: the ids
    leased. Their rows are inserted already leased and leave the queue when settled.

    People already queued are left to the micro-batches, which score them as of when
    they are claimed (their newest events included) and as touched (re-engagement); a
    row another scorer is inserting or holds makes the insert do nothing for that
    person, and RETURNING leaves them out. The caller commits at once, scores everyone,
    stores the leased people only, then calls `settle` with the ids.
    """
    q = scoring_queue.c
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    unqueued = sa.select(
        people.c.workspace_id, people.c.id, sa.literal(to_db(now), Timestamp),
        sa.literal(to_db(now + lease), Timestamp), sa.false(),
    ).where(
        people.c.workspace_id == workspace_id,
        ~sa.exists().where(q.workspace_id == workspace_id, q.person_id == people.c.id),
    )  # fmt: skip
    inserted = conn.execute(
        dialect.insert(scoring_queue)
        .from_select(["workspace_id", "person_id", "queued_at", "claimed_until", "dirty"], unqueued)
        .on_conflict_do_nothing(index_elements=["workspace_id", "person_id"])
        .returning(q.person_id)
    )
    return sorted(inserted.scalars())


def settle(conn: sa.Connection, workspace_id: int, person_ids: Sequence[int]) -> None:
    """After scoring claimed people: the clean leave the queue, the dirty are free again."""
    ids = list(person_ids)
    for start in range(0, len(ids), _CHUNK):
        mine = (scoring_queue.c.workspace_id == workspace_id) & scoring_queue.c.person_id.in_(
            ids[start : start + _CHUNK]
        )
        conn.execute(scoring_queue.delete().where(mine, scoring_queue.c.dirty.is_(False)))
        conn.execute(scoring_queue.update().where(mine).values(claimed_until=None, dirty=False))


def release(conn: sa.Connection, workspace_id: int, person_ids: Sequence[int]) -> None:
    """Give claimed people back unscored (the scoring failed): they are claimed again."""
    ids = list(person_ids)
    for start in range(0, len(ids), _CHUNK):
        conn.execute(
            scoring_queue.update()
            .where(
                scoring_queue.c.workspace_id == workspace_id,
                scoring_queue.c.person_id.in_(ids[start : start + _CHUNK]),
            )
            .values(claimed_until=None)
        )


def queued(conn: sa.Connection, workspace_id: int | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(scoring_queue)
    if workspace_id is not None:
        query = query.where(scoring_queue.c.workspace_id == workspace_id)
    return int(conn.execute(query).scalar_one())
