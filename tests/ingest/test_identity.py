"""Identity resolution when another transaction gets there first, and within one call.

The races are staged on one connection: the "other transaction" writes its rows between
this call's reading and its flush, which is when a concurrent commit would show.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from tests.factories import RECEIVED, make_identify, make_page

from winnow.ingest import ingest_messages
from winnow.ingest.identity import Directory
from winnow.ingest.messages import Message, parse_message
from winnow.store import people as store
from winnow.store.history import person_history
from winnow.store.people import find_person, get_person
from winnow.store.schema import people
from winnow.store.workspaces import Workspace


def parse(raw: dict[str, Any]) -> Message:
    return parse_message(raw, received_at=RECEIVED)


def theirs(conn: sa.Connection, workspace: Workspace, **values: Any) -> int:
    """A person another transaction stored meanwhile."""
    person = store.Person(
        id=0,
        user_id=values.get("user_id"),
        email=None,
        email_domain=None,
        account_id=None,
        traits=values.get("traits", {}),
        stage="lead",
        stage_changed_at=RECEIVED,
        recycled_at=None,
        owner=None,
        created_at=RECEIVED,
    )
    [new_id] = store.insert_people(conn, workspace.id, [person], now=RECEIVED)
    assert new_id is not None
    return new_id


def test_a_user_created_meanwhile_absorbs_this_calls_copy(
    conn: sa.Connection, workspace: Workspace
) -> None:
    directory = Directory(conn=conn, workspace_id=workspace.id, received_at=RECEIVED)
    message = parse(make_identify(userId="u9", traits={"title": "CTO"}))
    directory.preload([message])
    ours = directory.resolve(message)
    directory.set_traits(ours, message.traits)
    other = theirs(conn, workspace, user_id="u9", traits={"country": "DE", "title": "Intern"})
    directory.flush()
    assert directory.touched() == {other}
    assert directory.alive(ours.id) == other
    person = get_person(conn, workspace.id, other)
    assert person.traits == {"country": "DE", "title": "CTO"}  # this call's values on top
    assert person_history(conn, workspace.id, other) == []  # theirs keeps its own history
    assert conn.execute(sa.select(sa.func.count()).select_from(people)).scalar_one() == 1


def test_an_anonymous_id_linked_meanwhile_stays_theirs_and_our_visitor_joins_them(
    conn: sa.Connection, workspace: Workspace
) -> None:
    directory = Directory(conn=conn, workspace_id=workspace.id, received_at=RECEIVED)
    message = parse(make_page(userId=None, anonymousId="anon-5"))
    directory.preload([message])
    ours = directory.resolve(message)
    other = theirs(conn, workspace)
    store.link_identities(conn, workspace.id, {"anon-5": other})
    directory.flush()
    assert directory.touched() == {other}
    assert directory.alive(ours.id) == other
    assert conn.execute(sa.select(people.c.id)).scalars().all() == [other]
    assert store.identities_of(conn, workspace.id, ["anon-5"]) == {"anon-5": other}


def test_a_visitor_identified_in_the_same_call_is_stored_once_with_both_moves(
    conn: sa.Connection, workspace: Workspace
) -> None:
    result = ingest_messages(
        conn,
        workspace.id,
        [
            make_page(userId=None, anonymousId="anon-1", timestamp="2026-05-01T10:00:00Z"),
            make_identify(userId="u1", anonymousId="anon-1", timestamp="2026-05-01T10:05:00Z"),
        ],
        received_at=RECEIVED,
        source="test",
    )
    person = find_person(conn, workspace.id, "u1")
    assert result.touched == {person.id}
    assert result.merged == ()
    history = person_history(conn, workspace.id, person.id)
    assert [(h.from_stage, h.to_stage, h.cause, h.at.hour, h.at.minute) for h in history] == [
        (None, "subscriber", "fact:created", 10, 0),
        ("subscriber", "lead", "fact:identified", 10, 5),
    ]
    assert (person.stage, person.stage_changed_at) == ("lead", history[-1].at)
    assert store.identities_of(conn, workspace.id, ["anon-1"]) == {"anon-1": person.id}
