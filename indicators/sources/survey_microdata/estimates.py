"""Survey indicators of the registry, estimated from the harmonised microdata with their design.

Every registry entry on a survey source with method proportion, mean, total or ratio is compiled to one call
of the Taylor engine: domains are country x wave (within the delivering source, whose strata and PSUs make the
design) and each published disaggregation (SEX, AGE, URBANISATION) with its total. Then the reliability rules
(indicators.estimation.quality: suppressed Q/N below min_n cases or above max_cv, low reliability U below flag_n
cases, above flag_cv, at 0 %/100 % or below 2 df) and complementary suppression: within one margin (e.g. the sex
cells of one indicator, country and wave), when the total is published and exactly one category is suppressed,
the published category with the fewest cases is suppressed too (Q/D), so the suppressed value cannot be
recovered from the total and the other sub-totals. An entry's `crossings` (e.g. sex x age band) add the crossed
cells, estimated in the same scan, whose table is protected line by line: in every row and column of it (the
crossed cells of one category of the other dimension(s) with their one-way cell as the line's total), when exactly
one member is suppressed, the published crossed cell with the fewest cases is suppressed too (Q/D), repeated until
no line changes, so no suppressed cell (crossed or one-way) can be recovered from its line.

Gaps (indicators.gaps): for each proportion with the sex disaggregation the gender parity index girls / boys,
with urbanisation the urban - rural gap, estimated from the same scan with the covariance of the two cells
(both are domains of one sample). A gap whose cell is suppressed is suppressed (Q/D).

Values are written unrounded (rounding happens once, at release: indicators.publication), with the domain's
share of the surveyed population (POPULATION_SHARE: its estimated size N_WEIGHTED over the sum of the weights
of the delivery), by which group values weight the country's child population.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from indicators.estimation.quality import coefficient_of_variation, join_comments, reliability
from indicators.estimation.quantile import estimate_quantiles
from indicators.estimation.replicate import ReplicateDesign, estimate_replicate
from indicators.estimation.taylor import TOTAL, Contrast, Design, Estimand, estimate_with_contrasts
from indicators.gaps import DerivedSeries, derived_series
from indicators import tables
from indicators.registry import Indicator
from indicators.tables import sql_string, table_exists
from indicators.warehouse import ensure_schemas
from indicators.sources import harmonised_sources
from schemas.observations import PUBLISHED_DIMENSIONS

SURVEY_METHODS = ("proportion", "mean", "total", "ratio", "quantile")
# harmonised classifier -> published SDMX dimension
DIMENSIONS = PUBLISHED_DIMENSIONS
BY = ["source_id", "country", "wave"]
# the published columns, then what stays in the warehouse for diagnostics and for group values and gaps
ESTIMATE_COLUMNS = ["INDICATOR", "REF_AREA", "TIME_PERIOD", "SEX", "AGE", "URBANISATION", "OBS_VALUE",
                    "UNIT_MEASURE", "STD_ERR", "CI_LOWER", "CI_UPPER", "N_UNWEIGHTED", "OBS_STATUS", "CONF_STATUS",
                    "COMMENT_OBS", "SOURCE_ID", "DEFF", "N_WEIGHTED", "DF", "POPULATION_SHARE", "CELL_COVARIANCE"]
ESTIMATE_TYPES = {name: "VARCHAR" for name in ESTIMATE_COLUMNS} | {
    "TIME_PERIOD": "BIGINT", "N_UNWEIGHTED": "BIGINT",
    **{name: "DOUBLE" for name in ("OBS_VALUE", "STD_ERR", "CI_LOWER", "CI_UPPER", "DEFF", "N_WEIGHTED", "DF",
                                   "POPULATION_SHARE", "CELL_COVARIANCE")}}
HIDDEN_WHEN_SUPPRESSED = ["OBS_VALUE", "STD_ERR", "CI_LOWER", "CI_UPPER", "DEFF", "CELL_COVARIANCE"]


def age_code(band: str) -> str:
    """'9-11' -> 'Y9T11', '75+' -> 'Y_GE75' (SDMX age codes)."""
    if band == TOTAL:
        return TOTAL
    if band.endswith("+"):
        return f"Y_GE{band[:-1]}"
    low, high = band.split("-")
    return f"Y{int(low)}T{int(high)}"


def is_survey_indicator(indicator: Indicator) -> bool:
    """Estimated from sample-survey microdata with its design (any sampled harmonised source of the registry)."""
    source = harmonised_sources().get(indicator.source)
    return source is not None and source.sampled and indicator.method in SURVEY_METHODS


def survey_design(lonely_psu: str = "adjust") -> Design:
    # strata and PSUs are the delivering source's own: prefix them so that two sources never share one
    return Design(weight="weight", stratum="source_id || '/' || stratum", psu="source_id || '/' || stratum || '/' || psu",
                  fpc="fpc", lonely_psu=lonely_psu,
                  unit_label="source_id || ' respondent ' || respondent_id")


def contrast_of(series: DerivedSeries) -> Contrast:
    column = {v: k for k, v in DIMENSIONS.items()}[series.dimension]
    kind = "ratio" if series.kind == "gender_parity_index" else "difference"
    return Contrast(column, series.numerator_cell, series.denominator_cell, kind)


def estimate_indicator(con: duckdb.DuckDBPyConnection, indicator: Indicator, lonely_psu: str = "adjust"
                       ) -> pd.DataFrame:
    """One indicator in every domain (and its gaps), with quality rules applied, in the published columns."""
    return estimate_indicators(con, [indicator], lonely_psu)[indicator.code]


def estimate_indicators(con: duckdb.DuckDBPyConnection, indicators: list[Indicator], lonely_psu: str = "adjust",
                        deliveries: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Several indicators; those on one source with the same disaggregations share one scan of the microdata.
    `deliveries`: only these source_ids (a delivery's estimates rest on its own rows alone: its strata and PSUs
    are its own), None: every staged delivery."""
    batches: dict[tuple, list[Indicator]] = {}
    for indicator in indicators:
        dimensions = tuple(d for d in indicator.disaggregations if d in DIMENSIONS)
        quantile = indicator.method == "quantile"  # its own estimator (indicators.estimation.quantile)
        batches.setdefault((indicator.source, dimensions, indicator.crossings, quantile), []).append(indicator)
    out = {}
    for (source, dimensions, crossings, quantile), members in batches.items():
        harmonised = harmonised_sources()[source].table
        table = harmonised
        if deliveries is not None:
            chosen = ", ".join(sql_string(s) for s in deliveries) or "NULL"
            table = f"(SELECT * FROM {table} WHERE source_id IN ({chosen}))"
        estimands = [Estimand(i.method, i.numerator if i.method in ("proportion", "ratio") else i.value,
                              i.denominator if i.method == "ratio" else None, i.universe) for i in members]
        series = {i.code: derived_series([i]) for i in members}
        contrasts = sorted({contrast_of(s) for found in series.values() for s in found},
                           key=lambda c: (c.column, c.first))
        margins = [[]] + [[d] for d in dimensions] + [list(c) for c in crossings]
        if quantile:
            results = [_quantiles_by_design(con, harmonised, deliveries, i, margins, lonely_psu) for i in members]
            gaps = [pd.DataFrame() for _ in members]
        else:
            results, gaps = _estimate_by_design(con, harmonised, deliveries, estimands, margins, contrasts,
                                                lonely_psu)
        surveyed = _surveyed_population(con, table)
        # reliability per indicator (its own thresholds); complementary suppression, which works within one
        # indicator, area and period, once over the whole batch (vectorised: one call instead of one per indicator)
        rated = [r for r in (_rated(i, result, surveyed) for i, result in zip(members, results)) if not r.empty]
        batch = _suppressed(pd.concat(rated, ignore_index=True)) if rated else pd.DataFrame(columns=ESTIMATE_COLUMNS)
        by_code = dict(tuple(batch.groupby("INDICATOR", sort=False))) if not batch.empty else {}
        for indicator, contrast in zip(members, gaps):
            cells = by_code.get(indicator.code)
            cells = (pd.DataFrame(columns=ESTIMATE_COLUMNS) if cells is None
                     else cells[ESTIMATE_COLUMNS].reset_index(drop=True))
            derived = _gap_rows(series[indicator.code], contrast, cells)
            out[indicator.code] = (pd.concat([cells, derived], ignore_index=True) if not derived.empty
                                   else cells)[ESTIMATE_COLUMNS]
    return out


def replicate_designs(con: duckdb.DuckDBPyConnection, deliveries: list[str] | None = None
                      ) -> dict[str, ReplicateDesign]:
    """The replicate-weight design of each staged delivery that came with replicate weights (its mapping spec's
    design.replicate_weights), over the replicate weights staged beside its rows."""
    if not table_exists(con, tables.STAGING_SURVEY_REPLICATE_DESIGNS):
        return {}
    rows = con.execute(f"""SELECT source_id, type, rho, scale, rscales, mse, replicates
                           FROM {tables.STAGING_SURVEY_REPLICATE_DESIGNS} ORDER BY source_id""").fetchall()
    return {source_id: ReplicateDesign(
                weight="weight", replicates=tuple(f"replicate_weights[{r}]" for r in range(1, replicates + 1)),
                type=kind, rho=rho, scale=scale, rscales=tuple(rscales) if rscales is not None else None, mse=mse,
                unit_label="source_id || ' respondent ' || respondent_id")
            for source_id, kind, rho, scale, rscales, mse, replicates in rows
            if deliveries is None or source_id in deliveries}


def _estimate_by_design(con, harmonised: str, deliveries: list[str] | None, estimands: list[Estimand],
                        margins: list[list[str]], contrasts: list[Contrast], lonely_psu: str):
    """estimate_with_contrasts over the deliveries (None: all staged), each by its own variance method: Taylor
    linearisation over its strata and PSUs, or the replicate weights it came with (deliveries sharing one
    replicate method in one scan). Returns (estimates per estimand, contrasts per estimand), sorted as the
    engine sorts them."""
    replicated = replicate_designs(con, deliveries)
    runs = []
    taylor = None if deliveries is None else [s for s in deliveries if s not in replicated]
    if taylor is None or taylor:
        runs.append(estimate_with_contrasts(con, _within(harmonised, taylor, sorted(replicated)),
                                            survey_design(lonely_psu), estimands, by=BY, margins=margins,
                                            contrasts=contrasts))
    by_method: dict[ReplicateDesign, list[str]] = {}
    for source_id, design in replicated.items():
        by_method.setdefault(design, []).append(source_id)
    for design, source_ids in by_method.items():
        runs.append(estimate_replicate(con, _with_replicates(harmonised, source_ids), design, estimands, by=BY,
                                       margins=margins, contrasts=contrasts))
    if len(runs) == 1:
        return runs[0]
    return ([_combined([run[0][k] for run in runs]) for k in range(len(estimands))],
            [_combined([run[1][k] for run in runs]) for k in range(len(estimands))])


def _quantiles_by_design(con, harmonised: str, deliveries: list[str] | None, indicator: Indicator,
                         margins: list[list[str]], lonely_psu: str) -> pd.DataFrame:
    """A quantile indicator in every domain of the deliveries, each delivery with its own variance method (the
    Woodruff interval of the quantile rests on the design's SE of the CDF at the quantile: Taylor, or the
    replicate weights, as R's svyquantile on a svydesign or a svrepdesign). In the engine's result layout."""
    replicated = replicate_designs(con, deliveries)
    runs = []
    taylor = None if deliveries is None else [s for s in deliveries if s not in replicated]
    designs: list[tuple[object, str]] = []
    if taylor is None or taylor:
        designs.append((survey_design(lonely_psu), _within(harmonised, taylor, sorted(replicated))))
    by_method: dict[ReplicateDesign, list[str]] = {}
    for source_id, design in replicated.items():
        by_method.setdefault(design, []).append(source_id)
    designs += [(design, _with_replicates(harmonised, source_ids)) for design, source_ids in by_method.items()]
    for design, relation in designs:
        result = estimate_quantiles(con, relation, design, indicator.value, [indicator.quantile],
                                    universe=indicator.universe, by=BY, margins=margins)
        # the engine's layout: no design effect of a quantile; an interval bound outside the CDF's range is named
        runs.append(result.drop(columns="quantile").assign(deff=np.nan))
    return _combined(runs)


def _within(harmonised: str, source_ids: list[str] | None, excluded: list[str] = ()) -> str:
    """The harmonised rows of these deliveries (None: all), less the excluded ones."""
    conditions = []
    if source_ids is not None:
        conditions.append(f"source_id IN ({', '.join(sql_string(s) for s in source_ids) or 'NULL'})")
    if excluded:
        conditions.append(f"source_id NOT IN ({', '.join(sql_string(s) for s in excluded)})")
    return f"(SELECT * FROM {harmonised} WHERE {' AND '.join(conditions)})" if conditions else harmonised


def _with_replicates(harmonised: str, source_ids: list[str]) -> str:
    """The deliveries' harmonised rows with their staged replicate weights (a list column)."""
    return (f"(SELECT t.*, r.replicate_weights FROM {_within(harmonised, source_ids)} t "
            f"JOIN {tables.STAGING_SURVEY_REPLICATE_WEIGHTS} r USING (source_id, respondent_id))")


def _combined(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One estimand's results of several designs, in the engine's order (by the `by` and margin columns)."""
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    keys = [c for c in out.columns if c in BY or c in DIMENSIONS or c in ("column", "first", "second")]
    return out.sort_values(keys, ignore_index=True)


def _surveyed_population(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    """The population each delivery represents: the sum of its weights, per source, country and wave."""
    return con.execute(f"""SELECT CAST(source_id AS VARCHAR) AS source_id, CAST(country AS VARCHAR) AS country,
                                  CAST(wave AS VARCHAR) AS wave, sum(weight) AS surveyed
                           FROM {table} GROUP BY ALL""").df()


def _scale(indicator: Indicator) -> float:
    return 100.0 if indicator.unit == "percent" else 1.0


def _rated(indicator: Indicator, result: pd.DataFrame, surveyed: pd.DataFrame) -> pd.DataFrame:
    """One indicator's cells in the release layout with their reliability flags (before suppression)."""
    if result.empty:
        return pd.DataFrame(columns=[*ESTIMATE_COLUMNS, "_boundary"])
    for column in DIMENSIONS:
        if column not in result.columns:
            result[column] = TOTAL
    result = result.merge(surveyed, on=BY, how="left")
    scale = _scale(indicator)
    out = pd.DataFrame({
        "INDICATOR": indicator.code, "REF_AREA": result["country"], "TIME_PERIOD": result["wave"].astype(int),
        "SEX": result["sex"], "AGE": result["age_band"].map(age_code), "URBANISATION": result["urbanisation"],
        "OBS_VALUE": result["estimate"] * scale, "UNIT_MEASURE": indicator.unit, "STD_ERR": result["se"] * scale,
        "CI_LOWER": result["ci_lower"] * scale, "CI_UPPER": result["ci_upper"] * scale,
        "N_UNWEIGHTED": result["n_unweighted"].astype("int64"), "SOURCE_ID": result["source_id"],
        "DEFF": result["deff"], "N_WEIGHTED": result["n_weighted"], "DF": result["df"].astype(float),
        "POPULATION_SHARE": result["n_weighted"] / result["surveyed"], "CELL_COVARIANCE": np.nan,
        "_boundary": result["flags"].str.contains("boundary")})
    return _reliability_rules(out, indicator.reliability)


def apply_quality_rules(cells: pd.DataFrame, thresholds: dict) -> pd.DataFrame:
    """Reliability rules, then complementary suppression; a suppressed cell keeps its row, values blank."""
    return _suppressed(_reliability_rules(cells, thresholds))


def _reliability_rules(cells: pd.DataFrame, thresholds: dict) -> pd.DataFrame:
    """OBS_STATUS, CONF_STATUS and COMMENT_OBS from the cell's cases, CV, degrees of freedom and boundary flag."""
    cells = cells.copy()
    cv = coefficient_of_variation(cells["STD_ERR"], cells["OBS_VALUE"])
    status, conf, comment = reliability(cells["N_UNWEIGHTED"], cv, cells["DF"], cells["_boundary"], thresholds)
    cells["OBS_STATUS"], cells["CONF_STATUS"] = status, conf
    valued, lower, upper = cells["OBS_VALUE"].notna(), cells["CI_LOWER"].isna(), cells["CI_UPPER"].isna()
    without_df = ~(cells["DF"] >= 1)
    # a quantile's Woodruff interval lacks a bound where the CDF interval leaves 0-100 % (as R's NaN)
    no_interval = np.where(valued & lower & without_df, "no interval (df<1)",
                           np.where(valued & lower & ~upper, "no lower bound (the CDF interval falls below 0 %)",
                                    np.where(valued & upper & ~lower,
                                             "no upper bound (the CDF interval exceeds 100 %)",
                                             np.where(valued & lower, "no interval", ""))))
    cells["COMMENT_OBS"] = join_comments(comment.to_numpy(), no_interval)
    return cells


def _suppressed(cells: pd.DataFrame) -> pd.DataFrame:
    """Complementary suppression, then the values of every suppressed cell blanked (its row kept)."""
    cells = _crossed_suppression(_complementary_suppression(cells.reset_index(drop=True)))
    hidden = cells["OBS_STATUS"] == "Q"
    cells.loc[hidden, [c for c in HIDDEN_WHEN_SUPPRESSED if c in cells]] = np.nan
    return cells.drop(columns=["_boundary"])


def _complementary_suppression(cells: pd.DataFrame) -> pd.DataFrame:
    """Within each margin of one indicator, area and period: if the total is published and exactly one
    category is suppressed, also suppress the published category with the fewest cases (repeat per margin).

    Margins of different dimensions share only their total, which is never changed here, so each dimension is
    handled at once over every indicator, area and period (vectorised; ties go to the earlier row)."""
    base = ["INDICATOR", "REF_AREA", "TIME_PERIOD", "SOURCE_ID"]
    for dimension in DIMENSIONS.values():
        others = [d for d in DIMENSIONS.values() if d != dimension]
        margin = cells[(cells[others] == TOTAL).all(axis=1)]
        is_total = margin[dimension] == TOTAL
        totals = margin[is_total].drop_duplicates(base)
        published_total = totals.set_index(base)["OBS_STATUS"] != "Q"
        categories = margin[~is_total]
        if categories.empty or published_total.empty:
            continue
        keys = [categories[c] for c in base]
        suppressed = categories["OBS_STATUS"] == "Q"
        n_categories = suppressed.groupby(keys, sort=False).transform("size")
        n_suppressed = suppressed.groupby(keys, sort=False).transform("sum")
        total_ok = pd.MultiIndex.from_frame(categories[base]).map(published_total.to_dict()).fillna(False)
        eligible = np.asarray(total_ok, dtype=bool) & (n_categories >= 2).to_numpy() & (n_suppressed == 1).to_numpy()
        candidates = categories[eligible & ~suppressed.to_numpy()]
        if candidates.empty:
            continue
        partners = candidates.sort_values("N_UNWEIGHTED", kind="stable").groupby(base, sort=False).head(1).index
        cells.loc[partners, "OBS_STATUS"] = "Q"
        cells.loc[partners, "CONF_STATUS"] = "D"
        cells.loc[partners, "COMMENT_OBS"] = join_comments(cells.loc[partners, "COMMENT_OBS"].to_numpy(),
                                                           np.full(len(partners), "complementary suppression",
                                                                   dtype=object))
    return cells


def _crossed_suppression(cells: pd.DataFrame) -> pd.DataFrame:
    """Complementary suppression in the tables of crossed cells (two or more dimensions not total), after the
    one-way margins are settled (it changes crossed cells only, so those stay settled).

    A line of a crossed table: its cells with every dimension of the crossing but one fixed, plus the line's total
    (the cell where that dimension is total: for sex x age band, the row of girls has the one-way girls cell as its
    total). While some line has exactly one suppressed member (a crossed cell, or its total), one published
    crossed cell of that line is suppressed too: preferably one that also closes another such line (so that a
    row and a column share one complementary cell), then the one with the fewest cases."""
    dims = list(DIMENSIONS.values())
    base = ["INDICATOR", "REF_AREA", "TIME_PERIOD", "SOURCE_ID"]
    not_total = (cells[dims] != TOTAL).to_numpy()
    crossed = not_total.sum(axis=1) >= 2
    if not crossed.any():
        return cells
    # which dimensions a cell breaks down, as bits (SEX 1, AGE 2, URBANISATION 4); a table: one crossing of one
    # indicator, area, period and delivery. Only tables with a suppressed cell or line total can need more.
    signature = pd.Series(not_total @ (1 << np.arange(len(dims))), index=cells.index)
    status_of = cells.set_index([*base, *dims])["OBS_STATUS"].to_dict()
    partners = []
    for (*key, bits), table in cells[crossed].groupby([*base, signature[crossed]], sort=False):
        crossing = [d for i, d in enumerate(dims) if bits >> i & 1]
        partners += _table_partners(table, dict(zip(base, key)), crossing, dims, status_of)
    if partners:
        cells.loc[partners, "OBS_STATUS"] = "Q"
        cells.loc[partners, "CONF_STATUS"] = "D"
        cells.loc[partners, "COMMENT_OBS"] = join_comments(
            cells.loc[partners, "COMMENT_OBS"].to_numpy(),
            np.full(len(partners), "complementary suppression", dtype=object))
    return cells


def _table_partners(table: pd.DataFrame, key: dict, crossing: list[str], dims: list[str],
                    status_of: dict) -> list:
    """The crossed cells of one table to suppress so that no line keeps a single suppressed member (greedy)."""
    cell_of = {tuple(row[d] for d in dims): (index, row["N_UNWEIGHTED"])
               for index, row in zip(table.index, table[dims + ["N_UNWEIGHTED"]].to_dict("records"))}
    suppressed = {cell for cell in cell_of if status_of[(*key.values(), *cell)] == "Q"}
    lines: dict[tuple, list[tuple]] = {}  # (dimension, the line's total cell) -> its crossed cells
    for cell in cell_of:
        for position, dimension in enumerate(dims):
            if dimension in crossing:
                total = cell[:position] + (TOTAL,) + cell[position + 1:]
                lines.setdefault((dimension, total), []).append(cell)
    # a line whose total was not estimated (no units) has nothing to recover from
    lines = {line: members for line, members in lines.items() if (*key.values(), *line[1]) in status_of}

    def lonely() -> list[tuple]:
        return [line for line, members in lines.items()
                if sum(m in suppressed for m in members) + (status_of[(*key.values(), *line[1])] == "Q") == 1]

    chosen = []
    while True:
        open_lines = lonely()
        candidates = [m for m in lines[open_lines[0]] if m not in suppressed] if open_lines else []
        if not candidates:
            # a lonely line without a published crossed cell (its total is the suppressed member and it has
            # one crossed cell, the same population): nothing can be done there; look at the others
            open_lines = [line for line in open_lines if any(m not in suppressed for m in lines[line])]
            if not open_lines:
                return chosen
            candidates = [m for m in lines[open_lines[0]] if m not in suppressed]
        others = set(open_lines[1:])
        best = min(candidates, key=lambda m: (-sum(m in lines[line] for line in others), cell_of[m][1]))
        suppressed.add(best)
        chosen.append(cell_of[best][0])


def _gap_rows(series: list[DerivedSeries], contrasts: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Each country's gender parity index / urban-rural gap, from the unrounded cells with the design's
    covariance; blank (Q/D) when either cell is suppressed, U when either cell is of low reliability or the gap
    has fewer than 2 df, and said in COMMENT_OBS when its interval includes parity (1, or 0 points)."""
    if contrasts.empty or not series:
        return pd.DataFrame(columns=ESTIMATE_COLUMNS)
    frames = []
    for s in series:
        c = contrast_of(s)
        rows = contrasts[(contrasts["column"] == c.column) & (contrasts["first"] == c.first)
                         & (contrasts["second"] == c.second)]
        if rows.empty:
            continue
        scale = 1.0 if s.kind == "gender_parity_index" else _scale(s.base)
        cov_scale = _scale(s.base) ** 2
        parity = 1.0 if s.kind == "gender_parity_index" else 0.0
        gap = pd.DataFrame({
            "INDICATOR": s.code, "REF_AREA": rows["country"].to_numpy(),
            "TIME_PERIOD": rows["wave"].astype(int).to_numpy(), "SEX": TOTAL, "AGE": TOTAL, "URBANISATION": TOTAL,
            "OBS_VALUE": rows["estimate"].to_numpy() * scale, "UNIT_MEASURE": s.unit,
            "STD_ERR": rows["se"].to_numpy() * scale, "CI_LOWER": rows["ci_lower"].to_numpy() * scale,
            "CI_UPPER": rows["ci_upper"].to_numpy() * scale, "SOURCE_ID": rows["source_id"].to_numpy(),
            "DEFF": np.nan, "N_WEIGHTED": np.nan, "DF": rows["df"].to_numpy(dtype=float),
            "POPULATION_SHARE": np.nan, "CELL_COVARIANCE": rows["covariance"].to_numpy() * cov_scale})
        # the two cells as published (status after the reliability rules and complementary suppression)
        dimension = s.dimension
        others = [d for d in DIMENSIONS.values() if d != dimension]
        margin = cells[(cells[others] == TOTAL).all(axis=1)].set_index(["REF_AREA", "TIME_PERIOD", "SOURCE_ID",
                                                                        dimension])
        keys = list(zip(gap["REF_AREA"], gap["TIME_PERIOD"], gap["SOURCE_ID"]))
        first = margin.reindex([(*k, s.numerator_cell) for k in keys])
        second = margin.reindex([(*k, s.denominator_cell) for k in keys])
        gap["N_UNWEIGHTED"] = (first["N_UNWEIGHTED"].to_numpy() + second["N_UNWEIGHTED"].to_numpy()).astype("int64")
        statuses = np.stack([first["OBS_STATUS"].to_numpy(), second["OBS_STATUS"].to_numpy()])
        suppressed = (statuses == "Q").any(axis=0)
        undefined = ~np.isfinite(gap["OBS_VALUE"].to_numpy())  # a parity index over a cell of 0
        low = (statuses == "U").any(axis=0) | (gap["DF"].to_numpy() < 2)
        with np.errstate(invalid="ignore"):
            spans_parity = (gap["CI_LOWER"] <= parity) & (parity <= gap["CI_UPPER"])
        gap["OBS_STATUS"] = np.where(suppressed, "Q", np.where(undefined, "O", np.where(low, "U", "A")))
        gap["CONF_STATUS"] = np.where(suppressed, "D", "F")
        gap["COMMENT_OBS"] = join_comments(
            np.where(suppressed, "a cell is suppressed", ""),
            np.where(~suppressed & undefined, f"the {s.denominator_cell} cell is 0", ""),
            np.where(~suppressed & (statuses == "U").any(axis=0), "a cell has low reliability", ""),
            np.where(~suppressed & (gap["DF"].to_numpy() < 2), "df<2", ""),
            np.where(~suppressed & ~undefined & spans_parity.to_numpy(), "parity within the 95% CI", ""))
        blank = suppressed | undefined
        gap.loc[blank, HIDDEN_WHEN_SUPPRESSED] = np.nan
        frames.append(gap)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=ESTIMATE_COLUMNS)


def _has_rows(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """A harmonised table with rows: a kind of survey no delivery brought yet has no table, or an empty one."""
    return table_exists(con, table) and con.execute(f"SELECT count(*) > 0 FROM {table}").fetchone()[0]


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


def update_survey_estimates(con: duckdb.DuckDBPyConnection, indicators: list[Indicator], table: str,
                            delivery_fingerprints: dict[str, str], version: str,
                            lonely_psu: str = "adjust") -> dict:
    """Bring `table` up to date with what is staged, re-estimating only the deliveries whose input changed.

    A delivery's estimates depend on its own staged rows (fingerprinted when they were staged) and on `version`
    (the indicators' definitions, the lonely-PSU rule and the code). Deliveries no longer staged (rejected,
    withdrawn) lose their rows. Returns {"estimated": [...], "kept": [...], "dropped": [...], "cells": n}."""
    ensure_schemas(con)
    # an indicator whose harmonised table has no rows (no delivery of that kind yet) has no estimates
    members = [i for i in indicators if is_survey_indicator(i) and _has_rows(con, harmonised_sources()[i.source].table)]
    sources = sorted({harmonised_sources()[i.source].table for i in members})
    staged = sorted({s for t in sources for (s,) in con.execute(f"SELECT DISTINCT source_id FROM {t}").fetchall()})
    wanted = {s: f"{delivery_fingerprints.get(s, 'unknown')}/{version}" for s in staged}
    inputs = tables.QUALITY_SURVEY_ESTIMATE_INPUTS  # what each delivery's estimates in `table` rest on
    con.execute(f"CREATE TABLE IF NOT EXISTS {inputs} (table_name VARCHAR, source_id VARCHAR, fingerprint VARCHAR)")
    columns = ", ".join(f"{name} {ESTIMATE_TYPES[name]}" for name in ESTIMATE_COLUMNS)
    current_columns = [c for (c,) in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema || '.' || table_name = ? "
        "ORDER BY ordinal_position", [table]).fetchall()]
    if current_columns != ESTIMATE_COLUMNS:  # new table, or written by another version of the layout
        con.execute(f"CREATE OR REPLACE TABLE {table} ({columns})")
        con.execute(f"DELETE FROM {inputs} WHERE table_name = ?", [table])
    done = dict(con.execute(f"SELECT source_id, fingerprint FROM {inputs} WHERE table_name = ?",
                            [table]).fetchall())
    present = {s for (s,) in con.execute(f"SELECT DISTINCT SOURCE_ID FROM {table}").fetchall()}
    to_estimate = [s for s in staged if done.get(s) != wanted[s]]
    dropped = sorted((set(done) | present) - set(staged))
    frames = [f for f in estimate_indicators(con, members, lonely_psu, deliveries=to_estimate).values()
              if not f.empty] if to_estimate else []
    result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=ESTIMATE_COLUMNS)
    con.execute("BEGIN TRANSACTION")
    try:
        for source_id in to_estimate + dropped:
            con.execute(f"DELETE FROM {table} WHERE SOURCE_ID = ?", [source_id])
            con.execute(f"DELETE FROM {inputs} WHERE table_name = ? AND source_id = ?",
                        [table, source_id])
        if not result.empty:
            con.register("_estimates", result)
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _estimates")
            con.unregister("_estimates")
        for source_id in to_estimate:
            con.execute(f"INSERT INTO {inputs} VALUES (?, ?, ?)", [table, source_id, wanted[source_id]])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    cells = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return {"estimated": to_estimate, "kept": [s for s in staged if s not in to_estimate], "dropped": dropped,
            "cells": int(cells), "written": result}


def coherence_problems(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, int]:
    """Counts of estimates that break a coherence rule (all must be 0 before anything is published): a negative
    SE, an estimate outside its CI, a percentage outside [0, 100], a suppressed cell (Q) with a value, or a cell
    without a value that is neither suppressed nor a gap that cannot be computed (O)."""
    problems = con.execute(f"""
        SELECT
          count(*) FILTER (WHERE STD_ERR < 0) AS negative_se,
          count(*) FILTER (WHERE OBS_VALUE < CI_LOWER - 1e-9 OR OBS_VALUE > CI_UPPER + 1e-9) AS outside_ci,
          count(*) FILTER (WHERE UNIT_MEASURE = 'percent' AND (OBS_VALUE < 0 OR OBS_VALUE > 100
                           OR CI_LOWER < 0 OR CI_UPPER > 100)) AS percent_out_of_range,
          count(*) FILTER (WHERE OBS_STATUS = 'Q' AND OBS_VALUE IS NOT NULL) AS suppressed_with_value,
          count(*) FILTER (WHERE OBS_STATUS NOT IN ('Q', 'O') AND OBS_VALUE IS NULL) AS value_missing
        FROM {table}""").df().iloc[0].to_dict()
    return {k: int(v) for k, v in problems.items()}
