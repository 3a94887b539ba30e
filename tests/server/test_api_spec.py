"""/api/v1/spec: the live spec, its versions, checking, and publishing (which rescores)."""

from __future__ import annotations

from tests.server.conftest import SPEC, Server
from tests.server.test_api_people import api, other_workspace_key, secret_key, seed

INVALID = """fit:
  rules:
    - {name: vp, when: 'matches(persn.title, "VP")', points: 30}
engagment:
  rules: []
"""
ERRORS = [
    {
        "path": "engagment", "line": 4, "column": None,
        "message": "unknown key 'engagment'", "suggestion": "engagement",
    },
    {
        "path": "fit.rules[0].when", "line": 3, "column": 9,
        "message": "unknown name 'persn'", "suggestion": "person",
    },
]  # fmt: skip
# The fixture's spec with a demo request worth 100 instead of 40.
RICHER_DEMO = SPEC.replace("points: 40", "points: 100")


def test_the_live_spec_and_its_versions(server: Server) -> None:
    reader = api(server, secret_key(server, "read"))
    live = reader.get("/spec")
    assert live.status_code == 200
    assert live.json() == {
        "version": 1,
        "source": SPEC,
        "created_at": "2026-04-01T00:00:00Z",
        "created_by": "test",
        "note": None,
    }
    assert reader.get("/spec/versions").json() == [live.json()]


def test_validate_lists_every_error_with_where_and_a_suggestion(server: Server) -> None:
    reader = api(server, secret_key(server, "read"))
    invalid = reader.post("/spec/validate", json={"source": INVALID})
    assert invalid.status_code == 200
    assert invalid.json() == {"valid": False, "errors": ERRORS}
    valid = reader.post("/spec/validate", json={"source": RICHER_DEMO})
    assert valid.json() == {"valid": True, "errors": []}
    assert reader.post("/spec/validate", json={}).status_code == 400


def test_an_invalid_spec_is_422_and_never_live(server: Server) -> None:
    client = api(server)
    answer = client.post("/spec", json={"source": INVALID})
    assert answer.status_code == 422
    assert answer.json() == {
        "code": "invalid_spec",
        "message": "the spec has 2 error(s)",
        "errors": ERRORS,
    }
    assert client.get("/spec").json()["version"] == 1
    assert len(client.get("/spec/versions").json()) == 1


def test_publishing_makes_a_new_live_version_and_rescores_everyone(server: Server) -> None:
    ids = seed(server)
    client = api(server)
    answer = client.post("/spec", json={"source": RICHER_DEMO, "note": "demos matter more"})
    assert answer.status_code == 201
    assert answer.json() == {
        "version": 2,
        "source": RICHER_DEMO,
        "created_at": "2026-05-01T12:00:00Z",
        "created_by": "key:ops",
        "note": "demos matter more",
        "scored": 4,
        "moves": 0,  # ada and cy were MQLs already
    }
    assert client.get("/spec").json()["version"] == 2
    assert [v["version"] for v in client.get("/spec/versions").json()] == [1, 2]
    ada = client.get(f"/people/{ids['ada']}").json()["score"]
    assert (ada["spec_version"], ada["engagement"], ada["score"]) == (2, 120.0, 150.0)


def test_only_admins_publish(server: Server) -> None:
    member = api(server, secret_key(server, "member"))
    answer = member.post("/spec", json={"source": RICHER_DEMO})
    assert answer.status_code == 403 and answer.json()["code"] == "forbidden"
    assert member.get("/spec").json()["version"] == 1


def test_another_workspace_has_its_own_spec(server: Server) -> None:
    other = api(server, other_workspace_key(server))
    answer = other.get("/spec")
    assert answer.status_code == 404 and answer.json()["code"] == "no_spec"
    assert other.get("/spec/versions").json() == []
    assert other.post("/spec", json={"source": RICHER_DEMO}).status_code == 201
    assert api(server).get("/spec").json()["source"] == SPEC
