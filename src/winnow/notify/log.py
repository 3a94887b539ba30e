"""The delivery log: notifications sent, to whom, and every attempt with its answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from winnow.clock import from_db
from winnow.store.schema import deliveries, delivery_attempts, notifications


@dataclass(frozen=True, kw_only=True)
class AttemptRecord:
    at: datetime
    status_code: int | None
    latency_ms: float
    response: str | None
    error: str | None


@dataclass(frozen=True, kw_only=True)
class DeliveryRecord:
    id: int
    endpoint_id: int
    status: str
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status_code: int | None
    log: tuple[AttemptRecord, ...] = ()


@dataclass(frozen=True, kw_only=True)
class NotificationRecord:
    id: str
    type: str
    person_id: int | None
    created_at: datetime
    payload: dict[str, Any]
    deliveries: tuple[DeliveryRecord, ...]


def _instant(value: datetime | None) -> datetime | None:
    return from_db(value) if value is not None else None


def list_notifications(
    conn: sa.Connection,
    workspace_id: int,
    *,
    type: str | None = None,
    status: str | None = None,
    person_id: int | None = None,
    limit: int = 50,
    with_attempts: bool = False,
) -> list[NotificationRecord]:
    """Newest first, each with its deliveries (and their attempts when asked)."""
    query = sa.select(notifications).where(notifications.c.workspace_id == workspace_id)
    if type is not None:
        query = query.where(notifications.c.type == type)
    if person_id is not None:
        query = query.where(notifications.c.person_id == person_id)
    if status is not None:
        having = sa.select(deliveries.c.notification_id).where(deliveries.c.status == status)
        query = query.where(notifications.c.id.in_(having))
    query = query.order_by(notifications.c.created_at.desc(), notifications.c.id.desc())
    query = query.limit(limit)
    rows = list(conn.execute(query).mappings())
    ids = [r["id"] for r in rows]
    found: dict[int, list[DeliveryRecord]] = {i: [] for i in ids}
    if ids:
        log: dict[int, list[AttemptRecord]] = {}
        sent = list(
            conn.execute(
                sa.select(deliveries)
                .where(deliveries.c.notification_id.in_(ids))
                .order_by(deliveries.c.id)
            ).mappings()
        )
        if with_attempts and sent:
            for a in conn.execute(
                sa.select(delivery_attempts)
                .where(delivery_attempts.c.delivery_id.in_([d["id"] for d in sent]))
                .order_by(delivery_attempts.c.id)
            ).mappings():
                log.setdefault(a["delivery_id"], []).append(
                    AttemptRecord(
                        at=from_db(a["at"]),
                        status_code=a["status_code"],
                        latency_ms=a["latency_ms"],
                        response=a["response"],
                        error=a["error"],
                    )
                )
        for d in sent:
            found[d["notification_id"]].append(
                DeliveryRecord(
                    id=d["id"],
                    endpoint_id=d["endpoint_id"],
                    status=d["status"],
                    attempts=d["attempts"],
                    next_attempt_at=_instant(d["next_attempt_at"]),
                    delivered_at=_instant(d["delivered_at"]),
                    last_status_code=d["last_status_code"],
                    log=tuple(log.get(d["id"], ())),
                )
            )
    return [
        NotificationRecord(
            id=r["message_id"],
            type=r["type"],
            person_id=r["person_id"],
            created_at=from_db(r["created_at"]),
            payload=dict(r["payload"]),
            deliveries=tuple(found[r["id"]]),
        )
        for r in rows
    ]
