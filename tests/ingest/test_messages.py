"""The wire format: what is accepted, what is refused (and why), and clock-skew correction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from tests.factories import (
    RECEIVED,
    make_alias,
    make_batch,
    make_group,
    make_identify,
    make_page,
    make_screen,
    make_track,
)

from winnow.ingest.messages import (
    InvalidMessage,
    corrected_timestamp,
    parse_batch,
    parse_message,
)


def parse(raw: Any, received_at: datetime = RECEIVED) -> Any:
    return parse_message(raw, received_at=received_at)


def test_a_message_as_analytics_python_sends_it_is_accepted() -> None:
    # Explicit nulls for unset ids, unknown top-level fields, +00:00 offsets, writeKey.
    raw = {
        "integrations": {},
        "anonymousId": None,
        "timestamp": "2026-05-01T10:47:12.037+00:00",
        "context": {"groupId": "acct_1", "library": {"name": "analytics-python"}},
        "userId": "u1",
        "type": "track",
        "event": "Trial Started",
        "properties": {"trial_plan_name": "team", "seats": 5},
        "messageId": "c3e2c68d-1",
        "channel": "server",
        "writeKey": "WK_SEG",
        "sentAt": None,
        "version": 2,
    }
    message = parse(raw)
    assert message.type == "track"
    assert message.user_id == "u1"
    assert message.anonymous_id is None
    assert message.name == "Trial Started"
    assert message.properties == {"trial_plan_name": "team", "seats": 5}
    assert message.group_id == "acct_1"
    assert message.timestamp == datetime(2026, 5, 1, 10, 47, 12, tzinfo=UTC)


def test_nulls_in_optional_documents_read_as_empty() -> None:
    message = parse(make_track(properties=None, context=None, integrations=None))
    assert message.properties == {}
    assert message.context == {}


def test_numeric_ids_are_the_same_ids_as_text() -> None:
    message = parse(make_identify(userId=42, anonymousId=""))
    assert message.user_id == "42"
    assert message.anonymous_id is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (make_track(userId=None), "needs 'userId' or 'anonymousId'"),
        (make_track(drop=("userId",)), "needs 'userId' or 'anonymousId'"),
        (make_track(event=None), "track needs 'event'"),
        (make_track(drop=("event",)), "track needs 'event'"),
        (make_track(event=""), "track needs 'event'"),
        (make_group(groupId=None), "group needs 'groupId'"),
        (make_alias(drop=("previousId",)), "alias needs 'previousId'"),
        (make_alias(userId=None, anonymousId="a1"), "alias needs 'userId'"),
        (
            make_track(drop=("type",)),
            "needs 'type' (one of identify, track, page, screen, group, alias)",
        ),
        (
            make_track(type="event"),
            "unknown type 'event' (expected one of identify, track, page, screen, group, alias)",
        ),
        (
            make_track(timestamp="last tuesday"),
            "'timestamp': not an ISO-8601 instant: 'last tuesday'",
        ),
        (make_track(timestamp=1714560000), "'timestamp': must be an ISO-8601 string, not int"),
        (make_track(sentAt="soon"), "'sentAt': not an ISO-8601 instant: 'soon'"),
        (make_track(messageId="m" * 100), "'messageId': must be shorter than 100 characters"),
        (make_track(properties=["a"]), "'properties': must be an object"),
        (make_track(userId={"id": 1}), "'userId': must be a string"),
        (make_identify(traits="ada"), "'traits': must be an object"),
        (make_track(context={"groupId": ["a"]}), "'context.groupId': must be a string"),
        (
            make_track(properties={"note": "a\x00b"}),
            "contains a NUL character (\\u0000), which the store cannot keep",
        ),
        (
            make_track(properties={"ratio": float("nan")}),
            "contains NaN or Infinity, which JSON cannot carry",
        ),
        ("track", "must be a JSON object, not str"),
    ],
)
def test_each_invalid_message_is_refused_naming_the_field(raw: Any, reason: str) -> None:
    with pytest.raises(InvalidMessage) as refused:
        parse(raw)
    assert str(refused.value) == reason


def test_a_message_with_several_problems_names_them_all() -> None:
    with pytest.raises(InvalidMessage, match=r"^alias needs 'previousId'; alias needs 'userId'$"):
        parse(make_alias(userId=None, drop=("previousId",)))


def test_a_message_id_of_99_characters_is_fine() -> None:
    assert parse(make_track(messageId="m" * 99)).message_id == "m" * 99


# Golden numbers for clock-skew correction: the client's clock is 2 minutes 30 seconds
# slow. It stamped the event at 11:57:30.250 and sent it at 11:58:00.500 (its clock), so
# the event happened 30.25 s before the server received it at 12:00:00.900:
# 12:00:00.900 - 30.250 = 11:59:30.650, stored as 11:59:30.
def test_clock_skew_is_corrected_with_sent_at() -> None:
    received = datetime(2026, 5, 1, 12, 0, 0, 900_000, tzinfo=UTC)
    raw = make_track(timestamp="2026-05-01T11:57:30.250Z", sentAt="2026-05-01T11:58:00.500Z")
    assert parse(raw, received).timestamp == datetime(2026, 5, 1, 11, 59, 30, tzinfo=UTC)


def test_clock_skew_correction_reads_offsets() -> None:
    # The same instants written in a +02:00 zone give the same answer.
    received = datetime(2026, 5, 1, 12, 0, 0, 900_000, tzinfo=UTC)
    raw = make_track(
        timestamp="2026-05-01T13:57:30.250+02:00", sentAt="2026-05-01T13:58:00.500+02:00"
    )
    assert parse(raw, received).timestamp == datetime(2026, 5, 1, 11, 59, 30, tzinfo=UTC)


def test_a_fast_client_clock_is_corrected_too() -> None:
    # Clock 1 day fast: stamped 2026-05-02 09:00:00, sent 2026-05-02 09:00:10.
    raw = make_track(timestamp="2026-05-02T09:00:00Z", sentAt="2026-05-02T09:00:10Z")
    assert parse(raw).timestamp == datetime(2026, 5, 1, 11, 59, 50, tzinfo=UTC)


def test_without_sent_at_the_timestamp_stands_truncated_to_the_second() -> None:
    raw = make_track(timestamp="2026-04-30T08:15:42.999Z", drop=("sentAt",))
    assert parse(raw).timestamp == datetime(2026, 4, 30, 8, 15, 42, tzinfo=UTC)


def test_without_a_timestamp_the_event_happened_on_arrival() -> None:
    received = datetime(2026, 5, 1, 12, 0, 7, 600_000, tzinfo=UTC)
    assert parse(make_track(timestamp=None), received).timestamp == datetime(
        2026, 5, 1, 12, 0, 7, tzinfo=UTC
    )


def test_a_naive_received_at_is_utc() -> None:
    naive = datetime(2026, 5, 1, 12, 0)
    assert corrected_timestamp(None, sent_at=None, received_at=naive) == datetime(
        2026, 5, 1, 12, 0, tzinfo=UTC
    )


def test_a_missing_message_id_is_derived_from_the_content() -> None:
    first = parse(make_track(messageId=None, sentAt="2026-05-01T11:00:01Z"))
    retry = parse(make_track(messageId=None, sentAt="2026-05-01T11:05:00Z"))
    other = parse(make_track(messageId=None, event="Demo Requested"))
    assert first.message_id == retry.message_id  # a retry has a new sentAt, same content
    assert first.message_id != other.message_id
    assert first.message_id.startswith("derived-")
    assert len(first.message_id) < 100


def test_event_names_by_type() -> None:
    names = {
        kind: parse(factory()).name
        for kind, factory in (
            ("track", make_track),
            ("page", make_page),
            ("screen", make_screen),
            ("identify", make_identify),
            ("group", make_group),
            ("alias", make_alias),
        )
    }
    assert names == {
        "track": "Webinar Attended",
        "page": "Page Viewed",
        "screen": "Screen Viewed",
        "identify": "Identify",
        "group": "Group",
        "alias": "Alias",
    }


def test_page_properties_are_completed_from_the_page_context() -> None:
    raw = make_page(
        name="Pricing",
        category="Marketing",
        properties={"path": "/pricing/teams", "plan": "team"},
        context={
            "page": {
                "path": "/ignored",
                "url": "https://example.com/pricing/teams",
                "title": "Pricing",
                "referrer": "https://google.com",
            },
            "campaign": {"name": "spring", "medium": "cpc"},
        },
    )
    message = parse(raw)
    assert message.properties == {
        "path": "/pricing/teams",
        "plan": "team",
        "name": "Pricing",
        "category": "Marketing",
        "url": "https://example.com/pricing/teams",
        "title": "Pricing",
        "referrer": "https://google.com",
    }
    assert message.context["campaign"] == {"name": "spring", "medium": "cpc"}


def test_identify_and_group_keep_their_traits_as_properties() -> None:
    identify = parse(make_identify(traits={"email": "Ada@Example.COM", "title": None}))
    assert identify.traits == {"email": "Ada@Example.COM", "title": None}
    assert identify.properties == identify.traits
    assert identify.email == "ada@example.com"
    group = parse(make_group(groupId="acct-9", traits={"plan": "paid"}))
    assert group.group_id == "acct-9"
    assert group.account_traits == {"plan": "paid"}
    assert group.properties == {"plan": "paid", "groupId": "acct-9"}
    alias = parse(make_alias(previousId="anon-7"))
    assert (alias.previous_id, alias.properties) == ("anon-7", {"previousId": "anon-7"})


def test_a_batch_shares_its_context_integrations_and_sent_at() -> None:
    body = make_batch(
        make_track(context={"ip": "10.0.0.1"}, drop=("integrations",)),
        make_track(context=None, sentAt="2026-05-01T11:00:05Z"),
        context={"library": {"name": "analytics-python"}, "ip": "0.0.0.0"},
        integrations={"All": True},
        sentAt="2026-05-01T11:00:10Z",
    )
    first, second = parse_batch(body).items()
    assert first["context"] == {"library": {"name": "analytics-python"}, "ip": "10.0.0.1"}
    assert first["integrations"] == {"All": True}
    assert first["sentAt"] == "2026-05-01T11:00:10Z"
    assert second["context"] == {"library": {"name": "analytics-python"}, "ip": "0.0.0.0"}
    assert second["sentAt"] == "2026-05-01T11:00:05Z"


def test_a_body_that_is_not_a_batch_is_refused_whole() -> None:
    with pytest.raises(InvalidMessage, match=r"^batch body: 'batch': is required$"):
        parse_batch({"messages": []})
    with pytest.raises(InvalidMessage, match=r"^batch body: 'batch': Input should be a valid list"):
        parse_batch({"batch": {"type": "track"}})
