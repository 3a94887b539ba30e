"""The team's tables seen as the engine's inputs: temporary views that rename and convert.

Each kind gets a view with exactly the columns the engine reads (`FRAME_SCHEMAS`):
columns renamed, instants turned into naive UTC timestamps, extra columns folded into a
JSON text document. Integer keys are used as they are. Text keys (UUIDs, CRM ids) are
numbered once into a temporary key table, and the views join it, so a person's key
means one integer in people and events alike; the original key is kept for the output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis.expr.datatypes as dt

from winnow.engine import Inputs
from winnow.engine.run import FRAME_SCHEMAS, source_tables
from winnow.spec.expr import STAGES
from winnow.warehouse.mapping import MappingInvalid, SourceMapping, TableMapping
from winnow.warehouse.source import Source, literal, quote

_KEYS = {"people": ("id", "account_id"), "accounts": ("id",), "events": ("person_id",)}
_INSTANTS = ("created_at", "recycled_at", "timestamp")
# PostgreSQL functions take at most 100 arguments: 50 key/value pairs per jsonb_build_object.
_PAIRS = 50


@dataclass(frozen=True, kw_only=True)
class Resolved:
    """One kind's table checked against the mapping: where each field comes from."""

    kind: str
    reference: str  # the table in the plan's SQL
    fields: dict[str, str | None]
    types: dict[str, dt.DataType]
    rest: dict[str, list[str]]
    mapping: TableMapping


@dataclass(frozen=True, kw_only=True)
class Prepared:
    inputs: Inputs
    person_key: str  # the people table's key column, as the team names it
    keys: dict[int, Any] | None  # engine id -> the team's key, when their keys are text
    stage_mapped: bool
    recycling: bool


def resolve(source: Source, mapping: SourceMapping) -> dict[str, Resolved]:
    """Check the mapping against the real tables; raise listing every problem at once."""
    problems: list[str] = []
    found: dict[str, tuple[TableMapping, dict[str, dt.DataType], dict[str, str | None]]] = {}
    for kind, table in mapping.tables().items():
        try:
            types = source.schema(kind, table.table)
        except MappingInvalid as exc:
            problems += exc.problems
            continue
        fields, missing = table.resolve(list(types))
        problems += missing
        problems += _type_problems(table, fields, types)
        found[kind] = (table, types, fields)
    if problems:
        raise MappingInvalid(problems)
    resolved = {}
    for kind, (table, types, fields) in found.items():
        rest = table.rest(list(types), fields)
        needed = {c for c in fields.values() if c} | {c for cs in rest.values() for c in cs}
        for document in table.documents().values():
            needed |= set(document.sources())
        columns = [c for c in types if c in needed]
        resolved[kind] = Resolved(
            kind=kind,
            reference=source.reference(kind, table.table, columns),
            fields=fields,
            types=types,
            rest=rest,
            mapping=table,
        )
    return resolved


def _type_problems(
    table: TableMapping, fields: dict[str, str | None], types: dict[str, dt.DataType]
) -> list[str]:
    problems = []
    for name, column in fields.items():
        if column is None:
            continue
        kind = types[column]
        where = f"{table.kind}.columns.{name}: column {column!r} is {kind}"
        if name in _KEYS[table.kind]:
            if not (kind.is_integer() or kind.is_string() or kind.is_uuid()):
                problems.append(f"{where}; a key must be an integer or text")
        elif name in _INSTANTS:
            if not (kind.is_timestamp() or kind.is_date()):
                problems.append(f"{where}; it must be a timestamp or a date")
        elif kind.is_nested() or kind.is_json():
            problems.append(f"{where}; it must be text")
    for doc_name, document in table.documents().items():
        column = document.json_column
        if column is not None and column in types:
            kind = types[column]
            if not (kind.is_json() or kind.is_string() or kind.is_struct() or kind.is_map()):
                problems.append(
                    f"{table.kind}.{doc_name}.json: column {column!r} is {kind}; "
                    "it must be JSON, JSON text or a struct"
                )
    return problems


class _Views:
    """The SQL of the input views, for DuckDB or PostgreSQL."""

    def __init__(self, source: Source, resolved: dict[str, Resolved]) -> None:
        self.source = source
        self.dialect = source.dialect
        self.resolved = resolved
        self.prefix = source.prefix
        self.text_type = "VARCHAR" if self.dialect == "duckdb" else "TEXT"

    def name(self, kind: str) -> str:
        return f"{self.prefix}_{kind}"

    def column(self, kind: str, field: str) -> str | None:
        column = self.resolved[kind].fields.get(field)
        return None if column is None else f"t.{quote(column)}"

    def text(self, kind: str, field: str) -> str:
        column = self.column(kind, field)
        if column is None:
            return f"CAST(NULL AS {self.text_type})"
        if self.resolved[kind].types[self.resolved[kind].fields[field] or ""].is_string():
            return column
        return f"CAST({column} AS {self.text_type})"

    def instant(self, kind: str, field: str) -> str:
        column = self.column(kind, field)
        if column is None:
            return "CAST(NULL AS TIMESTAMP)"
        kind_type = self.resolved[kind].types[self.resolved[kind].fields[field] or ""]
        if kind_type.is_timestamp() and kind_type.timezone is not None:
            if self.dialect == "duckdb":
                column = f"timezone('UTC', {column})"
            else:
                column = f"({column} AT TIME ZONE 'UTC')"
        return f"CAST({column} AS TIMESTAMP)"

    def integer_keys(self, kind: str, field: str) -> bool:
        column = self.resolved[kind].fields[field]
        return column is not None and self.resolved[kind].types[column].is_integer()

    def document(self, kind: str, name: str) -> str:
        resolved = self.resolved[kind]
        document = resolved.mapping.documents()[name]
        pairs = [(key, f"t.{quote(column)}") for key, column in document.columns.items()]
        pairs += [(column, f"t.{quote(column)}") for column in resolved.rest.get(name, [])]
        base = None
        if document.json_column is not None:
            column, kind_type = (
                f"t.{quote(document.json_column)}",
                resolved.types[document.json_column],
            )
            if kind_type.is_struct() or kind_type.is_map():
                base = f"to_json({column})"
            else:
                base = f"CAST({column} AS JSON{'' if self.dialect == 'duckdb' else 'B'})"
        if self.dialect == "duckdb":
            folded = ", ".join(f"{literal(k)}, {v}" for k, v in pairs)
            fold = f"json_object({folded})" if pairs else None
            if base and fold:
                merged = f"json_merge_patch(coalesce({base}, '{{}}'), {fold})"
            else:
                merged = base or fold or "'{}'"
            return f"CAST({merged} AS VARCHAR)"
        chunks = [
            "jsonb_build_object("
            + ", ".join(f"{literal(k)}, {v}" for k, v in pairs[i : i + _PAIRS])
            + ")"
            for i in range(0, len(pairs), _PAIRS)
        ]
        parts = ([f"coalesce({base}, '{{}}'::jsonb)"] if base else []) + chunks
        merged = " || ".join(parts) or "'{}'"
        return f"CAST({merged} AS TEXT)"

    def key_table(self, kind: str, field: str) -> str:
        """A temporary table numbering the kind's text keys 1, 2, … in key order."""
        name = f"{self.prefix}_{kind}_keys"
        key = self.text(kind, field)
        self.source.execute(
            f"CREATE TEMP TABLE {quote(name)} AS SELECT key, "
            "CAST(row_number() OVER (ORDER BY key) AS BIGINT) AS id "
            f"FROM (SELECT DISTINCT {key} AS key FROM {self.resolved[kind].reference} t "
            f"WHERE {key} IS NOT NULL) k"
        )
        return name


def prepare(source: Source, mapping: SourceMapping, resolved: dict[str, Resolved]) -> Prepared:
    """Create the input views (and key tables) on the source's connection."""
    views = _Views(source, resolved)
    people = resolved["people"]
    _check_unique(source, people, "id")
    if "accounts" in resolved:
        _check_unique(source, resolved["accounts"], "id")
    text_people = not (
        views.integer_keys("people", "id") and views.integer_keys("events", "person_id")
    )
    text_accounts = "accounts" in resolved and not (
        views.integer_keys("accounts", "id") and views.integer_keys("people", "account_id")
    )
    person_keys = views.key_table("people", "id") if text_people else None
    account_keys = views.key_table("accounts", "id") if text_accounts else None

    joins = ""
    if person_keys:
        person_id = "pk.id"
        joins += f" JOIN {quote(person_keys)} pk ON pk.key = {views.text('people', 'id')}"
    else:
        person_id = f"CAST({views.column('people', 'id')} AS BIGINT)"
    account_column = views.column("people", "account_id")
    if account_column is None or "accounts" not in resolved:
        account_id = "CAST(NULL AS BIGINT)"
    elif account_keys:
        account_id = "ak.id"
        joins += (
            f" LEFT JOIN {quote(account_keys)} ak ON ak.key = {views.text('people', 'account_id')}"
        )
    else:
        account_id = f"CAST({account_column} AS BIGINT)"
    email_domain = views.text("people", "email_domain")
    if views.column("people", "email_domain") is None and views.column("people", "email"):
        # As ingestion derives it: after the last @, trimmed, lower case.
        email_domain = (
            f"nullif(lower(trim(regexp_replace({views.text('people', 'email')}, '^.*@', ''))), '')"
        )
    stage = views.text("people", "stage")
    stage_values = mapping.model.people.stage_values
    if stage_values:
        cases = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in stage_values.items())
        stage = f"CASE {stage} {cases} ELSE {stage} END"
    people_sql = (
        f"SELECT {person_id} AS id, {account_id} AS account_id, "
        f"{views.text('people', 'email')} AS email, {email_domain} AS email_domain, "
        f"{views.text('people', 'user_id')} AS user_id, {views.text('people', 'owner')} AS owner, "
        f"{views.instant('people', 'created_at')} AS created_at, "
        f"coalesce({stage}, 'lead') AS stage, "
        f"{views.instant('people', 'recycled_at')} AS recycled_at, "
        f"{views.document('people', 'traits')} AS traits "
        f"FROM {people.reference} t{joins}"
        + ("" if person_keys else f" WHERE {views.column('people', 'id')} IS NOT NULL")
    )
    source.execute(f"CREATE TEMP VIEW {quote(views.name('people'))} AS {people_sql}")

    if "accounts" in resolved:
        if account_keys:
            account_from = (
                f"{resolved['accounts'].reference} t JOIN {quote(account_keys)} ak "
                f"ON ak.key = {views.text('accounts', 'id')}"
            )
            account_key = "ak.id"
        else:
            account_from = f"{resolved['accounts'].reference} t"
            account_key = f"CAST({views.column('accounts', 'id')} AS BIGINT)"
        group_id = views.text("accounts", "group_id")
        if views.column("accounts", "group_id") is None:
            group_id = views.text("accounts", "id")
        accounts_sql = (
            f"SELECT {account_key} AS id, {group_id} AS group_id, "
            f"{views.text('accounts', 'name')} AS name, "
            f"{views.text('accounts', 'domain')} AS domain, "
            f"{views.text('accounts', 'plan')} AS plan, "
            f"{views.instant('accounts', 'created_at')} AS created_at, "
            f"{views.document('accounts', 'traits')} AS traits FROM {account_from}"
        )
    else:
        accounts_sql = (
            "SELECT CAST(NULL AS BIGINT) AS id, "
            + ", ".join(
                f"CAST(NULL AS {views.text_type}) AS {c}"
                for c in ("group_id", "name", "domain", "plan")
            )
            + f", CAST(NULL AS TIMESTAMP) AS created_at, CAST(NULL AS {views.text_type}) AS traits"
            + " WHERE 1 = 0"
        )
    source.execute(f"CREATE TEMP VIEW {quote(views.name('accounts'))} AS {accounts_sql}")

    events = resolved["events"]
    if person_keys:
        event_from = (
            f"{events.reference} t JOIN {quote(person_keys)} pk "
            f"ON pk.key = {views.text('events', 'person_id')}"
        )
        event_person = "pk.id"
    else:
        event_from = f"{events.reference} t"
        event_person = f"CAST({views.column('events', 'person_id')} AS BIGINT)"
    events_sql = (
        f"SELECT {event_person} AS person_id, {views.text('events', 'name')} AS name, "
        f"{views.instant('events', 'timestamp')} AS timestamp, "
        f"{views.document('events', 'properties')} AS properties, "
        f"{views.document('events', 'context')} AS context FROM {event_from}"
    )
    if not person_keys:
        events_sql += f" WHERE {views.column('events', 'person_id')} IS NOT NULL"
    source.execute(f"CREATE TEMP VIEW {quote(views.name('events'))} AS {events_sql}")

    stage_mapped = people.fields["stage"] is not None
    if stage_mapped:
        _check_stages(source, views.name("people"), people.fields["stage"] or "")
    keys = None
    if person_keys:
        keys = {
            int(r["id"]): r["key"] for r in source.rows(f"SELECT id, key FROM {quote(person_keys)}")
        }
    return Prepared(
        inputs=source_tables(f"{views.prefix}_", FRAME_SCHEMAS),
        person_key=people.fields["id"] or "id",
        keys=keys,
        stage_mapped=stage_mapped,
        recycling=people.fields["recycled_at"] is not None,
    )


def _check_unique(source: Source, resolved: Resolved, field: str) -> None:
    column = resolved.fields[field]
    assert column is not None
    key = quote(column)
    repeated = source.rows(
        f"SELECT {key} AS key FROM {resolved.reference} t WHERE {key} IS NOT NULL "
        f"GROUP BY {key} HAVING count(*) > 1 ORDER BY 1 LIMIT 5"
    )
    if repeated:
        values = ", ".join(repr(r["key"]) for r in repeated)
        raise MappingInvalid(
            [
                f"{resolved.kind}.columns.{field}: column {column!r} must be unique, "
                f"but {values} appear more than once"
            ]
        )


def _check_stages(source: Source, view: str, column: str) -> None:
    allowed = ", ".join(literal(s) for s in STAGES)
    unknown = source.rows(
        f"SELECT DISTINCT stage FROM {quote(view)} WHERE stage NOT IN ({allowed}) "
        "ORDER BY stage LIMIT 10"
    )
    if unknown:
        values = ", ".join(repr(r["stage"]) for r in unknown)
        raise MappingInvalid(
            [
                f"people.columns.stage: column {column!r} holds {values}, which are not stages "
                f"({', '.join(STAGES)}); name them in people.stage_values"
            ]
        )
