"""The REST API under /api/v1: people, accounts, the spec, keys and the rejected log.

Every route takes a secret key (Bearer) whose role covers it and sees only that key's
workspace: another workspace's objects are answered 404, as if they did not exist. Routes
are thin: they parse the request, call the library in one transaction and shape the
answer with the models of `models.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Path, Query, Request

from winnow.server.api.models import Error
from winnow.server.auth import role
from winnow.store.keys import ApiKey

PREFIX = "/api/v1"

ReadKey = Annotated[ApiKey, Depends(role("read"))]
MemberKey = Annotated[ApiKey, Depends(role("member"))]
AdminKey = Annotated[ApiKey, Depends(role("admin"))]

# Ids are 32-bit in the store; larger ones are refused (400), not looked up.
MAX_ID = 2**31 - 1
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]

# The error answers every route may give, for the OpenAPI document.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "Invalid parameters or body."},
    401: {"model": Error, "description": "No key, or an unknown or revoked one."},
    403: {"model": Error, "description": "The key's role does not cover this."},
    404: {"model": Error, "description": "Not found in this key's workspace."},
}


@contextmanager
def transaction(request: Request) -> Iterator[sa.Connection]:
    engine: sa.Engine = request.app.state.engine
    with engine.begin() as conn:
        yield conn


def now(request: Request) -> datetime:
    clock = request.app.state.clock
    value: datetime = clock()
    return value


def actor(key: ApiKey) -> str:
    return f"key:{key.name}"
