"""Dashboard users and their sessions.

Passwords are kept as salted scrypt hashes (the standard library's `hashlib.scrypt`:
memory-hard, so a stolen table is slow to attack), compared in constant time. A session
is a random token in an HttpOnly cookie; the store keeps only its SHA-256, so a copy of
the table opens no session. Each session has its own CSRF token, which every form and
htmx request must echo. Sessions expire after `SESSION_DAYS`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from winnow.clock import from_db, to_db
from winnow.store.keys import ROLES
from winnow.store.schema import sessions, users

SESSION_DAYS = 14
MIN_PASSWORD = 10
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class UserError(ValueError):
    """A user that cannot be created as asked, with why."""


@dataclass(frozen=True, kw_only=True)
class User:
    id: int
    workspace_id: int
    email: str
    name: str | None
    role: str
    language: str | None
    created_at: datetime

    def may(self, needed: str) -> bool:
        return ROLES.index(self.role) <= ROLES.index(needed)


@dataclass(frozen=True, kw_only=True)
class Session:
    user: User
    csrf: str
    expires_at: datetime


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    encoded = [base64.b64encode(v).decode() for v in (salt, digest)]
    return "scrypt$" + "$".join(str(_SCRYPT[k]) for k in ("n", "r", "p")) + "$" + "$".join(encoded)


def check_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        found = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(expected),
        )  # fmt: skip
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(found, expected)


def _user(row: sa.RowMapping) -> User:
    return User(
        id=row["id"],
        workspace_id=row["workspace_id"],
        email=row["email"],
        name=row["name"],
        role=row["role"],
        language=row["language"],
        created_at=from_db(row["created_at"]),
    )


def create_user(
    conn: sa.Connection,
    workspace_id: int,
    *,
    email: str,
    password: str,
    role: str,
    now: datetime,
    name: str | None = None,
) -> User:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise UserError(f"not an email address: {email!r}")
    if role not in ROLES:
        raise UserError(f"a user's role is {', '.join(ROLES)}, not {role!r}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
    if conn.execute(sa.select(users.c.id).where(users.c.email == email)).first():
        raise UserError(f"a user {email} exists already")
    conn.execute(
        users.insert().values(
            workspace_id=workspace_id,
            email=email,
            name=name,
            role=role,
            password_hash=hash_password(password),
            created_at=to_db(now),
        )
    )
    row = conn.execute(sa.select(users).where(users.c.email == email)).mappings().one()
    return _user(row)


def list_users(conn: sa.Connection, workspace_id: int) -> list[User]:
    query = sa.select(users).where(users.c.workspace_id == workspace_id).order_by(users.c.id)
    return [_user(r) for r in conn.execute(query).mappings()]


def sign_in(
    conn: sa.Connection, email: str, password: str, *, now: datetime
) -> tuple[Session, str] | None:
    """A new session and its cookie token, or None when the email or password is wrong."""
    row = (
        conn.execute(
            sa.select(users).where(
                users.c.email == email.strip().lower(), users.c.disabled_at.is_(None)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        # The same work as a real check, so timing does not tell which emails exist.
        check_password(password, hash_password("not the password"))
        return None
    if not check_password(password, row["password_hash"]):
        return None
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = now + timedelta(days=SESSION_DAYS)
    conn.execute(
        sessions.insert().values(
            user_id=row["id"],
            token_hash=_digest(token),
            csrf=csrf,
            created_at=to_db(now),
            expires_at=to_db(expires),
        )
    )
    return Session(user=_user(row), csrf=csrf, expires_at=expires), token


def session_of(conn: sa.Connection, token: str | None, *, now: datetime) -> Session | None:
    if not token:
        return None
    row = (
        conn.execute(
            sa.select(users, sessions.c.csrf, sessions.c.expires_at)
            .join(sessions, sessions.c.user_id == users.c.id)
            .where(
                sessions.c.token_hash == _digest(token),
                sessions.c.expires_at > to_db(now),
                users.c.disabled_at.is_(None),
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return Session(user=_user(row), csrf=row["csrf"], expires_at=from_db(row["expires_at"]))


def sign_out(conn: sa.Connection, token: str) -> None:
    conn.execute(sessions.delete().where(sessions.c.token_hash == _digest(token)))


def set_language(conn: sa.Connection, user_id: int, language: str) -> None:
    conn.execute(users.update().where(users.c.id == user_id).values(language=language))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
