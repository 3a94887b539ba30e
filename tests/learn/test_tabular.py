"""Tabular learning on synthetic CRM exports: it finds a planted signal, and no other.

The planted table: 1,200 leads. Leads from companies of 200+ people whose source is a
demo request convert 75% of the time, the rest 5%; `industry` is noise; 15% of
`employees` are missing; an `email` column is unique per row (and must not be learned
from); `stage_at_close` is the outcome written another way (a leak the user drops).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from winnow.cli import app
from winnow.learn.tabular import TableError, evaluate, metrics, predict, prepare, train

ROWS = 1200


def planted(seed: int = 3, *, signal: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    employees = rng.integers(5, 2000, ROWS).astype(float)
    source = rng.choice(["demo request", "webinar", "ebook", "paid search"], ROWS)
    industry = rng.choice(["software", "retail", "finance", "health"], ROWS)
    hot = (employees >= 200) & (source == "demo request")
    rate = np.where(hot, 0.75, 0.05) if signal else np.full(ROWS, 0.15)
    converted = (rng.random(ROWS) < rate).astype(int)
    employees[rng.random(ROWS) < 0.15] = np.nan
    return pd.DataFrame(
        {
            "email": [f"lead{n}@example.com" for n in range(ROWS)],
            "employees": employees,
            "source": source,
            "industry": industry,
            "stage_at_close": np.where(converted == 1, "Closed Won", "Closed Lost"),
            "converted": converted,
        }
    )


def test_a_planted_signal_is_found_by_both_models() -> None:
    prepared = prepare(planted(), target="converted", drop=["stage_at_close"])
    assert set(prepared.dropped) == {"stage_at_close", "email"}
    assert (prepared.numeric, prepared.categorical) == (("employees",), ("source", "industry"))
    for kind in ("logistic", "boosting"):
        result = evaluate(prepared, kind)  # type: ignore[arg-type]
        assert result.roc_auc > 0.75, (kind, result.roc_auc)
        assert result.recall_at["20pct"] > 0.45, (kind, result.recall_at)
        assert result.lift_by_decile[0] > 2.5


def test_no_signal_is_found_where_there_is_none() -> None:
    prepared = prepare(planted(signal=False), target="converted", drop=["stage_at_close"])
    result = evaluate(prepared, "boosting")
    assert 0.4 < result.roc_auc < 0.6
    assert 0.1 < result.recall_at["20pct"] < 0.3


def test_a_leak_left_in_shows_up_as_a_too_good_score() -> None:
    # Without --drop, the outcome written another way predicts it perfectly: the user sees
    # an AUC of 1.0 and knows to drop the column.
    result = evaluate(prepare(planted(), target="converted"), "logistic")
    assert result.roc_auc > 0.99


def test_metrics_on_a_hand_made_ranking() -> None:
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    result = metrics(y, p, model="hand")
    # The top 10% (one row) holds 1 of 3 positives; the top 30% holds 2.
    assert result.recall_at == {"10pct": 1 / 3, "20pct": 1 / 3, "30pct": 2 / 3}
    assert result.roc_auc == pytest.approx(13 / 21)
    assert result.lift_by_decile[0] == pytest.approx(1 / 0.3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "won"}, "no column 'won'"),
        (
            {"target": "converted", "drop": ["nope"]},
            "--drop or --group names columns the table does not have: nope",
        ),
        ({"target": "stage_at_close"}, "say which one is the positive outcome with --positive"),
    ],
)
def test_unusable_requests_are_refused_with_why(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(TableError, match=message):
        prepare(planted(), **kwargs)  # type: ignore[arg-type]


def test_the_cli_evaluates_trains_and_predicts(tmp_path: Path) -> None:
    table = planted()
    table.to_csv(tmp_path / "leads.csv", index=False)
    runner = CliRunner()
    evaluated = runner.invoke(
        app,
        ["learn", "evaluate", "--csv", str(tmp_path / "leads.csv"), "--target", "converted",
         "--drop", "stage_at_close", "--json"],
    )  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    figures = json.loads(evaluated.stdout)
    assert {"roc_auc", "pr_auc", "recall_at_20pct"} <= figures.keys()
    assert figures["roc_auc"] > 0.75
    model = tmp_path / "model.joblib"
    trained = runner.invoke(
        app,
        ["learn", "train", "--csv", str(tmp_path / "leads.csv"), "--target", "converted",
         "--positive", "1", "--drop", "stage_at_close", "--out", str(model)],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    fresh = table.drop(columns=["converted", "stage_at_close"]).head(50)
    fresh.to_csv(tmp_path / "new.csv", index=False)
    scored = runner.invoke(
        app, ["learn", "predict", "--csv", str(tmp_path / "new.csv"), "--model", str(model)]
    )
    assert scored.exit_code == 0, scored.output
    lines = scored.stdout.splitlines()
    assert lines[0].endswith(",p_convert") and len(lines) == 51
    probabilities = predict(model, fresh)
    hot = (fresh["employees"] >= 200) & (fresh["source"] == "demo request")
    assert probabilities[hot.to_numpy()].mean() > probabilities[~hot.to_numpy()].mean() + 0.3


def test_train_keeps_what_predict_needs(tmp_path: Path) -> None:
    prepared = prepare(planted(), target="converted", drop=["stage_at_close"])
    train(prepared, "logistic", tmp_path / "m.joblib")
    with pytest.raises(TableError, match="lacks columns the model was trained with: source"):
        predict(tmp_path / "m.joblib", planted().drop(columns=["source"]))


def test_grouped_folds_stop_a_model_from_recognising_companies() -> None:
    # 150 companies of 8 people: each company converts as a whole, at random, and its
    # head count identifies it. Split by rows, a model learns the companies; kept in one
    # fold each, there is nothing to learn.
    rng = np.random.default_rng(11)
    company = np.repeat(np.arange(150), 8)
    won = rng.random(150) < 0.3
    table = pd.DataFrame(
        {
            "company": [f"c{n}" for n in company],
            "employees": (rng.permutation(150) * 13 + 7)[company].astype(float),
            "title": rng.choice(["VP", "Engineer", "Analyst"], company.size),
            "converted": won[company].astype(int),
        }
    )
    by_row = evaluate(prepare(table, target="converted", drop=["company"]), "boosting")
    by_company = evaluate(prepare(table, target="converted", group="company"), "boosting")
    assert by_row.roc_auc > 0.9
    assert 0.35 < by_company.roc_auc < 0.65
    assert "company" in prepare(table, target="converted", group="company").dropped
