"""indicators.explore on a whole sample release: every table against a hand computation on observations.parquet,
name resolution, the errors a notebook user meets, the charts it draws, and the country-comparison notebook run
top to bottom in a Jupyter kernel of this interpreter."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from indicators import explore
from indicators.explore import ExploreError, ReleaseNotFoundError
from conftest import execute_notebook

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "country_comparison.ipynb"
STATISTICS = {"year": "TIME_PERIOD", "value": "OBS_VALUE", "ci_lower": "CI_LOWER", "ci_upper": "CI_UPPER",
              "std_err": "STD_ERR", "cv": "CV", "n": "N_UNWEIGHTED", "synthetic": "SYNTHETIC"}
CODES = ["OBS_STATUS", "CONF_STATUS", "SOURCE_ID", "SEX", "AGE", "URBANISATION"]


@pytest.fixture(scope="module")
def release(release_folder):
    with explore.open_release(release_folder) as opened:
        yield opened


@pytest.fixture(scope="module")
def observations(release_folder) -> pd.DataFrame:
    return pd.read_parquet(release_folder / "observations.parquet")


@pytest.fixture(scope="module")
def group_codes(release_folder) -> set[str]:
    con = duckdb.connect(str(release_folder / "cop_indicators.duckdb"), read_only=True)
    try:
        return {code for (code,) in con.execute("SELECT group_code FROM aggregate_groups").fetchall()}
    finally:
        con.close()


def cell(frame: pd.DataFrame, breakdown: str | None) -> pd.Series:
    """Rows of totals (breakdown None) or of one breakdown's categories with the other dimensions at _T."""
    mask = pd.Series(True, index=frame.index)
    for dimension in ("SEX", "AGE", "URBANISATION"):
        mask &= (frame[dimension] != "_T") if dimension == breakdown else (frame[dimension] == "_T")
    return mask


def latest_by_hand(observations, indicator, areas, breakdown=None) -> pd.DataFrame:
    """Each area's rows in its latest year in which a cell of the breakdown has a value."""
    rows = observations[(observations["INDICATOR"] == indicator) & observations["REF_AREA"].isin(areas)
                        & cell(observations, breakdown)]
    latest = rows[rows["OBS_VALUE"].notna()].groupby("REF_AREA")["TIME_PERIOD"].max()
    return rows[rows["TIME_PERIOD"] == rows["REF_AREA"].map(latest)]


def assert_same_cells(table: pd.DataFrame, expected: pd.DataFrame) -> None:
    """The explore table holds exactly the expected observations, statistic by statistic."""
    keys = ["REF_AREA", "SEX", "AGE", "URBANISATION"]
    assert len(table) == len(expected)
    merged = table.merge(expected, on=keys, how="outer", suffixes=("", "_obs"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"][keys]
    for readable, column in STATISTICS.items():
        got, want = merged[readable], merged[column]
        if readable == "n":
            got, want = got.astype("Float64"), want.astype("Float64")
        assert ((got == want) | (got.isna() & want.isna())).all(), readable
    for column in ("OBS_STATUS", "CONF_STATUS", "SOURCE_ID"):
        assert (merged[column] == merged[f"{column}_obs"]).all() | merged[column].isna().all(), column


def hand_rank(observations, group_codes, row) -> tuple[int, int]:
    """Rank (1 = highest, ties share) and count among all countries with a value in the same indicator, year and
    cell of the release."""
    same = observations[(observations["INDICATOR"] == row["INDICATOR"])
                        & (observations["TIME_PERIOD"] == row["year"]) & (observations["SEX"] == row["SEX"])
                        & (observations["AGE"] == row["AGE"]) & (observations["URBANISATION"] == row["URBANISATION"])
                        & ~observations["REF_AREA"].isin(group_codes) & observations["OBS_VALUE"].notna()]
    return int((same["OBS_VALUE"] > row["value"]).sum()) + 1, len(same)


# ------------------------------------------------------------------------------------------------------- compare

def test_compare_gives_each_countrys_latest_wave(release, observations, group_codes):
    table = release.compare("PA.3", ["KEN", "GHA", "BRA"])
    expected = latest_by_hand(observations, "PA.3", ["KEN", "GHA", "BRA"])
    assert expected["TIME_PERIOD"].nunique() > 1  # the countries' latest waves differ: the case under test
    assert_same_cells(table, expected)
    assert list(table["country"]) == list(table.sort_values("value", ascending=False)["country"])
    assert dict(zip(table["REF_AREA"], table["country"])) == {"KEN": "Kenya", "GHA": "Ghana", "BRA": "Brazil"}
    for _, row in table.iterrows():
        assert (row["rank"], row["n_ranked"]) == hand_rank(observations, group_codes, row)
        assert row["flag"] == {"A": "normal"}.get(row["OBS_STATUS"], row["flag"])
    assert table["synthetic"].all()  # survey values rest on the synthetic sample


def test_compare_without_countries_is_every_country_with_a_value(release, observations, group_codes):
    table = release.compare("BC.1")
    countries = set(observations.loc[(observations["INDICATOR"] == "BC.1") & observations["OBS_VALUE"].notna()
                                     & ~observations["REF_AREA"].isin(group_codes), "REF_AREA"])
    assert set(table["REF_AREA"]) == countries and len(countries) > 150
    assert_same_cells(table, latest_by_hand(observations, "BC.1", countries))
    assert table["value"].is_monotonic_decreasing


def test_compare_by_sex_takes_both_sexes_from_one_wave(release, observations):
    table = release.compare("PA.3", ["KEN", "GHA"], by="sex")
    assert_same_cells(table, latest_by_hand(observations, "PA.3", ["KEN", "GHA"], "SEX"))
    assert list(table["sex"]) == ["Female", "Male", "Female", "Male"]  # Ghana, then Kenya; F before M
    assert (table.groupby("REF_AREA")["year"].nunique() == 1).all()


def test_compare_by_a_crossing_gives_girls_and_boys_of_each_age_band(release, observations):
    """SA.1 publishes sex x age band: the crossed cells come from the observations as published, in code-list
    order (girls 9-11, 12-14, 15-17, then boys), each country from one wave."""
    table = release.compare("SA.1", ["KEN", "GHA"], by="sex x age")
    crossed = observations[(observations["SEX"] != "_T") & (observations["AGE"] != "_T")
                           & (observations["URBANISATION"] == "_T")]
    latest = crossed[(crossed["INDICATOR"] == "SA.1") & crossed["REF_AREA"].isin(["KEN", "GHA"])
                     & crossed["OBS_VALUE"].notna()].groupby("REF_AREA")["TIME_PERIOD"].max()
    expected = crossed[(crossed["INDICATOR"] == "SA.1") & crossed["REF_AREA"].isin(["KEN", "GHA"])
                       & (crossed["TIME_PERIOD"] == crossed["REF_AREA"].map(latest))]
    assert_same_cells(table, expected)
    kenya = table[table["REF_AREA"] == "KEN"]
    assert list(zip(kenya["SEX"], kenya["AGE"])) == [("F", "Y9T11"), ("F", "Y12T14"), ("F", "Y15T17"),
                                                     ("M", "Y9T11"), ("M", "Y12T14"), ("M", "Y15T17")]
    assert list(kenya["age"][:3]) == ["9 to 11 years", "12 to 14 years", "15 to 17 years"]
    assert release.compare("SA.1", ["KEN", "GHA"], by=["age", "sex"]).equals(table)  # any spelling, one order


def test_compare_by_age_keeps_suppressed_cells_with_their_reason(release, observations, group_codes):
    table = release.compare("IR.25", by="age")
    countries = set(observations.loc[(observations["INDICATOR"] == "IR.25")
                                     & ~observations["REF_AREA"].isin(group_codes), "REF_AREA"])
    assert_same_cells(table, latest_by_hand(observations, "IR.25", countries, "AGE"))
    blank = table[table["value"].isna()]
    assert len(blank) > 0 and set(blank["OBS_STATUS"]) <= {"Q", "L", "O"}
    assert blank["flag"].str.startswith("suppressed: ").all()
    assert blank["rank"].isna().all()
    low = table[table["OBS_STATUS"] == "U"]
    assert len(low) > 0 and low["flag"].str.startswith("low reliability").all()
    # categories in their code-list order within each country: the youngest band first
    first = table.groupby("REF_AREA").head(1)
    assert (first["AGE"] == "Y9T11").all()


def test_compare_in_a_given_year_warns_about_countries_without_it(release, observations):
    with pytest.warns(UserWarning, match=r"Mexico \(MEX\)"):
        table = release.compare("PA.3", ["KEN", "MEX"], year=2019)
    assert list(table["REF_AREA"]) == ["KEN"] and (table["year"] == 2019).all()
    expected = observations[(observations["INDICATOR"] == "PA.3") & (observations["REF_AREA"] == "KEN")
                            & (observations["TIME_PERIOD"] == 2019) & cell(observations, None)]
    assert_same_cells(table, expected)


def test_countries_by_name_case_insensitive(release):
    by_name = release.compare("pa.3", ["kenya", "GHANA", "bra"])
    by_code = release.compare("PA.3", ["KEN", "GHA", "BRA"])
    pd.testing.assert_frame_equal(by_name, by_code)
    assert release.resolve_areas(["south korea", "World", "itu_afr"]) == ["KOR", "WLD", "ITU_AFR"]


# ------------------------------------------------------------------------------ regional, profile, trend, catalogue

def test_regional_gives_each_groups_latest_value(release, observations):
    table = release.regional("BC.1", groups=["World", "ITU_AFR"])
    assert list(table["REF_AREA"]) == ["WLD", "ITU_AFR"]
    expected = latest_by_hand(observations, "BC.1", ["WLD", "ITU_AFR"])
    assert_same_cells(table.rename(columns={"group": "country"}), expected)
    merged = table.merge(expected, on="REF_AREA")
    assert np.allclose(merged["coverage"], merged["COVERAGE"])


def test_regional_blank_group_values_say_why(release, observations):
    table = release.regional("PA.3", groups=["WLD"])
    world = observations[(observations["INDICATOR"] == "PA.3") & (observations["REF_AREA"] == "WLD")
                         & cell(observations, None)]
    assert world["OBS_VALUE"].isna().all()  # too few survey countries for a world value
    assert table["year"].tolist() == [world["TIME_PERIOD"].max()]  # no value in any year: the latest year
    assert table["OBS_STATUS"].tolist() == ["L"] and table["flag"].iloc[0].startswith("withheld: ")


def test_country_profile_by_name(release, observations, group_codes):
    profile = release.country_profile("Kenya")
    totals = observations[cell(observations, None) & observations["OBS_VALUE"].notna()]
    kenya = totals[totals["REF_AREA"] == "KEN"]
    latest = kenya.loc[kenya.groupby("INDICATOR")["TIME_PERIOD"].idxmax()].set_index("INDICATOR")
    assert sorted(profile["INDICATOR"]) == sorted(latest.index)
    all_totals = observations[cell(observations, None)].set_index(["INDICATOR", "REF_AREA", "TIME_PERIOD"])
    for row in profile.itertuples():
        assert row.TIME_PERIOD == latest.loc[row.INDICATOR, "TIME_PERIOD"]
        assert row.OBS_VALUE == latest.loc[row.INDICATOR, "OBS_VALUE"]
        for area, column in (("ITU_AFR", "region_value"), ("WLD", "world_value")):
            key = (row.INDICATOR, area, row.TIME_PERIOD)
            want = all_totals.loc[key, "OBS_VALUE"] if key in all_totals.index else np.nan
            got = getattr(row, column)
            assert (pd.isna(got) and pd.isna(want)) or got == want, (row.INDICATOR, column)
    assert profile["INDICATOR"].iloc[0] == "BC.1"  # natural order: BC.1, BC.7, ..., BC.10


def test_trend_of_a_country_and_the_world(release, observations):
    table = release.trend("PA.3", ["KEN", "World"])
    expected = observations[(observations["INDICATOR"] == "PA.3") & observations["REF_AREA"].isin(["KEN", "WLD"])
                            & cell(observations, None)]
    assert len(table) == len(expected) and (table["unit"] == "percent").all()
    merged = table.merge(expected, left_on=["REF_AREA", "year"], right_on=["REF_AREA", "TIME_PERIOD"])
    assert len(merged) == len(expected)
    for readable, column in (("value", "OBS_VALUE"), ("ci_lower", "CI_LOWER"), ("coverage", "COVERAGE")):
        assert ((merged[readable] == merged[column]) | (merged[readable].isna() & merged[column].isna())).all()
    assert table["REF_AREA"].tolist() == ["KEN"] * 2 + ["WLD"] * (len(table) - 2)  # in the order asked
    assert table["year"].iloc[:2].tolist() == sorted(expected.loc[expected["REF_AREA"] == "KEN", "TIME_PERIOD"])


def test_indicators_catalogue_and_groups(release, observations):
    catalogue = release.indicators()
    counts = observations.groupby("INDICATOR").size()
    assert dict(zip(catalogue["code"], catalogue["observations"])) == {
        code: int(counts.get(code, 0)) for code in catalogue["code"]}
    pd.testing.assert_frame_equal(release.indicators("PA"), release.indicators("preventative_actions"))
    assert set(release.indicators("PA")["group_name"]) == {"preventative_actions"}
    assert catalogue.loc[catalogue["code"] == "PA.7", "data_origin"].item() == "no data"
    codes = catalogue["code"].tolist()
    assert codes.index("BC.2") < codes.index("BC.10")


# ----------------------------------------------------------------------------------------------------- errors

@pytest.mark.parametrize("call, message", [
    (lambda r: r.compare("PA.33"), r"unknown indicator 'PA.33'; close codes: PA.3"),
    (lambda r: r.compare("PA.7"), r"PA.7 \(.*\) has no data in release sample-full; .*PA.3"),
    (lambda r: r.compare("PA.3", ["Kenyaa", "Korea"]),
     r"unknown country 'Kenyaa' \(did you mean Kenya \(KEN\).*'Korea' \(did you mean .*South Korea \(KOR\)"),
    (lambda r: r.compare("PA.3", ["WLD"]), r"'WLD' is a group, not a country \(use regional\(\)"),
    (lambda r: r.regional("BC.1", groups=["Kenya"]), r"'Kenya' is a country, not a group \(use compare\(\)"),
    (lambda r: r.trend("BC.1", ["Africa"]), r"'Africa' is the name of several areas.*ITU_AFR.*M49_002"),
    (lambda r: r.compare("PA.3", by="colour"), r"by='colour': use None \(totals\), 'sex', 'age' or"),
    (lambda r: r.compare("BC.1", by="sex"), r"BC.1 has no breakdown by sex"),
    (lambda r: r.indicators("XX"), r"unknown indicator group 'XX'"),
    (lambda r: r.compare("PA.3", ["KEN"], year=1999), r"PA.3: no country observation in 1999.*2017-2024"),
    (lambda r: r.plot_compare("PA.3", ["KEN"], sex="X"), r"SEX='X': the categories of PA.3 are F, M"),
    (lambda r: r.plot_compare("PA.3", ["KEN"], sex="F", age="Y9T11"), r"PA.3 has no breakdown by sex x age"),
    (lambda r: r.compare("SA.1", by="sex x sex"), r"or a crossing such as 'sex x age'"),
])
def test_errors_say_what_to_do(release, call, message):
    with pytest.raises(ExploreError, match=message):
        call(release)


def test_no_release_says_how_to_build_one(tmp_path):
    with pytest.raises(ReleaseNotFoundError, match=r"no release at .*`make build`") as caught:
        explore.open_release(tmp_path)
    assert isinstance(caught.value, FileNotFoundError)


def test_a_release_without_views_asks_for_a_new_build(tmp_path):
    old = tmp_path / "cop_indicators.duckdb"
    con = duckdb.connect(str(old))
    con.execute("CREATE TABLE observations AS SELECT 'old-1' AS RELEASE_ID")
    con.close()
    with pytest.raises(ExploreError, match=r"release old-1 has no compare, .*Build a new release with `make build`"):
        explore.open_release(tmp_path)


def test_release_paths_and_the_environment_variable(release_folder, monkeypatch):
    database = (release_folder / "cop_indicators.duckdb").resolve()
    assert explore.release_database(release_folder) == database
    assert explore.release_database(database) == database
    assert explore.release_database(release_folder.parent) == database  # a folder of releases: its latest
    monkeypatch.setenv(explore.RELEASE_ENV, str(release_folder))
    assert explore.release_database() == database


def test_module_functions_read_the_default_release(release, release_folder, monkeypatch):
    monkeypatch.setenv(explore.RELEASE_ENV, str(release_folder))
    monkeypatch.setattr(explore, "_default", None)
    try:
        pd.testing.assert_frame_equal(explore.compare("PA.3", ["KEN", "GHA"]), release.compare("PA.3", ["KEN", "GHA"]))
        assert explore.default_release().release_id == "sample-full"
        pd.testing.assert_frame_equal(explore.indicators("SA"), release.indicators("SA"))
    finally:
        explore.default_release().close()


# ----------------------------------------------------------------------------------------------------- charts

def test_plot_compare_draws_the_compare_rows_with_reference_lines(release):
    fig = release.plot_compare("BC.1", ["KEN", "GHA", "BRA"])
    try:
        assert isinstance(fig, Figure)
        drawn = fig.chart_data.rows.set_index("REF_AREA")
        table = release.compare("BC.1", ["KEN", "GHA", "BRA"]).set_index("REF_AREA")
        assert sorted(drawn.index) == ["BRA", "GHA", "KEN"]
        assert (drawn["OBS_VALUE"] == table.loc[drawn.index, "value"]).all()
        references = fig.chart_data.references.set_index("REF_AREA")
        assert sorted(references.index) == ["ITU_AFR", "ITU_AMS", "WLD"]
        regional = release.regional("BC.1", groups=["WLD", "ITU_AFR", "ITU_AMS"]).set_index("REF_AREA")
        assert (references["OBS_VALUE"] == regional.loc[references.index, "value"]).all()
        assert fig.chart_data.source.startswith("Source: ") and "release" not in fig.chart_data.source
    finally:
        plt.close(fig)


def test_plot_compare_of_a_survey_indicator_names_the_withheld_group_values(release):
    fig = release.plot_compare("PA.3", ["KEN", "GHA", "BRA"], share=False)
    try:
        assert fig.chart_data.rows["CI_LOWER"].notna().all()  # survey values are drawn with their intervals
        assert fig.chart_data.references.empty
        assert sorted(fig.chart_data.omitted_references["REF_AREA"]) == ["ITU_AFR", "ITU_AMS", "WLD"]
    finally:
        plt.close(fig)


def test_plot_sex_gap_draws_girls_and_boys_of_each_country(release):
    fig = release.plot_sex_gap("PA.3", ["KEN", "GHA", "BRA"])
    try:
        drawn = fig.chart_data.rows
        table = release.compare("PA.3", ["KEN", "GHA", "BRA"], by="sex")
        assert len(drawn) == len(table) == 6
        merged = drawn.merge(table, on=["REF_AREA", "SEX"])
        assert (merged["OBS_VALUE"] == merged["value"]).all()
    finally:
        plt.close(fig)


def test_plot_trend_defaults_to_the_world_and_itu_regions(release, observations):
    fig = release.plot_trend("BC.1")
    try:
        areas = fig.chart_data.summary["areas"]
        assert areas[0] == "WLD" and sorted(areas[1:]) == [f"ITU_{r}" for r in ("AFR", "AMS", "ARB", "ASP",
                                                                                 "CIS", "EUR")]
        drawn = fig.chart_data.rows
        world = observations[(observations["INDICATOR"] == "BC.1") & (observations["REF_AREA"] == "WLD")
                             & cell(observations, None) & observations["OBS_VALUE"].notna()]
        assert len(drawn[drawn["REF_AREA"] == "WLD"]) == len(world)
    finally:
        plt.close(fig)


# ---------------------------------------------------------------------------------------------------- notebook

def test_committed_notebook_has_no_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code, "the notebook has no code cell"
    for index, cell_ in enumerate(code):
        assert cell_.outputs == [] and cell_.execution_count is None, f"code cell {index} was saved with outputs"


def test_notebook_runs_top_to_bottom_on_the_release(release_folder, kernel_name, monkeypatch):
    notebook = execute_notebook(NOTEBOOK, release_folder, kernel_name, monkeypatch)

    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 4  # ranked, sex gap, ranked context indicator, trend
    texts = "\n".join(o.get("data", {}).get("text/markdown", "") + o.get("text", "") for o in outputs)
    assert "Release **sample-full**" in texts  # it read the release it was pointed at
    assert Path(notebook.cells[-1].outputs[0]["text"].strip()).resolve() == Path(sys.executable).resolve()
