"""The review queue against real stores: owners, SLAs, hand-raises, answers and the outbox.

SPEC: engagement 20 per pricing page and 40 per webinar, MQL at 40; a demo request in the
last 7 days is a hand-raise. Owners: Japanese and Korean accounts are Tanaka's, everyone
else goes round-robin to Ana and Ben. Reviewing an MQL has an SLA of 9 business hours
(one working day, 09:00-18:00 in Tokyo, Japanese holidays off).

AS_OF is Friday 2026-11-20 12:00 JST (03:00 UTC): 9 business hours later is Tuesday
2026-11-24 12:00 JST, since Monday 2026-11-23 is a public holiday (Labor Thanksgiving Day).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from tests.factories import make_group, make_identify, make_track

from winnow.handoff.queue import breach_overdue, open_review, person_reviews, queue
from winnow.ingest import ingest_messages
from winnow.lifecycle import IllegalMove
from winnow.notify.outbox import add_endpoint, add_rule
from winnow.qualification import act, apply_scores, rescore, review, score_people
from winnow.store.people import find_person, get_person
from winnow.store.schema import deliveries, notifications
from winnow.store.specs import live_spec, publish_spec
from winnow.store.workspaces import Workspace, create_workspace

SPEC = r"""
engagement:
  rules:
    - {name: pricing page, event: Page Viewed, points: 20}
    - {name: webinar, event: Webinar Attended, points: 40}
stages:
  mql: 'engagement >= 40'
handoff:
  calendar: {timezone: Asia/Tokyo, hours: "09:00-18:00", holidays: JP}
  sla: {mql: 9h}
  owners:
    - {when: 'account.country in ("JP", "KR")', owner: tanaka@lumen.example}
    - {round_robin: [ana@lumen.example, ben@lumen.example]}
  hand_raise:
    - {name: demo request, when: 'did("Demo Requested", within="7d")'}
"""

AS_OF = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # Friday 12:00 in Tokyo
DUE = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # Tuesday 12:00 in Tokyo
EARLIER = (AS_OF - timedelta(hours=2)).isoformat()


def setup(conn: sa.Connection, workspace_id: int) -> None:
    publish_spec(conn, workspace_id, SPEC, by="test", now=AS_OF - timedelta(days=30))
    hook = add_endpoint(conn, workspace_id, name="crm", kind="webhook",
                        url="https://crm.example/hooks", by="test", now=AS_OF)  # fmt: skip
    add_rule(conn, workspace_id, name="everything", happenings=["*"], endpoint_id=hook.id,
             by="test", now=AS_OF)  # fmt: skip


def send(conn: sa.Connection, workspace_id: int, *messages: dict[str, Any]) -> None:
    result = ingest_messages(conn, workspace_id, list(messages), received_at=AS_OF, source="t")
    assert result.rejected == ()


def person(user_id: str, *, country: str | None = None) -> list[dict[str, Any]]:
    messages = [make_identify(userId=user_id, traits={"email": f"{user_id}@x.example"},
                              timestamp=EARLIER)]  # fmt: skip
    if country is not None:
        traits = {"name": f"{user_id} Inc", "country": country}
        messages.append(
            make_group(userId=user_id, groupId=f"g-{user_id}", traits=traits, timestamp=EARLIER)
        )
    return messages


def webinar(user_id: str) -> dict[str, Any]:
    return make_track(userId=user_id, event="Webinar Attended", timestamp=EARLIER)


def pid(conn: sa.Connection, workspace_id: int, user_id: str) -> int:
    return find_person(conn, workspace_id, user_id).id


def outbox(conn: sa.Connection, workspace_id: int) -> list[tuple[str, int | None]]:
    rows = conn.execute(
        sa.select(notifications.c.type, notifications.c.person_id)
        .where(notifications.c.workspace_id == workspace_id)
        .order_by(notifications.c.created_at, notifications.c.type, notifications.c.person_id)
    )
    return [(t, p) for t, p in rows]


def test_new_mqls_are_queued_with_an_owner_and_a_business_hours_deadline(
    conn: sa.Connection, workspace: Workspace
) -> None:
    setup(conn, workspace.id)
    send(conn, workspace.id, *person("kenji", country="JP"), webinar("kenji"))
    send(conn, workspace.id, *person("amy"), webinar("amy"), *person("bo"), webinar("bo"))
    send(conn, workspace.id, *person("cy"), webinar("cy"))

    rescore(conn, workspace.id, as_of=AS_OF)

    waiting = queue(conn, workspace.id)
    owners = {r.person_id: r.owner for r in waiting}
    assert owners == {
        pid(conn, workspace.id, "kenji"): "tanaka@lumen.example",
        # Round-robin in the order people were scored (by id): Ana, Ben, Ana.
        pid(conn, workspace.id, "amy"): "ana@lumen.example",
        pid(conn, workspace.id, "bo"): "ben@lumen.example",
        pid(conn, workspace.id, "cy"): "ana@lumen.example",
    }
    assert {(r.stage, r.entered_at, r.due_at) for r in waiting} == {("mql", AS_OF, DUE)}
    # The owner sticks to the person.
    assert get_person(conn, workspace.id, pid(conn, workspace.id, "bo")).owner == (
        "ben@lumen.example"
    )
    assert queue(conn, workspace.id, owner="ana@lumen.example")[0].owner == "ana@lumen.example"
    assert len(queue(conn, workspace.id, owner="ana@lumen.example")) == 2
    # Each MQL was written to the outbox with the move, one delivery per endpoint.
    assert [t for t, _ in outbox(conn, workspace.id)] == ["person.mql"] * 4
    assert conn.execute(sa.select(sa.func.count()).select_from(deliveries)).scalar_one() == 4


def test_a_hand_raise_fast_tracks_a_lead_to_the_front_of_the_queue(
    conn: sa.Connection, workspace: Workspace
) -> None:
    setup(conn, workspace.id)
    send(conn, workspace.id, *person("amy"), webinar("amy"))
    # Dan's score is far from an MQL's, but he asked for a demo.
    demo = make_track(userId="dan", event="Demo Requested", timestamp=EARLIER)
    send(conn, workspace.id, *person("dan"), demo)

    report = rescore(conn, workspace.id, as_of=AS_OF)

    dan = pid(conn, workspace.id, "dan")
    assert {(m.person_id, m.cause) for m in report.moves if m.person_id == dan} == {
        (dan, "rule:handoff.hand_raise.demo request")
    }
    front = queue(conn, workspace.id)[0]
    assert (front.person_id, front.hand_raise, front.raised_at) == (dan, "demo request", AS_OF)

    # Amy, already waiting, raises her hand later: she goes to the front too (after Dan).
    later = AS_OF + timedelta(hours=1)
    raised = make_track(userId="amy", event="Demo Requested", timestamp=later.isoformat())
    ingest_messages(conn, workspace.id, [raised], received_at=later, source="t")
    rescore(conn, workspace.id, as_of=later)
    amy = pid(conn, workspace.id, "amy")
    assert [(r.person_id, r.hand_raise) for r in queue(conn, workspace.id)] == [
        (dan, "demo request"),
        (amy, "demo request"),
    ]


def test_each_review_answer_moves_the_lead_and_is_recorded_with_reviewer_and_reason(
    conn: sa.Connection, workspace: Workspace
) -> None:
    setup(conn, workspace.id)
    for user in ("amy", "bo", "cy"):
        send(conn, workspace.id, *person(user), webinar(user))
    rescore(conn, workspace.id, as_of=AS_OF)
    amy, bo, cy = (pid(conn, workspace.id, u) for u in ("amy", "bo", "cy"))
    at = AS_OF + timedelta(hours=3)

    with pytest.raises(IllegalMove, match="needs a reason"):
        review(conn, workspace.id, amy, "ready", reviewer="ana", at=at)
    with pytest.raises(IllegalMove, match="ready, nurture or suspect"):
        review(conn, workspace.id, amy, "maybe", reviewer="ana", reason="?", at=at)
    review(conn, workspace.id, amy, "ready", reviewer="ana", reason="budget this quarter", at=at)
    review(conn, workspace.id, bo, "nurture", reviewer="ben", reason="too early", at=at)
    review(conn, workspace.id, cy, "suspect", reviewer="ana", reason="student", at=at)

    assert [get_person(conn, workspace.id, p).stage for p in (amy, bo, cy)] == [
        "sal",
        "nurture",
        "disqualified",
    ]
    closed = [person_reviews(conn, workspace.id, p)[0] for p in (amy, bo, cy)]
    assert [(r.outcome, r.reviewer, r.reason, r.closed_at) for r in closed] == [
        ("ready", "ana", "budget this quarter", at),
        ("nurture", "ben", "too early", at),
        ("suspect", "ana", "student", at),
    ]
    assert queue(conn, workspace.id) == []
    # Qualifying the SAL later closes nothing more and opens no review (no SLA on sql).
    bant = {"budget": "50k", "authority": "VP", "need": "reporting", "timeline": "Q1"}
    act(conn, workspace.id, amy, "qualify", actor="ana", details=bant, at=at)
    assert open_review(conn, workspace.id, amy) is None
    assert [t for t, p in outbox(conn, workspace.id) if p == amy] == [
        "person.mql",
        "person.sal",
        "person.sql",
    ]


def test_an_overdue_review_is_breached_and_notified_once(
    conn: sa.Connection, workspace: Workspace
) -> None:
    setup(conn, workspace.id)
    send(conn, workspace.id, *person("amy"), webinar("amy"))
    rescore(conn, workspace.id, as_of=AS_OF)
    _, spec = live_spec(conn, workspace.id)

    assert breach_overdue(conn, workspace.id, spec, now=DUE - timedelta(seconds=1)) == []
    late = DUE + timedelta(hours=2)
    (breached,) = breach_overdue(conn, workspace.id, spec, now=late)
    assert breached.person_id == pid(conn, workspace.id, "amy")
    assert breach_overdue(conn, workspace.id, spec, now=late + timedelta(hours=1)) == []
    assert open_review(conn, workspace.id, breached.person_id).breached_at == late  # type: ignore[union-attr]
    payload = conn.execute(
        sa.select(notifications.c.payload).where(notifications.c.type == "review.overdue")
    ).scalar_one()
    assert payload["data"]["review"]["overdue_by_hours"] == 2.0
    assert payload["data"]["owner"] == "ana@lumen.example"


def test_a_rolled_back_move_leaves_nothing_in_the_outbox(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        workspace = create_workspace(conn, "rollback")
        setup(conn, workspace.id)
        send(conn, workspace.id, *person("amy"), webinar("amy"))
    with pytest.raises(RuntimeError), engine.begin() as conn:
        rescore(conn, workspace.id, as_of=AS_OF)
        assert outbox(conn, workspace.id) == [("person.mql", pid(conn, workspace.id, "amy"))]
        raise RuntimeError("the transaction fails after the move")
    with engine.connect() as conn:
        assert outbox(conn, workspace.id) == []
        assert get_person(conn, workspace.id, pid(conn, workspace.id, "amy")).stage == "lead"


def test_a_disqualified_lead_active_again_is_notified_once(
    conn: sa.Connection, workspace: Workspace
) -> None:
    setup(conn, workspace.id)
    send(conn, workspace.id, *person("amy"))
    amy = pid(conn, workspace.id, "amy")
    act(conn, workspace.id, amy, "disqualify", actor="ana", reason="no budget", at=AS_OF)
    later = AS_OF + timedelta(days=2)
    came_back = make_track(userId="amy", event="Demo Requested", timestamp=later.isoformat())
    ingest_messages(conn, workspace.id, [came_back], received_at=later, source="t")

    for hours in (0, 1):
        scoring = score_people(
            conn, workspace.id, as_of=later + timedelta(hours=hours), person_ids=[amy],
            on="store", touched=True,
        )  # fmt: skip
        apply_scores(conn, workspace.id, scoring)

    assert get_person(conn, workspace.id, amy).stage == "disqualified"
    assert [t for t, _ in outbox(conn, workspace.id)] == ["person.disqualified", "person.reengaged"]
