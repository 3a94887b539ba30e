"""/api/v1/workspace(s): a key's own workspace, and new ones with their first admin key."""

from __future__ import annotations

from tests.factories import make_identify
from tests.server.conftest import Server
from tests.server.test_api_people import api, secret_key, seed, send


def test_a_key_reads_its_own_workspace(server: Server) -> None:
    answer = api(server, secret_key(server, "read")).get("/workspace")
    assert answer.status_code == 200
    assert answer.json()["id"] == server.workspace_id


def test_a_new_workspace_comes_with_an_admin_key_and_nothing_else(server: Server) -> None:
    seed(server)
    answer = api(server).post("/workspaces", json={"slug": "emea", "name": "EMEA team"})
    assert answer.status_code == 201
    created = answer.json()
    assert (created["workspace"]["slug"], created["workspace"]["name"]) == ("emea", "EMEA team")
    assert created["workspace"]["created_at"] == "2026-05-01T12:00:00Z"
    key = created["key"]
    assert (key["kind"], key["role"], key["name"]) == ("secret", "admin", "first admin")
    assert key["created_by"] == f"key:ops (workspace {server.workspace_id})"

    emea = api(server, key["token"])
    assert emea.get("/workspace").json()["slug"] == "emea"
    assert emea.get("/people").json()["data"] == []
    # The new admin makes a write key; events sent with it land in the new workspace only.
    write = emea.post("/keys", json={"kind": "write", "name": "site"}).json()["token"]
    before = api(server).get("/people").json()["data"]
    send(server, make_identify(userId="zoe"), token=write)
    assert [p["user_id"] for p in emea.get("/people").json()["data"]] == ["zoe"]
    assert api(server).get("/people").json()["data"] == before


def test_creating_workspaces_needs_an_admin_key_and_a_free_valid_slug(server: Server) -> None:
    member = api(server, secret_key(server, "member"))
    assert member.post("/workspaces", json={"slug": "apac"}).status_code == 403
    first = api(server).post("/workspaces", json={"slug": "apac"})
    assert first.status_code == 201 and first.json()["workspace"]["name"] == "apac"
    again = api(server).post("/workspaces", json={"slug": "apac"})
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    assert "apac" in again.json()["message"]
    for bad in ({"slug": "Has Spaces"}, {"slug": ""}, {"name": "no slug"}):
        answer = api(server).post("/workspaces", json=bad)
        assert answer.status_code == 400, bad
        assert "slug" in answer.json()["message"]
