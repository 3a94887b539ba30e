"""The engine agrees with the oracle: hand-worked oracle numbers, then random specs and
histories scored on DuckDB (frames), SQLite and PostgreSQL (the store) against it."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.engine import oracle
from tests.engine.oracle import Account, Event, Person
from tests.engine.strategies import History, histories, specs

from winnow.engine import score_frames, score_store
from winnow.spec import load_spec
from winnow.store import schema
from winnow.store.workspaces import create_workspace

AS_OF = datetime(2026, 6, 1, 12, 0, 0)
DAY = timedelta(days=1)


def run(
    spec: str, people: list[Person], events: list[Event], accounts: Sequence[Account] = ()
) -> dict[int, oracle.Score]:
    scores = oracle.score(
        load_spec(spec),
        people=people,
        accounts=list(accounts),
        events=events,
        as_of=AS_OF.replace(tzinfo=UTC),
    )
    return {s.person_id: s for s in scores}


def person(pid: int = 1, **overrides: Any) -> Person:
    return Person(**{"id": pid, "created_at": AS_OF - 100 * DAY, **overrides})


def event(name: str, at: datetime, pid: int = 1, **properties: Any) -> Event:
    return Event(person_id=pid, name=name, timestamp=at, properties=properties)


# -- the oracle's own golden numbers -------------------------------------------------------------
def test_decay_halves_points_every_half_life() -> None:
    spec = "engagement: {rules: [{name: w, event: Webinar, points: 10, half_life: 30d}]}"
    scored = run(spec, [person()], [event("Webinar", AS_OF - 30 * DAY)])[1]
    assert scored.engagement == pytest.approx(5.0)
    assert scored.engagement_rules == (
        oracle.Contribution(name="w", points=5.0, matched=1, counted=1, decay=5.0, capped=0.0),
    )


def test_once_per_keeps_the_latest_event_of_each_period() -> None:
    spec = (
        "engagement: {rules: [{name: p, event: Pricing, points: 8, once_per: 1d, half_life: 1d}]}"
    )
    day = datetime(2026, 5, 31)
    events = [event("Pricing", day.replace(hour=1)), event("Pricing", day.replace(hour=12))]
    (rule,) = run(spec, [person()], events)[1].engagement_rules
    # The 12:00 event is exactly one day old: 8 * 0.5 = 4 (the 01:00 one is dropped).
    assert (rule.matched, rule.counted, rule.points, rule.decay) == (2, 1, 4.0, 4.0)


def test_max_caps_both_ways() -> None:
    spec = """
engagement:
  rules:
    - {name: up, event: Webinar, points: 10, max: 25}
    - {name: down, event: Unsubscribed, points: -10, max: 25}
"""
    events = [event("Webinar", AS_OF - n * DAY) for n in range(4)]
    events += [event("Unsubscribed", AS_OF - n * DAY) for n in range(4)]
    up, down = run(spec, [person()], events)[1].engagement_rules
    assert (up.points, up.capped, up.decay) == (25.0, 15.0, 0.0)
    assert (down.points, down.capped) == (-25.0, -15.0)


def test_streak_and_active_days_count_utc_dates() -> None:
    spec = "metrics: {streak: {longest_streak: any}, days: {active_days: any}}"
    days = [1, 2, 3, 5, 6, 6]
    events = [event("Signed In", datetime(2026, 5, d, 23, 59, 59)) for d in days]
    assert run(spec, [person()], events)[1].metrics == {"streak": 3.0, "days": 5.0}


def test_events_after_as_of_and_before_recycling_do_not_count() -> None:
    spec = """
engagement: {rules: [{name: w, event: Webinar, points: 1}]}
metrics: {webinars: {count: Webinar}}
"""
    recycled = AS_OF - 10 * DAY
    events = [
        event("Webinar", AS_OF),
        event("Webinar", AS_OF + timedelta(seconds=1)),
        event("Webinar", recycled),
        event("Webinar", recycled + timedelta(seconds=1)),
    ]
    scored = run(spec, [person(recycled_at=recycled)], events)[1]
    assert scored.engagement == 2.0  # at as_of, and one second after recycling
    assert scored.metrics == {"webinars": 3.0}  # metrics ignore recycling


def test_account_rollup_takes_the_top_people() -> None:
    spec = """
engagement: {rules: [{name: w, event: Webinar, points: 10}]}
accounts:
  people: {top: 2, aggregate: avg}
  fit: [{name: big, when: 'account.employees >= 100', points: 7}]
"""
    acme = Account(id=5, group_id="acme", created_at=AS_OF, traits={"employees": 120})
    people = [person(pid, account_id=5) for pid in (1, 2, 3)] + [person(4)]
    events = [event("Webinar", AS_OF, pid) for pid in (1, 1, 1, 2, 3, 4)]
    scored = run(spec, people, events, [acme])
    assert scored[3].account_engagement == 20.0  # (30 + 10) / 2
    assert (scored[3].account_fit, scored[3].account_score) == (7.0, 27.0)
    assert scored[4].account_score is None


def test_json_values_are_read_by_type_and_nulls_are_false() -> None:
    spec = """
fit:
  rules:
    - {name: text number, when: 'person.n >= 5', points: 1}
    - {name: missing, when: 'person.nope == None', points: 2}
    - {name: not null, when: 'not (person.nope > 1)', points: 4}
    - {name: divide by zero, when: 'person.zero / person.zero == None', points: 8}
    - {name: object is there, when: 'person.obj != None', points: 16}
  grades: {A: 30, B: 20, C: 10}
stages:
  mql: 'fit / 0 == None and did("any") == False'
"""
    traits = {"n": "7", "zero": 0, "obj": {"a": 1}}
    scored = run(spec, [person(traits=traits)], [])[1]
    assert [h.name for h in scored.fit_rules] == ["missing", "divide by zero", "object is there"]
    assert (scored.fit, scored.grade, scored.criteria["mql"]) == (26.0, "B", True)


def test_count_distinct_counts_texts_and_numbers_apart() -> None:
    spec = "metrics: {seen: {count_distinct: properties.v}, total: {sum: properties.v}}"
    values = ["a", "a", 1, 1.0, True, None, "1", {"x": 1}, 2.5]
    events = [event("Used", AS_OF, v=v) for v in values]
    assert run(spec, [person()], events)[1].metrics == {"seen": 4.0, "total": 4.5}


# -- engine vs oracle --------------------------------------------------------------------------
def aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


_TIME = pa.timestamp("us")


def frames(history: History) -> dict[str, pa.Table]:
    people, accounts, events = history.people, history.accounts, history.events
    return {
        "people": pa.table(
            {
                "id": pa.array([p.id for p in people], pa.int64()),
                "account_id": pa.array([p.account_id for p in people], pa.int64()),
                "email": pa.array([p.email for p in people], pa.string()),
                "email_domain": pa.array([p.email_domain for p in people], pa.string()),
                "user_id": pa.array([p.user_id for p in people], pa.string()),
                "owner": pa.array([p.owner for p in people], pa.string()),
                "created_at": pa.array([p.created_at for p in people], _TIME),
                "stage": pa.array([p.stage for p in people], pa.string()),
                "recycled_at": pa.array([p.recycled_at for p in people], _TIME),
                "traits": pa.array([json.dumps(p.traits) for p in people], pa.string()),
            }
        ),
        "accounts": pa.table(
            {
                "id": pa.array([a.id for a in accounts], pa.int64()),
                "group_id": pa.array([a.group_id for a in accounts], pa.string()),
                "name": pa.array([a.name for a in accounts], pa.string()),
                "domain": pa.array([a.domain for a in accounts], pa.string()),
                "plan": pa.array([a.plan for a in accounts], pa.string()),
                "created_at": pa.array([a.created_at for a in accounts], _TIME),
                "traits": pa.array([json.dumps(a.traits) for a in accounts], pa.string()),
            }
        ),
        "events": pa.table(
            {
                "person_id": pa.array([e.person_id for e in events], pa.int64()),
                "name": pa.array([e.name for e in events], pa.string()),
                "timestamp": pa.array([e.timestamp for e in events], _TIME),
                "properties": pa.array([json.dumps(e.properties) for e in events], pa.string()),
                "context": pa.array([json.dumps(e.context) for e in events], pa.string()),
            }
        ),
    }


def insert(conn: sa.Connection, workspace_id: int, history: History) -> None:
    """The history as store rows, with the generated ids."""
    if history.accounts:
        conn.execute(
            schema.accounts.insert(),
            [
                {**asdict(a), "workspace_id": workspace_id, "updated_at": a.created_at}
                for a in history.accounts
            ],
        )
    conn.execute(
        schema.people.insert(),
        [
            {
                **asdict(p),
                "workspace_id": workspace_id,
                "stage_changed_at": p.created_at,
                "updated_at": p.created_at,
            }
            for p in history.people
        ],
    )
    if history.events:
        conn.execute(
            schema.events.insert(),
            [
                {
                    **asdict(e),
                    "workspace_id": workspace_id,
                    "message_id": f"m{i}",
                    "type": "track",
                    "received_at": e.timestamp,
                }
                for i, e in enumerate(history.events)
            ],
        )


def differences(actual: list[Any], expected: list[oracle.Score]) -> list[str]:
    """Every field on which engine and oracle disagree, as readable lines."""
    found: list[str] = []

    def compare(a: Any, b: Any, where: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            if set(a) != set(b):
                found.append(f"{where}: keys {sorted(a)} != {sorted(b)}")
            for key in set(a) & set(b):
                compare(a[key], b[key], f"{where}.{key}")
        elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
            if len(a) != len(b):
                found.append(f"{where}: engine {a!r} != oracle {b!r}")
            else:
                for i, (x, y) in enumerate(zip(a, b, strict=True)):
                    compare(x, y, f"{where}[{i}]")
        elif isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or a is None:
            if a != b or type(a) is not type(b):
                found.append(f"{where}: engine {a!r} != oracle {b!r}")
        elif isinstance(a, int | float) and isinstance(b, int | float):
            if not math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6):
                found.append(f"{where}: engine {a!r} != oracle {b!r}")
        elif a != b:
            found.append(f"{where}: engine {a!r} != oracle {b!r}")

    engine_ids = [s.person_id for s in actual]
    oracle_ids = [s.person_id for s in expected]
    if engine_ids != oracle_ids:
        return [f"people: engine {engine_ids} != oracle {oracle_ids}"]
    for mine, theirs in zip(actual, expected, strict=True):
        compare(asdict(mine), asdict(theirs), f"person {mine.person_id}")
    return found


def assert_agree(actual: list[Any], expected: list[oracle.Score]) -> None:
    problems = differences(actual, expected)
    assert not problems, "engine and oracle disagree:\n" + "\n".join(sorted(problems))


def expected_scores(text: str, history: History) -> list[oracle.Score]:
    return oracle.score(
        load_spec(text),
        people=history.people,
        accounts=history.accounts,
        events=history.events,
        as_of=aware(history.as_of),
    )


@settings(max_examples=60, deadline=None)
@given(text=specs(), history=histories(), as_pandas=st.booleans())
def test_duckdb_agrees_with_the_oracle(text: str, history: History, as_pandas: bool) -> None:
    inputs: dict[str, Any] = frames(history)
    if as_pandas:
        inputs = {kind: table.to_pandas() for kind, table in inputs.items()}
    actual = score_frames(load_spec(text), **inputs, as_of=aware(history.as_of))
    assert_agree(actual, expected_scores(text, history))


def check_store(engine: sa.Engine, text: str, history: History, subset: list[int]) -> None:
    """Score in the store (everyone, then a subset) inside a transaction rolled back after."""
    spec = load_spec(text)
    expected = expected_scores(text, history)
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            workspace = create_workspace(conn, f"oracle-{uuid.uuid4().hex[:12]}")
            insert(conn, workspace.id, history)
            as_of = aware(history.as_of)
            assert_agree(score_store(conn, workspace.id, spec, as_of=as_of), expected)
            some = score_store(conn, workspace.id, spec, as_of=as_of, person_ids=subset)
            assert_agree(some, [s for s in expected if s.person_id in subset])
        finally:
            transaction.rollback()


@st.composite
def store_cases(draw: st.DrawFn) -> tuple[str, History, list[int]]:
    history = draw(histories())
    ids = [p.id for p in history.people]
    # Some of the people, maybe an id that is nobody's.
    subset = draw(st.lists(st.sampled_from([*ids, 999]), unique=True, max_size=3))
    return draw(specs()), history, subset


@settings(max_examples=25, deadline=None)
@given(case=store_cases())
def test_sqlite_store_agrees_with_the_oracle(
    oracle_sqlite: sa.Engine, case: tuple[str, History, list[int]]
) -> None:
    check_store(oracle_sqlite, *case)


@pytest.mark.postgres
@settings(max_examples=25, deadline=None)
@given(case=store_cases())
def test_postgres_store_agrees_with_the_oracle(
    oracle_postgres: sa.Engine, case: tuple[str, History, list[int]]
) -> None:
    check_store(oracle_postgres, *case)
