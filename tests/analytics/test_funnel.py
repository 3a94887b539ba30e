"""The funnel on a hand-made history whose every figure is worked out below.

    p1  lead Jan 5, mql Jan 10, sal Jan 12 (ana), sql Jan 20 (ana), opportunity Feb 1,
        customer Feb 20
    p2  lead Jan 6, mql Jan 15, nurture Jan 16 (ana: "too early")
    p3  lead Jan 20, mql Feb 2, never touched by sales
    p4  lead Feb 3, mql Feb 4, sal Feb 5 (ben), nurture Feb 6 (ben: "no budget")
    p5  lead Jan 7, sql Jan 25 by a rule (skipping mql and sal), opportunity Feb 10,
        lost Mar 1 (ana: "competitor")
    p6  lead Feb 10

Monthly cohorts, "reached" meaning the next stage or any later one:
    lead -> mql       Jan: p1 p2 p3 p5 all reached (p5 via sql): 4/4; Feb: p4 of p4 p6: 1/2
    mql -> sal        Jan: p1 of p1 p2: 1/2;  Feb: p4 of p3 p4: 1/2
    sal -> sql        Jan: p1: 1/1;           Feb: p4 did not: 0/1
    sql -> opp.       Jan: p1 p5: 2/2
    opp. -> customer  Feb: p1 of p1 p5: 1/2
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pytest

from winnow.analytics.calibration import SCORES, VERSIONS, calibration, mql_precision
from winnow.analytics.funnel import conversion, leaks, overall, velocity
from winnow.analytics.history import MOVES, TOUCHES
from winnow.analytics.sources import by_touch


def d(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 12, 0)


RULE, ANA, BEN = "rule:stages.mql", "user:ana", "user:ben"
HISTORY = [
    # person, from, to, at, cause, reason, outcome
    (1, None, "lead", d(1, 5), "fact:created", None, None),
    (1, "lead", "mql", d(1, 10), RULE, None, None),
    (1, "mql", "sal", d(1, 12), ANA, None, None),
    (1, "sal", "sql", d(1, 20), ANA, None, None),
    (1, "sql", "opportunity", d(2, 1), ANA, None, None),
    (1, "opportunity", "customer", d(2, 20), ANA, None, None),
    (2, None, "lead", d(1, 6), "fact:created", None, None),
    (2, "lead", "mql", d(1, 15), RULE, None, None),
    (2, "mql", "nurture", d(1, 16), ANA, "too early", None),
    (3, None, "lead", d(1, 20), "fact:created", None, None),
    (3, "lead", "mql", d(2, 2), RULE, None, None),
    (4, None, "lead", d(2, 3), "fact:created", None, None),
    (4, "lead", "mql", d(2, 4), "rule:handoff.hand_raise.demo request", None, None),
    (4, "mql", "sal", d(2, 5), BEN, None, None),
    (4, "sal", "nurture", d(2, 6), BEN, "no budget", None),
    (5, None, "lead", d(1, 7), "fact:created", None, None),
    (5, "lead", "sql", d(1, 25), "rule:stages.sql", None, None),
    (5, "sql", "opportunity", d(2, 10), ANA, None, None),
    (5, "opportunity", "nurture", d(3, 1), ANA, "competitor", "lost"),
    (6, None, "lead", d(2, 10), "fact:created", None, None),
]
MOVES_TABLE = pa.table(list(zip(*HISTORY, strict=True)), schema=MOVES)


def rows(table: pa.Table, *columns: str) -> list[tuple[object, ...]]:
    data = table.to_pydict()
    return list(zip(*(data[c] for c in columns), strict=True))


def test_monthly_cohorts_convert_step_by_step() -> None:
    table = conversion(MOVES_TABLE, period="month")
    assert rows(table, "cohort", "from_stage", "to_stage", "entered", "reached") == [
        (d(1, 1).date(), "lead", "mql", 4, 4),
        (d(1, 1).date(), "mql", "sal", 2, 1),
        (d(1, 1).date(), "sal", "sql", 1, 1),
        (d(1, 1).date(), "sql", "opportunity", 2, 2),
        (d(2, 1).date(), "lead", "mql", 2, 1),
        (d(2, 1).date(), "mql", "sal", 2, 1),
        (d(2, 1).date(), "sal", "sql", 1, 0),
        (d(2, 1).date(), "opportunity", "customer", 2, 1),
    ]
    assert table["rate"].to_pylist()[:2] == [1.0, 0.5]


def test_a_window_counts_only_conversions_within_it() -> None:
    # Within 7 days of entering lead: p1 (5 days) and p4 (1 day) made mql; p2 took 9,
    # p3 13, p5 18.
    table = overall(MOVES_TABLE, within_days=7)
    assert rows(table, "from_stage", "to_stage", "entered", "reached")[0] == (
        "lead", "mql", 6, 2,
    )  # fmt: skip
    assert rows(overall(MOVES_TABLE), "from_stage", "entered", "reached", "rate")[:2] == [
        ("lead", 6, 5, 5 / 6),
        ("mql", 4, 2, 0.5),
    ]


def test_velocity_is_the_median_and_p75_of_days_between_first_entries() -> None:
    table = velocity(MOVES_TABLE)
    assert rows(table, "from_stage", "to_stage", "people", "median_days", "p75_days") == [
        ("lead", "mql", 4, 7.0, 10.0),  # 1, 5, 9, 13 days
        ("mql", "sal", 2, 1.5, 1.75),  # 1, 2
        ("sal", "sql", 1, 8.0, 8.0),
        ("sql", "opportunity", 2, 14.0, 15.0),  # 12, 16
        ("opportunity", "customer", 1, 19.0, 19.0),
        ("lead", "customer", 1, 46.0, 46.0),  # time to close
    ]


def test_leaks_name_who_was_never_reviewed_turned_back_or_lost() -> None:
    assert rows(leaks(MOVES_TABLE), "kind", "reason", "people") == [
        ("mql_never_reviewed", None, 1),
        ("sal_rejected", "no budget", 1),
        ("lost", "competitor", 1),
    ]


@pytest.mark.parametrize("period", ["week", "month"])
def test_every_cohort_counts_each_entrant_once(period: str) -> None:
    table = conversion(MOVES_TABLE, period=period)  # type: ignore[arg-type]
    lead = [r for r in rows(table, "from_stage", "entered") if r[0] == "lead"]
    assert sum(entered for _, entered in lead) == 6


# Touches (UTM campaigns): p1 came from google/cpc then linkedin; p2 from google/cpc;
# p3 from a newsletter after... nothing before; p5 from linkedin; p4 and p6 none.
TOUCHES_TABLE = pa.table(
    {
        "person_id": [1, 1, 2, 5, 3, 1],
        "at": [d(1, 1), d(1, 8), d(1, 2), d(1, 3), d(1, 25), d(3, 5)],
        "source": ["google", "linkedin", "google", "linkedin", "newsletter", "google"],
        "medium": ["cpc", "social", "cpc", "social", "email", "cpc"],
        "campaign": ["spring", "launch", "spring", "launch", "weekly", "retarget"],
    },
    schema=TOUCHES,
)


def test_first_touch_credits_where_people_came_from() -> None:
    # Leads to customers: only p1 converted; p1's first touch is google.
    table = by_touch(MOVES_TABLE, TOUCHES_TABLE, touch="first", level="source")
    assert rows(table, "channel", "entered", "reached") == [
        ("(none)", 2, 0),  # p4, p6
        ("google", 2, 1),  # p1, p2
        ("linkedin", 1, 0),  # p5
        ("newsletter", 1, 0),  # p3
    ]


def test_last_touch_credits_the_last_one_before_converting() -> None:
    # p1 converted Feb 20: the March retargeting touch came after, so linkedin/launch.
    table = by_touch(MOVES_TABLE, TOUCHES_TABLE, touch="last", level="campaign")
    assert rows(table, "channel", "entered", "reached") == [
        ("(none)", 2, 0),
        ("launch", 2, 1),  # p1 (converted), p5
        ("spring", 1, 0),  # p2
        ("weekly", 1, 0),  # p3
    ]
    mqls = by_touch(MOVES_TABLE, TOUCHES_TABLE, touch="first", level="medium",
                    from_stage="mql", to_stage="sal")  # fmt: skip
    assert rows(mqls, "channel", "entered", "reached") == [
        ("cpc", 2, 1),  # p1 accepted, p2 nurtured
        ("(none)", 1, 1),  # p4 (hand-raise, accepted)
        ("email", 1, 0),  # p3
    ]
    # Someone whose only touches came after converting counts under (none), not nowhere.
    late = pa.table(
        {"person_id": [1], "at": [d(3, 5)], "source": ["google"], "medium": ["cpc"],
         "campaign": ["retarget"]},
        schema=TOUCHES,
    )  # fmt: skip
    table = by_touch(MOVES_TABLE, late, touch="last")
    assert rows(table, "channel", "entered", "reached") == [("(none)", 6, 1)]


# Current scores: p1 95 A (customer), p2 70 B, p3 45 C, p4 82 A (sal, then nurture),
# p5 50 C (sql, lost), p6 10 D.
SCORES_TABLE = pa.table(
    {
        "person_id": [1, 2, 3, 4, 5, 6],
        "score": [95.0, 70.0, 45.0, 82.0, 50.0, 10.0],
        "grade": ["A", "B", "C", "A", "C", "D"],
    },
    schema=SCORES,
)


def test_calibration_by_score_band_and_grade() -> None:
    # Reaching sql or beyond: p1 and p5.
    bands = calibration(MOVES_TABLE, SCORES_TABLE, band_width=25, target="sql")
    assert rows(bands, "group", "people", "reached") == [
        (0.0, 1, 0),  # p6 (10)
        (25.0, 1, 0),  # p3 (45)
        (50.0, 2, 1),  # p5 (50, reached sql), p2 (70)
        (75.0, 2, 1),  # p1 (95, reached), p4 (82)
    ]
    grades = calibration(MOVES_TABLE, SCORES_TABLE, by="grade", target="customer")
    assert rows(grades, "group", "people", "reached", "rate") == [
        ("A", 2, 1, 0.5),
        ("B", 1, 0, 0.0),
        ("C", 2, 0, 0.0),
        ("D", 1, 0, 0.0),
    ]


def test_mql_precision_by_the_spec_version_live_at_the_time() -> None:
    # Version 1 from Dec 1, version 2 from Feb 1: p1 and p2 became MQLs under 1
    # (p1 went on to sql and customer), p3 and p4 under 2 (neither reached sql).
    versions = pa.table({"version": [1, 2], "created_at": [d(1, 1), d(2, 1)]}, schema=VERSIONS)
    table = mql_precision(MOVES_TABLE, versions)
    assert rows(table, "spec_version", "mqls", "reached_sql", "reached_customer") == [
        (1, 2, 1, 1),
        (2, 2, 0, 0),
    ]
    assert rows(table, "precision_sql")[0] == (0.5,)
