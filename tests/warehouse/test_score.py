"""Warehouse scoring gives every person the score `score_frames` gives on the same data."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from tests.warehouse.conftest import AS_OF, SPEC_PATH, World, mapping_yaml, team_tables

from winnow.engine import PersonScore, score_frames
from winnow.lifecycle import Snapshot, promotions
from winnow.spec import load_spec_file
from winnow.warehouse import parse_mapping, score_warehouse

SPEC = load_spec_file(SPEC_PATH)


def expected(world: World) -> list[PersonScore]:
    return score_frames(SPEC, **world.frames, as_of=AS_OF)


def comparable(score: PersonScore) -> dict[str, Any]:
    """Everything but the engine's own ids (renumbered when the team's keys are text)."""
    values = dataclasses.asdict(score)
    values["person_id"] = None
    values["account_id"] = score.account_id is not None
    return values


def assert_close(actual: Any, wanted: Any, where: str = "") -> None:
    if isinstance(wanted, float) and isinstance(actual, float):
        assert math.isclose(actual, wanted, rel_tol=1e-9, abs_tol=1e-9), (where, actual, wanted)
    elif isinstance(wanted, dict):
        assert isinstance(actual, dict) and actual.keys() == wanted.keys(), (where, actual, wanted)
        for key in wanted:
            assert_close(actual[key], wanted[key], f"{where}.{key}")
    elif isinstance(wanted, list | tuple):
        assert isinstance(actual, list | tuple) and len(actual) == len(wanted), (where, actual)
        for n, (a, w) in enumerate(zip(actual, wanted, strict=True)):
            assert_close(a, w, f"{where}[{n}]")
    else:
        assert actual == wanted, (where, actual, wanted)


def check_output(world: World, table: pa.Table, key_column: str, keys: dict[int, Any]) -> None:
    """The written rows: one per person, each equal to `score_frames`'s score for that key."""
    wanted = {keys[s.person_id]: s for s in expected(world)}
    rows = {row[key_column]: row for row in table.to_pylist()}
    assert rows.keys() == wanted.keys()
    for key, score in wanted.items():
        row = rows[key]
        assert_close(row["fit"], score.fit, f"{key}.fit")
        assert_close(row["engagement"], score.engagement, f"{key}.engagement")
        assert_close(row["score"], score.score, f"{key}.score")
        assert row["grade"] == score.grade
        for stage, holds in score.criteria.items():
            assert row[f"qualifies_{stage}"] is holds, (key, stage)
        assert row["stage"] == score.stage
        explanation = score.explanation()
        written = json.loads(row["explanation"])
        if explanation["account"] is not None:
            explanation["account"]["id"] = written["account"]["id"]
        assert_close(written, explanation, f"{key}.explanation")
        assert_close(json.loads(row["metrics"]), score.metrics, f"{key}.metrics")
        moves = promotions(
            person_id=score.person_id,
            stage=score.stage,
            criteria=score.criteria,
            at=AS_OF,
            snapshot=Snapshot(),
            hand_raises=score.hand_raises,
        )
        assert row["next_stage"] == (moves[-1].to_stage if moves else None), key
    # The world has promotions by score and by plan, and people who stay, or the checks
    # above would prove little.
    assert {row["next_stage"] for row in rows.values()} >= {None, "mql", "customer"}
    assert {row["stage"] for row in rows.values()} == {"lead", "mql", "customer"}


def test_parquet_folder_with_text_keys(world: World, tmp_path: Path) -> None:
    for name, table in team_tables(world, text_keys=True, spread_events=True).items():
        if name == "tracks":
            # A folder of Parquet files, as a warehouse export writes them.
            (tmp_path / name).mkdir()
            half = table.num_rows // 2
            pq.write_table(table.slice(0, half), tmp_path / name / "part-0.parquet")
            pq.write_table(table.slice(half), tmp_path / name / "part-1.parquet")
        else:
            pq.write_table(table, tmp_path / f"{name}.parquet")
    mapping = parse_mapping(
        mapping_yaml(
            contacts="contacts", companies="companies", tracks="tracks", spread_events=True
        )
    )
    result, written = score_warehouse(
        str(tmp_path), mapping, SPEC, as_of=AS_OF, out="table:lead_scores"
    )
    assert written == str(tmp_path / "lead_scores.parquet")
    keys = {i: f"C-{i:04d}" for i in world.frames["people"].column("id").to_pylist()}
    wanted = {keys[s.person_id]: comparable(s) for s in expected(world)}
    got_keys = result.table.column("contact_key").to_pylist()
    got = {k: comparable(s) for k, s in zip(got_keys, result.scores, strict=True)}
    assert_close(got, wanted)
    check_output(world, pq.read_table(tmp_path / "lead_scores.parquet"), "contact_key", keys)


def test_duckdb_file_with_integer_keys(world: World, tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA crm")
    for name, table in team_tables(world, text_keys=False, spread_events=False).items():
        con.register("frame", table)
        schema = "main" if name == "tracks" else "crm"
        con.execute(f"CREATE TABLE {schema}.{name} AS SELECT * FROM frame")
        con.unregister("frame")
    # Properties kept as JSON, as a warehouse's event table has them.
    con.execute("ALTER TABLE tracks ALTER props TYPE JSON")
    # Account traits in a struct column.
    con.execute(
        "CREATE TABLE crm.firms AS SELECT company_key, segment_group, company_name, web_domain, "
        "billing_plan, opened, struct_pack(country, employees, industry, website) AS facts "
        "FROM crm.companies"
    )
    con.close()
    text = mapping_yaml(
        contacts="crm.contacts", companies="crm.firms", tracks="tracks", spread_events=False
    )
    mapping = parse_mapping(
        text.replace("    created_at: opened\n", "    created_at: opened\n  traits: facts\n")
    )
    assert mapping.model.accounts is not None
    assert mapping.model.accounts.traits.json_column == "facts"
    result, _ = score_warehouse(
        f"duckdb:///{path}", mapping, SPEC, as_of=AS_OF, out="table:crm.lead_scores"
    )
    # Integer keys are the engine's ids as they are.
    assert_close(
        [dataclasses.asdict(s) for s in result.scores],
        [dataclasses.asdict(s) for s in expected(world)],
    )
    con = duckdb.connect(str(path), read_only=True)
    written = con.sql("SELECT * FROM crm.lead_scores").to_arrow_table()
    con.close()
    keys = {i: i for i in world.frames["people"].column("id").to_pylist()}
    check_output(world, written, "contact_key", keys)


def _postgres_type(field: pa.Field) -> str:
    kind = field.type
    if pa.types.is_integer(kind):
        return "BIGINT"
    if pa.types.is_floating(kind):
        return "DOUBLE PRECISION"
    if pa.types.is_boolean(kind):
        return "BOOLEAN"
    if pa.types.is_timestamp(kind):
        return "TIMESTAMPTZ" if kind.tz else "TIMESTAMP"
    return "TEXT"


@pytest.mark.postgres
def test_postgres_tables(world: World, postgres_engine: sa.Engine) -> None:
    with postgres_engine.begin() as conn:
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
        for name, table in team_tables(world, text_keys=True, spread_events=False).items():
            columns = ", ".join(
                f'"{f.name}" {"JSONB" if f.name == "props" else _postgres_type(f)}'
                for f in table.schema
            )
            conn.execute(sa.text(f'CREATE TABLE "{name}" ({columns})'))
            names = ", ".join(f'"{n}"' for n in table.column_names)
            values = ", ".join(
                f"CAST(:p{n} AS JSONB)" if c == "props" else f":p{n}"
                for n, c in enumerate(table.column_names)
            )
            rows = [{f"p{n}": v for n, v in enumerate(row.values())} for row in table.to_pylist()]
            conn.execute(sa.text(f'INSERT INTO "{name}" ({names}) VALUES ({values})'), rows)
    mapping = parse_mapping(
        mapping_yaml(
            contacts=f"{schema}.contacts",
            companies=f"{schema}.companies",
            tracks=f"{schema}.tracks",
            spread_events=False,
        )
    )
    url = str(postgres_engine.url.render_as_string(hide_password=False))
    result, written = score_warehouse(
        url, mapping, SPEC, as_of=AS_OF, out=f"table:{schema}.lead_scores"
    )
    assert written == f"{schema}.lead_scores in {url}"
    keys = {i: f"C-{i:04d}" for i in world.frames["people"].column("id").to_pylist()}
    wanted = {keys[s.person_id]: comparable(s) for s in expected(world)}
    got_keys = result.table.column("contact_key").to_pylist()
    got = {k: comparable(s) for k, s in zip(got_keys, result.scores, strict=True)}
    assert_close(got, wanted)
    with postgres_engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.text("SELECT * FROM lead_scores")).mappings()]
    check_output(world, pa.Table.from_pylist(rows), "contact_key", keys)


# Ibis 12's SQLite backend reads a pandas option that pandas 3 deprecates.
@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")
def test_any_other_ibis_backend_through_a_local_copy(world: World, tmp_path: Path) -> None:
    # SQLite stands in for BigQuery or Snowflake: a backend the engine does not run on.
    path = tmp_path / "team.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        for name, table in team_tables(world, text_keys=True, spread_events=False).items():
            types = {
                f.name: sa.DateTime()
                if pa.types.is_timestamp(f.type)
                else sa.BigInteger()
                if pa.types.is_integer(f.type)
                else sa.Float()
                if pa.types.is_floating(f.type)
                else sa.Text()
                for f in table.schema
            }
            target = sa.Table(name, sa.MetaData(), *(sa.Column(n, t) for n, t in types.items()))
            target.create(conn)
            rows = table.to_pylist()
            for row in rows:
                for key, value in row.items():
                    if hasattr(value, "tzinfo") and value.tzinfo is not None:
                        row[key] = value.astimezone(UTC).replace(tzinfo=None)
            conn.execute(target.insert(), rows)
    engine.dispose()
    mapping = parse_mapping(
        mapping_yaml(
            contacts="contacts", companies="companies", tracks="tracks", spread_events=False
        )
    )
    result, written = score_warehouse(
        f"sqlite:///{path}", mapping, SPEC, as_of=AS_OF, out="table:lead_scores"
    )
    keys = {i: f"C-{i:04d}" for i in world.frames["people"].column("id").to_pylist()}
    wanted = {keys[s.person_id]: comparable(s) for s in expected(world)}
    got_keys = result.table.column("contact_key").to_pylist()
    got = {k: comparable(s) for k, s in zip(got_keys, result.scores, strict=True)}
    assert_close(got, wanted)
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.text("SELECT * FROM lead_scores")).mappings()]
    engine.dispose()
    for row in rows:  # SQLite keeps booleans as 0 and 1
        row.update({k: bool(v) for k, v in row.items() if k.startswith("qualifies_")})
    check_output(world, pa.Table.from_pylist(rows), "contact_key", keys)
