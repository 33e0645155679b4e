"""A build from the real public files in ../shared/data (data/manifests/shared_data.yaml), checked against the
files themselves read independently with pandas, and against figures the World Bank publishes."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from pipelines.definitions import ASSET_CHECKS, ASSETS
from pipelines.resources import default_resources

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MANIFEST = REPO / "data" / "manifests" / "shared_data.yaml"
pytestmark = pytest.mark.skipif(not (SHARED / "ict").is_dir(), reason="../shared/data is not present")


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    out = tmp_path_factory.mktemp("real")
    (out / "no_mappings").mkdir()  # ICT, population and incidents only: survey deliveries are tested elsewhere
    resources = default_resources(sources_dir=SHARED, manifest=MANIFEST, published_dir=out / "published",
                                  warehouse=out / "warehouse.duckdb", release_id="real-test",
                                  mappings_dir=out / "no_mappings")
    result = dg.materialize([*ASSETS, *ASSET_CHECKS], resources=resources)
    assert result.success
    obs = pd.read_parquet(out / "published" / "real-test" / "observations.parquet")
    con = duckdb.connect(str(out / "warehouse.duckdb"), read_only=True)
    yield obs, con
    con.close()


def value(obs: pd.DataFrame, code: str, area: str, year: int) -> pd.Series:
    row = obs[(obs.INDICATOR == code) & (obs.REF_AREA == area) & (obs.TIME_PERIOD == year)
              & (obs.SEX == "_T") & (obs.AGE == "_T") & (obs.URBANISATION == "_T")]
    assert len(row) == 1, (code, area, year)
    return row.iloc[0]


def wdi_internet() -> pd.DataFrame:
    return pd.read_csv(SHARED / "ict" / "wdi_IT.NET.USER.ZS_wide_2024.csv", encoding="utf-8-sig")


def wb_population() -> pd.Series:
    frame = pd.read_csv(SHARED / "ict" / "population_total_wb.csv")
    return frame.set_index(["Country Code", "Year"])["Value"]


def test_internet_use_of_countries_equals_the_wdi_file(real):
    obs, _ = real
    wdi = wdi_internet().set_index("Country Code")
    for area, year in [("BRA", 2020), ("IND", 2019), ("NGA", 2022), ("DEU", 2015), ("KEN", 2010)]:
        expected = round(float(wdi.loc[area, str(year)]), 2)
        assert value(obs, "BC.1", area, year).OBS_VALUE == pytest.approx(expected, abs=1e-9), (area, year)
        assert value(obs, "BC.1", area, year).SOURCE_ID == "wdi_IT.NET.USER.ZS_wide_2024"


def test_ncmec_totals_per_year_are_kept_whole(real):
    obs, con = real
    totals = pd.read_csv(SHARED / "cop" / "ncmec_ocse-reports-per-year.csv").set_index("year")["reports"]
    countries = obs[(obs.INDICATOR == "IR.12") & (obs.REF_AREA.str.len() == 3)
                    & ~obs.REF_AREA.isin(["WLD", "LDC"])]
    unattributed = con.execute("SELECT year, sum(reports) FROM staging.incident_reports_unattributed "
                               "GROUP BY 1").df().set_index("year").iloc[:, 0]
    for year in range(2019, 2024):
        published = countries.loc[countries.TIME_PERIOD == year, "OBS_VALUE"].sum()
        # every report of the year is either attributed to a country and published, or set aside (No Country
        # Listed, 'Europe', Netherlands Antilles), and the two add up to NCMEC's own yearly total
        assert published + unattributed[year] == totals[year], year
    assert value(obs, "IR.12", "IND", 2023).OBS_VALUE == 8_923_738
    assert totals[2023] == 36_210_368


def test_report_rates_use_the_world_bank_population(real):
    obs, _ = real
    population = wb_population()
    reports = pd.read_csv(SHARED / "cop" / "ncmec_ocse-reports-per-country.csv", thousands=",",
                          keep_default_na=False, na_values=[""]).set_index("iso3")
    expected = round(reports.loc["IND", "2023"] / population[("IND", 2023)] * 100_000, 1)
    assert value(obs, "IR.15", "IND", 2023).OBS_VALUE == pytest.approx(expected)
    # per Internet user: BC.1 / 100 x population; the WDI file has India's Internet use up to 2020 only, so
    # there is no rate per Internet user for 2021-2023 (nothing is carried forward)
    users = wdi_internet().set_index("Country Code").loc["IND", "2020"] / 100 * population[("IND", 2020)]
    expected = round(reports.loc["IND", "2020"] / users * 100_000, 1)
    assert value(obs, "IR.16", "IND", 2020).OBS_VALUE == pytest.approx(expected)
    assert not ((obs.INDICATOR == "IR.16") & (obs.REF_AREA == "IND") & (obs.TIME_PERIOD > 2020)).any()


def world_internet_by_hand(year: int) -> tuple[float, float]:
    """BC.1 for the world, as the registry says: WDI first, then OWID, population-weighted over WLD members."""
    members = pd.read_csv(REPO / "data" / "reference" / "countries.csv", dtype=str, keep_default_na=False)
    members = set(members.loc[members.iso3 != "CHI", "iso3"]) | {"XKX"}
    wdi = wdi_internet().set_index("Country Code")[str(year)].dropna()
    owid = pd.read_csv(SHARED / "ict" / "owid_ict_adoption_per_100_people.csv")
    owid = owid[(owid.Year == year) & owid.Code.notna()].assign(Code=lambda f: f.Code.replace({"OWID_KOS": "XKX"}))
    owid = owid.set_index("Code")["Individuals using the Internet (% of population)"].dropna()
    internet = pd.concat([wdi, owid[~owid.index.isin(wdi.index)]])
    population = wb_population().xs(year, level="Year")
    population = population[population.index.isin(members)]
    reporting = population[population.index.isin(internet.index)]
    weighted = (internet.reindex(reporting.index) * reporting).sum() / reporting.sum()
    return weighted, reporting.sum() / population.sum()


@pytest.mark.parametrize("year", [2010, 2015, 2020])
def test_world_internet_use_is_the_population_weighted_mean_by_hand(real, year):
    obs, _ = real
    expected, coverage = world_internet_by_hand(year)
    world = value(obs, "BC.1", "WLD", year)
    assert world.OBS_VALUE == pytest.approx(round(expected, 2), abs=1e-9)
    assert world.COVERAGE == pytest.approx(coverage, abs=1e-12)
    assert world.OBS_STATUS == "A"


def test_group_values_are_close_to_the_world_banks_published_aggregates(real):
    """Published figures: WDI's own WLD and LDC rows. The World Bank fills gaps by imputation, we do not, so
    the two agree where coverage is near complete (and drift apart where it is not, e.g. WLD 2022)."""
    obs, _ = real
    wdi = wdi_internet().set_index("Country Code")
    for area, ours, year, tolerance in [("WLD", "WLD", 2010, 0.1), ("WLD", "WLD", 2015, 0.15),
                                        ("WLD", "WLD", 2020, 0.5), ("LDC", "LDC", 2022, 0.05),
                                        ("HIC", "WB_HIC", 2022, 0.3)]:
        published = float(wdi.loc[area, str(year)])
        assert value(obs, "BC.1", ours, year).OBS_VALUE == pytest.approx(published, abs=tolerance), (area, year)


def test_low_coverage_is_withheld_and_growth_follows_the_group_level(real):
    obs, _ = real
    # 2023: fewer than half of the world's people live in economies with a 2023 value in these files
    latest = value(obs, "BC.1", "WLD", 2023)
    assert latest.OBS_STATUS == "L" and pd.isna(latest.OBS_VALUE) and latest.COVERAGE < 0.5
    change = value(obs, "BC.10", "WLD", 2020)
    level = {y: value(obs, "BC.1", "WLD", y).OBS_VALUE for y in (2019, 2020)}
    assert change.OBS_VALUE == pytest.approx(level[2020] - level[2019], abs=0.011)  # rounded levels


def test_world_report_count_adds_up_every_attributed_country(real):
    obs, con = real
    members = set(con.execute("SELECT iso3 FROM reference.group_members WHERE group_code = 'WLD'").df()["iso3"])
    countries = obs[(obs.INDICATOR == "IR.12") & obs.REF_AREA.isin(members)]
    for year in range(2019, 2024):
        assert value(obs, "IR.12", "WLD", year).OBS_VALUE == countries.loc[countries.TIME_PERIOD == year,
                                                                          "OBS_VALUE"].sum()


def test_every_row_of_the_real_release_keeps_the_publication_rules(real):
    """The checks of tests/test_published_observations.py on the real-data release: rounding by hand, CV in
    percent, status codes, and group values from at least 3 published country cells, recomputed."""
    from test_published_observations import check_release  # tests/ is on sys.path (pytest prepend mode)

    _, con = real
    warehouse = Path(con.execute("SELECT file FROM pragma_database_list WHERE name = current_database()")
                     .fetchone()[0])
    checked = check_release(warehouse.parent / "published" / "real-test", warehouse)
    assert checked["rounding"] > 40_000 and checked["groups"] > 500
