"""Compile country-level registry entries (methods `value` and `growth`) to DuckDB SQL and run them.

The result, estimates.country_year, holds one row per indicator, country and year in the SDMX-shaped
column names of the release (DESIGN.md 4.3). Values are kept unrounded: they are rounded once, when the release
is assembled (indicators.publication), so that group values and growth rest on the numbers as reported.
"""

from __future__ import annotations

import duckdb

from indicators import tables
from indicators.errors import ConfigError
from indicators.registry import Indicator
from indicators.sql_expressions import referenced_columns
from indicators.warehouse import ensure_schemas

# registry `source` -> the harmonised table its expressions are evaluated against
COUNTRY_LEVEL_SOURCES = {"ict_country_year": tables.STAGING_ICT_COUNTRY_YEAR_WIDE}
COUNTRY_LEVEL_METHODS = ("value", "growth")
ESTIMATES_TABLE = tables.ESTIMATES_COUNTRY_YEAR  # the name the tests import it by


def is_country_level(indicator: Indicator) -> bool:
    return indicator.source in COUNTRY_LEVEL_SOURCES and indicator.method in COUNTRY_LEVEL_METHODS


def compile_country_indicator(indicator: Indicator, table: str | None = None, with_coverage: bool = False) -> str:
    """SELECT INDICATOR, REF_AREA, TIME_PERIOD, OBS_VALUE, UNIT_MEASURE, SOURCE_ID for one registry entry.

    `table` defaults to the harmonised country-year table; aggregation passes its group-level table (same
    variable columns, plus `<variable>__coverage` and `<variable>__countries`), and `with_coverage` adds
    COVERAGE and COUNTRIES: the smallest coverage and number of reporting countries of the variables the value
    rests on (of both years for growth).
    """
    table = table or COUNTRY_LEVEL_SOURCES[indicator.source]
    columns = referenced_columns(indicator.value)
    # the files the value came from, each named once (users = BC.1 x population may combine two files)
    source_id = ("array_to_string(list_sort(list_distinct(list_value("
                 + ", ".join(f"{c}__source" for c in columns) + "))), '+')") if columns else "NULL"
    coverage = (f"least({', '.join(f'{c}__coverage' for c in columns)})"
                if with_coverage and columns else "CAST(NULL AS DOUBLE)")
    countries = (f"least({', '.join(f'{c}__countries' for c in columns)})"
                 if with_coverage and columns else "CAST(NULL AS BIGINT)")
    where = f"WHERE ({indicator.universe})" if indicator.universe else ""
    base = (f"SELECT ref_area, year, CAST(({indicator.value}) AS DOUBLE) AS v, {source_id} AS source_id, "
            f"{coverage} AS coverage, {countries} AS countries FROM {table} {where}")
    head = (f"SELECT '{indicator.code}' AS INDICATOR, ref_area AS REF_AREA, year AS TIME_PERIOD, "
            f"obs AS OBS_VALUE, '{indicator.unit}' AS UNIT_MEASURE, "
            f"source_id AS SOURCE_ID" + (", coverage AS COVERAGE, countries AS COUNTRIES" if with_coverage else ""))
    if indicator.method == "value":
        return f"{head} FROM (SELECT *, v AS obs FROM ({base})) WHERE obs IS NOT NULL"
    kind, periods = indicator.growth.get("kind"), indicator.growth.get("periods")
    if kind not in ("difference", "cagr") or not isinstance(periods, int) or periods < 1:
        raise ConfigError(f"{indicator.file}: {indicator.code}: field 'growth' needs kind difference|cagr "
                          f"and a whole number of periods >= 1, got {indicator.growth!r}")
    if kind == "difference":
        change = "t.v - b.v"
        guard = "b.v IS NOT NULL"
    else:
        # compound annual growth, in percent; undefined when the base is zero
        change = f"100 * (power(t.v / b.v, 1.0 / {periods}) - 1)"
        guard = "b.v > 0 AND t.v >= 0"
    # the value rests on two years, possibly from two files: name both
    both = "array_to_string(list_sort(list_distinct(string_split(t.source_id || '+' || b.source_id, '+'))), '+')"
    return (f"{head} FROM (SELECT t.ref_area, t.year, {change} AS obs, {both} AS source_id, "
            f"least(t.coverage, b.coverage) AS coverage, least(t.countries, b.countries) AS countries "
            f"FROM ({base}) t JOIN ({base}) b ON b.ref_area = t.ref_area AND b.year = t.year - {periods} "
            f"WHERE t.v IS NOT NULL AND {guard})")


def compute_country_indicators(con: duckdb.DuckDBPyConnection, indicators: list[Indicator]) -> dict[str, int]:
    """Write estimates.country_year for every country-level entry; returns rows per indicator code."""
    selected = [i for i in indicators if is_country_level(i)]
    if not selected:
        raise ConfigError("the registry has no country-level indicator (methods value/growth)")
    ensure_schemas(con)
    union = "\nUNION ALL\n".join(compile_country_indicator(i) for i in selected)
    con.execute(f"CREATE OR REPLACE TABLE {tables.ESTIMATES_COUNTRY_YEAR} AS SELECT * FROM ({union}) "
                "ORDER BY INDICATOR, REF_AREA, TIME_PERIOD")
    rows = dict(con.execute(f"SELECT INDICATOR, count(*) FROM {tables.ESTIMATES_COUNTRY_YEAR} GROUP BY 1").fetchall())
    return {i.code: rows.get(i.code, 0) for i in selected}
