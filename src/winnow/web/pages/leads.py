"""The pages sales and marketing work in: overview, leads, one lead, the review queue."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from winnow.analytics.overview import overview
from winnow.handoff.queue import owners as review_owners
from winnow.handoff.queue import queue as review_queue
from winnow.leads import InvalidCursor, LeadFilter, LeadNotFound, lead_detail, list_leads
from winnow.lifecycle import BANT, IllegalMove
from winnow.qualification import act, review
from winnow.web.pages.common import ACTION_LABELS, OUTCOME_LABELS, STAGES, render, transaction
from winnow.web.session import Forbidden, SignedIn

router = APIRouter(include_in_schema=False)
ACTIONS = {  # the buttons a lead's page offers, by stage
    "mql": ("accept", "nurture", "disqualify"),
    "pql": ("accept", "nurture", "disqualify"),
    "sal": ("qualify", "nurture", "disqualify"),
    "sql": ("open_opportunity", "nurture", "disqualify"),
    "lead": ("nurture", "disqualify"),
    "nurture": ("disqualify",),
}


@router.get("/")
def overview_page(page: SignedIn) -> HTMLResponse:
    with transaction(page.request) as conn:
        figures = overview(conn, page.workspace_id, now=page.request.app.state.clock())
    return render("overview.html", page.context(o=figures, nav="overview"))


@router.get("/leads")
def leads_page(
    page: SignedIn,
    stage: Annotated[str | None, Query()] = None,
    grade: Annotated[str | None, Query()] = None,
    min_score: Annotated[str | None, Query()] = None,
    segment: Annotated[str | None, Query()] = None,
    q: Annotated[str | None, Query()] = None,
    sort: Annotated[str, Query()] = "-score",
    cursor: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    where = LeadFilter(
        stage=stage or None,
        grade=grade or None,
        min_score=_number(min_score),
        segment=segment or None,
        q=q or None,
    )
    if sort not in ("-score", "score", "updated"):
        sort = "-score"
    with transaction(page.request) as conn:
        try:
            found = list_leads(conn, page.workspace_id, where, sort=sort, limit=50, cursor=cursor)
        except InvalidCursor:
            found = list_leads(conn, page.workspace_id, where, sort=sort, limit=50)
    filters = {"stage": stage or "", "grade": grade or "", "min_score": min_score or "",
               "segment": segment or "", "q": q or "", "sort": sort}  # fmt: skip
    next_href = None
    if found.next_cursor:
        kept = {k: v for k, v in filters.items() if v}
        next_href = "/leads?" + urlencode({**kept, "cursor": found.next_cursor})
    context = page.context(
        page_=found, filters=filters, stages=STAGES, next_href=next_href, nav="leads"
    )
    partial = page.request.headers.get("hx-request") == "true"
    return render("_leads_table.html" if partial else "leads.html", context)


@router.get("/people/{person_id}")
def lead_page(page: SignedIn, person_id: int, error: str | None = None) -> HTMLResponse:
    with transaction(page.request) as conn:
        try:
            lead = lead_detail(conn, page.workspace_id, person_id)
        except LeadNotFound:
            return render("missing.html", page.context(nav="leads"), status=404)
    return render(
        "lead.html",
        page.context(
            lead=lead,
            actions=ACTIONS.get(lead.stage, ()),
            action_labels=ACTION_LABELS,
            bant=BANT,
            error=error,
            nav="leads",
        ),  # fmt: skip
    )


@router.post("/people/{person_id}/actions/{action}")
def lead_action(
    page: SignedIn,
    person_id: int,
    action: str,
    csrf: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    budget: Annotated[str, Form()] = "",
    authority: Annotated[str, Form()] = "",
    need: Annotated[str, Form()] = "",
    timeline: Annotated[str, Form()] = "",
) -> Response:
    page.check(csrf, needs="member")
    details = {"budget": budget, "authority": authority, "need": need, "timeline": timeline}
    bant = {k: v.strip() for k, v in details.items() if v.strip()}
    user = page.session.user
    with transaction(page.request) as conn:
        try:
            act(
                conn, page.workspace_id, person_id, action, actor=user.email,
                reason=reason.strip() or None, details=bant or None,
                at=page.request.app.state.clock(),
            )  # fmt: skip
        except (IllegalMove, LookupError) as exc:
            return lead_page(page, person_id, error=str(exc))
    return RedirectResponse(f"/people/{person_id}", status_code=303)


@router.get("/queue")
def queue_page(page: SignedIn, owner: Annotated[str | None, Query()] = None) -> HTMLResponse:
    now = page.request.app.state.clock()
    with transaction(page.request) as conn:
        waiting = review_queue(conn, page.workspace_id, owner=owner or None, limit=200)
        ids = tuple(r.person_id for r in waiting)
        found = list_leads(conn, page.workspace_id, LeadFilter(person_ids=ids), limit=len(ids) or 1)
        owners = review_owners(conn, page.workspace_id, now=now)
    people = {p.person_id: p for p in found.items}
    rows = [
        {"review": r, "lead": people[r.person_id], "left": _hours_left(r.due_at, now)}
        for r in waiting
        if r.person_id in people
    ]
    context = page.context(rows=rows, owners=owners, owner=owner or "", outcomes=OUTCOME_LABELS,
                           nav="queue")  # fmt: skip
    return render("queue.html", context)


@router.post("/people/{person_id}/review")
def review_action(
    page: SignedIn,
    person_id: int,
    outcome: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    page.check(csrf, needs="member")
    with transaction(page.request) as conn:
        try:
            review(conn, page.workspace_id, person_id, outcome, reviewer=page.session.user.email,
                   reason=reason, at=page.request.app.state.clock())  # fmt: skip
        except (IllegalMove, LookupError) as exc:
            raise Forbidden(str(exc)) from None
    return RedirectResponse(page.request.headers.get("referer") or "/queue", status_code=303)


def _hours_left(due: datetime | None, now: datetime) -> float | None:
    """Wall-clock hours to the SLA deadline (negative once it is past)."""
    return None if due is None else round((due - now).total_seconds() / 3600, 1)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None
