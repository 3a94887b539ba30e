"""The lifecycle: rules only promote; people move leads back and through sales stages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from winnow.lifecycle import ACTIONS, RANK, IllegalMove, Snapshot, manual_move, promotions
from winnow.spec.expr import STAGES

AT = datetime(2026, 5, 1, 12, tzinfo=UTC)


def promote(stage: str, **criteria: bool) -> list[tuple[str | None, str, str]]:
    moves = promotions(person_id=1, stage=stage, criteria=criteria, at=AT, snapshot=Snapshot())
    return [(m.from_stage, m.to_stage, m.cause) for m in moves]


def test_a_lead_meeting_the_mql_criterion_becomes_an_mql() -> None:
    assert promote("lead", mql=True) == [("lead", "mql", "rule:stages.mql")]


def test_the_highest_stage_whose_criterion_holds_wins() -> None:
    assert promote("lead", mql=True, sql=True) == [("lead", "sql", "rule:stages.sql")]
    assert promote("mql", mql=True, pql=True) == [("mql", "pql", "rule:stages.pql")]


def test_nothing_moves_backwards_or_sideways() -> None:
    assert promote("sal", mql=True, pql=True) == []
    assert promote("sql", sql=True) == []
    assert promote("pql", mql=True) == []


def test_nurtured_leads_can_qualify_again() -> None:
    assert promote("nurture", mql=True) == [("nurture", "mql", "rule:stages.mql")]


def test_disqualified_people_stay_put_unless_they_pay() -> None:
    assert promote("disqualified", mql=True, sql=True) == []
    assert promote("disqualified", customer=True) == [
        ("disqualified", "customer", "fact:account.plan")
    ]


def test_a_paying_account_makes_customers_and_csql_follows_for_customers() -> None:
    assert promote("pql", customer=True, csql=True) == [
        ("pql", "customer", "fact:account.plan"),
        ("customer", "csql", "rule:stages.csql"),
    ]
    assert promote("lead", csql=True) == []


@given(
    stage=st.sampled_from(STAGES),
    criteria=st.fixed_dictionaries(
        {k: st.booleans() for k in ("mql", "sql", "pql", "csql", "customer")}
    ),
)
def test_rules_never_lower_a_rank(stage: str, criteria: dict[str, bool]) -> None:
    for move in promotions(person_id=1, stage=stage, criteria=criteria, at=AT, snapshot=Snapshot()):
        assert RANK[move.to_stage] > RANK[move.from_stage or "subscriber"]
        assert not move.cause.startswith("user:")


def test_accepting_an_mql_records_the_actor_and_snapshot() -> None:
    snapshot = Snapshot(fit=40, engagement=55.5, score=95.5, grade="B")
    move = manual_move(
        action="accept",
        person_id=7,
        stage="mql",
        actor="aiko@example.com",
        at=AT,
        snapshot=snapshot,
    )
    assert (move.from_stage, move.to_stage, move.cause) == ("mql", "sal", "user:aiko@example.com")
    assert move.snapshot == snapshot


def test_nurture_and_disqualify_need_a_reason() -> None:
    with pytest.raises(IllegalMove, match="nurture needs a reason"):
        manual_move(action="nurture", person_id=1, stage="mql", actor="a", at=AT)
    with pytest.raises(IllegalMove, match="disqualify needs a reason"):
        manual_move(action="disqualify", person_id=1, stage="mql", actor="a", at=AT, reason=" ")


def test_qualifying_as_sql_needs_all_of_bant() -> None:
    with pytest.raises(IllegalMove, match="missing: authority, timeline"):
        manual_move(
            action="qualify",
            person_id=1,
            stage="sal",
            actor="a",
            at=AT,
            details={"budget": "50k", "need": "SSO"},
        )
    bant = {"budget": "50k", "authority": "CTO", "need": "SSO", "timeline": "Q3"}
    move = manual_move(action="qualify", person_id=1, stage="sal", actor="a", at=AT, details=bant)
    assert move.to_stage == "sql" and move.details == bant


def test_moves_from_the_wrong_stage_explain_what_is_allowed() -> None:
    with pytest.raises(IllegalMove, match="they are in stage 'lead', and only mql, pql can move"):
        manual_move(action="accept", person_id=3, stage="lead", actor="a", at=AT)
    with pytest.raises(IllegalMove, match="unknown action 'promote'"):
        manual_move(action="promote", person_id=3, stage="lead", actor="a", at=AT)


def test_won_and_lost_record_the_outcome() -> None:
    won = manual_move(action="won", person_id=1, stage="opportunity", actor="a", at=AT)
    lost = manual_move(
        action="lost",
        person_id=1,
        stage="opportunity",
        actor="a",
        at=AT,
        reason="went with a competitor",
    )
    assert (won.to_stage, won.details) == ("customer", {"outcome": "won"})
    assert (lost.to_stage, lost.details["outcome"]) == ("nurture", "lost")


def test_every_action_targets_a_known_stage() -> None:
    for target, sources in ACTIONS.values():
        assert target in STAGES and set(sources) <= set(STAGES)
