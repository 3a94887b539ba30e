"""Signing in and out, and choosing the language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from winnow.store.users import set_language, sign_in, sign_out
from winnow.web.i18n import LANGUAGES, translator
from winnow.web.pages.common import render, transaction
from winnow.web.session import COOKIE, LANG_COOKIE, Forbidden, SignedIn, language

router = APIRouter(include_in_schema=False)


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
    with transaction(request) as conn:
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
    with transaction(page.request) as conn:
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
    with transaction(page.request) as conn:
        set_language(conn, page.session.user.id, lang)
    answer = RedirectResponse(page.request.headers.get("referer") or "/", status_code=303)
    answer.set_cookie(LANG_COOKIE, lang, samesite="lax", max_age=365 * 86400)
    return answer


def _safe(target: str) -> str:
    """Only paths of this site: never redirect elsewhere after signing in."""
    return target if target.startswith("/") and not target.startswith("//") else "/"
