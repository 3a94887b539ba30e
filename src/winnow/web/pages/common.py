"""What every page shares: templates, rendering, the labels they translate, a transaction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import HTMLResponse

from winnow.lifecycle import BANT

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
TEMPLATES.filters["tojson_attr"] = lambda value: json.dumps(value, default=str)
STAGES = ("subscriber", "lead", "mql", "pql", "sal", "sql", "opportunity", "customer", "csql",
          "nurture", "disqualified")  # fmt: skip
OUTCOME_LABELS = {"ready": "Ready for sales", "nurture": "Needs nurturing", "suspect": "Suspect"}
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
    *OUTCOME_LABELS.values(),
    *(s.upper() for s in STAGES),
    *(f.capitalize() for f in BANT),
    "The email or password is not right.",
    "{moved} moved, {refused} not.",  # after a bulk action
    "Rotate secret",
    "Enable",
    "Disable",  # settings: endpoint changes
    "write",
    "secret",
    "read",
    "member",
    "admin",  # key kinds and roles
    "pending",
    "delivered",
    "failed",  # delivery statuses
)


def render(name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return HTMLResponse(TEMPLATES.get_template(name).render(**context), status_code=status)


def transaction(request: Request) -> Any:
    engine: sa.Engine = request.app.state.engine
    return engine.begin()
