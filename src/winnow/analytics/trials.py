"""Trial insights: new and active trials, trial -> paid by cohort, and what converters did.

Plans change through `group` messages (`traits.plan`), and each is kept as an event, so
an account's plan history is in its events. A trial starts when an account first gets a
trial plan ("trial" by default) and converts when it first gets a paying plan (the
spec's `stages.customer_plans`, "paid" by default) after that. A trial is active while
the account's plan is still a trial plan.

"What converted trials did": for each product event, the share of converted trials in
which someone did it within the first N days, against the share of the others; ranked
by the difference (lift), with each side's count so small groups read as small.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import sqlalchemy as sa

from winnow.analytics.history import arrow_table
from winnow.store.schema import accounts, events, people
from winnow.store.specs import NoSpec, live_spec

PLAN_CHANGES = pa.schema(
    [("account_id", pa.int64()), ("plan", pa.string()), ("at", pa.timestamp("us"))]
)
ACCOUNT_EVENTS = pa.schema(
    [("account_id", pa.int64()), ("name", pa.string()), ("at", pa.timestamp("us"))]
)
_DAY = 86400.0


def load_plan_changes(conn: sa.Connection, workspace_id: int) -> pa.Table:
    """(account_id, plan, at) from every group message that set a plan."""
    plan = events.c.properties["plan"].as_string()
    group_id = events.c.properties["groupId"].as_string()
    rows = conn.execute(
        sa.select(accounts.c.id, plan, events.c.timestamp)
        .select_from(
            events.join(
                accounts,
                (accounts.c.workspace_id == events.c.workspace_id)
                & (accounts.c.group_id == group_id),
            )
        )
        .where(events.c.workspace_id == workspace_id, events.c.type == "group", plan.is_not(None))
    ).all()
    return arrow_table(rows, PLAN_CHANGES)


def paid_plans(conn: sa.Connection, workspace_id: int) -> tuple[str, ...]:
    """The plans that pay, from the live spec (`stages.customer_plans`); "paid" without one."""
    try:
        return tuple(live_spec(conn, workspace_id)[1].document.stages.customer_plans)
    except NoSpec:
        return ("paid",)


def load_account_events(
    conn: sa.Connection, workspace_id: int, names: Sequence[str] | None = None
) -> pa.Table:
    """(account_id, name, at) of the track events of people in accounts."""
    query = (
        sa.select(people.c.account_id, events.c.name, events.c.timestamp)
        .select_from(events.join(people, people.c.id == events.c.person_id))
        .where(
            events.c.workspace_id == workspace_id,
            events.c.type == "track",
            people.c.account_id.is_not(None),
        )
    )
    if names is not None:
        query = query.where(events.c.name.in_(list(names)))
    return arrow_table(conn.execute(query).all(), ACCOUNT_EVENTS)


def _table(rows: Sequence[Any], schema: pa.Schema) -> pa.Table:
    columns: list[list[Any]] = [[] for _ in schema.names]
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return pa.table(
        [pa.array(c, f.type) for c, f in zip(columns, schema, strict=True)], schema=schema
    )


def trials(
    plan_changes: pa.Table | ir.Table,
    *,
    trial_plans: Sequence[str] = ("trial",),
    paid_plans: Sequence[str] = ("paid",),
) -> ir.Table:
    """One row per trial: account_id, started, converted (null if not), active."""
    p = plan_changes if isinstance(plan_changes, ir.Table) else ibis.memtable(plan_changes)
    started = p.filter(p.plan.isin(list(trial_plans)))
    started = started.group_by(account_id=started.account_id).agg(started=started.at.min())
    paid = p.filter(p.plan.isin(list(paid_plans))).select(paid_account=p.account_id, paid_at=p.at)
    joined = started.left_join(
        paid, [started.account_id == paid.paid_account, paid.paid_at >= started.started]
    )
    converted = joined.group_by(["account_id", "started"]).agg(converted=joined.paid_at.min())
    latest = p.mutate(n=ibis.row_number().over(group_by=p.account_id, order_by=p.at.desc()))
    latest = latest.filter(latest.n == 0).select(l_account=latest.account_id, current=latest.plan)
    out = converted.left_join(latest, converted.account_id == latest.l_account)
    return out.select(
        "account_id",
        "started",
        "converted",
        active=out.current.isin(list(trial_plans)).fill_null(False),
    )


def summary(
    plan_changes: pa.Table | ir.Table,
    *,
    now: datetime,
    trial_plans: Sequence[str] = ("trial",),
    paid_plans: Sequence[str] = ("paid",),
) -> dict[str, Any]:
    """new trials (7 and 30 days), active trials, conversions, rate, median days to convert,
    new customers in the last 7 days."""
    t = trials(plan_changes, trial_plans=trial_plans, paid_plans=paid_plans)
    stamp = now.replace(tzinfo=None)
    week, month = stamp - timedelta(days=7), stamp - timedelta(days=30)
    days = (t.converted.epoch_seconds() - t.started.epoch_seconds()).cast("float64") / _DAY
    row = (
        t.agg(
            trials=t.count(),
            new_7d=(t.started >= week).sum(),
            new_30d=(t.started >= month).sum(),
            active=t.active.sum(),
            converted=t.converted.notnull().sum(),
            median_days_to_convert=days.median(),
            new_customers_7d=((t.converted >= week) & (t.converted <= stamp)).sum(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    total = row["trials"] or 0
    row["conversion_rate"] = (row["converted"] or 0) / total if total else None
    return {k: (0 if v is None and k != "median_days_to_convert" else v) for k, v in row.items()}


def cohorts(
    plan_changes: pa.Table | ir.Table,
    *,
    period: str = "month",
    trial_plans: Sequence[str] = ("trial",),
    paid_plans: Sequence[str] = ("paid",),
) -> pa.Table:
    """cohort, trials, converted, rate, median_days_to_convert: by trial start."""
    t = trials(plan_changes, trial_plans=trial_plans, paid_plans=paid_plans)
    days = (t.converted.epoch_seconds() - t.started.epoch_seconds()).cast("float64") / _DAY
    unit = {"week": "W", "month": "M"}[period]
    grouped = t.group_by(cohort=t.started.truncate(unit).date()).agg(
        trials=t.count(),
        converted=t.converted.notnull().sum(),
        median_days_to_convert=days.median(),
    )
    grouped = grouped.mutate(rate=grouped.converted.cast("float64") / grouped.trials)
    return grouped.order_by("cohort").to_pyarrow()


def converters_did(
    plan_changes: pa.Table | ir.Table,
    account_events: pa.Table | ir.Table,
    *,
    first_days: float = 14,
    trial_plans: Sequence[str] = ("trial",),
    paid_plans: Sequence[str] = ("paid",),
) -> pa.Table:
    """event, converted_share, others_share, lift (difference), converted_n, others_n."""
    t = trials(plan_changes, trial_plans=trial_plans, paid_plans=paid_plans)
    e = account_events if isinstance(account_events, ir.Table) else ibis.memtable(account_events)
    window = ibis.interval(seconds=round(first_days * _DAY))
    e = e.select(e_account=e.account_id, name=e.name, e_at=e.at)
    joined = t.join(
        e, [t.account_id == e.e_account, e.e_at >= t.started, e.e_at < t.started + window]
    )
    did = joined.select("account_id", "name", won=joined.converted.notnull()).distinct()
    sizes = t.agg(won_n=t.converted.notnull().sum(), lost_n=t.converted.isnull().sum())
    per = did.group_by("name").agg(won_did=did.won.sum(), lost_did=(~did.won).sum())
    per = per.cross_join(sizes)
    won_share = ibis.ifelse(per.won_n > 0, per.won_did.cast("float64") / per.won_n, None)
    lost_share = ibis.ifelse(per.lost_n > 0, per.lost_did.cast("float64") / per.lost_n, None)
    out = per.select(
        event=per.name,
        converted_share=won_share,
        others_share=lost_share,
        lift=won_share - lost_share,
        converted_n=per.won_n,
        others_n=per.lost_n,
    )
    return out.order_by([out.lift.desc(), out.event]).to_pyarrow()
