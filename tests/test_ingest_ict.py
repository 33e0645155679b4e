"""ICT ingest: one parser per layout (cop_tidy, wdi_wide, owid_tidy, wb_tidy, owid_entity), layout detection and
the manifest.

Real public files (../shared/data/ict) are checked against counts and cells read independently with the csv
module; small files written here pin values, years, source_row (1-based editor line) and source_column exactly.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from indicators.errors import ConfigError, InputError
from indicators.sources.ict.reader import (RAW_COLUMNS, IctSource, detect_layout, load_manifest, read_ict_file,
                                   read_ict_file_with_notes)
from schemas.ict import LAST_YEAR

INTERNET_WDI = "wdi_IT.NET.USER.ZS_wide_2024.csv"
MOBILE_WDI = "wdi_IT.CEL.SETS.P2_wide_2023.csv"
OWID_ICT = "owid_ict_adoption_per_100_people.csv"
OWID_INTERNET = "Individuals using the Internet (% of population)"


# ------------------------------------------------------------------------------------------------ helpers
def csv_cell(path: Path, key_column: str, key: str, column: str, *, year_column: str | None = None,
             year: str | None = None) -> tuple[int, str]:
    """(editor line, raw text) of one cell, found with the csv module only (independent of the ingest code)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = None
        for fields in reader:
            if header is None:
                if key_column in fields:
                    header = fields
                continue
            row = dict(zip(header, fields))
            if row.get(key_column) == key and (year_column is None or row.get(year_column) == year):
                return reader.line_num, row[column]
    raise LookupError(f"{key} {year} not in {path}")


def read(path: Path, layout: str, indicator_code: str | None = None):
    return read_ict_file(IctSource(path=path, layout=layout, priority=0, indicator_code=indicator_code))


def one_cell(frame, **where):
    mask = True
    for column, value in where.items():
        mask = mask & (frame[column] == value)
    hit = frame[mask]
    assert len(hit) == 1, f"expected one row for {where}, got {len(hit)}"
    return hit.iloc[0]


def cells(frame) -> list[tuple]:
    """(source_row, source_column, ref_area_code, year, variable, value) of every raw row, sorted."""
    return sorted(frame[["source_row", "source_column", "ref_area_code", "year", "variable", "value"]]
                  .itertuples(index=False, name=None))


# ----------------------------------------------------------------------------------- real files: detection
@pytest.mark.shared_data
@pytest.mark.parametrize("name, layout", [
    (INTERNET_WDI, "wdi_wide"),
    (MOBILE_WDI, "wdi_wide"),
    (OWID_ICT, "owid_tidy"),
    ("owid_fixed_broadband_per_100.csv", "owid_tidy"),
    ("population_total_wb.csv", "wb_tidy"),
    ("wdi_country_metadata_2024.csv", None),
    ("owid_unwpp2017_population_by_age_group.csv", "owid_entity"),
])
def test_detect_layout_of_real_files(shared_ict, name, layout):
    assert detect_layout(shared_ict / name) == layout


# ------------------------------------------------------------------------------- real files: WDI internet
@pytest.mark.shared_data
def test_wdi_internet_file_gives_8320_cells_with_raw_columns(shared_ict):
    raw = read(shared_ict / INTERNET_WDI, "wdi_wide")
    assert list(raw.columns) == RAW_COLUMNS
    assert len(raw) == 8320
    assert set(raw["variable"]) == {"internet_users_pct"}
    assert set(raw["source_variable"]) == {"IT.NET.USER.ZS"}


@pytest.mark.shared_data
def test_wdi_internet_aruba_2016_is_the_raw_cell(shared_ict):
    # Aruba's row ends at 2017 in this download (2018-2023 empty); 93.5425 is its 2016 value
    path = shared_ict / INTERNET_WDI
    line, text = csv_cell(path, "Country Code", "ABW", "2016")
    assert (line, text) == (2, "93.5425")  # BOM, no preamble: header on line 1, Aruba first on line 2
    raw = read(path, "wdi_wide")
    cell = one_cell(raw, ref_area_code="ABW", year=2016)
    assert cell["value"] == 93.5425
    assert cell["source_row"] == 2
    assert cell["source_column"] == "2016"
    assert cell["year_column"] == "2016"
    assert cell["code_column"] == "Country Code"
    assert cell["ref_area_name"] == "Aruba"
    assert raw[(raw["ref_area_code"] == "ABW") & (raw["year"] > 2017)].empty  # empty cells are not rows


@pytest.mark.shared_data
def test_wdi_internet_kosovo_2018_is_the_raw_cell(shared_ict):
    path = shared_ict / INTERNET_WDI
    line, text = csv_cell(path, "Country Code", "XKX", "2018")
    assert text == "89.443"
    cell = one_cell(read(path, "wdi_wide"), ref_area_code="XKX", year=2018)
    assert cell["value"] == float(text)
    assert cell["source_row"] == line


@pytest.mark.shared_data
def test_wdi_internet_harmonised_economies_and_aggregates(shared_ict, tmp_path, harmonised_warehouse):
    """266 codes in the file: 217 economies and 49 aggregates (WDI metadata with empty Region, plus INX).

    Only codes with at least one value reach the warehouse: the rows of CHI, IMN, MAF, SXM (economies) and INX
    (aggregate) are empty in this download, so staging holds 213 economies and 48 aggregate codes are set aside.
    """
    path = shared_ict / INTERNET_WDI
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    codes = {r["Country Code"] for r in rows}
    with_values = {r["Country Code"] for r in rows
                   if any(v.strip() for k, v in r.items() if k and k.isdigit())}
    with open(shared_ict / "wdi_country_metadata_2024.csv", encoding="utf-8-sig", newline="") as fh:
        metadata = list(csv.DictReader(fh))
    economies = {m["Country Code"] for m in metadata if m["Region"]}
    aggregates = {m["Country Code"] for m in metadata if not m["Region"]} | {"INX"}
    assert len(codes) == 266 and codes == economies | aggregates
    assert (len(economies), len(aggregates)) == (217, 49)
    assert codes - with_values == {"CHI", "IMN", "INX", "MAF", "SXM"}

    folder = tmp_path / "sources"
    folder.mkdir()
    shutil.copy(path, folder / INTERNET_WDI)
    con, counts = harmonised_warehouse(folder)

    staged = {r[0] for r in con.execute("SELECT DISTINCT ref_area FROM staging.ict_country_year").fetchall()}
    set_aside = {r[0] for r in con.execute(
        "SELECT DISTINCT ref_area_code FROM staging.ict_aggregates_set_aside").fetchall()}
    assert staged == economies & with_values
    assert set_aside == aggregates & with_values
    assert (len(staged), len(set_aside)) == (213, 48)
    assert (counts["countries"], counts["aggregate_codes"]) == (213, 48)
    assert counts["country_cells"] + counts["aggregate_cells"] == 8320
    assert {"WLD", "LIC"} <= set_aside and not {"WLD", "LIC"} & staged
    assert "XKX" in staged and "XKX" not in set_aside


@pytest.mark.shared_data
def test_wdi_world_2023_is_set_aside_with_its_row(shared_ict, tmp_path, harmonised_warehouse):
    path = shared_ict / INTERNET_WDI
    line, text = csv_cell(path, "Country Code", "WLD", "2023")
    folder = tmp_path / "sources"
    folder.mkdir()
    shutil.copy(path, folder / INTERNET_WDI)
    con, _ = harmonised_warehouse(folder)
    row = con.execute("SELECT source_row, value FROM staging.ict_aggregates_set_aside "
                      "WHERE ref_area_code = 'WLD' AND year = 2023").fetchall()
    assert row == [(line, float(text))]


# --------------------------------------------------------------------------------- real files: WDI mobile
@pytest.mark.shared_data
def test_wdi_mobile_file_with_preamble_gives_12400_cells(shared_ict):
    raw = read(shared_ict / MOBILE_WDI, "wdi_wide")
    assert len(raw) == 12400
    assert set(raw["variable"]) == {"mobile_cellular_per_100"}
    # the trailing empty column of every line is dropped, never turned into a cell
    assert set(raw["source_column"]) <= {str(y) for y in range(1960, 2022)}
    assert (raw["source_column"] == raw["year"].astype(str)).all()
    assert (raw["year"].min(), raw["year"].max()) == (1960, 2021)


@pytest.mark.shared_data
def test_wdi_mobile_header_on_line_5_first_data_row_on_line_6(shared_ict):
    path = shared_ict / MOBILE_WDI
    raw = read(path, "wdi_wide")
    assert raw["source_row"].min() == 6
    assert set(raw.loc[raw["source_row"] == 6, "ref_area_code"]) == {"ABW"}
    line, text = csv_cell(path, "Country Code", "ABW", "2020")
    assert (line, text) == (6, "132.2887836")
    cell = one_cell(raw, ref_area_code="ABW", year=2020)
    assert (cell["source_row"], cell["source_column"], cell["value"]) == (6, "2020", 132.2887836)


@pytest.mark.shared_data
def test_wdi_mobile_afghanistan_2010_is_the_raw_cell(shared_ict):
    path = shared_ict / MOBILE_WDI
    line, text = csv_cell(path, "Country Code", "AFG", "2010")
    cell = one_cell(read(path, "wdi_wide"), ref_area_code="AFG", year=2010)
    assert (cell["source_row"], cell["source_column"], cell["value"]) == (line, "2010", float(text))


# ------------------------------------------------------------------------------------- real files: OWID
@pytest.mark.shared_data
def test_owid_ict_file_cell_counts_per_series(shared_ict):
    raw = read(shared_ict / OWID_ICT, "owid_tidy")
    counts = raw.groupby("variable").size().to_dict()
    assert counts["fixed_broadband_per_100"] == 4031
    assert counts["mobile_cellular_per_100"] == 10705
    assert counts["internet_users_pct"] == 6697


@pytest.mark.shared_data
def test_owid_kosovo_internet_2018_is_the_raw_cell(shared_ict):
    path = shared_ict / OWID_ICT
    line, text = csv_cell(path, "Code", "OWID_KOS", OWID_INTERNET, year_column="Year", year="2018")
    cell = one_cell(read(path, "owid_tidy"), ref_area_code="OWID_KOS", year=2018, variable="internet_users_pct")
    assert cell["value"] == float(text) == 89.44303
    assert cell["source_row"] == line
    assert cell["source_column"] == OWID_INTERNET
    assert (cell["code_column"], cell["year_column"]) == ("Code", "Year")


@pytest.mark.shared_data
def test_owid_kosovo_maps_to_xkx_world_and_regions_set_aside(shared_ict, tmp_path, harmonised_warehouse):
    path = shared_ict / OWID_ICT
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    series = [c for c in rows[0] if c not in ("Entity", "Code", "Year")]
    expected_aside = {code: sum(1 for r in rows if r["Code"] == code for c in series if r[c].strip())
                      for code in ("", "OWID_WRL")}

    folder = tmp_path / "sources"
    folder.mkdir()
    shutil.copy(path, folder / OWID_ICT)
    con, _ = harmonised_warehouse(folder)

    kosovo = con.execute("SELECT DISTINCT ref_area FROM staging.ict_country_year "
                         "WHERE ref_area_code = 'OWID_KOS'").fetchall()
    assert kosovo == [("XKX",)]
    assert con.execute("SELECT count(*) FROM staging.ict_country_year "
                       "WHERE ref_area LIKE 'OWID_%' OR ref_area = ''").fetchone() == (0,)
    aside = dict(con.execute("SELECT ref_area_code, count(*) FROM staging.ict_aggregates_set_aside "
                             "GROUP BY 1").fetchall())
    assert aside == expected_aside
    assert aside[""] > 0 and aside["OWID_WRL"] > 0


# --------------------------------------------------------------------------------------- small files
@pytest.fixture
def cop_tidy_file(tmp_path) -> Path:
    path = tmp_path / "cop_small.csv"
    path.write_text(
        "ref_area,ref_area_name,year,internet_users_pct,population_total\n"
        "FRA,France,2020,80.5,67000000\n"
        "FRA,France,2021,,67100000\n"
        "KEN,Kenya,2020,22.75,\n",
        encoding="utf-8")
    return path


@pytest.fixture
def wdi_wide_file(tmp_path) -> Path:
    """WDI API layout without preamble, with the UTF-8 BOM WDI downloads carry."""
    path = tmp_path / "wdi_no_preamble.csv"
    path.write_text(
        "\ufeffCountry Name,Country Code,Indicator Name,Indicator Code,2019,2020\n"
        "Aruba,ABW,Individuals using the Internet (% of population),IT.NET.USER.ZS,88.66,\n"
        "World,WLD,Individuals using the Internet (% of population),IT.NET.USER.ZS,54.1,59.3\n",
        encoding="utf-8")
    return path


@pytest.fixture
def wdi_wide_preamble_file(tmp_path) -> Path:
    """WDI API layout with the 4-line preamble and the trailing comma of every line."""
    path = tmp_path / "wdi_preamble.csv"
    path.write_text(
        '\ufeff"Data Source","World Development Indicators",\n'
        "\n"
        '"Last Updated Date","2023-03-01",\n'
        "\n"
        '"Country Name","Country Code","Indicator Name","Indicator Code","2020","2021",\n'
        '"Aruba","ABW","Mobile cellular subscriptions (per 100 people)","IT.CEL.SETS.P2","130.5","",\n'
        '"Kenya","KEN","Mobile cellular subscriptions (per 100 people)","IT.CEL.SETS.P2","","118.25",\n',
        encoding="utf-8")
    return path


@pytest.fixture
def owid_tidy_file(tmp_path) -> Path:
    path = tmp_path / "owid_small.csv"
    path.write_text(
        "Entity,Code,Year,Individuals using the Internet (% of population),"
        "Fixed broadband subscriptions (per 100 people)\n"
        "Kosovo,OWID_KOS,2018,89.44303,\n"
        "World,OWID_WRL,2018,51.4,14.9\n"
        "Africa,,2018,,0.5\n",
        encoding="utf-8")
    return path


@pytest.fixture
def wb_tidy_folder(tmp_path) -> Path:
    folder = tmp_path / "wb"
    folder.mkdir()
    (folder / "population.csv").write_bytes(
        b"Country Name,Country Code,Year,Value\r\n"
        b"Aruba,ABW,1960,54922\r\n"
        b"Aruba,ABW,1961,55578\r\n"
        b"World,WLD,1960,3031474234\r\n")
    (folder / "sources.yaml").write_text(
        "sources:\n"
        "  - file: population.csv\n"
        "    layout: wb_tidy\n"
        "    indicator_code: SP.POP.TOTL\n",
        encoding="utf-8")
    return folder


WPP_UNDER_15 = "Under 15 years old (UNWPP, 2017)"
WPP_65 = "65+ years old (UNWPP, 2017)"


@pytest.fixture
def owid_entity_file(tmp_path) -> Path:
    """Entity names, no code column; one used and one deliberately ignored WPP column."""
    path = tmp_path / "wpp_small.csv"
    path.write_text(
        f'Entity,Year,"{WPP_UNDER_15}","{WPP_65}"\n'
        "Afghanistan,2015,15023530,841098\n"          # line 2: a country
        "World,2015,1937487048,608017488\n"            # line 3: an aggregate (code '')
        "Serbia (including Kosovo),2015,1400000,\n"    # line 4: two economies in one: not mapped
        "Atlantis,2015,5,5\n"                          # line 5: no such country: not mapped
        "Afghanistan,1955,1,1\n"                       # line 6: before 1960: dropped
        "Afghanistan,2090,2,2\n"                       # line 7: projection after LAST_YEAR: dropped
        "Timor,2015,545984,\n"                         # line 8: explicit code (entity_codes): TLS
        "Southern Africa,2015,20000000,\n",            # line 9: listed aggregate, not ZAF
        encoding="utf-8")
    return path


def test_owid_entity_cells_codes_aggregates_and_years(owid_entity_file):
    raw, notes = read_ict_file_with_notes(IctSource(path=owid_entity_file, layout="owid_entity", priority=0,
                                                    projections_from=2016))
    assert list(raw.columns) == RAW_COLUMNS
    assert cells(raw) == [
        (2, WPP_UNDER_15, "AFG", 2015, "population_0_14", 15023530.0),
        (3, WPP_UNDER_15, "", 2015, "population_0_14", 1937487048.0),
        (8, WPP_UNDER_15, "TLS", 2015, "population_0_14", 545984.0),
        (9, WPP_UNDER_15, "", 2015, "population_0_14", 20000000.0),
    ]
    assert sorted(zip(raw["source_row"], raw["ref_area_name"])) == [
        (2, "Afghanistan"), (3, "World"), (8, "Timor"), (9, "Southern Africa")]
    assert (set(raw["code_column"]), set(raw["year_column"])) == ({"Entity"}, {"Year"})
    assert (notes.mapped_entities, notes.aggregate_entities) == (2, 2)
    # only the used column's cells count; the 65+ column is ignored, not dropped as an error
    assert (notes.cells_before_first_year, notes.cells_after_last_year) == (1, 1)
    assert notes.ignored_columns == [WPP_65]
    assert [(u["entity"], u["rows"], u["first_row"], u["value_cells"]) for u in notes.unmapped] == [
        ("Atlantis", 1, 5, 1), ("Serbia (including Kosovo)", 1, 4, 1)]
    assert notes.unmapped[1]["reason"] == "matches several countries (XKX, SRB)"
    assert notes.text[0] == "values for 2016 and later are projections, not estimates"
    assert any(f"years 2090-2090 (after {LAST_YEAR}" in t for t in notes.text)


def test_owid_entity_unmapped_names_are_logged(owid_entity_file, caplog):
    with caplog.at_level("WARNING", logger="indicators.sources.ict.reader"):
        read(owid_entity_file, "owid_entity")
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert "'Atlantis'" in warning and "'Serbia (including Kosovo)'" in warning


def test_owid_entity_two_names_for_one_country_are_both_reported(tmp_path):
    path = tmp_path / "wpp_twice.csv"
    path.write_text(f'Entity,Year,"{WPP_UNDER_15}"\n'
                    "Micronesia (country),2015,35000\n"
                    "Federated States of Micronesia,2015,35001\n"
                    "Kenya,2015,19000000\n", encoding="utf-8")
    raw, notes = read_ict_file_with_notes(IctSource(path=path, layout="owid_entity", priority=0))
    assert cells(raw) == [(4, WPP_UNDER_15, "KEN", 2015, "population_0_14", 19000000.0)]
    assert {u["entity"]: u["reason"] for u in notes.unmapped} == {
        "Micronesia (country)": "maps to FSM like 'Federated States of Micronesia'",
        "Federated States of Micronesia": "maps to FSM like 'Micronesia (country)'"}


def test_owid_entity_unknown_column_names_file_and_column(tmp_path):
    path = tmp_path / "wpp_under18.csv"
    path.write_text('Entity,Year,"Under 18 years old (UNWPP, 2017)"\nKenya,2015,1\n', encoding="utf-8")
    with pytest.raises(InputError) as info:
        read(path, "owid_entity")
    (violation,) = info.value.violations
    assert (violation.file, violation.row, violation.column) == (str(path), 1, "Under 18 years old (UNWPP, 2017)")
    assert "ignored_column_labels" in violation.rule


def test_owid_entity_aggregates_set_aside_and_unmapped_recorded(tmp_path, owid_entity_file, harmonised_warehouse):
    (tmp_path / "sources.yaml").write_text("sources:\n  - {file: wpp_small.csv, layout: owid_entity}\n",
                                           encoding="utf-8")
    con, counts = harmonised_warehouse(tmp_path)
    assert con.execute("SELECT ref_area, year, value FROM staging.ict_country_year ORDER BY 1").fetchall() == [
        ("AFG", 2015, 15023530.0), ("TLS", 2015, 545984.0)]
    assert con.execute("SELECT ref_area_name, source_row FROM staging.ict_aggregates_set_aside "
                       "ORDER BY source_row").fetchall() == [("World", 3), ("Southern Africa", 9)]
    assert con.execute("SELECT entity, rows, first_row, value_cells FROM raw.unmapped_entities "
                       "ORDER BY entity").fetchall() == [("Atlantis", 1, 5, 1),
                                                         ("Serbia (including Kosovo)", 1, 4, 1)]
    assert con.execute("SELECT cells_out_of_years, unmapped_entities FROM raw.ict_files").fetchall() == [(2, 2)]


def test_raw_unmapped_entities_is_empty_not_missing_without_entity_files(cop_tidy_file, tmp_path,
                                                                        harmonised_warehouse):
    con, _ = harmonised_warehouse(tmp_path)
    assert con.execute("SELECT count(*) FROM raw.unmapped_entities").fetchone() == (0,)
    columns = [r[0] for r in con.execute("DESCRIBE raw.unmapped_entities").fetchall()]
    assert columns == ["source_file", "source_id", "entity", "rows", "first_row", "value_cells", "reason"]


def test_cop_tidy_cells(cop_tidy_file):
    raw = read(cop_tidy_file, "cop_tidy")
    assert cells(raw) == [
        (2, "internet_users_pct", "FRA", 2020, "internet_users_pct", 80.5),
        (2, "population_total", "FRA", 2020, "population_total", 67000000.0),
        (3, "population_total", "FRA", 2021, "population_total", 67100000.0),
        (4, "internet_users_pct", "KEN", 2020, "internet_users_pct", 22.75),
    ]
    assert set(raw["code_column"]) == {"ref_area"} and set(raw["year_column"]) == {"year"}
    assert set(raw["ref_area_name"]) == {"France", "Kenya"}


def test_wdi_wide_without_preamble_cells(wdi_wide_file):
    raw = read(wdi_wide_file, "wdi_wide")
    assert cells(raw) == [
        (2, "2019", "ABW", 2019, "internet_users_pct", 88.66),
        (3, "2019", "WLD", 2019, "internet_users_pct", 54.1),
        (3, "2020", "WLD", 2020, "internet_users_pct", 59.3),
    ]
    assert set(raw["source_variable"]) == {"IT.NET.USER.ZS"}


def test_wdi_wide_with_preamble_cells(wdi_wide_preamble_file):
    raw = read(wdi_wide_preamble_file, "wdi_wide")
    assert cells(raw) == [
        (6, "2020", "ABW", 2020, "mobile_cellular_per_100", 130.5),
        (7, "2021", "KEN", 2021, "mobile_cellular_per_100", 118.25),
    ]


def test_owid_tidy_cells(owid_tidy_file):
    raw = read(owid_tidy_file, "owid_tidy")
    internet, broadband = OWID_INTERNET, "Fixed broadband subscriptions (per 100 people)"
    assert cells(raw) == [
        (2, internet, "OWID_KOS", 2018, "internet_users_pct", 89.44303),
        (3, broadband, "OWID_WRL", 2018, "fixed_broadband_per_100", 14.9),
        (3, internet, "OWID_WRL", 2018, "internet_users_pct", 51.4),
        (4, broadband, "", 2018, "fixed_broadband_per_100", 0.5),
    ]


def test_wb_tidy_cells_from_manifest(wb_tidy_folder):
    (source,) = load_manifest(wb_tidy_folder)
    assert (source.layout, source.indicator_code) == ("wb_tidy", "SP.POP.TOTL")
    raw = read_ict_file(source)
    assert cells(raw) == [
        (2, "Value", "ABW", 1960, "population_total", 54922.0),
        (3, "Value", "ABW", 1961, "population_total", 55578.0),
        (4, "Value", "WLD", 1960, "population_total", 3031474234.0),
    ]
    assert set(raw["source_variable"]) == {"SP.POP.TOTL"}
    assert set(raw["year_column"]) == {"Year"}


@pytest.mark.parametrize("fixture, layout", [
    ("cop_tidy_file", "cop_tidy"),
    ("wdi_wide_file", "wdi_wide"),
    ("wdi_wide_preamble_file", "wdi_wide"),
    ("owid_tidy_file", "owid_tidy"),
    ("owid_entity_file", "owid_entity"),
])
def test_detect_layout_of_small_files(request, fixture, layout):
    assert detect_layout(request.getfixturevalue(fixture)) == layout


def test_wdi_inx_is_set_aside_and_chi_kept_as_economy(tmp_path, harmonised_warehouse):
    """INX and CHI have empty rows in the real 2024 download, so their handling is pinned on a small file."""
    folder = tmp_path / "sources"
    folder.mkdir()
    (folder / "wdi.csv").write_text(
        "Country Name,Country Code,Indicator Name,Indicator Code,2020\n"
        "Channel Islands,CHI,Individuals using the Internet (% of population),IT.NET.USER.ZS,90.1\n"
        "Not classified,INX,Individuals using the Internet (% of population),IT.NET.USER.ZS,40.2\n"
        "Kosovo,XKX,Individuals using the Internet (% of population),IT.NET.USER.ZS,88.3\n"
        "Low income,LIC,Individuals using the Internet (% of population),IT.NET.USER.ZS,20.4\n",
        encoding="utf-8")
    con, _ = harmonised_warehouse(folder)
    assert con.execute("SELECT ref_area, source_row, value FROM staging.ict_country_year "
                       "ORDER BY ref_area").fetchall() == [("CHI", 2, 90.1), ("XKX", 4, 88.3)]
    assert con.execute("SELECT ref_area_code, source_row, value FROM staging.ict_aggregates_set_aside "
                       "ORDER BY ref_area_code").fetchall() == [("INX", 3, 40.2), ("LIC", 5, 20.4)]


def test_source_row_is_editor_line_after_a_multiline_quoted_name(tmp_path):
    path = tmp_path / "multiline.csv"
    path.write_text('ref_area,ref_area_name,year,internet_users_pct\n'
                    'FRA,"France\n(metropolitan)",2020,80\n'
                    'DEU,Germany,2020,81\n', encoding="utf-8")
    raw = read(path, "cop_tidy")
    assert one_cell(raw, ref_area_code="DEU")["source_row"] == 4  # DEU is on line 4 in an editor


# ---------------------------------------------------------------------------------------------- manifest
def write_manifest(folder: Path, body: str) -> Path:
    path = folder / "sources.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_manifest_order_gives_priority(tmp_path, cop_tidy_file, owid_tidy_file):
    write_manifest(tmp_path, "sources:\n"
                             "  - file: owid_small.csv\n    layout: owid_tidy\n"
                             "  - file: cop_small.csv\n    layout: cop_tidy\n    licence: CC0-1.0\n")
    sources = load_manifest(tmp_path)
    assert [(s.path.name, s.layout, s.priority) for s in sources] == [
        ("owid_small.csv", "owid_tidy", 0), ("cop_small.csv", "cop_tidy", 1)]
    assert sources[1].licence == "CC0-1.0"
    assert sources[0].source_id == "owid_small"


def test_discovery_without_manifest_puts_wdi_first(tmp_path, cop_tidy_file, wdi_wide_file, owid_tidy_file):
    sources = load_manifest(tmp_path)
    assert [(s.path.name, s.priority) for s in sources] == [
        ("wdi_no_preamble.csv", 0), ("cop_small.csv", 1), ("owid_small.csv", 2)]


def test_manifest_unknown_layout_names_file_and_key(tmp_path, cop_tidy_file):
    manifest = write_manifest(tmp_path, "sources:\n  - file: cop_small.csv\n    layout: excel_pivot\n")
    with pytest.raises(ConfigError) as info:
        load_manifest(tmp_path)
    message = str(info.value)
    assert str(manifest) in message
    assert "sources[0].layout" in message
    assert "'excel_pivot'" in message


def test_manifest_missing_file_names_file_and_key(tmp_path, cop_tidy_file):
    manifest = write_manifest(tmp_path, "sources:\n"
                                        "  - file: cop_small.csv\n    layout: cop_tidy\n"
                                        "  - file: not_there.csv\n    layout: cop_tidy\n")
    with pytest.raises(ConfigError) as info:
        load_manifest(tmp_path)
    message = str(info.value)
    assert str(manifest) in message
    assert "sources[1].file" in message
    assert "not_there.csv" in message


def test_manifest_wb_tidy_without_indicator_code_names_file_and_key(tmp_path, wb_tidy_folder):
    manifest = write_manifest(wb_tidy_folder, "sources:\n  - file: population.csv\n    layout: wb_tidy\n")
    with pytest.raises(ConfigError) as info:
        load_manifest(wb_tidy_folder)
    message = str(info.value)
    assert str(manifest) in message
    assert "sources[0].indicator_code" in message
    assert "wb_tidy" in message


def test_explicit_manifest_resolves_files_against_the_sources_folder(tmp_path, cop_tidy_file):
    """A manifest kept elsewhere (data/manifests/...) describes a folder of files, sub-folders included."""
    sources = tmp_path / "sources"
    (sources / "ict").mkdir(parents=True)
    shutil.move(cop_tidy_file, sources / "ict" / "cop_small.csv")
    (sources / "sources.yaml").write_text("sources:\n  - {file: not_this_one.csv, layout: cop_tidy}\n")
    elsewhere = tmp_path / "manifests"
    elsewhere.mkdir()
    manifest = elsewhere / "real.yaml"
    manifest.write_text("synthetic: false\nincidents: []\nsources:\n"
                        "  - file: ict/cop_small.csv\n    layout: cop_tidy\n    vintage: 2024 release\n",
                        encoding="utf-8")
    (source,) = load_manifest(sources, manifest)
    assert source.path == (sources / "ict" / "cop_small.csv").resolve()
    assert (source.layout, source.vintage, source.synthetic) == ("cop_tidy", "2024 release", False)
    # an entry that is not in the sources folder is named with the manifest and the entry
    manifest.write_text("sources:\n  - {file: ict/missing.csv, layout: cop_tidy}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_manifest(sources, manifest)
    assert str(manifest) in str(info.value) and "sources[0].file" in str(info.value)


def test_explicit_manifest_that_does_not_exist_is_named(tmp_path, cop_tidy_file):
    with pytest.raises(ConfigError, match="nowhere.yaml: sources manifest does not exist"):
        load_manifest(tmp_path, tmp_path / "nowhere.yaml")


def test_manifest_incidents_key_is_left_to_its_reader(tmp_path, cop_tidy_file):
    write_manifest(tmp_path, "sources:\n  - {file: cop_small.csv, layout: cop_tidy}\n"
                             "incidents:\n  - {file: reports.csv, layout: whatever}\n")
    assert [s.path.name for s in load_manifest(tmp_path)] == ["cop_small.csv"]


def test_manifest_unknown_top_level_key_names_manifest_and_key(tmp_path, cop_tidy_file):
    manifest = write_manifest(tmp_path, "sources:\n  - {file: cop_small.csv, layout: cop_tidy}\n"
                                        "incident:\n  - {file: reports.csv}\n")
    with pytest.raises(ConfigError) as info:
        load_manifest(tmp_path)
    message = str(info.value)
    assert str(manifest) in message
    assert "unknown top-level key 'incident'" in message
    assert "sources, synthetic, incidents" in message
