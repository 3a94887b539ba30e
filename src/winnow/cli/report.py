"""`winnow report funnel|velocity|sources|leaks`: the analytics in the terminal.

Each prints a Rich table, or the same rows as JSON (`--json`) or CSV (`--csv`).
"""

from __future__ import annotations

import csv
import io
import sys
from typing import Annotated

import pyarrow as pa
import typer
from rich.table import Table

from winnow.analytics import funnel, sources
from winnow.analytics.history import load_moves, load_touches
from winnow.cli.context import (
    DEFAULT_DATABASE,
    DEFAULT_WORKSPACE,
    DatabaseOption,
    JsonOption,
    WorkspaceOption,
    console,
    fail,
    print_json,
    workspace_transaction,
)

app = typer.Typer(help="Funnel analytics: conversion, velocity, channels and leaks.")
CsvOption = Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")]
PathOption = Annotated[
    str, typer.Option(help="main (lead -> customer), product (pql -> customer) or expansion.")
]


def _show(table: pa.Table, *, title: str, as_json: bool, as_csv: bool) -> None:
    rows = table.to_pylist()
    if as_json:
        print_json(rows)
        return
    if as_csv:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=table.column_names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(out.getvalue())
        return
    shown = Table(*table.column_names, title=title)
    for row in rows:
        shown.add_row(*(_cell(v) for v in row.values()))
    console.print(shown)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1%}" if 0 <= value <= 1 else f"{value:,.1f}"
    return str(value)


def _path(name: str) -> tuple[str, ...]:
    if name not in funnel.PATHS:
        fail(f"unknown path {name!r}; use {', '.join(funnel.PATHS)}")
    return funnel.PATHS[name]


@app.command("funnel")
def report_funnel(
    path: PathOption = "main",
    period: Annotated[str, typer.Option(help="Cohorts by week or month.")] = "month",
    within: Annotated[
        float | None, typer.Option(help="Count conversions within this many days only.")
    ] = None,
    cohorts: Annotated[bool, typer.Option(help="One row per cohort, not all time.")] = False,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """Stage-to-stage conversion: of those who entered a stage, how many went on."""
    stages = _path(path)
    if period not in ("week", "month"):
        fail(f"period is week or month, not {period!r}")
    with workspace_transaction(database, workspace) as (conn, ws):
        moves = load_moves(conn, ws.id)
    if cohorts:
        table = funnel.conversion(moves, path=stages, period=period, within_days=within)  # type: ignore[arg-type]
    else:
        table = funnel.overall(moves, path=stages, within_days=within)
    _show(table, title=f"Funnel ({path})", as_json=as_json, as_csv=as_csv)


@app.command("velocity")
def report_velocity(
    path: PathOption = "main",
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """Days from stage to stage (median and 75th percentile), and time to close."""
    stages = _path(path)
    with workspace_transaction(database, workspace) as (conn, ws):
        moves = load_moves(conn, ws.id)
    _show(funnel.velocity(moves, path=stages), title="Velocity (days)", as_json=as_json,
          as_csv=as_csv)  # fmt: skip


@app.command("sources")
def report_sources(
    touch: Annotated[str, typer.Option(help="first or last touch.")] = "first",
    level: Annotated[str, typer.Option(help="source, medium or campaign.")] = "source",
    from_stage: Annotated[str, typer.Option("--from", help="The cohort's stage.")] = "lead",
    to_stage: Annotated[str, typer.Option("--to", help="The stage that counts.")] = "customer",
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """Conversion by first- or last-touch UTM source, medium or campaign."""
    if touch not in ("first", "last") or level not in ("source", "medium", "campaign"):
        fail("--touch is first or last; --level is source, medium or campaign")
    with workspace_transaction(database, workspace) as (conn, ws):
        moves, touches = load_moves(conn, ws.id), load_touches(conn, ws.id)
    table = sources.by_touch(
        moves, touches, touch=touch, level=level, from_stage=from_stage, to_stage=to_stage,  # type: ignore[arg-type]
    )  # fmt: skip
    title = f"{from_stage} -> {to_stage} by {touch}-touch {level}"
    _show(table, title=title, as_json=as_json, as_csv=as_csv)


@app.command("leaks")
def report_leaks(
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """Where leads leak: MQLs never reviewed, SALs turned back, deals lost, by reason."""
    with workspace_transaction(database, workspace) as (conn, ws):
        moves = load_moves(conn, ws.id)
    _show(funnel.leaks(moves), title="Leaks", as_json=as_json, as_csv=as_csv)
