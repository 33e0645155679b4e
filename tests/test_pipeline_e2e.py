"""End to end: the asset graph, a full materialization into a temporary folder, and the release it writes."""

from __future__ import annotations

import hashlib
from decimal import ROUND_HALF_UP, Decimal
import json
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from indicators.catalogue import catalogue_frame, render_markdown
from indicators.registry import load_registry
from pipelines.definitions import ASSET_CHECKS, ASSETS, defs
from pipelines.resources import default_resources
from schemas.observations import OBSERVATION_COLUMNS

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample" / "ict_country_year.csv"


def round_half_away(values, decimals: int = 2):
    """Rounding as done by hand on the number as written: decimal, ties away from zero."""
    quantum = Decimal(1).scaleb(-decimals)

    def one(value: float) -> float:
        return float(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP))

    return values.map(one) if isinstance(values, pd.Series) else one(values)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_asset_graph_runs_one_way_from_sources_to_release():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    survey_estimates = {"estimates/survey_subjective_aspects", "estimates/survey_risk_behaviour",
                        "estimates/survey_incidents_responses", "estimates/survey_preventative_actions",
                        # from the registry: BC.2-BC.6 and PA.* are household and individual survey entries
                        "estimates/survey_background_context"}
    assert keys == {"reference/country_codes", "reference/indicator_registry", "raw/ict_country_year",
                    "staging/ict_country_year", "estimates/country_year", "release",
                    "raw/child_survey", "staging/child_survey", "raw/incident_reports", "staging/incident_reports",
                    "estimates/incidents", "estimates/aggregates", "staging/sources_checked", *survey_estimates,
                    "raw/questionnaire_answers", "staging/national_questionnaire", "estimates/national_questionnaire"}
    parents = {k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
               for k in graph.get_all_asset_keys()}
    assert parents["staging/ict_country_year"] == {"raw/ict_country_year", "reference/country_codes"}
    # estimation waits for the gate, which waits for every source's staging (and so their blocking checks)
    assert parents["staging/sources_checked"] == {"staging/ict_country_year", "staging/incident_reports",
                                                  "staging/child_survey", "staging/national_questionnaire"}
    assert parents["estimates/national_questionnaire"] == {"staging/national_questionnaire",
                                                           "reference/indicator_registry", "staging/sources_checked"}
    assert parents["estimates/country_year"] == {"staging/ict_country_year", "reference/indicator_registry",
                                                 "staging/sources_checked"}
    assert parents["estimates/aggregates"] == {"estimates/country_year", "estimates/incidents",
                                               "estimates/national_questionnaire", "reference/country_codes",
                                               "staging/ict_country_year", *survey_estimates}
    assert parents["release"] == {"estimates/country_year", "estimates/incidents", "estimates/aggregates",
                                  "estimates/national_questionnaire", *survey_estimates}
    assert parents["estimates/survey_risk_behaviour"] == {"staging/child_survey", "reference/indicator_registry",
                                                          "staging/sources_checked"}
    assert parents["staging/child_survey"] == {"raw/child_survey"}
    survey = graph.get(dg.AssetKey(["staging", "child_survey"]))
    assert survey.partitions_def.name == "survey_source"
    ict_check = next(c for c in ASSET_CHECKS if c.check_key.name == "ict_values_follow_the_rules")
    check = next(iter(ict_check.check_specs))
    assert check.blocking and check.asset_key.to_user_string() == "staging/ict_country_year"
    assert defs.resolve_job_def("build_release").executor_def.name == "in_process"


@pytest.fixture(scope="module")
def built(materialized_sample):
    """One materialization of every asset from the bundled sample into a temporary folder, release id
    test-release-1 (conftest: made once per session, test_incidents reads it too)."""
    return materialized_sample


def test_release_folder_holds_every_output_and_latest_points_to_it(built):
    release = built / "test-release-1"
    assert sorted(p.name for p in release.iterdir()) == [
        "capacity_audit.parquet", "capacity_ranks.parquet", "capacity_scores.parquet",
        "catalogue.md", "catalogue.parquet", "charts", "cop_indicators.duckdb", "manifest.json",
        "observations.parquet", "observations.sdmx-structure.json", "observations.sdmx.csv", "profiles",
        "quality_report.parquet", "report.html", "roadmap_gaps.parquet",
        "roadmap_stage_counts.parquet", "roadmap_stages.parquet"]
    assert (built / "latest").resolve() == release.resolve()
    assert (built / "LATEST").read_text().strip() == "test-release-1"
    assert not [p for p in built.iterdir() if p.name.startswith(".incoming")]
    for png in release.glob("charts/*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_observations_are_the_sample_values_in_the_sdmx_layout(built):
    published = pd.read_parquet(built / "test-release-1" / "observations.parquet")
    assert list(published.columns) == OBSERVATION_COLUMNS
    # the country-level ICT series of the 193 countries (group values are tested in test_real_data_build and
    # test_aggregation)
    sample = pd.read_csv(SAMPLE)
    obs = published[published["INDICATOR"].str.startswith("BC.") & published["REF_AREA"].isin(sample["ref_area"])]
    # BC.1 is the sample's internet_users_pct, one row per non-missing country-year, rounded to 2 decimals
    expected = sample.dropna(subset=["internet_users_pct"])
    bc1 = obs[obs["INDICATOR"] == "BC.1"].merge(expected, left_on=["REF_AREA", "TIME_PERIOD"],
                                                 right_on=["ref_area", "year"], how="outer", indicator=True)
    assert (bc1["_merge"] == "both").all()
    assert (bc1["OBS_VALUE"] - round_half_away(bc1["internet_users_pct"])).abs().max() < 1e-9
    # one hand-checked growth value: BC.10 for the first country with two consecutive years
    row = sample.dropna(subset=["internet_users_pct"]).iloc[0:2]
    assert row["year"].iloc[1] == row["year"].iloc[0] + 1
    bc10 = obs[(obs["INDICATOR"] == "BC.10") & (obs["REF_AREA"] == row["ref_area"].iloc[0])
               & (obs["TIME_PERIOD"] == row["year"].iloc[1])]["OBS_VALUE"].item()
    assert bc10 == pytest.approx(round_half_away(row["internet_users_pct"].iloc[1] - row["internet_users_pct"].iloc[0]),
                                 abs=1e-12)
    assert set(obs["SEX"]) == {"_T"} and set(obs["OBS_STATUS"]) == {"A"} and set(obs["CONF_STATUS"]) == {"F"}
    assert set(published["RELEASE_ID"]) == {"test-release-1"}
    assert set(obs["SOURCE_ID"]) == {"ict_country_year"}
    assert obs["REF_AREA"].nunique() == 193


def test_public_duckdb_holds_observations_and_catalogue_but_no_raw_data(built):
    con = duckdb.connect(str(built / "test-release-1" / "cop_indicators.duckdb"), read_only=True)
    try:
        tables = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall())
        assert {t for t, kind in tables.items() if kind == "BASE TABLE"} == {
            "observations", "catalogue", "aggregate_groups", "group_members", "areas", "sources",
            "OBS_STATUS", "CONF_STATUS", "UNIT_MEASURE", "SEX", "AGE", "URBANISATION",  # these six: code lists
            # the national questionnaire's tables (no raw answers: scores, ranks, the roadmap)
            "capacity_scores", "capacity_ranks", "capacity_audit", "roadmap_stages", "roadmap_gaps",
            "roadmap_stage_counts"}
        assert {t for t, kind in tables.items() if kind == "VIEW"} == {
            "observations_labelled", "latest", "compare", "regional", "country_profile", "gaps"}
        groups = con.execute("SELECT count(*) FROM aggregate_groups").fetchone()[0]
        n = con.execute("SELECT count(*) FROM observations").fetchone()[0]
        codes = [r[0] for r in con.execute("SELECT code FROM catalogue ORDER BY code").fetchall()]
    finally:
        con.close()
    manifest = json.loads((built / "test-release-1" / "manifest.json").read_text())
    assert n == manifest["row_counts"]["observations"] == sum(manifest["indicators"].values())
    # the catalogue lists every registry entry and derived gap series; the sample feeds the country-level
    # series, the incident counts and rates and the national questionnaire's entries (survey partitions are not
    # materialized here)
    registry = load_registry()
    assert codes == sorted(catalogue_frame(registry)["code"])
    questionnaire = {i.code for i in registry if i.source in ("national_questionnaire", "national_capacity_index")}
    assert len(questionnaire) == 29   # NC.1-NC.28 and SA.5
    assert set(manifest["indicators"]) == {"BC.1", "BC.7", "BC.8", "BC.9", "BC.10", "BC.11", "BC.12", "IR.12",
                                           "IR.15", "IR.16", *questionnaire}
    assert groups == 45
    shipped = pd.read_parquet(built / "test-release-1" / "catalogue.parquet")
    assert sorted(shipped["code"]) == codes
    origin = dict(zip(shipped["code"], shipped["data_origin"]))
    # this build reads the synthetic sample; the survey partitions are not materialized here
    assert origin["BC.1"] == origin["NC.1"] == "synthetic" and origin["RB.1"] == "no data"
    assert (built / "test-release-1" / "catalogue.md").read_text() == render_markdown(load_registry(), origin)


def test_manifest_records_inputs_code_and_output_checksums(built):
    release = built / "test-release-1"
    manifest = json.loads((release / "manifest.json").read_text())
    assert manifest["synthetic"] is True and "SYNTHETIC" in manifest["data_note"]
    [source] = [i for i in manifest["inputs"] if i["layout"] == "cop_tidy"]
    assert source["sha256"] == sha256(SAMPLE) and source["layout"] == "cop_tidy"
    assert source["rows"] == int(pd.read_csv(SAMPLE).iloc[:, 3:].notna().sum().sum())
    assert manifest["code_version"]["version"] == "0.1.0"
    outputs = {o["file"]: o for o in manifest["outputs"]}
    assert set(outputs) == {p.relative_to(release).as_posix() for p in release.rglob("*")
                            if p.is_file()} - {"manifest.json"}
    for name, entry in outputs.items():
        assert entry["sha256"] == sha256(release / name)


def test_same_inputs_and_code_give_the_same_numbers(built, tmp_path):
    resources = default_resources(published_dir=tmp_path / "published", warehouse=tmp_path / "w.duckdb",
                                  release_id="test-release-2")
    assert dg.materialize([*ASSETS, *ASSET_CHECKS], resources=resources).success
    first = json.loads((built / "test-release-1" / "manifest.json").read_text())
    second = json.loads((tmp_path / "published" / "test-release-2" / "manifest.json").read_text())
    assert first["observations_fingerprint"] == second["observations_fingerprint"]
