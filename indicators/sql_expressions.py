"""Registry expressions are SQL expressions; DuckDB's own parser tells which columns they use."""

from __future__ import annotations

import json

import duckdb

from indicators.errors import ConfigError


def referenced_columns(expression: str) -> list[str]:
    """Column names an SQL expression refers to, in order of first use (parsed by DuckDB, not by regex)."""
    con = duckdb.connect()
    try:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [f"SELECT {expression}"]).fetchone()[0])
    finally:
        con.close()
    if tree.get("error"):
        raise ConfigError(f"expression {expression!r} is not valid SQL: {tree.get('error_message')}")
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("class") == "COLUMN_REF":
                name = node["column_names"][-1]
                if name not in found:
                    found.append(name)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree["statements"])
    return found
