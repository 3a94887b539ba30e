"""Time: one place that knows "now", and how instants are stored.

Inside Winnow every instant is an aware UTC datetime. The store keeps naive UTC with
whole seconds (see store.schema); `to_db` and `from_db` are the only crossings. Code
that needs "now" takes it as a parameter and defaults to `utcnow()`, so tests inject time.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def to_db(value: datetime) -> datetime:
    """Naive UTC, whole seconds. A naive input is taken to be UTC already."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=0)


def from_db(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_instant(text: str) -> datetime:
    """An ISO-8601 instant ("2026-05-01", "2026-05-01T12:00:00Z", with offsets); UTC if naive."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
