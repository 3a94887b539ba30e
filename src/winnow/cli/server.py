"""`winnow serve`, `winnow worker` and `winnow keys`: running Winnow as a service."""

from __future__ import annotations

import signal
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

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
from winnow.store.db import open_store
from winnow.store.keys import KeyNotFound, create_key, list_keys, revoke_key

keys_app = typer.Typer(help="API keys: write keys for /v1 ingestion, secret keys for the API.")


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    scorer: Annotated[
        bool, typer.Option(help="Score queued people in this process (off: run `winnow worker`).")
    ] = True,
    full_rescore: Annotated[
        float, typer.Option(help="Seconds between rescores of everyone.", min=1)
    ] = 3600.0,
    dispatcher: Annotated[
        bool,
        typer.Option(help="Deliver notifications in this process (off: run `winnow dispatch`)."),
    ] = True,
    public_url: Annotated[
        str | None,
        typer.Option(help="Where people open Winnow, for links in notifications (default: ours)."),
    ] = None,
    require_backtest: Annotated[
        bool,
        typer.Option(
            "--require-backtest",
            help="Publishing a spec through the API needs a backtest of that exact source.",
        ),
    ] = False,
    log_level: Annotated[
        str, typer.Option(help="Server log level: warning, info or debug.")
    ] = "warning",
    database: DatabaseOption = DEFAULT_DATABASE,
) -> None:
    """Run the server: Segment-compatible /v1 ingestion and the REST API."""
    import uvicorn

    from winnow.server import Settings, create_app

    settings = Settings(
        database_url=database,
        scorer=scorer,
        full_rescore_seconds=full_rescore,
        dispatcher=dispatcher,
        require_backtest=require_backtest,
        public_url=public_url or f"http://{host}:{port}",
    )
    console.print(f"Winnow listening on [bold]http://{host}:{port}[/] (API docs at /docs)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)


def worker(
    batch: Annotated[int, typer.Option(help="People per micro-batch.", min=1)] = 500,
    full_rescore: Annotated[
        float, typer.Option(help="Seconds between rescores of everyone.", min=1)
    ] = 3600.0,
    database: DatabaseOption = DEFAULT_DATABASE,
) -> None:
    """Score queued people until stopped (run several on PostgreSQL)."""
    from winnow.server.scorer import Scorer

    engine = open_store(database)
    scorer = Scorer(engine, batch=batch, full_every=timedelta(seconds=full_rescore))
    signal.signal(signal.SIGTERM, lambda *_: scorer.stop())
    console.print("worker scoring queued people; Ctrl-C to stop")
    try:
        scorer.run()
    except KeyboardInterrupt:
        scorer.stop()
    finally:
        engine.dispose()


@keys_app.command("create")
def create(
    kind: Annotated[str, typer.Argument(help="write (ingestion only) or secret (the API).")],
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'website'.")],
    role: Annotated[
        str | None, typer.Option(help="For secret keys: admin, member or read.")
    ] = None,
    by: Annotated[str, typer.Option(help="Who creates it (recorded).")] = "cli",
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
) -> None:
    """Create a key; its value is printed once and never shown again."""
    with workspace_transaction(database, workspace) as (conn, ws):
        try:
            key, token = create_key(conn, ws.id, kind=kind, name=name, role=role, by=by)
        except ValueError as exc:
            fail(str(exc))
    if as_json:
        print_json({"key": key, "token": token})
        return
    console.print(f"{kind} key {key.id} ({key.name}) created; keep it now, it is not shown again:")
    console.print(token, soft_wrap=True, highlight=False)


@keys_app.command("list")
def list_(
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
) -> None:
    """The workspace's keys (prefixes only)."""
    with workspace_transaction(database, workspace) as (conn, ws):
        keys = list_keys(conn, ws.id)
    if as_json:
        print_json(keys)
        return
    table = Table("id", "kind", "role", "name", "prefix", "created", "revoked")
    for key in keys:
        revoked = f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else ""
        table.add_row(
            str(key.id), key.kind, key.role or "", key.name, key.prefix + "…",
            f"{key.created_at:%Y-%m-%d %H:%M}", revoked,
        )  # fmt: skip
    console.print(table)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id (see `winnow keys list`).")],
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Revoke a key: requests with it are refused from now on."""
    with workspace_transaction(database, workspace) as (conn, ws):
        try:
            key = revoke_key(conn, ws.id, key_id)
        except KeyNotFound as exc:
            fail(str(exc))
    console.print(f"key {key.id} ({key.name}) revoked")


users_app = typer.Typer(help="People who sign in to the dashboard.")


@users_app.command("add")
def users_add(
    email: Annotated[str, typer.Argument(help="Their email; they sign in with it.")],
    role: Annotated[str, typer.Option(help="admin, member (may move leads) or read.")] = "member",
    name: Annotated[str | None, typer.Option(help="How the dashboard shows them.")] = None,
    password: Annotated[
        str | None,
        typer.Option(help="Their password (at least 10 characters); asked for when left out."),
    ] = None,
    generate: Annotated[
        bool, typer.Option(help="Make up a strong password and print it once.")
    ] = False,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Add a dashboard user to the workspace."""
    import secrets

    from winnow.clock import utcnow
    from winnow.store.users import UserError, create_user

    if generate:
        password = secrets.token_urlsafe(12)
    elif password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with workspace_transaction(database, workspace) as (conn, ws):
        try:
            user = create_user(
                conn, ws.id, email=email, password=password, role=role, name=name, now=utcnow()
            )
        except UserError as exc:
            fail(str(exc))
    console.print(f"user {user.email} ({user.role}) added to {ws.slug}")
    if generate:
        console.print(f"password (shown once): {password}")


@users_app.command("list")
def users_list(
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
) -> None:
    """The workspace's dashboard users (never their passwords)."""
    from winnow.store.users import list_users

    with workspace_transaction(database, workspace) as (conn, ws):
        found = list_users(conn, ws.id)
    if as_json:
        print_json(found)
        return
    table = Table("id", "email", "name", "role", "language")
    for u in found:
        table.add_row(str(u.id), u.email, u.name or "", u.role, u.language or "")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(worker)
    app.add_typer(keys_app, name="keys")
    app.add_typer(users_app, name="users")
