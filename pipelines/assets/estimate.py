"""Estimate: the registry's country-level indicators compiled to SQL and run in the warehouse."""


from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from indicators.country_level import compute_country_indicators
from indicators.registry import load_registry
from pipelines.resources import BuildSettings


@dg.asset(key=["estimates", "country_year"], group_name="estimate", pool="warehouse", kinds={"duckdb"},
          deps=[["staging", "ict_country_year"]],
          description="One row per country-level indicator, country and year (methods value and growth).")
def estimates_country_year(context: dg.AssetExecutionContext, build: BuildSettings,
                           warehouse: DuckDBResource) -> dg.MaterializeResult:
    registry = load_registry(Path(build.registry_dir) if build.registry_dir else None)
    with warehouse.get_connection() as con:
        rows = compute_country_indicators(con, registry)
    context.log.info("country-level indicators: " + ", ".join(f"{k} {v}" for k, v in rows.items()))
    return dg.MaterializeResult(metadata={code: dg.MetadataValue.int(n) for code, n in rows.items()})
