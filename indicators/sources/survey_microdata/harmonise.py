"""Harmonise one delivered microdata source into its standard table (staging.child_survey) and audit it.

The mapping spec is compiled to one SQL SELECT over the raw table: renames, missing codes to null, recodes,
type casts, derived bands. Then, for the source as a whole:
- design rules (checked in SQL over all rows): weight present and > 0, stratum and PSU present, respondent ids
  unique, fpc constant within a stratum: any breach rejects the whole source;
- row rules: codes the spec does not recode, values of the wrong type (SQL flags), and the row-level checks of
  the pandera model of the target (validated chunk by chunk, never the whole file in pandas): failing rows go
  to quality.rejected_rows with source, row, column, value and rule;
- if more than the spec's max_rejected_share of rows is rejected, the whole source is rejected.
Every failure is said where the provider looks: the file's line (a CSV, header = line 1) or record number (binary
formats), the file's own column with the harmonised name beside it when the spec renames it, the value as
delivered and the rule in words ("line 3, column 'peso' (weight): weight must be greater than 0 (value '0')").
An accepted source's valid rows replace its rows in staging; a rejected source leaves none there, so nothing
that depends on it can be estimated or published. quality.source_status says which and why.
"""

from __future__ import annotations

import re

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pandera.pandas as pa

from indicators import tables
from indicators.errors import ConfigError, Violation
from indicators.tables import quote_identifier, sql_string, table_exists
from indicators.warehouse import ensure_schemas
from schemas.mapping_spec import Bands, MappingSpec
from indicators.sources import harmonised_sources
from schemas.validation import check_in_words, failure_cases

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
HARMONISE_BATCH_ROWS = 500_000   # delivered rows mapped at once (held in memory) for one pandera pass
HARMONISE_THREADS = 2            # sources mapped at once (the CI machine has 2 cores)
SCRATCH = "_harmonise_scratch"   # in-memory database attached for the mapped rows of a batch
MAX_FAILURES_SHOWN = 20
# quality.rejected_rows: source_row is the record number (1 = first record), `column` the harmonised variable,
# `value` as delivered and `rule` in words; line (a CSV's line, header = 1), file_column and message say it as the
# provider reads it
REJECTED_COLUMNS = ["source_id", "source_row", "column", "value", "rule", "line", "file_column", "message"]
SPEC_COLUMNS_LISTED = 3  # more spec columns absent from the file than this are one reason, not one each


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


def _code_text(code: object) -> str:
    return format(code, "g") if isinstance(code, float) else str(code)


def type_in_words(variable: str, target_type: str) -> str:
    """The rule a value of the wrong type breaks, in words."""
    kind = {"BOOLEAN": "1, 0, true or false", "BIGINT": "a whole number", "DOUBLE": "a number",
            "DATE": "a date"}.get(target_type, f"of type {target_type.lower()}")
    return f"{variable} must be {kind}"


def recode_in_words(variable: str, codes: list, missing: list) -> str:
    """The rule a code the spec's recode does not know breaks: the file's codes it knows (and its missing codes)."""
    words = f"{variable} must be one of: {', '.join(_code_text(c) for c in codes)}"
    return words + (f" (or a missing code: {', '.join(_code_text(c) for c in missing)})" if missing else "")


def _audit_columns(variable: str, raw_sql: str, flag_sql: str | None) -> list[str]:
    """The `__raw__<variable>` (the value as delivered, as text) and `__flag__<variable>` (the rule it breaks,
    in words, or null) columns a harmonised variable carries for the audit."""
    flag = flag_sql or "CAST(NULL AS VARCHAR)"
    return [f"{flag} AS {quote_identifier('__flag__' + variable)}",
            f"{raw_sql} AS {quote_identifier('__raw__' + variable)}"]


def _unreadable_flag(raw_sql: str, value_sql: str, words: str) -> str:
    """A value given (not blank) that the cast could not read."""
    return f"CASE WHEN NULLIF(trim({raw_sql}), '') IS NOT NULL AND {value_sql} IS NULL THEN {sql_string(words)} END"


def compile_mapping(spec: MappingSpec, raw_columns: dict[str, str]) -> str:
    """SELECT producing the target's columns plus `_row` (and a CSV's `_line`), and for the audit a
    `__raw__<variable>` and `__flag__<variable>` column per variable read from the file."""
    columns = target_columns(spec.target)
    position = ["_row", "_line"] if "_line" in raw_columns else ["_row"]
    types = raw_columns

    def text(column: str) -> str:
        return _text(quote_identifier(column), types.get(column, "VARCHAR"))

    select = [*position, f"{sql_string(spec.source_id)} AS source_id"]
    audit: list[str] = []  # the __raw__/__flag__ columns of the `audited` variables, passed on to the outer level
    audited: list[str] = []
    if spec.country:
        select.append(f"{sql_string(spec.country)} AS country")
    else:
        mapped = " ".join(f"WHEN {_matches(quote_identifier(spec.country_column), k)} THEN {_literal(v)}"
                          for k, v in spec.country_codes.items())
        raw = f"upper(trim(CAST({quote_identifier(spec.country_column)} AS VARCHAR)))"
        select.append(f"CASE {mapped} ELSE {raw} END AS country" if mapped else f"{raw} AS country")
        audit += _audit_columns("country", text(spec.country_column), None)
        audited.append("country")
    if spec.wave is not None:
        select.append(f"{spec.wave} AS wave")
    else:
        wave = f"TRY_CAST({quote_identifier(spec.wave_column)} AS BIGINT)"
        select.append(f"{wave} AS wave")
        audit += _audit_columns("wave", text(spec.wave_column),
                                _unreadable_flag(text(spec.wave_column), wave, type_in_words("wave", "BIGINT")))
        audited.append("wave")
    d = spec.design
    select += [f"{_identifier(d.respondent_id, types)} AS respondent_id",
               f"{_identifier(d.stratum, types)} AS stratum", f"{_identifier(d.psu, types)} AS psu"]
    for variable, column in (("weight", d.weight), ("fpc", d.fpc)):
        if column is None:
            select.append(f"CAST(NULL AS DOUBLE) AS {variable}")
            continue
        value = f"TRY_CAST({quote_identifier(column)} AS DOUBLE)"
        select.append(f"{value} AS {variable}")
        audit += _audit_columns(variable, text(column), _unreadable_flag(text(column), value,
                                                                         type_in_words(variable, "DOUBLE")))
        audited.append(variable)
    replicates = replicate_columns(spec, raw_columns)
    if replicates:
        values = [f"TRY_CAST({quote_identifier(c)} AS DOUBLE)" for c in replicates]
        select.append(f"list_value({', '.join(values)}) AS _replicate_weights")
        # the first replicate column of the row that is missing, not a number or negative (null: all good)
        bad = " ".join(f"WHEN {v} IS NULL OR {v} < 0 THEN {sql_string(c)}" for c, v in zip(replicates, values))
        select.append(f"CASE {bad} END AS _replicate_problem")
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
            words = recode_in_words(variable, list(spec.recode[variable]), missing)
            flag = f"CASE WHEN {src} IS NOT NULL AND NOT ({is_missing}) AND NOT ({known}) THEN {sql_string(words)} END"
            select.append(f"{_cast(value, target_type)} AS {quote_identifier(variable)}")
        else:
            select.append(f"{_cast(cleaned, target_type)} AS {quote_identifier(variable)}")
            flag = (f"CASE WHEN {src} IS NOT NULL AND NOT ({is_missing}) AND {_cast(cleaned, target_type)} "
                    f"IS NULL THEN {sql_string(type_in_words(variable, target_type))} END")
        audit += _audit_columns(variable, text(source_column), flag)
        audited.append(variable)
    first = f"SELECT {', '.join(select + audit)} FROM {tables.raw_delivery_table(spec.target, spec.source_id)}"
    # second level: derived variables and absent columns, in the target's column order
    provided = {"source_id", "country", "wave", "respondent_id", "stratum", "psu", "weight", "fpc",
                *spec.rename.values()}
    outer = list(position) + (["_replicate_weights", "_replicate_problem"] if replicates else [])
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
                words = f"{rule.from_} must be within one of the bands of {column}: {', '.join(rule.bands)}"
                # the value outside every band is the `from` variable's, as delivered
                flags_derived.append(
                    f"CASE WHEN {source} IS NOT NULL AND NOT ({in_a_band}) THEN {sql_string(words)} END "
                    f"AS {quote_identifier('__flag__' + column)}, "
                    f"{quote_identifier('__raw__' + rule.from_)} AS {quote_identifier('__raw__' + column)}")
            else:
                outer.append(f"CAST({_literal(rule.value)} AS {column_type}) AS {quote_identifier(column)}")
        elif column in provided:
            outer.append(quote_identifier(column))
        else:
            outer.append(f"CAST(NULL AS {column_type}) AS {quote_identifier(column)}")
    passed_on = [quote_identifier(f"{kind}{v}") for v in audited for kind in ("__flag__", "__raw__")]
    return f"SELECT {', '.join(outer + passed_on + flags_derived)} FROM ({first})"


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


REQUIRED_MISSING = "required value is missing"
REQUIRED_MISSING_CODE = "required value is a missing code in the spec"


def replicate_columns(spec: MappingSpec, raw_columns) -> list[str]:
    """The file's replicate-weight columns in file order: the names listed, or those the regular expression finds
    anywhere in a column name (R's svrepdesign(repweights = "...") greps the same way); [] without replicates."""
    declared = spec.design.replicate_weights
    if declared is None:
        return []
    if isinstance(declared.columns, list):
        return [c for c in declared.columns if c in raw_columns]
    pattern = re.compile(declared.columns)
    return [c for c in raw_columns if c not in ("_row", "_line") and pattern.search(c)]


def replicate_problems(spec: MappingSpec, raw_columns) -> list[str]:
    """Why the declared replicate weights cannot be used, before any row is read: no column matches, fewer than
    two replicates, or rscales that do not give one value per replicate."""
    declared = spec.design.replicate_weights
    if declared is None:
        return []
    found = replicate_columns(spec, raw_columns)
    if isinstance(declared.columns, str) and not found:
        return [f"design.replicate_weights.columns: no column of the file matches {declared.columns!r}"]
    if len(found) < 2:
        return [f"design.replicate_weights: {len(found)} replicate weight column(s) found; a replicate variance "
                "needs at least 2"]
    if declared.rscales is not None and len(declared.rscales) not in (1, len(found)):
        return [f"design.replicate_weights.rscales: {len(declared.rscales)} value(s) for {len(found)} replicate "
                "weight columns (give one value per replicate, or one for all)"]
    return []


def file_columns(spec: MappingSpec) -> dict[str, str | list[str]]:
    """Harmonised variable -> the file column(s) it is read from, by the provider's own names. Variables the
    spec sets itself (a fixed country or wave, a constant) have none."""
    d = spec.design
    names: dict[str, str | list[str]] = {"respondent_id": d.respondent_id, "stratum": d.stratum, "psu": d.psu,
                                         "weight": d.weight}
    for variable, column in (("fpc", d.fpc), ("country", spec.country_column), ("wave", spec.wave_column)):
        if column:
            names[variable] = column
    for source_column, variable in spec.rename.items():
        names.setdefault(variable, source_column)
    return names


def column_in_words(file_column: str | list[str] | None, variable: str) -> str:
    """"column 'peso' (weight)", "column 'sex'" (not renamed), "columns 'cnt', 'id' (respondent_id)"."""
    if file_column is None:
        return f"variable {variable!r} (set by the spec)"
    names = _columns_of(file_column)
    if len(names) > 1:
        return f"columns {', '.join(map(repr, names))} ({variable})"
    return f"column {names[0]!r}" + (f" ({variable})" if names[0] != variable else "")


def _positions(lines: list | None, rows: list, n: int) -> str:
    """Where rows are, as the provider finds them: "lines 3, 7" in a CSV (header = line 1), else "records 2, 6"
    (binary formats, or a CSV whose lines are unknown); "line 3" for one; ", ..." when there are more than shown."""
    by_line = lines is not None and all(line is not None for line in lines)
    numbers = lines if by_line else rows
    word = ("line" if by_line else "record") + ("s" if n > 1 else "")
    return f"{word} {', '.join(map(str, numbers))}{', ...' if n > len(numbers) else ''}"


def _has_lines(con, relation: str) -> bool:
    return any(name == "_line" for name, *_ in con.execute(f"DESCRIBE {relation}").fetchall())


def _design_problems(con, candidate: str, spec: MappingSpec, multi_country: bool = False) -> list[str]:
    """Source-level design rules, over all rows in SQL; any breach rejects the source. Each names the file's
    column, the first lines (or records) and, for the weight, the values as delivered."""
    names = file_columns(spec)
    lines = "list(_line ORDER BY _row)" if _has_lines(con, candidate) else "NULL"
    checks = [("weight", "weight IS NULL OR weight <= 0", "missing, not a number, zero or negative"),
              ("stratum", "stratum IS NULL", "missing"), ("psu", "psu IS NULL", "missing"),
              ("respondent_id", "respondent_id IS NULL", "missing")]
    problems = []
    for variable, condition, what in checks:
        delivered = 'list("__raw__weight" ORDER BY _row)[1:5]' if variable == "weight" else "NULL"
        n, rows, where, values = con.execute(
            f"SELECT count(*), list(_row ORDER BY _row)[1:5], {lines}[1:5], {delivered} FROM {candidate} "
            f"WHERE {condition}").fetchone()
        if n:
            shown = [v for v in values or [] if v is not None]
            problems.append(f"design variable broken: {column_in_words(names.get(variable), variable)} {what} in "
                            f"{n} row(s) ({_positions(where, rows, n)}"
                            + (f"; values {', '.join(map(repr, shown))})" if shown else ")"))
    if spec.design.replicate_weights is not None:
        n, rows, where, columns = con.execute(
            f"SELECT count(*), list(_row ORDER BY _row)[1:5], {lines}[1:5], list(_replicate_problem ORDER BY _row)[1:5] "
            f"FROM {candidate} WHERE _replicate_problem IS NOT NULL").fetchone()
        if n:
            problems.append(f"design variable broken: replicate weight missing, not a number or negative in {n} "
                            f"row(s) ({_positions(where, rows, n)}; column(s) "
                            f"{', '.join(dict.fromkeys(map(repr, columns)))}); every unit needs every replicate "
                            "weight, >= 0")
    repeated = con.execute(f"""SELECT count(*) OVER (), respondent_id, {lines}[1:5], list(_row ORDER BY _row)[1:5],
                                      count(*)
                               FROM {candidate} WHERE respondent_id IS NOT NULL GROUP BY respondent_id
                               HAVING count(*) > 1 ORDER BY min(_row) LIMIT 3""").fetchall()
    if repeated:
        examples = "; ".join(f"{rid!r} at {_positions(where, rows, n)}" for _, rid, where, rows, n in repeated)
        problems.append(f"respondent id not unique: {repeated[0][0]} id(s) repeated in "
                        f"{column_in_words(names['respondent_id'], 'respondent_id')} (e.g. {examples})")
    n, strata = con.execute(f"""SELECT count(*), list(stratum)[1:5] FROM (SELECT stratum FROM {candidate}
                                GROUP BY 1 HAVING count(DISTINCT fpc) > 1 OR (count(fpc) > 0 AND count(fpc) < count(*))
                                OR min(fpc) < count(DISTINCT psu))""").fetchone()
    if n:
        problems.append(f"{column_in_words(names.get('fpc'), 'fpc')} not constant within stratum, or below the number "
                        f"of PSUs sampled: {n} stratum/strata (e.g. {', '.join(map(str, strata))}; the harmonised "
                        "fpc is the number of PSUs in the stratum's population, not a sampling fraction)")
    n, waves = con.execute(f"SELECT count(DISTINCT wave), list(DISTINCT wave ORDER BY wave)[1:5] "
                           f"FROM {candidate}").fetchone()
    if n > 1:
        problems.append(f"a source must cover one wave; {column_in_words(names.get('wave'), 'wave')} has {n}: "
                        f"{', '.join(map(str, waves))}")
    if not multi_country:
        n = con.execute(f"SELECT count(DISTINCT country) FROM {candidate}").fetchone()[0]
        if n > 1:
            problems.append(f"a source with a fixed country must cover one country; this one has {n}")
    return problems


def _flag_failures(con, candidate: str, spec: MappingSpec) -> list[pd.DataFrame]:
    """Rows the compiled mapping flagged (a code the spec does not recode, a value of the wrong type, an age outside
    every band): (source_row, column, value, rule), one query over every flag column, in flag-column order."""
    flags = [name for name, *_ in con.execute(f"DESCRIBE {candidate}").fetchall() if name.startswith("__flag__")]
    if not flags:
        return []
    bands = {variable: rule.from_ for variable, rule in spec.derive.items() if isinstance(rule, Bands)}
    selects = []
    for position, flag in enumerate(flags):
        variable = flag.removeprefix("__flag__")
        # a value outside every band is the `from` variable's (age), not the band's
        selects.append(f"""SELECT {position} AS _flag, _row AS source_row,
                                  {sql_string(bands.get(variable, variable))} AS "column",
                                  CAST({quote_identifier('__raw__' + variable)} AS VARCHAR) AS value,
                                  {quote_identifier(flag)} AS rule
                           FROM {candidate} WHERE {quote_identifier(flag)} IS NOT NULL""")
    flagged = con.execute(" UNION ALL ".join(selects) + " ORDER BY _flag, source_row").df()
    return [flagged.drop(columns="_flag")]


def _row_failures(con, candidate: str, spec: MappingSpec, file_name: str, flagged: list[pd.DataFrame],
                  schema: pd.DataFrame) -> pd.DataFrame:
    """Rows breaking a row rule, one line per row, column and rule, as quality.rejected_rows holds them (without
    source_id): the record, the harmonised column, the value as delivered, the rule in words, and where the
    provider finds it (line, file column) said in one message. `flagged`: _flag_failures; `schema`: the candidate's
    schema_failures."""
    out = [*flagged, schema]
    failures = pd.concat([f for f in out if not f.empty] or [out[-1]], ignore_index=True)
    audit = [name for name, *_ in con.execute(f"DESCRIBE {candidate}").fetchall() if name.startswith("__raw__")]
    delivered = [name.removeprefix("__raw__") for name in audit]
    failures = _delivered_values(con, candidate, failures, delivered)
    # a value the spec could not read is also null afterwards: report the cause, not the consequence
    required = failures["rule"] == REQUIRED_MISSING
    explained = failures[~required].set_index(["source_row", "column"]).index
    keep = ~required | ~failures.set_index(["source_row", "column"]).index.isin(explained)
    failures = failures[keep].sort_values(["source_row", "column"], ignore_index=True)
    failures["source_row"] = failures["source_row"].astype("int64")
    # a required value that was delivered and is still null was declared missing by the spec
    given = failures["value"].map(lambda v: v is not None and str(v).strip() != "")
    failures.loc[(failures["rule"] == REQUIRED_MISSING) & given, "rule"] = REQUIRED_MISSING_CODE
    return _located(con, candidate, spec, failures, file_name)


def _delivered_values(con, candidate: str, failures: pd.DataFrame, delivered: list[str]) -> pd.DataFrame:
    """The value of each failure as delivered (the file's text, `__raw__<variable>`) where the variable is read
    from the file; the harmonised value otherwise."""
    variables = sorted(set(failures["column"]) & set(delivered))
    failures = failures.assign(value=failures["value"].astype(object))
    if failures.empty or not variables:
        return failures
    con.register("_failing", failures[["source_row"]].drop_duplicates())
    raw = con.execute(f"""SELECT _row AS source_row,
                                 {', '.join(f"{quote_identifier('__raw__' + v)} AS {quote_identifier(v)}"
                                            for v in variables)}
                          FROM {candidate} WHERE _row IN (SELECT source_row FROM _failing)""").df()
    con.unregister("_failing")
    long = raw.melt(id_vars="source_row", var_name="column", value_name="_delivered")
    merged = failures.merge(long.astype({"source_row": failures["source_row"].dtype}), how="left",
                            on=["source_row", "column"])
    from_file = merged["column"].isin(variables)
    merged.loc[from_file, "value"] = merged.loc[from_file, "_delivered"]
    merged["value"] = merged["value"].map(lambda v: None if v is None or (not isinstance(v, str) and pd.isna(v))
                                          else str(v))
    return merged.drop(columns="_delivered")


def _located(con, candidate: str, spec: MappingSpec, failures: pd.DataFrame, file_name: str) -> pd.DataFrame:
    """Add where the provider finds each failure: `line` (a CSV's line, header = 1; null for binary formats),
    `file_column` (the file's own name(s), comma-joined) and `message`, e.g. "kids.csv, line 3, column 'peso'
    (weight): weight must be greater than 0 (value '0')"."""
    lines: dict[int, int] = {}
    if not failures.empty and _has_lines(con, candidate):
        con.register("_failing", failures[["source_row"]].drop_duplicates())
        lines = dict(con.execute(f"SELECT _row, _line FROM {candidate} WHERE _line IS NOT NULL AND "
                                 "_row IN (SELECT source_row FROM _failing)").fetchall())
        con.unregister("_failing")
    names = {variable: ", ".join(_columns_of(c)) for variable, c in file_columns(spec).items()}
    failures = failures.assign(line=failures["source_row"].map(lines).astype("Int64"),
                               file_column=failures["column"].map(names))
    failures["message"] = [
        str(Violation(file_name, rule, int(row) if pd.isna(line) else int(line),
                      None if pd.isna(file_column) else file_column, value, harmonised=column,
                      position="record" if pd.isna(line) else "line"))
        for row, line, column, file_column, value, rule in failures[["source_row", "line", "column", "file_column",
                                                                     "value", "rule"]].itertuples(index=False)]
    return failures


def _words_of_cases(schema: pa.DataFrameSchema, cases: pd.DataFrame) -> pd.Series:
    """The rule of each pandera failure case in words (schemas.validation.check_in_words), looked up once per
    distinct check from the check object the case names (its column and number)."""
    keys = ["schema_context", "column", "check", "check_number"]
    words = {}
    for context, column, check, number in cases[keys].astype(str).drop_duplicates().itertuples(index=False):
        words[(context, column, check, number)] = _case_in_words(schema, context, column, check, number)
    return pd.Series([words[tuple(k)] for k in cases[keys].astype(str).itertuples(index=False)], index=cases.index)


def _case_in_words(schema: pa.DataFrameSchema, context: str, column: str, check: str, number: str) -> str:
    """One failure case's rule in words; pandera's own name of the check when no check object is behind it."""
    if check == "multiple_fields_uniqueness" and schema.unique:
        *within, last = schema.unique
        return f"{last} must be unique within {', '.join(within)}" if within else f"{last} must be unique"
    if number in ("None", "nan", "<NA>"):
        return CHECK_NAMES.get(check, check)
    if context == "Column" and column in schema.columns:
        siblings = schema.columns[column].checks
        found = siblings[int(float(number))]
    elif context == "DataFrameSchema":
        siblings, found = (), schema.checks[int(float(number))]
    else:
        return CHECK_NAMES.get(check, check)
    # a check inherited from a base model may come under its method name (see SOURCE_LEVEL_CHECKS)
    return CHECK_NAMES.get(found.name) or check_in_words(found, column, siblings)


def schema_failures(con, relation: str, target: str, parts: bool = False) -> pd.DataFrame:
    """Row checks of the target's pandera model over a relation with a `_row` column, chunk by chunk (never
    the whole table in pandas): (source_row, column, value, rule), the rule in words.

    `parts`: the relation stacks several sources, told apart by a `_part` column (their rows numbered each from 1):
    the failures then keep `_part`. pandera's cost is mostly per column and per call, so one pass over every
    delivery of a build costs about what a pass over two of them does."""
    keys = ["_part", "_row"] if parts else ["_row"]
    out = [pd.DataFrame(columns=[*keys[:-1], "source_row", "column", "value", "rule"])]
    columns = target_columns(target)
    schema = _row_schema(target)
    names = ", ".join(quote_identifier(c) for c in columns)
    reader = con.execute(f"SELECT {', '.join(keys)}, {names} FROM {relation} ORDER BY {', '.join(keys)}")
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
            at = where.index.get_level_values(0)
            out.append(pd.DataFrame({**{k: chunk.loc[at, k].to_numpy() for k in keys[:-1]},
                                     "source_row": chunk.loc[at, "_row"].to_numpy(),
                                     "column": where.index.get_level_values(1).astype(str),
                                     "value": None, "rule": REQUIRED_MISSING}))
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
        cases = cases[~cases["column"].astype(str).isin(keys)].copy()
        cases["words"] = _words_of_cases(schema, cases)
        named = cases["check"].map(DATAFRAME_CHECK_COLUMNS)
        cases.loc[named.notna(), "column"] = named[named.notna()]
        if schema.unique:  # a repeated key is reported on its last column (respondent_id)
            cases.loc[cases["check"] == "multiple_fields_uniqueness", "column"] = schema.unique[-1]
        cases = cases.drop_duplicates(subset=["index", "check"])
        at = cases["index"].astype(int)
        values = [chunk.at[int(i), c] if c in chunk.columns else None
                  for i, c in zip(cases["index"], cases["column"])]
        out.append(pd.DataFrame({**{k: chunk.loc[at, k].to_numpy() for k in keys[:-1]},
                                 "source_row": chunk.loc[at, "_row"].to_numpy(),
                                 "column": cases["column"].astype(str).to_numpy(),
                                 "value": [None if v is None or v is pd.NA else str(v) for v in values],
                                 "rule": cases["words"].to_numpy()}))
    return pd.concat(out, ignore_index=True)


def audit_staged(con, target: str, source_ids: str | list[str]) -> pd.DataFrame:
    """Re-validate what is staged for one or more sources against the target's pandera model, in one pass (the
    blocking check's audit): failures as (source_id, source_row = position by respondent id within its source,
    column, value, rule), empty when clean."""
    table = harmonised_sources()[target].table
    wanted = [source_ids] if isinstance(source_ids, str) else list(source_ids)
    if not wanted:
        return pd.DataFrame(columns=["source_id", "source_row", "column", "value", "rule"])
    listed = ", ".join(sql_string(s) for s in wanted)
    staged = [s for (s,) in con.execute(f"SELECT DISTINCT source_id FROM {table} WHERE source_id IN ({listed}) "
                                        "ORDER BY 1").fetchall()]
    relation = (f"(SELECT dense_rank() OVER (ORDER BY source_id) AS _part, "
                f"row_number() OVER (PARTITION BY source_id ORDER BY respondent_id) AS _row, * FROM {table} "
                f"WHERE source_id IN ({listed}))")
    failures = schema_failures(con, relation, target, parts=True)
    failures.insert(0, "source_id", [staged[int(k) - 1] for k in failures.pop("_part")])
    return failures


def design_summary(con, candidate: str) -> dict:
    strata, psus, n, wmin, wmax, wsum = con.execute(
        f"SELECT count(DISTINCT stratum), count(DISTINCT (stratum, psu)), count(*), min(weight), max(weight), "
        f"sum(weight) FROM {candidate}").fetchone()
    lonely = [r[0] for r in con.execute(f"""SELECT stratum FROM {candidate} GROUP BY stratum
                                            HAVING count(DISTINCT psu) = 1 ORDER BY 1""").fetchall()]
    return {"rows": int(n), "strata": int(strata), "psus": int(psus), "weight_min": wmin, "weight_max": wmax,
            "weight_sum": wsum, "lonely_psu_strata": lonely}


# ---------------------------------------------------------------------------------------------- harmonise
# A compiled mapping is one projection of hundreds of CASE / TRY_CAST expressions over one table: DuckDB's
# in-clause and common-subexpression optimizers spend more time planning it than DuckDB spends running it
# (0.32 s against 0.17 s for a 3,000-row delivery), and have nothing to gain on a projection without joins.
MAPPING_SKIPPED_OPTIMIZERS = ("in_clause", "common_subexpressions")


@contextmanager
def optimizers_disabled(con: duckdb.DuckDBPyConnection, names: tuple[str, ...]):
    """Run the block with DuckDB optimizers `names` disabled (besides any already disabled), then restore."""
    before = con.execute("SELECT current_setting('disabled_optimizers')").fetchone()[0] or ""
    wanted = sorted({*filter(None, (n.strip() for n in before.split(","))), *names})
    con.execute(f"SET disabled_optimizers = {sql_string(','.join(wanted))}")
    try:
        yield
    finally:
        con.execute(f"SET disabled_optimizers = {sql_string(before)}")


def harmonise_source(con: duckdb.DuckDBPyConnection, spec: MappingSpec) -> SourceResult:
    """Harmonise and audit one source already read into raw; write staging and quality tables for it."""
    return harmonise_sources(con, [spec])[spec.source_id]


@dataclass
class _Candidate:
    """A source mapped to its target's columns (a temp table) and its source-level verdict, awaiting the row
    checks of the pandera model."""

    spec: MappingSpec
    table: str
    rows: int
    reasons: list[str]
    flagged: list[pd.DataFrame]


def harmonise_sources(con: duckdb.DuckDBPyConnection, specs: list[MappingSpec]) -> dict[str, SourceResult]:
    """Harmonise and audit sources already read into raw, each on its own (one's rejection leaves the others'
    verdicts unchanged); write staging and quality tables for each.

    Sources are taken in batches of up to HARMONISE_BATCH_ROWS delivered rows. A batch's sources are mapped and
    their source-level rules checked on HARMONISE_THREADS connections at once (DuckDB works outside Python's lock,
    and a compiled mapping is mostly DuckDB parsing and planning), into an in-memory scratch database the build's
    connection sees; then the row checks of the pandera model run once over all their mapped rows (pandera's cost
    is per call and column far more than per row: 24 sample deliveries in one pass take a quarter of the time of
    24 passes), and each source is decided and written in turn."""
    ensure_schemas(con)
    for target in dict.fromkeys(spec.target for spec in specs):
        _create_tables(con, target)
    results: dict[str, SourceResult] = {}
    con.execute(f"ATTACH ':memory:' AS {SCRATCH}")
    try:
        for batch in _batches(con, specs):
            candidates = []
            for spec, mapped in zip(batch, _map_sources(con, batch)):
                if isinstance(mapped, SourceResult):   # the file does not fit the spec
                    _write(con, spec, mapped, None, pd.DataFrame(columns=REJECTED_COLUMNS), tables_ready=True)
                    results[spec.source_id] = mapped
                else:
                    candidates.append(mapped)
            results |= _finish_batch(con, candidates)
    finally:
        con.execute(f"DETACH DATABASE IF EXISTS {SCRATCH}")
    return {spec.source_id: results[spec.source_id] for spec in specs}


def _batches(con, specs: list[MappingSpec]) -> list[list[MappingSpec]]:
    """Consecutive groups of sources of up to HARMONISE_BATCH_ROWS delivered rows (at least one source each)."""
    batches: list[list[MappingSpec]] = [[]]
    rows = 0
    for spec in specs:
        n = con.execute(f"SELECT count(*) FROM {tables.raw_delivery_table(spec.target, spec.source_id)}").fetchone()[0]
        if batches[-1] and rows + n > HARMONISE_BATCH_ROWS:
            batches.append([])
            rows = 0
        batches[-1].append(spec)
        rows += n
    return [b for b in batches if b]


def _map_sources(con, specs: list[MappingSpec]) -> list[_Candidate | SourceResult]:
    """_map_source of each source, HARMONISE_THREADS at a time, each on a connection of its own (a cursor: same
    database, same scratch database) into SCRATCH._candidate_<position>."""
    def map_one(position: int, spec: MappingSpec) -> _Candidate | SourceResult:
        cursor = con.cursor()
        try:
            return _map_source(cursor, spec, f"{SCRATCH}._candidate_{position}")
        finally:
            cursor.close()

    # the setting is the database's, seen by every cursor: set once around the whole batch
    with optimizers_disabled(con, MAPPING_SKIPPED_OPTIMIZERS):
        with ThreadPoolExecutor(max_workers=HARMONISE_THREADS) as pool:
            return list(pool.map(map_one, range(len(specs)), specs))


def _map_source(con, spec: MappingSpec, table: str) -> _Candidate | SourceResult:
    """The source's rows mapped by its spec into table `table`, with its design problems and flagged rows; a
    rejected SourceResult (not yet written) when the file does not fit the spec. Reads only, but for `table`."""
    raw = tables.raw_delivery_table(spec.target, spec.source_id)
    raw_columns = {r[0]: r[1] for r in con.execute(f"DESCRIBE {raw}").fetchall()}
    missing = _spec_columns_missing(spec, raw_columns)
    unmapped = sorted(set(raw_columns) - {"_row", "_line"} - _spec_columns(spec) - set(spec.ignore)
                      - set(replicate_columns(spec, raw_columns)))
    rows = con.execute(f"SELECT count(*) FROM {raw}").fetchone()[0]
    unusable = replicate_problems(spec, raw_columns)
    if missing or unmapped or unusable:
        reasons = _missing_in_words(missing) + unusable
        if unmapped:
            reasons.append(f"column(s) in the file that the spec neither maps nor ignores: {', '.join(unmapped)}")
        return SourceResult(spec.source_id, "rejected", rows, 0, 0, reasons)
    con.execute(f"CREATE OR REPLACE TABLE {table} AS {compile_mapping(spec, raw_columns)}")
    # a multi-country file (PISA) names its country column; strata then lie within countries
    reasons = _design_problems(con, table, spec, multi_country=spec.country_column is not None)
    return _Candidate(spec, table, rows, reasons, _flag_failures(con, table, spec))


def _finish_batch(con, batch: list[_Candidate]) -> dict[str, SourceResult]:
    """Validate the batch's mapped rows (one pandera pass per target), then decide and write each source."""
    if not batch:
        return {}
    checked: dict[str, pd.DataFrame] = {}
    for target in dict.fromkeys(c.spec.target for c in batch):
        members = [(part, c) for part, c in enumerate(batch) if c.spec.target == target]
        names = ", ".join(quote_identifier(column) for column in target_columns(target))
        stacked = " UNION ALL ".join(f"SELECT {part} AS _part, _row, {names} FROM {c.table}" for part, c in members)
        failures = schema_failures(con, f"({stacked})", target, parts=True)
        for part, c in members:
            checked[c.table] = failures[failures["_part"] == part].drop(columns="_part").reset_index(drop=True)
    results = {}
    for c in batch:
        results[c.spec.source_id] = _decide_and_write(con, c, checked[c.table])
        con.execute(f"DROP TABLE IF EXISTS {c.table}")
    return results


def _decide_and_write(con, candidate: _Candidate, schema: pd.DataFrame) -> SourceResult:
    spec, rows, reasons = candidate.spec, candidate.rows, list(candidate.reasons)
    failures = _row_failures(con, candidate.table, spec, _file_name(con, spec), candidate.flagged, schema)
    bad_rows = failures["source_row"].nunique()
    share = bad_rows / rows if rows else 0
    if share > spec.max_rejected_share:
        reasons.append(f"{bad_rows} of {rows} rows ({share:.1%}) break a row rule, more than the spec's "
                       f"max_rejected_share of {spec.max_rejected_share:.1%}")
    status = "rejected" if reasons else "accepted"
    result = SourceResult(
        spec.source_id, status, rows, 0 if reasons else rows - bad_rows, bad_rows, reasons,
        rule_counts={str(k): int(v) for k, v in failures.groupby("rule")["source_row"].nunique().items()},
        first_failures=[_plain(f) for f in failures.head(MAX_FAILURES_SHOWN).to_dict("records")],
        design=design_summary(con, candidate.table))
    failures.insert(0, "source_id", spec.source_id)
    _write(con, spec, result, candidate.table, failures[REJECTED_COLUMNS], tables_ready=True)
    return result


def _missing_in_words(missing: list[tuple[str, str]]) -> list[str]:
    """One reason per spec column absent from the file; one for all of them when there are many (the file is
    then rather not the one the spec describes)."""
    if len(missing) <= SPEC_COLUMNS_LISTED:
        return [f"column {c!r} named in the spec (key {k}) is not in the file" for k, c in missing]
    listed = ", ".join(f"{c!r} (key {k})" for k, c in missing)
    return [f"{len(missing)} columns named in the spec are not in the file: {listed}; is this the file the spec "
            "describes?"]


def _file_name(con, spec: MappingSpec) -> str:
    """The name of the delivered file as read (raw.microdata_files), for messages; the spec's `file` otherwise."""
    if table_exists(con, tables.RAW_MICRODATA_FILES):
        found = con.execute(f"SELECT path FROM {tables.RAW_MICRODATA_FILES} WHERE source_id = ?",
                            [spec.source_id]).fetchall()
        if found:
            return Path(found[0][0]).name
    return Path(spec.file).name


def _plain(failure: dict) -> dict:
    """A failure as plain Python values (JSON reports): None for missing, int for numbers."""
    return {k: None if v is None or (not isinstance(v, str) and pd.isna(v)) else int(v) if k in ("source_row", "line")
            else v for k, v in failure.items()}


def withdraw_source(con: duckdb.DuckDBPyConnection, target: str, source_id: str, reason: str,
                    status: str = "rejected") -> None:
    """Take a source out of staging and record why, so that nothing estimated or published still rests on its
    earlier rows: `rejected` when its delivery cannot be read, `withdrawn` when its spec is gone (the operator's
    decision, which `cop build --strict` does not count as a failure)."""
    ensure_schemas(con)
    table = harmonised_sources()[target].table
    _create_tables(con, target)
    con.execute(f"DELETE FROM {table} WHERE source_id = ?", [source_id])
    _delete_replicates(con, source_id)
    con.execute(f"DELETE FROM {tables.QUALITY_SOURCE_STATUS} WHERE source_id = ?", [source_id])
    con.execute(f"INSERT INTO {tables.QUALITY_SOURCE_STATUS} VALUES (?, ?, ?, 0, 0, 0, ?, now())",
                [source_id, target, status, reason])


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
    # a variable added to the model since the warehouse was made: earlier deliveries have it null (they are
    # re-harmonised by the build that brings the new code, whose fingerprint changed)
    for column, column_type in target_columns(target).items():
        con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {quote_identifier(column)} {column_type}")
    con.execute(f"""CREATE TABLE IF NOT EXISTS {tables.QUALITY_REJECTED_ROWS}
                    (source_id VARCHAR, source_row BIGINT, "column" VARCHAR, value VARCHAR, rule VARCHAR)""")
    # added later: a warehouse made before them gets them (earlier failures keep them null)
    for column, column_type in (("line", "BIGINT"), ("file_column", "VARCHAR"), ("message", "VARCHAR")):
        con.execute(f"ALTER TABLE {tables.QUALITY_REJECTED_ROWS} ADD COLUMN IF NOT EXISTS {column} {column_type}")
    con.execute(f"""CREATE TABLE IF NOT EXISTS {tables.QUALITY_SOURCE_STATUS}
                    (source_id VARCHAR, target VARCHAR, status VARCHAR, rows BIGINT, accepted_rows BIGINT,
                     rejected_rows BIGINT, reasons VARCHAR, checked_at TIMESTAMP)""")
    con.execute(f"""CREATE TABLE IF NOT EXISTS {tables.STAGING_SURVEY_REPLICATE_WEIGHTS}
                    (source_id VARCHAR, respondent_id VARCHAR, replicate_weights DOUBLE[])""")
    con.execute(f"""CREATE TABLE IF NOT EXISTS {tables.STAGING_SURVEY_REPLICATE_DESIGNS}
                    (source_id VARCHAR, type VARCHAR, rho DOUBLE, scale DOUBLE, rscales DOUBLE[], mse BOOLEAN,
                     replicates INTEGER, columns VARCHAR)""")


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
    replicates = d.replicate_weights
    if replicates is not None and isinstance(replicates.columns, list):
        named += [("design.replicate_weights.columns", c) for c in replicates.columns]
    return [(key, column) for key, column in named if column and column not in raw_columns]


def _write(con, spec: MappingSpec, result: SourceResult, candidate: str | None, failures: pd.DataFrame,
           tables_ready: bool = False) -> None:
    table = harmonised_sources()[spec.target].table
    columns = target_columns(spec.target)
    if not tables_ready:
        _create_tables(con, spec.target)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {table} WHERE source_id = ?", [spec.source_id])
        _delete_replicates(con, spec.source_id)
        if result.accepted and candidate:
            names = ", ".join(quote_identifier(c) for c in columns)
            if failures.empty:
                con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {candidate}")
            else:
                _insert_valid(con, table, names, candidate, failures)
            if spec.design.replicate_weights is not None:
                _write_replicates(con, spec, candidate, failures)
        con.execute(f"DELETE FROM {tables.QUALITY_REJECTED_ROWS} WHERE source_id = ?", [spec.source_id])
        if not failures.empty:
            con.register("_failures", failures)
            names = ", ".join(quote_identifier(c) for c in REJECTED_COLUMNS)
            con.execute(f"INSERT INTO {tables.QUALITY_REJECTED_ROWS} ({names}) SELECT {names} FROM _failures")
            con.unregister("_failures")
        con.execute(f"DELETE FROM {tables.QUALITY_SOURCE_STATUS} WHERE source_id = ?", [spec.source_id])
        con.execute(f"INSERT INTO {tables.QUALITY_SOURCE_STATUS} VALUES (?, ?, ?, ?, ?, ?, ?, now())",
                    [spec.source_id, spec.target, result.status, result.rows, result.accepted_rows,
                     result.rejected_rows, "; ".join(result.reasons)])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _write_replicates(con, spec: MappingSpec, candidate: str, failures: pd.DataFrame) -> None:
    """The accepted rows' replicate weights (keyed like staging: source_id, respondent_id) and the delivery's
    replicate method, as R's svrepdesign arguments."""
    declared = spec.design.replicate_weights
    kept = "" if failures.empty else "WHERE _row NOT IN (SELECT source_row FROM _failed_rows)"
    if kept:
        con.register("_failed_rows", failures[["source_row"]].drop_duplicates())
    con.execute(f"INSERT INTO {tables.STAGING_SURVEY_REPLICATE_WEIGHTS} "
                f"SELECT source_id, respondent_id, _replicate_weights FROM {candidate} {kept}")
    if kept:
        con.unregister("_failed_rows")
    raw_columns = [r[0] for r in con.execute(
        f"DESCRIBE {tables.raw_delivery_table(spec.target, spec.source_id)}").fetchall()]
    found = replicate_columns(spec, raw_columns)
    rscales = declared.rscales if declared.rscales is None or len(declared.rscales) == len(found) \
        else declared.rscales * len(found)
    con.execute(f"INSERT INTO {tables.STAGING_SURVEY_REPLICATE_DESIGNS} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [spec.source_id, declared.type, declared.rho, declared.scale, rscales, declared.mse, len(found),
                 ", ".join(found)])


def _delete_replicates(con, source_id: str) -> None:
    for table in (tables.STAGING_SURVEY_REPLICATE_WEIGHTS, tables.STAGING_SURVEY_REPLICATE_DESIGNS):
        con.execute(f"DELETE FROM {table} WHERE source_id = ?", [source_id])


def _insert_valid(con, table: str, names: str, candidate: str, failures: pd.DataFrame) -> None:
    con.register("_failed_rows", failures[["source_row"]].drop_duplicates())
    con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {candidate} "
                "WHERE _row NOT IN (SELECT source_row FROM _failed_rows)")
    con.unregister("_failed_rows")
