"""One self-contained HTML report of the analytics: tables and charts, nothing to fetch.

Charts are inline SVG bars drawn here, so the file opens anywhere, offline, and can be
mailed around; the figures come from the same library functions as the CLI and the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import sqlalchemy as sa

from winnow.analytics import calibration, funnel, sources, trials
from winnow.analytics.history import load_moves, load_touches
from winnow.analytics.segments import segment_counts
from winnow.store.specs import NoSpec, live_spec

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True, kw_only=True)
class Bar:
    label: str
    value: float
    text: str


def bars(rows: list[dict[str, Any]], label: str, value: str, *, percent: bool) -> list[Bar]:
    """Bars for a chart: one per row, the value shown as a percentage or a number."""
    return [
        Bar(
            label=str(r[label]),
            value=float(r[value] or 0),
            text=f"{(r[value] or 0):.0%}" if percent else f"{(r[value] or 0):,.1f}",
        )
        for r in rows
    ]


@dataclass(frozen=True, kw_only=True)
class Figures:
    """The main reports as rows, from one read of the store: what the HTML report and
    the dashboard's reports page both show."""

    funnel: list[dict[str, Any]]
    velocity: list[dict[str, Any]]
    channels: list[dict[str, Any]]
    calibration: list[dict[str, Any]]
    leaks: list[dict[str, Any]]


def figures(conn: sa.Connection, workspace_id: int) -> Figures:
    moves = load_moves(conn, workspace_id)
    return Figures(
        funnel=funnel.overall(moves).to_pylist(),
        velocity=funnel.velocity(moves).to_pylist(),
        channels=sources.by_touch(moves, load_touches(conn, workspace_id)).to_pylist(),
        calibration=calibration.calibration(
            moves, calibration.load_scores(conn, workspace_id)
        ).to_pylist(),
        leaks=funnel.leaks(moves).to_pylist(),
    )


def render_html(conn: sa.Connection, workspace_id: int, *, title: str, now: datetime) -> str:
    found = figures(conn, workspace_id)
    steps, velocity, channels, bands = (
        found.funnel, found.velocity, found.channels, found.calibration,
    )  # fmt: skip
    try:
        _, spec = live_spec(conn, workspace_id)
        segments = [vars(c) for c in segment_counts(conn, workspace_id, spec)]
    except NoSpec:
        segments = []
    paid = trials.paid_plans(conn, workspace_id)
    plans = trials.load_plan_changes(conn, workspace_id)
    trial_cohorts = trials.cohorts(plans, paid_plans=paid).to_pylist()
    template = _TEMPLATES.get_template("report.html")
    return template.render(
        title=title,
        generated=now.strftime("%Y-%m-%d %H:%M UTC"),
        funnel=steps,
        funnel_bars=bars(
            [{**r, "step": f"{r['from_stage']} → {r['to_stage']}"} for r in steps],
            "step",
            "rate",
            percent=True,
        ),  # fmt: skip
        velocity=velocity,
        velocity_bars=bars(
            [{**r, "step": f"{r['from_stage']} → {r['to_stage']}"} for r in velocity],
            "step",
            "median_days",
            percent=False,
        ),  # fmt: skip
        channels=channels,
        channel_bars=bars(channels, "channel", "rate", percent=True),
        leaks=found.leaks,
        trials=trials.summary(plans, now=now, paid_plans=paid),
        trial_cohorts=trial_cohorts,
        trial_bars=bars(
            [{**r, "month": r["cohort"].strftime("%Y-%m")} for r in trial_cohorts],
            "month",
            "rate",
            percent=True,
        ),  # fmt: skip
        calibration=bands,
        calibration_bars=bars(
            [{**r, "band": f"{r['group']:g}+"} for r in bands], "band", "rate", percent=True
        ),
        segments=segments,
    )
