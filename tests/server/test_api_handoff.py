"""/api/v1 for the handoff: the queue, reviews, owners, endpoints, rules and the delivery log."""

from __future__ import annotations

from tests.server.conftest import Server
from tests.server.test_api_people import api, other_workspace_key, secret_key, seed

from winnow.notify.signing import headers, verify


def subscribe(server: Server) -> dict[str, int]:
    client = api(server)
    hook = client.post(
        "/endpoints", json={"name": "crm", "kind": "webhook", "url": "https://crm.example/in"}
    )
    assert hook.status_code == 201, hook.text
    rule = client.post(
        "/rules",
        json={"name": "stages", "happenings": ["person.*"], "endpoint_id": hook.json()["id"]},
    )
    assert rule.status_code == 201, rule.text
    return {"endpoint": hook.json()["id"], "rule": rule.json()["id"]}


def test_the_queue_lists_mqls_and_a_review_answers_one(server: Server) -> None:
    subscribe(server)
    ids = seed(server)
    reader = api(server, secret_key(server, "read"))

    waiting = reader.get("/queue")
    assert waiting.status_code == 200
    assert [(q["person"]["user_id"], q["stage"], q["overdue"]) for q in waiting.json()] == [
        ("ada", "mql", False),
        ("cy", "mql", False),
    ]
    assert waiting.json()[0]["person"]["score"] == 90.0

    member = api(server, secret_key(server, "member"))
    assert reader.post(f"/people/{ids['ada']}/review", json={}).status_code == 403
    bad = member.post(f"/people/{ids['ada']}/review", json={"outcome": "ready"})
    assert bad.status_code == 400 and "reason" in bad.json()["message"]
    answer = member.post(
        f"/people/{ids['ada']}/review", json={"outcome": "ready", "reason": "budget approved"}
    )
    assert answer.status_code == 200
    assert (answer.json()["to_stage"], answer.json()["reason"]) == ("sal", "budget approved")
    assert [q["person"]["user_id"] for q in reader.get("/queue").json()] == ["cy"]
    # Dee is a lead, not waiting for review.
    late = member.post(f"/people/{ids['dee']}/review", json={"outcome": "suspect", "reason": "x"})
    assert late.status_code == 409

    log = reader.get("/notifications", params={"person_id": ids["ada"]}).json()
    assert [n["type"] for n in log] == ["person.sal", "person.mql"]
    assert log[0]["payload"]["data"]["stage_change"]["reason"] == "budget approved"
    assert [(d["status"], d["attempts"]) for d in log[0]["deliveries"]] == [("pending", 0)]


def test_endpoints_rotate_secrets_with_an_overlap(server: Server) -> None:
    created = subscribe(server)
    client = api(server)
    path = f"/endpoints/{created['endpoint']}"
    before = client.get(path).json()
    assert before["secret"].startswith("whsec_") and before["previous_secret"] is None

    rotated = client.post(f"{path}/rotate").json()
    assert rotated["previous_secret"] == before["secret"]
    assert rotated["previous_until"] == "2026-05-02T12:00:00Z"
    # During the overlap a delivery carries both signatures; either secret verifies it.
    body = b'{"type":"person.mql"}'
    sent = headers(message_id="msg_x", timestamp=1_777_636_800, body=body,
                   secrets=[rotated["secret"], rotated["previous_secret"]])  # fmt: skip
    for secret in (rotated["secret"], before["secret"]):
        verify(secret=secret, headers=sent, body=body, now=1_777_636_800)

    assert client.post(f"{path}/disable").json()["disabled_reason"] == "disabled by key:ops"
    assert client.post(f"{path}/enable").json()["disabled_at"] is None
    assert client.post(f"{path}/pause").status_code == 404
    assert client.get("/rules").json()[0]["happenings"] == ["person.*"]
    assert client.delete(f"/rules/{created['rule']}").status_code == 204
    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404


def test_bad_endpoints_and_rules_are_400(server: Server) -> None:
    client = api(server)
    no_url = client.post("/endpoints", json={"name": "x", "kind": "webhook", "url": "ftp://x.y/z"})
    assert no_url.status_code == 400 and "url" in no_url.json()["message"]
    hook = client.post(
        "/endpoints", json={"name": "s", "kind": "slack", "url": "https://hooks.slack.com/x/y"}
    ).json()
    assert hook["secret"] is None
    assert client.post(f"/endpoints/{hook['id']}/rotate").status_code == 400
    unknown = client.post(
        "/rules", json={"name": "r", "happenings": ["person.vip"], "endpoint_id": hook["id"]}
    )
    assert unknown.status_code == 400
    assert "'person.vip' matches no happening" in unknown.json()["message"]
    missing = client.post(
        "/rules", json={"name": "r", "happenings": ["person.mql"], "endpoint_id": 999}
    )
    assert missing.status_code == 404


def test_redeliver_and_replay(server: Server) -> None:
    subscribe(server)
    seed(server)
    client = api(server)
    (newest, *_) = client.get("/notifications").json()
    again = client.post(f"/notifications/{newest['id']}/redeliver")
    assert again.status_code == 200 and again.json() == {"redelivered": 1}
    assert client.post("/notifications/msg_nothing/redeliver").status_code == 404
    replay = client.post(
        "/notifications/replay",
        json={"since": "2026-05-01T00:00:00Z", "until": "2026-05-02T00:00:00Z"},
    )
    assert replay.json() == {"redelivered": 2}
    backwards = client.post(
        "/notifications/replay",
        json={"since": "2026-05-02T00:00:00Z", "until": "2026-05-01T00:00:00Z"},
    )
    assert backwards.status_code == 400


def test_another_workspace_sees_none_of_it(server: Server) -> None:
    created = subscribe(server)
    ids = seed(server)
    other = api(server, other_workspace_key(server))
    assert other.get("/queue").json() == []
    assert other.get("/owners").json() == []
    assert other.get("/notifications").json() == []
    assert other.get("/endpoints").json() == [] and other.get("/rules").json() == []
    assert other.get(f"/endpoints/{created['endpoint']}").status_code == 404
    assert other.post(f"/endpoints/{created['endpoint']}/rotate").status_code == 404
    assert other.delete(f"/rules/{created['rule']}").status_code == 404
    review = {"outcome": "ready", "reason": "mine now"}
    assert other.post(f"/people/{ids['ada']}/review", json=review).status_code == 404
    newest = api(server).get("/notifications").json()[0]["id"]
    assert other.post(f"/notifications/{newest}/redeliver").status_code == 404


def test_reports_show_the_workspace_funnel_and_nothing_of_others(server: Server) -> None:
    ids = seed(server)
    member = api(server, secret_key(server, "member"))
    member.post(f"/people/{ids['ada']}/review", json={"outcome": "ready", "reason": "fit"})
    reader = api(server, secret_key(server, "read"))
    funnel = reader.get("/reports/funnel")
    assert funnel.status_code == 200
    assert [(r["from_stage"], r["entered"], r["reached"]) for r in funnel.json()[:3]] == [
        ("lead", 4, 2),
        ("mql", 2, 1),
        ("sal", 1, 0),
    ]
    assert reader.get("/reports/leaks").json()[0] == {
        "kind": "mql_never_reviewed", "reason": None, "people": 1,
    }  # fmt: skip
    assert reader.get("/reports/sources", params={"to_stage": "mql"}).json() == [
        {"channel": "(none)", "entered": 4, "reached": 2, "rate": 0.5}
    ]
    assert reader.get("/reports/velocity").status_code == 200
    assert reader.get("/reports/funnel", params={"path": "sideways"}).status_code == 400
    other = api(server, other_workspace_key(server))
    assert [r["entered"] for r in other.get("/reports/funnel").json()] == []


def test_segments_filter_people_and_reports(server: Server) -> None:
    from tests.server.conftest import SPEC

    ids = seed(server)
    with_segment = SPEC + (
        "segments:\n"
        "  asked for a demo: 'did(\"Demo Requested\")'\n"
        "  big accounts: {accounts: 'account.employees >= 100'}\n"
    )
    client = api(server)
    assert client.post("/spec", json={"source": with_segment}).status_code == 201
    assert client.get("/reports/segments").json() == [
        {"name": "asked for a demo", "of": "people", "expression": 'did("Demo Requested")',
         "people": 2, "accounts": 2},
        # Initech (120 people) is; Globex (no head count) is not.
        {"name": "big accounts", "of": "accounts", "expression": "account.employees >= 100",
         "people": 2, "accounts": 1},
    ]  # fmt: skip
    big = client.get("/people", params={"segment": "big accounts"}).json()["data"]
    assert sorted(p["user_id"] for p in big) == ["ada", "bob"]
    people = client.get("/people", params={"segment": "asked for a demo"}).json()["data"]
    assert sorted(p["user_id"] for p in people) == ["ada", "cy"]
    funnel = client.get("/reports/funnel", params={"segment": "asked for a demo"}).json()
    assert (funnel[0]["from_stage"], funnel[0]["entered"]) == ("lead", 2)
    unknown = client.get("/reports/leaks", params={"segment": "nobody"})
    assert unknown.status_code == 400
    assert unknown.json()["message"] == (
        "no segment 'nobody' in the live spec (segments: asked for a demo, big accounts)"
    )
    assert client.get("/people", params={"segment": "nobody"}).json()["data"] == []
    assert ids["ada"] in {p["id"] for p in people}


def test_trial_and_calibration_reports(server: Server) -> None:
    from tests.factories import make_group
    from tests.server.test_api_people import send

    seed(server)
    # Initech's plan went from trial to paid: its people became customers.
    send(
        server,
        make_group(userId="ada", groupId="initech", traits={"plan": "paid"},
                   timestamp="2026-05-01T11:30:00Z"),
    )  # fmt: skip
    server.app.state.scorer.score_queued()
    client = api(server)
    trials = client.get("/reports/trials").json()
    assert trials["summary"]["trials"] == 1 and trials["summary"]["converted"] == 1
    assert [c["trials"] for c in trials["cohorts"]] == [1]
    calibration = client.get("/reports/calibration", params={"by": "grade"}).json()
    by_grade = {r["group"]: (r["people"], r["reached"]) for r in calibration["calibration"]}
    assert by_grade == {"B": (2, 1), "D": (2, 1)}  # Ada (B) and Bob (D) of Initech
    assert [r["spec_version"] for r in calibration["mql_precision"]] == [1]
