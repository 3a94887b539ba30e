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
from winnow.qualification import act, act_many, review
from winnow.web.i18n import translator
from winnow.web.pages.common import ACTION_LABELS, OUTCOME_LABELS, STAGES, render, transaction
from winnow.web.session import Forbidden, Page, SignedIn

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


FILTERS = ("stage", "grade", "min_score", "max_score", "segment", "owner", "q", "sort")
BULK_ACTIONS = ("accept", "nurture", "disqualify")


@router.get("/leads")
def leads_page(
    page: SignedIn,
    stage: Annotated[str | None, Query()] = None,
    grade: Annotated[str | None, Query()] = None,
    min_score: Annotated[str | None, Query()] = None,
    max_score: Annotated[str | None, Query()] = None,
    segment: Annotated[str | None, Query()] = None,
    owner: Annotated[str | None, Query()] = None,
    q: Annotated[str | None, Query()] = None,
    sort: Annotated[str, Query()] = "-score",
    cursor: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    filters = {"stage": stage, "grade": grade, "min_score": min_score, "max_score": max_score,
               "segment": segment, "owner": owner, "q": q, "sort": sort}  # fmt: skip
    return _leads(page, {k: v or "" for k, v in filters.items()}, cursor=cursor)


def _leads(
    page: Page, filters: dict[str, str], *, cursor: str | None = None, notice: str | None = None
) -> HTMLResponse:
    where = LeadFilter(
        stage=filters["stage"] or None,
        grade=filters["grade"] or None,
        min_score=_number(filters["min_score"]),
        max_score=_number(filters["max_score"]),
        segment=filters["segment"] or None,
        owner=filters["owner"] or None,
        q=filters["q"] or None,
    )
    sort = filters["sort"] if filters["sort"] in ("-score", "score", "updated") else "-score"
    filters["sort"] = sort
    with transaction(page.request) as conn:
        try:
            found = list_leads(conn, page.workspace_id, where, sort=sort, limit=50, cursor=cursor)
        except InvalidCursor:
            found = list_leads(conn, page.workspace_id, where, sort=sort, limit=50)
        now = page.request.app.state.clock()
        owners = [o["owner"] for o in review_owners(conn, page.workspace_id, now=now)]
    next_href = None
    if found.next_cursor:
        kept = {k: v for k, v in filters.items() if v}
        next_href = "/leads?" + urlencode({**kept, "cursor": found.next_cursor})
    context = page.context(
        page_=found, filters=filters, stages=STAGES, next_href=next_href, owners=owners,
        bulk_actions=BULK_ACTIONS, action_labels=ACTION_LABELS, notice=notice, nav="leads",
    )  # fmt: skip
    partial = page.request.headers.get("hx-request") == "true"
    return render("_leads_table.html" if partial else "leads.html", context)


@router.post("/leads/bulk")
async def bulk_action(page: SignedIn) -> HTMLResponse:
    """One move for every lead ticked; the page says how many moved and who did not, why."""
    form = await page.request.form()
    page.check(str(form.get("csrf", "")), needs="member")
    action = str(form.get("action", ""))
    if action not in BULK_ACTIONS:
        raise Forbidden(f"unknown bulk action {action!r}")
    ids = [int(str(v)) for v in form.getlist("ids") if str(v).isdigit()]
    reason = str(form.get("reason", "")).strip() or None
    filters = {k: str(form.get(k, "")) for k in FILTERS}
    _ = translator(page.language)
    with transaction(page.request) as conn:
        result = act_many(conn, page.workspace_id, ids, action, actor=page.session.user.email,
                          reason=reason, at=page.request.app.state.clock())  # fmt: skip
    notice = _("{moved} moved, {refused} not.", moved=len(result.moved),
               refused=len(result.refused))  # fmt: skip
    if result.refused:
        notice += " " + "; ".join(f"#{p}: {why}" for p, why in result.refused[:5])
    return _leads(page, filters, notice=notice)


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
