"""NCMEC CyberTipline reports by country -> raw.incident_reports -> staging.incident_reports -> IR.12, IR.15, IR.16.

The real file (../shared/data/cop, transcribed from NCMEC's yearly tables by apparebit/diaphanous, CC BY 4.0) is
read in place; those tests are skipped when the folder is absent. Figures are checked against the file read
independently with pandas, and against NCMEC's yearly totals (ncmec_ocse-reports-per-year.csv).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from indicators.catalogue import catalogue_frame, render_markdown
from indicators.errors import ConfigError, InputError
from indicators.sources.ict.harmonise import harmonise_ict
from indicators.sources.incidents.harmonise import (ESTIMATES_TABLE, STAGING_TABLE, UNATTRIBUTED_TABLE, audit_incidents,
                                  compile_incident_indicator, compute_incident_indicators, harmonise_incidents)
from indicators.sources.ict.reader import load_manifest, load_raw_ict
from indicators.sources.incidents.reader import (IncidentSource, load_incident_sources, load_raw_incidents,
                                         read_incident_file)
from indicators.reference import load_reference_tables
from indicators.registry import load_registry
from indicators.synthetic import incidents_sample
from indicators.warehouse import connect

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "data" / "sample"
SAMPLE = SAMPLE_DIR / "ncmec_reports_by_country.csv"
SHARED_COP = Path(__file__).resolve().parents[2] / "shared" / "data" / "cop"
REAL = "ncmec_ocse-reports-per-country.csv"
YEARS = [2019, 2020, 2021, 2022, 2023]
NOT_PREVALENCE = "CyberTipline report counts are not a prevalence measure"
# codes in the real file that name no country
REAL_UNATTRIBUTED = {"EEE": "Europe: a region, not a country",
                     "ANT": "Netherlands Antilles: dissolved in 2010 (CUW, SXM, BES)"}


@pytest.fixture
def shared_cop() -> Path:
    if not (SHARED_COP / REAL).is_file():
        pytest.skip(f"shared data absent: {SHARED_COP / REAL} (real NCMEC files are not in the repo)")
    return SHARED_COP


@pytest.fixture
def warehouse(tmp_path):
    """A warehouse with the reference tables and the sample ICT series harmonised (the denominators)."""
    con = connect(tmp_path / "w.duckdb")
    load_reference_tables(con)
    load_raw_ict(con, load_manifest(SAMPLE_DIR))
    harmonise_ict(con)
    yield con
    con.close()


def real_manifest(tmp_path: Path, unattributed: dict | None = REAL_UNATTRIBUTED) -> Path:
    """A manifest outside the data folder (as for the real-data build): file names resolve against it."""
    entry = {"file": REAL, "layout": "ncmec_by_country", "reporting_org": "NCMEC", "licence": "CC BY 4.0",
             "description": "NCMEC CyberTipline reports by country, via apparebit/diaphanous", "synthetic": False}
    if unattributed:
        entry["unattributed_codes"] = unattributed
    path = tmp_path / "manifest.yaml"
    path.write_text(json.dumps({"incidents": [entry]}))  # JSON is YAML
    return path


def read_with_pandas(path: Path) -> pd.DataFrame:
    """The wide file as an analyst reads it, independently of the reader under test."""
    return pd.read_csv(path, thousands=",", keep_default_na=False, na_values=[""],
                       dtype={"country": str, "iso3": str})


# ------------------------------------------------------------------------------------------ the real file
@pytest.mark.shared_data
def test_real_file_totals_per_year_equal_ncmec_totals(shared_cop, tmp_path, warehouse):
    sources = load_incident_sources(shared_cop, real_manifest(tmp_path))
    [provenance] = load_raw_incidents(warehouse, sources)
    assert provenance["sha256"] == hashlib.sha256((shared_cop / REAL).read_bytes()).hexdigest()
    wide = read_with_pandas(shared_cop / REAL)
    assert len(wide) == 252
    assert provenance["rows"] == int(wide[[str(y) for y in YEARS]].notna().sum().sum())  # 1,223 counts
    totals = pd.read_csv(shared_cop / "ncmec_ocse-reports-per-year.csv", thousands=",")
    totals = dict(zip(totals.iloc[:, 0].astype(int), totals.iloc[:, 1].astype(int)))
    assert totals[2023] == 36_210_368

    raw = dict(warehouse.execute("SELECT year, sum(reports) FROM raw.incident_reports GROUP BY 1").fetchall())
    counts = harmonise_incidents(warehouse)
    countries = dict(warehouse.execute(f"SELECT year, sum(reports) FROM {STAGING_TABLE} GROUP BY 1").fetchall())
    set_aside = dict(warehouse.execute(f"SELECT year, sum(reports) FROM {UNATTRIBUTED_TABLE} GROUP BY 1")
                     .fetchall())
    no_country = wide[wide["country"] == "No Country Listed"].iloc[0]
    for year in YEARS:
        # the countries plus the "No Country Listed" row (plus "Europe" and the Netherlands Antilles) make
        # NCMEC's published total; nothing is lost or counted twice on the way to staging
        assert raw[year] == totals[year], year
        assert countries[year] + set_aside[year] == totals[year], year
    assert set_aside[2023] == no_country["2023"] == 1_851_762
    assert counts["countries"] == 248 and counts["unattributed_cells"] == 5 + 1 + 4  # No Country, EEE, ANT
    assert audit_incidents(warehouse) == []


@pytest.mark.shared_data
def test_real_file_counts_equal_the_file_read_with_pandas(shared_cop, tmp_path, warehouse):
    load_raw_incidents(warehouse, load_incident_sources(shared_cop, real_manifest(tmp_path)))
    harmonise_incidents(warehouse)
    wide = read_with_pandas(shared_cop / REAL).set_index("country")
    staged = warehouse.execute(f"""SELECT country, year, reports, source_row, source_rows, source_column
                                   FROM {STAGING_TABLE}""").df().set_index(["country", "year"])
    india = staged.loc[("IND", 2023)]
    assert india["reports"] == wide.loc["India", "2023"] == 8_923_738
    assert india["source_column"] == "2023"
    assert india["source_row"] == wide.index.get_loc("India") + 2  # the editor line: header is line 1
    # every attributed count, cell by cell
    tidy = (wide[wide["iso3"].notna() & ~wide["iso3"].isin(list(REAL_UNATTRIBUTED))]
            .melt(id_vars="iso3", value_vars=[str(y) for y in YEARS], var_name="year", value_name="reports")
            .dropna().astype({"year": int, "reports": int}).groupby(["iso3", "year"])["reports"].sum())
    assert len(tidy) == len(staged)
    assert (staged["reports"].astype(int).sort_index() == tidy.rename_axis(["country", "year"]).sort_index()).all()
    # French Guiana is listed twice, under two names: one country, both rows named
    guf = staged.loc[("GUF", 2020)]
    assert guf["reports"] == wide.loc["French Guiana", "2020"] + wide.loc["Guiana, French", "2020"]
    assert guf["source_rows"].count("+") == 1


@pytest.mark.shared_data
def test_real_file_pseudo_codes_fail_the_known_country_rule_unless_the_manifest_sets_them_aside(
        shared_cop, tmp_path, warehouse):
    load_raw_incidents(warehouse, load_incident_sources(shared_cop, real_manifest(tmp_path, unattributed=None)))
    harmonise_incidents(warehouse)
    violations = audit_incidents(warehouse)
    assert {(v["row"], v["column"], v["value"]) for v in violations} == {(74, "iso3", "EEE"), (158, "iso3", "ANT")}
    assert all(Path(v["file"]).resolve() == (shared_cop / REAL).resolve() and "known to pycountry" in v["rule"]
               for v in violations)


# ------------------------------------------------------------------------------- a small constructed case
def small_case(folder: Path, incidents: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    # ISL: population 2,000,000 and 80 % Internet users; NOR: no population; SWE: no Internet-user figure
    (folder / "ict.csv").write_text("ref_area,year,internet_users_pct,population_total\n"
                                    "ISL,2022,80,2000000\nNOR,2022,90,\nSWE,2022,,5000000\n")
    (folder / "reports.csv").write_text(incidents)
    (folder / "sources.yaml").write_text(
        "sources:\n  - {file: ict.csv, layout: cop_tidy}\n"
        "incidents:\n  - {file: reports.csv, layout: ncmec_by_country, reporting_org: NCMEC}\n")
    return folder


def build_small(folder: Path):
    con = connect(folder / "w.duckdb")
    load_reference_tables(con)
    load_raw_ict(con, load_manifest(folder))
    harmonise_ict(con)
    load_raw_incidents(con, load_incident_sources(folder))
    harmonise_incidents(con)
    return con


def test_rates_by_hand_from_a_constructed_case(tmp_path):
    folder = small_case(tmp_path / "src", 'country,iso3,2022\nIceland,ISL,"1,234"\nNorway,NOR,500\n'
                                          'Sweden,SWE,"10,000"\nNo Country Listed,,"7,000"\n')
    con = build_small(folder)
    try:
        assert audit_incidents(con) == []
        rows = compute_incident_indicators(con, load_registry())
        obs = con.execute(f"SELECT * FROM {ESTIMATES_TABLE}").df().set_index(["INDICATOR", "REF_AREA"])
        staged = con.execute(f"SELECT * FROM {STAGING_TABLE} WHERE country = 'ISL'").df().iloc[0]
    finally:
        con.close()
    assert staged["internet_users"] == 0.80 * 2_000_000  # BC.1 / 100 x population
    assert obs.loc[("IR.12", "ISL"), "OBS_VALUE"] == 1234
    # unrounded here: the release rounds them once, by the entry's decimals
    assert obs.loc[("IR.15", "ISL"), "OBS_VALUE"] == pytest.approx(61.7, rel=1e-12)  # 1,234 / 2,000,000 x 100,000
    assert obs.loc[("IR.16", "ISL"), "OBS_VALUE"] == pytest.approx(77.125, rel=1e-12)  # 1,234 / 1,600,000 x 1e5
    assert obs.loc[("IR.15", "ISL"), "UNIT_MEASURE"] == "per_100k"
    assert obs.loc[("IR.15", "ISL"), "SOURCE_ID"] == "ict+reports"  # the value rests on both files
    assert obs.loc[("IR.12", "ISL"), "SOURCE_ID"] == "reports"
    # a rate without its denominator is not published; the count is
    assert ("IR.15", "NOR") not in obs.index and ("IR.16", "NOR") not in obs.index
    assert ("IR.12", "NOR") in obs.index and ("IR.15", "SWE") in obs.index and ("IR.16", "SWE") not in obs.index
    assert obs.loc[("IR.15", "SWE"), "OBS_VALUE"] == 200.0
    assert set(obs.index.get_level_values("REF_AREA")) == {"ISL", "NOR", "SWE"}  # No Country Listed set aside
    assert rows["IR.12"] == 3 and rows["IR.15"] == 2 and rows["IR.16"] == 1


def test_rate_multiplier_comes_from_the_unit_and_formulas_from_the_registry(tmp_path):
    registry = {i.code: i for i in load_registry()}
    per_100 = dataclasses.replace(registry["IR.15"], code="IR.99", unit="per_100", decimals=4)
    sql = compile_incident_indicator(per_100)
    assert "CAST((reports) AS DOUBLE) / NULLIF(CAST((population_total) AS DOUBLE), 0) * 100" in sql
    assert "(reporting_org = 'NCMEC')" in sql and "incident_type = '_T'" in sql
    con = build_small(small_case(tmp_path / "src", 'country,iso3,2022\nIceland,ISL,"1,234"\n'))
    try:
        compute_incident_indicators(con, [per_100])
        assert con.execute(f"SELECT OBS_VALUE FROM {ESTIMATES_TABLE}").fetchone()[0] == pytest.approx(0.0617)
        with pytest.raises(ConfigError, match="IR.98.*unit"):
            compute_incident_indicators(con, [dataclasses.replace(per_100, code="IR.98", unit="count")])
    finally:
        con.close()


# ----------------------------------------------------------------------------------------------- bad input
def write(tmp_path: Path, text: str) -> IncidentSource:
    path = tmp_path / "reports.csv"
    path.write_text(text)
    return IncidentSource(path=path, layout="ncmec_by_country", reporting_org="NCMEC")


@pytest.mark.parametrize("cell, rule", [
    ('"12,34"', "not a whole number: it has a decimal part or a misplaced thousands separator"),
    ("abc", "not a whole number written with thousands separators"),
    ("-5", "negative"),
    ('"-1,234"', "negative"),
    ("12.5", "not a whole number"),
    ('"1,2345"', "not a whole number"),
])
def test_bad_cells_name_file_row_and_column(tmp_path, cell, rule):
    source = write(tmp_path, 'country,iso3,2021,2022\nIceland,ISL,"1,234",15\n'
                             f'Norway,NOR,"163,120",{cell}\n')
    with pytest.raises(InputError) as caught:
        read_incident_file(source)
    [violation] = caught.value.violations
    assert (violation.file, violation.row, violation.column) == (str(source.path), 3, "2022")
    assert rule in violation.rule and violation.value == cell.strip('"')
    assert f"{source.path}, line 3, column '2022' (reports)" in str(caught.value)


def test_good_cells_are_parsed_and_traced(tmp_path):
    source = write(tmp_path, 'country,iso3,2021,2022\nIceland,ISL,"1,234",\n'
                             'Norway,NOR,"1,668,157",7\nNo Country Listed,,"2,000",1234\n')
    raw = read_incident_file(source)
    assert raw[["source_row", "source_column", "country_code", "year", "reports"]].values.tolist() == [
        [2, "2021", "ISL", 2021, 1234], [3, "2021", "NOR", 2021, 1_668_157], [3, "2022", "NOR", 2022, 7],
        [4, "2021", "", 2021, 2000], [4, "2022", "", 2022, 1234]]  # an empty cell is no figure, not zero
    assert set(raw["incident_type"]) == {"_T"} and set(raw["reporting_org"]) == {"NCMEC"}


@pytest.mark.parametrize("text, row, column, rule", [
    ("country,iso3,2022,total\nIceland,ISL,1,1\n", 1, "total", "unexpected column"),
    ("country,2022\nIceland,1\n", 1, "iso3", "missing required column"),
    ("country,iso3,2022\nIceland,ISL,1\nIceland,ISL,2\n", 3, "country", "country listed twice (also at line 2)"),
    ("country,iso3,2022\nIceland,ISL,1,9\n", 2, None, "row has 4 fields but the header has 3"),
])
def test_bad_structure_names_file_row_and_column(tmp_path, text, row, column, rule):
    source = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        read_incident_file(source)
    [violation] = caught.value.violations
    assert (violation.file, violation.row, violation.column) == (str(source.path), row, column)
    assert rule in violation.rule


def test_unknown_and_duplicated_codes_fail_the_audit_with_file_row_and_column(tmp_path):
    folder = small_case(tmp_path / "src", 'country,iso3,2022\nIceland,ISL,"1,234"\nNowhere,ZZZ,5\n')
    (folder / "more.csv").write_text("country,iso3,2022\nIceland,ISL,99\n")
    (folder / "sources.yaml").write_text(
        "sources:\n  - {file: ict.csv, layout: cop_tidy}\n"
        "incidents:\n  - {file: reports.csv, layout: ncmec_by_country, reporting_org: NCMEC}\n"
        "  - {file: more.csv, layout: ncmec_by_country, reporting_org: NCMEC}\n")
    con = build_small(folder)
    try:
        violations = audit_incidents(con)
    finally:
        con.close()
    found = {(Path(v["file"]).name, v["row"], v["column"], v["value"]): v["rule"] for v in violations}
    assert "known to pycountry" in found[("reports.csv", 3, "iso3", "ZZZ")]
    assert "duplicated country-year: ISL 2022 NCMEC _T" in found[("reports.csv", 2, "iso3", "ISL")]
    assert "more.csv line 2" in found[("reports.csv", 2, "iso3", "ISL")]


# ------------------------------------------------------------------------------------------------ manifest
def test_manifest_without_incidents_key_means_no_incident_sources(tmp_path, caplog):
    (tmp_path / "sources.yaml").write_text("sources:\n  - {file: ict.csv, layout: cop_tidy}\n")
    with caplog.at_level("INFO"):
        assert load_incident_sources(tmp_path) == []
    assert "no 'incidents' key" in caplog.text
    empty = tmp_path / "empty"
    empty.mkdir()
    assert load_incident_sources(empty) == []  # no manifest at all


@pytest.mark.parametrize("entry, message", [
    ("{layout: ncmec_by_country, reporting_org: NCMEC}", "incidents[0]: each incident source needs a 'file' key"),
    ("{file: r.csv, layout: wide, reporting_org: NCMEC}", "incidents[0] (r.csv).layout: 'wide' is not one of"),
    ("{file: r.csv, layout: ncmec_by_country, reporting_org: IWF}", "incidents[0] (r.csv).reporting_org"),
    ("{file: gone.csv, layout: ncmec_by_country, reporting_org: NCMEC}", "incidents[0] (gone.csv).file"),
    ("{file: r.csv, layout: ncmec_by_country, reporting_org: NCMEC, unattributed_codes: [EEE]}",
     "incidents[0] (r.csv).unattributed_codes"),
])
def test_manifest_errors_name_manifest_and_entry(tmp_path, entry, message):
    (tmp_path / "r.csv").write_text("country,iso3,2022\nIceland,ISL,1\n")
    manifest = tmp_path / "sources.yaml"
    manifest.write_text(f"incidents:\n  - {entry}\n")
    with pytest.raises(ConfigError) as caught:
        load_incident_sources(tmp_path)
    assert str(manifest) in str(caught.value) and message in str(caught.value)


def test_manifest_elsewhere_resolves_files_against_the_sources_folder(tmp_path):
    data, config = tmp_path / "data", tmp_path / "config"
    data.mkdir(), config.mkdir()
    (data / "r.csv").write_text("country,iso3,2022\nIceland,ISL,1\n")
    (config / "real.yaml").write_text("synthetic: false\nincidents:\n"
                                      "  - {file: r.csv, layout: ncmec_by_country, reporting_org: NCMEC}\n")
    [source] = load_incident_sources(data, config / "real.yaml")
    assert source.path == (data / "r.csv").resolve() and source.synthetic is False
    with pytest.raises(ConfigError, match="does not exist"):
        load_incident_sources(data, config / "missing.yaml")


# ------------------------------------------------------------------------------------------ catalogue
def test_ir12_carries_the_caveat_that_report_counts_are_not_prevalence():
    registry = load_registry()
    catalogue = catalogue_frame(registry).set_index("code")
    for code in ("IR.12", "IR.15", "IR.16"):
        assert NOT_PREVALENCE in catalogue.loc[code, "caveats"]
    markdown = render_markdown(registry)
    section = markdown[markdown.index("### IR.12 "):markdown.index("### IR.13 ")]
    assert f"- caveat: {NOT_PREVALENCE}" in section


# -------------------------------------------------------------------------------------- synthetic sample
def test_synthetic_sample_is_reproducible_and_in_the_real_layout(tmp_path):
    out = incidents_sample.write_incidents_sample(tmp_path / "s.csv")
    assert out.read_bytes() == SAMPLE.read_bytes()
    wide = read_with_pandas(SAMPLE)
    assert list(wide.columns) == ["country", "iso3", *map(str, YEARS)]
    members = pd.read_csv(REPO / "data" / "reference" / "un_member_states.csv", dtype=str, keep_default_na=False)
    assert len(wide) == 194 and set(wide["iso3"].dropna()) == set(members["iso3"])
    assert wide.iloc[-1]["country"] == "No Country Listed" and pd.isna(wide.iloc[-1]["iso3"])
    text = SAMPLE.read_text()
    assert '"1,' in text  # thousands separators, quoted, as in NCMEC's tables
    assert "SYNTHETIC" in (SAMPLE_DIR / "sources.yaml").read_text().split("incidents:")[1]
    [source] = load_incident_sources(SAMPLE_DIR)
    assert source.synthetic and source.path == SAMPLE.resolve()


# ------------------------------------------------------------------------------------ through Dagster
def test_asset_graph_puts_incidents_between_the_sources_and_the_release():
    from pipelines.definitions import ASSET_CHECKS, defs

    graph = defs.resolve_asset_graph()
    parents = {k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
               for k in graph.get_all_asset_keys()}
    assert parents["raw/incident_reports"] == set()
    assert parents["staging/incident_reports"] == {"raw/incident_reports", "staging/ict_country_year",
                                                   "reference/country_codes"}
    assert parents["estimates/incidents"] == {"staging/incident_reports", "reference/indicator_registry",
                                              "staging/sources_checked"}  # every source checked first
    assert "estimates/incidents" in parents["release"]
    [check] = [s for c in ASSET_CHECKS for s in c.check_specs if s.name == "incident_reports_follow_the_rules"]
    assert check.blocking and check.asset_key.to_user_string() == "staging/incident_reports"


@pytest.fixture(scope="module")
def default_build(materialized_sample):
    """The release of one materialization of every asset with the default (sample) sources (conftest: made
    once per session, test_pipeline_e2e reads it too)."""
    return materialized_sample / "test-release-1"


def test_default_build_publishes_ir12_ir15_ir16(default_build):
    from schemas.ict import known_country_codes

    obs = pd.read_parquet(default_build / "observations.parquet")
    # country rows (group values, with their own COVERAGE and withholding, are tested in test_aggregation)
    incidents = obs[obs["INDICATOR"].isin(["IR.12", "IR.15", "IR.16"])
                    & obs["REF_AREA"].isin(known_country_codes())]
    assert set(incidents["INDICATOR"]) == {"IR.12", "IR.15", "IR.16"}
    assert set(incidents["OBS_STATUS"]) == {"A"} and set(incidents["CONF_STATUS"]) == {"F"}
    assert set(incidents["SEX"]) == set(incidents["AGE"]) == set(incidents["URBANISATION"]) == {"_T"}
    assert incidents["OBS_VALUE"].notna().all()
    # IR.12 is the sample file, cell by cell (every non-empty count of a country row)
    wide = read_with_pandas(SAMPLE).dropna(subset=["iso3"])
    tidy = wide.melt(id_vars="iso3", value_vars=[str(y) for y in YEARS], var_name="year", value_name="n").dropna()
    ir12 = incidents[incidents["INDICATOR"] == "IR.12"].merge(
        tidy.astype({"year": int}), left_on=["REF_AREA", "TIME_PERIOD"], right_on=["iso3", "year"],
        how="outer", indicator=True)
    assert (ir12["_merge"] == "both").all() and (ir12["OBS_VALUE"] == ir12["n"]).all()
    assert set(ir12["UNIT_MEASURE"]) == {"count"} and set(ir12["SOURCE_ID"]) == {"ncmec_reports_by_country"}
    # IR.15 by hand for one country-year, from the two sample files
    ict = pd.read_csv(SAMPLE_DIR / "ict_country_year.csv").set_index(["ref_area", "year"])
    row = ir12.iloc[0]
    population = ict.loc[(row["REF_AREA"], row["TIME_PERIOD"]), "population_total"]
    ir15 = incidents[(incidents["INDICATOR"] == "IR.15") & (incidents["REF_AREA"] == row["REF_AREA"])
                     & (incidents["TIME_PERIOD"] == row["TIME_PERIOD"])]
    assert ir15["OBS_VALUE"].item() == pytest.approx(round(row["n"] / population * 100_000, 1), abs=0.051)
    assert ir15["SOURCE_ID"].item() == "ict_country_year+ncmec_reports_by_country"


def test_default_build_manifest_lists_the_incident_file(default_build):
    manifest = json.loads((default_build / "manifest.json").read_text())
    [source] = [i for i in manifest["inputs"] if i["source_id"] == "ncmec_reports_by_country"]
    assert source["sha256"] == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    assert source["layout"] == "ncmec_by_country" and source["reporting_org"] == "NCMEC"
    assert source["synthetic"] is True and manifest["synthetic"] is True
    assert {"IR.12", "IR.15", "IR.16"} <= set(manifest["indicators"])
    catalogue = pd.read_parquet(default_build / "catalogue.parquet").set_index("code")
    assert NOT_PREVALENCE in catalogue.loc["IR.12", "caveats"]


def test_bad_incident_cell_fails_the_blocking_check_and_publishes_nothing(tmp_path):
    from pipelines.definitions import ASSET_CHECKS, ASSETS
    from pipelines.resources import default_resources

    folder = tmp_path / "sources"
    shutil.copytree(SAMPLE_DIR, folder, ignore=shutil.ignore_patterns("microdata"))
    lines = (folder / SAMPLE.name).read_text().splitlines(keepends=True)
    lines[4] = "Nowhere,ZZZ" + lines[4][lines[4].index(",", lines[4].index(",") + 1):]
    (folder / SAMPLE.name).write_text("".join(lines))
    resources = default_resources(sources_dir=folder, published_dir=tmp_path / "published",
                                  warehouse=tmp_path / "w.duckdb", release_id="bad-1")
    result = dg.materialize([*ASSETS, *ASSET_CHECKS], resources=resources, raise_on_error=False)
    assert not result.success
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == "incident_reports_follow_the_rules"]
    assert not check.passed
    cases = check.metadata["failure_cases"].value
    assert {(Path(c["file"]).name, c["row"], c["column"], c["value"]) for c in cases} == {
        (SAMPLE.name, 5, "iso3", "ZZZ")}
    assert not (tmp_path / "published" / "bad-1").exists()
