"""`winnow demo` and `winnow import`: getting data into a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.progress import Progress

from winnow.cli.context import (
    DEFAULT_DATABASE,
    DatabaseOption,
    JsonOption,
    WorkspaceOption,
    console,
    errors,
    fail,
    print_json,
    workspace_transaction,
)
from winnow.demo.build import build_demo
from winnow.demo.world import build_world
from winnow.ingest.tabular import import_rows
from winnow.store.db import open_store
from winnow.store.schema import workspaces
from winnow.store.workspaces import create_workspace

# The demo world's spec ships with the package (examples/winnow.yaml links to it).
EXAMPLE_SPEC = Path(__file__).resolve().parents[1] / "demo" / "winnow.yaml"


def demo(
    spec: Annotated[
        Path | None,
        typer.Option(exists=True, help="Spec for the demo world (default: examples/winnow.yaml)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic world.")] = 7,
    people: Annotated[int, typer.Option(help="People in the world.", min=50)] = 5000,
    accounts: Annotated[int, typer.Option(help="Accounts in the world.", min=10)] = 1500,
    force: Annotated[bool, typer.Option(help="Replace an existing demo workspace.")] = False,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = "demo",
) -> None:
    """Build a demo workspace: six months of a synthetic B2B SaaS, replayed day by day."""
    engine = open_store(database)
    try:
        with engine.begin() as conn:
            existing = conn.execute(
                sa.select(workspaces.c.id).where(workspaces.c.slug == workspace)
            )
            if existing.first() is not None:
                if not force:
                    fail(f"workspace {workspace!r} exists; use --force to rebuild it")
                conn.execute(workspaces.delete().where(workspaces.c.slug == workspace))
        with console.status("generating the world…"):
            world = build_world(seed, people=people, accounts=accounts)
        with engine.begin() as conn:
            ws = create_workspace(conn, workspace, "Demo: a B2B SaaS with trials", now=world.start)
            with Progress(console=console, transient=True) as bar:
                task = bar.add_task("replaying six months", total=1)
                report = build_demo(
                    conn,
                    ws.id,
                    world,
                    (spec or EXAMPLE_SPEC).read_text(encoding="utf-8"),
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
    finally:
        engine.dispose()
    console.print(
        f"[green]✓[/] demo workspace [bold]{workspace}[/]: {report.people} people, "
        f"{report.messages} messages, {report.moves_by_rules} stage changes by rules and facts, "
        f"{report.moves_by_people} by sales; scored as of {report.as_of:%Y-%m-%d}"
    )
    if report.rejected:
        console.print(
            f"  {report.rejected} malformed messages were refused and kept in the rejected log"
        )


def import_(
    kind: Annotated[str, typer.Argument(help="people, accounts or events")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or JSONL file.")],
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="Column mapping SOURCE=FIELD, e.g. --map 'Work Email=email'."),
    ] = None,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Import people, accounts or events from CSV or JSONL; bad rows are reported by line."""
    if kind not in ("people", "accounts", "events"):
        fail(f"kind must be people, accounts or events, not {kind!r}")
    mapping: dict[str, str] = {}
    for item in map_ or []:
        source, sep, target = item.partition("=")
        if not sep or not source or not target:
            fail(f"--map takes SOURCE=FIELD, got {item!r}")
        mapping[source] = target
    with workspace_transaction(database, workspace) as (conn, ws):
        try:
            report = import_rows(conn, ws.id, kind, file, mapping=mapping or None)
        except ValueError as exc:  # a file or mapping that cannot be read at all
            fail(str(exc))
    if as_json:
        print_json(report)
    else:
        console.print(f"imported {report.imported} {kind} from {file}")
        for line, reason in report.problems:
            errors.print(f"[yellow]line {line}:[/] {reason}", highlight=False)
        if report.problems:
            errors.print(f"{len(report.problems)} row(s) not imported (kept in the rejected log)")
    if report.problems:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.command()(demo)
    app.command("import")(import_)
