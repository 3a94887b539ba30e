"""Settings (admins): API keys, notification endpoints and rules, and the delivery log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from winnow.notify import outbox
from winnow.notify.log import list_notifications
from winnow.store.keys import KeyNotFound, create_key, list_keys, revoke_key
from winnow.web.pages.common import render, transaction
from winnow.web.session import Forbidden, Page, SignedIn

router = APIRouter(include_in_schema=False)
CHANGE_LABELS = {"rotate": "Rotate secret", "enable": "Enable", "disable": "Disable"}


def _page(page: Page, *, new_token: str | None = None, error: str | None = None) -> HTMLResponse:
    with transaction(page.request) as conn:
        keys = list_keys(conn, page.workspace_id)
        endpoints = outbox.list_endpoints(conn, page.workspace_id)
        rules = outbox.list_rules(conn, page.workspace_id)
        log = list_notifications(conn, page.workspace_id, limit=30, with_attempts=True)
    names = {e.id: e.name for e in endpoints}
    context = page.context(
        keys=keys, endpoints=endpoints, rules=rules, log=log, names=names,
        happenings=outbox.HAPPENINGS, new_token=new_token, error=error, nav="settings",
        change_labels=CHANGE_LABELS,
    )  # fmt: skip
    return render("settings.html", context, status=400 if error else 200)


@router.get("/settings")
def settings_page(page: SignedIn) -> HTMLResponse:
    if not page.session.user.may("admin"):
        raise Forbidden("settings are for admins")
    return _page(page)


@router.post("/settings/keys")
def add_key(
    page: SignedIn,
    kind: Annotated[str, Form()],
    name: Annotated[str, Form()],
    role: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Create a key; its token is shown on the answer page once, never again."""
    page.check(csrf, needs="admin")
    with transaction(page.request) as conn:
        try:
            _, token = create_key(
                conn, page.workspace_id, kind=kind, name=name.strip(), role=role or None,
                by=page.session.user.email, now=page.request.app.state.clock(),
            )  # fmt: skip
        except ValueError as exc:
            return _page(page, error=str(exc))
    return _page(page, new_token=token)


@router.post("/settings/keys/{key_id}/revoke")
def revoke(page: SignedIn, key_id: int, csrf: Annotated[str, Form()] = "") -> Response:
    page.check(csrf, needs="admin")
    with transaction(page.request) as conn:
        try:
            revoke_key(conn, page.workspace_id, key_id, now=page.request.app.state.clock())
        except KeyNotFound as exc:
            return _page(page, error=str(exc))
    return RedirectResponse("/settings", status_code=303)


@router.post("/settings/endpoints")
def add_endpoint(
    page: SignedIn,
    kind: Annotated[str, Form()],
    name: Annotated[str, Form()],
    url: Annotated[str, Form()],
    happenings: Annotated[list[str] | None, Form()] = None,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Add an endpoint and, with the happenings ticked, the rule that feeds it."""
    page.check(csrf, needs="admin")
    now = page.request.app.state.clock()
    with transaction(page.request) as conn:
        try:
            endpoint = outbox.add_endpoint(
                conn, page.workspace_id, name=name.strip(), kind=kind, url=url,
                by=page.session.user.email, now=now,
            )  # fmt: skip
            if happenings:
                outbox.add_rule(
                    conn, page.workspace_id, name=f"{endpoint.name}: {', '.join(happenings)}",
                    happenings=happenings, endpoint_id=endpoint.id,
                    by=page.session.user.email, now=now,
                )  # fmt: skip
        except ValueError as exc:
            return _page(page, error=str(exc))
    return RedirectResponse("/settings", status_code=303)


@router.post("/settings/endpoints/{endpoint_id}/{change}")
def change_endpoint(
    page: SignedIn, endpoint_id: int, change: str, csrf: Annotated[str, Form()] = ""
) -> Response:
    """Rotate the signing secret, or enable or disable an endpoint."""
    page.check(csrf, needs="admin")
    now = page.request.app.state.clock()
    with transaction(page.request) as conn:
        try:
            if change == "rotate":
                outbox.rotate_secret(conn, page.workspace_id, endpoint_id, now=now)
            elif change in ("enable", "disable"):
                outbox.set_endpoint_enabled(
                    conn, page.workspace_id, endpoint_id, change == "enable", now=now,
                    reason=f"disabled by {page.session.user.email}",
                )  # fmt: skip
            else:
                return _page(page, error=f"unknown change {change!r}")
        except (outbox.NotFound, ValueError) as exc:
            return _page(page, error=str(exc))
    return RedirectResponse("/settings", status_code=303)


@router.post("/settings/notifications/{notification_id}/redeliver")
def redeliver(page: SignedIn, notification_id: str, csrf: Annotated[str, Form()] = "") -> Response:
    """Send a notification again, with its original webhook-id."""
    page.check(csrf, needs="admin")
    with transaction(page.request) as conn:
        outbox.redeliver(
            conn, page.workspace_id, now=page.request.app.state.clock(),
            notification_ids=[notification_id],
        )  # fmt: skip
    page.request.app.state.dispatcher_wakeup()
    return RedirectResponse("/settings#log", status_code=303)
