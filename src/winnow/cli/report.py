"""`winnow report funnel|velocity|sources|leaks|trials|calibration|segments`: analytics in
the terminal.

Each prints a Rich table, or the same rows as JSON (`--json`) or CSV (`--csv`).
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import typer
from rich.table import Table

from winnow.analytics import calibration, funnel, sources, trials
from winnow.analytics.history import load_moves, load_touches
from winnow.analytics.segments import UnknownSegment, segment_counts, segment_moves
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
from winnow.clock import utcnow
from winnow.store.specs import NoSpec, live_spec

app = typer.Typer(
    help="Analytics: funnel, velocity, channels, leaks, trials, calibration, segments.",
    invoke_without_command=True,
)
CsvOption = Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")]
PathOption = Annotated[
    str, typer.Option(help="main (lead -> customer), product (pql -> customer) or expansion.")
]
SegmentOption = Annotated[
    str | None, typer.Option(help="Only the people in this segment of the spec (now).")
]


def _moves(conn: Any, workspace_id: int, segment: str | None) -> pa.Table:
    try:
        return segment_moves(conn, workspace_id, segment)
    except (NoSpec, UnknownSegment) as exc:
        fail(str(exc))


@app.callback()
def report(
    ctx: typer.Context,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write every report to one HTML file.")
    ] = None,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Analytics in the terminal, or all of it as one self-contained HTML file (--html)."""
    if ctx.invoked_subcommand is not None:
        return
    if html is None:
        console.print(ctx.get_help())
        raise typer.Exit(2)
    from winnow.analytics.report import render_html

    with workspace_transaction(database, workspace) as (conn, ws):
        page = render_html(conn, ws.id, title=f"Winnow report: {ws.name}", now=utcnow())
    html.write_text(page, encoding="utf-8")
    console.print(f"report written to {html} ({len(page):,} bytes, no external resources)")


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
    segment: SegmentOption = None,
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
        moves = _moves(conn, ws.id, segment)
    if cohorts:
        table = funnel.conversion(moves, path=stages, period=period, within_days=within)  # type: ignore[arg-type]
    else:
        table = funnel.overall(moves, path=stages, within_days=within)
    _show(table, title=f"Funnel ({path})", as_json=as_json, as_csv=as_csv)


@app.command("velocity")
def report_velocity(
    path: PathOption = "main",
    segment: SegmentOption = None,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """Days from stage to stage (median and 75th percentile), and time to close."""
    stages = _path(path)
    with workspace_transaction(database, workspace) as (conn, ws):
        moves = _moves(conn, ws.id, segment)
    _show(funnel.velocity(moves, path=stages), title="Velocity (days)", as_json=as_json,
          as_csv=as_csv)  # fmt: skip


@app.command("sources")
def report_sources(
    touch: Annotated[str, typer.Option(help="first or last touch.")] = "first",
    level: Annotated[str, typer.Option(help="source, medium or campaign.")] = "source",
    from_stage: Annotated[str, typer.Option("--from", help="The cohort's stage.")] = "lead",
    to_stage: Annotated[str, typer.Option("--to", help="The stage that counts.")] = "customer",
    segment: SegmentOption = None,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """Conversion by first- or last-touch UTM source, medium or campaign."""
    if touch not in ("first", "last") or level not in ("source", "medium", "campaign"):
        fail("--touch is first or last; --level is source, medium or campaign")
    with workspace_transaction(database, workspace) as (conn, ws):
        moves, touches = _moves(conn, ws.id, segment), load_touches(conn, ws.id)
    table = sources.by_touch(
        moves, touches, touch=touch, level=level, from_stage=from_stage, to_stage=to_stage,  # type: ignore[arg-type]
    )  # fmt: skip
    title = f"{from_stage} -> {to_stage} by {touch}-touch {level}"
    _show(table, title=title, as_json=as_json, as_csv=as_csv)


@app.command("leaks")
def report_leaks(
    segment: SegmentOption = None,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """Where leads leak: MQLs never reviewed, SALs turned back, deals lost, by reason."""
    with workspace_transaction(database, workspace) as (conn, ws):
        moves = _moves(conn, ws.id, segment)
    _show(funnel.leaks(moves), title="Leaks", as_json=as_json, as_csv=as_csv)


@app.command("trials")
def report_trials(
    first_days: Annotated[
        float, typer.Option(help="What trials did in their first N days.", min=1)
    ] = 14,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """Trials: new, active, trial -> paid by cohort, and what converted trials did."""
    with workspace_transaction(database, workspace) as (conn, ws):
        plans = trials.load_plan_changes(conn, ws.id)
        done = trials.load_account_events(conn, ws.id)
        paid = trials.paid_plans(conn, ws.id)
    overview = trials.summary(plans, now=utcnow(), paid_plans=paid)
    by_cohort = trials.cohorts(plans, paid_plans=paid)
    did = trials.converters_did(plans, done, first_days=first_days, paid_plans=paid)
    if as_json:
        print_json({"summary": overview, "cohorts": by_cohort.to_pylist(), "did": did.to_pylist()})
        return
    _show(pa.Table.from_pylist([overview]), title="Trials", as_json=False, as_csv=as_csv)
    _show(by_cohort, title="Trial -> paid by month", as_json=False, as_csv=as_csv)
    _show(did, title=f"What converted trials did in their first {first_days:g} days",
          as_json=False, as_csv=as_csv)  # fmt: skip


@app.command("calibration")
def report_calibration(
    by: Annotated[str, typer.Option(help="band (of score) or grade.")] = "band",
    width: Annotated[float, typer.Option(help="Score band width.", min=1)] = 20,
    target: Annotated[str, typer.Option(help="sql or customer.")] = "customer",
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """Do higher scores convert more? Conversion by score band or grade, MQL precision."""
    if by not in ("band", "grade") or target not in ("sql", "customer"):
        fail("--by is band or grade; --target is sql or customer")
    with workspace_transaction(database, workspace) as (conn, ws):
        moves = load_moves(conn, ws.id)
        current = calibration.load_scores(conn, ws.id)
        versions = calibration.load_versions(conn, ws.id)
    table = calibration.calibration(
        moves, current, by=by, band_width=width, target=target,  # type: ignore[arg-type]
    )  # fmt: skip
    precision = calibration.mql_precision(moves, versions)
    if as_json:
        print_json({"calibration": table.to_pylist(), "mql_precision": precision.to_pylist()})
        return
    _show(table, title=f"Reaching {target} by {by}", as_json=False, as_csv=as_csv)
    _show(precision, title="MQL precision by spec version", as_json=False, as_csv=as_csv)


@app.command("segments")
def report_segments(
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """The spec's segments and how many people are in each now."""
    with workspace_transaction(database, workspace) as (conn, ws):
        try:
            _, spec = live_spec(conn, ws.id)
        except NoSpec as exc:
            fail(str(exc))
        counts = segment_counts(conn, ws.id, spec)
    table = pa.Table.from_pylist([vars(c) for c in counts]) if counts else pa.table({})
    _show(table, title="Segments", as_json=as_json, as_csv=as_csv)
