"""Business-hours calendar for sales SLAs ("an MQL must be reviewed within 24 business hours").

Business time is a sequence of windows, at most one per local day: [opening, closing) in
the team's wall time, e.g. 09:00-18:00 in Asia/Tokyo, on working days that are neither
public holidays nor explicitly closed. Each day's opening and closing are built in local
wall time and only then converted to UTC, one day at a time, so a DST change moves the UTC
instants of the window, never its wall-clock hours: 09:00 in New York is 14:00 UTC in
February and 13:00 UTC in March. Arithmetic on a fixed UTC offset, or stepping by 24 hours,
would drift by an hour for half the year. Wall times made odd by DST follow zoneinfo's
`fold=0`: a time skipped by the spring-forward gap is read with the offset before the gap
(02:30 becomes 03:30), a repeated time is its first occurrence; a window that this leaves
empty means the day is closed, and the day of a change is simply an hour longer or shorter.

`add`, `between` and `is_open` all walk the same windows in UTC from the start instant.
The walk begins on the local day *before* the start's: a closing that falls in a DST gap
just before midnight (America/Nuuk springs from 23:00 to 00:00) is read with the earlier
offset, so that day's window runs into the next local date. Durations are `timedelta`s, so
sums are exact to the microsecond and `between` undoes `add`. Stepping is per calendar day
(10,000 business hours is about 1,750 days, milliseconds of work); whole weeks are not
skipped arithmetically because holidays and DST make weeks differ anyway.

Holidays come from the `holidays` package, fetched per (country, subdivision, year) and
cached for the process; `closed` dates are closed on top of them.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_pkg

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")
_DAY = timedelta(days=1)
# A calendar with no opening for this long is broken (say, every working day closed);
# without a limit, `add` would walk to the year 9999.
_MAX_GAP = timedelta(days=3 * 366)

Window = tuple[datetime, datetime]


@functools.lru_cache(maxsize=512)
def _public_holidays(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays_pkg.country_holidays(country, subdiv=subdiv, years=year))


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _minutes(hh: str, mm: str, hours: str) -> int:
    h, m = int(hh), int(mm)
    # 24:00 is allowed so that a window can run to midnight ("00:00-24:00" is always open).
    if h > 24 or m > 59 or (h == 24 and m > 0):
        raise ValueError(f"hours: {hh}:{mm} is not a time of day in {hours!r}")
    return h * 60 + m


@dataclass(frozen=True, kw_only=True)
class BusinessCalendar:
    """When a team works: zone, days, daily hours, public holidays and extra closed dates."""

    timezone: str = "UTC"
    days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    hours: str = "09:00-17:00"
    holidays: str | None = None
    closed: tuple[date, ...] = ()

    # Parsed once; frozen, so set through object.__setattr__ in __post_init__.
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _weekdays: frozenset[int] = field(init=False, repr=False, compare=False)
    _open: int = field(init=False, repr=False, compare=False)
    _close: int = field(init=False, repr=False, compare=False)
    _country: str | None = field(init=False, repr=False, compare=False)
    _subdiv: str | None = field(init=False, repr=False, compare=False)
    _closed: frozenset[date] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"timezone: unknown IANA timezone {self.timezone!r}; "
                "use a name such as 'Europe/Paris', 'Asia/Tokyo' or 'UTC'"
            ) from None
        valid = ", ".join(DAY_NAMES)
        if isinstance(self.days, str):
            raise ValueError(f"days: expected a tuple of day names, got the string {self.days!r}")
        if not self.days:
            raise ValueError(f"days: no working days; give at least one of {valid}")
        weekdays: set[int] = set()
        for name in self.days:
            if not isinstance(name, str) or name.lower() not in DAY_NAMES:
                raise ValueError(f"days: unknown day {name!r}; valid names are {valid}")
            weekdays.add(DAY_NAMES.index(name.lower()))
        match = _HOURS.fullmatch(self.hours.strip()) if isinstance(self.hours, str) else None
        if match is None:
            raise ValueError(
                f"hours: expected 'HH:MM-HH:MM' such as '09:00-17:00', got {self.hours!r}"
            )
        opening = _minutes(match[1], match[2], self.hours)
        closing = _minutes(match[3], match[4], self.hours)
        if closing <= opening:
            raise ValueError(
                f"hours: end {match[3]}:{match[4]} must be after start {match[1]}:{match[2]} "
                f"on the same day (use 24:00 for midnight), got {self.hours!r}"
            )
        for day in self.closed:
            if isinstance(day, datetime) or not isinstance(day, date):
                raise ValueError(f"closed: expected dates (date.fromisoformat), got {day!r}")
        country, subdiv = self._holiday_region()
        for name, value in [
            ("_zone", zone),
            ("_weekdays", frozenset(weekdays)),
            ("_open", opening),
            ("_close", closing),
            ("_country", country),
            ("_subdiv", subdiv),
            ("_closed", frozenset(self.closed)),
        ]:
            object.__setattr__(self, name, value)

    def _holiday_region(self) -> tuple[str | None, str | None]:
        """The (country, subdivision) of `holidays`, e.g. "US-CA" -> ("US", "CA"), checked."""
        if self.holidays is None:
            return None, None
        country, _, subdiv = self.holidays.strip().partition("-")
        country = country.upper()
        supported = holidays_pkg.list_supported_countries()
        if country not in supported:
            raise ValueError(
                f"holidays: unknown country {country!r} in {self.holidays!r}; use a country "
                'code known to the holidays package, e.g. "JP", "US", "DE", or "US-CA"'
            )
        if not subdiv:
            return country, None
        # Codes are case-sensitive in the package ("CA", but "Augsburg"); accept any case.
        canonical = {s.upper(): s for s in supported[country]}.get(subdiv.upper(), subdiv)
        try:
            holidays_pkg.country_holidays(country, subdiv=canonical)
        except NotImplementedError:
            known = ", ".join(supported[country]) or "none"
            raise ValueError(
                f"holidays: country {country} has no subdivision {subdiv!r} "
                f"(from {self.holidays!r}); known subdivisions: {known}"
            ) from None
        return country, canonical

    def add(self, start: datetime, seconds: float) -> datetime:
        """The UTC instant when `seconds` of business time have elapsed after `start`.

        Counting starts at the next opening if `start` is outside business hours, so
        `add(start, 0)` is `start` itself when open and the next opening otherwise.
        """
        begin = _utc(start, "start")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        remaining = timedelta(seconds=seconds)
        for opening, closing in self._windows(begin, None):
            if remaining <= closing - opening:
                return opening + remaining
            remaining -= closing - opening
        raise AssertionError("an unbounded walk never ends; it raises past _MAX_GAP")

    def between(self, start: datetime, end: datetime) -> float:
        """Business seconds in [start, end); 0 if `end` is not after `start`."""
        begin, finish = _utc(start, "start"), _utc(end, "end")
        if finish <= begin:
            return 0.0
        total = timedelta()
        last_day = finish.astimezone(self._zone).date() + _DAY
        for opening, closing in self._windows(begin, last_day):
            if opening >= finish:
                break
            total += min(closing, finish) - opening
        return total.total_seconds()

    def is_open(self, at: datetime) -> bool:
        """Whether `at` is within business hours."""
        instant = _utc(at, "at")
        last_day = instant.astimezone(self._zone).date() + _DAY
        first = next(self._windows(instant, last_day), None)
        # The walk clips its first window to begin at `instant`, and only yields windows
        # closing after it: the window starts exactly at `instant` iff `instant` is inside.
        return first is not None and first[0] == instant

    def _windows(self, start: datetime, last_day: date | None) -> Iterator[Window]:
        """Open windows closing after `start`, in order, the first clipped to begin there.

        Bounded by the local day `last_day`, or unbounded (and raising after _MAX_GAP
        without an opening) when it is None.
        """
        day = start.astimezone(self._zone).date() - _DAY
        cursor, last_open = start, day
        while last_day is None or day <= last_day:
            window = self._window(day)
            if window is not None and window[1] > cursor:
                # Clipping to the previous closing also keeps odd DST days from overlapping.
                yield max(window[0], cursor), window[1]
                cursor, last_open = window[1], day
            elif last_day is None and day - last_open > _MAX_GAP:
                raise ValueError(
                    f"no business hours within 3 years after {start.isoformat()}: "
                    f"check days, holidays and closed of the calendar in {self.timezone}"
                )
            day += _DAY

    def _window(self, day: date) -> Window | None:
        if day.weekday() not in self._weekdays or day in self._closed:
            return None
        if self._country is not None and day in _public_holidays(
            self._country, self._subdiv, day.year
        ):
            return None
        opening, closing = self._instant(day, self._open), self._instant(day, self._close)
        return (opening, closing) if opening < closing else None

    def _instant(self, day: date, minute: int) -> datetime:
        day += timedelta(days=minute // (24 * 60))  # 24:00 is the next day's midnight
        wall = datetime(day.year, day.month, day.day, minute // 60 % 24, minute % 60)
        return wall.replace(tzinfo=self._zone).astimezone(UTC)
