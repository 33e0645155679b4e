"""Shared fixtures: the path of the real public data and a helper that runs the ICT ingest in a tmp warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest

from indicators.harmonise import harmonise_ict
from indicators.ingest.ict import load_manifest, load_raw_ict
from indicators.reference import load_reference_tables
from indicators.warehouse import connect

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


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
