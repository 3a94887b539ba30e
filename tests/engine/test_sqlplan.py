"""Compiled plans are reused: one compilation per spec, rendered for each instant."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa
from tests.factories import make_group, make_identify, make_page, make_track

from winnow.engine import score_frames, score_store
from winnow.engine.run import FRAME_SCHEMAS, score_duckdb, source_tables, to_scores
from winnow.engine.sqlplan import (
    SENTINEL_EPOCH,
    SENTINEL_WORKSPACE,
    TEMPLATE_PREFIX,
    sql_plan,
)
from winnow.ingest import ingest_messages
from winnow.spec import load_spec
from winnow.store.frames import load_frames
from winnow.store.workspaces import Workspace

SPEC = load_spec((Path(__file__).parents[2] / "examples" / "winnow.yaml").read_text("utf-8"))
DAY = timedelta(days=1)
END = datetime(2026, 6, 1, tzinfo=UTC)


def rounded(value: Any) -> Any:
    """Scores with floats to 9 digits: backends sum decayed weights in different orders."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return rounded(asdict(value))
    return value


def template(key: str = "frames"):  # type: ignore[no-untyped-def]
    return sql_plan(
        SPEC,
        lambda: source_tables("frame_", FRAME_SCHEMAS),
        dialect="duckdb",
        recycling=False,
        key=key,
    )


def test_a_spec_is_compiled_once_and_rendered_per_instant() -> None:
    plan = template()
    assert template() is plan
    sql = "\n".join([plan.final, *(s.sql for s in plan.steps)])
    assert str(SENTINEL_EPOCH) in sql and TEMPLATE_PREFIX in sql

    epoch = int(END.timestamp())
    rendered = plan.render(as_of=END, workspace_id=42, prefix="winnow_abc")
    text = "\n".join([rendered.final, *(s.sql for s in rendered.steps)])
    assert str(SENTINEL_EPOCH) not in text and TEMPLATE_PREFIX not in text
    assert str(epoch) in text
    assert all(s.name.startswith("winnow_abc_") for s in rendered.steps)


def test_the_workspace_placeholder_is_filled_in(conn: sa.Connection, workspace: Workspace) -> None:
    ingest_messages(conn, workspace.id, [make_identify()], received_at=END, source="test")
    score_store(conn, workspace.id, SPEC, as_of=END)
    dialect = "postgres" if conn.dialect.name == "postgresql" else "sqlite"
    from winnow.engine.run import store_inputs

    plan = sql_plan(
        SPEC,
        lambda: store_inputs(SENTINEL_WORKSPACE, dialect),
        dialect=dialect,
        recycling=False,
        key="store",
    )
    assert str(SENTINEL_WORKSPACE) in plan.steps[0].sql
    rendered = plan.render(as_of=END, workspace_id=workspace.id, prefix="p")
    assert str(SENTINEL_WORKSPACE) not in rendered.steps[0].sql


def test_reused_plans_score_like_fresh_compilations(
    conn: sa.Connection, workspace: Workspace
) -> None:
    """The store (cached plans, a few people or everyone) and a fresh DuckDB compilation
    agree at several instants, decay and windows included."""
    start = END - 40 * DAY
    messages = [
        make_identify(userId="ada", traits={"email": "ada@initech.com", "title": "VP of Data"}),
        make_group(userId="ada", traits={"plan": "trial", "employees": 120, "country": "US"}),
        make_identify(userId="bo", traits={"email": "bo@gmail.com", "title": "Student"}),
    ]
    for day in range(0, 40, 3):
        at = (start + day * DAY).strftime("%Y-%m-%dT%H:%M:%SZ")
        messages += [
            make_page(userId="ada", timestamp=at, properties={"path": "/pricing"}),
            make_track(userId="ada", event="Query Run", timestamp=at, properties={"rows": day}),
            make_page(userId="bo", timestamp=at, properties={"path": "/blog/x"}),
        ]
    messages.append(
        make_track(userId="ada", event="Data Source Connected", properties={"source": "stripe"})
    )
    result = ingest_messages(conn, workspace.id, messages, received_at=END, source="test")
    assert not result.rejected
    ids = sorted(result.touched)

    for as_of in (start + 10 * DAY, start + 25 * DAY, END):
        frames = load_frames(conn, workspace.id)
        con = duckdb.connect()
        for kind, frame in frames.items():
            con.register(f"frame_{kind}", frame)
        fresh, layout = score_duckdb(
            con, SPEC, source_tables("frame_", FRAME_SCHEMAS), as_of=as_of, recycling=False
        )
        con.close()
        expected = to_scores(fresh.to_pylist(), layout)
        assert rounded(score_frames(SPEC, **frames, as_of=as_of)) == rounded(expected)
        assert rounded(score_store(conn, workspace.id, SPEC, as_of=as_of)) == rounded(expected)
        some = score_store(conn, workspace.id, SPEC, as_of=as_of, person_ids=ids[:1])
        assert rounded(some) == rounded([s for s in expected if s.person_id == ids[0]])
    ada = next(s for s in expected if s.engagement_rules)
    assert {r.name for r in ada.engagement_rules} >= {"pricing page"}
