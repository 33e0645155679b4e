"""A new kind of source is one package: a toy source written into a temporary folder (its declaration, its
Dagster assets) and one registry entry that reads it are published by the normal `cop build`, with no other file
of the repository touched. The toy reads a CSV of country counts and publishes their value per country and year."""

from __future__ import annotations

import hashlib
import shutil
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from conftest import copy_country_sample

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"

TOY_INIT = '''
"""Toy source: country counts of something, one CSV (toy_counts.csv) in the sources folder."""
from indicators.sources import Source


def harmonised():
    from schemas.sources import HarmonisedSource
    return (HarmonisedSource("toy_counts", "staging.toy_counts",
                             {"ref_area": "VARCHAR", "year": "BIGINT", "helplines": "DOUBLE"}, ()),)


def input_files(inputs):
    return {None: [inputs.sources_dir / "toy_counts.csv"]}


SOURCE = Source(name="toy", title="Toy counts", harmonised=harmonised, observation_tables=("estimates.toy",),
                provenance_tables=("raw.toy_files",), defs_module="toy_source.defs", input_files=input_files)
'''

TOY_DEFS = '''
from pathlib import Path

import dagster as dg

from indicators.files import sha256_file
from pipelines.defs.common import SOURCES_CHECKED, build_registry, stage_source_fingerprints
from pipelines.resources import BuildSettings, WarehouseResource


@dg.asset(key=["staging", "toy_counts"], group_name="harmonise")
def staging_toy_counts(context: dg.AssetExecutionContext, build: BuildSettings, warehouse: WarehouseResource):
    path = Path(build.sources_dir) / "toy_counts.csv"
    with warehouse.get_connection() as con:
        stage_source_fingerprints(con, context.run.run_id, build, "toy")
        con.execute(f"CREATE OR REPLACE TABLE staging.toy_counts AS SELECT ref_area, CAST(year AS BIGINT) AS year, "
                    f"CAST(helplines AS DOUBLE) AS helplines FROM read_csv('{path}')")
        con.execute("CREATE OR REPLACE TABLE raw.toy_files AS SELECT 'toy_counts' AS source_id, "
                    f"'{path}' AS path, '{sha256_file(path)}' AS sha256, true AS synthetic, 'toy' AS layout, "
                    "'Toy counts (test)' AS citation")


@dg.asset(key=["estimates", "toy"], group_name="estimate", deps=[staging_toy_counts, SOURCES_CHECKED])
def estimates_toy(build: BuildSettings, warehouse: WarehouseResource):
    entries = [i for i in build_registry(build) if i.source == "toy_counts"]
    with warehouse.get_connection() as con:
        con.execute("CREATE OR REPLACE TABLE estimates.toy (INDICATOR VARCHAR, REF_AREA VARCHAR, TIME_PERIOD BIGINT, "
                    "OBS_VALUE DOUBLE, UNIT_MEASURE VARCHAR, SOURCE_ID VARCHAR)")
        for i in entries:
            con.execute(f"INSERT INTO estimates.toy SELECT '{i.code}', ref_area, year, {i.value}, '{i.unit}', "
                        "'toy_counts' FROM staging.toy_counts")


ASSETS = [staging_toy_counts, estimates_toy]
CHECKS = []
'''

TOY_ENTRY = '''
group: preventative_actions
indicators:
  - code: PA.90
    name: Child helplines (toy source)
    definition: >-
      Number of child helplines operating in the country, from the toy source of the plug-in test; a count.
    unit: count
    source: toy_counts
    method: value
    value: helplines
    disaggregations: []
    decimals: 0
    aggregation: {method: none, reason: "a count of national services is not summed across countries here"}
    references:
      - "Test fixture (tests/test_source_plugin.py)"
'''


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def test_a_toy_source_in_a_temporary_folder_is_published_by_the_normal_build(tmp_path, capsys):
    from pipelines import cli

    package = tmp_path / "plugins" / "toy_source"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(TOY_INIT))
    (package / "defs.py").write_text(textwrap.dedent(TOY_DEFS))
    registry = tmp_path / "registry"
    shutil.copytree(REPO / "indicators" / "registry", registry)
    (registry / "toy.yaml").write_text(textwrap.dedent(TOY_ENTRY))
    sources = copy_country_sample(tmp_path / "sources")
    counts = pd.DataFrame({"ref_area": ["KEN", "KEN", "BRA", "PHL"], "year": [2022, 2023, 2023, 2023],
                           "helplines": [3, 4, 12, 7]})
    counts.to_csv(sources / "toy_counts.csv", index=False)
    (tmp_path / "mappings").mkdir()
    (tmp_path / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    code_before = {part: tree_digest(REPO / part) for part in ("indicators", "pipelines", "schemas")}

    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(tmp_path / "plugins"))
        patch.setenv("COP_SOURCE_PACKAGES", "toy_source")
        patch.setenv("DAGSTER_HOME", str(tmp_path))
        patch.setenv("COP_DAGSTER_STATE", str(tmp_path / ".dagster"))
        code = cli.main(["build", "--sources", str(sources), "--registry", str(registry),
                         "--mappings", str(tmp_path / "mappings"), "--out", str(tmp_path / "published"),
                         "--warehouse", str(tmp_path / "w.duckdb"), "--release-id", "with-toy"])
        out = capsys.readouterr().out
        assert code == 0, out
        assert "toy: changed" in out and "done estimates/toy" in out
    for name in [m for m in sys.modules if m.startswith("toy_source")]:
        del sys.modules[name]

    release = tmp_path / "published" / "with-toy"
    obs = pd.read_parquet(release / "observations.parquet")
    toy = obs[obs["INDICATOR"] == "PA.90"].sort_values(["REF_AREA", "TIME_PERIOD"])
    assert toy[["REF_AREA", "TIME_PERIOD", "OBS_VALUE"]].values.tolist() == [
        ["BRA", 2023, 12.0], ["KEN", 2022, 3.0], ["KEN", 2023, 4.0], ["PHL", 2023, 7.0]]
    assert set(toy["SOURCE_ID"]) == {"toy_counts"} and toy["SYNTHETIC"].all()
    catalogue = pd.read_parquet(release / "catalogue.parquet").set_index("code")
    assert catalogue.loc["PA.90", "data_origin"] == "synthetic"
    import json
    manifest = json.loads((release / "manifest.json").read_text())
    assert [i["source_id"] for i in manifest["inputs"] if i["source"] == "toy"] == ["toy_counts"]
    # the repository's code is untouched: the toy lives only in the temporary folder
    assert {part: tree_digest(REPO / part) for part in code_before} == code_before
