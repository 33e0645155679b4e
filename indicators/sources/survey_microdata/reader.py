"""Read delivered microdata files, in their own format, into the warehouse as delivered.

CSV (declared encoding and delimiter; every column as text, exactly as delivered, so that a column of
"yes"/"no" is not turned into booleans before the spec's recode sees it) and Parquet are read by DuckDB itself; SPSS .sav and Stata .dta by
pyreadstat in chunks (the file is never held in pandas whole), keeping value labels in
raw.microdata_value_labels; R .rda/.rds by pyreadr (R files are loaded whole by R's own format; factors keep
their labels as values). Every table gets `_row`, the 1-based record number in the file (header excluded).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from indicators import tables
from indicators.errors import InputError
from indicators.files import sha256_file
from indicators.tables import sql_string
from indicators.warehouse import ensure_schemas
from schemas.mapping_spec import MappingSpec

CHUNK_ROWS = 100_000


def read_microdata(con: duckdb.DuckDBPyConnection, spec: MappingSpec, path: Path) -> dict:
    """Load `path` into raw.<target>__<source_id> (replacing it); return provenance."""
    ensure_schemas(con)
    path = Path(path)
    if not path.exists():
        raise InputError.single(path, "file does not exist")
    if path.stat().st_size == 0:
        raise InputError.single(path, "file is empty")
    table = tables.raw_delivery_table(spec.target, spec.source_id)
    labels: list[dict] = []
    try:
        if spec.format == "csv":
            options = spec.csv or type("Defaults", (), {"encoding": "utf-8", "delimiter": ","})()
            con.execute(f"""CREATE OR REPLACE TABLE {table} AS
                SELECT row_number() OVER () AS _row, * FROM read_csv({sql_string(str(path))}, header = true,
                    delim = {sql_string(options.delimiter)}, encoding = {sql_string(options.encoding.lower())},
                    sample_size = -1, all_varchar = true)""")
        elif spec.format == "parquet":
            con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT row_number() OVER () AS _row, * "
                        f"FROM read_parquet({sql_string(str(path))})")
        elif spec.format in ("sav", "dta"):
            labels = _read_readstat(con, spec, path, table)
        else:
            _read_r(con, spec, path, table)
    except duckdb.Error as exc:
        raise InputError.single(path, f"cannot be read as {spec.format}: {str(exc).splitlines()[0]}") from exc
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    if rows == 0:
        raise InputError.single(path, "file has no data rows")
    con.execute(f"""CREATE TABLE IF NOT EXISTS {tables.RAW_MICRODATA_VALUE_LABELS}
                    (source_id VARCHAR, "column" VARCHAR, code VARCHAR, label VARCHAR)""")
    con.execute(f"DELETE FROM {tables.RAW_MICRODATA_VALUE_LABELS} WHERE source_id = ?", [spec.source_id])
    if labels:
        con.register("_labels", pd.DataFrame(labels))
        con.execute(f'INSERT INTO {tables.RAW_MICRODATA_VALUE_LABELS} SELECT source_id, "column", code, label '
                    "FROM _labels")
        con.unregister("_labels")
    provenance = {"source_id": spec.source_id, "path": str(path), "format": spec.format,
                  "sha256": sha256_file(path), "bytes": path.stat().st_size, "rows": int(rows),
                  "value_labels": len(labels), "synthetic": spec.synthetic}
    con.execute(f"""CREATE TABLE IF NOT EXISTS {tables.RAW_MICRODATA_FILES} (source_id VARCHAR, path VARCHAR,
                    format VARCHAR, sha256 VARCHAR, bytes BIGINT, rows BIGINT, value_labels BIGINT, synthetic BOOLEAN,
                    loaded_at TIMESTAMP)""")
    con.execute(f"DELETE FROM {tables.RAW_MICRODATA_FILES} WHERE source_id = ?", [spec.source_id])
    con.execute(f"INSERT INTO {tables.RAW_MICRODATA_FILES} VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
                list(provenance.values()))
    return provenance


def _read_readstat(con, spec: MappingSpec, path: Path, table: str) -> list[dict]:
    import pyreadstat

    reader = pyreadstat.read_sav if spec.format == "sav" else pyreadstat.read_dta
    labels: list[dict] = []
    offset = 0
    try:
        chunks = pyreadstat.read_file_in_chunks(reader, str(path), chunksize=CHUNK_ROWS)
        for chunk, meta in chunks:
            chunk.insert(0, "_row", range(offset + 1, offset + 1 + len(chunk)))
            con.register("_chunk", chunk)
            if offset == 0:
                con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _chunk")
                for column, mapping in (meta.variable_value_labels or {}).items():
                    labels += [{"source_id": spec.source_id, "column": column, "code": _code_text(code),
                                "label": str(label)} for code, label in mapping.items()]
            else:
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _chunk")
            con.unregister("_chunk")
            offset += len(chunk)
    except pyreadstat.ReadstatError as exc:
        raise InputError.single(path, f"cannot be read as {spec.format}: {exc}") from exc
    return labels


def _code_text(code: object) -> str:
    return format(code, "g") if isinstance(code, float) else str(code)


def _read_r(con, spec: MappingSpec, path: Path, table: str) -> None:
    import pyreadr

    try:
        objects = pyreadr.read_r(str(path))
    except pyreadr.custom_errors.PyreadrError as exc:
        raise InputError.single(path, f"cannot be read as {spec.format}: {exc}") from exc
    if spec.rda_object:
        if spec.rda_object not in objects:
            raise InputError.single(path, f"has no object {spec.rda_object!r} (it has: {', '.join(objects)})")
        frame = objects[spec.rda_object]
    elif len(objects) == 1:
        frame = next(iter(objects.values()))
    else:
        raise InputError.single(path, f"holds several objects ({', '.join(objects)}); name one with rda_object")
    frame = frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype("string")  # factor labels as values
    frame.insert(0, "_row", range(1, len(frame) + 1))
    con.register("_frame", frame)
    con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _frame")
    con.unregister("_frame")


def load_table(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> int:
    """Any supported microdata file (by its suffix) into a DuckDB table, as delivered; returns the row count.
    For ad-hoc use (`cop estimate`); the pipeline reads through a mapping spec instead."""
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    literal = sql_string(str(path))
    if not path.exists():
        raise InputError.single(path, "file does not exist")
    if suffix in ("csv", "txt"):
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM read_csv({literal}, header = true)")
    elif suffix == "parquet":
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM read_parquet({literal})")
    elif suffix in ("sav", "dta"):
        import pyreadstat

        reader = pyreadstat.read_sav if suffix == "sav" else pyreadstat.read_dta
        first = True
        for chunk, _ in pyreadstat.read_file_in_chunks(reader, str(path), chunksize=CHUNK_ROWS):
            con.register("_chunk", chunk)
            con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _chunk" if first
                        else f"INSERT INTO {table} BY NAME SELECT * FROM _chunk")
            con.unregister("_chunk")
            first = False
    else:
        raise InputError.single(path, "unsupported format: use .csv, .parquet, .sav or .dta")
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
