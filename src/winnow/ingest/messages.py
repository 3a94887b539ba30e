"""Segment-spec messages: the wire format, checked once, and the normalised form the writer uses.

The wire format is Segment's HTTP Tracking API as its clients (and RudderStack's) send it:
camelCase names, explicit nulls for unset ids, unknown top-level fields (`channel`,
`writeKey`) ignored, timestamps as ISO-8601 with `Z` or an offset (a naive one is read as
UTC). Requirements: `userId` or `anonymousId`; track needs `event`; group needs
`groupId`; alias needs `previousId` and `userId`; `messageId` shorter than 100 characters.

What becomes of each message is decided here, once, so the HTTP API and file imports
store the same thing: the event name ("Page Viewed" for page, "Identify" for identify…),
its properties (page/screen also get `name`, `category`, and the page's path, url, title,
referrer and search from `context.page` unless the properties have them; identify and
group keep their traits there, group with its `groupId`; alias keeps `previousId`), and
the instant it happened, corrected for the client's clock (see `corrected_timestamp`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic.alias_generators import to_camel

MESSAGE_TYPES = ("identify", "track", "page", "screen", "group", "alias")
EVENT_NAMES = {
    "identify": "Identify",
    "page": "Page Viewed",
    "screen": "Screen Viewed",
    "group": "Group",
    "alias": "Alias",
}
PAGE_FIELDS = ("path", "url", "title", "referrer", "search")
MAX_MESSAGE_ID = 99  # Segment: "shorter than 100 characters"
# Column widths in winnow.store.schema: PostgreSQL refuses longer values, so they are
# refused here, one message at a time, instead of failing a whole batch at insert.
MAX_ID, MAX_EMAIL, MAX_ACCOUNT_NAME, MAX_DOMAIN, MAX_PLAN = 200, 320, 300, 300, 50
# Fields that differ between a client's retries of one message: left out of derived ids.
VOLATILE_FIELDS = frozenset({"sentAt", "receivedAt", "messageId", "writeKey"})


class InvalidMessage(ValueError):
    """Why a message cannot be accepted, naming the field."""


@dataclass(frozen=True, kw_only=True)
class Message:
    """An accepted message, normalised: what the writer needs and nothing of the wire."""

    type: str
    message_id: str
    user_id: str | None
    anonymous_id: str | None
    # Lowercased; from identify traits, or the person key of an imported row.
    email: str | None
    previous_id: str | None
    # The account the message is about: group's groupId, else context.groupId.
    group_id: str | None
    name: str
    properties: Mapping[str, Any]
    context: Mapping[str, Any]
    # Person traits (identify) and account traits (group) to merge.
    traits: Mapping[str, Any]
    account_traits: Mapping[str, Any]
    # Clock-skew corrected, aware UTC, whole seconds.
    timestamp: datetime


def _identifier(value: Any) -> str | None:
    """Ids and names: clients stringify ids, but hand-written callers send numbers."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value) > MAX_ID:
        raise ValueError(f"longer than {MAX_ID} characters")
    return value


def _instant(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not an ISO-8601 instant: {value!r}") from None
    else:
        raise ValueError(f"must be an ISO-8601 string, not {type(value).__name__}")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _document(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("must be an object")
    return value


Id = Annotated[str | None, BeforeValidator(_identifier)]
Instant = Annotated[datetime | None, BeforeValidator(_instant)]
Document = Annotated[dict[str, Any], BeforeValidator(_document)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)

    user_id: Id = None
    anonymous_id: Id = None
    message_id: Id = None
    timestamp: Instant = None
    original_timestamp: Instant = None
    sent_at: Instant = None
    context: Document = {}
    integrations: Document = {}

    def problems(self, *, keyed_by_email: bool = False) -> list[str]:
        problems = []
        # File imports may name a person by email alone (see winnow.ingest.tabular).
        if self.user_id is None and self.anonymous_id is None and not keyed_by_email:
            problems.append("needs 'userId' or 'anonymousId'")
        try:
            _identifier(self.context.get("groupId"))
        except ValueError as exc:
            problems.append(f"'context.groupId': {exc}")
        return problems

    @model_validator(mode="after")
    def _requirements(self, info: ValidationInfo) -> _Wire:
        problems = self.problems(keyed_by_email=bool(info.context and info.context.get("email")))
        if self.message_id is not None and len(self.message_id) > MAX_MESSAGE_ID:
            problems.append("'messageId': must be shorter than 100 characters")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class IdentifyMessage(_Wire):
    type: Literal["identify"]
    traits: Document = {}

    def problems(self, *, keyed_by_email: bool = False) -> list[str]:
        problems = super().problems(keyed_by_email=keyed_by_email)
        email = self.traits.get("email")
        if isinstance(email, str) and len(email.strip()) > MAX_EMAIL:
            problems.append(f"'traits.email' is longer than {MAX_EMAIL} characters")
        return problems


class TrackMessage(_Wire):
    type: Literal["track"]
    event: Id = None
    properties: Document = {}

    def problems(self, *, keyed_by_email: bool = False) -> list[str]:
        problems = super().problems(keyed_by_email=keyed_by_email)
        if self.event is None:
            problems.append("track needs 'event'")
        return problems


class PageMessage(_Wire):
    type: Literal["page", "screen"]
    name: Id = None
    category: Id = None
    properties: Document = {}


class GroupMessage(_Wire):
    type: Literal["group"]
    group_id: Id = None
    traits: Document = {}

    def problems(self, *, keyed_by_email: bool = False) -> list[str]:
        problems = super().problems(keyed_by_email=keyed_by_email)
        if self.group_id is None:
            problems.append("group needs 'groupId'")
        limits = {"name": MAX_ACCOUNT_NAME, "plan": MAX_PLAN, "domain": MAX_DOMAIN}
        for key, limit in limits.items():
            value = self.traits.get(key)
            if isinstance(value, str) and len(value) > limit:
                problems.append(f"'traits.{key}' is longer than {limit} characters")
        return problems


class AliasMessage(_Wire):
    type: Literal["alias"]
    previous_id: Id = None

    def problems(self, *, keyed_by_email: bool = False) -> list[str]:
        return [
            f"alias needs '{name}'"
            for name, value in (("previousId", self.previous_id), ("userId", self.user_id))
            if value is None
        ]


WireMessage = Annotated[
    IdentifyMessage | TrackMessage | PageMessage | GroupMessage | AliasMessage,
    Field(discriminator="type"),
]
_WIRE: TypeAdapter[WireMessage] = TypeAdapter(WireMessage)


class BatchBody(BaseModel):
    """A /v1/batch body; items are validated one by one so one bad item spoils nothing else."""

    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)

    batch: list[Any]
    context: Document = {}
    integrations: Document = {}
    sent_at: Any = None

    def items(self) -> list[Any]:
        """The items with the batch's context, integrations and sentAt merged in (item wins)."""
        merged = []
        for item in self.batch:
            if not isinstance(item, dict):
                merged.append(item)
                continue
            item = dict(item)
            for key, shared in (("context", self.context), ("integrations", self.integrations)):
                own = item.get(key)
                if shared and (own is None or isinstance(own, dict)):
                    item[key] = {**shared, **(own or {})}
            if self.sent_at is not None and item.get("sentAt") is None:
                item["sentAt"] = self.sent_at
            merged.append(item)
        return merged


def parse_batch(body: Any) -> BatchBody:
    try:
        return BatchBody.model_validate(body)
    except ValidationError as exc:
        raise InvalidMessage(f"batch body: {_describe(exc)}") from None


def parse_message(raw: Any, *, received_at: datetime, email: str | None = None) -> Message:
    """Validate one wire message and normalise it; raises InvalidMessage naming the field.

    `email` is for imports that name a person by email only: it stands in for the ids.
    """
    if not isinstance(raw, dict):
        raise InvalidMessage(f"must be a JSON object, not {type(raw).__name__}")
    if email is not None and (_email(email) is None or len(email.strip()) > MAX_EMAIL):
        raise InvalidMessage(f"'email': not an email address: {email!r}")
    kind = raw.get("type")
    if kind not in MESSAGE_TYPES:
        expected = ", ".join(MESSAGE_TYPES)
        if kind is None:
            raise InvalidMessage(f"needs 'type' (one of {expected})")
        raise InvalidMessage(f"unknown type {kind!r} (expected one of {expected})")
    check_storable(raw)
    try:
        wire = _WIRE.validate_python(raw, context={"email": email is not None})
    except ValidationError as exc:
        raise InvalidMessage(_describe(exc)) from None
    try:
        timestamp = corrected_timestamp(
            wire.timestamp or wire.original_timestamp, sent_at=wire.sent_at, received_at=received_at
        )
    except OverflowError:
        raise InvalidMessage("'timestamp' is out of range") from None
    message_id = wire.message_id or derive_message_id(raw, email=email)
    return _normalise(wire, message_id=message_id, email=email, timestamp=timestamp)


def corrected_timestamp(
    timestamp: datetime | None, *, sent_at: datetime | None, received_at: datetime
) -> datetime:
    """When the message happened, by the server's clock.

    A client's clock can be off by minutes or days. The client stamps `timestamp` and,
    when it sends, `sentAt`, both by its own clock; the difference between them is
    trustworthy even when the clock is not. So the event happened that long before the
    server received it: receivedAt − (sentAt − timestamp), as Segment does. Without
    sentAt the timestamp is taken as given; without a timestamp the event happened on
    arrival. Truncated to whole seconds, like every stored instant.
    """
    received = received_at if received_at.tzinfo else received_at.replace(tzinfo=UTC)
    if timestamp is None:
        instant = received
    elif sent_at is None:
        instant = timestamp
    else:
        instant = received - (sent_at - timestamp)
    return instant.astimezone(UTC).replace(microsecond=0)


def derive_message_id(raw: Mapping[str, Any], *, email: str | None = None) -> str:
    """A message id from the content, so a client's retries of an id-less message dedupe.

    Fields that differ between retries (sentAt…) are left out; whoever the message is
    about is part of what it is, so an import's email key counts.
    """
    stable = {k: v for k, v in raw.items() if k not in VOLATILE_FIELDS}
    if email is not None:
        stable["email"] = email
    content = json.dumps(stable, sort_keys=True, default=str)
    return "derived-" + hashlib.sha256(content.encode("utf-8")).hexdigest()[:48]


def check_storable(value: Any) -> None:
    """Refuse what the store cannot keep: NaN and Infinity, and NUL characters."""
    try:
        text = json.dumps(value, default=str, allow_nan=False)
    except ValueError:
        raise InvalidMessage("contains NaN or Infinity, which JSON cannot carry") from None
    # PostgreSQL text and JSONB cannot hold U+0000 (json.dumps always escapes it).
    if "\\u0000" in text:
        raise InvalidMessage("contains a NUL character (\\u0000), which the store cannot keep")


def parse_instant(value: Any) -> datetime:
    """An ISO-8601 instant (text or datetime) as aware UTC; naive means UTC."""
    parsed = _instant(value)
    if parsed is None:
        raise ValueError("is empty")
    return parsed


def _normalise(
    wire: WireMessage, *, message_id: str, email: str | None, timestamp: datetime
) -> Message:
    properties: dict[str, Any] = {}
    traits: dict[str, Any] = {}
    account_traits: dict[str, Any] = {}
    group_id = _identifier(wire.context.get("groupId"))
    previous_id = None
    email = _email(email)
    if isinstance(wire, TrackMessage):
        name = wire.event or ""
        properties = dict(wire.properties)
    elif isinstance(wire, PageMessage):
        name = EVENT_NAMES[wire.type]
        properties = _page_properties(wire)
    elif isinstance(wire, IdentifyMessage):
        name = EVENT_NAMES["identify"]
        traits = dict(wire.traits)
        properties = dict(traits)
        email = email or _email(traits.get("email"))
    elif isinstance(wire, GroupMessage):
        name = EVENT_NAMES["group"]
        group_id = wire.group_id
        account_traits = dict(wire.traits)
        properties = {**account_traits, "groupId": group_id}
    else:
        name = EVENT_NAMES["alias"]
        previous_id = wire.previous_id
        properties = {"previousId": previous_id}
    return Message(
        type=wire.type,
        message_id=message_id,
        user_id=wire.user_id,
        anonymous_id=wire.anonymous_id,
        email=email,
        previous_id=previous_id,
        group_id=group_id,
        name=name,
        properties=properties,
        context=dict(wire.context),
        traits=traits,
        account_traits=account_traits,
        timestamp=timestamp,
    )


def _page_properties(wire: PageMessage) -> dict[str, Any]:
    properties = dict(wire.properties)
    for key, value in (("name", wire.name), ("category", wire.category)):
        if value is not None:
            properties.setdefault(key, value)
    page = wire.context.get("page")
    if isinstance(page, dict):
        for key in PAGE_FIELDS:
            if properties.get(key) is None and page.get(key) is not None:
                properties[key] = page[key]
    return properties


def _email(value: Any) -> str | None:
    """The address people.email keeps: trimmed, lowercased, and only if it looks like one."""
    if not isinstance(value, str) or "@" not in value:
        return None
    return value.strip().lower() or None


def _describe(exc: ValidationError) -> str:
    """Pydantic's errors as one line, naming each field the way the wire spells it."""
    parts = []
    for error in exc.errors(include_url=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        loc = [str(p) for p in error["loc"]]
        if loc and loc[0] in MESSAGE_TYPES:
            loc = loc[1:]  # the discriminator's tag, not a field
        if error["type"] == "missing":
            message = "is required"
        parts.append(f"'{'.'.join(loc)}': {message}" if loc else message)
    return "; ".join(parts)
