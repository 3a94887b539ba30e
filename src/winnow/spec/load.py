"""Loading a spec: YAML text -> validated document -> checked expressions, or every error.

Errors carry the spec path ("engagement.rules[2].where") and the YAML line it is on, so
an editor or `winnow spec check` can point at it.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from winnow.spec.errors import SpecError, SpecInvalid, suggest
from winnow.spec.expr import BUILTIN_LISTS, Checked, Scope, attribute_path, check
from winnow.spec.model import (
    CRITERIA_STAGES,
    EngagementRule,
    Factor,
    FitRule,
    Metric,
    SpecDocument,
)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, kw_only=True)
class FitCheck:
    rule: FitRule
    when: Checked


@dataclass(frozen=True, kw_only=True)
class EngagementCheck:
    rule: EngagementRule
    where: Checked | None
    half_life: int | None


@dataclass(frozen=True, kw_only=True)
class MetricCheck:
    name: str
    metric: Metric
    where: Checked | None
    value: Checked | None  # the property path for count_distinct / sum / max


@dataclass(frozen=True, kw_only=True)
class FactorCheck:
    factor: Factor
    when: Checked


@dataclass(frozen=True, kw_only=True)
class Spec:
    """A valid spec, ready to compile: the document plus its checked expressions."""

    document: SpecDocument
    source: str
    lists: dict[str, tuple[Any, ...]]
    fit: tuple[FitCheck, ...]
    account_fit: tuple[FitCheck, ...]
    engagement: tuple[EngagementCheck, ...]
    metrics: tuple[MetricCheck, ...]
    stages: dict[str, Checked]
    segments: dict[str, Checked]
    # Segments of accounts (spec `segments: {name: {accounts: ...}}`), by name.
    account_segments: dict[str, Checked]
    # handoff.hand_raise by name, and the `when` of each handoff.owners rule (None: always).
    hand_raises: dict[str, Checked]
    routes: tuple[Checked | None, ...]
    # The predictive model's factors (spec `model.factors`), in order; empty without a model.
    factors: tuple[FactorCheck, ...] = ()

    def conditions(self) -> list[tuple[str, Checked]]:
        """Every named condition the engine evaluates besides the stages, keyed as scores
        keep them: `segment:<name>`, `account_segment:<name>`, `hand_raise:<name>`,
        `route:<index>`."""
        named = [(f"segment:{n}", c) for n, c in self.segments.items()]
        named += [(f"account_segment:{n}", c) for n, c in self.account_segments.items()]
        named += [(f"hand_raise:{n}", c) for n, c in self.hand_raises.items()]
        named += [(f"route:{i}", c) for i, c in enumerate(self.routes) if c is not None]
        return named


def load_spec_file(path: str | Path) -> Spec:
    return load_spec(Path(path).read_text(encoding="utf-8"))


def load_spec(source: str) -> Spec:
    """Validate a spec; raise SpecInvalid listing every error found."""
    lines = _line_index(source)
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise SpecInvalid(
            [SpecError(path="", message=f"not valid YAML: {exc}", line=line)]
        ) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecInvalid([SpecError(path="", message="a spec is a YAML mapping of sections")])
    try:
        document = SpecDocument.model_validate(data)
    except ValidationError as exc:
        found = [_from_pydantic(e, lines) for e in exc.errors()]
        found += [_with_line(e, lines) for e in _raw_expression_errors(data)]
        raise SpecInvalid(found) from exc
    errors: list[SpecError] = []
    spec = _check(document, source, errors)
    if errors:
        raise SpecInvalid([_with_line(e, lines) for e in errors])
    assert spec is not None
    return spec


def _check(doc: SpecDocument, source: str, errors: list[SpecError]) -> Spec | None:
    lists: dict[str, tuple[Any, ...]] = dict(BUILTIN_LISTS)
    for name, values in doc.lists.items():
        if not _IDENTIFIER.match(name):
            errors.append(
                SpecError(
                    path=f"lists.{name}",
                    message="a list name must be a single word (letters, digits, _)",
                    token=name,
                )
            )
        lists[name] = tuple(values)
    metric_names = frozenset(doc.metrics)

    def expr(text: str, scope: Scope, path: str, *, condition: bool = True) -> Checked | None:
        return check(text, scope, path, lists, metric_names, errors, condition=condition)

    _unique_names([r.name for r in doc.fit.rules], "fit.rules", errors)
    _unique_names([r.name for r in doc.engagement.rules], "engagement.rules", errors)
    _unique_names([r.name for r in doc.accounts.fit], "accounts.fit", errors)
    fit = [
        (rule, expr(rule.when, Scope.FIT, f"fit.rules[{i}].when"))
        for i, rule in enumerate(doc.fit.rules)
    ]
    account_fit = [
        (rule, expr(rule.when, Scope.ACCOUNT, f"accounts.fit[{i}].when"))
        for i, rule in enumerate(doc.accounts.fit)
    ]
    engagement = []
    for i, rule in enumerate(doc.engagement.rules):
        where = (
            expr(rule.where, Scope.EVENT, f"engagement.rules[{i}].where") if rule.where else None
        )
        engagement.append(
            EngagementCheck(rule=rule, where=where, half_life=doc.engagement.half_life_of(rule))
        )
    metrics = []
    for name, metric in doc.metrics.items():
        path = f"metrics.{name}"
        if not _IDENTIFIER.match(name):
            errors.append(
                SpecError(
                    path=path,
                    message="a metric name must be a single word "
                    "(letters, digits, _) so it can be used as metrics.<name>",
                    token=name,
                )
            )
        where = expr(metric.where, Scope.EVENT, f"{path}.where") if metric.where else None
        value = None
        if metric.kind in ("count_distinct", "sum", "max"):
            value = expr(metric.argument, Scope.EVENT, f"{path}.{metric.kind}", condition=False)
            parts = attribute_path(value.tree) if value else None
            if value and (parts is None or parts[0] not in ("properties", "context")):
                errors.append(
                    SpecError(
                        path=f"{path}.{metric.kind}",
                        token=metric.argument,
                        message="expected a property path such as properties.count",
                    )
                )
        metrics.append(MetricCheck(name=name, metric=metric, where=where, value=value))
    stages = {}
    for stage in CRITERIA_STAGES:
        text = getattr(doc.stages, stage)
        if text is not None:
            stages[stage] = expr(text, Scope.PERSON, f"stages.{stage}")
    segments = {
        name: expr(text, Scope.PERSON, f"segments.{name}")
        for name, text in doc.segments.items()
        if isinstance(text, str)
    }
    account_segments = {
        name: expr(text.accounts, Scope.PERSON, f"segments.{name}.accounts")
        for name, text in doc.segments.items()
        if not isinstance(text, str)
    }
    _unique_names([h.name for h in doc.handoff.hand_raise], "handoff.hand_raise", errors)
    hand_raises = {
        h.name: expr(h.when, Scope.PERSON, f"handoff.hand_raise[{i}].when")
        for i, h in enumerate(doc.handoff.hand_raise)
    }
    routes = [
        expr(r.when, Scope.PERSON, f"handoff.owners[{i}].when") if r.when else None
        for i, r in enumerate(doc.handoff.owners)
    ]
    factors = []
    if doc.model is not None:
        _unique_names([f.name for f in doc.model.factors], "model.factors", errors)
        for i, factor in enumerate(doc.model.factors):
            path = f"model.factors[{i}].when"
            checked = expr(factor.when, Scope.PERSON, path)
            if checked is not None and _uses_p_convert(checked):
                errors.append(
                    SpecError(path=path, token="p_convert", message="a factor cannot use p_convert")
                )
            elif checked is not None:
                factors.append(FactorCheck(factor=factor, when=checked))
    else:
        users = [("stages." + s, c) for s, c in stages.items()]
        users += [(f"segments.{n}", c) for n, c in segments.items()]
        users += [(f"segments.{n}.accounts", c) for n, c in account_segments.items()]
        users += [(f"handoff.hand_raise.{n}", c) for n, c in hand_raises.items()]
        users += [(f"handoff.owners[{i}].when", c) for i, c in enumerate(routes)]
        errors += [
            SpecError(
                path=path,
                token="p_convert",
                message="p_convert needs a `model:` section (`winnow learn train` writes one)",
            )
            for path, c in users
            if c is not None and _uses_p_convert(c)
        ]
    if errors:
        return None
    return Spec(
        document=doc,
        source=source,
        lists=lists,
        fit=tuple(FitCheck(rule=r, when=c) for r, c in fit if c),
        account_fit=tuple(FitCheck(rule=r, when=c) for r, c in account_fit if c),
        engagement=tuple(engagement),
        metrics=tuple(metrics),
        stages={k: v for k, v in stages.items() if v},
        segments={k: v for k, v in segments.items() if v},
        account_segments={k: v for k, v in account_segments.items() if v},
        hand_raises={k: v for k, v in hand_raises.items() if v},
        routes=tuple(routes),
        factors=tuple(factors),
    )


def _uses_p_convert(checked: Checked) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "p_convert" for n in ast.walk(checked.tree))


def _raw_expression_errors(data: dict[str, Any]) -> list[SpecError]:
    """Check the expressions of a spec whose structure is broken, so all errors show at once."""
    errors: list[SpecError] = []

    def section(*keys: str) -> Any:
        value: Any = data
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    raw_lists = section("lists")
    lists: dict[str, tuple[Any, ...]] = dict(BUILTIN_LISTS)
    if isinstance(raw_lists, dict):
        lists |= {str(k): tuple(v) for k, v in raw_lists.items() if isinstance(v, list)}
    raw_metrics = section("metrics")
    metrics = frozenset(raw_metrics) if isinstance(raw_metrics, dict) else frozenset()
    places: list[tuple[str, Any, Scope]] = []
    for key, scope, field in (
        (("fit", "rules"), Scope.FIT, "when"),
        (("accounts", "fit"), Scope.ACCOUNT, "when"),
        (("engagement", "rules"), Scope.EVENT, "where"),
    ):
        items = section(*key)
        for i, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict):
                places.append((f"{'.'.join(key)}[{i}].{field}", item.get(field), scope))
    for name, metric in (raw_metrics or {}).items() if isinstance(raw_metrics, dict) else []:
        if isinstance(metric, dict):
            places.append((f"metrics.{name}.where", metric.get("where"), Scope.EVENT))
    for stage in CRITERIA_STAGES:
        places.append((f"stages.{stage}", section("stages", stage), Scope.PERSON))
    segments = section("segments")
    for name, text in segments.items() if isinstance(segments, dict) else []:
        if isinstance(text, dict):
            places.append((f"segments.{name}.accounts", text.get("accounts"), Scope.PERSON))
        else:
            places.append((f"segments.{name}", text, Scope.PERSON))
    for part in ("hand_raise", "owners"):
        entries = section("handoff", part)
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, dict):
                places.append((f"handoff.{part}[{i}].when", entry.get("when"), Scope.PERSON))
    for path, text, scope in places:
        if isinstance(text, str):
            check(text, scope, path, lists, metrics, errors)
    return errors


def _unique_names(names: list[str], path: str, errors: list[SpecError]) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            errors.append(
                SpecError(
                    path=f"{path}[{i}].name",
                    token=name,
                    message=f"rule name '{name}' is used twice",
                )
            )
        seen.add(name)


# Pydantic reports locations as tuples; we print them the way the YAML reads.
def _format_loc(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _from_pydantic(error: Any, lines: dict[str, int]) -> SpecError:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
    path = _format_loc(loc)
    message = str(error["msg"]).removeprefix("Value error, ")
    suggestion = None
    token = None
    if error["type"] == "extra_forbidden":
        token = str(loc[-1])
        message = f"unknown key '{token}'"
        suggestion = suggest(token, _known_keys(loc[:-1]))
    elif error["type"] == "missing":
        message = f"'{loc[-1]}' is required"
    elif "input" in error and not isinstance(error["input"], dict | list):
        token = str(error["input"])
    return _with_line(
        SpecError(path=path, message=message, token=token, suggestion=suggestion), lines
    )


def _known_keys(loc: tuple[int | str, ...]) -> list[str]:
    """Field names of the model at `loc`, for did-you-mean on unknown keys."""
    model: Any = SpecDocument
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            continue  # a dict key such as metrics.<name>: the value model stays
        model = _inner_model(field.annotation)
    return list(getattr(model, "model_fields", {}))


def _inner_model(annotation: Any) -> Any:
    from typing import get_args

    for arg in (annotation, *get_args(annotation)):
        if hasattr(arg, "model_fields"):
            return arg
        for inner in get_args(arg):
            if hasattr(inner, "model_fields"):
                return inner
    return None


def _with_line(error: SpecError, lines: dict[str, int]) -> SpecError:
    path = error.path.split(" ")[0]
    while path and path not in lines:
        shorter = re.sub(r"(\.[^.\[]+|\[\d+\])$", "", path)
        if shorter == path:  # a first segment such as "None" (a null key): nothing to strip
            break
        path = shorter
    line = lines.get(path) if path else None
    if line is None:
        return error
    return SpecError(
        path=error.path,
        message=error.message,
        token=error.token,
        suggestion=error.suggestion,
        line=line,
        column=error.column,
    )


def _line_index(source: str) -> dict[str, int]:
    """Map each spec path ("fit.rules[0].when") to its 1-based line in the YAML."""
    index: dict[str, int] = {}
    try:
        root = yaml.compose(source)
    except yaml.YAMLError:
        return index

    def walk(node: yaml.Node, path: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = f"{path}.{key.value}" if path else str(key.value)
                index[child] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                child = f"{path}[{i}]"
                index[child] = item.start_mark.line + 1
                walk(item, child)

    if root is not None:
        walk(root, "")
    return index
