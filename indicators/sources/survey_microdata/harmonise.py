"""Harmonise one delivered microdata source into its standard table (staging.child_survey) and audit it.

The mapping spec is compiled to one SQL SELECT over the raw table: renames, missing codes to null, recodes,
type casts, derived bands. Then, for the source as a whole:
- design rules (checked in SQL over all rows): weight present and > 0, stratum and PSU present, respondent ids
  unique, fpc constant within a stratum: any breach rejects the whole source;
- row rules: codes the spec does not recode, values of the wrong type (SQL flags), and the row-level checks of
  the pandera model of the target (validated chunk by chunk, never the whole file in pandas): failing rows go
  to quality.rejected_rows with source, row, column, value and rule;
- if more than the spec's max_rejected_share of rows is rejected, the whole source is rejected.
An accepted source's valid rows replace its rows in staging; a rejected source leaves none there, so nothing
that depends on it can be estimated or published. quality.source_status says which and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pandas as pd
import pandera.pandas as pa

from indicators import tables
from indicators.errors import ConfigError
from indicators.tables import quote_identifier, sql_string, table_exists
from indicators.warehouse import ensure_schemas
from schemas.mapping_spec import Bands, MappingSpec
from indicators.sources import harmonised_sources
from schemas.validation import failure_cases

# dataframe-wide checks of the model that concern the whole source; checked in SQL instead. pandera 0.35
# drops the `name` of checks inherited from a base model in all but the first model converted, so a check
# may also appear under its method name (tests/test_source_schemas.py records that bug).
SOURCE_LEVEL_CHECKS = ("fpc is constant within a stratum and at least the number of PSUs sampled in it",
                       "a source dataset covers one country and one wave", "_fpc_consistent",
                       "_one_country_and_wave")
# the column a dataframe-wide check is about, for quality.rejected_rows
DATAFRAME_CHECK_COLUMNS = {
    "age is within age_band": "age_band",
    "a child who told a parent, friend, teacher or professional told someone": "told_someone",
    "parent-module answers are null when no parent was interviewed": "parent_worried_online_safety",
}
CHECK_NAMES = {"_known_country": "country is an ISO 3166-1 alpha-3 code known to pycountry or explicitly mapped"}
VALIDATION_CHUNK_ROWS = 50_000
MAX_FAILURES_SHOWN = 20
REJECTED_COLUMNS = ["source_id", "source_row", "column", "value", "rule"]


@dataclass
class SourceResult:
    source_id: str
    status: str  # accepted | rejected
    rows: int
    accepted_rows: int
    rejected_rows: int
    reasons: list[str] = field(default_factory=list)  # why a source was rejected as a whole
    rule_counts: dict[str, int] = field(default_factory=dict)
    first_failures: list[dict] = field(default_factory=list)
    design: dict = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"


def target_columns(target: str) -> dict[str, str]:
    return harmonised_sources()[target].columns


# ------------------------------------------------------------------------------------------ SQL compilation
def _literal(value: object) -> str:
    """A spec's value as an SQL literal of its own type: booleans and numbers bare, anything else as text."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return sql_string(str(value))


def _matches(column_sql: str, code: object) -> str:
    """Does a source value equal a code from the spec? Numbers compare as numbers, text as text."""
    # coalesce: a text value compared with a numeric code is "no match", never NULL (NULL would hide it)
    if isinstance(code, bool):
        return f"coalesce({_as_boolean(column_sql)} = {_literal(code)}, FALSE)"
    if isinstance(code, (int, float)):
        return f"coalesce(TRY_CAST({column_sql} AS DOUBLE) = {float(code)!r}, FALSE)"
    return f"coalesce(trim(CAST({column_sql} AS VARCHAR)) = {sql_string(str(code))}, FALSE)"


def _as_boolean(column_sql: str) -> str:
    """Only 1/0 and true/false (any case) are booleans; DuckDB's cast would make any non-zero number TRUE."""
    text = f"lower(trim(CAST({column_sql} AS VARCHAR)))"
    return (f"CASE WHEN {text} IN ('1', '1.0', 'true', 't') THEN TRUE "
            f"WHEN {text} IN ('0', '0.0', 'false', 'f') THEN FALSE END")


def _cast(column_sql: str, target_type: str) -> str:
    """Cast to the target type, NULL when the value is not exactly of that type (12.7 is no integer)."""
    if target_type == "BOOLEAN":
        return _as_boolean(column_sql)
    if target_type == "BIGINT":
        number = f"TRY_CAST({column_sql} AS DOUBLE)"
        return f"CASE WHEN {number} = floor({number}) THEN CAST({number} AS BIGINT) END"
    return f"TRY_CAST({column_sql} AS {target_type})"


def _text(column_sql: str, column_type: str) -> str:
    """A source value as written: whole numbers stored as doubles (SPSS, Stata) without a trailing .0."""
    if column_type in ("DOUBLE", "FLOAT", "DECIMAL") or column_type.startswith("DECIMAL"):
        return (f"CASE WHEN {column_sql} = floor({column_sql}) AND abs({column_sql}) < 1e18 "
                f"THEN CAST(CAST({column_sql} AS BIGINT) AS VARCHAR) ELSE CAST({column_sql} AS VARCHAR) END")
    return f"CAST({column_sql} AS VARCHAR)"


def _columns_of(names: str | list[str]) -> list[str]:
    return [names] if isinstance(names, str) else list(names)


def _identifier(names: str | list[str], types: dict[str, str]) -> str:
    """One identifier from one or several columns (null if any part is missing), ids as written."""
    parts = [f"NULLIF(trim({_text(quote_identifier(c), types.get(c, 'VARCHAR'))}), '')" for c in _columns_of(names)]
    return parts[0] if len(parts) == 1 else "(" + " || '-' || ".join(parts) + ")"


def compile_mapping(spec: MappingSpec, raw_columns: dict[str, str]) -> str:
    """SELECT producing the target's columns plus `_row` and `__flag__<variable>` columns for row rules."""
    columns = target_columns(spec.target)
    select = ["_row", f"{sql_string(spec.source_id)} AS source_id"]
    if spec.country:
        select.append(f"{sql_string(spec.country)} AS country")
    else:
        mapped = " ".join(f"WHEN {_matches(quote_identifier(spec.country_column), k)} THEN {_literal(v)}"
                          for k, v in spec.country_codes.items())
        raw = f"upper(trim(CAST({quote_identifier(spec.country_column)} AS VARCHAR)))"
        select.append(f"CASE {mapped} ELSE {raw} END AS country" if mapped else f"{raw} AS country")
    select.append(f"{spec.wave} AS wave" if spec.wave is not None
                  else f"TRY_CAST({quote_identifier(spec.wave_column)} AS BIGINT) AS wave")
    d = spec.design
    types = raw_columns
    select += [f"{_identifier(d.respondent_id, types)} AS respondent_id",
               f"{_identifier(d.stratum, types)} AS stratum", f"{_identifier(d.psu, types)} AS psu",
               f"TRY_CAST({quote_identifier(d.weight)} AS DOUBLE) AS weight",
               f"TRY_CAST({quote_identifier(d.fpc)} AS DOUBLE) AS fpc" if d.fpc else "CAST(NULL AS DOUBLE) AS fpc"]
    for source_column, variable in spec.rename.items():
        src = quote_identifier(source_column)
        target_type = columns[variable]
        missing = [*spec.missing.get("_all", []), *spec.missing.get(variable, [])]
        is_missing = " OR ".join(_matches(src, code) for code in missing) or "FALSE"
        cleaned = f"CASE WHEN {is_missing} THEN NULL ELSE {src} END"
        if variable in spec.recode:
            cases = " ".join(f"WHEN {_matches(src, k)} THEN {_literal(v)}" for k, v in spec.recode[variable].items())
            value = f"CASE WHEN {src} IS NULL OR ({is_missing}) THEN NULL {cases} ELSE NULL END"
            known = " OR ".join(_matches(src, k) for k in spec.recode[variable]) or "FALSE"
            flag = (f"CASE WHEN {src} IS NOT NULL AND NOT ({is_missing}) AND NOT ({known}) "
                    f"THEN 'code not in the spec''s recode for {variable}' END")
            select.append(f"{_cast(value, target_type)} AS {quote_identifier(variable)}")
        else:
            select.append(f"{_cast(cleaned, target_type)} AS {quote_identifier(variable)}")
            flag = (f"CASE WHEN {src} IS NOT NULL AND NOT ({is_missing}) AND {_cast(cleaned, target_type)} "
                    f"IS NULL THEN 'value is not a valid {target_type.lower()} for {variable}' END")
        select.append(f"{flag} AS {quote_identifier('__flag__' + variable)}")
        select.append(f"{_text(src, types.get(source_column, 'VARCHAR'))} AS {quote_identifier('__raw__' + variable)}")
    first = f"SELECT {', '.join(select)} FROM {tables.raw_delivery_table(spec.target, spec.source_id)}"
    # second level: derived variables and absent columns, in the target's column order
    provided = {"source_id", "country", "wave", "respondent_id", "stratum", "psu", "weight", "fpc",
                *spec.rename.values()}
    outer = ["_row"]
    flags_derived: list[str] = []
    for column, column_type in columns.items():
        if column in spec.derive:
            rule = spec.derive[column]
            if isinstance(rule, Bands):
                source = quote_identifier(rule.from_)
                cases = " ".join(f"WHEN {source} BETWEEN {lo} AND {hi} THEN {_literal(label)}"
                                 for label, (lo, hi) in rule.bands.items())
                in_a_band = " OR ".join(f"{source} BETWEEN {lo} AND {hi}" for lo, hi in rule.bands.values())
                outer.append(f"CAST(CASE {cases} END AS {column_type}) AS {quote_identifier(column)}")
                flags_derived.append(
                    f"CASE WHEN {source} IS NOT NULL AND NOT ({in_a_band}) "
                    f"THEN '{rule.from_} outside every band of {column}' END "
                    f"AS {quote_identifier('__flag__' + column)}, "
                    f"CAST({source} AS VARCHAR) AS {quote_identifier('__raw__' + column)}")
            else:
                outer.append(f"CAST({_literal(rule.value)} AS {column_type}) AS {quote_identifier(column)}")
        elif column in provided:
            outer.append(quote_identifier(column))
        else:
            outer.append(f"CAST(NULL AS {column_type}) AS {quote_identifier(column)}")
    flags = [f"{quote_identifier('__flag__' + v)}, {quote_identifier('__raw__' + v)}" for v in spec.rename.values()]
    return f"SELECT {', '.join(outer + flags + flags_derived)} FROM ({first})"


# ------------------------------------------------------------------------------------------------- audit
def _row_schema(target: str) -> pa.DataFrameSchema:
    """The target model's checks that concern one row at a time (the source-level ones are checked in SQL)."""
    from schemas.child_survey import ChildSurveyModel

    schema = {"child_survey": ChildSurveyModel}[target].to_schema()
    return pa.DataFrameSchema(columns=schema.columns, strict=False, coerce=False, name=schema.name,
                              checks=[c for c in schema.checks if c.name not in SOURCE_LEVEL_CHECKS])


def _pandas_dtypes(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """DuckDB hands nullable booleans and integers over as object/float: give them pandas' nullable dtypes."""
    for column, column_type in columns.items():
        if column_type == "BOOLEAN":
            frame[column] = frame[column].astype("boolean")
        elif column_type == "BIGINT":
            frame[column] = frame[column].astype("Int64")
        elif column_type == "DOUBLE":
            frame[column] = frame[column].astype("float64")
        else:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def _design_problems(con, candidate: str, multi_country: bool = False) -> list[str]:
    """Source-level design rules, over all rows in SQL; any breach rejects the source."""
    checks = {
        "weight missing, zero or negative": "weight IS NULL OR weight <= 0",
        "stratum missing": "stratum IS NULL",
        "PSU missing": "psu IS NULL",
        "respondent id missing": "respondent_id IS NULL",
    }
    problems = []
    for rule, condition in checks.items():
        n, rows = con.execute(f"SELECT count(*), list(_row ORDER BY _row)[1:5] FROM {candidate} "
                              f"WHERE {condition}").fetchone()
        if n:
            problems.append(f"design variable broken: {rule} in {n} row(s) (rows {', '.join(map(str, rows))}"
                            f"{', ...' if n > 5 else ''})")
    n, ids = con.execute(f"""SELECT count(*), list(respondent_id)[1:5] FROM (SELECT respondent_id FROM {candidate}
                             WHERE respondent_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1)""").fetchone()
    if n:
        problems.append(f"respondent id not unique: {n} id(s) repeated (e.g. {', '.join(ids)})")
    n, strata = con.execute(f"""SELECT count(*), list(stratum)[1:5] FROM (SELECT stratum FROM {candidate}
                                GROUP BY 1 HAVING count(DISTINCT fpc) > 1 OR (count(fpc) > 0 AND count(fpc) < count(*))
                                OR min(fpc) < count(DISTINCT psu))""").fetchone()
    if n:
        problems.append(f"fpc not constant within stratum, or below the number of PSUs sampled: "
                        f"{n} stratum/strata (e.g. {', '.join(map(str, strata))}; the harmonised fpc is the "
                        "number of PSUs in the stratum's population, not a sampling fraction)")
    n = con.execute(f"SELECT count(DISTINCT wave) FROM {candidate}").fetchone()[0]
    if n > 1:
        problems.append(f"a source must cover one wave; this one has {n}")
    if not multi_country:
        n = con.execute(f"SELECT count(DISTINCT country) FROM {candidate}").fetchone()[0]
        if n > 1:
            problems.append(f"a source with a fixed country must cover one country; this one has {n}")
    return problems


def _row_failures(con, candidate: str, spec: MappingSpec) -> pd.DataFrame:
    """Rows breaking a row rule: (source_row, column, value, rule), one line per row, column and rule."""
    out = []
    flagged_variables = list(spec.rename.values()) + [v for v, r in spec.derive.items() if isinstance(r, Bands)]
    for variable in flagged_variables:
        flag, raw = quote_identifier(f"__flag__{variable}"), quote_identifier(f"__raw__{variable}")
        flagged = con.execute(f"""SELECT _row AS source_row, {sql_string(variable)} AS "column", {raw} AS value,
                                  {flag} AS rule FROM {candidate} WHERE {flag} IS NOT NULL""").df()
        out.append(flagged)
    out.append(schema_failures(con, candidate, spec.target))
    failures = pd.concat(out, ignore_index=True)
    # a value the spec could not read is also null afterwards: report the cause, not the consequence
    required = failures["rule"] == "required value is missing"
    explained = failures[~required].set_index(["source_row", "column"]).index
    keep = ~required | ~failures.set_index(["source_row", "column"]).index.isin(explained)
    return failures[keep].sort_values(["source_row", "column"], ignore_index=True)


def schema_failures(con, relation: str, target: str) -> pd.DataFrame:
    """Row checks of the target's pandera model over a relation with a `_row` column, chunk by chunk (never
    the whole table in pandas): (source_row, column, value, rule)."""
    out = [pd.DataFrame(columns=["source_row", "column", "value", "rule"])]
    columns = target_columns(target)
    schema = _row_schema(target)
    names = ", ".join(quote_identifier(c) for c in columns)
    reader = con.execute(f"SELECT _row, {names} FROM {relation} ORDER BY _row")
    while True:
        chunk = reader.fetch_df_chunk(VALIDATION_CHUNK_ROWS // 2048 or 1)
        if chunk.empty:
            break
        chunk = _pandas_dtypes(chunk, columns)
        # required columns: a null is a row failure here, and the row is not validated further (pandera
        # would report non-nullable columns with nulls as a wrong dtype for the whole chunk)
        required = [c for c, col in schema.columns.items() if not col.nullable]
        nulls = chunk[required].isna()
        if nulls.any().any():
            where = nulls.stack()
            where = where[where]
            out.append(pd.DataFrame({"source_row": chunk.loc[where.index.get_level_values(0), "_row"].to_numpy(),
                                     "column": where.index.get_level_values(1).astype(str),
                                     "value": None, "rule": "required value is missing"}))
            chunk = chunk[~nulls.any(axis=1)].reset_index(drop=True)
        for column in required:
            if columns.get(column) == "BOOLEAN":
                chunk[column] = chunk[column].astype(bool)
            elif columns.get(column) == "BIGINT":
                chunk[column] = chunk[column].astype("int64")
        cases = failure_cases(schema, chunk)
        if cases.empty:
            continue
        structural = cases[cases["index"].isna()]
        if not structural.empty:
            first = structural.iloc[0]
            raise ConfigError(f"{relation}: harmonised table does not fit schemas/{target}.py: "
                              f"column {first['column']}: {first['check']}")
        cases = cases[cases["column"].astype(str) != "_row"].copy()
        named = cases["check"].map(DATAFRAME_CHECK_COLUMNS)
        cases.loc[named.notna(), "column"] = named[named.notna()]
        cases = cases.drop_duplicates(subset=["index", "check"])
        rows = chunk.loc[cases["index"].astype(int), "_row"].to_numpy()
        values = [chunk.at[int(i), c] if c in chunk.columns else None
                  for i, c in zip(cases["index"], cases["column"])]
        out.append(pd.DataFrame({"source_row": rows, "column": cases["column"].astype(str).to_numpy(),
                                 "value": [None if v is None or v is pd.NA else str(v) for v in values],
                                 "rule": cases["check"].astype(str).replace(CHECK_NAMES).to_numpy()}))
    return pd.concat(out, ignore_index=True)


def audit_staged(con, target: str, source_id: str) -> pd.DataFrame:
    """Re-validate what is staged for one source against the target's pandera model (the blocking check's
    audit): failures as (source_row = position by respondent id, column, value, rule), empty when clean."""
    table = harmonised_sources()[target].table
    relation = (f"(SELECT row_number() OVER (ORDER BY respondent_id) AS _row, * FROM {table} "
                f"WHERE source_id = {sql_string(source_id)})")
    return schema_failures(con, relation, target)


def design_summary(con, candidate: str) -> dict:
    strata, psus, n, wmin, wmax, wsum = con.execute(
        f"SELECT count(DISTINCT stratum), count(DISTINCT (stratum, psu)), count(*), min(weight), max(weight), "
        f"sum(weight) FROM {candidate}").fetchone()
    lonely = [r[0] for r in con.execute(f"""SELECT stratum FROM {candidate} GROUP BY stratum
                                            HAVING count(DISTINCT psu) = 1 ORDER BY 1""").fetchall()]
    return {"rows": int(n), "strata": int(strata), "psus": int(psus), "weight_min": wmin, "weight_max": wmax,
            "weight_sum": wsum, "lonely_psu_strata": lonely}


# ---------------------------------------------------------------------------------------------- harmonise
def harmonise_source(con: duckdb.DuckDBPyConnection, spec: MappingSpec) -> SourceResult:
    """Harmonise and audit one source already read into raw; write staging and quality tables for it."""
    ensure_schemas(con)
    raw = tables.raw_delivery_table(spec.target, spec.source_id)
    raw_columns = {r[0]: r[1] for r in con.execute(f"DESCRIBE {raw}").fetchall()}
    missing = _spec_columns_missing(spec, raw_columns)
    unmapped = sorted(set(raw_columns) - {"_row"} - _spec_columns(spec) - set(spec.ignore))
    rows = con.execute(f"SELECT count(*) FROM {raw}").fetchone()[0]
    if missing or unmapped:
        reasons = [f"column {c!r} named in the spec (key {k}) is not in the file" for k, c in missing]
        if unmapped:
            reasons.append(f"column(s) in the file that the spec neither maps nor ignores: {', '.join(unmapped)}")
        result = SourceResult(spec.source_id, "rejected", rows, 0, 0, reasons)
        _write(con, spec, result, None, pd.DataFrame(columns=REJECTED_COLUMNS))
        return result
    con.execute(f"CREATE OR REPLACE TEMP TABLE _candidate AS {compile_mapping(spec, raw_columns)}")
    candidate = "_candidate"
    # a multi-country file (PISA) names its country column; strata then lie within countries
    reasons = _design_problems(con, candidate, multi_country=spec.country_column is not None)
    failures = _row_failures(con, candidate, spec)
    bad_rows = failures["source_row"].nunique()
    share = bad_rows / rows if rows else 0
    if share > spec.max_rejected_share:
        reasons.append(f"{bad_rows} of {rows} rows ({share:.1%}) break a row rule, more than the spec's "
                       f"max_rejected_share of {spec.max_rejected_share:.1%}")
    status = "rejected" if reasons else "accepted"
    result = SourceResult(
        spec.source_id, status, rows, 0 if reasons else rows - bad_rows, bad_rows, reasons,
        rule_counts={str(k): int(v) for k, v in failures.groupby("rule")["source_row"].nunique().items()},
        first_failures=failures.head(MAX_FAILURES_SHOWN).to_dict("records"),
        design=design_summary(con, candidate))
    failures.insert(0, "source_id", spec.source_id)
    _write(con, spec, result, candidate, failures[REJECTED_COLUMNS])
    con.execute("DROP TABLE IF EXISTS _candidate")
    return result


def withdraw_source(con: duckdb.DuckDBPyConnection, target: str, source_id: str, reason: str) -> None:
    """Take a source out of staging (its delivery cannot be read, or its spec is gone) and record why, so that
    nothing estimated or published still rests on its earlier rows."""
    ensure_schemas(con)
    table = harmonised_sources()[target].table
    _create_tables(con, target)
    con.execute(f"DELETE FROM {table} WHERE source_id = ?", [source_id])
    con.execute(f"DELETE FROM {tables.QUALITY_SOURCE_STATUS} WHERE source_id = ?", [source_id])
    con.execute(f"INSERT INTO {tables.QUALITY_SOURCE_STATUS} VALUES (?, ?, 'rejected', 0, 0, 0, ?, now())",
                [source_id, target, reason])


def delivery_statuses(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every survey delivery of the build with its verdict (accepted / rejected, rows kept and rejected, and the
    reasons), for the release manifest: a rejected or withdrawn delivery is listed with why it was left out."""
    if not table_exists(con, tables.QUALITY_SOURCE_STATUS):
        return []
    frame = con.execute(f"""SELECT source_id, target, status, rows, accepted_rows, rejected_rows,
                                   nullif(reasons, '') AS reasons
                            FROM {tables.QUALITY_SOURCE_STATUS} ORDER BY source_id""").df()
    return [{k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in frame.to_dict("records")]


def _create_tables(con, target: str) -> None:
    table = harmonised_sources()[target].table
    definition = ", ".join(f"{quote_identifier(c)} {t}" for c, t in target_columns(target).items())
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({definition})")
    con.execute(f"""CREATE TABLE IF NOT EXISTS {tables.QUALITY_REJECTED_ROWS}
                    (source_id VARCHAR, source_row BIGINT, "column" VARCHAR, value VARCHAR, rule VARCHAR)""")
    con.execute(f"""CREATE TABLE IF NOT EXISTS {tables.QUALITY_SOURCE_STATUS}
                    (source_id VARCHAR, target VARCHAR, status VARCHAR, rows BIGINT, accepted_rows BIGINT,
                     rejected_rows BIGINT, reasons VARCHAR, checked_at TIMESTAMP)""")


def _spec_columns(spec: MappingSpec) -> set[str]:
    d = spec.design
    used = {*_columns_of(d.respondent_id), *_columns_of(d.stratum), *_columns_of(d.psu), d.weight, *spec.rename}
    used |= {c for c in (d.fpc, spec.country_column, spec.wave_column) if c}
    return used


def _spec_columns_missing(spec: MappingSpec, raw_columns: list[str]) -> list[tuple[str, str]]:
    d = spec.design
    named = [*((f"design.{key}", c) for key in ("respondent_id", "stratum", "psu")
               for c in _columns_of(getattr(d, key))),
             ("design.weight", d.weight), ("design.fpc", d.fpc), ("country_column", spec.country_column),
             ("wave_column", spec.wave_column)] + [(f"rename.{c}", c) for c in spec.rename]
    return [(key, column) for key, column in named if column and column not in raw_columns]


def _write(con, spec: MappingSpec, result: SourceResult, candidate: str | None, failures: pd.DataFrame) -> None:
    table = harmonised_sources()[spec.target].table
    columns = target_columns(spec.target)
    _create_tables(con, spec.target)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {table} WHERE source_id = ?", [spec.source_id])
        if result.accepted and candidate:
            names = ", ".join(quote_identifier(c) for c in columns)
            if failures.empty:
                con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {candidate}")
            else:
                _insert_valid(con, table, names, candidate, failures)
        con.execute(f"DELETE FROM {tables.QUALITY_REJECTED_ROWS} WHERE source_id = ?", [spec.source_id])
        if not failures.empty:
            con.register("_failures", failures)
            con.execute(f'INSERT INTO {tables.QUALITY_REJECTED_ROWS} SELECT source_id, source_row, "column", value, '
                        "rule FROM _failures")
            con.unregister("_failures")
        con.execute(f"DELETE FROM {tables.QUALITY_SOURCE_STATUS} WHERE source_id = ?", [spec.source_id])
        con.execute(f"INSERT INTO {tables.QUALITY_SOURCE_STATUS} VALUES (?, ?, ?, ?, ?, ?, ?, now())",
                    [spec.source_id, spec.target, result.status, result.rows, result.accepted_rows,
                     result.rejected_rows, "; ".join(result.reasons)])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _insert_valid(con, table: str, names: str, candidate: str, failures: pd.DataFrame) -> None:
    con.register("_failed_rows", failures[["source_row"]].drop_duplicates())
    con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {candidate} "
                "WHERE _row NOT IN (SELECT source_row FROM _failed_rows)")
    con.unregister("_failed_rows")
