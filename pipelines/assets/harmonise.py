"""Harmonise: standard codes and one chosen value per country-year-variable; audited by a blocking check."""


import dagster as dg

from indicators.harmonise import audit_ict, harmonise_ict
from pipelines.assets.checks import violations_result
from pipelines.resources import WarehouseResource


@dg.asset(key=["staging", "ict_country_year"], group_name="harmonise", pool="warehouse", kinds={"duckdb"},
          deps=[["raw", "ict_country_year"], ["reference", "country_codes"]],
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
