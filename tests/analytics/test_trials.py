"""Trial insights on a hand-made plan history.

    account 1  trial Jan 3, paid Jan 20 (17 days)       did: Data Source Connected, Invite
    account 2  trial Jan 10, expired Jan 31              did: Data Source Connected
    account 3  trial Feb 2, paid Feb 5 (3 days)          did: Invite
    account 4  trial Feb 25, still on trial (active)     did: nothing
    account 5  free plan only: no trial

As of Feb 28: 4 trials, 2 converted (50%), median 10 days; new in 7 days: 1 (account 4);
new in 30 days: 2 (3, 4); active: 1; new customers in 7 days: 0.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from winnow.analytics.trials import (
    ACCOUNT_EVENTS,
    PLAN_CHANGES,
    cohorts,
    converters_did,
    summary,
)


def d(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 12, 0)


PLANS = pa.table(
    list(
        zip(
            *[
                (1, "trial", d(1, 3)), (1, "paid", d(1, 20)),
                (2, "trial", d(1, 10)), (2, "expired", d(1, 31)),
                (3, "trial", d(2, 2)), (3, "paid", d(2, 5)),
                (4, "trial", d(2, 25)),
                (5, "free", d(1, 5)),
            ],
            strict=True,
        )
    ),
    schema=PLAN_CHANGES,
)  # fmt: skip
EVENTS = pa.table(
    list(
        zip(
            *[
                (1, "Data Source Connected", d(1, 4)), (1, "Teammate Invited", d(1, 6)),
                (2, "Data Source Connected", d(1, 11)),
                (2, "Teammate Invited", d(2, 20)),  # after its first 14 days: not counted
                (3, "Teammate Invited", d(2, 3)),
                (5, "Teammate Invited", d(1, 6)),  # no trial
            ],
            strict=True,
        )
    ),
    schema=ACCOUNT_EVENTS,
)  # fmt: skip


def test_the_summary_counts_trials_conversions_and_new_customers() -> None:
    assert summary(PLANS, now=datetime(2026, 2, 28, 12, 0)) == {
        "trials": 4,
        "new_7d": 1,
        "new_30d": 2,
        "active": 1,
        "converted": 2,
        "conversion_rate": 0.5,
        "median_days_to_convert": 10.0,
        "new_customers_7d": 0,
    }
    # A week after account 3 converted, it is a new customer.
    assert summary(PLANS, now=datetime(2026, 2, 10))["new_customers_7d"] == 1


def test_trial_cohorts_by_month() -> None:
    rows = cohorts(PLANS).to_pylist()
    assert [(r["cohort"].month, r["trials"], r["converted"], r["rate"]) for r in rows] == [
        (1, 2, 1, 0.5),
        (2, 2, 1, 0.5),
    ]
    assert [r["median_days_to_convert"] for r in rows] == [17.0, 3.0]


def test_what_converted_trials_did_that_others_did_not() -> None:
    rows = converters_did(PLANS, EVENTS, first_days=14).to_pylist()
    assert [(r["event"], r["converted_share"], r["others_share"], r["lift"]) for r in rows] == [
        ("Teammate Invited", 1.0, 0.0, 1.0),  # both converters, none of the other two
        ("Data Source Connected", 0.5, 0.5, 0.0),
    ]
    assert {(r["converted_n"], r["others_n"]) for r in rows} == {(2, 2)}
