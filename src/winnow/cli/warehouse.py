"""`winnow score --source`: scoring a team's own tables (warehouse mode)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import duckdb
import psycopg
import typer
from rich.table import Table

from winnow.cli.context import console, fail, print_json
from winnow.spec import SpecInvalid, load_spec_file
from winnow.warehouse import MappingInvalid, load_mapping, parse_out, score_warehouse, summarise

SourceOption = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="Score a team's own tables instead of the store: a DuckDB file, a folder of "
        "Parquet, postgresql://… or any Ibis URL (see docs/warehouse.md).",
    ),
]
MappingOption = Annotated[
    Path | None,
    typer.Option(
        exists=True, dir_okay=False, help="With --source: the mapping of tables and columns."
    ),
]
SpecOption = Annotated[
    Path | None,
    typer.Option(
        exists=True,
        dir_okay=False,
        help="With --source: the spec to score with (default: the mapping's `spec`).",
    ),
]
OutOption = Annotated[
    str | None,
    typer.Option(
        help="With --source: where the scores go, table:NAME (in the source) or FILE.parquet."
    ),
]


def score_source(
    source: str,
    mapping_path: Path | None,
    spec_path: Path | None,
    out: str | None,
    instant: datetime,
    as_json: bool,
) -> None:
    """Score the mapped tables of `source` and write the scores to `out`."""
    if mapping_path is None:
        fail("--source needs --mapping FILE (see docs/warehouse.md)")
    if out is None:
        fail("--source needs --out: table:NAME in the source, or a FILE.parquet")
    try:
        parse_out(out)
        mapping = load_mapping(mapping_path)
    except MappingInvalid as exc:
        fail(f"{mapping_path} is not a valid mapping:\n{exc}")
    except ValueError as exc:
        fail(str(exc))
    spec_file = spec_path or mapping.spec_path
    if spec_file is None:
        fail("say which spec to score with: --spec FILE, or `spec:` in the mapping")
    if not spec_file.is_file():
        fail(f"no spec file at {spec_file}")
    try:
        spec = load_spec_file(spec_file)
    except SpecInvalid as exc:
        fail(f"{spec_file} is not a valid spec:\n{exc}")
    try:
        result, written = score_warehouse(
            source, mapping, spec, as_of=instant, out=out, keep_scores=False
        )
    except MappingInvalid as exc:
        fail(f"the mapping does not fit the tables of {source}:\n{exc}")
    except (duckdb.Error, psycopg.Error) as exc:
        # The data itself, e.g. text in a JSON column that is not JSON.
        fail(f"scoring failed in {source}: {exc}")
    assert written is not None
    report = summarise(result, written)
    if as_json:
        print_json(report)
        return
    console.print(
        f"scored {report.scored} people as of {report.as_of:%Y-%m-%d %H:%M} UTC; "
        f"wrote {report.written_to}"
    )
    table = Table("grade", "people")
    for grade, count in report.grades.items():
        table.add_row(grade, str(count))
    console.print(table)
    if report.next_stages:
        moves = ", ".join(f"{count} to {stage}" for stage, count in report.next_stages.items())
        console.print(f"promotions the rules would make: {moves}")
