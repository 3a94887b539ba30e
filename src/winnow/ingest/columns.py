"""Column mapping for file imports: explicit mappings, and the names CRM exports use.

A mapping sends a source column to a Winnow field:

- people: `user_id`, `email`, `created_at`, `account_id` (the account's group id),
  `company` (the account's name), `account.<trait>` (`account.domain`, `account.plan`
  and `account.name` are account columns), and `traits.<key>` or a bare `<key>`: a
  person trait, named exactly so.
- accounts: `group_id`, `name`, `domain`, `plan`, `created_at`; other names are traits.
- events: `user_id`, `anonymous_id`, `email`, `event`, `type`, `timestamp`,
  `message_id`, `group_id`, `properties` and `context` (JSON objects), and
  `properties.<key>`, `prop_<key>`, `context.<key>` or a bare `<key>` (a property).
- `ignore` drops a column.

Segment's transport fields (`sentAt`, `integrations`, `writeKey`…) in exported
messages are dropped. Columns neither mapped nor recognised become traits (people,
accounts) or properties (events) under a snake_case key. Recognised names are compared
ignoring case, spaces and punctuation, so HubSpot's "First Name" and Salesforce's
"FirstName" are one name.
CRM record ids are kept as traits (`hubspot_record_id`, `salesforce_id`), not as user
ids: the product's user id is what events carry, and the email joins the two. CRM
stages and statuses are kept as traits too; stages here move only by rules and people.
Company facts on a person's row (industry, employees, revenue, website) describe the
account, so they go there, where the spec reads them (`account.employees`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("people", "accounts", "events")
FIELDS = {
    "people": ("user_id", "email", "created_at", "account_id", "company"),
    "accounts": ("group_id", "name", "domain", "plan", "created_at"),
    "events": (
        "user_id",
        "anonymous_id",
        "email",
        "event",
        "type",
        "timestamp",
        "message_id",
        "group_id",
        "properties",
        "context",
    ),
}

_CREATED = {"createdate": "created_at", "createddate": "created_at", "createdat": "created_at"}
_TRANSPORT = (
    "integrations",
    "sentat",
    "receivedat",
    "originaltimestamp",
    "version",
    "channel",
    "writekey",
)
_EMPLOYEES = ("numberofemployees", "numemployees", "employees", "employeecount")
RECOGNISED: dict[str, dict[str, str]] = {
    "people": {
        **_CREATED,
        **{n: "email" for n in ("email", "emailaddress", "workemail")},
        "userid": "user_id",
        "firstname": "firstName",
        "lastname": "lastName",
        "fullname": "name",
        "name": "name",
        "jobtitle": "title",
        "title": "title",
        **{n: "phone" for n in ("phone", "phonenumber", "mobilephone", "mobilephonenumber")},
        **{n: "company" for n in ("company", "companyname", "accountname")},
        **{n: "account_id" for n in ("accountid", "associatedcompanyid", "companyid")},
        "lifecyclestage": "lifecycle_stage",
        **{n: "lead_status" for n in ("leadstatus", "status")},
        **{n: "lead_source" for n in ("leadsource", "originalsource")},
        "recordid": "hubspot_record_id",
        **{n: "salesforce_id" for n in ("leadid", "contactid", "id")},
        **{n: "country" for n in ("countryregion", "country")},
        "industry": "account.industry",
        **{n: "account.employees" for n in _EMPLOYEES},
        "annualrevenue": "account.annual_revenue",
        "companydomainname": "account.domain",
        # The website is kept; the account's domain is read from it (see ingest.writer).
        "website": "account.website",
    },
    "accounts": {
        **_CREATED,
        **{n: "group_id" for n in ("groupid", "accountid", "companyid", "recordid", "id")},
        **{n: "name" for n in ("name", "company", "companyname", "accountname")},
        **{n: "domain" for n in ("domain", "companydomainname")},
        "website": "website",
        "plan": "plan",
        "industry": "industry",
        **{n: "employees" for n in _EMPLOYEES},
        "annualrevenue": "annual_revenue",
        **{n: "country" for n in ("countryregion", "billingcountry", "country")},
    },
    "events": {
        "userid": "user_id",
        "anonymousid": "anonymous_id",
        "email": "email",
        **{n: "event" for n in ("event", "eventname")},
        "type": "type",
        **{n: "timestamp" for n in ("timestamp", "time", "occurredat", "eventtime")},
        "messageid": "message_id",
        **{n: "group_id" for n in ("groupid", "accountid")},
        "properties": "properties",
        "context": "context",
        # Segment's transport fields, in exported messages: not part of the event.
        **dict.fromkeys(_TRANSPORT, "ignore"),
    },
}
_DOCUMENT_PREFIXES = {
    "people": {"traits.": "trait", "account.": "account"},
    "accounts": {"traits.": "trait"},
    "events": {"properties.": "property", "prop_": "property", "context.": "context"},
}
_LOOSE = {"people": "trait", "accounts": "trait", "events": "property"}
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")


@dataclass(frozen=True, kw_only=True)
class Target:
    """Where a column goes: a field of the kind, or a key of a JSON document."""

    place: str  # "field", "trait", "account", "property", "context" or "ignore"
    key: str


def normalise(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def snake_case(name: str) -> str:
    """ "Lead Score (Custom)" -> "lead_score_custom", "annualRevenue" -> "annual_revenue"."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())
    return re.sub(r"[^0-9a-z]+", "_", spaced.lower()).strip("_") or "column"


def typed(value: Any) -> Any:
    """Numeric-looking text as a number, so `account.employees >= 50` compares numbers.

    Only plain decimals convert: "0042" (a postal code, an id) and "1,200" stay text.
    """
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return float(value) if "." in value else int(value)
    return value


def _target(kind: str, name: str) -> Target:
    """Where a mapping's field name sends a column."""
    if name == "ignore":
        return Target(place="ignore", key="")
    if name in FIELDS[kind]:
        return Target(place="field", key=name)
    for prefix, place in _DOCUMENT_PREFIXES[kind].items():
        if name.startswith(prefix) and len(name) > len(prefix):
            key = name[len(prefix) :]
            if place == "account" and key in ("name", "domain", "plan"):
                return Target(place="account", key=key)
            return Target(place=place, key=key)
    return Target(place=_LOOSE[kind], key=name)


@dataclass(frozen=True, kw_only=True)
class ColumnMapping:
    """Where each column of one file goes: the explicit mapping first, then recognised names."""

    kind: str
    explicit: Mapping[str, str] = field(default_factory=dict)
    _cache: dict[str, Target] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        for column, name in self.explicit.items():
            if not name.strip():
                raise ValueError(f"mapping for column {column!r} names no field")

    def target(self, column: str) -> Target:
        found = self._cache.get(column)
        if found is None:
            name = self.explicit.get(column)
            if name is None:
                name = RECOGNISED[self.kind].get(normalise(column))
            if name is not None:
                found = _target(self.kind, name.strip())
            elif self.kind == "events" and column.startswith("prop_"):
                found = Target(place="property", key=column[len("prop_") :])
            else:
                found = Target(place=_LOOSE[self.kind], key=snake_case(column))
            self._cache[column] = found
        return found
