"""`winnow learn evaluate|train|predict`: predictive models from a table of leads."""

from __future__ import annotations

import csv
import sys
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
    fail,
    print_json,
    workspace_transaction,
)

if TYPE_CHECKING:
    from winnow.learn.aha import Finding, Pair
    from winnow.learn.tabular import Evaluation

app = typer.Typer(
    help="Predictive scoring, from a CRM export or the event history; thresholds; the aha moment."
)
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

Stage = Annotated[str, typer.Option(help="The stage to predict: sql or customer.")]
Within = Annotated[
    str, typer.Option(help="From history: reaching the target this long after a cutoff.")
]
Every = Annotated[str, typer.Option(help="From history: a cutoff every this long.")]


def _durations(within: str, every: str) -> tuple[timedelta, timedelta]:
    from winnow.spec.durations import parse_duration

    try:
        return timedelta(seconds=parse_duration(within)), timedelta(seconds=parse_duration(every))
    except ValueError as exc:
        fail(f"--within and --every are durations such as 60d: {exc}")


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
    for label, value in _metric_rows(result):
        table.add_row(label, *value)
    console.print(table)
    if result.dropped:
        console.print(f"left out: {', '.join(result.dropped)}")


@app.command("train")
def train_command(
    csv_file: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            help="A CSV file, one row per lead; without it, learn from the workspace's history.",
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            help="With --csv, the outcome column; from history, the stage to predict: sql or"
            " customer (default)."
        ),
    ] = None,
    out: Annotated[
        Path,
        typer.Option(help="With --csv, the model file; from history, the folder of versions."),
    ] = Path("models"),
    within: Within = "60d",
    every: Every = "14d",
    positive: Positive = None,
    drop: Drop = None,
    model: Model = "boosting",
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
) -> None:
    """Train a model: from a CSV of leads, or from the workspace's event history.

    From history, one row per person and cutoff holds what was known then; the newest
    30% of people are held out to measure; the interpretable model is written as a spec
    `model:` section (p_convert), beside a stronger one measured as the ceiling.
    """
    if csv_file is None:
        _train_from_history(target or "customer", within, every, out, database, workspace, as_json)
        return
    from winnow.learn.tabular import TableError, prepare, read_table, train

    if target is None:
        fail("--csv needs --target: the outcome column")
    try:
        prepared = prepare(read_table(csv_file), target=target, positive=positive, drop=drop or ())
        train(prepared, _model(model), out)  # type: ignore[arg-type]
    except TableError as exc:
        fail(str(exc))
    console.print(f"model kept in {out} ({prepared.target.size:,} rows)")


def _train_from_history(
    target: str, within: str, every: str, out: Path, database: str, workspace: str, as_json: bool
) -> None:
    from winnow.clock import utcnow
    from winnow.learn.predictive import learn, save

    if target not in ("sql", "customer"):
        fail(f"--target is sql or customer when learning from history, not {target!r}")
    window, step = _durations(within, every)
    with workspace_transaction(database, workspace) as (conn, ws):
        try:
            trained = learn(conn, ws.id, target=target, within=window, every=step, now=utcnow())
        except ValueError as exc:
            fail(str(exc))
    path = save(trained, out)
    if as_json:
        print_json({**trained.card(), "path": str(path)})
        return
    table = Table("metric", "logistic (in the spec)", "boosting (ceiling)",
                  title=f"Predicting {trained.outcome}: {trained.valid_rows:,} held-out rows"
                  f" of the newest people, {trained.train_rows:,} to learn from")  # fmt: skip
    for label, value in _metric_rows(trained.logistic, trained.boosting):
        table.add_row(label, *value)
    console.print(table)
    factors = Table("factor", "weight", title="What the interpretable model weighs (log-odds)")
    for factor, weight in trained.factors[:15]:
        factors.add_row(factor.name, f"{weight:+.2f}")
    console.print(factors)
    console.print(f"kept in {path}; its spec section is {path / 'model.yaml'}")
    console.print("a draft spec from such a model, backtested: winnow learn suggest")


def _metric_rows(*evaluations: Evaluation) -> list[tuple[str, list[str]]]:
    rows = [
        ("ROC AUC", [f"{e.roc_auc:.3f}" for e in evaluations]),
        ("PR AUC", [f"{e.pr_auc:.3f}" for e in evaluations]),
    ]
    for share in evaluations[0].recall_at:
        label = f"recall in the top {share.removesuffix('pct')}%"
        rows.append((label, [f"{e.recall_at[share]:.1%}" for e in evaluations]))
    rows.append(("lift of the top decile", [f"{e.lift_by_decile[0]:.2f}x" for e in evaluations]))
    return rows


@app.command("suggest")
def suggest_command(
    out: Annotated[Path, typer.Option(help="Where to write the draft spec.")] = Path("draft.yaml"),
    target: Stage = "customer",
    within: Within = "60d",
    every: Every = "14d",
    top: Annotated[
        float, typer.Option(help="Share of open leads the MQL criterion flags by p_convert.")
    ] = 0.1,
    weeks: Annotated[
        int, typer.Option(help="Backtest the draft on the last N weeks; it learns before them.")
    ] = 12,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Draft a spec from history: points and an MQL criterion from the interpretable model,
    learned before the last --weeks weeks and backtested against the live spec on them."""
    from winnow.cli.backtest import print_report
    from winnow.clock import utcnow
    from winnow.learn.backtest import backtest, load_outcomes
    from winnow.learn.predictive import TOP_SHARES, learn
    from winnow.learn.suggest import suggest
    from winnow.spec import load_spec
    from winnow.store.specs import NoSpec, live_spec

    if top not in TOP_SHARES:
        fail(f"--top is one of {', '.join(f'{s:g}' for s in TOP_SHARES)}")
    window, step = _durations(within, every)
    end = utcnow()
    start = end - timedelta(weeks=weeks)
    with workspace_transaction(database, workspace) as (conn, ws):
        try:
            live = live_spec(conn, ws.id)[1]
            trained = learn(conn, ws.id, target=target, within=window, every=step, now=start)
        except (NoSpec, ValueError) as exc:
            fail(str(exc))
        outcomes = load_outcomes(conn, ws.id)
    draft = suggest(live, trained, mql_threshold=trained.p_at_top[top])
    out.write_text(draft, encoding="utf-8")
    console.print(
        f"draft written to {out}: {len(trained.factors)} factors, MQL at p_convert >="
        f" {trained.p_at_top[top]:.4g} (the top {top:.0%}); held-out ROC AUC"
        f" {trained.logistic.roc_auc:.3f}"
    )
    report = backtest(outcomes, [("draft", load_spec(draft)), ("live", live)], start=start, end=end)
    print_report(report)


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
    pairs: Annotated[
        bool, typer.Option("--pairs", help="With --json: the pairs of findings instead.")
    ] = False,
    database: DatabaseOption = DEFAULT_DATABASE,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: JsonOption = False,
) -> None:
    """The aha moment: early usage thresholds that converting trials reach, best lift first,
    then the pairs of them that convert better together than either alone."""
    from winnow.analytics.trials import load_account_events, load_plan_changes, paid_plans
    from winnow.learn.aha import early_usage

    with workspace_transaction(database, workspace) as (conn, ws):
        plans, done = load_plan_changes(conn, ws.id), load_account_events(conn, ws.id)
        paid = paid_plans(conn, ws.id)
    usage = early_usage(plans, done, first_days=first_days, paid_plans=paid)
    findings = usage.findings()
    together = usage.pairs(findings)[:top]
    findings = findings[:top]
    if as_json and pairs:
        print_json([{**vars(p), "criterion": p.criterion} for p in together])
        return
    if as_json:
        print_json([{**vars(f), "metric": f.metric, "criterion": f.criterion} for f in findings])
        return
    table = Table("did", "trials", "converted", "others", "lift", "95% interval",
                  title=f"In their first {first_days:g} days, converting trials…")  # fmt: skip
    rows: list[tuple[str, Finding | Pair]] = [(f"{f.event} ≥ {f.threshold}", f) for f in findings]
    rows += [
        (f"{p.first.event} ≥ {p.first.threshold} and {p.second.event} ≥ {p.second.threshold}", p)
        for p in together
    ]
    for label, f in rows:
        interval = f"{f.low:.0%}–{f.high:.0%}"
        table.add_row(label, str(f.trials_with), f"{f.rate_with:.0%}",
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
