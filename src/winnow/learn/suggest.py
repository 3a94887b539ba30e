"""A suggested spec: the live spec rewritten from the interpretable model's weights.

The draft keeps the live spec's lists, metrics, accounts, segments, handoff and other
stages, and changes three things:

- `model:` is the trained model, so p_convert is computed in real time;
- points follow the model at POINTS_PER_LOG_ODDS points per unit of log-odds. A fit rule
  of the live spec gets the points of its factor (0 when the model found no weight for
  it: the data does not support it); trait and plan factors become fit rules; an event
  factor "X at least n times in 30 days" with weight w becomes an engagement rule worth
  20w/n per event, capped at 20w, halving every 30 days ("X ever": 20w once, no decay).
  Factors of another kind (how long someone has been known) stay in the model only.
  Score and grades then read in the model's terms: 20 points double the odds, roughly;
- the MQL criterion flags a top share of open leads by p_convert (the p_convert reached
  by that share of the rows the model learned from, `Trained.p_at_top`), or the live one,
  kept with `or`; it now reads the draft's points, so what it flags changes too.

It is a draft: `winnow backtest` compares it with the live spec before anyone publishes.
"""

from __future__ import annotations

import math
from typing import Any

import yaml

from winnow.learn.predictive import Trained
from winnow.learn.snapshots import Candidate
from winnow.spec import Spec, load_spec

POINTS_PER_LOG_ODDS = 20.0
HEADER = (
    "# A draft from `winnow learn suggest`: points and the MQL criterion follow the model\n"
    "# {name} ({outcome}). Backtest it against the live spec before publishing.\n"
)


def suggest(live: Spec, trained: Trained, *, mql_threshold: float) -> str:
    """The draft spec's YAML (see the module's comment)."""
    # The live source as its authors wrote it (durations as "30d", not seconds).
    document: dict[str, Any] = yaml.safe_load(live.source) or {}
    weights = {c.name: (c, w) for c, w in trained.factors}
    fit_rules: list[dict[str, Any]] = []
    for rule in live.document.fit.rules:
        _, weight = weights.get(f"fit: {rule.name}", (None, 0.0))
        fit_rules.append({"name": rule.name, "when": rule.when, "points": _points(weight)})
    # A factor that is already a live fit rule (a draft published, then suggested again)
    # sets that rule's points rather than adding a rule of the same name.
    by_name = {r["name"]: r for r in fit_rules}
    by_when = {r["when"]: r for r in fit_rules}
    engagement = []
    for candidate, weight in trained.factors:
        if candidate.kind in ("trait", "plan"):
            same = by_name.get(candidate.name) or by_when.get(candidate.when)
            if same is not None:
                same["points"] = _points(weight)
                continue
            added = {"name": candidate.name, "when": candidate.when, "points": _points(weight)}
            fit_rules.append(added)
            by_name[candidate.name] = by_when[candidate.when] = added
        elif candidate.kind == "event" and _points(weight):
            engagement.append(_engagement_rule(candidate, weight))
    document["fit"] = {**document.get("fit", {}), "rules": fit_rules}
    document["engagement"] = {"half_life": "30d", "rules": engagement}
    stages = dict(document.get("stages", {}))
    flagged = f"p_convert >= {mql_threshold:.4g}"
    stages["mql"] = f"({stages['mql']}) or {flagged}" if stages.get("mql") else flagged
    document["stages"] = stages
    document["model"] = trained.section()
    text = HEADER.format(name=trained.name, outcome=trained.outcome)
    text += yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    load_spec(text)  # a draft that does not load is a bug here, not the user's to find
    return text


def _engagement_rule(candidate: Candidate, weight: float) -> dict[str, Any]:
    total = _points(weight)
    rule: dict[str, Any] = {"name": candidate.name, "event": candidate.event}
    if candidate.where:
        rule["where"] = candidate.where
    if candidate.within_days is None:
        rule.update(points=total, max=abs(total), once_per="3650d", half_life="none")
    else:
        rule.update(points=round(total / candidate.at_least, 1), max=abs(total), half_life="30d")
    return rule


def _points(weight: float) -> float:
    points = round(weight * POINTS_PER_LOG_ODDS)
    return 0.0 if math.isclose(points, 0) else float(points)
