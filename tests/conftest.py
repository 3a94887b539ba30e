"""Shared fixtures: real stores on SQLite (a file in tmp_path) and PostgreSQL.

Every test that takes `engine`, `conn` or `workspace` runs twice: on SQLite, and on
PostgreSQL when WINNOW_TEST_POSTGRES_URL is set (skipped otherwise, or failed when
WINNOW_REQUIRE_POSTGRES=1). PostgreSQL tests share one schema made for the session and
dropped at its end; the tables are emptied after each test, so a test may commit.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.factories import CREATED

from winnow.store.db import create_engine, migrate, normalize_url
from winnow.store.workspaces import Workspace, create_workspace

POSTGRES_URL = os.environ.get("WINNOW_TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("WINNOW_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (migrating once is much faster)."""
    path = tmp_path_factory.mktemp("template") / "winnow.db"
    engine = create_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[sa.Engine]:
    """An engine on a fresh schema of the test PostgreSQL, dropped after the session."""
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("WINNOW_REQUIRE_POSTGRES=1 but WINNOW_TEST_POSTGRES_URL is not set")
        pytest.skip("WINNOW_TEST_POSTGRES_URL is not set")
    url = normalize_url(POSTGRES_URL)
    schema = f"winnow_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _empty_postgres(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        tables = conn.execute(
            sa.text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                " AND tablename <> 'alembic_version'"
            )
        ).scalars()
        names = ", ".join(f'"{t}"' for t in tables)
        if names:
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[sa.Engine]:
    """An engine on an up-to-date, empty store."""
    if request.param == "sqlite":
        path = tmp_path / "winnow.db"
        shutil.copyfile(sqlite_template, path)
        engine = create_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
        return
    postgres: sa.Engine = request.getfixturevalue("postgres_engine")
    try:
        yield postgres
    finally:
        _empty_postgres(postgres)


@pytest.fixture
def conn(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection in a transaction the test drives (it may commit); rolled back at the end."""
    with engine.connect() as connection:
        yield connection
        connection.rollback()


@pytest.fixture
def workspace(conn: sa.Connection) -> Workspace:
    return create_workspace(conn, "acme", "Acme Analytics", now=CREATED)
