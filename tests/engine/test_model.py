"""The spec's predictive model: p_convert from factors, in criteria and in explanations."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
import sqlalchemy as sa
from tests.engine.test_golden import AS_OF, SPEC, frames
from tests.factories import make_identify, make_track

from winnow.engine import score_frames
from winnow.engine.run import score_store
from winnow.ingest import ingest_messages
from winnow.spec import SpecInvalid, load_spec
from winnow.store.workspaces import Workspace

MODEL = """
model:
  name: customer-90d-test
  outcome: customer within 90 days
  intercept: -2.0
  factors:
    - {name: webinar twice, when: 'count("Webinar Attended") >= 2', weight: 1.5}
    - {name: grade A, when: 'grade == "A"', weight: 0.75}
    - {name: unsubscribed, when: 'did("Unsubscribed")', weight: -1.25}
    - {name: pricing this week, when: 'did("Page Viewed", within="7d")', weight: 0.5}
"""
WITH_MODEL = (
    SPEC.replace("  sql: 'did(\"Demo Requested\")'\n", "  sql: 'p_convert >= 0.5'\n") + MODEL
)


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_p_convert_adds_the_weights_of_the_factors_that_hold() -> None:
    scores = {s.person_id: s for s in score_frames(load_spec(WITH_MODEL), **frames(), as_of=AS_OF)}
    # Ada: three webinars and grade A; her page views are 11+ days old.
    assert scores[1].p_convert == pytest.approx(sigmoid(-2.0 + 1.5 + 0.75))
    assert [f.name for f in scores[1].factors] == ["webinar twice", "grade A"]
    # Bob unsubscribed; Cy did nothing.
    assert scores[2].p_convert == pytest.approx(sigmoid(-2.0 - 1.25))
    assert scores[3].p_convert == pytest.approx(sigmoid(-2.0))
    # The criterion reads p_convert: 0.56 for Ada, 0.04 for Bob.
    assert scores[1].criteria["sql"] is True and scores[2].criteria["sql"] is False


def test_the_explanation_lists_factors_for_and_against() -> None:
    scores = {s.person_id: s for s in score_frames(load_spec(WITH_MODEL), **frames(), as_of=AS_OF)}
    ada, bob = scores[1].explanation()["model"], scores[2].explanation()["model"]
    assert [f["factor"] for f in ada["for"]] == ["webinar twice", "grade A"]
    assert ada["against"] == []
    assert bob["against"] == [{"factor": "unsubscribed", "weight": -1.25}]
    assert bob["p_convert"] == pytest.approx(sigmoid(-3.25))


def test_without_a_model_there_is_no_p_convert() -> None:
    scores = score_frames(load_spec(SPEC), **frames(), as_of=AS_OF)
    assert all(s.p_convert is None and "model" not in s.explanation() for s in scores)


def test_p_convert_needs_a_model_and_factors_cannot_use_it() -> None:
    with pytest.raises(SpecInvalid) as caught:
        load_spec("stages:\n  mql: 'p_convert >= 0.3'\n")
    (error,) = caught.value.errors
    assert error.path == "stages.mql" and "model:" in error.message
    route = "handoff: {owners: [{owner: a@example.com, when: 'p_convert > 0.5'}]}\n"
    with pytest.raises(SpecInvalid) as caught:
        load_spec(route)
    assert [e.path for e in caught.value.errors] == ["handoff.owners[0].when"]
    circular = MODEL + "    - {name: loop, when: 'p_convert > 0.5', weight: 1}\n"
    with pytest.raises(SpecInvalid) as caught:
        load_spec(circular)
    assert [e.path for e in caught.value.errors] == ["model.factors[4].when"]


def test_the_store_computes_the_same_p_convert(conn: sa.Connection, workspace: Workspace) -> None:
    when = AS_OF - timedelta(days=3)
    messages = [make_identify(userId="u1", traits={"title": "VP Marketing"})]
    messages += [
        make_track(userId="u1", event="Webinar Attended", timestamp=when.isoformat())
        for _ in range(2)
    ]
    ingest_messages(conn, workspace.id, messages, received_at=AS_OF, source="test")
    spec = load_spec(WITH_MODEL)
    (stored,) = score_store(conn, workspace.id, spec, as_of=AS_OF)
    # Two webinars; fit 20 (vp) makes grade B here: no account, so no size points.
    assert stored.grade == "B"
    assert stored.p_convert == pytest.approx(sigmoid(-2.0 + 1.5))
    assert [f.name for f in stored.factors] == ["webinar twice"]
