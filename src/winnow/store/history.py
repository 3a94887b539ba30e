"""Stage history: recording moves and reading a person's past."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from winnow.clock import from_db, to_db
from winnow.lifecycle import Move
from winnow.store.schema import people, stage_history


@dataclass(frozen=True, kw_only=True)
class HistoryEntry:
    person_id: int
    from_stage: str | None
    to_stage: str
    at: datetime
    cause: str
    reason: str | None
    details: dict[str, Any]
    fit: float | None
    engagement: float | None
    score: float | None
    grade: str | None


def record_moves(conn: sa.Connection, workspace_id: int, moves: Iterable[Move]) -> int:
    """Apply moves to people and append them to the history; returns how many."""
    moves = list(moves)
    if not moves:
        return 0
    # One statement for all: a move to nurture also sets recycled_at (engagement counts
    # afresh from there, see winnow.engine.compile); the others keep theirs.
    conn.execute(
        people.update()
        .where(people.c.workspace_id == workspace_id, people.c.id == sa.bindparam("m_person"))
        .values(
            stage=sa.bindparam("m_stage"),
            stage_changed_at=sa.bindparam("m_at"),
            recycled_at=sa.case(
                (sa.bindparam("m_recycles", type_=sa.Boolean), sa.bindparam("m_at")),
                else_=people.c.recycled_at,
            ),
        ),
        [
            {
                "m_person": m.person_id,
                "m_stage": m.to_stage,
                "m_at": to_db(m.at),
                "m_recycles": m.to_stage == "nurture",
            }
            for m in moves
        ],
    )
    conn.execute(
        stage_history.insert(),
        [
            {
                "workspace_id": workspace_id,
                "person_id": m.person_id,
                "from_stage": m.from_stage,
                "to_stage": m.to_stage,
                "at": to_db(m.at),
                "cause": m.cause,
                "reason": m.reason,
                "details": dict(m.details),
                "fit": m.snapshot.fit,
                "engagement": m.snapshot.engagement,
                "score": m.snapshot.score,
                "grade": m.snapshot.grade,
            }
            for m in moves
        ],
    )
    return len(moves)


def current_stages(
    conn: sa.Connection, workspace_id: int, person_ids: Iterable[int]
) -> dict[int, str]:
    """Each person's stage now, row-locked (PostgreSQL) until the caller commits."""
    query = (
        sa.select(people.c.id, people.c.stage)
        .where(people.c.workspace_id == workspace_id, people.c.id.in_(sorted(set(person_ids))))
        .order_by(people.c.id)
        .with_for_update(key_share=True)
    )
    return {person_id: stage for person_id, stage in conn.execute(query)}


def person_history(conn: sa.Connection, workspace_id: int, person_id: int) -> list[HistoryEntry]:
    rows = conn.execute(
        sa.select(stage_history)
        .where(stage_history.c.workspace_id == workspace_id, stage_history.c.person_id == person_id)
        .order_by(stage_history.c.at, stage_history.c.id)
    ).mappings()
    return [
        HistoryEntry(
            person_id=r["person_id"],
            from_stage=r["from_stage"],
            to_stage=r["to_stage"],
            at=from_db(r["at"]),
            cause=r["cause"],
            reason=r["reason"],
            details=dict(r["details"] or {}),
            fit=r["fit"],
            engagement=r["engagement"],
            score=r["score"],
            grade=r["grade"],
        )
        for r in rows
    ]
