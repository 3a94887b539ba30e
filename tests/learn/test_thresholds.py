"""Threshold advice on hand-made weekly scores with known outcomes.

Three weeks of scores for five people; p1 and p2 reach sql (week 3 and week 2), p3 and
p4 never do, p5 reaches sql in week 3 without ever scoring 50.

    week        p1   p2   p3   p4   p5
    1 (Mar 7)   20   55   30   10    5
    2 (Mar 14)  60   70   52   20    5
    3 (Mar 21)  80   75   55   45   10

Week 1 is the baseline: who is at the threshold then was flagged before the period.
Threshold 50: p2 from the start; p1 and p3 cross in week 2: 2 in 2 weeks = 1/week; p1
went on: precision 1/2; of the three converters, p1 and p2 were flagged in time: 2/3.
Threshold 40 adds p4 in week 3: 3 in 2 weeks, precision 1/3, recall 2/3.
Threshold 70: p2 crosses in week 2 and p1 in week 3, both reaching sql the day they
crossed: precision 1, recall 2/3.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from winnow.learn.thresholds import advise, tradeoffs

WEEKS = [datetime(2026, 3, 7), datetime(2026, 3, 14), datetime(2026, 3, 21)]
SCORES = [
    {1: 20.0, 2: 55.0, 3: 30.0, 4: 10.0, 5: 5.0},
    {1: 60.0, 2: 70.0, 3: 52.0, 4: 20.0, 5: 5.0},
    {1: 80.0, 2: 75.0, 3: 55.0, 4: 45.0, 5: 10.0},
]
REACHED = {1: datetime(2026, 3, 21), 2: datetime(2026, 3, 14), 5: datetime(2026, 3, 21)}


def table() -> list[tuple[float, float, int, float | None, float | None]]:
    rows = tradeoffs(list(zip(WEEKS, SCORES, strict=True)), REACHED, [40, 50, 70])
    return [(r.threshold, r.per_week, r.crossed, r.precision, r.recall) for r in rows]


def test_volume_precision_and_recall_per_threshold() -> None:
    assert table() == [
        (40, 1.5, 3, 1 / 3, 2 / 3),
        (50, 1.0, 2, 1 / 2, 2 / 3),
        (70, 1.0, 2, 1.0, 2 / 3),
    ]


def test_advice_for_a_capacity_a_precision_or_a_recall() -> None:
    rows = tradeoffs(list(zip(WEEKS, SCORES, strict=True)), REACHED, [40, 50, 70])
    assert advise(rows, capacity=1.0).threshold == 50  # type: ignore[union-attr]
    assert advise(rows, capacity=2).threshold == 40  # type: ignore[union-attr]
    assert advise(rows, capacity=0.5) is None
    assert advise(rows, precision=0.9).threshold == 70  # type: ignore[union-attr]
    assert advise(rows, recall=0.6).threshold == 70  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="capacity"):
        advise(rows)
    with pytest.raises(ValueError, match="at least two weeks"):
        tradeoffs([(WEEKS[0], SCORES[0])], REACHED, [50])
