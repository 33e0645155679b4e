"""A rejected delivery contributes nothing to the release, old rows or new, and the rejection is visible: in the
end-of-build summary, the manifest and quality_report.parquet; `cop build --strict` exits 1 on it (issue 13,
points 1 and 2)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from test_build_incremental import Builds
from test_survey_partitions import deliver


@pytest.fixture
def built_r1(small_deliveries_build, tmp_path):
    """conftest's small_deliveries_build (aaa_2023 KEN and bbb_2023 BRA, release r1), copied for this test."""
    root, code, _ = small_deliveries_build
    assert code == 0
    shutil.copytree(root, tmp_path, symlinks=True, dirs_exist_ok=True)
    return Builds(tmp_path, tmp_path / "sources")


def rests_on(observations: pd.DataFrame, source_id: str) -> pd.DataFrame:
    """Observations whose SOURCE_ID names `source_id`, alone or as one of a group value's deliveries."""
    return observations[[source_id in str(s).split("+") for s in observations["SOURCE_ID"]]]


def quality(builds: Builds, release: str) -> pd.DataFrame:
    return pd.read_parquet(builds.root / "published" / release / "quality_report.parquet")


def manifest(builds: Builds, release: str) -> dict:
    return json.loads((builds.root / "published" / release / "manifest.json").read_text())


def test_a_delivery_rejected_on_redelivery_leaves_no_row_in_the_release(built_r1, capsys):
    builds = built_r1
    assert len(rests_on(builds.observations("r1"), "bbb_2023")) > 0  # published before

    deliver(builds.mappings, "bbb_2023", "BRA", 150, 2, weight=-1.0)  # every weight negative: the delivery fails
    code, out = builds.build(capsys, "--release-id", "r2")

    assert code == 0  # the default: the build goes on without it
    assert "survey deliveries: 1 accepted, 1 rejected, 0 withdrawn" in out
    summary = out[out.index("survey deliveries:"):]
    assert "bbb_2023: REJECTED, left out of this release: " in summary
    assert "150 of 150 rows (100.0%) break a row rule" in summary
    second = builds.observations("r2")
    assert rests_on(second, "bbb_2023").empty  # neither the old delivery's rows nor the new one's
    assert "BRA" not in set(second["REF_AREA"][second["INDICATOR"].str.startswith(("BC.", "SA.", "RB."))
                                               & second["SOURCE_ID"].str.contains("_2023")])
    assert len(rests_on(second, "aaa_2023")) > 0

    digest = manifest(builds, "r2")["quality"]
    assert digest["sources_rejected"] == ["bbb_2023"] and digest["sources_withdrawn"] == []
    assert digest["checks_failed"] == [] and digest["checks"] > 0
    assert digest["cells_suppressed"] == int((second["OBS_STATUS"] == "Q").sum())

    report = quality(builds, "r2")
    verdicts = report[report["item"] == "verdict"].set_index("source_id")
    assert verdicts.loc["bbb_2023", "status"] == "rejected" and verdicts.loc["bbb_2023", "count"] == 150
    assert "break a row rule" in verdicts.loc["bbb_2023", "detail"]
    assert verdicts.loc["aaa_2023", "status"] == "accepted"
    assert verdicts.loc["ict_country_year", "status"] == "accepted"
    rows = report[(report["item"] == "rows_rejected") & (report["source_id"] == "bbb_2023")]
    assert rows["count"].max() == 150  # the weight rule, broken by every row
    assert report.loc[report["item"] == "check", "passed"].all()
    assert {"ict", "incidents", "survey_microdata", "release"} <= set(report.loc[report["item"] == "check", "source"])


def test_an_unreadable_redelivery_is_rejected_with_its_reason(built_r1, capsys):
    builds = built_r1
    (builds.mappings / "bbb_2023.parquet").write_bytes(b"PAR1 this is not a parquet file")
    code, out = builds.build(capsys, "--release-id", "r2")
    assert code == 0
    assert "bbb_2023: REJECTED, left out of this release: delivery cannot be read" in out
    assert rests_on(builds.observations("r2"), "bbb_2023").empty
    assert manifest(builds, "r2")["quality"]["sources_rejected"] == ["bbb_2023"]


def test_suppressed_cells_are_counted_per_delivery_they_rest_on(built_r1, capsys):
    builds = built_r1
    observations = builds.observations("r1")
    report = quality(builds, "r1")
    suppressed = report[report["item"] == "cells_suppressed"]
    for source_id in ("aaa_2023", "bbb_2023"):
        by_hand = {}
        for source, status, reason in zip(observations["SOURCE_ID"], observations["OBS_STATUS"],
                                          observations["CONF_STATUS"]):
            if status == "Q" and source_id in str(source).split("+"):
                by_hand[reason] = by_hand.get(reason, 0) + 1
        assert by_hand, f"the sample has suppressed cells resting on {source_id}"
        found = suppressed[suppressed["source_id"] == source_id]
        assert dict(zip(found["rule"], found["count"])) == by_hand
        assert set(found["source"]) == {"survey_microdata"}


def test_strict_exits_1_while_a_source_is_rejected_and_0_once_it_is_withdrawn(built_r1, capsys):
    builds = built_r1
    deliver(builds.mappings, "bbb_2023", "BRA", 150, 2, weight=-1.0)
    code, _ = builds.build(capsys, "--release-id", "r2", "--strict")
    assert code == 1 and (builds.root / "published" / "r2").is_dir()  # published, and the exit code alerts
    assert "cop build --strict: 1 source(s) rejected (bbb_2023): exit 1. The release was published without " \
           "them" in builds.err

    code, out = builds.build(capsys, "--strict")  # nothing changed: the answer comes from r2's manifest
    assert code == 1 and "nothing to do" in out
    code, _ = builds.build(capsys)
    assert code == 0  # without --strict the same state is a success

    # the operator withdraws the broken delivery (removes its spec): no longer a rejection
    (builds.mappings / "child_survey_bbb_2023.yaml").unlink()
    code, out = builds.build(capsys, "--release-id", "r3", "--strict")
    assert code == 0 and "bbb_2023: WITHDRAWN, left out of this release" in out
    assert manifest(builds, "r3")["quality"]["sources_withdrawn"] == ["bbb_2023"]
