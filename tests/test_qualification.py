"""Qualification against real stores: `rescore` scores, saves and promotes; `act` moves.

Every test builds a small world through ingestion and scores it with SPEC, whose numbers
are easy to check by hand:

- fit: decision maker (VP/Head/Director) 30, mid-market account (>= 50 employees) 15;
  grades A >= 40, B >= 25, C >= 10.
- engagement: a webinar is worth 20 and never decays; a pricing page view is worth 10,
  once per UTC day, halving every 7 days, at most 30.
- mql: engagement >= 30 and grade A or B. Customers: accounts on plan "paid".

The world, as of AS_OF (2026-05-15 12:00 UTC):

| who | title, account | fit, grade | engagement | score | mql |
|---|---|---|---|---|---|
| u1 Ada | VP Engineering, Initech (120 people) | 30+15 = 45 A | 2 webinars = 40 | 85 | yes |
| u2 Bob | Student, none | 0 D | 2 webinars = 40 | 40 | no: grade D |
| u3 Cy | Head of Data, none | 30 B | pricing: 10 x 0.5 + 10 = 15 | 45 | no: 15 < 30 |
| u4 Dee | Analyst, Initech | 15 C | 1 webinar = 20 | 35 | no |

Cy viewed pricing three times on May 8 (the last at 12:00, exactly one half-life before
AS_OF), once at AS_OF, and once on May 16 (after AS_OF, so not seen at all): 4 matched,
2 counted (one per day), 10 x 0.5 + 10 x 1 = 15 points, 5 lost to decay. Initech's
engagement is the sum of its top 3 people: 40 + 20 = 60.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from tests.factories import CREATED, make_group, make_identify, make_page, make_track

from winnow.clock import from_db
from winnow.ingest import ingest_messages
from winnow.lifecycle import IllegalMove, Move, Snapshot
from winnow.qualification import (
    PersonNotFound,
    RescoreReport,
    act,
    apply_scores,
    rescore,
    score_people,
)
from winnow.store.history import HistoryEntry, person_history
from winnow.store.people import find_person, get_person
from winnow.store.scores import person_score
from winnow.store.specs import publish_spec
from winnow.store.workspaces import Workspace, create_workspace

SPEC = r"""
version: 1
fit:
  rules:
    - {name: decision maker, when: 'matches(person.title, "(?i)\b(vp|head|director)\b")', points: 30}
    - {name: mid-market, when: 'account.employees >= 50', points: 15}
  grades: {A: 40, B: 25, C: 10}
engagement:
  half_life: 7d
  rules:
    - {name: pricing page, event: Page Viewed, where: 'starts_with(properties.path, "/pricing")', points: 10, once_per: 1d, max: 30}
    - {name: webinar, event: Webinar Attended, points: 20, half_life: none}
stages:
  mql: 'engagement >= {threshold} and grade in ("A", "B")'
  customer_plans: [paid]
"""

JOINED = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
AS_OF = datetime(2026, 5, 15, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def spec(threshold: int = 30) -> str:
    return SPEC.replace("{threshold}", str(threshold))


def iso(at: datetime) -> str:
    return at.isoformat()


def ingest(
    conn: sa.Connection, workspace_id: int, *messages: dict[str, Any], at: datetime = AS_OF
) -> None:
    result = ingest_messages(conn, workspace_id, list(messages), received_at=at, source="test")
    assert (result.accepted, result.rejected) == (len(messages), ())


def webinar(user_id: str, at: datetime) -> dict[str, Any]:
    return make_track(userId=user_id, event="Webinar Attended", timestamp=iso(at))


def pricing_view(user_id: str, at: datetime) -> dict[str, Any]:
    return make_page(userId=user_id, timestamp=iso(at))


def build_world(conn: sa.Connection, workspace_id: int) -> dict[str, int]:
    """Publish SPEC and ingest the world of the module docstring; person ids by user id."""
    publish_spec(conn, workspace_id, spec(), by="marta", now=CREATED)
    ingest(
        conn,
        workspace_id,
        make_identify(
            userId="u1",
            traits={"email": "ada@initech.com", "firstName": "Ada", "title": "VP Engineering"},
            timestamp=iso(JOINED),
        ),
        # Initech: plan trial, 120 employees (the factory's defaults).
        make_group(userId="u1", groupId="acct-1", timestamp=iso(JOINED)),
        make_identify(
            userId="u2",
            traits={"email": "bob@gmail.com", "title": "Student"},
            timestamp=iso(JOINED),
        ),
        make_identify(
            userId="u3",
            traits={"email": "cy@hooli.com", "title": "Head of Data"},
            timestamp=iso(JOINED),
        ),
        make_identify(
            userId="u4",
            traits={"email": "dee@initech.com", "title": "Analyst"},
            timestamp=iso(JOINED),
        ),
        make_group(userId="u4", groupId="acct-1", timestamp=iso(JOINED)),
        webinar("u1", datetime(2026, 5, 5, 15, tzinfo=UTC)),
        webinar("u1", datetime(2026, 5, 12, 15, tzinfo=UTC)),
        webinar("u2", datetime(2026, 5, 6, 15, tzinfo=UTC)),
        webinar("u2", datetime(2026, 5, 13, 15, tzinfo=UTC)),
        webinar("u4", datetime(2026, 5, 12, 15, tzinfo=UTC)),
        pricing_view("u3", datetime(2026, 5, 8, 9, tzinfo=UTC)),
        pricing_view("u3", datetime(2026, 5, 8, 10, tzinfo=UTC)),
        pricing_view("u3", datetime(2026, 5, 8, 12, tzinfo=UTC)),
        pricing_view("u3", AS_OF),
        pricing_view("u3", datetime(2026, 5, 16, 8, tzinfo=UTC)),
    )
    return {user: find_person(conn, workspace_id, user).id for user in ("u1", "u2", "u3", "u4")}


def moved(report: RescoreReport, ids: dict[str, int]) -> list[tuple[str, str | None, str, str]]:
    """A report's moves as (user id, from, to, cause)."""
    users = {person_id: user for user, person_id in ids.items()}
    return [(users[m.person_id], m.from_stage, m.to_stage, m.cause) for m in report.moves]


def stored(conn: sa.Connection, workspace_id: int, person_id: int) -> dict[str, Any]:
    row = person_score(conn, workspace_id, person_id)
    assert row is not None, f"person {person_id} has no score"
    return row


def rounded(value: Any) -> Any:
    """Floats rounded to 9 places, recursively: DuckDB and SQL decay may differ in the ulp."""
    if isinstance(value, float):
        return round(value, 9) + 0.0  # + 0.0 turns -0.0 into 0.0
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def comparable(row: dict[str, Any]) -> dict[str, Any]:
    """What a stored score says about a person, without ids that differ between workspaces."""
    explanation = dict(row["explanation"])
    if explanation["account"] is not None:
        explanation["account"] = {k: v for k, v in explanation["account"].items() if k != "id"}
    result: dict[str, Any] = rounded(
        {
            "fit": row["fit"],
            "grade": row["grade"],
            "engagement": row["engagement"],
            "score": row["score"],
            "criteria": row["criteria"],
            "explanation": explanation,
        }
    )
    return result


def last_entry(conn: sa.Connection, workspace_id: int, person_id: int) -> HistoryEntry:
    return person_history(conn, workspace_id, person_id)[-1]


# -- rescore -------------------------------------------------------------------------------


def test_scoring_in_the_store_and_on_duckdb_gives_the_same_scores_and_promotions(
    conn: sa.Connection, workspace: Workspace
) -> None:
    # Two workspaces with the same world: one scored in the store's database a few people
    # at a time, the other on DuckDB, everyone at once.
    other = create_workspace(conn, "globex", now=CREATED)
    here = build_world(conn, workspace.id)
    there = build_world(conn, other.id)

    first = rescore(
        conn, workspace.id, as_of=AS_OF, person_ids=[here["u1"], here["u3"]], on="store"
    )
    second = rescore(
        conn, workspace.id, as_of=AS_OF, person_ids=[here["u2"], here["u4"]], on="store"
    )
    everyone = rescore(conn, other.id, as_of=AS_OF, on="duckdb")

    # Ada's account-mate Dee is scored along for Initech's rollup, but only the people
    # asked for are reported and saved.
    assert (first.scored, second.scored, everyone.scored) == (2, 2, 4)
    promoted = [("u1", "lead", "mql", "rule:stages.mql")]
    assert moved(first, here) + moved(second, here) == promoted
    assert moved(everyone, there) == promoted

    expected = {  # user: (fit, grade, engagement, score, mql)
        "u1": (45.0, "A", 40.0, 85.0, True),
        "u2": (0.0, "D", 40.0, 40.0, False),
        "u3": (30.0, "B", 15.0, 45.0, False),
        "u4": (15.0, "C", 20.0, 35.0, False),
    }
    for user, (fit, grade, engagement, score, mql) in expected.items():
        row = comparable(stored(conn, workspace.id, here[user]))
        assert row == comparable(stored(conn, other.id, there[user])), user
        assert (row["fit"], row["grade"], row["engagement"], row["score"]) == (
            fit,
            grade,
            engagement,
            score,
        ), user
        assert row["criteria"] == {"mql": mql, "customer": False}, user

    cy = comparable(stored(conn, workspace.id, here["u3"]))
    assert cy["explanation"] == {
        "fit": [{"rule": "decision maker", "points": 30.0}],
        "engagement": [
            {
                "rule": "pricing page",
                "points": 15.0,
                "matched": 4,
                "counted": 2,
                "decay": 5.0,
                "capped": 0.0,
            }
        ],
        "account": None,
    }
    ada = stored(conn, workspace.id, here["u1"])
    assert rounded(ada["explanation"]) == {
        "fit": [
            {"rule": "decision maker", "points": 30.0},
            {"rule": "mid-market", "points": 15.0},
        ],
        "engagement": [
            {
                "rule": "webinar",
                "points": 40.0,
                "matched": 2,
                "counted": 2,
                "decay": 0.0,
                "capped": 0.0,
            }
        ],
        # Initech: top 3 engagements summed, Ada 40 + Dee 20; no account fit rules.
        "account": {
            "id": get_person(conn, workspace.id, here["u1"]).account_id,
            "fit": 0.0,
            "engagement": 60.0,
            "score": 60.0,
        },
    }


def test_scores_are_saved_with_the_live_spec_version_and_as_of(
    conn: sa.Connection, workspace: Workspace
) -> None:
    ids = build_world(conn, workspace.id)
    # A second version goes live; with its lower bar Cy (15) is an MQL too.
    publish_spec(conn, workspace.id, spec(threshold=10), by="marta", now=CREATED + DAY)

    report = rescore(conn, workspace.id, as_of=AS_OF)

    assert (report.spec_version, report.as_of, report.scored) == (2, AS_OF, 4)
    assert sorted(moved(report, ids)) == [
        ("u1", "lead", "mql", "rule:stages.mql"),
        ("u3", "lead", "mql", "rule:stages.mql"),
    ]
    for person_id in ids.values():
        row = stored(conn, workspace.id, person_id)
        assert (row["spec_version"], from_db(row["as_of"])) == (2, AS_OF)


def test_scoring_some_people_on_duckdb_is_refused(
    conn: sa.Connection, workspace: Workspace
) -> None:
    ids = build_world(conn, workspace.id)
    with pytest.raises(ValueError, match="DuckDB rescores everyone"):
        rescore(conn, workspace.id, as_of=AS_OF, person_ids=[ids["u1"]], on="duckdb")


def test_a_lead_meeting_the_mql_criterion_is_promoted_once(
    conn: sa.Connection, workspace: Workspace
) -> None:
    ids = build_world(conn, workspace.id)
    ada = ids["u1"]

    report = rescore(conn, workspace.id, as_of=AS_OF)

    snapshot = Snapshot(fit=45.0, engagement=40.0, score=85.0, grade="A")
    assert report.moves == (
        Move(
            person_id=ada,
            from_stage="lead",
            to_stage="mql",
            at=AS_OF,
            cause="rule:stages.mql",
            snapshot=snapshot,
        ),
    )
    # Ingestion recorded the creation; the rule's move follows with the score it had.
    assert person_history(conn, workspace.id, ada) == [
        HistoryEntry(
            person_id=ada,
            from_stage=None,
            to_stage="lead",
            at=JOINED,
            cause="fact:created",
            reason=None,
            details={},
            fit=None,
            engagement=None,
            score=None,
            grade=None,
        ),
        HistoryEntry(
            person_id=ada,
            from_stage="lead",
            to_stage="mql",
            at=AS_OF,
            cause="rule:stages.mql",
            reason=None,
            details={},
            fit=45.0,
            engagement=40.0,
            score=85.0,
            grade="A",
        ),
    ]
    person = get_person(conn, workspace.id, ada)
    assert (person.stage, person.stage_changed_at) == ("mql", AS_OF)

    # The criterion still holds a day later, on either engine: no second move.
    assert rescore(conn, workspace.id, as_of=AS_OF + DAY).moves == ()
    assert rescore(conn, workspace.id, as_of=AS_OF + DAY, person_ids=[ada], on="store").moves == ()
    assert len(person_history(conn, workspace.id, ada)) == 2
    person = get_person(conn, workspace.id, ada)
    assert (person.stage, person.stage_changed_at) == ("mql", AS_OF)
    assert stored(conn, workspace.id, ada)["criteria"]["mql"] is True


def test_an_account_that_starts_paying_makes_its_people_customers(
    conn: sa.Connection, workspace: Workspace
) -> None:
    ids = build_world(conn, workspace.id)
    rescore(conn, workspace.id, as_of=AS_OF)  # Ada: lead -> mql
    act(
        conn,
        workspace.id,
        ids["u4"],
        "disqualify",
        actor="aiko",
        reason="not a buyer",
        at=AS_OF + timedelta(hours=1),
    )

    paid = AS_OF + 2 * DAY
    ingest(
        conn,
        workspace.id,
        make_group(userId="u1", groupId="acct-1", traits={"plan": "paid"}, timestamp=iso(paid)),
        at=paid,
    )
    report = rescore(conn, workspace.id, as_of=paid + DAY)

    # Both Initech people, even the disqualified one; Bob and Cy have no account.
    assert sorted(moved(report, ids)) == [
        ("u1", "mql", "customer", "fact:account.plan"),
        ("u4", "disqualified", "customer", "fact:account.plan"),
    ]
    assert all(m.cause.startswith("fact:") for m in report.moves)
    for user in ("u1", "u4"):
        entry = last_entry(conn, workspace.id, ids[user])
        assert (entry.to_stage, entry.cause, entry.at) == (
            "customer",
            "fact:account.plan",
            paid + DAY,
        )
        assert get_person(conn, workspace.id, ids[user]).stage == "customer"
    assert [get_person(conn, workspace.id, ids[u]).stage for u in ("u2", "u3")] == ["lead", "lead"]
    assert stored(conn, workspace.id, ids["u1"])["criteria"] == {"mql": True, "customer": True}

    assert rescore(conn, workspace.id, as_of=paid + 2 * DAY).moves == ()


# -- act -------------------------------------------------------------------------------------


def test_accepting_an_mql_makes_a_sal_recorded_with_the_actor(
    conn: sa.Connection, workspace: Workspace
) -> None:
    ids = build_world(conn, workspace.id)
    ada = ids["u1"]
    rescore(conn, workspace.id, as_of=AS_OF)
    accepted = AS_OF + timedelta(hours=2)

    move = act(conn, workspace.id, ada, "accept", actor="aiko", at=accepted)

    snapshot = Snapshot(fit=45.0, engagement=40.0, score=85.0, grade="A")
    assert (move.from_stage, move.to_stage, move.cause, move.snapshot) == (
        "mql",
        "sal",
        "user:aiko",
        snapshot,
    )
    assert last_entry(conn, workspace.id, ada) == HistoryEntry(
        person_id=ada,
        from_stage="mql",
        to_stage="sal",
        at=accepted,
        cause="user:aiko",
        reason=None,
        details={},
        fit=45.0,
        engagement=40.0,
        score=85.0,
        grade="A",
    )
    person = get_person(conn, workspace.id, ada)
    assert (person.stage, person.stage_changed_at, person.recycled_at) == ("sal", accepted, None)


@pytest.mark.parametrize("on", ["store", "duckdb"])
def test_after_nurture_engagement_counts_only_events_after_the_recycle_date(
    conn: sa.Connection, workspace: Workspace, on: str
) -> None:
    ids = build_world(conn, workspace.id)
    ada = ids["u1"]

    def score(as_of: datetime) -> RescoreReport:
        person_ids = [ada] if on == "store" else None
        return rescore(conn, workspace.id, as_of=as_of, person_ids=person_ids, on=on)

    def webinars_explained() -> list[dict[str, Any]]:
        return list(rounded(stored(conn, workspace.id, ada)["explanation"]["engagement"]))

    score(AS_OF)  # Ada: lead -> mql on two webinars (40)

    with pytest.raises(IllegalMove, match="nurture needs a reason"):
        act(conn, workspace.id, ada, "nurture", actor="aiko", reason="  ", at=AS_OF + DAY)
    assert get_person(conn, workspace.id, ada).stage == "mql"

    nurtured = datetime(2026, 5, 20, 9, 0, tzinfo=UTC)
    move = act(
        conn, workspace.id, ada, "nurture", actor="aiko", reason="no budget until Q3", at=nurtured
    )
    assert (move.from_stage, move.to_stage, move.reason) == ("mql", "nurture", "no budget until Q3")
    person = get_person(conn, workspace.id, ada)
    assert (person.stage, person.recycled_at) == ("nurture", nurtured)
    assert last_entry(conn, workspace.id, ada).reason == "no budget until Q3"

    # The two old webinars no longer count: engagement 0, nothing explained, no move.
    report = score(nurtured + DAY)
    assert report.moves == ()
    row = stored(conn, workspace.id, ada)
    assert (row["fit"], row["engagement"], row["score"]) == (45.0, 0.0, 45.0)
    assert webinars_explained() == []

    # One webinar at the very instant of the recycle (not after it) and one after: 20.
    ingest(
        conn,
        workspace.id,
        webinar("u1", nurtured),
        webinar("u1", nurtured + 2 * DAY),
        at=nurtured + 2 * DAY,
    )
    report = score(nurtured + 3 * DAY)
    assert report.moves == ()
    assert stored(conn, workspace.id, ada)["engagement"] == 20.0
    assert webinars_explained() == [
        {"rule": "webinar", "points": 20.0, "matched": 1, "counted": 1, "decay": 0.0, "capped": 0.0}
    ]

    # A second new webinar: 40 >= 30 and grade A, so Ada qualifies again.
    ingest(conn, workspace.id, webinar("u1", nurtured + 4 * DAY), at=nurtured + 4 * DAY)
    report = score(nurtured + 5 * DAY)
    assert [(m.from_stage, m.to_stage, m.cause) for m in report.moves] == [
        ("nurture", "mql", "rule:stages.mql")
    ]
    assert report.moves[0].snapshot == Snapshot(fit=45.0, engagement=40.0, score=85.0, grade="A")
    assert webinars_explained() == [
        {"rule": "webinar", "points": 40.0, "matched": 2, "counted": 2, "decay": 0.0, "capped": 0.0}
    ]
    assert [(e.from_stage, e.to_stage) for e in person_history(conn, workspace.id, ada)] == [
        (None, "lead"),
        ("lead", "mql"),
        ("mql", "nurture"),
        ("nurture", "mql"),
    ]


def test_disqualified_people_are_not_promoted_by_rules(
    conn: sa.Connection, workspace: Workspace
) -> None:
    ids = build_world(conn, workspace.id)
    ada = ids["u1"]
    at = AS_OF - DAY

    with pytest.raises(IllegalMove, match="disqualify needs a reason"):
        act(conn, workspace.id, ada, "disqualify", actor="aiko", at=at)
    move = act(conn, workspace.id, ada, "disqualify", actor="aiko", reason="competitor", at=at)

    # Never scored yet: the move carries an empty snapshot.
    assert last_entry(conn, workspace.id, ada) == HistoryEntry(
        person_id=ada,
        from_stage="lead",
        to_stage="disqualified",
        at=at,
        cause="user:aiko",
        reason="competitor",
        details={},
        fit=None,
        engagement=None,
        score=None,
        grade=None,
    )
    assert move.snapshot == Snapshot()

    report = rescore(conn, workspace.id, as_of=AS_OF)
    assert report.moves == ()
    assert stored(conn, workspace.id, ada)["criteria"]["mql"] is True
    assert get_person(conn, workspace.id, ada).stage == "disqualified"


def test_a_person_who_moved_after_being_scored_is_not_promoted_from_the_stage_scored(
    conn: sa.Connection, workspace: Workspace
) -> None:
    # The scorer scores on a reader and stores later; a rep may act in between.
    ids = build_world(conn, workspace.id)
    ada = ids["u1"]
    scoring = score_people(conn, workspace.id, as_of=AS_OF)
    act(conn, workspace.id, ada, "disqualify", actor="aiko", reason="competitor", at=AS_OF)

    report = apply_scores(conn, workspace.id, scoring)

    assert report.moves == ()
    assert get_person(conn, workspace.id, ada).stage == "disqualified"
    assert stored(conn, workspace.id, ada)["score"] == 85.0
    # Scored again, from the stage she has now: rules never promote the disqualified.
    scoring = score_people(conn, workspace.id, as_of=AS_OF, person_ids=[ada], on="store")
    assert apply_scores(conn, workspace.id, scoring).moves == ()


def test_qualifying_needs_all_four_bant_fields(conn: sa.Connection, workspace: Workspace) -> None:
    ids = build_world(conn, workspace.id)
    ada = ids["u1"]
    rescore(conn, workspace.id, as_of=AS_OF)
    act(conn, workspace.id, ada, "accept", actor="aiko", at=AS_OF + DAY)

    partial = {"budget": "40k/year", "need": "self-serve analytics", "authority": " "}
    with pytest.raises(IllegalMove, match="missing: authority, timeline$"):
        act(conn, workspace.id, ada, "qualify", actor="aiko", details=partial, at=AS_OF + 2 * DAY)
    assert get_person(conn, workspace.id, ada).stage == "sal"

    bant = {
        "budget": "40k/year",
        "authority": "Ada signs",
        "need": "self-serve analytics",
        "timeline": "Q3",
    }
    move = act(conn, workspace.id, ada, "qualify", actor="aiko", details=bant, at=AS_OF + 2 * DAY)
    assert (move.from_stage, move.to_stage, move.cause) == ("sal", "sql", "user:aiko")
    entry = last_entry(conn, workspace.id, ada)
    assert (entry.to_stage, entry.details) == ("sql", bant)
    assert get_person(conn, workspace.id, ada).stage == "sql"


def test_an_illegal_move_names_the_stage_and_changes_nothing(
    conn: sa.Connection, workspace: Workspace
) -> None:
    ids = build_world(conn, workspace.id)
    cy = ids["u3"]
    rescore(conn, workspace.id, as_of=AS_OF)  # Cy stays a lead

    with pytest.raises(IllegalMove, match=r"cannot accept person \d+: they are in stage 'lead'"):
        act(conn, workspace.id, cy, "accept", actor="aiko", at=AS_OF + DAY)
    with pytest.raises(IllegalMove, match="unknown action 'promote'"):
        act(conn, workspace.id, cy, "promote", actor="aiko", at=AS_OF + DAY)
    assert get_person(conn, workspace.id, cy).stage == "lead"
    assert [e.cause for e in person_history(conn, workspace.id, cy)] == ["fact:created"]


def test_acting_on_an_unknown_person_raises_person_not_found(
    conn: sa.Connection, workspace: Workspace
) -> None:
    other = create_workspace(conn, "globex", now=CREATED)
    elsewhere = build_world(conn, other.id)["u1"]

    with pytest.raises(PersonNotFound, match="no person 999999 in this workspace"):
        act(conn, workspace.id, 999_999, "disqualify", actor="aiko", reason="spam", at=AS_OF)
    with pytest.raises(PersonNotFound, match=f"no person {elsewhere} in this workspace"):
        act(conn, workspace.id, elsewhere, "disqualify", actor="aiko", reason="spam", at=AS_OF)
    assert get_person(conn, other.id, elsewhere).stage == "lead"
