"""Gaps between groups of children: the gender parity index and the urban-rural gap of survey proportions.

For every registry entry estimated as a proportion:
- with the `sex` disaggregation: the gender parity index `<code>_GPI` = value for girls / value for boys
  (1 is parity; below 1 the indicator is lower for girls than for boys: for an access or skills indicator that
  is a gap against girls, for a risk or harm indicator it means girls are less exposed);
- with the `urbanisation` disaggregation: the urban-rural gap `<code>_URG` = urban - rural, in percentage
  points.
Country gaps are estimated with the survey indicators (indicators.sources.survey_microdata.estimates) from the
unrounded cells, with the covariance of the two cells from the same design. Group gaps are computed here from
the unrounded group values; their variance carries the covariance of the two group cells,
Cov(G_1, G_2) = sum_i a_i b_i Cov_i(cell 1, cell 2), over the countries in both cells (a_i, b_i their shares
of each cell's weight; countries are independent samples). A gap is withheld (Q / D) when a cell is suppressed
or withheld for confidentiality, missing (O) when a cell is missing, low reliability (U) when a cell is, and
COMMENT_OBS says when its 95 % interval includes parity. The series are derived by rule from the registry, so a
new survey indicator gets its gaps without code.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from indicators import tables
from indicators.registry import Indicator
from indicators.warehouse import ensure_schemas

GPI_DECIMALS = 2
GAPS_TABLE = tables.ESTIMATES_GAPS  # the name the tests import it by
Z_95 = 1.959963984540054


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
    def parity(self) -> float:
        return 1.0 if self.kind == "gender_parity_index" else 0.0

    @property
    def name(self) -> str:
        label = "Gender parity index (girls / boys)" if self.kind == "gender_parity_index" \
            else "Urban-rural gap (urban - rural, percentage points)"
        return f"{label}: {self.base.name}"

    @property
    def definition(self) -> str:
        if self.kind == "gender_parity_index":
            return (f"Value of {self.base.code} for girls divided by its value for boys, from the unrounded "
                    "estimates, with a design-based standard error (1 = parity; below 1 the indicator is lower "
                    "for girls).")
        return (f"Value of {self.base.code} for children in urban areas minus its value for children in rural "
                "areas, from the unrounded estimates, in percentage points, with a design-based standard error.")


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


def _category(dimension: str, alias: str) -> str:
    return f"CASE {dimension} WHEN 'SEX' THEN {alias}.SEX ELSE {alias}.URBANISATION END"


def _other(dimension: str, alias: str) -> str:
    return f"CASE {dimension} WHEN 'SEX' THEN {alias}.URBANISATION ELSE {alias}.SEX END"


def group_gaps_sql(indicators: list[Indicator], aggregates: str, contributions: str | None,
                   country_gaps: str) -> str | None:
    """The gap series of the group values (release layout without RELEASE_ID, unrounded).

    `aggregates`: the group values; `contributions`: the members behind them (None: no survey group values);
    `country_gaps`: country rows of the gap series with CELL_COVARIANCE (the covariance of the two cells)."""
    series = derived_series(indicators)
    if not series:
        return None
    spec = ", ".join(f"('{s.code}', '{s.base.code}', '{s.kind}', '{s.dimension}', '{s.numerator_cell}', "
                     f"'{s.denominator_cell}', '{s.unit}', {s.parity})" for s in series)
    cross = "CAST(NULL AS DOUBLE)"
    cross_join = ""
    if contributions:
        cross_join = f"""
        LEFT JOIN (
            -- sum over the countries in both cells of a_i b_i Cov_i: their shares of each cell's weight times the
            -- covariance of their two cells (from their own design)
            SELECT s.code, a.REF_AREA, a.TIME_PERIOD,
                   sum(a.share_of_weight * b.share_of_weight * g.CELL_COVARIANCE) AS covariance
            FROM spec s
            JOIN ({contributions}) a ON a.INDICATOR = s.base AND a.AGE = '_T'
                AND {_category('s.dimension', 'a')} = s.first_cell AND {_other('s.dimension', 'a')} = '_T'
            JOIN ({contributions}) b ON b.INDICATOR = s.base AND b.REF_AREA = a.REF_AREA
                AND b.TIME_PERIOD = a.TIME_PERIOD AND b.MEMBER = a.MEMBER AND b.AGE = '_T'
                AND {_category('s.dimension', 'b')} = s.second_cell AND {_other('s.dimension', 'b')} = '_T'
            JOIN ({country_gaps}) g ON g.INDICATOR = s.code AND g.REF_AREA = a.MEMBER
                AND g.TIME_PERIOD = a.TIME_PERIOD
            GROUP BY ALL) x ON x.code = p.code AND x.REF_AREA = p.REF_AREA AND x.TIME_PERIOD = p.TIME_PERIOD"""
        cross = "coalesce(x.covariance, 0)"
    value = "CASE p.kind WHEN 'gender_parity_index' THEN p.v1 / nullif(p.v2, 0) ELSE p.v1 - p.v2 END"
    variance = (f"CASE p.kind WHEN 'gender_parity_index' THEN power(p.v1 / p.v2, 2) * (p.se1 * p.se1 / (p.v1 * p.v1)"
                f" + p.se2 * p.se2 / (p.v2 * p.v2) - 2 * {cross} / (p.v1 * p.v2))"
                f" ELSE p.se1 * p.se1 + p.se2 * p.se2 - 2 * {cross} END")
    withheld = "'Q' IN (p.s1, p.s2)"
    missing = f"NOT ({withheld}) AND (p.v1 IS NULL OR p.v2 IS NULL OR ({value}) IS NULL)"
    low = "'U' IN (p.s1, p.s2)"
    return f"""
        WITH spec(code, base, kind, dimension, first_cell, second_cell, unit, parity) AS (VALUES {spec}),
        cells AS (
            -- the group cells of one dimension, all other dimensions at their total
            SELECT spec.*, a.*, {_category('spec.dimension', 'a')} AS category
            FROM ({aggregates}) a JOIN spec ON a.INDICATOR = spec.base
            WHERE a.AGE = '_T' AND {_other('spec.dimension', 'a')} = '_T'),
        pairs AS (
            SELECT a.code, a.kind, a.unit, a.parity, a.REF_AREA, a.TIME_PERIOD, a.OBS_VALUE AS v1,
                   b.OBS_VALUE AS v2, a.STD_ERR AS se1, b.STD_ERR AS se2, a.OBS_STATUS AS s1, b.OBS_STATUS AS s2,
                   a.N_UNWEIGHTED AS n1, b.N_UNWEIGHTED AS n2, least(a.COVERAGE, b.COVERAGE) AS coverage,
                   array_to_string(list_sort(list_distinct(string_split(a.SOURCE_ID, '+')
                                                           || string_split(b.SOURCE_ID, '+'))), '+') AS source_id,
                   a.second_cell
            FROM cells a JOIN cells b ON b.code = a.code AND b.REF_AREA = a.REF_AREA
                AND b.TIME_PERIOD = a.TIME_PERIOD AND b.category = a.second_cell
            WHERE a.category = a.first_cell),
        gaps AS (
            SELECT p.*, CASE WHEN {withheld} OR {missing} THEN NULL ELSE {value} END AS gap,
                   CASE WHEN {withheld} OR {missing} THEN NULL ELSE sqrt(greatest({variance}, 0)) END AS se
            FROM pairs p{cross_join})
        SELECT code AS INDICATOR, REF_AREA, TIME_PERIOD, '_T' AS SEX, '_T' AS AGE, '_T' AS URBANISATION,
               gap AS OBS_VALUE, unit AS UNIT_MEASURE, se AS STD_ERR,
               gap - {Z_95} * se AS CI_LOWER, gap + {Z_95} * se AS CI_UPPER,
               CAST(CASE WHEN gap IS NOT NULL THEN n1 + n2 END AS BIGINT) AS N_UNWEIGHTED,
               CASE WHEN {withheld.replace('p.', '')} THEN 'Q' WHEN gap IS NULL THEN 'O' WHEN {low.replace('p.', '')}
                    THEN 'U' ELSE 'A' END AS OBS_STATUS,
               CASE WHEN {withheld.replace('p.', '')} THEN 'D' ELSE 'F' END AS CONF_STATUS,
               nullif(concat_ws('; ',
                   CASE WHEN {withheld.replace('p.', '')} THEN 'a cell is withheld (Q)' END,
                   CASE WHEN NOT ({withheld.replace('p.', '')}) AND 'L' IN (s1, s2)
                        THEN 'a cell is below the minimum coverage (L)'
                        WHEN NOT ({withheld.replace('p.', '')}) AND (v1 IS NULL OR v2 IS NULL)
                        THEN 'a cell is missing' END,
                   CASE WHEN NOT ({withheld.replace('p.', '')}) AND v2 = 0 AND kind = 'gender_parity_index'
                        THEN 'the ' || second_cell || ' cell is 0' END,
                   CASE WHEN gap IS NOT NULL AND {low.replace('p.', '')} THEN 'a cell has low reliability' END,
                   CASE WHEN gap - {Z_95} * se <= parity AND parity <= gap + {Z_95} * se
                        THEN 'parity within the 95% CI' END), '') AS COMMENT_OBS,
               coverage AS COVERAGE, source_id AS SOURCE_ID
        FROM gaps"""


def compute_group_gaps(con: duckdb.DuckDBPyConnection, indicators: list[Indicator], aggregates_table: str,
                       contributions_table: str | None, country_gaps: str) -> int:
    """Write estimates.gaps (the group values' gaps, release layout without RELEASE_ID); returns its rows."""
    ensure_schemas(con)
    query = group_gaps_sql(indicators, f"SELECT * FROM {aggregates_table}",
                           f"SELECT * FROM {contributions_table}" if contributions_table else None, country_gaps)
    if query is None:
        con.execute(f"CREATE OR REPLACE TABLE {tables.ESTIMATES_GAPS} AS SELECT * FROM {aggregates_table} LIMIT 0")
    else:
        con.execute(f"CREATE OR REPLACE TABLE {tables.ESTIMATES_GAPS} AS {query}")
    return con.execute(f"SELECT count(*) FROM {tables.ESTIMATES_GAPS}").fetchone()[0]
