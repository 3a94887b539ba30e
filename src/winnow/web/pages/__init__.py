"""The dashboard's pages, one module per area; handlers are thin.

Each reads the request, calls the library in one transaction and renders a template.
Lists answer htmx requests (HX-Request) with just their table, so filtering and paging
swap rows in place.
"""

from __future__ import annotations

from fastapi import APIRouter

from winnow.web.pages import account, leads, settings, workspace
from winnow.web.pages.common import DYNAMIC_STRINGS, TEMPLATES_DIR

router = APIRouter(include_in_schema=False)
for area in (account, leads, workspace, settings):
    router.include_router(area.router)

__all__ = ["DYNAMIC_STRINGS", "TEMPLATES_DIR", "router"]
