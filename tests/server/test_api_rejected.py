"""/api/v1/rejected: the messages that could not be accepted, newest first, paginated."""

from __future__ import annotations

import json
from typing import Any

import httpx
from tests.factories import make_batch, make_track
from tests.server.conftest import Server
from tests.server.test_api_people import api, other_workspace_key, secret_key


def send_bad(server: Server, count: int) -> list[dict[str, Any]]:
    """`count` tracks without an event name, all refused."""
    bad = [make_track(userId="ada", drop=("event",), properties={"n": n}) for n in range(count)]
    answer = httpx.post(f"{server.url}/v1/batch", json=make_batch(*bad, writeKey=server.write_key))
    assert len(answer.json()["rejected"]) == count
    return bad


def test_rejected_messages_are_kept_verbatim_with_why(server: Server) -> None:
    [bad] = send_bad(server, 1)
    answer = api(server, secret_key(server, "read")).get("/rejected")
    assert answer.status_code == 200
    [kept] = answer.json()["data"]
    assert answer.json()["next_cursor"] is None
    assert kept["source"] == f"http:{server.write_key[:16]}"
    assert kept["received_at"] == "2026-05-01T12:00:00Z"
    assert kept["position"] == "message 0" and "event" in kept["reason"]
    assert json.loads(kept["payload"]) == bad


def test_pages_walk_every_rejected_message_once_newest_first(server: Server) -> None:
    send_bad(server, 5)
    client = api(server)
    everyone = client.get("/rejected").json()["data"]
    assert [r["id"] for r in everyone] == sorted((r["id"] for r in everyone), reverse=True)
    walked: list[int] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = client.get("/rejected", params=params).json()
        assert len(page["data"]) <= 2
        walked += [r["id"] for r in page["data"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert walked == [r["id"] for r in everyone] and len(set(walked)) == 5
    assert client.get("/rejected", params={"source": "import:x.csv"}).json()["data"] == []


def test_another_workspace_sees_none_of_them(server: Server) -> None:
    send_bad(server, 3)
    ours = api(server).get("/rejected", params={"limit": 1}).json()
    other = api(server, other_workspace_key(server))
    assert other.get("/rejected").json() == {"data": [], "next_cursor": None}
    # Nor can it page on from a message of ours.
    answer = other.get("/rejected", params={"cursor": ours["next_cursor"]})
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_cursor"
    assert api(server).get("/rejected", params={"cursor": "x"}).status_code == 400
