"""The one Dagster code location of cop-indicators (found by `dagster dev` through pyproject.toml).

Composed from the registered sources (indicators.sources): each source's Dagster module (pipelines/defs/<source>.py)
gives its assets and checks, the shared reference tables come from pipelines/defs/reference.py, and the gate,
group values and release (pipelines/defs/release.py) depend on whatever staging and estimates assets the sources
have. Nothing here names a source.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import dagster as dg

from indicators.registry import load_registry
from indicators.sources import registered_sources
from pipelines.defs import reference, release
from pipelines.operations import build_schedule
from pipelines.resources import default_resources
from pipelines.sensors import sensors

# Every build writes the warehouse: the tag lets dagster.yaml's run queue let one such run at a time.
WAREHOUSE_WRITER_TAGS = {"cop/writes": "warehouse"}
BUILD_JOB = "build_release"


def source_defs(registry) -> dict[str, tuple[list, list]]:
    """Source name -> (assets, checks), for every registered source with a Dagster module."""
    found = {}
    for source in registered_sources():
        if source.defs_module is None:
            continue
        module = importlib.import_module(source.defs_module)
        if hasattr(module, "build_defs"):  # assets that follow the registry (e.g. one per indicator group)
            found[source.name] = module.build_defs(registry)
        else:
            found[source.name] = (list(module.ASSETS), list(module.CHECKS))
    return found


def _keys(assets: list, stage: str) -> list[dg.AssetKey]:
    return [key for a in assets for key in a.keys if key.path[0] == stage]


def build_definitions(sources_dir: str | Path | None = None, published_dir: str | Path | None = None,
                      warehouse: str | Path | None = None, registry_dir: str | Path | None = None,
                      release_id: str | None = None, mappings_dir: str | Path | None = None,
                      manifest: str | Path | None = None, min_coverage: float | None = None,
                      store_dir: str | Path | None = None, inbox_dir: str | Path | None = None) -> dg.Definitions:
    registry = load_registry(Path(registry_dir) if registry_dir else None)
    by_source = source_defs(registry)
    assets = [a for found, _ in by_source.values() for a in found]
    checks = [c for _, found in by_source.values() for c in found]
    # the assets of the sources delivered in partitions (the survey deliveries), which the sensors start runs of
    partitioned_sources = [a for found, _ in by_source.values() if any(x.partitions_def for x in found)
                           for a in found]
    check_sources = {key: name for name, found in
                     [("reference", reference.CHECKS)] + [(n, c) for n, (_, c) in by_source.items()]
                     for c in found for key in c.check_keys}
    final_assets, final_checks = release.build_defs(_keys(assets, "staging"), _keys(assets, "estimates"),
                                                    check_sources)
    all_assets = reference.ASSETS + assets + final_assets
    build_job = dg.define_asset_job(BUILD_JOB, selection=dg.AssetSelection.assets(*all_assets),
                                    tags=WAREHOUSE_WRITER_TAGS,
                                    description="Ingest, harmonise, audit, estimate and publish a release.")
    return dg.Definitions(
        assets=all_assets,
        asset_checks=reference.CHECKS + checks + final_checks,
        jobs=[build_job],
        schedules=[build_schedule(build_job)],
        sensors=sensors(build_job, partitioned_sources),
        resources=default_resources(sources_dir, published_dir, warehouse, registry_dir, release_id,
                                    mappings_dir, manifest, min_coverage, store_dir, inbox_dir),
        # In-process: every step of a build shares one Python process instead of re-importing pandas, duckdb
        # and matplotlib per step (about 41 s against 7 s for a small project on the 2-core machine).
        executor=dg.in_process_executor,
    )


defs = build_definitions()
_partitioned = {key for a in defs.assets if a.partitions_def is not None for key in a.keys}
# the assets and checks of a build without the survey partitions (what dg.materialize can run as a whole)
ASSETS = [a for a in defs.assets if a.partitions_def is None]
ASSET_CHECKS = [c for c in defs.asset_checks if not any(s.asset_key in _partitioned for s in c.check_specs)]
