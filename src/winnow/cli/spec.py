"""`winnow spec`: check, show and publish scoring specs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.syntax import Syntax

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
from winnow.qualification import rescore
from winnow.spec import SpecInvalid, load_spec
from winnow.store.specs import NoSpec, live_spec_version, publish_spec, spec_versions_of

app = typer.Typer(help="Check, show and publish scoring specs.", no_args_is_help=True)

FileArgument = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Spec YAML file.")]


@app.command()
def check(file: FileArgument, as_json: JsonOption = False) -> None:
    """Validate a spec file and list every error with its location."""
    try:
        spec = load_spec(file.read_text(encoding="utf-8"))
    except SpecInvalid as exc:
        if as_json:
            print_json({"valid": False, "errors": [e.as_dict() for e in exc.errors]})
        else:
            for error in exc.errors:
                errors.print(f"[red]✗[/] {file}:{error}", markup=True, highlight=False)
            errors.print(f"[bold red]{len(exc.errors)} error(s)[/]")
        raise typer.Exit(1) from exc
    summary = {
        "valid": True,
        "fit_rules": len(spec.fit),
        "engagement_rules": len(spec.engagement),
        "metrics": len(spec.metrics),
        "stages": sorted(spec.stages),
        "segments": sorted(spec.segments),
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"[green]✓[/] {file} is valid: {len(spec.fit)} fit rules, {len(spec.engagement)} "
        f"engagement rules, {len(spec.metrics)} metrics, stages {', '.join(sorted(spec.stages))}"
    )


@app.command()
def show(
    version: Annotated[int | None, typer.Option(help="A past version (default: live).")] = None,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
) -> None:
    """Print the live spec of a workspace (or a past version)."""
    with workspace_transaction(database, workspace) as (conn, ws):
        try:
            versions = spec_versions_of(conn, ws.id)
            if not versions:
                live_spec_version(conn, ws.id)
        except NoSpec as exc:
            fail(str(exc))
        chosen = versions[-1] if version is None else None
        if version is not None:
            chosen = next((v for v in versions if v.version == version), None)
        if chosen is None:
            fail(f"no spec version {version}; versions are 1..{len(versions)}")
        assert chosen is not None
    if as_json:
        print_json(chosen)
        return
    console.print(
        f"[bold]spec version {chosen.version}[/] by {chosen.created_by} "
        f"at {chosen.created_at:%Y-%m-%d %H:%M} UTC"
    )
    # soft_wrap: long rules are printed whole (the terminal wraps them), never cropped.
    console.print(Syntax(chosen.source, "yaml", background_color="default"), soft_wrap=True)


@app.command()
def publish(
    file: FileArgument,
    note: Annotated[str | None, typer.Option(help="Why this version.")] = None,
    by: Annotated[str, typer.Option(help="Who publishes it.")] = "cli",
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    score: Annotated[bool, typer.Option(help="Rescore everyone with it.")] = True,
) -> None:
    """Publish a spec as the workspace's live version (an invalid spec is refused)."""
    source = file.read_text(encoding="utf-8")
    with workspace_transaction(database, workspace) as (conn, ws):
        try:
            published = publish_spec(conn, ws.id, source, by=by, note=note)
        except SpecInvalid as exc:
            for error in exc.errors:
                errors.print(f"[red]✗[/] {file}:{error}", highlight=False)
            fail("the spec was not published")
        report = rescore(conn, ws.id) if score else None
    console.print(f"[green]✓[/] published spec version {published.version}")
    if report:
        console.print(f"rescored {report.scored} people; {len(report.moves)} stage changes")
