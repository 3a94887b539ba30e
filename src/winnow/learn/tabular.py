"""Learning from a table: one row per lead, attribute columns, an outcome column.

Many teams start from a CRM export, not an event history. This takes such a table as
it is: numeric columns get their missing values filled with the median (and a flag
that they were missing, which is often telling); text columns become one-hot
categories, rare ones pooled and unseen ones ignored; columns the user names as leaking
the outcome (`drop`) are removed, and so is any column that identifies rows (unique
per row: ids, emails) because it can only memorise. Two models are fitted: a
regularised logistic regression (interpretable) and gradient boosting (stronger).

Evaluation is stratified K-fold cross-validation: every row is predicted by a model that
never saw it. Rows that belong together (the people of one company, which converts as a
whole) must be kept in one fold (`group`), or the model scores well by recognising the
company rather than by predicting. The metrics are computed on the out-of-fold
predictions: ROC AUC,
PR AUC, recall in the top 10/20/30% of rows ranked by the prediction, lift by decile,
and calibration (predicted against observed rate in ten bins).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

ModelKind = Literal["logistic", "boosting"]
FOLDS = 5
SEED = 7
# Below this many rows the models fit on one thread: gradient boosting's OpenMP threads
# cost more than they save on small tables, and many times more on a busy machine.
THREADED_ROWS = 100_000


def threads(rows: int) -> Any:
    """The thread limit to fit a model on `rows` rows under (a context manager)."""
    return threadpool_limits(1 if rows < THREADED_ROWS else None)


class TableError(ValueError):
    """A table that cannot be learned from as asked, with why."""


@dataclass(frozen=True, kw_only=True)
class Prepared:
    features: pd.DataFrame
    target: np.ndarray[Any, Any]
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    dropped: tuple[str, ...]
    # Which group each row belongs to, for cross-validation by group; None: rows are apart.
    groups: np.ndarray[Any, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    model: str
    rows: int
    positives: int
    roc_auc: float
    pr_auc: float
    recall_at: dict[str, float]
    lift_by_decile: list[float]
    calibration: list[dict[str, float]] = field(default_factory=list)
    dropped: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "rows": self.rows,
            "positives": self.positives,
            "roc_auc": self.roc_auc,
            "pr_auc": self.pr_auc,
            **{f"recall_at_{k}": v for k, v in self.recall_at.items()},
            "lift_by_decile": self.lift_by_decile,
            "calibration": self.calibration,
            "dropped": list(self.dropped),
        }


def read_table(path: str | Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, low_memory=False)
    except (OSError, ValueError) as exc:
        raise TableError(f"cannot read {path}: {exc}") from None


def prepare(
    table: pd.DataFrame,
    *,
    target: str,
    positive: str | None = None,
    drop: Sequence[str] = (),
    group: str | None = None,
) -> Prepared:
    """Split a table into features and a 0/1 outcome; refuse what cannot work, saying why."""
    if target not in table.columns:
        raise TableError(
            f"no column {target!r}; the columns are {', '.join(map(str, table.columns))}"
        )
    missing = [c for c in (*drop, *([group] if group else [])) if c not in table.columns]
    if missing:
        named = ", ".join(missing)
        raise TableError(f"--drop or --group names columns the table does not have: {named}")
    outcome = table[target]
    known = outcome.notna()
    if positive is None:
        values = sorted(map(str, outcome[known].unique()))
        if set(values) - {"0", "1", "True", "False", "true", "false", "0.0", "1.0"}:
            raise TableError(
                f"{target!r} has values {', '.join(values[:6])}: say which one is the positive"
                " outcome with --positive"
            )
        y = outcome[known].astype(str).isin({"1", "True", "true", "1.0"}).to_numpy(dtype=int)
    else:
        y = (outcome[known].astype(str) == str(positive)).to_numpy(dtype=int)
    if y.sum() < FOLDS or (len(y) - y.sum()) < FOLDS:
        raise TableError(
            f"{int(y.sum())} positive and {int(len(y) - y.sum())} other rows: at least {FOLDS}"
            " of each are needed to cross-validate"
        )
    groups = None
    if group is not None:
        # A row without a group is a group of its own.
        membership = table.loc[known, group].to_numpy(dtype=object)
        groups = np.array(
            [str(v) if pd.notna(v) else f"(row {n})" for n, v in enumerate(membership)]
        )
    features = table.loc[known].drop(columns=[target, *drop, *([group] if group else [])])
    identifying = [
        c for c in features.columns
        if not pd.api.types.is_numeric_dtype(features[c])
        and features[c].nunique(dropna=True) >= 0.95 * len(features)
    ]  # fmt: skip
    features = features.drop(columns=identifying)
    numeric = tuple(str(c) for c in features.columns if pd.api.types.is_numeric_dtype(features[c]))
    categorical = tuple(str(c) for c in features.columns if str(c) not in numeric)
    features = _as_model_input(features, categorical)
    if not numeric and not categorical:
        raise TableError("no columns are left to learn from")
    return Prepared(
        features=features, target=y, numeric=numeric, categorical=categorical,
        dropped=(*drop, *([group] if group else []), *map(str, identifying)), groups=groups,
    )  # fmt: skip


def pipeline(prepared: Prepared, kind: ModelKind) -> Pipeline:
    numeric = Pipeline(
        [("impute", SimpleImputer(strategy="median", add_indicator=True)),
         ("scale", StandardScaler())]
    )  # fmt: skip
    categorical = Pipeline(
        [("impute", SimpleImputer(strategy="constant", fill_value="(missing)")),
         ("onehot", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5,
                                  sparse_output=False))]
    )  # fmt: skip
    columns = ColumnTransformer(
        [("numeric", numeric, list(prepared.numeric)),
         ("categorical", categorical, list(prepared.categorical))]
    )  # fmt: skip
    model: Any
    if kind == "logistic":
        model = LogisticRegression(C=1.0, max_iter=2000)
    else:
        model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.08, random_state=SEED)
    return Pipeline([("columns", columns), ("model", model)])


def evaluate(prepared: Prepared, kind: ModelKind = "boosting") -> Evaluation:
    """Cross-validated metrics of one model kind (see the module's comment)."""
    folds: Any = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    if prepared.groups is not None:
        folds = StratifiedGroupKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    with threads(len(prepared.target)):
        predicted = cross_val_predict(
            pipeline(prepared, kind),
            prepared.features,
            prepared.target,
            groups=prepared.groups,
            cv=folds,
            method="predict_proba",
        )[:, 1]
    return metrics(prepared.target, predicted, model=kind, dropped=prepared.dropped)


def metrics(
    y: np.ndarray[Any, Any], p: np.ndarray[Any, Any], *, model: str, dropped: Sequence[str] = ()
) -> Evaluation:
    order = np.argsort(-p, kind="stable")
    ranked = y[order]
    total = max(int(y.sum()), 1)
    recall = {
        f"{share}pct": float(ranked[: max(1, round(len(y) * share / 100))].sum() / total)
        for share in (10, 20, 30)
    }
    base = y.mean()
    deciles = np.array_split(ranked, 10)
    lift = [float(d.mean() / base) if len(d) and base else 0.0 for d in deciles]
    bins = np.clip((p * 10).astype(int), 0, 9)
    calibration = [
        {
            "bin": b / 10,
            "predicted": float(p[bins == b].mean()),
            "observed": float(y[bins == b].mean()),
            "rows": int((bins == b).sum()),
        }
        for b in range(10)
        if (bins == b).any()
    ]
    return Evaluation(
        model=model, rows=len(y), positives=int(y.sum()),
        roc_auc=float(roc_auc_score(y, p)), pr_auc=float(average_precision_score(y, p)),
        recall_at=recall, lift_by_decile=lift, calibration=calibration, dropped=tuple(dropped),
    )  # fmt: skip


def train(prepared: Prepared, kind: ModelKind, path: str | Path) -> None:
    """Fit on every row and keep the model, with what it needs to score new rows."""
    with threads(len(prepared.target)):
        fitted = pipeline(prepared, kind).fit(prepared.features, prepared.target)
    joblib.dump(
        {"pipeline": fitted, "columns": list(prepared.features.columns), "kind": kind,
         "categorical": list(prepared.categorical), "dropped": list(prepared.dropped)},
        path,
    )  # fmt: skip


def predict(path: str | Path, table: pd.DataFrame) -> np.ndarray[Any, Any]:
    """The probability of the positive outcome for each row of a table of the same shape."""
    saved = joblib.load(path)
    missing = [c for c in saved["columns"] if c not in table.columns]
    if missing:
        raise TableError(
            f"the table lacks columns the model was trained with: {', '.join(missing)}"
        )
    probabilities: np.ndarray[Any, Any] = saved["pipeline"].predict_proba(table[saved["columns"]])[
        :, 1
    ]
    return probabilities


def _as_model_input(features: pd.DataFrame, categorical: Sequence[str]) -> pd.DataFrame:
    """Text columns as plain objects with None for missing: what the encoders expect."""
    converted = features.copy()
    for column in categorical:
        values = converted[column].astype(object)
        converted[column] = values.where(values.notna(), None)
    return converted
