"""API keys: write keys (ingestion only) and secret keys with a role, stored hashed.

A key is `wn_<kind>_<random>`; its first characters are kept as `prefix` (shown in
lists, used to find the row) and the whole key only as a SHA-256 hash. The keys are 32
random bytes, so a fast hash is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from winnow.clock import from_db, to_db, utcnow
from winnow.store.schema import api_keys

KINDS = ("write", "secret")
# admin: everything, keys and spec included; member: read and move leads; read: read only.
ROLES = ("admin", "member", "read")
_PREFIX_LENGTH = 16


@dataclass(frozen=True, kw_only=True)
class ApiKey:
    id: int
    workspace_id: int
    kind: str
    role: str | None
    name: str
    prefix: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None

    def may(self, needed: str) -> bool:
        """Whether a secret key's role covers `needed` (read < member < admin)."""
        if self.kind != "secret" or self.role is None:
            return False
        return ROLES.index(self.role) <= ROLES.index(needed)


class KeyNotFound(LookupError):
    pass


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(
    conn: sa.Connection,
    workspace_id: int,
    *,
    kind: str,
    name: str,
    by: str,
    role: str | None = None,
    now: datetime | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its token; the token is shown once and never stored."""
    if kind not in KINDS:
        raise ValueError(f"a key's kind is write or secret, not {kind!r}")
    if kind == "secret" and role not in ROLES:
        raise ValueError(f"a secret key needs a role: {', '.join(ROLES)} (got {role!r})")
    if kind == "write" and role is not None:
        raise ValueError("a write key has no role: it can only send events")
    if not name.strip():
        raise ValueError("a key needs a name, e.g. the source that will use it")
    token = f"wn_{kind}_{secrets.token_urlsafe(32)}"
    key_id = conn.execute(
        api_keys.insert().values(
            workspace_id=workspace_id,
            kind=kind,
            role=role,
            name=name.strip(),
            prefix=token[:_PREFIX_LENGTH],
            hash=_digest(token),
            created_at=to_db(now or utcnow()),
            created_by=by,
        )
    ).inserted_primary_key
    assert key_id is not None
    return get_key(conn, workspace_id, int(key_id[0])), token


def authenticate(conn: sa.Connection, token: str) -> ApiKey | None:
    """The live key this token is, or None."""
    row = (
        conn.execute(sa.select(api_keys).where(api_keys.c.prefix == token[:_PREFIX_LENGTH]))
        .mappings()
        .first()
    )
    if row is None or row["revoked_at"] is not None:
        return None
    if not hmac.compare_digest(row["hash"], _digest(token)):
        return None
    return _key(row)


def get_key(conn: sa.Connection, workspace_id: int, key_id: int) -> ApiKey:
    row = (
        conn.execute(
            sa.select(api_keys).where(
                api_keys.c.workspace_id == workspace_id, api_keys.c.id == key_id
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise KeyNotFound(f"no key {key_id} in this workspace")
    return _key(row)


def list_keys(conn: sa.Connection, workspace_id: int) -> list[ApiKey]:
    rows = conn.execute(
        sa.select(api_keys).where(api_keys.c.workspace_id == workspace_id).order_by(api_keys.c.id)
    ).mappings()
    return [_key(r) for r in rows]


def revoke_key(
    conn: sa.Connection, workspace_id: int, key_id: int, *, now: datetime | None = None
) -> ApiKey:
    key = get_key(conn, workspace_id, key_id)
    if key.revoked_at is None:
        conn.execute(
            api_keys.update()
            .where(api_keys.c.id == key_id)
            .values(revoked_at=to_db(now or utcnow()))
        )
    return get_key(conn, workspace_id, key_id)


def _key(row: sa.RowMapping) -> ApiKey:
    return ApiKey(
        id=row["id"],
        workspace_id=row["workspace_id"],
        kind=row["kind"],
        role=row["role"],
        name=row["name"],
        prefix=row["prefix"],
        created_at=from_db(row["created_at"]),
        created_by=row["created_by"],
        revoked_at=None if row["revoked_at"] is None else from_db(row["revoked_at"]),
    )
