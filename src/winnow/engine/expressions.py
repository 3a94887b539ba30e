"""Translating checked spec expressions into Ibis values.

The checker (winnow.spec.expr) has already typed every node; this module only follows
its decisions. Names are looked up through a `Names` callback, so one translator serves
event-level conditions (properties, context), person-level ones (traits, scores,
metrics) and account-level ones.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

import ibis
import ibis.expr.types as ir

from winnow.spec.expr import Aggregate, Checked, attribute_path, read_as, wtype

# Returns the Ibis value for a name path (["person", "title"]); JSON documents come back
# as JSON values and are read by type here.
Names = Callable[[list[str]], ir.Value]
# Returns the value at a JSON path read as "num", "str" or "bool", when the caller has
# those extracted already (see engine.compile: event properties are read once).
TypedReads = Callable[[list[str], str], ir.Value]
Aggregates = Callable[[Aggregate], ir.Value]


def _no_aggregates(aggregate: Aggregate) -> ir.Value:
    raise AssertionError(f"aggregate {aggregate.func}() outside a person expression")


class Translator:
    def __init__(
        self,
        names: Names,
        *,
        aggregates: Aggregates = _no_aggregates,
        lists: dict[str, tuple[Any, ...]] | None = None,
        dialect: str = "duckdb",
        as_of_epoch: Any = 0,
        typed: TypedReads | None = None,
    ) -> None:
        self.names = names
        self.typed = typed
        self.aggregates = aggregates
        self.lists = lists or {}
        self.dialect = dialect
        self.as_of_epoch = as_of_epoch

    def condition(self, checked: Checked) -> ir.BooleanValue:
        """A condition that is never null: null counts as false."""
        value = self.value(checked.tree)
        return value.fill_null(False)

    def read(self, node: ast.expr, reading: str) -> Any:
        """A JSON value read as a number, text or boolean (another type reads as null)."""
        if self.typed is not None:
            parts = attribute_path(node)
            assert parts is not None
            return self.typed(parts, reading)
        return read_json(self._value(node), reading)

    def value(self, node: ast.expr) -> Any:
        reading = read_as(node)
        if wtype(node) == "json" and reading != "json":
            return self.read(node, reading)
        result = self._value(node)
        if wtype(node) == "json" and reading != "json":
            return self.read(node, reading)
        if reading == "num" and wtype(node) == "num":
            return result.cast("float64")
        return result

    def _value(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            if node.value is None:
                return ibis.null()
            if isinstance(node.value, bool | str):
                return ibis.literal(node.value)
            assert isinstance(node.value, int | float)
            return ibis.literal(float(node.value), type="float64")
        if isinstance(node, ast.Name | ast.Attribute):
            parts = attribute_path(node)
            assert parts is not None
            if parts[0] in self.lists:
                raise AssertionError("a named list can only follow 'in'")
            return self.names(parts)
        if isinstance(node, ast.BoolOp):
            values = [self.value(v) for v in node.values]
            result = values[0]
            for other in values[1:]:
                result = result & other if isinstance(node.op, ast.And) else result | other
            return result
        if isinstance(node, ast.UnaryOp):
            operand = self.value(node.operand)
            if isinstance(node.op, ast.Not):
                return ~operand
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            left, right = self.value(node.left), self.value(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            # Division by zero is null on every backend (PostgreSQL would raise).
            return left / right.nullif(0)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise AssertionError(f"unchecked node {ast.dump(node)}")

    def compare(self, node: ast.Compare) -> Any:
        operands = [node.left, *node.comparators]
        result = None
        for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
            part = self.compare_one(op, left, right)
            result = part if result is None else result & part
        return result

    def compare_one(self, op: ast.cmpop, left: ast.expr, right: ast.expr) -> Any:
        if isinstance(op, ast.In | ast.NotIn):
            values = self.list_values(right)
            item = self.value(left)
            if read_as(left) == "num":
                values = [float(v) for v in values]
            found = item.isin(values)
            return ~found if isinstance(op, ast.NotIn) else found
        nulls = [_is_none(left), _is_none(right)]
        if any(nulls):
            other = right if nulls[0] else left
            missing = self.is_missing(other)
            if isinstance(op, ast.Eq | ast.Is):
                return missing
            return ~missing
        a, b = self.value(left), self.value(right)
        if isinstance(op, ast.Eq):
            return a == b
        if isinstance(op, ast.NotEq):
            return a != b
        if isinstance(op, ast.Lt):
            return a < b
        if isinstance(op, ast.LtE):
            return a <= b
        if isinstance(op, ast.Gt):
            return a > b
        return a >= b

    def is_missing(self, node: ast.expr) -> Any:
        """`x == None`: true when x is absent (or JSON null); never null itself."""
        if wtype(node) == "json":
            return self.read(node, "missing")
        return self._value(node).isnull()

    def list_values(self, node: ast.expr) -> list[Any]:
        if isinstance(node, ast.Tuple | ast.List):
            # literal_eval, not .value: -1.25 is a unary minus applied to a constant.
            return [ast.literal_eval(e) for e in node.elts]
        parts = attribute_path(node)
        assert parts is not None
        return list(self.lists[parts[0]])

    def call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        aggregate: Aggregate | None = getattr(node, "waggregate", None)
        if aggregate is not None:
            return self.aggregates(aggregate)
        if name == "days_since":
            moment = self.value(node.args[0])
            return (self.as_of_epoch - moment.epoch_seconds()).cast("float64") / 86400.0
        text = self.value(node.args[0])
        if name == "lower":
            return text.lower()
        pattern = node.args[1]
        assert isinstance(pattern, ast.Constant) and isinstance(pattern.value, str)
        literal = pattern.value
        if name == "matches":
            return text.re_search(self.regex(literal))
        # Plain, case-sensitive tests everywhere: LIKE is case-insensitive on SQLite and
        # treats % and _ as wildcards, so it is avoided.
        if name == "starts_with":
            return text.substr(0, len(literal)) == literal
        if name == "ends_with":
            return text.right(len(literal)) == literal
        return text.find(literal) >= 0

    def regex(self, pattern: str) -> str:
        # PostgreSQL's regular expressions spell a word boundary \y; \b is a backspace there.
        if self.dialect == "postgres":
            return pattern.replace("\\b", "\\y")
        if self.dialect == "spark":
            return java_regex(pattern)
        return pattern


_PYTHON_SYNTAX = re.compile(r"\\.|\(\?P<[^>]*>|\(\?P=")


def java_regex(pattern: str) -> str:
    """A Python pattern (as specs write them) in Java's syntax, for Spark.

    Java spells the absolute end \\z (its \\Z allows a final newline) and has no (?P<name>;
    a name does not change what a search finds, so such a group becomes (?:...).
    """

    def swap(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "\\Z":
            return "\\z"
        if token.startswith("\\"):
            return token
        if token == "(?P=":
            raise ValueError(
                f"matches(): the backreference (?P=...) in {pattern!r} has no equivalent on Spark"
            )
        return "(?:"

    return _PYTHON_SYNTAX.sub(swap, pattern)


def json_reads(checked: Checked) -> set[tuple[tuple[str, ...], str]]:
    """Every (JSON path, reading) an expression needs, e.g. (("properties", "path"), "str")."""
    reads = set()
    for node in ast.walk(checked.tree):
        if wtype(node) != "json":
            continue
        parts = attribute_path(node)
        assert parts is not None
        reading = read_as(node)
        known = ("num", "str", "bool", "missing")
        for kind in (reading,) if reading in known else ("num", "str", "bool"):
            reads.add((tuple(parts), kind))
    return reads


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def read_json(value: Any, reading: str) -> Any:
    if reading == "num":
        return value.float
    if reading == "bool":
        return value.bool
    if reading == "missing":
        # Absent, or present as JSON null; objects and arrays are present.
        return value.isnull() | (value.cast("string") == "null")
    return value.str


def json_path(document: ir.Value, keys: list[str]) -> ir.Value:
    """properties.a.b -> the JSON value at document["a"]["b"]."""
    value: Any = document
    for key in keys:
        value = value[key]
    return value
