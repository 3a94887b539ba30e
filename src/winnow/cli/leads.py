"""`winnow leads`, `winnow explain`, `winnow move`: reading leads and acting on them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.panel import Panel
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
from winnow.leads import LeadDetail, LeadNotFound, lead_detail, resolve_person
from winnow.lifecycle import ACTIONS, BANT, IllegalMove
from winnow.qualification import act
from winnow.spec.expr import GRADES, STAGES
from winnow.store.scores import top_leads


def leads(
    stage: Annotated[
        str | None, typer.Option(help=f"Only this stage: {', '.join(STAGES)}.")
    ] = None,
    grade: Annotated[str | None, typer.Option(help="Only this fit grade: A, B, C or D.")] = None,
    segment: Annotated[
        str | None, typer.Option(help="Only the people in this segment of the spec.")
    ] = None,
    top: Annotated[int, typer.Option(help="How many to show.", min=1)] = 20,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
) -> None:
    """List the best-scored leads."""
    if stage is not None and stage not in STAGES:
        fail(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")
    if grade is not None and grade not in GRADES:
        fail(f"unknown grade {grade!r}; grades are A, B, C, D")
    with workspace_transaction(database, workspace) as (conn, ws):
        rows = top_leads(conn, ws.id, stage=stage, grade=grade, segment=segment, limit=top)
    if as_json:
        print_json(rows)
        return
    title = f"Top {len(rows)} leads" + (f" in {stage}" if stage else "")
    table = Table(title=title)
    for column in (
        "id",
        "name",
        "title",
        "company",
        "stage",
        "grade",
        "fit",
        "engagement",
        "score",
    ):
        table.add_column(
            column, justify="right" if column in ("fit", "engagement", "score") else "left"
        )
    for lead in rows:
        table.add_row(
            str(lead.person_id),
            lead.name or lead.email or lead.user_id or "",
            lead.title or "",
            lead.company or "",
            lead.stage,
            lead.grade,
            f"{lead.fit:.0f}",
            f"{lead.engagement:.1f}",
            f"{lead.score:.1f}",
        )
    console.print(table)
    if not rows:
        console.print("No scored leads yet: run `winnow score --all`.")


def explain(
    person: Annotated[str, typer.Argument(help="Person id, user id or email.")],
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
) -> None:
    """Show why a lead scores what it scores: every rule, metric, criterion and stage move."""
    with workspace_transaction(database, workspace) as (conn, ws):
        try:
            detail = lead_detail(conn, ws.id, resolve_person(conn, ws.id, person))
        except LeadNotFound as exc:
            fail(str(exc))
    if as_json:
        print_json(detail)
        return
    _print_detail(detail)


def _print_detail(detail: LeadDetail) -> None:
    company = (detail.account or {}).get("name") or "no company"
    title = detail.traits.get("title") or ""
    console.print(
        Panel(
            f"[bold]{detail.name or detail.email or detail.user_id}[/] "
            f"{detail.email or ''}\n{title} · {company} · stage [bold]{detail.stage}[/]",
            title=f"person {detail.person_id}",
        )
    )
    score = detail.score
    if score is None:
        console.print("Not scored yet: run `winnow score --all`.")
    else:
        console.print(
            f"score [bold]{score['score']:.1f}[/] = fit {score['fit']:.0f} (grade "
            f"{score['grade']}) + engagement {score['engagement']:.1f}, as of "
            f"{score['as_of']:%Y-%m-%d %H:%M} UTC, spec v{score['spec_version']}"
        )
        explanation = score["explanation"]
        fit = Table("fit rule", "points", title="Fit")
        for hit in explanation["fit"]:
            fit.add_row(hit["rule"], f"{hit['points']:+.0f}")
        console.print(fit)
        engagement = Table(
            "engagement rule",
            "points",
            "events",
            "counted",
            "lost to decay",
            "lost to cap",
            title="Engagement",
        )
        for rule in sorted(explanation["engagement"], key=lambda r: -abs(r["points"])):
            engagement.add_row(
                rule["rule"],
                f"{rule['points']:+.1f}",
                str(rule["matched"]),
                str(rule["counted"]),
                f"{rule['decay']:.1f}",
                f"{rule['capped']:.1f}",
            )
        console.print(engagement)
        if score["metrics"]:
            metrics = Table("metric", "value", title="Product metrics")
            for name, value in score["metrics"].items():
                metrics.add_row(name, "—" if value is None else f"{value:g}")
            console.print(metrics)
        held = [k for k, v in score["criteria"].items() if v]
        console.print(f"criteria that hold: {', '.join(held) if held else 'none'}")
        model = explanation.get("model")
        if model:
            console.print(f"p_convert {model['p_convert']:.1%}")
            for side in ("for", "against"):
                named = ", ".join(f"{f['factor']} ({f['weight']:+.2f})" for f in model[side])
                console.print(f"  {side}: {named or 'none'}")
        account = explanation.get("account")
        if account:
            console.print(
                f"account: fit {account['fit']:.0f}, engagement {account['engagement']:.1f}"
                f", score {account['score']:.1f}"
            )
    history = Table("when", "from", "to", "cause", "reason", "score", title="Stage history")
    for entry in detail.history:
        history.add_row(
            f"{entry.at:%Y-%m-%d %H:%M}",
            entry.from_stage or "",
            entry.to_stage,
            entry.cause,
            entry.reason or "",
            "" if entry.score is None else f"{entry.score:.1f}",
        )
    console.print(history)
    timeline = Table("when", "event", "properties", title="Latest events")
    for event in detail.timeline[:15]:
        props = ", ".join(f"{k}={v}" for k, v in list(event.properties.items())[:4])
        timeline.add_row(f"{event.timestamp:%Y-%m-%d %H:%M}", event.name, props)
    console.print(timeline)


def move(
    person: Annotated[str, typer.Argument(help="Person id, user id or email.")],
    action: Annotated[str, typer.Argument(help=f"One of: {', '.join(ACTIONS)}.")],
    reason: Annotated[
        str | None, typer.Option(help="Why (required for nurture, disqualify and lost).")
    ] = None,
    by: Annotated[str, typer.Option(help="Who makes the move.", envvar="USER")] = "cli",
    bant: Annotated[
        list[str] | None,
        typer.Option(help="BANT field for qualify, e.g. --bant budget='50k EUR' (repeat)."),
    ] = None,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Move a lead: accept, nurture, disqualify, qualify (BANT), open_opportunity, won, lost."""
    details: dict[str, str] = {}
    for item in bant or []:
        key, sep, value = item.partition("=")
        if not sep or key not in BANT:
            fail(f"--bant takes {'|'.join(BANT)}=VALUE, got {item!r}")
        details[key] = value
    with workspace_transaction(database, workspace) as (conn, ws):
        try:
            done = act(
                conn,
                ws.id,
                resolve_person(conn, ws.id, person),
                action,
                actor=by,
                reason=reason,
                details=details,
            )
        except (IllegalMove, LeadNotFound) as exc:
            fail(str(exc))
    console.print(f"[green]✓[/] person {done.person_id}: {done.from_stage} → {done.to_stage}")


def register(app: typer.Typer) -> None:
    app.command()(leads)
    app.command()(explain)
    app.command()(move)
