"""The aha-moment finder on trials with a planted early habit, and on noise."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from winnow.analytics.trials import ACCOUNT_EVENTS, PLAN_CHANGES
from winnow.learn.aha import early_usage, find, wilson

START = datetime(2026, 3, 1)


def world(seed: int = 5) -> tuple[pa.Table, pa.Table]:
    """300 trials. Those that connect 2+ sources in their first two weeks convert 70% of
    the time, the others 10%; every trial also does a random amount of "Noise"; sources
    connected after day 14 are too late to count."""
    rng = np.random.default_rng(seed)
    plans: list[tuple[int, str, datetime]] = []
    events: list[tuple[int, str, datetime]] = []
    for account in range(1, 301):
        started = START + timedelta(days=int(rng.integers(0, 60)))
        plans.append((account, "trial", started))
        sources = int(rng.integers(0, 4))
        for n in range(sources):
            events.append((account, "Source Connected", started + timedelta(days=1 + n)))
        for n in range(int(rng.integers(0, 6))):
            events.append((account, "Noise", started + timedelta(days=2 + n)))
        events.append((account, "Source Connected", started + timedelta(days=20)))  # late
        if rng.random() < (0.7 if sources >= 2 else 0.1):
            plans.append((account, "paid", started + timedelta(days=18)))
    as_table = lambda rows, schema: pa.table(list(zip(*rows, strict=True)), schema=schema)  # noqa: E731
    return as_table(plans, PLAN_CHANGES), as_table(events, ACCOUNT_EVENTS)


def test_the_planted_habit_is_the_top_finding_with_its_threshold() -> None:
    plans, events = world()
    findings = find(plans, events, first_days=14)
    best = findings[0]
    assert (best.event, best.threshold) == ("Source Connected", 2)
    assert best.rate_with > 0.6 and best.rate_without < 0.2 and best.lift > 3
    assert best.low < best.rate_with < best.high
    assert best.criterion == 'account.plan == "trial" and metrics.source_connected >= 2'
    assert best.metric == 'source_connected: {count: "Source Connected", scope: account}'
    noise = next(f for f in findings if f.event == "Noise")
    assert noise.lift < 1.6


def test_late_usage_does_not_count() -> None:
    # Counted over 30 days, everyone has one more source (the late one): the threshold
    # that separates the converters moves up.
    plans, events = world()
    best = next(f for f in find(plans, events, first_days=30) if f.event == "Source Connected")
    assert best.threshold == 3


def test_wilson_intervals() -> None:
    assert wilson(0, 0) == (0.0, 1.0)
    low, high = wilson(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-3) and high == pytest.approx(0.9433, abs=1e-3)


def test_two_habits_that_only_convert_together_are_found_as_a_pair() -> None:
    """400 trials; connecting 2+ sources and inviting 2+ teammates in the first days
    converts 70% of the time, either alone 10%, like doing neither."""
    rng = np.random.default_rng(11)
    plans: list[tuple[int, str, datetime]] = []
    events: list[tuple[int, str, datetime]] = []
    for account in range(1, 401):
        started = START + timedelta(days=int(rng.integers(0, 60)))
        plans.append((account, "trial", started))
        sources, invites = int(rng.integers(0, 4)), int(rng.integers(0, 4))
        for n in range(sources):
            events.append((account, "Source Connected", started + timedelta(days=1 + n)))
        for n in range(invites):
            events.append((account, "Teammate Invited", started + timedelta(days=1 + n)))
        if rng.random() < (0.7 if sources >= 2 and invites >= 2 else 0.1):
            plans.append((account, "paid", started + timedelta(days=18)))
    usage = early_usage(
        pa.table(list(zip(*plans, strict=True)), schema=PLAN_CHANGES),
        pa.table(list(zip(*events, strict=True)), schema=ACCOUNT_EVENTS),
        first_days=14,
    )
    findings = usage.findings()
    (best, *_) = usage.pairs(findings)
    assert {
        (best.first.event, best.first.threshold),
        (best.second.event, best.second.threshold),
    } == {
        ("Source Connected", 2),
        ("Teammate Invited", 2),
    }
    assert best.rate_with > 0.6 and best.lift > max(f.lift for f in findings)
    assert best.criterion.startswith('account.plan == "trial" and metrics.')
