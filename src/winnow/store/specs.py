"""Spec versions: every published spec is kept; the newest is live."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from winnow.clock import from_db, to_db, utcnow
from winnow.spec import Spec, load_spec
from winnow.store.schema import spec_versions


@dataclass(frozen=True, kw_only=True)
class SpecVersion:
    version: int
    source: str
    created_at: datetime
    created_by: str
    note: str | None
    backtest_id: int | None = None


class NoSpec(LookupError):
    pass


class BacktestRequired(ValueError):
    """Publishing needs a backtest of the exact source against the live version."""


def _check_backtest(
    conn: sa.Connection, workspace_id: int, source: str, backtest_id: int | None
) -> None:
    from winnow.store.backtests import backtest_covers

    try:
        live: int | None = live_spec_version(conn, workspace_id).version
    except NoSpec:
        live = None
    against = "with no live spec yet" if live is None else f"against live version {live}"
    if backtest_id is None or not backtest_covers(
        conn, workspace_id, backtest_id, source=source, against_version=live
    ):
        raise BacktestRequired(
            f"publishing needs a backtest of this exact spec {against}: run one (POST"
            " /api/v1/spec/backtest) and publish with its id as backtest_id"
        )


def publish_spec(
    conn: sa.Connection,
    workspace_id: int,
    source: str,
    *,
    by: str,
    note: str | None = None,
    now: datetime | None = None,
    backtest_id: int | None = None,
    require_backtest: bool = False,
) -> SpecVersion:
    """Validate and store a new live version; an invalid spec raises SpecInvalid.

    A `backtest_id` given (or required) must name a backtest of exactly this source
    against the live version, or BacktestRequired is raised and nothing changes.
    """
    load_spec(source)
    if backtest_id is not None or require_backtest:
        _check_backtest(conn, workspace_id, source, backtest_id)
    current = conn.execute(
        sa.select(sa.func.max(spec_versions.c.version)).where(
            spec_versions.c.workspace_id == workspace_id
        )
    ).scalar()
    version = (current or 0) + 1
    created = to_db(now or utcnow())
    conn.execute(
        spec_versions.insert().values(
            workspace_id=workspace_id,
            version=version,
            source=source,
            created_at=created,
            created_by=by,
            note=note,
            backtest_id=backtest_id,
        )
    )
    return SpecVersion(
        version=version, source=source, created_at=from_db(created), created_by=by, note=note,
        backtest_id=backtest_id,
    )  # fmt: skip


def spec_versions_of(conn: sa.Connection, workspace_id: int) -> list[SpecVersion]:
    rows = conn.execute(
        sa.select(spec_versions)
        .where(spec_versions.c.workspace_id == workspace_id)
        .order_by(spec_versions.c.version)
    ).mappings()
    return [_version(r) for r in rows]


def _version(row: sa.RowMapping) -> SpecVersion:
    return SpecVersion(
        version=row["version"],
        source=row["source"],
        created_at=from_db(row["created_at"]),
        created_by=row["created_by"],
        note=row["note"],
        backtest_id=row["backtest_id"],
    )


def live_spec_version(conn: sa.Connection, workspace_id: int) -> SpecVersion:
    row = (
        conn.execute(
            sa.select(spec_versions)
            .where(spec_versions.c.workspace_id == workspace_id)
            .order_by(spec_versions.c.version.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NoSpec("this workspace has no spec yet: publish one with `winnow spec publish FILE`")
    return _version(row)


# Specs are immutable once published, and every scoring and stage move needs the live one.
_parsed = functools.lru_cache(maxsize=64)(load_spec)


def live_spec(conn: sa.Connection, workspace_id: int) -> tuple[int, Spec]:
    version = live_spec_version(conn, workspace_id)
    return version.version, _parsed(version.source)
