"""Notifications: endpoints (webhooks, Slack), the rules that feed them, and the delivery log."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from winnow.notify import outbox
from winnow.notify.log import list_notifications
from winnow.server.api import ERRORS, PREFIX, AdminKey, PathId, ReadKey, actor, now, transaction
from winnow.server.api.models import (
    STORABLE,
    Endpoint,
    EndpointRequest,
    Notification,
    Redelivered,
    Replay,
    Rule,
    RuleRequest,
)
from winnow.server.errors import ApiError

router = APIRouter(prefix=PREFIX, tags=["notifications"], responses=ERRORS)


@contextmanager
def _answers() -> Iterator[None]:
    """The library's refusals as API errors: unknown ids 404, bad values 400."""
    try:
        yield
    except outbox.NotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except ValueError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None


def _endpoint(found: outbox.Endpoint) -> Endpoint:
    return Endpoint.model_validate(vars(found))


@router.get("/endpoints")
def get_endpoints(key: AdminKey, request: Request) -> list[Endpoint]:
    """Every endpoint, with its signing secret (admins only)."""
    with transaction(request) as conn:
        return [_endpoint(e) for e in outbox.list_endpoints(conn, key.workspace_id)]


@router.post("/endpoints", status_code=201)
def post_endpoint(body: EndpointRequest, key: AdminKey, request: Request) -> Endpoint:
    """Add a webhook (it gets a whsec_ signing secret) or a Slack incoming webhook."""
    with transaction(request) as conn, _answers():
        created = outbox.add_endpoint(
            conn, key.workspace_id, name=body.name, kind=body.kind, url=body.url,
            by=actor(key), now=now(request),
        )  # fmt: skip
    return _endpoint(created)


@router.get("/endpoints/{endpoint_id}")
def get_endpoint(endpoint_id: PathId, key: AdminKey, request: Request) -> Endpoint:
    with transaction(request) as conn, _answers():
        return _endpoint(outbox.get_endpoint(conn, key.workspace_id, endpoint_id))


@router.post("/endpoints/{endpoint_id}/rotate")
def rotate(endpoint_id: PathId, key: AdminKey, request: Request) -> Endpoint:
    """A new signing secret; the previous one keeps signing (a second signature) for 24 h."""
    with transaction(request) as conn, _answers():
        return _endpoint(
            outbox.rotate_secret(conn, key.workspace_id, endpoint_id, now=now(request))
        )


@router.post("/endpoints/{endpoint_id}/{state}")
def set_state(
    endpoint_id: PathId,
    state: Annotated[str, "enable or disable"],
    key: AdminKey,
    request: Request,
) -> Endpoint:
    """Enable an endpoint (its waiting deliveries go out) or disable it."""
    if state not in ("enable", "disable"):
        raise ApiError(404, "not_found", f"no action {state!r}; use enable or disable")
    with transaction(request) as conn, _answers():
        changed = outbox.set_endpoint_enabled(
            conn, key.workspace_id, endpoint_id, state == "enable", now=now(request),
            reason=f"disabled by {actor(key)}",
        )  # fmt: skip
    return _endpoint(changed)


@router.delete("/endpoints/{endpoint_id}", status_code=204)
def delete_endpoint(endpoint_id: PathId, key: AdminKey, request: Request) -> None:
    """Remove an endpoint with its rules and pending deliveries."""
    with transaction(request) as conn, _answers():
        outbox.delete_endpoint(conn, key.workspace_id, endpoint_id)


@router.get("/rules")
def get_rules(key: ReadKey, request: Request) -> list[Rule]:
    """Which happenings go to which endpoint."""
    with transaction(request) as conn:
        return [Rule.model_validate(vars(r)) for r in outbox.list_rules(conn, key.workspace_id)]


@router.post("/rules", status_code=201)
def post_rule(body: RuleRequest, key: AdminKey, request: Request) -> Rule:
    """Send happenings (person.mql, person.*, account.converted, review.overdue...) to an
    endpoint."""
    with transaction(request) as conn, _answers():
        created = outbox.add_rule(
            conn, key.workspace_id, name=body.name, happenings=body.happenings,
            endpoint_id=body.endpoint_id, by=actor(key), now=now(request),
        )  # fmt: skip
    return Rule.model_validate(vars(created))


@router.delete("/rules/{rule_id}", status_code=204)
def delete_rule(rule_id: PathId, key: AdminKey, request: Request) -> None:
    with transaction(request) as conn, _answers():
        outbox.delete_rule(conn, key.workspace_id, rule_id)


def _notification(record: Any) -> Notification:
    return Notification.model_validate(
        {
            **vars(record),
            "deliveries": [{**vars(d), "log": [vars(a) for a in d.log]} for d in record.deliveries],
        }
    )


@router.get("/notifications")
def get_notifications(
    key: ReadKey,
    request: Request,
    type: Annotated[str | None, Query(max_length=50, pattern=STORABLE)] = None,
    status: Annotated[str | None, Query(pattern="^(pending|delivered|failed)$")] = None,
    person_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[Notification]:
    """The delivery log, newest first: each notification with its deliveries and attempts."""
    with transaction(request) as conn:
        found = list_notifications(
            conn, key.workspace_id, type=type, status=status, person_id=person_id, limit=limit,
            with_attempts=True,
        )  # fmt: skip
    return [_notification(n) for n in found]


@router.post("/notifications/{notification_id}/redeliver")
def post_redeliver(
    notification_id: Annotated[str, "msg_..."], key: AdminKey, request: Request
) -> Redelivered:
    """Send a notification again, with its original webhook-id."""
    with transaction(request) as conn:
        count = outbox.redeliver(
            conn, key.workspace_id, now=now(request), notification_ids=[notification_id]
        )
    if count == 0:
        raise ApiError(404, "not_found", f"no notification {notification_id!r} in this workspace")
    request.app.state.dispatcher_wakeup()
    return Redelivered(redelivered=count)


@router.post("/notifications/replay")
def post_replay(body: Replay, key: AdminKey, request: Request) -> Redelivered:
    """Send again every notification of a time range (to one endpoint, or all)."""
    if body.until <= body.since:
        raise ApiError(400, "invalid_request", "until must be after since")
    with transaction(request) as conn:
        count = outbox.redeliver(
            conn, key.workspace_id, now=now(request), since=body.since, until=body.until,
            endpoint_id=body.endpoint_id,
        )  # fmt: skip
    request.app.state.dispatcher_wakeup()
    return Redelivered(redelivered=count)
