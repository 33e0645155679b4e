"""The internal DuckDB warehouse: schemas by stage, and small helpers to write tables into it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

STAGES = ("reference", "raw", "staging", "quality", "estimates")


def connect(path: str | Path) -> duckdb.DuckDBPyConnection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    ensure_schemas(con)
    return con


def ensure_schemas(con: duckdb.DuckDBPyConnection) -> None:
    for schema in STAGES:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")


def replace_table(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> int:
    """Write a pandas frame as warehouse table `name` (schema.table), replacing what was there."""
    ensure_schemas(con)
    con.register("_frame", frame)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _frame")
    finally:
        con.unregister("_frame")
    return len(frame)


def write_typed_table(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, str], frame: pd.DataFrame) -> None:
    """Replace table `name` with `frame`, typed as `columns` (column -> DuckDB type) say even when it is empty."""
    ensure_schemas(con)
    con.execute(f"CREATE OR REPLACE TABLE {name} (" + ", ".join(f"{c} {t}" for c, t in columns.items()) + ")")
    if len(frame):
        con.register("_frame", frame[list(columns)])
        try:
            con.execute(f"INSERT INTO {name} SELECT * FROM _frame")
        finally:
            con.unregister("_frame")
