"""The scoring queue: people whose events arrived since they were last scored.

Ingestion enqueues the people a batch touched in the batch's own transaction, so an
accepted event is never forgotten by the scorer, even if the process dies right after.
Scorers claim people and delete them from the queue in their scoring transaction; on
PostgreSQL `FOR UPDATE SKIP LOCKED` lets several workers claim at once without ever
taking the same person twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from winnow.clock import to_db
from winnow.store.events import insert_or_skip
from winnow.store.schema import scoring_queue


def enqueue(
    conn: sa.Connection, workspace_id: int, person_ids: Iterable[int], *, at: datetime
) -> None:
    rows = [
        {"workspace_id": workspace_id, "person_id": p, "queued_at": to_db(at)}
        for p in sorted(set(person_ids))
    ]
    if rows:
        conn.execute(insert_or_skip(conn, scoring_queue), rows)


def claim(conn: sa.Connection, *, limit: int = 2000) -> dict[int, list[int]]:
    """Take up to `limit` queued people, oldest first: {workspace id: person ids}.

    They leave the queue when the caller commits; if it rolls back, they stay queued.
    """
    query = (
        sa.select(scoring_queue.c.workspace_id, scoring_queue.c.person_id)
        .order_by(scoring_queue.c.queued_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed: dict[int, list[int]] = defaultdict(list)
    for workspace_id, person_id in conn.execute(query):
        claimed[workspace_id].append(person_id)
    for workspace_id, person_ids in claimed.items():
        conn.execute(
            scoring_queue.delete().where(
                scoring_queue.c.workspace_id == workspace_id,
                scoring_queue.c.person_id.in_(person_ids),
            )
        )
    return dict(claimed)


def queued(conn: sa.Connection, workspace_id: int | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(scoring_queue)
    if workspace_id is not None:
        query = query.where(scoring_queue.c.workspace_id == workspace_id)
    return int(conn.execute(query).scalar_one())
