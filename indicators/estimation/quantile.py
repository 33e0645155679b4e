"""Design-based quantiles with Woodruff confidence intervals, in DuckDB, for every domain at once.

What R's survey package (4.x) computes with svyquantile(~y, design, quantiles, ci = TRUE, na.rm = TRUE) and its
defaults qrule = "math" and interval.type = "mean" (Woodruff), and per domain with svyby(~y, ~domain, design,
svyquantile, ...), which runs svyquantile on each domain's subset.

Estimate (qrule "math"). In a domain, with the units that have y observed and a positive weight sorted by y
(ties in any order), cumulative weights c_1 < ... < c_n and total W = c_n:
    pos = the last i with c_i <= p W           (1 when there is none)
    Q(p) = y_pos        when p - c_pos / W = 0 (p falls exactly on a jump of the weighted CDF)
           y_(pos+1)    otherwise (y_pos when pos = n)
so Q(p) = min{y : F(y) >= p} with F(y) = sum of w over units <= y / W, except for one quirk of R kept here:
when the first unit alone weighs more than p W and n >= 2, R returns the second sorted value. Ties are
handled on the distinct values of y (c at the end of each value's run): the result is the same.

Interval (Woodruff, interval.type "mean"). With q = Q(p):
    F_hat = estimated share of the domain with y <= q  (a mean of the 0/1 variable [y <= q]: Taylor engine)
    [F_L, F_U] = F_hat -/+ t_df * se(F_hat),   df = the domain's design df (PSUs with y observed in the
                 domain minus their strata: R's degf() of the subset svyquantile works on)
    ci_lower = Q(F_L) (undefined when F_L < 0),  ci_upper = Q(F_U) (undefined when F_U > 1)
    se = (ci_upper - ci_lower) / (2 t_df)        (R's reported SE; undefined with either bound)
A domain with df < 1 has no t quantile, so no interval and no se (flag 'df<1'); a CDF interval that leaves
[0, 1] flags 'cdf<0' / 'cdf>1' (that bound and the se are NaN, as R's NaN). The variance of F_hat is the
Taylor engine's (strata, PSUs, fpc, second stage, lonely-PSU policy of the Design; domains estimated over the
full design, as svyby's subsets). With a replicate design (indicators.estimation.replicate.ReplicateDesign) it is
the replicate variance and df is R's degf() of the domain's units with y observed, as R's svyquantile on a
svrepdesign (interval.type "mean" there too: woodruffCI on svymean of [y <= q]); the quantile itself uses the
full-sample weights.

Precision: cumulative weights and W are compensated sums (fsum), as R accumulates cumsum and sum in extended
precision, so "p W falls exactly on a cumulative weight" is decided as R does whenever the arithmetic is exact
(e.g. weights in halves or quarters and p = 0.25, 0.5, 0.75); otherwise only a tie within rounding could differ.
Units of weight 0 are left out of the CDF (as R's qrule); the Taylor engine still counts them in n_unweighted.

Work and scans (of the microdata: 1 + the number of margins). Everything heavy runs in DuckDB:
  1. one scan of the microdata: per (by, margin cell) and distinct y value, the summed weight and unit count
     (one GROUPING SET per margin), then window functions give the cumulative weights c and totals W; this
     CDF table (cells x distinct values) is kept as a temporary table and Q(p) is read from it by filtered
     aggregates, for every cell and p at once;
  2. one scan by the Taylor engine (estimate_many) per margin, for every p at once: each unit is joined to
     its cell's quantiles (a hash join with the small cell table) and [y <= q] is the estimand (for a
     two-stage design the engine adds its own second-stage passes, two per estimand);
  3. the CI bounds are read from the temporary CDF table (no microdata scan).
"""

from __future__ import annotations

import dataclasses
import math
import uuid
from numbers import Real

import duckdb
import numpy as np
import pandas as pd

from indicators.errors import CopError
from indicators.estimation.replicate import ReplicateDesign, estimate_replicate
from indicators.estimation.taylor import (TOTAL, Design, Estimand, _grouping_id, _is_table_name, _t_quantile,
                                          estimate_many)

OUTPUT_COLUMNS = ["quantile", "estimate", "se", "ci_lower", "ci_upper", "df", "n_unweighted", "n_weighted", "flags"]


def estimate_quantiles(con: duckdb.DuckDBPyConnection, relation: str, design: Design, y: str,
                       quantiles=(0.25, 0.5, 0.75), universe: str | None = None, by: list[str] | None = None,
                       margins: list[list[str]] | None = None, level: float = 0.95) -> pd.DataFrame:
    """Quantiles of y (R's qrule "math") with Woodruff intervals in every domain.

    relation, design, universe, by, margins, level: as taylor.estimate (units with y missing, or outside the
    universe, are outside the domain). quantiles: fractions strictly between 0 and 1.
    Returns one row per domain and quantile: the `by` and margin columns ('_T' where a margin is totalled),
    quantile, estimate, se, ci_lower, ci_upper, df, n_unweighted, n_weighted, flags ('df<1': no interval;
    'cdf<0' / 'cdf>1': the CDF interval leaves [0, 1], so that bound and the se are undefined).
    """
    probabilities = _checked_quantiles(quantiles)
    if not (isinstance(level, Real) and 0 < level < 1):
        raise CopError(f"confidence level {level!r}: give it as a fraction strictly between 0 and 1 (0.95)")
    by = list(by or [])
    requested = []  # a margin asked twice would count its units twice in the CDF
    for m in margins or [[]]:
        if list(m) not in requested:
            requested.append(list(m))
    margin_columns = sorted({c for m in requested for c in m}, key=lambda c: [c in m for m in [[]] + requested])
    tag = uuid.uuid4().hex[:12]
    cdf, cells = f"_cop_quantile_cdf_{tag}", f"_cop_quantile_cells_{tag}"
    try:
        _create_cdf(con, cdf, relation, design, y, universe, by, requested, margin_columns)
        _create_cells(con, cells, cdf, by, margin_columns, probabilities)
        shares = _cdf_at_quantiles(con, relation, design, y, universe, by, requested, margin_columns, cells,
                                   probabilities, level)
        table = _cell_keys(con, cells, by, margin_columns, probabilities)
        if table.empty:
            return pd.DataFrame(columns=[*by, *margin_columns, *OUTPUT_COLUMNS])
        keys = [*by, *margin_columns]
        table = table.merge(shares, on=[*keys, "_k"], how="inner") if keys else \
            table.merge(shares, on="_k", how="inner")
        table = _add_bounds(con, cdf, table, level)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {cdf}")
        con.execute(f"DROP TABLE IF EXISTS {cells}")
    table["quantile"] = [probabilities[k] for k in table["_k"]]
    out = table[[*by, *margin_columns, *OUTPUT_COLUMNS]]
    return out.sort_values([*by, *margin_columns, "quantile"], ignore_index=True)


def _checked_quantiles(quantiles) -> list[float]:
    """The requested fractions, in order, without repeats; anything not strictly between 0 and 1 is refused."""
    values = [quantiles] if isinstance(quantiles, Real) else list(quantiles)
    if not values:
        raise CopError("no quantile requested: give fractions between 0 and 1, e.g. (0.25, 0.5, 0.75)")
    checked = []
    for p in values:
        if isinstance(p, bool) or not isinstance(p, Real) or math.isnan(p) or not 0 < p < 1:
            hint = f" (for the {p:g}th percentile give {p / 100:g})" if isinstance(p, Real) and 1 < p < 100 else ""
            raise CopError(f"quantile {p!r} is not a fraction strictly between 0 and 1: give 0.5 for the median, "
                           f"0.25 and 0.75 for the quartiles{hint}")
        if float(p) not in checked:
            checked.append(float(p))
    return checked


def _double(value: float) -> str:
    """A Python float as an exact DuckDB DOUBLE (a bare 0.25 would be read as a DECIMAL)."""
    return f"CAST('{value!r}' AS DOUBLE)"




def _create_cdf(con, cdf: str, relation: str, design: Design, y: str, universe: str | None, by: list[str],
                margins: list[list[str]], margin_columns: list[str]) -> None:
    """Scan 1: the weighted CDF of every (by, margin cell) on the distinct values of y.

    Rows: _cell (an id), _margin (GROUPING id), the by and margin columns, _y, _units (units with that value),
    _cum (cumulative weight up to and including _y), _total (W), _rank (1 = smallest value), _values.
    Sums use fsum (compensated), as R's cumsum and sum accumulate in extended precision.
    """
    in_universe = f"(({universe}) IS TRUE) AND " if universe else ""
    groups = [*by, *margin_columns]
    select_groups = "".join(f"{c}, " for c in groups)
    sets = ", ".join("(" + ", ".join([*by, *m, "_y"]) + ")" for m in margins)
    margin_id = f"GROUPING({', '.join(margin_columns)})" if margin_columns else "0"
    # a unit whose margin value is missing belongs to no category of that margin (as taylor, svyby)
    no_missing_category = " AND ".join(f"NOT (GROUPING({c}) = 0 AND {c} IS NULL)" for c in margin_columns)
    having = f"HAVING {no_missing_category}" if margin_columns else ""
    cell = ", ".join(["_margin", *groups])
    con.execute(f"""
        CREATE TEMP TABLE {cdf} AS
        WITH units AS (
            -- R's qrule drops units of weight 0; a missing or negative weight is refused by the Taylor engine
            SELECT {select_groups} CAST(({y}) AS DOUBLE) AS _y, CAST(({design.weight}) AS DOUBLE) AS _w
            FROM {relation}
            WHERE {in_universe}({y}) IS NOT NULL AND CAST(({design.weight}) AS DOUBLE) > 0
        ), steps AS (
            SELECT {select_groups} {margin_id} AS _margin, _y, fsum(_w) AS _step, count(*) AS _units
            FROM units GROUP BY GROUPING SETS ({sets}) {having}
        )
        SELECT dense_rank() OVER (ORDER BY {cell}) AS _cell, *,
               fsum(_step) OVER (PARTITION BY {cell} ORDER BY _y ROWS UNBOUNDED PRECEDING) AS _cum,
               fsum(_step) OVER (PARTITION BY {cell}) AS _total,
               row_number() OVER (PARTITION BY {cell} ORDER BY _y) AS _rank,
               count(*) OVER (PARTITION BY {cell}) AS _values
        FROM steps""")


def _inverse_cdf_sql(target: str) -> str:
    """R's qrule_math at fraction `target`, as an aggregate over one cell's CDF rows (see the module docstring).
    Below the jump: g0 = the last value whose cumulative weight is <= target * W."""
    below = f"_cum <= {target} * _total"
    return f"""CASE
        WHEN count(*) FILTER (WHERE {below}) = 0 THEN
            -- no unit at or below target * W: R takes the second sorted unit (the first when it is alone)
            CASE WHEN max(_units) FILTER (WHERE _rank = 1) >= 2 OR max(_values) = 1 THEN min(_y)
                 ELSE min(_y) FILTER (WHERE _rank = 2) END
        WHEN {target} - max(_cum) FILTER (WHERE {below}) / max(_total) = 0 THEN max(_y) FILTER (WHERE {below})
        ELSE coalesce(min(_y) FILTER (WHERE NOT ({below})), max(_y))
    END"""


def _create_cells(con, cells: str, cdf: str, by: list[str], margin_columns: list[str],
                  probabilities: list[float]) -> None:
    """One row per cell with its keys (original types, for joining the microdata) and Q(p) as _q0, _q1, ..."""
    keys = "".join(f"{c}, " for c in [*by, *margin_columns])
    estimates = ", ".join(f"{_inverse_cdf_sql(_double(p))} AS _q{k}" for k, p in enumerate(probabilities))
    con.execute(f"""CREATE TEMP TABLE {cells} AS
                    SELECT _cell, _margin, {keys} {estimates} FROM {cdf} GROUP BY ALL""")


def _cell_keys(con, cells: str, by: list[str], margin_columns: list[str], probabilities: list[float]) -> pd.DataFrame:
    """The cells with their keys as text (as the Taylor engine returns them: '_T' where a margin is totalled),
    one row per cell and quantile index _k with its estimate."""
    n = len(margin_columns)
    labels = [f"CAST({c} AS VARCHAR) AS {c}" for c in by] + [
        f"CASE WHEN (_margin >> {n - 1 - i}) & 1 = 1 THEN '{TOTAL}' ELSE CAST({c} AS VARCHAR) END AS {c}"
        for i, c in enumerate(margin_columns)]
    per_quantile = " UNION ALL ".join(
        f"SELECT _cell, {', '.join(labels) + ',' if labels else ''} {k} AS _k, _q{k} AS estimate FROM {cells}"
        for k in range(len(probabilities)))
    return con.execute(per_quantile).df()


def _cdf_at_quantiles(con, relation: str, design: Design, y: str, universe: str | None, by: list[str],
                      margins: list[list[str]], margin_columns: list[str], cells: str,
                      probabilities: list[float], level: float) -> pd.DataFrame:
    """Scan 2: F_hat = share of the domain with y <= Q(p), its se and the domain's df, by the Taylor engine: one
    call (one scan) per margin, with every p at once. Returns the cell keys, _k, F_hat (share), its se
    (share_se), df, n_unweighted, n_weighted.

    One call per margin rather than one for all: a unit's threshold differs in each margin, so one call would
    need margins x quantiles estimands, each aggregated over every margin's cells (margins times the work)."""
    if design.unit_label:
        label = design.unit_label
    else:  # as the engine names a unit: its row in the relation, taken before the join reorders rows
        label = "rowid + 1" if _is_table_name(relation) else "row_number() OVER ()"
    labelled = dataclasses.replace(design, unit_label="_cop_unit")
    # missing when y is, or when the unit's cell has no quantile (none of its units has y observed)
    estimands = [Estimand("mean", f"CAST(CAST(({y}) AS DOUBLE) <= _cop_q{k} AS DOUBLE)", universe=universe)
                 for k in range(len(probabilities))]
    frames = []
    for m in margins:
        on = [f"u.{c} IS NOT DISTINCT FROM c.{c}" for c in by] + [f"u.{c} = c.{c}" for c in m]
        thresholds = ", ".join(f"c._q{k} AS _cop_q{k}" for k in range(len(probabilities)))
        joined = (f"(SELECT u.*, {thresholds} FROM (SELECT *, {label} AS _cop_unit FROM {relation}) u "
                  f"LEFT JOIN (SELECT * FROM {cells} WHERE _margin = {_grouping_id(m, margin_columns)}) c "
                  f"ON {' AND '.join(on) if on else 'TRUE'})")
        if isinstance(design, ReplicateDesign):  # R's svyquantile on a svrepdesign: the replicate SE of F_hat
            results = estimate_replicate(con, joined, labelled, estimands, by, [m], None, level)[0]
        else:
            results = estimate_many(con, joined, labelled, estimands, by, [m], level)
        for k, result in enumerate(results):
            if result.empty:
                continue
            keys = {c: result[c] if c in m or c in by else TOTAL for c in [*by, *margin_columns]}
            frames.append(pd.DataFrame({**keys, "_k": k, "share": result["estimate"], "share_se": result["se"],
                                        "df": result["df"], "n_unweighted": result["n_unweighted"],
                                        "n_weighted": result["n_weighted"]}))
    columns = [*by, *margin_columns, "_k", "share", "share_se", "df", "n_unweighted", "n_weighted"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)




def _add_bounds(con, cdf: str, table: pd.DataFrame, level: float) -> pd.DataFrame:
    """Step 3: Woodruff's bounds Q(F_hat -/+ t se), read from the CDF table for every cell and p at once; then
    R's se = (ci_upper - ci_lower) / (2 t) and the flags."""
    t = _t_quantile(level, table["df"].to_numpy(dtype=float))
    share, share_se = table["share"].to_numpy(dtype=float), table["share_se"].to_numpy(dtype=float)
    low, high = share - t * share_se, share + t * share_se
    below, above = low < 0, high > 1  # False where NaN (df < 1: no interval at all)
    targets = pd.DataFrame({"_cell": table["_cell"].to_numpy(dtype=np.int64),
                            "_k": table["_k"].to_numpy(dtype=np.int64),
                            "_low": np.where(below, np.nan, low), "_high": np.where(above, np.nan, high)})
    name = f"_cop_quantile_targets_{uuid.uuid4().hex[:12]}"
    con.register(name, targets)
    try:
        # no bound (NULL or NaN target): NULL, where the CASE of _inverse_cdf_sql would still pick a value
        bound = {side: f"CASE WHEN b.{side} IS NULL OR isnan(b.{side}) THEN NULL "
                       f"ELSE {_inverse_cdf_sql('b.' + side)} END" for side in ("_low", "_high")}
        bounds = con.execute(f"""
            SELECT b._cell, b._k, {bound['_low']} AS ci_lower, {bound['_high']} AS ci_upper
            FROM {name} b JOIN {cdf} c ON c._cell = b._cell
            GROUP BY b._cell, b._k, b._low, b._high""").df()
    finally:
        con.unregister(name)
    out = table.merge(bounds, on=["_cell", "_k"], how="left")
    out["ci_lower"] = out["ci_lower"].astype(float)
    out["ci_upper"] = out["ci_upper"].astype(float)
    out["se"] = (out["ci_upper"] - out["ci_lower"]) / (2 * t)
    flags = [" ".join(f for f, on in (("df<1", d < 1), ("cdf<0", lo), ("cdf>1", hi)) if on)
             for d, lo, hi in zip(out["df"], below, above)]
    out["flags"] = flags
    return out
