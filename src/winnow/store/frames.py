"""A workspace's people, accounts and events as Arrow tables, for scoring on DuckDB."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from winnow.engine.run import FRAME_SCHEMAS
from winnow.store.schema import accounts, events, people

_SOURCES = {"people": people, "accounts": accounts, "events": events}
_BATCH = 50_000


def load_frames(conn: sa.Connection, workspace_id: int) -> dict[str, pa.Table]:
    """Everything scoring reads, JSON documents as text (no parsing on the way)."""
    frames = {}
    for kind, table in _SOURCES.items():
        schema = FRAME_SCHEMAS[kind]
        columns: list[Any] = []
        for name in schema.names:
            column = table.c[name]
            if isinstance(column.type, sa.JSON):
                columns.append(sa.cast(column, sa.Text).label(name))
            else:
                columns.append(column)
        result = conn.execute(sa.select(*columns).where(table.c.workspace_id == workspace_id))
        batches = []
        while chunk := result.fetchmany(_BATCH):
            arrays = list(zip(*chunk, strict=True))
            batches.append(
                pa.record_batch(
                    [pa.array(a, f.type) for a, f in zip(arrays, schema, strict=True)],
                    schema=schema,
                )
            )
        frames[kind] = pa.Table.from_batches(batches, schema=schema)
    return frames
