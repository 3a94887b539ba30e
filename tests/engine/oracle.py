"""An independent, deliberately plain scorer: the contract the Ibis engine is tested against.

It shares only parsing with the engine (`load_spec` and the checker's typed trees) and
evaluates everything itself, one person and one event at a time, in Python:

1. Only events at or before `as_of` exist.
2. Engagement rule: its events are those with the rule's name, whose `where` is true
   (null is false) and that come after the person's `recycled_at`. `once_per` P keeps
   the latest event of each floor(epoch / P) bucket. Each kept event weighs
   0.5 ** (age / half_life) (1 without decay); raw = points * sum(weights), clipped to
   +-max. decay = points * counted - raw; capped = raw - contribution.
3. fit = points of the fit rules that hold; grade by thresholds; score = fit + engagement.
4. Metrics filter events by name, where and within (as_of - within < ts <= as_of), never
   by recycling; scope "account" pools the events of everyone in the person's account.
5. Account rollup: the top N engagements among all of the account's people, summed,
   maxed or averaged; account fit = points of the account fit rules that hold.
6. Expressions follow the checker's types: a JSON value is read as the type the checker
   put on its node (another JSON type reads as null); `x == None` asks whether x is
   missing or JSON null; null propagates, and/or/not are three-valued, a null condition
   is false, division by zero is null.

Never import winnow.engine here: the point is to be a second, independent reading.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from winnow.spec.expr import Aggregate, Checked, attribute_path, read_as, wtype
from winnow.spec.load import MetricCheck, Spec

PERSON_COLUMNS = ("email", "email_domain", "user_id", "owner", "created_at")
ACCOUNT_COLUMNS = ("name", "domain", "plan", "group_id", "created_at")


@dataclass(frozen=True, kw_only=True)
class Person:
    id: int
    account_id: int | None = None
    email: str | None = None
    email_domain: str | None = None
    user_id: str | None = None
    owner: str | None = None
    created_at: datetime  # naive UTC, whole seconds
    stage: str = "lead"
    recycled_at: datetime | None = None
    traits: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Account:
    id: int
    group_id: str
    name: str | None = None
    domain: str | None = None
    plan: str | None = None
    created_at: datetime
    traits: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Event:
    person_id: int
    name: str
    timestamp: datetime
    properties: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Hit:
    name: str
    points: float


@dataclass(frozen=True, kw_only=True)
class Factor:
    name: str
    weight: float


@dataclass(frozen=True, kw_only=True)
class Contribution:
    name: str
    points: float
    matched: int
    counted: int
    decay: float
    capped: float


@dataclass(frozen=True, kw_only=True)
class Score:
    person_id: int
    stage: str
    fit: float
    grade: str
    engagement: float
    score: float
    metrics: dict[str, float | None]
    criteria: dict[str, bool]
    conditions: dict[str, bool]
    fit_rules: tuple[Hit, ...]
    engagement_rules: tuple[Contribution, ...]
    account_id: int | None
    account_fit: float | None
    account_engagement: float | None
    account_score: float | None
    p_convert: float | None = None
    factors: tuple[Factor, ...] = ()


def epoch(moment: datetime) -> int:
    """Whole epoch seconds; a naive datetime is UTC."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(aware.timestamp())


# -- expressions -----------------------------------------------------------------------------
def read_json(value: Any, reading: str) -> Any:
    """A JSON value read as num / str / bool: any other JSON type reads as null."""
    if reading == "num":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if ok else None
    if reading == "str":
        return value if isinstance(value, str) else None
    if reading == "bool":
        return value if isinstance(value, bool) else None
    return value


def json_at(document: Any, keys: list[str]) -> Any:
    """document[k1][k2]...; None when a key is missing or a step is not an object."""
    for key in keys:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def kleene_and(values: Iterable[bool | None]) -> bool | None:
    values = list(values)
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def kleene_or(values: Iterable[bool | None]) -> bool | None:
    values = list(values)
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


_ORDER: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
}


class Evaluator:
    """Evaluates checked trees over one row: `names` resolves paths, `aggregates` calls."""

    def __init__(
        self,
        names: Callable[[list[str]], Any],
        lists: dict[str, tuple[Any, ...]],
        as_of: int,
        aggregates: Callable[[Aggregate], Any] | None = None,
    ) -> None:
        self.names = names
        self.lists = lists
        self.as_of = as_of
        self.aggregates = aggregates

    def holds(self, checked: Checked | None) -> bool:
        return True if checked is None else self.value(checked.tree) is True

    def value(self, node: ast.expr) -> Any:
        raw = self.raw(node)
        if wtype(node) == "json":
            return read_json(raw, read_as(node))
        return raw

    def raw(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            return value
        if isinstance(node, ast.Name | ast.Attribute):
            parts = attribute_path(node)
            assert parts is not None
            return self.names(parts)
        if isinstance(node, ast.BoolOp):
            values = [self.value(v) for v in node.values]
            return kleene_and(values) if isinstance(node.op, ast.And) else kleene_or(values)
        if isinstance(node, ast.UnaryOp):
            operand = self.value(node.operand)
            if operand is None:
                return None
            if isinstance(node.op, ast.Not):
                return not operand
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            return self.arithmetic(node)
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            pairs = zip(node.ops, operands, operands[1:], strict=False)
            return kleene_and(self.compare(op, a, b) for op, a, b in pairs)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise AssertionError(f"unexpected node {ast.dump(node)}")

    def arithmetic(self, node: ast.BinOp) -> float | None:
        a, b = self.value(node.left), self.value(node.right)
        if a is None or b is None:
            return None
        if isinstance(node.op, ast.Add):
            return float(a + b)
        if isinstance(node.op, ast.Sub):
            return float(a - b)
        if isinstance(node.op, ast.Mult):
            return float(a * b)
        return None if b == 0 else float(a / b)

    def compare(self, op: ast.cmpop, left: ast.expr, right: ast.expr) -> bool | None:
        if isinstance(op, ast.In | ast.NotIn):
            item = self.value(left)
            if item is None:
                return None
            found = item in self.members(right, read_as(left))
            return found if isinstance(op, ast.In) else not found
        nones = [_is_none(left), _is_none(right)]
        if any(nones):
            other = right if nones[0] else left
            missing = self.raw(other) is None
            return missing if isinstance(op, ast.Eq | ast.Is) else not missing
        a, b = self.value(left), self.value(right)
        if a is None or b is None:
            return None
        return _ORDER[type(op)](a, b)

    def members(self, node: ast.expr, reading: str) -> list[Any]:
        if isinstance(node, ast.Tuple | ast.List):
            values = [self.value(e) for e in node.elts]
        else:
            parts = attribute_path(node)
            assert parts is not None
            values = list(self.lists[parts[0]])
        if reading == "num":
            return [float(v) for v in values if v is not None]
        return values

    def call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        aggregate = getattr(node, "waggregate", None)
        if aggregate is not None:
            assert self.aggregates is not None
            return self.aggregates(aggregate)
        if name == "days_since":
            moment = self.value(node.args[0])
            return None if moment is None else (self.as_of - epoch(moment)) / 86400
        text = self.value(node.args[0])
        if text is None:
            return None
        if name == "lower":
            return text.lower()
        pattern = node.args[1]
        assert isinstance(pattern, ast.Constant)
        literal = pattern.value
        if name == "matches":
            return re.search(literal, text) is not None
        if name == "starts_with":
            return text.startswith(literal)
        if name == "ends_with":
            return text.endswith(literal)
        return literal in text


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def event_evaluator(event: Event, spec: Spec, as_of: int) -> Evaluator:
    def names(parts: list[str]) -> Any:
        if parts[0] == "event":
            return event.name
        document = event.properties if parts[0] == "properties" else event.context
        return json_at(document, parts[1:])

    return Evaluator(names, spec.lists, as_of)


# -- scoring ---------------------------------------------------------------------------------
class Oracle:
    def __init__(
        self,
        spec: Spec,
        people: list[Person],
        accounts: list[Account],
        events: list[Event],
        as_of: datetime,
    ) -> None:
        self.spec = spec
        self.as_of = epoch(as_of)
        self.people = {p.id: p for p in people}
        self.accounts = {a.id: a for a in accounts}
        self.engagements: dict[int, float] = {}
        self.events: dict[int, list[Event]] = {p.id: [] for p in people}
        for event in events:
            if epoch(event.timestamp) <= self.as_of and event.person_id in self.events:
                self.events[event.person_id].append(event)

    def matching(self, events: list[Event], *, name: str | None, where: Checked | None) -> list:
        return [
            e
            for e in events
            if (name is None or e.name == name)
            and event_evaluator(e, self.spec, self.as_of).holds(where)
        ]

    def within(self, events: list[Event], seconds: int | None) -> list[Event]:
        if seconds is None:
            return events
        return [e for e in events if epoch(e.timestamp) > self.as_of - seconds]

    # -- engagement ----------------------------------------------------------------------
    def contributions(self, person: Person) -> list[Contribution]:
        result = []
        for check in self.spec.engagement:
            rule = check.rule
            matched = self.matching(self.events[person.id], name=rule.event, where=check.where)
            if person.recycled_at is not None:
                after = epoch(person.recycled_at)
                matched = [e for e in matched if epoch(e.timestamp) > after]
            times = [epoch(e.timestamp) for e in matched]
            if rule.once_per is not None:
                latest: dict[int, int] = {}
                for t in times:
                    bucket = t // rule.once_per
                    latest[bucket] = max(t, latest.get(bucket, t))
                kept = list(latest.values())
            else:
                kept = times
            weights = [
                1.0 if check.half_life is None else 0.5 ** ((self.as_of - t) / check.half_life)
                for t in kept
            ]
            raw = rule.points * sum(weights)
            points = raw
            if rule.max is not None:
                points = math.copysign(min(abs(raw), rule.max), raw)
            result.append(
                Contribution(
                    name=rule.name,
                    points=points,
                    matched=len(matched),
                    counted=len(kept),
                    decay=rule.points * len(kept) - raw,
                    capped=raw - points,
                )
            )
        return result

    def engagement(self, person: Person) -> float:
        if person.id not in self.engagements:
            self.engagements[person.id] = float(sum(c.points for c in self.contributions(person)))
        return self.engagements[person.id]

    def account_of(self, person: Person) -> Account | None:
        return None if person.account_id is None else self.accounts[person.account_id]

    # -- metrics -------------------------------------------------------------------------
    def metric(self, person: Person, check: MetricCheck) -> float | None:
        metric = check.metric
        if metric.scope == "account" and person.account_id is not None:
            members = [p for p in self.people.values() if p.account_id == person.account_id]
            pool = [e for p in members for e in self.events[p.id]]
        else:
            pool = self.events[person.id]
        events = self.within(
            self.matching(pool, name=metric.event_name, where=check.where), metric.within
        )
        days = sorted({epoch(e.timestamp) // 86400 for e in events})
        if metric.kind == "count":
            return float(len(events))
        if metric.kind == "active_days":
            return float(len(days))
        if metric.kind == "longest_streak":
            best = run = 0
            for i, day in enumerate(days):
                run = run + 1 if i and day == days[i - 1] + 1 else 1
                best = max(best, run)
            return float(best)
        assert check.value is not None
        values = [event_evaluator(e, self.spec, self.as_of).value(check.value.tree) for e in events]
        numbers = [read_json(v, "num") for v in values]
        numbers = [n for n in numbers if n is not None]
        if metric.kind == "count_distinct":
            texts = {v for v in values if isinstance(v, str)}
            return float(len(texts) + len(set(numbers)))
        if metric.kind == "sum":
            return float(sum(numbers))
        return max(numbers) if numbers else None

    # -- profile values ----------------------------------------------------------------------
    def fit_names(self, person: Person) -> Callable[[list[str]], Any]:
        account = self.account_of(person)

        def names(parts: list[str]) -> Any:
            head, rest = parts[0], parts[1:]
            if head == "person":
                if len(rest) == 1 and rest[0] in PERSON_COLUMNS:
                    return getattr(person, rest[0])
                return json_at(person.traits, rest)
            assert head == "account", parts
            return account_value(account, rest)

        return names

    def account_fit(self, account: Account) -> float:
        def names(parts: list[str]) -> Any:
            assert parts[0] == "account", parts
            return account_value(account, parts[1:])

        evaluator = Evaluator(names, self.spec.lists, self.as_of)
        return float(sum(c.rule.points for c in self.spec.account_fit if evaluator.holds(c.when)))

    def account_engagement(self, account_id: int) -> float:
        engagements = sorted(
            (self.engagement(p) for p in self.people.values() if p.account_id == account_id),
            reverse=True,
        )
        top = engagements[: self.spec.document.accounts.people.top]
        how = self.spec.document.accounts.people.aggregate
        if how == "sum":
            return float(sum(top))
        if how == "max":
            return max(top)
        return sum(top) / len(top)

    def aggregate(self, person: Person, aggregate: Aggregate) -> Any:
        events = self.within(
            self.matching(self.events[person.id], name=aggregate.event, where=aggregate.where),
            aggregate.within,
        )
        if aggregate.func == "count":
            return float(len(events))
        if aggregate.func == "did":
            return bool(events)
        if not events:
            return None
        return (self.as_of - max(epoch(e.timestamp) for e in events)) / 86400

    # -- one person ----------------------------------------------------------------------------
    def score(self, person: Person) -> Score:
        spec = self.spec
        profile = Evaluator(self.fit_names(person), spec.lists, self.as_of)
        hits = tuple(
            Hit(name=c.rule.name, points=c.rule.points) for c in spec.fit if profile.holds(c.when)
        )
        fit = float(sum(h.points for h in hits))
        grades = spec.document.fit.grades
        grade = (
            "A" if fit >= grades.A else "B" if fit >= grades.B else "C" if fit >= grades.C else "D"
        )
        contributions = self.contributions(person)
        engagement = self.engagement(person)
        metrics = {c.name: self.metric(person, c) for c in spec.metrics}
        account = self.account_of(person)
        account_fit = account_engagement = account_score = None
        if account is not None:
            account_fit = self.account_fit(account)
            account_engagement = self.account_engagement(account.id)
            account_score = account_fit + account_engagement
        rollup = {"fit": account_fit, "engagement": account_engagement, "score": account_score}
        own: dict[str, Any] = {
            "fit": fit,
            "grade": grade,
            "engagement": engagement,
            "score": fit + engagement,
            "stage": person.stage,
        }
        base = self.fit_names(person)

        def names(parts: list[str]) -> Any:
            head, rest = parts[0], parts[1:]
            if head == "metrics":
                return metrics[rest[0]]
            if head == "account" and len(rest) == 1 and rest[0] in rollup:
                return rollup[rest[0]]
            if head in own:
                return own[head]
            return base(parts)

        final = Evaluator(names, spec.lists, self.as_of, lambda a: self.aggregate(person, a))
        factors: tuple[Factor, ...] = ()
        model = spec.document.model
        if model is not None:
            factors = tuple(
                Factor(name=f.factor.name, weight=f.factor.weight)
                for f in spec.factors
                if final.holds(f.when)
            )
            logit = min(max(model.intercept + sum(f.weight for f in factors), -30.0), 30.0)
            own["p_convert"] = 1 / (1 + math.exp(-logit))
        criteria = {stage: final.holds(checked) for stage, checked in spec.stages.items()}
        plans = spec.document.stages.customer_plans
        if plans:
            criteria["customer"] = account is not None and account.plan in plans
        return Score(
            person_id=person.id,
            stage=person.stage,
            fit=fit,
            grade=grade,
            engagement=engagement,
            score=fit + engagement,
            metrics=metrics,
            criteria=criteria,
            conditions={key: final.holds(checked) for key, checked in spec.conditions()},
            fit_rules=hits,
            engagement_rules=tuple(c for c in contributions if c.matched > 0),
            account_id=None if account is None else account.id,
            account_fit=account_fit,
            account_engagement=account_engagement,
            account_score=account_score,
            p_convert=own.get("p_convert"),
            factors=factors,
        )


def account_value(account: Account | None, rest: list[str]) -> Any:
    if account is None:
        return None
    if len(rest) == 1 and rest[0] in ACCOUNT_COLUMNS:
        return getattr(account, rest[0])
    return json_at(account.traits, rest)


def score(
    spec: Spec,
    *,
    people: list[Person],
    accounts: list[Account],
    events: list[Event],
    as_of: datetime,
) -> list[Score]:
    """Every person's score as of `as_of`, ordered by person id."""
    oracle = Oracle(spec, people, accounts, events, as_of)
    return [oracle.score(p) for p in sorted(people, key=lambda p: p.id)]
