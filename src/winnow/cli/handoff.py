"""`winnow queue`, `review`, `endpoints`, `rules`, `notifications` and `dispatch`: the handoff
to sales and the notifications that go with it."""

from __future__ import annotations

import signal
from datetime import datetime
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
from winnow.clock import parse_instant, utcnow
from winnow.handoff.queue import queue as review_queue
from winnow.leads import resolve_person
from winnow.lifecycle import IllegalMove
from winnow.notify import outbox
from winnow.notify.log import list_notifications
from winnow.qualification import review as answer_review
from winnow.store.db import open_store

endpoints_app = typer.Typer(help="Where notifications go: signed webhooks and Slack.")
rules_app = typer.Typer(help="Which happenings notify which endpoint.")
notifications_app = typer.Typer(help="The delivery log; redeliver and replay.")


def register(app: typer.Typer) -> None:
    app.command("queue")(queue)
    app.command("review")(review)
    app.command("dispatch")(dispatch)
    app.add_typer(endpoints_app, name="endpoints")
    app.add_typer(rules_app, name="rules")
    app.add_typer(notifications_app, name="notifications")


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M")


def queue(
    owner: Annotated[str | None, typer.Option(help="Only this owner's reviews.")] = None,
    overdue: Annotated[bool, typer.Option(help="Only those past their SLA.")] = False,
    limit: Annotated[int, typer.Option(help="How many.", min=1)] = 50,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
) -> None:
    """MQLs and PQLs waiting for review: hand-raises first, then by SLA deadline."""
    now = utcnow()
    with workspace_transaction(database, workspace) as (conn, ws):
        waiting = review_queue(
            conn, ws.id, owner=owner, overdue_at=now if overdue else None, limit=limit
        )
    if as_json:
        print_json(waiting)
        return
    table = Table("person", "stage", "owner", "entered", "due", "hand-raise")
    for r in waiting:
        due = _when(r.due_at) + (" [red]overdue[/]" if r.overdue(now) else "")
        table.add_row(str(r.person_id), r.stage, r.owner or "", _when(r.entered_at), due,
                      r.hand_raise or "")  # fmt: skip
    console.print(table)


def review(
    person: Annotated[str, typer.Argument(help="Person id, user id or email.")],
    outcome: Annotated[str, typer.Argument(help="ready, nurture or suspect.")],
    reason: Annotated[str, typer.Option(help="Why (recorded with the review).")],
    by: Annotated[str, typer.Option(help="Who reviews (recorded).")] = "cli",
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
) -> None:
    """Answer a review: ready (accept as SAL), nurture, or suspect (disqualify)."""
    with workspace_transaction(database, workspace) as (conn, ws):
        try:
            move = answer_review(
                conn, ws.id, resolve_person(conn, ws.id, person), outcome, reviewer=by,
                reason=reason,
            )  # fmt: skip
        except (LookupError, IllegalMove) as exc:
            fail(str(exc))
    if as_json:
        print_json(move)
        return
    console.print(f"person {move.person_id}: {move.from_stage} -> {move.to_stage} ({outcome})")


def dispatch(
    lease: Annotated[float, typer.Option(help="Seconds a claimed delivery is ours.", min=1)] = 60,
    public_url: Annotated[
        str, typer.Option(help="Where people open Winnow (links in Slack messages).")
    ] = "http://127.0.0.1:8000",
    database: DatabaseOption = DEFAULT_DATABASE,
) -> None:
    """Deliver notifications until stopped (run several on PostgreSQL)."""
    from datetime import timedelta

    from winnow.notify.dispatcher import Dispatcher

    engine = open_store(database)
    dispatcher = Dispatcher(engine, lease=timedelta(seconds=lease), public_url=public_url)
    signal.signal(signal.SIGTERM, lambda *_: dispatcher.stop())
    console.print("dispatcher delivering notifications; Ctrl-C to stop")
    try:
        dispatcher.run()
    except KeyboardInterrupt:
        dispatcher.stop()
    finally:
        dispatcher.close()
        engine.dispose()


@endpoints_app.command("add")
def endpoints_add(
    kind: Annotated[str, typer.Argument(help="webhook or slack.")],
    url: Annotated[str, typer.Argument(help="The https:// URL to post to.")],
    name: Annotated[str, typer.Option(help="What it is, e.g. 'crm'.")],
    by: Annotated[str, typer.Option(help="Who adds it (recorded).")] = "cli",
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
) -> None:
    """Add an endpoint; a webhook's signing secret (whsec_...) is printed."""
    with workspace_transaction(database, workspace) as (conn, ws):
        try:
            created = outbox.add_endpoint(
                conn, ws.id, name=name, kind=kind, url=url, by=by, now=utcnow()
            )
        except ValueError as exc:
            fail(str(exc))
    if as_json:
        print_json(created)
        return
    console.print(f"endpoint {created.id} ({created.kind}) added")
    if created.secret:
        console.print(f"signing secret: {created.secret}")


@endpoints_app.command("list")
def endpoints_list(
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
) -> None:
    """Every endpoint."""
    with workspace_transaction(database, workspace) as (conn, ws):
        found = outbox.list_endpoints(conn, ws.id)
    if as_json:
        print_json(found)
        return
    table = Table("id", "name", "kind", "url", "disabled")
    for e in found:
        table.add_row(str(e.id), e.name, e.kind, e.url, e.disabled_reason or "")
    console.print(table)


@endpoints_app.command("rotate")
def endpoints_rotate(
    endpoint_id: Annotated[int, typer.Argument(help="The endpoint's id.")],
    overlap_hours: Annotated[
        float, typer.Option(help="Hours the old secret keeps signing too.", min=0)
    ] = 24,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """A new signing secret; both sign during the overlap."""
    from datetime import timedelta

    with workspace_transaction(database, workspace) as (conn, ws):
        try:
            rotated = outbox.rotate_secret(
                conn, ws.id, endpoint_id, now=utcnow(), overlap=timedelta(hours=overlap_hours)
            )
        except (outbox.NotFound, ValueError) as exc:
            fail(str(exc))
    console.print(f"new signing secret: {rotated.secret}")


@endpoints_app.command("enable")
def endpoints_enable(
    endpoint_id: Annotated[int, typer.Argument(help="The endpoint's id.")],
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Enable an endpoint again (after a 410, say); its waiting deliveries go out."""
    with workspace_transaction(database, workspace) as (conn, ws):
        try:
            outbox.set_endpoint_enabled(conn, ws.id, endpoint_id, True, now=utcnow())
        except outbox.NotFound as exc:
            fail(str(exc))
    console.print(f"endpoint {endpoint_id} enabled")


@rules_app.command("add")
def rules_add(
    endpoint_id: Annotated[int, typer.Argument(help="The endpoint to notify.")],
    happenings: Annotated[
        list[str], typer.Argument(help="person.mql, person.*, account.converted, review.overdue…")
    ],
    name: Annotated[str, typer.Option(help="What the rule is for.")],
    by: Annotated[str, typer.Option(help="Who adds it (recorded).")] = "cli",
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Send these happenings to an endpoint."""
    with workspace_transaction(database, workspace) as (conn, ws):
        try:
            rule = outbox.add_rule(conn, ws.id, name=name, happenings=happenings,
                                   endpoint_id=endpoint_id, by=by, now=utcnow())  # fmt: skip
        except (outbox.NotFound, ValueError) as exc:
            fail(str(exc))
    console.print(f"rule {rule.id}: {', '.join(rule.happenings)} -> endpoint {endpoint_id}")


@rules_app.command("list")
def rules_list(
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
) -> None:
    """Every notification rule."""
    with workspace_transaction(database, workspace) as (conn, ws):
        found = outbox.list_rules(conn, ws.id)
    if as_json:
        print_json(found)
        return
    table = Table("id", "name", "happenings", "endpoint")
    for r in found:
        table.add_row(str(r.id), r.name, ", ".join(r.happenings), str(r.endpoint_id))
    console.print(table)


@notifications_app.command("list")
def notifications_list(
    status: Annotated[str | None, typer.Option(help="pending, delivered or failed.")] = None,
    limit: Annotated[int, typer.Option(help="How many.", min=1)] = 20,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
) -> None:
    """Notifications, newest first, with each delivery's status and attempts."""
    with workspace_transaction(database, workspace) as (conn, ws):
        found = list_notifications(conn, ws.id, status=status, limit=limit, with_attempts=True)
    if as_json:
        print_json(found)
        return
    table = Table("id", "type", "person", "created", "deliveries")
    for n in found:
        sent = ", ".join(f"#{d.endpoint_id} {d.status} ({d.attempts})" for d in n.deliveries)
        table.add_row(n.id, n.type, str(n.person_id or ""), _when(n.created_at), sent)
    console.print(table)


@notifications_app.command("redeliver")
def notifications_redeliver(
    notification_id: Annotated[str, typer.Argument(help="msg_… (the webhook-id).")],
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Send one notification again, with its original webhook-id."""
    with workspace_transaction(database, workspace) as (conn, ws):
        count = outbox.redeliver(conn, ws.id, now=utcnow(), notification_ids=[notification_id])
    if count == 0:
        fail(f"no notification {notification_id!r} in this workspace")
    console.print(f"{count} {'delivery' if count == 1 else 'deliveries'} queued again")


@notifications_app.command("replay")
def notifications_replay(
    since: Annotated[str, typer.Option(help="From this instant (ISO 8601).")],
    until: Annotated[str, typer.Option(help="Up to this instant (ISO 8601).")],
    endpoint: Annotated[int | None, typer.Option(help="Only to this endpoint.")] = None,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Send again every notification of a time range."""
    try:
        start, end = parse_instant(since), parse_instant(until)
    except ValueError as exc:
        fail(f"not an instant: {exc}")
    with workspace_transaction(database, workspace) as (conn, ws):
        count = outbox.redeliver(conn, ws.id, now=utcnow(), since=start, until=end,
                                 endpoint_id=endpoint)  # fmt: skip
    console.print(f"{count} {'delivery' if count == 1 else 'deliveries'} queued again")
