"""The business-hours calendar behind SLAs: golden cases worked out by hand, then properties.

Dates are in 2026. Useful facts: 2026-03-08 and 2026-11-01 are the US DST changes (both
Sundays); 2026-11-23 (a Monday) is Labor Thanksgiving Day in Japan; 2026-03-31 (a Tuesday)
is Cesar Chavez Day in California but not a US federal holiday. Tokyo is UTC+9 all year.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from winnow.handoff.calendar import DAY_NAMES, BusinessCalendar

HOUR = 3600.0
TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")
US_DAYS = ("mon", "tue", "wed", "thu", "fri")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- add: golden cases ---------------------------------------------------------------


def test_friday_afternoon_in_tokyo_plus_24_business_hours_is_wednesday_1pm() -> None:
    # Fri 16:00-18:00 (2h), Mon 9h (11h), Tue 9h (20h), then 4h into Wednesday: 13:00 JST.
    cal = BusinessCalendar(timezone="Asia/Tokyo", hours="09:00-18:00")
    start = datetime(2026, 11, 13, 16, 0, tzinfo=TOKYO)
    assert cal.add(start, 24 * HOUR) == datetime(2026, 11, 18, 13, 0, tzinfo=TOKYO)
    assert cal.add(start, 24 * HOUR) == utc(2026, 11, 18, 4, 0)


def test_japanese_holiday_on_monday_is_skipped() -> None:
    # As above, a week later; Monday the 23rd is a holiday, so the SLA lands a day later.
    start = datetime(2026, 11, 20, 16, 0, tzinfo=TOKYO)
    plain = BusinessCalendar(timezone="Asia/Tokyo", hours="09:00-18:00")
    japan = BusinessCalendar(timezone="Asia/Tokyo", hours="09:00-18:00", holidays="JP")
    assert plain.add(start, 24 * HOUR) == datetime(2026, 11, 25, 13, 0, tzinfo=TOKYO)
    assert japan.add(start, 24 * HOUR) == datetime(2026, 11, 26, 13, 0, tzinfo=TOKYO)
    assert plain.is_open(datetime(2026, 11, 23, 10, 0, tzinfo=TOKYO))
    assert not japan.is_open(datetime(2026, 11, 23, 10, 0, tzinfo=TOKYO))
    # Friday afternoon to Tuesday 09:00: only Friday's two hours count.
    assert japan.between(start, datetime(2026, 11, 24, 9, 0, tzinfo=TOKYO)) == 2 * HOUR


def test_start_on_saturday_counts_from_monday_opening() -> None:
    cal = BusinessCalendar()
    saturday = utc(2026, 6, 6, 10, 0)
    assert cal.add(saturday, 0) == utc(2026, 6, 8, 9, 0)
    assert cal.add(saturday, HOUR) == utc(2026, 6, 8, 10, 0)


def test_start_before_opening_counts_from_opening() -> None:
    cal = BusinessCalendar()
    assert cal.add(utc(2026, 6, 9, 7, 0), 30 * 60) == utc(2026, 6, 9, 9, 30)


def test_add_zero_is_start_when_open_and_next_opening_otherwise() -> None:
    cal = BusinessCalendar()
    assert cal.add(utc(2026, 6, 9, 12, 34, 56), 0) == utc(2026, 6, 9, 12, 34, 56)
    assert cal.add(utc(2026, 6, 9, 9, 0), 0) == utc(2026, 6, 9, 9, 0)
    # Closing is exclusive: at 17:00 the next business instant is tomorrow's opening.
    assert cal.add(utc(2026, 6, 9, 17, 0), 0) == utc(2026, 6, 10, 9, 0)


def test_exactly_a_full_day_ends_at_closing_not_at_next_opening() -> None:
    cal = BusinessCalendar()
    assert cal.add(utc(2026, 6, 9, 9, 0), 8 * HOUR) == utc(2026, 6, 9, 17, 0)
    assert cal.add(utc(2026, 6, 9, 9, 0), 8 * HOUR + 1) == utc(2026, 6, 10, 9, 0, 1)


def test_start_in_any_zone_and_result_is_utc() -> None:
    cal = BusinessCalendar()
    start = datetime(2026, 6, 9, 18, 0, tzinfo=TOKYO)  # 09:00 UTC, Tuesday
    result = cal.add(start, 90 * 60)
    assert result == utc(2026, 6, 9, 10, 30)
    assert result.tzinfo is UTC


def test_sub_second_durations_are_kept_to_the_microsecond() -> None:
    cal = BusinessCalendar()
    assert cal.add(utc(2026, 6, 9, 16, 59, 59), 1.5) == utc(2026, 6, 10, 9, 0, 0) + timedelta(
        microseconds=500_000
    )


def test_us_dst_change_keeps_nine_am_local() -> None:
    cal = BusinessCalendar(timezone="America/New_York")
    # Fri 16:00 EST (21:00 UTC) + 2h: one hour Friday, one Monday from 09:00 EDT (13:00 UTC).
    assert cal.add(utc(2026, 3, 6, 21, 0), 2 * HOUR) == utc(2026, 3, 9, 14, 0)
    assert cal.add(utc(2026, 3, 7, 12, 0), 0) == datetime(2026, 3, 9, 9, 0, tzinfo=NEW_YORK)
    assert not cal.is_open(utc(2026, 3, 6, 13, 59))  # 08:59 EST
    assert cal.is_open(utc(2026, 3, 6, 14, 0))  # 09:00 EST
    assert not cal.is_open(utc(2026, 3, 9, 12, 59))  # 08:59 EDT
    assert cal.is_open(utc(2026, 3, 9, 13, 0))  # 09:00 EDT
    # Back to EST in November: Mon 09:00 is 14:00 UTC again.
    assert cal.add(utc(2026, 10, 30, 20, 0), 2 * HOUR) == utc(2026, 11, 2, 15, 0)


def test_day_of_a_dst_change_is_an_hour_shorter_or_longer() -> None:
    cal = BusinessCalendar(timezone="America/New_York", days=("sun",), hours="01:00-05:00")
    spring = datetime(2026, 3, 8, tzinfo=NEW_YORK)
    autumn = datetime(2026, 11, 1, tzinfo=NEW_YORK)
    assert cal.between(spring, spring + timedelta(days=1)) == 3 * HOUR
    assert cal.between(autumn, autumn + timedelta(days=1)) == 5 * HOUR


def test_opening_in_the_spring_forward_gap_is_read_with_the_offset_before_it() -> None:
    # 02:30 does not exist on 2026-03-08; it is read as 02:30 EST, i.e. 03:30 EDT.
    cal = BusinessCalendar(timezone="America/New_York", days=("sun",), hours="02:30-04:00")
    assert cal.add(utc(2026, 3, 7, 12, 0), 0) == utc(2026, 3, 8, 7, 30)
    assert cal.between(utc(2026, 3, 8), utc(2026, 3, 9)) == 30 * 60


def test_window_emptied_by_the_gap_closes_that_day() -> None:
    # 02:00-03:00 on 2026-03-08 is 07:00-07:00 UTC: nothing, so the next Sunday opens.
    cal = BusinessCalendar(timezone="America/New_York", days=("sun",), hours="02:00-03:00")
    assert cal.add(utc(2026, 3, 7, 12, 0), 0) == utc(2026, 3, 15, 6, 0)


def test_closing_in_a_gap_before_midnight_runs_into_the_next_local_date() -> None:
    # Nuuk springs from 23:00 (UTC-2) to 00:00 (UTC-1) on Saturday 2026-03-28. Saturday's
    # 23:30 closing, in the gap, is read as 23:30 UTC-2 = 01:30 UTC = Sunday 00:30 local.
    cal = BusinessCalendar(timezone="America/Nuuk", days=("sat",), hours="22:00-23:30")
    sunday_0015_local = utc(2026, 3, 29, 1, 15)
    assert cal.is_open(sunday_0015_local)
    assert cal.add(sunday_0015_local, 0) == sunday_0015_local
    assert cal.add(sunday_0015_local, 15 * 60) == utc(2026, 3, 29, 1, 30)
    assert cal.between(utc(2026, 3, 28, 12, 0), utc(2026, 3, 30)) == 1.5 * HOUR


def test_round_the_clock_calendar_runs_through_dst() -> None:
    cal = BusinessCalendar(timezone="America/New_York", days=DAY_NAMES, hours="00:00-24:00")
    start = utc(2026, 3, 7, 5, 0)  # Saturday 00:00 EST
    assert cal.add(start, 3 * 24 * HOUR) == start + timedelta(days=3)
    # Saturday 00:00 EST to Monday 00:00 EDT is 47 hours.
    assert cal.between(start, datetime(2026, 3, 9, tzinfo=NEW_YORK)) == 47 * HOUR
    assert cal.is_open(utc(2026, 3, 8, 7, 0))


def test_explicit_closed_dates_are_skipped() -> None:
    cal = BusinessCalendar(closed=(date(2026, 6, 8),))
    assert cal.add(utc(2026, 6, 6, 10, 0), HOUR) == utc(2026, 6, 9, 10, 0)
    assert not cal.is_open(utc(2026, 6, 8, 12, 0))


def test_subdivision_holidays_add_to_the_country_ones() -> None:
    tuesday_10am_la = utc(2026, 3, 31, 17, 0)
    us = BusinessCalendar(timezone="America/Los_Angeles", holidays="US")
    california = BusinessCalendar(timezone="America/Los_Angeles", holidays="us-ca")
    assert us.is_open(tuesday_10am_la)
    assert not california.is_open(tuesday_10am_la)
    # Both close for Thanksgiving (Thursday 2026-11-26).
    assert not us.is_open(utc(2026, 11, 26, 18, 0))
    assert not california.is_open(utc(2026, 11, 26, 18, 0))


def test_weekend_working_days() -> None:
    cal = BusinessCalendar(days=("sat", "Sun"), hours="10:00-12:00")
    # Friday noon + 3h: Saturday 10:00-12:00, then Sunday 10:00-11:00.
    assert cal.add(utc(2026, 6, 5, 12, 0), 3 * HOUR) == utc(2026, 6, 7, 11, 0)


def test_a_thousand_business_hours_is_twenty_five_plain_weeks() -> None:
    cal = BusinessCalendar()
    start = utc(2026, 1, 5, 9, 0)  # Monday
    end = cal.add(start, 1000 * HOUR)
    assert end == utc(2026, 6, 26, 17, 0)  # the 125th working day, a Friday, at closing
    assert cal.between(start, end) == 1000 * HOUR


def test_ten_thousand_business_hours_round_trip_with_holidays() -> None:
    cal = BusinessCalendar(timezone="Asia/Tokyo", hours="09:00-18:00", holidays="JP")
    start = utc(2026, 1, 1)
    end = cal.add(start, 10_000 * HOUR)
    assert end.year == 2030
    assert cal.between(start, end) == 10_000 * HOUR


# --- between and is_open ---------------------------------------------------------------


def test_between_over_a_weekend() -> None:
    cal = BusinessCalendar()
    assert cal.between(utc(2026, 6, 5, 16, 0), utc(2026, 6, 8, 10, 0)) == 2 * HOUR
    assert cal.between(utc(2026, 6, 6), utc(2026, 6, 7, 23, 59)) == 0.0


def test_between_is_zero_when_end_is_not_after_start() -> None:
    cal = BusinessCalendar()
    assert cal.between(utc(2026, 6, 9, 12, 0), utc(2026, 6, 9, 12, 0)) == 0.0
    assert cal.between(utc(2026, 6, 9, 12, 0), utc(2026, 6, 9, 10, 0)) == 0.0


def test_is_open_boundaries() -> None:
    cal = BusinessCalendar()
    assert cal.is_open(utc(2026, 6, 9, 9, 0))
    assert not cal.is_open(utc(2026, 6, 9, 9, 0) - timedelta(microseconds=1))
    assert cal.is_open(utc(2026, 6, 9, 17, 0) - timedelta(microseconds=1))
    assert not cal.is_open(utc(2026, 6, 9, 17, 0))
    assert not cal.is_open(utc(2026, 6, 6, 12, 0))  # Saturday


def test_calendars_are_frozen_values() -> None:
    a = BusinessCalendar(timezone="Asia/Tokyo", holidays="JP")
    b = BusinessCalendar(timezone="Asia/Tokyo", holidays="JP")
    assert a == b and hash(a) == hash(b)
    assert a != BusinessCalendar(timezone="Asia/Tokyo")
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.hours = "08:00-16:00"  # type: ignore[misc]


# --- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"timezone": "Mars/Olympus"},
            r"timezone: unknown IANA timezone 'Mars/Olympus'; .*'Europe/Paris'",
        ),
        ({"timezone": ""}, r"timezone: unknown IANA timezone ''"),
        (
            {"days": ("mon", "funday")},
            r"days: unknown day 'funday'; valid names are mon, tue, wed, thu, fri, sat, sun",
        ),
        ({"days": ()}, r"days: no working days; give at least one of mon, tue"),
        ({"days": "mon"}, r"days: expected a tuple of day names, got the string 'mon'"),
        ({"hours": "9-5"}, r"hours: expected 'HH:MM-HH:MM' such as '09:00-17:00', got '9-5'"),
        ({"hours": "09:00"}, r"hours: expected 'HH:MM-HH:MM'.*got '09:00'"),
        ({"hours": "17:00-09:00"}, r"hours: end 09:00 must be after start 17:00 on the same day"),
        ({"hours": "09:00-09:00"}, r"hours: end 09:00 must be after start 09:00"),
        ({"hours": "09:00-25:00"}, r"hours: 25:00 is not a time of day in '09:00-25:00'"),
        ({"hours": "09:60-17:00"}, r"hours: 09:60 is not a time of day"),
        ({"holidays": "XX"}, r"holidays: unknown country 'XX' in 'XX'; .*e\.g\. \"JP\", \"US\""),
        (
            {"holidays": "US-ZZ"},
            r"holidays: country US has no subdivision 'ZZ' \(from 'US-ZZ'\); known subdivisions: .*CA",
        ),
        (
            {"closed": ("2026-12-24",)},
            r"closed: expected dates \(date\.fromisoformat\), got '2026-12-24'",
        ),
        ({"closed": (datetime(2026, 12, 24),)}, r"closed: expected dates"),
    ],
)
def test_invalid_configuration_is_refused_with_a_precise_message(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(**kwargs)  # type: ignore[arg-type]


def test_naive_datetimes_are_refused() -> None:
    cal = BusinessCalendar()
    naive = datetime(2026, 6, 9, 12, 0)
    with pytest.raises(
        ValueError, match=r"start must be timezone-aware, got naive 2026-06-09T12:00:00"
    ):
        cal.add(naive, HOUR)
    with pytest.raises(ValueError, match=r"end must be timezone-aware"):
        cal.between(utc(2026, 6, 9), naive)
    with pytest.raises(ValueError, match=r"at must be timezone-aware"):
        cal.is_open(naive)


@pytest.mark.parametrize("seconds", [-1.0, math.nan, math.inf])
def test_negative_or_non_finite_durations_are_refused(seconds: float) -> None:
    with pytest.raises(ValueError, match=r"seconds must be a finite number >= 0"):
        BusinessCalendar().add(utc(2026, 6, 9), seconds)


def test_calendar_closed_for_years_stops_with_a_clear_error() -> None:
    mondays = tuple(date(2026, 1, 5) + timedelta(weeks=i) for i in range(200))
    cal = BusinessCalendar(days=("mon",), closed=mondays)
    with pytest.raises(
        ValueError, match=r"no business hours within 3 years after 2026-01-01T00:00:00\+00:00"
    ):
        cal.add(utc(2026, 1, 1), HOUR)
    # Over a bounded span the answer is simply zero, not an error.
    assert cal.between(utc(2026, 1, 1), utc(2029, 6, 30)) == 0.0
    assert not cal.is_open(utc(2027, 1, 4, 12, 0))


# --- properties ------------------------------------------------------------------------

# Zones with DST, half-hour DST (Lord Howe), changes at midnight (Santiago, Nuuk), odd offsets.
ZONES = [
    "UTC",
    "Asia/Tokyo",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kolkata",
    "America/St_Johns",
    "America/Nuuk",
]


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    opening = draw(st.integers(0, 24 * 60 - 1))
    closing = draw(st.integers(opening + 1, 24 * 60))
    return BusinessCalendar(
        timezone=draw(st.sampled_from(ZONES)),
        days=tuple(draw(st.lists(st.sampled_from(DAY_NAMES), min_size=1, max_size=7, unique=True))),
        hours=f"{opening // 60:02d}:{opening % 60:02d}-{closing // 60:02d}:{closing % 60:02d}",
        holidays=draw(st.sampled_from([None, "JP", "US", "DE", "US-CA"])),
        closed=tuple(draw(st.lists(st.dates(date(2025, 1, 1), date(2027, 12, 31)), max_size=20))),
    )


starts = st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC))


def working_days(cal: BusinessCalendar, days: float) -> float:
    """`days` full windows of `cal`, in seconds: keeps walks short on sparse calendars."""
    opening, _, closing = cal.hours.partition("-")
    minutes = [int(t[:2]) * 60 + int(t[3:]) for t in (opening, closing)]
    return days * (minutes[1] - minutes[0]) * 60


@settings(max_examples=200, deadline=None)
@given(cal=calendars(), start=starts, fraction=st.floats(0, 1), data=st.data())
def test_between_undoes_add(
    cal: BusinessCalendar, start: datetime, fraction: float, data: st.DataObject
) -> None:
    seconds = data.draw(st.sampled_from([0.0, 1.0, fraction * working_days(cal, 30)]))
    end = cal.add(start, seconds)
    assert end >= start and end.tzinfo is UTC
    assert cal.between(start, end) == pytest.approx(seconds, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(cal=calendars(), start=starts, fractions=st.lists(st.floats(0, 1), min_size=2, max_size=2))
def test_add_is_monotonic_in_seconds(
    cal: BusinessCalendar, start: datetime, fractions: list[float]
) -> None:
    low, high = sorted(f * working_days(cal, 20) for f in fractions)
    assert cal.add(start, low) <= cal.add(start, high)
    if high > low + 1e-6:
        assert cal.add(start, low) < cal.add(start, high)


@settings(max_examples=200, deadline=None)
@given(cal=calendars(), start=starts, fraction=st.floats(0, 1))
def test_business_time_runs_just_before_the_result_of_add(
    cal: BusinessCalendar, start: datetime, fraction: float
) -> None:
    opening = cal.add(start, 0)
    assert cal.is_open(opening)
    assert cal.between(start, opening) == 0.0
    seconds = 1e-3 + fraction * working_days(cal, 10)
    end = cal.add(start, seconds)
    assert cal.is_open(end - timedelta(microseconds=1))


@settings(max_examples=200, deadline=None)
@given(
    cal=calendars(),
    start=starts,
    gaps=st.lists(st.timedeltas(timedelta(0), timedelta(days=40)), min_size=2, max_size=2),
)
def test_between_is_additive_over_a_split_point(
    cal: BusinessCalendar, start: datetime, gaps: list[timedelta]
) -> None:
    split = start + gaps[0]
    end = split + gaps[1]
    whole = cal.between(start, end)
    assert whole == pytest.approx(cal.between(start, split) + cal.between(split, end), abs=1e-6)
    assert 0.0 <= whole <= (end - start).total_seconds()
