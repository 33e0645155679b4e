"""SYNTHETIC NCMEC-style incident-report sample: generated numbers, NOT NCMEC (or any other) data.

Why this exists: the default build must publish the incident indicators (IR.12 CyberTipline reports, IR.15 per
100,000 inhabitants, IR.16 per 100,000 Internet users) with no download and no licensed input. This module
writes data/sample/ncmec_reports_by_country.csv in the layout of the real file transcribed from NCMEC's
"CyberTipline reports by country" tables (layout ncmec_by_country):

- ``country, iso3, 2019, 2020, 2021, 2022, 2023``, one row per UN member state (data/reference/
  un_member_states.csv), sorted by name; counts written with thousands separators ("163,120", quoted);
- a last row "No Country Listed" with an empty iso3 (reports not attributed to a country), 3-7 % of each
  year's total, as in the real tables;
- about 2 % of the cells empty (no figure that year).

Counts are Internet users x an invented report rate: the Internet users of the SYNTHETIC ICT sample
(indicators/synthetic/ict_sample.py, generated in memory with its own seed, so the two samples agree), a
per-country rate per 100,000 users log-normal around 400 (clipped to 5-20,000), a per-country trend of -10 %
to +25 % a year and year-to-year noise. Nothing here describes a real country: only the codes and names are
real. The output is a deterministic function of the seed (byte-identical CSV).

Run ``python -m indicators.synthetic.incidents_sample`` (or this file) to rewrite the sample.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from indicators.synthetic.ict_sample import DEFAULT_SEED as ICT_SEED
from indicators.synthetic.ict_sample import generate_ict_sample, read_un_members

DEFAULT_SEED = 20261129
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO_ROOT / "data" / "sample" / "ncmec_reports_by_country.csv"
YEARS = list(range(2019, 2024))
NO_COUNTRY = "No Country Listed"
HEADER = ["country", "iso3", *map(str, YEARS)]


def _fill(frame: pd.DataFrame) -> pd.DataFrame:
    """Gaps of the ICT sample filled from the nearest year, for generating counts only."""
    return frame.groupby(level=0).transform(lambda s: s.interpolate(limit_direction="both")).fillna(
        frame.mean(numeric_only=True))


def generate_incidents_sample(seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """The SYNTHETIC wide table: country, iso3 and one Int64 column per year (NA = empty cell)."""
    rng = np.random.default_rng(seed)
    members = read_un_members().sort_values("iso3", ignore_index=True)
    ict = generate_ict_sample(ICT_SEED)
    ict = ict[ict["year"].isin(YEARS)].set_index(["ref_area", "year"])
    inputs = _fill(ict[["internet_users_pct", "population_total"]].astype("float64"))
    users = (inputs["internet_users_pct"] / 100 * inputs["population_total"]).unstack("year")
    users = users.reindex(index=members["iso3"], columns=YEARS).to_numpy()
    n, m = users.shape

    rate = np.clip(np.exp(rng.normal(np.log(400.0), 1.0, size=(n, 1))), 5.0, 20_000.0)  # per 100,000 users
    trend = rng.uniform(0.90, 1.25, size=(n, 1)) ** np.arange(m)[np.newaxis, :]
    noise = np.exp(rng.normal(0.0, 0.15, size=(n, m)))
    counts = np.rint(users * rate / 100_000 * trend * noise)
    counts = np.where(rng.random((n, m)) < 0.02, np.nan, counts)

    table = pd.DataFrame({"country": members["name"], "iso3": members["iso3"]})
    for j, year in enumerate(YEARS):
        table[str(year)] = pd.array(counts[:, j], dtype="Int64")
    table = table.sort_values("country", key=lambda s: s.str.casefold(), ignore_index=True)
    share = rng.uniform(0.03, 0.07, size=m)
    unattributed = np.rint(table[[str(y) for y in YEARS]].sum().to_numpy(dtype=float) * share / (1 - share))
    table.loc[len(table)] = [NO_COUNTRY, "", *(int(v) for v in unattributed)]
    return table


def write_incidents_sample(path: Path = DEFAULT_OUTPUT, seed: int = DEFAULT_SEED) -> Path:
    """Write the sample CSV as NCMEC's tables are transcribed: "163,120" (quoted), empty cell = no figure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = generate_incidents_sample(seed)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADER)
        for row in table.itertuples(index=False):
            writer.writerow([row[0], row[1], *("" if pd.isna(v) else f"{int(v):,}" for v in row[2:])])
    return path


if __name__ == "__main__":
    print(write_incidents_sample())
