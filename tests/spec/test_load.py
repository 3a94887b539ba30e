"""Loading specs: a valid spec loads; each kind of mistake is named, located and explained."""

from __future__ import annotations

from pathlib import Path

import pytest

from winnow.spec import SpecInvalid, load_spec, load_spec_file

EXAMPLE = Path(__file__).parents[2] / "examples" / "winnow.yaml"

MINIMAL = """
fit:
  rules:
    - {name: big, when: 'account.employees >= 100', points: 10}
engagement:
  half_life: 30d
  rules:
    - {name: pricing, event: Page Viewed, where: 'starts_with(properties.path, "/pricing")', points: 5}
metrics:
  messages: {sum: properties.count, event: Message Sent}
stages:
  mql: 'engagement >= 20 and grade in ("A", "B")'
"""


def errors_of(source: str) -> list[str]:
    with pytest.raises(SpecInvalid) as caught:
        load_spec(source)
    return [str(e) for e in caught.value.errors]


def test_the_example_spec_uses_every_section_and_loads() -> None:
    spec = load_spec_file(EXAMPLE)
    assert len(spec.fit) >= 5 and len(spec.engagement) >= 10
    assert {m.metric.kind for m in spec.metrics} == {
        "count", "count_distinct", "sum", "max", "active_days", "longest_streak",
    }  # fmt: skip
    assert set(spec.stages) == {"mql", "sql", "pql", "csql"}
    assert spec.document.accounts.fit and spec.segments


def test_durations_become_seconds_and_half_life_can_be_overridden() -> None:
    spec = load_spec(MINIMAL.replace("points: 5}", "points: 5, once_per: 1d, half_life: 12h}"))
    rule = spec.engagement[0]
    assert rule.rule.once_per == 86400
    assert rule.half_life == 12 * 3600


def test_a_rule_can_opt_out_of_decay() -> None:
    spec = load_spec(MINIMAL.replace("points: 5}", "points: 5, half_life: none}"))
    assert spec.engagement[0].half_life is None


def test_unknown_name_is_located_and_gets_a_suggestion() -> None:
    [error] = errors_of(MINIMAL.replace("engagement >= 20", "engagment >= 20"))
    assert error.startswith("stages.mql (line 12): unknown name 'engagment'")
    assert error.endswith("did you mean 'engagement'?")


def test_unknown_metric_and_function_get_suggestions() -> None:
    errors = errors_of(
        MINIMAL.replace("engagement >= 20", 'metrics.mesages >= 20 and did_it("Signed Up")')
    )
    assert "unknown metric 'mesages'; did you mean 'messages'?" in errors[0]
    assert "unknown function 'did_it'; did you mean 'did'?" in errors[1]


def test_unknown_key_gets_a_suggestion_and_expression_errors_still_show() -> None:
    source = MINIMAL.replace("points: 5}", "points: 5, mx: 3}").replace("grade in", "grde in")
    errors = errors_of(source)
    assert "engagement.rules[0].mx (line 8): unknown key 'mx'; did you mean 'max'?" in errors
    assert any("unknown name 'grde'; did you mean 'grade'?" in e for e in errors)


def test_every_error_is_listed_not_just_the_first() -> None:
    source = MINIMAL.replace("account.employees >= 100", "acount.employees >= 100").replace(
        "engagement >= 20", 'stage == "mqll"'
    )
    errors = errors_of(source)
    assert len(errors) == 2
    assert "fit.rules[0].when" in errors[0] and "did you mean 'account'?" in errors[0]
    assert "'mqll' is not a stage; did you mean 'mql'?" in errors[1]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("engagement >= ", "syntax error"),
        ("engagement + 1", "expected a condition"),
        ("grade >= 10", "cannot compare a text with a number"),
        ("__import__('os')", "unknown function '__import__'"),
        ("person.title.upper()", "only plain function calls are allowed"),
        ("matches(person.title, '(')", "invalid regular expression"),
        ("count('Signed Up', whithin='7d') > 1", "count() has no argument 'whithin'"),
        ("count('Signed Up', within='7 days') > 1", "invalid duration '7 days'"),
        ("[1, 2]", "a list can only follow 'in'"),
        ("engagement in 5", "'in' needs a list"),
        ("fit is 3", "'is' can only compare with None"),
        ("lambda: 1", "is not allowed in a spec expression"),
    ],
)
def test_each_kind_of_expression_mistake_has_its_own_message(expression: str, message: str) -> None:
    errors = errors_of(
        MINIMAL.replace('\'engagement >= 20 and grade in ("A", "B")\'', repr(expression))
    )
    assert any(message in e for e in errors), errors


def test_aggregates_are_only_allowed_where_a_person_is_scored() -> None:
    errors = errors_of(MINIMAL.replace("account.employees >= 100", 'did("Signed Up")'))
    assert "did() is only allowed in stages and segments" in errors[0]


def test_structural_mistakes_name_their_location() -> None:
    errors = errors_of(
        MINIMAL.replace("half_life: 30d", "half_life: 30").replace("points: 10", "points: many")
    )
    assert any("fit.rules[0].points (line 4)" in e for e in errors)
    assert any("engagement.half_life (line 6)" in e and "needs a unit" in e for e in errors)


def test_a_metric_needs_exactly_one_kind() -> None:
    errors = errors_of(
        MINIMAL.replace("{sum: properties.count,", "{sum: properties.count, max: properties.count,")
    )
    assert any("exactly one of" in e and "found sum, max" in e for e in errors)


def test_duplicate_rule_names_are_refused() -> None:
    source = MINIMAL.replace(
        "    - {name: big,",
        "    - {name: big, when: 'account.plan == \"paid\"', points: 1}\n    - {name: big,",
    )
    assert any("rule name 'big' is used twice" in e for e in errors_of(source))


def test_grades_must_descend() -> None:
    source = MINIMAL.replace("fit:\n", "fit:\n  grades: {A: 10, B: 20, C: 5}\n")
    assert any("A >= B >= C" in e for e in errors_of(source))


def test_a_null_key_is_an_error_not_a_hang() -> None:
    for source in ("? \n", "null: 1\n", "fit:\n  null: 1\n"):
        with pytest.raises(SpecInvalid) as caught:
            load_spec(source)
        assert caught.value.errors, source


def test_handoff_and_account_segments_are_checked_where_they_are_written() -> None:
    spec = load_spec_file(EXAMPLE)
    assert set(spec.hand_raises) == {"demo request", "contact sales", "pricing twice in a week"}
    assert "paying for under a week" in spec.account_segments
    # The last owner rule (round-robin for everyone) needs no condition.
    assert [key for key, _ in spec.conditions()][-3:] == [
        "hand_raise:pricing twice in a week", "route:0", "route:1",
    ]  # fmt: skip
    broken = MINIMAL + (
        "segments:\n  big: {accounts: 'acount.employees > 100'}\n"
        "handoff:\n  calendar: {timezone: Mars/Olympus}\n"
        "  hand_raise:\n    - {name: demo, when: 'did(\"Demo\", within=7)'}\n"
    )
    found = errors_of(broken)
    assert any(e.startswith("segments.big.accounts") and "'acount'" in e for e in found), found
    assert any(e.startswith("handoff.calendar") and "Mars/Olympus" in e for e in found), found
