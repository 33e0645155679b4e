"""The one Dagster code location of cop-indicators (found by `dagster dev` through pyproject.toml)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines.assets.aggregate import estimates_aggregates, group_values_follow_the_rules
from pipelines.assets.estimate import estimates_country_year
from pipelines.assets.harmonise import ict_values_follow_the_rules, staging_ict_country_year
from pipelines.assets.incidents import INCIDENT_ASSETS, INCIDENT_CHECKS
from pipelines.assets.ingest import (raw_ict_country_year, reference_country_codes,
                                     reference_indicator_registry)
from pipelines.assets.publish import release
from pipelines.assets.survey import (child_survey_source_accepted, new_mapping_specs, raw_child_survey,
                                     staging_child_survey, survey_ingest_job)
from pipelines.assets.survey_estimates import SURVEY_ESTIMATE_ASSETS, SURVEY_ESTIMATE_CHECKS
from pipelines.resources import default_resources

ASSETS = [reference_country_codes, reference_indicator_registry, raw_ict_country_year, staging_ict_country_year,
          estimates_country_year, *INCIDENT_ASSETS, *SURVEY_ESTIMATE_ASSETS, estimates_aggregates, release]
ASSET_CHECKS = [ict_values_follow_the_rules, *INCIDENT_CHECKS, *SURVEY_ESTIMATE_CHECKS,
                group_values_follow_the_rules]
SURVEY_ASSETS = [raw_child_survey, staging_child_survey]
SURVEY_CHECKS = [child_survey_source_accepted]

# Every build writes the warehouse: the tag lets dagster.yaml's run queue let one such run at a time.
WAREHOUSE_WRITER_TAGS = {"cop/writes": "warehouse"}

build_release_job = dg.define_asset_job("build_release", selection=dg.AssetSelection.assets(*ASSETS),
                                        tags=WAREHOUSE_WRITER_TAGS,
                                        description="Ingest, harmonise, audit, estimate and publish a release.")

weekly_build = dg.ScheduleDefinition(name="weekly_build", job=build_release_job, cron_schedule="0 5 * * 1",
                                     execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.STOPPED,
                                     description="Scheduled production build, Mondays 05:00 UTC (turn on in the UI).")


def build_definitions(sources_dir: str | Path | None = None, published_dir: str | Path | None = None,
                      warehouse: str | Path | None = None, registry_dir: str | Path | None = None,
                      release_id: str | None = None, mappings_dir: str | Path | None = None,
                      manifest: str | Path | None = None, min_coverage: float | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=ASSETS + SURVEY_ASSETS,
        asset_checks=ASSET_CHECKS + SURVEY_CHECKS,
        jobs=[build_release_job, survey_ingest_job],
        schedules=[weekly_build],
        sensors=[new_mapping_specs],
        resources=default_resources(sources_dir, published_dir, warehouse, registry_dir, release_id,
                                    mappings_dir, manifest, min_coverage),
        # In-process: every step of a build shares one Python process instead of re-importing pandas, duckdb
        # and matplotlib per step (about 41 s against 7 s for a small project on the 2-core machine).
        executor=dg.in_process_executor,
    )


defs = build_definitions()
