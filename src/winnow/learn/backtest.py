"""Backtests: what a spec would have done on history, week by week, against another.

Each spec scores everyone as of the end of every week in the period, seeing only what
was known then (the engine's `as_of`; accounts' plans as they were, from the plan
history; people's stages and recycle dates as they were, from their moves). A person is
flagged for a stage (mql, pql) in the first week its criterion holds while they had not
yet reached sql in fact; the first week is the baseline, and who is flagged then was
flagged before the period. Then, per spec and stage:

- volume: people newly flagged per week after the first (what sales would receive);
- precision: the share of them that went on to sql (or a later stage) after the flag,
  and the share that went on to become customers;
- recall: of the people who became customers during the period, the share flagged
  (for either stage) before they did, and how early: the median days from flag to
  customer.

Two specs are compared at the end of the period: the people one flags and the other
does not, stage by stage, and the stage each would have people in (the furthest of
sql, mql, pql whose criterion holds) where the two differ.

As in threshold advice, traits are the ones known now (they are not kept by date).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from winnow.analytics.history import load_moves
from winnow.analytics.trials import load_plan_changes
from winnow.engine import PersonScore
from winnow.learn.snapshots import first_reached, naive, scores_as_of
from winnow.spec import Spec
from winnow.store.frames import load_frames

WEEK = timedelta(days=7)
FLAGGED_STAGES = ("mql", "pql")
# The stage a spec would have a person in, furthest first.
QUALIFYING = ("sql", "mql", "pql")
MAX_WEEKS = 156
MAX_LISTED = 50  # people listed in a comparison; the counts cover everyone


@dataclass(frozen=True, kw_only=True)
class Outcomes:
    """The history a backtest replays: frames, plan changes and when people got where."""

    people: pa.Table
    accounts: pa.Table
    events: pa.Table
    plan_changes: pa.Table
    sql: Mapping[int, datetime]  # first reached sql or later (naive UTC)
    customer: Mapping[int, datetime]
    moves: pa.Table | None = None  # to rewind stages and recycle dates; None: as they are


@dataclass(frozen=True, kw_only=True)
class StageResult:
    stage: str
    per_week: list[int]  # newly flagged in each week after the first
    flagged: int
    precision_sql: float | None
    precision_customer: float | None


@dataclass(frozen=True, kw_only=True)
class SpecResult:
    label: str
    stages: list[StageResult]
    customers: int  # became customers in the period
    caught: int  # of them, flagged before they did
    recall: float | None
    median_days_early: float | None


@dataclass(frozen=True, kw_only=True)
class Difference:
    person_id: int
    first: str | None  # the stage under the first spec (None: not qualified)
    second: str | None


@dataclass(frozen=True, kw_only=True)
class Report:
    start: datetime
    end: datetime
    weeks: list[datetime]
    results: list[SpecResult]
    only_first: dict[str, int] = field(default_factory=dict)  # flagged by the first only
    only_second: dict[str, int] = field(default_factory=dict)
    differing: int = 0
    differences: list[Difference] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "weeks": [w.isoformat() for w in self.weeks],
            "specs": [{**vars(r), "stages": [vars(s) for s in r.stages]} for r in self.results],
            "only_first": self.only_first,
            "only_second": self.only_second,
            "differing": self.differing,
            "differences": [vars(d) for d in self.differences],
        }


def load_outcomes(conn: sa.Connection, workspace_id: int) -> Outcomes:
    moves = load_moves(conn, workspace_id)
    return Outcomes(
        **load_frames(conn, workspace_id),
        plan_changes=load_plan_changes(conn, workspace_id),
        sql=first_reached(moves, "sql"),
        customer=first_reached(moves, "customer"),
        moves=moves,
    )


def weekly_scores(
    spec: Spec, outcomes: Outcomes, weeks: Sequence[datetime]
) -> list[dict[int, PersonScore]]:
    """Everyone's scores as of each instant, people counted from their creation."""
    return [{s.person_id: s for s in scores_as_of(spec, outcomes, at)} for at in weeks]


def backtest(
    outcomes: Outcomes,
    specs: Sequence[tuple[str, Spec]],
    *,
    start: datetime,
    end: datetime,
) -> Report:
    """Replay each spec week by week from `start` to `end` (see the module's comment)."""
    at, stop = naive(start), naive(end)
    count = int((stop - at) / WEEK) + 1 if stop >= at else 0
    if count < 2:
        raise ValueError("a backtest needs at least two weeks between its start and its end")
    if count > MAX_WEEKS:
        raise ValueError(f"a backtest replays at most {MAX_WEEKS} weeks; shorten the period")
    weeks = [(at + WEEK * n).replace(tzinfo=UTC) for n in range(count)]
    flags: list[Flags] = []
    results = []
    for label, spec in specs:
        scored = weekly_scores(spec, outcomes, weeks)
        flagged = {s: _first_flags(scored, weeks, s, outcomes.sql) for s in FLAGGED_STAGES}
        flags.append((flagged, scored[-1]))
        results.append(_result(label, weeks, flagged, outcomes))
    report = Report(start=weeks[0], end=weeks[-1], weeks=weeks, results=results)
    if len(flags) == 2:
        return _compare(report, flags[0], flags[1])
    return report


def _first_flags(
    scored: Sequence[Mapping[int, PersonScore]],
    weeks: Sequence[datetime],
    stage: str,
    sql: Mapping[int, datetime],
) -> dict[int, int]:
    """The week (index) each person was first flagged for `stage` while not yet at sql."""
    seen: dict[int, int] = {}
    for n, (as_of, scores) in enumerate(zip(weeks, scored, strict=True)):
        for person, score in scores.items():
            if person in seen or not score.criteria.get(stage, False):
                continue
            reached = sql.get(person)
            if n > 0 and reached is not None and reached <= naive(as_of):
                continue
            seen[person] = n
    return seen


def _result(
    label: str, weeks: list[datetime], flagged: dict[str, dict[int, int]], o: Outcomes
) -> SpecResult:
    stages = []
    earliest: dict[int, datetime] = {}
    for stage, seen in flagged.items():
        per_week = [0] * (len(weeks) - 1)
        went_sql = went_customer = 0
        for person, n in seen.items():
            at = naive(weeks[n])
            if person not in earliest or at < earliest[person]:
                earliest[person] = at
            if n == 0:
                continue
            per_week[n - 1] += 1
            went_sql += person in o.sql and o.sql[person] >= at
            went_customer += person in o.customer and o.customer[person] >= at
        crossed = sum(per_week)
        stages.append(
            StageResult(
                stage=stage,
                per_week=per_week,
                flagged=crossed,
                precision_sql=went_sql / crossed if crossed else None,
                precision_customer=went_customer / crossed if crossed else None,
            )
        )
    start, stop = naive(weeks[0]), naive(weeks[-1]) + WEEK
    converted = {p: at for p, at in o.customer.items() if start < at <= stop}
    early = [
        (at - earliest[p]).total_seconds() / 86400
        for p, at in converted.items()
        if p in earliest and earliest[p] <= at
    ]
    return SpecResult(
        label=label,
        stages=stages,
        customers=len(converted),
        caught=len(early),
        recall=len(early) / len(converted) if converted else None,
        median_days_early=statistics.median(early) if early else None,
    )


Flags = tuple[dict[str, dict[int, int]], dict[int, PersonScore]]


def _compare(report: Report, first: Flags, second: Flags) -> Report:
    (flags_a, last_a), (flags_b, last_b) = first, second
    only_first = {s: len(set(flags_a[s]) - set(flags_b[s])) for s in FLAGGED_STAGES}
    only_second = {s: len(set(flags_b[s]) - set(flags_a[s])) for s in FLAGGED_STAGES}
    differences = []
    for person in sorted(set(last_a) | set(last_b)):
        a, b = _qualified(last_a.get(person)), _qualified(last_b.get(person))
        if a != b:
            differences.append(Difference(person_id=person, first=a, second=b))
    return Report(
        start=report.start,
        end=report.end,
        weeks=report.weeks,
        results=report.results,
        only_first=only_first,
        only_second=only_second,
        differing=len(differences),
        differences=differences[:MAX_LISTED],
    )


def _qualified(score: PersonScore | None) -> str | None:
    if score is None:
        return None
    return next((s for s in QUALIFYING if score.criteria.get(s, False)), None)
