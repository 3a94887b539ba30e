"""Warehouse mode: score a team's own tables where they live, and write the scores back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from winnow.engine import PersonScore, compile_scores, to_scores
from winnow.engine.sqlplan import SqlPlan, as_sql
from winnow.spec.load import Spec
from winnow.warehouse.inputs import prepare, resolve
from winnow.warehouse.mapping import MappingInvalid, SourceMapping
from winnow.warehouse.source import Source, connect, quote
from winnow.warehouse.write import scores_table, write_parquet


@dataclass(frozen=True, kw_only=True)
class WarehouseScores:
    scores: list[PersonScore]
    table: pa.Table  # the output rows, keyed as the team's people table is
    as_of: datetime


@dataclass(frozen=True, kw_only=True)
class WarehouseReport:
    scored: int
    as_of: datetime
    written_to: str
    grades: dict[str, int]
    next_stages: dict[str, int]


def score_source(
    source: Source, mapping: SourceMapping, spec: Spec, *, as_of: datetime
) -> WarehouseScores:
    """Score everyone in the mapped tables of an open source, on the source's own engine."""
    resolved = resolve(source, mapping)
    prepared = prepare(source, mapping, resolved)
    plan = compile_scores(
        spec,
        prepared.inputs,
        as_of=as_of,
        dialect=source.dialect,
        recycling=prepared.recycling,
        prefix=f"{source.prefix}_plan",
    )
    rows = _run(source, as_sql(plan, source.dialect))
    scores = to_scores(rows, plan.layout)
    table = scores_table(
        scores,
        key_column=prepared.person_key,
        keys=prepared.keys,
        stage_mapped=prepared.stage_mapped,
        as_of=as_of,
    )
    return WarehouseScores(scores=scores, table=table, as_of=as_of)


def _run(source: Source, plan: SqlPlan) -> list[dict[str, Any]]:
    """Run the plan's steps as temporary tables, fetch the final query, drop them.

    Unlike scoring over frames, every step is a table even on DuckDB: the input views
    read Parquet, join keys and build JSON, and as views they were read once per
    aggregation (10M Parquet events, 200k people: the plan took 110 s, now 45 s).
    """
    created: list[str] = []
    try:
        for step in plan.steps:
            source.execute(f"CREATE TEMP TABLE {quote(step.name)} AS {step.sql}")
            created.append(step.name)
        return source.rows(plan.final)
    finally:
        for name in reversed(created):
            source.execute(f"DROP TABLE IF EXISTS {quote(name)}")


def score_warehouse(
    url: str, mapping: SourceMapping, spec: Spec, *, as_of: datetime, out: str | None = None
) -> tuple[WarehouseScores, str | None]:
    """Open `url`, score, and write to `out` (`table:NAME` in the source, or a Parquet path)."""
    target = parse_out(out) if out is not None else None
    if target is not None and target[0] == "table":
        for kind, table in mapping.tables().items():
            if table.table == target[1]:
                raise MappingInvalid([f"--out: {target[1]} is the {kind} table; pick another name"])
    source = connect(url)
    try:
        result = score_source(source, mapping, spec, as_of=as_of)
        written = None
        if target is not None:
            kind, name = target
            if kind == "table":
                written = source.write(name, result.table)
            else:
                written = write_parquet(result.table, Path(name))
    finally:
        source.close()
    return result, written


def parse_out(out: str) -> tuple[str, str]:
    """`table:NAME` or a path ending in .parquet; anything else is refused."""
    if out.startswith("table:"):
        name = out.removeprefix("table:")
        if not name or any(not part for part in name.split(".")):
            raise ValueError(f"--out table:NAME needs a table name, got {out!r}")
        return "table", name
    if out.endswith(".parquet"):
        return "parquet", out
    raise ValueError(f"--out takes table:NAME or a file ending in .parquet, not {out!r}")


def summarise(result: WarehouseScores, written: str) -> WarehouseReport:
    grades: dict[str, int] = {}
    for score in result.scores:
        grades[score.grade] = grades.get(score.grade, 0) + 1
    moves: dict[str, int] = {}
    for stage in result.table.column("next_stage").to_pylist():
        if stage is not None:
            moves[stage] = moves.get(stage, 0) + 1
    return WarehouseReport(
        scored=len(result.scores),
        as_of=result.as_of,
        written_to=written,
        grades=dict(sorted(grades.items())),
        next_stages=moves,
    )
