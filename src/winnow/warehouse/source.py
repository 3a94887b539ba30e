"""Where a team's tables live: a DuckDB file, Parquet files, PostgreSQL, or any Ibis backend.

Scoring runs where the data is whenever the engine can run there: inside the DuckDB
file, inside PostgreSQL, and for Parquet on an in-process DuckDB reading the files
through views (`read_parquet`), so nothing is loaded into Python. Other Ibis backends
(BigQuery, Snowflake, …) have no engine dialect; from them only the mapped columns are
streamed, in Arrow batches, into a temporary DuckDB file on disk, and scored there.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import duckdb
import ibis
import ibis.expr.datatypes as dt
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from ibis.backends.sql.datatypes import DuckDBType
from ibis.common.exceptions import TableNotFound

from winnow.warehouse.mapping import MappingInvalid

_DUCKDB_SUFFIXES = (".duckdb", ".ddb")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _parts(name: str) -> tuple[str | tuple[str, ...] | None, str]:
    """`schema.table` (or `catalog.schema.table`) as Ibis's database and table name."""
    *database, table = name.split(".")
    if not database:
        return None, table
    return (database[0] if len(database) == 1 else tuple(database)), table


class Source:
    """An open connection to a team's tables, and where the scoring plan runs."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.prefix = f"winnow_wh_{uuid.uuid4().hex[:10]}"
        self.folder: Path | None = None
        self.remote: Any = None  # the team's backend, when scoring runs on a local copy
        self._scratch: Path | None = None
        self._views: dict[str, str] = {}
        self.duck: Any = None  # where the plan runs, for every source but PostgreSQL
        self.backend: Any = None  # the Ibis backend of PostgreSQL
        scheme = urlparse(url).scheme if "://" in url else ""
        if scheme.startswith("postgres"):
            # The store's URLs name the driver (postgresql+psycopg://); Ibis takes none.
            self.kind, self.dialect = "postgres", "postgres"
            self.backend = ibis.connect("postgres" + url[url.index("://") :])
            return
        self.dialect = "duckdb"
        if scheme in ("", "file", "duckdb", "parquet"):
            path = Path(url.split("://", 1)[1] if scheme else url).expanduser()
            if scheme == "duckdb" or path.suffix in _DUCKDB_SUFFIXES:
                if not path.is_file():
                    raise MappingInvalid([f"--source: no DuckDB file at {path}"])
                self.kind = "duckdb"
                self.duck = duckdb.connect(str(path))
                return
            if not path.is_dir():
                raise MappingInvalid(
                    [f"--source: {path} is neither a DuckDB file (.duckdb) nor a folder of Parquet"]
                )
            self.kind, self.folder = "parquet", path
            self.duck = duckdb.connect()
            return
        self.kind = "ibis"
        self.remote = ibis.connect(url)
        self._scratch = Path(tempfile.mkdtemp(prefix="winnow-warehouse-"))
        self.duck = duckdb.connect(str(self._scratch / "copy.duckdb"))

    # -- reading -----------------------------------------------------------------------------
    def schema(self, kind: str, table: str) -> dict[str, dt.DataType]:
        """The table's columns and their types; a missing table is a mapping problem."""
        missing = MappingInvalid([f"{kind}.table: no table {table!r} in {self.url}"])
        if self.kind in ("parquet", "duckdb"):
            reference = (
                quote(self._parquet_view(kind, table))
                if self.kind == "parquet"
                else ".".join(quote(part) for part in table.split("."))
            )
            try:
                described = self.duck.execute(f"DESCRIBE SELECT * FROM {reference}").fetchall()
            except duckdb.CatalogException:
                raise missing from None
            return {row[0]: DuckDBType.from_string(row[1]) for row in described}
        backend = self.remote if self.kind == "ibis" else self.backend
        database, name = _parts(table)
        try:
            return dict(backend.table(name, database=database).schema().items())
        except TableNotFound:
            raise missing from None

    def reference(self, kind: str, table: str, columns: list[str]) -> str:
        """How the plan's SQL names the table (with `columns` at least)."""
        if self.kind == "parquet":
            return quote(self._parquet_view(kind, table))
        if self.kind == "ibis":
            return quote(self._copy(kind, table, columns))
        return ".".join(quote(part) for part in table.split("."))

    def _parquet_view(self, kind: str, table: str) -> str:
        """A view over the kind's Parquet: `<table>.parquet`, a folder `<table>/`, or a glob."""
        assert self.folder is not None
        view = f"{self.prefix}_src_{kind}"
        if kind in self._views:
            return view
        path = self.folder / table
        if not path.exists() and (self.folder / f"{table}.parquet").is_file():
            path = self.folder / f"{table}.parquet"
        if path.is_dir():
            files = str(path / "**" / "*.parquet")
        elif path.is_file() or "*" in table:
            files = str(path)
        else:
            raise MappingInvalid(
                [f"{kind}.table: no {table}.parquet or folder {table}/ in {self.folder}"]
            )
        self.execute(
            f"CREATE TEMP VIEW {quote(view)} AS SELECT * FROM read_parquet({literal(files)})"
        )
        self._views[kind] = view
        return view

    def _copy(self, kind: str, table: str, columns: list[str]) -> str:
        # Only the mapped columns cross the network, batch by batch, to a file on disk.
        name = f"src_{kind}"
        database, remote_name = _parts(table)
        expr = self.remote.table(remote_name, database=database).select(*columns)
        reader = expr.to_pyarrow_batches()
        self.duck.register("winnow_batches", reader)
        try:
            self.execute(f"CREATE OR REPLACE TABLE {quote(name)} AS SELECT * FROM winnow_batches")
        finally:
            self.duck.unregister("winnow_batches")
        return name

    # -- running -----------------------------------------------------------------------------
    def execute(self, sql: str) -> None:
        if self.dialect == "duckdb":
            self.duck.execute(sql)
            return
        with self.backend.con.cursor() as cursor:
            cursor.execute(sql)

    def batches(self, sql: str, size: int) -> Iterator[list[dict[str, Any]]]:
        """The query's rows, `size` at a time."""
        if self.dialect == "duckdb":
            relation = self.duck.sql(sql)
            read = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
            reader = read(size)
            for batch in reader:
                yield batch.to_pylist()
            return
        # A named (server-side) cursor: a client-side one would hold the whole result.
        # WITH HOLD keeps it open outside a transaction, as the connection autocommits.
        cursor = self.backend.con.cursor(name=f"{self.prefix}_result", withhold=True)
        try:
            cursor.execute(sql)
            names: list[str] | None = None
            while chunk := cursor.fetchmany(size):
                names = names or [d.name for d in cursor.description]
                yield [dict(zip(names, row, strict=True)) for row in chunk]
        finally:
            cursor.close()

    def rows(self, sql: str) -> list[dict[str, Any]]:
        """All of the query's rows."""
        return [row for batch in self.batches(sql, 50_000) for row in batch]

    # -- writing -----------------------------------------------------------------------------
    def write(self, name: str, table: pa.Table) -> str:
        """Replace the table `name` in the source with `table`; where it went."""
        if self.kind == "parquet":
            assert self.folder is not None
            path = self.folder / f"{name}.parquet"
            pq.write_table(table, path)
            return str(path)
        if self.kind == "duckdb":
            con = self.duck
            con.register("winnow_scores", table)
            try:
                target = ".".join(quote(p) for p in name.split("."))
                con.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM winnow_scores")
            finally:
                con.unregister("winnow_scores")
            return f"{name} in {self.url}"
        backend = self.remote if self.kind == "ibis" else self.backend
        database, table_name = _parts(name)
        backend.create_table(table_name, table, database=database, overwrite=True)
        return f"{name} in {self.url}"

    def close(self) -> None:
        if self.duck is not None:
            self.duck.close()
        for backend in (self.backend, self.remote):
            if backend is not None:
                backend.disconnect()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)


def connect(url: str) -> Source:
    """Open a source by URL or path; a bad URL is reported as a mapping problem."""
    try:
        return Source(url)
    except MappingInvalid:
        raise
    except (ValueError, duckdb.Error, psycopg.Error, ImportError) as exc:
        raise MappingInvalid([f"--source: cannot open {url}: {exc}"]) from exc
