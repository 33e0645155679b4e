"""What every build ends with, whatever its sources: the gate that every source file of the run was read and
checked, group values (audited by a blocking check) and the release (write-audit-publish). The asset dependencies
come from the sources' own assets, given when the definitions are composed."""
# No `from __future__ import annotations` here: Dagster inspects the context annotation at definition time.

from pathlib import Path

import dagster as dg

from indicators import tables
from indicators.aggregation import audit_aggregates, compute_aggregates
from indicators.build_plan import VERSIONS
from indicators.fingerprints import record_fingerprint, promote_pending
from indicators.gaps import compute_group_gaps
from indicators.observations import country_gaps_sql, country_observations, release_inputs, write_country_observations
from indicators.release import publish_release, release_counts
from indicators.release_ids import new_release_id
from indicators.sources.survey_microdata.harmonise import delivery_statuses
from indicators.tables import table_exists
from pipelines.defs.common import SOURCES_CHECKED, build_registry, build_versions, latest_check_outcomes
from pipelines.resources import BuildSettings, WarehouseResource


def build_defs(staging_keys: list[dg.AssetKey], estimate_keys: list[dg.AssetKey],
               check_sources: dict[dg.AssetCheckKey, str] | None = None) -> tuple[list, list]:
    """The gate, the group values and the release, over the sources' staging and estimates assets;
    `check_sources` (AssetCheckKey -> source name) attributes each check in the release's quality report."""
    check_sources = dict(check_sources or {})

    @dg.asset(key=SOURCES_CHECKED, group_name="harmonise", pool="warehouse", kinds={"duckdb"}, deps=staging_keys,
              description="Every source file of the run was read, harmonised and passed its blocking checks: "
                          "estimation waits for this, so that a bad file fails the build before any estimate is "
                          "computed. Records the fingerprints of what the run staged.")
    def sources_checked(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        with warehouse.get_connection() as con:
            recorded = promote_pending(con, context.run.run_id)
        context.log.info(f"every source of the run checked; {recorded} fingerprint(s) recorded")
        return dg.MaterializeResult(metadata={"fingerprints_recorded": recorded})

    @dg.asset(key=["estimates", "aggregates"], group_name="aggregate", pool="warehouse", kinds={"duckdb"},
              deps=estimate_keys + [["reference", "country_codes"], ["staging", "ict_country_year"]],
              description="The country observations of every source stacked once (estimates.country_observations); "
                          "group values of every indicator with an `aggregation` (estimates.aggregates, with "
                          "COVERAGE; withheld as L below the minimum coverage, Q below 3 reporting countries or when "
                          "one country dominates; the members behind each in estimates.group_contributions) and the "
                          "gender parity / urban-rural gaps of the group values (estimates.gaps).")
    def estimates_aggregates(context: dg.AssetExecutionContext, build: BuildSettings,
                             warehouse: WarehouseResource) -> dg.MaterializeResult:
        registry = build_registry(build)
        with warehouse.get_connection() as con:
            country_rows = write_country_observations(con)
            rows = compute_aggregates(con, registry, country_observations(con), build.min_coverage)
            contributions = (tables.ESTIMATES_GROUP_CONTRIBUTIONS
                             if table_exists(con, tables.ESTIMATES_GROUP_CONTRIBUTIONS) else None)
            gaps = compute_group_gaps(con, registry, tables.ESTIMATES_AGGREGATES, contributions, country_gaps_sql(con))
            status = dict(con.execute(f"SELECT OBS_STATUS, count(*) FROM {tables.ESTIMATES_AGGREGATES} "
                                      "GROUP BY 1 ORDER BY 1").fetchall())
            excluded = con.execute(f"SELECT count(*) FROM {tables.QUALITY_AGGREGATION_EXCLUSIONS}").fetchone()[0]
        context.log.info(f"{country_rows} country observations; group values: {sum(rows.values())} rows for "
                         f"{sum(1 for n in rows.values() if n)} indicators (status {status}; minimum coverage "
                         f"{build.min_coverage:.0%}); {gaps} gap rows; {excluded} country values without a weight")
        return dg.MaterializeResult(metadata={
            "country_observations": country_rows, "group_rows": sum(rows.values()), "gap_rows": gaps,
            "status": dg.MetadataValue.json(status), "values_without_weight": int(excluded),
            "per_indicator": dg.MetadataValue.json(rows)})

    @dg.asset_check(asset=estimates_aggregates, blocking=True, name="group_values_follow_the_rules",
                    description="Coverage is a share; no value below the minimum coverage, from too few countries "
                                "or dominated by one; a blank value says why; groups are known; shares within "
                                "[0, 100]; CIs contain the value.")
    def group_values_follow_the_rules(build: BuildSettings, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.get_connection() as con:
            problems = audit_aggregates(con, build_registry(build), build.min_coverage)
        return dg.AssetCheckResult(passed=not any(problems.values()), severity=dg.AssetCheckSeverity.ERROR,
                                   metadata=problems)

    @dg.asset(key=["release"], group_name="publish", pool="warehouse", kinds={"parquet", "duckdb"},
              deps=[estimates_aggregates] + estimate_keys,
              description="data/published/<release_id>/: observations.parquet, cop_indicators.duckdb, charts, "
                          "report, SDMX, manifest.json; `latest` moves last. Records the code, registry and "
                          "settings versions the warehouse was built with.")
    def release(context: dg.AssetExecutionContext, build: BuildSettings,
                warehouse: WarehouseResource) -> dg.MaterializeResult:
        registry = build_registry(build)
        release_id = build.release_id or new_release_id()
        versions = build_versions(build)
        with warehouse.get_connection() as con:
            inputs = release_inputs(con)
            folder = publish_release(con, published_dir=Path(build.published_dir), release_id=release_id,
                                     indicators=registry, inputs=inputs, counts=release_counts(con),
                                     deliveries=delivery_statuses(con),
                                     synthetic=any(bool(i["synthetic"]) for i in inputs),
                                     build_fingerprint=versions.pop("build_fingerprint"),
                                     checks=latest_check_outcomes(context, check_sources))
            for key, value in versions.items():
                record_fingerprint(con, VERSIONS, key, value)
        context.log.info(f"published release {release_id} at {folder}")
        return dg.MaterializeResult(metadata={"release_id": release_id, "path": dg.MetadataValue.path(str(folder))})

    check_sources.update({key: "release" for key in group_values_follow_the_rules.check_keys})
    return [sources_checked, estimates_aggregates, release], [group_values_follow_the_rules]
