"""/api/v1/people: the list (filters, sorts, cursor pagination), one person, and moves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from tests.factories import make_group, make_identify, make_page, make_track
from tests.server.conftest import Server

from winnow.store.keys import create_key
from winnow.store.people import find_person
from winnow.store.workspaces import create_workspace


@dataclass(frozen=True)
class Api:
    """Calls to the REST API with a secret key, each on its own connection."""

    base: str
    key: str

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.request(method, f"{self.base}{path}", headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)


def api(server: Server, key: str | None = None) -> Api:
    """The REST API with a secret key (the fixture's admin key by default)."""
    return Api(f"{server.url}/api/v1", key or server.secret_key)


def secret_key(server: Server, role: str, *, workspace_id: int | None = None) -> str:
    with server.engine.begin() as conn:
        _, token = create_key(
            conn, workspace_id or server.workspace_id, kind="secret", role=role,
            name=f"{role}-key", by="test",
        )  # fmt: skip
    return token


def other_workspace_key(server: Server) -> str:
    """An admin key of a second workspace, which must see nothing of the first."""
    with server.engine.begin() as conn:
        other = create_workspace(conn, "globex", "Globex")
    return secret_key(server, "admin", workspace_id=other.id)


def send(server: Server, *messages: dict[str, Any], token: str | None = None) -> None:
    body = {"batch": list(messages), "writeKey": token or server.write_key}
    answer = httpx.post(f"{server.url}/v1/batch", json=body)
    assert answer.status_code == 200 and answer.json()["rejected"] == [], answer.text


def identify(user_id: str, first: str, last: str, title: str, domain: str) -> dict[str, Any]:
    email = f"{user_id}@{domain}"
    traits = {"email": email, "firstName": first, "lastName": last, "title": title}
    return make_identify(userId=user_id, traits=traits)


def seed(server: Server) -> dict[str, int]:
    """Four leads, scored with the fixture's spec (VP +30 fit; pricing 20, demo 40):

    ada  VP Engineering at Initech, pricing + demo   fit 30 (B) + 60 = 90, MQL
    cy   VP Sales at Globex, demo                    fit 30 (B) + 40 = 70, MQL
    bob  Engineer at Initech, pricing                fit 0 (D) + 20  = 20, lead
    dee  Analyst, nothing yet                        fit 0 (D) + 0   = 0,  lead
    """
    send(
        server,
        identify("ada", "Ada", "Lovelace", "VP Engineering", "initech.com"),
        identify("bob", "Bob", "Stone", "Engineer", "initech.com"),
        identify("cy", "Cy", "Young", "VP Sales", "globex.com"),
        identify("dee", "Dee", "Park", "Analyst", "park.name"),
        make_group(userId="ada", groupId="initech"),
        make_group(userId="bob", groupId="initech"),
        make_group(
            userId="cy", groupId="globex", traits={"name": "Globex", "website": "globex.com"}
        ),
        make_page(userId="ada"),
        make_track(userId="ada", event="Demo Requested"),
        make_track(userId="cy", event="Demo Requested"),
        make_page(userId="bob"),
    )
    server.app.state.scorer.score_queued()
    with server.engine.connect() as conn:
        return {
            u: find_person(conn, server.workspace_id, u).id for u in ("ada", "bob", "cy", "dee")
        }


def user_ids(page: dict[str, Any]) -> list[str]:
    return [p["user_id"] for p in page["data"]]


def test_people_come_best_first_with_their_scores(server: Server) -> None:
    ids = seed(server)
    answer = api(server).get("/people")
    assert answer.status_code == 200
    page = answer.json()
    assert page["next_cursor"] is None
    rows = [(p["user_id"], p["score"], p["grade"], p["stage"]) for p in page["data"]]
    assert rows == [
        ("ada", 90.0, "B", "mql"),
        ("cy", 70.0, "B", "mql"),
        ("bob", 20.0, "D", "lead"),
        ("dee", 0.0, "D", "lead"),
    ]
    ada = page["data"][0]
    assert ada["id"] == ids["ada"]
    assert (ada["name"], ada["email"], ada["title"]) == (
        "Ada Lovelace",
        "ada@initech.com",
        "VP Engineering",
    )
    assert (ada["company"], ada["fit"], ada["engagement"]) == ("Initech", 30.0, 60.0)
    assert ada["scored_at"] == "2026-05-01T12:00:00Z"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"stage": "mql"}, ["ada", "cy"]),
        ({"grade": "D"}, ["bob", "dee"]),
        ({"min_score": 20, "max_score": 70}, ["cy", "bob"]),
        ({"min_score": 90.5}, []),
        ({"q": "initech"}, ["ada", "bob"]),  # the company
        ({"q": "LOVELACE"}, ["ada"]),  # the name, any case
        ({"q": "ada lovelace"}, ["ada"]),  # the full name
        ({"q": "cy@globex"}, ["cy"]),  # the email
        ({"q": "%"}, []),  # a literal, not a wildcard
        ({"q": "e", "stage": "lead"}, ["bob", "dee"]),
        ({"sort": "score"}, ["dee", "bob", "cy", "ada"]),
        ({"sort": "updated"}, ["dee", "cy", "bob", "ada"]),  # same instant: newest id first
    ],
)
def test_filters_and_sorts(server: Server, query: dict[str, Any], expected: list[str]) -> None:
    seed(server)
    answer = api(server).get("/people", params=query)
    assert answer.status_code == 200
    assert user_ids(answer.json()) == expected


@pytest.mark.parametrize("sort", ["-score", "score", "updated"])
def test_pages_walk_everyone_once(server: Server, sort: str) -> None:
    seed(server)
    # Two people nobody has scored yet: they come after everyone scored.
    send(
        server,
        identify("eve", "Eve", "Moss", "CTO", "moss.io"),
        identify("fay", "Fay", "Lin", "CFO", "lin.io"),
    )
    client = api(server)
    everyone = user_ids(client.get("/people", params={"sort": sort, "limit": 200}).json())
    assert len(everyone) == 6
    walked: list[str] = []
    params: dict[str, Any] = {"sort": sort, "limit": 2}
    while True:
        page = client.get("/people", params=params).json()
        assert len(page["data"]) <= 2
        walked += user_ids(page)
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert walked == everyone
    assert len(set(walked)) == 6
    if sort == "-score":
        assert walked[-2:] == ["eve", "fay"]


def test_bad_list_parameters_are_400(server: Server) -> None:
    seed(server)
    client = api(server)
    first = client.get("/people", params={"limit": 1}).json()
    for params in (
        {"limit": 201},
        {"limit": 0},
        {"stage": "prospect"},
        {"cursor": "not-a-cursor"},
        {"cursor": first["next_cursor"], "sort": "updated"},  # a cursor of another sort
    ):
        answer = client.get("/people", params=params)
        assert answer.status_code == 400, params
        assert answer.json()["code"] in ("invalid_request", "invalid_cursor")
    assert client.get("/people", params={"cursor": "e30"}).json()["code"] == "invalid_cursor"


def test_one_person_with_explanation_history_and_events(server: Server) -> None:
    ids = seed(server)
    answer = api(server).get(f"/people/{ids['ada']}")
    assert answer.status_code == 200
    ada = answer.json()
    assert (ada["id"], ada["user_id"], ada["name"], ada["stage"]) == (
        ids["ada"], "ada", "Ada Lovelace", "mql",
    )  # fmt: skip
    assert ada["account"]["group_id"] == "initech" and ada["account"]["name"] == "Initech"
    score = ada["score"]
    assert (score["spec_version"], score["fit"], score["engagement"], score["score"]) == (
        1, 30.0, 60.0, 90.0,
    )  # fmt: skip
    assert score["explanation"]["fit"] == [{"rule": "vp", "points": 30.0}]
    engagement = {
        r["rule"]: (r["points"], r["matched"], r["counted"])
        for r in score["explanation"]["engagement"]
    }
    assert engagement == {"pricing": (20.0, 1, 1), "demo": (40.0, 1, 1)}
    assert score["criteria"]["mql"] is True
    created, promoted = ada["history"]
    assert (created["from_stage"], created["to_stage"], created["cause"]) == (
        None, "lead", "fact:created",
    )  # fmt: skip
    assert created["at"] == "2026-05-01T11:00:00Z"  # when the identify happened
    assert (promoted["from_stage"], promoted["to_stage"], promoted["cause"]) == (
        "lead", "mql", "rule:stages.mql",
    )  # fmt: skip
    assert (promoted["score"], promoted["grade"], promoted["at"]) == (
        90.0, "B", "2026-05-01T12:00:00Z",
    )  # fmt: skip
    assert sorted(e["name"] for e in ada["events"]) == [
        "Demo Requested", "Group", "Identify", "Page Viewed",
    ]  # fmt: skip
    demo = next(e for e in ada["events"] if e["name"] == "Demo Requested")
    assert (demo["type"], demo["timestamp"]) == ("track", "2026-05-01T11:00:00Z")


def test_moves_follow_the_lifecycle(server: Server) -> None:
    ids = seed(server)
    member = api(server, secret_key(server, "member"))
    ada = f"/people/{ids['ada']}/actions"
    accepted = member.post(f"{ada}/accept")
    assert accepted.status_code == 200
    assert accepted.json() | {"details": None} == {
        "from_stage": "mql", "to_stage": "sal", "at": "2026-05-01T12:00:00Z",
        "cause": "user:key:member-key", "reason": None, "details": None,
        "fit": 30.0, "engagement": 60.0, "score": 90.0, "grade": "B",
    }  # fmt: skip
    # Qualifying needs the four BANT answers.
    no_bant = member.post(f"{ada}/qualify", json={})
    assert no_bant.status_code == 409
    assert no_bant.json() == {
        "code": "illegal_move",
        "message": "qualifying as SQL needs BANT; missing: budget, authority, need, timeline",
    }
    bant = {"budget": "50k", "authority": "CTO", "need": "SSO", "timeline": "Q3"}
    qualified = member.post(f"{ada}/qualify", json={"bant": bant})
    assert qualified.status_code == 200
    assert (qualified.json()["to_stage"], qualified.json()["details"]) == ("sql", bant)
    assert member.post(f"{ada}/open_opportunity").json()["to_stage"] == "opportunity"
    assert member.post(f"{ada}/lost").status_code == 409  # needs a reason
    lost = member.post(f"{ada}/lost", json={"reason": "went with a competitor"})
    assert lost.status_code == 200
    assert (lost.json()["to_stage"], lost.json()["reason"], lost.json()["details"]) == (
        "nurture", "went with a competitor", {"outcome": "lost"},
    )  # fmt: skip
    history = member.get(f"/people/{ids['ada']}").json()["history"]
    assert [(m["to_stage"], m["cause"]) for m in history] == [
        ("lead", "fact:created"),
        ("mql", "rule:stages.mql"),
        ("sal", "user:key:member-key"),
        ("sql", "user:key:member-key"),
        ("opportunity", "user:key:member-key"),
        ("nurture", "user:key:member-key"),
    ]
    assert member.get(f"/people/{ids['ada']}").json()["stage"] == "nurture"


def test_an_illegal_move_is_409_and_changes_nothing(server: Server) -> None:
    ids = seed(server)
    client = api(server)
    answer = client.post(f"/people/{ids['bob']}/actions/accept")
    assert answer.status_code == 409
    assert answer.json() == {
        "code": "illegal_move",
        "message": f"cannot accept person {ids['bob']}: they are in stage 'lead', "
        "and only mql, pql can move to sal",
    }
    assert client.post(f"/people/{ids['bob']}/actions/disqualify").status_code == 409
    bob = client.get(f"/people/{ids['bob']}").json()
    assert (bob["stage"], [m["to_stage"] for m in bob["history"]]) == ("lead", ["lead"])
    assert client.post(f"/people/{ids['bob']}/actions/promote").status_code == 400
    disqualified = client.post(
        f"/people/{ids['bob']}/actions/disqualify", json={"reason": "student"}
    )
    assert disqualified.json()["to_stage"] == "disqualified"


def test_a_read_key_reads_but_cannot_move_anyone(server: Server) -> None:
    ids = seed(server)
    reader = api(server, secret_key(server, "read"))
    assert reader.get("/people").status_code == 200
    assert reader.get(f"/people/{ids['ada']}").status_code == 200
    answer = reader.post(f"/people/{ids['ada']}/actions/accept")
    assert answer.status_code == 403
    assert answer.json() == {
        "code": "forbidden",
        "message": "this needs a key with the member role or above",
    }
    assert reader.get(f"/people/{ids['ada']}").json()["stage"] == "mql"


def test_keys_are_needed_and_must_be_secret(server: Server) -> None:
    seed(server)
    anonymous = httpx.get(f"{server.url}/api/v1/people")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "missing_key"
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert api(server, "wn_secret_nope").get("/people").status_code == 401
    assert api(server, server.write_key).get("/people").status_code == 403


def test_another_workspace_sees_none_of_these_people(server: Server) -> None:
    ids = seed(server)
    other = api(server, other_workspace_key(server))
    assert other.get("/people").json() == {"data": [], "next_cursor": None}
    for path in (f"/people/{ids['ada']}", "/people/999999"):
        answer = other.get(path)
        assert answer.status_code == 404 and answer.json()["code"] == "not_found"
    moved = other.post(f"/people/{ids['ada']}/actions/accept")
    assert moved.status_code == 404 and moved.json()["code"] == "not_found"
    assert api(server).get(f"/people/{ids['ada']}").json()["stage"] == "mql"
