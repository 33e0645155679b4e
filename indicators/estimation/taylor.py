"""Design-based estimation by Taylor linearisation, in DuckDB, for every domain at once.

Estimators: total Y = sum w*y, ratio R = sum w*y / sum w*x, mean (ratio with x = 1) and proportion (mean of a
0/1 variable), each per domain. Domains are estimated over the full design: a unit outside the domain keeps its
PSU and stratum and contributes zero, exactly as R's svyby/subset do, so n_h counts every PSU of the stratum.
Items missing for a unit put it outside the domain (R's na.rm=TRUE). A unit whose margin (domain) value is
missing belongs to no category of that margin but stays in the design and in the totals (R's svyby drops NA
levels); no category is published for a missing value.

Variance: with-replacement at the first stage (ultimate cluster), PSUs nested in strata, optional first-stage fpc
(N_h, the number of PSUs in the stratum's population; f_h = (N_h - n_h)/N_h):
    z_hi = sum over units of PSU i of w * d * (y - R x) / X   (ratio; total: w * d * y)
    V    = sum_h f_h * n_h / (n_h - 1) * sum_i (z_hi - mean_h z)^2
z_hi is linear in the PSU-by-cell sums of w*d*y and w*d*x, so everything comes from ONE scan of the microdata
for all estimands of a design: DuckDB groups by (domain cell, stratum, PSU) with one GROUPING SET per margin
(the total margin's PSU sums are added up from another margin's rather than from the units again), and the cell
totals, z_hi and stratum variances follow from that small table as numpy matrices (one column per estimand).
The microdata are never joined back to the estimates. Contrasts between two categories of a margin (a ratio or
a difference, e.g. girls / boys) are linearised from the same PSU totals, so their variance carries the
covariance of the two cells (R's svyby(covmat = TRUE) + svycontrast).

The fpc follows R's as.fpc(): within a design (a `by` cell) values all <= 1 are sampling fractions
(N_h = n_h / fpc), otherwise population sizes, which must all be >= 1; a population below the PSUs sampled, a
negative fpc, a mixture or an fpc missing for some units only is refused, naming the stratum.

Degrees of freedom of a domain: the PSUs in which at least one unit of the domain has the item observed, minus
the strata of those PSUs (R's degf() of subset(design, !is.na(y) & domain)).

Lonely PSUs (a stratum with one PSU in the design) follow R's options(survey.lonely.psu=):
    fail       error naming the strata
    remove     the stratum contributes nothing (as R)
    certainty  the stratum contributes nothing (a certainty PSU has no first-stage variance)
    adjust     the lonely PSU's total is not centred: V_h = f_h * t_h^2 (as R; for means, ratios and
               proportions this is its deviation from the mean PSU total, since the z values sum to 0)
               -- the default here
    average    the stratum's variance is the average of the other strata's: V scaled by (strata in which the
               domain has an observed unit) / (those of them with a variance)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
# the t quantile function itself (stdtrit(df, q) is scipy.stats.t.ppf(q, df)): scipy.stats takes seconds to import
from scipy.special import stdtrit

from indicators.errors import CopError
from indicators.estimation.quality import coefficient_of_variation

LONELY_PSU_POLICIES = ("adjust", "remove", "average", "certainty", "fail")
KINDS = ("proportion", "mean", "total", "ratio")
CONTRAST_KINDS = ("ratio", "difference")
TOTAL = "_T"
SHOWN_ROWS = 10  # rows named in an error message


@dataclass(frozen=True)
class Design:
    """Column names (or SQL expressions) of the design in the relation being estimated from."""

    weight: str
    stratum: str | None = None  # None: one stratum
    psu: str | None = None  # None: every unit is its own PSU
    fpc: str | None = None  # first stage: PSUs in the stratum's population, or the sampling fraction (<= 1)
    lonely_psu: str = "adjust"
    # optional second stage (as R's svydesign(id=~psu+ssu, fpc=~fpc+fpc2)): with both fpcs given the
    # second stage's variance is added, scaled by the first-stage sampling fraction n_h/N_h
    ssu: str | None = None
    fpc2: str | None = None  # number of SSUs in the PSU's population
    # how a unit is named in error messages (SQL expression); default: its row number in the relation
    unit_label: str | None = None

    def __post_init__(self) -> None:
        if self.lonely_psu not in LONELY_PSU_POLICIES:
            raise CopError(f"lonely PSU policy {self.lonely_psu!r}: one of {', '.join(LONELY_PSU_POLICIES)}")


class LonelyPsuError(CopError):
    """A stratum has a single PSU and the policy is 'fail'."""


class DesignError(CopError):
    """The design cannot be used as given (missing weights, an fpc that is not a population or a fraction).
    `rows`: the row numbers (from 1, in the relation's order) of the units at fault, when the fault is a unit's."""

    def __init__(self, message: str, rows: list[int] | None = None, count: int = 0) -> None:
        super().__init__(message)
        self.rows = list(rows or [])
        self.count = count


@dataclass(frozen=True)
class Estimand:
    kind: str
    y: str
    x: str | None = None
    universe: str | None = None


@dataclass(frozen=True)
class Contrast:
    """Two categories of one margin column compared within each `by` cell: first / second (ratio) or
    first - second (difference), e.g. Contrast('sex', 'F', 'M', 'ratio') for a gender parity index."""

    column: str
    first: str
    second: str
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in CONTRAST_KINDS:
            raise CopError(f"contrast {self.kind!r}: one of {', '.join(CONTRAST_KINDS)}")


def estimate(con: duckdb.DuckDBPyConnection, relation: str, design: Design, kind: str, y: str,
             x: str | None = None, universe: str | None = None, by: list[str] | None = None,
             margins: list[list[str]] | None = None, level: float = 0.95) -> pd.DataFrame:
    """Estimate `kind` of y (over x for a ratio) in every domain.

    by: columns always grouped on (e.g. country and wave: the estimates never mix them; each is its own design
    for the fpc rules).
    margins: the further groupings, each a list of columns; [] is the total of the `by` cell. Default [[]].
    Returns one row per domain with the `by` and margin columns ('_T' where a margin is totalled), estimate,
    se, ci_lower, ci_upper, df, cv (percent), deff, n_unweighted, n_weighted, flags ('df<1': no interval;
    'boundary': an estimated proportion of 0 or 1).
    """
    return estimate_many(con, relation, design, [Estimand(kind, y, x, universe)], by, margins, level)[0]


def estimate_many(con: duckdb.DuckDBPyConnection, relation: str, design: Design, estimands: list[Estimand],
                  by: list[str] | None = None, margins: list[list[str]] | None = None,
                  level: float = 0.95) -> list[pd.DataFrame]:
    """Several estimands over one design and the same domains, from ONE scan of the microdata.

    The scan groups by (by, margin columns, stratum, PSU) and sums, per estimand, w*d*y, w*d*x, d, w*d and
    w*d*y^2 (d: the unit is in the estimand's domain). Cell totals, PSU totals of the linearised variable and
    stratum sizes are all rolled up from that PSU-level table, which is small (cells x PSUs).
    """
    return estimate_with_contrasts(con, relation, design, estimands, by, margins, [], level)[0]


def _request(estimands: list[Estimand], by: list[str] | None, margins: list[list[str]] | None,
             contrasts: list[Contrast] | None
             ) -> tuple[list[str], list[list[str]], list[str], list[Contrast], bool]:
    """What both engines (this one and replicate.estimate_replicate) are asked, checked: (by, margins, margin
    columns, contrasts, whether the caller asked for the total margin). The total of every `by` cell is always estimated, first (it has every PSU): a 0 % or
    100 % domain borrows its design effect for the interval."""
    for e in estimands:
        if e.kind not in KINDS:
            raise CopError(f"estimator {e.kind!r}: one of {', '.join(KINDS)}")
    requested = [list(m) for m in (margins or [[]])]
    contrasts = list(contrasts or [])
    for c in contrasts:
        if [c.column] not in requested:
            raise CopError(f"contrast on {c.column!r}: the margin [{c.column!r}] must be estimated too")
    margins = [[]] + [m for m in requested if m]
    margin_columns = sorted({c for m in margins for c in m}, key=lambda c: [c in m for m in margins])
    return list(by or []), margins, margin_columns, contrasts, [] in requested


def estimate_with_contrasts(con: duckdb.DuckDBPyConnection, relation: str, design: Design,
                            estimands: list[Estimand], by: list[str] | None = None,
                            margins: list[list[str]] | None = None, contrasts: list[Contrast] | None = None,
                            level: float = 0.95) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """estimate_many plus, per estimand, the contrasts between categories of single-column margins, from the
    same scan. Returns (estimates per estimand, contrasts per estimand); a contrast frame has the `by`
    columns, column, first, second, kind, estimate, se, ci_lower, ci_upper, df, covariance (of the two
    cells' estimates), first_estimate, second_estimate, flags."""
    by, margins, margin_columns, contrasts, total_wanted = _request(estimands, by, margins, contrasts)
    scanned = _scan(con, relation, design, estimands, by, margins, margin_columns)
    margin_of_row = np.asarray(scanned.pop("_margin"))
    key_names = [*by, *margin_columns, "_stratum", "_psu"]
    total_rows = margin_of_row == _grouping_id([], margin_columns)
    # the design columns are read from the total margin's rows (they have every unit)
    finest = pd.DataFrame({name: _numpy(scanned[name])[total_rows] for name in
                           key_names + ["fpc_max", "fpc_min", "fpc_missing", "fpc_values", "bad_weights"]})
    _check_weights(con, relation, design, finest)
    strata = _strata(finest, by, design)
    fractions = strata["fpc_max"].notna() & (strata["population"] != strata["fpc_max"])
    if design.ssu and design.fpc and design.fpc2 and fractions.any():
        raise DesignError("a second stage needs the first-stage fpc as population sizes, not fractions")
    labels, values, gaps = _margin_variances(scanned, margin_of_row, strata, estimands, by, margins, margin_columns,
                                             design.lonely_psu, contrasts)
    if design.ssu and design.fpc and design.fpc2:
        for k, e in enumerate(estimands):
            _add_second_stage_of(con, relation, design, e, by, margins, margin_columns, labels, values, k)
    results = _finish(labels, values, estimands, by, margin_columns, level, total_wanted)
    contrast_results = []
    for k in range(len(estimands)):
        pairs = [per_estimand[k] for per_estimand in gaps]
        # an estimand without any observed unit has no contrasts either
        contrast_results.append(_finish_contrasts(pd.concat(pairs, ignore_index=True), by, level)
                                if pairs and values["keep"][:, k].any() else pd.DataFrame())
    return results, contrast_results


def _numpy(values) -> np.ndarray:
    """A fetched column as a plain numpy array (masked arrays mark SQL NULLs: those become NaN/None)."""
    if isinstance(values, np.ma.MaskedArray):
        if values.dtype.kind in "fiu":
            return values.astype(float).filled(np.nan)
        # filled(None) would fall back to numpy's default fill value for objects, '?'
        return np.where(np.ma.getmaskarray(values), None, values.data.astype(object))
    return np.asarray(values)


def _grouping_id(margin: list[str], margin_columns: list[str]) -> int:
    """DuckDB's GROUPING(c1, ..., cn) for a grouping set: bit (n - 1 - i) is set when c_i is rolled up."""
    n = len(margin_columns)
    return sum(1 << (n - 1 - i) for i, c in enumerate(margin_columns) if c not in margin)


def _row_major(columns: list[np.ndarray], block: int = 8192) -> np.ndarray:
    """The columns side by side as a float matrix in C order, copied a block of rows at a time (a block stays in
    the cache while every column is written into it)."""
    rows = len(columns[0]) if columns else 0
    out = np.empty((rows, len(columns)))
    for start in range(0, rows, block):
        part = out[start:start + block]
        for j, column in enumerate(columns):
            part[:, j] = column[start:start + block]
    return out


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """The first row of each group, for codes that number groups in order of first appearance (0, 1, ...)."""
    return np.flatnonzero(~pd.Series(codes).duplicated().to_numpy())


def _group_sums(values: np.ndarray, codes: np.ndarray, groups: int) -> np.ndarray:
    """Column sums per group (pandas' compensated summation, one column at a time, rows in their order). A
    C-ordered matrix (rows contiguous) is summed several times faster than a Fortran-ordered one."""
    return pd.DataFrame(values).groupby(codes).sum().reindex(range(groups), fill_value=0).to_numpy()


# ------------------------------------------------------------------------------------------- design checks
def _is_table_name(relation: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?", relation.strip()) is not None


def _check_weights(con, relation: str, design: Design, finest: pd.DataFrame) -> None:
    """Every unit needs a weight >= 0 (R's svydesign refuses missing weights): name the rows that have none."""
    bad = int(finest["bad_weights"].sum())
    if not bad:
        return
    label = design.unit_label or ("rowid + 1" if _is_table_name(relation) else "row_number() OVER ()")
    rows = [r for (r,) in con.execute(
        f"""SELECT unit FROM (SELECT {label} AS unit, CAST(({design.weight}) AS DOUBLE) AS w FROM {relation})
            WHERE w IS NULL OR isnan(w) OR NOT (w >= 0) ORDER BY unit LIMIT {SHOWN_ROWS}""").fetchall()]
    more = f" and {bad - len(rows)} more" if bad > len(rows) else ""
    raise DesignError(f"weight {design.weight!r} is missing or negative for {bad} unit(s): row(s) "
                      f"{', '.join(map(str, rows))}{more}; every unit needs a weight >= 0 (a unit without a weight "
                      "cannot be estimated from: drop it from the file or give it its weight)", rows=rows, count=bad)


def _stratum_name(row: pd.Series, by: list[str]) -> str:
    where = ", ".join(f"{c} {row[c]}" for c in by)
    return f"'{row['_stratum']}'" + (f" ({where})" if where else "")


def _strata(finest: pd.DataFrame, by: list[str], design: Design) -> pd.DataFrame:
    """One row per (by cell, stratum): n_h, the PSUs sampled, and the population N_h implied by the fpc."""
    strata = finest.groupby([*by, "_stratum"], dropna=False).agg(
        n_h=("_psu", "nunique"), fpc_max=("fpc_max", "max"), fpc_min=("fpc_min", "min"),
        fpc_missing=("fpc_missing", "sum"), fpc_within=("fpc_values", "max"),
        fpc_between=("fpc_max", "nunique")).reset_index()
    strata["population"] = np.nan
    if design.fpc is None:
        return strata
    varying = strata[(strata["fpc_within"] > 1) | (strata["fpc_between"] > 1)]
    if not varying.empty:
        raise DesignError("fpc is not constant within stratum/strata "
                          + ", ".join(_stratum_name(r, by) for _, r in varying.head(5).iterrows()))
    cells = strata.groupby(by, dropna=False, sort=False) if by else [((), strata)]
    for _, group in cells:
        given = group["fpc_max"].notna()
        if not given.any():
            continue  # this design (by cell) has no fpc: with replacement
        partial = group[group["fpc_missing"] > 0]
        if not partial.empty:
            raise DesignError("fpc is missing for some units of the design: stratum/strata "
                              + ", ".join(_stratum_name(r, by) for _, r in partial.head(5).iterrows())
                              + " (give every unit its stratum's fpc, or none)")
        negative = group[group["fpc_min"] < 0]
        if not negative.empty:
            raise DesignError(f"fpc {negative['fpc_min'].iloc[0]:g} in stratum "
                              f"{_stratum_name(negative.iloc[0], by)} is negative: an fpc is a population size "
                              "(>= 1) or a sampling fraction (0 to 1)")
        if (group["fpc_max"] > 1).any():
            small = group[group["fpc_min"] < 1]
            if not small.empty:
                big = group[group["fpc_max"] > 1].iloc[0]
                raise DesignError(
                    f"fpc mixes sampling fractions and population sizes: {small['fpc_min'].iloc[0]:g} in stratum "
                    f"{_stratum_name(small.iloc[0], by)} but {big['fpc_max']:g} in stratum "
                    f"{_stratum_name(big, by)} (as R: all fpc >= 1, population sizes, or all <= 1, fractions)")
            population = group["fpc_max"]
        else:
            with np.errstate(divide="ignore"):
                population = group["n_h"] / group["fpc_max"]  # a fraction of 0: an infinite population
        strata.loc[group.index, "population"] = population
        below = group[population + 1e-9 < group["n_h"]]
        if not below.empty:
            r = below.iloc[0]
            raise DesignError(f"fpc gives stratum {_stratum_name(r, by)} a population of "
                              f"{population[r.name]:g} PSUs, fewer than the {int(r['n_h'])} PSUs sampled in it")
    return strata


# ----------------------------------------------------------------------------------------------- variances
def _design_variance(Z1: np.ndarray, Z2: np.ndarray, present: np.ndarray, group: np.ndarray, stratum: np.ndarray,
                     n_h_of_stratum: np.ndarray, f_of_stratum: np.ndarray, policy: str,
                     stratum_names: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Covariance of two linearised variables (their variance when Z1 is Z2), per group and column.

    Rows are PSU totals: row r is one PSU of stratum stratum[r] holding z values Z1[r], Z2[r] (one column per
    estimand) for group group[r] (a domain cell, or a contrast's pair of cells); PSUs of the stratum without a
    row have z = 0. present[r, k]: the PSU has a unit of the group with the item observed (it counts towards
    the df and, for `average`, its stratum counts). Returns (covariance, df), each groups x columns.
    """
    n_groups = int(group.max()) + 1 if len(group) else 0
    cs = pd.Series(group * (int(stratum.max()) + 1 if len(stratum) else 1) + stratum).factorize()[0]
    n_cs = int(cs.max()) + 1 if len(cs) else 0
    cs_first = _first_rows(cs)
    cs_group = group[cs_first]
    n_h = n_h_of_stratum[stratum[cs_first]]
    f = f_of_stratum[stratum[cs_first]]
    K = Z1.shape[1]
    S1a = _group_sums(Z1, cs, n_cs)
    S1b = S1a if Z2 is Z1 else _group_sums(Z2, cs, n_cs)  # a variance: z2 is z1
    S12 = _group_sums(Z1 * Z2, cs, n_cs)
    observed = _group_sums(present, cs, n_cs)  # the PSUs with an observed unit (a count)
    P = observed > 0  # the stratum has an observed unit
    lonely = (n_h == 1)[:, None]
    certain = lonely & (f == 0)[:, None]  # a census stratum: no variance, never a failure (as R)
    lonely_live = lonely & ~certain & P
    if policy == "fail" and lonely_live.any():
        names = sorted({str(stratum_names[stratum[cs_first[i]]]) for i in np.where(lonely_live.any(axis=1))[0]})
        raise LonelyPsuError(f"stratum/strata with a single PSU: {', '.join(names[:10])} "
                             "(choose a lonely PSU policy: adjust, remove, average, certainty)")
    n = n_h[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        V = np.where(n > 1, f[:, None] * n / (n - 1) * (S12 - S1a * S1b / n), 0.0)
    if policy == "adjust":
        # R: the lonely PSU's total is not centred, V_h = f_h * t_h^2
        V = np.where(lonely, f[:, None] * S1a * S1b, V)
    # per group: the covariance, the observed PSUs and the strata with one (whole numbers: exact in any order)
    per_group = _group_sums(np.hstack([V, observed, P]), cs_group, n_groups)
    covariance, psus_observed, strata_present = per_group[:, :K], per_group[:, K:2 * K], per_group[:, 2 * K:]
    if policy == "average":
        # R: lonely strata are NA; the sum over the others is scaled by strata present / strata with variance,
        # counting only strata in which the domain has a unit with the item observed (svymean(na.rm = TRUE))
        lonely_present = _group_sums(lonely_live.astype(float), cs_group, n_groups)
        with np.errstate(divide="ignore", invalid="ignore"):
            covariance = covariance * np.where(lonely_present > 0, strata_present / (strata_present - lonely_present),
                                               1)
    # design df, as R's degf() of subset(design, !is.na(y) & domain): observed PSUs minus their strata
    df = psus_observed - strata_present
    return covariance, df


def _margin_variances(scanned: dict, margin_of_row: np.ndarray, strata: pd.DataFrame, estimands: list[Estimand],
                      by: list[str], margins: list[list[str]], margin_columns: list[str], policy: str,
                      contrasts: list[Contrast]) -> tuple[pd.DataFrame, dict, list[list[pd.DataFrame]]]:
    """Every margin and every estimand at once (numpy matrices, one column per estimand) from the scan's PSU
    rows: cell totals, linearised PSU totals z, stratum variances with the lonely-PSU policy, the domain's design
    df; and the contrasts. A cell is a domain of one margin: its rows are never mixed with another margin's.

    Returns (the cells' labels, margin by margin and in each in order of appearance: the `by` and margin
    columns, '_T' where totalled; per quantity a matrix cells x estimands: y_total, x_total, n_unweighted,
    n_weighted, yy, variance, df, and keep, whether the cell is published for the estimand; per margin with
    contrasts, one frame of contrasts per estimand)."""
    K = len(estimands)
    keys = [*by, *margin_columns]
    position = np.zeros(len(margin_of_row), dtype=int)  # the margin of each row, as its place in `margins`
    for i, m in enumerate(margins):
        position[margin_of_row == _grouping_id(m, margin_columns)] = i
    frame = pd.DataFrame({name: _numpy(scanned[name]) for name in [*keys, "_stratum", "_psu"]})
    # cells: numbered margin by margin, within a margin in order of appearance (as a groupby of its rows)
    cell = frame.groupby([position, *keys], dropna=False, sort=False).ngroup().to_numpy()
    n_cells = int(cell.max()) + 1 if len(cell) else 0
    first = _first_rows(cell)
    rank = np.lexsort((np.arange(n_cells), position[first]))
    renumber = np.empty(n_cells, dtype=int)
    renumber[rank] = np.arange(n_cells)
    cell, first = renumber[cell], first[rank]
    cell_margin = position[first]
    labels = pd.DataFrame(index=pd.RangeIndex(n_cells))
    dropped = np.zeros(n_cells, dtype=bool)  # a unit whose margin value is missing forms no category
    for name in keys:
        label = frame[name].to_numpy()[first]
        if name in margin_columns:
            in_margin = np.array([name in m for m in margins])[cell_margin]
            dropped |= in_margin & pd.isna(label)
            label = np.where(in_margin, label, TOTAL)
        labels[name] = label
    stratum = _stratum_positions(frame, strata, by)
    n_h = strata["n_h"].to_numpy(dtype=float)
    population = strata["population"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(np.isnan(population) | np.isinf(population), 1.0, (population - n_h) / population)
    names = strata["_stratum"].to_numpy()

    A, B, N, NW, YY, sums = _sum_matrices(scanned, estimands)
    # the cell totals of every sum in one pass, each column on its own (as one call per sum would)
    at = _group_sums(sums, cell, n_cells)
    Ac, Bc, Nc, NWc, YYc = (at[:, columns] for columns in _sum_columns(estimands))
    totals = np.array([e.kind == "total" for e in estimands])
    Z = _linearised(A, B, Ac, Bc, cell, totals)
    present = N > 0  # the PSU has a unit of the domain cell with the item observed
    variance, df = _design_variance(Z, Z, present, cell, stratum, n_h, f, policy, names)
    keep = (Nc > 0) & ~dropped[:, None]
    values = {"y_total": Ac, "x_total": Bc, "n_unweighted": Nc, "n_weighted": NWc, "yy": YYc, "variance": variance,
              "df": df, "keep": keep}
    gaps = []
    for i, m in enumerate(margins):
        on_margin = [c for c in contrasts if m == [c.column]]
        if not on_margin:
            continue
        rows = np.flatnonzero(position == i)
        part = frame.iloc[rows].reset_index(drop=True)
        per_contrast = [_contrasts(part, c, by, Z[rows], present[rows], Ac, Bc, cell[rows], strata, n_h, f, policy,
                                   names, estimands) for c in on_margin]
        gaps.append([pd.concat([g[k] for g in per_contrast], ignore_index=True) for k in range(K)])
    return labels, values, gaps


def _linearised(A: np.ndarray, B: np.ndarray, Ac: np.ndarray, Bc: np.ndarray, cell: np.ndarray,
                totals: np.ndarray, block: int = 8192) -> np.ndarray:
    """The linearised PSU totals z = (a - R b) / X of every PSU row (R = Ac / Bc the estimate of the row's cell,
    X = Bc), or z = a for the columns of totals; 0 in a cell without any unit of the domain. Computed a block of
    rows at a time, so that the gathered cell values stay in the cache."""
    Z = np.empty(A.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        R = Ac / Bc
        for start in range(0, len(Z), block):
            rows = slice(start, start + block)
            z = Z[rows]
            np.multiply(R[cell[rows]], B[rows], out=z)
            np.subtract(A[rows], z, out=z)
            np.divide(z, Bc[cell[rows]], out=z)
    if totals.any():
        Z = np.where(totals, A, Z)
    if not np.isfinite(Z).all():
        Z = np.nan_to_num(Z, copy=False)  # cells without units of the domain: no contribution
    return Z


def _sum_columns(estimands: list[Estimand]) -> list[list[int]]:
    """Where the sums a, b, n, nw, yy of each estimand are among the scanned columns (_sum_matrices): columns the
    scan did not need to aggregate follow from others, b = nw (x = 1) and yy = a (0/1 y)."""
    K = len(estimands)
    ratios = [k for k, e in enumerate(estimands) if e.kind == "ratio"]
    squares = [k for k, e in enumerate(estimands) if e.kind != "proportion"]
    b = {k: 3 * K + i for i, k in enumerate(ratios)}
    yy = {k: 3 * K + len(ratios) + i for i, k in enumerate(squares)}
    return [list(range(K)), [b.get(k, 2 * K + k) for k in range(K)], list(range(K, 2 * K)),
            list(range(2 * K, 3 * K)), [yy.get(k, k) for k in range(K)]]


def _sum_matrices(scanned: dict, estimands: list[Estimand]) -> tuple:
    """The scanned sums as one matrix rows x columns (a of every estimand, then n, nw, the b of ratios, the yy of
    non-proportions) and, as views or copies of it, the matrices rows x estimands A, B, N, NW, YY."""
    K = len(estimands)
    names = ([f"{p}{k}" for p in ("a", "n", "nw") for k in range(K)]
             + [f"b{k}" for k, e in enumerate(estimands) if e.kind == "ratio"]
             + [f"yy{k}" for k, e in enumerate(estimands) if e.kind != "proportion"])
    # row by row in memory (C order): pandas sums such a matrix per group several times faster
    sums = _row_major([_numpy(scanned[name]) for name in names])

    def matrix(columns: list[int]) -> np.ndarray:
        if columns and columns == list(range(columns[0], columns[0] + len(columns))):
            return sums[:, columns[0]:columns[0] + len(columns)]
        return sums[:, columns]

    return (*(matrix(c) for c in _sum_columns(estimands)), sums)


def _contrasts(frame, contrast: Contrast, by, Z, present, Ac, Bc, cell, strata, n_h, f, policy, names,
               estimands) -> list[pd.DataFrame]:
    """first / second or first - second within each `by` cell, linearised from the two cells' PSU totals:
    difference z = z1 - z2; ratio g = r1 / r2, z = z1 / r2 - r1 z2 / r2^2 (delta method), where r is each
    cell's estimate (ratio of totals, or total). Its variance uses the PSUs and strata of either cell."""
    K = len(estimands)
    totals = np.array([e.kind == "total" for e in estimands])
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate_of_cell = np.where(totals, Ac, Ac / Bc)
    keys = [*by, "_stratum", "_psu"]
    values = frame[contrast.column].to_numpy()
    first = frame.loc[values == contrast.first, keys].assign(_i1=np.flatnonzero(values == contrast.first))
    second = frame.loc[values == contrast.second, keys].assign(_i2=np.flatnonzero(values == contrast.second))
    union = first.merge(second, on=keys, how="outer").reset_index(drop=True)
    if union.empty:
        return [pd.DataFrame() for _ in range(K)]
    rows = len(union)
    pair = union.groupby(by, dropna=False, sort=False).ngroup().to_numpy() if by else np.zeros(rows, dtype=int)
    n_pairs = int(pair.max()) + 1
    labels = union.drop_duplicates(by)[by].reset_index(drop=True) if by else pd.DataFrame(index=[0])

    def side(column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """z values and presence of one category on the union's rows, and its estimate per pair."""
        has = union[column].notna().to_numpy()
        index = union.loc[has, column].to_numpy(dtype=int)
        z, observed, estimate = np.zeros((rows, K)), np.zeros((rows, K), dtype=bool), np.full((n_pairs, K), np.nan)
        z[has], observed[has] = Z[index], present[index]
        estimate[pair[has]] = estimate_of_cell[cell[index]]
        return z, observed, estimate

    (Z1, P1, R1), (Z2, P2, R2) = side("_i1"), side("_i2")
    with np.errstate(divide="ignore", invalid="ignore"):
        if contrast.kind == "difference":
            G, Zg = R1 - R2, Z1 - Z2
        else:
            G, Zg = R1 / R2, Z1 / R2[pair] - R1[pair] * Z2 / R2[pair] ** 2
    Zg = np.nan_to_num(Zg)
    stratum = _stratum_positions(union, strata, by)
    both = P1 | P2
    variance, df = _design_variance(Zg, Zg, both, pair, stratum, n_h, f, policy, names)
    covariance, _ = _design_variance(Z1, Z2, both, pair, stratum, n_h, f, policy, names)
    out = []
    for k in range(K):
        defined = ~np.isnan(R1[:, k]) & ~np.isnan(R2[:, k])
        result = labels.assign(column=contrast.column, first=contrast.first, second=contrast.second,
                               kind=contrast.kind, estimate=G[:, k], variance=variance[:, k], df=df[:, k],
                               covariance=covariance[:, k], first_estimate=R1[:, k], second_estimate=R2[:, k])
        out.append(result[defined].reset_index(drop=True))
    return out


def _stratum_positions(rows: pd.DataFrame, strata: pd.DataFrame, by: list[str]) -> np.ndarray:
    """For each row (with the `by` columns and _stratum), the position of its stratum in `strata` (one row per
    `by` cell and stratum, every one of them; missing values match missing values, as in a merge)."""
    keys = [*by, "_stratum"]
    if not by:
        return pd.Index(strata["_stratum"]).get_indexer(rows["_stratum"])
    return pd.MultiIndex.from_frame(strata[keys]).get_indexer(pd.MultiIndex.from_frame(rows[keys]))


def _scan(con, relation: str, design: Design, estimands: list[Estimand], by: list[str],
          margins: list[list[str]], margin_columns: list[str]) -> dict:
    """The PSU sums of every margin from one pass over the microdata: a row per (`by` cell, margin cell, stratum,
    PSU) with its margin (_margin, GROUPING() over the margin columns), the design columns and, per estimand k,
    a{k} = sum w*d*y, n{k} = sum d, nw{k} = sum w*d (and b{k} = sum w*d*x for a ratio, yy{k} = sum w*d*y^2
    outside proportions), d telling whether the unit is in the estimand's domain."""
    # group on the columns' own types (cheaper than casting every row); cast the small result to text
    stratum = f"({design.stratum})" if design.stratum else "'1'"
    psu = f"({design.psu})" if design.psu else "row_number() OVER ()"
    groups = [f"{c} AS {c}" for c in [*by, *margin_columns]]
    unit_columns = [f"{stratum} AS _stratum", f"{psu} AS _psu", f"CAST(({design.weight}) AS DOUBLE) AS _w", *groups]
    sums = {}  # name: aggregate over the units
    for k, e in enumerate(estimands):
        y_sql = f"CAST(({e.y}) AS DOUBLE)"
        # _y is NULL outside the estimand's domain (the aggregates skip it): without a universe or an x, "in the
        # domain" is "y observed", so y itself is _y and no CASE is evaluated per unit
        if e.universe or e.kind == "ratio":
            x_sql = f"CAST(({e.x}) AS DOUBLE)" if e.kind == "ratio" else "1.0"
            in_universe = f"(({e.universe}) IS TRUE)" if e.universe else "TRUE"
            d = f"({in_universe} AND {y_sql} IS NOT NULL AND {x_sql} IS NOT NULL)"
            unit_columns.append(f"CASE WHEN {d} THEN {y_sql} END AS _y{k}")
        else:
            unit_columns.append(f"{y_sql} AS _y{k}")
        # nw as the product w * d: cheaper per unit than a CASE
        sums |= {f"a{k}": f"sum(_w * _y{k})", f"n{k}": f"count(_y{k})",
                 f"nw{k}": f"sum(_w * CAST(_y{k} IS NOT NULL AS DOUBLE))"}
        # only what the estimand needs is aggregated over the microdata; the rest follows from it:
        # x = 1 outside ratios (sum w*x = sum w*d, taken from nw{k}), y^2 = y for a 0/1 proportion
        if e.kind == "ratio":
            unit_columns.append(f"CASE WHEN {d} THEN {x_sql} END AS _x{k}")
            sums[f"b{k}"] = f"sum(_w * _x{k})"
        if e.kind != "proportion":
            sums[f"yy{k}"] = f"sum(_w * _y{k} * _y{k})"
    if design.fpc:
        unit_columns.append(f"CAST(({design.fpc}) AS DOUBLE) AS _fpc")
        fpc = """max(_fpc) AS fpc_max, min(_fpc) AS fpc_min, count(*) - count(_fpc) AS fpc_missing,
                 -- 1 or 2 distinct fpc values in the PSU (a DISTINCT aggregate is costly)
                 CASE WHEN min(_fpc) < max(_fpc) THEN 2 ELSE 1 END AS fpc_values"""
    else:  # no fpc: nothing to aggregate per unit (these columns are only read when an fpc is given)
        fpc = "CAST(NULL AS DOUBLE) AS fpc_max, CAST(NULL AS DOUBLE) AS fpc_min, 0 AS fpc_missing, 1 AS fpc_values"
    key_names = [*by, *margin_columns, "_stratum", "_psu"]
    # one grouping set per margin but the total: which one a row belongs to is told by GROUPING() over the
    # margin columns
    detailed = [m for m in margins if m]
    sets = ", ".join("(" + ", ".join([*by, *m, "_stratum", "_psu"]) + ")" for m in detailed or [[]])
    margin_id = f"GROUPING({', '.join(margin_columns)})" if margin_columns else "0"
    per_psu = f"""SELECT {', '.join(key_names)}, {margin_id} AS _margin, {fpc},
                         count(*) FILTER (WHERE _w IS NULL OR isnan(_w) OR NOT (_w >= 0)) AS bad_weights,
                         {', '.join(f'{sql} AS {name}' for name, sql in sums.items())}
                  FROM (SELECT {', '.join(unit_columns)} FROM {relation})
                  GROUP BY GROUPING SETS ({sets})"""
    if detailed:
        per_psu = _with_total_margin(per_psu, by, margin_columns, detailed[0], sums)
    as_text = ", ".join(f"CAST({k} AS VARCHAR) AS {k}" for k in key_names)
    # a PSU without any unit of an estimand's domain sums to NULL for it: 0
    values = ", ".join(name if sql.startswith("count(") else f"coalesce({name}, 0) AS {name}"
                       for name, sql in sums.items())
    return con.execute(f"""SELECT {as_text}, _margin, fpc_max, fpc_min, fpc_missing, fpc_values, bad_weights,
                                  {values} FROM ({per_psu})""").fetchnumpy()


def _with_total_margin(per_psu: str, by: list[str], margin_columns: list[str], margin: list[str],
                       sums: dict) -> str:
    """The PSU sums of the other margins (per_psu), plus the total margin's added up from those of `margin`
    (every unit is in one of its categories, a missing value being one): cheaper than one more grouping set,
    which would aggregate every unit once more. Sums of sums, they equal the units' sums up to rounding."""
    totals = ", ".join(f"CAST(sum({name}) AS BIGINT)" if sql.startswith("count(") else f"sum({name})"
                       for name, sql in sums.items())
    columns = ", ".join([*by, *(f"NULL AS {c}" for c in margin_columns), "_stratum", "_psu"])
    return f"""WITH _psu_sums AS MATERIALIZED ({per_psu})
               SELECT * FROM _psu_sums
               UNION ALL
               SELECT {columns}, {_grouping_id([], margin_columns)} AS _margin, max(fpc_max), min(fpc_min),
                      CAST(sum(fpc_missing) AS BIGINT), CASE WHEN min(fpc_min) < max(fpc_max) THEN 2 ELSE 1 END,
                      CAST(sum(bad_weights) AS BIGINT), {totals}
               FROM _psu_sums WHERE _margin = {_grouping_id(margin, margin_columns)}
               GROUP BY {', '.join([*by, "_stratum", "_psu"])}"""


def _add_second_stage(con, relation, design, e: Estimand, by, margins, margin_columns, cells, variance):
    units = _unit_sql(relation, design, e.kind, e.y, e.x, e.universe, by, margin_columns)
    labels = _margin_label(margin_columns)
    select = ", ".join([*by, labels] if labels else by)
    second = _second_stage(con, units, select, by, margins, margin_columns, cells, e.kind)
    keys = [*by, *margin_columns]
    if keys:
        variance = variance.merge(second, on=keys, how="left").fillna({"v2": 0.0})
        variance["variance"] = variance["variance"] + variance.pop("v2")
    else:
        variance["variance"] = variance["variance"] + second["v2"].iloc[0]
    return variance


def _add_second_stage_of(con, relation, design, e: Estimand, by, margins, margin_columns, labels: pd.DataFrame,
                         values: dict, k: int) -> None:
    """Adds the second stage's variance to estimand k's published cells, in values["variance"][:, k]."""
    rows = np.flatnonzero(values["keep"][:, k])
    if not len(rows):
        return
    keys = [*by, *margin_columns]
    cells = labels.iloc[rows].reset_index(drop=True)
    for name in ("y_total", "x_total", "n_unweighted", "n_weighted", "yy"):
        cells[name] = values[name][rows, k]
    variance = cells[keys].assign(variance=values["variance"][rows, k])
    variance = _add_second_stage(con, relation, design, e, by, margins, margin_columns, cells, variance)
    values["variance"][rows, k] = variance["variance"].to_numpy()


# ------------------------------------------------------------------------------------------------ SQL parts
def _unit_sql(relation: str, design: Design, kind: str, y: str, x: str | None, universe: str | None,
              by: list[str], margin_columns: list[str]) -> str:
    """One row per unit: design, groups, the domain indicator d and the y, x values (0 outside the domain)."""
    y_sql = f"CAST(({y}) AS DOUBLE)"
    x_sql = f"CAST(({x}) AS DOUBLE)" if kind == "ratio" else "1.0"
    in_domain = f"(({universe}) IS TRUE)" if universe else "TRUE"
    d = f"({in_domain} AND {y_sql} IS NOT NULL AND {x_sql} IS NOT NULL)"
    stratum = f"CAST(({design.stratum}) AS VARCHAR)" if design.stratum else "'1'"
    psu = f"CAST(({design.psu}) AS VARCHAR)" if design.psu else "CAST(row_number() OVER () AS VARCHAR)"
    fpc = f"CAST(({design.fpc}) AS DOUBLE)" if design.fpc else "CAST(NULL AS DOUBLE)"
    groups = ", ".join(f"CAST({c} AS VARCHAR) AS {c}" for c in [*by, *margin_columns])
    ssu = f"CAST(({design.ssu}) AS VARCHAR)" if design.ssu else "CAST(row_number() OVER () AS VARCHAR)"
    fpc2 = f"CAST(({design.fpc2}) AS DOUBLE)" if design.fpc2 else "CAST(NULL AS DOUBLE)"
    return (f"SELECT {stratum} AS _stratum, {psu} AS _psu, {ssu} AS _ssu, {fpc2} AS _fpc2, "
            f"CAST(({design.weight}) AS DOUBLE) AS _w, {fpc} AS _fpc"
            f"{', ' + groups if groups else ''}, "
            f"CASE WHEN {d} THEN 1 ELSE 0 END AS _d, CASE WHEN {in_domain} THEN 1 ELSE 0 END AS _u, "
            f"CASE WHEN {d} THEN {y_sql} ELSE 0 END AS _y, CASE WHEN {d} THEN {x_sql} ELSE 0 END AS _x "
            f"FROM {relation}")


def _grouping_sets(by: list[str], margins: list[list[str]], extra: list[str] = ()) -> str:
    sets = ", ".join("(" + ", ".join([*by, *m, *extra]) + ")" for m in margins)
    return f"GROUPING SETS ({sets})"


def _margin_label(margin_columns: list[str]) -> str:
    return ", ".join(f"CASE WHEN GROUPING({c}) = 1 THEN '{TOTAL}' ELSE {c} END AS {c}" for c in margin_columns)


def _second_stage(con, units, select, by, margins, margin_columns, cells, kind) -> pd.DataFrame:
    """Second-stage variance: within each PSU, SSUs as a simple random sample of m_i from M_i (fpc2),
    f2 * m_i/(m_i - 1) * sum_j (z_ij - mean z_i)^2, scaled by n_h / N_h and summed (R's multistage())."""
    keys = [*by, *margin_columns]
    ssu = con.execute(f"""
        SELECT {select + ',' if select else ''} _stratum, _psu, _ssu, sum(_w * _y) AS a, sum(_w * _x) AS b
        FROM ({units}) WHERE _d = 1
        GROUP BY {_grouping_sets(by, margins, ['_stratum', '_psu', '_ssu'])}""").df()
    sizes = con.execute(f"""
        SELECT _stratum, _psu, count(DISTINCT _ssu) AS m, max(_fpc2) AS pop_ssus,
               max(_fpc) AS pop_psus, (SELECT count(DISTINCT (_stratum || '/' || _psu)) FROM ({units}) u
                                       WHERE u._stratum = v._stratum) AS n_h
        FROM ({units}) v GROUP BY _stratum, _psu""").df()
    merged = ssu.merge(cells[keys + ["y_total", "x_total"]], on=keys, how="left") if keys else \
        ssu.assign(y_total=cells["y_total"].iloc[0], x_total=cells["x_total"].iloc[0])
    if kind == "total":
        merged["z"] = merged["a"]
    else:
        merged["z"] = (merged["a"] - merged["y_total"] / merged["x_total"] * merged["b"]) / merged["x_total"]
    merged["z2"] = merged["z"] ** 2
    per_psu = merged.groupby(keys + ["_stratum", "_psu"], dropna=False).agg(
        s1=("z", "sum"), s2=("z2", "sum")).reset_index()
    per_psu = per_psu.merge(sizes, on=["_stratum", "_psu"], how="left")
    m = per_psu["m"].astype(float)
    f2 = (per_psu["pop_ssus"] - m) / per_psu["pop_ssus"]
    with np.errstate(divide="ignore", invalid="ignore"):
        v = f2 * m / (m - 1) * (per_psu["s2"] - per_psu["s1"] ** 2 / m)
    v = np.where(m > 1, v, 0.0) * per_psu["n_h"] / per_psu["pop_psus"]
    per_psu["v2"] = v
    if keys:
        return per_psu.groupby(keys, dropna=False)["v2"].sum().reset_index()
    return pd.DataFrame({"v2": [per_psu["v2"].sum()]})


# ----------------------------------------------------------------------------------------------- finishing
def _t_quantile(level: float, df) -> np.ndarray:
    """t quantile with df design degrees of freedom; NaN below 1 df (no design-based interval, as R's
    confint with df = 0)."""
    df = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(df >= 1, stdtrit(np.where(df >= 1, df, 1), 0.5 + level / 2), np.nan)


_FIGURES = ["estimate", "se", "ci_lower", "ci_upper", "df", "cv", "deff", "n_unweighted", "n_weighted", "flags"]


def _finish(labels: pd.DataFrame, values: dict, estimands: list[Estimand], by: list[str], margin_columns: list[str],
            level: float, with_total: bool) -> list[pd.DataFrame]:
    """One frame per estimand: its published cells (sorted on the `by` and margin columns) with estimate, se,
    interval, df, cv, deff, n and flags. `labels` and `values` are every margin's cells stacked (_margin_variances);
    the arithmetic runs on whole columns of the matrices, each cell on its own, so a cell's figures do not depend on
    which other cells are published. with_total: the totals of the `by` cells were asked for (else dropped here,
    after their design effect served the 0 % and 100 % cells)."""
    keys = [*by, *margin_columns]
    is_total = ((labels[margin_columns] == TOTAL).all(axis=1).to_numpy() if margin_columns
                else np.ones(len(labels), dtype=bool))
    # the row of each cell's `by` total, whose design effect a proportion of 0 or 1 borrows (_effective_n)
    by_cell = (labels.groupby(by, dropna=False, sort=False).ngroup().to_numpy() if by
               else np.zeros(len(labels), dtype=int))
    total_row = np.full(int(by_cell.max()) + 1 if len(by_cell) else 0, -1)
    at = np.flatnonzero(is_total)
    first = ~pd.Series(by_cell[at]).duplicated().to_numpy()  # the first, were there ever several
    total_row[by_cell[at][first]] = at[first]
    order = labels.sort_values(keys).index.to_numpy() if keys else np.arange(len(labels))
    t_all = _t_quantile(level, values["df"])
    results = []
    for k, e in enumerate(estimands):
        keep = values["keep"][:, k]
        if not keep.any():
            results.append(_no_cells(labels, keys))
            continue
        y, x, n, w, yy, variance, df = (values[name][:, k] for name in
                                        ("y_total", "x_total", "n_unweighted", "n_weighted", "yy", "variance", "df"))
        t = t_all[:, k]
        with np.errstate(divide="ignore", invalid="ignore"):
            estimate = y if e.kind == "total" else y / x
        se = np.sqrt(np.where(variance < 0, 0.0, variance))  # as Series.clip(lower=0): NaN and -0.0 kept
        cv = coefficient_of_variation(se, estimate)  # percent
        deff = _design_effects(n, w, y, yy, variance, e.kind)
        small_df = df < 1  # a domain in one PSU: no interval
        if e.kind == "proportion":
            p = np.where(estimate < 0, 0.0, np.where(estimate > 1, 1.0, estimate))  # as clip(0, 1)
            with np.errstate(divide="ignore", invalid="ignore"):
                se_logit = se / (p * (1 - p))  # the delta method (the replicate engine has the replicates')
            zero, one = p <= 0, p >= 1
            total_of_cell = total_row[by_cell]
            deff_total = np.where(total_of_cell >= 0, deff[total_of_cell], np.nan)
            n_star = _effective_n_of(n, df, deff_total, level)
            ci_lower, ci_upper = proportion_interval(p, se_logit, t, n_star, level)
            flags = np.where(zero | one, np.where(small_df, "df<1 boundary", "boundary"),
                             np.where(small_df, "df<1", ""))
        else:
            ci_lower, ci_upper = estimate - t * se, estimate + t * se
            flags = np.where(small_df, "df<1", "")
        rows = order[keep[order]]
        if not with_total:
            rows = rows[~is_total[rows]]
        columns = {c: labels[c].to_numpy()[rows] for c in keys}
        figures = (estimate, se, ci_lower, ci_upper, df, cv, deff, n, w, flags.astype(object))
        columns.update({name: figure[rows] for name, figure in zip(_FIGURES, figures)})
        results.append(pd.DataFrame(columns))
    return results


def proportion_interval(p: np.ndarray, se_logit: np.ndarray, t: np.ndarray, n_star: np.ndarray, level: float
                        ) -> tuple[np.ndarray, np.ndarray]:
    """The interval of proportions p (in [0, 1]): on the logit scale, logit p -/+ t * se_logit, back-transformed
    (R's svyciprop method "logit"); at p = 0 or 1, which has no logit, the Clopper-Pearson bound for 0 (or n)
    events out of the Korn-Graubard effective sample size n_star. NaN where t is (df < 1: no interval)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logit = np.log(p / (1 - p))
        lo = 1 / (1 + np.exp(-(logit - t * se_logit)))
        hi = 1 / (1 + np.exp(-(logit + t * se_logit)))
        bound = ((1 - level) / 2) ** (1 / n_star)
    zero, one = p <= 0, p >= 1
    lo = np.where(zero, 0.0, np.where(one, bound, lo))
    hi = np.where(zero, 1 - bound, np.where(one, 1.0, hi))
    return np.where(np.isnan(t), np.nan, lo), np.where(np.isnan(t), np.nan, hi)


def _no_cells(labels: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The frame of an estimand that no unit is observed for: no rows, the columns of the cells' totals."""
    names = ["y_total", "x_total", "n_unweighted", "n_weighted", "yy", "variance", "df"]
    return pd.DataFrame({**{c: labels[c].to_numpy()[:0] for c in keys}, **{name: np.zeros(0) for name in names}})


def _effective_n(out: pd.DataFrame, by: list[str], margin_columns: list[str], level: float) -> np.ndarray:
    """Korn-Graubard effective sample size for a proportion of 0 or 1, whose own design effect is undefined:
    n* = n / deff_T * (t_{n-1} / t_df)^2, with deff_T the design effect of the same estimand over the whole
    `by` cell (taken as 1 when it is below 1 or undefined) and df the domain's design df."""
    total = (out[margin_columns] == TOTAL).all(axis=1) if margin_columns else pd.Series(True, index=out.index)
    totals = out.loc[total, [*by, "deff"]].rename(columns={"deff": "_deff_total"})
    deff = (out[by].merge(totals, on=by, how="left")["_deff_total"] if by
            else pd.Series(totals["_deff_total"].iloc[0], index=out.index))
    return _effective_n_of(out["n_unweighted"].to_numpy(dtype=float), out["df"].to_numpy(dtype=float),
                           np.asarray(deff, dtype=float), level)


def _effective_n_of(n: np.ndarray, df: np.ndarray, deff_total: np.ndarray, level: float) -> np.ndarray:
    """_effective_n from the cells' n, design df and the design effect of their `by` cell's total."""
    deff = np.where(np.isfinite(deff_total) & (deff_total > 1), deff_total, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(n > 1, stdtrit(np.maximum(n - 1, 1), 0.5 + level / 2) / _t_quantile(level, df), 1.0)
    return n / deff * ratio ** 2


def _finish_contrasts(pairs: pd.DataFrame, by: list[str], level: float) -> pd.DataFrame:
    if pairs.empty:
        return pairs
    out = pairs.copy()
    out["se"] = np.sqrt(out.pop("variance").clip(lower=0))
    t = _t_quantile(level, out["df"])
    out["ci_lower"] = out["estimate"] - t * out["se"]
    out["ci_upper"] = out["estimate"] + t * out["se"]
    out["flags"] = np.where(out["df"] < 1, "df<1", "")
    columns = [*by, "column", "first", "second", "kind", "estimate", "se", "ci_lower", "ci_upper", "df",
               "covariance", "first_estimate", "second_estimate", "flags"]
    return out[columns].sort_values([*by, "column", "first", "second"], ignore_index=True)


def _design_effect(out: pd.DataFrame, kind: str) -> np.ndarray:
    """Variance over the variance of simple random sampling with replacement of the same n (as R's deff for
    svymean: svyvar / n), from the weighted moments of the domain."""
    return _design_effects(out["n_unweighted"].to_numpy(dtype=float), out["n_weighted"].to_numpy(),
                           out["y_total"].to_numpy(), out["yy"].to_numpy(), out["variance"].to_numpy(), kind)


def _design_effects(n: np.ndarray, w: np.ndarray, y_total: np.ndarray, yy: np.ndarray, variance: np.ndarray,
                    kind: str) -> np.ndarray:
    """_design_effect from the cells' n, weighted n, weighted totals of y and y^2, and design variance."""
    if kind == "ratio":
        return np.full(len(n), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = y_total / w
        pop_var = (yy / w - mean ** 2) * n / (n - 1)
        srs = pop_var / n if kind != "total" else pop_var * w ** 2 / n
        return np.where(srs > 0, variance / srs, np.nan)
