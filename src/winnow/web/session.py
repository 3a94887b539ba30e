"""Who is signed in to the dashboard, and the checks every page and form makes.

Pages need a session (else a redirect to the sign-in page, which comes back after);
forms and htmx requests that change anything must carry the session's CSRF token, in
the `csrf` field or the `X-CSRF-Token` header. The session cookie is HttpOnly and
SameSite=Lax, and Secure when the dashboard is served over HTTPS.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.responses import RedirectResponse

from winnow.store.users import Session, session_of
from winnow.web.i18n import negotiate, translator

COOKIE = "winnow_session"
LANG_COOKIE = "lang"


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class Forbidden(Exception):
    """A form without the session's CSRF token, or a role that does not cover the action."""


def redirect_to_sign_in(request: Request, exc: Exception) -> RedirectResponse:
    assert isinstance(exc, SignInRequired)
    return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)


def language(request: Request, session: Session | None = None) -> str:
    return negotiate(
        setting=session.user.language if session else None,
        cookie=request.cookies.get(LANG_COOKIE),
        accept=request.headers.get("accept-language"),
    )


@dataclass(frozen=True)
class Page:
    """A signed-in request: the session, its language, and what templates need."""

    request: Request
    session: Session

    @property
    def workspace_id(self) -> int:
        return self.session.user.workspace_id

    @property
    def language(self) -> str:
        return language(self.request, self.session)

    def context(self, **values: Any) -> dict[str, Any]:
        lang = self.language
        return {
            "request": self.request,
            "user": self.session.user,
            "csrf": self.session.csrf,
            "lang": lang,
            "_": translator(lang),
            **values,
        }

    def check(self, token: str | None, *, needs: str = "read") -> None:
        sent = token or self.request.headers.get("x-csrf-token") or ""
        if not hmac.compare_digest(sent, self.session.csrf):
            raise Forbidden("the form is out of date; reload the page and try again")
        if not self.session.user.may(needs):
            raise Forbidden(f"this needs the {needs} role or above")


def signed_in(request: Request) -> Page:
    engine: sa.Engine = request.app.state.engine
    with engine.connect() as conn:
        session = session_of(conn, request.cookies.get(COOKIE), now=request.app.state.clock())
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    return Page(request, session)


SignedIn = Annotated[Page, Depends(signed_in)]
