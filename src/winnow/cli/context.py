"""What every command shares: the store URL, the workspace, and how to print."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, NoReturn

import sqlalchemy as sa
import typer
from rich.console import Console

from winnow.store.db import DEFAULT_URL, open_store
from winnow.store.workspaces import Workspace, get_workspace

console = Console()
errors = Console(stderr=True)

DatabaseOption = Annotated[
    str,
    typer.Option(
        "--database",
        "-d",
        envvar="WINNOW_DATABASE_URL",
        help="Store URL: a SQLite file (sqlite:///winnow.db) or postgresql://…",
    ),
]
WorkspaceOption = Annotated[
    str,
    typer.Option("--workspace", "-w", envvar="WINNOW_WORKSPACE", help="Workspace slug."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
DEFAULT_DATABASE = DEFAULT_URL
DEFAULT_WORKSPACE = "default"


@contextmanager
def workspace_transaction(database: str, slug: str) -> Iterator[tuple[sa.Connection, Workspace]]:
    """A transaction on the store with the workspace resolved; commits on success."""
    engine = open_store(database)
    try:
        with engine.begin() as conn:
            try:
                workspace = get_workspace(conn, slug)
            except LookupError as exc:
                fail(f"{exc}. Create it with `winnow init --workspace {slug}`.")
            yield conn, workspace
    finally:
        engine.dispose()


def fail(message: str, code: int = 1) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def print_json(value: Any) -> None:
    typer.echo(json.dumps(jsonable(value), indent=2, ensure_ascii=False))
