"""The lifecycle: stages, which moves rules may make, and which moves people make.

Rules only promote. After each scoring, the highest stage whose criterion holds and that
ranks above the person's current stage is where they go; nothing a rule says moves
anyone back. People move leads back (nurture, disqualify) and through the sales stages
(SAL, SQL, opportunity, won/lost). One fact moves people too: when their account's plan
becomes a paying one (spec `stages.customer_plans`), they become customers.

Ranks, low to high: subscriber < lead = nurture < mql < pql < sal < sql < opportunity
< customer < csql. A person in nurture ranks with leads, so fresh engagement (counted
from the recycle date) can qualify them again. Disqualified people are never promoted by
engagement rules; only becoming a paying customer moves them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from winnow.spec.expr import STAGES

RANK = {
    "subscriber": 0,
    "lead": 1,
    "nurture": 1,
    "mql": 2,
    "pql": 3,
    "sal": 4,
    "sql": 5,
    "opportunity": 6,
    "customer": 7,
    "csql": 8,
    "disqualified": -1,
}
assert set(RANK) == set(STAGES)

# Stages a rule can promote to, highest first.
RULE_STAGES = ("sql", "pql", "mql")
BANT = ("budget", "authority", "need", "timeline")


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """The score at the moment of a move."""

    fit: float | None = None
    engagement: float | None = None
    score: float | None = None
    grade: str | None = None


@dataclass(frozen=True, kw_only=True)
class Move:
    person_id: int
    from_stage: str | None
    to_stage: str
    at: datetime
    cause: str  # "rule:stages.mql", "fact:account.plan", "user:<who>"
    reason: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    snapshot: Snapshot = Snapshot()


class IllegalMove(ValueError):
    """A person-made move that the lifecycle does not allow, with why."""


def promotions(
    *,
    person_id: int,
    stage: str,
    criteria: Mapping[str, bool],
    at: datetime,
    snapshot: Snapshot,
    hand_raises: Sequence[str] = (),
) -> list[Move]:
    """The forward moves rules and facts make for one person after a scoring.

    A hand-raise (spec `handoff.hand_raise`: a demo request, say) makes an MQL of anyone
    below, whatever their score: they asked for sales.
    """
    moves: list[Move] = []
    current = stage
    if criteria.get("customer") and current not in ("customer", "csql"):
        moves.append(
            Move(
                person_id=person_id,
                from_stage=current,
                to_stage="customer",
                at=at,
                cause="fact:account.plan",
                snapshot=snapshot,
            )
        )
        current = "customer"
    if current == "customer":
        if criteria.get("csql"):
            moves.append(
                Move(
                    person_id=person_id,
                    from_stage=current,
                    to_stage="csql",
                    at=at,
                    cause="rule:stages.csql",
                    snapshot=snapshot,
                )
            )
        return moves
    if current == "disqualified":
        return moves
    for target in RULE_STAGES:
        if criteria.get(target) and RANK[target] > RANK[current]:
            moves.append(
                Move(
                    person_id=person_id,
                    from_stage=current,
                    to_stage=target,
                    at=at,
                    cause=f"rule:stages.{target}",
                    snapshot=snapshot,
                )
            )
            return moves
    if hand_raises and RANK[current] < RANK["mql"]:
        moves.append(
            Move(
                person_id=person_id,
                from_stage=current,
                to_stage="mql",
                at=at,
                cause=f"rule:handoff.hand_raise.{hand_raises[0]}",
                snapshot=snapshot,
            )
        )
    return moves


# Person-made moves: action -> (target stage, stages it may start from).
ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "accept": ("sal", ("mql", "pql")),
    "nurture": ("nurture", ("lead", "mql", "pql", "sal", "sql", "opportunity")),
    "disqualify": ("disqualified", ("subscriber", "lead", "nurture", "mql", "pql", "sal", "sql")),
    "qualify": ("sql", ("sal", "mql", "pql")),
    "open_opportunity": ("opportunity", ("sql",)),
    "won": ("customer", ("opportunity", "csql")),
    "lost": ("nurture", ("opportunity",)),
    "expansion": ("csql", ("customer",)),
}
_NEEDS_REASON = {"nurture", "disqualify", "lost"}


def manual_move(
    *,
    action: str,
    person_id: int,
    stage: str,
    actor: str,
    at: datetime,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
    snapshot: Snapshot = Snapshot(),
) -> Move:
    """A move made by a person, checked against the lifecycle; raises IllegalMove."""
    if action not in ACTIONS:
        raise IllegalMove(f"unknown action {action!r}; actions are: {', '.join(ACTIONS)}")
    target, sources = ACTIONS[action]
    if stage not in sources:
        raise IllegalMove(
            f"cannot {action.replace('_', ' ')} person {person_id}: they are in stage "
            f"{stage!r}, and only {', '.join(sources)} can move to {target}"
        )
    if action in _NEEDS_REASON and not (reason and reason.strip()):
        raise IllegalMove(f"{action.replace('_', ' ')} needs a reason")
    details = dict(details or {})
    if action == "qualify":
        missing = [k for k in BANT if not str(details.get(k) or "").strip()]
        if missing:
            raise IllegalMove(f"qualifying as SQL needs BANT; missing: {', '.join(missing)}")
    if action in ("lost", "won"):
        details["outcome"] = action
    if action == "won" and stage == "csql":
        details["expansion"] = True
    if not actor.strip():
        raise IllegalMove("a move made by a person needs the actor's name")
    return Move(
        person_id=person_id,
        from_stage=stage,
        to_stage=target,
        at=at,
        cause=f"user:{actor}",
        reason=reason,
        details=details,
        snapshot=snapshot,
    )
