"""ICT country-year statistics: raw cells with provenance, harmonised values audited by a blocking check, and the
registry's country-level indicators (indicators/sources/ict)."""
# No `from __future__ import annotations` here: Dagster inspects the context annotation at definition time.

from pathlib import Path

import dagster as dg

from indicators.sources.ict.estimates import compute_country_indicators
from indicators.sources.ict.harmonise import audit_ict, harmonise_ict
from indicators.sources.ict.reader import load_manifest, load_raw_ict
from pipelines.defs.checks import violations_result
from pipelines.defs.common import (SOURCES_CHECKED, build_registry, indicator_rows_result,
                                   stage_source_fingerprints)
from pipelines.resources import BuildSettings, WarehouseResource


@dg.asset(key=["raw", "ict_country_year"], group_name="ingest", pool="warehouse", kinds={"duckdb"},
          description="Every value cell of every ICT file, as delivered, with file, row and column "
                      "(raw.ict_country_year), per-file provenance with sha256 (raw.ict_files) and entity "
                      "names that map to no country (raw.unmapped_entities).")
def raw_ict_country_year(context: dg.AssetExecutionContext, build: BuildSettings,
                         warehouse: WarehouseResource) -> dg.MaterializeResult:
    sources = load_manifest(Path(build.sources_dir), Path(build.manifest) if build.manifest else None)
    context.log.info(f"reading {len(sources)} ICT file(s) from {build.sources_dir}"
                     + (f" (manifest {build.manifest})" if build.manifest else ""))
    with warehouse.get_connection() as con:
        stage_source_fingerprints(con, context.run.run_id, build, "ict")
        provenance = load_raw_ict(con, sources)
    for p in provenance:
        context.log.info(f"read {Path(p['path']).name} ({p['layout']}): {p['rows']} value cells, "
                         f"sha256 {p['sha256'][:12]}")
        if p["notes"]:  # projections, ignored columns, years dropped, unmapped entity names (also in raw.ict_files)
            context.log.info(f"  {Path(p['path']).name}: {p['notes']}")
    return dg.MaterializeResult(metadata={
        "files": dg.MetadataValue.int(len(provenance)),
        "value_cells": dg.MetadataValue.int(sum(p["rows"] for p in provenance)),
        "unmapped_entities": dg.MetadataValue.int(sum(p["unmapped_entities"] for p in provenance)),
        "cells_out_of_years": dg.MetadataValue.int(sum(p["cells_out_of_years"] for p in provenance)),
        "provenance": dg.MetadataValue.json(provenance),
    })


@dg.asset(key=["staging", "ict_country_year"], group_name="harmonise", pool="warehouse", kinds={"duckdb"},
          deps=[raw_ict_country_year, ["reference", "country_codes"]],
          description="Harmonised ICT country-year values (ISO3 codes, aggregates set aside, the manifest's "
                      "first file chosen where files overlap) and their wide pivot.")
def staging_ict_country_year(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as con:
        counts = harmonise_ict(con)
    context.log.info(f"harmonised {counts['country_cells']} country cells for {counts['countries']} countries; "
                     f"set aside {counts['aggregate_cells']} aggregate cells ({counts['aggregate_codes']} codes)")
    return dg.MaterializeResult(metadata={k: dg.MetadataValue.int(int(v)) for k, v in counts.items()})


@dg.asset_check(asset=staging_ict_country_year, blocking=True, name="ict_values_follow_the_rules",
                description="pandera model schemas.ict.IctObservationModel: known country codes, years in range, "
                            "percentages in [0, 100], per-100 values within their ceilings, positive populations, "
                            "one value per country-year-variable in each file.")
def ict_values_follow_the_rules(context: dg.AssetCheckExecutionContext,
                                warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.get_connection() as con:
        violations = audit_ict(con)
    return violations_result(context, violations)


@dg.asset(key=["estimates", "country_year"], group_name="estimate", pool="warehouse", kinds={"duckdb"},
          deps=[staging_ict_country_year, ["reference", "indicator_registry"], SOURCES_CHECKED],
          description="One row per country-level indicator, country and year (methods value and growth).")
def estimates_country_year(context: dg.AssetExecutionContext, build: BuildSettings,
                           warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as con:
        rows = compute_country_indicators(con, build_registry(build))
    return indicator_rows_result(context, "country-level indicators", rows)


ASSETS = [raw_ict_country_year, staging_ict_country_year, estimates_country_year]
CHECKS = [ict_values_follow_the_rules]
