"""Opening a store: database URLs, engines, and bringing the schema up to date."""

from __future__ import annotations

import functools
import re
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from ibis.backends.sqlite.udf import register_all as register_sqlite_functions

from winnow import jsoncodec

DEFAULT_URL = "sqlite:///winnow.db"
_MIGRATIONS = Path(__file__).parent / "migrations"


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://) and pick our drivers."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if "://" not in url:
        # A bare path means a SQLite file.
        return f"sqlite:///{url}"
    return url


# Ibis's SQLite regex function compiles its pattern on every row; scoring calls it for
# every person and rule, so the compiled patterns are kept.
_pattern = functools.lru_cache(maxsize=512)(re.compile)


def _regex_search(text: str | None, pattern: str | None) -> bool | None:
    if text is None or pattern is None:
        return None
    return _pattern(pattern).search(text) is not None


def create_engine(url: str = DEFAULT_URL, **kwargs: Any) -> sa.Engine:
    """An engine for a store URL; SQLite files get WAL and foreign keys."""
    url = normalize_url(url)
    kwargs.setdefault("json_serializer", jsoncodec.dumps)
    kwargs.setdefault("json_deserializer", jsoncodec.loads)
    if url.startswith("sqlite"):
        path = sa.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
            # The engine's queries call the functions Ibis defines for SQLite (regex search).
            register_sqlite_functions(dbapi_conn)
            dbapi_conn.create_function("_ibis_regex_search", 2, _regex_search, deterministic=True)

        return engine
    engine = sa.create_engine(url, pool_pre_ping=True, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _postgres_settings(dbapi_conn: Any, _record: Any) -> None:
        # Scoring's temporary tables have no statistics, so plans look expensive and
        # PostgreSQL would JIT-compile each step: half a second per step for nothing.
        cursor = dbapi_conn.cursor()
        cursor.execute("SET jit = off")
        cursor.close()
        dbapi_conn.commit()

    return engine


# One lock per SQLite engine: see write_transaction.
_sqlite_writers: weakref.WeakKeyDictionary[sa.Engine, threading.Lock] = weakref.WeakKeyDictionary()
_sqlite_writers_guard = threading.Lock()


@contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """`engine.begin()` for a transaction that writes; on SQLite, one at a time per process.

    SQLite has one writer at a time. Threads that find the database locked wait in its
    busy handler, which sleeps in growing steps and wakes late; queueing them on a lock
    hands the database over the moment it is free. PostgreSQL writes in parallel.
    """
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with _sqlite_writers_guard:
        lock = _sqlite_writers.setdefault(engine, threading.Lock())
    with lock, engine.begin() as conn:
        yield conn


def alembic_config(engine: sa.Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest migration (creating it on an empty database)."""
    command.upgrade(alembic_config(engine), "head")


def open_store(url: str = DEFAULT_URL) -> sa.Engine:
    """An engine on an up-to-date schema."""
    engine = create_engine(url)
    migrate(engine)
    return engine
