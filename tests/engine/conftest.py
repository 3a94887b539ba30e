"""Stores for the oracle tests: one SQLite file and one PostgreSQL schema per session.

Each hypothesis example works in its own transaction and rolls it back, so examples
stay isolated at the cost of a few inserts.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from winnow.store.db import create_engine, migrate, normalize_url, open_store


@pytest.fixture(scope="session")
def oracle_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    path = tmp_path_factory.mktemp("oracle") / "store.db"
    engine = open_store(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def oracle_postgres() -> Iterator[sa.Engine]:
    url = os.environ.get("WINNOW_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("WINNOW_REQUIRE_POSTGRES") == "1":
            pytest.fail("WINNOW_REQUIRE_POSTGRES=1 but WINNOW_TEST_POSTGRES_URL is not set")
        pytest.skip("WINNOW_TEST_POSTGRES_URL is not set")
    schema = f"winnow_oracle_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalize_url(url))
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
