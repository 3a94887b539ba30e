"""Slack messages: golden structure, escaping, fallbacks, reasons, limits, every type."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from winnow.notify.slack import TEMPLATES, escape, slack_message, truncate

ADA: dict[str, Any] = {
    "person": {"id": 42, "name": "Ada Lovelace", "email": "ada@initech.com", "title": "VP Data"},
    "account": {"id": 7, "name": "Initech", "domain": "initech.com", "plan": "trial"},
    "stage_change": {
        "from": "lead",
        "to": "mql",
        "at": "2026-05-01T12:00:00Z",
        "cause": "rule:stages.mql",
    },
    "score": {"fit": 45.0, "grade": "A", "engagement": 62.0, "score": 107.0},
    "reasons": [{"rule": "demo request", "points": 40.0}, {"rule": "free email", "points": -20.0}],
    "owner": "tanaka@lumen.example",
    "review": None,
    "link": "https://winnow.example/people/42",
}


def _data(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(ADA)
    data.update(changes)
    return data


def _person(**changes: Any) -> dict[str, Any]:
    return {**ADA["person"], **changes}


def _header(message: dict[str, Any]) -> str:
    block = message["blocks"][0]
    assert block["type"] == "header"
    assert block["text"]["type"] == "plain_text"
    text: str = block["text"]["text"]
    return text


def _fields(message: dict[str, Any]) -> list[str]:
    return [
        f["text"] for b in message["blocks"] if b["type"] == "section" for f in b.get("fields", [])
    ]


def _reasons(message: dict[str, Any]) -> str | None:
    contexts = [b for b in message["blocks"] if b["type"] == "context"]
    return contexts[0]["elements"][0]["text"] if contexts else None


def test_mql_golden_structure() -> None:
    assert slack_message("person.mql", ADA) == {
        "text": "New MQL: Ada Lovelace (VP Data) at Initech",
        "blocks": [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": "New MQL: Ada Lovelace (VP Data) at Initech",
                },
            },
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": "*Stage*\nLead → MQL"},
                    {"type": "mrkdwn", "text": "*Score*\n107 (grade A)\nfit 45 · engagement 62"},
                    {"type": "mrkdwn", "text": "*Owner*\ntanaka@lumen.example"},
                ],
            },
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": "Top reasons: +40 demo request · −20 free email"}
                ],
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "<https://winnow.example/people/42|Open in Winnow>",
                },
            },
        ],
    }


def test_message_is_json_serialisable() -> None:
    message = slack_message("person.mql", ADA)
    assert json.loads(json.dumps(message)) == message


# --- escaping -----------------------------------------------------------------------------


def test_channel_ping_and_ampersand_are_escaped_everywhere() -> None:
    data = _data(
        person=_person(name="<!channel>", title="R&D <lead>"),
        account={"id": 7, "name": "Smith & Sons", "domain": None, "plan": None},
        reasons=[{"rule": "<!here> & co", "points": 5}],
        owner="<@U123>",
    )
    message = slack_message("person.sql", data)
    expected = "New SQL: &lt;!channel&gt; (R&amp;D &lt;lead&gt;) at Smith &amp; Sons"
    assert message["text"] == expected
    assert _header(message) == expected
    assert _reasons(message) == "Top reasons: +5 &lt;!here&gt; &amp; co"
    assert "*Owner*\n&lt;@U123&gt;" in _fields(message)
    dumped = json.dumps(message)
    for raw in ("<!channel>", "<!here>", "<@U123>", "Smith & Sons", "R&D"):
        assert raw not in dumped


def test_escape_does_not_double_escape() -> None:
    assert escape("a & b <c> &amp;") == "a &amp; b &lt;c&gt; &amp;amp;"


def test_link_is_escaped_and_cannot_break_out_of_its_label() -> None:
    message = slack_message("person.mql", _data(link="https://w.example/p?a=1&b=<2>|x"))
    assert message["blocks"][-1]["text"]["text"] == (
        "<https://w.example/p?a=1&amp;b=&lt;2&gt;%7Cx|Open in Winnow>"
    )


@pytest.mark.parametrize("link", [None, "", "javascript:alert(1)", "<!channel>"])
def test_no_link_block_without_a_web_link(link: str | None) -> None:
    message = slack_message("person.mql", _data(link=link))
    assert "Open in Winnow" not in json.dumps(message)
    assert message["blocks"][-1]["type"] == "context"


# --- fallbacks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("person", "expected"),
    [
        (_person(name=None), "New MQL: ada@initech.com (VP Data) at Initech"),
        (_person(name="   ", title=None), "New MQL: ada@initech.com at Initech"),
        (_person(name=None, email=None, title=None), "New MQL: person 42 at Initech"),
        ({"id": 42}, "New MQL: person 42 at Initech"),
        (None, "New MQL: an unknown person at Initech"),
    ],
)
def test_person_name_falls_back_to_email_then_id(person: Any, expected: str) -> None:
    assert slack_message("person.mql", _data(person=person))["text"] == expected


def test_account_falls_back_to_domain_then_is_left_out() -> None:
    by_domain = _data(account={"id": 7, "name": None, "domain": "initech.com", "plan": None})
    assert slack_message("person.mql", by_domain)["text"] == (
        "New MQL: Ada Lovelace (VP Data) at initech.com"
    )
    assert slack_message("person.mql", _data(account=None))["text"] == (
        "New MQL: Ada Lovelace (VP Data)"
    )


def test_missing_score_stage_and_owner() -> None:
    message = slack_message("person.mql", _data(score=None, stage_change=None, owner=None))
    assert _fields(message) == ["*Owner*\nUnassigned"]


def test_partial_score_and_stage_without_origin() -> None:
    data = _data(
        score={"score": 12.5, "grade": None, "fit": None, "engagement": 3.0},
        stage_change={"from": None, "to": "pql"},
    )
    assert _fields(slack_message("person.pql", data))[:2] == ["*Stage*\nPQL", "*Score*\n12.5"]
    graded_only = _data(score={"grade": "B"})
    assert "*Score*\nB" in _fields(slack_message("person.mql", graded_only))


def test_empty_payload_still_makes_a_valid_message() -> None:
    message = slack_message("person.mql", {})
    assert message == {
        "text": "New MQL: an unknown person",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "New MQL: an unknown person"},
            },
            {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Owner*\nUnassigned"}]},
        ],
    }


# --- reasons ------------------------------------------------------------------------------


def test_reasons_signs_use_plus_and_true_minus() -> None:
    reasons = [
        {"rule": "pricing page", "points": 12.5},
        {"rule": "competitor", "points": -7.25},
        {"rule": "neutral", "points": 0},
        {"rule": "intern", "points": -30},
    ]
    text = _reasons(slack_message("person.mql", _data(reasons=reasons)))
    assert text == "Top reasons: +12.5 pricing page · −7.2 competitor · +0 neutral · −30 intern"
    assert text is not None and "-" not in text  # ASCII hyphen never used as a minus


def test_at_most_five_reasons_in_the_given_order() -> None:
    reasons = [{"rule": f"rule {i}", "points": float(10 - i)} for i in range(7)]
    text = _reasons(slack_message("person.mql", _data(reasons=reasons)))
    assert text == "Top reasons: +10 rule 0 · +9 rule 1 · +8 rule 2 · +7 rule 3 · +6 rule 4"


def test_malformed_reasons_are_skipped_and_none_means_no_context() -> None:
    reasons = [
        {"rule": "", "points": 5},
        {"rule": "x", "points": "5"},
        "junk",
        {"rule": "ok", "points": 1},
    ]
    assert _reasons(slack_message("person.mql", _data(reasons=reasons))) == "Top reasons: +1 ok"
    empties: list[list[Any] | None] = [[], None]
    for empty in empties:
        message = slack_message("person.mql", _data(reasons=empty))
        assert [b["type"] for b in message["blocks"]] == ["header", "section", "section"]


# --- limits -------------------------------------------------------------------------------


def test_very_long_name_is_cut_to_the_header_limit() -> None:
    message = slack_message("person.mql", _data(person=_person(name="A" * 500)))
    header = _header(message)
    assert len(header) == 150
    assert header == "New MQL: " + "A" * 140 + "…"
    assert message["text"] == "New MQL: " + "A" * 500 + " (VP Data) at Initech"


def test_huge_name_is_cut_in_the_fallback_text_too() -> None:
    message = slack_message("person.mql", _data(person=_person(name="B" * 5000)))
    assert len(message["text"]) == 3000
    assert message["text"].endswith("B…")


def test_truncation_never_splits_an_entity() -> None:
    header = _header(slack_message("person.mql", _data(person=_person(name="&" * 200))))
    assert len(header) <= 150
    assert re.fullmatch(r"New MQL: (&amp;)+…", header), header


def test_truncate_keeps_short_text_and_cuts_long_text() -> None:
    assert truncate("short", 5) == "short"
    assert truncate("abcdef", 5) == "abcd…"
    assert truncate("ab &lt;x", 5) == "ab …"


# --- every type ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "headline"),
    [
        ("person.mql", "New MQL: Ada Lovelace (VP Data) at Initech"),
        ("person.sql", "New SQL: Ada Lovelace (VP Data) at Initech"),
        ("person.pql", "New PQL: Ada Lovelace (VP Data) at Initech"),
        ("person.csql", "New CSQL: Ada Lovelace (VP Data) at Initech"),
        ("person.customer", "New customer: Ada Lovelace (VP Data) at Initech"),
        ("person.sal", "Sales accepted: Ada Lovelace (VP Data) at Initech"),
        ("person.opportunity", "New opportunity: Ada Lovelace (VP Data) at Initech"),
        ("person.reengaged", "Re-engaged: Ada Lovelace (VP Data) at Initech"),
        (
            "review.overdue",
            "SLA breached: Ada Lovelace (VP Data) at Initech waiting 3.5 business hours past due",
        ),
        ("account.converted", "Initech converted from trial to paid"),
        ("person.nurture", "Ada Lovelace (VP Data) at Initech moved to Nurture"),
        ("person.champion", "Ada Lovelace (VP Data) at Initech moved to champion"),
        ("deal.<b>", "deal.&lt;b&gt;: Ada Lovelace (VP Data) at Initech"),
    ],
)
def test_each_type_has_a_sensible_first_line(kind: str, headline: str) -> None:
    data = _data(
        review={"due_at": "2026-05-01T09:00:00Z", "overdue_by_hours": 3.5},
        plan_change={"from": "trial", "to": "paid"},
    )
    message = slack_message(kind, data)
    assert message["text"] == headline
    assert _header(message) == headline


def test_review_overdue_singular_and_unknown_hours() -> None:
    one = _data(review={"due_at": "2026-05-01T09:00:00Z", "overdue_by_hours": 1.0})
    assert slack_message("review.overdue", one)["text"] == (
        "SLA breached: Ada Lovelace (VP Data) at Initech waiting 1 business hour past due"
    )
    assert slack_message("review.overdue", _data(review=None))["text"] == (
        "SLA breached: Ada Lovelace (VP Data) at Initech is past due"
    )


def test_account_converted_without_a_known_plan_change_claims_no_plan() -> None:
    # account.plan alone is ambiguous (before or after?), so it is not put in the headline.
    assert slack_message("account.converted", ADA)["text"] == "Initech converted to a paid plan"
    to_only = _data(plan_change={"to": "enterprise"})
    assert slack_message("account.converted", to_only)["text"] == "Initech converted to enterprise"
    nameless = _data(account={"id": 7, "name": None, "domain": None})
    assert (
        slack_message("account.converted", nameless)["text"] == "account 7 converted to a paid plan"
    )
    assert slack_message("account.converted", {})["text"] == "An account converted to a paid plan"


def test_unknown_type_without_person_still_says_something() -> None:
    assert slack_message("system.test", {})["text"] == "Winnow notification: system.test"


def test_templates_hold_every_english_string_used_for_the_listed_types() -> None:
    listed = [
        "person.mql", "person.sql", "person.pql", "person.csql", "person.customer",
        "person.sal", "person.opportunity", "review.overdue", "account.converted",
        "person.reengaged",
    ]  # fmt: skip
    assert set(listed) <= set(TEMPLATES)
