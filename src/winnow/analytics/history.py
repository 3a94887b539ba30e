"""What analytics reads: every stage move and every marketing touch, as Arrow tables.

Moves are the stage history (who entered which stage when, why, and by whose hand);
a move out of csql back to customer is a won expansion and is labelled so. Touches are
the events that carried a UTM campaign (`context.campaign`: source, medium, name), the
raw material of first- and last-touch attribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from winnow.store.schema import events, stage_history

_TIME = pa.timestamp("us")
MOVES = pa.schema(
    [
        ("person_id", pa.int64()),
        ("from_stage", pa.string()),
        ("to_stage", pa.string()),
        ("at", _TIME),
        ("cause", pa.string()),
        ("reason", pa.string()),
        ("outcome", pa.string()),
    ]
)
TOUCHES = pa.schema(
    [
        ("person_id", pa.int64()),
        ("at", _TIME),
        ("source", pa.string()),
        ("medium", pa.string()),
        ("campaign", pa.string()),
    ]
)
# The expansion track ends in a won expansion: csql -> customer, made by a person.
EXPANSION_WON = "expansion_won"


def load_moves(conn: sa.Connection, workspace_id: int) -> pa.Table:
    rows = conn.execute(
        sa.select(
            stage_history.c.person_id,
            stage_history.c.from_stage,
            stage_history.c.to_stage,
            stage_history.c.at,
            stage_history.c.cause,
            stage_history.c.reason,
            stage_history.c.details,
        )
        .where(stage_history.c.workspace_id == workspace_id)
        .order_by(stage_history.c.at, stage_history.c.id)
    ).all()
    columns: dict[str, list[Any]] = {name: [] for name in MOVES.names}
    for person_id, source, target, at, cause, reason, details in rows:
        if source == "csql" and target == "customer":
            target = EXPANSION_WON
        columns["person_id"].append(person_id)
        columns["from_stage"].append(source)
        columns["to_stage"].append(target)
        columns["at"].append(at)
        columns["cause"].append(cause)
        columns["reason"].append(reason)
        columns["outcome"].append((details or {}).get("outcome"))
    return pa.table(columns, schema=MOVES)


def load_touches(conn: sa.Connection, workspace_id: int) -> pa.Table:
    """Events with a UTM campaign in their context, oldest first."""
    campaign = events.c.context["campaign"]
    rows = conn.execute(
        sa.select(
            events.c.person_id,
            events.c.timestamp,
            campaign["source"].as_string(),
            campaign["medium"].as_string(),
            campaign["name"].as_string(),
        )
        .where(events.c.workspace_id == workspace_id, campaign.is_not(None))
        .order_by(events.c.timestamp, events.c.id)
    ).all()
    table = arrow_table(rows, TOUCHES)
    # A context without a campaign object reads as a row of nulls: not a touch.
    keep = pa.compute.or_(
        pa.compute.is_valid(table["source"]),
        pa.compute.or_(
            pa.compute.is_valid(table["medium"]), pa.compute.is_valid(table["campaign"])
        ),
    )
    return table.filter(keep)


def arrow_table(rows: Sequence[Sequence[Any]], schema: pa.Schema) -> pa.Table:
    """Rows of a query as an Arrow table of `schema` (its columns in the rows' order)."""
    columns: list[list[Any]] = [[] for _ in schema.names]
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    arrays = [pa.array(c, f.type) for c, f in zip(columns, schema, strict=True)]
    return pa.table(arrays, schema=schema)
