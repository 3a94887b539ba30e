"""Person and account look-ups, scoped to a workspace."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from tests.factories import RECEIVED, make_group, make_identify, make_person

from winnow.ingest import ingest_messages
from winnow.store.people import (
    AccountNotFound,
    PersonNotFound,
    find_account,
    find_person,
    get_account,
    get_person,
    group_ids_by_name,
)
from winnow.store.workspaces import Workspace, create_workspace


def test_get_person_returns_the_whole_person(conn: sa.Connection, workspace: Workspace) -> None:
    person_id = make_person(conn, workspace.id, user_id="u1", email="Ada@Initech.com", title="CTO")
    person = get_person(conn, workspace.id, person_id)
    at = datetime(2026, 5, 1, 11, 0, tzinfo=UTC)  # the factory's message time
    assert person.id == person_id
    assert (person.user_id, person.email, person.email_domain) == (
        "u1",
        "ada@initech.com",
        "initech.com",
    )
    assert person.traits == {"email": "Ada@Initech.com", "title": "CTO"}
    assert (person.stage, person.stage_changed_at, person.created_at) == ("lead", at, at)
    assert (person.account_id, person.recycled_at, person.owner) == (None, None, None)


def test_find_person_by_id_user_id_or_email(conn: sa.Connection, workspace: Workspace) -> None:
    person_id = make_person(conn, workspace.id, user_id="u1", email="ada@initech.com")
    assert find_person(conn, workspace.id, person_id).id == person_id
    assert find_person(conn, workspace.id, str(person_id)).id == person_id
    assert find_person(conn, workspace.id, "u1").id == person_id
    assert find_person(conn, workspace.id, " ADA@initech.com ").id == person_id
    with pytest.raises(PersonNotFound, match="no person with id, user id or email 'u2'"):
        find_person(conn, workspace.id, "u2")


def test_a_numeric_user_id_is_found_when_no_person_has_that_internal_id(
    conn: sa.Connection, workspace: Workspace
) -> None:
    person_id = make_person(conn, workspace.id, user_id="4242")
    assert find_person(conn, workspace.id, "4242").id == person_id


def test_people_of_another_workspace_are_not_found(
    conn: sa.Connection, workspace: Workspace
) -> None:
    other = create_workspace(conn, "globex", now=RECEIVED)
    person_id = make_person(conn, other.id, user_id="u1", email="ada@globex.com")
    with pytest.raises(PersonNotFound):
        get_person(conn, workspace.id, person_id)
    with pytest.raises(PersonNotFound):
        find_person(conn, workspace.id, "ada@globex.com")


def test_get_and_find_account(conn: sa.Connection, workspace: Workspace) -> None:
    ingest_messages(
        conn,
        workspace.id,
        [make_identify(), make_group(groupId="acct-1")],
        received_at=RECEIVED,
        source="test",
    )
    account = find_account(conn, workspace.id, "acct-1")
    assert get_account(conn, workspace.id, account.id) == account
    assert find_account(conn, workspace.id, str(account.id)) == account
    assert (account.group_id, account.name, account.domain, account.plan) == (
        "acct-1",
        "Initech",
        "initech.com",
        "trial",
    )
    assert group_ids_by_name(conn, workspace.id, ["INITECH", "Globex"]) == {"initech": "acct-1"}
    with pytest.raises(AccountNotFound):
        get_account(conn, workspace.id, account.id + 1)
    with pytest.raises(AccountNotFound, match="no account with id or group id 'acct-2'"):
        find_account(conn, workspace.id, "acct-2")
