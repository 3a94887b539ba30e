"""Bad mappings are refused before scoring, every problem named by its key and column."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from tests.warehouse.conftest import AS_OF, World, mapping_yaml, team_tables

from winnow.spec import load_spec_file
from winnow.spec.expr import STAGES
from winnow.warehouse import MappingInvalid, parse_mapping, parse_out, score_warehouse
from winnow.warehouse.mapping import SourceMapping

from .conftest import SPEC_PATH

SPEC = load_spec_file(SPEC_PATH)
GOOD = mapping_yaml(
    contacts="contacts", companies="companies", tracks="tracks", spread_events=False
)


def problems_of(text: str) -> list[str]:
    with pytest.raises(MappingInvalid) as caught:
        parse_mapping(text)
    return caught.value.problems


@pytest.fixture(scope="module")
def warehouse(world: World, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("mapping") / "team.duckdb"
    con = duckdb.connect(str(path))
    for name, table in team_tables(world, text_keys=True, spread_events=False).items():
        con.register("frame", table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
        con.unregister("frame")
    con.close()
    return f"duckdb:///{path}"


def score_problems(url: str, mapping: SourceMapping) -> list[str]:
    with pytest.raises(MappingInvalid) as caught:
        score_warehouse(url, mapping, SPEC, as_of=AS_OF)
    return caught.value.problems


def test_the_good_mapping_scores(warehouse: str) -> None:
    result, written = score_warehouse(warehouse, parse_mapping(GOOD), SPEC, as_of=AS_OF)
    assert written is None
    assert result.table.num_rows == 18


def test_unknown_keys_are_named_with_a_suggestion() -> None:
    text = GOOD.replace("  columns:\n    id: contact_key", "  colums:\n    id: contact_key", 1)
    text = text.replace("    email: work_email", "    emial: work_email")
    text = text.replace("  context: ctx", "  contxt: ctx")
    problems = problems_of(text)
    assert (
        "people.colums: unknown key; did you mean 'columns'? "
        "expected one of table, columns, traits, stage_values" in problems
    )
    assert "events.contxt: unknown key; did you mean 'context'? " in problems[-1]


def test_an_unknown_field_is_named() -> None:
    problems = problems_of(GOOD.replace("    email: work_email", "    emial: work_email"))
    assert problems == [
        "people.columns.emial: unknown key; did you mean 'email'? expected one of id, "
        "account_id, email, email_domain, user_id, owner, created_at, stage, recycled_at"
    ]


def test_values_of_the_wrong_type_are_named() -> None:
    problems = problems_of(
        GOOD.replace("    owner: rep", "    owner: [rep, manager]").replace(
            "'Customer': customer", "'Customer': paying"
        )
    )
    assert problems == [
        "people.columns.owner: must be a column name (text), not ['rep', 'manager']",
        f"people.stage_values: 'paying' is not a stage; stages are {', '.join(STAGES)}",
    ]


def test_a_missing_section_is_named() -> None:
    assert problems_of(GOOD[: GOOD.index("events:")]) == ["events: required"]


def test_every_missing_column_is_reported_at_once(warehouse: str) -> None:
    text = (
        GOOD.replace("email: work_email", "email: mail")
        .replace("plan: billing_plan", "plan: plan_name")
        .replace("timestamp: sent_at", "timestamp: sent")
        .replace("properties: {json: props}", "properties: {json: properties}")
    )
    problems = score_problems(warehouse, parse_mapping(text))
    assert [p.split(" (did you mean")[0].split(";")[0] for p in problems] == [
        "people.columns.email: people table 'contacts' has no column 'mail'",
        "accounts.columns.plan: accounts table 'companies' has no column 'plan_name'",
        "events.columns.timestamp: events table 'tracks' has no column 'sent'",
        "events.properties.json: events table 'tracks' has no column 'properties'",
    ]
    assert "(did you mean 'sent_at'?)" in problems[2]


def test_a_required_field_left_unmapped_is_named(warehouse: str) -> None:
    problems = score_problems(warehouse, parse_mapping(GOOD.replace("name: event, ", "")))
    assert problems == [
        "events.columns.name: not mapped, and events table 'tracks' has no column 'name'; "
        "its columns: contact_key, event, sent_at, ctx, props"
    ]


def test_columns_of_the_wrong_type_are_named(warehouse: str) -> None:
    text = GOOD.replace("timestamp: sent_at", "timestamp: event").replace(
        "created_at: opened", "created_at: company_name"
    )
    text = text.replace("context: ctx", "context: {json: sent_at}")
    assert score_problems(warehouse, parse_mapping(text)) == [
        "accounts.columns.created_at: column 'company_name' is string; "
        "it must be a timestamp or a date",
        "events.columns.timestamp: column 'event' is string; it must be a timestamp or a date",
        "events.context.json: column 'sent_at' is timestamp('UTC', 6); "
        "it must be JSON, JSON text or a struct",
    ]


def test_a_missing_table_is_named(warehouse: str) -> None:
    text = GOOD.replace("table: companies", "table: firms")
    assert score_problems(warehouse, parse_mapping(text)) == [
        f"accounts.table: no table 'firms' in {warehouse}"
    ]


def test_stages_the_mapping_does_not_know_are_named(warehouse: str) -> None:
    text = GOOD.replace("'Customer': customer, ", "").replace(", 'Customer': customer", "")
    assert score_problems(warehouse, parse_mapping(text)) == [
        "people.columns.stage: column 'lifecycle' holds 'Customer', which are not stages "
        f"({', '.join(STAGES)}); name them in people.stage_values"
    ]


def test_repeated_keys_are_named(warehouse: str, tmp_path: Path) -> None:
    con = duckdb.connect(warehouse.removeprefix("duckdb:///"))
    con.execute("CREATE TABLE twice AS SELECT * FROM contacts UNION ALL SELECT * FROM contacts")
    con.close()
    problems = score_problems(
        warehouse, parse_mapping(GOOD.replace("table: contacts", "table: twice"))
    )
    assert problems == [
        "people.columns.id: column 'contact_key' must be unique, but 'C-0001', 'C-0002', "
        "'C-0003', 'C-0004', 'C-0005' appear more than once"
    ]


def test_sources_and_targets_that_cannot_be_used(tmp_path: Path) -> None:
    with pytest.raises(MappingInvalid, match="no DuckDB file at"):
        score_warehouse(
            f"duckdb:///{tmp_path}/nothing.duckdb", parse_mapping(GOOD), SPEC, as_of=AS_OF
        )
    with pytest.raises(MappingInvalid, match=r"^people.table: no contacts.parquet or folder"):
        score_warehouse(str(tmp_path), parse_mapping(GOOD), SPEC, as_of=AS_OF)
    with pytest.raises(MappingInvalid, match="^--source: cannot open postgresql://"):
        score_warehouse(
            "postgresql://nobody@127.0.0.1:1/none", parse_mapping(GOOD), SPEC, as_of=AS_OF
        )
    with pytest.raises(MappingInvalid, match="neither a DuckDB file"):
        score_warehouse(str(tmp_path / "nowhere"), parse_mapping(GOOD), SPEC, as_of=AS_OF)
    with pytest.raises(MappingInvalid, match="^--out: tracks is the events table; pick another"):
        score_warehouse(str(tmp_path), parse_mapping(GOOD), SPEC, as_of=AS_OF, out="table:tracks")
    with pytest.raises(ValueError, match="--out takes table:NAME or a file ending in .parquet"):
        parse_out("scores.csv")
    with pytest.raises(ValueError, match="needs a table name"):
        parse_out("table:")
