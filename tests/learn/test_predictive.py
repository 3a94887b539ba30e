"""The event-history model finds a planted signal, finds none where there is none, and
never learns from what was not known at the cutoff."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml
from tests.engine.test_golden import AS_OF, frames
from tests.learn.history_world import START, world

from winnow.engine import score_frames
from winnow.learn.predictive import Trained, save, split, train
from winnow.learn.snapshots import (
    Candidate,
    History,
    Rows,
    build_rows,
    candidates,
    plans_as_of,
)
from winnow.learn.suggest import suggest
from winnow.spec import load_spec

WITHIN = timedelta(days=45)
EVERY = timedelta(days=14)
SIGNAL = "Source Connected, 1+ time in 30 days"


PEOPLE = 400


def rows_of(history: History) -> Rows:
    return build_rows(history, candidates(history, None), within=WITHIN, every=EVERY)


@pytest.fixture(scope="module")
def history() -> History:
    return world(signal=True, people=PEOPLE)


@pytest.fixture(scope="module")
def planted(history: History) -> tuple[Rows, Trained]:
    rows = rows_of(history)
    return rows, train(rows, outcome="customer within 45 days", name="customer-45d-test")


def test_the_model_finds_the_planted_signal(planted: tuple[Rows, Trained]) -> None:
    _, trained = planted
    strongest, weight = trained.factors[0]
    assert strongest.name == SIGNAL and weight > 1.5
    assert trained.logistic.roc_auc > 0.7 and trained.boosting.roc_auc > 0.65
    # Recall in the top 20% of held-out rows is far above the 20% of a random ranking.
    assert trained.logistic.recall_at["20pct"] > 0.4


def test_no_signal_is_found_where_there_is_none() -> None:
    rows = rows_of(world(signal=False, people=PEOPLE, seed=2))
    trained = train(rows, outcome="customer", name="null")
    assert trained.logistic.roc_auc < 0.62 and trained.boosting.roc_auc < 0.62
    assert all(abs(w) < 0.5 for c, w in trained.factors if c.name == SIGNAL)


def test_newer_people_are_held_out_whole(planted: tuple[Rows, Trained]) -> None:
    rows, _ = planted
    learn, hold = split(rows)
    assert rows.created_at[learn].max() <= rows.created_at[hold].min()
    assert not set(rows.person_id[learn]) & set(rows.person_id[hold])
    held_out = len(set(rows.person_id[hold])) / len(set(rows.person_id))
    assert held_out == pytest.approx(0.3, abs=0.01)


def test_rows_know_only_what_was_known_at_the_cutoff(
    history: History, planted: tuple[Rows, Trained]
) -> None:
    rows, _ = planted
    found = rows.candidates
    column = [c.name for c in found].index("Source Connected, ever")
    connected = {
        p: t
        for p, n, t in zip(
            history.events.column("person_id").to_pylist(),
            history.events.column("name").to_pylist(),
            history.events.column("timestamp").to_pylist(),
            strict=True,
        )
        if n == "Source Connected"
    }
    for person, cutoff, held in zip(
        rows.person_id, rows.cutoff, rows.conditions[:, column], strict=True
    ):
        known = person in connected and connected[person] <= cutoff.astype(datetime)
        assert bool(held) == known
    # People appear from their creation until they reach the target, labels within 45 days.
    for person, cutoff, label in zip(rows.person_id, rows.cutoff, rows.label, strict=True):
        at = cutoff.astype(datetime)
        reached = history.reached.get(int(person))
        assert reached is None or reached > at
        assert bool(label) == (reached is not None and reached <= at + WITHIN)


def test_plans_are_taken_as_they_were_at_the_cutoff(history: History) -> None:
    found = candidates(history, None)
    assert "on the paid plan" not in [c.name for c in found]
    accounts = plans_as_of(history.accounts, history.plan_changes, START + timedelta(days=1))
    assert set(accounts.column("plan").to_pylist()) == {"trial", "free"}
    before = plans_as_of(history.accounts, history.plan_changes, START - timedelta(days=1))
    assert set(before.column("plan").to_pylist()) == {None}


def test_the_artifact_holds_the_spec_section_and_the_card(
    planted: tuple[Rows, Trained], tmp_path: Path
) -> None:
    _, trained = planted
    path = save(trained, tmp_path)
    assert path.name == "customer-45d-test"
    section = yaml.safe_load((path / "model.yaml").read_text(encoding="utf-8"))["model"]
    assert section["factors"][0]["name"] == SIGNAL
    card = json.loads((path / "card.json").read_text(encoding="utf-8"))
    assert card["logistic"]["roc_auc"] == trained.logistic.roc_auc
    assert (path / "models.joblib").stat().st_size > 0
    with pytest.raises(FileExistsError):
        save(trained, tmp_path)  # a version is never overwritten


def test_the_engine_reproduces_the_model(history: History, planted: tuple[Rows, Trained]) -> None:
    rows, trained = planted
    spec = load_spec(yaml.safe_dump({"model": trained.section()}))
    cutoff = rows.cutoff[-1].astype(datetime)
    accounts = plans_as_of(history.accounts, history.plan_changes, cutoff)
    scores = score_frames(
        spec,
        people=history.people,
        accounts=accounts,
        events=history.events,
        as_of=cutoff.replace(tzinfo=AS_OF.tzinfo),
    )
    by_person = {s.person_id: s.p_convert for s in scores}
    last = rows.cutoff == rows.cutoff[-1]
    model = trained.models["logistic"]
    expected = model.predict_proba(rows.conditions[last][:, list(trained.columns)])[:, 1]
    got = np.array([by_person[int(p)] for p in rows.person_id[last]])
    # The spec rounds weights to 4 places; the engine agrees with scikit-learn to that.
    assert np.allclose(got, expected, atol=1e-3)


def test_candidates_cover_the_live_fit_rules_and_traits(history: History) -> None:
    live = load_spec(
        "fit:\n  rules:\n    - {name: analyst, when: 'person.role == \"analyst\"', points: 5}\n"
    )
    names = [c.name for c in candidates(history, live)]
    assert names[0] == "fit: analyst"
    assert {"person role is student", "on the trial plan", "/pricing page, ever"} <= set(names)


def test_golden_frames_score_without_a_model() -> None:
    assert all(s.p_convert is None for s in score_frames(load_spec(""), **frames(), as_of=AS_OF))


def test_the_suggested_spec_follows_the_model(planted: tuple[Rows, Trained]) -> None:
    _, trained = planted
    live = load_spec(
        "engagement:\n  rules:\n    - {name: any page, event: Page Viewed, points: 1}\n"
        "fit:\n  rules:\n    - {name: student, when: 'person.role == \"student\"', points: 9}\n"
        "stages:\n  mql: 'engagement >= 10'\n"
    )
    draft = suggest(live, trained, mql_threshold=trained.p_at_top[0.1])
    spec = load_spec(draft)
    assert spec.document.model is not None and spec.document.model.name == trained.name
    assert spec.document.stages.mql == (
        f"(engagement >= 10) or p_convert >= {trained.p_at_top[0.1]:.4g}"
    )
    # The live rule the model did not weigh keeps its place at 0 points.
    assert spec.document.fit.rules[0].name == "student"
    assert spec.document.fit.rules[0].points == 0
    # The planted event is worth 20 points per unit of log-odds, per event, capped.
    rule = next(r for r in spec.document.engagement.rules if r.name == SIGNAL)
    weight = dict((c.name, w) for c, w in trained.factors)[SIGNAL]
    assert (rule.event, rule.points, rule.max) == (
        "Source Connected",
        round(weight * 20),
        abs(round(weight * 20)),
    )
    assert "any page" not in [r.name for r in spec.document.engagement.rules]


def test_suggesting_again_from_a_suggested_spec_keeps_one_rule_per_factor(
    planted: tuple[Rows, Trained],
) -> None:
    _, trained = planted
    trial = Candidate(name="on the trial plan", when='account.plan == "trial"', kind="plan")
    once = replace(trained, factors=((trial, 0.5),))
    first = load_spec(suggest(load_spec(""), once, mql_threshold=0.2))
    again = load_spec(suggest(first, replace(once, factors=((trial, 0.8),)), mql_threshold=0.2))
    rules = [(r.name, r.points) for r in again.document.fit.rules]
    assert rules == [("on the trial plan", 16.0)]
