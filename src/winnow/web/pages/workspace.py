"""The pages that shape the workspace: reports, segments, the spec, settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from winnow.analytics.report import figures
from winnow.analytics.segments import preview, segment_counts
from winnow.qualification import rescore
from winnow.spec import SpecInvalid, load_spec
from winnow.spec.diff import diff
from winnow.store.specs import (
    BacktestRequired,
    NoSpec,
    live_spec,
    publish_spec,
    spec_versions_of,
)
from winnow.web.i18n import translator
from winnow.web.pages.common import render, transaction
from winnow.web.session import SignedIn

router = APIRouter(include_in_schema=False)


@router.get("/segments")
def segments_page(page: SignedIn) -> HTMLResponse:
    with transaction(page.request) as conn:
        try:
            _, spec = live_spec(conn, page.workspace_id)
            counts = segment_counts(conn, page.workspace_id, spec)
        except NoSpec:
            counts = []
    return render("segments.html", page.context(segments=counts, nav="segments"))


@router.post("/segments/check")
def segment_check(
    page: SignedIn,
    name: Annotated[str, Form()] = "",
    expression: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """The live check under the segment form: errors in place, or the count now."""
    page.check(csrf)
    if not name.strip() or not expression.strip():
        return render("_segment_check.html", page.context(preview=None))
    with transaction(page.request) as conn:
        try:
            found = preview(conn, page.workspace_id, name, expression,
                            now=page.request.app.state.clock())  # fmt: skip
        except NoSpec as exc:
            return render("_segment_check.html", page.context(preview=None, error=str(exc)))
    return render("_segment_check.html", page.context(preview=found))


@router.post("/segments")
def segment_save(
    page: SignedIn,
    name: Annotated[str, Form()],
    expression: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Publish the spec with this segment (admins), which rescores everyone."""
    page.check(csrf, needs="admin")
    now = page.request.app.state.clock()
    with transaction(page.request) as conn:
        found = preview(conn, page.workspace_id, name, expression, now=now)
        if found.errors:
            return segment_check(page, name, expression, csrf)
        try:
            publish_spec(conn, page.workspace_id, found.source, by=page.session.user.email,
                         note=f"segment {name.strip()}", now=now,
                         require_backtest=_backtests_required(page))  # fmt: skip
        except BacktestRequired as exc:
            context = page.context(preview=None, error=str(exc))
            return render("_segment_check.html", context)
        rescore(conn, page.workspace_id, as_of=now)
    return RedirectResponse("/segments", status_code=303)


def _backtests_required(page: SignedIn) -> bool:
    return bool(page.request.app.state.settings.require_backtest)


@router.get("/reports")
def reports_page(page: SignedIn) -> HTMLResponse:
    """The funnel, velocity, channels and calibration, as charts with their tables."""
    with transaction(page.request) as conn:
        found = figures(conn, page.workspace_id)
    steps, speed, channels, bands = found.funnel, found.velocity, found.channels, found.calibration

    def chart(
        rows: list[dict[str, object]], label: str, value: str, name: str
    ) -> dict[str, object]:
        return {"labels": [str(r[label]) for r in rows],
                "series": {name: [r[value] for r in rows]}}  # fmt: skip

    _ = translator(page.language)
    for row in steps + speed:
        row["step"] = f"{_(str(row['from_stage']).upper())} → {_(str(row['to_stage']).upper())}"
    context = page.context(
        steps=steps, speed=speed, channels=channels, bands=bands, nav="reports",
        charts={
            "funnel": chart(steps, "step", "rate", "conversion"),
            "velocity": chart(speed, "step", "median_days", "median days"),
            "channels": chart(channels, "channel", "rate", "lead to customer"),
            "calibration": chart(bands, "group", "rate", "customers"),
        },
    )  # fmt: skip
    return render("reports.html", context)


@router.get("/spec")
def spec_page(page: SignedIn, version: Annotated[int | None, Query()] = None) -> HTMLResponse:
    """The live spec, its versions, and what changed in one of them."""
    with transaction(page.request) as conn:
        versions = spec_versions_of(conn, page.workspace_id)
    if not versions:
        return render("spec.html", page.context(versions=[], shown=None, changes=[], nav="spec"))
    by_number = {v.version: v for v in versions}
    shown = by_number.get(version or versions[-1].version, versions[-1])
    before = by_number.get(shown.version - 1)
    changes = diff(before.source, shown.source) if before else []
    context = page.context(versions=list(reversed(versions)), shown=shown, before=before,
                           changes=changes, nav="spec")  # fmt: skip
    return render("spec.html", context)


@router.post("/spec/check")
def spec_check(
    page: SignedIn, source: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = ""
) -> HTMLResponse:
    """The live check of a draft: every error with its line, or what it holds."""
    page.check(csrf)
    try:
        checked = load_spec(source)
    except SpecInvalid as exc:
        return render("_spec_check.html", page.context(errors=exc.errors, spec=None))
    return render("_spec_check.html", page.context(errors=[], spec=checked))


@router.post("/spec")
def spec_publish(
    page: SignedIn,
    source: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Publish a draft (admins): a new live version, and everyone rescored with it."""
    page.check(csrf, needs="admin")
    now = page.request.app.state.clock()
    with transaction(page.request) as conn:
        try:
            publish_spec(conn, page.workspace_id, source, by=page.session.user.email,
                         note=note.strip() or None, now=now,
                         require_backtest=_backtests_required(page))  # fmt: skip
        except SpecInvalid:
            return spec_check(page, source, csrf)
        except BacktestRequired as exc:
            context = page.context(errors=[str(exc)], spec=None)
            return render("_spec_check.html", context)
        rescore(conn, page.workspace_id, as_of=now)
    return RedirectResponse("/spec", status_code=303)
