"""The aha moment: what trials that convert do early, as "did X at least N times".

For every event done in trials, each trial's count in its first N days is taken (see
winnow.analytics.trials for what a trial is). For each candidate threshold t (the
distinct counts seen, up to MAX_THRESHOLDS of them), trials split into those with at
least t and the rest; the finding is the threshold whose group converts with the
highest lift over the rest, among thresholds whose group holds at least MIN_SUPPORT
trials (and MIN_SHARE of all). Each finding carries its support and a 95% Wilson
interval for its conversion rate, so a lift from eight trials reads as what it is.
Findings are ranked by lift; each is also written as a PQL criterion for the spec.
The events of the best findings are then tried two by two, each at its lowest
thresholds ("connected 2 sources and invited 3 teammates"): a pair is kept, at the
thresholds with the highest lift, when its trials convert better than those of either
event's own finding, with the same support rules and interval.

Counting in the first N days of a trial, not over its whole life, keeps the outcome
out: a trial that converted on day 20 keeps using the product, so whole-life counts
would credit usage that came after the decision.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from winnow.analytics.trials import trials

MIN_SUPPORT = 10
MIN_SHARE = 0.05
MAX_THRESHOLDS = 20
PAIRED = 6  # the best findings tried two by two
PAIR_THRESHOLDS = 8  # each at its lowest thresholds
Z95 = 1.959964


@dataclass(frozen=True, kw_only=True)
class Finding:
    event: str
    threshold: int
    trials_with: int
    rate_with: float
    rate_without: float
    lift: float
    low: float  # the 95% interval of rate_with
    high: float

    @property
    def metric_name(self) -> str:
        return "_".join("".join(c if c.isalnum() else " " for c in self.event).lower().split())

    @property
    def metric(self) -> str:
        """The spec metric to count the event per account (spec `metrics:`)."""
        return f'{self.metric_name}: {{count: "{self.event}", scope: account}}'

    @property
    def criterion(self) -> str:
        """The finding as a PQL criterion over that metric (spec `stages.pql`)."""
        return f'account.plan == "trial" and metrics.{self.metric_name} >= {self.threshold}'


def wilson(successes: int, total: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion."""
    if total == 0:
        return 0.0, 1.0
    p = successes / total
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * total)) / (1 + z2 / total)
    spread = Z95 * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / (1 + z2 / total)
    return max(0.0, centre - spread), min(1.0, centre + spread)


def find(
    plan_changes: pa.Table | ir.Table,
    account_events: pa.Table | ir.Table,
    *,
    first_days: float = 14,
    paid_plans: tuple[str, ...] = ("paid",),
    trial_plans: tuple[str, ...] = ("trial",),
) -> list[Finding]:
    """The strongest early-usage threshold of each event, best lift first."""
    return early_usage(
        plan_changes, account_events, first_days=first_days, paid_plans=paid_plans,
        trial_plans=trial_plans,
    ).findings()  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class EarlyUsage:
    """Each trial's count of each event in its first days, and whether it converted."""

    per_event: dict[str, dict[int, int]]  # event -> {account: count}
    outcome: dict[int, bool]  # account -> converted

    def findings(self) -> list[Finding]:
        found = [
            best
            for event, done in sorted(self.per_event.items())
            if (best := _best(event, done, self.outcome)) is not None
        ]
        return sorted(found, key=lambda f: (-f.lift, -f.trials_with, f.event))

    def pairs(self, findings: Sequence[Finding], top: int = PAIRED) -> list[Pair]:
        """The events of the `top` best findings two by two, each pair at the thresholds
        that convert best together: the pairs whose trials convert better than those of
        either event's own finding, best lift first."""
        found = []
        for first, second in itertools.combinations(findings[:top], 2):
            best: Pair | None = None
            for a, b in itertools.product(
                self.thresholds(first.event, PAIR_THRESHOLDS),
                self.thresholds(second.event, PAIR_THRESHOLDS),
            ):
                group = [
                    t
                    for t in self.outcome
                    if self.per_event[first.event].get(t, 0) >= a
                    and self.per_event[second.event].get(t, 0) >= b
                ]
                split = _split(group, self.outcome)
                if split is None or split["rate_with"] <= max(first.rate_with, second.rate_with):
                    continue
                pair = Pair(first=self.alone(first, a), second=self.alone(second, b), **split)
                if best is None or pair.lift > best.lift:
                    best = pair
            if best is not None:
                found.append(best)
        return sorted(found, key=lambda p: (-p.lift, -p.trials_with))

    def alone(self, finding: Finding, threshold: int) -> Finding:
        """The finding's event at another threshold, with its own figures (lift 0 when
        there is none to speak of: every trial did it, or the rest never converts)."""
        done = self.per_event[finding.event]
        group = [a for a, n in done.items() if n >= threshold and a in self.outcome]
        split = _split(group, self.outcome, support=1)
        if split is None:
            won = sum(self.outcome[a] for a in group)
            rest = len(self.outcome) - len(group)
            low, high = wilson(won, len(group))
            split = {
                "trials_with": len(group), "rate_with": won / len(group) if group else 0.0,
                "rate_without": (sum(self.outcome.values()) - won) / rest if rest else 0.0,
                "lift": 0.0, "low": low, "high": high,
            }  # fmt: skip
        return Finding(event=finding.event, threshold=threshold, **split)

    def thresholds(self, event: str, limit: int) -> list[int]:
        return sorted(set(self.per_event[event].values()))[:limit]


@dataclass(frozen=True, kw_only=True)
class Pair:
    """Two early-usage thresholds reached together."""

    first: Finding
    second: Finding
    trials_with: int
    rate_with: float
    rate_without: float
    lift: float
    low: float
    high: float

    @property
    def criterion(self) -> str:
        second = f"metrics.{self.second.metric_name} >= {self.second.threshold}"
        return f"{self.first.criterion} and {second}"


def early_usage(
    plan_changes: pa.Table | ir.Table,
    account_events: pa.Table | ir.Table,
    *,
    first_days: float = 14,
    paid_plans: tuple[str, ...] = ("paid",),
    trial_plans: tuple[str, ...] = ("trial",),
) -> EarlyUsage:
    t = trials(plan_changes, trial_plans=trial_plans, paid_plans=paid_plans)
    e = account_events if isinstance(account_events, ir.Table) else ibis.memtable(account_events)
    e = e.select(e_account=e.account_id, name=e.name, e_at=e.at)
    window = ibis.interval(seconds=round(first_days * 86400))
    early = t.join(
        e, [t.account_id == e.e_account, e.e_at >= t.started, e.e_at < t.started + window]
    )
    counts = early.group_by(["account_id", "name"]).agg(n=early.count()).to_pyarrow()
    outcome = {
        r["account_id"]: r["converted"] is not None
        for r in t.select("account_id", "converted").to_pyarrow().to_pylist()
    }
    per_event: dict[str, dict[int, int]] = {}
    for row in counts.to_pylist():
        per_event.setdefault(row["name"], {})[row["account_id"]] = row["n"]
    return EarlyUsage(per_event=per_event, outcome=outcome)


def _best(event: str, done: dict[int, int], outcome: dict[int, bool]) -> Finding | None:
    best: Finding | None = None
    for threshold in sorted(set(done.values()))[:MAX_THRESHOLDS]:
        split = _split([a for a, n in done.items() if n >= threshold and a in outcome], outcome)
        if split is None:
            continue
        finding = Finding(event=event, threshold=threshold, **split)
        if best is None or finding.lift > best.lift:
            best = finding
    return best


def _split(
    group: list[int], outcome: dict[int, bool], *, support: float | None = None
) -> dict[str, Any] | None:
    """How the trials in `group` convert against the rest; None without enough support
    (or when the rest never converts, which leaves no lift to speak of)."""
    total, size = len(outcome), len(group)
    needed = max(MIN_SUPPORT, MIN_SHARE * total) if support is None else support
    if size < needed or size == total:
        return None
    won = sum(outcome[a] for a in group)
    rate_with = won / size
    rate_without = (sum(outcome.values()) - won) / (total - size)
    if rate_without == 0:
        return None
    low, high = wilson(won, size)
    return {
        "trials_with": size, "rate_with": rate_with, "rate_without": rate_without,
        "lift": rate_with / rate_without, "low": low, "high": high,
    }  # fmt: skip
