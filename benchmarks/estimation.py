"""Benchmark of the estimation engines on synthetic microdata: Taylor linearisation (indicators.estimation.taylor)
and replicate weights (indicators.estimation.replicate).

    python benchmarks/estimation.py [--rows 1000000 10000000] [--skip-samplics] [--skip-svy] [--skip-replicate]
                                    [--skip-profile] [--repeat 3] [--timeout SECONDS] [--data DIR] [--out FILE]

The Python peers are not project dependencies; a full run needs them in the venv:
    .tools/bin/uv pip install --python .venv/bin/python samplics==0.6.1 svy==0.35.0
(a peer that is missing, crashes or passes --timeout is recorded with the reason instead of a number).

What it measures, each in a fresh subprocess (engine and floor --repeat times, the median reported; the time of
the work itself, the peak RSS of the whole process from os.wait4's rusage; GB = 10^9 bytes), with DuckDB left at
its defaults except threads=2:

  engine    estimate_many(): 20 indicators y1..y20 as proportions, margins [[], ["domain"]], one scan
            (the total and the 30 domains), with SEs, one DuckDB connection: how the engine is used today
  floor     one bare DuckDB group-by of the 20 weighted means by domain, no variances, same Parquet file
            (the total row is added from the domain sums, which is exact and costs nothing)
  samplics  samplics TaylorEstimator(PopParam.prop) for ONE indicator (y1) by domain on the 1M file loaded
            with pandas; its time is scaled x20 for 20 indicators and x10 more for 10M (an extrapolation,
            labelled as such), its memory extrapolated linearly in rows above the interpreter's baseline
  profile   one 1M engine run with every SQL pass and the pandas finishing timed separately

The replicate job (skipped with --skip-replicate): the same 20 proportions x (30 domains + total) with 80 Fay BRR
replicate weights, rho 0.5 (as PISA):

  replicate        estimate_replicate(): ReplicateDesign(weight='w', replicates=rw1..rw80, type='Fay', rho=0.5),
                   the 20 proportions, margins [[], ["domain"]]: its one scan (81 weighted sums of every item
                   and its denominator) plus its light query of the replicate factor patterns for the df
  replicate_floor  one bare DuckDB group-by by domain of the 20 weighted means for the full weight AND each of
                   the 80 replicate weights (sum(w_r*y<k>) and sum(w_r) over the non-missing y<k>: 3,240 sums,
                   what any replicate method must aggregate; each y<k> cast to DOUBLE, and its non-missing
                   indicator made, once per row), no variances; total row from the domain sums
  samplics_replicate  samplics ReplicateEstimator(RepMethod.brr, PopParam.prop, fay_coef=0.5) for ONE indicator
                   (y1) by domain on the 1M file, loaded with pandas, the 80 replicate weights materialised as a
                   numpy (rows x 80) array
  svy_replicate    svy (the Rust-backed successor of samplics): Sample(frame, Design(wgt='w', rep_wgts=
                   BrrWgts(prefix='rw', n_reps=80, fay_coef=0.5))).estimation.prop('y1', by='domain',
                   method='replication', drop_nulls=True) on the 1M file loaded with polars, rw1..rw80
                   materialised as columns
  Both peers are scaled as samplics' Taylor row: (load + 20 x the one-indicator estimate) x rows / 1M, memory
  baseline + (peak - baseline) x rows / 1M, labelled "extrapolated"; load = reading the file, materialising the
  80 replicate columns (and, for svy, building its Sample), done once for 20 indicators.

The 80 replicate weights are not stored in the Parquet file (they would take 6.4 GB at 10M): the engine and its
floor read a view that joins the microdata to a small (4,000 PSUs x 80) table of Fay factors and multiplies,
rw<r> = w x factor<r>. The factors: the 20 PSUs of a stratum are paired by position (1-2, 3-4, ..., 19-20), the
2,000 pairs assigned in turn to 79 variance zones, the columns 1..79 of a Hadamard matrix of order 80 (Paley's
construction, q = 79; its 80 rows are the replicates, its column 0 of ones is left out so the design is fully
balanced); in replicate r the first PSU of a pair of zone z gets 1 + (1 - rho) h[r, z] (1.5 or 0.5) and the
second PSU 2 minus that. So the replicate times include computing the 80 products per row (and the join), as a
delivery's file read would include reading its 80 stored replicate columns; the floor pays the same.

It checks correctness on the 1M data: the engine's estimate and SE of y1 in each domain against samplics'
(max relative difference; the target is 1e-6), and the replicate engine's against samplics' and svy's
replicate estimators (same conventions: Fay scale 1/(R (1-rho)^2), replicates centred on their mean).

Synthetic microdata (seeded numpy generator, written in chunks of PSUs so memory stays low) are cached as
Parquet under --data (default benchmarks/data/, git-ignored): N respondents, 200 strata of 20 PSUs each
(4,000 PSUs of unequal sizes), unequal weights, a 30-level `domain`, and 20 binary indicators y1..y20 with
stratum, PSU and domain effects on the logit scale (so design effects are real) and ~1% missing values each.

Results: benchmarks/results/estimation.json (+ estimation.md). The goal: 10M respondents x 20 indicators x 30
domains in at most 1.5x the floor's time and under 1 GB of peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SEED = 20240611
STRATA = 200
PSUS_PER_STRATUM = 20
DOMAINS = 30
INDICATORS = 20
MISSING_RATE = 0.01
CHUNK_ROWS = 250_000
THREADS = 2
GOAL_RATIO = 1.5  # issue 15: within 1.5x the floor (was 3x)
GOAL_GB = 1.0
SAMPLICS_ROWS = 1_000_000  # the rows the Python peers are measured on (samplics and svy)
TOLERANCE = 1e-6
REPLICATES = 80  # Fay BRR replicate weights, as PISA
FAY_RHO = 0.5
REPLICATE_VIEW = "survey_replicates"
GB = 1e9


# ----------------------------------------------------------------------------------------------- the data
def data_path(data_dir: Path, rows: int) -> Path:
    return data_dir / f"survey_{rows}_seed{SEED}.parquet"


def generate(path: Path, rows: int, seed: int = SEED) -> None:
    """Write `rows` synthetic respondents to `path`, PSU by PSU in chunks of about CHUNK_ROWS rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    n_psu = STRATA * PSUS_PER_STRATUM
    if rows < 2 * n_psu:
        raise SystemExit(f"--rows {rows}: at least {2 * n_psu} (two respondents per PSU)")
    # unequal PSU sizes (gamma shares; at least 2 respondents each)
    share = rng.gamma(1.5, 1.0, n_psu)
    sizes = 2 + rng.multinomial(rows - 2 * n_psu, share / share.sum())
    psu_stratum = np.repeat(np.arange(STRATA), PSUS_PER_STRATUM)
    # unequal weights: stratum sampling fractions, PSU non-response, respondent calibration
    population = 60_000_000
    stratum_factor = rng.lognormal(0.0, 0.6, STRATA)
    psu_factor = rng.lognormal(0.0, 0.3, n_psu)
    base = stratum_factor[psu_stratum] * psu_factor
    base *= population / float(np.sum(base * sizes))
    # domains of unequal sizes
    domain_p = rng.dirichlet(np.full(DOMAINS, 2.0))
    domain_labels = np.array([f"D{d + 1:02d}" for d in range(DOMAINS)])
    # indicators: logit = intercept + stratum + PSU (random effect) + domain effect
    prevalence = rng.uniform(0.05, 0.6, INDICATORS)
    intercept = np.log(prevalence / (1 - prevalence))
    stratum_effect = rng.normal(0.0, 0.3, (STRATA, INDICATORS))
    psu_sd = rng.uniform(0.2, 0.8, INDICATORS)
    psu_effect = rng.normal(0.0, 1.0, (n_psu, INDICATORS)) * psu_sd
    domain_effect = rng.normal(0.0, 0.4, (DOMAINS, INDICATORS))

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    writer = None
    start = 0
    written = 0  # rows already written: ids stay unique across chunks
    try:
        while start < n_psu:
            stop = start
            chunk = 0
            while stop < n_psu and (chunk < CHUNK_ROWS or stop == start):
                chunk += int(sizes[stop])
                stop += 1
            psu = np.repeat(np.arange(start, stop), sizes[start:stop])
            n = psu.size
            stratum = psu_stratum[psu]
            domain = rng.choice(DOMAINS, size=n, p=domain_p)
            weight = base[psu] * rng.lognormal(0.0, 0.35, n)
            eta = intercept + stratum_effect[stratum] + psu_effect[psu] + domain_effect[domain]
            y = (rng.random((n, INDICATORS)) < 1.0 / (1.0 + np.exp(-eta))).astype(np.int8)
            missing = rng.random((n, INDICATORS)) < MISSING_RATE
            columns = {
                "id": pa.array(np.arange(n, dtype=np.int64) + written),
                "stratum": pa.array(stratum.astype(np.int32) + 1),
                "psu": pa.array(psu.astype(np.int32) + 1),
                "w": pa.array(weight),
                "domain": pa.array(domain_labels[domain]).dictionary_encode(),
            }
            for k in range(INDICATORS):
                columns[f"y{k + 1}"] = pa.array(y[:, k], mask=missing[:, k])
            table = pa.table(columns)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=CHUNK_ROWS * 2)
            written += n
            start = stop
    finally:
        if writer is not None:
            writer.close()
    os.replace(tmp, path)


def ensure_data(data_dir: Path, rows: int) -> Path:
    path = data_path(data_dir, rows)
    if not path.exists():
        t0 = time.perf_counter()
        print(f"generating {path} ...", file=sys.stderr, flush=True)
        generate(path, rows)
        print(f"  done in {time.perf_counter() - t0:.1f} s ({path.stat().st_size / 1e6:.0f} MB)",
              file=sys.stderr, flush=True)
    return path


# ------------------------------------------------------------------------------------ the replicate weights
def paley_hadamard(q: int):
    """A Hadamard matrix of order q + 1 by Paley's first construction (q a prime with q % 4 == 3), each row
    multiplied by its first element: column 0 is all ones, every other column is +1 in half of the rows and
    the columns are orthogonal (the balance BRR needs)."""
    import numpy as np

    squares = {(i * i) % q for i in range(1, q)}
    chi = np.array([0] + [1 if k in squares else -1 for k in range(1, q)])  # the Legendre symbol mod q
    h = np.eye(q + 1, dtype=np.int64)
    h[0, 1:] = 1
    h[1:, 0] = -1
    h[1:, 1:] += chi[(np.arange(q)[None, :] - np.arange(q)[:, None]) % q]  # Jacobsthal matrix
    return h * h[:, :1]


def fay_factors():
    """(PSUs, REPLICATES) Fay factors of the benchmark's design, row p for PSU p + 1: PSUs paired by position in
    their stratum, pairs assigned in turn to the columns 1..79 of paley_hadamard(79) (the variance zones), the
    first PSU of a pair 1 + (1 - rho) h[r, zone] in replicate r, the second 2 minus that."""
    import numpy as np

    h = paley_hadamard(REPLICATES - 1)
    psu = np.arange(STRATA * PSUS_PER_STRATUM)
    position = psu % PSUS_PER_STRATUM  # generate() numbers PSUs stratum by stratum
    pair = (psu // PSUS_PER_STRATUM) * (PSUS_PER_STRATUM // 2) + position // 2
    zone = 1 + pair % (REPLICATES - 1)
    first_of_pair = np.where(position % 2 == 0, 1.0, -1.0)
    return 1.0 + (1.0 - FAY_RHO) * first_of_pair[:, None] * h[:, zone].T


def replicate_names() -> tuple[str, ...]:
    return tuple(f"rw{r}" for r in range(1, REPLICATES + 1))


def create_replicate_view(con, path: Path) -> tuple[str, ...]:
    """REPLICATE_VIEW on `con`: the Parquet file joined to the (PSU x 80) table of Fay factors, with the replicate
    weights rw1..rw80 = w x factor computed as rows are read. Returns the replicate column names."""
    import numpy as np
    import pandas as pd

    factors = pd.DataFrame(fay_factors(), columns=[f"f{r}" for r in range(1, REPLICATES + 1)])
    factors.insert(0, "psu", np.arange(1, len(factors) + 1, dtype=np.int32))
    con.register("fay_factors_frame", factors)
    con.execute("CREATE TABLE fay_factors AS SELECT * FROM fay_factors_frame")
    con.unregister("fay_factors_frame")
    products = ", ".join(f"s.w * f.f{r} AS rw{r}" for r in range(1, REPLICATES + 1))
    con.execute(f"CREATE VIEW {REPLICATE_VIEW} AS SELECT s.*, {products} "
                f"FROM read_parquet('{path}') AS s JOIN fay_factors AS f ON s.psu = f.psu")
    return replicate_names()


def replicate_weights_of(psu, w):
    """The (rows x 80) replicate weights of respondents in PSUs `psu` (1-based) with weights `w`, materialised."""
    return w[:, None] * fay_factors()[psu - 1]


# ---------------------------------------------------------------------------------- the measured children
def _rss_now_gb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / GB
    return float("nan")


def _connect():
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {THREADS}")
    return con


def child_engine(path: Path, indicators: int) -> dict:
    from indicators.estimation.taylor import Design, Estimand, estimate_many

    con = _connect()
    baseline = _rss_now_gb()
    relation = f"read_parquet('{path}')"
    design = Design(weight="w", stratum="stratum", psu="psu")
    t0 = time.perf_counter()
    # all indicators of one design and one set of domains in one call: one scan of the microdata
    results = estimate_many(con, relation, design,
                            [Estimand("proportion", f"y{k}") for k in range(1, indicators + 1)],
                            margins=[[], ["domain"]])
    y1 = results[0]
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "baseline_rss_gb": baseline, "indicators": indicators, "cells": len(y1),
            "y1": y1[["domain", "estimate", "se", "deff"]].to_dict("records")}


def child_floor(path: Path, indicators: int) -> dict:
    import pandas as pd

    con = _connect()
    baseline = _rss_now_gb()
    sums = ", ".join(f"sum(w * y{k}) AS wy{k}, sum(CASE WHEN y{k} IS NOT NULL THEN w END) AS w{k}"
                     for k in range(1, indicators + 1))
    t0 = time.perf_counter()
    by_domain = con.execute(f"SELECT domain, {sums} FROM read_parquet('{path}') GROUP BY domain").df()
    total = by_domain.drop(columns="domain").sum().to_frame().T.assign(domain="_T")
    cells = pd.concat([by_domain, total], ignore_index=True)
    for k in range(1, indicators + 1):
        cells[f"y{k}"] = cells[f"wy{k}"] / cells[f"w{k}"]
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "baseline_rss_gb": baseline, "indicators": indicators, "cells": len(cells),
            "y1": cells[["domain", "y1"]].rename(columns={"y1": "estimate"}).to_dict("records")}


def child_samplics(path: Path) -> dict:
    import warnings

    import pandas as pd

    warnings.filterwarnings("ignore", category=FutureWarning)
    from samplics import TaylorEstimator
    from samplics.utils.types import PopParam  # samplics 0.6 takes the enum, not the string "proportion"

    baseline = _rss_now_gb()
    t0 = time.perf_counter()
    frame = pd.read_parquet(path, columns=["stratum", "psu", "w", "domain", "y1"])
    frame["domain"] = frame["domain"].astype(str)
    load = time.perf_counter() - t0
    t1 = time.perf_counter()
    # samplics drops the rows missing y1 (remove_nan); the engine keeps them outside the domain with their
    # PSU, which gives the same estimates as long as no PSU is entirely missing
    estimator = TaylorEstimator(PopParam.prop)
    estimator.estimate(y=frame["y1"].to_numpy(dtype=float), samp_weight=frame["w"].to_numpy(),
                       stratum=frame["stratum"].to_numpy(), psu=frame["psu"].to_numpy(),
                       domain=frame["domain"].to_numpy(), remove_nan=True)
    seconds = time.perf_counter() - t1
    rows = [{"domain": d, "estimate": float(estimator.point_est[d][1.0]),
             "se": float(estimator.stderror[d][1.0])} for d in estimator.domains]
    # the total (no domain), untimed, for the correctness check of the engine's '_T' row
    overall = TaylorEstimator(PopParam.prop)
    overall.estimate(y=frame["y1"].to_numpy(dtype=float), samp_weight=frame["w"].to_numpy(),
                     stratum=frame["stratum"].to_numpy(), psu=frame["psu"].to_numpy(), remove_nan=True)
    rows.append({"domain": "_T", "estimate": float(overall.point_est[1.0]), "se": float(overall.stderror[1.0])})
    return {"seconds": seconds, "load_seconds": load, "baseline_rss_gb": baseline, "rows": len(frame),
            "indicators": 1, "y1": rows}


def child_replicate(path: Path, indicators: int) -> dict:
    from indicators.estimation.replicate import ReplicateDesign, estimate_replicate
    from indicators.estimation.taylor import Estimand

    con = _connect()
    replicates = create_replicate_view(con, path)
    baseline = _rss_now_gb()
    design = ReplicateDesign(weight="w", replicates=replicates, type="Fay", rho=FAY_RHO)
    t0 = time.perf_counter()
    # all indicators in one call: one scan of the view for every replicate, plus the df query
    results, _ = estimate_replicate(con, REPLICATE_VIEW, design,
                                    [Estimand("proportion", f"y{k}") for k in range(1, indicators + 1)],
                                    margins=[[], ["domain"]])
    seconds = time.perf_counter() - t0
    y1 = results[0]
    return {"seconds": seconds, "baseline_rss_gb": baseline, "indicators": indicators, "cells": len(y1),
            "y1": y1[["domain", "estimate", "se", "df"]].to_dict("records")}


def child_replicate_floor(path: Path, indicators: int) -> dict:
    import numpy as np

    con = _connect()
    weights = ["w", *create_replicate_view(con, path)]
    baseline = _rss_now_gb()
    # each item cast to DOUBLE and its non-missing indicator (1.0 or NULL) made once per row, so that every one
    # of the 3,240 sums is a bare product (casting or testing y<k> inside each sum runs 2x slower; and
    # sum(...) FILTER (WHERE y<k> IS NOT NULL) for that many sums ran out of memory with DuckDB 2.0)
    items = ", ".join(f"CAST(y{k} AS DOUBLE) AS y{k}, CASE WHEN y{k} IS NOT NULL THEN 1.0 END AS n{k}"
                      for k in range(1, indicators + 1))
    sums = ", ".join(f"sum({w} * y{k}) AS {w}_y{k}, sum({w} * n{k}) AS {w}_n{k}"
                     for k in range(1, indicators + 1) for w in weights)
    t0 = time.perf_counter()
    by_domain = con.execute(f"SELECT domain, {sums} FROM (SELECT domain, {', '.join(weights)}, {items} "
                            f"FROM {REPLICATE_VIEW}) GROUP BY domain").fetchnumpy()
    domains = [str(d) for d in by_domain["domain"]] + ["_T"]

    def with_total(values):
        values = np.asarray(values, dtype=float)
        return np.append(values, values.sum())

    # the means: (indicators, weights, cells), the full sample's first along the weights
    means = np.array([[with_total(by_domain[f"{w}_y{k}"]) / with_total(by_domain[f"{w}_n{k}"]) for w in weights]
                      for k in range(1, indicators + 1)])
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "baseline_rss_gb": baseline, "indicators": indicators, "cells": len(domains),
            "sums": len(weights) * indicators * 2,
            "y1": [{"domain": d, "estimate": float(e)} for d, e in zip(domains, means[0, 0])]}


def child_samplics_replicate(path: Path) -> dict:
    import warnings

    import pandas as pd

    warnings.filterwarnings("ignore", category=FutureWarning)
    from samplics.estimation import ReplicateEstimator
    from samplics.utils.types import PopParam, RepMethod

    baseline = _rss_now_gb()
    t0 = time.perf_counter()
    frame = pd.read_parquet(path, columns=["psu", "w", "domain", "y1"])
    frame["domain"] = frame["domain"].astype(str)
    replicate_weights = replicate_weights_of(frame["psu"].to_numpy(), frame["w"].to_numpy())
    load = time.perf_counter() - t0
    y, w, domain = frame["y1"].to_numpy(dtype=float), frame["w"].to_numpy(), frame["domain"].to_numpy()
    t1 = time.perf_counter()
    # remove_nan drops the rows missing y1: with replicate weights that is the same as keeping them outside the
    # domain (they add nothing to any replicate's sums)
    estimator = ReplicateEstimator(RepMethod.brr, PopParam.prop, fay_coef=FAY_RHO)
    estimator.estimate(y=y, samp_weight=w, rep_weights=replicate_weights, domain=domain, remove_nan=True)
    seconds = time.perf_counter() - t1
    rows = [{"domain": str(d), "estimate": float(estimator.point_est[d][1.0]),
             "se": float(estimator.stderror[d][1.0]), "df": float(estimator.degree_of_freedom)}
            for d in estimator.domains]
    overall = ReplicateEstimator(RepMethod.brr, PopParam.prop, fay_coef=FAY_RHO)  # the total, untimed
    overall.estimate(y=y, samp_weight=w, rep_weights=replicate_weights, remove_nan=True)
    rows.append({"domain": "_T", "estimate": float(overall.point_est[1.0]), "se": float(overall.stderror[1.0]),
                 "df": float(overall.degree_of_freedom)})
    return {"seconds": seconds, "load_seconds": load, "baseline_rss_gb": baseline, "rows": len(frame),
            "indicators": 1, "y1": rows}


def child_svy_replicate(path: Path) -> dict:
    import polars as pl
    import svy

    baseline = _rss_now_gb()
    t0 = time.perf_counter()
    frame = pl.read_parquet(path, columns=["psu", "w", "domain", "y1"]).with_columns(pl.col("domain").cast(pl.String))
    replicate_weights = replicate_weights_of(frame["psu"].to_numpy(), frame["w"].to_numpy())
    frame = frame.with_columns([pl.Series(name, replicate_weights[:, r]) for r, name in enumerate(replicate_names())])
    del replicate_weights
    sample = svy.Sample(frame, svy.Design(wgt="w", rep_wgts=svy.BrrWgts(prefix="rw", n_reps=REPLICATES,
                                                                         fay_coef=FAY_RHO)))
    load = time.perf_counter() - t0
    t1 = time.perf_counter()
    # drop_nulls: the rows missing y1 leave the estimate and stay in the design (a null y raises otherwise)
    by_domain = sample.estimation.prop("y1", by="domain", method="replication", drop_nulls=True)
    seconds = time.perf_counter() - t1
    overall = sample.estimation.prop("y1", method="replication", drop_nulls=True)  # the total, untimed
    # one row per domain and level of y1: the proportion of 1
    rows = [{"domain": str(r["domain"]), "estimate": float(r["est"]), "se": float(r["se"]), "df": float(r["df"])}
            for r in by_domain.to_polars().filter(pl.col("y1") == 1).iter_rows(named=True)]
    rows += [{"domain": "_T", "estimate": float(r["est"]), "se": float(r["se"]), "df": float(r["df"])}
             for r in overall.to_polars().filter(pl.col("y1") == 1).iter_rows(named=True)]
    return {"seconds": seconds, "load_seconds": load, "baseline_rss_gb": baseline, "rows": frame.height,
            "indicators": 1, "y1": rows}


def child_profile(path: Path, indicators: int) -> dict:
    """The engine with its SQL scan timed (execute + fetch), its numpy/pandas steps timed, and DuckDB's
    EXPLAIN ANALYZE of the scan (the engine's own SQL, captured)."""
    import duckdb

    import indicators.estimation.taylor as taylor

    con = _connect()
    timings: dict[str, float] = {}
    captured: list[tuple[str, str]] = []

    def kind_of(sql: str) -> str:
        if "n_unweighted" in sql:
            return "sql_cell_totals"
        if "count(DISTINCT _psu)" in sql:
            return "sql_strata"
        if "AS a, sum(_w * _x) AS b" in sql:
            return "sql_psu_sums"
        return "sql_other"

    class Timed:
        def __init__(self, result, name, start):
            self.result, self.name, self.start = result, name, start

        def df(self):
            out = self.result.df()
            timings[self.name] = timings.get(self.name, 0.0) + time.perf_counter() - self.start
            return out

        def fetchnumpy(self):
            out = self.result.fetchnumpy()
            timings[self.name] = timings.get(self.name, 0.0) + time.perf_counter() - self.start
            return out

    class TimedConnection:
        def execute(self, sql, *args):
            captured.append((kind_of(sql), sql))
            start = time.perf_counter()
            return Timed(con.execute(sql, *args), kind_of(sql), start)

        def __getattr__(self, name):
            return getattr(con, name)

    def timed(name, function):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - start
        return wrapper

    # the pandas steps, timed by wrapping the module's functions in this child process only
    for name in ("_margin_variances", "_finish"):
        setattr(taylor, name, timed(f"pandas{name}", getattr(taylor, name)))

    relation = f"read_parquet('{path}')"
    design = taylor.Design(weight="w", stratum="stratum", psu="psu")
    t0 = time.perf_counter()
    taylor.estimate_many(TimedConnection(), relation, design,
                         [taylor.Estimand("proportion", f"y{k}") for k in range(1, indicators + 1)],
                         margins=[[], ["domain"]])
    first = list(captured)
    seconds = time.perf_counter() - t0
    timings["python_other"] = seconds - sum(timings.values())
    operators = {}
    for name, sql in first:
        try:
            plan = con.execute("EXPLAIN (ANALYZE, FORMAT json) " + sql).fetchall()[0][1]
            operators[name] = _top_operators(plan)
        except duckdb.Error as exc:  # the operator breakdown is informative only: record why it is missing
            operators[name] = [f"EXPLAIN ANALYZE failed: {exc}"]
    return {"seconds": seconds, "indicators": indicators, "sql_statements": len(first),
            "passes_seconds": {k: round(v, 3) for k, v in sorted(timings.items(), key=lambda kv: -kv[1])},
            "y1_operators": operators}


def _top_operators(plan_json: str, top: int = 6) -> list[str]:
    """The slowest operators of an EXPLAIN (ANALYZE, FORMAT json) profile: time, rows out, what they do."""
    found = []

    def walk(node):
        info = node.get("extra_info") or {}
        what = info.get("Groups") or info.get("Projections") or info.get("Aggregates") or ""
        if isinstance(what, list):
            what = ", ".join(map(str, what))
        found.append((float(node.get("timing") or 0.0), node.get("name", "?"), node.get("intermediate_rows", 0),
                      str(what)[:70]))
        for child in node.get("children", []):
            walk(child)

    for root in json.loads(plan_json).get("operator", []):
        walk(root)
    return [f"{name} {seconds:.3f}s, {rows:,d} rows{' [' + what + ']' if what else ''}"
            for seconds, name, rows, what in sorted(found, key=lambda f: -f[0])[:top]]


def child_main(args) -> None:
    path = data_path(Path(args.data), args.rows[0])
    # the jobs over all 20 indicators, and the peers' one-indicator jobs
    over_indicators = {"engine": child_engine, "floor": child_floor, "profile": child_profile,
                       "replicate": child_replicate, "replicate_floor": child_replicate_floor}
    one_indicator = {"samplics": child_samplics, "samplics_replicate": child_samplics_replicate,
                     "svy_replicate": child_svy_replicate}
    if args.run in over_indicators:
        out = over_indicators[args.run](path, args.indicators)
    elif args.run in one_indicator:
        out = one_indicator[args.run](path)
    else:
        raise SystemExit(f"--run {args.run}?")
    out["peak_rss_self_gb"] = round(_maxrss_self_gb(), 3)
    print("RESULT " + json.dumps(out, default=float))


def _maxrss_self_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB


# ------------------------------------------------------------------------------------------ orchestration
def measure(run: str, rows: int, data_dir: Path, timeout: float, indicators: int = INDICATORS,
            peer: bool = False) -> dict:
    """Run one measured thing in a fresh subprocess; wall time and its own peak RSS from wait4. A peer's crash
    is a result (`failed` and its reason); the engine's or a floor's stops the benchmark."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--run", run, "--rows", str(rows),
           "--data", str(data_dir), "--indicators", str(indicators)]
    print(f"  {run:9s} {rows:>10,d} rows ...", end="", file=sys.stderr, flush=True)
    out_path = data_dir / f".{run}_{rows}.out"
    with open(out_path, "w") as out_file:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out_file, stderr=subprocess.STDOUT, start_new_session=True)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - t0 > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
                timed_out = True
                break
            time.sleep(0.1)  # poll the child (WNOHANG) so that --timeout can stop it
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = out_path.read_text()
    out_path.unlink()
    peak = usage.ru_maxrss * 1024 / GB
    if timed_out:
        print(f" TIMEOUT after {timeout:.0f} s (peak RSS {peak:.2f} GB)", file=sys.stderr, flush=True)
        return {"timeout": True, "timeout_seconds": timeout, "seconds": None, "wall_seconds": round(wall, 2),
                "peak_rss_gb_at_kill": round(peak, 3)}
    lines = [line for line in text.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        if peer:
            reason = _failure_reason(proc.returncode, text)
            print(f" FAILED: {reason}", file=sys.stderr, flush=True)
            return {"failed": True, "reason": reason, "timeout": False, "seconds": None,
                    "wall_seconds": round(wall, 2), "peak_rss_gb": round(peak, 3)}
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{text[-4000:]}")
    result = json.loads(lines[-1][len("RESULT "):])
    result.update(wall_seconds=round(wall, 2), peak_rss_gb=round(peak, 3), timeout=False)
    result["seconds"] = round(result["seconds"], 3)
    result["baseline_rss_gb"] = round(result.get("baseline_rss_gb", float("nan")), 3)
    print(f" {result['seconds']:.2f} s, peak RSS {peak:.3f} GB", file=sys.stderr, flush=True)
    return result


def _failure_reason(returncode: int, output: str) -> str:
    """Why a child failed, in one line: its last output line (the exception) and how it ended."""
    last = next((line.strip() for line in reversed(output.splitlines()) if line.strip()), "no output")
    how = f"killed by signal {-returncode}" if returncode < 0 else f"exit code {returncode}"
    return f"{last[:300]} ({how})"


def measure_peer(run: str, module: str, data_dir: Path, timeout: float) -> dict:
    """A Python peer on the SAMPLICS_ROWS file, or why it could not be run."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        reason = f"{module} is not installed in this venv (see the install line at the top of this file)"
        print(f"  {run}: skipped, {reason}", file=sys.stderr)
        return {"skipped": True, "reason": reason, "timeout": False, "seconds": None}
    ensure_data(data_dir, SAMPLICS_ROWS)
    print(f"{run} on {SAMPLICS_ROWS:,d} rows", file=sys.stderr)
    return measure(run, SAMPLICS_ROWS, data_dir, timeout, peer=True)


def measure_repeated(run: str, rows: int, data_dir: Path, timeout: float, repeat: int) -> dict:
    """`repeat` fresh subprocesses (fewer if the first already takes more than timeout / repeat): the median
    time is the figure, min and every run are kept; the peak RSS is the largest of the runs (the machine is
    shared and noisy: single runs of the same thing differ by up to 2x)."""
    runs = [measure(run, rows, data_dir, timeout)]
    while len(runs) < repeat and not runs[0]["timeout"] and runs[0]["seconds"] * repeat < timeout:
        runs.append(measure(run, rows, data_dir, timeout))
    if runs[0]["timeout"]:
        return runs[0]
    result = dict(runs[0])
    times = sorted(r["seconds"] for r in runs)
    result.update(seconds=round(float(statistics.median(times)), 3), seconds_min=times[0],
                  seconds_all=[r["seconds"] for r in runs], runs=len(runs),
                  peak_rss_gb=max(r["peak_rss_gb"] for r in runs),
                  peak_rss_self_gb=round(max(r["peak_rss_self_gb"] for r in runs), 3),
                  wall_seconds=[r["wall_seconds"] for r in runs])
    return result


def compare(engine_y1: list[dict], peer_y1: list[dict]) -> dict:
    ours = {str(r["domain"]): r for r in engine_y1}
    worst = {"estimate": 0.0, "se": 0.0}
    for r in peer_y1:
        mine = ours[str(r["domain"])]
        for key in worst:
            worst[key] = max(worst[key], abs(mine[key] - r[key]) / abs(r[key]))
    out = {"cells_compared": f"{len(peer_y1)} (the domains and the total '_T')",
           "max_rel_diff_estimate": worst["estimate"],
           "max_rel_diff_se": worst["se"], "tolerance": TOLERANCE,
           "ok": bool(max(worst.values()) <= TOLERANCE)}
    if all("df" in r for r in [*engine_y1, *peer_y1]):  # informative: the df conventions differ
        out["df_engine"] = sorted({float(r["df"]) for r in engine_y1})
        out["df_peer"] = sorted({float(r["df"]) for r in peer_y1})
    return out


def engine_source(module: str = "taylor.py") -> dict:
    """Which version of an engine was measured (the modules change; results must say which one)."""
    import hashlib

    path = ROOT / "indicators" / "estimation" / module
    return {"path": str(path.relative_to(ROOT)), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "modified": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(path.stat().st_mtime))}


def machine() -> dict:
    import duckdb
    import numpy
    import pandas

    mem = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal:"))
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    info = {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": round(mem * 1024 / GB, 1),
            "python": platform.python_version(), "duckdb": duckdb.__version__, "numpy": numpy.__version__,
            "pandas": pandas.__version__, "platform": platform.platform(), "duckdb_threads": THREADS}
    from importlib.metadata import PackageNotFoundError, version

    for peer in ("samplics", "svy", "svy-rs", "polars"):
        try:
            info[peer] = version(peer)
        except PackageNotFoundError:  # the peers are optional: not project dependencies
            info[peer] = None
    return info


def peer_extrapolation(peer: dict, rows: int) -> dict:
    """A peer measured for one indicator on SAMPLICS_ROWS rows, scaled to INDICATORS indicators and `rows` rows
    (an extrapolation, labelled as such); or why there is no number."""
    if peer.get("timeout"):
        return {"measured_on_rows": SAMPLICS_ROWS, "extrapolated": False,
                "no_number": f"stopped by --timeout after {peer['timeout_seconds']:g} s for one indicator on "
                             f"{SAMPLICS_ROWS:,d} rows (load included)"}
    if peer.get("failed") or peer.get("skipped"):
        return {"measured_on_rows": SAMPLICS_ROWS, "extrapolated": False, "no_number": peer["reason"]}
    scale = rows / SAMPLICS_ROWS
    one = peer["seconds"] + peer["load_seconds"]
    return {
        "measured_on_rows": SAMPLICS_ROWS,
        "measured_one_indicator_seconds": peer["seconds"],
        "measured_load_seconds": round(peer["load_seconds"], 3),
        "measured_peak_rss_gb": peer["peak_rss_gb"],
        "extrapolated": True,
        "seconds_20_indicators_estimated": round(scale * (peer["load_seconds"] + INDICATORS * peer["seconds"]), 1),
        "peak_rss_gb_estimated": round(peer["baseline_rss_gb"] + scale
                                       * (peer["peak_rss_gb"] - peer["baseline_rss_gb"]), 2),
        "how_scaled": f"time: (load + {INDICATORS} x the one-indicator estimate) x {scale:g} (rows / 1M); "
                      f"memory: baseline + (measured peak - baseline) x {scale:g}; only y1 on 1M "
                      f"was run ({one:.1f} s with the load)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--skip-samplics", action="store_true", help="skip both samplics jobs")
    parser.add_argument("--skip-svy", action="store_true")
    parser.add_argument("--skip-replicate", action="store_true", help="skip the replicate-weight job and its peers")
    parser.add_argument("--skip-profile", action="store_true")
    parser.add_argument("--data", default=str(HERE / "data"), help="cache folder of the generated Parquet")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a run is stopped")
    parser.add_argument("--repeat", type=int, default=3, help="runs of engine and floor (median reported)")
    parser.add_argument("--out", default=str(HERE / "results" / "estimation.json"))
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--indicators", type=int, default=INDICATORS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        child_main(args)
        return

    data_dir = Path(args.data).resolve()
    rows_list = sorted(set(args.rows))
    started = time.perf_counter()
    report = {
        "benchmark": "benchmarks/estimation.py",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "engine_source": engine_source(),
        "replicate_engine_source": engine_source("replicate.py"),
        "setup": {
            "seed": SEED, "strata": STRATA, "psus": STRATA * PSUS_PER_STRATUM, "domains": DOMAINS,
            "indicators": INDICATORS, "missing_rate_per_indicator": MISSING_RATE,
            "engine_call": "estimate_many(con, \"read_parquet('…')\", Design(weight='w', stratum='stratum', "
                           "psu='psu'), [Estimand('proportion', 'y<k>') for k in 1..20], margins=[[], ['domain']]): "
                           "one scan for all 20 indicators",
            "floor_query": "SELECT domain, sum(w*y<k>), sum(w) FILTER non-missing y<k> (k=1..20) FROM "
                           "read_parquet(...) GROUP BY domain; total row from the domain sums",
            "samplics_call": "TaylorEstimator(PopParam.prop).estimate(y1, w, stratum, psu, domain, remove_nan=True)"
                             " on the 1M file loaded with pandas (5 needed columns)",
            "replicate_design": f"{REPLICATES} Fay BRR replicate weights, rho {FAY_RHO}: rw<r> = w x factor<r> of "
                                "the respondent's PSU, computed in the view survey_replicates; PSUs paired by "
                                "position in their stratum (1-2, ..., 19-20), the 2,000 pairs assigned in turn to 79 "
                                "variance zones = columns 1..79 of a Hadamard matrix of order 80 (Paley, q = 79; "
                                "rows = replicates), factor 1.5 / 0.5 for the first PSU of the pair as h = +1 / -1, "
                                "the second PSU the other",
            "replicate_view": f"CREATE VIEW {REPLICATE_VIEW} AS SELECT s.*, s.w * f.f1 AS rw1, ..., "
                              "s.w * f.f80 AS rw80 FROM read_parquet('…') AS s JOIN fay_factors AS f ON "
                              "s.psu = f.psu (fay_factors: 4,000 PSUs x 80 factors); the replicate times include "
                              "the join and the 80 products per row, as reading 80 stored replicate columns would "
                              "cost a delivery",
            "replicate_engine_call": f"estimate_replicate(con, '{REPLICATE_VIEW}', ReplicateDesign(weight='w', "
                                     "replicates=('rw1', ..., 'rw80'), type='Fay', rho=0.5), "
                                     "[Estimand('proportion', 'y<k>') for k in 1..20], margins=[[], ['domain']]): "
                                     "one scan for all 20 indicators and 80 replicates, plus the df query",
            "replicate_floor_query": "SELECT domain, sum(v * y<k>), sum(v * n<k>) for v in (w, rw1..rw80) and "
                                     "k=1..20 (3,240 sums) FROM (SELECT domain, w, rw1..rw80, CAST(y<k> AS DOUBLE) "
                                     "AS y<k>, CASE WHEN y<k> IS NOT NULL THEN 1.0 END AS n<k> FROM "
                                     f"{REPLICATE_VIEW}) GROUP BY domain; total row from the domain sums",
            "samplics_replicate_call": "ReplicateEstimator(RepMethod.brr, PopParam.prop, fay_coef=0.5).estimate(y1, w, "
                                       "rep_weights=<rows x 80 numpy array>, domain=domain, remove_nan=True) on the "
                                       "1M file loaded with pandas",
            "svy_replicate_call": "svy.Sample(frame, svy.Design(wgt='w', rep_wgts=svy.BrrWgts(prefix='rw', n_reps=80, "
                                  "fay_coef=0.5))).estimation.prop('y1', by='domain', method='replication', "
                                  "drop_nulls=True) on the 1M file loaded with polars, rw1..rw80 as columns",
            "repeats": "engine, floor, replicate and replicate_floor: --repeat fresh subprocesses each, median "
                       "seconds (min and all kept); the peers and the profile: one run",
            "units": "seconds = time of the work in the child (imports and connection excluded); peak_rss_gb = "
                     "the child's ru_maxrss from wait4 (whole process, interpreter included), GB = 1e9 bytes",
            "goal": f"10M x {INDICATORS} indicators x {DOMAINS} domains: engine <= {GOAL_RATIO}x floor time "
                    f"and peak RSS < {GOAL_GB} GB",
        },
        "runs": {},
    }
    samplics = None if args.skip_samplics else measure_peer("samplics", "samplics", data_dir, args.timeout)
    replicate_peers = {}  # the peers of the replicate job, by name
    if not args.skip_replicate and not args.skip_samplics:
        replicate_peers["samplics"] = measure_peer("samplics_replicate", "samplics", data_dir, args.timeout)
    if not args.skip_replicate and not args.skip_svy:
        replicate_peers["svy"] = measure_peer("svy_replicate", "svy", data_dir, args.timeout)
    engine_1m_y1 = None
    replicate_1m_y1 = None
    for rows in rows_list:
        path = ensure_data(data_dir, rows)
        print(f"{rows:,d} rows ({path.stat().st_size / 1e6:.0f} MB Parquet)", file=sys.stderr)
        engine = measure_repeated("engine", rows, data_dir, args.timeout, args.repeat)
        floor = measure_repeated("floor", rows, data_dir, args.timeout, args.repeat)
        if rows == SAMPLICS_ROWS and not engine["timeout"]:
            engine_1m_y1 = engine["y1"]
        entry = {"rows": rows, "parquet_mb": round(path.stat().st_size / 1e6, 1),
                 "engine": _strip(engine), "floor": _strip(floor)}
        if not engine["timeout"]:
            entry["engine_over_floor"] = round(engine["seconds"] / floor["seconds"], 2)
            entry["engine_over_floor_of_min_times"] = round(engine["seconds_min"] / floor["seconds_min"], 2)
        else:
            entry["engine_over_floor"] = f"> {round(args.timeout / floor['seconds'], 1)} (timeout)"
        if samplics is not None:
            entry["samplics"] = peer_extrapolation(samplics, rows)
        if rows == 10_000_000 or rows == max(rows_list):
            ok_time = (not engine["timeout"]) and engine["seconds"] <= GOAL_RATIO * floor["seconds"]
            ok_mem = None if engine["timeout"] else engine["peak_rss_gb"] < GOAL_GB
            entry["goal"] = {"within_goal_ratio_of_floor": ok_time, "under_1_gb": ok_mem, "met": bool(ok_time and ok_mem)}
        if not args.skip_replicate:
            replicate = measure_repeated("replicate", rows, data_dir, args.timeout, args.repeat)
            replicate_floor = measure_repeated("replicate_floor", rows, data_dir, args.timeout, args.repeat)
            if rows == SAMPLICS_ROWS and not replicate["timeout"]:
                replicate_1m_y1 = replicate["y1"]
            entry["replicate"] = replicate_entry(replicate, replicate_floor, replicate_peers, rows)
        report["runs"][f"{rows // 1_000_000}M" if rows % 1_000_000 == 0 else str(rows)] = entry

    measured_peers = {name: peer for name, peer in replicate_peers.items() if peer.get("y1")}
    if measured_peers:
        if replicate_1m_y1 is None:
            print("replicate engine y1 on the 1M file for the correctness check", file=sys.stderr)
            replicate_1m_y1 = measure("replicate", SAMPLICS_ROWS, data_dir, args.timeout, indicators=1)["y1"]
        report["correctness_1M_y1_replicate"] = {
            name: compare(replicate_1m_y1, peer["y1"]) for name, peer in measured_peers.items()}
        report["correctness_1M_y1_replicate"]["conventions"] = REPLICATE_CONVENTIONS
        print(f"correctness (replicate): {report['correctness_1M_y1_replicate']}", file=sys.stderr)
    if samplics is not None and samplics.get("y1"):
        if engine_1m_y1 is None:
            print("engine y1 on the 1M file for the correctness check", file=sys.stderr)
            engine_1m_y1 = measure("engine", SAMPLICS_ROWS, data_dir, args.timeout, indicators=1)["y1"]
        report["correctness_1M_y1_vs_samplics"] = compare(engine_1m_y1, samplics["y1"])
        print(f"correctness: {report['correctness_1M_y1_vs_samplics']}", file=sys.stderr)
    if not args.skip_profile:
        ensure_data(data_dir, SAMPLICS_ROWS)
        print("profile of one 1M engine run", file=sys.stderr)
        profile = measure("profile", SAMPLICS_ROWS, data_dir, args.timeout)
        report["profile_1M_engine"] = {k: profile[k] for k in ("seconds", "peak_rss_gb", "sql_statements",
                                                                "passes_seconds", "y1_operators")}
    report["total_benchmark_seconds"] = round(time.perf_counter() - started, 1)
    for key, module in (("engine_source", "taylor.py"), ("replicate_engine_source", "replicate.py")):
        if engine_source(module)["sha256"] != report[key]["sha256"]:
            report[key]["changed_during_run"] = engine_source(module)
            print(f"WARNING: indicators/estimation/{module} changed during the run; rerun", file=sys.stderr)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    print(f"wrote {out} and {out.with_suffix('.md')}", file=sys.stderr)


REPLICATE_CONVENTIONS = (
    "The engine and the peers compute the same estimator and variance: theta_r with each replicate weight, "
    "V = 1/(R (1-rho)^2) x sum_r (theta_r - mean of the theta_r)^2 (R's svrepdesign type Fay with mse = FALSE; "
    "samplics conservative=False; svy variance_center='rep_mean'). The peers drop the rows missing y1 while the "
    "engine keeps them outside the domain, which gives the same sums with replicate weights; what differences "
    "remain are floating-point summation order. Not compared: the df (engine: R's degf, the rank of the domain's "
    "replicate weights - 1; samplics: R/2 for BRR; svy: R - 1)."
)


def replicate_entry(engine: dict, floor: dict, peers: dict, rows: int) -> dict:
    """One row count's replicate job: engine, its floor, their ratio and the peers' extrapolations."""
    entry = {"replicates": REPLICATES, "rho": FAY_RHO, "engine": _strip(engine), "floor": _strip(floor)}
    if engine["timeout"] or floor["timeout"]:
        entry["engine_over_floor"] = "timeout: " + ", ".join(
            name for name, r in (("engine", engine), ("floor", floor)) if r["timeout"])
    else:
        entry["engine_over_floor"] = round(engine["seconds"] / floor["seconds"], 2)
        entry["engine_over_floor_of_min_times"] = round(engine["seconds_min"] / floor["seconds_min"], 2)
    for name, peer in peers.items():
        entry[name] = peer_extrapolation(peer, rows)
    return entry


def _strip(result: dict) -> dict:
    return {k: v for k, v in result.items() if k not in ("y1", "indicators", "cells")} | \
        ({"cells_per_indicator": result["cells"]} if "cells" in result else {})


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = ["# Estimation benchmark", "",
             f"{report['date']}; {m['nproc']} cores ({m['cpu']}), {m['ram_gb']} GB RAM, Python {m['python']}, "
             f"DuckDB {m['duckdb']} (threads={m['duckdb_threads']}), samplics {m['samplics']}, "
             f"svy {m.get('svy')} (svy-rs {m.get('svy-rs')}, polars {m.get('polars')}).", "",
             f"{INDICATORS} proportions x ({DOMAINS} domains + total), {STRATA} strata, "
             f"{STRATA * PSUS_PER_STRATUM} PSUs. Seconds of work; peak RSS of the whole process (GB = 1e9 B).",
             "Engine and floor: median of the runs (min in brackets); samplics: one indicator measured on 1M rows, "
             "scaled x20 indicators (and x10 rows for 10M).",
             "", "| rows | engine s | engine GB | floor s | floor GB | engine/floor | samplics s (est.) | "
             "samplics GB (est.) |", "|---|---|---|---|---|---|---|---|"]
    for entry in report["runs"].values():
        e, f, s = entry["engine"], entry["floor"], entry.get("samplics", {})
        es = "timeout" if e["timeout"] else f"{e['seconds']:.1f} ({e['seconds_min']:.1f})"
        fs = f"{f['seconds']:.2f} ({f['seconds_min']:.2f})"
        eg = e.get("peak_rss_gb", e.get("peak_rss_gb_at_kill"))
        lines.append(f"| {entry['rows']:,d} | {es} | {eg:.2f} | {fs} | {f['peak_rss_gb']:.2f} | "
                     f"{entry['engine_over_floor']} | {' | '.join(_peer_cells(s))} |")
    lines.append("")
    for entry in report["runs"].values():
        if "goal" in entry:
            lines.append(f"Goal at {entry['rows']:,d} rows (<= {GOAL_RATIO:g}x floor, < {GOAL_GB:g} GB): "
                         f"{'met' if entry['goal']['met'] else 'NOT met'} ({entry['goal']}).")
    if "correctness_1M_y1_vs_samplics" in report:
        c = report["correctness_1M_y1_vs_samplics"]
        lines.append(f"Correctness (1M, y1 by domain and total vs samplics): max relative difference estimate "
                     f"{c['max_rel_diff_estimate']:.2e}, SE {c['max_rel_diff_se']:.2e} "
                     f"({'ok' if c['ok'] else 'FAILED'} at {c['tolerance']:g}).")
    lines += _replicate_markdown(report)
    for key in ("engine_source", "replicate_engine_source"):
        source = report.get(key, {})
        if "changed_during_run" in source:
            lines += ["", f"Warning: {source['path']} changed during the run (sha256 {source['sha256'][:12]} at the "
                          f"start, {source['changed_during_run']['sha256'][:12]} at the end): the rows that use it "
                          "may mix the two versions."]
    if "profile_1M_engine" in report:
        p = report["profile_1M_engine"]
        lines += ["", f"Profile of one 1M engine run ({p['seconds']:.1f} s):", ""]
        lines += [f"- {k}: {v:.2f} s" for k, v in p["passes_seconds"].items()]
    return "\n".join(lines) + "\n"


def _timed_cells(result: dict, decimals: int) -> tuple[str, str]:
    """'median (min)' seconds and peak GB of a measured job, or its timeout."""
    if result["timeout"]:
        return f"timeout ({result['timeout_seconds']:g} s)", f"{result['peak_rss_gb_at_kill']:.2f} at kill"
    return (f"{result['seconds']:.{decimals}f} ({result['seconds_min']:.{decimals}f})",
            f"{result['peak_rss_gb']:.2f}")


def _peer_cells(extrapolation: dict) -> tuple[str, str]:
    if not extrapolation:
        return "-", "-"
    if "no_number" in extrapolation:
        return "n/a (below)", "n/a"
    return (f"{extrapolation['seconds_20_indicators_estimated']}", f"{extrapolation['peak_rss_gb_estimated']}")


def _replicate_markdown(report: dict) -> list[str]:
    entries = [entry for entry in report["runs"].values() if "replicate" in entry]
    if not entries:
        return []
    peers = [name for name in ("samplics", "svy") if name in entries[0]["replicate"]]
    lines = ["", f"## Replicate weights: {REPLICATES} Fay BRR replicates (rho {FAY_RHO:g}), same 20 proportions", "",
             "Replicate weights computed as rows are read (a view: w x the PSU's Fay factor), not stored; the times "
             "include that, as a delivery's read of 80 stored columns would. Floor: one group-by of the 20 weighted "
             "means with the full weight and each replicate weight (3,240 sums). Peers: y1 only, measured on 1M rows "
             "with the 80 replicate columns materialised, then (load + 20 x estimate) x rows / 1M: extrapolated.", "",
             "| rows | engine s | engine GB | floor s | floor GB | engine/floor | "
             + " | ".join(f"{name} s (est.) | {name} GB (est.)" for name in peers) + " |",
             "|---|---|---|---|---|---|" + "---|---|" * len(peers)]
    for entry in entries:
        r = entry["replicate"]
        cells = [*_timed_cells(r["engine"], 1), *_timed_cells(r["floor"], 1), str(r["engine_over_floor"])]
        cells += [cell for name in peers for cell in _peer_cells(r[name])]
        lines.append(f"| {entry['rows']:,d} | " + " | ".join(cells) + " |")
    lines.append("")
    for name in peers:
        peer = entries[0]["replicate"][name]
        if "no_number" in peer:
            lines.append(f"- {name}: no number: {peer['no_number']}.")
        else:
            lines.append(f"- {name} measured on {peer['measured_on_rows']:,d} rows: "
                         f"{peer['measured_one_indicator_seconds']:.1f} s for y1 by domain + "
                         f"{peer['measured_load_seconds']:.1f} s load, peak RSS {peer['measured_peak_rss_gb']:.2f} GB.")
    checks = report.get("correctness_1M_y1_replicate", {})
    for name in peers:
        if name in checks:
            c = checks[name]
            df = (f"; df engine {c['df_engine']}, {name} {c['df_peer']}" if "df_engine" in c else "")
            lines.append(f"- Correctness (1M, y1 by domain and total vs {name}): max relative difference estimate "
                         f"{c['max_rel_diff_estimate']:.2e}, SE {c['max_rel_diff_se']:.2e} "
                         f"({'ok' if c['ok'] else 'FAILED'} at {c['tolerance']:g}){df}.")
    if "conventions" in checks:
        lines += ["", checks["conventions"]]
    return lines


if __name__ == "__main__":
    main()
