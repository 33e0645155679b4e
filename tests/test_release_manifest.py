"""The release manifest is honest: it lists every survey delivery left out of the build with the reason, and
the fingerprint of the published numbers is the same for the same inputs and code."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from test_survey_partitions import deliver

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"


def cli_build(tmp: Path, release_id: str, *extra: str) -> int:
    from pipelines import cli

    (tmp / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(tmp))
        patch.setenv("COP_DAGSTER_STATE", str(tmp / ".dagster"))
        return cli.main(["build", "--sources", str(SAMPLE), "--out", str(tmp / "published"),
                         "--warehouse", str(tmp / "warehouse.duckdb"), "--release-id", release_id, *extra])


def test_the_manifest_lists_a_rejected_delivery_with_its_reason_and_publishes_none_of_it(tmp_path):
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    deliver(mappings, "aaa_2023", "KEN", 120, 1)
    deliver(mappings, "bad_2023", "GHA", 80, 4, weight=0.0)  # zero weights: the design is broken
    assert cli_build(tmp_path, "with-rejection", "--mappings", str(mappings)) == 0
    release = tmp_path / "published" / "with-rejection"
    manifest = json.loads((release / "manifest.json").read_text())

    [left_out] = manifest["left_out"]
    assert left_out["source_id"] == "bad_2023" and left_out["status"] == "rejected"
    assert "column 'w' (weight) missing, not a number, zero or negative in 80 row(s) (records 1, 2, 3" in left_out["reasons"]
    statuses = {d["source_id"]: d["status"] for d in manifest["survey_deliveries"]}
    assert statuses == {"aaa_2023": "accepted", "bad_2023": "rejected"}
    assert [i["source_id"] for i in manifest["inputs"] if i["layout"] == "microdata"] == ["aaa_2023"]

    observations = pd.read_parquet(release / "observations.parquet")
    parts = observations["SOURCE_ID"].dropna().str.split("+").explode()
    assert "aaa_2023" in set(parts) and "bad_2023" not in set(parts)


def test_two_builds_of_the_same_inputs_give_the_same_fingerprint_and_files(full_sample_build, full_sample_build_again):
    first, _ = full_sample_build
    # conftest: a second `cop build` of the same inputs, the same release id, in another folder with its own
    # warehouse and instance (both builds run in subprocesses started before the first test)
    second = full_sample_build_again
    assert second.name == first.name and second.parent != first.parent
    one = json.loads((first / "manifest.json").read_text())
    two = json.loads((second / "manifest.json").read_text())
    assert one["observations_fingerprint"] == two["observations_fingerprint"]
    # every published file is byte-identical, but the DuckDB file (its storage blocks are laid out by threads)
    outputs = {o["file"]: o["sha256"] for o in one["outputs"]}
    again = {o["file"]: o["sha256"] for o in two["outputs"]}
    assert outputs.keys() == again.keys()
    differ = sorted(f for f in outputs if outputs[f] != again[f] and f != "cop_indicators.duckdb")
    assert differ == [], differ
