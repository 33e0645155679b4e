"""Estimate: the registry's country-level indicators compiled to SQL and run in the warehouse."""


from pathlib import Path

import dagster as dg

from indicators.country_level import compute_country_indicators
from indicators.registry import load_registry
from pipelines.resources import BuildSettings, WarehouseResource


@dg.asset(key=["estimates", "country_year"], group_name="estimate", pool="warehouse", kinds={"duckdb"},
          deps=[["staging", "ict_country_year"], ["reference", "indicator_registry"]],
          description="One row per country-level indicator, country and year (methods value and growth).")
def estimates_country_year(context: dg.AssetExecutionContext, build: BuildSettings,
                           warehouse: WarehouseResource) -> dg.MaterializeResult:
    registry = load_registry(Path(build.registry_dir) if build.registry_dir else None)
    with warehouse.get_connection() as con:
        rows = compute_country_indicators(con, registry)
    context.log.info("country-level indicators: " + ", ".join(f"{k} {v}" for k, v in rows.items()))
    empty = [code for code, n in rows.items() if n == 0]
    if empty:
        context.log.warning(f"no value could be computed for {', '.join(empty)}: their inputs are missing "
                            "from the sources (they stay in the catalogue, with no observations)")
    return dg.MaterializeResult(metadata={code: dg.MetadataValue.int(n) for code, n in rows.items()})
