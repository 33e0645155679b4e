"""Reference tables every source uses: country codes and classifications, and the indicator registry."""
# No `from __future__ import annotations` here: Dagster inspects the context annotation at definition time.


import dagster as dg

from indicators import tables
from indicators.catalogue import catalogue_frame
from indicators.warehouse import replace_table
from indicators.reference import load_reference_tables
from pipelines.defs.common import build_registry
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


@dg.asset(key=["reference", "indicator_registry"], group_name="reference", pool="warehouse", kinds={"duckdb"},
          description="The indicator registry (indicators/registry/*.yaml), validated (schemas.registry and "
                      "expressions bound against each harmonised source), as reference.indicator_catalogue.")
def reference_indicator_registry(context: dg.AssetExecutionContext, build: BuildSettings,
                                 warehouse: WarehouseResource) -> dg.MaterializeResult:
    registry = build_registry(build)
    per_group: dict[str, int] = {}
    for indicator in registry:
        per_group[indicator.group] = per_group.get(indicator.group, 0) + 1
    with warehouse.get_connection() as con:
        replace_table(con, tables.REFERENCE_INDICATOR_CATALOGUE, catalogue_frame(registry))
    context.log.info(f"registry: {len(registry)} indicators valid (" +
                     ", ".join(f"{g} {n}" for g, n in per_group.items()) + ")")
    return dg.MaterializeResult(metadata={"indicators": dg.MetadataValue.int(len(registry)),
                                          **{g: dg.MetadataValue.int(n) for g, n in per_group.items()}})


ASSETS = [reference_country_codes, reference_indicator_registry]
CHECKS = []
