"""Scores as a table for the team: one row per person, keyed as in their people table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from winnow import jsoncodec
from winnow.clock import to_db
from winnow.engine import PersonScore
from winnow.lifecycle import Snapshot, promotions


def next_stage(score: PersonScore, *, at: datetime) -> str | None:
    """Where the lifecycle's rules would move the person from their current stage."""
    moves = promotions(
        person_id=score.person_id,
        stage=score.stage,
        criteria=score.criteria,
        at=at,
        snapshot=Snapshot(),
        hand_raises=score.hand_raises,
    )
    return moves[-1].to_stage if moves else None


def scores_table(
    scores: Sequence[PersonScore],
    *,
    key_column: str,
    keys: Mapping[int, Any] | None,
    stage_mapped: bool,
    as_of: datetime,
) -> pa.Table:
    """The output table; `keys` maps engine ids back to text keys (None: the ids are the keys)."""
    stages = list(scores[0].criteria) if scores else []
    # `p_convert` appears when the spec has a predictive model.
    p_convert = [s.p_convert for s in scores]
    with_p = any(p is not None for p in p_convert)
    reserved = {"fit", "grade", "engagement", "score", "p_convert", "stage", "next_stage"}
    reserved |= {"metrics", "explanation", "as_of", *(f"qualifies_{s}" for s in stages)}
    key_name = "person_key" if key_column in reserved else key_column
    columns: dict[str, pa.Array] = {
        key_name: pa.array(
            [s.person_id if keys is None else keys[s.person_id] for s in scores],
            pa.int64() if keys is None else pa.string(),
        ),
        "fit": pa.array([s.fit for s in scores], pa.float64()),
        "grade": pa.array([s.grade for s in scores], pa.string()),
        "engagement": pa.array([s.engagement for s in scores], pa.float64()),
        "score": pa.array([s.score for s in scores], pa.float64()),
    }
    if with_p:
        columns["p_convert"] = pa.array(p_convert, pa.float64())
    for stage in stages:
        columns[f"qualifies_{stage}"] = pa.array([s.criteria[stage] for s in scores], pa.bool_())
    if stage_mapped:
        columns["stage"] = pa.array([s.stage for s in scores], pa.string())
    columns["next_stage"] = pa.array([next_stage(s, at=as_of) for s in scores], pa.string())
    columns["metrics"] = pa.array([jsoncodec.dumps(s.metrics) for s in scores], pa.string())
    explanations = [jsoncodec.dumps(s.explanation()) for s in scores]
    columns["explanation"] = pa.array(explanations, pa.string())
    columns["as_of"] = pa.array([to_db(as_of)] * len(scores), pa.timestamp("us"))
    return pa.table(columns)


def write_parquet(table: pa.Table, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return str(path)
