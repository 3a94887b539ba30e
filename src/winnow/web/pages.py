"""The dashboard's pages: sign-in, overview, leads, one lead and its actions, language.

Handlers are thin: they read the request, call one library function in a transaction,
and render a template. Lists answer htmx requests (HX-Request) with just the table, so
filtering and paging swap the rows in place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
import sqlalchemy as sa
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from winnow.analytics.overview import overview
from winnow.leads import InvalidCursor, LeadFilter, LeadNotFound, lead_detail, list_leads
from winnow.lifecycle import BANT, IllegalMove
from winnow.qualification import act
from winnow.store.users import set_language, sign_in, sign_out
from winnow.web.i18n import LANGUAGES, translator
from winnow.web.session import COOKIE, LANG_COOKIE, Forbidden, SignedIn, language

router = APIRouter(include_in_schema=False)
TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
TEMPLATES.filters["tojson_attr"] = lambda value: json.dumps(value, default=str)
STAGES = ("subscriber", "lead", "mql", "pql", "sal", "sql", "opportunity", "customer", "csql",
          "nurture", "disqualified")  # fmt: skip
ACTIONS = {  # the buttons a lead's page offers, by stage
    "mql": ("accept", "nurture", "disqualify"),
    "pql": ("accept", "nurture", "disqualify"),
    "sal": ("qualify", "nurture", "disqualify"),
    "sql": ("open_opportunity", "nurture", "disqualify"),
    "lead": ("nurture", "disqualify"),
    "nurture": ("disqualify",),
}


ACTION_LABELS = {
    "accept": "Accept as SAL",
    "nurture": "Back to nurture",
    "disqualify": "Disqualify",
    "qualify": "Qualify as SQL",
    "open_opportunity": "Open opportunity",
}
# Strings the templates translate that are not written in them literally.
DYNAMIC_STRINGS = (
    *ACTION_LABELS.values(),
    *(s.upper() for s in STAGES),
    *(f.capitalize() for f in BANT),
    "The email or password is not right.",
)


def render(name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return HTMLResponse(TEMPLATES.get_template(name).render(**context), status_code=status)


def _transaction(request: Request) -> Any:
    engine: sa.Engine = request.app.state.engine
    return engine.begin()


@router.get("/login")
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    lang = language(request)
    return render("login.html", {"_": translator(lang), "lang": lang, "next": _safe(next),
                                 "error": None, "email": ""})  # fmt: skip


@router.post("/login")
def login(
    request: Request,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    with _transaction(request) as conn:
        found = sign_in(conn, email, password, now=request.app.state.clock())
    lang = language(request)
    _ = translator(lang)
    if found is None:
        context = {"_": _, "lang": lang, "next": _safe(next), "email": email,
                   "error": _("The email or password is not right.")}  # fmt: skip
        return render("login.html", context, status=401)
    session, token = found
    answer = RedirectResponse(_safe(next), status_code=303)
    answer.set_cookie(
        COOKIE, token, httponly=True, samesite="lax", secure=request.url.scheme == "https",
        max_age=int((session.expires_at - request.app.state.clock()).total_seconds()),
    )  # fmt: skip
    return answer


@router.post("/logout")
def logout(page: SignedIn, csrf: Annotated[str, Form()] = "") -> Response:
    page.check(csrf)
    with _transaction(page.request) as conn:
        sign_out(conn, page.request.cookies.get(COOKIE, ""))
    answer = RedirectResponse("/login", status_code=303)
    answer.delete_cookie(COOKIE)
    return answer


@router.post("/language")
def choose_language(
    page: SignedIn, lang: Annotated[str, Form()], csrf: Annotated[str, Form()] = ""
) -> Response:
    page.check(csrf)
    if lang not in LANGUAGES:
        raise Forbidden(f"unknown language {lang!r}")
    with _transaction(page.request) as conn:
        set_language(conn, page.session.user.id, lang)
    answer = RedirectResponse(page.request.headers.get("referer") or "/", status_code=303)
    answer.set_cookie(LANG_COOKIE, lang, samesite="lax", max_age=365 * 86400)
    return answer


@router.get("/")
def overview_page(page: SignedIn) -> HTMLResponse:
    with _transaction(page.request) as conn:
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
    with _transaction(page.request) as conn:
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
    with _transaction(page.request) as conn:
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
    with _transaction(page.request) as conn:
        try:
            act(
                conn, page.workspace_id, person_id, action, actor=user.email,
                reason=reason.strip() or None, details=bant or None,
                at=page.request.app.state.clock(),
            )  # fmt: skip
        except (IllegalMove, LookupError) as exc:
            return lead_page(page, person_id, error=str(exc))
    return RedirectResponse(f"/people/{person_id}", status_code=303)


def _safe(target: str) -> str:
    """Only paths of this site: never redirect elsewhere after signing in."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None
