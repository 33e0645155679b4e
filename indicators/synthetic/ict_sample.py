"""SYNTHETIC ICT country-year sample: generated numbers, NOT ITU (or any other) data.

Why this exists: the default build must run self-contained, with no download and no
licensed input, and still exercise every step of the pipeline (ingest, validation,
aggregation, gap handling). This module makes a plausible-looking but entirely invented
panel for the 193 UN member states (data/reference/un_member_states.csv), 2000-2024:

- internet_users_pct        percent of population, logistic adoption curve, ceiling 75-99
- mobile_cellular_per_100   logistic from 1-60 in 2000 to a ceiling 80-170 (a few to 250)
- fixed_broadband_per_100   0 until a start year 2000-2008, then growing to 0.1-45
- mobile_broadband_per_100  missing before 2007 (ITU series start), then growing to 10-150
- population_total          persons, base 2000 log-uniform 100 thousand to 120 million
                            (rough real sizes for the ten largest), growing 0-3 %/yr
- population_0_14           persons aged 0-14, a share of 12-45 % declining slowly

About 5-10 % of the ICT values are blanked in runs (late reporting start, 1-3 year gaps,
latest years not yet reported) so that gap handling is exercised; the population columns
lose only a few cells. Nothing here describes a real country: only the codes and names are
real. The output is a deterministic function of the seed (byte-identical CSV).

Run ``python -m indicators.synthetic.ict_sample`` (or this file) to rewrite
data/sample/ict_country_year.csv.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_SEED = 20261128
REPO_ROOT = Path(__file__).resolve().parents[2]
UN_MEMBERS_CSV = REPO_ROOT / "data" / "reference" / "un_member_states.csv"
DEFAULT_OUTPUT = REPO_ROOT / "data" / "sample" / "ict_country_year.csv"

COLUMNS = [
    "ref_area",
    "ref_area_name",
    "year",
    "internet_users_pct",
    "mobile_cellular_per_100",
    "fixed_broadband_per_100",
    "mobile_broadband_per_100",
    "population_total",
    "population_0_14",
]
ICT_COLUMNS = COLUMNS[3:7]
MOBILE_BROADBAND_FIRST_YEAR = 2007  # ITU's active mobile-broadband series starts in 2007
# Rough real orders of magnitude (persons, 2000) for the largest few, so that population-
# weighted aggregates are dominated by the usual countries; every other size is random.
LARGEST_POPULATIONS_2000 = {
    "CHN": 1.26e9, "IND": 1.06e9, "USA": 2.8e8, "IDN": 2.1e8, "BRA": 1.75e8,
    "RUS": 1.46e8, "PAK": 1.5e8, "BGD": 1.3e8, "JPN": 1.27e8, "NGA": 1.2e8,
}


def _adoption(years, start_year, start_value, ceiling, midpoint, steepness):
    """Logistic adoption rescaled to equal start_value at start_year and approach ceiling.

    A plain logistic with an early midpoint would already be far above zero in 2000;
    rescaling pins the first value wherever we want it and keeps the curve monotone.
    All parameter arrays have one value per country (column vector); years is a row.
    """
    def logistic(t):
        return 1.0 / (1.0 + np.exp(-steepness * (t - midpoint)))

    l0 = logistic(start_year)
    share = np.clip((logistic(years) - l0) / (1.0 - l0), 0.0, None)
    return start_value + (ceiling - start_value) * share


def _blank_runs(rng, shape, first_col=0):
    """Boolean mask of missing cells in runs, for a (countries, years) array.

    Three realistic patterns, each drawn independently per country: a late reporting start,
    one gap of 1-3 years, and the latest 1-2 years not yet reported. Columns before first_col
    are left alone (they are handled by the caller, e.g. structural missingness).
    """
    n, m = shape
    span = m - first_col
    mask = np.zeros(shape, dtype=bool)
    late = rng.random(n) < 0.20
    late_len = rng.integers(2, 9, size=n)
    gap = rng.random(n) < 0.30
    gap_len = rng.integers(1, 4, size=n)
    gap_pos = rng.integers(0, span, size=n)
    tail = rng.random(n) < 0.10
    tail_len = rng.integers(1, 3, size=n)
    for i in range(n):
        if late[i]:
            mask[i, first_col : first_col + late_len[i]] = True
        if gap[i]:
            start = first_col + gap_pos[i]
            mask[i, start : start + gap_len[i]] = True
        if tail[i]:
            mask[i, m - tail_len[i] :] = True
    return mask


def read_un_members(path: Path = UN_MEMBERS_CSV) -> pd.DataFrame:
    # keep_default_na=False: Namibia's iso2 "NA" must not become NaN.
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def generate_ict_sample(
    seed: int = DEFAULT_SEED, first_year: int = 2000, last_year: int = 2024
) -> pd.DataFrame:
    """Return the SYNTHETIC panel, one row per UN member state and year, sorted."""
    rng = np.random.default_rng(seed)
    members = read_un_members().sort_values("iso3", ignore_index=True)
    n = len(members)
    years = np.arange(first_year, last_year + 1)
    m = len(years)
    t = years[np.newaxis, :].astype(float)

    def per_country(low, high):
        return rng.uniform(low, high, size=(n, 1))

    # Internet use: 0-10 % in the first year, S-curve to a 75-99 % ceiling.
    internet = _adoption(
        t, first_year, per_country(0.1, 10.0), per_country(75.0, 99.0),
        per_country(2005.0, 2022.0), per_country(0.25, 0.6),
    )
    internet = np.clip(internet + rng.normal(0.0, 0.3, size=(n, m)), 0.0, 100.0)

    # Mobile cellular: faster, earlier S-curve; a few countries (multi-SIM markets) overshoot.
    mobile_ceiling = per_country(80.0, 170.0)
    high_sim = rng.random((n, 1)) < 0.04
    mobile_ceiling = np.where(high_sim, per_country(170.0, 250.0), mobile_ceiling)
    mobile = _adoption(
        t, first_year, per_country(1.0, 60.0), mobile_ceiling,
        per_country(2002.0, 2012.0), per_country(0.3, 0.8),
    )
    mobile = np.clip(mobile + rng.normal(0.0, 1.0, size=(n, m)), 0.0, None)

    # Fixed broadband: zero until a start year, then slow growth to a log-uniform ceiling
    # (0.1 to 45 per 100 spans the real range from least to most connected).
    fb_start = rng.integers(2000, 2009, size=(n, 1)).astype(float)
    fb_ceiling = np.exp(per_country(np.log(0.1), np.log(45.0)))
    fixed = _adoption(
        t, fb_start - 1.0, 0.0, fb_ceiling, fb_start + per_country(3.0, 12.0),
        per_country(0.2, 0.6),
    )
    fixed = np.where(t < fb_start, 0.0, fixed)

    # Mobile broadband: structurally missing before 2007, then fast growth to 10-150.
    mobile_bb = _adoption(
        t, MOBILE_BROADBAND_FIRST_YEAR - 1.0, 0.0, per_country(10.0, 150.0),
        per_country(2011.0, 2020.0), per_country(0.3, 0.8),
    )
    mobile_bb = np.where(t < MOBILE_BROADBAND_FIRST_YEAR, np.nan, mobile_bb)

    # Population: log-uniform size between 100 thousand and 120 million (the ten countries above that
    # take rough real sizes below), steady compound growth; 0-14 share declines slowly.
    pop_base = np.exp(per_country(np.log(1e5), np.log(1.2e8)))
    known = members["iso3"].map(LARGEST_POPULATIONS_2000).to_numpy(dtype=float)[:, np.newaxis]
    pop_base = np.where(np.isnan(known), pop_base, known)
    growth = per_country(0.0, 0.03)
    population = np.rint(pop_base * (1.0 + growth) ** (t - first_year))
    share_0_14 = per_country(0.12, 0.45) * (1.0 - per_country(0.0, 0.012)) ** (t - first_year)
    population_0_14 = np.rint(population * np.clip(share_0_14, 0.12, None))

    # Missing values in runs; mobile broadband only from 2007 (earlier is already missing).
    ict = {"internet_users_pct": internet, "mobile_cellular_per_100": mobile,
           "fixed_broadband_per_100": fixed, "mobile_broadband_per_100": mobile_bb}
    mb_first_col = int(np.clip(MOBILE_BROADBAND_FIRST_YEAR - first_year, 0, m))
    for name in ICT_COLUMNS:
        first_col = mb_first_col if name == "mobile_broadband_per_100" else 0
        ict[name] = np.where(_blank_runs(rng, (n, m), first_col), np.nan, ict[name])
    # Only a handful of population cells go missing (3 each), as in real sources.
    for arr in (population, population_0_14):
        cells = rng.choice(n * m, size=3, replace=False)
        arr.flat[cells] = np.nan

    df = pd.DataFrame({
        "ref_area": np.repeat(members["iso3"].to_numpy(), m),
        "ref_area_name": np.repeat(members["name"].to_numpy(), m),
        "year": np.tile(years, n).astype(int),
    })
    for name in ICT_COLUMNS:
        df[name] = ict[name].ravel().round(4)
    df["population_total"] = pd.array(population.ravel(), dtype="Int64")
    df["population_0_14"] = pd.array(population_0_14.ravel(), dtype="Int64")
    return df[COLUMNS].sort_values(["ref_area", "year"], ignore_index=True)


def write_ict_sample(path: Path = DEFAULT_OUTPUT, seed: int = DEFAULT_SEED) -> Path:
    """Write the sample CSV; fixed float format and line ending make it byte-reproducible."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    generate_ict_sample(seed).to_csv(path, index=False, lineterminator="\n", float_format="%.4f")
    return path


if __name__ == "__main__":
    print(write_ict_sample())
