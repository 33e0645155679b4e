"""Group values: world, ITU and M49 regions, LDC/LLDC/SIDS, developed/developing and income groups.

Every registry entry says how its country values combine (`aggregation`, see schemas.registry):
- group_inputs (ICT country-year series): the group's inputs are built first, as ITU builds its regional
  figures: rates (percent, per 100 inhabitants) are population-weighted means of the members that report them,
  person counts are sums; then the entry's own expression runs on them, so a region's growth is the growth of
  the region's level, not an average of members' growth rates.
- weighted_mean: sum(value x weight) / sum(weight) over the members with a published value and a weight. The
  weight is the population the cell is about: the entry's population (all people, children 0-14, Internet
  users) times, for a survey estimate, the cell's share of the surveyed population (POPULATION_SHARE: the
  estimated number of children of that sex, age band or area type, in the indicator's universe, over all the
  children the survey represents). So a regional urban rate weighs each country by its urban children.
- sum: counts add up (also those of a country without a weight); the weight only measures coverage.
- responding_countries (national questionnaire answers): computed by the questionnaire source itself, over the
  countries that responded in the round, with respondents and response rate (indicators.sources.
  national_questionnaire.estimates); nothing here.

Only published country cells enter (a value, CONF_STATUS F): a suppressed cell never enters a group value.
A group value is published when (in this order of precedence; COMMENT_OBS names every rule met):
- COVERAGE, the share of the group's population held by the reporting
  members, reaches the build's minimum (50 % by default), else L (the row is kept with OBS_VALUE null);
- at least `min_countries` (3) countries report it, else Q / CONF_STATUS A (small counts);
- no country holds more than `max_country_share` of the weight (0.5 for sample-survey estimates, no limit
  otherwise), else Q / CONF_STATUS O (dominance);
- a sum short of full coverage is published as E, a partial total of the reporting members (a lower bound);
- a value resting on a low-reliability member value (U) is U.
Nothing is imputed. estimates.group_contributions lists, for every group value, the members it rests on with
their value, weight and share of the weight.

Survey estimates of different countries come from independent samples, so the standard error of a weighted
mean is sqrt(sum(w_i^2 se_i^2)) / sum(w_i) (the weights taken as known), with normal-approximation 95 % intervals.
Values stay unrounded here; the release rounds them (indicators.publication).
"""

from __future__ import annotations

import logging

import duckdb

from indicators.sources.ict.estimates import compile_country_indicator
from indicators import tables
from indicators.errors import ConfigError
from indicators.registry import Indicator
from indicators.tables import sql_string, table_exists
from indicators.warehouse import ensure_schemas
from schemas.ict import ICT_VARIABLES

log = logging.getLogger(__name__)

DEFAULT_MIN_COVERAGE = 0.5
# the names the tests import these tables by (indicators.tables names them)
AGGREGATES_TABLE = tables.ESTIMATES_AGGREGATES
CONTRIBUTIONS_TABLE = tables.ESTIMATES_GROUP_CONTRIBUTIONS
EXCLUSIONS_TABLE = tables.QUALITY_AGGREGATION_EXCLUSIONS
Z_95 = 1.959963984540054
# methods whose group values are made from country observations (the others: group_inputs, none)
COUNTRY_VALUE_METHODS = ("weighted_mean", "sum")
# methods whose group values a source computes itself (Source.group_value_tables)
SOURCE_COMPUTED_METHODS = ("responding_countries",)

# country-year weights, one row per country, year and weight name
WEIGHTS_SQL = f"""
    SELECT ref_area, year, weight, w FROM (
        SELECT p.ref_area, p.year, p.population_total, p.population_0_14,
               x.internet_users_pct / 100.0 * p.population_total AS internet_users
        FROM {tables.STAGING_POPULATION_WEIGHTS} p
        LEFT JOIN {tables.STAGING_ICT_COUNTRY_YEAR_WIDE} x USING (ref_area, year))
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
    with a population that year; `<variable>__countries` the number of members reporting it.
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
            f"count(*) FILTER (WHERE {reported}) AS {name}__countries",
            f"array_to_string(list_sort(list_distinct(list({name}__source) FILTER (WHERE {reported}))), '+') "
            f"AS {name}__source"]
    con.execute(f"""
        CREATE OR REPLACE TABLE {tables.ESTIMATES_GROUP_INPUTS} AS
        SELECT g.group_code AS ref_area, x.year, count(*) AS members_reporting_any, {', '.join(columns)}
        FROM {tables.REFERENCE_GROUP_MEMBERS} g JOIN {tables.STAGING_ICT_COUNTRY_YEAR_WIDE} x ON x.ref_area = g.iso3
        WHERE x.population_total IS NOT NULL
        GROUP BY g.group_code, x.year ORDER BY 1, 2""")
    return con.execute(f"SELECT count(*) FROM {tables.ESTIMATES_GROUP_INPUTS}").fetchone()[0]


def group_inputs_sql(indicators: list[Indicator], min_coverage: float) -> str | None:
    selected = [i for i in indicators if i.aggregation_method == "group_inputs"]
    if not selected:
        return None
    union = "\nUNION ALL\n".join(
        f"SELECT *, {i.min_countries} AS min_countries "
        f"FROM ({compile_country_indicator(i, tables.ESTIMATES_GROUP_INPUTS, True)})"
        for i in selected)
    few = "COUNTRIES < min_countries"
    low = f"COVERAGE < {min_coverage}"
    comment = _comments([(low, f"'coverage ' || {_pct('COVERAGE')} || '<{_percent(min_coverage)}%'"),
                         (few, "'countries<' || min_countries || ' (' || COUNTRIES || ' reporting)'")])
    return f"""
        SELECT INDICATOR, REF_AREA, TIME_PERIOD, '_T' AS SEX, '_T' AS AGE, '_T' AS URBANISATION,
               CASE WHEN NOT ({few}) AND NOT ({low}) THEN OBS_VALUE END AS OBS_VALUE, UNIT_MEASURE,
               CAST(NULL AS DOUBLE) AS STD_ERR, CAST(NULL AS DOUBLE) AS CI_LOWER, CAST(NULL AS DOUBLE) AS CI_UPPER,
               CAST(NULL AS BIGINT) AS N_UNWEIGHTED,
               CASE WHEN {low} THEN 'L' WHEN {few} THEN 'Q' ELSE 'A' END AS OBS_STATUS,
               CASE WHEN NOT ({low}) AND {few} THEN 'A' ELSE 'F' END AS CONF_STATUS, {comment} AS COMMENT_OBS,
               COVERAGE, SOURCE_ID
        FROM ({union}) WHERE COVERAGE > 0"""


def _percent(share: float) -> str:
    return f"{100 * share:g}"


def _pct(share: str) -> str:
    """SQL: a share as a whole percentage, e.g. '62%'."""
    return f"CAST(round(100 * ({share})) AS BIGINT) || '%'"


def _comments(rules: list[tuple[str, str]]) -> str:
    """SQL: the texts of the rules whose condition holds, joined by '; ' (NULL when none)."""
    parts = ", ".join(f"CASE WHEN {condition} THEN {text} END" for condition, text in rules)
    return f"nullif(concat_ws('; ', {parts}), '')"


# ------------------------------------------------------------------------- other sources: country values
def contributions_sql(indicators: list[Indicator], country_observations: str) -> str | None:
    """Every published country value that enters a group value: one row per cell, group and member, with the
    member's weights. `value_weight` weighs the value (weighted_mean: the population times the cell's share of
    the surveyed population; sum: the population, for coverage only); `base_weight` is the
    member's population, which coverage is counted in."""
    selected = _country_value_indicators(indicators)
    if not selected:
        return None
    spec = ", ".join(f"('{i.code}', '{i.aggregation_method}', "
                     f"{'NULL' if i.aggregation.get('weight') is None else sql_string(i.aggregation['weight'])})"
                     for i in selected)
    return f"""
        WITH spec(INDICATOR, method, weight) AS (VALUES {spec}),
        weights AS ({WEIGHTS_SQL})
        SELECT o.INDICATOR, g.group_code AS REF_AREA, o.TIME_PERIOD, o.SEX, o.AGE, o.URBANISATION,
               o.REF_AREA AS MEMBER, s.method, s.weight, o.OBS_VALUE AS value, o.STD_ERR AS std_err,
               o.N_UNWEIGHTED AS n, o.OBS_STATUS AS status, o.SOURCE_ID AS source_id, w.w AS base_weight,
               CASE s.method WHEN 'weighted_mean' THEN w.w * coalesce(o.POPULATION_SHARE, 1)
                             ELSE w.w END AS value_weight
        FROM ({country_observations}) o JOIN spec s USING (INDICATOR)
        JOIN {tables.REFERENCE_GROUP_MEMBERS} g ON g.iso3 = o.REF_AREA
        LEFT JOIN weights w ON w.ref_area = o.REF_AREA AND w.year = o.TIME_PERIOD AND w.weight = s.weight
        -- published values only; a weighted mean needs the member's weight, a count adds up without one
        WHERE o.OBS_VALUE IS NOT NULL AND o.CONF_STATUS = 'F'
          AND (s.method <> 'weighted_mean' OR w.w IS NOT NULL)"""


def country_values_sql(indicators: list[Indicator], min_coverage: float) -> str | None:
    """Group values from the contributions table (survey estimates, incidents)."""
    selected = _country_value_indicators(indicators)
    if not selected:
        return None
    spec = ", ".join(f"('{i.code}', '{i.unit}', {_country_rules(i)})" for i in selected)
    few = "countries < min_countries"
    dominated = "max_share IS NOT NULL AND top_share > max_share + 1e-12"
    low = f"coverage < {min_coverage}"
    partial = "method = 'sum' AND coverage < 1 - 1e-9"
    shown = f"NOT ({few}) AND NOT ({dominated}) AND NOT ({low})"
    comment = _comments([
        (low, f"'coverage ' || {_pct('coverage')} || '<{_percent(min_coverage)}%'"),
        (few, "'countries<' || min_countries || ' (' || countries || ' reporting)'"),
        (dominated, f"'one country holds ' || {_pct('top_share')} || ' of the weight (max ' || {_pct('max_share')} "
                    "|| ')'"),
        (f"{shown} AND {partial}", f"'partial total: members covering ' || {_pct('coverage')}"),
        (f"{shown} AND any_low", "'rests on a low-reliability value'")])
    z = Z_95
    return f"""
        WITH spec(INDICATOR, unit, min_countries, max_share) AS (VALUES {spec}),
        member_weights AS ({WEIGHTS_SQL}),
        group_weights AS (
            -- the denominator of coverage: every member with a weight that year
            SELECT g.group_code, w.year, w.weight, sum(w.w) AS total_weight
            FROM {tables.REFERENCE_GROUP_MEMBERS} g JOIN member_weights w ON w.ref_area = g.iso3 GROUP BY ALL),
        grouped AS (
            SELECT c.INDICATOR, c.REF_AREA, c.TIME_PERIOD, c.SEX, c.AGE, c.URBANISATION,
                   any_value(c.method) AS method, any_value(c.weight) AS weight, count(*) AS countries,
                   CASE any_value(c.method)
                       WHEN 'weighted_mean' THEN sum(c.value * c.value_weight) / sum(c.value_weight)
                       ELSE sum(c.value) END AS value,
                   -- a standard error only when every contributing value has one (independent samples)
                   CASE WHEN count(c.std_err) = count(*) THEN
                       CASE any_value(c.method)
                           WHEN 'sum' THEN sqrt(sum(c.std_err * c.std_err))
                           ELSE sqrt(sum(c.value_weight * c.value_weight * c.std_err * c.std_err))
                                / sum(c.value_weight) END
                   END AS se,
                   max(c.value_weight) / nullif(sum(c.value_weight), 0) AS top_share,
                   sum(c.base_weight) AS covered_weight,
                   sum(c.n) AS n, bool_or(c.status = 'U') AS any_low,
                   array_to_string(list_sort(list_distinct(list(c.source_id))), '+') AS source_id
            FROM {tables.ESTIMATES_GROUP_CONTRIBUTIONS} c
            GROUP BY c.INDICATOR, c.REF_AREA, c.TIME_PERIOD, c.SEX, c.AGE, c.URBANISATION),
        ruled AS (
            SELECT g.*, s.unit, s.min_countries, s.max_share,
                   -- least(): the same weights summed in another order may exceed 1 by a rounding error
                   least(1.0, coalesce(g.covered_weight, 0) / nullif(t.total_weight, 0)) AS coverage
            FROM grouped g JOIN spec s USING (INDICATOR)
            LEFT JOIN group_weights t ON t.group_code = g.REF_AREA AND t.year = g.TIME_PERIOD
                AND t.weight = g.weight)
        SELECT INDICATOR, REF_AREA, TIME_PERIOD, SEX, AGE, URBANISATION,
               CASE WHEN {shown} THEN value END AS OBS_VALUE, unit AS UNIT_MEASURE,
               CASE WHEN {shown} THEN se END AS STD_ERR,
               CASE WHEN {shown} AND se IS NOT NULL THEN {_bounded(f"value - {z} * se")} END AS CI_LOWER,
               CASE WHEN {shown} AND se IS NOT NULL THEN {_bounded(f"value + {z} * se")} END AS CI_UPPER,
               CAST(CASE WHEN {shown} THEN n END AS BIGINT) AS N_UNWEIGHTED,
               CASE WHEN {low} THEN 'L' WHEN {few} OR {dominated} THEN 'Q' WHEN {partial} THEN 'E'
                    WHEN any_low THEN 'U' ELSE 'A' END AS OBS_STATUS,
               CASE WHEN {low} THEN 'F' WHEN {few} THEN 'A' WHEN {dominated} THEN 'O' ELSE 'F' END AS CONF_STATUS,
               {comment} AS COMMENT_OBS, coverage AS COVERAGE, source_id AS SOURCE_ID
        FROM ruled"""


def _country_value_indicators(indicators: list[Indicator]) -> list[Indicator]:
    return [i for i in indicators if i.aggregation_method in COUNTRY_VALUE_METHODS]


def _country_rules(indicator: Indicator) -> str:
    """SQL values min_countries, max_share (NULL: no limit) of one entry."""
    share = "NULL" if indicator.max_country_share is None else float(indicator.max_country_share)
    return f"{indicator.min_countries}, {share}"


def _bounded(expression: str) -> str:
    """Normal-approximation limits stay within what the unit allows (0-100 for percentages, >= 0 for counts)."""
    return (f"CASE WHEN unit = 'percent' THEN greatest(0, least(100, {expression})) "
            f"WHEN unit IN ('count', 'per_100', 'per_100k', 'days') THEN greatest(0, {expression}) "
            f"ELSE {expression} END")


# -------------------------------------------------------------------------------------------------- entry
def compute_aggregates(con: duckdb.DuckDBPyConnection, indicators: list[Indicator], country_observations: str,
                       min_coverage: float = DEFAULT_MIN_COVERAGE) -> dict[str, int]:
    """Write estimates.aggregates (the release layout without RELEASE_ID and CV, unrounded),
    estimates.group_contributions and quality.aggregation_exclusions.

    `country_observations` is an SQL query returning the country observations (release layout, unrounded,
    with POPULATION_SHARE for survey cells). Returns the number of group rows per indicator code (withheld rows
    included).
    """
    min_coverage = check_min_coverage(min_coverage)
    ensure_schemas(con)
    parts = []
    if any(i.aggregation_method == "group_inputs" for i in indicators):
        build_group_inputs(con)
        parts.append(group_inputs_sql(indicators, min_coverage))
    contributions = contributions_sql(indicators, country_observations)
    if contributions:
        con.execute(f"CREATE OR REPLACE TABLE {tables.ESTIMATES_GROUP_CONTRIBUTIONS} AS {contributions}")
        con.execute(f"""CREATE OR REPLACE TABLE {tables.ESTIMATES_GROUP_CONTRIBUTIONS} AS
                        SELECT *, value_weight / sum(value_weight) OVER (PARTITION BY INDICATOR, REF_AREA,
                               TIME_PERIOD, SEX, AGE, URBANISATION) AS share_of_weight
                        FROM {tables.ESTIMATES_GROUP_CONTRIBUTIONS}
                        ORDER BY INDICATOR, REF_AREA, TIME_PERIOD, SEX, AGE, URBANISATION, MEMBER""")
        parts.append(country_values_sql(indicators, min_coverage))
    parts = [p for p in parts if p]
    if not parts:
        raise ConfigError("no registry entry declares how to aggregate (field 'aggregation')")
    union = "\nUNION ALL\n".join(f"SELECT * FROM ({p})" for p in parts)
    con.execute(f"""CREATE OR REPLACE TABLE {tables.ESTIMATES_AGGREGATES} AS SELECT * FROM ({union})
                    ORDER BY INDICATOR, REF_AREA, TIME_PERIOD, SEX, AGE, URBANISATION""")
    _record_exclusions(con, indicators, country_observations)
    rows = dict(con.execute(f"SELECT INDICATOR, count(*) FROM {tables.ESTIMATES_AGGREGATES} GROUP BY 1").fetchall())
    return {i.code: rows.get(i.code, 0) for i in indicators
            if i.aggregation_method not in ("none", *SOURCE_COMPUTED_METHODS)}


def _record_exclusions(con: duckdb.DuckDBPyConnection, indicators: list[Indicator], country_observations: str):
    """Country values left out of every group value because the country has no weight for that year (weighted
    means only: a count without a weight still adds up, it just does not count towards coverage)."""
    weighted = [(i.code, i.aggregation["weight"]) for i in indicators if i.aggregation_method == "weighted_mean"]
    if not weighted:
        con.execute(f"CREATE OR REPLACE TABLE {tables.QUALITY_AGGREGATION_EXCLUSIONS} (INDICATOR VARCHAR, "
                    "REF_AREA VARCHAR, TIME_PERIOD BIGINT, weight VARCHAR, reason VARCHAR)")
        return
    spec = ", ".join(f"('{code}', '{weight}')" for code, weight in weighted)
    con.execute(f"""
        CREATE OR REPLACE TABLE {tables.QUALITY_AGGREGATION_EXCLUSIONS} AS
        WITH spec(INDICATOR, weight) AS (VALUES {spec}), weights AS ({WEIGHTS_SQL})
        SELECT DISTINCT o.INDICATOR, o.REF_AREA, o.TIME_PERIOD, s.weight,
               'no ' || s.weight || ' for the country and year: left out of every group value' AS reason
        FROM ({country_observations}) o JOIN spec s USING (INDICATOR)
        LEFT JOIN weights w ON w.ref_area = o.REF_AREA AND w.year = o.TIME_PERIOD AND w.weight = s.weight
        WHERE o.OBS_VALUE IS NOT NULL AND w.w IS NULL
        ORDER BY 1, 2, 3""")
    excluded = con.execute(f"SELECT count(*) FROM {tables.QUALITY_AGGREGATION_EXCLUSIONS}").fetchone()[0]
    if excluded:
        log.warning("%d country values have no weight and are left out of group values (see %s)",
                    excluded, tables.QUALITY_AGGREGATION_EXCLUSIONS)


def audit_aggregates(con: duckdb.DuckDBPyConnection, indicators: list[Indicator],
                     min_coverage: float) -> dict[str, int]:
    """Rules every group value keeps; each count must be 0 (the blocking check of the aggregates asset)."""
    # shares of people are within [0, 100]; growth rates in percent are not
    shares = ", ".join(f"'{i.code}'" for i in indicators if i.unit == "percent" and i.method != "growth") or "''"
    counts = {k: int(v) for k, v in con.execute(f"""
        SELECT
          count(*) FILTER (WHERE COVERAGE IS NULL OR COVERAGE < 0 OR COVERAGE > 1 + 1e-9) AS coverage_not_a_share,
          count(*) FILTER (WHERE COVERAGE < {min_coverage} AND OBS_VALUE IS NOT NULL) AS shown_below_min_coverage,
          count(*) FILTER (WHERE OBS_VALUE IS NULL AND OBS_STATUS NOT IN ('Q', 'L')) AS withheld_without_reason,
          count(*) FILTER (WHERE REF_AREA NOT IN (SELECT group_code FROM {tables.REFERENCE_AGGREGATE_GROUPS}))
            AS unknown_group,
          count(*) FILTER (WHERE INDICATOR IN ({shares}) AND (OBS_VALUE < 0 OR OBS_VALUE > 100)) AS share_out_of_range,
          count(*) FILTER (WHERE OBS_VALUE < CI_LOWER - 1e-9 OR OBS_VALUE > CI_UPPER + 1e-9) AS outside_ci
        FROM {tables.ESTIMATES_AGGREGATES}""").df().iloc[0].to_dict().items()}
    counts.update(shown_from_too_few_or_one_dominant_country=_shown_against_the_country_rules(con, indicators))
    return counts


def _shown_against_the_country_rules(con: duckdb.DuckDBPyConnection, indicators: list[Indicator]) -> int:
    """Group values from country values that are shown although fewer than min_countries members contribute
    or one holds more than max_country_share of the weight (recounted from estimates.group_contributions)."""
    selected = _country_value_indicators(indicators)
    if not selected or not table_exists(con, tables.ESTIMATES_GROUP_CONTRIBUTIONS):
        return 0
    spec = ", ".join(f"('{i.code}', {_country_rules(i)})" for i in selected)
    return int(con.execute(f"""
        WITH spec(INDICATOR, min_countries, max_share) AS (VALUES {spec}),
        members AS (SELECT INDICATOR, REF_AREA, TIME_PERIOD, SEX, AGE, URBANISATION, count(*) AS countries,
                           max(share_of_weight) AS top_share
                    FROM {tables.ESTIMATES_GROUP_CONTRIBUTIONS} GROUP BY ALL)
        SELECT count(*) FROM {tables.ESTIMATES_AGGREGATES} a
        JOIN members m USING (INDICATOR, REF_AREA, TIME_PERIOD, SEX, AGE, URBANISATION)
        JOIN spec s USING (INDICATOR)
        WHERE a.OBS_VALUE IS NOT NULL
          AND (m.countries < s.min_countries OR (s.max_share IS NOT NULL AND m.top_share > s.max_share + 1e-12))
        """).fetchone()[0])
