"""Compiling a spec into one Ibis query that scores people as of an instant.

The query, built once and run on any Ibis backend (DuckDB, SQLite, PostgreSQL):

1. Events at or before `as_of` get `ts_s`, their epoch second.
2. One GROUP BY over the events per person computes, with filtered aggregates, every
   engagement rule's matched count and decayed weight, every person-scoped metric and
   every count()/did()/days_since() used by stages and segments. Rules with `once_per`
   and `longest_streak` metrics need their own small aggregations (dedupe per period;
   gaps-and-islands over active days). Account-scoped metrics aggregate the same way
   keyed by account.
3. People are joined to their account and to those aggregates. Fit is the sum of the
   points of the fit rules that hold; engagement rule i contributes
   points * sum(0.5 ** (age / half_life)) over its counted events, capped at `max`.
4. Account rollup: the top N engagements of each account's people (a window function)
   are summed, maxed or averaged, plus account fit.
5. Stage criteria and segments are evaluated last, over all of the above.

Decay uses exp(-ln2 * age / half_life), the same curve as 0.5 ** (age / half_life).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from winnow.clock import from_db, to_db
from winnow.engine.expressions import Translator, json_path, json_reads, read_json
from winnow.spec.expr import (
    ACCOUNT_COLUMNS,
    ACCOUNT_TIMES,
    PERSON_COLUMNS,
    Aggregate,
    attribute_path,
)
from winnow.spec.load import MetricCheck, Spec

PERSON_COLUMN_NAMES = (
    "id",
    "account_id",
    "email",
    "email_domain",
    "user_id",
    "owner",
    "created_at",
    "stage",
    "recycled_at",
    "traits",
)
ACCOUNT_COLUMN_NAMES = ("id", "group_id", "name", "domain", "plan", "created_at", "traits")
EVENT_COLUMN_NAMES = ("person_id", "name", "timestamp", "properties", "context")


@dataclass(frozen=True, kw_only=True)
class Inputs:
    """The three tables scoring reads, with the columns named above."""

    people: ir.Table
    accounts: ir.Table
    events: ir.Table


@dataclass(frozen=True, kw_only=True)
class Step:
    name: str
    table: ir.Table
    materialize: bool


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Scoring as a few SQL steps: temporary tables in order, then the final query.

    Staging keeps each statement shallow (SQLite's parser has a fixed stack) and lets
    the events be filtered and stamped once instead of once per aggregation.
    """

    steps: tuple[Step, ...]
    final: ir.Table
    layout: Layout


@dataclass(frozen=True, kw_only=True)
class Layout:
    """Which output column holds what, for turning rows into PersonScores."""

    fit_rules: tuple[tuple[str, float, str], ...]  # (name, points, column)
    engagement_rules: tuple[tuple[str, float, str], ...]  # (name, points, column prefix)
    metrics: tuple[tuple[str, str], ...]  # (name, column)
    criteria: tuple[tuple[str, str], ...]
    # Named conditions (segments, hand-raises, owner rules): (key, column).
    segments: tuple[tuple[str, str], ...]
    factors: tuple[tuple[str, float, str], ...] = ()  # (name, weight, column)


def _epoch(value: Any) -> Any:
    return value.epoch_seconds().cast("int64")


class _Compiler:
    def __init__(
        self,
        spec: Spec,
        inputs: Inputs,
        as_of: datetime,
        dialect: str,
        recycling: bool,
        prefix: str,
    ) -> None:
        self.spec = spec
        self.prefix = prefix
        self.steps: list[Step] = []
        # The one place the instant enters the SQL: an integer literal, so that a compiled
        # plan can be reused for another instant (see winnow.engine.sqlplan).
        self.as_of_epoch = ibis.literal(int(from_db(to_db(as_of)).timestamp()), type="int64")
        self.dialect = dialect
        self.recycling = recycling
        self.aggregate_columns: dict[str, str] = {}
        # Aggregates that are zero, not null, for someone without matching events.
        self.zero_fill: set[str] = set()
        self.inputs = inputs
        events = inputs.events.select(*EVENT_COLUMN_NAMES)
        consumers = self._event_consumers()
        names = {name for name, _ in consumers}
        if consumers and None not in names:
            # Only events some rule, metric or aggregate names can matter.
            events = events.filter(events.name.isin(sorted(n for n in names if n)))
        events = events.mutate(ts_s=_epoch(events.timestamp))
        events = events.filter(events.ts_s <= self.as_of_epoch)
        needs_people = recycling or any(m.metric.scope == "account" for m in spec.metrics)
        if needs_people:
            people = inputs.people
            link = people.select(
                e_pid=people.id,
                e_recycled=_epoch(people.recycled_at),
                e_akey=ibis.coalesce(people.account_id, -people.id),
            )
            events = events.join(link, events.person_id == link.e_pid).drop("e_pid")
        # Each JSON value the spec reads from events is extracted once, here, as a typed
        # column (and only for the events that read it); rules and metrics then compare
        # plain columns.
        readers: dict[tuple[tuple[str, ...], str], set[str | None]] = {}
        for name, reads in consumers:
            for read in reads:
                readers.setdefault(read, set()).add(name)
        self.reads = {read: f"p_{n}" for n, read in enumerate(sorted(readers))}
        # Two projections: each JSON path is extracted once (parsing the document once),
        # then read as each type asked of it.
        paths: dict[tuple[str, ...], set[str | None]] = {}
        for (path, _), names in readers.items():
            paths.setdefault(path, set()).update(names)
        values = {path: f"j_{n}" for n, path in enumerate(sorted(paths))}
        located = {}
        for path, column in values.items():
            value = _event_value(events, list(path))
            if None not in paths[path]:
                gate = events.name.isin(sorted(n for n in paths[path] if n))
                value = ibis.ifelse(gate, value, None)
            located[column] = value
        events = events.mutate(**located)
        extracted = {
            column: read_json(events[values[path]], reading)
            for (path, reading), column in self.reads.items()
        }
        # Each event's decay weight, once per half-life the plain rules use (not per rule).
        self.weights = {
            check.half_life: f"w_{n}"
            for n, check in enumerate(spec.engagement)
            if check.half_life is not None and check.rule.once_per is None
        }
        for half_life, column in self.weights.items():
            extracted[column] = self.decay(events.ts_s, half_life)
        # The documents themselves are not read again: every value the spec reads was
        # extracted above. Dropping them keeps the staged events small (a temporary table
        # on SQLite and PostgreSQL: copying each event's JSON was most of its cost).
        events = events.mutate(**extracted).drop(*values.values(), "properties", "context")
        self.events = self.stage("events", events, materialize=False)

    def decay(self, ts_s: Any, half_life: int) -> Any:
        return ((ts_s - self.as_of_epoch).cast("float64") * (math.log(2) / half_life)).exp()

    def _event_consumers(self) -> list[tuple[str | None, set[tuple[tuple[str, ...], str]]]]:
        """Each reader of events: the event it reads (None: any) and the JSON it needs."""
        consumers: list[tuple[str | None, set[tuple[tuple[str, ...], str]]]] = []
        for rule in self.spec.engagement:
            consumers.append((rule.rule.event, json_reads(rule.where) if rule.where else set()))
        for metric in self.spec.metrics:
            reads = json_reads(metric.where) if metric.where else set()
            if metric.value is not None:
                path = tuple(attribute_path(metric.value.tree) or ())
                reads.add((path, "num"))
                if metric.metric.kind == "count_distinct":
                    reads.add((path, "str"))
            consumers.append((metric.metric.event_name, reads))
        for aggregate in self._aggregates():
            reads = json_reads(aggregate.where) if aggregate.where else set()
            consumers.append((aggregate.event, reads))
        return consumers

    def stage(self, name: str, table: ir.Table, *, materialize: bool = True) -> ir.Table:
        """A step of the plan; later steps read it by name.

        Backends that can (DuckDB) keep steps marked materialize=False as views, so the
        optimiser sees through them; the others store every step as a temporary table.
        """
        full = f"{self.prefix}_{name}"
        self.steps.append(Step(name=full, table=table, materialize=materialize))
        schema = table.schema()
        if self.dialect != "postgres":
            return ibis.table(schema, name=full)
        # Ibis hands JSON out of PostgreSQL as text; the staged copy is read back as JSON.
        json_columns = [c for c, kind in schema.items() if kind.is_json()]
        staged = ibis.table(
            {c: "string" if c in json_columns else k for c, k in schema.items()}, name=full
        )
        return staged.mutate(**{c: staged[c].cast("json") for c in json_columns})

    # -- event-level conditions -------------------------------------------------------------
    def event_translator(self, events: ir.Table) -> Translator:
        def names(parts: list[str]) -> ir.Value:
            return _event_value(events, parts)

        def extracted(parts: list[str], reading: str) -> ir.Value:
            return events[self.reads[(tuple(parts), reading)]]

        return Translator(names, lists=self.spec.lists, dialect=self.dialect, typed=extracted)

    def event_filter(
        self, events: ir.Table, *, name: str | None, where: Any, within: int | None
    ) -> Any:
        condition = ibis.literal(True)
        if name is not None:
            condition = events.name == name
        if where is not None:
            condition = condition & self.event_translator(events).condition(where)
        if within is not None:
            condition = condition & (events.ts_s > self.as_of_epoch - within)
        return condition

    def decayed_count(self, ts_s: Any, half_life: int | None, where: Any = None) -> Any:
        """Sum of each event's decay weight: a count when the rule never decays."""
        if half_life is None:
            return ts_s.count(where=where).cast("float64")
        return self.decay(ts_s, half_life).sum(where=where)

    # -- step 2: aggregations over events ------------------------------------------------------
    def person_aggregates(self) -> list[tuple[ir.Table, str]]:
        """(table, key column) pairs to left-join onto people by person id."""
        events = self.events
        aggs: dict[str, Any] = {}
        tables: list[tuple[ir.Table, str]] = []
        flags: dict[str, Any] = {}
        for i, rule_check in enumerate(self.spec.engagement):
            check, rule = rule_check, rule_check.rule
            condition = self.event_filter(events, name=rule.event, where=check.where, within=None)
            if self.recycling:
                condition = condition & (
                    events.e_recycled.isnull() | (events.ts_s > events.e_recycled)
                )
            self.zero_fill |= {f"eng_{i}_n", f"eng_{i}_k", f"eng_{i}_w"}
            flags[f"c_{i}"] = condition
            if rule.once_per is None:
                continue
            buckets = (
                events.filter(condition)
                .mutate(bucket=events.ts_s // rule.once_per)
                .group_by(["person_id", "bucket"])
                .agg(last=lambda t: t.ts_s.max())
            )
            once = buckets.group_by(g_key="person_id").agg(
                **{
                    f"eng_{i}_k": buckets.last.count(),
                    f"eng_{i}_w": self.decayed_count(buckets.last, check.half_life),
                }
            )
            tables.append((once, "g_key"))
        # Each rule's condition is evaluated once per event, as a column, then both its
        # matched count and its decayed sum filter on that column.
        events = events.mutate(**flags)
        for i, rule_check in enumerate(self.spec.engagement):
            flag = events[f"c_{i}"]
            aggs[f"eng_{i}_n"] = events.ts_s.count(where=flag)
            if rule_check.rule.once_per is not None:
                continue
            if rule_check.half_life is None:
                aggs[f"eng_{i}_w"] = self.decayed_count(events.ts_s, None, flag)
            else:
                weight = events[self.weights[rule_check.half_life]]
                aggs[f"eng_{i}_w"] = weight.sum(where=flag)
        for j, metric_check in enumerate(self.spec.metrics):
            if metric_check.metric.scope == "person":
                self.metric_aggregate(events, metric_check, f"m_{j}", "person_id", aggs, tables)
        for k, aggregate in enumerate(self._aggregates()):
            column = f"agg_{k}"
            self.aggregate_columns[aggregate.key] = column
            condition = self.event_filter(
                events, name=aggregate.event, where=aggregate.where, within=aggregate.within
            )
            if aggregate.func == "days_since":
                aggs[column] = events.ts_s.max(where=condition)
            else:
                aggs[column] = events.ts_s.count(where=condition)
                self.zero_fill.add(column)
        if aggs:
            tables.insert(0, (events.group_by(g_key="person_id").agg(**aggs), "g_key"))
        return tables

    def account_aggregates(self) -> list[tuple[ir.Table, str]]:
        """(table, key column) pairs to left-join onto people by account key."""
        aggs: dict[str, Any] = {}
        tables: list[tuple[ir.Table, str]] = []
        for j, check in enumerate(self.spec.metrics):
            if check.metric.scope == "account":
                self.metric_aggregate(self.events, check, f"m_{j}", "e_akey", aggs, tables)
        if aggs:
            tables.insert(0, (self.events.group_by(g_key="e_akey").agg(**aggs), "g_key"))
        return tables

    def metric_aggregate(
        self,
        events: ir.Table,
        check: MetricCheck,
        column: str,
        key: str,
        aggs: dict[str, Any],
        tables: list[tuple[ir.Table, str]],
    ) -> None:
        metric = check.metric
        condition = self.event_filter(
            events, name=metric.event_name, where=check.where, within=metric.within
        )
        day = events.ts_s // 86400
        if metric.kind != "max":
            self.zero_fill.add(column)
        if metric.kind == "count":
            aggs[column] = events.ts_s.count(where=condition)
        elif metric.kind == "active_days":
            aggs[column] = day.nunique(where=condition)
        elif metric.kind == "longest_streak":
            days = events.filter(condition).select(s_key=events[key], day=day).distinct()
            position = ibis.row_number().over(group_by=days.s_key, order_by=days.day)
            runs = days.mutate(run=days.day - position)
            lengths = runs.group_by(["s_key", "run"]).agg(length=lambda t: t.day.count())
            tables.append(
                (lengths.group_by(g_key="s_key").agg(**{column: lengths.length.max()}), "g_key")
            )
        else:
            assert check.value is not None
            translator = self.event_translator(events)
            number = translator.read(check.value.tree, "num")
            if metric.kind == "count_distinct":
                text = translator.read(check.value.tree, "str")
                aggs[column] = text.nunique(where=condition) + number.nunique(where=condition)
            elif metric.kind == "sum":
                aggs[column] = number.sum(where=condition)
            else:
                aggs[column] = number.max(where=condition)

    def _aggregates(self) -> list[Aggregate]:
        seen: dict[str, Aggregate] = {}
        named = [c for _, c in self.spec.conditions()]
        factors = [f.when for f in self.spec.factors]
        for checked in [*self.spec.stages.values(), *named, *factors]:
            for aggregate in checked.aggregates:
                seen.setdefault(aggregate.key, aggregate)
        return list(seen.values())

    # -- steps 3 to 5 ------------------------------------------------------------------------
    def build(self) -> Plan:
        people = self.inputs.people.select(*PERSON_COLUMN_NAMES)
        people = people.mutate(akey=ibis.coalesce(people.account_id, -people.id))
        accounts = self.inputs.accounts.select(*ACCOUNT_COLUMN_NAMES)
        accounts = accounts.rename({f"a_{c}": c for c in ACCOUNT_COLUMN_NAMES})
        table = people.left_join(accounts, people.account_id == accounts.a_id)
        joins = [("id", t, k) for t, k in self.person_aggregates()]
        joins += [("akey", t, k) for t, k in self.account_aggregates()]
        keys = []
        # One flat chain of joins, keys dropped once at the end, keeps the SQL shallow.
        for n, (own, aggregated, key) in enumerate(joins):
            aggregated = self.stage(
                f"agg{n}", aggregated.rename({f"key{n}": key}), materialize=False
            )
            table = table.left_join(aggregated, table[own] == aggregated[f"key{n}"])
            keys.append(f"key{n}")
        table = self.stage("joined", table.drop(*keys) if keys else table, materialize=False)

        spec = self.spec
        zeros = {c: table[c].fill_null(0) for c in table.columns if c in self.zero_fill}
        table = table.mutate(**zeros)
        translate = Translator(
            self.profile_names(table),
            lists=spec.lists,
            dialect=self.dialect,
            as_of_epoch=self.as_of_epoch,
        )
        fit_columns = {f"fit_{i}": translate.condition(c.when) for i, c in enumerate(spec.fit)}
        account_fit = sum(
            (
                ibis.ifelse(translate.condition(c.when), c.rule.points, 0.0)
                for c in spec.account_fit
            ),
            ibis.literal(0.0),
        )
        table = table.mutate(
            **fit_columns, afit=ibis.ifelse(table.account_id.isnull(), None, account_fit)
        )

        contributions: dict[str, Any] = {}
        for i, check in enumerate(spec.engagement):
            raw = table[f"eng_{i}_w"] * float(check.rule.points)
            cap = check.rule.max
            if cap is not None:
                raw = ibis.greatest(ibis.least(raw, cap), -cap)
            contributions[f"eng_{i}_pts"] = raw
            if check.rule.once_per is None:
                contributions[f"eng_{i}_k"] = table[f"eng_{i}_n"]
        table = table.mutate(**contributions)
        fit = sum(
            (ibis.ifelse(table[f"fit_{i}"], c.rule.points, 0.0) for i, c in enumerate(spec.fit)),
            ibis.literal(0.0),
        )
        engagement = sum(
            (table[f"eng_{i}_pts"] for i in range(len(spec.engagement))), ibis.literal(0.0)
        )
        grades = spec.document.fit.grades
        table = table.mutate(fit=fit.cast("float64"), engagement=engagement.cast("float64"))
        table = table.mutate(
            score=table.fit + table.engagement,
            grade=ibis.cases(
                (table.fit >= grades.A, "A"),
                (table.fit >= grades.B, "B"),
                (table.fit >= grades.C, "C"),
                else_="D",
            ),
        )
        table = self.rollup(self.stage("scored", table))
        table = self.predict(table)
        final = self.person_translator(table)
        criteria = {f"crit_{s}": final.condition(c) for s, c in spec.stages.items()}
        plans = spec.document.stages.customer_plans
        if plans:
            # The fact that makes customers: the account pays (see winnow.lifecycle).
            criteria["crit_customer"] = table.a_plan.isin(plans).fill_null(False)
        # Segments, hand-raises and owner rules: named conditions, reported with the criteria.
        named = spec.conditions()
        segments = {f"seg_{n}": final.condition(checked) for n, (_, checked) in enumerate(named)}
        table = table.mutate(**criteria, **segments)
        layout = Layout(
            fit_rules=tuple(
                (c.rule.name, c.rule.points, f"fit_{i}") for i, c in enumerate(spec.fit)
            ),
            engagement_rules=tuple(
                (c.rule.name, c.rule.points, f"eng_{i}") for i, c in enumerate(spec.engagement)
            ),
            metrics=tuple((c.name, f"m_{j}") for j, c in enumerate(spec.metrics)),
            criteria=tuple(
                (s, f"crit_{s}") for s in [*spec.stages, *(["customer"] if plans else [])]
            ),
            segments=tuple((name, f"seg_{n}") for n, (name, _) in enumerate(named)),
            factors=tuple(
                (f.factor.name, f.factor.weight, f"fac_{i}") for i, f in enumerate(spec.factors)
            ),
        )
        keep = [
            "id",
            "account_id",
            "stage",
            "fit",
            "grade",
            "engagement",
            "score",
            "afit",
            "aeng",
            "ascore",
        ]
        for _, _, column in layout.fit_rules:
            keep.append(column)
        for _, _, prefix in layout.engagement_rules:
            keep += [f"{prefix}_n", f"{prefix}_k", f"{prefix}_w", f"{prefix}_pts"]
        keep += [c for _, c in layout.metrics] + [c for _, c in layout.criteria]
        keep += [c for _, c in layout.segments]
        keep += [c for _, _, c in layout.factors] + (["p_convert"] if spec.document.model else [])
        return Plan(steps=tuple(self.steps), final=table.select(*keep), layout=layout)

    def person_translator(self, table: ir.Table) -> Translator:
        """Conditions over a scored person (stages, segments, factors), aggregates included."""
        return Translator(
            self.profile_names(table),
            aggregates=self.aggregate_value(table),
            lists=self.spec.lists,
            dialect=self.dialect,
            as_of_epoch=self.as_of_epoch,
        )

    def predict(self, table: ir.Table) -> ir.Table:
        """The model's factors and p_convert, before the criteria that may use p_convert."""
        model = self.spec.document.model
        if model is None:
            return table
        translate = self.person_translator(table)
        factors = {f"fac_{i}": translate.condition(f.when) for i, f in enumerate(self.spec.factors)}
        table = table.mutate(**factors)
        logit = sum(
            (
                ibis.ifelse(table[f"fac_{i}"], f.factor.weight, 0.0)
                for i, f in enumerate(self.spec.factors)
            ),
            ibis.literal(float(model.intercept)),
        )
        # Clamped so that exp() cannot overflow on any backend; 1/(1+e^30) is 1e-13.
        bounded = ibis.greatest(ibis.least(logit, 30.0), -30.0)
        return table.mutate(p_convert=(1.0 / (1.0 + (-bounded).exp())).cast("float64"))

    def rollup(self, table: ir.Table) -> ir.Table:
        setting = self.spec.document.accounts.people
        members = table.filter(table.account_id.notnull()).select("account_id", "engagement")
        ranked = members.mutate(
            rank=ibis.row_number().over(
                group_by=members.account_id, order_by=members.engagement.desc()
            )
        )
        top = ranked.filter(ranked["rank"] < setting.top)
        reduce = {
            "sum": top.engagement.sum(),
            "max": top.engagement.max(),
            "avg": top.engagement.mean(),
        }[setting.aggregate]
        rolled = top.group_by(r_key="account_id").agg(aeng=reduce.cast("float64"))
        table = table.left_join(rolled, table.account_id == rolled.r_key).drop("r_key")
        return table.mutate(ascore=table.afit + table.aeng)

    def profile_names(self, table: ir.Table) -> Any:
        metric_columns = {c.name: f"m_{j}" for j, c in enumerate(self.spec.metrics)}

        def names(parts: list[str]) -> ir.Value:
            head, rest = parts[0], parts[1:]
            if head == "person":
                if len(rest) == 1 and (rest[0] in PERSON_COLUMNS or rest[0] == "created_at"):
                    return table[rest[0]]
                return json_path(table.traits, rest)
            if head == "account":
                if len(rest) == 1 and (rest[0] in ACCOUNT_COLUMNS or rest[0] in ACCOUNT_TIMES):
                    return table[f"a_{rest[0]}"]
                if len(rest) == 1 and rest[0] in ("fit", "engagement", "score"):
                    return table[{"fit": "afit", "engagement": "aeng", "score": "ascore"}[rest[0]]]
                return json_path(table.a_traits, rest)
            if head == "metrics":
                return table[metric_columns[rest[0]]].cast("float64")
            return table[head]

        return names

    def aggregate_value(self, table: ir.Table) -> Any:
        def value(aggregate: Aggregate) -> ir.Value:
            column = table[self.aggregate_columns[aggregate.key]]
            if aggregate.func == "did":
                return column > 0
            if aggregate.func == "count":
                return column.cast("float64")
            return (self.as_of_epoch - column).cast("float64") / 86400.0

        return value


def _event_value(events: ir.Table, parts: list[str]) -> ir.Value:
    """`event`, or the JSON value at properties.a.b / context.x of each event."""
    if parts[0] == "event":
        return events.name
    document = events.properties if parts[0] == "properties" else events.context
    return json_path(document, parts[1:])


def compile_scores(
    spec: Spec,
    inputs: Inputs,
    *,
    as_of: datetime,
    dialect: str = "duckdb",
    recycling: bool = True,
    prefix: str = "winnow",
) -> Plan:
    """The scoring plan for `spec` over `inputs` as of `as_of`.

    `prefix` names the plan's temporary tables; two plans run on one connection at once
    need different prefixes.
    """
    return _Compiler(spec, inputs, as_of, dialect, recycling, prefix).build()
