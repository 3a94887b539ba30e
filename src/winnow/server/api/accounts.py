"""Accounts: their rolled-up score and their people."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from winnow.leads import (
    AccountNotFound,
    InvalidCursor,
    LeadFilter,
    account_summary,
    list_accounts,
    list_leads,
)
from winnow.server.api import ERRORS, PREFIX, PathId, ReadKey, transaction
from winnow.server.api.models import STORABLE, Account, AccountsPage
from winnow.server.errors import ApiError

router = APIRouter(prefix=f"{PREFIX}/accounts", tags=["accounts"], responses=ERRORS)


@router.get("")
def get_accounts(
    key: ReadKey,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None, Query(description="The next_cursor of the previous page.", pattern=STORABLE)
    ] = None,
) -> AccountsPage:
    """List accounts with their rolled-up score, best first, a page at a time."""
    with transaction(request) as conn:
        try:
            page = list_accounts(conn, key.workspace_id, limit=limit, cursor=cursor)
        except InvalidCursor as exc:
            raise ApiError(400, "invalid_cursor", str(exc)) from None
    return AccountsPage.model_validate({"data": page.items, "next_cursor": page.next_cursor})


@router.get("/{account_id}")
def get_account(account_id: PathId, key: ReadKey, request: Request) -> Account:
    """One account: its rolled-up score and its people, best first."""
    with transaction(request) as conn:
        try:
            account = account_summary(conn, key.workspace_id, account_id)
        except AccountNotFound:
            raise ApiError(404, "not_found", f"no account {account_id} in this workspace") from None
        members = list_leads(conn, key.workspace_id, LeadFilter(account_id=account_id), limit=200)
    return Account.model_validate({**vars(account), "members": members.items})
