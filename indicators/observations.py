"""The published observation set, assembled in SQL from the estimates tables (DESIGN.md 4.3 layout).

Country observations come from estimates.country_year and estimates.incidents (country-level values: status A,
no sampling error) and estimates.survey_* (survey estimates and country gaps with their quality columns). Group
values (estimates.aggregates) and their gaps (estimates.gaps) are computed from the country observations and
added to them for the release. Every table here is unrounded; release_observations_sql computes CV and rounds
every statistic once (indicators.publication).
"""

from __future__ import annotations

import duckdb

from indicators.aggregation import AGGREGATES_TABLE
from indicators.country_level import ESTIMATES_TABLE
from indicators.gaps import GAPS_TABLE
from indicators.incidents import ESTIMATES_TABLE as INCIDENTS_TABLE
from indicators.publication import finish_observations_sql

# the release layout before CV and RELEASE_ID are added
LAYOUT = ("INDICATOR, REF_AREA, TIME_PERIOD, SEX, AGE, URBANISATION, OBS_VALUE, UNIT_MEASURE, STD_ERR, CI_LOWER, "
          "CI_UPPER, N_UNWEIGHTED, OBS_STATUS, CONF_STATUS, COMMENT_OBS, COVERAGE, SOURCE_ID")
GAP_SUFFIX = r"_(GPI|URG)$"


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? "
                            "AND table_name = ?", [schema, name]).fetchone()[0])


def survey_estimate_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [f"estimates.{name}" for (name,) in con.execute(
        """SELECT table_name FROM information_schema.columns WHERE table_schema = 'estimates'
           AND table_name LIKE 'survey_%' AND column_name = 'OBS_VALUE' ORDER BY 1""").fetchall()]


def country_observations_sql(con: duckdb.DuckDBPyConnection) -> str:
    """Every country observation, one delivery per indicator, country and period, in the release layout plus
    POPULATION_SHARE (a survey cell's share of the surveyed population) and CELL_COVARIANCE (a gap's)."""
    country_tables = [ESTIMATES_TABLE] + [t for t in (INCIDENTS_TABLE,) if table_exists(con, t)]
    country = " UNION ALL BY NAME ".join(f"SELECT * FROM {t}" for t in country_tables)
    survey = "".join(f"""
        UNION ALL
        SELECT INDICATOR, REF_AREA, CAST(TIME_PERIOD AS BIGINT), SEX, AGE, URBANISATION, OBS_VALUE, UNIT_MEASURE,
               STD_ERR, CI_LOWER, CI_UPPER, CAST(N_UNWEIGHTED AS BIGINT), OBS_STATUS, CONF_STATUS, COMMENT_OBS,
               CAST(NULL AS DOUBLE), SOURCE_ID, POPULATION_SHARE, CELL_COVARIANCE
        FROM {table}""" for table in survey_estimate_tables(con))
    return f"""
        SELECT * FROM (
        SELECT INDICATOR, REF_AREA, CAST(TIME_PERIOD AS BIGINT) AS TIME_PERIOD,
               '_T' AS SEX, '_T' AS AGE, '_T' AS URBANISATION,
               OBS_VALUE, UNIT_MEASURE,
               CAST(NULL AS DOUBLE) AS STD_ERR, CAST(NULL AS DOUBLE) AS CI_LOWER, CAST(NULL AS DOUBLE) AS CI_UPPER,
               CAST(NULL AS BIGINT) AS N_UNWEIGHTED, 'A' AS OBS_STATUS, 'F' AS CONF_STATUS,
               CAST(NULL AS VARCHAR) AS COMMENT_OBS, CAST(NULL AS DOUBLE) AS COVERAGE, SOURCE_ID,
               CAST(NULL AS DOUBLE) AS POPULATION_SHARE, CAST(NULL AS DOUBLE) AS CELL_COVARIANCE
        FROM ({country}){survey})
        -- two deliveries for one country and wave: publish all cells of the one with more cases in the total,
        -- never a mix (complementary suppression holds within one delivery); a gap follows its indicator
        QUALIFY SOURCE_ID = first(SOURCE_ID) OVER (
            PARTITION BY regexp_replace(INDICATOR, '{GAP_SUFFIX}', ''), REF_AREA, TIME_PERIOD
            ORDER BY CASE WHEN SEX = '_T' AND AGE = '_T' AND URBANISATION = '_T'
                          AND NOT regexp_matches(INDICATOR, '{GAP_SUFFIX}') THEN N_UNWEIGHTED END
                     DESC NULLS LAST, SOURCE_ID)"""


def unrounded_observations_sql(con: duckdb.DuckDBPyConnection) -> str:
    """Country observations, group values and gaps in the release layout (without CV), unrounded."""
    parts = [country_observations_sql(con)] + [f"SELECT {LAYOUT} FROM {t}" for t in (AGGREGATES_TABLE, GAPS_TABLE)
                                                if table_exists(con, t)]
    return "\nUNION ALL\n".join(f"SELECT {LAYOUT} FROM ({p})" for p in parts)


INPUT_FILE_TABLES = ("raw.ict_files", "raw.incident_files", "raw.microdata_files")


def input_sources_sql(con: duckdb.DuckDBPyConnection) -> str:
    """source_id, synthetic of every input file of the build (ICT files, incident files, survey deliveries)."""
    parts = [f"SELECT source_id, CAST(synthetic AS BOOLEAN) AS synthetic FROM {t}"
             for t in INPUT_FILE_TABLES if table_exists(con, t)]
    return " UNION ALL ".join(parts) or "SELECT NULL::VARCHAR AS source_id, NULL::BOOLEAN AS synthetic WHERE false"


def unknown_source_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """SOURCE_ID parts of the observations that name no input file (their SYNTHETIC label would be a guess)."""
    return [s for (s,) in con.execute(f"""
        SELECT DISTINCT unnest(string_split(SOURCE_ID, '+')) AS part FROM ({unrounded_observations_sql(con)})
        WHERE SOURCE_ID IS NOT NULL EXCEPT SELECT source_id FROM ({input_sources_sql(con)}) ORDER BY 1""").fetchall()]


def release_observations_sql(con: duckdb.DuckDBPyConnection, release_id: str, decimals: dict[str, int]) -> str:
    """Every observation of the release, CV computed and rounded by `decimals` (INDICATOR -> decimals), with
    SYNTHETIC (true when any input file the value rests on is a generated sample: a value is labelled, not the
    whole release) and the release id, in the published order."""
    finished = finish_observations_sql(unrounded_observations_sql(con), decimals)
    return f"""
        WITH finished AS ({finished}),
        inputs AS ({input_sources_sql(con)}),
        synthetic_sources AS (
            SELECT s.SOURCE_ID, bool_or(coalesce(i.synthetic, false)) AS SYNTHETIC
            FROM (SELECT DISTINCT SOURCE_ID, unnest(string_split(SOURCE_ID, '+')) AS part
                  FROM finished WHERE SOURCE_ID IS NOT NULL) s
            LEFT JOIN inputs i ON i.source_id = s.part GROUP BY s.SOURCE_ID)
        SELECT f.*, coalesce(x.SYNTHETIC, false) AS SYNTHETIC, '{release_id}' AS RELEASE_ID
        FROM finished f LEFT JOIN synthetic_sources x USING (SOURCE_ID)
        ORDER BY INDICATOR, REF_AREA, TIME_PERIOD, SEX, AGE, URBANISATION"""


def country_gaps_sql(con: duckdb.DuckDBPyConnection) -> str:
    """The country rows of the gap series (with CELL_COVARIANCE), as published."""
    return f"SELECT * FROM ({country_observations_sql(con)}) WHERE regexp_matches(INDICATOR, '{GAP_SUFFIX}')"


def missing_decimals(con: duckdb.DuckDBPyConnection, decimals: dict[str, int]) -> list[str]:
    """Indicator codes in the observations that `decimals` does not cover (they would be dropped)."""
    present = {code for (code,) in con.execute(
        f"SELECT DISTINCT INDICATOR FROM ({unrounded_observations_sql(con)})").fetchall()}
    return sorted(present - set(decimals))
