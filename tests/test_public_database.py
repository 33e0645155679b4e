"""The public DuckDB of a release (indicators/public_database.py): tables, code lists, views, comments, and the
queries of docs/analysts.md. Each view is checked against a computation of its own in pandas on the release's
observations.parquet, not against its SQL."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from indicators.public_database import GAP_LABELS, PUBLIC_VIEWS, code_list_frames, write_public_database
from schemas.observations import (CONF_STATUS, OBS_STATUS, OBSERVATION_COLUMNS, SEX, UNIT_MEASURE, UNITS,
                                  URBANISATION, age_label)

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "analysts.md"
CODE_LISTS = {"OBS_STATUS", "CONF_STATUS", "UNIT_MEASURE", "SEX", "AGE", "URBANISATION"}
# the sample release holds the national questionnaire's tables (indicators.sources.national_questionnaire)
SOURCE_TABLES = {"capacity_scores", "capacity_ranks", "capacity_audit", "roadmap_stages", "roadmap_gaps",
                 "roadmap_stage_counts"}
TABLES = {"observations", "catalogue", "aggregate_groups", "group_members", "areas", "sources"} | CODE_LISTS \
    | SOURCE_TABLES
VIEWS = {"observations_labelled", "latest", "compare", "regional", "country_profile", "gaps"}
CELL = ["INDICATOR", "TIME_PERIOD", "SEX", "AGE", "URBANISATION"]
SERIES = ["INDICATOR", "REF_AREA", "SEX", "AGE", "URBANISATION"]
KEY = ["INDICATOR", "REF_AREA", "TIME_PERIOD", "SEX", "AGE", "URBANISATION"]


@pytest.fixture(scope="module")
def obs(release_folder) -> pd.DataFrame:
    """The published observations as read by pandas from the Parquet file (not from the database)."""
    return pd.read_parquet(release_folder / "observations.parquet")


@pytest.fixture(scope="module")
def areas(release_db) -> pd.DataFrame:
    return release_db.execute("SELECT * FROM areas").df()


def same_rows(view: pd.DataFrame, expected: pd.DataFrame, key: list[str]) -> None:
    """Equal frames up to row order (and integer/float/nullable dtypes)."""
    assert list(view.columns) == list(expected.columns)
    a = view.sort_values(key, ignore_index=True)
    b = expected.sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=True)


# --------------------------------------------------------------------------------------------- structure

def test_every_table_view_and_code_list_is_present(release_db):
    found = dict(release_db.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall())
    assert {n for n, t in found.items() if t == "BASE TABLE"} == TABLES
    assert {n for n, t in found.items() if t == "VIEW"} == VIEWS == set(PUBLIC_VIEWS)


def test_every_table_view_and_column_has_a_comment(release_db):
    tables = release_db.execute("SELECT table_name, comment FROM duckdb_tables() WHERE NOT internal").fetchall()
    views = release_db.execute("SELECT view_name, comment FROM duckdb_views() WHERE NOT internal").fetchall()
    assert {t for t, _ in tables} == TABLES and {v for v, _ in views} == VIEWS
    assert [name for name, comment in tables + views if not (comment or "").strip()] == []
    columns = release_db.execute("SELECT table_name, column_name, comment, data_type FROM duckdb_columns() "
                         "WHERE NOT internal").fetchall()
    assert {t for t, *_ in columns} == TABLES | VIEWS
    assert [f"{t}.{c}" for t, c, comment, _ in columns if not (comment or "").strip()] == []
    # no column typed NULL (a text column holding only nulls, e.g. sources.vintage, is VARCHAR)
    assert [f"{t}.{c}" for t, c, _, data_type in columns if data_type == "NULL"] == []
    assert "Release sample-full" in dict(tables)["observations"]


def test_a_column_without_description_stops_the_database(release_folder, release_db, tmp_path):
    frames = {name: release_db.execute(f"SELECT * FROM {name}").df()
              for name in ("catalogue", "areas", "sources", "aggregate_groups", "group_members")}
    frames["catalogue"]["undocumented"] = "x"
    with pytest.raises(ValueError, match=r"no description for column\(s\) catalogue\.undocumented"):
        write_public_database(tmp_path / "p.duckdb", release_folder / "observations.parquet", frames["catalogue"],
                              frames["areas"], {k: frames[k] for k in ("aggregate_groups", "group_members")},
                              frames["sources"], "t")


# --------------------------------------------------------------------------------------------- code lists

def test_code_lists_hold_the_schema_codes_and_every_code_used(release_db, obs):
    def table(name):
        return release_db.execute(f"SELECT * FROM {name} ORDER BY code").df()

    for name, codes in (("OBS_STATUS", OBS_STATUS), ("CONF_STATUS", CONF_STATUS)):
        got = {r.code: (r.label, r.used_for) for r in table(name).itertuples()}
        assert got == codes
    assert dict(table("UNIT_MEASURE")[["code", "label"]].values) == UNIT_MEASURE
    assert set(UNIT_MEASURE) == set(UNITS) and set(obs["UNIT_MEASURE"]) <= set(UNITS)
    assert UNIT_MEASURE["per_100k"].startswith("per 100,000")
    assert dict(table("SEX")[["code", "label"]].values) == SEX == {"_T": "Total", "F": "Female", "M": "Male"}
    assert dict(table("URBANISATION")[["code", "label"]].values) == URBANISATION \
        == {"_T": "Total", "U": "Urban", "R": "Rural"}
    ages = dict(table("AGE")[["code", "label"]].values)
    assert set(ages) == set(obs["AGE"]) | {"_T"}
    assert {"Y9T11", "Y12T14", "Y15T17"} <= set(ages)  # the survey bands of the sample
    assert ages["Y9T11"] == "9 to 11 years" and ages["Y15T17"] == "15 to 17 years" and ages["_T"] == "Total"
    for name in ("OBS_STATUS", "CONF_STATUS", "SEX", "URBANISATION"):
        column = name
        assert set(obs[column]) <= set(table(name)["code"]), name


def test_age_labels_follow_the_code_pattern():
    assert age_label("Y9T11") == "9 to 11 years"
    assert age_label("Y_LE14") == "14 years or under"
    assert age_label("Y_GE15") == "15 years or over"
    assert age_label("_T") == "Total"
    ages = code_list_frames(["Y15T17", "_T", "Y9T11", "Y_GE18", "Y12T14"])["AGE"]
    assert ages["code"].tolist() == ["_T", "Y9T11", "Y12T14", "Y15T17", "Y_GE18"]
    with pytest.raises(ValueError, match="AGE code 'Y15PLUS' has no label"):
        age_label("Y15PLUS")


def test_an_unknown_age_code_stops_the_database_naming_file_column_and_code(release_folder, release_db, tmp_path):
    parquet = tmp_path / "observations.parquet"
    odd = duckdb.connect()
    odd.execute(f"COPY (SELECT * REPLACE (CASE WHEN AGE = 'Y9T11' THEN 'Y9-11' ELSE AGE END AS AGE) "
                f"FROM read_parquet('{release_folder / 'observations.parquet'}')) TO '{parquet}' (FORMAT parquet)")
    odd.close()
    frames = {name: release_db.execute(f"SELECT * FROM {name}").df()
              for name in ("catalogue", "areas", "sources", "aggregate_groups", "group_members")}
    with pytest.raises(ValueError, match=r"observations\.parquet, column AGE: AGE code 'Y9-11' has no label"):
        write_public_database(tmp_path / "p.duckdb", parquet, frames["catalogue"], frames["areas"],
                              {k: frames[k] for k in ("aggregate_groups", "group_members")}, frames["sources"],
                              "t")


# --------------------------------------------------------------------------------------------- views

def test_observations_labelled_labels_every_row(release_folder, release_db, obs, areas):
    view = release_db.execute("SELECT * FROM observations_labelled").df()
    assert list(view.columns[:len(OBSERVATION_COLUMNS)]) == OBSERVATION_COLUMNS
    assert len(view) == len(obs)
    labels = ["indicator_name", "group_name", "area_name", "area_type", "unit_label", "sex_label", "age_label",
              "urbanisation_label", "obs_status_label", "conf_status_label"]
    assert list(view.columns[len(OBSERVATION_COLUMNS):]) == labels
    assert view[labels].notna().all().all()
    catalogue = pd.read_parquet(release_folder / "catalogue.parquet", columns=["code", "name", "group_name"])
    expected = obs.merge(catalogue.rename(columns={"code": "INDICATOR", "name": "indicator_name"}),
                         on="INDICATOR", how="left")
    expected = expected.merge(areas[["ref_area", "name", "type"]].rename(
        columns={"ref_area": "REF_AREA", "name": "area_name", "type": "area_type"}), on="REF_AREA", how="left")
    expected["unit_label"] = expected["UNIT_MEASURE"].map(UNIT_MEASURE)
    expected["sex_label"] = expected["SEX"].map(SEX)
    expected["age_label"] = expected["AGE"].map(age_label)
    expected["urbanisation_label"] = expected["URBANISATION"].map(URBANISATION)
    expected["obs_status_label"] = expected["OBS_STATUS"].map(lambda c: OBS_STATUS[c][0])
    expected["conf_status_label"] = expected["CONF_STATUS"].map(lambda c: CONF_STATUS[c][0])
    same_rows(view, expected[list(view.columns)], KEY)


def test_latest_is_the_latest_period_with_a_value(release_db, obs):
    view = release_db.execute("SELECT * FROM latest").df()
    assert list(view.columns) == OBSERVATION_COLUMNS
    with_value = obs[obs["OBS_VALUE"].notna()]
    expected = with_value.sort_values("TIME_PERIOD").groupby(SERIES, as_index=False).tail(1)
    same_rows(view, expected, SERIES)
    assert not view.duplicated(SERIES).any() and view["OBS_VALUE"].notna().all()
    # a series whose last year is blank gives the last year with a value
    last = obs.groupby(SERIES)["TIME_PERIOD"].transform("max")
    blank_last = obs[(obs["TIME_PERIOD"] == last) & obs["OBS_VALUE"].isna()]
    shown = view.merge(blank_last[SERIES + ["TIME_PERIOD"]], on=SERIES, suffixes=("", "_blank"))
    assert len(shown) > 0 and (shown["TIME_PERIOD"] < shown["TIME_PERIOD_blank"]).all()


def test_compare_ranks_countries_with_a_value_highest_first(release_db, obs, areas):
    view = release_db.execute("SELECT * FROM compare").df()
    assert list(view.columns) == [
        "INDICATOR", "indicator_name", "group_name", "UNIT_MEASURE", "TIME_PERIOD", "SEX", "AGE", "URBANISATION",
        "REF_AREA", "area_name", "itu_region", "itu_region_name", "income_group", "OBS_VALUE", "STD_ERR",
        "CI_LOWER", "CI_UPPER", "CV", "N_UNWEIGHTED", "OBS_STATUS", "CONF_STATUS", "COMMENT_OBS", "SYNTHETIC",
        "SOURCE_ID", "rank", "n_ranked"]
    countries = set(areas.loc[areas["type"] == "country", "ref_area"])
    expected = obs[obs["REF_AREA"].isin(countries)].copy()
    assert len(view) == len(expected) and set(view["REF_AREA"]) <= countries
    # rank: competition ranking ('min'), descending, among the cells with a value
    expected["rank"] = expected.groupby(CELL)["OBS_VALUE"].rank(method="min", ascending=False)
    expected["n_ranked"] = expected.groupby(CELL)["OBS_VALUE"].transform("count")
    got = view.merge(expected[KEY + ["rank", "n_ranked", "OBS_VALUE"]], on=KEY, suffixes=("", "_hand"))
    assert len(got) == len(view)
    assert (got["rank"].isna() == got["OBS_VALUE"].isna()).all()
    assert (got["rank"].fillna(-1) == got["rank_hand"].fillna(-1)).all()
    assert (got["n_ranked"] == got["n_ranked_hand"]).all()
    # by hand for one cell: BC.1 in 2023 (the sample has a tie at rank 2)
    bc1 = obs[(obs["INDICATOR"] == "BC.1") & (obs["TIME_PERIOD"] == 2023) & obs["REF_AREA"].isin(countries)
              & obs["OBS_VALUE"].notna()]
    values = sorted(bc1["OBS_VALUE"], reverse=True)
    for row in view[(view["INDICATOR"] == "BC.1") & (view["TIME_PERIOD"] == 2023)].itertuples():
        assert row.rank == 1 + sum(v > row.OBS_VALUE for v in values) and row.n_ranked == len(values)
    assert got.groupby(CELL)["rank"].apply(lambda r: r.duplicated().any()).any()  # ties share a rank somewhere
    names = dict(zip(areas["ref_area"], areas["name"]))
    assert (view["area_name"] == view["REF_AREA"].map(names)).all()
    regions = dict(zip(areas["ref_area"], areas["itu_region"]))
    assert (view["itu_region"].fillna("") == view["REF_AREA"].map(regions).fillna("")).all()


def test_regional_holds_the_group_values(release_db, obs, areas):
    view = release_db.execute("SELECT * FROM regional").df()
    assert list(view.columns) == OBSERVATION_COLUMNS + ["area_name", "classification"]
    groups = release_db.execute("SELECT group_code, group_name, classification FROM aggregate_groups").df()
    expected = obs.merge(groups.rename(columns={"group_code": "REF_AREA", "group_name": "area_name"}),
                         on="REF_AREA")
    same_rows(view, expected, KEY)
    assert len(view) > 0 and {"WLD", "ITU_AFR", "LDC", "WB_HIC"} <= set(view["REF_AREA"])


def test_country_profile_sets_the_latest_total_beside_its_region_and_the_world(release_db, obs, areas):
    view = release_db.execute("SELECT * FROM country_profile").df()
    assert list(view.columns) == [
        "REF_AREA", "area_name", "INDICATOR", "indicator_name", "group_name", "UNIT_MEASURE", "TIME_PERIOD",
        "OBS_VALUE", "CI_LOWER", "CI_UPPER", "OBS_STATUS", "CONF_STATUS", "COMMENT_OBS", "SYNTHETIC",
        "itu_region", "itu_region_name", "region_value", "region_status", "world_value", "world_status"]
    totals = obs[(obs["SEX"] == "_T") & (obs["AGE"] == "_T") & (obs["URBANISATION"] == "_T")]
    country = areas[areas["type"] == "country"].rename(columns={"ref_area": "REF_AREA"})
    latest = (totals[totals["REF_AREA"].isin(country["REF_AREA"]) & totals["OBS_VALUE"].notna()]
              .sort_values("TIME_PERIOD").groupby(["REF_AREA", "INDICATOR"], as_index=False).tail(1))
    expected = latest.merge(country[["REF_AREA", "itu_region"]], on="REF_AREA")
    region = totals[["INDICATOR", "TIME_PERIOD", "REF_AREA", "OBS_VALUE", "OBS_STATUS"]].rename(
        columns={"REF_AREA": "itu_region", "OBS_VALUE": "region_value", "OBS_STATUS": "region_status"})
    world = totals[totals["REF_AREA"] == "WLD"][["INDICATOR", "TIME_PERIOD", "OBS_VALUE", "OBS_STATUS"]].rename(
        columns={"OBS_VALUE": "world_value", "OBS_STATUS": "world_status"})
    expected = (expected.merge(region, on=["INDICATOR", "TIME_PERIOD", "itu_region"], how="left")
                .merge(world, on=["INDICATOR", "TIME_PERIOD"], how="left"))
    cols = ["REF_AREA", "INDICATOR", "TIME_PERIOD", "OBS_VALUE", "CI_LOWER", "CI_UPPER", "OBS_STATUS",
            "region_value", "region_status", "world_value", "world_status"]
    same_rows(view[cols], expected[cols], ["REF_AREA", "INDICATOR"])
    # by hand: Kenya's Internet use against the ITU_AFR and WLD rows of observations for the same year
    [ken] = view[(view["REF_AREA"] == "KEN") & (view["INDICATOR"] == "BC.1")].itertuples()
    assert ken.itu_region == "ITU_AFR" and ken.itu_region_name == "Africa" and ken.area_name == "Kenya"
    hand = dict(release_db.execute("SELECT REF_AREA, OBS_VALUE FROM observations WHERE INDICATOR = 'BC.1' AND "
                           "REF_AREA IN ('ITU_AFR', 'WLD') AND TIME_PERIOD = ? AND SEX = '_T' AND AGE = '_T' "
                           "AND URBANISATION = '_T'", [ken.TIME_PERIOD]).fetchall())
    assert (ken.region_value, ken.world_value) == (hand["ITU_AFR"], hand["WLD"])
    assert ken.region_value is not None and ken.world_status == "A"
    # a survey indicator: the region row exists but is withheld for coverage, so its status says why
    survey = view[(view["REF_AREA"] == "KEN") & (view["INDICATOR"] == "PA.3")].iloc[0]
    assert pd.isna(survey["region_value"]) and survey["region_status"] == "L"


def test_gaps_are_the_gpi_and_urg_rows(release_db, obs, areas):
    view = release_db.execute("SELECT * FROM gaps").df()
    assert list(view.columns) == [
        "INDICATOR", "base_indicator", "gap", "gap_label", "REF_AREA", "area_name", "area_type", "TIME_PERIOD",
        "OBS_VALUE", "STD_ERR", "CI_LOWER", "CI_UPPER", "OBS_STATUS", "CONF_STATUS", "COMMENT_OBS", "SYNTHETIC"]
    rows = obs[obs["INDICATOR"].str.contains(r"_(?:GPI|URG)$")].copy()
    assert len(rows) > 0 and len(view) == len(rows) and not view.duplicated(["INDICATOR", "REF_AREA",
                                                                             "TIME_PERIOD"]).any()
    rows["base_indicator"] = rows["INDICATOR"].str.rsplit("_", n=1).str[0]
    rows["gap"] = rows["INDICATOR"].str.rsplit("_", n=1).str[1]
    rows["gap_label"] = rows["gap"].map(GAP_LABELS)
    rows = rows.merge(areas[["ref_area", "name", "type"]].rename(
        columns={"ref_area": "REF_AREA", "name": "area_name", "type": "area_type"}), on="REF_AREA", how="left")
    same_rows(view, rows[list(view.columns)], ["INDICATOR", "REF_AREA", "TIME_PERIOD"])
    assert set(view["gap_label"]) == {"gender parity index (F/M)", "urban-rural difference (percentage points)"}
    derived = dict(release_db.execute("SELECT code, derived_from FROM catalogue WHERE derived_from IS NOT NULL").fetchall())
    assert all(derived[i] == b for i, b in zip(view["INDICATOR"], view["base_indicator"]))
    # a country's GPI is its girls' value over its boys' value: the published (rounded) numbers agree up to
    # the GPI's own rounding (0.005) and the largest effect of rounding the two cells (half a unit each)
    decimals = dict(release_db.execute("SELECT code, decimals FROM catalogue").fetchall())
    gpi = view[(view["gap"] == "GPI") & (view["area_type"] == "country") & view["OBS_VALUE"].notna()]
    cells = obs[(obs["AGE"] == "_T") & (obs["URBANISATION"] == "_T")].set_index(
        ["INDICATOR", "REF_AREA", "TIME_PERIOD", "SEX"])["OBS_VALUE"]
    assert len(gpi) > 0
    for row in gpi.itertuples():
        girls, boys = (cells[(row.base_indicator, row.REF_AREA, row.TIME_PERIOD, sex)] for sex in ("F", "M"))
        half = 0.5 * 10.0 ** -decimals[row.base_indicator]
        bound = 0.005 + (girls + half) / (boys - half) - girls / boys + 1e-9
        assert abs(row.OBS_VALUE - girls / boys) <= bound, row
    # and an urban-rural gap is urban minus rural, up to the rounding of the three numbers
    urg = view[(view["gap"] == "URG") & (view["area_type"] == "country") & view["OBS_VALUE"].notna()]
    cells = obs[(obs["AGE"] == "_T") & (obs["SEX"] == "_T")].set_index(
        ["INDICATOR", "REF_AREA", "TIME_PERIOD", "URBANISATION"])["OBS_VALUE"]
    assert len(urg) > 0
    for row in urg.itertuples():
        urban, rural = (cells[(row.base_indicator, row.REF_AREA, row.TIME_PERIOD, u)] for u in ("U", "R"))
        assert abs(row.OBS_VALUE - (urban - rural)) <= 1.5 * 10.0 ** -decimals[row.base_indicator] + 1e-9, row


# --------------------------------------------------------------------------------------------- the guide

def guide_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S)


def test_the_guide_has_at_least_eight_example_queries():
    assert len(guide_queries()) >= 8


@pytest.mark.parametrize("number", range(len(guide_queries())))
def test_every_query_of_the_analysts_guide_returns_rows(release_db, number):
    query = guide_queries()[number]
    rows = release_db.execute(query).fetchall()
    assert len(rows) >= 1, f"docs/analysts.md, sql block {number + 1} returned no row:\n{query}"


def test_the_release_database_opens_read_only_from_a_copy(release_folder, tmp_path):
    """What the guide tells analysts: a read-only connection to the file (here a copy) sees the views."""
    copy = tmp_path / "cop_indicators.duckdb"
    shutil.copy(release_folder / "cop_indicators.duckdb", copy)
    con = duckdb.connect(str(copy), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM latest").fetchall()[0][0] > 0
        with pytest.raises(duckdb.Error):
            con.execute("CREATE TABLE t (a INTEGER)")
    finally:
        con.close()
