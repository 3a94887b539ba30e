"""Workspaces: the tenants. Every other table hangs off one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from winnow.clock import from_db, to_db, utcnow
from winnow.store.schema import workspaces

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True, kw_only=True)
class Workspace:
    id: int
    slug: str
    name: str
    created_at: datetime


class WorkspaceNotFound(LookupError):
    pass


def create_workspace(
    conn: sa.Connection, slug: str, name: str | None = None, *, now: datetime | None = None
) -> Workspace:
    if not _SLUG.match(slug):
        raise ValueError(
            f"invalid workspace slug {slug!r}: use lowercase letters, digits and '-' (max 63)"
        )
    created = to_db(now or utcnow())
    new_id = conn.execute(
        workspaces.insert().values(slug=slug, name=name or slug, created_at=created)
    ).inserted_primary_key
    assert new_id is not None
    return get_workspace(conn, slug)


def get_workspace(conn: sa.Connection, slug: str) -> Workspace:
    row = conn.execute(sa.select(workspaces).where(workspaces.c.slug == slug)).mappings().first()
    if row is None:
        raise WorkspaceNotFound(f"no workspace named {slug!r}")
    return _workspace(row)


def get_workspace_by_id(conn: sa.Connection, workspace_id: int) -> Workspace:
    query = sa.select(workspaces).where(workspaces.c.id == workspace_id)
    row = conn.execute(query).mappings().first()
    if row is None:
        raise WorkspaceNotFound(f"no workspace with id {workspace_id}")
    return _workspace(row)


def get_or_create_workspace(conn: sa.Connection, slug: str) -> Workspace:
    try:
        return get_workspace(conn, slug)
    except WorkspaceNotFound:
        return create_workspace(conn, slug)


def list_workspaces(conn: sa.Connection) -> list[Workspace]:
    rows = conn.execute(sa.select(workspaces).order_by(workspaces.c.id)).mappings()
    return [_workspace(r) for r in rows]


def _workspace(row: sa.RowMapping) -> Workspace:
    return Workspace(
        id=row["id"], slug=row["slug"], name=row["name"], created_at=from_db(row["created_at"])
    )
