"""Warehouse mode: scoring a team's own tables (DuckDB, Parquet, PostgreSQL, any Ibis backend)."""

from winnow.warehouse.mapping import MappingInvalid, SourceMapping, load_mapping, parse_mapping
from winnow.warehouse.score import (
    WarehouseReport,
    WarehouseScores,
    parse_out,
    score_source,
    score_warehouse,
    summarise,
)
from winnow.warehouse.source import Source, connect

__all__ = [
    "MappingInvalid",
    "Source",
    "SourceMapping",
    "WarehouseReport",
    "WarehouseScores",
    "connect",
    "load_mapping",
    "parse_mapping",
    "parse_out",
    "score_source",
    "score_warehouse",
    "summarise",
]
