"""Server settings: flags and WINNOW_* environment variables, validated at the edge."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Settings(BaseModel):
    database_url: str = "sqlite:///winnow.db"
    # Segment's limits: 32 KB per message, 500 KB per batch.
    max_message_bytes: int = Field(default=32 * 1024, gt=0)
    max_batch_bytes: int = Field(default=500 * 1024, gt=0)
    # Ingestion requests handled at once before answering 429 (the store serialises writes).
    max_concurrent_ingest: int = Field(default=32, gt=0)
    # Score queued people in this process (the default on SQLite; on PostgreSQL run
    # `winnow worker` processes instead, or keep this on for a single-process setup).
    scorer: bool = True
    # People scored per micro-batch, and the longest wait between batches. Scoring holds
    # no lock, and a bigger batch costs less a person (fixed steps per batch): ~0.7 ms a
    # person at 1,000 on SQLite, ~1.1 ms at 200.
    scorer_batch: int = Field(default=1000, gt=0)
    scorer_idle_seconds: float = Field(default=0.5, gt=0)
    # Rescore everyone this often, so that decay and time windows stay true.
    full_rescore_seconds: float = Field(default=3600.0, gt=0)
    # Deliver notifications (webhooks, Slack) from this process; `winnow dispatch` runs
    # more dispatchers against PostgreSQL.
    dispatcher: bool = True
    # Publishing a spec through the API needs a backtest of that exact source against the
    # live version (POST /api/v1/spec/backtest, then publish with its backtest_id).
    require_backtest: bool = False
    # Where people open Winnow, for the links in notifications.
    public_url: str = "http://127.0.0.1:8000"
