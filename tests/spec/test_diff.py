"""Spec diffs: changed lines with their numbers on both sides, unchanged runs left out."""

from __future__ import annotations

from winnow.spec.diff import diff


def test_a_changed_line_shows_as_removed_then_added_with_its_context() -> None:
    old = "\n".join(f"line {n}" for n in range(1, 11))
    new = old.replace("line 5", "line five").replace("line 10", "line 10\nline 11")
    found = [(d.kind, d.text, d.old, d.new) for d in diff(old, new, context=1)]
    assert found == [
        ("same", "line 4", 4, 4),
        ("removed", "line 5", 5, None),
        ("added", "line five", None, 5),
        ("same", "line 6", 6, 6),
        ("skip", "…", None, None),
        ("same", "line 10", 10, 10),
        ("added", "line 11", None, 11),
    ]


def test_identical_specs_have_no_diff() -> None:
    assert diff("a: 1\n", "a: 1\n") == []
