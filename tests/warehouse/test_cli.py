"""`winnow score --source` end to end: files in, a Parquet file of scores out."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests.warehouse.conftest import AS_OF, SPEC_PATH, World, mapping_yaml, team_tables
from tests.warehouse.test_score import check_output
from typer.testing import CliRunner

from winnow.cli import app
from winnow.cli.context import console, errors


@pytest.fixture
def parquet_source(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for output in (console, errors):
        monkeypatch.setattr(output, "width", 200)
    source = tmp_path / "lake"
    source.mkdir()
    for name, table in team_tables(world, text_keys=True, spread_events=True).items():
        pq.write_table(table, source / f"{name}.parquet")
    return source


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    flat = [
        " ".join(re.sub(r"\x1b\[[0-9;]*m", "", text).split())
        for text in (result.stdout, result.stderr)
    ]
    return result.exit_code, flat[0], flat[1]


def test_score_a_parquet_lake_into_a_parquet_file(
    world: World, parquet_source: Path, tmp_path: Path
) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        mapping_yaml(
            contacts="contacts",
            companies="companies",
            tracks="tracks",
            spread_events=True,
            spec=str(SPEC_PATH),
        )
    )
    out = tmp_path / "out" / "scores.parquet"
    code, stdout, stderr = run(
        "score",
        "--source",
        str(parquet_source),
        "--mapping",
        str(mapping),
        "--as-of",
        AS_OF.isoformat(),
        "--out",
        str(out),
    )
    assert code == 0, stderr
    assert stdout.startswith(f"scored 18 people as of 2026-06-01 09:30 UTC; wrote {out}")
    keys = {i: f"C-{i:04d}" for i in world.frames["people"].column("id").to_pylist()}
    check_output(world, pq.read_table(out), "contact_key", keys)


def test_a_mapping_that_does_not_fit_is_refused_naming_the_column(
    parquet_source: Path, tmp_path: Path
) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        mapping_yaml(
            contacts="contacts", companies="companies", tracks="tracks", spread_events=True
        ).replace("email: work_email", "email: e_mail")
    )
    code, stdout, stderr = run(
        "score",
        "--source",
        str(parquet_source),
        "--mapping",
        str(mapping),
        "--spec",
        str(SPEC_PATH),
        "--out",
        "table:scores",
    )
    assert code == 1
    assert stderr == (
        f"error: the mapping does not fit the tables of {parquet_source}: "
        "people.columns.email: people table 'contacts' has no column 'e_mail' "
        "(did you mean 'email'?)"
    )
    assert not (parquet_source / "scores.parquet").exists()


def test_warehouse_options_need_each_other(parquet_source: Path, tmp_path: Path) -> None:
    code, _, stderr = run("score", "--source", str(parquet_source), "--out", "table:x")
    assert (code, stderr) == (1, "error: --source needs --mapping FILE (see docs/warehouse.md)")
    code, _, stderr = run("score", "--all", "--out", "table:x")
    assert (code, stderr) == (
        1,
        "error: --mapping, --spec and --out go with --source (warehouse mode)",
    )
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        mapping_yaml(
            contacts="contacts", companies="companies", tracks="tracks", spread_events=True
        )
    )
    code, _, stderr = run(
        "score", "--source", str(parquet_source), "--mapping", str(mapping), "--out", "table:x"
    )
    assert (code, stderr) == (
        1,
        "error: say which spec to score with: --spec FILE, or `spec:` in the mapping",
    )
