"""Incident reports: harmonise raw.incident_reports into staging.incident_reports and compute the registry's
incident indicators (source `incidents`, methods value and rate) into estimates.incidents.

Harmonisation
- country codes: the file's code, or its mapping in reference.country_code_exceptions (XKX, CHI);
- rows that name no country are set aside in staging.incident_reports_unattributed, with the reason: NCMEC's
  "No Country Listed" row (no code) and codes the manifest entry lists under `unattributed_codes` (a region
  such as "Europe", a dissolved country). They count in NCMEC's yearly totals but in no country's figure;
- the same code on two rows of one file (one territory listed under two names) is one country: the counts are
  added and both rows are named in `source_rows` and `country_names`; the same code in two files is not
  combined, the pandera model's uniqueness rule rejects it;
- denominators for the country and year from staging.ict_country_year_wide: population_total, and
  internet_users = internet_users_pct / 100 x population_total (null when either is missing), each with the
  ICT file(s) it came from (<column>__source).

Estimation compiles each registry entry's expressions (universe, value, numerator, denominator) to SQL over
staging.incident_reports; nothing of a definition is restated here.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from indicators import tables
from indicators.errors import ConfigError, CopError
from indicators.registry import Indicator
from indicators.sql_expressions import referenced_columns
from indicators.tables import table_exists
from indicators.warehouse import ensure_schemas
from schemas.ict import COUNTRY_CODE_RULE
from schemas.incidents import ALL_TYPES, KNOWN_COUNTRY_CHECK, IncidentReportsModel
from schemas.validation import cell_violations, failure_in_words

SOURCE = "incidents"
# the names the tests import these tables by (indicators.tables names them)
STAGING_TABLE = tables.STAGING_INCIDENT_REPORTS
UNATTRIBUTED_TABLE = tables.STAGING_INCIDENT_REPORTS_UNATTRIBUTED
ESTIMATES_TABLE = tables.ESTIMATES_INCIDENTS
INCIDENT_METHODS = ("value", "rate")
# a rate is numerator / denominator x the multiplier its unit names
RATE_MULTIPLIERS = {"per_100k": 100_000, "per_100": 100, "percent": 100}
# staging columns that come from another file than the incident file: the column naming that file
DENOMINATOR_SOURCES = {"population_total": "population_total__source", "internet_users": "internet_users__source"}
ESTIMATE_COLUMNS = ["INDICATOR", "REF_AREA", "TIME_PERIOD", "OBS_VALUE", "UNIT_MEASURE", "SOURCE_ID"]
INT_COLUMNS = ("reports", "confirmed_csam_urls_hosted", "confirmed_csam_urls_global")

HARMONISE_SQL = rf"""
CREATE OR REPLACE TABLE {tables.STAGING_INCIDENT_CODED} AS
SELECT r.*, coalesce(x.iso3, r.country_code) AS country,
       CASE WHEN r.country_code = '' THEN 'no country code in the file (e.g. NCMEC''s "No Country Listed")'
            ELSE u.reason END AS unattributed_reason
FROM {tables.RAW_INCIDENT_REPORTS} r
LEFT JOIN {tables.REFERENCE_COUNTRY_CODE_EXCEPTIONS} x ON x.code = r.country_code
LEFT JOIN {tables.RAW_INCIDENT_UNATTRIBUTED_CODES} u ON u.source_id = r.source_id AND u.country_code = r.country_code;

CREATE OR REPLACE TABLE {tables.STAGING_INCIDENT_REPORTS_UNATTRIBUTED} AS
SELECT source_id, source_file, source_row, source_column, country_name, country_code, year, reporting_org,
       incident_type, reports, unattributed_reason AS reason
FROM {tables.STAGING_INCIDENT_CODED} WHERE unattributed_reason IS NOT NULL
ORDER BY source_id, year, source_row;

CREATE OR REPLACE TABLE {tables.STAGING_INCIDENT_REPORTS} AS
WITH combined AS (
    SELECT country, year, reporting_org, incident_type,
           CAST(sum(reports) AS BIGINT) AS reports,
           source_id, source_file, min(source_row) AS source_row, source_column, code_column,
           min(country_code) AS country_code,
           string_agg(CAST(source_row AS VARCHAR), '+' ORDER BY source_row) AS source_rows,
           string_agg(country_name, '; ' ORDER BY source_row) AS country_names
    FROM {tables.STAGING_INCIDENT_CODED} WHERE unattributed_reason IS NULL
    GROUP BY country, year, reporting_org, incident_type, source_id, source_file, source_column, code_column
)
SELECT c.country, c.year, c.reporting_org, c.incident_type, c.reports,
       CAST(NULL AS BIGINT) AS confirmed_csam_urls_hosted, CAST(NULL AS BIGINT) AS confirmed_csam_urls_global,
       CAST(NULL AS DOUBLE) AS takedown_days_median,
       CAST(w.population_total AS DOUBLE) AS population_total,
       CAST(w.internet_users_pct / 100 * w.population_total AS DOUBLE) AS internet_users,
       c.source_id, c.source_file, c.source_row, c.source_rows, c.source_column, c.code_column, c.country_code,
       c.country_names,
       CASE WHEN w.population_total IS NOT NULL THEN w.population_total__source END AS population_total__source,
       CASE WHEN w.internet_users_pct IS NOT NULL AND w.population_total IS NOT NULL THEN
            array_to_string(list_sort(list_distinct(string_split(
                w.internet_users_pct__source || '+' || w.population_total__source, '+'))), '+') END
           AS internet_users__source
FROM combined c
LEFT JOIN {tables.STAGING_ICT_COUNTRY_YEAR_WIDE} w ON w.ref_area = c.country AND w.year = c.year
ORDER BY c.reporting_org, c.country, c.year, c.incident_type, c.source_id;

DROP TABLE {tables.STAGING_INCIDENT_CODED};
"""


def harmonise_incidents(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Write staging.incident_reports and staging.incident_reports_unattributed from raw.incident_reports."""
    ensure_schemas(con)
    for table in (tables.RAW_INCIDENT_REPORTS, tables.RAW_INCIDENT_UNATTRIBUTED_CODES,
                  tables.STAGING_ICT_COUNTRY_YEAR_WIDE, tables.REFERENCE_COUNTRY_CODE_EXCEPTIONS):
        if not table_exists(con, table):
            raise CopError(f"{table} does not exist: load the raw incident files, the reference tables and the "
                           "harmonised ICT table (denominators) first")
    con.execute(HARMONISE_SQL)
    counts = con.execute(f"""
        SELECT (SELECT count(*) FROM {tables.RAW_INCIDENT_REPORTS}),
               (SELECT count(*) FROM {tables.STAGING_INCIDENT_REPORTS}),
               (SELECT count(DISTINCT country) FROM {tables.STAGING_INCIDENT_REPORTS}),
               (SELECT count(*) FROM {tables.STAGING_INCIDENT_REPORTS} WHERE source_rows LIKE '%+%'),
               (SELECT count(*) FROM {tables.STAGING_INCIDENT_REPORTS_UNATTRIBUTED}),
               (SELECT coalesce(sum(reports), 0) FROM {tables.STAGING_INCIDENT_REPORTS_UNATTRIBUTED}),
               (SELECT count(*) FROM {tables.STAGING_INCIDENT_REPORTS} WHERE population_total IS NULL),
               (SELECT count(*) FROM {tables.STAGING_INCIDENT_REPORTS} WHERE internet_users IS NULL)""").fetchone()
    return dict(zip(["raw_cells", "rows", "countries", "rows_combined_from_two_names", "unattributed_cells",
                     "unattributed_reports", "rows_without_population", "rows_without_internet_users"],
                    (int(c) for c in counts)))


# ------------------------------------------------------------------------------------------------- audit
def staging_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """staging.incident_reports in the pandas dtypes IncidentReportsModel expects (nullable integer counts)."""
    frame = con.execute(f"SELECT * FROM {tables.STAGING_INCIDENT_REPORTS}").df()
    for column in INT_COLUMNS:
        frame[column] = frame[column].astype("Int64")
    for column in ("takedown_days_median", "population_total", "internet_users"):
        frame[column] = frame[column].astype("float64")
    frame["year"] = frame["year"].astype("int64")
    return frame


def audit_incidents(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Violations of IncidentReportsModel, each traced to the file, line and column of the incident cell.

    Each is a dict with file, row (the editor line), column (the file's own name), harmonised_column, rule (in
    words), value and position "line" (errors.Violation.as_dict), sorted by file and line.
    """
    return cell_violations(IncidentReportsModel, staging_frame(con), tables.STAGING_INCIDENT_REPORTS,
                           _incident_cell, position="line")


def _incident_cell(frame: pd.DataFrame, case, row: pd.Series) -> tuple[str, object, object, str]:
    """The rule an incident failure case breaks in words, and the column (as the file names it: the code column
    'iso3', a year header '2022'), value and harmonised name of the delivered cell it is about."""
    check = str(case.check)
    if check == "multiple_fields_uniqueness":
        key = ["country", "year", "reporting_org", "incident_type"]
        dupes = frame[(frame[key] == row[key]).all(axis=1) & (frame.index != case.index)]
        others = "; ".join(f"{f} line {r}" for f, r in zip(dupes["source_file"], dupes["source_row"]))
        return (f"duplicated country-year: {row['country']} {row['year']} {row['reporting_org']} "
                f"{row['incident_type']} also in {others}", row["code_column"], row["country_code"], "country")
    if case.schema_context == "DataFrameSchema":
        # a rule across columns (denominators, measure by organisation): the incident cell of the row
        return check, row["source_column"], row["reports"], "reports"
    if case.column == "country":
        rule = (f"the country code must be an {COUNTRY_CODE_RULE}" if check == KNOWN_COUNTRY_CHECK
                else failure_in_words(IncidentReportsModel, case))
        return rule, row["code_column"], row["country_code"], "country"
    if case.column == "year":
        # the year of a wide file is its column header: the cell's line and that year column
        return failure_in_words(IncidentReportsModel, case), row["source_column"], row["year"], "year"
    return failure_in_words(IncidentReportsModel, case), row["source_column"], case.failure_case, case.column


# ---------------------------------------------------------------------------------------------- estimate
def is_incident_indicator(indicator: Indicator) -> bool:
    return indicator.source == SOURCE and indicator.method in INCIDENT_METHODS


def _source_id(columns: list[str]) -> str:
    """The files a value rests on, each named once: the incident file, and the ICT file(s) of a denominator."""
    parts = list(dict.fromkeys(DENOMINATOR_SOURCES.get(c, "source_id") for c in columns)) or ["source_id"]
    return ("array_to_string(list_sort(list_distinct(string_split(concat_ws('+', " + ", ".join(parts)
            + "), '+'))), '+')")


def compile_incident_indicator(indicator: Indicator) -> str:
    """SELECT INDICATOR, REF_AREA, TIME_PERIOD, OBS_VALUE, UNIT_MEASURE, SOURCE_ID for one registry entry.

    Only the all-types rows (incident_type _T) are published: the release's observation layout has no
    incident-type dimension (SEX, AGE, URBANISATION only), so the by-type rows stay in staging until it has one.
    """
    if indicator.method == "value":
        obs = f"CAST(({indicator.value}) AS DOUBLE)"
        columns = referenced_columns(indicator.value)
    elif indicator.method == "rate":
        if indicator.unit not in RATE_MULTIPLIERS:
            raise ConfigError(f"{indicator.file}: {indicator.code}: field 'unit': a rate needs a unit that names "
                              f"its multiplier ({', '.join(RATE_MULTIPLIERS)}), got {indicator.unit!r}")
        # null (not published) when the denominator is missing or zero
        obs = (f"CAST(({indicator.numerator}) AS DOUBLE) / NULLIF(CAST(({indicator.denominator}) AS DOUBLE), 0)"
               f" * {RATE_MULTIPLIERS[indicator.unit]}")
        columns = referenced_columns(indicator.numerator) + referenced_columns(indicator.denominator)
    else:
        raise ConfigError(f"{indicator.file}: {indicator.code}: field 'method': {indicator.method!r} is not "
                          f"computed from incident reports ({', '.join(INCIDENT_METHODS)})")
    universe = f" AND ({indicator.universe})" if indicator.universe else ""
    return (f"SELECT '{indicator.code}' AS INDICATOR, country AS REF_AREA, year AS TIME_PERIOD, "
            f"obs AS OBS_VALUE, '{indicator.unit}' AS UNIT_MEASURE, "
            f"source_id AS SOURCE_ID FROM ("
            f"SELECT country, year, {obs} AS obs, {_source_id(columns)} AS source_id "
            f"FROM {tables.STAGING_INCIDENT_REPORTS} WHERE incident_type = '{ALL_TYPES}'{universe}) "
            "WHERE obs IS NOT NULL")


def compute_incident_indicators(con: duckdb.DuckDBPyConnection, indicators: list[Indicator]) -> dict[str, int]:
    """Write estimates.incidents for every incident entry of the registry; returns rows per indicator code.

    With no incident entry, or no incident rows in staging, the table is written empty (the release unions it).
    """
    ensure_schemas(con)
    selected = [i for i in indicators if is_incident_indicator(i)]
    if not selected or not table_exists(con, tables.STAGING_INCIDENT_REPORTS):
        con.execute(f"CREATE OR REPLACE TABLE {tables.ESTIMATES_INCIDENTS} (INDICATOR VARCHAR, REF_AREA VARCHAR, "
                    "TIME_PERIOD BIGINT, OBS_VALUE DOUBLE, UNIT_MEASURE VARCHAR, SOURCE_ID VARCHAR)")
        return {i.code: 0 for i in selected}
    union = "\nUNION ALL\n".join(compile_incident_indicator(i) for i in selected)
    con.execute(f"CREATE OR REPLACE TABLE {tables.ESTIMATES_INCIDENTS} AS SELECT * FROM ({union}) "
                "ORDER BY INDICATOR, REF_AREA, TIME_PERIOD")
    repeated = con.execute(f"""SELECT INDICATOR, REF_AREA, TIME_PERIOD, count(*) FROM {tables.ESTIMATES_INCIDENTS}
                               GROUP BY ALL HAVING count(*) > 1 ORDER BY 1, 2, 3 LIMIT 5""").fetchall()
    if repeated:
        code = repeated[0][0]
        entry = next(i for i in selected if i.code == code)
        shown = ", ".join(f"{a} {t} ({n} rows)" for _, a, t, n in repeated)
        raise ConfigError(f"{entry.file}: {code}: field 'universe': selects more than one all-types row per "
                          f"country and year (e.g. {shown}); restrict it to one reporting organisation")
    rows = dict(con.execute(f"SELECT INDICATOR, count(*) FROM {tables.ESTIMATES_INCIDENTS} GROUP BY 1").fetchall())
    return {i.code: int(rows.get(i.code, 0)) for i in selected}
