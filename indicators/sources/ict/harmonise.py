"""Harmonise raw ICT cells into staging: standard country codes, aggregates set aside, one value chosen.

staging.ict_country_year keeps every country cell of every file with its provenance (so the audit can name
the file, line and column of any broken rule) and marks with `selected` the one value used per country, year
and variable: from the file listed first in the source manifest.
staging.ict_country_year_wide is the selected values pivoted to one row per country and year; indicator
expressions in the registry are evaluated against it.
staging.population_weights is the population part of it (total and aged 0-14, with the file each came from),
one row per country-year with any population: the weights regional and global aggregates are computed with.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from indicators import tables
from indicators.warehouse import ensure_schemas
from schemas.ict import ICT_VARIABLES, validate_ict_observations

POPULATION_VARIABLES = ("population_total", "population_0_14")

HARMONISE_SQL = rf"""
CREATE OR REPLACE TABLE {tables.STAGING_ICT_CODED} AS
SELECT r.*,
       coalesce(x.iso3, r.ref_area_code) AS ref_area,
       (r.ref_area_code = '' OR a.code IS NOT NULL
        OR (starts_with(r.ref_area_code, 'OWID_') AND x.iso3 IS NULL)) AS is_aggregate
FROM {tables.RAW_ICT_COUNTRY_YEAR} r
LEFT JOIN {tables.REFERENCE_COUNTRY_CODE_EXCEPTIONS} x ON x.code = r.ref_area_code
LEFT JOIN {tables.REFERENCE_WB_AGGREGATE_CODES} a ON a.code = r.ref_area_code;

CREATE OR REPLACE TABLE {tables.STAGING_ICT_AGGREGATES_SET_ASIDE} AS
SELECT source_file, source_row, ref_area_code, ref_area_name, year, variable, value
FROM {tables.STAGING_ICT_CODED} WHERE is_aggregate
ORDER BY source_file, source_row, year;

CREATE OR REPLACE TABLE {tables.STAGING_ICT_COUNTRY_YEAR} AS
SELECT ref_area, year, variable, value, source_id, source_file, source_row, source_column,
       code_column, year_column, ref_area_code, priority,
       row_number() OVER (PARTITION BY ref_area, year, variable ORDER BY priority, source_row) = 1 AS selected
FROM {tables.STAGING_ICT_CODED} WHERE NOT is_aggregate
ORDER BY ref_area, year, variable, priority;

DROP TABLE {tables.STAGING_ICT_CODED};
"""


def harmonise_ict(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    ensure_schemas(con)
    con.execute(HARMONISE_SQL)
    pivot = ",\n       ".join(
        f"max(value) FILTER (WHERE variable = '{name}') AS {name},\n"
        f"       max(source_id) FILTER (WHERE variable = '{name}') AS {name}__source"
        for name in ICT_VARIABLES)
    con.execute(f"""
        CREATE OR REPLACE TABLE {tables.STAGING_ICT_COUNTRY_YEAR_WIDE} AS
        SELECT ref_area, year,
               {pivot}
        FROM {tables.STAGING_ICT_COUNTRY_YEAR} WHERE selected
        GROUP BY ref_area, year ORDER BY ref_area, year""")
    columns = ", ".join([*POPULATION_VARIABLES, *(f"{v}__source" for v in POPULATION_VARIABLES)])
    con.execute(f"""
        CREATE OR REPLACE TABLE {tables.STAGING_POPULATION_WEIGHTS} AS
        SELECT ref_area, year, {columns}
        FROM {tables.STAGING_ICT_COUNTRY_YEAR_WIDE}
        WHERE {" OR ".join(f"{v} IS NOT NULL" for v in POPULATION_VARIABLES)}
        ORDER BY ref_area, year""")
    counts = con.execute(f"""
        SELECT (SELECT count(*) FROM {tables.STAGING_ICT_COUNTRY_YEAR}),
               (SELECT count(*) FROM {tables.STAGING_ICT_COUNTRY_YEAR} WHERE selected),
               (SELECT count(DISTINCT ref_area) FROM {tables.STAGING_ICT_COUNTRY_YEAR}),
               (SELECT count(*) FROM {tables.STAGING_ICT_AGGREGATES_SET_ASIDE}),
               (SELECT count(DISTINCT ref_area_code) FROM {tables.STAGING_ICT_AGGREGATES_SET_ASIDE}),
               (SELECT count(*) FROM {tables.STAGING_POPULATION_WEIGHTS})""").fetchone()
    return dict(zip(["country_cells", "selected_cells", "countries", "aggregate_cells", "aggregate_codes",
                     "population_country_years"], counts))


def audit_ict(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Violations of the harmonised ICT rules (schemas.ict), each traced to the file, its line and its own column."""
    frame: pd.DataFrame = con.execute(f"SELECT * FROM {tables.STAGING_ICT_COUNTRY_YEAR}").df()
    return validate_ict_observations(frame)
