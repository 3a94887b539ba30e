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
    rows = []
    for move in moves:
        values: dict[str, Any] = {"stage": move.to_stage, "stage_changed_at": to_db(move.at)}
        if move.to_stage == "nurture":
            # Engagement counts afresh from here (see winnow.engine.compile).
            values["recycled_at"] = to_db(move.at)
        conn.execute(
            people.update()
            .where(people.c.workspace_id == workspace_id, people.c.id == move.person_id)
            .values(**values)
        )
        rows.append(
            {
                "workspace_id": workspace_id,
                "person_id": move.person_id,
                "from_stage": move.from_stage,
                "to_stage": move.to_stage,
                "at": to_db(move.at),
                "cause": move.cause,
                "reason": move.reason,
                "details": dict(move.details),
                "fit": move.snapshot.fit,
                "engagement": move.snapshot.engagement,
                "score": move.snapshot.score,
                "grade": move.snapshot.grade,
            }
        )
    if rows:
        conn.execute(stage_history.insert(), rows)
    return len(rows)


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
