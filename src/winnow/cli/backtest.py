"""`winnow backtest SPEC [--vs OTHER]`: what a spec would have done on history."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from winnow.cli.context import (
    DEFAULT_DATABASE,
    DEFAULT_WORKSPACE,
    DatabaseOption,
    JsonOption,
    WorkspaceOption,
    console,
    errors,
    fail,
    print_json,
    workspace_transaction,
)

if TYPE_CHECKING:
    import sqlalchemy as sa

    from winnow.learn.backtest import Report
    from winnow.spec import Spec

LIVE = "live"


def backtest_command(
    spec_file: Annotated[Path, typer.Argument(help="The spec to replay (YAML), or `live`.")],
    vs: Annotated[
        str | None, typer.Option("--vs", help="Compare with another spec file, or `live`.")
    ] = None,
    start: Annotated[
        str | None,
        typer.Option("--from", help="First week's end (ISO 8601; default 12 weeks before --to)."),
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last week's end (default now).")] = None,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
) -> None:
    """Replay history week by week: MQL/PQL volume, precision, recall, and who differs."""
    from winnow.clock import parse_instant, utcnow
    from winnow.learn.backtest import backtest, load_outcomes

    try:
        stop = parse_instant(end) if end else utcnow()
        first = parse_instant(start) if start else stop - timedelta(weeks=12)
    except ValueError as exc:
        fail(f"--from and --to are instants such as 2026-09-01: {exc}")
    with workspace_transaction(database, workspace) as (conn, ws):
        specs = [(str(spec_file), _spec(str(spec_file), conn, ws.id))]
        if vs is not None:
            specs.append((vs, _spec(vs, conn, ws.id)))
        outcomes = load_outcomes(conn, ws.id)
    try:
        report = backtest(outcomes, specs, start=first, end=stop)
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        print_json(report.as_dict())
        return
    print_report(report)


def print_report(report: Report) -> None:
    weeks = len(report.weeks) - 1
    title = f"{weeks} weeks to {report.end:%Y-%m-%d}"
    table = Table("spec", "stage", "a week", "weekly", "precision → sql", "→ customer",
                  title=f"Flagged people, {title}")  # fmt: skip
    for result in report.results:
        for s in result.stages:
            table.add_row(
                result.label, s.stage, f"{s.flagged / weeks:,.1f}",
                " ".join(str(n) for n in s.per_week), _share(s.precision_sql),
                _share(s.precision_customer),
            )  # fmt: skip
    console.print(table)
    caught = Table("spec", "new customers", "flagged before", "recall", "median days early",
                   title="Customers caught in time")  # fmt: skip
    for r in report.results:
        days = "" if r.median_days_early is None else f"{r.median_days_early:.0f}"
        caught.add_row(r.label, str(r.customers), str(r.caught), _share(r.recall), days)
    console.print(caught)
    if len(report.results) == 2:
        first, second = (r.label for r in report.results)
        for stage, n in report.only_first.items():
            other = report.only_second[stage]
            console.print(f"{stage}: {n} flagged by {first} only, {other} by {second} only")
        console.print(f"{report.differing} people would be in another stage at the end")
        listing = Table("person", first, second, title="Some of them")
        for d in report.differences[:20]:
            listing.add_row(str(d.person_id), d.first or "—", d.second or "—")
        if report.differences:
            console.print(listing)


def _spec(name: str, conn: sa.Connection, workspace_id: int) -> Spec:
    from winnow.spec import SpecInvalid, load_spec
    from winnow.store.specs import NoSpec, live_spec

    if name == LIVE:
        try:
            return live_spec(conn, workspace_id)[1]
        except NoSpec as exc:
            fail(str(exc))
    path = Path(name)
    if not path.is_file():
        fail(f"{name} is not a spec file (or `live`)")
    try:
        return load_spec(path.read_text(encoding="utf-8"))
    except SpecInvalid as exc:
        for error in exc.errors:
            errors.print(f"✗ {name}:{error}", markup=False, highlight=False)
        fail(f"{name} has {len(exc.errors)} error(s)")


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def register(app: typer.Typer) -> None:
    app.command("backtest")(backtest_command)
