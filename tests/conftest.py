"""Shared fixtures: the path of the real public data and a helper that runs the ICT ingest in a tmp warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest

from indicators.harmonise import harmonise_ict
from indicators.ingest.ict import load_manifest, load_raw_ict
from indicators.reference import load_reference_tables
from indicators.warehouse import connect

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"  # the synthetic inputs the tests build


@pytest.fixture(autouse=True, scope="session")
def tests_build_the_synthetic_sample():
    """Tests build the SYNTHETIC sample (data/sample), whose values the generators know, unless a test passes
    its own sources; `make build` reads the real public snapshot (data/public), tested on its own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COP_SOURCES", str(SAMPLE))
        yield


@pytest.fixture
def shared_ict() -> Path:
    """The folder of real ICT files (../shared/data/ict); the test is skipped when it is absent."""
    folder = SHARED / "ict"
    if not folder.is_dir():
        pytest.skip(f"shared data folder absent: {folder} (real public ICT files are not in the repo)")
    return folder


@pytest.fixture
def harmonised_warehouse(tmp_path):
    """Function (sources_dir) -> (connection, harmonise counts): reference, raw and staging tables built.

    Each call uses a fresh warehouse file under tmp_path; connections are closed at teardown.
    """
    connections = []

    def build(sources_dir: Path):
        con = connect(tmp_path / f"w{len(connections)}.duckdb")
        connections.append(con)
        load_reference_tables(con)
        load_raw_ict(con, load_manifest(sources_dir))
        return con, harmonise_ict(con)

    yield build
    for con in connections:
        con.close()


@pytest.fixture(scope="session")
def full_sample_build(tmp_path_factory):
    """`cop build` of the whole bundled SYNTHETIC sample (data/sample: ICT, incidents, and the 24 survey deliveries),
    in process, with its own Dagster instance state: (release folder, warehouse path). Built once per session."""
    from pipelines import cli

    out = tmp_path_factory.mktemp("full_sample")
    (out / "dagster.yaml").write_text((Path(__file__).resolve().parents[1] / "dagster.yaml").read_text())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(out))
        patch.setenv("COP_DAGSTER_STATE", str(out / ".dagster"))
        code = cli.main(["build", "--sources", str(SAMPLE), "--out", str(out / "published"), "--warehouse", str(out / "warehouse.duckdb"),
                         "--release-id", "sample-full"])
    assert code == 0
    return out / "published" / "sample-full", out / "warehouse.duckdb"


@pytest.fixture(scope="session")
def release_folder(full_sample_build) -> Path:
    """The release folder of the full sample build."""
    return full_sample_build[0]


@pytest.fixture(scope="session")
def release_db(release_folder):
    """The full sample release's public database, read-only, as an analyst opens it."""
    import duckdb

    con = duckdb.connect(str(release_folder / "cop_indicators.duckdb"), read_only=True)
    yield con
    con.close()
