"""Running the compiled spec: on DuckDB over frames, or inside the store's own database."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
import sqlalchemy as sa

from winnow.engine.compile import (
    ACCOUNT_COLUMN_NAMES,
    EVENT_COLUMN_NAMES,
    PERSON_COLUMN_NAMES,
    Inputs,
    Layout,
    compile_scores,
)
from winnow.engine.result import FactorHit, FitHit, PersonScore, RuleContribution
from winnow.engine.sqlplan import (
    SENTINEL_WORKSPACE,
    TEMPLATE_PREFIX,
    SqlPlan,
    as_sql,
    sql_plan,
)
from winnow.spec.load import Spec
from winnow.store import schema

Frame = Any  # a pyarrow Table or a pandas DataFrame


_TIME = pa.timestamp("us")
FRAME_SCHEMAS = {
    "people": pa.schema(
        [
            ("id", pa.int64()),
            ("account_id", pa.int64()),
            ("email", pa.string()),
            ("email_domain", pa.string()),
            ("user_id", pa.string()),
            ("owner", pa.string()),
            ("created_at", _TIME),
            ("stage", pa.string()),
            ("recycled_at", _TIME),
            ("traits", pa.string()),
        ]
    ),
    "accounts": pa.schema(
        [
            ("id", pa.int64()),
            ("group_id", pa.string()),
            ("name", pa.string()),
            ("domain", pa.string()),
            ("plan", pa.string()),
            ("created_at", _TIME),
            ("traits", pa.string()),
        ]
    ),
    "events": pa.schema(
        [
            ("person_id", pa.int64()),
            ("name", pa.string()),
            ("timestamp", _TIME),
            ("properties", pa.string()),
            ("context", pa.string()),
        ]
    ),
}


def as_arrow(frame: Frame, kind: str) -> pa.Table:
    """A frame with exactly the columns and types scoring reads (extra columns dropped)."""
    table = (
        frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    )
    schema = FRAME_SCHEMAS[kind]
    missing = [f.name for f in schema if f.name not in table.column_names]
    if missing:
        raise ValueError(f"{kind} frame lacks column(s): {', '.join(missing)}")
    return table.select(schema.names).cast(schema)


def source_tables(prefix: str, schemas: dict[str, pa.Schema]) -> Inputs:
    """Unbound Ibis tables over named sources, JSON text columns read as JSON."""
    tables = {}
    for kind, arrow_schema in schemas.items():
        table = ibis.table(ibis.Schema.from_pyarrow(arrow_schema), name=f"{prefix}{kind}")
        casts = {c: table[c].cast("json") for c in JSON_COLUMNS[kind]}
        tables[kind] = table.mutate(**casts)
    return Inputs(people=tables["people"], accounts=tables["accounts"], events=tables["events"])


JSON_COLUMNS = {
    "people": ("traits",),
    "accounts": ("traits",),
    "events": ("properties", "context"),
}


def run_plan(
    plan: SqlPlan,
    dialect: str,
    execute: Callable[[str], object],
    fetch: Callable[[str], Any],
    *,
    tables_only: bool = False,
) -> Any:
    """Run a rendered plan's steps, fetch the final query, drop the steps.

    On DuckDB the steps the plan does not materialize are views, so the events stream
    through the aggregations instead of being copied; `tables_only` makes every step a
    table, for inputs too costly to read once per aggregation.
    """
    created: list[tuple[str, str]] = []
    try:
        for step in plan.steps:
            view = dialect == "duckdb" and not step.materialize and not tables_only
            kind = "VIEW" if view else "TABLE"
            execute(f'CREATE TEMP {kind} "{step.name}" AS {step.sql}')
            created.append((kind, step.name))
        return fetch(plan.final)
    finally:
        for kind, name in reversed(created):
            execute(f'DROP {kind} IF EXISTS "{name}"')


def score_duckdb(
    con: Any, spec: Spec, inputs: Inputs, *, as_of: datetime, recycling: bool = True
) -> tuple[pa.Table, Layout]:
    """Score on a DuckDB connection whose tables `inputs` names; the wide result as Arrow."""
    plan = compile_scores(
        spec, inputs, as_of=as_of, dialect="duckdb", recycling=recycling, prefix=_unique_prefix()
    )
    return _run_duckdb(con, as_sql(plan, "duckdb")), plan.layout


def _run_duckdb(con: Any, plan: SqlPlan) -> pa.Table:
    return run_plan(plan, "duckdb", lambda sql: con.execute(sql), lambda sql: _arrow(con.sql(sql)))


def score_frames(
    spec: Spec, *, people: Frame, accounts: Frame, events: Frame, as_of: datetime
) -> list[PersonScore]:
    """Score every person in the frames on an in-process DuckDB."""
    frames = {
        "people": as_arrow(people, "people"),
        "accounts": as_arrow(accounts, "accounts"),
        "events": as_arrow(events, "events"),
    }
    con = duckdb.connect()
    try:
        for kind, frame in frames.items():
            con.register(f"frame_{kind}", frame)
        recycling = frames["people"].column("recycled_at").null_count < len(frames["people"])
        template = sql_plan(
            spec,
            lambda: source_tables("frame_", FRAME_SCHEMAS),
            dialect="duckdb",
            recycling=recycling,
            key="frames",
        )
        layout = template.layout
        plan = template.render(as_of=as_of, workspace_id=0, prefix=_unique_prefix())
        table = _run_duckdb(con, plan)
    finally:
        con.close()
    return to_scores(table.to_pylist(), layout)


def store_inputs(workspace_id: int, dialect: str, scope: str | None = None) -> Inputs:
    """The store's tables for one workspace as scoring inputs.

    With `scope`, only the people whose ids are in that table (column `id`) are read.
    """

    def table(source: sa.Table, columns: Iterable[str]) -> ir.Table:
        types = {c.name: _ibis_type(c) for c in source.columns}
        documents = [name for name, kind in types.items() if kind == "json"]
        if dialect == "postgres":
            # The store keeps JSONB; Ibis's PostgreSQL JSON functions take json, so the
            # columns are declared opaque and cast.
            types |= {name: "string" for name in documents}
        t = ibis.table(ibis.schema(types), name=source.name)
        t = t.filter(t.workspace_id == workspace_id)
        if dialect == "postgres":
            t = t.mutate(**{name: t[name].cast("json") for name in documents})
        return t.select(*columns)

    people = table(schema.people, PERSON_COLUMN_NAMES)
    accounts = table(schema.accounts, ACCOUNT_COLUMN_NAMES)
    events = table(schema.events, EVENT_COLUMN_NAMES)
    if scope is not None:
        ids = ibis.table({"id": "int64"}, name=scope).id
        people = people.filter(people.id.isin(ids))
        events = events.filter(events.person_id.isin(ids))
    return Inputs(people=people, accounts=accounts, events=events)


def _ibis_type(column: sa.Column[Any]) -> str:
    kind = column.type
    if isinstance(kind, sa.JSON) or "JSON" in type(kind).__name__.upper():
        return "json"
    if isinstance(kind, sa.DateTime):
        return "timestamp"
    if isinstance(kind, sa.Integer):
        return "int64"
    if isinstance(kind, sa.Float):
        return "float64"
    return "string"


def with_account_members(
    conn: sa.Connection, workspace_id: int, person_ids: Iterable[int]
) -> list[int]:
    """The people plus everyone in their accounts: an account rollup needs all members."""
    people = schema.people
    ids = sorted(set(person_ids))
    if not ids:
        return []
    accounts = (
        sa.select(people.c.account_id)
        .where(
            people.c.workspace_id == workspace_id,
            people.c.id.in_(ids),
            people.c.account_id.is_not(None),
        )
        .scalar_subquery()
    )
    members = conn.execute(
        sa.select(people.c.id).where(
            people.c.workspace_id == workspace_id, people.c.account_id.in_(accounts)
        )
    ).scalars()
    return sorted(set(ids) | set(members))


def score_store(
    conn: sa.Connection,
    workspace_id: int,
    spec: Spec,
    *,
    as_of: datetime,
    person_ids: Iterable[int] | None = None,
) -> list[PersonScore]:
    """Score people inside the store's database, in the caller's transaction.

    Scores everyone, or the given people; their account-mates are scored along, since
    an account's rollup needs every member's engagement.
    """
    requested = None if person_ids is None else set(person_ids)
    scope = None if requested is None else with_account_members(conn, workspace_id, requested)
    if scope == []:
        return []
    people = schema.people
    recycled = sa.select(people.c.id).where(
        people.c.workspace_id == workspace_id, people.c.recycled_at.is_not(None)
    )
    if scope is not None:
        recycled = recycled.where(people.c.id.in_(scope))
    recycling = conn.execute(recycled.limit(1)).first() is not None
    dialect = {"sqlite": "sqlite", "postgresql": "postgres"}.get(conn.dialect.name)
    if dialect is None:
        raise ValueError(f"scoring in a {conn.dialect.name} store is not supported")
    scoped = scope is not None
    template = sql_plan(
        spec,
        lambda: store_inputs(
            SENTINEL_WORKSPACE, dialect, f"{TEMPLATE_PREFIX}_scope" if scoped else None
        ),
        dialect=dialect,
        recycling=recycling,
        key="store-scoped" if scoped else "store",
    )
    prefix = _unique_prefix()
    plan = template.render(as_of=as_of, workspace_id=workspace_id, prefix=prefix)
    if scope is not None:
        _create_scope(conn, f"{prefix}_scope", scope)
    try:
        rows = run_plan(
            plan,
            dialect,
            lambda sql: _execute(conn, sql),
            lambda sql: [dict(r) for r in _execute(conn, sql).mappings()],
        )
    finally:
        if scope is not None:
            _execute(conn, f'DROP TABLE IF EXISTS "{prefix}_scope"')
    scores = to_scores(rows, template.layout)
    if requested is None:
        return scores
    return [s for s in scores if s.person_id in requested]


def _create_scope(conn: sa.Connection, name: str, ids: Sequence[int]) -> None:
    kind = "BIGINT" if conn.dialect.name == "postgresql" else "INTEGER"
    conn.exec_driver_sql(f'CREATE TEMP TABLE "{name}" (id {kind} PRIMARY KEY)')
    conn.execute(sa.text(f'INSERT INTO "{name}" (id) VALUES (:id)'), [{"id": i} for i in ids])
    if conn.dialect.name == "postgresql":
        # Temporary tables get no statistics otherwise, and the planner's guess about
        # this one turns the people joins into nested loops.
        conn.exec_driver_sql(f'ANALYZE "{name}"')


def _execute(conn: sa.Connection, sql: str) -> sa.CursorResult[Any]:
    # The SQL is complete (literals inlined by Ibis); no parameters to bind.
    return conn.exec_driver_sql(
        sql.replace("%", "%%") if conn.dialect.name == "postgresql" else sql
    )


def _arrow(relation: Any) -> pa.Table:
    # DuckDB 2 names it to_arrow_table; 1.x has arrow().
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
    return fetch()


def _unique_prefix() -> str:
    return f"winnow_{uuid.uuid4().hex[:10]}"


def to_scores(rows: Iterable[dict[str, Any]], layout: Layout) -> list[PersonScore]:
    """Rows of the wide scoring table as PersonScores, ordered by person id."""
    # Column names per rule, built once: per row they cost more than the rest (1M people).
    rules = [
        (name, unit, f"{prefix}_n", f"{prefix}_k", f"{prefix}_w", f"{prefix}_pts")
        for name, unit, prefix in layout.engagement_rules
    ]
    result = []
    for row in rows:
        fit_rules = tuple(
            FitHit(name=name, points=points)
            for name, points, column in layout.fit_rules
            if row[column]
        )
        engagement_rules = tuple(_contribution(row, *rule) for rule in rules if row[rule[2]])
        result.append(
            PersonScore(
                person_id=int(row["id"]),
                stage=str(row["stage"]),
                fit=float(row["fit"]),
                grade=str(row["grade"]),
                engagement=float(row["engagement"]),
                score=float(row["score"]),
                metrics={name: _float(row[column]) for name, column in layout.metrics},
                criteria={name: bool(row[column]) for name, column in layout.criteria},
                conditions={name: bool(row[column]) for name, column in layout.segments},
                fit_rules=fit_rules,
                engagement_rules=engagement_rules,
                account_id=None if row["account_id"] is None else int(row["account_id"]),
                account_fit=_float(row["afit"]),
                account_engagement=_float(row["aeng"]),
                account_score=_float(row["ascore"]),
                p_convert=_float(row.get("p_convert")),
                factors=tuple(
                    FactorHit(name=name, weight=weight)
                    for name, weight, column in layout.factors
                    if row[column]
                ),
            )
        )
    result.sort(key=lambda s: s.person_id)
    return result


def _contribution(
    row: dict[str, Any], name: str, unit: float, n: str, k: str, w: str, pts: str
) -> RuleContribution:
    counted = int(row[k] or 0)
    points = float(row[pts] or 0.0)
    decayed = unit * float(row[w] or 0.0)
    return RuleContribution(
        name=name,
        points=points,
        matched=int(row[n]),
        counted=counted,
        decay=unit * counted - decayed,
        capped=decayed - points,
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
