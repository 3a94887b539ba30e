"""Dashboard users: hashed passwords, sessions that expire, and clear refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from tests.factories import CREATED

from winnow.store.schema import sessions, users
from winnow.store.users import (
    SESSION_DAYS,
    UserError,
    check_password,
    create_user,
    hash_password,
    session_of,
    sign_in,
    sign_out,
)
from winnow.store.workspaces import Workspace

PASSWORD = "correct horse battery"


def test_passwords_are_salted_hashes_that_check(conn: sa.Connection, workspace: Workspace) -> None:
    create_user(conn, workspace.id, email=" Ana@Acme.example ", password=PASSWORD, role="admin",
                now=CREATED)  # fmt: skip
    stored = conn.execute(sa.select(users.c.email, users.c.password_hash)).one()
    assert stored.email == "ana@acme.example"
    assert PASSWORD not in stored.password_hash and stored.password_hash.startswith("scrypt$")
    assert hash_password(PASSWORD) != hash_password(PASSWORD)  # salted
    assert check_password(PASSWORD, stored.password_hash)
    assert not check_password("correct horse battery!", stored.password_hash)
    assert not check_password(PASSWORD, "garbage")


def test_a_session_lasts_its_days_and_ends_when_signed_out(
    conn: sa.Connection, workspace: Workspace
) -> None:
    create_user(conn, workspace.id, email="ana@acme.example", password=PASSWORD, role="member",
                now=CREATED)  # fmt: skip
    assert sign_in(conn, "ana@acme.example", "wrong password", now=CREATED) is None
    assert sign_in(conn, "nobody@acme.example", PASSWORD, now=CREATED) is None
    found = sign_in(conn, "ANA@acme.example", PASSWORD, now=CREATED)
    assert found is not None
    session, token = found
    assert (session.user.role, session.user.may("member"), session.user.may("admin")) == (
        "member", True, False,
    )  # fmt: skip
    # Only a hash of the token is kept.
    assert token not in conn.execute(sa.select(sessions.c.token_hash)).scalar_one()
    later = CREATED + timedelta(days=SESSION_DAYS) - timedelta(seconds=1)
    assert session_of(conn, token, now=later) == session
    assert session_of(conn, token, now=CREATED + timedelta(days=SESSION_DAYS)) is None
    assert session_of(conn, "forged", now=CREATED) is None
    sign_out(conn, token)
    assert session_of(conn, token, now=CREATED) is None


@pytest.mark.parametrize(
    ("email", "password", "role", "message"),
    [
        ("not-an-email", PASSWORD, "admin", "not an email address: 'not-an-email'"),
        ("ana@acme.example", "short", "admin", "a password needs at least 10 characters"),
        (
            "ana@acme.example",
            PASSWORD,
            "owner",
            "a user's role is admin, member, read, not 'owner'",
        ),
    ],
)
def test_bad_users_are_refused_with_why(
    conn: sa.Connection, workspace: Workspace, email: str, password: str, role: str, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        create_user(conn, workspace.id, email=email, password=password, role=role, now=CREATED)


def test_an_email_signs_in_to_one_account_only(conn: sa.Connection, workspace: Workspace) -> None:
    create_user(conn, workspace.id, email="ana@acme.example", password=PASSWORD, role="read",
                now=CREATED)  # fmt: skip
    with pytest.raises(UserError, match="a user ana@acme.example exists already"):
        create_user(conn, workspace.id, email="ana@acme.example", password=PASSWORD,
                    role="read", now=CREATED)  # fmt: skip
