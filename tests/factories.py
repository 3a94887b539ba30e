"""Factories: Segment-style messages and stored people, with overridable defaults.

Messages are plain dicts, exactly as a client puts them on the wire; pass a field as
None to send an explicit null, or `drop=("field", ...)` to leave it out.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

CREATED = datetime(2026, 4, 1, tzinfo=UTC)
# When the server receives the default messages; they happened an hour earlier.
RECEIVED = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
TIMESTAMP = "2026-05-01T11:00:00.000Z"

_ids = itertools.count(1)


def _message(kind: str, fields: dict[str, Any], drop: Iterable[str]) -> dict[str, Any]:
    message = {
        "type": kind,
        "messageId": f"msg-{next(_ids)}",
        "userId": "u1",
        "anonymousId": None,
        "timestamp": TIMESTAMP,
        "context": {"library": {"name": "analytics-python", "version": "2.4.0"}},
        "integrations": {},
    }
    message.update(fields)
    for name in drop:
        message.pop(name, None)
    return message


def make_track(*, drop: Iterable[str] = (), **fields: Any) -> dict[str, Any]:
    return _message("track", {"event": "Webinar Attended", "properties": {}, **fields}, drop)


def make_identify(*, drop: Iterable[str] = (), **fields: Any) -> dict[str, Any]:
    traits = {"email": "ada@example.com", "firstName": "Ada", "title": "VP Engineering"}
    return _message("identify", {"traits": traits, **fields}, drop)


def make_page(*, drop: Iterable[str] = (), **fields: Any) -> dict[str, Any]:
    return _message("page", {"name": "Pricing", "properties": {"path": "/pricing"}, **fields}, drop)


def make_screen(*, drop: Iterable[str] = (), **fields: Any) -> dict[str, Any]:
    return _message("screen", {"name": "Dashboard", "properties": {}, **fields}, drop)


def make_group(*, drop: Iterable[str] = (), **fields: Any) -> dict[str, Any]:
    traits = {
        "name": "Initech",
        "website": "https://www.initech.com",
        "plan": "trial",
        "industry": "Software",
        "employees": 120,
    }
    return _message("group", {"groupId": "acct-1", "traits": traits, **fields}, drop)


def make_alias(*, drop: Iterable[str] = (), **fields: Any) -> dict[str, Any]:
    return _message("alias", {"previousId": "anon-1", **fields}, drop)


def make_batch(*items: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"batch": list(items), "writeKey": "WK_TEST", **fields}


def make_person(
    conn: sa.Connection,
    workspace_id: int,
    *,
    user_id: str = "u1",
    received_at: datetime = RECEIVED,
    **traits: Any,
) -> int:
    """A stored, identified person (through ingestion, like real ones); returns the id."""
    from winnow.ingest import ingest_messages

    result = ingest_messages(
        conn,
        workspace_id,
        [make_identify(userId=user_id, traits=traits)],
        received_at=received_at,
        source="test",
    )
    (person_id,) = result.touched
    return person_id
