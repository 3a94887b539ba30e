"""Channels: which sources, mediums and campaigns bring people who convert.

A touch is an event that carried a UTM campaign. Each person's **first touch** is their
earliest one; their **last touch** is the latest one at or before they converted (first
entered the target stage), or their latest one at all if they did not. A person with
no touch counts under "(none)": direct traffic, imports, sales-sourced. The cohort is
everyone who entered the starting stage; "reached" is as in the funnel (the target
stage or any later one on the main path).
"""

from __future__ import annotations

from typing import Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from winnow.analytics.funnel import PATHS, first_entries

Touch = Literal["first", "last"]
Level = Literal["source", "medium", "campaign"]
NONE = "(none)"


def _table(data: pa.Table | ir.Table) -> ir.Table:
    return data if isinstance(data, ir.Table) else ibis.memtable(data)


def by_touch(
    moves: pa.Table | ir.Table,
    touches: pa.Table | ir.Table,
    *,
    touch: Touch = "first",
    level: Level = "source",
    from_stage: str = "lead",
    to_stage: str = "customer",
) -> pa.Table:
    """channel, entered, reached, rate: the cohort of `from_stage`, split by channel."""
    path = PATHS["main"] if to_stage in PATHS["main"] else PATHS["product"]
    first = first_entries(moves)
    cohort = first.filter(first.stage == from_stage).select(person_id="person_id", e_at="at")
    later_stages = list(path[path.index(to_stage) :]) if to_stage in path else [to_stage]
    # Reaching the target, or any later stage, after entering the cohort's stage.
    later = first.filter(first.stage.isin(later_stages))
    later = later.select(l_person=later.person_id, l_at=later.at)
    reached = cohort.left_join(
        later, [cohort.person_id == later.l_person, later.l_at >= cohort.e_at]
    )
    people = reached.group_by("person_id").agg(d_at=reached.l_at.min())
    t = _table(touches)
    # Events without a campaign are no touch (a table of all events may be given).
    t = t.filter(t.source.notnull() | t.medium.notnull() | t.campaign.notnull())
    t = t.mutate(channel=ibis.coalesce(t[level], ibis.literal(NONE)))
    joined = people.left_join(t, people.person_id == t.person_id)
    if touch == "last":
        # Touches after the conversion do not count for it (nor drop the person).
        counts = joined.at.notnull() & (joined.d_at.isnull() | (joined.at <= joined.d_at))
        joined = joined.mutate(counts=counts.fill_null(False))
        when = joined.at.desc()
    else:
        joined = joined.mutate(counts=joined.at.notnull())
        when = joined.at.asc()
    order = [joined.counts.desc(), when, joined.channel]
    picked = joined.mutate(n=ibis.row_number().over(group_by=joined.person_id, order_by=order))
    picked = picked.filter(picked.n == 0)
    channel = ibis.ifelse(picked.counts, picked.channel, ibis.literal(NONE))
    grouped = picked.group_by(channel=channel).agg(
        entered=picked.count(), reached=picked.d_at.notnull().sum()
    )
    grouped = grouped.mutate(rate=grouped.reached.cast("float64") / grouped.entered)
    return grouped.order_by([grouped.entered.desc(), grouped.channel]).to_pyarrow()
