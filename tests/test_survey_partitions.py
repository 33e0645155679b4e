"""Survey sources are Dagster partitions: a new mapping spec gets its own partition from the sensor, a run of
just the affected partitions touches only their rows, a rejected delivery is left out while the others go on,
and `cop build` re-reads and re-estimates only the deliveries that changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pytest
import yaml

from indicators.sources.survey_microdata import PARTITIONS
from pipelines.definitions import BUILD_JOB, build_definitions
from pipelines.resources import BuildSettings

REPO = Path(__file__).resolve().parents[1]


def deliver(folder: Path, source_id: str, country: str, n: int, seed: int, weight: float = 100.0) -> None:
    """A small Parquet delivery and its mapping spec, in the national names of an imaginary country (the corpus's
    delivery_frame and delivery_spec, so that both describe one delivery)."""
    from reliability.make_corpus import delivery_frame, delivery_spec

    delivery_frame(n, np.random.default_rng(seed)).assign(w=weight).to_parquet(folder / f"{source_id}.parquet",
                                                                                index=False)
    spec = delivery_spec(source_id, country, f"{source_id}.parquet", "parquet")
    (folder / f"child_survey_{source_id}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


@pytest.fixture(scope="module")
def built(small_deliveries_build):
    """A warehouse after a full `cop build` of the sample's ICT and incident files with two small deliveries (the
    state a sensor finds in production): conftest's small_deliveries_build (aaa_2023 and bbb_2023 as `deliver`
    makes them), built once per session; the tests copy its warehouse and mappings."""
    root, code, _ = small_deliveries_build
    assert code == 0
    return root


@pytest.fixture
def setup(built, tmp_path):
    """A copy of the built warehouse and its mappings, and a fresh Dagster instance (no partition known yet)."""
    mappings = tmp_path / "mappings"
    shutil.copytree(built / "mappings", mappings)
    shutil.copy(built / "w.duckdb", tmp_path / "w.duckdb")
    defs = build_definitions(sources_dir=REPO / "data" / "sample", mappings_dir=mappings,
                             warehouse=tmp_path / "w.duckdb", published_dir=tmp_path / "published")
    return mappings, defs, dg.DagsterInstance.ephemeral(), tmp_path / "w.duckdb"


def sensor_named(defs, name: str):
    return next(s for s in defs.sensors if s.name == name)


def evaluate_sensor(defs, instance, mappings: Path, cursor: str | None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"build": BuildSettings(mappings_dir=str(mappings))})
    return sensor_named(defs, "new_mapping_specs")(context)


def run_request(defs, instance, request: dg.RunRequest):
    """Execute a sensor's run request in process: its assets over its partition range."""
    return defs.resolve_job_def(BUILD_JOB).execute_in_process(
        instance=instance, asset_selection=request.asset_selection, tags=request.tags, raise_on_error=False)


def partitions_materialized(result, key: str) -> set[str]:
    return {e.materialization.partition for e in result.get_asset_materialization_events()
            if e.materialization.asset_key.to_user_string() == key}


def staged_rows(warehouse: Path) -> dict[str, int]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return dict(con.execute("SELECT source_id, count(*) FROM staging.child_survey GROUP BY 1").fetchall())
    finally:
        con.close()


def test_a_new_spec_gets_its_own_partition_and_only_it_is_materialized(setup):
    mappings, defs, instance, warehouse = setup
    first = evaluate_sensor(defs, instance, mappings, None)
    assert instance.get_dynamic_partitions(PARTITIONS) == ["aaa_2023", "bbb_2023"]
    [request] = first.run_requests
    assert (request.tags["dagster/asset_partition_range_start"], request.tags["dagster/asset_partition_range_end"]) \
        == ("aaa_2023", "bbb_2023")
    # the run covers the partitions and everything downstream of them, up to the release
    assert {k.to_user_string() for k in request.asset_selection} >= {
        "raw/child_survey", "staging/child_survey", "estimates/survey_incidents_responses", "estimates/aggregates",
        "release"}
    run = run_request(defs, instance, request)
    assert run.success
    assert partitions_materialized(run, "raw/child_survey") == {"aaa_2023", "bbb_2023"}
    assert staged_rows(warehouse) == {"aaa_2023": 120, "bbb_2023": 150}

    # nothing new: the sensor asks for nothing
    assert evaluate_sensor(defs, instance, mappings, first.cursor).run_requests == []

    # a new country's delivery appears: one run of just its partition
    deliver(mappings, "ccc_2023", "PHL", 90, 3)
    second = evaluate_sensor(defs, instance, mappings, first.cursor)
    [request] = second.run_requests
    assert request.tags["dagster/asset_partition_range_start"] == request.tags[
        "dagster/asset_partition_range_end"] == "ccc_2023"
    assert set(instance.get_dynamic_partitions(PARTITIONS)) == {"aaa_2023", "bbb_2023", "ccc_2023"}
    run = run_request(defs, instance, request)
    assert run.success
    assert partitions_materialized(run, "raw/child_survey") == partitions_materialized(
        run, "staging/child_survey") == {"ccc_2023"}
    assert staged_rows(warehouse) == {"aaa_2023": 120, "bbb_2023": 150, "ccc_2023": 90}
    assert json.loads(second.cursor).keys() == {"aaa_2023", "bbb_2023", "ccc_2023"}


def test_a_rejected_delivery_is_left_out_and_the_others_go_on(setup):
    mappings, defs, instance, warehouse = setup
    deliver(mappings, "bad_2023", "GHA", 80, 4, weight=0.0)  # zero weights: design broken
    [request] = evaluate_sensor(defs, instance, mappings, None).run_requests
    result = run_request(defs, instance, request)
    assert result.success  # a rejection is reported, not a failure of the build
    assert staged_rows(warehouse) == {"aaa_2023": 120, "bbb_2023": 150}
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == "staged_rows_follow_the_model"]
    assert check.passed
    assert "column 'w' (weight) missing, not a number, zero or negative in 80 row(s) (records 1, 2, 3" in check.metadata["rejected"].value["bad_2023"]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        published = con.execute("SELECT DISTINCT SOURCE_ID FROM estimates.survey_incidents_responses ORDER BY 1").fetchall()
    finally:
        con.close()
    assert published == [("aaa_2023",), ("bbb_2023",)]


def test_the_check_audits_what_is_staged_against_the_model(setup):
    """Write-audit: the blocking check re-validates the staged rows, so a row changed after harmonisation (or
    a harmonisation bug) cannot pass unseen."""
    from indicators.sources.survey_microdata.harmonise import audit_staged

    mappings, defs, instance, warehouse = setup
    [request] = evaluate_sensor(defs, instance, mappings, None).run_requests
    assert run_request(defs, instance, request).success
    con = duckdb.connect(str(warehouse))
    try:
        assert audit_staged(con, "child_survey", "aaa_2023").empty
        con.execute("UPDATE staging.child_survey SET age = 30 WHERE source_id = 'aaa_2023' AND respondent_id = '7'")
        failures = audit_staged(con, "child_survey", "aaa_2023")
    finally:
        con.close()
    assert set(failures["column"]) == {"age", "age_band"} and "30" in set(failures["value"])
    assert set(failures["rule"]) == {"age must be between 5 and 17", "age is within age_band"}


def test_a_delivery_dropped_in_the_inbox_is_stored_and_only_its_partition_runs(built, tmp_path):
    """The inbox sensor moves a file whose spec exists into the content-addressed store, turns away a file with no
    spec and a copy of a file already delivered (with a reason file each), and starts a run of just the delivered
    partition, which reads the stored copy."""
    mappings = tmp_path / "mappings"
    shutil.copytree(built / "mappings", mappings)
    shutil.copy(built / "w.duckdb", tmp_path / "w.duckdb")
    inbox, store = tmp_path / "inbox", tmp_path / "store"
    inbox.mkdir()
    defs = build_definitions(sources_dir=REPO / "data" / "sample", mappings_dir=mappings,
                             warehouse=tmp_path / "w.duckdb", published_dir=tmp_path / "published",
                             inbox_dir=inbox, store_dir=store)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(PARTITIONS, ["aaa_2023", "bbb_2023"])
    redelivery = tmp_path / "redelivery"
    redelivery.mkdir()
    deliver(redelivery, "aaa_2023", "KEN", 130, 21)  # a corrected file: 130 respondents instead of 120
    shutil.copy(redelivery / "aaa_2023.parquet", inbox / "aaa_2023.parquet")
    shutil.copy(mappings / "bbb_2023.parquet", inbox / "bbb_2023.parquet")  # the file already delivered
    (inbox / "zzz_2023.csv").write_text("id,w\n1,2\n")  # no spec names it

    context = dg.build_sensor_context(instance=instance, resources={"build": defs.resources["build"]})
    result = sensor_named(defs, "inbox_deliveries")(context)

    [request] = result.run_requests
    assert request.tags["dagster/asset_partition_range_start"] == request.tags[
        "dagster/asset_partition_range_end"] == "aaa_2023"
    assert sorted(p.name for p in inbox.iterdir()) == ["rejected"]
    assert sorted(p.name for p in (inbox / "rejected").iterdir()) == [
        "bbb_2023.parquet", "bbb_2023.parquet.reason.txt", "zzz_2023.csv", "zzz_2023.csv.reason.txt"]
    assert "duplicate" in (inbox / "rejected" / "bbb_2023.parquet.reason.txt").read_text()
    assert "no mapping spec" in (inbox / "rejected" / "zzz_2023.csv.reason.txt").read_text()
    [stored] = [json.loads(line) for line in (store / "deliveries.jsonl").read_text().splitlines()]
    assert stored["source_id"] == "aaa_2023" and stored["original_name"] == "aaa_2023.parquet"

    run = run_request(defs, instance, request)
    assert run.success
    assert partitions_materialized(run, "raw/child_survey") == {"aaa_2023"}
    assert staged_rows(tmp_path / "w.duckdb") == {"aaa_2023": 130, "bbb_2023": 150}
