"""Threshold advice: which MQL score sales can handle, and what each choice costs.

History is replayed week by week: the live spec scores everyone as of each week's end,
seeing only what was known then (the engine's `as_of`). For a candidate threshold t, a
person "crosses" in the first week their score is at least t; the first week is the
baseline, and people already at t then were flagged before the period. Over the weeks
after it:

- volume: people crossing per week (what sales would receive);
- precision: the share of those who crossed that went on to the target stage (sql or
  customer, or a later one) after crossing;
- recall: the share of the people who reached the target in the period that had been
  flagged (crossed, or at t from the start) before reaching it: the converters the
  threshold would have flagged in time.

Lower thresholds flag more people, earlier, less precisely. Given a weekly capacity, the
advice is the lowest threshold whose volume fits; given a precision or a recall to
reach, the threshold that reaches it with the most of the other.

People count from the week they were created, and accounts are on the plan they had
that week; their traits (and so their fit) are the ones known now, since traits are not
kept by date: fit in early weeks can be a little better informed than it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from winnow.learn.backtest import load_outcomes, weekly_scores
from winnow.store.specs import live_spec

WEEK = timedelta(days=7)


@dataclass(frozen=True, kw_only=True)
class Row:
    threshold: float
    per_week: float
    crossed: int
    precision: float | None
    recall: float | None


def tradeoffs(
    weekly: Sequence[tuple[datetime, Mapping[int, float]]],
    reached: Mapping[int, datetime],
    thresholds: Sequence[float],
) -> list[Row]:
    """The trade-off table from scores as of each week and when people reached the target."""
    if len(weekly) < 2:
        raise ValueError("threshold advice needs at least two weeks of history")
    (start, baseline), later = weekly[0], weekly[1:]
    end = weekly[-1][0]
    converters = {p for p, at in reached.items() if start <= at <= end + WEEK}
    rows = []
    for t in thresholds:
        flagged = {p: start for p, score in baseline.items() if score >= t}
        crossed: dict[int, datetime] = {}
        for as_of, scores in later:
            for person, score in scores.items():
                if score >= t and person not in flagged and person not in crossed:
                    crossed[person] = as_of
        flagged |= crossed
        went_on = sum(1 for p, at in crossed.items() if p in reached and reached[p] >= at)
        caught = sum(1 for p in converters if p in flagged and flagged[p] <= reached[p])
        rows.append(
            Row(
                threshold=t,
                per_week=len(crossed) / len(later),
                crossed=len(crossed),
                precision=went_on / len(crossed) if crossed else None,
                recall=caught / len(converters) if converters else None,
            )
        )
    return rows


def advise(
    rows: Sequence[Row],
    *,
    capacity: float | None = None,
    precision: float | None = None,
    recall: float | None = None,
) -> Row | None:
    """The threshold to use for a weekly capacity, or to reach a precision or a recall."""
    if capacity is not None:
        fits = [r for r in rows if r.per_week <= capacity]
        return min(fits, key=lambda r: r.threshold) if fits else None
    if precision is not None:
        good = [r for r in rows if r.precision is not None and r.precision >= precision]
        return max(good, key=lambda r: (r.recall or 0, -r.threshold)) if good else None
    if recall is not None:
        good = [r for r in rows if r.recall is not None and r.recall >= recall]
        return max(good, key=lambda r: (r.precision or 0, r.threshold)) if good else None
    raise ValueError("say a capacity (leads a week), a precision or a recall to advise on")


def replay(
    conn: sa.Connection,
    workspace_id: int,
    *,
    weeks: int,
    until: datetime,
    target: str = "sql",
) -> tuple[list[tuple[datetime, dict[int, float]]], dict[int, datetime]]:
    """Scores of everyone as of the end of each of the last `weeks` weeks (live spec, plans
    as they were then), and when each person first reached the target stage or a later
    one."""
    _, spec = live_spec(conn, workspace_id)
    outcomes = load_outcomes(conn, workspace_id)
    instants = [until - WEEK * (n - 1) for n in range(weeks, 0, -1)]
    scored = weekly_scores(spec, outcomes, instants)
    weekly = [
        (as_of, {person: s.score for person, s in scores.items()})
        for as_of, scores in zip(instants, scored, strict=True)
    ]
    first = outcomes.sql if target == "sql" else outcomes.customer
    return weekly, {person: at.replace(tzinfo=UTC) for person, at in first.items()}
