"""The spec's expression language: a safe subset of Python expression syntax.

Expressions are parsed with `ast` (never evaluated) and checked here once: every name,
function and operator is resolved against the scope the expression lives in, and every
node is annotated with its type, so that both the Ibis compiler and the test oracle
read one checked tree instead of re-deciding what a name means.

Types: "num", "str", "bool", "time", "null", "list", and "json" for values read from a
JSON document (traits, properties, context). A JSON value has no type of its own; the
context decides how it is read: compared with a number it is read as a number, with a
string as a string, in a condition as a boolean. A value of another JSON type reads as
null, so `properties.count >= 5` is false when count is "5" (a string).

Null follows SQL: comparisons with null are null, `and`/`or` are three-valued, and a
condition that ends up null counts as false.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from winnow.spec.durations import parse_duration
from winnow.spec.errors import SpecError, suggest

STAGES = (
    "subscriber",
    "lead",
    "mql",
    "sal",
    "sql",
    "opportunity",
    "customer",
    "pql",
    "csql",
    "nurture",
    "disqualified",
)
GRADES = ("A", "B", "C", "D")

PERSON_COLUMNS = {"email": "str", "email_domain": "str", "user_id": "str", "owner": "str"}
PERSON_TIMES = {"created_at"}
ACCOUNT_COLUMNS = {"name": "str", "domain": "str", "plan": "str", "group_id": "str"}
ACCOUNT_TIMES = {"created_at"}
ACCOUNT_SCORES = {"fit", "engagement", "score"}

BUILTIN_LISTS: dict[str, tuple[str, ...]] = {
    "free_email_domains": (
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.jp",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mail.com",
        "gmx.com",
        "gmx.de",
        "web.de",
        "proton.me",
        "protonmail.com",
        "yandex.ru",
        "qq.com",
        "163.com",
        "zoho.com",
        "fastmail.com",
    ),
}


class Scope(Enum):
    EVENT = "event"  # engagement `where`, metric `where`, count(where=...)
    FIT = "fit"  # fit rules: person and account traits
    ACCOUNT = "account"  # account fit rules
    PERSON = "person"  # stage criteria and segments: everything


@dataclass(frozen=True, kw_only=True)
class Aggregate:
    """An aggregate over a person's events used inside an expression: count/did/days_since."""

    func: str
    event: str | None
    where: Checked | None
    within: int | None

    @property
    def key(self) -> str:
        where = self.where.source if self.where else ""
        return f"{self.func}|{self.event}|{where}|{self.within}"


@dataclass(frozen=True, kw_only=True)
class Checked:
    """A checked expression: its source, annotated tree, and what it depends on."""

    source: str
    tree: ast.expr
    aggregates: tuple[Aggregate, ...] = ()
    metrics: frozenset[str] = frozenset()


def _annotate(node: ast.AST, **marks: object) -> None:
    """Record the checker's decisions on the node itself, for the compiler and the oracle."""
    for key, value in marks.items():
        setattr(node, key, value)


def wtype(node: ast.AST) -> str:
    """The type the checker gave a node."""
    return str(getattr(node, "wtype", "null"))


def read_as(node: ast.AST) -> str:
    """How a JSON value is read at this node ("num", "str", "bool"); else its own type."""
    return str(getattr(node, "wread", wtype(node)))


def attribute_path(node: ast.AST) -> list[str] | None:
    """["person", "company", "name"] for person.company.name; None if not a plain path."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


_COMPARE = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_STRING_FUNCS = {"matches", "starts_with", "ends_with", "contains"}
_AGGREGATE_FUNCS = {"count", "did", "days_since"}


@dataclass
class _Checker:
    scope: Scope
    path: str
    lists: dict[str, tuple[Any, ...]]
    metric_names: frozenset[str]
    errors: list[SpecError] = field(default_factory=list)
    aggregates: list[Aggregate] = field(default_factory=list)
    metrics: set[str] = field(default_factory=set)

    def error(
        self,
        node: ast.AST | None,
        message: str,
        token: str | None = None,
        suggestion: str | None = None,
    ) -> str:
        column = getattr(node, "col_offset", None)
        self.errors.append(
            SpecError(
                path=self.path,
                message=message,
                token=token,
                suggestion=suggestion,
                column=None if column is None else column + 1,
            )
        )
        # "error" is compatible with everything, so one mistake is reported once.
        return "error"

    def names(self) -> list[str]:
        base = {
            Scope.EVENT: ["properties", "context", "event"],
            Scope.FIT: ["person", "account"],
            Scope.ACCOUNT: ["account"],
            Scope.PERSON: [
                "person",
                "account",
                "fit",
                "grade",
                "engagement",
                "score",
                "metrics",
                "stage",
                "p_convert",
            ],
        }[self.scope]
        return base + list(self.lists)

    # -- entry -------------------------------------------------------------------------
    def condition(self, node: ast.expr) -> None:
        """Check a node used as a condition: it must be boolean (JSON reads as boolean)."""
        kind = self.visit(node)
        if kind == "json":
            _annotate(node, wread="bool")
        elif kind not in ("bool", "null", "error"):
            self.error(
                node, f"expected a condition (true/false), got a {_noun(kind)}", ast.unparse(node)
            )

    def visit(self, node: ast.expr) -> str:
        kind = self._visit(node)
        _annotate(node, wtype=kind)
        return kind

    def _visit(self, node: ast.expr) -> str:
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name | ast.Attribute):
            return self.reference(node)
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                self.condition(value)
            return "bool"
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                self.condition(node.operand)
                return "bool"
            if isinstance(node.op, ast.USub | ast.UAdd):
                return self.numeric(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            self.numeric(node.left)
            self.numeric(node.right)
            return "num"
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Tuple | ast.List):
            return self.error(node, "a list can only follow 'in' or 'not in'", ast.unparse(node))
        return self.error(
            node, f"'{ast.unparse(node)}' is not allowed in a spec expression", ast.unparse(node)
        )

    def constant(self, node: ast.Constant) -> str:
        value = node.value
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "bool"
        if isinstance(value, int | float):
            return "num"
        if isinstance(value, str):
            return "str"
        return self.error(node, f"unsupported literal {value!r}", repr(value))

    def numeric(self, node: ast.expr) -> str:
        kind = self.visit(node)
        if kind == "json":
            _annotate(node, wread="num")
        elif kind not in ("num", "null", "error"):
            self.error(node, f"expected a number, got a {_noun(kind)}", ast.unparse(node))
        return "num"

    def text(self, node: ast.expr) -> str:
        kind = self.visit(node)
        if kind == "json":
            _annotate(node, wread="str")
        elif kind not in ("str", "null", "error"):
            self.error(node, f"expected text, got a {_noun(kind)}", ast.unparse(node))
        return "str"

    # -- names ---------------------------------------------------------------------------
    def reference(self, node: ast.Name | ast.Attribute) -> str:
        parts = attribute_path(node)
        if parts is None:
            return self.error(
                node, f"'{ast.unparse(node)}' is not a name this spec can use", ast.unparse(node)
            )
        head, rest = parts[0], parts[1:]
        if head not in self.names():
            return self.error(node, f"unknown name '{head}'", head, suggest(head, self.names()))
        if head in self.lists:
            if rest:
                return self.error(node, f"list '{head}' has no attributes", ".".join(parts))
            return "list"
        if head in ("properties", "context"):
            return "json" if rest else self.error(node, f"use {head}.<name>", head)
        if head in ("person", "account"):
            return self.trait(node, head, rest)
        if head == "metrics":
            if len(rest) != 1:
                return self.error(node, "use metrics.<name>", ".".join(parts))
            if rest[0] not in self.metric_names:
                return self.error(
                    node,
                    f"unknown metric '{rest[0]}'",
                    rest[0],
                    suggest(rest[0], self.metric_names),
                )
            self.metrics.add(rest[0])
            return "num"
        if rest:
            return self.error(node, f"'{head}' has no attributes", ".".join(parts))
        return {"grade": "str", "stage": "str", "event": "str"}.get(head, "num")

    def trait(self, node: ast.AST, head: str, rest: list[str]) -> str:
        if not rest:
            return self.error(node, f"use {head}.<trait>, e.g. {head}.name", head)
        columns = PERSON_COLUMNS if head == "person" else ACCOUNT_COLUMNS
        times = PERSON_TIMES if head == "person" else ACCOUNT_TIMES
        if len(rest) == 1 and rest[0] in columns:
            return columns[rest[0]]
        if len(rest) == 1 and rest[0] in times:
            return "time"
        if head == "account" and len(rest) == 1 and rest[0] in ACCOUNT_SCORES:
            if self.scope is not Scope.PERSON:
                return self.error(
                    node,
                    f"account.{rest[0]} is only known in stages and segments",
                    f"account.{rest[0]}",
                )
            return "num"
        return "json"

    # -- comparisons -------------------------------------------------------------------
    def compare(self, node: ast.Compare) -> str:
        operands = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
            if isinstance(op, ast.In | ast.NotIn):
                self.membership(left, right)
            elif isinstance(op, ast.Is | ast.IsNot):
                if not (isinstance(right, ast.Constant) and right.value is None):
                    self.error(right, "'is' can only compare with None", ast.unparse(right))
                if self.visit(left) == "json":
                    _annotate(left, wread="missing")
                self.visit(right)
            elif type(op) in _COMPARE:
                self.pair(op, left, right)
            else:
                self.error(node, "unsupported comparison", ast.unparse(node))
        return "bool"

    def pair(self, op: ast.cmpop, left: ast.expr, right: ast.expr) -> None:
        a, b = self.visit(left), self.visit(right)
        for node, kind, other in ((left, a, b), (right, b, a)):
            if kind == "json":
                # Compared with None, a JSON value is asked whether it is missing (or null).
                wread = other if other in ("num", "str", "bool", "null") else "str"
                _annotate(node, wread="missing" if wread == "null" else wread)
        ka, kb = read_as(left), read_as(right)
        if "error" in (ka, kb):
            return
        if "null" in (ka, kb) or "missing" in (ka, kb):
            if not isinstance(op, ast.Eq | ast.NotEq):
                self.error(left, "only == and != can compare with None", ast.unparse(left))
            return
        if ka != kb:
            self.error(
                left,
                f"cannot compare a {_noun(ka)} with a {_noun(kb)}",
                f"{ast.unparse(left)} {_COMPARE[type(op)]} {ast.unparse(right)}",
            )
            return
        if ka == "bool" and not isinstance(op, ast.Eq | ast.NotEq):
            self.error(left, "true/false values can only be compared with == and !=")
        self.known_value(left, right)
        self.known_value(right, left)

    def known_value(self, name: ast.expr, value: ast.expr) -> None:
        """Catch `stage == "mqll"` and `grade == "E"` at check time."""
        if not (isinstance(name, ast.Name) and isinstance(value, ast.Constant)):
            return
        allowed = {"stage": STAGES, "grade": GRADES}.get(name.id)
        if allowed and isinstance(value.value, str) and value.value not in allowed:
            self.error(
                value,
                f"'{value.value}' is not a {name.id}",
                value.value,
                suggest(value.value, allowed),
            )

    def membership(self, left: ast.expr, right: ast.expr) -> None:
        item = self.visit(left)
        if isinstance(right, ast.Tuple | ast.List):
            kinds = set()
            for element in right.elts:
                kinds.add(self.visit(element))
                self.known_value(left, element)
            kinds -= {"null", "error"}
            if len(kinds) > 1:
                self.error(right, "a list must hold values of one type", ast.unparse(right))
            element_kind = kinds.pop() if kinds else "str"
            _annotate(right, wtype="list")
        else:
            if self.visit(right) not in ("list", "error"):
                self.error(
                    right,
                    '\'in\' needs a list, e.g. ("A", "B") or a named list',
                    ast.unparse(right),
                )
                return
            parts = attribute_path(right) or [""]
            values = self.lists.get(parts[0], ())
            element_kind = "num" if values and isinstance(values[0], int | float) else "str"
        if item == "json":
            _annotate(left, wread=element_kind)
        elif item not in (element_kind, "null", "error"):
            self.error(
                left,
                f"cannot look for a {_noun(item)} in a list of {_noun(element_kind)}s",
                ast.unparse(left),
            )

    # -- functions -------------------------------------------------------------------------
    def call(self, node: ast.Call) -> str:
        if not isinstance(node.func, ast.Name):
            return self.error(node, "only plain function calls are allowed", ast.unparse(node.func))
        name = node.func.id
        known = set(_STRING_FUNCS) | {"lower"}
        if self.scope is Scope.PERSON:
            known |= _AGGREGATE_FUNCS
        elif name in _AGGREGATE_FUNCS:
            return self.error(node, f"{name}() is only allowed in stages and segments", name)
        if name not in known:
            return self.error(node, f"unknown function '{name}'", name, suggest(name, known))
        if name in _AGGREGATE_FUNCS:
            return self.aggregate(node, name)
        if node.keywords:
            return self.error(node, f"{name}() takes no keyword arguments", node.keywords[0].arg)
        expected = 1 if name == "lower" else 2
        if len(node.args) != expected:
            return self.error(
                node, f"{name}() takes {expected} argument(s), got {len(node.args)}", name
            )
        self.text(node.args[0])
        if name == "lower":
            return "str"
        pattern = node.args[1]
        if not (isinstance(pattern, ast.Constant) and isinstance(pattern.value, str)):
            return self.error(
                pattern,
                f"the second argument of {name}() must be a text literal",
                ast.unparse(pattern),
            )
        _annotate(pattern, wtype="str")
        if name == "matches":
            # In a Python-style literal "\b" is a backspace; in a pattern it always means
            # a word boundary, so read it that way rather than never match.
            pattern.value = pattern.value.replace("\x08", "\\b")
            try:
                re.compile(pattern.value)
            except re.error as exc:
                return self.error(pattern, f"invalid regular expression: {exc}", pattern.value)
        return "bool"

    def aggregate(self, node: ast.Call, name: str) -> str:
        allowed = {"where", "within"}
        keywords = {}
        for keyword in node.keywords:
            if keyword.arg not in allowed:
                return self.error(
                    node,
                    f"{name}() has no argument '{keyword.arg}'",
                    keyword.arg,
                    suggest(keyword.arg or "", allowed),
                )
            keywords[keyword.arg] = keyword.value
        if len(node.args) != 1:
            return self.error(
                node, f'{name}() takes one event name, e.g. {name}("Demo Requested")', name
            )
        target = node.args[0]
        if name == "days_since" and not isinstance(target, ast.Constant):
            # days_since(person.created_at): days since a point in time.
            if self.visit(target) not in ("time", "error"):
                self.error(
                    target,
                    "days_since() takes an event name or a time such as person.created_at",
                    ast.unparse(target),
                )
            return "num" if not keywords else self.error(node, "days_since(time) takes no options")
        if not (isinstance(target, ast.Constant) and isinstance(target.value, str)):
            return self.error(
                target, f"{name}() needs the event name as a text literal", ast.unparse(target)
            )
        where = None
        if "where" in keywords:
            source = keywords["where"]
            if not (isinstance(source, ast.Constant) and isinstance(source.value, str)):
                return self.error(
                    source, "where= takes an expression in quotes", ast.unparse(source)
                )
            where = check(
                source.value,
                Scope.EVENT,
                f"{self.path} where=",
                self.lists,
                self.metric_names,
                self.errors,
            )
        within = None
        if "within" in keywords:
            value = keywords["within"]
            try:
                within = parse_duration(value.value if isinstance(value, ast.Constant) else None)
            except ValueError as exc:
                return self.error(value, str(exc), ast.unparse(value))
        event = None if target.value == "any" else target.value
        aggregate = Aggregate(func=name, event=event, where=where, within=within)
        self.aggregates.append(aggregate)
        _annotate(node, waggregate=aggregate)
        return "bool" if name == "did" else "num"


def _noun(kind: str) -> str:
    return {
        "num": "number",
        "str": "text",
        "bool": "true/false value",
        "json": "value",
        "null": "None",
        "time": "time",
        "list": "list",
    }.get(kind, kind)


def check(
    source: str,
    scope: Scope,
    path: str,
    lists: dict[str, tuple[Any, ...]],
    metric_names: frozenset[str] = frozenset(),
    errors: list[SpecError] | None = None,
    *,
    condition: bool = True,
) -> Checked | None:
    """Parse and check one expression; append errors to `errors` and return None on failure."""
    sink = errors if errors is not None else []
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError as exc:
        sink.append(
            SpecError(
                path=path, message=f"syntax error: {exc.msg}", token=exc.text, column=exc.offset
            )
        )
        return None
    checker = _Checker(scope=scope, path=path, lists=lists, metric_names=metric_names)
    if condition:
        checker.condition(tree)
    else:
        checker.visit(tree)
    sink.extend(checker.errors)
    if checker.errors:
        return None
    unique = {a.key: a for a in checker.aggregates}
    return Checked(
        source=source,
        tree=tree,
        aggregates=tuple(unique.values()),
        metrics=frozenset(checker.metrics),
    )
