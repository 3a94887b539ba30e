"""Reports: the funnel, velocity, channels and leaks of the key's workspace, as rows."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from winnow.analytics import funnel, sources
from winnow.analytics.history import load_moves, load_touches
from winnow.server.api import ERRORS, PREFIX, ReadKey, transaction

router = APIRouter(prefix=f"{PREFIX}/reports", tags=["reports"], responses=ERRORS)
Path = Annotated[
    Literal["main", "product", "expansion"],
    Query(description="main: lead -> customer; product: pql -> customer; expansion."),
]
Row = dict[str, Any]


@router.get("/funnel")
def get_funnel(
    key: ReadKey,
    request: Request,
    path: Path = "main",
    cohorts: Annotated[bool, Query(description="One row per cohort and step.")] = False,
    period: Literal["week", "month"] = "month",
    within_days: Annotated[float | None, Query(gt=0, le=3650)] = None,
) -> list[Row]:
    """Stage-to-stage conversion: entered, reached (that stage or a later one), rate."""
    with transaction(request) as conn:
        moves = load_moves(conn, key.workspace_id)
    stages = funnel.PATHS[path]
    if cohorts:
        table = funnel.conversion(moves, path=stages, period=period, within_days=within_days)
    else:
        table = funnel.overall(moves, path=stages, within_days=within_days)
    rows: list[Row] = table.to_pylist()
    return rows


@router.get("/velocity")
def get_velocity(key: ReadKey, request: Request, path: Path = "main") -> list[Row]:
    """Days between stages (median, 75th percentile) and time to close."""
    with transaction(request) as conn:
        moves = load_moves(conn, key.workspace_id)
    rows: list[Row] = funnel.velocity(moves, path=funnel.PATHS[path]).to_pylist()
    return rows


@router.get("/sources")
def get_sources(
    key: ReadKey,
    request: Request,
    touch: Literal["first", "last"] = "first",
    level: Literal["source", "medium", "campaign"] = "source",
    from_stage: Literal["lead", "mql", "sal", "sql", "opportunity", "pql"] = "lead",
    to_stage: Literal["mql", "sal", "sql", "opportunity", "customer"] = "customer",
) -> list[Row]:
    """Conversion by first- or last-touch UTM source, medium or campaign."""
    with transaction(request) as conn:
        moves, touches = load_moves(conn, key.workspace_id), load_touches(conn, key.workspace_id)
    table = sources.by_touch(
        moves, touches, touch=touch, level=level, from_stage=from_stage, to_stage=to_stage
    )
    rows: list[Row] = table.to_pylist()
    return rows


@router.get("/leaks")
def get_leaks(key: ReadKey, request: Request) -> list[Row]:
    """MQLs never reviewed, SALs turned back and deals lost, by reason."""
    with transaction(request) as conn:
        moves = load_moves(conn, key.workspace_id)
    rows: list[Row] = funnel.leaks(moves).to_pylist()
    return rows
