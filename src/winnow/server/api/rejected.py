"""The rejected log: every message or row that could not be accepted, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from winnow.server.api import ERRORS, PREFIX, ReadKey, transaction
from winnow.server.api.models import STORABLE, RejectedPage
from winnow.server.errors import ApiError
from winnow.store.events import get_rejected, list_rejected

router = APIRouter(prefix=f"{PREFIX}/rejected", tags=["rejected"], responses=ERRORS)


@router.get("")
def get_rejected_messages(
    key: ReadKey,
    request: Request,
    source: Annotated[
        str | None, Query(description='e.g. "http:wn_write_…", "import:x.csv"', pattern=STORABLE)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None, Query(description="The next_cursor of the previous page.", pattern=STORABLE)
    ] = None,
) -> RejectedPage:
    """Rejected messages with why, newest first, a page at a time."""
    with transaction(request) as conn:
        after = None
        if cursor is not None:
            # The cursor is the id of the last message shown, in this workspace.
            after = get_rejected(conn, key.workspace_id, int(cursor)) if cursor.isdigit() else None
            if after is None:
                raise ApiError(400, "invalid_cursor", "the cursor is not one this list gave")
        found = list_rejected(conn, key.workspace_id, source=source, limit=limit + 1, after=after)
    page = found[:limit]
    next_cursor = str(page[-1].id) if len(found) > limit else None
    return RejectedPage.model_validate({"data": page, "next_cursor": next_cursor})
