"""Gaps between groups of children, derived from the published cells of survey indicators.

For every registry entry estimated as a proportion:
- with the `sex` disaggregation: the gender parity index `<code>_GPI` = value for girls / value for boys
  (UNESCO's GPI: 1 is parity, below 1 favours boys);
- with the `urbanisation` disaggregation: the urban-rural gap `<code>_URG` = urban - rural, in percentage
  points.
Both are computed for countries and for group values from the published (rounded) cells, so a user can
recompute them from the release. A gap is blank (OBS_STATUS M) when either cell is blank (suppressed or
withheld), flagged E when either cell is flagged E; for groups COVERAGE is the smaller of the two cells'.
Standard errors are not given: the two cells come from one sample and their covariance is not carried.
The series are derived by rule from the registry, so a new survey indicator gets its gaps without code.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from indicators.country_level import published_rounding_by
from indicators.registry import Indicator
from indicators.warehouse import ensure_schemas

GPI_DECIMALS = 2
GAPS_TABLE = "estimates.gaps"


@dataclass(frozen=True)
class DerivedSeries:
    code: str
    base: Indicator
    kind: str  # gender_parity_index | urban_rural_gap
    dimension: str  # SEX | URBANISATION
    numerator_cell: str
    denominator_cell: str

    @property
    def unit(self) -> str:
        return "ratio" if self.kind == "gender_parity_index" else "percentage_points"

    @property
    def decimals(self) -> int:
        return GPI_DECIMALS if self.kind == "gender_parity_index" else self.base.decimals

    @property
    def name(self) -> str:
        label = "Gender parity index (girls / boys)" if self.kind == "gender_parity_index" \
            else "Urban-rural gap (urban - rural, percentage points)"
        return f"{label}: {self.base.name}"

    @property
    def definition(self) -> str:
        if self.kind == "gender_parity_index":
            return (f"Value of {self.base.code} for girls divided by its value for boys, from the published "
                    "cells (1 = parity; below 1 the indicator is lower for girls).")
        return (f"Value of {self.base.code} for children in urban areas minus its value for children in rural "
                "areas, from the published cells, in percentage points.")


def derived_series(indicators: list[Indicator]) -> list[DerivedSeries]:
    out = []
    for i in indicators:
        if i.method != "proportion":
            continue
        if "sex" in i.disaggregations:
            out.append(DerivedSeries(f"{i.code}_GPI", i, "gender_parity_index", "SEX", "F", "M"))
        if "urbanisation" in i.disaggregations:
            out.append(DerivedSeries(f"{i.code}_URG", i, "urban_rural_gap", "URBANISATION", "U", "R"))
    return out


def gaps_sql(indicators: list[Indicator], observations: str) -> str | None:
    """The gap series in the release layout (without RELEASE_ID), from `observations` (same layout)."""
    series = derived_series(indicators)
    if not series:
        return None
    spec = ", ".join(f"('{s.code}', '{s.base.code}', '{s.kind}', '{s.dimension}', '{s.numerator_cell}', "
                     f"'{s.denominator_cell}', '{s.unit}', {s.decimals})" for s in series)
    gap = ("CASE a.kind WHEN 'gender_parity_index' THEN a.OBS_VALUE / nullif(b.OBS_VALUE, 0) "
           "ELSE a.OBS_VALUE - b.OBS_VALUE END")
    return f"""
        WITH spec(code, base, kind, dimension, numerator_cell, denominator_cell, unit, decimals_) AS (VALUES {spec}),
        cells AS (
            -- the cells of one dimension, all other dimensions at their total
            SELECT spec.*, o.*,
                   CASE spec.dimension WHEN 'SEX' THEN o.SEX ELSE o.URBANISATION END AS category
            FROM ({observations}) o JOIN spec ON o.INDICATOR = spec.base
            WHERE o.AGE = '_T' AND (CASE spec.dimension WHEN 'SEX' THEN o.URBANISATION ELSE o.SEX END) = '_T')
        SELECT a.code AS INDICATOR, a.REF_AREA, a.TIME_PERIOD, '_T' AS SEX, '_T' AS AGE, '_T' AS URBANISATION,
               {published_rounding_by(gap, "a.decimals_")} AS OBS_VALUE, a.unit AS UNIT_MEASURE,
               CAST(NULL AS DOUBLE) AS STD_ERR, CAST(NULL AS DOUBLE) AS CI_LOWER, CAST(NULL AS DOUBLE) AS CI_UPPER,
               CAST(NULL AS DOUBLE) AS CV, CAST(NULL AS DOUBLE) AS N_UNWEIGHTED,
               CASE WHEN ({gap}) IS NULL THEN 'M' WHEN 'E' IN (a.OBS_STATUS, b.OBS_STATUS) THEN 'E' ELSE 'A' END
                   AS OBS_STATUS,
               'F' AS CONF_STATUS,
               CASE WHEN a.COVERAGE IS NOT NULL OR b.COVERAGE IS NOT NULL THEN least(a.COVERAGE, b.COVERAGE) END
                   AS COVERAGE,
               array_to_string(list_sort(list_distinct([a.SOURCE_ID, b.SOURCE_ID])), '+') AS SOURCE_ID
        FROM cells a JOIN cells b ON b.code = a.code AND b.REF_AREA = a.REF_AREA AND b.TIME_PERIOD = a.TIME_PERIOD
            AND b.category = a.denominator_cell
        WHERE a.category = a.numerator_cell"""


def compute_gaps(con: duckdb.DuckDBPyConnection, indicators: list[Indicator], observations: str) -> int:
    """Write estimates.gaps (release layout without RELEASE_ID) from `observations`; returns its row count."""
    ensure_schemas(con)
    query = gaps_sql(indicators, observations)
    if query is None:
        con.execute(f"CREATE OR REPLACE TABLE {GAPS_TABLE} AS SELECT * FROM ({observations}) LIMIT 0")
    else:
        con.execute(f"CREATE OR REPLACE TABLE {GAPS_TABLE} AS {query}")
    return con.execute(f"SELECT count(*) FROM {GAPS_TABLE}").fetchone()[0]
