"""Ingest: reference tables and raw ICT files into the warehouse, as delivered, with provenance."""
# No `from __future__ import annotations` here: Dagster inspects the context annotation at definition time.


from pathlib import Path

import dagster as dg

from indicators.catalogue import catalogue_frame
from indicators.ingest.ict import load_manifest, load_raw_ict
from indicators.registry import load_registry
from indicators.warehouse import replace_table
from indicators.reference import load_reference_tables
from pipelines.resources import BuildSettings, WarehouseResource


@dg.asset(key=["reference", "country_codes"], group_name="reference", pool="warehouse", kinds={"duckdb"},
          description="ISO 3166-1, UN member states, economy-code exceptions, World Bank aggregate codes, and the "
                      "classifications behind group values (countries, UN M49 regions, ITU-D regions, "
                      "development status, WB income groups; reference.aggregate_groups and .group_members).")
def reference_country_codes(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as con:
        rows = load_reference_tables(con)
    context.log.info("reference tables: " + ", ".join(f"{k} {v} rows" for k, v in rows.items()))
    return dg.MaterializeResult(metadata={k: dg.MetadataValue.int(v) for k, v in rows.items()})


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


@dg.asset(key=["reference", "indicator_registry"], group_name="reference", pool="warehouse", kinds={"duckdb"},
          description="The indicator registry (indicators/registry/*.yaml), validated (schemas.registry and "
                      "expressions bound against each harmonised source), as reference.indicator_catalogue.")
def reference_indicator_registry(context: dg.AssetExecutionContext, build: BuildSettings,
                                 warehouse: WarehouseResource) -> dg.MaterializeResult:
    registry = load_registry(Path(build.registry_dir) if build.registry_dir else None)
    per_group: dict[str, int] = {}
    for indicator in registry:
        per_group[indicator.group] = per_group.get(indicator.group, 0) + 1
    with warehouse.get_connection() as con:
        replace_table(con, "reference.indicator_catalogue", catalogue_frame(registry))
    context.log.info(f"registry: {len(registry)} indicators valid (" +
                     ", ".join(f"{g} {n}" for g, n in per_group.items()) + ")")
    return dg.MaterializeResult(metadata={"indicators": dg.MetadataValue.int(len(registry)),
                                          **{g: dg.MetadataValue.int(n) for g, n in per_group.items()}})
