"""The web dashboard: server-rendered pages (Jinja2, htmx) over the same library as the API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from fastapi.staticfiles import StaticFiles

from winnow.web.pages import router
from winnow.web.session import Forbidden, SignInRequired, redirect_to_sign_in


def _forbidden(request: Request, exc: Exception) -> PlainTextResponse:
    return PlainTextResponse(str(exc), status_code=403)


def install(app: FastAPI) -> None:
    """Add the dashboard's pages and static files to the app."""
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.include_router(router)
    app.add_exception_handler(SignInRequired, redirect_to_sign_in)
    app.add_exception_handler(Forbidden, _forbidden)
