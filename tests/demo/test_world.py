"""The demo world: reproducible, realistic in shape, with its planted signal."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from winnow.demo.world import World, build_world
from winnow.ingest.messages import InvalidMessage, parse_message

END = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(7, people=2000, accounts=600, end=END)


def test_the_same_seed_draws_the_same_world(world: World) -> None:
    again = build_world(7, people=2000, accounts=600, end=END)
    assert again.messages == world.messages
    assert again.decisions == world.decisions
    other = build_world(8, people=2000, accounts=600, end=END)
    assert other.messages != world.messages


def test_six_months_of_messages_in_time_order(world: World) -> None:
    assert world.start == datetime(2026, 5, 3, tzinfo=UTC)
    stamps = [m["timestamp"] for m in world.messages]
    assert stamps == sorted(stamps)
    assert world.start.isoformat()[:10] <= stamps[0][:10] and stamps[-1][:10] < "2026-11-01"
    assert len({m["messageId"] for m in world.messages}) == len(world.messages)


def test_messages_are_valid_segment_messages_but_for_one_broken_release(world: World) -> None:
    problems = []
    for message in world.messages:
        try:
            parse_message(message, received_at=END)
        except InvalidMessage as exc:
            problems.append(str(exc))
    assert len(problems) == 12
    assert any("event" in p for p in problems) and any("traits" in p for p in problems)


def test_marketing_and_product_events_both_flow(world: World) -> None:
    kinds = Counter(m.get("event") or m["type"] for m in world.messages)
    assert kinds["page"] > kinds["Email Opened"] > kinds["Demo Requested"] > 0
    for event in ("Signed Up", "Data Source Connected", "Teammate Invited", "Query Run"):
        assert kinds[event] > 0, event
    identified = {m["userId"] for m in world.messages if m["type"] == "identify"}
    assert len(identified) >= 2000


def test_the_aha_moment_lifts_trial_conversion(world: World) -> None:
    """Two data sources and three teammates: the PQL criterion of the example spec."""
    aha = [t for t in world.trials.values() if t.aha]
    others = [t for t in world.trials.values() if not t.aha]
    assert len(aha) >= 10 and len(others) >= 30

    def rate(trials: list) -> float:  # type: ignore[type-arg]
        return sum(t.converted for t in trials) / len(trials)

    assert rate(aha) > 3 * rate(others)


def test_sales_decisions_follow_fit_and_intent(world: World) -> None:
    people = {r.user_id: r for r in world.residents}
    students = [d for u, d in world.decisions.items() if people[u].title == "Student"]
    assert students and sum(d.review == "disqualify" for d in students) / len(students) > 0.7
    accepted = [world.intents[d.user_id] for d in world.decisions.values() if d.review == "accept"]
    refused = [world.intents[d.user_id] for d in world.decisions.values() if d.review != "accept"]
    assert sum(accepted) / len(accepted) > sum(refused) / len(refused) + 0.1
    for decision in world.decisions.values():
        assert decision.opportunity <= decision.reaches_sql <= (decision.review == "accept")
