"""People: the filtered, paginated list, one person's whole picture, and moves."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Body, Query, Request

from winnow.leads import InvalidCursor, LeadFilter, LeadNotFound, lead_detail, list_leads
from winnow.lifecycle import ACTIONS, IllegalMove
from winnow.qualification import PersonNotFound, act
from winnow.server.api import (
    ERRORS,
    PREFIX,
    MemberKey,
    PathId,
    QueryId,
    ReadKey,
    actor,
    now,
    transaction,
)
from winnow.server.api.models import STORABLE, ActionRequest, Error, Move, PeoplePage, Person, Stage
from winnow.server.errors import ApiError

router = APIRouter(prefix=f"{PREFIX}/people", tags=["people"], responses=ERRORS)

Action = Literal[
    "accept", "nurture", "disqualify", "qualify", "open_opportunity", "won", "lost", "expansion"
]
assert set(get_args(Action)) == set(ACTIONS)


def _not_found(person_id: int) -> ApiError:
    return ApiError(404, "not_found", f"no person {person_id} in this workspace")


@router.get("")
def list_people(
    key: ReadKey,
    request: Request,
    stage: Stage | None = None,
    grade: Annotated[str | None, Query(max_length=1, pattern=STORABLE)] = None,
    min_score: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    max_score: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    account_id: QueryId = None,
    segment: Annotated[
        str | None, Query(max_length=200, pattern=STORABLE, description="In this segment now.")
    ] = None,
    q: Annotated[
        str | None, Query(description="Part of a name, email or company.", pattern=STORABLE)
    ] = None,
    sort: Annotated[
        Literal["-score", "score", "updated"],
        Query(description="-score (best first), score, or updated (latest first)."),
    ] = "-score",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None, Query(description="The next_cursor of the previous page.", pattern=STORABLE)
    ] = None,
) -> PeoplePage:
    """List people with their current score, filtered and sorted, a page at a time."""
    where = LeadFilter(
        stage=stage, grade=grade, min_score=min_score, max_score=max_score,
        account_id=account_id, q=q, segment=segment,
    )  # fmt: skip
    with transaction(request) as conn:
        try:
            page = list_leads(conn, key.workspace_id, where, sort=sort, limit=limit, cursor=cursor)
        except InvalidCursor as exc:
            raise ApiError(400, "invalid_cursor", str(exc)) from None
    return PeoplePage.model_validate({"data": page.items, "next_cursor": page.next_cursor})


@router.get("/{person_id}")
def get_person(person_id: PathId, key: ReadKey, request: Request) -> Person:
    """One person: profile, current score with every rule's points, stage history, events."""
    with transaction(request) as conn:
        try:
            lead = lead_detail(conn, key.workspace_id, person_id)
        except LeadNotFound:
            raise _not_found(person_id) from None
    return Person.model_validate(
        {
            "id": lead.person_id,
            "user_id": lead.user_id,
            "email": lead.email,
            "name": lead.name,
            "stage": lead.stage,
            "owner": lead.owner,
            "traits": lead.traits,
            "account": lead.account,
            "score": lead.score,
            "history": lead.history,
            "events": lead.timeline,
        }
    )


@router.post(
    "/{person_id}/actions/{action}",
    responses={409: {"model": Error, "description": "The lifecycle does not allow this move."}},
)
def move_person(
    person_id: PathId,
    action: Action,
    key: MemberKey,
    request: Request,
    body: Annotated[ActionRequest | None, Body()] = None,
) -> Move:
    """Move a person: accept, nurture, disqualify, qualify (BANT), open_opportunity, won, lost."""
    body = body or ActionRequest()
    with transaction(request) as conn:
        try:
            move = act(
                conn, key.workspace_id, person_id, action, actor=actor(key),
                reason=body.reason, details=body.bant.model_dump() if body.bant else None,
                at=now(request),
            )  # fmt: skip
        except PersonNotFound:
            raise _not_found(person_id) from None
        except IllegalMove as exc:
            raise ApiError(409, "illegal_move", str(exc)) from None
    return Move.of(move)
