"""The funnel: stage-to-stage conversion by cohort, velocity, and where leads leak out.

Everything is computed from the moves (winnow.analytics.history) with Ibis, on DuckDB
by default, and returned as tidy Arrow tables.

Conversion, step by step along a path (main: lead -> mql -> sal -> sql -> opportunity
-> customer; product: pql -> customer; expansion: customer -> csql -> expansion_won):
the cohort of a step X -> Y is everyone who first entered X in a week or month; of
them, "reached" counts those who entered Y *or any later stage of the path* after
entering X (and within N days, if asked). People skip stages (a hand-raise goes from
lead to mql, a rule from mql straight to sql); counting "Y or beyond" keeps a skipped
stage from reading as a loss. Re-entries (after nurture) do not start a new cohort:
each person counts once per stage, from their first entry.

Velocity is the time from first entering X to first entering Y, over those who did
both in that order: median and 75th percentile, in days. Time to close is lead ->
customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa

PATHS: dict[str, tuple[str, ...]] = {
    "main": ("lead", "mql", "sal", "sql", "opportunity", "customer"),
    "product": ("pql", "customer"),
    "expansion": ("customer", "csql", "expansion_won"),
}
Period = Literal["week", "month"]
_UNIT = {"week": "W", "month": "M"}
_DAY = 86400.0


def _table(moves: pa.Table | ir.Table) -> ir.Table:
    return moves if isinstance(moves, ir.Table) else ibis.memtable(moves)


def first_entries(moves: pa.Table | ir.Table) -> ir.Table:
    """(person_id, stage, at): when each person first entered each stage."""
    t = _table(moves)
    return t.group_by(person_id=t.person_id, stage=t.to_stage).agg(at=t.at.min())


def _ranked(moves: pa.Table | ir.Table, path: Sequence[str]) -> ir.Table:
    first = first_entries(moves)
    on_path = first.filter(first.stage.isin(list(path)))
    rank = ibis.cases(*[(on_path.stage == s, i) for i, s in enumerate(path)])
    return on_path.mutate(rank=rank)


def _steps(moves: pa.Table | ir.Table, path: Sequence[str], within_days: float | None) -> ir.Table:
    """One row per (person, step X -> Y) they entered X for: did they reach Y or beyond."""
    ranked = _ranked(moves, path)
    steps = []
    for k in range(len(path) - 1):
        entered = ranked.filter(ranked.rank == k).select(
            person_id=ranked.person_id, entered_at=ranked.at
        )
        later = ranked.filter(ranked.rank > k).select(
            l_person=ranked.person_id, l_at=ranked.at, l_rank=ranked.rank
        )
        joined = entered.left_join(
            later,
            [
                entered.person_id == later.l_person,
                later.l_at >= entered.entered_at,
                *(
                    [
                        later.l_at
                        <= entered.entered_at + ibis.interval(seconds=round(within_days * _DAY))
                    ]
                    if within_days is not None
                    else []
                ),
            ],
        )
        # Y itself, when they entered it (null if they skipped it).
        exact = ibis.ifelse(joined.l_rank == k + 1, joined.l_at, None)
        step = joined.group_by(["person_id", "entered_at"]).agg(
            reached=joined.l_person.notnull().any(),
            reached_at=exact.min(),
        )
        steps.append(
            step.mutate(from_stage=ibis.literal(path[k]), to_stage=ibis.literal(path[k + 1]))
        )
    union = steps[0]
    for step in steps[1:]:
        union = union.union(step)
    return union


def conversion(
    moves: pa.Table | ir.Table,
    *,
    path: Sequence[str] = PATHS["main"],
    period: Period = "month",
    within_days: float | None = None,
) -> pa.Table:
    """cohort, from_stage, to_stage, entered, reached, rate: one row per cohort and step."""
    steps = _steps(moves, path, within_days)
    cohort = steps.entered_at.truncate(_UNIT[period]).date()
    grouped = steps.group_by(cohort=cohort, from_stage=steps.from_stage, to_stage=steps.to_stage)
    table = grouped.agg(entered=steps.count(), reached=steps.reached.sum())
    table = table.mutate(rate=table.reached.cast("float64") / table.entered)
    order = ibis.cases(*[(table.from_stage == s, i) for i, s in enumerate(path)])
    return table.order_by([table.cohort, order]).to_pyarrow()


def overall(
    moves: pa.Table | ir.Table,
    *,
    path: Sequence[str] = PATHS["main"],
    within_days: float | None = None,
) -> pa.Table:
    """from_stage, to_stage, entered, reached, rate: each step over all time."""
    steps = _steps(moves, path, within_days)
    grouped = steps.group_by(["from_stage", "to_stage"])
    table = grouped.agg(entered=steps.count(), reached=steps.reached.sum())
    table = table.mutate(rate=table.reached.cast("float64") / table.entered)
    order = ibis.cases(*[(table.from_stage == s, i) for i, s in enumerate(path)])
    return table.order_by(order).to_pyarrow()


def velocity(moves: pa.Table | ir.Table, *, path: Sequence[str] = PATHS["main"]) -> pa.Table:
    """from_stage, to_stage, people, median_days, p75_days: for each step, and lead ->
    customer (time to close) when the path has both."""
    first = first_entries(moves)
    pairs = list(zip(path, path[1:], strict=False))
    if "lead" in path and "customer" in path:
        pairs.append(("lead", "customer"))
    rows = []
    for source, target in pairs:
        a = first.filter(first.stage == source).select(person_id="person_id", a_at="at")
        b = first.filter(first.stage == target).select(b_person="person_id", b_at="at")
        both = a.join(b, [a.person_id == b.b_person, b.b_at >= a.a_at])
        days = (both.b_at.epoch_seconds() - both.a_at.epoch_seconds()).cast("float64") / _DAY
        rows.append(
            both.agg(
                from_stage=ibis.literal(source),
                to_stage=ibis.literal(target),
                people=both.count(),
                median_days=days.median(),
                p75_days=days.quantile(0.75),
            )
        )
    table = rows[0]
    for row in rows[1:]:
        table = table.union(row)
    return table.to_pyarrow()


def leaks(moves: pa.Table | ir.Table) -> pa.Table:
    """kind, reason, people: MQLs sales never acted on, SALs turned back, deals lost.

    - mql_never_reviewed: entered mql, and no person moved them afterwards;
    - sal_rejected: moved out of sal to nurture or disqualified by a person, by reason;
    - lost: deals marked lost (the `lost` action), by reason; and SQLs disqualified.
    """
    t = _table(moves)
    first = first_entries(t)
    mqls = first.filter(first.stage == "mql").select(person_id="person_id", mql_at="at")
    touched = t.filter(t.cause.startswith("user:")).select(u_person="person_id", u_at="at")
    acted = mqls.join(touched, [mqls.person_id == touched.u_person, touched.u_at >= mqls.mql_at])
    never = mqls.anti_join(acted.select("person_id"), "person_id").agg(people=ibis._.count())
    never = never.mutate(kind=ibis.literal("mql_never_reviewed"), reason=ibis.null("string"))
    by_person = t.cause.startswith("user:")
    rejected = t.filter(
        by_person, t.from_stage == "sal", t.to_stage.isin(["nurture", "disqualified"])
    )
    rejected = rejected.group_by(reason=rejected.reason).agg(people=rejected.person_id.nunique())
    rejected = rejected.mutate(kind=ibis.literal("sal_rejected"))
    lost = t.filter(
        by_person,
        (t.outcome == "lost") | ((t.from_stage == "sql") & (t.to_stage == "disqualified")),
    )
    lost = lost.group_by(reason=lost.reason).agg(people=lost.person_id.nunique())
    lost = lost.mutate(kind=ibis.literal("lost"))
    columns = ["kind", "reason", "people"]
    table = never.select(columns).union(rejected.select(columns)).union(lost.select(columns))
    kind_order = ibis.cases(
        (table.kind == "mql_never_reviewed", 0), (table.kind == "sal_rejected", 1), else_=2
    )
    return table.order_by([kind_order, table.people.desc(), table.reason]).to_pyarrow()
