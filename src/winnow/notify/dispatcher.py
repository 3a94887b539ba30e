"""Delivering the outbox: signed webhooks and Slack messages, retried until acknowledged.

A dispatcher claims due deliveries by leasing them (a short transaction; on PostgreSQL
with SKIP LOCKED, so several dispatchers never take the same one), sends them outside
any transaction, then records the attempt and what comes next. A dispatcher killed
mid-send leaves its leases to expire, and the delivery goes again: at least once, with
the same webhook-id, which receivers use to drop repeats.

What an answer means (Standard Webhooks): 2xx delivered; 410 Gone disables the endpoint
(its deliveries wait until someone enables it again); anything else, a timeout or a
refused connection is a failure, retried on the schedule below, no sooner than a 429's
or 503's Retry-After says. Redirects are not followed. After the last retry (about three
days) the delivery has failed; a user can still redeliver it (winnow.notify.outbox).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from winnow import jsoncodec
from winnow.clock import to_db, utcnow
from winnow.notify.outbox import Endpoint, get_endpoint
from winnow.notify.signing import headers as signed_headers
from winnow.notify.slack import slack_message
from winnow.store.db import write_transaction
from winnow.store.schema import deliveries, delivery_attempts, endpoints, notifications

log = logging.getLogger("winnow.dispatcher")

# Waits before retries 1, 2, ... (the first attempt is immediate), from Standard Webhooks.
RETRY_DELAYS = tuple(
    timedelta(seconds=s) for s in (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
)
JITTER = 0.1  # +/- 10% of each wait, so retries of many deliveries spread out
RESPONSE_EXCERPT = 1000


def next_attempt(
    attempts: int, now: datetime, *, retry_after: float | None, rng: random.Random
) -> datetime | None:
    """When to try again after `attempts` failed ones; None when it is time to give up."""
    if attempts > len(RETRY_DELAYS):
        return None
    wait = RETRY_DELAYS[attempts - 1].total_seconds()
    wait *= 1 + rng.uniform(-JITTER, JITTER)
    if retry_after is not None:
        wait = max(wait, retry_after)
    return now + timedelta(seconds=wait)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare from webhook receivers; the schedule applies


@dataclass(frozen=True, kw_only=True)
class Attempt:
    status_code: int | None
    latency_ms: float
    response: str | None
    error: str | None
    retry_after: float | None = None


@dataclass
class Dispatcher:
    engine: sa.Engine
    clock: Callable[[], datetime] = utcnow
    client: httpx.Client = field(
        default_factory=lambda: httpx.Client(timeout=15.0, follow_redirects=False)
    )
    lease: timedelta = timedelta(seconds=60)
    batch: int = 50
    # Where people open Winnow: Slack messages link to the person there.
    public_url: str | None = None
    rng: random.Random = field(default_factory=random.Random)
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)

    def deliver_due(self) -> int:
        """One round: lease due deliveries, send each once, record. Returns how many."""
        now = self.clock()
        leased = self._lease(now)
        for delivery_id in leased:
            self._deliver(delivery_id)
        return len(leased)

    def _lease(self, now: datetime) -> list[int]:
        stamp = to_db(now)
        query = (
            sa.select(deliveries.c.id)
            .join(endpoints, endpoints.c.id == deliveries.c.endpoint_id)
            .where(
                deliveries.c.status == "pending",
                deliveries.c.next_attempt_at <= stamp,
                sa.or_(deliveries.c.leased_until.is_(None), deliveries.c.leased_until <= stamp),
                endpoints.c.disabled_at.is_(None),
            )
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(self.batch)
        )
        with write_transaction(self.engine) as conn:
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(of=deliveries, skip_locked=True)
            ids = list(conn.execute(query).scalars())
            if ids:
                conn.execute(
                    deliveries.update()
                    .where(deliveries.c.id.in_(ids))
                    .values(leased_until=to_db(now + self.lease))
                )
        return ids

    def _deliver(self, delivery_id: int) -> None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(
                        deliveries.c.workspace_id,
                        deliveries.c.endpoint_id,
                        deliveries.c.attempts,
                        notifications.c.message_id,
                        notifications.c.type,
                        notifications.c.payload,
                    )
                    .join(notifications, notifications.c.id == deliveries.c.notification_id)
                    .where(deliveries.c.id == delivery_id)
                )
                .mappings()
                .one()
            )
            endpoint = get_endpoint(conn, row["workspace_id"], row["endpoint_id"])
        now = self.clock()
        attempt = self._send(endpoint, row["message_id"], row["payload"], now)
        self._record(delivery_id, endpoint, row["workspace_id"], row["attempts"] + 1, attempt, now)

    def _send(
        self, endpoint: Endpoint, message_id: str, payload: dict[str, Any], now: datetime
    ) -> Attempt:
        if endpoint.kind == "slack":
            data = dict(payload["data"])
            person = data.get("person") or {}
            if self.public_url and person.get("id") is not None:
                data["link"] = f"{self.public_url.rstrip('/')}/people/{person['id']}"
            body = jsoncodec.encode(slack_message(payload["type"], data))
            request_headers = {"content-type": "application/json"}
        else:
            body = jsoncodec.encode(payload)
            request_headers = signed_headers(
                message_id=message_id,
                timestamp=int(now.timestamp()),
                body=body,
                secrets=endpoint.secrets(now),
            )
        started = time.perf_counter()
        try:
            response = self.client.post(endpoint.url, content=body, headers=request_headers)
        except httpx.HTTPError as exc:
            return Attempt(
                status_code=None,
                latency_ms=(time.perf_counter() - started) * 1000,
                response=None,
                error=f"{type(exc).__name__}: {exc}"[:RESPONSE_EXCERPT],
            )
        return Attempt(
            status_code=response.status_code,
            latency_ms=(time.perf_counter() - started) * 1000,
            response=response.text[:RESPONSE_EXCERPT],
            error=None,
            retry_after=_retry_after(response),
        )

    def _record(
        self,
        delivery_id: int,
        endpoint: Endpoint,
        workspace_id: int,
        attempts: int,
        attempt: Attempt,
        now: datetime,
    ) -> None:
        code = attempt.status_code
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_status_code": code,
            "leased_until": None,
        }
        if code is not None and 200 <= code < 300:
            values |= {"status": "delivered", "delivered_at": to_db(now), "next_attempt_at": None}
        else:
            retry = next_attempt(attempts, now, retry_after=attempt.retry_after, rng=self.rng)
            if retry is None:
                values |= {"status": "failed", "next_attempt_at": None}
            else:
                values |= {"next_attempt_at": to_db(retry)}
        with write_transaction(self.engine) as conn:
            conn.execute(
                delivery_attempts.insert().values(
                    workspace_id=workspace_id,
                    delivery_id=delivery_id,
                    at=to_db(now),
                    status_code=code,
                    latency_ms=attempt.latency_ms,
                    response=attempt.response,
                    error=attempt.error,
                )
            )
            conn.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(values))
            if code == 410:
                conn.execute(
                    endpoints.update()
                    .where(endpoints.c.id == endpoint.id)
                    .values(
                        disabled_at=to_db(now),
                        disabled_reason="the endpoint answered 410 Gone",
                    )
                )

    # -- the loop --------------------------------------------------------------------------
    def wake(self) -> None:
        self._wake.set()

    def run(self, idle_seconds: float = 1.0) -> None:
        """Deliver until stopped; errors are logged and the deliveries stay due."""
        while not self._stop.is_set():
            try:
                if self.deliver_due():
                    continue
            except Exception:
                log.exception("delivering failed; the deliveries stay pending")
            self._wake.wait(idle_seconds)
            self._wake.clear()

    def start(self, idle_seconds: float = 1.0) -> threading.Thread:
        thread = threading.Thread(
            target=self.run, args=(idle_seconds,), name="winnow-dispatcher", daemon=True
        )
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def close(self) -> None:
        self.client.close()
