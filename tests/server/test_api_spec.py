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
# An MQL needs 50 points of engagement instead of 40: Cy's demo request alone is not enough.
STRICTER = SPEC.replace("engagement >= 40", "engagement >= 50")
WEEKS = {"from": "2026-04-17T12:00:00Z", "to": "2026-05-01T12:00:00Z"}


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
        "backtest_id": None,
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
        "backtest_id": None,
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


def test_a_backtest_compares_a_spec_with_the_live_one(server: Server) -> None:
    ids = seed(server)
    member = api(server, secret_key(server, "member"))
    answer = member.post("/spec/backtest", json={"source": STRICTER, **WEEKS})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert isinstance(report["id"], int) and report["against_version"] == 1
    assert [s["label"] for s in report["specs"]] == ["candidate", "live"]
    # Everyone arrived in the last week: Ada is an MQL under both, Cy under the live one.
    (strict,), (live,) = (r["stages"][:1] for r in report["specs"])
    assert (strict["stage"], strict["per_week"], live["per_week"]) == ("mql", [0, 1], [0, 2])
    assert report["only_first"] == {"mql": 0, "pql": 0}
    assert report["only_second"] == {"mql": 1, "pql": 0}
    assert report["differences"] == [{"person_id": ids["cy"], "first": None, "second": "mql"}]
    invalid = member.post("/spec/backtest", json={"source": INVALID})
    assert invalid.status_code == 422 and invalid.json()["code"] == "invalid_spec"
    short = member.post("/spec/backtest", json={"source": STRICTER, "from": WEEKS["to"]})
    assert short.status_code == 400 and "at least two weeks" in short.json()["message"]
    # Not required here, but a backtest named when publishing must be of that source.
    named = api(server).post("/spec", json={"source": RICHER_DEMO, "backtest_id": report["id"]})
    assert named.status_code == 409 and named.json()["code"] == "backtest_required"


def test_publishing_can_require_a_backtest_of_that_exact_source(server: Server) -> None:
    seed(server)
    server.app.state.settings.require_backtest = True
    client = api(server)
    refused = client.post("/spec", json={"source": STRICTER})
    assert refused.status_code == 409 and refused.json()["code"] == "backtest_required"
    other = client.post("/spec/backtest", json={"source": RICHER_DEMO, **WEEKS}).json()["id"]
    wrong = client.post("/spec", json={"source": STRICTER, "backtest_id": other})
    assert wrong.status_code == 409
    tested = client.post("/spec/backtest", json={"source": STRICTER, **WEEKS}).json()["id"]
    published = client.post("/spec", json={"source": STRICTER, "backtest_id": tested})
    assert published.status_code == 201 and published.json()["backtest_id"] == tested
    assert client.get("/spec").json()["backtest_id"] == tested
    # That backtest was against version 1; version 2 is live now.
    stale = client.post("/spec", json={"source": RICHER_DEMO, "backtest_id": other})
    assert stale.status_code == 409 and "live version 2" in stale.json()["message"]
