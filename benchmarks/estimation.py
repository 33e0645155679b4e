"""Benchmark of the Taylor-linearisation estimation engine (indicators.estimation.taylor) on synthetic microdata.

    python benchmarks/estimation.py [--rows 1000000 10000000] [--skip-samplics] [--skip-profile]
                                    [--repeat 3] [--timeout SECONDS] [--data DIR] [--out FILE]

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

and checks correctness on the 1M data: the engine's estimate and SE of y1 in each domain against samplics'
(max relative difference; the target is 1e-6).

Synthetic microdata (seeded numpy generator, written in chunks of PSUs so memory stays low) are cached as
Parquet under --data (default benchmarks/data/, git-ignored): N respondents, 200 strata of 20 PSUs each
(4,000 PSUs of unequal sizes), unequal weights, a 30-level `domain`, and 20 binary indicators y1..y20 with
stratum, PSU and domain effects on the logit scale (so design effects are real) and ~1% missing values each.

Results: benchmarks/results/estimation.json (+ estimation.md). The goal: 10M respondents x 20 indicators x 30
domains in at most 3x the floor's time and under 1 GB of peak memory.
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
GOAL_RATIO = 3.0
GOAL_GB = 1.0
SAMPLICS_ROWS = 1_000_000
TOLERANCE = 1e-6
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
    if args.run == "engine":
        out = child_engine(path, args.indicators)
    elif args.run == "floor":
        out = child_floor(path, args.indicators)
    elif args.run == "samplics":
        out = child_samplics(path)
    elif args.run == "profile":
        out = child_profile(path, args.indicators)
    else:
        raise SystemExit(f"--run {args.run}?")
    out["peak_rss_self_gb"] = round(_maxrss_self_gb(), 3)
    print("RESULT " + json.dumps(out, default=float))


def _maxrss_self_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB


# ------------------------------------------------------------------------------------------ orchestration
def measure(run: str, rows: int, data_dir: Path, timeout: float, indicators: int = INDICATORS) -> dict:
    """Run one measured thing in a fresh subprocess; wall time and its own peak RSS from wait4."""
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
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{text[-4000:]}")
    result = json.loads(lines[-1][len("RESULT "):])
    result.update(wall_seconds=round(wall, 2), peak_rss_gb=round(peak, 3), timeout=False)
    result["seconds"] = round(result["seconds"], 3)
    result["baseline_rss_gb"] = round(result.get("baseline_rss_gb", float("nan")), 3)
    print(f" {result['seconds']:.2f} s, peak RSS {peak:.3f} GB", file=sys.stderr, flush=True)
    return result


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


def compare(engine_y1: list[dict], samplics_y1: list[dict]) -> dict:
    ours = {str(r["domain"]): r for r in engine_y1}
    worst = {"estimate": 0.0, "se": 0.0}
    for r in samplics_y1:
        mine = ours[str(r["domain"])]
        for key in worst:
            worst[key] = max(worst[key], abs(mine[key] - r[key]) / abs(r[key]))
    return {"cells_compared": f"{len(samplics_y1)} (the domains and the total '_T')",
            "max_rel_diff_estimate": worst["estimate"],
            "max_rel_diff_se": worst["se"], "tolerance": TOLERANCE,
            "ok": bool(max(worst.values()) <= TOLERANCE)}


def engine_source() -> dict:
    """Which version of the engine was measured (the module changes; results must say which one)."""
    import hashlib

    path = ROOT / "indicators" / "estimation" / "taylor.py"
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

    try:
        info["samplics"] = version("samplics")
    except PackageNotFoundError:  # samplics is optional: not a project dependency
        info["samplics"] = None
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--skip-samplics", action="store_true")
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
            "repeats": "engine and floor: --repeat fresh subprocesses each, median seconds (min and all kept); "
                       "samplics and the profile: one run",
            "units": "seconds = time of the work in the child (imports and connection excluded); peak_rss_gb = "
                     "the child's ru_maxrss from wait4 (whole process, interpreter included), GB = 1e9 bytes",
            "goal": f"10M x {INDICATORS} indicators x {DOMAINS} domains: engine <= {GOAL_RATIO}x floor time "
                    f"and peak RSS < {GOAL_GB} GB",
        },
        "runs": {},
    }
    samplics = None
    if not args.skip_samplics:
        ensure_data(data_dir, SAMPLICS_ROWS)
        print(f"samplics on {SAMPLICS_ROWS:,d} rows", file=sys.stderr)
        samplics = measure("samplics", SAMPLICS_ROWS, data_dir, args.timeout)
    engine_1m_y1 = None
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
            scale = rows / SAMPLICS_ROWS
            one = samplics["seconds"] + samplics["load_seconds"]
            entry["samplics"] = {
                "measured_on_rows": SAMPLICS_ROWS,
                "measured_one_indicator_seconds": samplics["seconds"],
                "measured_load_seconds": round(samplics["load_seconds"], 3),
                "measured_peak_rss_gb": samplics["peak_rss_gb"],
                "extrapolated": True,
                "seconds_20_indicators_estimated": round(scale * (samplics["load_seconds"]
                                                                  + INDICATORS * samplics["seconds"]), 1),
                "peak_rss_gb_estimated": round(samplics["baseline_rss_gb"] + scale
                                               * (samplics["peak_rss_gb"] - samplics["baseline_rss_gb"]), 2),
                "how_scaled": f"time: (load + {INDICATORS} x the one-indicator estimate) x {scale:g} (rows / 1M); "
                              f"memory: baseline + (measured peak - baseline) x {scale:g}; only y1 on 1M "
                              f"was run ({one:.1f} s with the load)",
            }
        if rows == 10_000_000 or rows == max(rows_list):
            ok_time = (not engine["timeout"]) and engine["seconds"] <= GOAL_RATIO * floor["seconds"]
            ok_mem = None if engine["timeout"] else engine["peak_rss_gb"] < GOAL_GB
            entry["goal"] = {"within_3x_floor": ok_time, "under_1_gb": ok_mem, "met": bool(ok_time and ok_mem)}
        report["runs"][f"{rows // 1_000_000}M" if rows % 1_000_000 == 0 else str(rows)] = entry

    if samplics is not None:
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
    if engine_source()["sha256"] != report["engine_source"]["sha256"]:
        report["engine_source"]["changed_during_run"] = engine_source()
        print("WARNING: indicators/estimation/taylor.py changed during the run; rerun", file=sys.stderr)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    print(f"wrote {out} and {out.with_suffix('.md')}", file=sys.stderr)


def _strip(result: dict) -> dict:
    return {k: v for k, v in result.items() if k not in ("y1", "indicators", "cells")} | \
        ({"cells_per_indicator": result["cells"]} if "cells" in result else {})


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = ["# Estimation benchmark", "",
             f"{report['date']}; {m['nproc']} cores ({m['cpu']}), {m['ram_gb']} GB RAM, Python {m['python']}, "
             f"DuckDB {m['duckdb']} (threads={m['duckdb_threads']}), samplics {m['samplics']}.", "",
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
                     f"{entry['engine_over_floor']} | {s.get('seconds_20_indicators_estimated', '-')} | "
                     f"{s.get('peak_rss_gb_estimated', '-')} |")
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
    if "profile_1M_engine" in report:
        p = report["profile_1M_engine"]
        lines += ["", f"Profile of one 1M engine run ({p['seconds']:.1f} s):", ""]
        lines += [f"- {k}: {v:.2f} s" for k, v in p["passes_seconds"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
