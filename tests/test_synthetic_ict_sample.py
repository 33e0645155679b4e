"""Checks on the SYNTHETIC ICT sample (data/sample/ict_country_year.csv) and its generator."""

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from indicators.synthetic.ict_sample import (
    COLUMNS,
    DEFAULT_OUTPUT,
    DEFAULT_SEED,
    ICT_COLUMNS,
    UN_MEMBERS_CSV,
    generate_ict_sample,
    read_un_members,
    write_ict_sample,
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
COCO_TSV = SHARED_DATA / "classifications" / "coco_country_data.tsv"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    # Read the committed file as a consumer would: empty cell = missing, "NA" is not missing.
    return pd.read_csv(DEFAULT_OUTPUT, keep_default_na=False, na_values=[""])


def test_regeneration_is_byte_identical(tmp_path):
    out = write_ict_sample(tmp_path / "ict_country_year.csv", seed=DEFAULT_SEED)
    assert _sha256(out) == _sha256(DEFAULT_OUTPUT)


def test_other_seed_gives_other_numbers():
    a = generate_ict_sample(DEFAULT_SEED)
    b = generate_ict_sample(DEFAULT_SEED + 1)
    assert not a["internet_users_pct"].equals(b["internet_users_pct"])


def test_shape_and_keys(sample):
    assert list(sample.columns) == COLUMNS
    assert len(sample) == 193 * 25 == 4825
    assert sample["ref_area"].nunique() == 193
    assert set(sample["ref_area"]) == set(read_un_members()["iso3"])
    assert sorted(sample["year"].unique()) == list(range(2000, 2025))
    assert not sample.duplicated(["ref_area", "year"]).any()
    assert sample.equals(sample.sort_values(["ref_area", "year"], ignore_index=True))


def test_un_member_reference_file():
    members = read_un_members()
    assert list(members.columns) == ["iso3", "iso2", "m49", "name"]
    assert len(members) == members["iso3"].nunique() == 193
    assert members["iso3"].is_monotonic_increasing
    assert (members["iso2"].str.len() == 2).all() and (members["m49"].str.len() == 3).all()
    assert members.loc[members["iso3"] == "NAM", "iso2"].item() == "NA"
    assert members["name"].str.strip().ne("").all()


@pytest.mark.shared_data
@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"shared data folder absent: {SHARED_DATA}")
def test_un_members_match_country_converter_table():
    coco = pd.read_csv(COCO_TSV, sep="\t", keep_default_na=False, dtype=str)
    coco_members = set(coco.loc[coco["UNmember"] != "", "ISO3"])
    assert set(pd.read_csv(UN_MEMBERS_CSV, dtype=str, keep_default_na=False)["iso3"]) == coco_members


def test_bounds(sample):
    internet = sample["internet_users_pct"].dropna()
    assert internet.between(0, 100).all()
    for col in ICT_COLUMNS:
        assert (sample[col].dropna() >= 0).all(), col
    assert (sample["mobile_cellular_per_100"].dropna() < 500).all()
    assert (sample["fixed_broadband_per_100"].dropna() < 100).all()
    assert (sample["mobile_broadband_per_100"].dropna() < 500).all()
    pops = sample[["population_total", "population_0_14"]]
    assert (pops.dropna(how="all").stack() > 0).all()
    both = pops.dropna()
    assert (both["population_0_14"] < both["population_total"]).all()
    # Population is nearly complete: only a few cells may be missing.
    assert pops.isna().sum().max() <= 5


def test_missing_share(sample):
    for col in ICT_COLUMNS:
        values = sample[col]
        if col == "mobile_broadband_per_100":
            # Before 2007 it is missing by design (series start); count gaps after that.
            values = values[sample["year"] >= 2007]
        share = values.isna().mean()
        assert 0.03 <= share <= 0.15, (col, share)
    assert sample.loc[sample["year"] < 2007, "mobile_broadband_per_100"].isna().all()


def test_internet_use_grows(sample):
    wide = sample.pivot(index="ref_area", columns="year", values="internet_users_pct")
    both = wide[[2005, 2024]].dropna()
    assert len(both) > 100
    assert (both[2024] > both[2005]).mean() >= 0.9
