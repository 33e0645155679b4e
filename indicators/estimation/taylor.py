"""Design-based estimation by Taylor linearisation, in DuckDB, for every domain at once.

Estimators: total Y = sum w*y, ratio R = sum w*y / sum w*x, mean (ratio with x = 1) and proportion (mean of a
0/1 variable), each per domain. Domains are estimated over the full design: a unit outside the domain keeps its
PSU and stratum and contributes zero, exactly as R's svyby/subset do, so n_h counts every PSU of the stratum.
Items missing for a unit put it outside the domain (R's na.rm=TRUE).

Variance: with-replacement at the first stage (ultimate cluster), PSUs nested in strata, optional first-stage fpc
(N_h, the number of PSUs in the stratum's population; f_h = (N_h - n_h)/N_h):
    z_hi = sum over units of PSU i of w * d * (y - R x) / X   (ratio; total: w * d * y)
    V    = sum_h f_h * n_h / (n_h - 1) * sum_i (z_hi - mean_h z)^2
z_hi is linear in the PSU-by-cell sums of w*d*y and w*d*x, so everything comes from ONE scan of the microdata
for all estimands of a design: DuckDB groups by (domain cell, stratum, PSU) with one GROUPING SET per margin,
and the cell totals, z_hi and stratum variances follow from that small table as numpy matrices (one column per
estimand). The microdata are never joined back to the estimates.

Lonely PSUs (a stratum with one PSU in the design) follow R's options(survey.lonely.psu=):
    fail       error naming the strata
    remove     the stratum contributes nothing (as R)
    certainty  the stratum contributes nothing (a certainty PSU has no first-stage variance)
    adjust     the lonely PSU's total is not centred: V_h = f_h * t_h^2 (as R; for means, ratios and
               proportions this is its deviation from the mean PSU total, since the z values sum to 0)
               -- the default here
    average    the stratum's variance is the average of the other strata's: V scaled by (strata present in
               the domain) / (those with a variance)
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from indicators.errors import CopError

LONELY_PSU_POLICIES = ("adjust", "remove", "average", "certainty", "fail")
KINDS = ("proportion", "mean", "total", "ratio")
TOTAL = "_T"


@dataclass(frozen=True)
class Design:
    """Column names (or SQL expressions) of the design in the relation being estimated from."""

    weight: str
    stratum: str | None = None  # None: one stratum
    psu: str | None = None  # None: every unit is its own PSU
    fpc: str | None = None  # number of PSUs in the stratum's population
    lonely_psu: str = "adjust"
    # optional second stage (as R's svydesign(id=~psu+ssu, fpc=~fpc+fpc2)): with both fpcs given the
    # second stage's variance is added, scaled by the first-stage sampling fraction n_h/N_h
    ssu: str | None = None
    fpc2: str | None = None  # number of SSUs in the PSU's population

    def __post_init__(self) -> None:
        if self.lonely_psu not in LONELY_PSU_POLICIES:
            raise CopError(f"lonely PSU policy {self.lonely_psu!r}: one of {', '.join(LONELY_PSU_POLICIES)}")


class LonelyPsuError(CopError):
    """A stratum has a single PSU and the policy is 'fail'."""


def estimate(con: duckdb.DuckDBPyConnection, relation: str, design: Design, kind: str, y: str,
             x: str | None = None, universe: str | None = None, by: list[str] | None = None,
             margins: list[list[str]] | None = None, level: float = 0.95) -> pd.DataFrame:
    """Estimate `kind` of y (over x for a ratio) in every domain.

    by: columns always grouped on (e.g. country and wave: the estimates never mix them).
    margins: the further groupings, each a list of columns; [] is the total of the `by` cell. Default [[]].
    Returns one row per domain with the `by` and margin columns ('_T' where a margin is totalled), estimate,
    se, ci_lower, ci_upper, df, cv, deff, n_unweighted, n_weighted, flags.
    """
    return estimate_many(con, relation, design, [Estimand(kind, y, x, universe)], by, margins, level)[0]


@dataclass(frozen=True)
class Estimand:
    kind: str
    y: str
    x: str | None = None
    universe: str | None = None


def estimate_many(con: duckdb.DuckDBPyConnection, relation: str, design: Design, estimands: list[Estimand],
                  by: list[str] | None = None, margins: list[list[str]] | None = None,
                  level: float = 0.95) -> list[pd.DataFrame]:
    """Several estimands over one design and the same domains, from ONE scan of the microdata.

    The scan groups by (by, margin columns, stratum, PSU) and sums, per estimand, w*d*y, w*d*x, d, w*d and
    w*d*y^2 (d: the unit is in the estimand's domain). Cell totals, PSU totals of the linearised variable and
    stratum sizes are all rolled up from that PSU-level table, which is small (cells x PSUs).
    """
    for e in estimands:
        if e.kind not in KINDS:
            raise CopError(f"estimator {e.kind!r}: one of {', '.join(KINDS)}")
    by = list(by or [])
    margins = [list(m) for m in (margins or [[]])]
    margin_columns = sorted({c for m in margins for c in m}, key=lambda c: [c in m for m in margins])
    scanned = _scan(con, relation, design, estimands, by, margins, margin_columns)
    # one block of PSU-level sums per margin (GROUPING SETS in the scan); the first has every PSU. Columns
    # arrive as numpy arrays: frames are built per block without consolidating one wide frame first.
    margin_of_row = np.asarray(scanned.pop("_margin"))
    rolled = {}
    for m in margins:
        mask = margin_of_row == _grouping_id(m, margin_columns)
        rolled[tuple(m)] = pd.DataFrame({name: _numpy(values)[mask] for name, values in scanned.items()})
    finest = rolled[tuple(margins[0])]
    strata = finest.groupby([*by, "_stratum"], dropna=False).agg(
        n_h=("_psu", "nunique"), pop_psus=("pop_psus", "max"), fpc_values=("fpc_values", "max"),
        fpc_between_psus=("pop_psus", "nunique")).reset_index()
    # fpc must be one value per stratum: within a PSU (from the scan) and between its PSUs
    strata["fpc_values"] = strata[["fpc_values", "fpc_between_psus"]].max(axis=1)
    if (strata["fpc_values"] > 1).any():
        bad = strata.loc[strata["fpc_values"] > 1, "_stratum"].tolist()
        raise CopError(f"fpc is not constant within stratum/strata {', '.join(map(str, bad[:5]))}")
    per_margin = [_margin_variances(rolled[tuple(m)], strata, estimands, by, m, margin_columns, design.lonely_psu)
                  for m in margins]
    results = []
    for k, e in enumerate(estimands):
        cells = pd.concat([frames[k] for frames in per_margin], ignore_index=True)
        if cells.empty:
            results.append(cells)
            continue
        keys = [*by, *margin_columns]
        variance, df = cells[keys + ["variance"]], cells[keys + ["df"]]
        cells = cells.drop(columns=["variance", "df"])
        if design.ssu and design.fpc and design.fpc2:
            variance = _add_second_stage(con, relation, design, e, by, margins, margin_columns, cells, variance)
        results.append(_finish(cells, variance, df, e.kind, by, margin_columns, level))
    return results


def _numpy(values) -> np.ndarray:
    """A fetched column as a plain numpy array (masked arrays mark SQL NULLs: those become NaN/None)."""
    if isinstance(values, np.ma.MaskedArray):
        if values.dtype.kind in "fiu":
            return values.astype(float).filled(np.nan)
        return values.astype(object).filled(None)
    return np.asarray(values)


def _grouping_id(margin: list[str], margin_columns: list[str]) -> int:
    """DuckDB's GROUPING(c1, ..., cn) for a grouping set: bit (n - 1 - i) is set when c_i is rolled up."""
    n = len(margin_columns)
    return sum(1 << (n - 1 - i) for i, c in enumerate(margin_columns) if c not in margin)


def _group_sums(values: np.ndarray, codes: np.ndarray, groups: int, how: str = "sum") -> np.ndarray:
    frame = pd.DataFrame(values).groupby(codes)
    out = (frame.sum() if how == "sum" else frame.max()).reindex(range(groups), fill_value=0)
    return out.to_numpy()


def _margin_variances(frame: pd.DataFrame, strata: pd.DataFrame, estimands: list[Estimand], by: list[str],
                      margin: list[str], margin_columns: list[str], policy: str) -> list[pd.DataFrame]:
    """For one margin, every estimand at once (numpy matrices, one column per estimand): cell totals,
    linearised PSU totals z, stratum variances with the lonely-PSU policy, the domain's design df.
    Returns one frame per estimand: the cells with their totals, variance and df."""
    group = [*by, *margin]
    K = len(estimands)
    # columns the scan did not need to aggregate follow from others: b = nw (x = 1), yy = a (0/1 y), u = 1
    fallback = {"b": "nw", "yy": "a", "u": None}

    def column(prefix: str) -> np.ndarray:
        parts = []
        for k in range(K):
            name = f"{prefix}{k}"
            if name in frame:
                parts.append(frame[name].to_numpy(dtype=float))
            elif fallback[prefix] is None:
                parts.append(np.ones(len(frame)))
            else:
                parts.append(frame[f"{fallback[prefix]}{k}"].to_numpy(dtype=float))
        return np.column_stack(parts) if parts else np.zeros((len(frame), 0))

    A, B, N, NW, YY, U = (column(p) for p in ("a", "b", "n", "nw", "yy", "u"))
    cell = (frame.groupby(group, dropna=False, sort=False).ngroup().to_numpy() if group
            else np.zeros(len(frame), dtype=int))
    n_cells = int(cell.max()) + 1 if len(cell) else 0
    labels = frame.drop_duplicates(group)[group].reset_index(drop=True) if group else pd.DataFrame(index=[0])
    info = frame[[*by, "_stratum"]].merge(strata[[*by, "_stratum", "n_h", "pop_psus"]], on=[*by, "_stratum"],
                                          how="left")
    stratum = info.groupby([*by, "_stratum"], dropna=False, sort=False).ngroup().to_numpy()
    cs = pd.Series(cell * (int(stratum.max()) + 1) + stratum).factorize()[0]  # (cell, stratum) pairs
    n_cs = int(cs.max()) + 1 if len(cs) else 0
    cs_first = pd.Series(np.arange(len(cs))).groupby(cs).first().to_numpy()
    cs_cell, n_h = cell[cs_first], info["n_h"].to_numpy(dtype=float)[cs_first]
    pop = info["pop_psus"].to_numpy(dtype=float)[cs_first]
    f = np.where(np.isnan(pop), 1.0, (pop - n_h) / pop)

    Ac, Bc = _group_sums(A, cell, n_cells), _group_sums(B, cell, n_cells)
    totals = np.array([e.kind == "total" for e in estimands])
    with np.errstate(divide="ignore", invalid="ignore"):
        Z = np.where(totals, A, (A - (Ac / Bc)[cell] * B) / Bc[cell])
    Z = np.nan_to_num(Z)  # cells without units of the domain: no contribution
    present = U > 0
    S1, S2 = _group_sums(Z, cs, n_cs), _group_sums(Z * Z, cs, n_cs)
    P = _group_sums(present.astype(float), cs, n_cs, "max") > 0
    lonely = (n_h == 1)[:, None]
    certain = lonely & (f == 0)[:, None]  # a census stratum: no variance, never a failure (as R)
    lonely_live = lonely & ~certain & P
    if policy == "fail" and lonely_live.any():
        names = sorted({str(frame["_stratum"].iloc[cs_first[i]]) for i in np.where(lonely_live.any(axis=1))[0]})
        raise LonelyPsuError(f"stratum/strata with a single PSU: {', '.join(names[:10])} "
                             "(choose a lonely PSU policy: adjust, remove, average, certainty)")
    n = n_h[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        V = np.where(n > 1, f[:, None] * n / (n - 1) * (S2 - S1 ** 2 / n), 0.0)
    if policy == "adjust":
        # R: the lonely PSU's total is not centred, V_h = f_h * t_h^2
        V = np.where(lonely, f[:, None] * S1 ** 2, V)
    variance = _group_sums(V, cs_cell, n_cells)
    if policy == "average":
        # R: lonely strata are NA; the sum over the others is scaled by strata present / strata with variance
        strata_present = _group_sums(P.astype(float), cs_cell, n_cells)
        lonely_present = _group_sums(lonely_live.astype(float), cs_cell, n_cells)
        with np.errstate(divide="ignore", invalid="ignore"):
            variance = variance * np.where(lonely_present > 0, strata_present / (strata_present - lonely_present), 1)
    # the domain's design df, as R's degf() on the domain subset: PSUs with a unit of it minus such strata
    df = _group_sums(present.astype(float), cell, n_cells) - _group_sums(P.astype(float), cs_cell, n_cells)
    Nc, NWc, YYc = (_group_sums(M, cell, n_cells) for M in (N, NW, YY))
    out = []
    for k in range(K):
        cells = labels.copy()
        for name in margin_columns:
            if name not in margin:
                cells[name] = TOTAL
        cells = cells.assign(y_total=Ac[:, k], x_total=Bc[:, k], n_unweighted=Nc[:, k], n_weighted=NWc[:, k],
                             yy=YYc[:, k], variance=variance[:, k], df=df[:, k])
        out.append(cells[cells["n_unweighted"] > 0].reset_index(drop=True))
    return out


def _scan(con, relation: str, design: Design, estimands: list[Estimand], by: list[str],
          margins: list[list[str]], margin_columns: list[str]) -> dict:
    # group on the columns' own types (cheaper than casting every row); cast the small result to text
    stratum = f"({design.stratum})" if design.stratum else "'1'"
    psu = f"({design.psu})" if design.psu else "row_number() OVER ()"
    fpc = f"CAST(({design.fpc}) AS DOUBLE)" if design.fpc else "CAST(NULL AS DOUBLE)"
    groups = [f"{c} AS {c}" for c in [*by, *margin_columns]]
    unit_columns = [f"{stratum} AS _stratum", f"{psu} AS _psu", f"CAST(({design.weight}) AS DOUBLE) AS _w",
                    f"{fpc} AS _fpc", *groups]
    sums, outer = [], []
    for k, e in enumerate(estimands):
        y_sql = f"CAST(({e.y}) AS DOUBLE)"
        x_sql = f"CAST(({e.x}) AS DOUBLE)" if e.kind == "ratio" else "1.0"
        in_universe = f"(({e.universe}) IS TRUE)" if e.universe else "TRUE"
        d = f"({in_universe} AND {y_sql} IS NOT NULL AND {x_sql} IS NOT NULL)"
        unit_columns += [f"CASE WHEN {d} THEN 1 ELSE 0 END AS _d{k}",
                         f"CASE WHEN {d} THEN {y_sql} ELSE 0 END AS _y{k}"]
        sums += [f"sum(_w * _y{k}) AS a{k}", f"sum(_d{k}) AS n{k}", f"sum(_w * _d{k}) AS nw{k}"]
        outer += [f"a{k}", f"n{k}", f"nw{k}"]
        # only what the estimand needs is aggregated over the microdata; the rest follows from it:
        # x = 1 outside ratios (sum w*x = sum w*d), y^2 = y for a 0/1 proportion, no universe = every PSU
        if e.kind == "ratio":
            unit_columns.append(f"CASE WHEN {d} THEN {x_sql} ELSE 0 END AS _x{k}")
            sums.append(f"sum(_w * _x{k}) AS b{k}")
            outer.append(f"b{k}")
        else:
            pass  # sum w*x = sum w*d: taken from nw{k} when the variances are computed
        if e.kind == "proportion":
            pass  # y^2 = y: taken from a{k}
        else:
            sums.append(f"sum(_w * _y{k} * _y{k}) AS yy{k}")
            outer.append(f"yy{k}")
        if e.universe:
            unit_columns.append(f"CASE WHEN {in_universe} THEN 1 ELSE 0 END AS _u{k}")
            sums.append(f"max(_u{k}) AS u{k}")
            outer.append(f"u{k}")
        else:
            pass  # every PSU is in the universe
    key_names = [*by, *margin_columns, "_stratum", "_psu"]
    keys = ", ".join(key_names)
    as_text = ", ".join(f"CAST({k} AS VARCHAR) AS {k}" for k in key_names)
    # one grouping set per margin: which one a row belongs to is told by GROUPING() over the margin columns
    sets = ", ".join("(" + ", ".join([*by, *m, "_stratum", "_psu"]) + ")" for m in margins)
    margin_id = f"GROUPING({', '.join(margin_columns)})" if margin_columns else "0"
    return con.execute(f"""SELECT {as_text}, _margin, pop_psus, fpc_values, {', '.join(outer)} FROM (
                           SELECT {keys}, {margin_id} AS _margin, max(_fpc) AS pop_psus,
                                  -- 1 or 2 distinct fpc values in the PSU (a DISTINCT aggregate is costly)
                                  CASE WHEN min(_fpc) < max(_fpc) THEN 2 ELSE 1 END AS fpc_values, {', '.join(sums)}
                           FROM (SELECT {', '.join(unit_columns)} FROM {relation})
                           GROUP BY GROUPING SETS ({sets}))""").fetchnumpy()


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
def _finish(cells, variance, df, kind, by, margin_columns, level):
    keys = [*by, *margin_columns]
    out = cells.merge(variance, on=keys, how="left") if keys else cells.assign(variance=variance["variance"].iloc[0])
    out = out.merge(df, on=keys, how="left") if keys else out.assign(df=df["df"].iloc[0])
    if kind == "total":
        out["estimate"] = out["y_total"]
    else:
        out["estimate"] = out["y_total"] / out["x_total"]
    out["se"] = np.sqrt(out["variance"].clip(lower=0))
    out["flags"] = np.where(out["df"] < 1, "df<1", "")  # a domain in one PSU: no design-based interval
    t = stats.t.ppf(0.5 + level / 2, out["df"].clip(lower=1))
    if kind == "proportion":
        p = out["estimate"].clip(0, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            logit = np.log(p / (1 - p))
            se_logit = out["se"] / (p * (1 - p))
            lo = 1 / (1 + np.exp(-(logit - t * se_logit)))
            hi = 1 / (1 + np.exp(-(logit + t * se_logit)))
        # 0 % and 100 %: the logit is undefined; use the exact (Clopper-Pearson) bound on the unweighted n
        n = out["n_unweighted"].astype(float)
        alpha = 1 - level
        zero, one = p <= 0, p >= 1
        lo = np.where(zero, 0.0, np.where(one, (alpha / 2) ** (1 / n), lo))
        hi = np.where(zero, 1 - (alpha / 2) ** (1 / n), np.where(one, 1.0, hi))
        out.loc[zero | one, "flags"] = (out.loc[zero | one, "flags"] + " boundary").str.strip()
        out["ci_lower"], out["ci_upper"] = lo, hi
    else:
        out["ci_lower"] = out["estimate"] - t * out["se"]
        out["ci_upper"] = out["estimate"] + t * out["se"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["cv"] = np.where(out["estimate"] != 0, out["se"] / out["estimate"].abs(), np.nan)
        out["deff"] = _design_effect(out, kind)
    columns = keys + ["estimate", "se", "ci_lower", "ci_upper", "df", "cv", "deff", "n_unweighted",
                      "n_weighted", "flags"]
    return out[columns].sort_values(keys, ignore_index=True) if keys else out[columns]


def _design_effect(out: pd.DataFrame, kind: str) -> np.ndarray:
    """Variance over the variance of simple random sampling with replacement of the same n (as R's deff for
    svymean: svyvar / n), from the weighted moments of the domain."""
    n = out["n_unweighted"].astype(float)
    w = out["n_weighted"]
    if kind == "ratio":
        return np.full(len(out), np.nan)
    mean = out["y_total"] / w
    pop_var = (out["yy"] / w - mean ** 2) * n / (n - 1)
    srs = pop_var / n if kind != "total" else pop_var * w ** 2 / n
    return np.where(srs > 0, out["variance"] / srs, np.nan)
