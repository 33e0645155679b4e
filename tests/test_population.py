"""Population weights from the real files: UN WPP 2017 (layout owid_entity) for ages 0-14, World Bank SP.POP.TOTL
for the total, the manifest data/manifests/shared_data.yaml, and staging.population_weights.

Expected values are read from the files independently of the ingest code (pandas, or by hand with the line
number given). Tests reading ../shared/data are skipped when it is absent.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from indicators.sources.ict.harmonise import audit_ict, harmonise_ict
from indicators.sources.ict.reader import IctSource, load_manifest, load_raw_ict, read_ict_file, read_ict_file_with_notes
from indicators.reference import load_reference_tables
from indicators.warehouse import connect
from pipelines.defs.ict import ict_values_follow_the_rules, raw_ict_country_year, staging_ict_country_year
from pipelines.defs.reference import reference_country_codes
from pipelines.resources import default_resources
from schemas.ict import FIRST_YEAR, LAST_YEAR

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
SHARED_MANIFEST = REPO / "data" / "manifests" / "shared_data.yaml"
WPP = "owid_unwpp2017_population_by_age_group.csv"
WB_POPULATION = "population_total_wb.csv"
UNDER_15 = "Under 15 years old (UNWPP, 2017)"

# the entity names of the WPP 2017 file that map to no single country: each bundles two or more economies
# the project codes separately (WB publishes SRB and XKX; GLP, BLM and MAF are ISO entries of their own)
WPP_UNMAPPED = ["Guadeloupe (including Saint-Barthélemy and Saint-Martin)", "Serbia (including Kosovo)"]


@pytest.fixture(scope="module")
def shared() -> Path:
    if not (SHARED / "ict").is_dir():
        pytest.skip(f"shared data folder absent: {SHARED} (real public files are not in the repo)")
    return SHARED


@pytest.fixture(scope="module")
def wpp_file(shared) -> pd.DataFrame:
    """The WPP file as pandas reads it (independent of the ingest), with each row's editor line."""
    frame = pd.read_csv(shared / "ict" / WPP, dtype={"Entity": str}, keep_default_na=False)
    return frame.assign(line=frame.index + 2)


@pytest.fixture(scope="module")
def wpp_read(shared):
    return read_ict_file_with_notes(IctSource(path=shared / "ict" / WPP, layout="owid_entity", priority=0,
                                              projections_from=2016))


@pytest.fixture(scope="module")
def shared_warehouse(shared, tmp_path_factory):
    """Reference, raw and staging tables of a harmonise of all six files of the shared manifest."""
    con = connect(tmp_path_factory.mktemp("population") / "w.duckdb")
    load_reference_tables(con)
    provenance = load_raw_ict(con, load_manifest(shared, SHARED_MANIFEST))
    counts = harmonise_ict(con)
    yield con, provenance, counts
    con.close()


# ------------------------------------------------------------------------------------ UN WPP 2017, 0-14
@pytest.mark.shared_data
def test_wpp_entities_mapped_aggregates_and_unmapped(wpp_file, wpp_read):
    raw, notes = wpp_read
    entities = set(wpp_file["Entity"])
    assert len(entities) == 241
    aggregates = set(yaml.safe_load((REPO / "data" / "mappings" / "ict_variables.yaml")
                                    .read_text(encoding="utf-8"))["entity_aggregates"])
    assert aggregates <= entities and len(aggregates) == 40
    assert sorted(u["entity"] for u in notes.unmapped) == WPP_UNMAPPED
    assert (notes.mapped_entities, notes.aggregate_entities, len(notes.unmapped)) == (199, 40, 2)
    mapped = raw[raw["ref_area_code"] != ""]
    assert mapped["ref_area_name"].nunique() == mapped["ref_area_code"].nunique() == 199
    assert set(raw.loc[raw["ref_area_code"] == "", "ref_area_name"]) == aggregates
    assert not set(raw["ref_area_name"]) & set(WPP_UNMAPPED)  # left out of raw, recorded instead
    for unmapped in notes.unmapped:
        rows = wpp_file[wpp_file["Entity"] == unmapped["entity"]]
        assert (unmapped["rows"], unmapped["first_row"]) == (len(rows), rows["line"].min())
        assert unmapped["rows"] == 151  # 1950-2100
        assert unmapped["value_cells"] == rows["Year"].between(FIRST_YEAR, LAST_YEAR).sum()


@pytest.mark.shared_data
@pytest.mark.parametrize("entity, code", [("Micronesia (country)", "FSM"), ("Timor", "TLS"),
                                          ("Channel Islands", "CHI"), ("Democratic Republic of Congo", "COD"),
                                          ("Congo", "COG"), ("Niger", "NER"), ("Swaziland", "SWZ")])
def test_wpp_names_map_to_the_right_code(wpp_read, entity, code):
    raw, _ = wpp_read
    assert set(raw.loc[raw["ref_area_name"] == entity, "ref_area_code"]) == {code}


@pytest.mark.shared_data
@pytest.mark.parametrize("entity", ["Southern Africa", "Micronesia (region)", "Australia/New Zealand",
                                    "Less developed regions, excluding China", "World"])
def test_wpp_regions_that_look_like_countries_are_aggregates(wpp_read, entity):
    raw, _ = wpp_read
    assert set(raw.loc[raw["ref_area_name"] == entity, "ref_area_code"]) == {""}


@pytest.mark.shared_data
def test_wpp_afghanistan_2015_under_15_is_the_file_value(wpp_file, wpp_read):
    raw, _ = wpp_read
    row = wpp_file[(wpp_file["Entity"] == "Afghanistan") & (wpp_file["Year"] == 2015)].iloc[0]
    cell = raw[(raw["ref_area_code"] == "AFG") & (raw["year"] == 2015)]
    assert len(cell) == 1
    cell = cell.iloc[0]
    assert cell["value"] == row[UNDER_15] == 15023530
    assert (cell["source_row"], cell["source_column"], cell["variable"]) == (row["line"], UNDER_15, "population_0_14")
    assert (cell["ref_area_name"], cell["code_column"], cell["year_column"]) == ("Afghanistan", "Entity", "Year")


@pytest.mark.shared_data
def test_wpp_years_outside_the_pipeline_are_dropped_and_counted(wpp_file, wpp_read):
    raw, notes = wpp_read
    assert len(wpp_file) == 36391 and wpp_file[UNDER_15].notna().all()
    projections_dropped = int((wpp_file["Year"] > LAST_YEAR).sum())
    before_dropped = int((wpp_file["Year"] < FIRST_YEAR).sum())
    assert notes.cells_after_last_year == projections_dropped == 241 * (2100 - LAST_YEAR)
    assert notes.cells_before_first_year == before_dropped == 241 * 10  # 1950-1959
    assert (raw["year"].min(), raw["year"].max()) == (FIRST_YEAR, LAST_YEAR)
    # 199 countries and 40 aggregates, every year 1960..LAST_YEAR; 2016+ kept values are projections
    assert len(raw) == 239 * (LAST_YEAR - FIRST_YEAR + 1)
    assert notes.text[0] == "values for 2016 and later are projections, not estimates"
    assert f"dropped {projections_dropped} value cells of years {LAST_YEAR + 1}-2100" in "; ".join(notes.text)


@pytest.mark.shared_data
def test_wb_population_brazil_2020_is_the_file_value(shared):
    path = shared / "ict" / WB_POPULATION
    expected = pd.read_csv(path, keep_default_na=False)
    row = expected[(expected["Country Code"] == "BRA") & (expected["Year"] == 2020)]
    raw = read_ict_file(IctSource(path=path, layout="wb_tidy", priority=0, indicator_code="SP.POP.TOTL"))
    cell = raw[(raw["ref_area_code"] == "BRA") & (raw["year"] == 2020)].iloc[0]
    assert cell["value"] == row["Value"].iloc[0] == 208660842
    assert cell["source_row"] == row.index[0] + 2 == 1947
    assert cell["variable"] == "population_total"


# --------------------------------------------------------------------------------- the shared manifest
@pytest.mark.shared_data
def test_shared_manifest_resolves_all_six_files_in_order(shared):
    sources = load_manifest(shared, SHARED_MANIFEST)
    assert [(s.path, s.layout, s.priority) for s in sources] == [
        ((shared / "ict" / "wdi_IT.NET.USER.ZS_wide_2024.csv").resolve(), "wdi_wide", 0),
        ((shared / "ict" / "wdi_IT.CEL.SETS.P2_wide_2023.csv").resolve(), "wdi_wide", 1),
        ((shared / "ict" / "owid_ict_adoption_per_100_people.csv").resolve(), "owid_tidy", 2),
        ((shared / "ict" / "owid_fixed_broadband_per_100.csv").resolve(), "owid_tidy", 3),
        ((shared / "ict" / WB_POPULATION).resolve(), "wb_tidy", 4),
        ((shared / "ict" / WPP).resolve(), "owid_entity", 5)]
    assert all(s.path.is_file() and s.description and s.licence and s.vintage for s in sources)
    assert not any(s.synthetic for s in sources)
    assert sources[4].indicator_code == "SP.POP.TOTL"
    assert sources[5].projections_from == 2016 and "PROJECTIONS" in sources[5].description


# ------------------------------------------------------------------------- harmonised shared files
@pytest.mark.shared_data
def test_shared_files_harmonise_without_violations(shared_warehouse):
    con, provenance, counts = shared_warehouse
    assert audit_ict(con) == []
    assert [p["rows"] for p in provenance] == [8320, 12400, 33453, 4031, 17195,
                                               239 * (LAST_YEAR - FIRST_YEAR + 1)]
    wpp = provenance[5]
    assert (wpp["unmapped_entities"], wpp["cells_out_of_years"]) == (2, 2410 + 241 * (2100 - LAST_YEAR))
    assert "2016 and later are projections" in wpp["notes"]
    assert sorted(r[0] for r in con.execute("SELECT entity FROM raw.unmapped_entities").fetchall()) == WPP_UNMAPPED
    assert counts["population_country_years"] == con.execute(
        "SELECT count(*) FROM staging.population_weights").fetchone()[0]


@pytest.mark.shared_data
@pytest.mark.parametrize("ref_area, year, total, under_15", [
    # population_total_wb.csv line 187 / WPP line 67
    ("AFG", 2015, 33831764, 15023530),
    # line 1947 / WPP line 3998
    ("BRA", 2020, 208660842, 44239170),
    # line 2532 / WPP "Channel Islands" line 6112
    ("CHI", 2020, 166235, 23960),
    # "Timor-Leste" line 15372 / WPP "Timor" line 32386
    ("TLS", 2020, 1326053, 597380),
    # line 13877 / WPP has only "Serbia (including Kosovo)", not mapped: no 0-14 weight
    ("SRB", 2020, 6899126, None),
    # line 16932 / not in WPP 2017
    ("XKX", 2020, 1790151, None),
])
def test_population_weights_are_the_hand_read_values(shared_warehouse, ref_area, year, total, under_15):
    con, _, _ = shared_warehouse
    rows = con.execute("SELECT population_total, population_0_14, population_total__source, "
                       "population_0_14__source FROM staging.population_weights "
                       "WHERE ref_area = ? AND year = ?", [ref_area, year]).fetchall()
    assert rows == [(total, under_15, "population_total_wb",
                     "owid_unwpp2017_population_by_age_group" if under_15 else None)]


@pytest.mark.shared_data
def test_population_weights_one_row_per_country_year_with_any_population(shared_warehouse):
    con, _, _ = shared_warehouse
    assert con.execute("""SELECT count(*), count(DISTINCT (ref_area, year)),
                                 count(*) FILTER (WHERE population_total IS NULL AND population_0_14 IS NULL)
                          FROM staging.population_weights""").fetchone() == (
        con.execute("""SELECT count(DISTINCT (ref_area, year)) FROM staging.ict_country_year
                       WHERE variable IN ('population_total', 'population_0_14')""").fetchone()[0],) * 2 + (0,)
    # WPP 2017 medium-variant projections give 0-14 up to the current year; WB totals stop at 2024
    assert con.execute("SELECT max(year) FROM staging.population_weights "
                       "WHERE population_0_14 IS NOT NULL").fetchone() == (LAST_YEAR,)
    assert con.execute("SELECT max(year) FROM staging.population_weights "
                       "WHERE population_total IS NOT NULL").fetchone() == (2024,)


@pytest.mark.shared_data
def test_assets_read_the_manifest_of_the_build_settings(shared, tmp_path):
    """raw/ict_country_year takes BuildSettings.manifest; the blocking audit passes on the real files."""
    resources = default_resources(sources_dir=shared, manifest=SHARED_MANIFEST,
                                  warehouse=tmp_path / "w.duckdb", published_dir=tmp_path / "published")
    result = dg.materialize([reference_country_codes, raw_ict_country_year, staging_ict_country_year,
                             ict_values_follow_the_rules], resources=resources)
    assert result.success
    metadata = result.asset_materializations_for_node("raw__ict_country_year")[0].metadata
    assert (metadata["files"].value, metadata["unmapped_entities"].value) == (6, 2)
    assert all(c.passed for c in result.get_asset_check_evaluations())


# ------------------------------------------------------------------------ small files (no shared data)
def test_population_weights_from_a_small_file(tmp_path):
    (tmp_path / "pop.csv").write_text(
        "ref_area,year,internet_users_pct,population_total,population_0_14\n"
        "FRA,2020,80.5,67000000,11800000\n"
        "FRA,2021,81.0,,\n"                  # no population: no weight row
        "KEN,2020,22.75,,23000000\n",        # 0-14 only
        encoding="utf-8")
    (tmp_path / "sources.yaml").write_text("sources:\n  - {file: pop.csv, layout: cop_tidy}\n", encoding="utf-8")
    con = connect(tmp_path / "w.duckdb")
    try:
        load_reference_tables(con)
        load_raw_ict(con, load_manifest(tmp_path))
        assert harmonise_ict(con)["population_country_years"] == 2
        assert con.execute("SELECT * FROM staging.population_weights").fetchall() == [
            ("FRA", 2020, 67000000.0, 11800000.0, "pop", "pop"),
            ("KEN", 2020, None, 23000000.0, None, "pop")]
        assert [r[0] for r in con.execute("DESCRIBE staging.population_weights").fetchall()] == [
            "ref_area", "year", "population_total", "population_0_14",
            "population_total__source", "population_0_14__source"]
    finally:
        con.close()


def test_cop_build_rejects_a_missing_manifest(tmp_path, capsys):
    from pipelines.cli import main

    assert main(["build", "--sources", str(tmp_path), "--manifest", str(tmp_path / "nope.yaml"),
                 "--out", str(tmp_path / "out"), "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    assert "--manifest" in capsys.readouterr().err
