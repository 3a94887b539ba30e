"""Ingesting messages into a real store: events, idempotency, people, identities, accounts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from tests.factories import (
    RECEIVED,
    make_alias,
    make_batch,
    make_group,
    make_identify,
    make_page,
    make_person,
    make_track,
)

from winnow.ingest import IngestResult, ingest_batch, ingest_messages
from winnow.ingest.messages import InvalidMessage
from winnow.store.events import list_rejected
from winnow.store.history import person_history
from winnow.store.people import find_account, find_person, get_person
from winnow.store.schema import accounts, events, identities, people
from winnow.store.workspaces import Workspace, create_workspace

T = datetime(2026, 5, 1, 11, 0, tzinfo=UTC)


def ingest(conn: sa.Connection, workspace: Workspace, *messages: dict[str, Any]) -> IngestResult:
    return ingest_messages(conn, workspace.id, list(messages), received_at=RECEIVED, source="test")


def stored_events(conn: sa.Connection, workspace: Workspace) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(events).where(events.c.workspace_id == workspace.id).order_by(events.c.id)
    ).mappings()
    return [{k: v for k, v in r.items() if k not in ("id", "workspace_id")} for r in rows]


def snapshot(conn: sa.Connection, workspace: Workspace) -> dict[str, Any]:
    """Everything ingestion writes, in a comparable form."""
    tables = {"people": people, "accounts": accounts, "events": events, "identities": identities}
    return {
        name: sorted(
            json.dumps(dict(r), default=str, sort_keys=True)
            for r in conn.execute(
                sa.select(table).where(table.c.workspace_id == workspace.id)
            ).mappings()
        )
        for name, table in tables.items()
    }


def count(conn: sa.Connection, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_a_track_message_becomes_one_event_row(conn: sa.Connection, workspace: Workspace) -> None:
    context = {"campaign": {"name": "spring", "source": "google", "medium": "cpc"}, "ip": "1.2.3.4"}
    message = make_track(
        messageId="m-1",
        event="Demo Requested",
        properties={"form": "contact", "seats": 12},
        context=context,
        timestamp="2026-05-01T10:59:00Z",
        sentAt="2026-05-01T10:59:30Z",
    )
    result = ingest(conn, workspace, message)
    person = find_person(conn, workspace.id, "u1")
    assert result == IngestResult(
        accepted=1, duplicates=0, rejected=(), touched=frozenset({person.id})
    )
    assert stored_events(conn, workspace) == [
        {
            "message_id": "m-1",
            "person_id": person.id,
            "type": "track",
            "name": "Demo Requested",
            "properties": {"form": "contact", "seats": 12},
            "context": context,
            # received 12:00:00, sent 30 s after it happened
            "timestamp": datetime(2026, 5, 1, 11, 59, 30),
            "received_at": datetime(2026, 5, 1, 12, 0),
        }
    ]


def test_every_type_is_stored_under_its_event_name(
    conn: sa.Connection, workspace: Workspace
) -> None:
    result = ingest(
        conn,
        workspace,
        make_identify(),
        make_track(event="Signed In"),
        make_page(),
        make_page(type="screen", name="Inbox"),
        make_group(),
        make_alias(),
    )
    assert result.accepted == 6
    assert [(e["type"], e["name"]) for e in stored_events(conn, workspace)] == [
        ("identify", "Identify"),
        ("track", "Signed In"),
        ("page", "Page Viewed"),
        ("screen", "Screen Viewed"),
        ("group", "Group"),
        ("alias", "Alias"),
    ]


def test_the_same_messages_twice_change_nothing(conn: sa.Connection, workspace: Workspace) -> None:
    messages = [
        make_track(userId=None, anonymousId="anon-1"),
        make_identify(anonymousId="anon-1"),
        make_group(),
        make_page(),
    ]
    first = ingest(conn, workspace, *messages)
    before = snapshot(conn, workspace)
    second = ingest(conn, workspace, *messages)
    assert (first.accepted, first.duplicates) == (4, 0)
    assert (second.accepted, second.duplicates, second.touched) == (0, 4, frozenset())
    assert snapshot(conn, workspace) == before


def test_a_replayed_message_does_not_undo_a_newer_trait(
    conn: sa.Connection, workspace: Workspace
) -> None:
    old = make_identify(messageId="id-1", traits={"title": "Engineer"})
    new = make_identify(messageId="id-2", traits={"title": "VP Engineering"})
    ingest(conn, workspace, old, new)
    replay = ingest(conn, workspace, old)
    assert replay.duplicates == 1
    assert find_person(conn, workspace.id, "u1").traits["title"] == "VP Engineering"


def test_repeats_within_one_call_are_duplicates(conn: sa.Connection, workspace: Workspace) -> None:
    message = make_track(messageId="m-1")
    result = ingest(conn, workspace, message, message, make_track(messageId="m-2"))
    assert (result.accepted, result.duplicates) == (2, 1)
    assert count(conn, events) == 2


def test_message_ids_are_unique_per_workspace(conn: sa.Connection, workspace: Workspace) -> None:
    other = create_workspace(conn, "globex", now=T)
    ingest(conn, workspace, make_track(messageId="m-1"))
    result = ingest_messages(
        conn, other.id, [make_track(messageId="m-1")], received_at=RECEIVED, source="test"
    )
    assert result.accepted == 1
    assert count(conn, events) == 2


def test_invalid_messages_are_rejected_by_name_and_the_valid_ones_kept(
    conn: sa.Connection, workspace: Workspace
) -> None:
    messages = [
        make_track(messageId="ok-1"),
        make_track(userId=None),
        make_track(event=None),
        make_group(groupId=None),
        make_alias(drop=("previousId",)),
        make_track(messageId="ok-2", timestamp="tomorrow"),
        make_page(messageId="ok-3"),
    ]
    result = ingest(conn, workspace, *messages)
    assert result.accepted == 2
    assert result.rejected == (
        (1, "message 1: needs 'userId' or 'anonymousId'"),
        (2, "message 2: track needs 'event'"),
        (3, "message 3: group needs 'groupId'"),
        (4, "message 4: alias needs 'previousId'"),
        (5, "message 5: 'timestamp': not an ISO-8601 instant: 'tomorrow'"),
    )
    assert [e["message_id"] for e in stored_events(conn, workspace)] == ["ok-1", "ok-3"]
    kept = sorted(list_rejected(conn, workspace.id), key=lambda r: r.id)
    assert [(r.source, r.position, r.reason) for r in kept] == [
        ("test", f"message {i}", reason) for i, reason in result.rejected
    ]
    assert [json.loads(r.payload) for r in kept] == messages[1:6]


def test_a_new_identified_person_is_a_lead_with_history(
    conn: sa.Connection, workspace: Workspace
) -> None:
    ingest(
        conn,
        workspace,
        make_identify(
            timestamp="2026-04-20T09:30:00Z",
            traits={
                "email": "Ada@Example.COM",
                "firstName": "Ada",
                "title": "VP Engineering",
                "company": {"name": "Initech", "employee_count": 120},
                "phone": None,
                "plan_interest": "team",
            },
        ),
    )
    person = find_person(conn, workspace.id, "u1")
    at = datetime(2026, 4, 20, 9, 30, tzinfo=UTC)
    assert (person.email, person.email_domain) == ("ada@example.com", "example.com")
    assert person.traits == {
        "email": "Ada@Example.COM",
        "firstName": "Ada",
        "title": "VP Engineering",
        "company": {"name": "Initech", "employee_count": 120},
        "plan_interest": "team",
    }
    assert (person.stage, person.stage_changed_at, person.created_at) == ("lead", at, at)
    history = person_history(conn, workspace.id, person.id)
    assert [(h.from_stage, h.to_stage, h.at, h.cause) for h in history] == [
        (None, "lead", at, "fact:created")
    ]


def test_explicit_null_traits_remove_nothing(conn: sa.Connection, workspace: Workspace) -> None:
    ingest(conn, workspace, make_identify(traits={"title": "CTO", "country": "DE"}))
    ingest(conn, workspace, make_identify(traits={"title": None, "country": "FR", "seats": 3}))
    assert find_person(conn, workspace.id, "u1").traits == {
        "title": "CTO",
        "country": "FR",
        "seats": 3,
    }


def test_an_anonymous_visitor_is_a_subscriber_known_by_the_anonymous_id(
    conn: sa.Connection, workspace: Workspace
) -> None:
    result = ingest(conn, workspace, make_page(userId=None, anonymousId="anon-1"))
    (person_id,) = result.touched
    person = get_person(conn, workspace.id, person_id)
    assert (person.user_id, person.email, person.stage) == (None, None, "subscriber")
    assert conn.execute(sa.select(identities.c.anonymous_id, identities.c.person_id)).all() == [
        ("anon-1", person_id)
    ]
    again = ingest(conn, workspace, make_track(userId=None, anonymousId="anon-1"))
    assert again.touched == {person_id}
    assert count(conn, people) == 1


def test_identifying_an_anonymous_visitor_adopts_them(
    conn: sa.Connection, workspace: Workspace
) -> None:
    visit = ingest(
        conn,
        workspace,
        make_page(userId=None, anonymousId="anon-1", timestamp="2026-04-28T08:00:00Z"),
    )
    (visitor,) = visit.touched
    signup = ingest(conn, workspace, make_identify(anonymousId="anon-1", userId="u1"))
    assert signup.touched == {visitor}
    assert signup.merged == ()
    person = get_person(conn, workspace.id, visitor)
    assert (person.user_id, person.email, person.stage) == ("u1", "ada@example.com", "lead")
    history = person_history(conn, workspace.id, visitor)
    assert [(h.from_stage, h.to_stage, h.cause) for h in history] == [
        (None, "subscriber", "fact:created"),
        ("subscriber", "lead", "fact:identified"),
    ]
    assert {e["person_id"] for e in stored_events(conn, workspace)} == {visitor}


def test_an_anonymous_visitor_of_a_known_user_is_merged_into_them(
    conn: sa.Connection, workspace: Workspace
) -> None:
    known = make_person(conn, workspace.id, user_id="u1", title="CTO")
    visit = ingest(conn, workspace, make_page(userId=None, anonymousId="anon-1"))
    (visitor,) = visit.touched
    ingest(
        conn,
        workspace,
        make_identify(
            userId=None, anonymousId="anon-1", traits={"country": "DE", "title": "Intern"}
        ),
    )
    login = ingest(
        conn, workspace, make_track(userId="u1", anonymousId="anon-1", event="Signed In")
    )
    assert login.merged == ((visitor, known),)
    assert login.touched == {known}
    assert {e["person_id"] for e in stored_events(conn, workspace)} == {known}
    assert conn.execute(sa.select(people.c.id)).scalars().all() == [known]
    assert conn.execute(sa.select(identities.c.anonymous_id, identities.c.person_id)).all() == [
        ("anon-1", known)
    ]
    # The known person's own values win; the visitor's fill the gaps.
    assert get_person(conn, workspace.id, known).traits == {"title": "CTO", "country": "DE"}


def test_an_anonymous_id_of_another_known_user_stays_theirs(
    conn: sa.Connection, workspace: Workspace
) -> None:
    ingest(conn, workspace, make_track(userId="u1", anonymousId="device-1"))
    result = ingest(conn, workspace, make_track(userId="u2", anonymousId="device-1"))
    assert result.merged == ()
    u1 = find_person(conn, workspace.id, "u1")
    u2 = find_person(conn, workspace.id, "u2")
    assert u1.id != u2.id
    assert conn.execute(sa.select(identities.c.person_id)).scalars().all() == [u1.id]


def test_alias_merges_the_previous_id_into_the_user(
    conn: sa.Connection, workspace: Workspace
) -> None:
    known = make_person(conn, workspace.id, user_id="u1")
    visit = ingest(conn, workspace, make_page(userId=None, anonymousId="anon-1"))
    (visitor,) = visit.touched
    result = ingest(conn, workspace, make_alias(previousId="anon-1", userId="u1"))
    assert result.merged == ((visitor, known),)
    assert {e["person_id"] for e in stored_events(conn, workspace)} == {known}
    later = ingest(conn, workspace, make_track(userId=None, anonymousId="anon-1"))
    assert later.touched == {known}


def test_alias_of_a_former_user_id_renames_the_person(
    conn: sa.Connection, workspace: Workspace
) -> None:
    person_id = make_person(conn, workspace.id, user_id="trial-77", title="CTO")
    result = ingest(conn, workspace, make_alias(previousId="trial-77", userId="ada@initech"))
    assert result.touched == {person_id}
    assert get_person(conn, workspace.id, person_id).user_id == "ada@initech"
    # The former user id still reaches the same person.
    later = ingest(conn, workspace, make_track(userId="trial-77"))
    assert later.touched == {person_id}
    assert count(conn, people) == 1


def test_alias_to_a_new_user_id_links_an_unknown_previous_id(
    conn: sa.Connection, workspace: Workspace
) -> None:
    result = ingest(conn, workspace, make_alias(previousId="anon-9", userId="u9"))
    (person_id,) = result.touched
    assert get_person(conn, workspace.id, person_id).stage == "lead"
    later = ingest(conn, workspace, make_page(userId=None, anonymousId="anon-9"))
    assert later.touched == {person_id}


def test_identify_finds_a_person_known_only_by_email(
    conn: sa.Connection, workspace: Workspace, tmp_path: Any
) -> None:
    from winnow.ingest import import_rows

    csv = tmp_path / "leads.csv"
    csv.write_text("Email,Job Title\nada@example.com,CTO\n", encoding="utf-8")
    imported = import_rows(conn, workspace.id, "people", csv, received_at=RECEIVED)
    (crm_person,) = imported.touched
    result = ingest(
        conn, workspace, make_identify(userId="u1", traits={"email": "ADA@example.com"})
    )
    assert result.touched == {crm_person}
    person = get_person(conn, workspace.id, crm_person)
    assert (person.user_id, person.traits["title"]) == ("u1", "CTO")


def test_merges_within_one_call_follow_the_message_order(
    conn: sa.Connection, workspace: Workspace
) -> None:
    result = ingest(
        conn,
        workspace,
        make_identify(userId="u1", traits={"title": "CTO"}),
        make_page(userId=None, anonymousId="anon-1", messageId="p-1"),
        make_track(userId="u1", anonymousId="anon-1", messageId="t-1"),
        make_page(userId=None, anonymousId="anon-1", messageId="p-2"),
    )
    u1 = find_person(conn, workspace.id, "u1")
    assert result.merged == ()  # the visitor joined u1 before it was ever stored
    assert result.touched == {u1.id}
    assert {e["person_id"] for e in stored_events(conn, workspace)} == {u1.id}
    assert count(conn, people) == 1


def test_group_creates_the_account_and_links_the_person(
    conn: sa.Connection, workspace: Workspace
) -> None:
    ingest(conn, workspace, make_group(timestamp="2026-04-02T10:00:00Z"))
    account = find_account(conn, workspace.id, "acct-1")
    assert (account.name, account.domain, account.plan) == ("Initech", "initech.com", "trial")
    assert account.traits == {
        "website": "https://www.initech.com",
        "industry": "Software",
        "employees": 120,
    }
    assert account.created_at == datetime(2026, 4, 2, 10, 0, tzinfo=UTC)
    assert find_person(conn, workspace.id, "u1").account_id == account.id
    ingest(
        conn,
        workspace,
        make_group(traits={"plan": "paid", "employees": 140, "mrr": 990.5, "name": None}),
    )
    account = find_account(conn, workspace.id, "acct-1")
    assert (account.name, account.plan) == ("Initech", "paid")
    assert (account.traits["employees"], account.traits["mrr"]) == (140, 990.5)
    (employees,) = conn.execute(
        sa.select(accounts.c.traits["employees"].as_integer()).where(accounts.c.id == account.id)
    ).scalars()
    assert employees == 140  # a JSON number in the store, as the spec's comparisons need


def test_context_group_id_links_any_message_to_its_account(
    conn: sa.Connection, workspace: Workspace
) -> None:
    ingest(conn, workspace, make_track(userId="u2", context={"groupId": "acct-7"}))
    account = find_account(conn, workspace.id, "acct-7")
    assert (account.name, account.traits) == (None, {})
    assert find_person(conn, workspace.id, "u2").account_id == account.id
    ingest(conn, workspace, make_group(userId="u3", groupId="acct-7", traits={"name": "Globex"}))
    assert find_account(conn, workspace.id, "acct-7").name == "Globex"
    assert count(conn, accounts) == 1


def test_a_batch_body_applies_its_context_and_sent_at(
    conn: sa.Connection, workspace: Workspace
) -> None:
    body = make_batch(
        make_track(messageId="b-1", timestamp="2026-05-01T11:58:00Z", context=None),
        make_track(messageId="b-2", event=None),
        context={"groupId": "acct-3", "library": {"name": "analytics-python"}},
        sentAt="2026-05-01T11:59:00Z",
    )
    result = ingest_batch(conn, workspace.id, body, received_at=RECEIVED, source="api")
    assert (result.accepted, result.rejected) == (1, ((1, "message 1: track needs 'event'"),))
    (event,) = stored_events(conn, workspace)
    assert event["timestamp"] == datetime(2026, 5, 1, 11, 59)  # 12:00 - (11:59 - 11:58)
    assert event["context"]["groupId"] == "acct-3"
    assert (
        find_person(conn, workspace.id, "u1").account_id
        == find_account(conn, workspace.id, "acct-3").id
    )
    (kept,) = list_rejected(conn, workspace.id, source="api")
    assert json.loads(kept.payload) == body["batch"][1]


def test_a_body_that_is_not_a_batch_raises(conn: sa.Connection, workspace: Workspace) -> None:
    with pytest.raises(InvalidMessage):
        ingest_batch(conn, workspace.id, [make_track()], received_at=RECEIVED, source="api")
