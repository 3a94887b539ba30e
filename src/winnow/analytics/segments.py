"""Segments: the spec's named expressions, with who is in them now.

A segment is evaluated with every scoring (it is a named condition of the spec, stored
with each score as "segment:<name>"), so its members are live: as fresh as the scores,
which the scorer keeps within moments of the events. Filters everywhere (the people
list, `winnow leads --segment`, the reports) read the same stored answer. A segment of
accounts (`{accounts: ...}`) is stored the same way, as "account_segment:<name>", for
each person of the accounts it holds for; its counts give people and accounts, and as
a filter it keeps those accounts' people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import sqlalchemy as sa

from winnow.analytics.history import load_moves
from winnow.engine import score_frames
from winnow.spec import Spec, SpecInvalid, load_spec
from winnow.spec.edit import with_segment
from winnow.store.frames import load_frames
from winnow.store.schema import people, scores
from winnow.store.scores import holds
from winnow.store.specs import live_spec


@dataclass(frozen=True, kw_only=True)
class SegmentCount:
    name: str
    of: str  # "people" or "accounts"
    expression: str
    people: int
    accounts: int


class UnknownSegment(LookupError):
    pass


def key(spec: Spec, name: str) -> str:
    """The stored condition of a segment; an unknown name is refused, naming the others."""
    if name in spec.segments:
        return f"segment:{name}"
    if name in spec.account_segments:
        return f"account_segment:{name}"
    known = ", ".join(spec.document.segments) or "none"
    raise UnknownSegment(f"no segment {name!r} in the live spec (segments: {known})")


def segment_counts(conn: sa.Connection, workspace_id: int, spec: Spec) -> list[SegmentCount]:
    """Every segment of the spec with how many people (and accounts) are in it now."""
    found = []
    for name, definition in spec.document.segments.items():
        condition = holds(key(spec, name))
        people_n, accounts_n = conn.execute(
            sa.select(sa.func.count(), sa.func.count(sa.distinct(people.c.account_id)))
            .select_from(scores.join(people, people.c.id == scores.c.person_id))
            .where(scores.c.workspace_id == workspace_id, condition)
        ).one()
        of_accounts = not isinstance(definition, str)
        found.append(
            SegmentCount(
                name=name,
                of="accounts" if of_accounts else "people",
                expression=definition if isinstance(definition, str) else definition.accounts,
                people=int(people_n),
                accounts=int(accounts_n),
            )
        )
    return found


def members(conn: sa.Connection, workspace_id: int, spec: Spec, name: str) -> list[int]:
    """The ids of the people in a segment now (for a segment of accounts: their people)."""
    query = sa.select(scores.c.person_id).where(
        scores.c.workspace_id == workspace_id, holds(key(spec, name))
    )
    return sorted(conn.execute(query).scalars())


def segment_moves(conn: sa.Connection, workspace_id: int, segment: str | None) -> pa.Table:
    """The workspace's moves, or only those of a segment's members (a breakdown by segment).

    Raises NoSpec without a live spec, UnknownSegment for a name the spec does not have.
    """
    moves = load_moves(conn, workspace_id)
    if segment is None:
        return moves
    _, spec = live_spec(conn, workspace_id)
    return only(moves, members(conn, workspace_id, spec, segment))


def only(table: pa.Table, person_ids: list[int]) -> pa.Table:
    """The rows of a moves or touches table about these people: a breakdown by segment."""
    wanted = pa.array(person_ids, pa.int64())
    return table.filter(pa.compute.is_in(table["person_id"], value_set=wanted))


@dataclass(frozen=True, kw_only=True)
class Preview:
    """A segment as it would be: the spec with it, its errors, or how many it holds now."""

    source: str
    errors: tuple[str, ...]
    people: int | None


def preview(
    conn: sa.Connection, workspace_id: int, name: str, expression: str, *, now: datetime
) -> Preview:
    """Check a new or edited segment against the live spec and count its members now.

    Counting scores everyone with the candidate spec on DuckDB (nothing is stored), so
    it reflects every event: what the segment would hold if it were published now.
    """
    _, spec = live_spec(conn, workspace_id)
    try:
        source = with_segment(spec.source, name, expression)
        candidate = load_spec(source)
    except SpecInvalid as exc:
        return Preview(source=spec.source, errors=tuple(str(e) for e in exc.errors), people=None)
    except ValueError as exc:
        return Preview(source=spec.source, errors=(str(exc),), people=None)
    results = score_frames(candidate, **load_frames(conn, workspace_id), as_of=now)
    key = f"segment:{name.strip()}"
    people = sum(1 for r in results if r.conditions.get(key))
    return Preview(source=source, errors=(), people=people)
