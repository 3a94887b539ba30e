"""Spark scores exactly as DuckDB does: the demo spec on a replayed world, targeted specs
for each kind of rule and metric, and random specs and histories (the oracle's strategies).

One local Spark session serves the module; without pyspark the module is skipped.
"""

from __future__ import annotations

import gc
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from tests.engine.strategies import History, histories, specs
from tests.engine.test_oracle import differences, frames

from winnow.demo.world import build_world
from winnow.engine import PersonScore, compile_scores, score_frames
from winnow.engine.run import FRAME_SCHEMAS, source_tables
from winnow.engine.sqlplan import as_sql
from winnow.ingest import ingest_messages
from winnow.spec import load_spec
from winnow.store.frames import load_frames
from winnow.store.workspaces import Workspace

pytest.importorskip("pyspark")

from pyspark.sql import DataFrame, SparkSession  # noqa: E402

from winnow.engine.spark import score_spark  # noqa: E402

# PySpark leaves the sockets it fetches results through to the garbage collector.
pytestmark = pytest.mark.filterwarnings("ignore:unclosed <socket:ResourceWarning")

DEMO_SPEC = (Path(__file__).parents[2] / "examples" / "winnow.yaml").read_text(encoding="utf-8")
END = datetime(2026, 11, 1, tzinfo=UTC)
AS_OF = datetime(2026, 6, 1, 12, 0, 0)
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    session = (
        SparkSession.builder.master("local[2]")
        .appName("winnow-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    gc.collect()  # while this module's warning filter holds


def dataframes(spark: SparkSession, tables: dict[str, pa.Table]) -> dict[str, DataFrame]:
    return {kind: spark.createDataFrame(table) for kind, table in tables.items()}


def on_both(
    spark: SparkSession, text: str, tables: dict[str, pa.Table], as_of: datetime
) -> tuple[list[PersonScore], list[PersonScore]]:
    spec = load_spec(text)
    on_spark = score_spark(spark, spec, **dataframes(spark, tables), as_of=as_of)
    on_duckdb = score_frames(spec, **tables, as_of=as_of)
    return on_spark, on_duckdb


def assert_same(on_spark: list[PersonScore], on_duckdb: list[PersonScore]) -> None:
    problems = differences(on_spark, on_duckdb)
    assert not problems, "Spark and DuckDB disagree:\n" + "\n".join(sorted(problems))


# -- the demo spec on a replayed world -----------------------------------------------------------
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # the store only holds the world
def test_the_demo_spec_scores_a_world_as_on_duckdb(
    spark: SparkSession, conn: sa.Connection, workspace: Workspace
) -> None:
    world = build_world(5, people=150, accounts=45, end=END)
    ingest_messages(conn, workspace.id, world.messages, received_at=END, source="test")
    tables = load_frames(conn, workspace.id)
    # Ingestion makes everyone a lead; stages and recycling vary here so that the stage
    # criteria and the recycled engagement have something to tell apart.
    rng = random.Random(5)
    people = tables["people"]
    stages = [rng.choice(["lead", "mql", "pql", "customer", "nurture"]) for _ in range(len(people))]
    recycled = [END - rng.randint(1, 60) * DAY if rng.random() < 0.2 else None for _ in stages]
    people = people.set_column(
        people.schema.get_field_index("stage"), "stage", pa.array(stages, pa.string())
    )
    people = people.set_column(
        people.schema.get_field_index("recycled_at"),
        "recycled_at",
        pa.array([r and r.replace(tzinfo=None) for r in recycled], pa.timestamp("us")),
    )
    tables["people"] = people

    on_spark, on_duckdb = on_both(spark, DEMO_SPEC, tables, END)
    assert_same(on_spark, on_duckdb)
    # The comparison means something: the world exercises the spec.
    assert len(on_spark) == len(people) > 150
    assert any(s.criteria["mql"] for s in on_spark)
    assert {s.grade for s in on_spark} >= {"A", "D"}
    assert sum(r.matched for s in on_spark for r in s.engagement_rules) > 1000
    assert any(s.metrics["data_sources"] for s in on_spark)
    held = {name for s in on_spark for name, holds in s.conditions.items() if holds}
    assert held >= {"segment:hot account"}, held


# -- targeted specs --------------------------------------------------------------------------------
TARGETED = """
lists:
  regions: [EU, US]
  sizes: [10, 50.5]
fit:
  rules:
    - {name: numeric trait, when: 'person.employees >= 50', points: 10}
    - {name: text that looks like a number, when: 'person.code == "7"', points: 1}
    - {name: boolean trait, when: 'person.vip', points: 3}
    - {name: null trait, when: 'person.gone == None', points: 2}
    - {name: nested, when: 'person.org.region in regions', points: 5}
    - {name: listed number, when: 'person.employees in sizes', points: 4}
    - {name: regex, when: 'matches(person.title, "(?i)\\\\b(vp|head)\\\\b")', points: 20}
    - {name: named group, when: 'matches(person.title, "^(?P<first>\\\\w+) of")', points: 6}
    - {name: lower, when: 'lower(account.name) == "acme"', points: 7}
    - {name: contains, when: 'contains(person.email, "_x%")', points: 1}
  grades: {A: 30, B: 15, C: 5}
engagement:
  half_life: 7d
  rules:
    - {name: pricing, event: Page Viewed, where: 'starts_with(properties.path, "/pricing")', points: 5, once_per: 1d, max: 12}
    - {name: big rows, event: Query Run, where: 'properties.rows > 100', points: 2}
    - {name: campaign, event: Page Viewed, where: 'context.campaign.medium == "cpc"', points: 3, once_per: 7d, half_life: 2d}
    - {name: unsubscribed, event: Unsubscribed, points: -20, half_life: none, max: 25}
metrics:
  sources: {count_distinct: properties.source, event: Source Connected, scope: account}
  rows: {sum: properties.rows, event: Query Run, within: 30d, scope: account}
  widest: {max: properties.rows, event: Query Run}
  query_days: {active_days: Query Run, within: 14d}
  streak: {longest_streak: Query Run}
  account_streak: {longest_streak: Query Run, scope: account}
accounts:
  people: {top: 2, aggregate: avg}
  fit:
    - {name: big, when: 'account.employees > 100', points: 10}
stages:
  mql: 'engagement >= 10 and grade in ("A", "B")'
  pql: 'metrics.sources >= 2 and days_since(account.created_at) < 60'
  sql: 'did("Demo Requested", within="14d") and count("Page Viewed", where=''starts_with(properties.path, "/pricing")'') >= 2'
  customer_plans: [paid]
segments:
  quiet: 'days_since("Page Viewed") > 3 or days_since("Page Viewed") == None'
  new: 'days_since(person.created_at) < 30'
"""


def targeted_tables() -> dict[str, pa.Table]:
    """Two accounts, people whose traits hold every JSON type, and events for each rule."""
    traits = [
        {"employees": 50.5, "code": "7", "vip": True, "org": {"region": "EU"}, "title": "VP Sales"},
        {"employees": "80", "code": 7, "vip": "true", "gone": None, "title": "Head of Data"},
        {"employees": 10, "org": {"region": ["US"]}, "vip": False, "title": "Director of Ops"},
        {"employees": 2000, "org": "EU", "title": None},
        {},
    ]
    people = [
        (i + 1, account, f"p{i}_x%@acme.com", AS_OF - (10 + 20 * i) * DAY, recycled, json.dumps(t))
        for i, (t, account, recycled) in enumerate(
            zip(
                traits,
                [1, 1, 2, 2, None],
                [None, AS_OF - 3 * DAY, None, None, None],
                strict=True,
            )
        )
    ]
    events: list[tuple[int, str, datetime, dict[str, Any], dict[str, Any]]] = []
    for pid in range(1, 6):
        for day in range(0, 20, pid):
            at = AS_OF - day * DAY - timedelta(hours=pid)
            events.append((pid, "Page Viewed", at, {"path": "/pricing/teams"}, {}))
            events.append((pid, "Query Run", at, {"rows": [150, "500", 99, None][day % 4]}, {}))
        events.append(
            (
                pid,
                "Page Viewed",
                AS_OF - pid * DAY,
                {"path": "/blog"},
                {"campaign": {"medium": "cpc"}},
            )
        )
        events.append(
            (pid, "Source Connected", AS_OF - DAY, {"source": ["pg", 1, "1", 1.0][pid % 4]}, {})
        )
        events.append((pid, "Unsubscribed", AS_OF - 40 * DAY, {}, {}))
    events.append((1, "Demo Requested", AS_OF - 2 * DAY, {}, {}))
    events.append((2, "Query Run", AS_OF + DAY, {"rows": 10_000}, {}))  # after as_of
    return {
        "people": pa.table(
            {
                "id": [p[0] for p in people],
                "account_id": pa.array([p[1] for p in people], pa.int64()),
                "email": [p[2] for p in people],
                "email_domain": ["acme.com"] * len(people),
                "user_id": [f"u{p[0]}" for p in people],
                "owner": pa.array([None] * len(people), pa.string()),
                "created_at": [p[3] for p in people],
                "stage": ["lead", "mql", "customer", "lead", "nurture"],
                "recycled_at": pa.array([p[4] for p in people], pa.timestamp("us")),
                "traits": [p[5] for p in people],
            }
        ),
        "accounts": pa.table(
            {
                "id": [1, 2],
                "group_id": ["g1", "g2"],
                "name": ["ACME", "Globex"],
                "domain": ["acme.com", None],
                "plan": ["paid", "trial"],
                "created_at": [AS_OF - 30 * DAY, AS_OF - 90 * DAY],
                "traits": [json.dumps({"employees": 120}), json.dumps({"employees": "500"})],
            }
        ),
        "events": pa.table(
            {
                "person_id": [e[0] for e in events],
                "name": [e[1] for e in events],
                "timestamp": pa.array([e[2] for e in events], pa.timestamp("us")),
                "properties": [json.dumps(e[3]) for e in events],
                "context": [json.dumps(e[4]) for e in events],
            }
        ),
    }


def test_targeted_specs_score_as_on_duckdb(spark: SparkSession) -> None:
    on_spark, on_duckdb = on_both(spark, TARGETED, targeted_tables(), AS_OF.replace(tzinfo=UTC))
    assert_same(on_spark, on_duckdb)
    first = on_spark[0]
    # Typed JSON reads: 50.5 is a number and listed, "7" is text, nested values are read.
    assert [h.name for h in first.fit_rules] == [
        "numeric trait",
        "text that looks like a number",
        "boolean trait",
        "null trait",
        "nested",
        "listed number",
        "regex",
        "lower",
        "contains",
    ]
    assert [h.name for h in on_spark[2].fit_rules] == [
        "null trait",
        "listed number",
        "named group",
        "contains",
    ]
    rules = {r.name: r for r in first.engagement_rules}
    assert (rules["pricing"].matched, rules["pricing"].counted, rules["pricing"].points) == (
        20,
        20,
        12.0,  # capped
    )
    assert rules["big rows"].matched == 5  # 150 counts, the text "500" does not
    assert first.metrics == {
        "sources": 2.0,  # "pg" and 1 (1.0 is 1; "1" is text)
        "rows": 2490.0,
        "widest": 150.0,  # the event after as_of is not seen
        "query_days": 14.0,
        "streak": 20.0,
        "account_streak": 20.0,
    }
    assert first.criteria == {"mql": False, "sql": True, "pql": True, "customer": True}
    # Recycled three days ago: the unsubscription before does not count.
    assert "unsubscribed" not in {r.name for r in on_spark[1].engagement_rules}
    assert on_spark[4].account_score is None and first.account_fit == 10.0


def test_a_backreference_is_refused_on_spark_by_name() -> None:
    spec = load_spec(
        "fit: {rules: [{name: twice, when: 'matches(person.title, \"(?P<w>a)(?P=w)\")', points: 1}]}"
    )
    inputs = source_tables("t_", FRAME_SCHEMAS)
    as_sql(compile_scores(spec, inputs, as_of=END), "duckdb")  # other backends compile it
    with pytest.raises(ValueError, match=r"backreference \(\?P=\.\.\.\).*Spark"):
        compile_scores(spec, inputs, as_of=END, dialect="spark")


def test_the_session_must_run_in_utc(spark: SparkSession) -> None:
    tables = targeted_tables()
    frames_ = dataframes(spark, tables)
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        with pytest.raises(ValueError, match="timeZone=UTC"):
            score_spark(spark, load_spec(TARGETED), **frames_, as_of=END)
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")


def test_a_missing_column_is_named(spark: SparkSession) -> None:
    frames_ = dataframes(spark, targeted_tables())
    frames_["events"] = frames_["events"].drop("context")
    with pytest.raises(ValueError, match="events frame lacks column.*context"):
        score_spark(spark, load_spec(TARGETED), **frames_, as_of=END)


def test_documents_may_be_structs(spark: SparkSession) -> None:
    """Parquet from a warehouse often holds properties as a struct: read as JSON text."""
    tables = targeted_tables()
    spec = load_spec(TARGETED)
    as_of = AS_OF.replace(tzinfo=UTC)
    expected = score_frames(spec, **tables, as_of=as_of)
    frames_ = dataframes(spark, tables)
    events = frames_["events"]
    schema = "struct<path:string,rows:bigint,source:string>"
    frames_["events"] = events.withColumn(
        "properties", events["properties"].cast("string")
    ).selectExpr(
        "person_id",
        "name",
        "timestamp",
        f"from_json(properties, '{schema}') AS properties",
        "context",
    )
    actual = score_spark(spark, spec, **frames_, as_of=as_of)
    assert engagement(actual) == engagement(expected)
    assert [s.metrics["streak"] for s in actual] == [s.metrics["streak"] for s in expected]


def engagement(scores: list[PersonScore]) -> list[list[tuple[str, int, int, float]]]:
    return [
        [(r.name, r.matched, r.counted, round(r.points, 9)) for r in s.engagement_rules]
        for s in scores
    ]


# -- random specs and histories ------------------------------------------------------------------
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(text=specs(), history=histories())
def test_random_specs_score_as_on_duckdb(spark: SparkSession, text: str, history: History) -> None:
    as_of = history.as_of.replace(tzinfo=UTC)
    assert_same(*on_both(spark, text, frames(history), as_of))
