"""Warehouse mode: score a team's own tables where they live, and write the scores back."""

from __future__ import annotations

from collections.abc import Iterator
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

# Rows turned into scores and output at a time: the wide result of a million people as
# Python dicts took 2.5 GB at once.
BATCH = 50_000


@dataclass(frozen=True, kw_only=True)
class WarehouseScores:
    # Every person's PersonScore, when asked for (`keep_scores`); the table has it all.
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
    source: Source,
    mapping: SourceMapping,
    spec: Spec,
    *,
    as_of: datetime,
    keep_scores: bool = True,
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
    kept: list[PersonScore] = []
    parts: list[pa.Table] = []
    # With text keys the input views join key tables: read once into a table, not once
    # per aggregation (10M Parquet events, 200k people: 110 s as views, 45 s as tables).
    for rows in _run(source, as_sql(plan, source.dialect), every_step=prepared.keys is not None):
        scores = to_scores(rows, plan.layout)
        parts.append(
            scores_table(
                scores,
                key_column=prepared.person_key,
                keys=prepared.keys,
                stage_mapped=prepared.stage_mapped,
                as_of=as_of,
            )  # fmt: skip
        )
        if keep_scores:
            kept += scores
    table = pa.concat_tables(parts) if parts else scores_table(
        [], key_column=prepared.person_key, keys=prepared.keys,
        stage_mapped=prepared.stage_mapped, as_of=as_of,
    )  # fmt: skip
    return WarehouseScores(scores=kept, table=table, as_of=as_of)


def _run(source: Source, plan: SqlPlan, *, every_step: bool) -> Iterator[list[dict[str, Any]]]:
    """Run the plan's steps, then yield the final query's rows a batch at a time.

    On DuckDB the steps the engine does not materialize are views, so the events stream
    from the team's files through the aggregations instead of being copied into memory
    (50M Parquet events: a 5.7 GB table); `every_step` makes them tables all the same.
    """
    created: list[tuple[str, str]] = []
    try:
        for step in plan.steps:
            view = source.dialect == "duckdb" and not step.materialize and not every_step
            kind = "VIEW" if view else "TABLE"
            source.execute(f"CREATE TEMP {kind} {quote(step.name)} AS {step.sql}")
            created.append((kind, step.name))
        yield from source.batches(plan.final, BATCH)
    finally:
        for kind, name in reversed(created):
            source.execute(f"DROP {kind} IF EXISTS {quote(name)}")


def score_warehouse(
    url: str,
    mapping: SourceMapping,
    spec: Spec,
    *,
    as_of: datetime,
    out: str | None = None,
    keep_scores: bool = True,
) -> tuple[WarehouseScores, str | None]:
    """Open `url`, score, and write to `out` (`table:NAME` in the source, or a Parquet path)."""
    target = parse_out(out) if out is not None else None
    if target is not None and target[0] == "table":
        for kind, table in mapping.tables().items():
            if table.table == target[1]:
                raise MappingInvalid([f"--out: {target[1]} is the {kind} table; pick another name"])
    source = connect(url)
    try:
        result = score_source(source, mapping, spec, as_of=as_of, keep_scores=keep_scores)
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
    for grade in result.table.column("grade").to_pylist():
        grades[grade] = grades.get(grade, 0) + 1
    moves: dict[str, int] = {}
    for stage in result.table.column("next_stage").to_pylist():
        if stage is not None:
            moves[stage] = moves.get(stage, 0) + 1
    return WarehouseReport(
        scored=result.table.num_rows,
        as_of=result.as_of,
        written_to=written,
        grades=dict(sorted(grades.items())),
        next_stages=moves,
    )
