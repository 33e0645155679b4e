"""Survey indicators of the registry, estimated from the harmonised microdata with their design.

Every registry entry on a survey source with method proportion, mean, total or ratio is compiled to one call
of the Taylor engine: domains are country x wave (within the delivering source, whose strata and PSUs make the
design) and each published disaggregation (SEX, AGE, URBANISATION) with its total. Then the quality rules of
DESIGN.md 4.4 (thresholds overridable per indicator in the registry):
- primary suppression: fewer than min_n unweighted cases, or CV above max_cv: OBS_VALUE null, OBS_STATUS Q,
  CONF_STATUS N (not for publication);
- flags: fewer than flag_n cases, CV above flag_cv, a 0 % / 100 % cell, or fewer than 2 degrees of freedom:
  OBS_STATUS E (use with caution);
- complementary suppression: within one margin (e.g. the sex cells of one indicator, country and wave), when
  the total is published and exactly one category is suppressed, the published category with the fewest cases
  is suppressed too (OBS_STATUS Q, CONF_STATUS D), so the suppressed value cannot be recovered from the total
  and the other sub-totals.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from indicators.estimation.taylor import TOTAL, Design, Estimand, estimate_many
from indicators.registry import Indicator
from indicators.warehouse import ensure_schemas
from schemas.sources import harmonised_sources

SURVEY_METHODS = ("proportion", "mean", "total", "ratio")
SURVEY_SOURCES = ("child_survey",)
# harmonised classifier -> published SDMX dimension
DIMENSIONS = {"sex": "SEX", "age_band": "AGE", "urbanisation": "URBANISATION"}
ESTIMATE_COLUMNS = ["INDICATOR", "REF_AREA", "TIME_PERIOD", "SEX", "AGE", "URBANISATION", "OBS_VALUE",
                    "UNIT_MEASURE", "STD_ERR", "CI_LOWER", "CI_UPPER", "CV", "DEFF", "N_UNWEIGHTED", "N_WEIGHTED",
                    "DF", "OBS_STATUS", "CONF_STATUS", "SOURCE_ID"]
ESTIMATE_TYPES = {name: "VARCHAR" for name in ESTIMATE_COLUMNS} | {
    "TIME_PERIOD": "BIGINT", **{name: "DOUBLE" for name in ("OBS_VALUE", "STD_ERR", "CI_LOWER", "CI_UPPER", "CV",
                                                              "DEFF", "N_UNWEIGHTED", "N_WEIGHTED", "DF")}}


def round_half_away(values: pd.Series, decimals: int) -> pd.Series:
    """Ties away from zero, as the country-level values (pandas' round() would round half to even)."""
    scale = 10.0 ** decimals
    return np.sign(values) * np.floor(np.abs(values) * scale + 0.5) / scale


def age_code(band: str) -> str:
    """'9-11' -> 'Y9T11', '75+' -> 'Y_GE75' (SDMX age codes)."""
    if band == TOTAL:
        return TOTAL
    if band.endswith("+"):
        return f"Y_GE{band[:-1]}"
    low, high = band.split("-")
    return f"Y{int(low)}T{int(high)}"


def is_survey_indicator(indicator: Indicator) -> bool:
    return indicator.source in SURVEY_SOURCES and indicator.method in SURVEY_METHODS


def survey_design(lonely_psu: str = "adjust") -> Design:
    # strata and PSUs are the delivering source's own: prefix them so that two sources never share one
    return Design(weight="weight", stratum="source_id || '/' || stratum", psu="source_id || '/' || stratum || '/' || psu",
                  fpc="fpc", lonely_psu=lonely_psu)


def estimate_indicator(con: duckdb.DuckDBPyConnection, indicator: Indicator, lonely_psu: str = "adjust"
                       ) -> pd.DataFrame:
    """One indicator in every domain, with quality rules applied, in the published column names."""
    return estimate_indicators(con, [indicator], lonely_psu)[indicator.code]


def estimate_indicators(con: duckdb.DuckDBPyConnection, indicators: list[Indicator], lonely_psu: str = "adjust"
                        ) -> dict[str, pd.DataFrame]:
    """Several indicators; those on one source with the same disaggregations share one scan of the microdata."""
    batches: dict[tuple, list[Indicator]] = {}
    for indicator in indicators:
        dimensions = tuple(d for d in indicator.disaggregations if d in DIMENSIONS)
        batches.setdefault((indicator.source, dimensions), []).append(indicator)
    out = {}
    for (source, dimensions), members in batches.items():
        table = harmonised_sources()[source].table
        estimands = [Estimand(i.method, i.numerator if i.method in ("proportion", "ratio") else i.value,
                              i.denominator if i.method == "ratio" else None, i.universe) for i in members]
        results = estimate_many(con, table, survey_design(lonely_psu), estimands,
                                by=["source_id", "country", "wave"], margins=[[]] + [[d] for d in dimensions])
        for indicator, result in zip(members, results):
            out[indicator.code] = _published(indicator, result)
    return out


def _published(indicator: Indicator, result: pd.DataFrame) -> pd.DataFrame:
    if result.empty:
        return pd.DataFrame(columns=ESTIMATE_COLUMNS)
    for column in DIMENSIONS:
        if column not in result.columns:
            result[column] = TOTAL
    # units whose classifier is missing count in the totals but form no publishable category
    result = result.dropna(subset=list(DIMENSIONS)).reset_index(drop=True)
    scale = 100.0 if indicator.unit == "percent" else 1.0
    out = pd.DataFrame({
        "INDICATOR": indicator.code, "REF_AREA": result["country"], "TIME_PERIOD": result["wave"].astype(int),
        "SEX": result["sex"], "AGE": result["age_band"].map(age_code), "URBANISATION": result["urbanisation"],
        "OBS_VALUE": result["estimate"] * scale, "UNIT_MEASURE": indicator.unit, "STD_ERR": result["se"] * scale,
        "CI_LOWER": result["ci_lower"] * scale, "CI_UPPER": result["ci_upper"] * scale, "CV": result["cv"],
        "DEFF": result["deff"], "N_UNWEIGHTED": result["n_unweighted"].astype(float),
        "N_WEIGHTED": result["n_weighted"], "DF": result["df"].astype(float), "SOURCE_ID": result["source_id"],
        "_boundary": result["flags"].str.contains("boundary"), "_low_df": result["df"] < 2})
    out = apply_quality_rules(out, indicator.reliability)
    for column in ("OBS_VALUE", "STD_ERR", "CI_LOWER", "CI_UPPER"):
        out[column] = round_half_away(out[column], indicator.decimals + 4 if column != "OBS_VALUE"
                                      else indicator.decimals)
    return out[ESTIMATE_COLUMNS]


def apply_quality_rules(cells: pd.DataFrame, thresholds: dict) -> pd.DataFrame:
    cells = cells.copy()
    n, cv = cells["N_UNWEIGHTED"], (cells["CV"] * 100).round(9)  # 0.333 is 33.3 %, not 33.300000000000004
    primary = (n < thresholds["min_n"]) | (cv > thresholds["max_cv"])
    caution = ((n < thresholds["flag_n"]) | (cv > thresholds["flag_cv"]) | cells["_boundary"] | cells["_low_df"])
    cells["OBS_STATUS"] = np.where(primary, "Q", np.where(caution, "E", "A"))
    cells["CONF_STATUS"] = np.where(primary, "N", "F")
    cells = _complementary_suppression(cells)
    hidden = cells["OBS_STATUS"] == "Q"
    cells.loc[hidden, ["OBS_VALUE", "STD_ERR", "CI_LOWER", "CI_UPPER", "CV", "DEFF"]] = np.nan
    return cells.drop(columns=["_boundary", "_low_df"])


def _complementary_suppression(cells: pd.DataFrame) -> pd.DataFrame:
    """Within each margin of one indicator, area and period: if the total is published and exactly one
    category is suppressed, also suppress the published category with the fewest cases (repeat per margin)."""
    base = ["INDICATOR", "REF_AREA", "TIME_PERIOD", "SOURCE_ID"]
    for dimension in DIMENSIONS.values():
        others = [d for d in DIMENSIONS.values() if d != dimension]
        margin = cells[(cells[others] == TOTAL).all(axis=1)]
        for _, group in margin.groupby(base):
            total = group[group[dimension] == TOTAL]
            categories = group[group[dimension] != TOTAL]
            if total.empty or total["OBS_STATUS"].iloc[0] == "Q" or len(categories) < 2:
                continue
            suppressed = categories["OBS_STATUS"] == "Q"
            if suppressed.sum() == 1:
                partner = categories[~suppressed].sort_values("N_UNWEIGHTED").index[0]
                cells.loc[partner, ["OBS_STATUS", "CONF_STATUS"]] = ["Q", "D"]
    return cells


def _has_rows(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                         [schema, name]).fetchone()[0]
    return bool(exists) and con.execute(f"SELECT count(*) > 0 FROM {table}").fetchone()[0]


def write_survey_estimates(con: duckdb.DuckDBPyConnection, indicators: list[Indicator], table: str,
                           lonely_psu: str = "adjust") -> pd.DataFrame:
    """Estimate the survey indicators among `indicators` whose source has rows and write them to `table`
    (replaced; created empty with its column types when nothing can be estimated). Returns what was written;
    an indicator without data simply has no rows."""
    ensure_schemas(con)
    present = [i for i in indicators
               if is_survey_indicator(i) and _has_rows(con, harmonised_sources()[i.source].table)]
    frames = [f for f in estimate_indicators(con, present, lonely_psu).values() if not f.empty]
    result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=ESTIMATE_COLUMNS)
    columns = ", ".join(f"{name} {ESTIMATE_TYPES[name]}" for name in ESTIMATE_COLUMNS)
    con.execute(f"CREATE OR REPLACE TABLE {table} ({columns})")
    if not result.empty:
        con.register("_estimates", result)
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _estimates")
        con.unregister("_estimates")
    return result
