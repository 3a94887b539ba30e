"""Writing accepted messages to the store: people, accounts, and one event per message.

Idempotency. A message id is stored once per workspace. Duplicates are set aside before
anything changes (ids the store already has, and repeats within one call, first one
wins), so a retried message adds no event and changes no trait, even when newer messages
changed that trait since. The one case a look-up cannot see is two transactions racing
with the same new id; the event insert then skips the loser's row at the database
(ON CONFLICT DO NOTHING) and counts it as a duplicate. Its other writes carried the same
values as the winner's, and creating people, ids and accounts skips conflicts the same way.

Accounts. group(groupId, traits) creates or updates the account: `name`, `plan` and the
domain (from `domain`, else `website`) have columns, every other trait merges into the
account's traits with its JSON type kept (numbers stay numbers). `context.groupId` on any
message links the person to that account, creating it if needed; the latest link wins.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from winnow import jsoncodec
from winnow.clock import to_db
from winnow.ingest.identity import Directory
from winnow.ingest.messages import (
    MAX_ACCOUNT_NAME,
    MAX_DOMAIN,
    MAX_PLAN,
    InvalidMessage,
    Message,
    parse_batch,
    parse_message,
)
from winnow.store import people as store
from winnow.store.events import Rejected, insert_events, insert_rejected, stored_message_ids


@dataclass(frozen=True, kw_only=True)
class IngestResult:
    accepted: int
    duplicates: int
    # (index in the list or batch, reason naming the field); each is also in rejected_messages.
    rejected: tuple[tuple[int, str], ...]
    # Everyone the accepted messages are about, as they are after merges: rescore these.
    touched: frozenset[int]
    # (merged person id, the id it became), in the order merges happened.
    merged: tuple[tuple[int, int], ...] = ()


def ingest_messages(
    conn: sa.Connection,
    workspace_id: int,
    messages: Sequence[Any],
    *,
    received_at: datetime,
    source: str,
    max_message_bytes: int | None = None,
) -> IngestResult:
    """Validate and store messages one by one; invalid ones go to rejected_messages verbatim.

    With `max_message_bytes`, a message larger than that (as JSON) is rejected too.
    """
    return _ingest(
        conn,
        workspace_id,
        messages,
        messages,
        received_at=received_at,
        source=source,
        max_message_bytes=max_message_bytes,
    )


def ingest_batch(
    conn: sa.Connection,
    workspace_id: int,
    body: Any,
    *,
    received_at: datetime,
    source: str,
    max_message_bytes: int | None = None,
) -> IngestResult:
    """A Segment /v1/batch body: its context, integrations and sentAt apply to every item.

    A body that is not a batch at all raises InvalidMessage (a ValueError), for the caller
    to refuse whole, as Segment answers 400; bad items are rejected one by one.
    """
    batch = parse_batch(body)
    return _ingest(
        conn,
        workspace_id,
        batch.batch,
        batch.items(),
        received_at=received_at,
        source=source,
        max_message_bytes=max_message_bytes,
    )


def _ingest(
    conn: sa.Connection,
    workspace_id: int,
    originals: Sequence[Any],
    items: Sequence[Any],
    *,
    received_at: datetime,
    source: str,
    max_message_bytes: int | None = None,
) -> IngestResult:
    valid: list[Message] = []
    rejected: list[tuple[int, str]] = []
    kept: list[Rejected] = []
    for index, (original, item) in enumerate(zip(originals, items, strict=True)):
        try:
            if max_message_bytes is not None:
                size = len(jsoncodec.encode(original, lenient=True))
                if size > max_message_bytes:
                    raise InvalidMessage(
                        f"the message is {size} bytes; the limit is {max_message_bytes}"
                    )
            valid.append(parse_message(item, received_at=received_at))
        except InvalidMessage as exc:
            reason = f"message {index}: {exc}"
            rejected.append((index, reason))
            kept.append(
                Rejected(
                    source=source,
                    position=f"message {index}",
                    reason=reason,
                    payload=verbatim(original),
                )
            )
    insert_rejected(conn, workspace_id, kept, received_at=received_at)
    writer = Writer(conn, workspace_id, received_at=received_at)
    accepted, duplicates = writer.write(valid)
    return IngestResult(
        accepted=accepted,
        duplicates=duplicates,
        rejected=tuple(rejected),
        touched=writer.directory.touched(),
        merged=tuple(writer.directory.merged),
    )


def verbatim(payload: Any) -> str:
    """A rejected payload as JSON text, whatever it holds (NaN included, unlike the store)."""
    return json.dumps(payload, ensure_ascii=False, default=str)


def domain_of(value: Any) -> str | None:
    """A bare domain from a domain or website: "https://www.Acme.com/x" -> "acme.com"."""
    text = str(value).strip().lower()
    text = text.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0].split(":", 1)[0]
    text = text.removeprefix("www.")
    return text[:MAX_DOMAIN] or None


@dataclass(kw_only=True)
class AccountDraft:
    """An account's working copy (mutable, like identity.Draft)."""

    id: int
    name: str | None
    domain: str | None
    plan: str | None
    traits: dict[str, Any]
    created_at: datetime
    changed: bool = False

    def saved(self, group_id: str) -> store.Account:
        return store.Account(
            id=self.id,
            group_id=group_id,
            name=self.name,
            domain=self.domain,
            plan=self.plan,
            traits=self.traits,
            created_at=self.created_at,
        )


@dataclass(kw_only=True)
class Accounts:
    """The accounts one ingestion call touches, by group id."""

    conn: sa.Connection
    workspace_id: int
    received_at: datetime
    drafts: dict[str, AccountDraft] = field(default_factory=dict)
    _looked_up: set[str] = field(default_factory=set)

    def preload(self, group_ids: Iterable[str]) -> None:
        wanted = set(group_ids) - self._looked_up
        self._looked_up |= wanted
        for account in store.load_accounts(
            self.conn, self.workspace_id, "group_id", wanted, lock=True
        ):
            self._load(account)

    def _load(self, account: store.Account) -> AccountDraft:
        draft = AccountDraft(
            id=account.id,
            name=account.name,
            domain=account.domain,
            plan=account.plan,
            traits=dict(account.traits),
            created_at=account.created_at,
        )
        self.drafts[account.group_id] = draft
        return draft

    def ensure(self, first_seen: Mapping[str, datetime]) -> None:
        """Create (empty) the accounts of these group ids that do not exist; preload first."""
        wanted = {g: at for g, at in first_seen.items() if g not in self.drafts}
        created = store.insert_accounts(self.conn, self.workspace_id, wanted, now=self.received_at)
        for group_id, new_id in created.items():
            self.drafts[group_id] = AccountDraft(
                id=new_id, name=None, domain=None, plan=None, traits={}, created_at=wanted[group_id]
            )
        # Created meanwhile by another transaction: use theirs.
        raced = set(wanted) - created.keys()
        for account in store.load_accounts(self.conn, self.workspace_id, "group_id", raced):
            self._load(account)

    def set_traits(self, account: AccountDraft, traits: Mapping[str, Any]) -> None:
        # Nulls remove nothing, as for people (see identity.Directory.set_traits).
        given = {k: v for k, v in traits.items() if v is not None}
        name, plan, domain = account.name, account.plan, account.domain
        if "name" in given:
            name = str(given.pop("name"))[:MAX_ACCOUNT_NAME]
        if "plan" in given:
            plan = str(given.pop("plan"))[:MAX_PLAN]
        if "domain" in given:
            domain = domain_of(given.pop("domain"))
        elif "website" in given:
            domain = domain_of(given["website"])
        merged = {**account.traits, **given}
        if (name, plan, domain, merged) != (
            account.name,
            account.plan,
            account.domain,
            account.traits,
        ):
            account.name, account.plan, account.domain, account.traits = name, plan, domain, merged
            account.changed = True

    def flush(self) -> None:
        changed = [(g, a) for g, a in self.drafts.items() if a.changed]
        store.save_accounts(
            self.conn, self.workspace_id, [a.saved(g) for g, a in changed], now=self.received_at
        )
        for _, account in changed:
            account.changed = False


class Writer:
    """Turns accepted messages into store rows; one writer per transaction.

    It caches who and which accounts it has seen, so a file import calls `write` chunk
    after chunk on one writer.
    """

    def __init__(self, conn: sa.Connection, workspace_id: int, *, received_at: datetime) -> None:
        self.conn = conn
        self.workspace_id = workspace_id
        self.received_at = received_at
        self.directory = Directory(conn=conn, workspace_id=workspace_id, received_at=received_at)
        self.accounts = Accounts(conn=conn, workspace_id=workspace_id, received_at=received_at)

    def write(self, messages: Sequence[Message], *, record_events: bool = True) -> tuple[int, int]:
        """Apply messages in order; returns (accepted, duplicates).

        Without `record_events` (people imported from a file) the messages update people
        and accounts but add no events: an import is not something the person did.
        """
        fresh, duplicates = self._fresh(messages) if record_events else (list(messages), 0)
        self.directory.preload(fresh)
        self.accounts.preload(m.group_id for m in fresh if m.group_id is not None)
        first_seen: dict[str, datetime] = {}
        for m in fresh:
            if m.group_id is not None:
                first_seen.setdefault(m.group_id, m.timestamp)
        self.accounts.ensure(first_seen)
        received = to_db(self.received_at)
        rows: list[dict[str, Any]] = []
        for m in fresh:
            person = self.directory.resolve(m)
            if m.traits:
                self.directory.set_traits(person, m.traits)
            if m.email is not None and m.type == "identify":
                self.directory.set_email(person, m.email)
            if m.group_id is not None:
                account = self.accounts.drafts[m.group_id]
                if m.account_traits:
                    self.accounts.set_traits(account, m.account_traits)
                self.directory.set_account(person, account.id)
            if record_events:
                rows.append(
                    {
                        "workspace_id": self.workspace_id,
                        "message_id": m.message_id,
                        "person_id": person.id,
                        "type": m.type,
                        "name": m.name,
                        "properties": m.properties,
                        "context": m.context,
                        "timestamp": to_db(m.timestamp),
                        "received_at": received,
                    }
                )
        self.accounts.flush()
        self.directory.flush()
        for row in rows:
            row["person_id"] = self.directory.alive(row["person_id"])
        raced = len(rows) - len(insert_events(self.conn, rows))
        return len(fresh) - raced, duplicates + raced

    def write_accounts(self, rows: Sequence[tuple[str, Mapping[str, Any], datetime]]) -> int:
        """Create or update accounts from (group id, traits, created at); returns how many."""
        self.accounts.preload(group_id for group_id, _, _ in rows)
        first_seen: dict[str, datetime] = {}
        for group_id, _, at in rows:
            first_seen.setdefault(group_id, at)
        self.accounts.ensure(first_seen)
        for group_id, traits, _ in rows:
            self.accounts.set_traits(self.accounts.drafts[group_id], traits)
        self.accounts.flush()
        return len(rows)

    def _fresh(self, messages: Sequence[Message]) -> tuple[list[Message], int]:
        stored = stored_message_ids(self.conn, self.workspace_id, (m.message_id for m in messages))
        fresh: list[Message] = []
        for m in messages:
            if m.message_id not in stored:
                stored.add(m.message_id)
                fresh.append(m)
        return fresh, len(messages) - len(fresh)
