"""The scoring spec: the live version, past versions, checking and publishing."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from winnow.qualification import rescore
from winnow.server.api import (
    ERRORS,
    PREFIX,
    AdminKey,
    MemberKey,
    ReadKey,
    actor,
    now,
    transaction,
)
from winnow.server.api.models import (
    Backtest,
    BacktestRequest,
    Error,
    InvalidSpec,
    Published,
    SpecCheck,
    SpecProblem,
    SpecPublish,
    SpecSource,
    SpecVersion,
)
from winnow.server.errors import ApiError, error_body
from winnow.spec import SpecError, SpecInvalid, load_spec
from winnow.store.backtests import save_backtest
from winnow.store.specs import (
    BacktestRequired,
    NoSpec,
    live_spec,
    live_spec_version,
    publish_spec,
    spec_versions_of,
)

BACKTEST_WEEKS = 12

router = APIRouter(prefix=f"{PREFIX}/spec", tags=["spec"], responses=ERRORS)


def _problems(errors: list[SpecError]) -> list[SpecProblem]:
    return [SpecProblem.model_validate(e.as_dict()) for e in errors]


def _invalid(exc: SpecInvalid) -> JSONResponse:
    """422 `invalid_spec`, every error with where it is."""
    problems = [p.model_dump() for p in _problems(exc.errors)]
    answer = error_body("invalid_spec", f"the spec has {len(problems)} error(s)", errors=problems)
    return JSONResponse(answer, status_code=422)


@router.get("")
def get_spec(key: ReadKey, request: Request) -> SpecVersion:
    """The live spec and its version."""
    with transaction(request) as conn:
        try:
            live = live_spec_version(conn, key.workspace_id)
        except NoSpec as exc:
            raise ApiError(404, "no_spec", str(exc)) from None
    return SpecVersion.model_validate(live)


@router.get("/versions")
def get_spec_versions(key: ReadKey, request: Request) -> list[SpecVersion]:
    """Every published version, oldest first; the last is live."""
    with transaction(request) as conn:
        versions = spec_versions_of(conn, key.workspace_id)
    return [SpecVersion.model_validate(v) for v in versions]


@router.post("/validate")
def validate_spec(body: SpecSource, key: ReadKey) -> SpecCheck:
    """Check a spec without publishing it: every error, with its path, line and a suggestion."""
    try:
        load_spec(body.source)
    except SpecInvalid as exc:
        return SpecCheck(valid=False, errors=_problems(exc.errors))
    return SpecCheck(valid=True, errors=[])


@router.post(
    "",
    status_code=201,
    response_model=Published,
    responses={
        422: {"model": InvalidSpec, "description": "The spec is invalid; nothing changed."},
        409: {
            "model": Error,
            "description": "`backtest_required`: no backtest of this source against the live"
            " version was named (required by the server, or named but of something else).",
        },
    },
)
def post_spec(body: SpecPublish, key: AdminKey, request: Request) -> Published | JSONResponse:
    """Publish a spec as the new live version and rescore everyone with it.

    When the server requires backtests, `backtest_id` must name a backtest of this exact
    source against the live version (409 `backtest_required` otherwise)."""
    at = now(request)
    with transaction(request) as conn:
        try:
            published = publish_spec(
                conn, key.workspace_id, body.source, by=actor(key), note=body.note, now=at,
                backtest_id=body.backtest_id,
                require_backtest=request.app.state.settings.require_backtest,
            )  # fmt: skip
        except BacktestRequired as exc:
            raise ApiError(409, "backtest_required", str(exc)) from None
        except SpecInvalid as exc:
            return _invalid(exc)
        report = rescore(conn, key.workspace_id, as_of=at)
    return Published.model_validate(
        {**vars(published), "scored": report.scored, "moves": len(report.moves)}
    )


@router.post(
    "/backtest",
    response_model=Backtest,
    responses={422: {"model": InvalidSpec, "description": "The spec is invalid."}},
)
def post_backtest(
    body: BacktestRequest, key: MemberKey, request: Request
) -> Backtest | JSONResponse:
    """Replay history week by week with this spec and the live one: MQL/PQL volume,
    precision, recall, and who would be in another stage. The report is kept; its id
    lets this exact source be published where the server requires a backtest."""
    from winnow.learn.backtest import backtest, load_outcomes

    try:
        candidate = load_spec(body.source)
    except SpecInvalid as exc:
        return _invalid(exc)
    end = body.end or now(request)
    start = body.start or end - timedelta(weeks=BACKTEST_WEEKS)
    with transaction(request) as conn:
        specs = [("candidate", candidate)]
        try:
            version, live = live_spec(conn, key.workspace_id)
            specs.append(("live", live))
            against: int | None = version
        except NoSpec:
            against = None
        outcomes = load_outcomes(conn, key.workspace_id)
    try:
        report = backtest(outcomes, specs, start=start, end=end).as_dict()
    except ValueError as exc:
        raise ApiError(400, "invalid_period", str(exc)) from None
    with transaction(request) as conn:
        saved = save_backtest(
            conn, key.workspace_id, source=body.source, against_version=against, report=report,
            by=actor(key), now=now(request),
        )  # fmt: skip
    return Backtest.model_validate({**report, "id": saved, "against_version": against})
