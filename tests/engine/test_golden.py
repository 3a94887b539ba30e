"""Golden numbers: a small history whose scores were worked out by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from winnow.engine import PersonScore, RuleContribution, score_frames
from winnow.spec import load_spec

SPEC = """
fit:
  rules:
    - {name: vp, when: 'matches(person.title, "(?i)\\\\bvp\\\\b")', points: 20}
    - {name: size, when: 'account.employees >= 50', points: 15}
    - {name: free email, when: 'person.email_domain in free_email_domains', points: -20}
  grades: {A: 30, B: 15, C: 5}
engagement:
  half_life: 30d
  rules:
    - {name: webinar, event: Webinar Attended, points: 10, max: 15}
    - {name: pricing, event: Page Viewed, where: 'starts_with(properties.path, "/pricing")', points: 5, once_per: 1d, half_life: none}
    - {name: unsubscribed, event: Unsubscribed, points: -40, half_life: none}
metrics:
  logins: {count: Signed In, within: 7d}
  streak: {longest_streak: any}
  messages: {sum: properties.count, event: Messages Sent, scope: account}
  biggest: {max: properties.count, event: Messages Sent}
accounts:
  people: {top: 1, aggregate: sum}
  fit:
    - {name: big, when: 'account.employees >= 100', points: 10}
stages:
  mql: 'engagement >= 10 and grade in ("A", "B")'
  sql: 'did("Demo Requested")'
"""
AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
T = AS_OF.replace(tzinfo=None)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def frames() -> dict[str, pa.Table]:
    people = pa.table(
        {
            "id": [1, 2, 3],
            "account_id": [10, 10, None],
            "email": ["ada@acme.com", "bob@gmail.com", None],
            "email_domain": ["acme.com", "gmail.com", None],
            "user_id": ["u1", "u2", "u3"],
            "owner": [None, None, None],
            "created_at": [T - timedelta(days=90)] * 3,
            "stage": ["lead", "lead", "lead"],
            "recycled_at": pa.array([None, None, None], pa.timestamp("us")),
            "traits": [json.dumps({"title": "VP Sales"}), json.dumps({"title": "Engineer"}), "{}"],
        }
    )
    accounts = pa.table(
        {
            "id": [10],
            "group_id": ["acme"],
            "name": ["Acme"],
            "domain": ["acme.com"],
            "plan": ["trial"],
            "created_at": [T - timedelta(days=100)],
            "traits": [json.dumps({"employees": 120})],
        }
    )
    events = [
        (1, "Webinar Attended", T, {}),
        (1, "Webinar Attended", T - timedelta(days=30), {}),
        (1, "Webinar Attended", T - timedelta(days=60), {}),
        (1, "Page Viewed", at("2026-05-20 10:00:00"), {"path": "/pricing"}),
        (1, "Page Viewed", at("2026-05-20 11:00:00"), {"path": "/pricing/teams"}),
        (1, "Page Viewed", at("2026-05-20 23:59:59"), {"path": "/pricing"}),
        (1, "Page Viewed", at("2026-05-21 00:00:00"), {"path": "/pricing"}),
        (1, "Page Viewed", at("2026-05-21 08:00:00"), {"path": "/docs"}),
        (1, "Signed In", at("2026-05-31 09:00:00"), {}),
        (1, "Signed In", at("2026-05-30 09:00:00"), {}),
        (1, "Signed In", at("2026-05-29 09:00:00"), {}),
        (1, "Signed In", at("2026-05-20 09:00:00"), {}),
        (1, "Messages Sent", at("2026-05-25 12:00:00"), {"count": 100}),
        (2, "Messages Sent", at("2026-05-26 12:00:00"), {"count": 50}),
        (2, "Messages Sent", at("2026-05-27 12:00:00"), {"count": "many"}),
        (2, "Unsubscribed", at("2026-05-01 00:00:00"), {}),
        (2, "Demo Requested", T + timedelta(days=1), {}),
    ]
    return {
        "people": people,
        "accounts": accounts,
        "events": pa.table(
            {
                "person_id": [e[0] for e in events],
                "name": [e[1] for e in events],
                "timestamp": [e[2] for e in events],
                "properties": [json.dumps(e[3]) for e in events],
                "context": ["{}" for _ in events],
            }
        ),
    }


@pytest.fixture(scope="module")
def scores() -> dict[int, PersonScore]:
    results = score_frames(load_spec(SPEC), **frames(), as_of=AS_OF)
    return {s.person_id: s for s in results}


def test_fit_and_grade(scores: dict[int, PersonScore]) -> None:
    assert (scores[1].fit, scores[1].grade) == (35.0, "A")  # vp 20 + size 15
    assert (scores[2].fit, scores[2].grade) == (-5.0, "D")  # size 15 - free email 20
    assert (scores[3].fit, scores[3].grade) == (0.0, "D")  # no account: size unknown


def test_decay_cap_and_once_per(scores: dict[int, PersonScore]) -> None:
    webinar, pricing = scores[1].engagement_rules
    # 10 + 10 * 0.5 + 10 * 0.25 = 17.5, capped at 15; decay took 30 - 17.5
    assert webinar == RuleContribution(
        name="webinar", points=15.0, matched=3, counted=3, decay=12.5, capped=2.5
    )
    # four pricing views on two UTC days count twice, no decay
    assert pricing == RuleContribution(
        name="pricing", points=10.0, matched=4, counted=2, decay=0.0, capped=0.0
    )
    assert scores[1].engagement == pytest.approx(25.0)
    assert scores[1].score == pytest.approx(60.0)


def test_negative_rules_and_events_after_as_of(scores: dict[int, PersonScore]) -> None:
    assert scores[2].engagement == -40.0
    assert scores[2].criteria["sql"] is False  # the demo request comes after as_of
    assert scores[1].criteria["mql"] is True and scores[2].criteria["mql"] is False


def test_metrics(scores: dict[int, PersonScore]) -> None:
    # logins in the last 7 days; streak May 29 - June 1; messages across the account
    assert scores[1].metrics == {"logins": 3.0, "streak": 4.0, "messages": 150.0, "biggest": 100.0}
    # "many" is text, so it is neither summed nor a maximum
    assert scores[2].metrics["messages"] == 150.0 and scores[2].metrics["biggest"] == 50.0
    assert scores[3].metrics == {"logins": 0.0, "streak": 0.0, "messages": 0.0, "biggest": None}


def test_account_rollup(scores: dict[int, PersonScore]) -> None:
    # top 1 engagement in Acme is Ada's 25; account fit 10
    for person in (1, 2):
        assert scores[person].account_engagement == pytest.approx(25.0)
        assert scores[person].account_fit == 10.0
        assert scores[person].account_score == pytest.approx(35.0)
    assert scores[3].account_id is None and scores[3].account_score is None


def test_explanation_document(scores: dict[int, PersonScore]) -> None:
    explanation = scores[1].explanation()
    assert [h["rule"] for h in explanation["fit"]] == ["vp", "size"]
    assert [r["rule"] for r in explanation["engagement"]] == ["webinar", "pricing"]
    assert explanation["account"] == {"id": 10, "fit": 10.0, "engagement": 25.0, "score": 35.0}
