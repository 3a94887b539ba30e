"""Segments: the spec's named expressions, with who is in them now.

A segment is evaluated with every scoring (it is a named condition of the spec, stored
with each score as "segment:<name>"), so its members are live: as fresh as the scores,
which the scorer keeps within moments of the events. Filters everywhere (the people
list, `winnow leads --segment`, the reports) read the same stored answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import sqlalchemy as sa

from winnow.spec import Spec
from winnow.store.schema import scores
from winnow.store.scores import holds


@dataclass(frozen=True, kw_only=True)
class SegmentCount:
    name: str
    expression: str
    people: int


class UnknownSegment(LookupError):
    pass


def segment_counts(conn: sa.Connection, workspace_id: int, spec: Spec) -> list[SegmentCount]:
    """Every segment of the spec with how many people are in it now."""
    names = list(spec.document.segments)
    if not names:
        return []
    counts = conn.execute(
        sa.select(
            *[
                sa.func.coalesce(sa.func.sum(sa.case((holds(f"segment:{n}"), 1), else_=0)), 0)
                for n in names
            ]
        ).where(scores.c.workspace_id == workspace_id)
    ).one()
    return [
        SegmentCount(name=n, expression=spec.document.segments[n], people=int(c))
        for n, c in zip(names, counts, strict=True)
    ]


def members(conn: sa.Connection, workspace_id: int, spec: Spec, name: str) -> list[int]:
    """The ids of the people in a segment now; an unknown name is refused, naming the others."""
    if name not in spec.document.segments:
        known = ", ".join(spec.document.segments) or "none"
        raise UnknownSegment(f"no segment {name!r} in the live spec (segments: {known})")
    query = sa.select(scores.c.person_id).where(
        scores.c.workspace_id == workspace_id, holds(f"segment:{name}")
    )
    return sorted(conn.execute(query).scalars())


def only(table: pa.Table, person_ids: list[int]) -> pa.Table:
    """The rows of a moves or touches table about these people: a breakdown by segment."""
    wanted = pa.array(person_ids, pa.int64())
    return table.filter(pa.compute.is_in(table["person_id"], value_set=wanted))
