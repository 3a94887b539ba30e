"""/api/v1/accounts: accounts with their rolled-up score, and their people."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import Server
from tests.server.test_api_people import api, other_workspace_key, seed, send

from winnow.store.people import find_account


def account_ids(server: Server) -> dict[str, int]:
    with server.engine.connect() as conn:
        return {g: find_account(conn, server.workspace_id, g).id for g in ("initech", "globex")}


def test_accounts_come_best_first_with_rolled_up_scores(server: Server) -> None:
    seed(server)
    ids = account_ids(server)
    answer = api(server).get("/accounts")
    assert answer.status_code == 200
    page = answer.json()
    assert page["next_cursor"] is None
    assert page["data"] == [
        {
            "id": ids["initech"], "group_id": "initech", "name": "Initech",
            "domain": "initech.com", "plan": "trial", "people": 2,
            "fit": 0.0, "engagement": 80.0, "score": 80.0, "scored_at": "2026-05-01T12:00:00Z",
        },
        {
            "id": ids["globex"], "group_id": "globex", "name": "Globex",
            "domain": "globex.com", "plan": None, "people": 1,
            "fit": 0.0, "engagement": 40.0, "score": 40.0, "scored_at": "2026-05-01T12:00:00Z",
        },
    ]  # fmt: skip


def test_one_account_with_its_people(server: Server) -> None:
    people = seed(server)
    ids = account_ids(server)
    answer = api(server).get(f"/accounts/{ids['initech']}")
    assert answer.status_code == 200
    initech = answer.json()
    assert (initech["name"], initech["people"], initech["score"]) == ("Initech", 2, 80.0)
    members = [(p["id"], p["score"], p["stage"]) for p in initech["members"]]
    assert members == [(people["ada"], 90.0, "mql"), (people["bob"], 20.0, "lead")]
    # The same people, through the list's account filter.
    listed = api(server).get("/people", params={"account_id": ids["initech"]}).json()
    assert [p["id"] for p in listed["data"]] == [people["ada"], people["bob"]]


def test_account_pages_walk_every_account_once(server: Server) -> None:
    seed(server)
    # An account nobody has scored yet comes last.
    groups = [{"type": "group", "messageId": "g-9", "userId": "dee", "groupId": "hooli"}]
    send(server, *groups)
    client = api(server)
    walked: list[str] = []
    params: dict[str, Any] = {"limit": 1}
    while True:
        page = client.get("/accounts", params=params).json()
        walked += [a["group_id"] for a in page["data"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert walked == ["initech", "globex", "hooli"]
    assert client.get("/accounts", params={"cursor": "bogus"}).json()["code"] == "invalid_cursor"


def test_another_workspace_sees_none_of_these_accounts(server: Server) -> None:
    seed(server)
    ids = account_ids(server)
    other = api(server, other_workspace_key(server))
    assert other.get("/accounts").json() == {"data": [], "next_cursor": None}
    answer = other.get(f"/accounts/{ids['initech']}")
    assert answer.status_code == 404
    assert answer.json() == {
        "code": "not_found",
        "message": f"no account {ids['initech']} in this workspace",
    }
