"""Scoring plans as SQL text, compiled once per spec and reused.

Compiling a spec through Ibis to SQL takes around a second; running the SQL for a few
people takes milliseconds. Real-time scoring runs the same spec again and again for
other people, another instant and maybe another workspace, so the plan is compiled
once with placeholder values and kept as SQL text:

- the instant enters the plan only as its epoch second, an integer literal
  (`compile.py` makes sure of it), compiled as `SENTINEL_EPOCH`;
- the workspace id, compiled as `SENTINEL_WORKSPACE`;
- temporary table names start with `TEMPLATE_PREFIX`; the people to score, when not
  everyone, are read from a temporary table `<prefix>_scope` filled before the run.

Rendering replaces these tokens by the real values. The sentinels are integers no real
instant or workspace has and are replaced only where they stand as whole numbers.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import ibis
import ibis.expr.types as ir

from winnow.clock import from_db, to_db
from winnow.engine.compile import Inputs, Layout, Plan, compile_scores
from winnow.spec.load import Spec

SENTINEL_EPOCH = 9_876_543_210  # the year 2282
SENTINEL_WORKSPACE = 1_357_924_680
TEMPLATE_PREFIX = "winnow_tpl_0000000000"


@dataclass(frozen=True, kw_only=True)
class SqlStep:
    name: str
    sql: str
    materialize: bool


@dataclass(frozen=True, kw_only=True)
class SqlPlan:
    """A plan's statements with placeholders; `render` fills them in."""

    steps: tuple[SqlStep, ...]
    final: str
    layout: Layout

    def render(self, *, as_of: datetime, workspace_id: int, prefix: str) -> SqlPlan:
        epoch = str(int(from_db(to_db(as_of)).timestamp()))
        values = {str(SENTINEL_EPOCH): epoch, str(SENTINEL_WORKSPACE): str(workspace_id)}

        def fill(sql: str) -> str:
            sql = _SENTINELS.sub(lambda m: values[m.group(0)], sql)
            return sql.replace(TEMPLATE_PREFIX, prefix)

        return SqlPlan(
            steps=tuple(
                SqlStep(name=fill(s.name), sql=fill(s.sql), materialize=s.materialize)
                for s in self.steps
            ),
            final=fill(self.final),
            layout=self.layout,
        )


_SENTINELS = re.compile(rf"(?<![0-9])({SENTINEL_EPOCH}|{SENTINEL_WORKSPACE})(?![0-9])")
_CACHE: OrderedDict[tuple[str, ...], SqlPlan] = OrderedDict()
_CACHE_SIZE = 64
_LOCK = threading.Lock()


def as_sql(plan: Plan, dialect: str) -> SqlPlan:
    """A compiled plan as SQL text."""
    return SqlPlan(
        steps=tuple(
            SqlStep(
                name=s.name,
                sql=to_sql(s.table, dialect),
                materialize=s.materialize,
            )
            for s in plan.steps
        ),
        final=to_sql(plan.final, dialect),
        layout=plan.layout,
    )


def to_sql(table: ir.Table, dialect: str) -> str:
    """A table expression as SQL text; Spark SQL comes from Winnow's own compiler."""
    if dialect == "spark":
        # Imported here: the Spark compiler is only needed by Spark runs.
        from winnow.engine.spark import to_spark_sql

        return to_spark_sql(table)
    return str(ibis.to_sql(table, dialect=dialect))


def sql_plan(
    spec: Spec,
    inputs: Callable[[], Inputs],
    *,
    dialect: str,
    recycling: bool,
    key: str,
) -> SqlPlan:
    """The SQL plan of `spec` over the inputs `key` names, compiled on first use.

    `inputs` builds the input tables with the sentinels and the template prefix; `key`
    must tell apart every kind of input it can build.
    """
    cache_key = (spec.source, dialect, str(recycling), key)
    with _LOCK:
        found = _CACHE.get(cache_key)
        if found is not None:
            _CACHE.move_to_end(cache_key)
            return found
    plan = compile_scores(
        spec,
        inputs(),
        as_of=datetime.fromtimestamp(SENTINEL_EPOCH, UTC),
        dialect=dialect,
        recycling=recycling,
        prefix=TEMPLATE_PREFIX,
    )
    compiled = as_sql(plan, dialect)
    for sql in (compiled.final, *(step.sql for step in compiled.steps)):
        # Every sentinel must stand alone, or rendering would leave one behind.
        standing = sql.count(str(SENTINEL_EPOCH)) + sql.count(str(SENTINEL_WORKSPACE))
        if standing != len(_SENTINELS.findall(sql)):
            raise AssertionError("a placeholder of the compiled plan cannot be replaced")
    with _LOCK:
        _CACHE[cache_key] = compiled
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return compiled
