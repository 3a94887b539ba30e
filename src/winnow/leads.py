"""Reading leads: one lead's whole picture (profile, score, explanation, history, events),
and pages of people and accounts with their scores."""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from winnow.clock import from_db, parse_instant, to_db
from winnow.store.history import HistoryEntry, person_history
from winnow.store.people import display_name
from winnow.store.schema import account_scores, accounts, events, people, scores
from winnow.store.scores import in_segment, person_score


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
        return display_name(self.traits)


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


# Listing people and accounts, a page at a time.
#
# Pages are keyset-paginated: a cursor holds the sort key of the last row shown, and the
# next page starts strictly after it in the sort order, so rows inserted or rescored
# meanwhile never make a page repeat or skip the rows around it. Every order ends with
# the id, which makes it total. People without a score yet sort after everyone scored
# (NULLS LAST), so the key of a score order is (has a score, score, id). The cursor is
# opaque to callers: base64 of the sort it belongs to and that key.

T = TypeVar("T")
SORTS = ("-score", "score", "updated")


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True, kw_only=True)
class LeadFilter:
    stage: str | None = None
    grade: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    account_id: int | None = None
    q: str | None = None  # in the name, email or company, case-insensitive
    person_ids: tuple[int, ...] | None = None
    segment: str | None = None  # in this segment at the latest scoring
    owner: str | None = None


@dataclass(frozen=True, kw_only=True)
class LeadSummary:
    person_id: int
    user_id: str | None
    email: str | None
    name: str | None
    title: str | None
    company: str | None
    account_id: int | None
    stage: str
    fit: float | None
    grade: str | None
    engagement: float | None
    score: float | None
    scored_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class AccountSummary:
    account_id: int
    group_id: str
    name: str | None
    domain: str | None
    plan: str | None
    people: int
    fit: float | None
    engagement: float | None
    score: float | None
    scored_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def _encode_cursor(sort: str, key: list[Any]) -> str:
    raw = json.dumps({"sort": sort, "key": key}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: str) -> list[Any]:
    """The key a cursor holds, checked: a forged or stale one raises InvalidCursor."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        value, last_id = data["key"]
        if data["sort"] != sort or type(last_id) is not int or not 0 < last_id < 2**31:
            raise ValueError("not a key of this sort")
        if sort == "updated":
            value = to_db(parse_instant(value))
        elif value is not None:
            if type(value) not in (int, float) or not math.isfinite(value):
                raise ValueError("not a score")
            value = float(value)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        raise InvalidCursor(
            "the cursor is not one this list gave (or was for another sort)"
        ) from None
    return [value, last_id]


def _score_keyset(
    query: sa.Select[Any], score: sa.ColumnElement[Any], ident: sa.ColumnElement[Any],
    *, descending: bool, after: list[Any] | None,
) -> sa.Select[Any]:  # fmt: skip
    ordered = score.desc() if descending else score.asc()
    query = query.order_by(ordered.nulls_last(), ident)
    if after is None:
        return query
    last_score, last_id = after
    if last_score is None:
        return query.where(score.is_(None), ident > last_id)
    beyond = score < last_score if descending else score > last_score
    return query.where(
        sa.or_(score.is_(None), beyond, sa.and_(score == last_score, ident > last_id))
    )


def _contains(column: sa.ColumnElement[Any], text: str) -> sa.ColumnElement[bool]:
    return sa.func.lower(column).contains(text.lower(), autoescape=True)


def list_leads(
    conn: sa.Connection,
    workspace_id: int,
    where: LeadFilter = LeadFilter(),
    *,
    sort: str = "-score",
    limit: int = 50,
    cursor: str | None = None,
) -> Page[LeadSummary]:
    """People (scored or not) matching `where`, one page in `sort` order; see above."""
    if sort not in SORTS:
        raise ValueError(f"sort is one of {', '.join(SORTS)}, not {sort!r}")
    after = None if cursor is None else _decode_cursor(cursor, sort)
    traits = people.c.traits
    first, last = traits["firstName"].as_string(), traits["lastName"].as_string()
    query = (
        sa.select(
            people.c.id,
            people.c.user_id,
            people.c.email,
            people.c.traits,
            people.c.stage,
            people.c.account_id,
            people.c.updated_at,
            accounts.c.name.label("company"),
            scores.c.fit,
            scores.c.grade,
            scores.c.engagement,
            scores.c.score,
            scores.c.as_of,
        )  # fmt: skip
        .select_from(
            people.outerjoin(scores, scores.c.person_id == people.c.id).outerjoin(
                accounts, accounts.c.id == people.c.account_id
            )
        )
        .where(people.c.workspace_id == workspace_id)
        .limit(limit + 1)
    )
    if where.stage is not None:
        query = query.where(people.c.stage == where.stage)
    if where.grade is not None:
        query = query.where(scores.c.grade == where.grade)
    if where.min_score is not None:
        query = query.where(scores.c.score >= where.min_score)
    if where.max_score is not None:
        query = query.where(scores.c.score <= where.max_score)
    if where.account_id is not None:
        query = query.where(people.c.account_id == where.account_id)
    if where.person_ids is not None:
        query = query.where(people.c.id.in_(where.person_ids))
    if where.segment is not None:
        query = query.where(in_segment(where.segment))
    if where.owner is not None:
        query = query.where(people.c.owner == where.owner)
    if where.q and where.q.strip():
        text = where.q.strip()
        query = query.where(
            sa.or_(
                _contains(people.c.email, text),
                _contains(first, text),
                _contains(last, text),
                _contains(first + " " + last, text),
                _contains(traits["name"].as_string(), text),
                _contains(accounts.c.name, text),
                _contains(traits["company"].as_string(), text),
            )
        )
    if sort == "updated":
        query = query.order_by(people.c.updated_at.desc(), people.c.id.desc())
        if after is not None:
            stamp, last_id = after
            query = query.where(
                sa.or_(
                    people.c.updated_at < stamp,
                    sa.and_(people.c.updated_at == stamp, people.c.id < last_id),
                )
            )
    else:
        query = _score_keyset(
            query, scores.c.score, people.c.id, descending=sort == "-score", after=after
        )
    rows = list(conn.execute(query).mappings())
    items = [_summary(row) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        tail = items[-1]
        key: list[Any] = (
            [tail.updated_at.isoformat(), tail.person_id]
            if sort == "updated"
            else [tail.score, tail.person_id]
        )
        next_cursor = _encode_cursor(sort, key)
    return Page(items=items, next_cursor=next_cursor)


def _summary(row: sa.RowMapping) -> LeadSummary:
    traits = row["traits"] or {}
    return LeadSummary(
        person_id=row["id"],
        user_id=row["user_id"],
        email=row["email"],
        name=display_name(traits),
        title=traits.get("title"),
        company=row["company"] or traits.get("company"),
        account_id=row["account_id"],
        stage=row["stage"],
        fit=row["fit"],
        grade=row["grade"],
        engagement=row["engagement"],
        score=row["score"],
        scored_at=None if row["as_of"] is None else from_db(row["as_of"]),
        updated_at=from_db(row["updated_at"]),
    )


class AccountNotFound(LookupError):
    pass


def _accounts_query(workspace_id: int) -> sa.Select[Any]:
    members = (
        sa.select(sa.func.count())
        .where(people.c.workspace_id == workspace_id, people.c.account_id == accounts.c.id)
        .scalar_subquery()
    )
    return (
        sa.select(
            accounts.c.id,
            accounts.c.group_id,
            accounts.c.name,
            accounts.c.domain,
            accounts.c.plan,
            members.label("members"),
            account_scores.c.fit,
            account_scores.c.engagement,
            account_scores.c.score,
            account_scores.c.as_of,
        )  # fmt: skip
        .select_from(
            accounts.outerjoin(account_scores, account_scores.c.account_id == accounts.c.id)
        )
        .where(accounts.c.workspace_id == workspace_id)
    )


def _account_summary(row: sa.RowMapping) -> AccountSummary:
    return AccountSummary(
        account_id=row["id"],
        group_id=row["group_id"],
        name=row["name"],
        domain=row["domain"],
        plan=row["plan"],
        people=row["members"],
        fit=row["fit"],
        engagement=row["engagement"],
        score=row["score"],
        scored_at=None if row["as_of"] is None else from_db(row["as_of"]),
    )


def list_accounts(
    conn: sa.Connection, workspace_id: int, *, limit: int = 50, cursor: str | None = None
) -> Page[AccountSummary]:
    """Accounts with their rolled-up score, best first (unscored last), one page."""
    after = None if cursor is None else _decode_cursor(cursor, "-score")
    query = _score_keyset(
        _accounts_query(workspace_id).limit(limit + 1),
        account_scores.c.score,
        accounts.c.id,
        descending=True,
        after=after,
    )
    rows = list(conn.execute(query).mappings())
    items = [_account_summary(row) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = _encode_cursor("-score", [items[-1].score, items[-1].account_id])
    return Page(items=items, next_cursor=next_cursor)


def account_summary(conn: sa.Connection, workspace_id: int, account_id: int) -> AccountSummary:
    row = (
        conn.execute(_accounts_query(workspace_id).where(accounts.c.id == account_id))
        .mappings()
        .first()
    )
    if row is None:
        raise AccountNotFound(f"no account {account_id} in this workspace")
    return _account_summary(row)
