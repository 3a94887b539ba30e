"""Kept backtest reports: which source was checked against which live version."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from winnow.clock import to_db
from winnow.store.schema import backtests


def source_sha(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def save_backtest(
    conn: sa.Connection,
    workspace_id: int,
    *,
    source: str,
    against_version: int | None,
    report: dict[str, Any],
    by: str,
    now: datetime,
) -> int:
    inserted = conn.execute(
        backtests.insert()
        .values(
            workspace_id=workspace_id,
            spec_sha=source_sha(source),
            against_version=against_version,
            created_at=to_db(now),
            created_by=by,
            report=report,
        )
        .returning(backtests.c.id)
    )
    return int(inserted.scalar_one())


def backtest_covers(
    conn: sa.Connection,
    workspace_id: int,
    backtest_id: int,
    *,
    source: str,
    against_version: int | None,
) -> bool:
    """Whether the backtest was of exactly this source, against this live version."""
    row = conn.execute(
        sa.select(backtests.c.spec_sha, backtests.c.against_version).where(
            backtests.c.workspace_id == workspace_id, backtests.c.id == backtest_id
        )
    ).first()
    return row is not None and (row.spec_sha, row.against_version) == (
        source_sha(source),
        against_version,
    )
