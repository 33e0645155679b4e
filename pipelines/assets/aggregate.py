"""Aggregate: group values (world, regions, development and income groups) and gaps, audited by a blocking
check before the release reads them."""


from pathlib import Path

import dagster as dg

from indicators.aggregation import CONTRIBUTIONS_TABLE, audit_aggregates, compute_aggregates
from indicators.gaps import compute_group_gaps
from indicators.observations import AGGREGATES_TABLE, country_gaps_sql, country_observations_sql, table_exists
from indicators.registry import load_registry
from pipelines.assets.survey_estimates import SURVEY_ESTIMATE_ASSETS
from pipelines.resources import BuildSettings, WarehouseResource


@dg.asset(key=["estimates", "aggregates"], group_name="aggregate", pool="warehouse", kinds={"duckdb"},
          deps=[["estimates", "country_year"], ["estimates", "incidents"], ["reference", "country_codes"],
                ["staging", "ict_country_year"]] + [a.key for a in SURVEY_ESTIMATE_ASSETS],
          description="Group values of every indicator with an `aggregation` (estimates.aggregates, with COVERAGE; "
                      "withheld as L below the minimum coverage, Q below 3 reporting countries or when one country "
                      "dominates; the members behind each in estimates.group_contributions) and the gender parity / "
                      "urban-rural gaps of the group values (estimates.gaps).")
def estimates_aggregates(context: dg.AssetExecutionContext, build: BuildSettings,
                         warehouse: WarehouseResource) -> dg.MaterializeResult:
    registry = load_registry(Path(build.registry_dir) if build.registry_dir else None)
    with warehouse.get_connection() as con:
        countries = country_observations_sql(con)
        rows = compute_aggregates(con, registry, countries, build.min_coverage)
        contributions = CONTRIBUTIONS_TABLE if table_exists(con, CONTRIBUTIONS_TABLE) else None
        gaps = compute_group_gaps(con, registry, AGGREGATES_TABLE, contributions, country_gaps_sql(con))
        status = dict(con.execute(f"SELECT OBS_STATUS, count(*) FROM {AGGREGATES_TABLE} GROUP BY 1 ORDER BY 1")
                      .fetchall())
        excluded = con.execute("SELECT count(*) FROM quality.aggregation_exclusions").fetchone()[0]
    context.log.info(f"group values: {sum(rows.values())} rows for {sum(1 for n in rows.values() if n)} "
                     f"indicators (status {status}; minimum coverage {build.min_coverage:.0%}); {gaps} gap rows; "
                     f"{excluded} country values without a weight")
    return dg.MaterializeResult(metadata={
        "group_rows": sum(rows.values()), "gap_rows": gaps, "status": dg.MetadataValue.json(status),
        "values_without_weight": int(excluded), "per_indicator": dg.MetadataValue.json(rows)})


@dg.asset_check(asset=estimates_aggregates, blocking=True, name="group_values_follow_the_rules",
                description="Coverage is a share; no value below the minimum coverage, from too few countries or "
                            "dominated by one; a blank value says why; groups are known; shares within [0, 100]; "
                            "CIs contain the value.")
def group_values_follow_the_rules(build: BuildSettings, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    registry = load_registry(Path(build.registry_dir) if build.registry_dir else None)
    with warehouse.get_connection() as con:
        problems = audit_aggregates(con, registry, build.min_coverage)
    return dg.AssetCheckResult(passed=not any(problems.values()), severity=dg.AssetCheckSeverity.ERROR,
                               metadata=problems)
