"""The ASGI app: `create_app(settings)` wires the store, the routers and the scorer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import sqlalchemy as sa
from fastapi import FastAPI

from winnow import __version__, web
from winnow.clock import utcnow
from winnow.notify.dispatcher import Dispatcher
from winnow.server import errors, ingestion
from winnow.server.api import (
    accounts,
    handoff,
    keys,
    notifications,
    people,
    rejected,
    reports,
    spec,
    workspaces,
)
from winnow.server.scorer import Scorer
from winnow.server.settings import Settings
from winnow.store.db import open_store


def create_app(
    settings: Settings | None = None,
    *,
    engine: sa.Engine | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    """The server. Tests pass their own engine and clock, and drive the scorer themselves
    (settings.scorer=False, then `app.state.scorer.score_queued()`)."""
    settings = settings or Settings()
    store = engine or open_store(settings.database_url)
    scorer = Scorer(
        store,
        batch=settings.scorer_batch,
        full_every=timedelta(seconds=settings.full_rescore_seconds),
        clock=clock,
    )

    dispatcher = Dispatcher(store, clock=clock, public_url=settings.public_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ingest_gate = asyncio.Semaphore(settings.max_concurrent_ingest)
        if settings.scorer:
            scorer.start(settings.scorer_idle_seconds)
        if settings.dispatcher:
            dispatcher.start()
        try:
            yield
        finally:
            scorer.stop()
            dispatcher.stop()
            dispatcher.close()
            if engine is None:
                store.dispose()

    app = FastAPI(
        title="Winnow",
        version=__version__,
        summary="Lead qualification: Segment-compatible ingestion, scores and stages.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = store
    app.state.clock = clock
    app.state.scorer = scorer
    app.state.scorer_wakeup = scorer.wake if settings.scorer else (lambda: None)
    app.state.dispatcher = dispatcher
    app.state.dispatcher_wakeup = dispatcher.wake if settings.dispatcher else (lambda: None)
    # Set again in the lifespan (bound to the running loop); here for apps used without it.
    app.state.ingest_gate = asyncio.Semaphore(settings.max_concurrent_ingest)
    errors.install(app)
    app.include_router(ingestion.router)
    app.include_router(people.router)
    app.include_router(accounts.router)
    app.include_router(spec.router)
    app.include_router(keys.router)
    app.include_router(rejected.router)
    app.include_router(workspaces.router)
    app.include_router(handoff.router)
    app.include_router(notifications.router)
    app.include_router(reports.router)
    web.install(app)
    return app
