"""Reading leads: one lead's whole picture (profile, score, explanation, history, events)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from winnow.clock import from_db
from winnow.store.history import HistoryEntry, person_history
from winnow.store.schema import accounts, events, people
from winnow.store.scores import person_score


class LeadNotFound(LookupError):
    pass


@dataclass(frozen=True, kw_only=True)
class TimelineEvent:
    name: str
    type: str
    timestamp: datetime
    properties: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class LeadDetail:
    person_id: int
    user_id: str | None
    email: str | None
    stage: str
    owner: str | None
    traits: dict[str, Any]
    account: dict[str, Any] | None
    score: dict[str, Any] | None
    history: list[HistoryEntry]
    timeline: list[TimelineEvent]

    @property
    def name(self) -> str | None:
        first = self.traits.get("firstName") or self.traits.get("first_name")
        last = self.traits.get("lastName") or self.traits.get("last_name")
        return " ".join(p for p in (first, last) if p) or self.traits.get("name")


def resolve_person(conn: sa.Connection, workspace_id: int, key: str) -> int:
    """A person's id from an id, a user id or an email."""
    conditions = [people.c.user_id == key, sa.func.lower(people.c.email) == key.lower()]
    if key.isdigit():
        conditions.insert(0, people.c.id == int(key))
    for condition in conditions:
        found = conn.execute(
            sa.select(people.c.id).where(people.c.workspace_id == workspace_id, condition).limit(1)
        ).scalar()
        if found is not None:
            return int(found)
    raise LeadNotFound(f"no person with id, user id or email {key!r} in this workspace")


def lead_detail(
    conn: sa.Connection, workspace_id: int, person_id: int, *, timeline: int = 50
) -> LeadDetail:
    row = (
        conn.execute(
            sa.select(people).where(people.c.workspace_id == workspace_id, people.c.id == person_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise LeadNotFound(f"no person {person_id} in this workspace")
    account = None
    if row["account_id"] is not None:
        found = conn.execute(sa.select(accounts).where(accounts.c.id == row["account_id"]))
        account_row = found.mappings().first()
        account = dict(account_row) if account_row else None
    recent = conn.execute(
        sa.select(events.c.name, events.c.type, events.c.timestamp, events.c.properties)
        .where(events.c.workspace_id == workspace_id, events.c.person_id == person_id)
        .order_by(events.c.timestamp.desc(), events.c.id.desc())
        .limit(timeline)
    ).mappings()
    return LeadDetail(
        person_id=row["id"],
        user_id=row["user_id"],
        email=row["email"],
        stage=row["stage"],
        owner=row["owner"],
        traits=dict(row["traits"] or {}),
        account=account,
        score=person_score(conn, workspace_id, person_id),
        history=person_history(conn, workspace_id, person_id),
        timeline=[
            TimelineEvent(
                name=e["name"],
                type=e["type"],
                timestamp=from_db(e["timestamp"]),
                properties=dict(e["properties"] or {}),
            )
            for e in recent
        ],
    )
