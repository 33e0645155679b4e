"""Survey sources are Dagster partitions: a new mapping spec gets its own partition from the sensor, and
materializing it touches only that source's rows."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from pipelines.assets.survey import new_mapping_specs, survey_sources
from pipelines.definitions import build_definitions
from pipelines.resources import BuildSettings


def deliver(folder: Path, source_id: str, country: str, n: int, seed: int, weight: float = 100.0) -> None:
    """A small Parquet delivery and its mapping spec, in the national names of an imaginary country."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"id": np.arange(1, n + 1), "strat": rng.integers(1, 3, n), "cluster": rng.integers(1, 5, n),
                          "w": np.full(n, weight), "gender": rng.choice(["boy", "girl"], n),
                          "age_years": rng.integers(9, 18, n), "online": rng.choice([1, 0], n)})
    frame.to_parquet(folder / f"{source_id}.parquet", index=False)
    spec = {"source_id": source_id, "target": "child_survey", "file": f"{source_id}.parquet", "format": "parquet",
            "country": country, "wave": 2023,
            "design": {"respondent_id": "id", "stratum": "strat", "psu": "cluster", "weight": "w"},
            "rename": {"gender": "sex", "age_years": "age", "online": "uses_internet"},
            "recode": {"sex": {"boy": "M", "girl": "F"}, "uses_internet": {1: True, 0: False}},
            "derive": {"age_band": {"from": "age", "bands": {"9-11": [9, 11], "12-14": [12, 14], "15-17": [15, 17]}},
                       "parent_interviewed": {"value": False}}}
    (folder / f"child_survey_{source_id}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


@pytest.fixture
def setup(tmp_path):
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    deliver(mappings, "aaa_2023", "KEN", 120, 1)
    deliver(mappings, "bbb_2023", "BRA", 150, 2)
    defs = build_definitions(mappings_dir=mappings, warehouse=tmp_path / "w.duckdb",
                             published_dir=tmp_path / "published")
    return mappings, defs, dg.DagsterInstance.ephemeral(), tmp_path / "w.duckdb"


def evaluate_sensor(instance, mappings: Path, cursor: str | None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"build": BuildSettings(mappings_dir=str(mappings))})
    result = new_mapping_specs(context)
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(survey_sources.name, list(request.partition_keys))
    return result


def staged_rows(warehouse: Path) -> dict[str, int]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return dict(con.execute("SELECT source_id, count(*) FROM staging.child_survey GROUP BY 1").fetchall())
    finally:
        con.close()


def test_a_new_spec_gets_its_own_partition_and_only_it_is_materialized(setup):
    mappings, defs, instance, warehouse = setup
    job = defs.resolve_job_def("ingest_survey_source")

    first = evaluate_sensor(instance, mappings, None)
    assert sorted(r.partition_key for r in first.run_requests) == ["aaa_2023", "bbb_2023"]
    for key in ("aaa_2023", "bbb_2023"):
        assert job.execute_in_process(instance=instance, partition_key=key).success
    assert staged_rows(warehouse) == {"aaa_2023": 120, "bbb_2023": 150}

    # nothing new: the sensor asks for nothing
    assert evaluate_sensor(instance, mappings, first.cursor).run_requests == []

    # a new country's delivery appears
    deliver(mappings, "ccc_2023", "PHL", 90, 3)
    second = evaluate_sensor(instance, mappings, first.cursor)
    assert [r.partition_key for r in second.run_requests] == ["ccc_2023"]
    assert set(instance.get_dynamic_partitions(survey_sources.name)) == {"aaa_2023", "bbb_2023", "ccc_2023"}
    run = job.execute_in_process(instance=instance, partition_key="ccc_2023")
    assert {m.partition for m in run.get_asset_materialization_events() for m in [m.materialization]} == {"ccc_2023"}
    assert staged_rows(warehouse) == {"aaa_2023": 120, "bbb_2023": 150, "ccc_2023": 90}
    assert json.loads(second.cursor).keys() == {"aaa_2023", "bbb_2023", "ccc_2023"}


def test_a_rejected_source_fails_its_blocking_check_and_leaves_no_rows(setup):
    mappings, defs, instance, warehouse = setup
    deliver(mappings, "bad_2023", "GHA", 80, 4, weight=0.0)  # zero weights: design broken
    evaluate_sensor(instance, mappings, None)
    job = defs.resolve_job_def("ingest_survey_source")
    assert job.execute_in_process(instance=instance, partition_key="aaa_2023").success
    result = job.execute_in_process(instance=instance, partition_key="bad_2023", raise_on_error=False)
    assert not result.success
    [check] = result.get_asset_check_evaluations()
    assert not check.passed and "weight missing, zero or negative in 80 row(s)" in check.metadata["reasons"].value
    assert staged_rows(warehouse) == {"aaa_2023": 120}


def test_the_check_audits_what_is_staged_against_the_model(setup):
    """Write-audit: the blocking check re-validates the staged rows, so a row changed after harmonisation (or
    a harmonisation bug) cannot pass unseen."""
    from indicators.harmonise_survey import audit_staged

    mappings, defs, instance, warehouse = setup
    evaluate_sensor(instance, mappings, None)
    assert defs.resolve_job_def("ingest_survey_source").execute_in_process(
        instance=instance, partition_key="aaa_2023").success
    con = duckdb.connect(str(warehouse))
    try:
        assert audit_staged(con, "child_survey", "aaa_2023").empty
        con.execute("UPDATE staging.child_survey SET age = 30 WHERE source_id = 'aaa_2023' AND respondent_id = '7'")
        failures = audit_staged(con, "child_survey", "aaa_2023")
    finally:
        con.close()
    assert set(failures["column"]) == {"age", "age_band"} and "30" in set(failures["value"])
    assert set(failures["rule"]) == {"less_than_or_equal_to(17)", "age is within age_band"}
