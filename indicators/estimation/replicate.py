"""Design-based estimation with replicate weights (R's svrepdesign), in DuckDB, for every domain at once.

The design is a full-sample weight w and R replicate weights w_1..w_R, all combined (analysis) weights as R's
svrepdesign(combined.weights = TRUE) reads them: JK1, JKn, BRR, Fay, bootstrap or other. No stratum or PSU is
needed: the replicates carry the design.

Estimators, per domain (as taylor.py): total Y = sum w*y, ratio R = sum w*y / sum w*x, mean (ratio with x = 1)
and proportion (mean of a 0/1 variable). theta is the estimate with w, theta_r the same with w_r. A domain is
the units of the cell (by and margin values) with the item observed (R's svyby on the subset, na.rm = TRUE); a
unit whose margin value is missing belongs to no category of that margin but stays in the totals.

Variance (R's svrVar):
    V = scale * sum_r rscales_r * (theta_r - c)^2
    c = the mean of the theta_r with rscales_r > 0 (mse = False, R's default), or theta (mse = True)
A replicate whose estimate is undefined (0/0: no unit of the domain has weight in it) is left out with its
rscales, as svrVar does (R warns). Defaults of svrepdesign(): scale (R-1)/R for JK1, 1/(R-1) for bootstrap,
1/R for BRR and 1/(R (1-rho)^2) for Fay (these two always: R ignores a scale given), 1 for JKn and other;
rscales 1 for each replicate (JKn must give them).

Proportions: R's svyciprop(method = "logit") fits the logit model on every replicate of a replicate design, so
the interval is expit(logit p -/+ t * s), s^2 = svrVar of the replicates' logit(p_r) (centred on their mean, or
on logit p with mse) -- not the delta method; the SE shown is the proportion's own (svyciprop's is svymean's).
A replicate whose proportion is 0 or 1 has no finite logit: R's glm stops where its convergence test stops it
(about +/-20 to 30), and so it does here, by the same iterations (glm.fit's IRLS for an intercept-only logit
depends on nothing but the proportion and the start). A full-sample proportion of 0 or 1 gets taylor's
Korn-Graubard bound.

Contrasts between two categories of a margin (first / second or first - second) are computed on every replicate
and their variance is svrVar of those (R's svycontrast of svyby(..., return.replicates = TRUE)); their
`covariance` column is that of the two cells' estimates, over the replicates defined for both.

Degrees of freedom: R's degf() of subset(design, !is.na(y) & domain), i.e. qr(W_d, tol = 1e-5)$rank - 1 with
W_d the replicate weights of the domain's units (one row per unit, one column per replicate). See _Ranks for how
it is found without reading the units into Python, and why it is exact.

Everything but the df comes from ONE scan of the microdata for all estimands, domains and replicates: one
GROUP BY GROUPING SETS (one set per margin) whose columns are, per estimand, sum w*y, sum w*x and the R
replicate sums sum w_r*y, sum w_r*x (identical sums are computed once). The df come from one light query of
the distinct replicate factor patterns w_r / w per domain.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from indicators.errors import CopError
from indicators.estimation.quality import coefficient_of_variation
from indicators.estimation.taylor import (TOTAL, Contrast, DesignError, Estimand, _design_effect,
                                          _effective_n, _finish_contrasts, _grouping_id, _is_table_name, _numpy,
                                          _request, _t_quantile, proportion_interval)

TYPES = ("JK1", "JKn", "BRR", "Fay", "bootstrap", "other")
DEGF_TOLERANCE = 1e-5  # R's degf.svyrep.design: qr(weights, tol = 1e-5)
SHOWN_ROWS = 10  # rows named in an error message
FACTOR_DECIMALS = 12  # w_r / w rounded so that units of one PSU share their pattern (see _Ranks)


class ReplicateDesignError(DesignError):
    """The replicate design cannot be used as declared, or its weights are missing for some units (`rows`:
    the row numbers, from 1, in the relation's order)."""


@dataclass(frozen=True)
class ReplicateDesign:
    """Replicate weights as R's svrepdesign(weights = ~weight, repweights = ..., type, rho, scale, rscales,
    combined.weights = TRUE, mse)."""

    weight: str  # full-sample weight (SQL expression)
    replicates: tuple[str, ...]  # replicate weight columns (SQL expressions), in order
    type: str  # "JK1", "JKn", "BRR", "Fay", "bootstrap", "other" (R's names; any case)
    rho: float | None = None  # Fay's rho (type Fay only; BRR is Fay with rho 0)
    scale: float | None = None  # None: R's svrepdesign default for the type
    rscales: tuple[float, ...] | None = None  # None: 1 for each replicate (JKn/other must give them, as R)
    mse: bool = False  # R's default (getOption("survey.replicates.mse")): centred on the mean of replicates
    unit_label: str | None = None  # as taylor.Design: how a unit is named in error messages

    def __post_init__(self) -> None:
        canonical = {t.lower(): t for t in TYPES}.get(str(self.type).lower())
        if canonical is None:
            raise ReplicateDesignError(f"replicate type {self.type!r}: one of {', '.join(TYPES)}")
        object.__setattr__(self, "type", canonical)
        object.__setattr__(self, "replicates", tuple(self.replicates))
        if self.rscales is not None:
            object.__setattr__(self, "rscales", tuple(float(r) for r in self.rscales))
        count = len(self.replicates)
        if count < 2:
            raise ReplicateDesignError(f"{count} replicate weight column(s): a variance needs at least 2 replicates")
        if self.type == "Fay":
            if self.rho is None:
                raise ReplicateDesignError("type Fay needs its rho (the factor of the half-samples left out, "
                                           "0 <= rho < 1), as R's svrepdesign")
        elif self.rho is not None and not (self.type == "BRR" and self.rho == 0):
            raise ReplicateDesignError(f"rho {self.rho:g} is Fay's: type {self.type} has none (use type Fay)")
        if self.rho is not None and not (0 <= self.rho < 1):
            raise ReplicateDesignError(f"rho {self.rho:g}: Fay's rho must be at least 0 and below 1")
        if self.scale is not None:
            if not (math.isfinite(self.scale) and self.scale > 0):
                raise ReplicateDesignError(f"scale {self.scale:g}: the variance scale must be a number above 0")
            if self.type in ("BRR", "Fay"):
                fixed = self.variance_scale(ignore_given=True)
                if not math.isclose(self.scale, fixed, rel_tol=1e-9):
                    raise ReplicateDesignError(
                        f"scale {self.scale:g} for type {self.type}: R's svrepdesign sets it to "
                        f"1/(R (1 - rho)^2) = {fixed:.10g} with R = {count} replicates and ignores any other; "
                        "leave the scale out, or declare type other to use your own")
        if self.type == "JKn" and self.rscales is None:
            raise ReplicateDesignError("type JKn needs rscales, (n_h - 1)/n_h of each replicate's stratum, "
                                       "one value or one per replicate (R: 'Must provide rscales for combined "
                                       "JKn weights')")
        if self.rscales is not None:
            if len(self.rscales) not in (1, count):
                raise ReplicateDesignError(f"{len(self.rscales)} rscales for {count} replicate weight columns: "
                                           "give one value (every replicate) or one per replicate, in order")
            if not all(math.isfinite(r) and r >= 0 for r in self.rscales) or not any(r > 0 for r in self.rscales):
                raise ReplicateDesignError("rscales must be numbers >= 0, at least one of them above 0")

    def variance_scale(self, ignore_given: bool = False) -> float:
        """The overall scale R uses: the one given, else svrepdesign's default for the type."""
        count = len(self.replicates)
        if self.type == "BRR":
            return 1 / count
        if self.type == "Fay":
            return 1 / (count * (1 - self.rho) ** 2)
        if self.scale is not None and not ignore_given:
            return float(self.scale)
        return {"JK1": (count - 1) / count, "bootstrap": 1 / (count - 1)}.get(self.type, 1.0)

    def replicate_scales(self) -> np.ndarray:
        """rscales, one per replicate (a single value stands for every replicate, as R recycles it)."""
        given = self.rscales if self.rscales is not None else (1.0,)
        return np.broadcast_to(np.asarray(given, dtype=float), (len(self.replicates),)).copy()


def replicate_columns(columns: list[str], pattern: str) -> tuple[str, ...]:
    """The columns whose name matches the regular expression `pattern` anywhere, in file order (R's
    grep(pattern, names(data)), what svrepdesign(repweights = "pattern") takes)."""
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise CopError(f"replicate weights {pattern!r}: not a regular expression ({exc})") from None
    matched = tuple(c for c in columns if regex.search(c))
    if not matched:
        shown = ", ".join(columns[:30]) + (f" and {len(columns) - 30} more" if len(columns) > 30 else "")
        raise CopError(f"replicate weights {pattern!r}: no column name matches it (the columns: {shown})")
    return matched


def estimate_replicate(con: duckdb.DuckDBPyConnection, relation: str, design: ReplicateDesign,
                       estimands: list[Estimand], by: list[str] | None = None,
                       margins: list[list[str]] | None = None, contrasts: list[Contrast] | None = None,
                       level: float = 0.95) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """Every estimand in every domain, and the contrasts, with replicate-weight variances. Returns exactly
    taylor.estimate_with_contrasts' layout: (estimates per estimand, contrasts per estimand), an estimate frame
    with the `by` and margin columns ('_T' where a margin is totalled), estimate, se, ci_lower, ci_upper, df,
    cv (percent), deff, n_unweighted, n_weighted, flags ('df<1': no interval; 'boundary': a proportion of 0
    or 1); a contrast frame with the `by` columns, column, first, second, kind, estimate, se, ci_lower,
    ci_upper, df, covariance, first_estimate, second_estimate, flags."""
    by, margins, margin_columns, contrasts, total_wanted = _request(estimands, by, margins, contrasts)
    if not estimands:
        return [], []
    sums = _Sums(design, estimands)
    scanned = _scan(con, relation, design, sums, by, margins, margin_columns)
    _check_weights(con, relation, design, scanned)
    patterns = _pattern_scan(con, relation, design, sums, by, margins, margin_columns)
    scale, rscales = design.variance_scale(), design.replicate_scales()
    per_margin = []
    for m in margins:
        table = _margin_table(scanned, m, margin_columns)
        ranks = _Ranks(_margin_table(patterns, m, margin_columns), len(design.replicates),
                       list(sums.domains.values()))
        per_margin.append(_margin_estimates(table, ranks, sums, by, m, margin_columns, scale, rscales, design.mse,
                                            [c for c in contrasts if m == [c.column]]))
    results, contrast_results = [], []
    keys = [*by, *margin_columns]
    for k, e in enumerate(estimands):
        cells = pd.concat([frames[k] for frames, _ in per_margin], ignore_index=True)
        if cells.empty:
            results.append(cells)
            contrast_results.append(pd.DataFrame())
            continue
        finished = _finish(cells, e.kind, by, margin_columns, keys, level)
        if not total_wanted:
            finished = finished[~(finished[margin_columns] == TOTAL).all(axis=1)].reset_index(drop=True)
        results.append(finished)
        pairs = [gaps[k] for _, gaps in per_margin if gaps]
        contrast_results.append(_finish_contrasts(pd.concat(pairs, ignore_index=True), by, level)
                                if pairs else pd.DataFrame())
    return results, contrast_results


# ------------------------------------------------------------------------------------------------ the scan
class _Sums:
    """The unit-level columns and the sums the estimands need, each written once (a mean and a total of the
    same item, or proportions over the same units, share their sums)."""

    def __init__(self, design: ReplicateDesign, estimands: list[Estimand]) -> None:
        self.units: dict[str, str] = {}  # SQL -> alias
        self.aggregates: dict[str, str] = {}
        self.domains: dict[str, str] = {}  # domain indicator alias -> its s-column alias in the pattern scan
        self.of: list[dict] = []  # per estimand: aliases of a, b, n, nw, yy, replicate a_r, b_r, domain
        R = len(design.replicates)
        for e in estimands:
            y_sql = f"CAST(({e.y}) AS DOUBLE)"
            x_sql = f"CAST(({e.x}) AS DOUBLE)" if e.kind == "ratio" else "1.0"
            in_universe = f"(({e.universe}) IS TRUE)" if e.universe else "TRUE"
            d = f"({in_universe} AND {y_sql} IS NOT NULL AND {x_sql} IS NOT NULL)"
            d_alias = self._unit(f"CASE WHEN {d} THEN 1 ELSE 0 END")
            y_alias = self._unit(f"CASE WHEN {d} THEN {y_sql} ELSE 0 END")
            x_alias = self._unit(f"CASE WHEN {d} THEN {x_sql} ELSE 0 END") if e.kind == "ratio" else d_alias
            self.domains.setdefault(d_alias, f"s{len(self.domains)}")
            names = {"a": self._sum(f"sum(_w * {y_alias})"), "n": self._sum(f"sum({d_alias})"),
                     "nw": self._sum(f"sum(_w * {d_alias})"), "b": self._sum(f"sum(_w * {x_alias})"),
                     "ar": [self._sum(f"sum(_r{r} * {y_alias})") for r in range(R)],
                     "br": None if e.kind == "total" else [self._sum(f"sum(_r{r} * {x_alias})") for r in range(R)],
                     "domain": d_alias, "kind": e.kind}
            # y^2 = y for a 0/1 proportion (taylor's convention for its design effect)
            names["yy"] = names["a"] if e.kind == "proportion" else self._sum(f"sum(_w * {y_alias} * {y_alias})")
            self.of.append(names)

    def _unit(self, sql: str) -> str:
        return self.units.setdefault(sql, f"_u{len(self.units)}")

    def _sum(self, sql: str) -> str:
        return self.aggregates.setdefault(sql, f"a{len(self.aggregates)}")


def _group_columns(by: list[str], margin_columns: list[str]) -> list[str]:
    return [f"{c} AS {c}" for c in [*by, *margin_columns]]


def _grouped(select: list[str], from_sql: str, by: list[str], margins: list[list[str]], margin_columns: list[str],
             extra_keys: list[str]) -> str:
    """One GROUPING SET per margin; which one a row belongs to is told by GROUPING() over the margin columns.
    Group keys are returned as text (grouped on their own types: cheaper than casting every row)."""
    keys = [*by, *margin_columns]
    sets = ", ".join("(" + ", ".join([*by, *m, *extra_keys]) + ")" for m in margins)
    margin_id = f"GROUPING({', '.join(margin_columns)})" if margin_columns else "0"
    inner = ", ".join([*keys, *extra_keys, f"{margin_id} AS _margin", *select])
    as_text = [f"CAST({k} AS VARCHAR) AS {k}" for k in keys]
    outer = ", ".join([*as_text, "* EXCLUDE (" + ", ".join(keys) + ")"] if keys else ["*"])
    return f"SELECT {outer} FROM (SELECT {inner} FROM ({from_sql}) GROUP BY GROUPING SETS ({sets}))"


def _scan(con, relation: str, design: ReplicateDesign, sums: _Sums, by: list[str], margins: list[list[str]],
          margin_columns: list[str]) -> dict:
    replicate_sql = [f"CAST(({r}) AS DOUBLE) AS _r{i}" for i, r in enumerate(design.replicates)]
    unit_columns = [f"CAST(({design.weight}) AS DOUBLE) AS _w", *replicate_sql,
                    *_group_columns(by, margin_columns), *(f"{sql} AS {alias}" for sql, alias in sums.units.items())]
    any_missing = " OR ".join(f"_r{i} IS NULL" for i in range(len(design.replicates)))
    select = [f"{sql} AS {alias}" for sql, alias in sums.aggregates.items()]
    select += ["count(*) FILTER (WHERE _w IS NULL OR isnan(_w) OR NOT (_w >= 0)) AS _bad_weights",
               f"count(*) FILTER (WHERE {any_missing}) AS _missing_replicates"]
    sql = _grouped(select, f"SELECT {', '.join(unit_columns)} FROM {relation}", by, margins, margin_columns, [])
    return con.execute(sql).fetchnumpy()


def _pattern_scan(con, relation: str, design: ReplicateDesign, sums: _Sums, by: list[str],
                  margins: list[list[str]], margin_columns: list[str]) -> dict:
    """Per domain cell, its distinct replicate factor patterns f = w_r / u (u = w, or 1 for a unit of weight 0)
    and, per domain indicator d, s = sum of u^2 over the cell's units of that pattern with d = 1."""
    R = len(design.replicates)
    factors = [f"round(CAST(({r}) AS DOUBLE) / _u, {FACTOR_DECIMALS}) AS _f{i}"
               for i, r in enumerate(design.replicates)]
    domain_sql = {alias: sql for sql, alias in sums.units.items() if alias in sums.domains}
    units = (f"SELECT *, {', '.join(factors)}, _u * _u AS _uu, "
             + ", ".join(f"{domain_sql[d]} AS {d}" for d in sums.domains)
             + f" FROM (SELECT *, CASE WHEN CAST(({design.weight}) AS DOUBLE) > 0 "
               f"THEN CAST(({design.weight}) AS DOUBLE) ELSE 1.0 END AS _u FROM {relation})")
    select = [f"sum(_uu * {d}) AS {s}" for d, s in sums.domains.items()]
    sql = _grouped(select, units, by, margins, margin_columns, [f"_f{i}" for i in range(R)])
    return con.execute(sql).fetchnumpy()






def _margin_table(scanned: dict, margin: list[str], margin_columns: list[str]) -> pd.DataFrame:
    mask = np.asarray(scanned["_margin"]) == _grouping_id(margin, margin_columns)
    return pd.DataFrame({name: _numpy(values)[mask] for name, values in scanned.items() if name != "_margin"})


# ------------------------------------------------------------------------------------------- design checks


def _check_weights(con, relation: str, design: ReplicateDesign, scanned: dict) -> None:
    """Every unit needs a weight >= 0 and all its replicate weights (R's svrepdesign refuses missing ones):
    name the rows that lack them."""
    # every grouping set holds each unit once: the first one's rows count them all
    margin = np.asarray(scanned["_margin"])
    of_one_set = margin == margin[0] if len(margin) else margin.astype(bool)
    bad = int(np.asarray(scanned["_bad_weights"])[of_one_set].sum())
    missing = int(np.asarray(scanned["_missing_replicates"])[of_one_set].sum())
    label = design.unit_label or ("rowid + 1" if _is_table_name(relation) else "row_number() OVER ()")
    if bad:
        rows = _rows_where(con, relation, label, f"CAST(({design.weight}) AS DOUBLE) AS _w",
                           "_w IS NULL OR isnan(_w) OR NOT (_w >= 0)")
        raise ReplicateDesignError(
            f"weight {design.weight!r} is missing or negative for {bad} unit(s): row(s) {_listing(rows, bad)}; "
            "every unit needs a weight >= 0 (a unit without a weight cannot be estimated from: drop it from the "
            "file or give it its weight)", rows=rows, count=bad)
    if missing:
        columns = ", ".join(f"CAST(({r}) AS DOUBLE) AS _r{i}" for i, r in enumerate(design.replicates))
        any_missing = " OR ".join(f"_r{i} IS NULL" for i in range(len(design.replicates)))
        rows = _rows_where(con, relation, label, columns, any_missing)
        counts = con.execute(f"SELECT {', '.join(f'count(*) - count(_r{i})' for i in range(len(design.replicates)))} "
                             f"FROM (SELECT {columns} FROM {relation})").fetchone()
        named = [f"{_column_name(r)} ({n})" for r, n in zip(design.replicates, counts) if n]
        raise ReplicateDesignError(
            f"replicate weights are missing for {missing} unit(s): row(s) {_listing(rows, missing)}, in "
            f"{', '.join(named[:SHOWN_ROWS])}{' and more' if len(named) > SHOWN_ROWS else ''} (units missing); "
            "every unit needs all its replicate weights (0 where a replicate leaves it out), as R's svrepdesign",
            rows=rows, count=missing)


def _column_name(sql: str) -> str:
    """A quoted identifier ("rep3") as the file names it (rep3); any other expression as written."""
    quoted = re.fullmatch(r'"((?:[^"]|"")*)"', sql.strip())
    return quoted.group(1).replace('""', '"') if quoted else sql


def _rows_where(con, relation: str, label: str, columns: str, condition: str) -> list:
    return [r for (r,) in con.execute(
        f"""SELECT unit FROM (SELECT {label} AS unit, {columns} FROM {relation})
            WHERE {condition} ORDER BY unit LIMIT {SHOWN_ROWS}""").fetchall()]


def _listing(rows: list, count: int) -> str:
    more = f" and {count - len(rows)} more" if count > len(rows) else ""
    return f"{', '.join(map(str, rows))}{more}"


# ----------------------------------------------------------------------------------------------- variances
def _replicate_variance(theta_r: np.ndarray, theta: np.ndarray, scale: float, rscales: np.ndarray,
                        mse: bool) -> np.ndarray:
    """R's svrVar for each estimate: theta_r (..., R) the replicate estimates, theta (...) the full-sample
    ones. Undefined (NaN) replicates are left out with their rscales, as R's na.action does."""
    return _replicate_covariance(theta_r, theta, theta_r, theta, scale, rscales, mse)


def _replicate_covariance(first_r, first, second_r, second, scale, rscales, mse) -> np.ndarray:
    """svrVar's covariance of two estimates over the replicates where both are defined."""
    valid = ~np.isnan(first_r) & ~np.isnan(second_r)
    with np.errstate(invalid="ignore", divide="ignore"):
        if mse:
            c1, c2 = first[..., None], second[..., None]
        else:
            used = valid & (rscales > 0)
            count = used.sum(axis=-1)
            c1 = (np.where(used, first_r, 0).sum(axis=-1) / count)[..., None]
            c2 = (np.where(used, second_r, 0).sum(axis=-1) / count)[..., None]
        terms = np.where(valid, rscales * (first_r - c1) * (second_r - c2), 0.0)
        covariance = scale * terms.sum(axis=-1)
    return np.where(valid.any(axis=-1), covariance, np.nan)


def _logit(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(p / (1 - p))


def _replicate_logits(p_r: np.ndarray, p: np.ndarray) -> np.ndarray:
    """logit(p_r) of each replicate as R's svyglm(quasibinomial) estimates it: the exact logit inside (0, 1);
    for a replicate proportion of 0 or 1, where glm.fit's IRLS never converges to the (infinite) logit, the
    value at which it stops, found by running the same iterations from the full-sample logit."""
    start = np.broadcast_to(_logit(p)[..., None], p_r.shape)
    one, zero = p_r >= 1 - 1e-12, p_r <= 1e-12
    logits = _logit(p_r)
    stuck = (one | zero) & np.isfinite(start)
    logits[stuck] = _glm_intercept_at_boundary(start[stuck], one[stuck].astype(float))
    return logits


def _glm_intercept_at_boundary(start: np.ndarray, y: np.ndarray) -> np.ndarray:
    """glm.fit (family quasibinomial, intercept only, control epsilon 1e-8 and maxit 25, start = `start`)
    for data whose every unit has y = `y` (all 1 or all 0). For an intercept-only model IRLS is
    eta <- eta + (p - mu) / mu.eta(eta) and the deviance is 2 log(1/mu) (y = 1) or 2 log(1/(1 - mu)): both
    depend on the weights only through p, here 0 or 1. R's logit link clamps eta beyond +/-30."""
    eps = np.finfo(float).eps

    def linkinv(eta):
        tmp = np.where(eta < -30, eps, np.where(eta > 30, 1 / eps, np.exp(np.clip(eta, -30, 30))))
        return tmp / (1 + tmp)

    def mu_eta(eta):
        e = np.exp(np.clip(eta, -30, 30))
        return np.where((eta > 30) | (eta < -30), eps, e / ((1 + e) * (1 + e)))

    def deviance(mu):
        return 2 * np.where(y == 1, np.log(1 / mu), np.log(1 / (1 - mu)))

    eta = np.array(start, dtype=float)
    mu = linkinv(eta)
    old = deviance(mu)
    running = np.ones(eta.shape, dtype=bool)
    for _ in range(25):
        step = np.where(running, eta + (y - mu) / mu_eta(eta), eta)
        mu = np.where(running, linkinv(step), mu)
        eta = step
        dev = deviance(mu)
        running &= ~(np.abs(dev - old) / (np.abs(dev) + 0.1) < 1e-8)
        old = np.where(running, dev, old)
        if not running.any():
            break
    return eta


# ---------------------------------------------------------------------------------------------- estimates
def _stack(table: pd.DataFrame, aliases: list[str]) -> np.ndarray:
    return np.column_stack([table[a].to_numpy(dtype=float) for a in aliases]) if aliases else \
        np.zeros((len(table), 0))


def _margin_estimates(table: pd.DataFrame, ranks: "_Ranks", sums: _Sums, by: list[str], margin: list[str],
                      margin_columns: list[str], scale: float, rscales: np.ndarray, mse: bool,
                      contrasts: list[Contrast]) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """For one margin, every estimand: its cells with estimate parts, replicate variance(s) and df; and the
    contrasts declared on this margin."""
    group = [*by, *margin]
    labels = table[group].reset_index(drop=True) if group else pd.DataFrame(index=range(len(table)))
    cells_of_patterns = _cell_rows(ranks.patterns, group, labels)
    out, estimates = [], []
    for k, names in enumerate(sums.of):
        total = names["br"] is None
        a, b = table[names["a"]].to_numpy(dtype=float), table[names["b"]].to_numpy(dtype=float)
        a_r = _stack(table, names["ar"])
        with np.errstate(divide="ignore", invalid="ignore"):
            theta = a if total else a / b
            theta_r = a_r if total else a_r / _stack(table, names["br"])
        s_column = sums.domains[names["domain"]]
        df = np.array([ranks.df(rows, s_column) for rows in cells_of_patterns], dtype=float)
        cells = labels.copy()
        for name in margin_columns:
            if name not in margin:
                cells[name] = TOTAL
        cells = cells.assign(y_total=a, x_total=b, n_unweighted=table[names["n"]].to_numpy(dtype=float),
                             n_weighted=table[names["nw"]].to_numpy(dtype=float),
                             yy=table[names["yy"]].to_numpy(dtype=float),
                             variance=_replicate_variance(theta_r, theta, scale, rscales, mse), df=df)
        if names["kind"] == "proportion":
            logits = _replicate_logits(theta_r, theta)
            cells["logit_variance"] = _replicate_variance(logits, _logit(theta), scale, rscales, mse)
        estimates.append((theta, theta_r))
        # a unit whose margin value is missing stays in the design and the totals; it forms no category
        keep = (cells["n_unweighted"] > 0) & cells[margin].notna().all(axis=1)
        out.append(cells[keep].reset_index(drop=True))
    gaps = [_contrasts(labels, c, by, estimates, sums, cells_of_patterns, scale, rscales, mse, ranks)
            for c in contrasts]
    per_estimand = [pd.concat([g[k] for g in gaps], ignore_index=True) for k in range(len(sums.of))] if gaps else []
    return out, per_estimand


def _cell_rows(pattern_rows: pd.DataFrame, group: list[str], labels: pd.DataFrame) -> list[np.ndarray]:
    """For each cell (row of `labels`), the positions of its pattern rows."""
    if not group:
        return [np.arange(len(pattern_rows))] * len(labels)
    keyed = labels.reset_index().merge(pattern_rows[group].reset_index(names="_row"), on=group, how="left")
    positions = keyed.dropna(subset=["_row"]).groupby("index")["_row"].apply(lambda s: s.to_numpy(dtype=int))
    return [positions.get(i, np.zeros(0, dtype=int)) for i in range(len(labels))]


def _contrasts(labels, contrast: Contrast, by, estimates, sums: _Sums, cells_of_patterns, scale, rscales, mse,
               ranks: "_Ranks") -> list[pd.DataFrame]:
    """first / second or first - second within each `by` cell, on the full sample and on every replicate."""
    values = labels[contrast.column].to_numpy()
    first = labels.loc[values == contrast.first, by].assign(_i1=np.flatnonzero(values == contrast.first))
    second = labels.loc[values == contrast.second, by].assign(_i2=np.flatnonzero(values == contrast.second))
    pairs = first.merge(second, on=by, how="inner") if by else \
        pd.concat([first.reset_index(drop=True), second.reset_index(drop=True)], axis=1).dropna()
    if pairs.empty:
        return [pd.DataFrame() for _ in sums.of]
    i1, i2 = pairs["_i1"].to_numpy(dtype=int), pairs["_i2"].to_numpy(dtype=int)
    pair_labels = pairs[by].reset_index(drop=True) if by else pd.DataFrame(index=range(len(pairs)))
    out = []
    for k, (theta, theta_r) in enumerate(estimates):
        s_column = sums.domains[sums.of[k]["domain"]]
        r1, r2 = theta[i1], theta[i2]
        with np.errstate(divide="ignore", invalid="ignore"):
            if contrast.kind == "difference":
                g, g_r = r1 - r2, theta_r[i1] - theta_r[i2]
            else:
                g, g_r = r1 / r2, theta_r[i1] / theta_r[i2]
        df = [ranks.df(np.concatenate([cells_of_patterns[a], cells_of_patterns[b]]), s_column)
              for a, b in zip(i1, i2)]
        result = pair_labels.assign(
            column=contrast.column, first=contrast.first, second=contrast.second, kind=contrast.kind, estimate=g,
            variance=_replicate_variance(g_r, g, scale, rscales, mse), df=np.asarray(df, dtype=float),
            covariance=_replicate_covariance(theta_r[i1], r1, theta_r[i2], r2, scale, rscales, mse),
            first_estimate=r1, second_estimate=r2)
        defined = ~np.isnan(r1) & ~np.isnan(r2)
        out.append(result[defined].reset_index(drop=True))
    return out


# ------------------------------------------------------------------------------------ degrees of freedom
class _Ranks:
    """Degrees of freedom of the domains of one margin, R's degf(subset(design, units)): qr(W, tol = 1e-5)$rank
    - 1, W the units' replicate weights (a row per unit, a column per replicate).

    Row i of W is u_i * f_i, f_i = w_ir / u_i its factor pattern (u_i = w_i, or 1 for a unit of weight 0). The
    pattern scan gives, per domain cell, its distinct patterns f_p and, per domain indicator, s_p = the sum of
    u_i^2 over the cell's units with that pattern in the domain. C = diag(sqrt(s_p)) F has W's Gram matrix:
        C'C = sum_p s_p f_p f_p' = sum_i u_i^2 f_i f_i' = W'W.
    R's qr (LINPACK dqrdc2) keeps a column when the norm of its residual, after projecting out the columns kept
    before it, is at least tol times the column's own norm, and otherwise moves it to the end, never to be kept;
    the rank is the number kept. Those norms are functions of the Gram matrix alone, so C gives W's rank and
    R's decisions: exact, without reading the units. Here C is reduced to its R factor by LAPACK's QR (the
    same Gram matrix again; a square of the number of replicates), and the residual norms are taken by
    Gram-Schmidt done twice (orthogonal to working precision). A decision
    could differ from R's only for a column whose residual is within rounding of the tolerance (R's own
    downdated norms are approximate there too); replicate designs do not make such columns: a replicate is
    either a combination of the others or far from one. The patterns are rounded to 12 decimals so that the
    units of one PSU share theirs; that moves C'C by ~1e-12, far inside the 1e-5."""

    def __init__(self, patterns: pd.DataFrame, replicates: int, s_columns: list[str]) -> None:
        self.patterns = patterns  # one margin's rows of the pattern scan
        self.factors = np.column_stack([patterns[f"_f{r}"].to_numpy(dtype=float) for r in range(replicates)])
        self.s = np.column_stack([patterns[c].to_numpy(dtype=float) for c in s_columns])
        self.column = {c: i for i, c in enumerate(s_columns)}
        self.known: dict[bytes, np.ndarray] = {}

    def df(self, rows: np.ndarray, s_column: str) -> float:
        """degf of the units of pattern rows `rows` that have the domain indicator of `s_column`."""
        rows = np.sort(rows)
        key = rows.tobytes()
        if key not in self.known:
            self.known[key] = self._degf(rows)
        return float(self.known[key][self.column[s_column]])

    def _degf(self, rows: np.ndarray) -> np.ndarray:
        """degf of the rows' units for every domain indicator. Indicators with the same rows (s > 0) usually
        share the rank: it is computed for the first, and taken for another, s', when no decision of the
        first's is near the tolerance. Sufficient: with e_p = s'_p / s_p between e_min and e_max, W's Gram
        matrix scales between e_min and e_max (Loewner order), so does every squared residual and squared norm,
        and a decision ratio (residual / norm) moves by at most kappa = sqrt(e_max / e_min) either way."""
        s = self.s[rows]
        ranks = np.full(s.shape[1], -1.0)
        support = s > 0
        for first in range(s.shape[1]):
            if ranks[first] >= 0:
                continue
            rank, ratios = _qr_ranks(_gram_factor(self.factors[rows], s[:, [first]]), DEGF_TOLERANCE)
            ranks[first] = rank[0]
            for other in range(first + 1, s.shape[1]):
                if ranks[other] >= 0 or not np.array_equal(support[:, other], support[:, first]):
                    continue
                live = support[:, first]
                e = s[live, other] / s[live, first]
                kappa = math.sqrt(e.max() / e.min()) if live.any() else 1.0
                if np.all((ratios < DEGF_TOLERANCE / kappa) | (ratios >= DEGF_TOLERANCE * kappa)):
                    ranks[other] = rank[0]
        return ranks - 1.0


def _gram_factor(factors: np.ndarray, s: np.ndarray) -> np.ndarray:
    """For each column of s, a matrix with the Gram matrix of diag(sqrt(s)) factors and at most as many rows as
    columns: the R factor of its QR, accumulated over blocks of rows (bounded memory). (B, rows, replicates)."""
    n, p = factors.shape
    weights = np.sqrt(s.T)  # (B, n)
    if n <= p:
        return weights[:, :, None] * factors[None]
    block = max(p, int(4e6 // max(1, s.shape[1] * p)))
    reduced = np.zeros((s.shape[1], 0, p))
    for start in range(0, n, block):
        rows = slice(start, start + block)
        stacked = np.concatenate([reduced, weights[:, rows, None] * factors[None, rows]], axis=1)
        reduced = np.linalg.qr(stacked, mode="r")
    return reduced


def _qr_ranks(x: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """R's qr(x_b, tol)$rank for each matrix of the stack x (B, m, p): columns taken in order, a column kept
    when its residual norm after projecting out the kept ones is at least tol times its norm (LINPACK
    dqrdc2's rule; a zero column is never kept), at most m of them. Returns the ranks and, per column, the
    ratio residual / norm its decision was made on (B, p)."""
    B, m, p = x.shape
    norms = np.sqrt((x * x).sum(axis=1))
    original = np.where(norms == 0, 1.0, norms)
    basis = np.zeros((B, m, min(m, p)))
    rank = np.zeros(B, dtype=int)
    ratios = np.zeros((B, p))
    for j in range(p):
        v = x[:, :, j:j + 1].copy()
        for _ in range(2):  # Gram-Schmidt twice: the residual is orthogonal to the basis to working precision
            v -= basis @ (basis.transpose(0, 2, 1) @ v)
        norm = np.sqrt((v[:, :, 0] ** 2).sum(axis=1))
        ratios[:, j] = norm / original[:, j]
        kept = np.flatnonzero((ratios[:, j] >= tol) & (norm > 0) & (rank < m))
        basis[kept, :, rank[kept]] = v[kept, :, 0] / norm[kept, None]
        rank[kept] += 1
    return rank, ratios


# ----------------------------------------------------------------------------------------------- finishing
def _finish(cells: pd.DataFrame, kind: str, by: list[str], margin_columns: list[str], keys: list[str],
            level: float) -> pd.DataFrame:
    out = cells.copy()
    out["estimate"] = out["y_total"] if kind == "total" else out["y_total"] / out["x_total"]
    out["se"] = np.sqrt(out["variance"].clip(lower=0))
    out["cv"] = coefficient_of_variation(out["se"], out["estimate"])  # percent
    out["deff"] = _design_effect(out, kind)
    flags = pd.Series(np.where(out["df"] < 1, "df<1", ""), index=out.index)  # a domain of rank 1: no interval
    t = _t_quantile(level, out["df"])
    if kind == "proportion":
        p = out["estimate"].clip(0, 1).to_numpy(dtype=float)
        se_logit = np.sqrt(out["logit_variance"].clip(lower=0)).to_numpy(dtype=float)  # the replicates' logits
        zero, one = p <= 0, p >= 1
        n_star = _effective_n(out, by, margin_columns, level)
        flags = flags.mask(zero | one, (flags + " boundary").str.strip())
        out["ci_lower"], out["ci_upper"] = proportion_interval(p, se_logit, np.asarray(t, dtype=float), n_star,
                                                               level)
    else:
        out["ci_lower"] = out["estimate"] - t * out["se"]
        out["ci_upper"] = out["estimate"] + t * out["se"]
    out["flags"] = flags
    columns = keys + ["estimate", "se", "ci_lower", "ci_upper", "df", "cv", "deff", "n_unweighted", "n_weighted",
                      "flags"]
    return out[columns].sort_values(keys, ignore_index=True) if keys else out[columns]

