"""Event rows once per message id, and the rejected-message log."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from tests.factories import RECEIVED, make_person

from winnow.store.events import (
    Rejected,
    insert_events,
    insert_rejected,
    list_rejected,
    stored_message_ids,
)
from winnow.store.workspaces import Workspace


def event(workspace: Workspace, person_id: int, message_id: str) -> dict[str, object]:
    at = datetime(2026, 5, 1, 11, 0)
    return {
        "workspace_id": workspace.id,
        "message_id": message_id,
        "person_id": person_id,
        "type": "track",
        "name": "Signed In",
        "properties": {},
        "context": {},
        "timestamp": at,
        "received_at": at,
    }


def test_insert_events_skips_stored_message_ids(conn: sa.Connection, workspace: Workspace) -> None:
    person_id = make_person(conn, workspace.id)
    rows = [event(workspace, person_id, m) for m in ("a", "b")]
    assert insert_events(conn, rows) == {"a", "b"}
    more = [event(workspace, person_id, m) for m in ("b", "c", "c")]
    assert insert_events(conn, more) == {"c"}
    assert insert_events(conn, []) == set()
    assert stored_message_ids(conn, workspace.id, ["a", "c", "z"]) == {"a", "c"}


def test_rejected_messages_are_listed_newest_first(
    conn: sa.Connection, workspace: Workspace
) -> None:
    first = Rejected(
        source="api", position="message 0", reason="message 0: track needs 'event'", payload="{}"
    )
    second = Rejected(
        source="import:people.csv", position="line 3", reason="line 3: bad", payload="[]"
    )
    insert_rejected(conn, workspace.id, [first], received_at=RECEIVED)
    insert_rejected(conn, workspace.id, [second], received_at=RECEIVED + timedelta(minutes=1))
    listed = list_rejected(conn, workspace.id)
    assert [(r.source, r.position, r.reason, r.payload) for r in listed] == [
        ("import:people.csv", "line 3", "line 3: bad", "[]"),
        ("api", "message 0", "message 0: track needs 'event'", "{}"),
    ]
    assert listed[1].received_at == RECEIVED
    assert [r.source for r in list_rejected(conn, workspace.id, source="api")] == ["api"]
    assert len(list_rejected(conn, workspace.id, limit=1)) == 1
