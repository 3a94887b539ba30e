"""Workspaces: the key's own, and new ones.

A key belongs to one workspace and sees only it, so creating a workspace answers with
the first admin key of the new one: the creator's key never reaches into it. Any admin
key on this server may create workspaces (a server is run by one organisation; its
tenants are its teams, brands or environments).
"""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request

from winnow.server.api import ERRORS, PREFIX, AdminKey, ReadKey, actor, now, transaction
from winnow.server.api.models import NewKey, NewWorkspace, Workspace, WorkspaceRequest
from winnow.server.errors import ApiError
from winnow.store.keys import create_key
from winnow.store.workspaces import create_workspace, get_workspace_by_id

router = APIRouter(prefix=PREFIX, tags=["workspaces"], responses=ERRORS)


@router.get("/workspace")
def get_own_workspace(key: ReadKey, request: Request) -> Workspace:
    """The workspace of the calling key."""
    with transaction(request) as conn:
        workspace = get_workspace_by_id(conn, key.workspace_id)
    return Workspace.model_validate(workspace)


@router.post(
    "/workspaces",
    status_code=201,
    responses={409: {"model": ERRORS[400]["model"], "description": "The slug is taken."}},
)
def post_workspace(body: WorkspaceRequest, key: AdminKey, request: Request) -> NewWorkspace:
    """Create a workspace; the answer carries its first admin key (the token, this once)."""
    at = now(request)
    try:
        with transaction(request) as conn:
            workspace = create_workspace(conn, body.slug, body.name, now=at)
            created, token = create_key(
                conn, workspace.id, kind="secret", role="admin", name="first admin",
                by=f"{actor(key)} (workspace {key.workspace_id})", now=at,
            )  # fmt: skip
    except sa.exc.IntegrityError:
        raise ApiError(409, "conflict", f"a workspace named {body.slug!r} exists") from None
    return NewWorkspace(
        workspace=Workspace.model_validate(workspace),
        key=NewKey.model_validate({**vars(created), "token": token}),
    )
