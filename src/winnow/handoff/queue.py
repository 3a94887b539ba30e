"""The review queue: who sales must look at, whose they are, and by when.

Every move passes through `on_moves`, in the transaction that makes it:

- the person's open review closes. Its outcome is the review's answer when a person
  made the move from the queue (accept -> "ready", nurture -> "nurture", disqualify ->
  "suspect"), else "advanced" (qualified straight to SQL, became a customer, ...).
- entering a queue stage (mql, pql) or a stage with an SLA opens a review: an owner
  from the spec's `handoff.owners` (first rule whose `when` holds; a round-robin rule
  takes the next name in its rotation; a person who has an owner keeps them), the SLA's
  deadline in business time (`handoff.sla`, `handoff.calendar`), and the hand-raise
  that brought them, if one did.
- the happening goes to the outbox (`person.<stage>`; `account.converted` when the
  first person of an account becomes a customer because it started paying).

The queue is the open reviews of queue stages, hand-raises first (earliest first), then
by deadline, then by arrival. `breach_overdue` marks reviews past their deadline once
and notifies `review.overdue`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from winnow.clock import from_db, to_db
from winnow.engine import PersonScore
from winnow.lifecycle import Move
from winnow.notify.outbox import emit
from winnow.notify.payloads import person_data
from winnow.spec import Spec
from winnow.store.events import insert_or_skip
from winnow.store.schema import notifications, owner_rotation, people, reviews, scores

QUEUE_STAGES = ("mql", "pql")
# A review's answer -> the move it makes (winnow.lifecycle.ACTIONS).
OUTCOMES = {"ready": "accept", "nurture": "nurture", "suspect": "disqualify"}
_ANSWERS = {"sal": "ready", "nurture": "nurture", "disqualified": "suspect"}


@dataclass(frozen=True, kw_only=True)
class Review:
    id: int
    person_id: int
    stage: str
    entered_at: datetime
    owner: str | None
    due_at: datetime | None
    hand_raise: str | None
    raised_at: datetime | None
    breached_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    reason: str | None
    reviewer: str | None

    def overdue(self, now: datetime) -> bool:
        return self.closed_at is None and self.due_at is not None and self.due_at <= now


def _review(row: sa.RowMapping) -> Review:
    def instant(value: datetime | None) -> datetime | None:
        return from_db(value) if value is not None else None

    return Review(
        id=row["id"],
        person_id=row["person_id"],
        stage=row["stage"],
        entered_at=from_db(row["entered_at"]),
        owner=row["owner"],
        due_at=instant(row["due_at"]),
        hand_raise=row["hand_raise"],
        raised_at=instant(row["raised_at"]),
        breached_at=instant(row["breached_at"]),
        closed_at=instant(row["closed_at"]),
        outcome=row["outcome"],
        reason=row["reason"],
        reviewer=row["reviewer"],
    )


def on_moves(
    conn: sa.Connection,
    workspace_id: int,
    spec: Spec,
    moves: Sequence[Move],
    *,
    conditions: Mapping[int, Mapping[str, bool]] | None = None,
) -> None:
    """Close, open and assign reviews for these moves, and notify (see the top)."""
    if not moves:
        return
    known = dict(conditions or {})
    missing = {m.person_id for m in moves} - known.keys()
    known |= _stored_conditions(conn, workspace_id, missing)
    handoff = spec.document.handoff
    calendar = handoff.calendar.business() if handoff.sla else None
    converted: set[int] = set()
    for move in moves:
        _close(conn, workspace_id, move)
        owner = None
        review = None
        if move.to_stage in QUEUE_STAGES or move.to_stage in handoff.sla:
            owner = _assign(conn, workspace_id, spec, move.person_id, known[move.person_id])
            sla = handoff.sla.get(move.to_stage)  # type: ignore[call-overload]
            due = calendar.add(move.at, sla) if calendar is not None and sla else None
            raised = _hand_raise(move, known[move.person_id], spec)
            conn.execute(
                reviews.insert().values(
                    workspace_id=workspace_id,
                    person_id=move.person_id,
                    stage=move.to_stage,
                    entered_at=to_db(move.at),
                    owner=owner,
                    due_at=to_db(due) if due else None,
                    hand_raise=raised,
                    raised_at=to_db(move.at) if raised else None,
                )
            )
            review = {"due_at": _iso(due), "hand_raise": raised}
        data = person_data(conn, workspace_id, move.person_id, move=move, owner=owner)
        if review is not None:
            data["review"] = review
        emit(conn, workspace_id, f"person.{move.to_stage}", data, at=move.at,
             person_id=move.person_id)  # fmt: skip
        account = data["account"]
        if move.cause == "fact:account.plan" and account and account["id"] not in converted:
            converted.add(account["id"])
            if _first_customer(conn, workspace_id, account["id"], moves):
                emit(conn, workspace_id, "account.converted", data, at=move.at,
                     person_id=move.person_id)  # fmt: skip


def mark_hand_raises(
    conn: sa.Connection,
    workspace_id: int,
    raised: Mapping[int, Sequence[str]],
    *,
    at: datetime,
) -> int:
    """Move people already waiting in the queue to its front when they raise a hand."""
    marked = 0
    for person_id, names in raised.items():
        if not names:
            continue
        result = conn.execute(
            reviews.update()
            .where(
                reviews.c.workspace_id == workspace_id,
                reviews.c.person_id == person_id,
                reviews.c.closed_at.is_(None),
                reviews.c.stage.in_(QUEUE_STAGES),
                reviews.c.hand_raise.is_(None),
            )
            .values(hand_raise=names[0], raised_at=to_db(at))
        )
        marked += result.rowcount
    return marked


def breach_overdue(
    conn: sa.Connection, workspace_id: int, spec: Spec, *, now: datetime
) -> list[Review]:
    """Reviews past their deadline, each marked (and notified) once."""
    query = sa.select(reviews).where(
        reviews.c.workspace_id == workspace_id,
        reviews.c.closed_at.is_(None),
        reviews.c.breached_at.is_(None),
        reviews.c.due_at <= to_db(now),
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    found = [_review(r) for r in conn.execute(query.order_by(reviews.c.due_at)).mappings()]
    calendar = spec.document.handoff.calendar.business()
    for review in found:
        conn.execute(
            reviews.update().where(reviews.c.id == review.id).values(breached_at=to_db(now))
        )
        assert review.due_at is not None
        late = calendar.between(review.due_at, now) / 3600
        data = person_data(conn, workspace_id, review.person_id, owner=review.owner)
        data["review"] = {
            "stage": review.stage,
            "entered_at": _iso(review.entered_at),
            "due_at": _iso(review.due_at),
            "overdue_by_hours": round(late, 2),
        }
        emit(conn, workspace_id, "review.overdue", data, at=now, person_id=review.person_id)
    return found


def notify_reengaged(
    conn: sa.Connection, workspace_id: int, results: Sequence[PersonScore], *, at: datetime
) -> int:
    """Disqualified people active again whose score or a hand-raise says so: notified once
    per disqualification (`person.reengaged`). Call it for people whose events arrived."""
    back = [
        r for r in results if r.stage == "disqualified" and (r.criteria.get("mql") or r.hand_raises)
    ]
    notified = 0
    for result in back:
        since = conn.execute(
            sa.select(people.c.stage_changed_at).where(
                people.c.workspace_id == workspace_id, people.c.id == result.person_id
            )
        ).scalar_one()
        already = conn.execute(
            sa.select(notifications.c.id).where(
                notifications.c.workspace_id == workspace_id,
                notifications.c.person_id == result.person_id,
                notifications.c.type == "person.reengaged",
                notifications.c.created_at >= since,
            )
        ).first()
        if already is None:
            data = person_data(conn, workspace_id, result.person_id)
            data["hand_raises"] = result.hand_raises
            if emit(conn, workspace_id, "person.reengaged", data, at=at,
                    person_id=result.person_id):  # fmt: skip
                notified += 1
    return notified


def open_review(conn: sa.Connection, workspace_id: int, person_id: int) -> Review | None:
    row = (
        conn.execute(
            sa.select(reviews)
            .where(
                reviews.c.workspace_id == workspace_id,
                reviews.c.person_id == person_id,
                reviews.c.closed_at.is_(None),
            )
            .order_by(reviews.c.id.desc())
        )
        .mappings()
        .first()
    )
    return None if row is None else _review(row)


def queue(
    conn: sa.Connection,
    workspace_id: int,
    *,
    owner: str | None = None,
    overdue_at: datetime | None = None,
    limit: int = 100,
) -> list[Review]:
    """The open reviews of queue stages, front first; `overdue_at`: only those late then."""
    query = sa.select(reviews).where(
        reviews.c.workspace_id == workspace_id,
        reviews.c.closed_at.is_(None),
        reviews.c.stage.in_(QUEUE_STAGES),
    )
    if owner is not None:
        query = query.where(reviews.c.owner == owner)
    if overdue_at is not None:
        query = query.where(reviews.c.due_at <= to_db(overdue_at))
    query = query.order_by(
        reviews.c.raised_at.is_(None),
        reviews.c.raised_at,
        reviews.c.due_at.is_(None),
        reviews.c.due_at,
        reviews.c.entered_at,
        reviews.c.id,
    ).limit(limit)
    return [_review(r) for r in conn.execute(query).mappings()]


def waiting_counts(conn: sa.Connection, workspace_id: int, *, now: datetime) -> tuple[int, int]:
    """(waiting, overdue): the open reviews of queue stages, and those past their SLA."""
    late = sa.case((reviews.c.due_at <= to_db(now), 1), else_=0)
    waiting, overdue = conn.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(late), 0)).where(
            reviews.c.workspace_id == workspace_id,
            reviews.c.closed_at.is_(None),
            reviews.c.stage.in_(QUEUE_STAGES),
        )
    ).one()
    return int(waiting), int(overdue)


def owners(conn: sa.Connection, workspace_id: int, *, now: datetime) -> list[dict[str, Any]]:
    """Each owner of open queue reviews: how many wait, how many are past their SLA."""
    late = sa.case((reviews.c.due_at <= to_db(now), 1), else_=0)
    rows = conn.execute(
        sa.select(
            reviews.c.owner,
            sa.func.count().label("open"),
            sa.func.coalesce(sa.func.sum(late), 0).label("overdue"),
        )
        .where(
            reviews.c.workspace_id == workspace_id,
            reviews.c.closed_at.is_(None),
            reviews.c.stage.in_(QUEUE_STAGES),
            reviews.c.owner.is_not(None),
        )
        .group_by(reviews.c.owner)
        .order_by(reviews.c.owner)
    ).mappings()
    return [{"owner": r["owner"], "open": r["open"], "overdue": int(r["overdue"])} for r in rows]


def person_reviews(conn: sa.Connection, workspace_id: int, person_id: int) -> list[Review]:
    query = sa.select(reviews).where(
        reviews.c.workspace_id == workspace_id, reviews.c.person_id == person_id
    )
    return [_review(r) for r in conn.execute(query.order_by(reviews.c.id)).mappings()]


# -- inside on_moves -------------------------------------------------------------------------
def _close(conn: sa.Connection, workspace_id: int, move: Move) -> None:
    by_person = move.cause.startswith("user:")
    outcome = _ANSWERS.get(move.to_stage, "advanced") if by_person else "advanced"
    conn.execute(
        reviews.update()
        .where(
            reviews.c.workspace_id == workspace_id,
            reviews.c.person_id == move.person_id,
            reviews.c.closed_at.is_(None),
        )
        .values(
            closed_at=to_db(move.at),
            outcome=outcome,
            reason=move.reason,
            reviewer=move.cause.removeprefix("user:") if by_person else None,
        )
    )


def _stored_conditions(
    conn: sa.Connection, workspace_id: int, person_ids: Iterable[int]
) -> dict[int, Mapping[str, bool]]:
    """The conditions of the latest scoring, for moves made without one (by people)."""
    wanted = sorted(set(person_ids))
    found: dict[int, Mapping[str, bool]] = {p: {} for p in wanted}
    if wanted:
        rows = conn.execute(
            sa.select(scores.c.person_id, scores.c.criteria).where(
                scores.c.workspace_id == workspace_id, scores.c.person_id.in_(wanted)
            )
        )
        found |= {person_id: criteria or {} for person_id, criteria in rows}
    return found


def _hand_raise(move: Move, conditions: Mapping[str, bool], spec: Spec) -> str | None:
    prefix = "rule:handoff.hand_raise."
    if move.cause.startswith(prefix):
        return move.cause.removeprefix(prefix)
    return next((n for n in spec.hand_raises if conditions.get(f"hand_raise:{n}")), None)


def _assign(
    conn: sa.Connection,
    workspace_id: int,
    spec: Spec,
    person_id: int,
    conditions: Mapping[str, bool],
) -> str | None:
    current = conn.execute(
        sa.select(people.c.owner).where(
            people.c.workspace_id == workspace_id, people.c.id == person_id
        )
    ).scalar_one()
    if current:
        return str(current)
    for index, route in enumerate(spec.document.handoff.owners):
        if route.when is not None and not conditions.get(f"route:{index}"):
            continue
        owner = route.owner or _rotate(conn, workspace_id, index, route.round_robin or [])
        conn.execute(
            people.update()
            .where(people.c.workspace_id == workspace_id, people.c.id == person_id)
            .values(owner=owner)
        )
        return owner
    return None


def _rotate(conn: sa.Connection, workspace_id: int, index: int, owners: Sequence[str]) -> str:
    """The next owner of a round-robin rule. Editing the list starts a new rotation."""
    digest = hashlib.sha1("\n".join(owners).encode(), usedforsecurity=False).hexdigest()
    rule = f"{index}:{digest[:16]}"
    conn.execute(
        insert_or_skip(conn, owner_rotation).values(
            workspace_id=workspace_id, rule=rule, position=0
        )
    )
    where = (owner_rotation.c.workspace_id == workspace_id) & (owner_rotation.c.rule == rule)
    position = conn.execute(
        sa.select(owner_rotation.c.position).where(where).with_for_update()
    ).scalar_one()
    conn.execute(owner_rotation.update().where(where).values(position=position + 1))
    return owners[int(position) % len(owners)]


def _first_customer(
    conn: sa.Connection, workspace_id: int, account_id: int, moves: Sequence[Move]
) -> bool:
    """No one of the account was a customer before these moves.

    Scorers promoting different members of one account at once are put in order by the
    account's rollup row, which each writes first (winnow.store.scores), so the second
    counts the first one's customers.
    """
    moved = {m.person_id for m in moves}
    earlier = conn.execute(
        sa.select(sa.func.count())
        .select_from(people)
        .where(
            people.c.workspace_id == workspace_id,
            people.c.account_id == account_id,
            people.c.stage.in_(("customer", "csql")),
            people.c.id.not_in(moved),
        )
    ).scalar_one()
    return int(earlier) == 0


def _iso(at: datetime | None) -> str | None:
    return None if at is None else to_db(at).isoformat() + "Z"
