"""Who is calling: write keys for ingestion, secret keys (Bearer) for the REST API.

Segment's client sends its write key as the Basic-auth user name (and, before 2.4, only
as `writeKey` in the body); Rudder's only as the Basic-auth user name. Both are read.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request, Security
from fastapi.openapi.models import HTTPBase, HTTPBearer
from fastapi.security.base import SecurityBase

from winnow.server.errors import ApiError
from winnow.store.keys import ApiKey, authenticate


class Declared(SecurityBase):
    """A security scheme for the OpenAPI document only; the functions below read the keys,
    so that every failure is answered in Winnow's error format."""

    def __init__(self, name: str, model: HTTPBase) -> None:
        self.scheme_name = name
        self.model = model

    async def __call__(self, request: Request) -> None:
        return None


write_key_scheme = Declared(
    "writeKey",
    HTTPBase(
        scheme="basic",
        description="A write key as the Basic-auth user name (or `writeKey` in the body).",
    ),
)
secret_key_scheme = Declared(
    "secretKey",
    HTTPBearer(description="A secret API key: `Authorization: Bearer wn_secret_...`."),
)


def basic_user(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(401, "invalid_key", "the Basic authorization header is malformed") from None
    return decoded.partition(":")[0] or None


def write_key(engine: sa.Engine, token: str | None) -> ApiKey:
    """The write key a request carries; 401 when missing, unknown, revoked or not a write key."""
    if not token:
        raise ApiError(
            401,
            "missing_key",
            "send your write key as the Basic-auth user name or as writeKey in the body",
        )
    with engine.connect() as conn:
        key = authenticate(conn, token)
    if key is None:
        raise ApiError(401, "invalid_key", "unknown or revoked write key")
    if key.kind != "write":
        raise ApiError(401, "invalid_key", "this is a secret key; /v1 takes a write key")
    return key


def secret_key(request: Request, declared: Annotated[None, Security(secret_key_scheme)]) -> ApiKey:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "missing_key",
            "send a secret API key as 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    engine: sa.Engine = request.app.state.engine
    with engine.connect() as conn:
        key = authenticate(conn, token.strip())
    if key is None:
        raise ApiError(401, "invalid_key", "unknown or revoked API key")
    if key.kind != "secret":
        raise ApiError(403, "forbidden", "a write key can only send events to /v1")
    return key


def role(needed: str) -> Callable[..., Any]:
    """A dependency: the caller's secret key, if its role covers `needed`."""

    def check(key: Annotated[ApiKey, Depends(secret_key)]) -> ApiKey:
        if not key.may(needed):
            raise ApiError(403, "forbidden", f"this needs a key with the {needed} role or above")
        return key

    return check
