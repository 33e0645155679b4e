"""Group values: world, ITU and M49 regions, LDC/LLDC/SIDS, developed/developing and income groups.

Every registry entry says how its country values combine (`aggregation`, see schemas.registry):
- group_inputs (ICT country-year series): the group's inputs are built first, as ITU builds its regional
  figures: rates (percent, per 100 inhabitants) are population-weighted means of the members that report them,
  person counts are sums; then the entry's own expression runs on them, so a region's growth is the growth of
  the region's level, not an average of members' growth rates.
- weighted_mean: sum(value x weight) / sum(weight) over the members with a value and a weight; the weight is the
  population the indicator is about (all people, children 0-14, Internet users).
- sum: counts add up (also those of a country without a weight); the weight only measures coverage.
- country_mean: each country counts once (national questionnaire answers); coverage counts countries.

COVERAGE is the share of the group's weight (its population, or its number of countries for country_mean) held
by the members that contributed a value. Below the minimum coverage (50 % by default) the group value is
withheld: the row is kept with OBS_VALUE null and OBS_STATUS M, so users see it exists and why it is blank.
Nothing is imputed: members without a value are left out and COVERAGE says how much of the group that is.
A group value is flagged E when any member value it rests on is flagged E.

Survey estimates of different countries come from independent samples, so the standard error of a weighted
mean is sqrt(sum(w_i^2 se_i^2)) / sum(w_i), with normal-approximation 95 % intervals.
"""

from __future__ import annotations

import logging

import duckdb

from indicators.country_level import compile_country_indicator, published_rounding, published_rounding_by
from indicators.errors import ConfigError
from indicators.harmonise import WIDE_TABLE
from indicators.registry import Indicator
from indicators.warehouse import ensure_schemas
from schemas.ict import ICT_VARIABLES

log = logging.getLogger(__name__)

DEFAULT_MIN_COVERAGE = 0.5
AGGREGATES_TABLE = "estimates.aggregates"
GROUP_INPUTS_TABLE = "estimates.group_inputs"
EXCLUSIONS_TABLE = "quality.aggregation_exclusions"
GROUPS_TABLE = "reference.aggregate_groups"
MEMBERS_TABLE = "reference.group_members"
POPULATION_TABLE = "staging.population_weights"
Z_95 = 1.959963984540054

# country-year weights, one row per country, year and weight name
WEIGHTS_SQL = f"""
    SELECT ref_area, year, weight, w FROM (
        SELECT p.ref_area, p.year, p.population_total, p.population_0_14,
               x.internet_users_pct / 100.0 * p.population_total AS internet_users
        FROM {POPULATION_TABLE} p LEFT JOIN {WIDE_TABLE} x USING (ref_area, year))
    UNPIVOT (w FOR weight IN (population_total, population_0_14, internet_users))"""


def check_min_coverage(min_coverage: float) -> float:
    if not 0 <= float(min_coverage) <= 1:
        raise ConfigError(f"minimum coverage of aggregates must be a share between 0 and 1, got {min_coverage!r}")
    return float(min_coverage)


# ------------------------------------------------------------------------------ ICT series: group inputs
def build_group_inputs(con: duckdb.DuckDBPyConnection) -> int:
    """estimates.group_inputs: the ICT wide table's variables for each group and year, with coverage.

    Rates are weighted by total population over the members reporting them; person counts are summed.
    `<variable>__coverage` is the population share of the members reporting the variable, out of all members
    with a population that year.
    """
    ensure_schemas(con)
    columns = []
    for name, variable in ICT_VARIABLES.items():
        reported = f"{name} IS NOT NULL AND population_total IS NOT NULL"
        if variable.unit == "persons":
            value = f"sum({name}) FILTER (WHERE {reported})"
        else:
            value = (f"sum({name} * population_total) FILTER (WHERE {reported}) "
                     f"/ nullif(sum(population_total) FILTER (WHERE {reported}), 0)")
        columns += [
            f"{value} AS {name}",
            f"sum(population_total) FILTER (WHERE {reported}) / nullif(sum(population_total), 0) AS {name}__coverage",
            f"array_to_string(list_sort(list_distinct(list({name}__source) FILTER (WHERE {reported}))), '+') "
            f"AS {name}__source"]
    con.execute(f"""
        CREATE OR REPLACE TABLE {GROUP_INPUTS_TABLE} AS
        SELECT g.group_code AS ref_area, x.year, count(*) AS members_reporting_any, {', '.join(columns)}
        FROM {MEMBERS_TABLE} g JOIN {WIDE_TABLE} x ON x.ref_area = g.iso3
        WHERE x.population_total IS NOT NULL
        GROUP BY g.group_code, x.year ORDER BY 1, 2""")
    return con.execute(f"SELECT count(*) FROM {GROUP_INPUTS_TABLE}").fetchone()[0]


def group_inputs_sql(indicators: list[Indicator], min_coverage: float) -> str | None:
    selected = [i for i in indicators if i.aggregation_method == "group_inputs"]
    if not selected:
        return None
    union = "\nUNION ALL\n".join(compile_country_indicator(i, table=GROUP_INPUTS_TABLE, with_coverage=True)
                                 for i in selected)
    return f"""
        SELECT INDICATOR, REF_AREA, TIME_PERIOD, '_T' AS SEX, '_T' AS AGE, '_T' AS URBANISATION,
               CASE WHEN COVERAGE >= {min_coverage} THEN OBS_VALUE END AS OBS_VALUE, UNIT_MEASURE,
               CAST(NULL AS DOUBLE) AS STD_ERR, CAST(NULL AS DOUBLE) AS CI_LOWER, CAST(NULL AS DOUBLE) AS CI_UPPER,
               CAST(NULL AS DOUBLE) AS CV, CAST(NULL AS DOUBLE) AS N_UNWEIGHTED,
               CASE WHEN COVERAGE >= {min_coverage} THEN 'A' ELSE 'M' END AS OBS_STATUS, 'F' AS CONF_STATUS,
               COVERAGE, SOURCE_ID
        FROM ({union}) WHERE COVERAGE > 0"""


# ------------------------------------------------------------------------- other sources: country values
def country_values_sql(indicators: list[Indicator], country_observations: str, min_coverage: float) -> str | None:
    """Group values from published country values (survey estimates, incidents, questionnaire answers)."""
    selected = [i for i in indicators if i.aggregation_method in ("weighted_mean", "sum", "country_mean")]
    if not selected:
        return None
    spec = ", ".join(f"('{i.code}', '{i.aggregation_method}', {_sql_text(i.aggregation.get('weight'))}, "
                     f"{int(i.decimals)}, '{i.unit}')" for i in selected)
    value = published_rounding_by("value", "decimals_")
    return f"""
        WITH spec(INDICATOR, method, weight, decimals_, unit) AS (VALUES {spec}),
        obs AS (
            SELECT o.INDICATOR, o.REF_AREA, o.TIME_PERIOD, o.SEX, o.AGE, o.URBANISATION, o.OBS_VALUE,
                   o.STD_ERR, o.N_UNWEIGHTED, o.OBS_STATUS, o.SOURCE_ID
            FROM ({country_observations}) o JOIN spec USING (INDICATOR)
            WHERE o.OBS_VALUE IS NOT NULL AND o.CONF_STATUS = 'F'),
        cells AS (SELECT DISTINCT o.INDICATOR, o.TIME_PERIOD, o.SEX, o.AGE, o.URBANISATION, s.method, s.weight,
                         s.decimals_, s.unit
                  FROM obs o JOIN spec s USING (INDICATOR)),
        weights AS ({WEIGHTS_SQL}),
        frame AS (
            -- every member of every group for every cell that some country has, with its weight and value
            SELECT c.*, g.group_code, g.iso3, w.w, o.OBS_VALUE AS v, o.STD_ERR AS se, o.N_UNWEIGHTED AS n,
                   o.OBS_STATUS AS status, o.SOURCE_ID AS source_id,
                   -- a count adds up whether or not its country has a weight (the weight only measures coverage)
                   o.OBS_VALUE IS NOT NULL AND (c.method <> 'weighted_mean' OR w.w IS NOT NULL) AS usable
            FROM cells c CROSS JOIN {MEMBERS_TABLE} g
            LEFT JOIN weights w ON w.ref_area = g.iso3 AND w.year = c.TIME_PERIOD AND w.weight = c.weight
            LEFT JOIN obs o ON o.INDICATOR = c.INDICATOR AND o.REF_AREA = g.iso3
                AND o.TIME_PERIOD = c.TIME_PERIOD AND o.SEX = c.SEX AND o.AGE = c.AGE
                AND o.URBANISATION = c.URBANISATION),
        grouped AS (
            SELECT INDICATOR, group_code AS REF_AREA, TIME_PERIOD, SEX, AGE, URBANISATION, unit, method,
                   any_value(decimals_) AS decimals_,
                   CASE any_value(method)
                       WHEN 'weighted_mean' THEN sum(v * w) FILTER (WHERE usable) / sum(w) FILTER (WHERE usable)
                       WHEN 'sum' THEN sum(v) FILTER (WHERE usable)
                       ELSE avg(v) FILTER (WHERE usable) END AS value,
                   CASE any_value(method)
                       WHEN 'country_mean' THEN count(*) FILTER (WHERE usable) / count(*)
                       ELSE coalesce(sum(w) FILTER (WHERE usable), 0) / nullif(sum(w), 0) END AS coverage,
                   -- a standard error only when every contributing value has one (independent samples)
                   CASE WHEN count(se) FILTER (WHERE usable) = count(*) FILTER (WHERE usable) THEN
                       CASE any_value(method)
                           WHEN 'weighted_mean' THEN sqrt(sum(w * w * se * se) FILTER (WHERE usable))
                                                     / sum(w) FILTER (WHERE usable)
                           WHEN 'sum' THEN sqrt(sum(se * se) FILTER (WHERE usable))
                           ELSE sqrt(sum(se * se) FILTER (WHERE usable)) / count(*) FILTER (WHERE usable) END
                   END AS se,
                   sum(n) FILTER (WHERE usable) AS n,
                   bool_or(status = 'E') FILTER (WHERE usable) AS any_flagged,
                   array_to_string(list_sort(list_distinct(list(source_id) FILTER (WHERE usable))), '+')
                       AS source_id
            FROM frame
            GROUP BY INDICATOR, group_code, TIME_PERIOD, SEX, AGE, URBANISATION, unit, method
            HAVING count(*) FILTER (WHERE usable) > 0),
        published AS (SELECT *, coverage >= {min_coverage} AS shown FROM grouped)
        SELECT INDICATOR, REF_AREA, TIME_PERIOD, SEX, AGE, URBANISATION,
               CASE WHEN shown THEN {value} END AS OBS_VALUE, unit AS UNIT_MEASURE,
               CASE WHEN shown THEN {published_rounding_by("se", "decimals_ + 2")} END AS STD_ERR,
               CASE WHEN shown AND se IS NOT NULL
                    THEN {published_rounding_by(_bounded("value - " + str(Z_95) + " * se"), "decimals_")} END AS CI_LOWER,
               CASE WHEN shown AND se IS NOT NULL
                    THEN {published_rounding_by(_bounded("value + " + str(Z_95) + " * se"), "decimals_")} END AS CI_UPPER,
               CASE WHEN shown AND value > 0 THEN {published_rounding("100 * se / value", "1")} END AS CV,
               CASE WHEN shown THEN n END AS N_UNWEIGHTED,
               CASE WHEN NOT shown THEN 'M' WHEN any_flagged THEN 'E' ELSE 'A' END AS OBS_STATUS,
               'F' AS CONF_STATUS, coverage AS COVERAGE, source_id AS SOURCE_ID
        FROM published"""


def _bounded(expression: str) -> str:
    """Normal-approximation limits stay within what the unit allows (0-100 for percentages, >= 0 for counts)."""
    return (f"CASE WHEN unit = 'percent' THEN greatest(0, least(100, {expression})) "
            f"WHEN unit IN ('count', 'per_100', 'per_100k', 'days') THEN greatest(0, {expression}) "
            f"ELSE {expression} END")


def _sql_text(value: str | None) -> str:
    return "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"


# -------------------------------------------------------------------------------------------------- entry
def compute_aggregates(con: duckdb.DuckDBPyConnection, indicators: list[Indicator], country_observations: str,
                       min_coverage: float = DEFAULT_MIN_COVERAGE) -> dict[str, int]:
    """Write estimates.aggregates (the release layout without RELEASE_ID) and quality.aggregation_exclusions.

    `country_observations` is an SQL query returning the published country observations (release layout).
    Returns the number of group rows per indicator code (withheld rows included).
    """
    min_coverage = check_min_coverage(min_coverage)
    ensure_schemas(con)
    parts = []
    if any(i.aggregation_method == "group_inputs" for i in indicators):
        build_group_inputs(con)
        parts.append(group_inputs_sql(indicators, min_coverage))
    parts.append(country_values_sql(indicators, country_observations, min_coverage))
    parts = [p for p in parts if p]
    if not parts:
        raise ConfigError("no registry entry declares how to aggregate (field 'aggregation')")
    union = "\nUNION ALL\n".join(f"SELECT * FROM ({p})" for p in parts)
    con.execute(f"""CREATE OR REPLACE TABLE {AGGREGATES_TABLE} AS SELECT * FROM ({union})
                    ORDER BY INDICATOR, REF_AREA, TIME_PERIOD, SEX, AGE, URBANISATION""")
    _record_exclusions(con, indicators, country_observations)
    rows = dict(con.execute(f"SELECT INDICATOR, count(*) FROM {AGGREGATES_TABLE} GROUP BY 1").fetchall())
    return {i.code: rows.get(i.code, 0) for i in indicators if i.aggregation_method != "none"}


def _record_exclusions(con: duckdb.DuckDBPyConnection, indicators: list[Indicator], country_observations: str):
    """Country values left out of every group value because the country has no weight for that year (weighted
    means only: a count without a weight still adds up, it just does not count towards coverage)."""
    weighted = [(i.code, i.aggregation["weight"]) for i in indicators if i.aggregation_method == "weighted_mean"]
    if not weighted:
        con.execute(f"CREATE OR REPLACE TABLE {EXCLUSIONS_TABLE} (INDICATOR VARCHAR, REF_AREA VARCHAR, "
                    "TIME_PERIOD BIGINT, weight VARCHAR, reason VARCHAR)")
        return
    spec = ", ".join(f"('{code}', '{weight}')" for code, weight in weighted)
    con.execute(f"""
        CREATE OR REPLACE TABLE {EXCLUSIONS_TABLE} AS
        WITH spec(INDICATOR, weight) AS (VALUES {spec}), weights AS ({WEIGHTS_SQL})
        SELECT DISTINCT o.INDICATOR, o.REF_AREA, o.TIME_PERIOD, s.weight,
               'no ' || s.weight || ' for the country and year: left out of every group value' AS reason
        FROM ({country_observations}) o JOIN spec s USING (INDICATOR)
        LEFT JOIN weights w ON w.ref_area = o.REF_AREA AND w.year = o.TIME_PERIOD AND w.weight = s.weight
        WHERE o.OBS_VALUE IS NOT NULL AND w.w IS NULL
        ORDER BY 1, 2, 3""")
    excluded = con.execute(f"SELECT count(*) FROM {EXCLUSIONS_TABLE}").fetchone()[0]
    if excluded:
        log.warning("%d country values have no weight and are left out of group values (see %s)",
                    excluded, EXCLUSIONS_TABLE)


def audit_aggregates(con: duckdb.DuckDBPyConnection, indicators: list[Indicator],
                     min_coverage: float) -> dict[str, int]:
    """Rules every group value keeps; each count must be 0 (the blocking check of the aggregates asset)."""
    # shares of people are within [0, 100]; growth rates in percent are not
    shares = ", ".join(f"'{i.code}'" for i in indicators if i.unit == "percent" and i.method != "growth") or "''"
    return {k: int(v) for k, v in con.execute(f"""
        SELECT
          count(*) FILTER (WHERE COVERAGE IS NULL OR COVERAGE < 0 OR COVERAGE > 1 + 1e-9) AS coverage_not_a_share,
          count(*) FILTER (WHERE COVERAGE < {min_coverage} AND (OBS_VALUE IS NOT NULL OR OBS_STATUS <> 'M'))
              AS shown_below_min_coverage,
          count(*) FILTER (WHERE COVERAGE >= {min_coverage} AND OBS_VALUE IS NULL) AS withheld_above_min_coverage,
          count(*) FILTER (WHERE REF_AREA NOT IN (SELECT group_code FROM {GROUPS_TABLE})) AS unknown_group,
          count(*) FILTER (WHERE INDICATOR IN ({shares}) AND (OBS_VALUE < 0 OR OBS_VALUE > 100)) AS share_out_of_range,
          count(*) FILTER (WHERE OBS_VALUE < CI_LOWER - 1e-9 OR OBS_VALUE > CI_UPPER + 1e-9) AS outside_ci
        FROM {AGGREGATES_TABLE}""").df().iloc[0].to_dict().items()}
