"""`winnow learn evaluate|train|predict`: predictive models from a table of leads."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
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

app = typer.Typer(help="Predictive scoring: evaluate, train and apply models on a CRM export.")
CsvFile = Annotated[Path, typer.Option("--csv", help="A CSV file, one row per lead.")]
Target = Annotated[str, typer.Option(help="The outcome column.")]
Positive = Annotated[
    str | None, typer.Option(help="The outcome value that counts as converted (default 1/true).")
]
Drop = Annotated[
    list[str] | None, typer.Option(help="A column that leaks the outcome; repeat for more.")
]
Model = Annotated[str, typer.Option(help="logistic (interpretable) or boosting (stronger).")]
Group = Annotated[
    str | None,
    typer.Option(help="Rows of one value (a company) stay in one fold when cross-validating."),
]


def _model(name: str) -> str:
    if name not in ("logistic", "boosting"):
        fail(f"--model is logistic or boosting, not {name!r}")
    return name


@app.command("evaluate")
def evaluate_command(
    csv_file: CsvFile,
    target: Target,
    positive: Positive = None,
    drop: Drop = None,
    group: Group = None,
    model: Model = "boosting",
    as_json: JsonOption = False,
) -> None:
    """Cross-validate a model on the table and print ROC AUC, PR AUC, recall and lift."""
    # scikit-learn loads only for the commands that need it, not for every `winnow` call.
    from winnow.learn.tabular import FOLDS, TableError, evaluate, prepare, read_table

    try:
        prepared = prepare(
            read_table(csv_file), target=target, positive=positive, drop=drop or (), group=group
        )
        result = evaluate(prepared, _model(model))  # type: ignore[arg-type]
    except TableError as exc:
        fail(str(exc))
    if as_json:
        print_json(result.as_dict())
        return
    table = Table("metric", "value", title=f"{model}, {result.rows:,} rows, {FOLDS} folds")
    table.add_row("ROC AUC", f"{result.roc_auc:.3f}")
    table.add_row("PR AUC", f"{result.pr_auc:.3f}")
    for share, value in result.recall_at.items():
        table.add_row(f"recall in the top {share.removesuffix('pct')}%", f"{value:.1%}")
    table.add_row("lift of the top decile", f"{result.lift_by_decile[0]:.2f}x")
    console.print(table)
    if result.dropped:
        console.print(f"left out: {', '.join(result.dropped)}")


@app.command("train")
def train_command(
    csv_file: CsvFile,
    target: Target,
    out: Annotated[Path, typer.Option(help="Where to keep the model.")],
    positive: Positive = None,
    drop: Drop = None,
    model: Model = "boosting",
) -> None:
    """Fit a model on every row and keep it, to score new rows of the same shape."""
    from winnow.learn.tabular import TableError, prepare, read_table, train

    try:
        prepared = prepare(read_table(csv_file), target=target, positive=positive, drop=drop or ())
        train(prepared, _model(model), out)  # type: ignore[arg-type]
    except TableError as exc:
        fail(str(exc))
    console.print(f"model kept in {out} ({prepared.target.size:,} rows)")


@app.command("predict")
def predict_command(
    csv_file: CsvFile,
    model_file: Annotated[Path, typer.Option("--model", help="A model from `learn train`.")],
) -> None:
    """Print the rows with a `p_convert` column: the predicted probability of converting."""
    from winnow.learn.tabular import TableError, predict, read_table

    try:
        table = read_table(csv_file)
        table["p_convert"] = predict(model_file, table)
    except TableError as exc:
        fail(str(exc))
    table.to_csv(sys.stdout, index=False, quoting=csv.QUOTE_MINIMAL)


@app.command("aha")
def aha_command(
    first_days: Annotated[
        float, typer.Option(help="Count what trials did in their first N days.", min=1)
    ] = 14,
    top: Annotated[int, typer.Option(help="How many findings to show.", min=1)] = 10,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
) -> None:
    """The aha moment: early usage thresholds that converting trials reach, best lift first."""
    from winnow.analytics.trials import load_account_events, load_plan_changes, paid_plans
    from winnow.learn.aha import find

    with workspace_transaction(database, workspace) as (conn, ws):
        plans, done = load_plan_changes(conn, ws.id), load_account_events(conn, ws.id)
        paid = paid_plans(conn, ws.id)
    findings = find(plans, done, first_days=first_days, paid_plans=paid)[:top]
    if as_json:
        print_json([{**vars(f), "metric": f.metric, "criterion": f.criterion} for f in findings])
        return
    table = Table("did", "trials", "converted", "others", "lift", "95% interval",
                  title=f"In their first {first_days:g} days, converting trials…")  # fmt: skip
    for f in findings:
        interval = f"{f.low:.0%}–{f.high:.0%}"
        table.add_row(f"{f.event} ≥ {f.threshold}", str(f.trials_with), f"{f.rate_with:.0%}",
                      f"{f.rate_without:.0%}", f"{f.lift:.2f}x", interval)  # fmt: skip
    console.print(table)
    if findings:
        best = findings[0]
        console.print("As a PQL criterion:")
        console.print(f"  metrics:\n    {best.metric}\n  stages:\n    pql: '{best.criterion}'")


@app.command("thresholds")
def thresholds_command(
    capacity: Annotated[
        float | None, typer.Option(help="Leads a week sales can review.", min=0)
    ] = None,
    precision: Annotated[
        float | None, typer.Option(help="Share of flagged leads that must convert.", min=0, max=1)
    ] = None,
    recall: Annotated[
        float | None, typer.Option(help="Share of converters to flag in time.", min=0, max=1)
    ] = None,
    target: Annotated[str, typer.Option(help="sql or customer.")] = "sql",
    weeks: Annotated[int, typer.Option(help="Weeks of history to replay.", min=2)] = 12,
    until: Annotated[
        str | None, typer.Option(help="Replay up to this instant (ISO 8601; default now).")
    ] = None,
    step: Annotated[float, typer.Option(help="Thresholds every this many points.", min=1)] = 10,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
) -> None:
    """Advise the MQL score threshold from history: volume, precision and recall of each."""
    from winnow.clock import parse_instant, utcnow
    from winnow.learn.thresholds import advise, replay, tradeoffs
    from winnow.store.specs import NoSpec

    if target not in ("sql", "customer"):
        fail("--target is sql or customer")
    try:
        end = parse_instant(until) if until else utcnow()
    except ValueError as exc:
        fail(f"--until is not an instant: {exc}")
    with workspace_transaction(database, workspace) as (conn, ws):
        try:
            weekly, reached = replay(conn, ws.id, weeks=weeks, until=end, target=target)
        except NoSpec as exc:
            fail(str(exc))
    top = max((max(s.values(), default=0) for _, s in weekly), default=0)
    candidates = [step * n for n in range(1, int(top // step) + 2)]
    rows = tradeoffs(weekly, reached, candidates)
    choice = None
    if capacity is not None or precision is not None or recall is not None:
        choice = advise(rows, capacity=capacity, precision=precision, recall=recall)
    if as_json:
        print_json({"rows": rows, "advice": choice})
        return
    table = Table("threshold", "leads a week", "precision", "recall",
                  title=f"MQL thresholds over {weeks} weeks (reaching {target})")  # fmt: skip
    for r in rows:
        mark = " ←" if choice is not None and r.threshold == choice.threshold else ""
        table.add_row(f"{r.threshold:g}{mark}", f"{r.per_week:,.1f}",
                      "" if r.precision is None else f"{r.precision:.0%}",
                      "" if r.recall is None else f"{r.recall:.0%}")  # fmt: skip
    console.print(table)
    if choice is not None:
        console.print(f"advice: an MQL threshold of {choice.threshold:g}")
    elif capacity is not None or precision is not None or recall is not None:
        console.print("no threshold meets that; see the table")
