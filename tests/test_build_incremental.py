"""`cop build` is one Dagster run that redoes only what changed: nothing changed answers "nothing to do" without
a run, a re-delivered survey is the only partition read again (checked through the instance's materialization
events), a withdrawn or replaced source publishes none of its old rows, and a bad file fails the build before any
estimate is computed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from indicators.paths import default_warehouse
from test_survey_partitions import deliver
from conftest import copy_country_sample

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"


class Builds:
    """`cop build` of one sources folder and mappings folder into one warehouse, output folder and instance."""

    def __init__(self, root: Path, sources: Path):
        self.root, self.sources = root, sources
        self.mappings = root / "mappings"
        self.mappings.mkdir(exist_ok=True)
        (root / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())

    def build(self, capsys, *extra: str) -> tuple[int, str]:
        from pipelines import cli

        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DAGSTER_HOME", str(self.root))
            patch.setenv("COP_DAGSTER_STATE", str(self.root / ".dagster"))
            code = cli.main(["build", "--sources", str(self.sources), "--mappings", str(self.mappings),
                             "--out", str(self.root / "published"), "--warehouse", str(self.root / "w.duckdb"),
                             *extra])
        captured = capsys.readouterr()
        self.err = captured.err  # what the build wrote to stderr (failures, --strict's alert)
        return code, captured.out

    def instance(self) -> dg.DagsterInstance:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DAGSTER_HOME", str(self.root))
            patch.setenv("COP_DAGSTER_STATE", str(self.root / ".dagster"))
            return dg.DagsterInstance.from_config(str(self.root))

    def last_run_events(self, kind: str) -> list:
        with self.instance() as instance:
            run = instance.get_runs(limit=1)[0]
            return [e for e in instance.all_logs(run.run_id) if e.dagster_event
                    and e.dagster_event.event_type_value == kind]

    def run_count(self) -> int:
        with self.instance() as instance:
            return len(instance.get_runs())

    def observations(self, release: str) -> pd.DataFrame:
        return pd.read_parquet(self.root / "published" / release / "observations.parquet")


def materialized(events, asset: str) -> set[str]:
    return {e.dagster_event.event_specific_data.materialization.partition for e in events
            if e.dagster_event.asset_key.to_user_string() == asset}


@pytest.fixture
def builds(tmp_path):
    sources = copy_country_sample(tmp_path / "sources")
    builds = Builds(tmp_path, sources)
    deliver(builds.mappings, "aaa_2023", "KEN", 120, 1)
    deliver(builds.mappings, "bbb_2023", "BRA", 150, 2)
    return builds


@pytest.fixture
def built_r1(small_deliveries_build, tmp_path):
    """`builds` after its first build, `--release-id r1`: a copy of conftest's small_deliveries_build (the same
    sources, deliveries and command, built once per session) with its warehouse, instance and releases;
    (builds, exit code and output of the first build)."""
    root, code, out = small_deliveries_build
    shutil.copytree(root, tmp_path, symlinks=True, dirs_exist_ok=True)
    return Builds(tmp_path, tmp_path / "sources"), code, out


def test_only_what_changed_is_read_estimated_and_republished(built_r1, capsys):
    builds, code, out = built_r1  # the first build: `--release-id r1`
    assert code == 0 and "survey_microdata: 2 deliveries, 2 new or changed" in out
    events = builds.last_run_events("ASSET_MATERIALIZATION")
    assert materialized(events, "raw/child_survey") == {"aaa_2023", "bbb_2023"}
    assert materialized(events, "raw/ict_country_year") == {None}

    # nothing changed: answered from the fingerprints, no Dagster run, no new release
    runs = builds.run_count()
    code, out = builds.build(capsys)
    assert code == 0 and "nothing to do: release r1 was built from exactly these inputs" in out
    assert builds.run_count() == runs
    assert sorted(p.name for p in (builds.root / "published").iterdir() if not p.name.startswith((".", "L", "l"))) \
        == ["r1"]

    # one country re-delivers: only its partition is read again and only its estimates change
    deliver(builds.mappings, "aaa_2023", "KEN", 130, 11)
    code, out = builds.build(capsys, "--release-id", "r2")
    assert code == 0 and "survey_microdata: 2 deliveries, 1 new or changed (aaa_2023)" in out
    assert "ict: unchanged" in out and "incidents: unchanged" in out
    events = builds.last_run_events("ASSET_MATERIALIZATION")
    assert materialized(events, "raw/child_survey") == materialized(events, "staging/child_survey") \
        == {"aaa_2023"}
    assert not materialized(events, "raw/ict_country_year") and not materialized(events, "estimates/country_year")
    assert materialized(events, "release") == {None}
    first, second = builds.observations("r1"), builds.observations("r2")
    key = ["INDICATOR", "REF_AREA", "TIME_PERIOD", "SEX", "AGE", "URBANISATION"]
    bra = [f[f["SOURCE_ID"] == "bbb_2023"].sort_values(key).reset_index(drop=True)
           .drop(columns=["RELEASE_ID"]) for f in (first, second)]
    pd.testing.assert_frame_equal(*bra)  # kept: the same numbers, not re-estimated differently
    ken = [f[f["SOURCE_ID"] == "aaa_2023"].sort_values(key)["OBS_VALUE"].to_numpy() for f in (first, second)]
    assert len(ken[0]) == len(ken[1]) > 0 and not (ken[0] == ken[1]).all()  # the new delivery's estimates

    # a withdrawn delivery: none of its rows is published, the manifest says why
    (builds.mappings / "child_survey_bbb_2023.yaml").unlink()
    code, out = builds.build(capsys, "--release-id", "r3")
    assert code == 0 and "1 withdrawn (bbb_2023)" in out
    third = builds.observations("r3")
    assert "bbb_2023" not in set(third["SOURCE_ID"]) and "aaa_2023" in set(third["SOURCE_ID"])
    manifest = json.loads((builds.root / "published" / "r3" / "manifest.json").read_text())
    assert [(d["source_id"], d["reasons"]) for d in manifest["left_out"]] == [
        ("bbb_2023", "no mapping spec for this source in this build")]


def test_a_warehouse_built_from_other_sources_publishes_none_of_their_rows(built_r1, capsys):
    builds, code, _ = built_r1  # the first build
    assert code == 0
    # the same warehouse, other ICT values: the ICT files are read again, the old values are gone
    ict = pd.read_csv(builds.sources / "ict_country_year.csv")
    row = ict.index[(ict["ref_area"] == "KEN") & (ict["year"] == 2020)][0]
    ict.loc[row, "internet_users_pct"] = 42.42
    ict.to_csv(builds.sources / "ict_country_year.csv", index=False)
    code, out = builds.build(capsys, "--release-id", "second")
    assert code == 0 and "ict: changed" in out
    obs = builds.observations("second")
    value = obs.loc[(obs["INDICATOR"] == "BC.1") & (obs["REF_AREA"] == "KEN") & (obs["TIME_PERIOD"] == 2020),
                    "OBS_VALUE"]
    assert value.tolist() == [42.42]
    # by default, other sources get their own warehouse
    assert default_warehouse(builds.sources, None, builds.mappings) != default_warehouse(SAMPLE, None,
                                                                                         builds.mappings)


def test_a_bad_file_fails_the_build_before_any_estimate(builds, capsys):
    ict = pd.read_csv(builds.sources / "ict_country_year.csv")
    ict.loc[ict.index[:3], "internet_users_pct"] = 130.0  # a percentage above 100
    ict.to_csv(builds.sources / "ict_country_year.csv", index=False)
    code, _ = builds.build(capsys)
    assert code == 1
    started = {e.step_key for e in builds.last_run_events("STEP_START")}
    assert "staging__ict_country_year_ict_values_follow_the_rules" in started
    assert not [s for s in started if s.startswith("estimates__") or s == "release"]
    assert not (builds.root / "published" / "LATEST").exists()
