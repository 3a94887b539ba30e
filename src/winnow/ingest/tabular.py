"""File imports: people, accounts or events from CSV or JSONL.

Each row is checked on its own. A bad row is reported with its real line number (a CSV
header is line 1; a quoted value spanning lines counts from where the row starts) and
kept verbatim in rejected_messages; the good rows are imported. Rows become the same
messages the HTTP API accepts and go through the same writer: an events row is a track
(or page, screen…) message, a people row an identify that adds no event (an import is
not something the person did), an accounts row a group without a person.

Importing a file twice changes nothing the second time: events dedupe on their message
id (from the row's `message_id`, else derived from its content), people and accounts
are upserts by their keys (user id, else email; group id, else name).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from winnow.clock import utcnow
from winnow.ingest.columns import ColumnMapping, Target, typed
from winnow.ingest.messages import (
    MAX_ID,
    InvalidMessage,
    Message,
    check_storable,
    parse_instant,
    parse_message,
)
from winnow.ingest.writer import Writer, verbatim
from winnow.store.events import Rejected, insert_rejected
from winnow.store.people import group_ids_by_name

FORMATS = ("csv", "jsonl")
CHUNK = 2_000


@dataclass(frozen=True, kw_only=True)
class ImportReport:
    kind: str
    source: str
    imported: int
    # Event rows already stored (same message id): skipped, as on a second import.
    duplicates: int
    # (line number, reason) of every row not imported; each is also in rejected_messages
    # (position "line N", the reason prefixed with the line).
    problems: tuple[tuple[int, str], ...]
    # Everyone the import created or changed (after merges): rescore these.
    touched: frozenset[int]


@dataclass(frozen=True, kw_only=True)
class _Row:
    line: int
    values: Any  # a dict of column -> value, unless the line could not be read
    error: str | None = None


def import_rows(
    conn: sa.Connection,
    workspace_id: int,
    kind: str,
    path: str | Path,
    *,
    mapping: Mapping[str, str] | None = None,
    format: str | None = None,
    received_at: datetime | None = None,
) -> ImportReport:
    """Import a CSV or JSONL file of people, accounts or events (format from the suffix)."""
    path = Path(path)
    columns = ColumnMapping(kind=kind, explicit=dict(mapping or {}))
    fmt = format or guess_format(path)
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    rows = _read_csv(path, columns) if fmt == "csv" else _read_jsonl(path)
    importer = _Importer(
        conn, workspace_id, columns, f"import:{path.name}", received_at or utcnow()
    )
    chunk: list[_Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            importer.run(chunk)
            chunk = []
    importer.run(chunk)
    insert_rejected(conn, workspace_id, importer.rejected, received_at=importer.received_at)
    return ImportReport(
        kind=kind,
        source=importer.source,
        imported=importer.imported,
        duplicates=importer.duplicates,
        problems=tuple(importer.problems),
        touched=importer.writer.directory.touched(),
    )


def guess_format(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix == "csv":
        return "csv"
    if suffix in ("jsonl", "ndjson"):
        return "jsonl"
    raise ValueError(f"cannot tell the format of {path.name}: name it .csv or .jsonl, or say which")


def _read_csv(path: Path, columns: ColumnMapping) -> Iterator[_Row]:
    # utf-8-sig: HubSpot and Excel exports start with a byte-order mark.
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader, [])]
        absent = sorted(set(columns.explicit) - set(header))
        if absent:
            raise ValueError(
                f"the mapping names column(s) {', '.join(map(repr, absent))} that "
                f"{path.name} does not have; its columns are {', '.join(map(repr, header))}"
            )
        start = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                line, start = start, reader.line_num + 1
                yield _Row(line=line, values=None, error=f"unreadable CSV: {exc}")
                continue
            line, start = start, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                error = f"{len(cells)} values for {len(header)} columns"
                yield _Row(line=line, values=cells, error=error)
                continue
            yield _Row(line=line, values=dict(zip(header, cells, strict=False)))


def _read_jsonl(path: Path) -> Iterator[_Row]:
    with path.open(encoding="utf-8-sig") as handle:
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                yield _Row(line=line, values=text.rstrip("\n"), error=f"not JSON: {exc.msg}")
                continue
            if not isinstance(value, dict):
                yield _Row(line=line, values=value, error="not a JSON object")
                continue
            yield _Row(line=line, values=value)


# A row's fields: field name -> (the column it came from, its value).
Fields = dict[str, tuple[str, Any]]
# A row's JSON documents: "trait", "account", "property" or "context" -> key -> value.
Documents = dict[str, dict[str, Any]]


class _Importer:
    """Turns rows into messages (or account updates) chunk by chunk, on one writer."""

    def __init__(
        self,
        conn: sa.Connection,
        workspace_id: int,
        columns: ColumnMapping,
        source: str,
        received_at: datetime,
    ) -> None:
        self.conn = conn
        self.workspace_id = workspace_id
        self.columns = columns
        self.source = source
        self.received_at = received_at
        self.writer = Writer(conn, workspace_id, received_at=received_at)
        self.imported = self.duplicates = 0
        self.problems: list[tuple[int, str]] = []
        self.rejected: list[Rejected] = []
        # lowercased account name -> its group id, for rows that name an account only.
        self._group_ids: dict[str, str] = {}

    def run(self, rows: Sequence[_Row]) -> None:
        kind = self.columns.kind
        self._learn_group_ids(rows)
        messages: list[Message] = []
        accounts: list[tuple[str, dict[str, Any], datetime]] = []
        for row in rows:
            try:
                if row.error is not None:
                    raise InvalidMessage(row.error)
                fields, documents = self._split(row.values)
                if kind == "accounts":
                    accounts.append(self._account(fields, documents))
                elif kind == "events":
                    messages.append(self._event(fields, documents))
                else:
                    messages.append(self._person(fields, documents))
            except InvalidMessage as exc:
                self.problems.append((row.line, str(exc)))
                self.rejected.append(
                    Rejected(
                        source=self.source,
                        position=f"line {row.line}",
                        reason=f"line {row.line}: {exc}",
                        payload=verbatim(row.values),
                    )
                )
        if kind == "accounts":
            self.imported += self.writer.write_accounts(accounts)
            return
        accepted, duplicates = self.writer.write(messages, record_events=kind == "events")
        self.imported += accepted
        self.duplicates += duplicates

    def _split(self, values: Mapping[str, Any]) -> tuple[Fields, Documents]:
        fields: Fields = {}
        documents: Documents = {}
        for column, raw in values.items():
            value = raw.strip() if isinstance(raw, str) else raw
            if value is None or value == "":
                continue
            target = self.columns.target(column)
            if target.place == "field":
                fields[target.key] = (column, value)
            elif target.place != "ignore":
                documents.setdefault(target.place, {})[target.key] = typed(value)
        if "email" in fields:
            column, email = fields["email"]
            if not isinstance(email, str) or "@" not in email:
                raise InvalidMessage(f"{column!r} is not an email address: {email!r}")
        return fields, documents

    def _person(self, fields: Fields, documents: Documents) -> Message:
        email = _value(fields, "email")
        if _value(fields, "user_id") is None and email is None:
            raise InvalidMessage(
                "needs an email or a user id (map a column to 'email' or 'user_id')"
            )
        account = documents.get("account", {})
        traits = documents.get("trait", {})
        group_id = self._group_id(fields, "account_id", "company")
        if group_id is None:
            # No account to hold them: company facts stay on the person.
            traits = {**account, **traits}
        elif "company" in fields:
            account["name"] = fields["company"][1]
        if email is not None:
            traits["email"] = email
        raw = {
            "type": "identify",
            "userId": _value(fields, "user_id"),
            "traits": traits,
            "timestamp": _instant(fields, "created_at"),
            "context": {"groupId": group_id} if group_id else {},
        }
        message = parse_message(raw, received_at=self.received_at, email=email)
        return replace(message, account_traits=account if group_id else {})

    def _event(self, fields: Fields, documents: Documents) -> Message:
        timestamp = _instant(fields, "timestamp")
        if timestamp is None:
            raise InvalidMessage("needs a timestamp (map a column to 'timestamp')")
        context = {**_document(fields, "context"), **documents.get("context", {})}
        if "group_id" in fields:
            context["groupId"] = fields["group_id"][1]
        raw = {
            "type": _value(fields, "type") or "track",
            "userId": _value(fields, "user_id"),
            "anonymousId": _value(fields, "anonymous_id"),
            "event": _value(fields, "event"),
            "messageId": _value(fields, "message_id"),
            "timestamp": timestamp,
            "properties": {**_document(fields, "properties"), **documents.get("property", {})},
            "context": context,
        }
        by_email = raw["userId"] is None and raw["anonymousId"] is None
        email = _value(fields, "email") if by_email else None
        return parse_message(raw, received_at=self.received_at, email=email)

    def _account(
        self, fields: Fields, documents: Documents
    ) -> tuple[str, dict[str, Any], datetime]:
        group_id = self._group_id(fields, "group_id", "name")
        if group_id is None:
            raise InvalidMessage(
                "needs an account id or a name (map a column to 'group_id' or 'name')"
            )
        traits = dict(documents.get("trait", {}))
        for key in ("name", "domain", "plan"):
            if key in fields:
                traits[key] = fields[key][1]
        check_storable(traits)
        return group_id, traits, _instant(fields, "created_at") or self.received_at

    def _group_id(self, fields: Fields, id_field: str, name_field: str) -> str | None:
        """The account a row names: by id, else by name (an account of that name, or a new one)."""
        name = str(fields[name_field][1]) if name_field in fields else None
        if id_field in fields:
            column, group_id = fields[id_field][0], str(fields[id_field][1])
        elif name is not None:
            column, group_id = fields[name_field][0], self._group_ids.get(name.lower(), name)
        else:
            return None
        if len(group_id) > MAX_ID:
            raise InvalidMessage(f"{column!r} is longer than {MAX_ID} characters")
        if name is not None:
            self._group_ids.setdefault(name.lower(), group_id)
        return group_id

    def _learn_group_ids(self, rows: Sequence[_Row]) -> None:
        """Look up, in one query, the existing accounts these rows name without an id."""
        name = Target(place="field", key="name" if self.columns.kind == "accounts" else "company")
        wanted = {
            value.strip().lower()
            for row in rows
            if row.error is None
            for column, value in row.values.items()
            if isinstance(value, str) and value.strip() and self.columns.target(column) == name
        } - self._group_ids.keys()
        if wanted:
            self._group_ids.update(group_ids_by_name(self.conn, self.workspace_id, wanted))


def _value(fields: Fields, name: str) -> Any:
    return fields[name][1] if name in fields else None


def _instant(fields: Fields, name: str) -> datetime | None:
    if name not in fields:
        return None
    column, value = fields[name]
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise InvalidMessage(f"{column!r}: {exc}") from None


def _document(fields: Fields, name: str) -> dict[str, Any]:
    if name not in fields:
        return {}
    column, value = fields[name]
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise InvalidMessage(f"{column!r} is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidMessage(f"{column!r} must be a JSON object")
    return value
