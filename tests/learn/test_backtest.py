"""Backtests on a hand-made history whose outcome is worked out below.

Weeks end Mar 7 (the baseline), 14, 21 and 28. Five people, created Mar 1:

    p1 (VP)  Demo Requested Mar 10    sql Mar 16, customer Mar 25
    p2 (VP)  Demo Requested Mar 5     customer Mar 20
    p3       Demo Requested Mar 18    never
    p4       trial account, Source Connected Mar 26
    p5       nothing                  customer Mar 22

Spec A flags an MQL on any demo request: p2 at the baseline, p1 in week 1 and p3 in
week 2: 2 new MQLs, p1 went on to sql and to customer: precision 1/2 and 1/2. Its PQL
(a trial that connected a source) flags p4 in week 3, who never converts.
Customers in the period: p1, p2, p5; p1 flagged 11 days before, p2 13 days before, p5
never: recall 2/3, 12 days early (median).
Spec B asks for a VP as well: p3 is never an MQL. At the end, p3 is the one person in
another stage: mql under A, nothing under B.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from winnow.engine.run import FRAME_SCHEMAS
from winnow.learn.backtest import Difference, Outcomes, Report, backtest
from winnow.learn.snapshots import people_as_of
from winnow.spec import load_spec

PQL = '  pql: \'account.plan == "trial" and did("Source Connected")\'\n'
SPEC_A = "stages:\n  mql: 'did(\"Demo Requested\")'\n" + PQL
SPEC_B = 'stages:\n  mql: \'did("Demo Requested") and person.title == "VP"\'\n' + PQL


def day(d: int) -> datetime:
    return datetime(2026, 3, d)


def outcomes() -> Outcomes:
    titles = {1: "VP", 2: "VP", 3: "Analyst", 4: "Analyst", 5: "Analyst"}
    events = [
        (1, "Demo Requested", day(10)),
        (2, "Demo Requested", day(5)),
        (3, "Demo Requested", day(18)),
        (4, "Source Connected", day(26)),
    ]
    people = pa.table(
        {
            "id": list(titles),
            "account_id": [None, None, None, 1, None],
            "email": [f"p{p}@example.com" for p in titles],
            "email_domain": ["example.com"] * 5,
            "user_id": [f"u{p}" for p in titles],
            "owner": [None] * 5,
            "created_at": [day(1)] * 5,
            "stage": ["lead"] * 5,
            "recycled_at": [None] * 5,
            "traits": [json.dumps({"title": t}) for t in titles.values()],
        },
        schema=FRAME_SCHEMAS["people"],
    )
    accounts = pa.table(
        {"id": [1], "group_id": ["g1"], "name": ["One"], "domain": ["one.example"],
         "plan": ["paid"], "created_at": [day(1)], "traits": ["{}"]},
        schema=FRAME_SCHEMAS["accounts"],
    )  # fmt: skip
    return Outcomes(
        people=people,
        accounts=accounts,
        events=pa.table(
            {
                "person_id": [e[0] for e in events],
                "name": [e[1] for e in events],
                "timestamp": [e[2] for e in events],
                "properties": ["{}"] * len(events),
                "context": ["{}"] * len(events),
            },
            schema=FRAME_SCHEMAS["events"],
        ),
        plan_changes=pa.table({"account_id": [1], "plan": ["trial"], "at": [day(1)]}),
        sql={1: day(16), 2: day(20), 5: day(22)},
        customer={1: day(25), 2: day(20), 5: day(22)},
    )


@pytest.fixture(scope="module")
def report() -> Report:
    specs = [("a", load_spec(SPEC_A)), ("b", load_spec(SPEC_B))]
    return backtest(
        outcomes(), specs, start=datetime(2026, 3, 7, tzinfo=UTC), end=datetime(2026, 3, 28)
    )


def test_volume_and_precision_per_stage(report: Report) -> None:
    a, b = report.results
    mql, pql = a.stages
    assert (mql.stage, mql.per_week, mql.flagged) == ("mql", [1, 1, 0], 2)
    assert (mql.precision_sql, mql.precision_customer) == (0.5, 0.5)
    assert (pql.per_week, pql.precision_sql, pql.precision_customer) == ([0, 0, 1], 0.0, 0.0)
    assert (b.stages[0].per_week, b.stages[0].precision_customer) == ([1, 0, 0], 1.0)


def test_recall_counts_customers_flagged_before_they_converted(report: Report) -> None:
    a, b = report.results
    assert (a.customers, a.caught, a.recall, a.median_days_early) == (3, 2, 2 / 3, 12.0)
    assert (b.customers, b.caught) == (3, 2)


def test_the_comparison_names_who_differs(report: Report) -> None:
    assert report.only_first == {"mql": 1, "pql": 0}
    assert report.only_second == {"mql": 0, "pql": 0}
    assert report.differing == 1
    assert report.differences == [Difference(person_id=3, first="mql", second=None)]
    assert report.as_dict()["specs"][0]["stages"][0]["per_week"] == [1, 1, 0]


def test_a_backtest_needs_two_weeks() -> None:
    with pytest.raises(ValueError, match="at least two weeks"):
        backtest(outcomes(), [("a", load_spec(SPEC_A))], start=day(7), end=day(10))


def test_people_are_rewound_to_their_stage_and_recycle_date_of_the_week() -> None:
    people = outcomes().people
    moves = pa.table(
        {
            "person_id": [3, 3, 3, 3],
            "to_stage": ["lead", "mql", "nurture", "mql"],
            "at": [day(1), day(10), day(20), day(28)],
        }
    )

    def state(at: datetime) -> tuple[str, datetime | None]:
        rewound = people_as_of(people, moves, at).to_pylist()[2]
        return rewound["stage"], rewound["recycled_at"]

    assert state(day(15)) == ("mql", None)
    assert state(day(25)) == ("nurture", day(20))
    assert state(day(29)) == ("mql", day(20))
    # People without moves keep what they have.
    assert people_as_of(people, moves, day(15)).to_pylist()[0]["stage"] == "lead"
