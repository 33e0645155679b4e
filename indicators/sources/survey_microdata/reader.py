"""Read delivered microdata files, in their own format, into the warehouse as delivered.

CSV (declared encoding and delimiter; every column as text, exactly as delivered, so that a column of
"yes"/"no" is not turned into booleans before the spec's recode sees it) and Parquet are read by DuckDB itself; SPSS .sav and Stata .dta by
pyreadstat in chunks (the file is never held in pandas whole), keeping value labels in
raw.microdata_value_labels; R .rda/.rds by pyreadr (R files are loaded whole by R's own format; factors keep
their labels as values). Every table gets `_row`, the 1-based record number in the file (header excluded); a CSV
table also `_line`, the line of the file where the record starts (header = line 1), which is what a provider
looks for in an editor. A CSV's bytes, encoding and header are checked first (indicators/delivered_csv.py), so that
a wrong encoding or delimiter is one message that says which setting to change.
"""

from __future__ import annotations

import re
from contextlib import closing
from pathlib import Path

import duckdb
import pandas as pd

from indicators import tables
from indicators.delivered_csv import (OPTIONS, SPEC, Advice, TextFacts, check_delimited_file, check_delimiter,
                                      csv_records, field_count_problem, header_and_rows, is_empty, record_starts)
from indicators.errors import InputError
from indicators.files import sha256_file
from indicators.tables import sql_string
from indicators.warehouse import ensure_schemas
from schemas.mapping_spec import MappingSpec, csv_encoding

CHUNK_ROWS = 100_000


def read_microdata(con: duckdb.DuckDBPyConnection, spec: MappingSpec, path: Path) -> dict:
    """Load `path` into raw.<target>__<source_id> (replacing it); return provenance."""
    ensure_schemas(con)
    path = Path(path)
    if not path.exists():
        raise InputError.single(path, "file does not exist")
    if is_empty(path):
        raise InputError.single(path, "file is empty")
    table = tables.raw_delivery_table(spec.target, spec.source_id)
    labels: list[dict] = []
    try:
        if spec.format == "csv":
            encoding, delimiter = (spec.csv.encoding, spec.csv.delimiter) if spec.csv else ("utf-8", ",")
            _read_csv(con, path, table, encoding, delimiter)
        elif spec.format == "parquet":
            con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT row_number() OVER () AS _row, * "
                        f"FROM read_parquet({sql_string(str(path))})")
        elif spec.format in ("sav", "dta"):
            labels = _read_readstat(con, spec, path, table)
        else:
            _read_r(con, spec, path, table)
    except duckdb.Error as exc:
        raise InputError.single(path, f"cannot be read as {spec.format}: {_read_failure(spec.format, exc)}") from exc
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


def _read_csv(con, path: Path, table: str, encoding: str, delimiter: str) -> None:
    """Every column as text, exactly as delivered, with `_row` and `_line` (see the module docstring)."""
    facts = check_delimited_file(path, encoding, delimiter, SPEC)
    try:
        con.execute(f"""CREATE OR REPLACE TABLE {table} AS
            SELECT row_number() OVER () AS _row, row_number() OVER () + 1 AS _line, *
            FROM read_csv({sql_string(str(path))}, header = true, delim = {sql_string(delimiter)},
                          encoding = {sql_string(encoding)}, sample_size = -1, all_varchar = true)""")
    except duckdb.Error as exc:
        raise unreadable_csv(path, encoding, delimiter, facts, exc, SPEC) from None
    records = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    if facts.lines != records + 1:  # not one line per record: blank lines, or line breaks inside quoted values
        _set_record_lines(con, table, record_starts(path, encoding, delimiter), records)


def _set_record_lines(con, table: str, starts: list[int] | None, records: int) -> None:
    """`_line` from the start line of each record; null (messages then say the record number) when Python's CSV
    reader does not find the records DuckDB read."""
    if starts is None or len(starts) != records:
        con.execute(f"UPDATE {table} SET _line = NULL").fetchall()
        return
    con.register("_starts", pd.DataFrame({"_row": range(1, records + 1), "_line": starts}))
    con.execute(f"UPDATE {table} SET _line = _starts._line FROM _starts WHERE {table}._row = _starts._row"
                ).fetchall()
    con.unregister("_starts")


def unreadable_csv(path: Path, encoding: str, delimiter: str | None, facts: TextFacts, exc: Exception,
                   advice: Advice) -> InputError:
    """Why DuckDB could not read a CSV whose encoding and header are fine, in the provider's terms: the first line
    with another number of fields than the header (or a quote never closed), else DuckDB's own first line without
    its jargon prefix."""
    if delimiter is not None and len(facts.header) > 1:
        with closing(csv_records(path, encoding, delimiter)) as records:
            rows = header_and_rows(records)[2]
            problem = field_count_problem(path, len(facts.header), rows, delimiter, advice)
        if problem is not None:
            return problem
    detail = re.sub(r"^[A-Za-z ]*Error: ", "", str(exc).splitlines()[0])
    return InputError.single(path, f"cannot be read as CSV (encoding {encoding}, delimiter "
                                   f"{delimiter or 'detected'!r}): {detail}")


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


def load_table(con: duckdb.DuckDBPyConnection, path: Path, table: str, delimiter: str | None = None,
               encoding: str | None = None) -> int:
    """Any supported microdata file (by its suffix) into a DuckDB table, as delivered; returns the row count.
    For ad-hoc use (`cop estimate`); the pipeline reads through a mapping spec instead. A CSV is read with
    `delimiter` (default: detected) and `encoding` (default UTF-8), after the same encoding and header checks as
    the pipeline's, whose messages name the command's --delimiter and --encoding."""
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    literal = sql_string(str(path))
    if not path.exists():
        raise InputError.single(path, "file does not exist")
    if suffix in ("csv", "txt"):
        _load_csv(con, path, table, delimiter, csv_encoding(encoding or "utf-8"))
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


def _load_csv(con, path: Path, table: str, delimiter: str | None, encoding: str) -> None:
    facts = check_delimited_file(path, encoding, delimiter, OPTIONS)
    options = f", delim = {sql_string(delimiter)}" if delimiter else ""
    try:
        con.execute(f"""CREATE OR REPLACE TABLE {table} AS SELECT * FROM read_csv({sql_string(str(path))},
                        header = true, encoding = {sql_string(encoding)}{options})""")
    except duckdb.Error as exc:
        raise unreadable_csv(path, encoding, delimiter, facts, exc, OPTIONS) from None
    if delimiter is None:  # DuckDB detected it: a header read as one column means it found none
        columns = [name for name, *_ in con.execute(f"DESCRIBE {table}").fetchall()]
        check_delimiter(path, columns, 1, None, OPTIONS)


def _read_failure(file_format: str, exc: duckdb.Error) -> str:
    """DuckDB's reason, or what it means for the provider where DuckDB's words are its own."""
    message = str(exc).splitlines()[0]
    if file_format == "parquet" and "No magic bytes found at end of file" in message:
        # a Parquet file ends with its footer and the magic bytes PAR1: without them it was cut off
        return "the file is incomplete (it ends before the Parquet footer) — was the transfer cut off?"
    return message
