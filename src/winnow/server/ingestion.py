"""Segment-compatible ingestion: POST /v1/identify|track|page|screen|group|alias|batch.

Wire-compatible with the Segment HTTP Tracking API, so Segment's and RudderStack's
clients work when pointed here. A request is answered 200 once its valid messages are
committed, with the people they touched queued for scoring in the same transaction;
each invalid message is reported by index and kept in the rejected log. Errors of the
whole request are 400 (bad JSON, too large), 401 (bad key), 429 (overloaded).
"""

from __future__ import annotations

import asyncio
import gzip
import random
import time
import zlib
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Security
from fastapi.concurrency import run_in_threadpool

from winnow import jsoncodec
from winnow.engine.run import with_account_members
from winnow.ingest.messages import InvalidMessage
from winnow.ingest.writer import IngestResult, ingest_batch, ingest_messages
from winnow.server.auth import basic_user, write_key, write_key_scheme
from winnow.server.errors import ApiError
from winnow.store.db import write_transaction
from winnow.store.keys import ApiKey
from winnow.store.queue import enqueue

KINDS = ("identify", "track", "page", "screen", "group", "alias", "batch")
router = APIRouter(tags=["ingestion"])

_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
_ANSWER = {
    "type": "object",
    "required": ["success", "accepted", "duplicates", "rejected"],
    "properties": {
        "success": {"type": "boolean"},
        "accepted": {"type": "integer"},
        "duplicates": {"type": "integer"},
        "rejected": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"index": {"type": "integer"}, "reason": {"type": "string"}},
            },
        },
    },
}


async def _body(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(400, "too_large", f"the request is {declared} bytes; the limit is {limit}")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise ApiError(400, "too_large", f"the request is over the limit of {limit} bytes")
    if request.headers.get("content-encoding", "").lower() == "gzip":
        try:
            # Bounded, so a small gzip bomb cannot expand past the batch limit.
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = inflater.decompress(raw, limit + 1)
            if len(raw) > limit or inflater.unconsumed_tail:
                raise ApiError(400, "too_large", f"the unzipped body is over {limit} bytes")
        except (zlib.error, gzip.BadGzipFile, EOFError):
            raise ApiError(400, "invalid_gzip", "the body is not valid gzip") from None
    try:
        return jsoncodec.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None


def _answer(result: IngestResult) -> dict[str, Any]:
    return {
        "success": True,
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": [{"index": i, "reason": r} for i, r in result.rejected],
    }


@router.post(
    "/v1/{kind}",
    openapi_extra=_BODY,
    responses={200: {"content": {"application/json": {"schema": _ANSWER}}}},
    summary="Send Segment messages (identify, track, page, screen, group, alias, batch)",
    dependencies=[Security(write_key_scheme)],
)
async def ingest(kind: str, request: Request) -> dict[str, Any]:
    if kind not in KINDS:
        raise ApiError(404, "not_found", f"no endpoint /v1/{kind}; use one of {', '.join(KINDS)}")
    state = request.app.state
    body = await _body(request, state.settings.max_batch_bytes)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "the body must be a JSON object")
    token = basic_user(request) or (
        body.get("writeKey") if isinstance(body.get("writeKey"), str) else None
    )
    gate: asyncio.Semaphore = state.ingest_gate
    if gate.locked():
        raise ApiError(
            429, "overloaded", "too many requests at once; retry", headers={"Retry-After": "1"}
        )
    async with gate:
        result = await run_in_threadpool(_store, state, token, kind, body)
    state.scorer_wakeup()
    if kind != "batch" and result.rejected:
        raise ApiError(400, "invalid_message", result.rejected[0][1])
    return _answer(result)


# PostgreSQL may pick this transaction as a deadlock victim (concurrent requests creating
# the same people while locking the same accounts); it was rolled back whole, so it is run
# again, after a short random pause so that the two do not collide the same way again.
_RETRIES = 6
_PAUSE_SECONDS = 0.02
# deadlock_detected, serialization_failure
_TRANSIENT = {"40P01", "40001"}


def _store(state: Any, token: str | None, kind: str, body: dict[str, Any]) -> IngestResult:
    key = write_key(state.engine, token)
    for attempt in range(_RETRIES):
        try:
            return _write(state, key, kind, body)
        except sa.exc.OperationalError as exc:
            if attempt == _RETRIES - 1 or getattr(exc.orig, "sqlstate", None) not in _TRANSIENT:
                raise
        time.sleep(random.uniform(0, _PAUSE_SECONDS * (attempt + 1)))
    raise AssertionError("unreachable")


def _write(state: Any, key: ApiKey, kind: str, body: dict[str, Any]) -> IngestResult:
    now = state.clock()
    limit = state.settings.max_message_bytes
    source = f"http:{key.prefix}"
    with write_transaction(state.engine) as conn:
        if kind == "batch":
            try:
                result = ingest_batch(
                    conn, key.workspace_id, body, received_at=now, source=source,
                    max_message_bytes=limit,
                )  # fmt: skip
            except InvalidMessage as exc:
                raise ApiError(400, "invalid_batch", str(exc)) from None
        else:
            message = {k: v for k, v in body.items() if k != "writeKey"}
            message["type"] = kind
            result = ingest_messages(
                conn, key.workspace_id, [message], received_at=now, source=source,
                max_message_bytes=limit,
            )  # fmt: skip
        # An account's rollup (and criteria on it) moves with each member's engagement,
        # so the touched people's account-mates are scored again too.
        queued = with_account_members(conn, key.workspace_id, result.touched)
        enqueue(conn, key.workspace_id, queued, at=now)
    return result
