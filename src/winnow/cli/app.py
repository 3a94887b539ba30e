"""The `winnow` command line. Each command parses, calls one library function, prints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from winnow import __version__
from winnow.cli import backtest as backtest_commands
from winnow.cli import data as data_commands
from winnow.cli import handoff as handoff_commands
from winnow.cli import leads as leads_commands
from winnow.cli import learn as learn_commands
from winnow.cli import report as report_commands
from winnow.cli import server as server_commands
from winnow.cli import spec as spec_commands
from winnow.cli import warehouse as warehouse_commands
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
from winnow.clock import parse_instant, utcnow
from winnow.qualification import rescore
from winnow.spec import SpecInvalid
from winnow.store.db import open_store
from winnow.store.specs import NoSpec, publish_spec
from winnow.store.workspaces import get_or_create_workspace

app = typer.Typer(
    help="Winnow: lead qualification as code. Score leads, move them through the lifecycle.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(spec_commands.app, name="spec")
app.add_typer(report_commands.app, name="report")
app.add_typer(learn_commands.app, name="learn")
leads_commands.register(app)
data_commands.register(app)
server_commands.register(app)
handoff_commands.register(app)
backtest_commands.register(app)


def _version(value: bool) -> None:
    if value:
        console.print(f"winnow {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Winnow: lead qualification as code."""


@app.command()
def init(
    spec: Annotated[Path | None, typer.Option(exists=True, help="Spec to publish.")] = None,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Create the store (or bring it up to date) and a workspace, optionally with a spec."""
    engine = open_store(database)
    try:
        with engine.begin() as conn:
            ws = get_or_create_workspace(conn, workspace)
            if spec is not None:
                try:
                    published = publish_spec(
                        conn, ws.id, spec.read_text(encoding="utf-8"), by="init"
                    )
                except SpecInvalid as exc:
                    fail(f"{spec} is not a valid spec:\n{exc}")
                console.print(f"published spec version {published.version}")
    finally:
        engine.dispose()
    console.print(f"[green]✓[/] store ready at {database}, workspace [bold]{workspace}[/]")


@app.command()
def score(
    everyone: Annotated[bool, typer.Option("--all", help="Rescore everyone (on DuckDB).")] = False,
    person: Annotated[
        list[int] | None, typer.Option("--person", "-p", help="Rescore these person ids.")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Score as of this instant (ISO 8601); default now.")
    ] = None,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    source: warehouse_commands.SourceOption = None,
    mapping: warehouse_commands.MappingOption = None,
    spec: warehouse_commands.SpecOption = None,
    out: warehouse_commands.OutOption = None,
    as_json: JsonOption = False,
) -> None:
    """Score people with the live spec and apply the stage promotions that follow.

    With --source: score a team's own tables where they live, see docs/warehouse.md.
    """
    if source is not None and (everyone or person):
        fail("--source scores everyone in the mapped tables; leave out --all and --person")
    if source is None and (mapping is not None or spec is not None or out is not None):
        fail("--mapping, --spec and --out go with --source (warehouse mode)")
    if source is None and not everyone and not person:
        fail("say who to score: --all, or --person ID (repeatable)")
    try:
        instant = parse_instant(as_of) if as_of else utcnow()
    except ValueError:
        fail(f"--as-of takes an ISO 8601 instant such as 2026-05-01T12:00:00Z, not {as_of!r}")
    if source is not None:
        warehouse_commands.score_source(source, mapping, spec, out, instant, as_json)
        return
    with workspace_transaction(database, workspace) as (conn, ws):
        try:
            report = rescore(conn, ws.id, as_of=instant, person_ids=None if everyone else person)
        except NoSpec as exc:
            fail(str(exc))
    if as_json:
        print_json(report)
        return
    console.print(
        f"scored {report.scored} people as of {report.as_of:%Y-%m-%d %H:%M} UTC "
        f"with spec version {report.spec_version}; {len(report.moves)} stage changes"
    )
    if report.moves:
        table = Table("person", "from", "to", "cause")
        for move in report.moves[:30]:
            table.add_row(str(move.person_id), move.from_stage or "", move.to_stage, move.cause)
        console.print(table)
        if len(report.moves) > 30:
            console.print(f"… and {len(report.moves) - 30} more")
