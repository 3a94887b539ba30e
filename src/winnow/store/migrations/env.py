"""Alembic environment: runs against the engine handed over by winnow.store.db."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from winnow.store.schema import metadata

config = context.config


def run_migrations_online() -> None:
    engine: sa.Engine | None = config.attributes.get("engine")
    if engine is None:
        engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        context.run_migrations()


run_migrations_online()
