"""The predictive model from an event history: split by time, two models, the artifact.

Rows come from winnow.learn.snapshots (one per person and cutoff, features known at the
cutoff, outcome after it). The split is by cohort: people are ordered by when they
arrived, the newest `holdout` share of them is held out for validation and the model
learns from the older ones only, so the figures say how it does on leads it has not
seen, arriving later (a person is wholly on one side: their rows at several cutoffs
look alike and would flatter a model that had seen one of them).

Two models learn from the same rows:
- the interpretable one, an L1-regularised logistic regression on the 0/1 conditions:
  most weights end at exactly zero, the rest are log-odds a person can read, and the
  model is written into the spec (`model:`) where the engine computes p_convert from
  it in real time, with its factors in each explanation;
- a stronger one, gradient boosting on the conditions and the raw counts, reported
  beside it as the ceiling: what is given up for being explainable.

Both are then refitted on every row for the artifact; the metrics are the held-out ones.
The artifact is a directory named by target, window and time of training, holding the
fitted models (joblib), the spec section (model.yaml) and a card with the metrics
(card.json).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sqlalchemy as sa
import yaml
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from winnow.learn.snapshots import Candidate, Rows, build_rows, candidates, load_history, usable
from winnow.learn.tabular import SEED, Evaluation, metrics, threads

HOLDOUT = 0.3
TOP_SHARES = (0.05, 0.1, 0.2, 0.3)
C = 0.1  # inverse strength of the L1 penalty: few factors, readable ones
MIN_WEIGHT = 0.05  # weights smaller than this are left out of the spec


@dataclass(frozen=True, kw_only=True)
class Trained:
    name: str
    outcome: str
    rows: int
    people: int
    train_rows: int
    valid_rows: int
    logistic: Evaluation
    boosting: Evaluation
    intercept: float
    factors: tuple[tuple[Candidate, float], ...]  # with their weights, strongest first
    models: dict[str, Any]
    columns: tuple[int, ...]  # the candidate columns the models read
    # The p_convert reached by the top 5/10/20/30% of the rows learned from.
    p_at_top: dict[float, float]

    def section(self) -> dict[str, Any]:
        """The spec's `model:` section."""
        return {
            "name": self.name,
            "outcome": self.outcome,
            "intercept": round(self.intercept, 4),
            "factors": [
                {"name": c.name, "when": c.when, "weight": round(weight, 4)}
                for c, weight in self.factors
            ],
        }

    def card(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "outcome": self.outcome,
            "rows": self.rows,
            "people": self.people,
            "train_rows": self.train_rows,
            "valid_rows": self.valid_rows,
            "logistic": self.logistic.as_dict(),
            "boosting": self.boosting.as_dict(),
            "p_convert_at_top": {f"{k:.0%}": v for k, v in self.p_at_top.items()},
            "model": self.section(),
        }


def split(rows: Rows, holdout: float = HOLDOUT) -> tuple[np.ndarray[Any, Any], ...]:
    """Row masks (train, valid): the newest `holdout` share of people is held out."""
    arrivals: dict[int, np.datetime64] = {}
    for person, created in zip(rows.person_id, rows.created_at, strict=True):
        arrivals[int(person)] = created
    ordered = sorted(arrivals, key=lambda p: (arrivals[p], p))
    newest = set(ordered[int(len(ordered) * (1 - holdout)) :])
    valid = np.array([int(p) in newest for p in rows.person_id])
    return ~valid, valid


def train(rows: Rows, *, outcome: str, name: str, holdout: float = HOLDOUT) -> Trained:
    """Fit both models on older cohorts, measure them on newer ones, refit on all rows."""
    train_mask, valid_mask = split(rows, holdout)
    y = rows.label
    for part, mask in (("older", train_mask), ("newer", valid_mask)):
        positives = int(y[mask].sum())
        if positives < 5 or positives == int(mask.sum()):
            raise ValueError(
                f"the {part} cohort has {positives} of {int(mask.sum())} rows reaching the target:"
                " too few to learn or measure; widen the history or --within, or pick an earlier"
                " target stage"
            )
    columns = np.flatnonzero(usable(rows))
    if len(columns) == 0:
        raise ValueError("no feature is held by enough people to learn from")
    x_logistic = rows.conditions[:, columns]
    x_boosting = np.hstack([x_logistic, rows.counts])
    with threads(len(y)):
        logistic = _logistic().fit(x_logistic[train_mask], y[train_mask])
        boosting = _boosting().fit(x_boosting[train_mask], y[train_mask])
        valid_y = y[valid_mask]
        evaluations = {
            "logistic": metrics(
                valid_y, logistic.predict_proba(x_logistic[valid_mask])[:, 1], model="logistic"
            ),
            "boosting": metrics(
                valid_y, boosting.predict_proba(x_boosting[valid_mask])[:, 1], model="boosting"
            ),
        }
        logistic = _logistic().fit(x_logistic, y)
        boosting = _boosting().fit(x_boosting, y)
    weights = logistic.coef_[0]
    factors = sorted(
        (
            (rows.candidates[c], float(w))
            for c, w in zip(columns, weights, strict=True)
            if abs(w) >= MIN_WEIGHT
        ),
        key=lambda f: -abs(f[1]),
    )
    p = logistic.predict_proba(x_logistic)[:, 1]
    return Trained(
        p_at_top={share: float(np.quantile(p, 1 - share)) for share in TOP_SHARES},
        name=name,
        outcome=outcome,
        rows=len(rows),
        people=len(set(rows.person_id.tolist())),
        train_rows=int(train_mask.sum()),
        valid_rows=int(valid_mask.sum()),
        logistic=evaluations["logistic"],
        boosting=evaluations["boosting"],
        intercept=float(logistic.intercept_[0]),
        factors=tuple(factors),
        models={"logistic": logistic, "boosting": boosting},
        columns=tuple(int(c) for c in columns),
    )


def learn(
    conn: sa.Connection,
    workspace_id: int,
    *,
    target: str,
    within: timedelta,
    every: timedelta,
    now: datetime,
) -> Trained:
    """Train on a workspace's history up to `now`: the live spec's fit rules and lists are
    candidates."""
    from winnow.store.specs import NoSpec, live_spec

    history = load_history(conn, workspace_id, target=target)
    try:
        live = live_spec(conn, workspace_id)[1]
    except NoSpec:
        live = None
    rows = build_rows(
        history,
        candidates(history, live),
        within=within,
        every=every,
        lists=live.lists if live else None,
        end=now,
    )
    days = round(within.total_seconds() / 86400)
    return train(
        rows, outcome=f"{target} within {days} days", name=artifact_name(target, days, now)
    )


def artifact_name(target: str, within_days: int, at: datetime) -> str:
    return f"{target}-{within_days}d-{at:%Y%m%dT%H%M%S}"


def save(trained: Trained, directory: str | Path) -> Path:
    """Keep the models, the spec section and the card in directory/<name>/."""
    path = Path(directory) / trained.name
    path.mkdir(parents=True, exist_ok=False)
    joblib.dump({"models": trained.models, "columns": trained.columns}, path / "models.joblib")
    (path / "model.yaml").write_text(
        yaml.safe_dump({"model": trained.section()}, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    (path / "card.json").write_text(json.dumps(trained.card(), indent=2), encoding="utf-8")
    return path


def _logistic() -> LogisticRegression:
    # liblinear penalises the intercept like a weight; a large scaling all but exempts it.
    return LogisticRegression(
        l1_ratio=1.0, C=C, solver="liblinear", intercept_scaling=100, max_iter=1000,
        random_state=SEED,
    )  # fmt: skip


def _boosting() -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.08, random_state=SEED)
