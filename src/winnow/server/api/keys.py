"""API keys: listing, creating (the token is shown once) and revoking."""

from __future__ import annotations

from fastapi import APIRouter, Request

from winnow.server.api import ERRORS, PREFIX, AdminKey, PathId, actor, now, transaction
from winnow.server.api.models import Key, KeyRequest, NewKey
from winnow.server.errors import ApiError
from winnow.store.keys import KeyNotFound, create_key, list_keys, revoke_key

router = APIRouter(prefix=f"{PREFIX}/keys", tags=["keys"], responses=ERRORS)


@router.get("")
def get_keys(key: AdminKey, request: Request) -> list[Key]:
    """Every key of the workspace, revoked ones included; never the tokens."""
    with transaction(request) as conn:
        keys = list_keys(conn, key.workspace_id)
    return [Key.model_validate(k) for k in keys]


@router.post("", status_code=201)
def post_key(body: KeyRequest, key: AdminKey, request: Request) -> NewKey:
    """Create a write key (ingestion) or a secret key with a role; the answer has the token."""
    with transaction(request) as conn:
        try:
            created, token = create_key(
                conn, key.workspace_id, kind=body.kind, name=body.name, role=body.role,
                by=actor(key), now=now(request),
            )  # fmt: skip
        except ValueError as exc:
            raise ApiError(400, "invalid_request", str(exc)) from None
    return NewKey.model_validate({**vars(created), "token": token})


@router.delete("/{key_id}")
def delete_key(key_id: PathId, key: AdminKey, request: Request) -> Key:
    """Revoke a key: it stops working at once. The revoked key is kept, and returned."""
    with transaction(request) as conn:
        try:
            revoked = revoke_key(conn, key.workspace_id, key_id, now=now(request))
        except KeyNotFound:
            raise ApiError(404, "not_found", f"no key {key_id} in this workspace") from None
    return Key.model_validate(revoked)
