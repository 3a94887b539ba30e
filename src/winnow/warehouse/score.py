"""Warehouse mode: score a team's own tables where they live, and write the scores back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from winnow.engine import PersonScore, compile_scores, to_scores
from winnow.engine.run import run_plan
from winnow.engine.sqlplan import as_sql
from winnow.spec.load import Spec
from winnow.warehouse.inputs import prepare, resolve
from winnow.warehouse.mapping import MappingInvalid, SourceMapping
from winnow.warehouse.source import Source, connect
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

    def output(rows: list[dict[str, Any]]) -> None:
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
            kept.extend(scores)

    # The engine's views let the events stream from the team's files (50M Parquet events
    # copied into a table took 5.7 GB). With text keys, though, the input views join key
    # tables: read once into tables, not once per aggregation (10M Parquet events, 200k
    # people: 110 s as views, 45 s as tables).
    def fetch(final: str) -> None:
        for rows in source.batches(final, BATCH):
            output(rows)

    run_plan(as_sql(plan, source.dialect), source.dialect, source.execute, fetch,
             tables_only=prepared.keys is not None)  # fmt: skip
    if not parts:
        output([])
    return WarehouseScores(scores=kept, table=pa.concat_tables(parts), as_of=as_of)


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
