"""docs/cli.md is generated from the commands; it must match them."""

from __future__ import annotations

from pathlib import Path

from winnow.cli.reference import reference

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_the_committed_reference_matches_the_commands() -> None:
    assert DOCS.read_text(encoding="utf-8") == reference(), (
        "docs/cli.md is out of date with the commands; regenerate it with "
        "`.venv/bin/python -m winnow.cli.reference > docs/cli.md`"
    )


def test_the_reference_documents_every_command_and_option() -> None:
    text = reference()
    for heading in (
        "## winnow init",
        "## winnow import",
        "## winnow score",
        "## winnow leads",
        "## winnow explain",
        "## winnow move",
        "## winnow demo",
        "## winnow spec check",
        "## winnow spec publish",
        "## winnow spec show",
    ):
        assert f"\n{heading}\n" in text, heading
    assert "winnow import [OPTIONS] KIND FILE" in text
    assert "- `--as-of AS_OF`: Score as of this instant (ISO 8601); default now." in text
    assert "- `--score`, `--no-score`: Rescore everyone with it. (default `--score`)" in text
    assert "(env `WINNOW_DATABASE_URL`; default `sqlite:///winnow.db`)" in text
    assert "completion" not in text
