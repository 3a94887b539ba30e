"""Scoring quality: do higher scores and better grades convert more, and are MQLs real?

Calibration groups people by their current score (bands of a fixed width) or grade and
gives each group's rate of reaching a target stage (sql or customer, "or a later one"
on the main path, as in the funnel). A score that predicts shows rates rising with the
band. MQL precision is the share of people who entered mql that went on to sql and to
customer, split by the spec version that was live when they became MQLs, so a team sees
whether a new version's MQLs are better or worse than the last one's.
"""

from __future__ import annotations

from typing import Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import sqlalchemy as sa

from winnow.analytics.funnel import PATHS, first_entries
from winnow.analytics.history import arrow_table
from winnow.store.schema import scores, spec_versions

SCORES = pa.schema([("person_id", pa.int64()), ("score", pa.float64()), ("grade", pa.string())])
VERSIONS = pa.schema([("version", pa.int64()), ("created_at", pa.timestamp("us"))])


def load_scores(conn: sa.Connection, workspace_id: int) -> pa.Table:
    rows = conn.execute(
        sa.select(scores.c.person_id, scores.c.score, scores.c.grade).where(
            scores.c.workspace_id == workspace_id
        )
    ).all()
    return arrow_table(rows, SCORES)


def load_versions(conn: sa.Connection, workspace_id: int) -> pa.Table:
    rows = conn.execute(
        sa.select(spec_versions.c.version, spec_versions.c.created_at).where(
            spec_versions.c.workspace_id == workspace_id
        )
    ).all()
    return arrow_table(rows, VERSIONS)


def _reached(moves: pa.Table | ir.Table, target: str) -> ir.Table:
    """person_id, at: when each person first entered `target` or a later main stage."""
    path = PATHS["main"]
    later = list(path[path.index(target) :])
    first = first_entries(moves)
    done = first.filter(first.stage.isin(later))
    return done.group_by(r_person=done.person_id).agg(r_at=done.at.min())


def calibration(
    moves: pa.Table | ir.Table,
    current: pa.Table | ir.Table,
    *,
    by: Literal["band", "grade"] = "band",
    band_width: float = 20,
    target: Literal["sql", "customer"] = "customer",
) -> pa.Table:
    """group, people, reached, rate: by score band (its lower bound) or by grade."""
    s = current if isinstance(current, ir.Table) else ibis.memtable(current)
    reached = _reached(moves, target)
    joined = s.left_join(reached, s.person_id == reached.r_person)
    if by == "band":
        group = ((joined.score / band_width).floor() * band_width).cast("float64")
    else:
        group = joined.grade
    table = joined.group_by(group=group).agg(
        people=joined.count(), reached=joined.r_at.notnull().sum()
    )
    table = table.mutate(rate=table.reached.cast("float64") / table.people)
    return table.order_by(table.group).to_pyarrow()


def mql_precision(moves: pa.Table | ir.Table, versions: pa.Table | ir.Table) -> pa.Table:
    """spec_version, mqls, reached_sql, reached_customer, precision_sql, precision_customer:
    by the spec version live when each person first entered mql."""
    first = first_entries(moves)
    mqls = first.filter(first.stage == "mql").select(person_id="person_id", m_at="at")
    v = versions if isinstance(versions, ir.Table) else ibis.memtable(versions)
    live = mqls.left_join(v, v.created_at <= mqls.m_at)
    live = live.group_by(["person_id", "m_at"]).agg(spec_version=live.version.max())
    sql, customer = _reached(moves, "sql"), _reached(moves, "customer")
    sql = sql.select(s_person=sql.r_person, s_at=sql.r_at)
    customer = customer.select(c_person=customer.r_person, c_at=customer.r_at)
    joined = live.left_join(sql, [live.person_id == sql.s_person, sql.s_at >= live.m_at])
    joined = joined.left_join(
        customer, [joined.person_id == customer.c_person, customer.c_at >= joined.m_at]
    )
    table = joined.group_by("spec_version").agg(
        mqls=joined.count(),
        reached_sql=joined.s_at.notnull().sum(),
        reached_customer=joined.c_at.notnull().sum(),
    )
    table = table.mutate(
        precision_sql=table.reached_sql.cast("float64") / table.mqls,
        precision_customer=table.reached_customer.cast("float64") / table.mqls,
    )
    return table.order_by("spec_version").to_pyarrow()
