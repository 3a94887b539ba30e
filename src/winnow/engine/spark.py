"""Scoring on Spark: the compiled plan rendered to Spark SQL and run on a SparkSession.

The plan is the one DuckDB and the store run (engine/compile.py); only its SQL text
differs. Ibis's PySpark compiler renders it, with one change: JSON. That compiler keeps
JSON as text and reads it with Python UDFs registered by Ibis's PySpark backend, which
plain `spark.sql` does not have, and `get_json_object` cannot tell the string "7" from
the number 7. Here JSON documents are Spark VARIANT values instead (`try_parse_json`,
Spark 4): `variant_get` walks a path, and `schema_of_variant` gives the type a reading
needs (a number, a string or a boolean; anything else reads as null), exactly as
DuckDB's typed JSON reads do.

A run registers the three input DataFrames as temporary views named after the run,
then runs the plan's steps in order: the steps other backends keep as temporary tables,
and those several later steps read, are cached (`CACHE TABLE ... AS`, eager); the others
are plain views Spark's optimiser sees through. The final query comes back as Arrow and
turns into PersonScores with `to_scores`, like every other backend's rows.

Instants are naive UTC everywhere in Winnow, and Spark reads a timestamp's epoch
second in the session time zone, so the session must run in UTC.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import ibis.expr.operations as ops
import ibis.expr.types as ir
import sqlglot.expressions as sge
from ibis.backends.sql.compilers.base import NULL, SQLGlotCompiler
from ibis.backends.sql.compilers.pyspark import PySparkCompiler

from winnow.engine.result import PersonScore
from winnow.engine.run import FRAME_SCHEMAS, JSON_COLUMNS, source_tables, to_scores
from winnow.engine.sqlplan import TEMPLATE_PREFIX, SqlPlan, sql_plan
from winnow.spec.load import Spec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DIALECT = "spark"
_UNWRAPPED = (
    ops.UnwrapJSONString,
    ops.UnwrapJSONInt64,
    ops.UnwrapJSONFloat64,
    ops.UnwrapJSONBoolean,
)
_NUMBERS = ("BIGINT", "INT", "SMALLINT", "TINYINT", "DOUBLE", "FLOAT")


class SparkCompiler(PySparkCompiler):  # type: ignore[misc]  # Ibis ships no type hints
    """Ibis's PySpark SQL with JSON as VARIANT values (see the module's docstring)."""

    __slots__ = ()

    # SIMPLE_OPS would map the JSON reads to Ibis's UDFs (and override the methods below).
    SIMPLE_OPS = {
        op: name for op, name in PySparkCompiler.SIMPLE_OPS.items() if op not in _UNWRAPPED
    }

    # Ibis's PySpark compiler consults an option of its PySpark backend (NaN as null) on
    # every float, and that option exists only once the backend, and pyspark, are loaded.
    # NaN never arises in a plan, so the plain SQL translation serves.
    def visit_NonNullLiteral(self, op: Any, *, value: Any, dtype: Any) -> Any:
        if dtype.is_floating():
            return SQLGlotCompiler.visit_NonNullLiteral(self, op, value=value, dtype=dtype)
        return super().visit_NonNullLiteral(op, value=value, dtype=dtype)

    def visit_Field(self, op: Any, *, rel: Any, name: str) -> Any:
        return SQLGlotCompiler.visit_Field(self, op, rel=rel, name=name)

    def visit_Cast(self, op: Any, *, arg: Any, to: Any) -> Any:
        if to.is_json() and op.arg.dtype.is_string():
            # Text that is not JSON reads as absent rather than failing the whole run.
            return self.f.try_parse_json(arg)
        if op.arg.dtype.is_json() and to.is_string():
            return self.f.to_json(arg)
        if to.is_json() or op.arg.dtype.is_json():
            raise NotImplementedError(f"casting {op.arg.dtype} to {to} on Spark")
        return super().visit_Cast(op, arg=arg, to=to)

    def visit_JSONGetItem(self, op: Any, *, arg: Any, index: Any) -> Any:
        # variant_get needs its path as a literal; spec paths are literal names.
        if not isinstance(op.index, ops.Literal):
            raise NotImplementedError("a computed JSON key on Spark")
        key = op.index.value
        if isinstance(key, int):
            path = f"$[{key}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            path = f"$.{key}"
        else:
            path = "$['" + key.replace("\\", "\\\\").replace("'", "\\'") + "']"
        return self.f.variant_get(arg, sge.convert(path))

    def _typed(self, arg: Any, test: Any, to: str) -> Any:
        return self.if_(test, self.f.variant_get(arg, sge.convert("$"), sge.convert(to)), NULL)

    def _is_number(self, arg: Any) -> Any:
        kind = self.f.schema_of_variant(arg)
        return kind.isin(*(sge.convert(k) for k in _NUMBERS)) | self.f.startswith(
            kind, sge.convert("DECIMAL")
        )

    def visit_UnwrapJSONFloat64(self, op: Any, *, arg: Any) -> Any:
        return self._typed(arg, self._is_number(arg), "double")

    def visit_UnwrapJSONInt64(self, op: Any, *, arg: Any) -> Any:
        kind = self.f.schema_of_variant(arg)
        return self._typed(arg, kind.isin(*(sge.convert(k) for k in _NUMBERS[:4])), "bigint")

    def visit_UnwrapJSONString(self, op: Any, *, arg: Any) -> Any:
        return self._typed(arg, self.f.schema_of_variant(arg).eq("STRING"), "string")

    def visit_UnwrapJSONBoolean(self, op: Any, *, arg: Any) -> Any:
        return self._typed(arg, self.f.schema_of_variant(arg).eq("BOOLEAN"), "boolean")


compiler = SparkCompiler()


def to_spark_sql(table: ir.Table) -> str:
    """A table expression as Spark SQL text."""
    query = compiler.to_sqlglot(table.unbind())
    return str(query.sql(dialect=compiler.dialect, pretty=True))


def spark_plan(spec: Spec, *, recycling: bool) -> SqlPlan:
    """The spec's plan over the input views `<prefix>_in_people` etc., as Spark SQL."""
    return sql_plan(
        spec,
        lambda: source_tables(f"{TEMPLATE_PREFIX}_in_", FRAME_SCHEMAS),
        dialect=DIALECT,
        recycling=recycling,
        key="spark",
    )


def score_spark(
    session: SparkSession,
    spec: Spec,
    *,
    people: DataFrame,
    accounts: DataFrame,
    events: DataFrame,
    as_of: datetime,
) -> list[PersonScore]:
    """Score every person in the DataFrames on Spark (columns as in `FRAME_SCHEMAS`)."""
    zone = session.conf.get("spark.sql.session.timeZone")
    if zone not in ("UTC", "Etc/UTC", "Z", "+00:00", "GMT"):
        raise ValueError(
            f"scoring on Spark needs spark.sql.session.timeZone=UTC (it is {zone}): "
            "Winnow's instants are naive UTC"
        )
    prefix = f"winnow_{uuid.uuid4().hex[:10]}"
    frames = {"people": people, "accounts": accounts, "events": events}
    inputs = {kind: _conformed(frame, kind) for kind, frame in frames.items()}
    recycling = not inputs["people"].where("recycled_at IS NOT NULL").isEmpty()
    template = spark_plan(spec, recycling=recycling)
    plan = template.render(as_of=as_of, workspace_id=0, prefix=prefix)
    views = [f"{prefix}_in_{kind}" for kind in inputs]
    for view, frame in zip(views, inputs.values(), strict=True):
        frame.createOrReplaceTempView(view)
    try:
        rows = _run(session, plan)
    finally:
        for view in views:
            session.catalog.dropTempView(view)
    return to_scores(rows, template.layout)


def _run(session: SparkSession, plan: SqlPlan) -> list[dict[str, Any]]:
    created: list[str] = []
    try:
        for n, step in enumerate(plan.steps):
            readers = [s.sql for s in plan.steps[n + 1 :]] + [plan.final]
            # Spark computes a view once per query that reads it: the staged events, read by
            # every aggregation, would be scanned and their JSON parsed a dozen times.
            shared = sum(f"`{step.name}`" in sql for sql in readers) > 1
            if step.materialize or shared:
                session.sql(f"CACHE TABLE `{step.name}` AS {step.sql}")
            else:
                session.sql(f"CREATE OR REPLACE TEMP VIEW `{step.name}` AS {step.sql}")
            created.append(step.name)
        result: list[dict[str, Any]] = session.sql(plan.final).toArrow().to_pylist()
        return result
    finally:
        for name in reversed(created):
            session.sql(f"UNCACHE TABLE IF EXISTS `{name}`")
            session.sql(f"DROP VIEW IF EXISTS `{name}`")


def _conformed(frame: DataFrame, kind: str) -> DataFrame:
    """The columns scoring reads, cast to their types; JSON documents as text."""
    from pyspark.sql import functions as F  # noqa: N812 (pyspark's own convention)
    from pyspark.sql.types import StringType

    present = set(frame.columns)
    schema = FRAME_SCHEMAS[kind]
    missing = [f.name for f in schema if f.name not in present]
    if missing:
        raise ValueError(f"{kind} frame lacks column(s): {', '.join(missing)}")
    columns = []
    for field in schema:
        column = F.col(field.name)
        if field.name in JSON_COLUMNS[kind] and not isinstance(
            frame.schema[field.name].dataType, StringType
        ):
            # A document read from Parquet may be a struct or a map: as JSON text.
            column = F.to_json(column)
        columns.append(column.cast(_SPARK_TYPES[str(field.type)]).alias(field.name))
    return frame.select(*columns)


_SPARK_TYPES = {"int64": "bigint", "string": "string", "timestamp[us]": "timestamp"}
