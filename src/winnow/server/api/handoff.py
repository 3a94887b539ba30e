"""The review queue: who waits for sales, whose they are, and the answers to reviews."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from winnow.handoff.queue import owners, queue
from winnow.leads import LeadFilter, list_leads
from winnow.lifecycle import IllegalMove
from winnow.qualification import PersonNotFound, review
from winnow.server.api import (
    ERRORS,
    PREFIX,
    MemberKey,
    PathId,
    ReadKey,
    actor,
    now,
    transaction,
)
from winnow.server.api.models import STORABLE, Error, Move, Owner, QueueItem, ReviewRequest
from winnow.server.errors import ApiError

router = APIRouter(prefix=PREFIX, tags=["handoff"], responses=ERRORS)


@router.get("/queue")
def get_queue(
    key: ReadKey,
    request: Request,
    owner: Annotated[str | None, Query(max_length=200, pattern=STORABLE)] = None,
    overdue: Annotated[bool, Query(description="Only those past their SLA.")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[QueueItem]:
    """MQLs and PQLs waiting for review: hand-raises first, then by SLA deadline."""
    at = now(request)
    with transaction(request) as conn:
        waiting = queue(
            conn, key.workspace_id, owner=owner, overdue_at=at if overdue else None, limit=limit
        )
        ids = tuple(r.person_id for r in waiting)
        found = list_leads(conn, key.workspace_id, LeadFilter(person_ids=ids), limit=len(ids) or 1)
    summaries = {s.person_id: s for s in found.items}
    return [
        QueueItem.model_validate(
            {
                "review_id": r.id,
                "person": summaries[r.person_id],
                "stage": r.stage,
                "entered_at": r.entered_at,
                "owner": r.owner,
                "due_at": r.due_at,
                "overdue": r.overdue(at),
                "hand_raise": r.hand_raise,
            }
        )
        for r in waiting
    ]


@router.get("/owners")
def get_owners(key: ReadKey, request: Request) -> list[Owner]:
    """Everyone who owns reviews: how many wait for them, how many are late."""
    with transaction(request) as conn:
        found = owners(conn, key.workspace_id, now=now(request))
    return [Owner.model_validate(o) for o in found]


@router.post(
    "/people/{person_id}/review",
    responses={409: {"model": Error, "description": "The person is not waiting for review."}},
)
def post_review(person_id: PathId, body: ReviewRequest, key: MemberKey, request: Request) -> Move:
    """Answer a review: ready (accept as SAL), nurture, or suspect (disqualify), with why."""
    with transaction(request) as conn:
        try:
            move = review(
                conn, key.workspace_id, person_id, body.outcome, reviewer=actor(key),
                reason=body.reason, at=now(request),
            )  # fmt: skip
        except PersonNotFound:
            raise ApiError(404, "not_found", f"no person {person_id} in this workspace") from None
        except IllegalMove as exc:
            raise ApiError(409, "illegal_move", str(exc)) from None
    return Move.of(move)
