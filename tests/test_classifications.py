"""The country classifications in data/reference and the groups built from them.

Counts are the published ones (193 UN members, ITU region sizes, 44 LDCs, 32 LLDCs, 37 UN-member SIDS, World Bank
FY2025 85/54/51/26); the derived files are compared with their public sources in ../shared/data when that folder
is present, and broken copies of the files must fail with file, row, column and rule.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pycountry
import pytest

from indicators.classifications import countries_table, load_classifications
from indicators.errors import InputError
from indicators.reference import load_reference_tables
from schemas.classifications import classification_violations, un_member_codes, validate_classification
from schemas.ict import REFERENCE_DIR

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "classifications"
CLASSIFICATION_TABLES = ["countries", "m49_regions", "itu_regions", "development_status", "wb_income_groups"]


def read(name: str, folder: Path = REFERENCE_DIR) -> pd.DataFrame:
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False)


def shared(name: str, **kwargs) -> pd.DataFrame:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"shared classification file absent: {path}")
    return pd.read_csv(path, dtype=str, keep_default_na=False, **kwargs)


@pytest.fixture(scope="module")
def warehouse():
    con = duckdb.connect(":memory:")
    counts = load_classifications(con)
    yield con, counts
    con.close()


def members(con, group_code: str) -> set[str]:
    return {r[0] for r in con.execute("SELECT iso3 FROM reference.group_members WHERE group_code = ?",
                                      [group_code]).fetchall()}


# ------------------------------------------------------------------------------------------- countries
def test_countries_csv_is_regenerated_from_pycountry():
    committed = read("countries.csv")
    regenerated = countries_table()
    pd.testing.assert_frame_equal(committed, regenerated,
                                  obj="countries.csv is stale: run `python -m indicators.classifications`")


def test_countries_are_iso_3166_plus_xkx_and_chi():
    countries = read("countries.csv")
    assert len(countries) == 251
    iso = {c.alpha_3: (c.alpha_2, c.numeric) for c in pycountry.countries}
    assert len(iso) == 249
    listed = {r.iso3: (r.iso2, r.m49) for r in countries.itertuples() if r.iso3 not in ("XKX", "CHI")}
    assert listed == iso
    assert countries.set_index("iso3").loc[["XKX", "CHI"], ["iso2", "m49"]].eq("").all().all()
    assert countries.loc[countries["iso3"] == "NAM", "iso2"].item() == "NA"  # not NaN
    assert (countries["un_member"] == "true").sum() == 193


@pytest.mark.shared_data
def test_iso_codes_equal_the_shared_pycountry_file():
    path = SHARED / "pycountry_iso3166-1.json"
    if not path.exists():
        pytest.skip(f"shared file absent: {path}")
    entries = json.loads(path.read_text(encoding="utf-8"))["3166-1"]
    expected = {e["alpha_3"]: (e["alpha_2"], e["numeric"]) for e in entries}
    countries = read("countries.csv")
    listed = {r.iso3: (r.iso2, r.m49) for r in countries.itertuples() if r.iso3 not in ("XKX", "CHI")}
    assert listed == expected


@pytest.mark.shared_data
def test_un_membership_equals_country_converter():
    coco = shared("coco_country_data.tsv", sep="\t")
    expected = set(coco.loc[coco["UNmember"] != "", "ISO3"])
    countries = read("countries.csv")
    assert set(countries.loc[countries["un_member"] == "true", "iso3"]) == expected
    assert len(expected) == 193


# ----------------------------------------------------------------------------------------- M49 regions
@pytest.mark.shared_data
def test_m49_regions_equal_datasets_country_codes():
    source = shared("datasets_country-codes.csv")
    def pad(codes: pd.Series) -> pd.Series:  # the file writes 2, 15, 34; ours 002, 015, 034
        return codes.map(lambda v: v.zfill(3) if v else "")

    expected = pd.DataFrame({
        "iso3": source["ISO3166-1-Alpha-3"], "region_code": pad(source["Region Code"]),
        "region_name": source["Region Name"], "subregion_code": pad(source["Sub-region Code"]),
        "subregion_name": source["Sub-region Name"], "intermediate_code": pad(source["Intermediate Region Code"]),
        "intermediate_name": source["Intermediate Region Name"]})
    expected = expected[expected["region_code"] != ""].set_index("iso3").sort_index()
    m49 = read("m49_regions.csv").set_index("iso3")
    assert set(m49.index) == set(expected.index)
    for iso3, row in m49.iterrows():
        assert row.to_dict() == expected.loc[iso3].to_dict(), iso3
    assert sorted(set(source["ISO3166-1-Alpha-3"]) - set(m49.index)) == ["ATA"]  # M49 has no region for it


def test_m49_counts():
    m49 = read("m49_regions.csv")
    assert len(m49) == 248
    assert m49.groupby("region_code").size().to_dict() == {"002": 60, "009": 29, "019": 57, "142": 51, "150": 51}
    assert un_member_codes() <= set(m49["iso3"])


# ----------------------------------------------------------------------------------------- ITU regions
def test_every_un_member_in_exactly_one_itu_region():
    itu = read("itu_regions.csv")
    assert itu["iso3"].is_unique
    assert un_member_codes() <= set(itu["iso3"])
    assert set(itu["iso3"]) - un_member_codes() == {"PSE", "VAT"}  # State of Palestine, Holy See


def test_itu_region_counts_match_the_itu_page():
    """The ITU page counts ITU Member States (UN members less Palau, plus the Holy See):
    Africa 44, Americas 35, Arab States 21, Asia & Pacific 38, CIS 9, Europe 46 = 193."""
    itu = read("itu_regions.csv")
    itu_members = (un_member_codes() - {"PLW"}) | {"VAT"}
    on_page = itu[itu["iso3"].isin(itu_members)].groupby("itu_region_code").size().to_dict()
    assert on_page == {"ITU_AFR": 44, "ITU_AMS": 35, "ITU_ARB": 21, "ITU_ASP": 38, "ITU_CIS": 9, "ITU_EUR": 46}
    assert sum(on_page.values()) == 193
    in_file = itu.groupby("itu_region_code").size().to_dict()
    assert in_file == {"ITU_AFR": 44, "ITU_AMS": 35, "ITU_ARB": 22, "ITU_ASP": 39, "ITU_CIS": 9, "ITU_EUR": 46}


def test_itu_doubtful_cases_are_as_documented():
    region = read("itu_regions.csv").set_index("iso3")["itu_region_code"]
    cis = set(region[region == "ITU_CIS"].index)
    assert cis == {"ARM", "AZE", "BLR", "KAZ", "KGZ", "RUS", "TJK", "TKM", "UZB"}
    assert region[["GEO", "MDA", "UKR", "CYP", "ISR", "TUR", "VAT"]].eq("ITU_EUR").all()
    assert region[["COM", "DJI", "MRT", "SOM", "SDN", "PSE"]].eq("ITU_ARB").all()
    assert region[["PLW", "IRN", "AFG", "MNG"]].eq("ITU_ASP").all()


# ---------------------------------------------------------------------------------- development status
def test_development_status_counts():
    status = read("development_status.csv")
    assert len(status) == 248
    assert (status["ldc"] == "true").sum() == 44
    assert (status["lldc"] == "true").sum() == 32
    assert (status["sids"] == "true").sum() == 37
    assert status["developed"].value_counts().to_dict() == {"developing": 183, "developed": 65}
    developed = set(status.loc[status["developed"] == "developed", "iso3"])
    assert {"JPN", "ISR", "CYP", "USA", "CAN", "AUS", "NZL", "RUS"} <= developed
    assert not {"TUR", "KOR", "SGP", "CHN"} & developed
    both = status[(status["developed"] == "developed") & (status["lldc"] == "true")]
    assert sorted(both["iso3"]) == ["MDA", "MKD"]  # documented in development_status.yaml


@pytest.mark.shared_data
def test_ldc_lldc_sids_against_un_m49_republication():
    source = shared("datasets_country-codes.csv").set_index("ISO3166-1-Alpha-3")
    status = read("development_status.csv").set_index("iso3")
    def flagged(frame: pd.DataFrame, column: str, mark: str) -> set:
        return set(frame.index[frame[column] == mark])

    ldc_m49 = flagged(source, "Least Developed Countries (LDC)", "x")
    ldc = flagged(status, "ldc", "true")
    assert len(ldc_m49) == 45
    # the republication lags: Sao Tome and Principe graduated on 13 December 2024
    assert ldc_m49 - ldc == {"STP"} and not ldc - ldc_m49
    assert flagged(status, "lldc", "true") == flagged(source, "Land Locked Developing Countries (LLDC)", "x")
    sids_m49 = flagged(source, "Small Island Developing States (SIDS)", "x")
    assert flagged(status, "sids", "true") == sids_m49 & un_member_codes()
    assert sorted(sids_m49 - un_member_codes()) == [  # non-members: not flagged here (states only)
        "ABW", "AIA", "ASM", "BES", "COK", "CUW", "GUM", "MNP", "MSR", "NCL", "NIU", "PRI", "PYF", "SXM", "VGB",
        "VIR"]


# ------------------------------------------------------------------------------------ WB income groups
def test_wb_income_groups():
    income = read("wb_income_groups.csv")
    assert income["income_group_code"].value_counts().to_dict() == {"HIC": 85, "UMC": 54, "LMC": 51, "LIC": 26}
    assert set(income["fiscal_year"]) == {"FY2025"}
    assert "VEN" not in set(income["iso3"])  # unclassified by the World Bank
    code = income.set_index("iso3")["income_group_code"]
    assert code["CHI"] == "HIC" and code["XKX"] == "UMC"


@pytest.mark.shared_data
def test_wb_income_groups_equal_wdi_metadata():
    wdi = shared("wdi_country_metadata_2024.csv")
    wdi = wdi[wdi["IncomeGroup"] != ""].set_index("Country Code")["IncomeGroup"]
    income = read("wb_income_groups.csv").set_index("iso3")["income_group_name"]
    assert income.sort_index().to_dict() == wdi.sort_index().to_dict()


# -------------------------------------------------------------------------------- warehouse and groups
def test_load_writes_the_tables(warehouse):
    con, counts = warehouse
    assert counts == {"reference.countries": 251, "reference.m49_regions": 248, "reference.itu_regions": 195,
                      "reference.development_status": 248, "reference.wb_income_groups": 216,
                      "reference.aggregate_groups": 45, "reference.group_members": 1623}
    for name, n in counts.items():
        assert con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] == n


def test_aggregate_groups(warehouse):
    con, _ = warehouse
    groups = con.execute("SELECT * FROM reference.aggregate_groups").df()
    assert list(groups.columns) == ["group_code", "group_name", "classification", "vintage", "source"]
    assert groups["group_code"].is_unique
    assert {"WLD", "ITU_AFR", "ITU_AMS", "ITU_ARB", "ITU_ASP", "ITU_CIS", "ITU_EUR", "M49_002", "M49_019",
            "M49_142", "M49_150", "M49_009", "M49_202", "M49_014", "LDC", "LLDC", "SIDS", "DEVELOPED",
            "DEVELOPING", "WB_HIC", "WB_UMC", "WB_LMC", "WB_LIC"} <= set(groups["group_code"])
    assert groups.groupby("classification").size().to_dict() == {
        "itu_region": 6, "m49_developed_developing": 2, "m49_intermediate": 7, "m49_region": 5,
        "m49_subregion": 17, "un_ldc": 1, "un_lldc": 1, "un_sids": 1, "wb_income": 4, "world": 1}
    assert (groups["vintage"].str.len() > 0).all() and (groups["source"].str.len() > 0).all()
    assert groups.set_index("group_code").loc["M49_202", "group_name"] == "Sub-Saharan Africa"
    sizes = dict(con.execute("SELECT group_code, count(*) FROM reference.group_members GROUP BY 1").fetchall())
    assert set(sizes) == set(groups["group_code"])  # no empty group, no member of an undeclared group
    assert {k: sizes[k] for k in ("WLD", "LDC", "LLDC", "SIDS", "WB_HIC", "WB_UMC", "WB_LMC", "WB_LIC")} == {
        "WLD": 250, "LDC": 44, "LLDC": 32, "SIDS": 37, "WB_HIC": 85, "WB_UMC": 54, "WB_LMC": 51, "WB_LIC": 26}


def test_group_members_are_consistent(warehouse):
    con, _ = warehouse
    pairs = con.execute("SELECT group_code, iso3 FROM reference.group_members").df()
    assert not pairs.duplicated().any()
    countries = {r[0] for r in con.execute("SELECT iso3 FROM reference.countries").fetchall()}
    assert set(pairs["iso3"]) <= countries
    world = members(con, "WLD")
    assert world == countries - {"CHI"}
    def per_member(classification: str) -> pd.Series:
        """Number of groups of one classification each country belongs to."""
        codes = con.execute("SELECT group_code FROM reference.aggregate_groups WHERE classification = ?",
                            [classification]).df()["group_code"]
        return pairs[pairs["group_code"].isin(codes)].groupby("iso3").size()

    itu, m49 = per_member("itu_region"), per_member("m49_region")
    for iso3 in un_member_codes():
        assert itu.get(iso3) == 1, f"{iso3} is in {itu.get(iso3, 0)} ITU regions"
        assert m49.get(iso3) == 1, f"{iso3} is in {m49.get(iso3, 0)} M49 regions"
    developed, developing = members(con, "DEVELOPED"), members(con, "DEVELOPING")
    with_status = {r[0] for r in con.execute("SELECT iso3 FROM reference.development_status").fetchall()}
    assert not developed & developing
    assert developed | developing == world & with_status
    assert set(pairs.loc[pairs["iso3"] == "XKX", "group_code"]) == {"WLD", "WB_UMC"}
    assert set(pairs.loc[pairs["iso3"] == "CHI", "group_code"]) == {"WB_HIC"}


def test_load_reference_tables_includes_the_classifications():
    con = duckdb.connect(":memory:")
    counts = load_reference_tables(con)
    assert counts["reference.un_member_states"] == 193
    assert counts["reference.aggregate_groups"] == 45
    assert counts["reference.group_members"] == 1623
    con.close()


# --------------------------------------------------------------------------------------- broken files
@pytest.fixture
def reference_copy(tmp_path) -> Path:
    folder = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, folder)
    return folder


def _broken(folder: Path) -> InputError:
    con = duckdb.connect(":memory:")
    with pytest.raises(InputError) as raised:
        load_classifications(con, folder)
    tables = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    assert tables == []  # nothing written when a file is invalid
    con.close()
    return raised.value


def test_duplicated_iso3_names_file_row_column_rule(reference_copy):
    path = reference_copy / "itu_regions.csv"
    lines = path.read_text().splitlines()
    fra = next(i for i, line in enumerate(lines, start=1) if line.startswith("FRA,"))
    path.write_text("\n".join([*lines, "FRA,ITU_EUR,Europe"]) + "\n")
    error = _broken(reference_copy)
    duplicate = [v for v in error.violations if "unique" in v.rule]
    assert len(duplicate) == 2  # both lines are reported, each pointing at the other
    last = next(v for v in duplicate if v.row == len(lines) + 1)
    assert last.file.endswith("itu_regions.csv") and last.column == "iso3" and last.value == "FRA"
    assert last.rule == f"iso3 must be unique: also at row(s) {fra}"
    assert "itu_regions.csv, row" in str(error)


def test_unknown_region_code_names_file_row_column_rule(reference_copy):
    path = reference_copy / "itu_regions.csv"
    lines = path.read_text().splitlines()
    row = next(i for i, line in enumerate(lines, start=1) if line.startswith("KEN,"))
    lines[row - 1] = "KEN,ITU_XXX,Africa"
    path.write_text("\n".join(lines) + "\n")
    error = _broken(reference_copy)
    by_column = {v.column: v for v in error.violations if v.row == row}
    assert by_column["itu_region_code"].rule.startswith("itu_region_code must be one of ['ITU_AFR'")
    assert by_column["itu_region_code"].value == "ITU_XXX"
    assert by_column["itu_region_code"].file.endswith("itu_regions.csv")
    assert by_column["itu_region_name"].rule == "itu_region_name: the ITU name of itu_region_code"


def test_missing_un_member_and_bad_codes_in_other_files(reference_copy):
    itu = read("itu_regions.csv", reference_copy)
    itu[itu["iso3"] != "NPL"].to_csv(reference_copy / "itu_regions.csv", index=False)
    m49 = read("m49_regions.csv", reference_copy)
    m49.loc[m49["iso3"] == "KEN", "subregion_code"] = "015"  # Northern Africa: name and hierarchy now wrong
    m49.to_csv(reference_copy / "m49_regions.csv", index=False)
    wb = read("wb_income_groups.csv", reference_copy)
    wb.loc[0, "iso3"] = "ZZZ"
    wb.to_csv(reference_copy / "wb_income_groups.csv", index=False)
    error = _broken(reference_copy)
    rules = {(Path(v.file).name, v.row, v.column, v.rule): v.value for v in error.violations}
    assert rules[("itu_regions.csv", None, "iso3", "every UN member state is in exactly one ITU region")] == "NPL"
    ken = m49.index[m49["iso3"] == "KEN"].item() + 2
    assert ("m49_regions.csv", ken, "subregion_name", "subregion_name: the M49 name of subregion_code") in rules
    assert ("wb_income_groups.csv", 2, "iso3",
            "iso3 is known to ISO 3166-1 (pycountry) or mapped in country_code_exceptions.csv") in rules


def test_validate_classification_raises_input_error():
    status = read("development_status.csv")
    status.loc[status["iso3"] == "FRA", "ldc"] = "true"  # a developed country cannot be an LDC
    with pytest.raises(InputError) as raised:
        validate_classification("development_status", status, "data/reference/development_status.csv")
    row = status.index[status["iso3"] == "FRA"].item() + 2
    found = {(v.row, v.column, v.rule) for v in raised.value.violations}
    assert (row, "developed", "developed: an LDC or SIDS is a developing country") in found
    assert (row, "iso3", "iso3: LDC, LLDC and SIDS flags are kept for UN member states only") not in found
    assert classification_violations("development_status", read("development_status.csv"), "x") == []
