"""Harmonise raw ICT cells into staging: standard country codes, aggregates set aside, one value chosen.

staging.ict_country_year keeps every country cell of every file with its provenance (so the audit can name
the file, row and column of any broken rule) and marks with `selected` the one value used per country, year
and variable: from the file listed first in the source manifest.
staging.ict_country_year_wide is the selected values pivoted to one row per country and year; indicator
expressions in the registry are evaluated against it.
staging.population_weights is the population part of it (total and aged 0-14, with the file each came from),
one row per country-year with any population: the weights regional and global aggregates are computed with.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from indicators.warehouse import ensure_schemas
from schemas.ict import ICT_VARIABLES, validate_ict_observations

WIDE_TABLE = "staging.ict_country_year_wide"
POPULATION_WEIGHTS_TABLE = "staging.population_weights"
POPULATION_VARIABLES = ("population_total", "population_0_14")

HARMONISE_SQL = r"""
CREATE OR REPLACE TABLE staging._ict_coded AS
SELECT r.*,
       coalesce(x.iso3, r.ref_area_code) AS ref_area,
       (r.ref_area_code = '' OR a.code IS NOT NULL
        OR (starts_with(r.ref_area_code, 'OWID_') AND x.iso3 IS NULL)) AS is_aggregate
FROM raw.ict_country_year r
LEFT JOIN reference.country_code_exceptions x ON x.code = r.ref_area_code
LEFT JOIN reference.wb_aggregate_codes a ON a.code = r.ref_area_code;

CREATE OR REPLACE TABLE staging.ict_aggregates_set_aside AS
SELECT source_file, source_row, ref_area_code, ref_area_name, year, variable, value
FROM staging._ict_coded WHERE is_aggregate
ORDER BY source_file, source_row, year;

CREATE OR REPLACE TABLE staging.ict_country_year AS
SELECT ref_area, year, variable, value, source_id, source_file, source_row, source_column,
       code_column, year_column, ref_area_code, priority,
       row_number() OVER (PARTITION BY ref_area, year, variable ORDER BY priority, source_row) = 1 AS selected
FROM staging._ict_coded WHERE NOT is_aggregate
ORDER BY ref_area, year, variable, priority;

DROP TABLE staging._ict_coded;
"""


def harmonise_ict(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    ensure_schemas(con)
    con.execute(HARMONISE_SQL)
    pivot = ",\n       ".join(
        f"max(value) FILTER (WHERE variable = '{name}') AS {name},\n"
        f"       max(source_id) FILTER (WHERE variable = '{name}') AS {name}__source"
        for name in ICT_VARIABLES)
    con.execute(f"""
        CREATE OR REPLACE TABLE {WIDE_TABLE} AS
        SELECT ref_area, year,
               {pivot}
        FROM staging.ict_country_year WHERE selected
        GROUP BY ref_area, year ORDER BY ref_area, year""")
    columns = ", ".join([*POPULATION_VARIABLES, *(f"{v}__source" for v in POPULATION_VARIABLES)])
    con.execute(f"""
        CREATE OR REPLACE TABLE {POPULATION_WEIGHTS_TABLE} AS
        SELECT ref_area, year, {columns}
        FROM {WIDE_TABLE}
        WHERE {" OR ".join(f"{v} IS NOT NULL" for v in POPULATION_VARIABLES)}
        ORDER BY ref_area, year""")
    counts = con.execute(f"""
        SELECT (SELECT count(*) FROM staging.ict_country_year),
               (SELECT count(*) FROM staging.ict_country_year WHERE selected),
               (SELECT count(DISTINCT ref_area) FROM staging.ict_country_year),
               (SELECT count(*) FROM staging.ict_aggregates_set_aside),
               (SELECT count(DISTINCT ref_area_code) FROM staging.ict_aggregates_set_aside),
               (SELECT count(*) FROM {POPULATION_WEIGHTS_TABLE})""").fetchone()
    return dict(zip(["country_cells", "selected_cells", "countries", "aggregate_cells", "aggregate_codes",
                     "population_country_years"], counts))


def audit_ict(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Violations of the harmonised ICT rules (schemas.ict), each traced to file, row and column."""
    frame: pd.DataFrame = con.execute("SELECT * FROM staging.ict_country_year").df()
    return validate_ict_observations(frame)
