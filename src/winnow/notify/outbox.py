"""The outbox: endpoints, notification rules, and the notifications waiting to be delivered.

Whatever makes something happen (a stage change, an SLA breach) calls `emit` in its own
transaction: the notification and one delivery per matching endpoint are written with
it or not at all, so a committed stage change always has its notification, and a rolled
back one never does. The dispatcher (winnow.notify.dispatcher) delivers from here.

Happenings are named `person.<stage>` (entered that stage: person.mql, person.sql,
person.customer...), `person.reengaged` (a disqualified lead active again),
`account.converted` (trial to paid) and `review.overdue` (an SLA breached). A rule
lists the happenings it wants, with `*` as a wildcard ("person.*", "*").
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa

from winnow.clock import from_db, to_db
from winnow.notify.signing import new_message_id, new_secret
from winnow.store.schema import deliveries, endpoints, notification_rules, notifications

HAPPENINGS = (
    "person.mql",
    "person.pql",
    "person.sal",
    "person.sql",
    "person.opportunity",
    "person.customer",
    "person.csql",
    "person.nurture",
    "person.disqualified",
    "person.reengaged",
    "account.converted",
    "review.overdue",
)
KINDS = ("webhook", "slack")
# How long the previous secret keeps signing after a rotation, by default.
ROTATION_OVERLAP = timedelta(hours=24)


class NotFound(LookupError):
    pass


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    id: int
    name: str
    kind: str
    url: str
    secret: str | None
    previous_secret: str | None
    previous_until: datetime | None
    created_at: datetime
    created_by: str
    disabled_at: datetime | None
    disabled_reason: str | None

    def secrets(self, now: datetime) -> list[str]:
        """The secrets that sign now: the current one, and the previous during an overlap."""
        found = [self.secret] if self.secret else []
        if self.previous_secret and self.previous_until and now < self.previous_until:
            found.append(self.previous_secret)
        return found


@dataclass(frozen=True, kw_only=True)
class Rule:
    id: int
    name: str
    happenings: tuple[str, ...]
    endpoint_id: int
    created_at: datetime
    created_by: str


def _endpoint(row: sa.RowMapping) -> Endpoint:
    def instant(value: datetime | None) -> datetime | None:
        return from_db(value) if value is not None else None

    return Endpoint(
        id=row["id"],
        name=row["name"],
        kind=row["kind"],
        url=row["url"],
        secret=row["secret"],
        previous_secret=row["previous_secret"],
        previous_until=instant(row["previous_until"]),
        created_at=from_db(row["created_at"]),
        created_by=row["created_by"],
        disabled_at=instant(row["disabled_at"]),
        disabled_reason=row["disabled_reason"],
    )


def _check_url(url: str) -> str:
    url = url.strip()
    if not url.startswith(("http://", "https://")) or len(url) < 12:
        raise ValueError(f"an endpoint URL starts with https:// (or http://), not {url!r}")
    return url


def add_endpoint(
    conn: sa.Connection,
    workspace_id: int,
    *,
    name: str,
    kind: Literal["webhook", "slack"] | str,
    url: str,
    by: str,
    now: datetime,
) -> Endpoint:
    """A new endpoint; a webhook gets a fresh signing secret (read it back to share it)."""
    if kind not in KINDS:
        raise ValueError(f"an endpoint is a webhook or slack, not {kind!r}")
    new_id = conn.execute(
        endpoints.insert().values(
            workspace_id=workspace_id,
            name=name,
            kind=kind,
            url=_check_url(url),
            secret=new_secret() if kind == "webhook" else None,
            created_at=to_db(now),
            created_by=by,
        )
    ).inserted_primary_key
    assert new_id is not None
    return get_endpoint(conn, workspace_id, int(new_id[0]))


def get_endpoint(conn: sa.Connection, workspace_id: int, endpoint_id: int) -> Endpoint:
    row = (
        conn.execute(
            sa.select(endpoints).where(
                endpoints.c.workspace_id == workspace_id, endpoints.c.id == endpoint_id
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no endpoint {endpoint_id} in this workspace")
    return _endpoint(row)


def list_endpoints(conn: sa.Connection, workspace_id: int) -> list[Endpoint]:
    query = sa.select(endpoints).where(endpoints.c.workspace_id == workspace_id)
    return [_endpoint(r) for r in conn.execute(query.order_by(endpoints.c.id)).mappings()]


def rotate_secret(
    conn: sa.Connection,
    workspace_id: int,
    endpoint_id: int,
    *,
    now: datetime,
    overlap: timedelta = ROTATION_OVERLAP,
) -> Endpoint:
    """A new signing secret; the old one signs too until `overlap` has passed."""
    current = get_endpoint(conn, workspace_id, endpoint_id)
    if current.kind != "webhook":
        raise ValueError("only webhook endpoints have a signing secret")
    conn.execute(
        endpoints.update()
        .where(endpoints.c.id == endpoint_id)
        .values(
            secret=new_secret(),
            previous_secret=current.secret,
            previous_until=to_db(now + overlap),
        )
    )
    return get_endpoint(conn, workspace_id, endpoint_id)


def set_endpoint_enabled(
    conn: sa.Connection,
    workspace_id: int,
    endpoint_id: int,
    enabled: bool,
    *,
    now: datetime,
    reason: str | None = None,
) -> Endpoint:
    get_endpoint(conn, workspace_id, endpoint_id)
    conn.execute(
        endpoints.update()
        .where(endpoints.c.id == endpoint_id)
        .values(
            disabled_at=None if enabled else to_db(now),
            disabled_reason=None if enabled else reason,
        )
    )
    return get_endpoint(conn, workspace_id, endpoint_id)


def delete_endpoint(conn: sa.Connection, workspace_id: int, endpoint_id: int) -> None:
    """Remove an endpoint with its rules and deliveries (the notifications stay)."""
    get_endpoint(conn, workspace_id, endpoint_id)
    conn.execute(endpoints.delete().where(endpoints.c.id == endpoint_id))


def _check_happenings(happenings: Sequence[str]) -> tuple[str, ...]:
    if not happenings:
        raise ValueError("a rule needs at least one happening, e.g. person.mql or person.*")
    for pattern in happenings:
        if not any(fnmatch.fnmatchcase(h, pattern) for h in HAPPENINGS):
            raise ValueError(
                f"{pattern!r} matches no happening; they are {', '.join(HAPPENINGS)}"
                " (* is a wildcard: person.*)"
            )
    return tuple(happenings)


def add_rule(
    conn: sa.Connection,
    workspace_id: int,
    *,
    name: str,
    happenings: Sequence[str],
    endpoint_id: int,
    by: str,
    now: datetime,
) -> Rule:
    """Send these happenings to that endpoint."""
    checked = _check_happenings(happenings)
    get_endpoint(conn, workspace_id, endpoint_id)
    new_id = conn.execute(
        notification_rules.insert().values(
            workspace_id=workspace_id,
            name=name,
            happenings=list(checked),
            endpoint_id=endpoint_id,
            created_at=to_db(now),
            created_by=by,
        )
    ).inserted_primary_key
    assert new_id is not None
    return next(r for r in list_rules(conn, workspace_id) if r.id == new_id[0])


def list_rules(conn: sa.Connection, workspace_id: int) -> list[Rule]:
    rows = conn.execute(
        sa.select(notification_rules)
        .where(notification_rules.c.workspace_id == workspace_id)
        .order_by(notification_rules.c.id)
    ).mappings()
    return [
        Rule(
            id=r["id"],
            name=r["name"],
            happenings=tuple(r["happenings"]),
            endpoint_id=r["endpoint_id"],
            created_at=from_db(r["created_at"]),
            created_by=r["created_by"],
        )
        for r in rows
    ]


def delete_rule(conn: sa.Connection, workspace_id: int, rule_id: int) -> None:
    deleted = conn.execute(
        notification_rules.delete().where(
            notification_rules.c.workspace_id == workspace_id, notification_rules.c.id == rule_id
        )
    )
    if deleted.rowcount == 0:
        raise NotFound(f"no notification rule {rule_id} in this workspace")


def subscribers(conn: sa.Connection, workspace_id: int, happening: str) -> list[int]:
    """The enabled endpoints some rule sends this happening to."""
    rows = conn.execute(
        sa.select(notification_rules.c.happenings, notification_rules.c.endpoint_id)
        .join(endpoints, endpoints.c.id == notification_rules.c.endpoint_id)
        .where(notification_rules.c.workspace_id == workspace_id, endpoints.c.disabled_at.is_(None))
    )
    return sorted(
        {
            endpoint_id
            for patterns, endpoint_id in rows
            if any(fnmatch.fnmatchcase(happening, p) for p in patterns)
        }
    )


def emit(
    conn: sa.Connection,
    workspace_id: int,
    happening: str,
    data: Mapping[str, Any],
    *,
    at: datetime,
    person_id: int | None = None,
) -> str | None:
    """Write a notification and its deliveries, in the caller's transaction.

    Returns its id (the webhook-id), or None when no rule wants this happening.
    """
    targets = subscribers(conn, workspace_id, happening)
    if not targets:
        return None
    message_id = new_message_id()
    stamp = to_db(at)
    inserted = conn.execute(
        notifications.insert().values(
            message_id=message_id,
            workspace_id=workspace_id,
            type=happening,
            person_id=person_id,
            payload={"type": happening, "timestamp": _iso(at), "data": dict(data)},
            created_at=stamp,
        )
    ).inserted_primary_key
    assert inserted is not None
    conn.execute(
        deliveries.insert(),
        [
            {
                "workspace_id": workspace_id,
                "notification_id": inserted[0],
                "endpoint_id": endpoint_id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": stamp,
                "created_at": stamp,
            }
            for endpoint_id in targets
        ],
    )
    return message_id


def redeliver(
    conn: sa.Connection,
    workspace_id: int,
    *,
    now: datetime,
    notification_ids: Iterable[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    endpoint_id: int | None = None,
) -> int:
    """Send notifications again (same webhook-id): some by id, or all in a time range.

    Their deliveries start over as pending, due now; returns how many.
    """
    query = sa.select(deliveries.c.id).join(
        notifications, notifications.c.id == deliveries.c.notification_id
    )
    query = query.where(deliveries.c.workspace_id == workspace_id)
    if notification_ids is not None:
        query = query.where(notifications.c.message_id.in_(list(notification_ids)))
    if since is not None:
        query = query.where(notifications.c.created_at >= to_db(since))
    if until is not None:
        query = query.where(notifications.c.created_at < to_db(until))
    if endpoint_id is not None:
        query = query.where(deliveries.c.endpoint_id == endpoint_id)
    ids = list(conn.execute(query).scalars())
    if ids:
        conn.execute(
            deliveries.update()
            .where(deliveries.c.id.in_(ids))
            .values(status="pending", attempts=0, next_attempt_at=to_db(now), leased_until=None)
        )
    return len(ids)


def _iso(at: datetime) -> str:
    return to_db(at).isoformat() + "Z"
