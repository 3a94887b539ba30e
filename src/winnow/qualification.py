"""Qualification: the two ways stages change, wired to the store.

`rescore` scores people with the live spec, stores the scores and applies the forward
moves rules and facts make. `act` applies a move a person makes (accept, nurture,
disqualify, qualify, ...). Both take a connection; the caller commits, so a move and
whatever else the caller writes land together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from winnow.clock import utcnow
from winnow.engine import PersonScore, score_frames, score_store
from winnow.handoff.queue import (
    OUTCOMES,
    QUEUE_STAGES,
    mark_hand_raises,
    notify_reengaged,
    on_moves,
    open_review,
)
from winnow.lifecycle import IllegalMove, Move, Snapshot, manual_move, promotions
from winnow.spec import Spec, load_spec
from winnow.store.frames import load_frames
from winnow.store.history import current_stages, record_moves
from winnow.store.schema import people, scores
from winnow.store.scores import save_scores
from winnow.store.specs import NoSpec, live_spec


@dataclass(frozen=True, kw_only=True)
class RescoreReport:
    spec_version: int
    as_of: datetime
    scored: int
    moves: tuple[Move, ...]


@dataclass(frozen=True, kw_only=True)
class Scoring:
    """Scores computed and not yet stored (see `score_people` and `apply_scores`)."""

    spec_version: int
    spec: Spec
    as_of: datetime
    results: tuple[PersonScore, ...]
    everyone: bool
    # Scored because their events arrived (the scorer's micro-batches), not on a schedule.
    touched: bool = False


def rescore(
    conn: sa.Connection,
    workspace_id: int,
    *,
    as_of: datetime | None = None,
    person_ids: Iterable[int] | None = None,
    spec: tuple[int, Spec] | None = None,
    on: str = "auto",
) -> RescoreReport:
    """Score people (everyone, or the given ones) and promote those whose criteria hold.

    `on` picks where the engine runs: "store" (inside the database, best for a few
    people), "duckdb" (copy out and score everyone at once), or "auto".
    """
    scoring = score_people(conn, workspace_id, as_of=as_of, person_ids=person_ids, spec=spec, on=on)
    return apply_scores(conn, workspace_id, scoring)


def score_people(
    conn: sa.Connection,
    workspace_id: int,
    *,
    as_of: datetime | None = None,
    person_ids: Iterable[int] | None = None,
    spec: tuple[int, Spec] | None = None,
    on: str = "auto",
    touched: bool = False,
) -> Scoring:
    """The scoring half of `rescore`: reads only, so it can run outside a write transaction."""
    if on not in ("auto", "store", "duckdb"):
        raise ValueError(f"on must be auto, store or duckdb, not {on!r}")
    as_of = as_of or utcnow()
    version, compiled = spec or live_spec(conn, workspace_id)
    everyone = person_ids is None
    if on == "duckdb" or (on == "auto" and everyone):
        if not everyone:
            raise ValueError("scoring on DuckDB rescores everyone; pass no person_ids")
        results = score_frames(compiled, **load_frames(conn, workspace_id), as_of=as_of)
    else:
        results = score_store(conn, workspace_id, compiled, as_of=as_of, person_ids=person_ids)
    return Scoring(
        spec_version=version,
        spec=compiled,
        as_of=as_of,
        results=tuple(results),
        everyone=everyone,
        touched=touched,
    )


def apply_scores(conn: sa.Connection, workspace_id: int, scoring: Scoring) -> RescoreReport:
    """The writing half of `rescore`: store the scores and make the promotions.

    A person whose stage changed since they were scored (someone acted meanwhile) is not
    promoted from the stage the scoring saw; their next scoring decides.
    """
    results, as_of = scoring.results, scoring.as_of
    save_scores(
        conn,
        workspace_id,
        results,
        spec_version=scoring.spec_version,
        as_of=as_of,
        replace_all=scoring.everyone,
    )
    moves = [move for result in results for move in _promotions(result, as_of)]
    if moves:
        seen = {r.person_id: r.stage for r in results}
        now = current_stages(conn, workspace_id, {m.person_id for m in moves})
        moves = [m for m in moves if now.get(m.person_id) == seen[m.person_id]]
    record_moves(conn, workspace_id, moves)
    conditions = {r.person_id: r.conditions for r in results}
    on_moves(conn, workspace_id, scoring.spec, moves, conditions=conditions)
    moved = {m.person_id for m in moves}
    raised = {r.person_id: r.hand_raises for r in results if r.hand_raises}
    mark_hand_raises(
        conn, workspace_id, {p: n for p, n in raised.items() if p not in moved}, at=as_of
    )
    if scoring.touched:
        notify_reengaged(conn, workspace_id, results, at=as_of)
    return RescoreReport(
        spec_version=scoring.spec_version, as_of=as_of, scored=len(results), moves=tuple(moves)
    )


def _promotions(result: PersonScore, at: datetime) -> list[Move]:
    snapshot = Snapshot(
        fit=result.fit, engagement=result.engagement, score=result.score, grade=result.grade
    )
    return promotions(
        person_id=result.person_id,
        stage=result.stage,
        criteria=result.criteria,
        at=at,
        snapshot=snapshot,
        hand_raises=result.hand_raises,
    )


class PersonNotFound(LookupError):
    pass


def act(
    conn: sa.Connection,
    workspace_id: int,
    person_id: int,
    action: str,
    *,
    actor: str,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> Move:
    """Apply a person-made move (see winnow.lifecycle.ACTIONS); raises IllegalMove."""
    row = (
        conn.execute(
            sa.select(
                people.c.stage, scores.c.fit, scores.c.engagement, scores.c.score, scores.c.grade
            )
            .select_from(people.outerjoin(scores, scores.c.person_id == people.c.id))
            .where(people.c.workspace_id == workspace_id, people.c.id == person_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise PersonNotFound(f"no person {person_id} in this workspace")
    move = manual_move(
        action=action,
        person_id=person_id,
        stage=row["stage"],
        actor=actor,
        at=at or utcnow(),
        reason=reason,
        details=details,
        snapshot=Snapshot(
            fit=row["fit"], engagement=row["engagement"], score=row["score"], grade=row["grade"]
        ),
    )
    record_moves(conn, workspace_id, [move])
    try:
        _, spec = live_spec(conn, workspace_id)
    except NoSpec:
        spec = load_spec("")
    on_moves(conn, workspace_id, spec, [move])
    return move


def review(
    conn: sa.Connection,
    workspace_id: int,
    person_id: int,
    outcome: str,
    *,
    reviewer: str,
    reason: str | None = None,
    at: datetime | None = None,
) -> Move:
    """Answer a review of the queue: ready (accept as SAL), nurture, or suspect (disqualify).

    Each answer needs a reason, so the team learns why leads are turned back or taken.
    """
    action = OUTCOMES.get(outcome)
    if action is None:
        raise IllegalMove(f"a review's outcome is ready, nurture or suspect, not {outcome!r}")
    if not reason or not reason.strip():
        raise IllegalMove(f"a review needs a reason ({outcome})")
    stage = conn.execute(
        sa.select(people.c.stage).where(
            people.c.workspace_id == workspace_id, people.c.id == person_id
        )
    ).scalar()
    if stage is None:
        raise PersonNotFound(f"no person {person_id} in this workspace")
    waiting = open_review(conn, workspace_id, person_id)
    if waiting is None or waiting.stage not in QUEUE_STAGES:
        raise IllegalMove(f"person {person_id} is not waiting for review (stage {stage})")
    return act(conn, workspace_id, person_id, action, actor=reviewer, reason=reason, at=at)


@dataclass(frozen=True, kw_only=True)
class BulkResult:
    moved: tuple[Move, ...]
    # (person id, why not) for the people the move does not apply to.
    refused: tuple[tuple[int, str], ...]


def act_many(
    conn: sa.Connection,
    workspace_id: int,
    person_ids: Iterable[int],
    action: str,
    *,
    actor: str,
    reason: str | None = None,
    at: datetime | None = None,
) -> BulkResult:
    """One move for many people (a bulk action): each is moved or refused with why."""
    moved: list[Move] = []
    refused: list[tuple[int, str]] = []
    for person_id in sorted(set(person_ids)):
        try:
            moved.append(
                act(conn, workspace_id, person_id, action, actor=actor, reason=reason, at=at)
            )
        except (IllegalMove, PersonNotFound) as exc:
            refused.append((person_id, str(exc)))
    return BulkResult(moved=tuple(moved), refused=tuple(refused))
