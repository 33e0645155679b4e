"""Survey estimates: one asset per registry group with survey indicators, each writing its indicators'
domain estimates (estimates.survey_<group>), audited by a blocking check before anything is published."""

from pathlib import Path

import dagster as dg
import pandas as pd

from indicators.estimation.survey_indicators import estimate_indicators, is_survey_indicator
from indicators.registry import load_registry
from indicators.warehouse import ensure_schemas, replace_table
from pipelines.resources import BuildSettings, WarehouseResource
from schemas.registry import GROUP_PREFIXES
from schemas.sources import harmonised_sources

SURVEY_GROUPS = ("subjective_aspects", "risk_behaviour", "incidents_responses", "preventative_actions")


def _table_has_rows(con, table: str) -> bool:
    schema, name = table.split(".")
    exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                         [schema, name]).fetchone()[0]
    return bool(exists) and con.execute(f"SELECT count(*) > 0 FROM {table}").fetchone()[0]


def survey_estimates_asset(group: str) -> dg.AssetsDefinition:
    @dg.asset(key=["estimates", f"survey_{group}"], group_name="estimate", pool="warehouse", kinds={"duckdb"},
              deps=[["staging", "child_survey"], ["reference", "indicator_registry"]],
              description=f"Design-based estimates of the {group} survey indicators, every domain, with SEs, "
                          "CIs and quality flags (estimates.survey_" + group + ").")
    def _asset(context: dg.AssetExecutionContext, build: BuildSettings,
               warehouse: WarehouseResource) -> dg.MaterializeResult:
        registry = load_registry(Path(build.registry_dir) if build.registry_dir else None)
        members = [i for i in registry if i.group == group and is_survey_indicator(i)]
        frames, counts = [], {}
        with warehouse.get_connection() as con:
            ensure_schemas(con)
            present = []
            for indicator in members:
                if _table_has_rows(con, harmonised_sources()[indicator.source].table):
                    present.append(indicator)
                else:
                    counts[indicator.code] = 0
            # indicators with the same source and disaggregations share one scan of the microdata
            for code, frame in estimate_indicators(con, present, build.lonely_psu).items():
                counts[code] = len(frame)
                frames.append(frame)
            frames = [f for f in frames if not f.empty]
            result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
            if result.empty:
                con.execute(f"CREATE OR REPLACE TABLE estimates.survey_{group} AS SELECT * FROM "
                            "(SELECT NULL::VARCHAR AS INDICATOR) WHERE FALSE")
            else:
                replace_table(con, f"estimates.survey_{group}", result)
        status = result["OBS_STATUS"].value_counts().to_dict() if not result.empty else {}
        context.log.info(f"{group}: {len(result)} domain estimates for {sum(1 for n in counts.values() if n)} of "
                         f"{len(members)} indicators; status {status}")
        return dg.MaterializeResult(metadata={"cells": len(result), "per_indicator": dg.MetadataValue.json(counts),
                                              "status": dg.MetadataValue.json(status)})

    @dg.asset_check(asset=_asset, blocking=True, name="estimates_are_coherent",
                    description="SE >= 0, the CI contains the estimate, percentages within [0, 100], and every "
                                "suppressed cell (OBS_STATUS Q) has no value.")
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.get_connection() as con:
            columns = [r[0] for r in con.execute(f"DESCRIBE estimates.survey_{group}").fetchall()]
            if "OBS_VALUE" not in columns:
                return dg.AssetCheckResult(passed=True, metadata={"cells": 0})
            problems = con.execute(f"""
                SELECT
                  count(*) FILTER (WHERE STD_ERR < 0) AS negative_se,
                  count(*) FILTER (WHERE OBS_VALUE < CI_LOWER - 1e-9 OR OBS_VALUE > CI_UPPER + 1e-9) AS outside_ci,
                  count(*) FILTER (WHERE UNIT_MEASURE = 'percent' AND (OBS_VALUE < 0 OR OBS_VALUE > 100
                                   OR CI_LOWER < 0 OR CI_UPPER > 100)) AS percent_out_of_range,
                  count(*) FILTER (WHERE OBS_STATUS = 'Q' AND OBS_VALUE IS NOT NULL) AS suppressed_with_value,
                  count(*) FILTER (WHERE OBS_STATUS <> 'Q' AND OBS_VALUE IS NULL) AS value_missing
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
