"""Survey estimates: one asset per registry group with survey indicators, each writing its indicators'
domain estimates (estimates.survey_<group>), audited by a blocking check before anything is published."""

from pathlib import Path

import dagster as dg

from indicators.estimation.survey_indicators import is_survey_indicator, write_survey_estimates
from indicators.registry import load_registry
from pipelines.resources import BuildSettings, WarehouseResource
from schemas.registry import GROUP_PREFIXES

SURVEY_GROUPS = ("subjective_aspects", "risk_behaviour", "incidents_responses", "preventative_actions")


def survey_estimates_asset(group: str) -> dg.AssetsDefinition:
    @dg.asset(key=["estimates", f"survey_{group}"], group_name="estimate", pool="warehouse", kinds={"duckdb"},
              deps=[["staging", "child_survey"], ["reference", "indicator_registry"]],
              description=f"Design-based estimates of the {group} survey indicators, every domain, with SEs, "
                          "CIs and quality flags (estimates.survey_" + group + ").")
    def _asset(context: dg.AssetExecutionContext, build: BuildSettings,
               warehouse: WarehouseResource) -> dg.MaterializeResult:
        registry = load_registry(Path(build.registry_dir) if build.registry_dir else None)
        members = [i for i in registry if i.group == group and is_survey_indicator(i)]
        with warehouse.get_connection() as con:
            result = write_survey_estimates(con, members, f"estimates.survey_{group}", build.lonely_psu)
        counts = {i.code: int((result["INDICATOR"] == i.code).sum()) for i in members}
        status = result["OBS_STATUS"].value_counts().to_dict() if not result.empty else {}
        context.log.info(f"{group}: {len(result)} domain estimates for {sum(1 for n in counts.values() if n)} of "
                         f"{len(members)} indicators; status {status}")
        return dg.MaterializeResult(metadata={"cells": len(result), "per_indicator": dg.MetadataValue.json(counts),
                                              "status": dg.MetadataValue.json(status)})

    @dg.asset_check(asset=_asset, blocking=True, name="estimates_are_coherent",
                    description="SE >= 0, the CI contains the estimate, percentages within [0, 100], every "
                                "suppressed cell (OBS_STATUS Q) has no value and every other cell has one (but "
                                "a gap that cannot be computed, O).")
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.get_connection() as con:
            problems = con.execute(f"""
                SELECT
                  count(*) FILTER (WHERE STD_ERR < 0) AS negative_se,
                  count(*) FILTER (WHERE OBS_VALUE < CI_LOWER - 1e-9 OR OBS_VALUE > CI_UPPER + 1e-9) AS outside_ci,
                  count(*) FILTER (WHERE UNIT_MEASURE = 'percent' AND (OBS_VALUE < 0 OR OBS_VALUE > 100
                                   OR CI_LOWER < 0 OR CI_UPPER > 100)) AS percent_out_of_range,
                  count(*) FILTER (WHERE OBS_STATUS = 'Q' AND OBS_VALUE IS NOT NULL) AS suppressed_with_value,
                  count(*) FILTER (WHERE OBS_STATUS NOT IN ('Q', 'O') AND OBS_VALUE IS NULL) AS value_missing
                FROM estimates.survey_{group}""").df().iloc[0].to_dict()
        problems = {k: int(v) for k, v in problems.items()}
        return dg.AssetCheckResult(passed=not any(problems.values()), severity=dg.AssetCheckSeverity.ERROR,
                                   metadata=problems)

    return _asset, _check


SURVEY_ESTIMATE_ASSETS, SURVEY_ESTIMATE_CHECKS = [], []
for _group in SURVEY_GROUPS:
    assert _group in GROUP_PREFIXES
    _asset_def, _check_def = survey_estimates_asset(_group)
    SURVEY_ESTIMATE_ASSETS.append(_asset_def)
    SURVEY_ESTIMATE_CHECKS.append(_check_def)
