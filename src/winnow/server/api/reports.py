"""Reports: the funnel, velocity, channels and leaks of the key's workspace, as rows."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pyarrow as pa
import sqlalchemy as sa
from fastapi import APIRouter, Query, Request

from winnow.analytics import calibration, funnel, sources, trials
from winnow.analytics.history import load_moves, load_touches
from winnow.analytics.segments import UnknownSegment, segment_counts, segment_moves
from winnow.server.api import ERRORS, PREFIX, ReadKey, now, transaction
from winnow.server.api.models import STORABLE
from winnow.server.errors import ApiError
from winnow.store.specs import NoSpec, live_spec

router = APIRouter(prefix=f"{PREFIX}/reports", tags=["reports"], responses=ERRORS)
Path = Annotated[
    Literal["main", "product", "expansion"],
    Query(description="main: lead -> customer; product: pql -> customer; expansion."),
]
Row = dict[str, Any]
Segment = Annotated[
    str | None,
    Query(max_length=200, pattern=STORABLE, description="Only the people in this segment now."),
]


def _moves(conn: sa.Connection, workspace_id: int, segment: str | None) -> pa.Table:
    try:
        return segment_moves(conn, workspace_id, segment)
    except (NoSpec, UnknownSegment) as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None


@router.get("/funnel")
def get_funnel(
    key: ReadKey,
    request: Request,
    path: Path = "main",
    cohorts: Annotated[bool, Query(description="One row per cohort and step.")] = False,
    period: Literal["week", "month"] = "month",
    within_days: Annotated[float | None, Query(gt=0, le=3650)] = None,
    segment: Segment = None,
) -> list[Row]:
    """Stage-to-stage conversion: entered, reached (that stage or a later one), rate."""
    with transaction(request) as conn:
        moves = _moves(conn, key.workspace_id, segment)
    stages = funnel.PATHS[path]
    if cohorts:
        table = funnel.conversion(moves, path=stages, period=period, within_days=within_days)
    else:
        table = funnel.overall(moves, path=stages, within_days=within_days)
    rows: list[Row] = table.to_pylist()
    return rows


@router.get("/velocity")
def get_velocity(
    key: ReadKey, request: Request, path: Path = "main", segment: Segment = None
) -> list[Row]:
    """Days between stages (median, 75th percentile) and time to close."""
    with transaction(request) as conn:
        moves = _moves(conn, key.workspace_id, segment)
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
    segment: Segment = None,
) -> list[Row]:
    """Conversion by first- or last-touch UTM source, medium or campaign."""
    with transaction(request) as conn:
        moves = _moves(conn, key.workspace_id, segment)
        touches = load_touches(conn, key.workspace_id)
    table = sources.by_touch(
        moves, touches, touch=touch, level=level, from_stage=from_stage, to_stage=to_stage
    )
    rows: list[Row] = table.to_pylist()
    return rows


@router.get("/leaks")
def get_leaks(key: ReadKey, request: Request, segment: Segment = None) -> list[Row]:
    """MQLs never reviewed, SALs turned back and deals lost, by reason."""
    with transaction(request) as conn:
        moves = _moves(conn, key.workspace_id, segment)
    rows: list[Row] = funnel.leaks(moves).to_pylist()
    return rows


@router.get("/trials")
def get_trials(
    key: ReadKey,
    request: Request,
    first_days: Annotated[float, Query(gt=0, le=365)] = 14,
) -> dict[str, Any]:
    """Trials: a summary, trial -> paid by monthly cohort, and what converted trials did."""
    with transaction(request) as conn:
        plans = trials.load_plan_changes(conn, key.workspace_id)
        done = trials.load_account_events(conn, key.workspace_id)
        paid = trials.paid_plans(conn, key.workspace_id)
    return {
        "summary": trials.summary(plans, now=now(request), paid_plans=paid),
        "cohorts": trials.cohorts(plans, paid_plans=paid).to_pylist(),
        "did": trials.converters_did(
            plans, done, first_days=first_days, paid_plans=paid
        ).to_pylist(),
    }


@router.get("/calibration")
def get_calibration(
    key: ReadKey,
    request: Request,
    by: Literal["band", "grade"] = "band",
    band_width: Annotated[float, Query(ge=1, le=1000)] = 20,
    target: Literal["sql", "customer"] = "customer",
) -> dict[str, list[Row]]:
    """Conversion by score band or grade, and MQL precision by spec version."""
    with transaction(request) as conn:
        moves = load_moves(conn, key.workspace_id)
        current = calibration.load_scores(conn, key.workspace_id)
        versions = calibration.load_versions(conn, key.workspace_id)
    table = calibration.calibration(moves, current, by=by, band_width=band_width, target=target)
    return {
        "calibration": table.to_pylist(),
        "mql_precision": calibration.mql_precision(moves, versions).to_pylist(),
    }


@router.get("/segments")
def get_segments(key: ReadKey, request: Request) -> list[Row]:
    """The live spec's segments, each with how many people are in it now."""
    with transaction(request) as conn:
        try:
            _, spec = live_spec(conn, key.workspace_id)
        except NoSpec:
            return []
        return [vars(c) for c in segment_counts(conn, key.workspace_id, spec)]
