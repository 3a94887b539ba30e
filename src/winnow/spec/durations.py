"""Durations in the spec: "90s", "30m", "12h", "7d", "2w"; stored as whole seconds."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(value: object) -> int:
    """Seconds in a duration string; raises ValueError naming the accepted forms."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"expected a duration like '30d', got {value!r}")
    if isinstance(value, int):
        raise ValueError(f"a duration needs a unit (s, m, h, d, w): write '{value}d', not {value}")
    match = _PATTERN.match(value)
    if not match:
        raise ValueError(f"invalid duration {value!r}: use a number and a unit, e.g. '30d', '12h'")
    seconds = round(float(match.group(1)) * _UNITS[match.group(2)])
    if seconds <= 0:
        raise ValueError(f"duration {value!r} must be longer than zero")
    return seconds


def format_duration(seconds: int) -> str:
    for unit, size in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
