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


def render_html(conn: sa.Connection, workspace_id: int, *, title: str, now: datetime) -> str:
    moves, touches = load_moves(conn, workspace_id), load_touches(conn, workspace_id)
    try:
        _, spec = live_spec(conn, workspace_id)
        paid = list(spec.document.stages.customer_plans)
        segments = [vars(c) for c in segment_counts(conn, workspace_id, spec)]
    except NoSpec:
        paid, segments = ["paid"], []
    plans = trials.load_plan_changes(conn, workspace_id)
    steps = funnel.overall(moves).to_pylist()
    velocity = funnel.velocity(moves).to_pylist()
    channels = sources.by_touch(moves, touches).to_pylist()
    current = calibration.load_scores(conn, workspace_id)
    bands = calibration.calibration(moves, current).to_pylist()
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
        leaks=funnel.leaks(moves).to_pylist(),
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
