"""The published observation set, assembled in SQL from the estimates tables (DESIGN.md 4.3 layout).

Country observations come from the observation tables every registered source declares (indicators.sources):
e.g. estimates.country_year and estimates.incidents (country-level values: status A, no sampling error) and
estimates.survey_* (survey estimates and country gaps with their quality columns). Group
values (estimates.aggregates) and their gaps (estimates.gaps) are computed from the country observations and
added to them for the release. Every table here is unrounded; release_observations_sql computes CV and rounds
every statistic once (indicators.publication).
"""

from __future__ import annotations

import duckdb

from indicators import tables
from indicators.publication import finish_observations_sql
from indicators.sources import registered_sources
from indicators.tables import table_exists  # indicators.release imports it from here too

# the release layout before CV and RELEASE_ID are added
LAYOUT = ("INDICATOR, REF_AREA, TIME_PERIOD, SEX, AGE, URBANISATION, OBS_VALUE, UNIT_MEASURE, STD_ERR, CI_LOWER, "
          "CI_UPPER, N_UNWEIGHTED, OBS_STATUS, CONF_STATUS, COMMENT_OBS, COVERAGE, SOURCE_ID")
GAP_SUFFIX = r"_(GPI|URG)$"


# the columns a table needs to be read as country observations; the others of the layout default (below)
OBSERVATION_KEY_COLUMNS = ("INDICATOR", "REF_AREA", "TIME_PERIOD", "OBS_VALUE", "UNIT_MEASURE", "SOURCE_ID")


def observation_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The tables of country observations the registered sources wrote (their `observation_tables`, `*` patterns
    resolved against the warehouse), each with at least the key columns of the layout."""
    patterns = [t for source in registered_sources() for t in source.observation_tables]
    found = []
    for pattern in patterns:
        schema, name = pattern.split(".")
        for (table,) in con.execute(
                """SELECT table_schema || '.' || table_name FROM information_schema.columns
                   WHERE table_schema = ? AND table_name LIKE ? GROUP BY ALL
                   HAVING count(*) FILTER (WHERE column_name IN ?) = ? ORDER BY 1""",
                [schema, name.replace("*", "%"), list(OBSERVATION_KEY_COLUMNS),
                 len(OBSERVATION_KEY_COLUMNS)]).fetchall():
            if table not in found:
                found.append(table)
    return found


def country_observations_sql(con: duckdb.DuckDBPyConnection) -> str:
    """Every country observation, one delivery per indicator, country and period, in the release layout plus
    POPULATION_SHARE (a survey cell's share of the surveyed population) and CELL_COVARIANCE (a gap's).

    The sources' tables are stacked by column name: an administrative source writes the key columns only (a
    country total, status A, no sampling error), a survey writes every column of the layout."""
    observed = observation_tables(con)
    if not observed:
        return f"SELECT {LAYOUT}, CAST(NULL AS DOUBLE) AS POPULATION_SHARE, " \
               "CAST(NULL AS DOUBLE) AS CELL_COVARIANCE WHERE false"
    stacked = " UNION ALL BY NAME ".join(f"SELECT * FROM {t}" for t in observed)
    columns = {c for t in observed for (c,) in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema || '.' || table_name = ?",
        [t]).fetchall()}

    def column(name: str, default: str, cast: str) -> str:
        return f"CAST(coalesce({name}, {default}) AS {cast})" if name in columns else f"CAST({default} AS {cast})"

    return f"""
        SELECT * FROM (
        SELECT INDICATOR, REF_AREA, CAST(TIME_PERIOD AS BIGINT) AS TIME_PERIOD,
               {column("SEX", "'_T'", "VARCHAR")} AS SEX, {column("AGE", "'_T'", "VARCHAR")} AS AGE,
               {column("URBANISATION", "'_T'", "VARCHAR")} AS URBANISATION,
               OBS_VALUE, UNIT_MEASURE,
               {column("STD_ERR", "NULL", "DOUBLE")} AS STD_ERR, {column("CI_LOWER", "NULL", "DOUBLE")} AS CI_LOWER,
               {column("CI_UPPER", "NULL", "DOUBLE")} AS CI_UPPER,
               {column("N_UNWEIGHTED", "NULL", "BIGINT")} AS N_UNWEIGHTED,
               {column("OBS_STATUS", "'A'", "VARCHAR")} AS OBS_STATUS,
               {column("CONF_STATUS", "'F'", "VARCHAR")} AS CONF_STATUS,
               {column("COMMENT_OBS", "NULL", "VARCHAR")} AS COMMENT_OBS, CAST(NULL AS DOUBLE) AS COVERAGE, SOURCE_ID,
               {column("POPULATION_SHARE", "NULL", "DOUBLE")} AS POPULATION_SHARE,
               {column("CELL_COVARIANCE", "NULL", "DOUBLE")} AS CELL_COVARIANCE
        FROM ({stacked}))
        -- two deliveries for one country and wave: publish all cells of the one with more cases in the total,
        -- never a mix (complementary suppression holds within one delivery); a gap follows its indicator
        QUALIFY SOURCE_ID = first(SOURCE_ID) OVER (
            PARTITION BY regexp_replace(INDICATOR, '{GAP_SUFFIX}', ''), REF_AREA, TIME_PERIOD
            ORDER BY CASE WHEN SEX = '_T' AND AGE = '_T' AND URBANISATION = '_T'
                          AND NOT regexp_matches(INDICATOR, '{GAP_SUFFIX}') THEN N_UNWEIGHTED END
                     DESC NULLS LAST, SOURCE_ID)"""


def write_country_observations(con: duckdb.DuckDBPyConnection) -> int:
    """Stack the country observations once per build (group values, gaps and the release all read them)."""
    con.execute(f"CREATE OR REPLACE TABLE {tables.ESTIMATES_COUNTRY_OBSERVATIONS} AS {country_observations_sql(con)}")
    return con.execute(f"SELECT count(*) FROM {tables.ESTIMATES_COUNTRY_OBSERVATIONS}").fetchone()[0]


def country_observations(con: duckdb.DuckDBPyConnection) -> str:
    """SQL of the country observations: the table this build wrote, else computed from the sources' tables."""
    if table_exists(con, tables.ESTIMATES_COUNTRY_OBSERVATIONS):
        return f"SELECT * FROM {tables.ESTIMATES_COUNTRY_OBSERVATIONS}"
    return country_observations_sql(con)


def group_value_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The group values of the common aggregation and its gaps, and those a source computes itself (its
    `group_value_tables`, in the release layout), present in the warehouse."""
    candidates = [tables.ESTIMATES_AGGREGATES, tables.ESTIMATES_GAPS,
                  *(t for source in registered_sources() for t in source.group_value_tables)]
    return [t for t in candidates if table_exists(con, t)]


def unrounded_observations_sql(con: duckdb.DuckDBPyConnection) -> str:
    """Country observations, group values and gaps in the release layout (without CV), unrounded."""
    parts = [country_observations(con)] + [f"SELECT {LAYOUT} FROM {t}" for t in group_value_tables(con)]
    return "\nUNION ALL\n".join(f"SELECT {LAYOUT} FROM ({p})" for p in parts)


def provenance_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(source name, table) of every registered source's provenance table present in the warehouse."""
    return [(source.name, table) for source in registered_sources() for table in source.provenance_tables
            if table_exists(con, table)]


def input_sources_sql(con: duckdb.DuckDBPyConnection) -> str:
    """source_id, synthetic of every input file of the build (each source's provenance tables)."""
    parts = [f"SELECT source_id, CAST(synthetic AS BOOLEAN) AS synthetic FROM {t}"
             for _, t in provenance_tables(con)]
    return " UNION ALL ".join(parts) or "SELECT NULL::VARCHAR AS source_id, NULL::BOOLEAN AS synthetic WHERE false"


def release_inputs(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Provenance of every input the release rests on, for its manifest: each source's files, in the order the
    source recorded them, without the deliveries that were rejected (they are listed as left out)."""
    rejected = {s for (s,) in con.execute(
        f"SELECT source_id FROM {tables.QUALITY_SOURCE_STATUS} WHERE status <> 'accepted'").fetchall()} \
        if table_exists(con, tables.QUALITY_SOURCE_STATUS) else set()
    inputs = []
    for source, table in provenance_tables(con):
        frame = con.execute(f"SELECT * FROM {table}").df()
        frame = frame.sort_values("priority" if "priority" in frame else "source_id", kind="stable")
        for row in frame.to_dict("records"):
            if row["source_id"] in rejected:
                continue
            row.setdefault("layout", "microdata" if "format" in row else source)
            inputs.append({"source": source, **row})
    return inputs


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
    return f"SELECT * FROM ({country_observations(con)}) WHERE regexp_matches(INDICATOR, '{GAP_SUFFIX}')"


def missing_decimals(con: duckdb.DuckDBPyConnection, decimals: dict[str, int]) -> list[str]:
    """Indicator codes in the observations that `decimals` does not cover (they would be dropped)."""
    present = {code for (code,) in con.execute(
        f"SELECT DISTINCT INDICATOR FROM ({unrounded_observations_sql(con)})").fetchall()}
    return sorted(present - set(decimals))
