"""Adding and replacing a segment changes its lines only: comments and layout stay."""

from __future__ import annotations

import pytest

from winnow.spec import load_spec
from winnow.spec.edit import with_segment

SOURCE = """\
# Our spec: keep this comment.
engagement:
  rules:
    - {name: demo, event: Demo Requested, points: 40}
stages:
  mql: 'engagement >= 40'   # tuned in May
segments:
  # the hot ones
  demo askers: 'did("Demo Requested")'
  two lines: >-
    engagement >= 10
# the end
"""


def test_a_new_segment_goes_at_the_end_of_the_block() -> None:
    edited = with_segment(SOURCE, "big", "engagement >= 80")
    assert edited.splitlines()[7:12] == [
        "  # the hot ones",
        "  demo askers: 'did(\"Demo Requested\")'",
        "  two lines: >-",
        "    engagement >= 10",
        "  'big': 'engagement >= 80'",
    ]
    assert "# Our spec: keep this comment." in edited and "# tuned in May" in edited
    assert set(load_spec(edited).segments) == {"demo askers", "two lines", "big"}


def test_an_existing_segment_is_replaced_in_place_even_over_two_lines() -> None:
    edited = with_segment(SOURCE, "two lines", "engagement >= 20")
    assert "  'two lines': 'engagement >= 20'" in edited.splitlines()
    assert "engagement >= 10" not in edited and "# the end" in edited
    spec = load_spec(edited)
    assert spec.document.segments["two lines"] == "engagement >= 20"
    assert spec.document.segments["demo askers"] == 'did("Demo Requested")'


def test_a_spec_without_segments_gets_the_block_and_quotes_survive() -> None:
    edited = with_segment("stages:\n  mql: 'engagement >= 1'\n", "it's", 'did("Signed Up")')
    assert load_spec(edited).document.segments == {"it's": 'did("Signed Up")'}


def test_what_cannot_be_edited_line_by_line_is_refused() -> None:
    with pytest.raises(ValueError, match="each on one line"):
        with_segment(SOURCE, "x", "a\nb")
    with pytest.raises(ValueError, match="not a block mapping"):
        with_segment("segments: {a: 'did(\"X\")'}\n", "b", 'did("Y")')
