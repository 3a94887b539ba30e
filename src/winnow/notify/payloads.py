"""What a notification says about a person: who, which company, the stage change, the score.

The payload is built when the happening is written to the outbox, so a retry days later
sends what was true then. It is kept small (Standard Webhooks suggests under ~20 KB):
the top reasons, not the whole explanation.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from winnow.lifecycle import Move
from winnow.store.people import display_name, get_account, get_person
from winnow.store.scores import person_score

TOP_REASONS = 5


def person_data(
    conn: sa.Connection,
    workspace_id: int,
    person_id: int,
    *,
    move: Move | None = None,
    owner: str | None = None,
    review: dict[str, Any] | None = None,
) -> dict[str, Any]:
    person = get_person(conn, workspace_id, person_id)
    account = (
        get_account(conn, workspace_id, person.account_id)
        if person.account_id is not None
        else None
    )
    score = person_score(conn, workspace_id, person_id)
    return {
        "person": {
            "id": person.id,
            "user_id": person.user_id,
            "name": display_name(person.traits),
            "email": person.email,
            "title": person.traits.get("title"),
            "stage": person.stage,
        },
        "account": None
        if account is None
        else {
            "id": account.id,
            "group_id": account.group_id,
            "name": account.name,
            "domain": account.domain,
            "plan": account.plan,
        },
        "stage_change": None
        if move is None
        else {
            "from": move.from_stage,
            "to": move.to_stage,
            "at": move.at.isoformat().replace("+00:00", "Z"),
            "cause": move.cause,
            "reason": move.reason,
        },
        "score": None
        if score is None
        else {k: score[k] for k in ("fit", "grade", "engagement", "score")},
        "reasons": reasons(score["explanation"]) if score is not None else [],
        "owner": owner if owner is not None else person.owner,
        "review": review,
    }


def reasons(explanation: dict[str, Any]) -> list[dict[str, Any]]:
    """The rules that weighed most, either way: fit hits and engagement points."""
    found = [
        {"rule": r["rule"], "points": float(r["points"])}
        for r in [*explanation.get("fit", []), *explanation.get("engagement", [])]
        if r.get("points")
    ]
    found.sort(key=lambda r: (-abs(r["points"]), r["rule"]))
    return found[:TOP_REASONS]
