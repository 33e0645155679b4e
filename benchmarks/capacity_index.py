"""Benchmark of the capacity index's Monte Carlo (NC.11, indicators/sources/national_questionnaire/
capacity_index.py) on a synthetic questionnaire round.

    python benchmarks/capacity_index.py [--countries 191] [--items 40] [--draws 10000] [--rounds 1]
                                        [--repeat 3] [--timeout SECONDS] [--out FILE]

What it measures, each repeat in a fresh subprocess (the median of --repeat reported, every run kept):

  monte_carlo_ranks  the whole uncertainty analysis of the default configuration (weights ~ Dirichlet(20 x 5 x
                     nominal), arithmetic or geometric, three missing-answer treatments) with --draws draws:
                     pillar scores of each treatment, the draws, D x countries overall scores, the ranks in
                     every draw, medians and percentiles; the figure of the goal
  capacity_scores    the deterministic index (pillars and overall, the release table), for scale
  pillar_audit       Cronbach's alpha and the pillar-overall correlations, for scale

Time is the work inside the child (imports and the synthetic frame excluded). Memory: the child's peak RSS
(ru_maxrss, whole process, interpreter and pandas included) read right after the timed calls, the RSS before
them, and, in the first child only, tracemalloc's peak of one more monte_carlo_ranks call (what the call itself
allocates, numpy arrays included; tracemalloc starts after the peak RSS was read). MB = 10^6 bytes.

The first child also checks the Monte Carlo's nominal columns against the deterministic index: SCORE equal to
overall_scores exactly and RANK equal to pandas' rank(method="min", ascending=False) of it.

Synthetic round (seeded numpy generator): --countries countries, --items items spread evenly over the five GCA
pillars, half answered on a yes / partial / no scale and half on a 1-5 level scale, scores driven by a country
capacity and a country-pillar effect (so pillars are coherent, as real answers are), "don't know" on 8 % of the
items and a blank rate per country drawn between 0 and 30 % (so a few countries fall below the availability
threshold). Nothing is written but --out (default benchmarks/results/capacity_index.json).

The goal (issue 14): 10,000 draws for 191 countries "in seconds": at most 5 s for monte_carlo_ranks.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MODULE = ROOT / "indicators" / "sources" / "national_questionnaire" / "capacity_index.py"
SEED = 20091117
FIRST_ROUND = 2009
DONT_KNOW_RATE = 0.08
MAX_BLANK_RATE = 0.30
GOAL_SECONDS = 5.0
MB = 1e6


# ----------------------------------------------------------------------------------------------- the data
def synthetic_items(countries: int, items: int, rounds: int, seed: int = SEED):
    """item_scores of the Q14 contract for `rounds` rounds of `countries` responding countries."""
    import numpy as np
    import pandas as pd

    from schemas.national_questionnaire import GCA_PILLARS

    rng = np.random.default_rng(seed)
    pillar = np.array([GCA_PILLARS[i % len(GCA_PILLARS)] for i in range(items)])
    levels = np.where(np.arange(items) % 2 == 0, 3, 5)  # yes/partial/no (0, 0.5, 1) or 1-5 ((k-1)/4)
    frames = []
    for r in range(rounds):
        capacity = rng.uniform(0.1, 0.9, countries)[:, None]
        pillar_effect = rng.normal(0.0, 0.15, (countries, len(GCA_PILLARS)))
        latent = capacity + pillar_effect[:, np.arange(items) % len(GCA_PILLARS)] + rng.normal(0, 0.2,
                                                                                           (countries, items))
        score = np.round(np.clip(latent, 0, 1) * (levels - 1)) / (levels - 1)
        blank_rate = rng.uniform(0.0, MAX_BLANK_RATE, countries)[:, None]
        draw = rng.random((countries, items))
        status = np.where(draw < DONT_KNOW_RATE, "dont_know",
                          np.where(draw < DONT_KNOW_RATE + blank_rate, "unanswered", "answered"))
        frames.append(pd.DataFrame({
            "country": np.repeat([f"C{c:03d}" for c in range(countries)], items),
            "round": FIRST_ROUND + 15 * r,
            "pillar": np.tile(pillar, countries),
            "item": np.tile([f"Q{i + 1}" for i in range(items)], countries),
            "status": status.ravel(),
            "score": np.where(status == "answered", score, np.nan).ravel()}))
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------------- the measured child
def _rss_mb(field: str = "VmRSS:") -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024 / MB
    return float("nan")


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB


def child(args) -> dict:
    from indicators.sources.national_questionnaire.capacity_index import (
        IndexConfig, MonteCarloConfig, capacity_scores, monte_carlo_ranks, overall_scores, pillar_audit,
        pillar_scores)

    items = synthetic_items(args.countries, args.items, args.rounds)
    config = IndexConfig(monte_carlo=MonteCarloConfig(draws=args.draws))
    baseline = _rss_mb()
    t0 = time.perf_counter()
    ranks = monte_carlo_ranks(items, config)
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    capacity_scores(items, config)
    scores_seconds = time.perf_counter() - t1
    t2 = time.perf_counter()
    pillar_audit(items, config)
    audit_seconds = time.perf_counter() - t2
    out = {"seconds": seconds, "capacity_scores_seconds": scores_seconds, "pillar_audit_seconds": audit_seconds,
           "baseline_rss_mb": baseline, "peak_rss_mb": _peak_rss_mb(), "countries_ranked": int(len(ranks)),
           "draws_per_country_min": int(ranks["DRAWS"].min()) if len(ranks) else 0,
           "median_width_of_rank_interval": float((ranks["RANK_P95"] - ranks["RANK_P05"]).median())}
    if args.check:
        nominal = overall_scores(pillar_scores(items, config), config).dropna()
        nominal = nominal.set_index(["round", "country"])["overall"]
        table = ranks.set_index(["TIME_PERIOD", "REF_AREA"])
        expected_rank = nominal.groupby(level="round").rank(method="min", ascending=False).astype(int)
        out["check"] = {
            "score_equals_overall_scores_exactly": bool(len(table) == len(nominal) and
                                                        (table.loc[nominal.index, "SCORE"] == nominal).all()),
            "rank_equals_pandas_min_rank": bool((table.loc[nominal.index, "RANK"] == expected_rank).all())}
        import tracemalloc

        tracemalloc.start()
        monte_carlo_ranks(items, config)
        out["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / MB
        tracemalloc.stop()
    return out


# ------------------------------------------------------------------------------------------ orchestration
def measure(args, check: bool) -> dict:
    """One child in a fresh subprocess, stopped after --timeout; its RESULT line parsed."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--run", "--countries", str(args.countries),
           "--items", str(args.items), "--draws", str(args.draws), "--rounds", str(args.rounds)]
    if check:
        cmd.append("--check")
    with tempfile.TemporaryFile("w+") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = proc.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)   # its own session: the child and anything it started
            proc.wait()
            raise SystemExit(f"{' '.join(cmd)}: stopped after {args.timeout:.0f} s") from None
        wall = time.perf_counter() - t0
        log.seek(0)
        text = log.read()
    lines = [line for line in text.splitlines() if line.startswith("RESULT ")]
    if code != 0 or not lines:
        raise SystemExit(f"{' '.join(cmd)} failed ({code}):\n{text[-4000:]}")
    result = json.loads(lines[-1][len("RESULT "):])
    result["wall_seconds"] = wall
    print(f"  monte_carlo_ranks {result['seconds']:.2f} s, peak RSS {result['peak_rss_mb']:.0f} MB",
          file=sys.stderr, flush=True)
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}


def machine() -> dict:
    from importlib.metadata import version

    mem = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal:"))
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": round(mem * 1024 / 1e9, 1),
            "python": platform.python_version(), "numpy": version("numpy"), "pandas": version("pandas"),
            "platform": platform.platform()}


def git_state() -> dict:
    """The commit measured and whether the work tree differed from it (read-only git calls)."""
    def git(*args):
        done = subprocess.run(["git", "--no-optional-locks", "-C", str(ROOT), *args], capture_output=True,
                              text=True)
        return done.stdout.strip() if done.returncode == 0 else None

    changes = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD"), "dirty": None if changes is None else bool(changes)}


def module_source() -> dict:
    """Which version of the module was measured (it was not committed when first measured)."""
    return {"path": str(MODULE.relative_to(ROOT)), "sha256": hashlib.sha256(MODULE.read_bytes()).hexdigest()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--countries", type=int, default=191)
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--draws", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="fresh subprocesses; the median time is reported")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before a child is stopped")
    parser.add_argument("--out", default=str(HERE / "results" / "capacity_index.json"))
    parser.add_argument("--run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print("RESULT " + json.dumps(child(args)))
        return

    source = module_source()
    print(f"capacity index: {args.countries} countries x {args.items} items x {args.rounds} round(s), "
          f"{args.draws:,d} draws", file=sys.stderr)
    runs = [measure(args, check=(i == 0)) for i in range(args.repeat)]
    times = sorted(r["seconds"] for r in runs)
    median = round(float(statistics.median(times)), 3)
    report = {
        "benchmark": "benchmarks/capacity_index.py",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git": git_state(),
        "module_source": source,
        "machine": machine(),
        "setup": {
            "countries": args.countries, "items": args.items, "items_per_pillar": args.items / 5,
            "rounds": args.rounds, "draws": args.draws, "seed": SEED, "dont_know_rate": DONT_KNOW_RATE,
            "blank_rate_per_country": f"uniform(0, {MAX_BLANK_RATE})",
            "config": "IndexConfig defaults (equal weights, arithmetic, dont_know_as_no, min_answered_share 0.6; "
                      "Monte Carlo seed 2009, concentration 20, both aggregations, three treatments)",
            "units": "seconds of the call in the child (imports and data generation excluded), median of the "
                     "repeats; peak_rss_mb = the child's ru_maxrss after the timed calls (whole process); "
                     "traced_peak_mb = tracemalloc peak of one more monte_carlo_ranks call (first child); MB = 1e6 B",
            "goal": f"{args.draws:,d} draws x {args.countries} countries: monte_carlo_ranks <= {GOAL_SECONDS:g} s",
        },
        "monte_carlo_ranks": {
            "seconds": median, "seconds_min": times[0], "seconds_all": [r["seconds"] for r in runs],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "baseline_rss_mb": max(r["baseline_rss_mb"] for r in runs),
            "traced_peak_mb": runs[0]["traced_peak_mb"],
            "countries_ranked": runs[0]["countries_ranked"],
            "median_width_of_rank_interval": runs[0]["median_width_of_rank_interval"],
        },
        "capacity_scores_seconds": statistics.median(r["capacity_scores_seconds"] for r in runs),
        "pillar_audit_seconds": statistics.median(r["pillar_audit_seconds"] for r in runs),
        "check": runs[0]["check"],
        "goal_met": median <= GOAL_SECONDS,
        "runs": runs,
    }
    if module_source() != source:
        report["module_source"]["changed_during_run"] = True
        print("WARNING: capacity_index.py changed during the run; rerun", file=sys.stderr)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"monte_carlo_ranks median {median:.2f} s (goal <= {GOAL_SECONDS:g} s: "
          f"{'met' if report['goal_met'] else 'NOT met'}); wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
