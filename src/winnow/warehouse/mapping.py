"""The mapping file: which of a team's tables and columns hold Winnow's people, accounts, events.

```yaml
spec: winnow.yaml            # optional; relative to this file
people:
  table: crm.contacts        # a table (schema.table), or in a Parquet source a file or folder
  columns: {id: contact_id, account_id: company_id, email: work_email, stage: lifecycle}
  traits: {rest: true}       # the default: every column not mapped becomes a trait
  stage_values: {Marketing Qualified: mql}
accounts:
  table: crm.companies
  columns: {id: company_id, plan: billing_plan}
events:
  table: analytics.tracks
  columns: {person_id: contact_id, name: event, timestamp: sent_at}
  properties: {json: props}  # a JSON column taken as is
```

A field left out of `columns` is read from a column of its own name when the table has
one. A document (`traits`, `properties`, `context`) is built from a JSON column (`json`),
named columns (`columns: {key: column}`) and, with `rest: true`, every column mapped to
nothing else; a plain string is short for `{json: <column>}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from winnow.spec.errors import suggest
from winnow.spec.expr import STAGES

KINDS = ("people", "accounts", "events")


class MappingInvalid(ValueError):
    """A mapping that cannot be used, with every problem found (each names its key or column)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Document(_Strict):
    """How a JSON document (traits, properties, context) is made from the table's columns."""

    json_column: str | None = Field(default=None, alias="json")
    columns: dict[str, str] = Field(default_factory=dict)
    rest: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"json": value}
        return value

    def sources(self) -> list[str]:
        """The columns this document reads by name."""
        named = list(self.columns.values())
        return [self.json_column, *named] if self.json_column else named


class PeopleColumns(_Strict):
    id: str | None = None
    account_id: str | None = None
    email: str | None = None
    email_domain: str | None = None
    user_id: str | None = None
    owner: str | None = None
    created_at: str | None = None
    stage: str | None = None
    recycled_at: str | None = None


class AccountColumns(_Strict):
    id: str | None = None
    group_id: str | None = None
    name: str | None = None
    domain: str | None = None
    plan: str | None = None
    created_at: str | None = None


class EventColumns(_Strict):
    person_id: str | None = None
    name: str | None = None
    timestamp: str | None = None


class PeopleMapping(_Strict):
    table: str
    columns: PeopleColumns = PeopleColumns()
    traits: Document = Document(rest=True)
    # The team's stage names -> Winnow's, for a mapped stage column.
    stage_values: dict[str, str] = Field(default_factory=dict)

    @field_validator("stage_values")
    @classmethod
    def _known_stages(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted({v for v in value.values() if v not in STAGES})
        if unknown:
            raise ValueError(
                f"{', '.join(map(repr, unknown))} is not a stage; stages are {', '.join(STAGES)}"
            )
        return value


class AccountMapping(_Strict):
    table: str
    columns: AccountColumns = AccountColumns()
    traits: Document = Document(rest=True)


class EventMapping(_Strict):
    table: str
    columns: EventColumns = EventColumns()
    properties: Document = Document(rest=True)
    context: Document = Document()


class MappingFile(_Strict):
    spec: str | None = None
    people: PeopleMapping
    accounts: AccountMapping | None = None
    events: EventMapping


# Fields every mapping must resolve to a column (explicitly or by their own name).
REQUIRED = {"people": ("id",), "accounts": ("id",), "events": ("person_id", "name", "timestamp")}
FIELDS = {
    "people": tuple(PeopleColumns.model_fields),
    "accounts": tuple(AccountColumns.model_fields),
    "events": tuple(EventColumns.model_fields),
}


@dataclass(frozen=True, kw_only=True)
class TableMapping:
    """One kind's mapping, checked against its table's real columns by `resolve`."""

    kind: str
    mapping: PeopleMapping | AccountMapping | EventMapping

    @property
    def table(self) -> str:
        return self.mapping.table

    def documents(self) -> dict[str, Document]:
        if isinstance(self.mapping, EventMapping):
            return {"properties": self.mapping.properties, "context": self.mapping.context}
        return {"traits": self.mapping.traits}

    def resolve(self, available: list[str]) -> tuple[dict[str, str | None], list[str]]:
        """Each field's column (None: not there), and every problem with the mapping."""
        problems = []
        present = set(available)
        where = f"{self.kind} table {self.table!r}"
        declared: dict[str, str | None] = self.mapping.columns.model_dump()
        fields: dict[str, str | None] = {}
        for name, column in declared.items():
            if column is None:
                fields[name] = name if name in present else None
                if fields[name] is None and name in REQUIRED[self.kind]:
                    problems.append(
                        f"{self.kind}.columns.{name}: not mapped, and {where} has no column "
                        f"{name!r}{_hint(name, available)}"
                    )
            elif column in present:
                fields[name] = column
            else:
                fields[name] = None
                problems.append(
                    f"{self.kind}.columns.{name}: {where} has no column {column!r}"
                    f"{_hint(column, available)}"
                )
        for doc_name, document in self.documents().items():
            for key, column in [("json", document.json_column), *document.columns.items()]:
                if column is not None and column not in present:
                    label = "json" if key == "json" else f"columns.{key}"
                    problems.append(
                        f"{self.kind}.{doc_name}.{label}: {where} has no column {column!r}"
                        f"{_hint(column, available)}"
                    )
        return fields, problems

    def rest(self, available: list[str], fields: Mapping[str, str | None]) -> dict[str, list[str]]:
        """The columns each `rest: true` document folds in: those mapped to nothing else."""
        used = {c for c in fields.values() if c is not None}
        for document in self.documents().values():
            used |= set(document.sources())
        folding = [name for name, document in self.documents().items() if document.rest]
        leftover = [c for c in available if c not in used]
        # Only one document can take the rest; properties before context.
        return {name: (leftover if i == 0 else []) for i, name in enumerate(folding)}


def _hint(name: str, available: list[str]) -> str:
    close = suggest(name, available)
    if close:
        return f" (did you mean {close!r}?)"
    return f"; its columns: {', '.join(available)}" if len(available) <= 30 else ""


@dataclass(frozen=True, kw_only=True)
class SourceMapping:
    """A validated mapping file."""

    model: MappingFile
    base: Path  # the folder relative paths (the spec) are read from

    @property
    def spec_path(self) -> Path | None:
        return None if self.model.spec is None else self.base / self.model.spec

    def tables(self) -> dict[str, TableMapping]:
        kinds = {"people": TableMapping(kind="people", mapping=self.model.people)}
        if self.model.accounts is not None:
            kinds["accounts"] = TableMapping(kind="accounts", mapping=self.model.accounts)
        kinds["events"] = TableMapping(kind="events", mapping=self.model.events)
        return kinds


def parse_mapping(text: str, *, base: Path = Path()) -> SourceMapping:
    """A mapping from YAML text; raises MappingInvalid naming every bad key."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingInvalid([f"not valid YAML: {exc}"]) from exc
    if not isinstance(data, dict):
        raise MappingInvalid(["a mapping is a YAML mapping with people, accounts and events"])
    try:
        model = MappingFile.model_validate(data)
    except ValidationError as exc:
        raise MappingInvalid([_describe(e) for e in exc.errors()]) from None
    return SourceMapping(model=model, base=base)


def load_mapping(path: Path) -> SourceMapping:
    return parse_mapping(path.read_text(encoding="utf-8"), base=path.parent)


_MODELS: dict[str, type[BaseModel]] = {
    "": MappingFile,
    "people": PeopleMapping,
    "accounts": AccountMapping,
    "events": EventMapping,
    "people.columns": PeopleColumns,
    "accounts.columns": AccountColumns,
    "events.columns": EventColumns,
}


def _describe(error: Any) -> str:
    loc = [str(part) for part in error["loc"]]
    where = ".".join(loc) or "(top)"
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = ".".join(loc[:-1])
        model = _MODELS.get(parent, Document)
        keys = [f.alias or name for name, f in model.model_fields.items()]
        close = suggest(str(loc[-1]), keys)
        hint = f"did you mean {close!r}? " if close else ""
        return f"{where}: unknown key; {hint}expected one of {', '.join(keys)}"
    if kind == "missing":
        return f"{where}: required"
    if kind == "string_type":
        return f"{where}: must be a column name (text), not {error['input']!r}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"
