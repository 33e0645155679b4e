"""Resources: where inputs come from, where releases go, and the DuckDB warehouse."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from indicators.aggregation import check_min_coverage

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCES = REPO_ROOT / "data" / "public"  # real public snapshot; data/sample is the synthetic one
DEFAULT_PUBLISHED = REPO_ROOT / "data" / "published"
DEFAULT_WAREHOUSE = REPO_ROOT / "data" / "warehouse" / "cop.duckdb"
DEFAULT_MAPPINGS = REPO_ROOT / "data" / "mappings"


class BuildSettings(dg.ConfigurableResource):
    """What a build reads and where it publishes. Defaults: the real public snapshot (data/public), data/published."""

    sources_dir: str = str(DEFAULT_SOURCES)
    # the sources manifest (YAML listing each input file and its layout); None: <sources_dir>/sources.yaml.
    # File names in it resolve against sources_dir, so one manifest kept in the repository can describe a
    # folder of real files elsewhere (data/manifests/shared_data.yaml for ../shared/data).
    manifest: str | None = None
    published_dir: str = str(DEFAULT_PUBLISHED)
    registry_dir: str | None = None  # None: indicators/registry in the package
    mappings_dir: str = str(DEFAULT_MAPPINGS)  # one mapping spec per survey source
    min_coverage: float = 0.5  # group values below this share of the group's population are withheld (M)
    lonely_psu: str = "adjust"  # R's survey.lonely.psu policy: adjust, remove, average, certainty, fail
    release_id: str | None = None  # None: a new timestamped id per build


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse; its folder is created on first connection, not when definitions load."""

    @contextmanager
    def get_connection(self):
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with super().get_connection() as con:
            yield con


def default_resources(sources_dir: str | Path | None = None, published_dir: str | Path | None = None,
                      warehouse: str | Path | None = None, registry_dir: str | Path | None = None,
                      release_id: str | None = None, mappings_dir: str | Path | None = None,
                      manifest: str | Path | None = None, min_coverage: float | None = None) -> dict:
    """Resources from arguments, else COP_SOURCES / COP_MANIFEST / COP_PUBLISHED / COP_WAREHOUSE / COP_MAPPINGS,
    else the repo defaults."""
    manifest = manifest or os.environ.get("COP_MANIFEST")
    warehouse = Path(warehouse or os.environ.get("COP_WAREHOUSE") or DEFAULT_WAREHOUSE)
    return {
        "build": BuildSettings(
            sources_dir=str(Path(sources_dir or os.environ.get("COP_SOURCES") or DEFAULT_SOURCES).resolve()),
            published_dir=str(Path(published_dir or os.environ.get("COP_PUBLISHED") or DEFAULT_PUBLISHED)
                              .resolve()),
            manifest=str(Path(manifest).resolve()) if manifest else None,
            registry_dir=str(registry_dir) if registry_dir else None,
            release_id=release_id,
            min_coverage=check_min_coverage(0.5 if min_coverage is None else min_coverage),
            mappings_dir=str(Path(mappings_dir or os.environ.get("COP_MAPPINGS") or DEFAULT_MAPPINGS).resolve()),
        ),
        "warehouse": WarehouseResource(database=str(warehouse.resolve())),
    }
