"""Current scores: the latest score of each person and account, with its explanation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from winnow.clock import from_db, to_db
from winnow.engine import PersonScore
from winnow.store.people import display_name
from winnow.store.schema import account_scores, accounts, people, scores

_CHUNK = 5000


def save_scores(
    conn: sa.Connection,
    workspace_id: int,
    results: Sequence[PersonScore],
    *,
    spec_version: int,
    as_of: datetime,
    replace_all: bool = False,
) -> None:
    """Store scores (replacing earlier ones of the same people) and their accounts' rollups."""
    stamp = to_db(as_of)
    if replace_all:
        conn.execute(scores.delete().where(scores.c.workspace_id == workspace_id))
        conn.execute(account_scores.delete().where(account_scores.c.workspace_id == workspace_id))
    ids = [r.person_id for r in results]
    account_rows: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = results[start : start + _CHUNK]
        if not replace_all:
            conn.execute(
                scores.delete().where(
                    scores.c.workspace_id == workspace_id,
                    scores.c.person_id.in_([r.person_id for r in chunk]),
                )
            )
        conn.execute(
            scores.insert(),
            [
                {
                    "workspace_id": workspace_id,
                    "person_id": r.person_id,
                    "spec_version": spec_version,
                    "as_of": stamp,
                    "fit": r.fit,
                    "grade": r.grade,
                    "engagement": r.engagement,
                    "score": r.score,
                    "metrics": r.metrics,
                    "explanation": r.explanation(),
                    "criteria": {
                        **r.criteria,
                        **r.conditions,
                    },
                }
                for r in chunk
            ],
        )
        for r in chunk:
            if r.account_id is not None:
                account_rows.setdefault(
                    r.account_id,
                    {
                        "workspace_id": workspace_id,
                        "account_id": r.account_id,
                        "spec_version": spec_version,
                        "as_of": stamp,
                        "fit": r.account_fit or 0.0,
                        "engagement": r.account_engagement or 0.0,
                        "score": r.account_score or 0.0,
                    },
                )
    # In key order: scorers storing members of the same accounts lock these rows in one
    # order, so never in a cycle.
    account_ids = sorted(account_rows)
    for start in range(0, len(account_ids), _CHUNK):
        chunk_ids = account_ids[start : start + _CHUNK]
        # Members, not people scored now: a partial rescore scores only some of them.
        members = conn.execute(
            sa.select(people.c.account_id, sa.func.count())
            .where(people.c.workspace_id == workspace_id, people.c.account_id.in_(chunk_ids))
            .group_by(people.c.account_id)
        )
        for account_id, count in members:
            account_rows[account_id]["people"] = count
        # Upserted: two scorers each storing the members they claimed write the same
        # rollup; the second waits for the first and overwrites it, rather than failing
        # on the key after a delete that could not see the first one's row.
        conn.execute(_upsert_account_scores(conn), [account_rows[a] for a in chunk_ids])


def _upsert_account_scores(conn: sa.Connection) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(account_scores)
    columns = ("spec_version", "as_of", "fit", "engagement", "score", "people")
    return statement.on_conflict_do_update(
        index_elements=["workspace_id", "account_id"],
        set_={c: statement.excluded[c] for c in columns},
    )


@dataclass(frozen=True, kw_only=True)
class Lead:
    """One row of the leaderboard: who, where they stand, and their score."""

    person_id: int
    email: str | None
    user_id: str | None
    name: str | None
    title: str | None
    company: str | None
    stage: str
    fit: float
    grade: str
    engagement: float
    score: float
    scored_at: datetime


def holds(key: str) -> sa.ColumnElement[bool]:
    """A stored condition held at the latest scoring: "segment:<name>", "mql", ..."""
    condition: sa.ColumnElement[bool] = scores.c.criteria[key].as_boolean().is_(True)
    return condition


def in_segment(name: str) -> sa.ColumnElement[bool]:
    """In a segment of the spec at the latest scoring: of people, or (the people of) accounts."""
    return sa.or_(holds(f"segment:{name}"), holds(f"account_segment:{name}"))


def top_leads(
    conn: sa.Connection,
    workspace_id: int,
    *,
    stage: str | None = None,
    grade: str | None = None,
    segment: str | None = None,
    limit: int = 20,
) -> list[Lead]:
    """Scored people, best score first, optionally in one stage, grade or segment."""
    query = (
        sa.select(
            people.c.id,
            people.c.email,
            people.c.user_id,
            people.c.traits,
            people.c.stage,
            accounts.c.name.label("company"),
            scores.c.fit,
            scores.c.grade,
            scores.c.engagement,
            scores.c.score,
            scores.c.as_of,
        )
        .select_from(
            scores.join(people, people.c.id == scores.c.person_id).outerjoin(
                accounts, accounts.c.id == people.c.account_id
            )
        )
        .where(scores.c.workspace_id == workspace_id)
        .order_by(scores.c.score.desc(), people.c.id)
        .limit(limit)
    )
    if stage:
        query = query.where(people.c.stage == stage)
    if grade:
        query = query.where(scores.c.grade == grade)
    if segment:
        query = query.where(in_segment(segment))
    return [_lead(row) for row in conn.execute(query).mappings()]


def _lead(row: sa.RowMapping) -> Lead:
    traits = row["traits"] or {}
    return Lead(
        person_id=row["id"],
        email=row["email"],
        user_id=row["user_id"],
        name=display_name(traits),
        title=traits.get("title"),
        company=row["company"],
        stage=row["stage"],
        fit=row["fit"],
        grade=row["grade"],
        engagement=row["engagement"],
        score=row["score"],
        scored_at=from_db(row["as_of"]),
    )


def person_score(conn: sa.Connection, workspace_id: int, person_id: int) -> dict[str, Any] | None:
    """The stored score row of one person (with explanation, metrics and criteria)."""
    row = (
        conn.execute(
            sa.select(scores).where(
                scores.c.workspace_id == workspace_id, scores.c.person_id == person_id
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def drop_orphan_rollups(conn: sa.Connection, workspace_id: int) -> None:
    """Remove the rollups of accounts left without people (members merged or moved),
    which no partial rescore rewrites."""
    members = sa.select(people.c.account_id).where(
        people.c.workspace_id == workspace_id, people.c.account_id.is_not(None)
    )
    conn.execute(
        account_scores.delete().where(
            account_scores.c.workspace_id == workspace_id,
            account_scores.c.account_id.not_in(members),
        )
    )
