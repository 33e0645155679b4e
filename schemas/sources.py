"""How a harmonised table is declared: name -> columns (with DuckDB types) and the disaggregations it allows.
Registry expressions are bound against these columns when the registry loads. Each source package declares its own
tables (indicators.sources.<name>.SOURCE); indicators.sources.harmonised_sources() lists them all."""

from __future__ import annotations

from dataclasses import dataclass

import pandera.pandas as pa



@dataclass(frozen=True)
class HarmonisedSource:
    name: str
    table: str
    columns: dict[str, str]  # column -> DuckDB type
    disaggregations: tuple[str, ...]
    sampled: bool = False  # a sample survey: its country values are estimates with sampling error


def duckdb_type(dtype: object) -> str:
    text = str(dtype).lower()
    if text in ("bool", "boolean"):
        return "BOOLEAN"
    if text.startswith(("int", "uint")):
        return "BIGINT"
    if text.startswith("float"):
        return "DOUBLE"
    if text.startswith("datetime"):
        return "TIMESTAMP"
    return "VARCHAR"


def from_model(name: str, table: str, model: type[pa.DataFrameModel], disaggregations,
                sampled: bool = False) -> HarmonisedSource:
    schema = model.to_schema()
    return HarmonisedSource(name, table, {c: duckdb_type(col.dtype) for c, col in schema.columns.items()},
                            tuple(disaggregations), sampled)
