"""The registry's national-capacity entries (NC.*): country values, and shares of responding countries by group.

Every entry whose `source` is one of this source's harmonised tables (national_questionnaire: the answers, one row
per invited country and round; national_capacity_index: the capacity scores) is compiled to SQL:
- country values (estimates.national_questionnaire): `share_of_countries` gives 100 where the numerator holds and 0
  where it does not (a single country is all or nothing); `value` and `index` give the expression's value. Rows in
  the entry's `universe` (usually `responded`) with a non-null value only: an unanswered question has no row.
- group values (estimates.national_questionnaire_groups), for the world, ITU regions, developed/developing, LDCs
  and income groups: the mean of the country values of the group's invited countries that have one (for a share of
  countries: the percentage of the countries that answered). They are not sample estimates and no country is
  weighted: each answering country counts once. Every group value carries the number of countries that answered
  (N_UNWEIGHTED) and the group's response rate (COVERAGE: responding / invited countries, an observation
  attribute), both also in words in COMMENT_OBS; with fewer countries answering than the entry's
  `aggregation.min_countries` (5 in the registry) it is published flagged U (a share of three countries says
  little about a region; it is not withheld, as it is exact for the countries that answered).
The response rate itself is an entry (NC.23: the share of invited countries that responded, universe all invited).
"""

from __future__ import annotations

import duckdb

from indicators import tables
from indicators.registry import Indicator
from indicators.sources.national_questionnaire.harmonise import GROUP_CLASSIFICATIONS

# registry `source` -> the harmonised table its expressions are evaluated against
QUESTIONNAIRE_TABLES = {"national_questionnaire": tables.STAGING_NATIONAL_QUESTIONNAIRE,
                        "national_capacity_index": tables.STAGING_NATIONAL_CAPACITY_INDEX}
METHODS = ("share_of_countries", "value", "index")


def questionnaire_indicators(indicators: list[Indicator]) -> list[Indicator]:
    return [i for i in indicators if i.source in QUESTIONNAIRE_TABLES and i.method in METHODS]


def _country_values_sql(indicator: Indicator) -> str:
    """One entry's country values: INDICATOR, REF_AREA, TIME_PERIOD, value, UNIT_MEASURE, SOURCE_ID."""
    if indicator.method == "share_of_countries":
        value = f"100.0 * CAST(({indicator.numerator}) AS INTEGER)"
    else:
        value = f"CAST(({indicator.value}) AS DOUBLE)"
    universe = f"WHERE ({indicator.universe})" if indicator.universe else ""
    table = QUESTIONNAIRE_TABLES[indicator.source]
    # a country that did not respond has no file of its own: its row rests on the round's files (it is absent)
    source_id = ("coalesce(t.source_id, (SELECT string_agg(DISTINCT source_id, '+' ORDER BY source_id) "
                 f"FROM {tables.RAW_QUESTIONNAIRE_FILES} f WHERE f.round = t.wave))")
    return (f"SELECT '{indicator.code}' AS INDICATOR, t.country AS REF_AREA, t.wave AS TIME_PERIOD, "
            f"{value} AS value, '{indicator.unit}' AS UNIT_MEASURE, {source_id} AS SOURCE_ID, "
            f"{int(indicator.min_countries)} AS flag_below, {bool(indicator.universe)} AS of_respondents "
            f"FROM {table} t {universe}")


def compute_questionnaire_indicators(con: duckdb.DuckDBPyConnection, indicators: list[Indicator]) -> dict[str, int]:
    """Write estimates.national_questionnaire (country values) and estimates.national_questionnaire_groups (group
    values with respondents and response rate); returns rows per indicator code (both tables)."""
    selected = questionnaire_indicators(indicators)
    union = " UNION ALL ".join(_country_values_sql(i) for i in selected) or (
        "SELECT NULL::VARCHAR AS INDICATOR, NULL::VARCHAR AS REF_AREA, NULL::BIGINT AS TIME_PERIOD, "
        "NULL::DOUBLE AS value, NULL::VARCHAR AS UNIT_MEASURE, NULL::VARCHAR AS SOURCE_ID, "
        "NULL::BIGINT AS flag_below, NULL::BOOLEAN AS of_respondents WHERE false")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _nq_values AS SELECT * FROM ({union})")
    con.execute(f"""
        CREATE OR REPLACE TABLE {tables.ESTIMATES_NATIONAL_QUESTIONNAIRE} AS
        SELECT INDICATOR, REF_AREA, TIME_PERIOD, value AS OBS_VALUE, UNIT_MEASURE, SOURCE_ID
        FROM _nq_values WHERE value IS NOT NULL ORDER BY 1, 2, 3""")
    classifications = ", ".join(f"'{c}'" for c in GROUP_CLASSIFICATIONS)
    con.execute(f"""
        CREATE OR REPLACE TABLE {tables.ESTIMATES_NATIONAL_QUESTIONNAIRE_GROUPS} AS
        WITH members AS (
            SELECT m.group_code, m.iso3 FROM {tables.REFERENCE_GROUP_MEMBERS} m
            JOIN {tables.REFERENCE_AGGREGATE_GROUPS} g USING (group_code)
            WHERE g.classification IN ({classifications})),
        invited AS (  -- per group and round: invited and responding countries
            SELECT m.group_code, q.wave, count(*) AS invited, count(*) FILTER (WHERE q.responded) AS responded
            FROM {tables.STAGING_NATIONAL_QUESTIONNAIRE} q JOIN members m ON m.iso3 = q.country GROUP BY ALL),
        grouped AS (
            SELECT v.INDICATOR, m.group_code AS REF_AREA, v.TIME_PERIOD, any_value(v.UNIT_MEASURE) AS UNIT_MEASURE,
                   avg(v.value) AS value, count(*) AS answered, any_value(v.flag_below) AS flag_below,
                   any_value(v.of_respondents) AS of_respondents,
                   array_to_string(list_sort(list_distinct(flatten(list(string_split(v.SOURCE_ID, '+'))))), '+')
                       AS SOURCE_ID
            FROM _nq_values v JOIN members m ON m.iso3 = v.REF_AREA
            WHERE v.value IS NOT NULL GROUP BY ALL)
        SELECT g.INDICATOR, g.REF_AREA, g.TIME_PERIOD, '_T' AS SEX, '_T' AS AGE, '_T' AS URBANISATION,
               g.value AS OBS_VALUE, g.UNIT_MEASURE, NULL::DOUBLE AS STD_ERR, NULL::DOUBLE AS CI_LOWER,
               NULL::DOUBLE AS CI_UPPER, g.answered AS N_UNWEIGHTED,
               CASE WHEN g.answered < g.flag_below THEN 'U' ELSE 'A' END AS OBS_STATUS, 'F' AS CONF_STATUS,
               concat_ws('; ',
                   i.responded || ' of ' || i.invited || ' invited countries responded ('
                       || printf('%.1f', 100.0 * i.responded / i.invited) || ' %)',
                   CASE WHEN g.of_respondents THEN g.answered || ' answered' END,
                   CASE WHEN g.answered < g.flag_below THEN 'fewer than ' || g.flag_below || ' countries answered' END)
                   AS COMMENT_OBS,
               i.responded / i.invited AS COVERAGE, g.SOURCE_ID
        FROM grouped g JOIN invited i ON i.group_code = g.REF_AREA AND i.wave = g.TIME_PERIOD
        ORDER BY 1, 2, 3""")
    rows = dict(con.execute(f"""SELECT INDICATOR, count(*) FROM (
                                    SELECT INDICATOR FROM {tables.ESTIMATES_NATIONAL_QUESTIONNAIRE} UNION ALL
                                    SELECT INDICATOR FROM {tables.ESTIMATES_NATIONAL_QUESTIONNAIRE_GROUPS})
                                GROUP BY 1""").fetchall())
    return {i.code: rows.get(i.code, 0) for i in selected}
