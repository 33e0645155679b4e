"""Design-based estimation by Taylor linearisation, in DuckDB, for every domain at once.

Estimators: total Y = sum w*y, ratio R = sum w*y / sum w*x, mean (ratio with x = 1) and proportion (mean of a
0/1 variable), each per domain. Domains are estimated over the full design: a unit outside the domain keeps its
PSU and stratum and contributes zero, exactly as R's svyby/subset do, so n_h counts every PSU of the stratum.
Items missing for a unit put it outside the domain (R's na.rm=TRUE).

Variance: with-replacement at the first stage (ultimate cluster), PSUs nested in strata, optional first-stage fpc
(N_h, the number of PSUs in the stratum's population; f_h = (N_h - n_h)/N_h):
    z_hi = sum over units of PSU i of w * d * (y - R x) / X   (ratio; total: w * d * y)
    V    = sum_h f_h * n_h / (n_h - 1) * sum_i (z_hi - mean_h z)^2
computed from two grouped passes: cell totals, then PSU-by-cell sums of w*d*y and w*d*x (z_hi is linear in
them), so the microdata are never joined back to the estimates.

Lonely PSUs (a stratum with one PSU in the design) follow R's options(survey.lonely.psu=):
    fail       error naming the strata
    remove     the stratum contributes nothing (as R)
    certainty  the stratum contributes nothing (a certainty PSU has no first-stage variance)
    adjust     the lonely PSU's total is not centred: V_h = f_h * t_h^2 (as R; for means, ratios and
               proportions this is its deviation from the mean PSU total, since the z values sum to 0)
               -- the default here
    average    the stratum's variance is the average of the other strata's: V scaled by n_strata / n_ok
"""

from __future__ import annotations

import re
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
    finest = _scan(con, relation, design, estimands, by, margin_columns)
    strata = finest.groupby([*by, "_stratum"], dropna=False).agg(
        n_h=("_psu", "nunique"), pop_psus=("pop_psus", "max"), fpc_values=("fpc_values", "max"),
        fpc_between_psus=("pop_psus", "nunique")).reset_index()
    # fpc must be one value per stratum: within a PSU (from the scan) and between its PSUs
    strata["fpc_values"] = strata[["fpc_values", "fpc_between_psus"]].max(axis=1)
    # roll the PSU-level scan up to each margin once, for all estimands together
    value_columns = [c for c in finest.columns if re.fullmatch(r"(a|b|n|nw|yy|u)\d+", c)]
    summed = [c for c in value_columns if not c.startswith("u")]
    maxed = [c for c in value_columns if c.startswith("u")]
    rolled = {}
    for m in margins:
        grouped = finest.groupby([*by, *m, "_stratum", "_psu"], dropna=False)
        # one vectorised sum over all columns (a per-column dict aggregation is many times slower)
        rolled[tuple(m)] = pd.concat([grouped[summed].sum(), grouped[maxed].max()], axis=1).reset_index()
    results = []
    for k, e in enumerate(estimands):
        cells, psu = _frames(rolled, k, by, margins, margin_columns)
        if cells.empty:
            results.append(cells)
            continue
        if (strata["fpc_values"] > 1).any():
            bad = strata.loc[strata["fpc_values"] > 1, "_stratum"].tolist()
            raise CopError(f"fpc is not constant within stratum/strata {', '.join(map(str, bad[:5]))}")
        variance, df = _combine(psu, strata, cells, e.kind, by, margin_columns, design.lonely_psu)
        if design.ssu and design.fpc and design.fpc2:
            variance = _add_second_stage(con, relation, design, e, by, margins, margin_columns, cells, variance)
        results.append(_finish(cells, variance, df, e.kind, by, margin_columns, level))
    return results


def _scan(con, relation: str, design: Design, estimands: list[Estimand], by: list[str],
          margin_columns: list[str]) -> pd.DataFrame:
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
            outer.append(f"nw{k} AS b{k}")
        if e.kind == "proportion":
            outer.append(f"a{k} AS yy{k}")
        else:
            sums.append(f"sum(_w * _y{k} * _y{k}) AS yy{k}")
            outer.append(f"yy{k}")
        if e.universe:
            unit_columns.append(f"CASE WHEN {in_universe} THEN 1 ELSE 0 END AS _u{k}")
            sums.append(f"max(_u{k}) AS u{k}")
            outer.append(f"u{k}")
        else:
            outer.append(f"1 AS u{k}")
    key_names = [*by, *margin_columns, "_stratum", "_psu"]
    keys = ", ".join(key_names)
    as_text = ", ".join(f"CAST({k} AS VARCHAR) AS {k}" for k in key_names)
    return con.execute(f"""SELECT {as_text}, pop_psus, fpc_values, {', '.join(outer)} FROM (
                           SELECT {keys}, max(_fpc) AS pop_psus,
                                  -- 1 or 2 distinct fpc values in the PSU (a DISTINCT aggregate is costly)
                                  CASE WHEN min(_fpc) < max(_fpc) THEN 2 ELSE 1 END AS fpc_values, {', '.join(sums)}
                           FROM (SELECT {', '.join(unit_columns)} FROM {relation}) GROUP BY {keys})""").df()


def _frames(rolled: dict, k: int, by: list[str], margins: list[list[str]], margin_columns: list[str]):
    """cells (one row per domain) and psu (PSU sums per domain, PSUs with a unit of the universe) for
    estimand k, from the PSU-level sums rolled up to each margin."""
    columns = {f"a{k}": "a", f"b{k}": "b", f"n{k}": "n", f"nw{k}": "nw", f"yy{k}": "yy", f"u{k}": "u"}
    psu_frames, cell_frames = [], []
    sums = ["a", "b", "n", "nw", "yy"]
    for margin in margins:
        group = [*by, *margin]
        frame = rolled[tuple(margin)][[*group, "_stratum", "_psu", *columns]].rename(columns=columns)
        for column in margin_columns:
            if column not in margin:
                frame[column] = TOTAL
        psu_frames.append(frame[frame["u"] > 0])
        cells = (frame.groupby(group, dropna=False)[sums].sum().reset_index() if group
                 else frame[sums].sum().to_frame().T)
        for column in margin_columns:
            if column not in margin:
                cells[column] = TOTAL
        cell_frames.append(cells[cells["n"] > 0])
    psu = pd.concat(psu_frames, ignore_index=True)
    cells = pd.concat(cell_frames, ignore_index=True).rename(
        columns={"a": "y_total", "b": "x_total", "n": "n_unweighted", "nw": "n_weighted"})
    return cells, psu


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


def _combine(psu, strata, cells, kind, by, margin_columns, policy):
    """Stratum variances from PSU sums; small frames (one row per PSU and cell) in numpy."""
    keys = [*by, *margin_columns]
    merged = psu.merge(cells[keys + ["y_total", "x_total"]], on=keys, how="left") if keys else \
        psu.assign(y_total=cells["y_total"].iloc[0], x_total=cells["x_total"].iloc[0])
    if kind == "total":
        merged["z"] = merged["a"]
    else:
        ratio = merged["y_total"] / merged["x_total"]
        merged["z"] = (merged["a"] - ratio * merged["b"]) / merged["x_total"]
    merged["z2"] = merged["z"] ** 2  # plain sums: no Python call per group
    per_stratum = (merged.groupby(keys + ["_stratum"], dropna=False)[["z", "z2"]].sum()
                   .rename(columns={"z": "s1", "z2": "s2"}).reset_index())
    per_stratum = per_stratum.merge(strata[by + ["_stratum", "n_h", "pop_psus"]], on=by + ["_stratum"], how="left")
    n_h = per_stratum["n_h"].astype(float)
    f = np.where(per_stratum["pop_psus"].notna(), (per_stratum["pop_psus"] - n_h) / per_stratum["pop_psus"], 1.0)
    lonely = n_h == 1
    certain = lonely & (f == 0)  # R returns 0 for a census stratum before any lonely-PSU rule
    if (lonely & ~certain).any() and policy == "fail":
        names = sorted(set(per_stratum.loc[lonely & ~certain, "_stratum"].astype(str)))
        raise LonelyPsuError(f"stratum/strata with a single PSU: {', '.join(names[:10])} "
                             "(choose a lonely PSU policy: adjust, remove, average, certainty)")
    with np.errstate(divide="ignore", invalid="ignore"):
        centred = per_stratum["s2"] - per_stratum["s1"] ** 2 / n_h
        v = f * n_h / (n_h - 1) * centred
    v = np.where(lonely, 0.0, v)
    per_stratum["v"] = v
    if lonely.any() and policy == "adjust":
        # R: the lonely PSU's total is not centred, V_h = f_h * t_h^2 (for means, ratios and proportions
        # the z values sum to zero, so this is the deviation from the mean of all PSU totals)
        per_stratum.loc[lonely, "v"] = (f[lonely.to_numpy()] * per_stratum.loc[lonely, "s1"] ** 2).to_numpy()
    variance = per_stratum.groupby(keys, dropna=False)["v"].sum() if keys else pd.Series([per_stratum["v"].sum()])
    if policy == "average" and (lonely & ~certain).any():
        # R: a lonely stratum's variance is NA; the sum over the others is scaled by
        # (strata present in the domain) / (strata present and not lonely)
        present = per_stratum.assign(ok=~(lonely & ~certain))
        counts = present.groupby(keys, dropna=False)["ok"].agg(["sum", "size"]) if keys else \
            pd.DataFrame({"sum": [present["ok"].sum()], "size": [len(present)]})
        scale = counts["size"] / counts["sum"]
        variance = variance * (scale if keys else scale.iloc[0])
    variance = variance.rename("variance").reset_index() if keys else pd.DataFrame({"variance": variance.values})
    # design degrees of freedom of the domain, as R's degf() of the domain's subset: PSUs with at least one
    # unit of the domain minus strata with at least one (svyciprop on svyby uses exactly this)
    domain_psus = merged.drop_duplicates(keys + ["_stratum", "_psu"])
    if keys:
        df = domain_psus.groupby(keys, dropna=False).agg(psus=("_psu", "size"), n_strata=("_stratum", "nunique"))
        df = df.reset_index()
    else:
        df = pd.DataFrame({"psus": [len(domain_psus)], "n_strata": [domain_psus["_stratum"].nunique()]})
    df["df"] = df["psus"] - df["n_strata"]
    return variance, df[keys + ["df"]]


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
