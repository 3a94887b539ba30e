"""The overview a team opens every morning: stages, funnel, new qualified leads, trials, queue."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import ibis
import sqlalchemy as sa

from winnow.analytics import funnel, trials
from winnow.analytics.history import load_moves
from winnow.handoff.queue import waiting_counts
from winnow.store.schema import people

WEEKS = 8
NEW_STAGES = ("mql", "pql", "sql", "csql")


def overview(conn: sa.Connection, workspace_id: int, *, now: datetime) -> dict[str, Any]:
    rows = conn.execute(
        sa.select(people.c.stage, sa.func.count())
        .where(people.c.workspace_id == workspace_id)
        .group_by(people.c.stage)
    )
    stages = {str(stage): int(count) for stage, count in rows}
    moves = load_moves(conn, workspace_id)
    paid = trials.paid_plans(conn, workspace_id)
    plans = trials.load_plan_changes(conn, workspace_id)
    waiting, overdue = waiting_counts(conn, workspace_id, now=now)
    return {
        "people": sum(stages.values()),
        "stages": stages,
        "funnel": funnel.overall(moves).to_pylist(),
        "weekly": weekly_entries(moves, now=now),
        "trials": trials.summary(plans, now=now, paid_plans=paid),
        "waiting": waiting,
        "overdue": overdue,
    }


def weekly_entries(moves: Any, *, now: datetime, weeks: int = WEEKS) -> dict[str, Any]:
    """How many people first entered each of mql, pql, sql, csql, per week (Monday), for
    the last `weeks` weeks: {"weeks": [...], "series": {stage: [...]}}."""
    first = funnel.first_entries(moves)
    stamp = now.replace(tzinfo=None)
    monday = (stamp - timedelta(days=stamp.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    starts = [monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    recent = first.filter(first.stage.isin(list(NEW_STAGES)), first.at >= starts[0])
    counted = recent.group_by(stage=recent.stage, week=recent.at.truncate("W")).agg(
        people=ibis._.count()
    )
    found = {(r["stage"], r["week"]): r["people"] for r in counted.to_pyarrow().to_pylist()}
    return {
        "weeks": [s.date().isoformat() for s in starts],
        "series": {stage: [int(found.get((stage, s), 0)) for s in starts] for stage in NEW_STAGES},
    }
