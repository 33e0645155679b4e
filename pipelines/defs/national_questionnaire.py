"""COP national questionnaire: response files read cell by cell (a bad answer fails the build naming sheet, cell,
question and rule), the harmonised questionnaire audited by a blocking check, the capacity index and roadmap gaps,
and the registry's NC.* entries with shares of responding countries (indicators/sources/national_questionnaire)."""
# No `from __future__ import annotations` here: Dagster inspects the context annotation at definition time.

from pathlib import Path

import dagster as dg

from indicators.sources.national_questionnaire.definition import questionnaire
from indicators.sources.national_questionnaire.estimates import compute_questionnaire_indicators
from indicators.sources.national_questionnaire.harmonise import audit_national_questionnaire, harmonise_questionnaire
from indicators.sources.national_questionnaire.ingest import load_raw_questionnaire, questionnaire_deliveries
from pipelines.defs.checks import violations_result
from pipelines.defs.common import (SOURCES_CHECKED, build_registry, files_read_result, indicator_rows_result,
                                   stage_source_fingerprints)
from pipelines.resources import BuildSettings, WarehouseResource


@dg.asset(key=["raw", "questionnaire_answers"], group_name="ingest", pool="warehouse", kinds={"duckdb"},
          description="Every answer of every response file listed under `questionnaire:` in the sources manifest "
                      "(filled Excel forms or CSV), with the cell it came from (raw.questionnaire_answers), and "
                      "per-file provenance with sha256 (raw.questionnaire_files). Empty without response files.")
def raw_questionnaire_answers(context: dg.AssetExecutionContext, build: BuildSettings,
                              warehouse: WarehouseResource) -> dg.MaterializeResult:
    definition = questionnaire()
    deliveries = questionnaire_deliveries(Path(build.sources_dir), Path(build.manifest) if build.manifest else None,
                                          definition)
    if not deliveries:
        context.log.info(f"the sources manifest of {build.sources_dir} lists no questionnaire responses (key "
                         "'questionnaire'): the national capacity indicators (NC.*) are not computed")
    with warehouse.get_connection() as con:
        stage_source_fingerprints(con, context.run.run_id, build, "national_questionnaire")
        provenance = load_raw_questionnaire(con, deliveries, definition)
    return files_read_result(context, provenance, lambda p: f"{p['layout']}, round {p['round']}: "
                                                           f"{p['countries']} countries",
                             responses=sum(p["countries"] for p in provenance))


@dg.asset(key=["staging", "national_questionnaire"], group_name="harmonise", pool="warehouse", kinds={"duckdb"},
          deps=[raw_questionnaire_answers, ["reference", "country_codes"]],
          description="staging.questionnaire_answers (status, value and score of every answer), "
                      "staging.national_questionnaire (one row per invited country and round, roadmap stage per "
                      "pillar), the capacity index with Monte Carlo rank intervals and its audit, and the roadmap "
                      "gap analysis (estimates.capacity_* and estimates.roadmap_*).")
def staging_national_questionnaire(context: dg.AssetExecutionContext,
                                   warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as con:
        counts = harmonise_questionnaire(con, questionnaire())
    context.log.info(f"questionnaire: {counts['responded']} responses of {counts['invited']} invitations; "
                     f"{counts['countries_scored']} country-rounds with a capacity score")
    return dg.MaterializeResult(metadata={k: dg.MetadataValue.int(int(v)) for k, v in counts.items()})


@dg.asset_check(asset=staging_national_questionnaire, blocking=True, name="questionnaire_follows_the_rules",
                description="pandera model schemas.national_questionnaire.NationalQuestionnaireModel: known country "
                            "codes, one row per country and round, answers in their ranges, no answers from a "
                            "country that did not respond, no INHOPE member hotline without a hotline.")
def questionnaire_follows_the_rules(context: dg.AssetCheckExecutionContext,
                                    warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.get_connection() as con:
        violations = audit_national_questionnaire(con, questionnaire())
    return violations_result(context, violations)


@dg.asset(key=["estimates", "national_questionnaire"], group_name="estimate", pool="warehouse", kinds={"duckdb"},
          deps=[staging_national_questionnaire, ["reference", "indicator_registry"], SOURCES_CHECKED],
          description="The registry's national-capacity entries: country values (estimates.national_questionnaire) "
                      "and shares of responding countries by group with respondents and response rate "
                      "(estimates.national_questionnaire_groups).")
def estimates_national_questionnaire(context: dg.AssetExecutionContext, build: BuildSettings,
                                     warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as con:
        rows = compute_questionnaire_indicators(con, build_registry(build))
    return indicator_rows_result(context, "national capacity indicators", rows)


ASSETS = [raw_questionnaire_answers, staging_national_questionnaire, estimates_national_questionnaire]
CHECKS = [questionnaire_follows_the_rules]
