"""/api/v1/keys: admins list, create (the token is shown once) and revoke keys."""

from __future__ import annotations

import httpx
from tests.factories import make_track
from tests.server.conftest import Server
from tests.server.test_api_people import api, other_workspace_key, secret_key


def test_keys_are_listed_without_their_tokens(server: Server) -> None:
    answer = api(server).get("/keys")
    assert answer.status_code == 200
    keys = answer.json()
    assert [(k["kind"], k["role"], k["name"], k["revoked_at"]) for k in keys] == [
        ("write", None, "website", None),
        ("secret", "admin", "ops", None),
    ]
    assert keys[1]["prefix"] == server.secret_key[:16]
    assert all("token" not in k and "hash" not in k for k in keys)


def test_a_new_secret_key_works_at_once_with_its_role(server: Server) -> None:
    answer = api(server).post("/keys", json={"kind": "secret", "name": "crm sync", "role": "read"})
    assert answer.status_code == 201
    created = answer.json()
    assert (created["kind"], created["role"], created["name"]) == ("secret", "read", "crm sync")
    assert created["created_by"] == "key:ops" and created["token"].startswith("wn_secret_")
    assert created["prefix"] == created["token"][:16]
    reader = api(server, created["token"])
    assert reader.get("/people").status_code == 200
    assert reader.get("/keys").status_code == 403
    assert "token" not in api(server).get("/keys").json()[-1]


def test_a_new_write_key_sends_events(server: Server) -> None:
    answer = api(server).post("/keys", json={"kind": "write", "name": "mobile app"})
    assert answer.status_code == 201 and answer.json()["role"] is None
    token = answer.json()["token"]
    sent = httpx.post(f"{server.url}/v1/track", json=make_track(userId="ada"), auth=(token, ""))
    assert sent.status_code == 200
    # ...and nothing else.
    assert api(server, token).get("/people").status_code == 403


def test_a_revoked_key_stops_working(server: Server) -> None:
    created = api(server).post("/keys", json={"kind": "secret", "name": "temp", "role": "member"})
    token, key_id = created.json()["token"], created.json()["id"]
    assert api(server, token).get("/people").status_code == 200
    revoked = api(server).delete(f"/keys/{key_id}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] == "2026-05-01T12:00:00Z"
    answer = api(server, token).get("/people")
    assert answer.status_code == 401 and answer.json()["code"] == "invalid_key"


def test_bad_key_requests_are_400(server: Server) -> None:
    client = api(server)
    for body in (
        {"kind": "write", "name": "x", "role": "admin"},  # write keys have no role
        {"kind": "secret", "name": "x"},  # secret keys need one
        {"kind": "secret", "name": "x", "role": "owner"},
        {"kind": "secret", "name": "", "role": "read"},
        {"kind": "publishable", "name": "x"},
    ):
        answer = client.post("/keys", json=body)
        assert answer.status_code == 400, body
        assert answer.json()["code"] == "invalid_request"
    assert len(client.get("/keys").json()) == 2


def test_only_admins_manage_keys(server: Server) -> None:
    member = api(server, secret_key(server, "member"))
    assert member.get("/keys").status_code == 403
    assert member.post("/keys", json={"kind": "write", "name": "x"}).status_code == 403
    assert member.delete("/keys/1").status_code == 403


def test_another_workspace_cannot_see_or_revoke_these_keys(server: Server) -> None:
    other = api(server, other_workspace_key(server))
    ours = api(server).get("/keys").json()
    assert [k["name"] for k in other.get("/keys").json()] == ["admin-key"]
    answer = other.delete(f"/keys/{ours[1]['id']}")
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"
    assert api(server).get("/keys").status_code == 200  # still working
