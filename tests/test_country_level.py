"""Country-level indicators (estimates.country_year) checked against values computed by hand from a tiny file.
The table holds unrounded values (the release rounds them once: tests/test_published_observations.py).

The input has two countries over 2008-2019: France has no row for 2013; Kenya reports 0 % Internet users in
2008 (a zero CAGR base) and no population in 2009 (a missing CAGR base).
"""

from __future__ import annotations

import pytest

from indicators.sources.ict.estimates import ESTIMATES_TABLE, compute_country_indicators
from indicators.sources.ict.harmonise import harmonise_ict
from indicators.sources.ict.reader import load_manifest, load_raw_ict
from indicators.reference import load_reference_tables
from indicators.warehouse import connect
from indicators.registry import load_registry
from indicators.sql_expressions import referenced_columns

YEARS = range(2008, 2020)
STEM = "ict_hand"

INTERNET = {
    "FRA": {2008: 70.6812, 2009: 71.5839, 2010: 77.2817, 2011: 77.8196, 2012: 81.4436, 2014: 83.7512,
            2015: 78.0109, 2016: 79.2701, 2017: 80.5029, 2018: 82.0443, 2019: 83.3397},
    "KEN": {2008: 0.0, 2009: 10.0417, 2010: 14.0023, 2011: 16.1281, 2012: 17.3826, 2013: 18.8174,
            2014: 20.3319, 2015: 16.6152, 2016: 16.7371, 2017: 17.8302, 2018: 17.8299, 2019: 22.5731},
}
POPULATION = {
    "FRA": {2008: 64374990, 2009: 64707044, 2010: 65027512, 2011: 65342776, 2012: 65659790, 2014: 66312067,
            2015: 66548530, 2016: 66724104, 2017: 66918020, 2018: 67158348, 2019: 67388001},
    "KEN": {2008: 39269988, 2010: 41517895, 2011: 42635144, 2012: 43725806, 2013: 44792368, 2014: 45831863,
            2015: 46851488, 2016: 47894670, 2017: 48948137, 2018: 49953304, 2019: 50951450},
}
MOBILE = {"FRA": {2018: 106.1177, 2019: 110.6431}, "KEN": {2018: 96.3412, 2019: 103.8769}}
FIXED_BROADBAND = {"FRA": {2018: 44.8093, 2019: 45.9966}, "KEN": {2019: 0.6571}}
MOBILE_BROADBAND = {"FRA": {2019: 91.2138}, "KEN": {2018: 41.0987, 2019: 49.7724}}

COLUMNS = {"internet_users_pct": INTERNET, "mobile_cellular_per_100": MOBILE,
           "fixed_broadband_per_100": FIXED_BROADBAND, "mobile_broadband_per_100": MOBILE_BROADBAND,
           "population_total": POPULATION}


def cop_tidy_text(data: dict[str, dict[str, dict[int, float]]]) -> str:
    """A cop_tidy CSV: one line per country-year that has at least one value; empty cells for missing ones."""
    lines = ["ref_area,year," + ",".join(data)]
    for area in ("FRA", "KEN"):
        for year in YEARS:
            cells = [data[column].get(area, {}).get(year) for column in data]
            if any(c is not None for c in cells):
                lines.append(f"{area},{year}," + ",".join("" if c is None else repr(c) for c in cells))
    return "\n".join(lines) + "\n"


def estimates(con) -> dict[str, dict[tuple[str, int], tuple[float, str, str]]]:
    """{indicator: {(ref_area, year): (OBS_VALUE, UNIT_MEASURE, SOURCE_ID)}}."""
    out: dict = {}
    for code, area, year, value, unit, source in con.execute(
            f"SELECT INDICATOR, REF_AREA, TIME_PERIOD, OBS_VALUE, UNIT_MEASURE, SOURCE_ID FROM {ESTIMATES_TABLE}"
    ).fetchall():
        out.setdefault(code, {})[(area, year)] = (value, unit, source)
    return out


def users(area: str, year: int) -> float | None:
    pct, pop = INTERNET[area].get(year), POPULATION[area].get(year)
    return None if pct is None or pop is None else pct / 100 * pop


def hand_cagr(periods: int) -> dict[tuple[str, int], float]:
    out = {}
    for area in INTERNET:
        for year in YEARS:
            now, base = users(area, year), users(area, year - periods)
            if now is not None and base:  # no base, or a zero base: no growth rate
                out[(area, year)] = 100 * ((now / base) ** (1 / periods) - 1)
    return out


@pytest.fixture
def hand_estimates(tmp_path, harmonised_warehouse):
    folder = tmp_path / "sources"
    folder.mkdir()
    (folder / f"{STEM}.csv").write_text(cop_tidy_text(COLUMNS), encoding="utf-8")
    con, _ = harmonised_warehouse(folder)
    rows = compute_country_indicators(con, load_registry())
    return rows, estimates(con)


# ------------------------------------------------------------------------------------------------- values
@pytest.mark.parametrize("code, column", [
    ("BC.1", "internet_users_pct"),
    ("BC.7", "mobile_cellular_per_100"),
    ("BC.8", "fixed_broadband_per_100"),
    ("BC.9", "mobile_broadband_per_100"),
])
def test_value_indicators_are_the_inputs_unrounded(hand_estimates, code, column):
    _, result = hand_estimates
    expected = {(area, year): v for area, series in COLUMNS[column].items() for year, v in series.items()}
    got = {key: value for key, (value, _, _) in result[code].items()}
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-9), key


def test_bc1_examples(hand_estimates):
    _, result = hand_estimates
    assert result["BC.1"][("FRA", 2008)] == (70.6812, "percent", STEM)
    assert result["BC.1"][("KEN", 2008)] == (0.0, "percent", STEM)
    assert ("FRA", 2013) not in result["BC.1"]


def test_bc10_is_annual_difference_in_percentage_points(hand_estimates):
    _, result = hand_estimates
    expected = {(area, year): series[year] - series[year - 1]
                for area, series in INTERNET.items() for year in series if year - 1 in series}
    got = result["BC.10"]
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key][0] == pytest.approx(value, abs=1e-9), key
        assert got[key][1] == "percentage_points"
    assert got[("FRA", 2015)][0] == pytest.approx(-5.7403, abs=1e-9)


def test_bc10_absent_when_previous_year_missing(hand_estimates):
    _, result = hand_estimates
    assert ("FRA", 2014) not in result["BC.10"]  # 2013 missing
    assert ("FRA", 2013) not in result["BC.10"]
    assert ("FRA", 2008) not in result["BC.10"]  # first year
    assert ("KEN", 2009) in result["BC.10"]  # a zero previous value is a valid difference


def test_bc11_is_5_year_cagr_of_users(hand_estimates):
    _, result = hand_estimates
    expected = hand_cagr(5)
    got = result["BC.11"]
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key][0] == pytest.approx(value, abs=1e-9), key
        assert got[key][1] == "percent"


def test_bc11_absent_where_base_is_missing_or_zero(hand_estimates):
    _, result = hand_estimates
    bc11 = result["BC.11"]
    assert ("FRA", 2018) not in bc11  # base 2013: no row
    assert ("KEN", 2013) not in bc11  # base 2008: 0 % users
    assert ("KEN", 2014) not in bc11  # base 2009: population missing
    assert ("KEN", 2015) in bc11 and ("FRA", 2019) in bc11


def test_bc12_is_10_year_cagr_only_where_base_exists(hand_estimates):
    _, result = hand_estimates
    expected = hand_cagr(10)
    assert expected.keys() == {("FRA", 2018), ("FRA", 2019)}  # KEN bases: 2008 zero, 2009 no population
    got = result["BC.12"]
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key][0] == pytest.approx(value, abs=1e-9), key


def test_no_growth_row_with_missing_or_zero_base(hand_estimates):
    _, result = hand_estimates
    for code, periods in (("BC.11", 5), ("BC.12", 10)):
        for area, year in result[code]:
            base = users(area, year - periods)
            assert base is not None and base > 0, (code, area, year)


def test_source_id_names_the_file_stem(hand_estimates):
    _, result = hand_estimates
    sources = {code: {source for (_, _, source) in rows.values()} for code, rows in result.items()}
    for code in ("BC.1", "BC.7", "BC.8", "BC.9", "BC.10"):
        assert sources[code] == {STEM}, code
    # users = internet_users_pct / 100 * population_total: both columns came from the same file, named once
    assert sources["BC.11"] == sources["BC.12"] == {STEM}


def test_source_id_names_each_file_once_when_an_expression_combines_two(tmp_path):
    (tmp_path / "internet.csv").write_text("ref_area,year,internet_users_pct\nFRA,2010,50\nFRA,2015,80\n")
    (tmp_path / "population.csv").write_text("ref_area,year,population_total\nFRA,2010,1000\nFRA,2015,1100\n")
    (tmp_path / "sources.yaml").write_text("sources:\n  - {file: population.csv, layout: cop_tidy}\n"
                                           "  - {file: internet.csv, layout: cop_tidy}\n")
    con = connect(tmp_path / "w.duckdb")
    try:
        load_reference_tables(con)
        load_raw_ict(con, load_manifest(tmp_path))
        harmonise_ict(con)
        compute_country_indicators(con, load_registry())
        row = con.execute(f"SELECT OBS_VALUE, SOURCE_ID FROM {ESTIMATES_TABLE} WHERE INDICATOR = 'BC.11'").fetchone()
    finally:
        con.close()
    # users 500 -> 880 over 5 years: 100 * ((880 / 500) ** (1 / 5) - 1) = 11.9570...
    assert row[0] == pytest.approx(100 * ((880 / 500) ** 0.2 - 1), rel=1e-12) and row[1] == "internet+population"


def test_rows_per_indicator_are_returned(hand_estimates):
    rows, result = hand_estimates
    assert rows == {code: len(result.get(code, {})) for code in rows}
    assert rows["BC.1"] == 23 and rows["BC.12"] == 2


# -------------------------------------------------------------------------------------------- precedence
@pytest.fixture
def two_sources(tmp_path, harmonised_warehouse):
    """z_preferred.csv is listed first in sources.yaml (not first by name) and disagrees with a_other.csv."""
    folder = tmp_path / "two"
    folder.mkdir()
    (folder / "z_preferred.csv").write_text("ref_area,year,internet_users_pct\nFRA,2020,80.1234\n",
                                            encoding="utf-8")
    (folder / "a_other.csv").write_text("ref_area,year,internet_users_pct\nKEN,2020,29.4321\nFRA,2020,75.5\n",
                                        encoding="utf-8")
    (folder / "sources.yaml").write_text("sources:\n  - file: z_preferred.csv\n    layout: cop_tidy\n"
                                         "  - file: a_other.csv\n    layout: cop_tidy\n", encoding="utf-8")
    con, _ = harmonised_warehouse(folder)
    compute_country_indicators(con, load_registry())
    return con


def test_first_listed_source_wins_in_wide_table(two_sources):
    rows = two_sources.execute("SELECT ref_area, year, internet_users_pct, internet_users_pct__source "
                               "FROM staging.ict_country_year_wide ORDER BY ref_area").fetchall()
    assert rows == [("FRA", 2020, 80.1234, "z_preferred"), ("KEN", 2020, 29.4321, "a_other")]


def test_first_listed_source_wins_in_bc1(two_sources):
    rows = two_sources.execute(f"SELECT REF_AREA, TIME_PERIOD, OBS_VALUE, SOURCE_ID FROM {ESTIMATES_TABLE} "
                               "WHERE INDICATOR = 'BC.1' ORDER BY REF_AREA").fetchall()
    assert rows == [("FRA", 2020, 80.1234, "z_preferred"), ("KEN", 2020, 29.4321, "a_other")]


def test_both_values_kept_in_staging_with_selected_flag(two_sources):
    rows = two_sources.execute("SELECT source_id, source_row, value, priority, selected "
                               "FROM staging.ict_country_year WHERE ref_area = 'FRA' AND year = 2020 "
                               "ORDER BY priority").fetchall()
    assert rows == [("z_preferred", 2, 80.1234, 0, True), ("a_other", 3, 75.5, 1, False)]


# --------------------------------------------------------------------------------------------- expressions
def test_referenced_columns_of_users_expression():
    assert referenced_columns("internet_users_pct / 100 * population_total") == [
        "internet_users_pct", "population_total"]
