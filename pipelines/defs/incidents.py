"""Incident reports (NCMEC CyberTipline reports by country): ingest, harmonise with denominators (audited by a
blocking check) and the registry's incident indicators (IR.12, IR.15, IR.16, ...)."""
# No `from __future__ import annotations` here: Dagster inspects the context annotation at definition time.

from pathlib import Path

import dagster as dg

from indicators import tables
from indicators.sources.incidents.harmonise import audit_incidents, compute_incident_indicators, harmonise_incidents
from indicators.sources.incidents.reader import load_incident_sources, load_raw_incidents
from pipelines.defs.checks import violations_result
from pipelines.defs.common import (SOURCES_CHECKED, build_registry, files_read_result, indicator_rows_result,
                                   stage_source_fingerprints)
from pipelines.resources import BuildSettings, WarehouseResource


@dg.asset(key=["raw", "incident_reports"], group_name="ingest", pool="warehouse", kinds={"duckdb"},
          description="Every count of every incident file listed under `incidents:` in the sources manifest, as "
                      "delivered, with file, row and column (raw.incident_reports) and per-file provenance with "
                      "sha256 (raw.incident_files). Empty when the manifest lists no incident file.")
def raw_incident_reports(context: dg.AssetExecutionContext, build: BuildSettings,
                         warehouse: WarehouseResource) -> dg.MaterializeResult:
    sources = load_incident_sources(Path(build.sources_dir), Path(build.manifest) if build.manifest else None)
    if not sources:
        context.log.warning(f"the sources manifest of {build.sources_dir} lists no incident files (key "
                            "'incidents'): the incident indicators (IR.12-IR.16, ...) are not computed")
    with warehouse.get_connection() as con:
        stage_source_fingerprints(con, context.run.run_id, build, "incidents")
        provenance = load_raw_incidents(con, sources)
    return files_read_result(context, provenance, lambda p: f"{p['layout']}, {p['reporting_org']}: "
                                                           f"{p['rows']} counts",
                             counts=sum(p["rows"] for p in provenance))


@dg.asset(key=["staging", "incident_reports"], group_name="harmonise", pool="warehouse", kinds={"duckdb"},
          deps=[raw_incident_reports, ["staging", "ict_country_year"], ["reference", "country_codes"]],
          description="Harmonised incident counts per country, year, organisation and incident type "
                      "(schemas.incidents.IncidentReportsModel) with population and Internet users joined from "
                      "staging.ict_country_year_wide; counts naming no country set aside in "
                      "staging.incident_reports_unattributed.")
def staging_incident_reports(context: dg.AssetExecutionContext,
                             warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as con:
        counts = harmonise_incidents(con)
    context.log.info(f"harmonised {counts['rows']} incident rows for {counts['countries']} countries; set aside "
                     f"{counts['unattributed_cells']} unattributed cells ({counts['unattributed_reports']} reports); "
                     f"{counts['rows_without_population']} rows without population, "
                     f"{counts['rows_without_internet_users']} without Internet users")
    return dg.MaterializeResult(metadata={k: dg.MetadataValue.int(int(v)) for k, v in counts.items()})


@dg.asset_check(asset=staging_incident_reports, blocking=True, name="incident_reports_follow_the_rules",
                description="pandera model schemas.incidents.IncidentReportsModel: known country codes, years in "
                            "range, counts >= 0, one row per country-year-organisation-type, Internet users within "
                            "the population.")
def incident_reports_follow_the_rules(context: dg.AssetCheckExecutionContext,
                                      warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.get_connection() as con:
        violations = audit_incidents(con)
        rows = con.execute(f"SELECT count(*) FROM {tables.STAGING_INCIDENT_REPORTS}").fetchone()[0]
    return violations_result(context, violations, rows=rows)


@dg.asset(key=["estimates", "incidents"], group_name="estimate", pool="warehouse", kinds={"duckdb"},
          deps=[staging_incident_reports, ["reference", "indicator_registry"], SOURCES_CHECKED],
          description="One row per incident indicator (registry source `incidents`, methods value and rate), "
                      "country and year, all incident types (estimates.incidents, the columns of "
                      "estimates.country_year).")
def estimates_incidents(context: dg.AssetExecutionContext, build: BuildSettings,
                        warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as con:
        rows = compute_incident_indicators(con, build_registry(build))
    return indicator_rows_result(context, tables.ESTIMATES_INCIDENTS, rows)


ASSETS = [raw_incident_reports, staging_incident_reports, estimates_incidents]
CHECKS = [incident_reports_follow_the_rules]
