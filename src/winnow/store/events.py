"""Events and rejected messages: what was accepted (once per message id) and what was not."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from winnow.clock import from_db, to_db
from winnow.store.schema import events, rejected_messages

# IN lists stay well under SQLite's bound-parameter limit and PostgreSQL's planner sweet spot.
CHUNK = 500


@dataclass(frozen=True, kw_only=True)
class Rejected:
    """A message or row that was not accepted, kept verbatim with why."""

    source: str
    position: str | None
    reason: str
    payload: str


@dataclass(frozen=True, kw_only=True)
class RejectedMessage:
    id: int
    received_at: datetime
    source: str
    position: str | None
    reason: str
    payload: str


def insert_or_skip(conn: sa.Connection, table: sa.Table) -> Any:
    """An INSERT that skips rows colliding with a unique key, on SQLite and PostgreSQL.

    Skipping at the database (rather than checking first) stays correct when two
    transactions write the same key at once: the second waits for the first, then skips.
    """
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise NotImplementedError(f"no conflict-skipping insert for {conn.dialect.name}")


def chunked(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_STORED_POSTGRES = sa.text(
    "SELECT m.id FROM unnest(CAST(:ids AS text[])) AS m(id) CROSS JOIN LATERAL"
    " (SELECT 1 FROM events AS e WHERE e.workspace_id = :workspace_id"
    " AND e.message_id = m.id LIMIT 1) AS hit"
)


def stored_message_ids(
    conn: sa.Connection, workspace_id: int, message_ids: Iterable[str]
) -> set[str]:
    """Which of these message ids the workspace already has."""
    wanted = sorted(set(message_ids))
    if conn.dialect.name == "postgresql" and wanted:
        # One unique-index probe per id, whatever the statistics say. With `IN (...)`,
        # a table filled in the same transaction (no ANALYZE yet: a demo, a big import)
        # gets planned as a scan of the workspace's events, once per call.
        return set(
            conn.execute(_STORED_POSTGRES, {"ids": wanted, "workspace_id": workspace_id}).scalars()
        )
    found: set[str] = set()
    for chunk in chunked(wanted):
        found.update(
            conn.execute(
                sa.select(events.c.message_id).where(
                    events.c.workspace_id == workspace_id, events.c.message_id.in_(chunk)
                )
            ).scalars()
        )
    return found


def insert_events(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """Insert event rows, skipping message ids already stored; returns the ids inserted.

    Each row has the columns of `events` except `id`; timestamps are naive UTC.
    """
    if not rows:
        return set()
    # Small pages: psycopg re-parses every statement text too big for its cache, and with
    # RETURNING one page is one statement (1,000-row pages ran ~1.5x slower).
    statement = (
        insert_or_skip(conn, events)
        .returning(events.c.message_id)
        .execution_options(insertmanyvalues_page_size=100)
    )
    return set(conn.execute(statement, list(rows)).scalars())


def move_events(conn: sa.Connection, workspace_id: int, from_person: int, to_person: int) -> None:
    conn.execute(
        events.update()
        .where(events.c.workspace_id == workspace_id, events.c.person_id == from_person)
        .values(person_id=to_person)
    )


def insert_rejected(
    conn: sa.Connection, workspace_id: int, rejected: Sequence[Rejected], *, received_at: datetime
) -> None:
    if not rejected:
        return
    at = to_db(received_at)
    conn.execute(
        rejected_messages.insert(),
        [
            {
                "workspace_id": workspace_id,
                "received_at": at,
                "source": r.source[:200],
                "position": r.position,
                "reason": r.reason,
                "payload": r.payload,
            }
            for r in rejected
        ],
    )


def list_rejected(
    conn: sa.Connection,
    workspace_id: int,
    *,
    source: str | None = None,
    limit: int = 100,
    after: RejectedMessage | None = None,
) -> list[RejectedMessage]:
    """The newest rejected messages first (optionally from one source).

    `after` (the last message of a previous page) pages on: only messages older than it
    in this order (received_at, then id, both descending) come back.
    """
    query = sa.select(rejected_messages).where(rejected_messages.c.workspace_id == workspace_id)
    if source is not None:
        query = query.where(rejected_messages.c.source == source)
    if after is not None:
        at = to_db(after.received_at)
        query = query.where(
            sa.or_(
                rejected_messages.c.received_at < at,
                sa.and_(rejected_messages.c.received_at == at, rejected_messages.c.id < after.id),
            )
        )
    rows = conn.execute(
        query.order_by(rejected_messages.c.received_at.desc(), rejected_messages.c.id.desc()).limit(
            limit
        )
    ).mappings()
    return [_rejected(r) for r in rows]


def get_rejected(
    conn: sa.Connection, workspace_id: int, rejected_id: int
) -> RejectedMessage | None:
    row = (
        conn.execute(
            sa.select(rejected_messages).where(
                rejected_messages.c.workspace_id == workspace_id,
                rejected_messages.c.id == rejected_id,
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else _rejected(row)


def _rejected(r: sa.RowMapping) -> RejectedMessage:
    return RejectedMessage(
        id=r["id"],
        received_at=from_db(r["received_at"]),
        source=r["source"],
        position=r["position"],
        reason=r["reason"],
        payload=r["payload"],
    )
