"""Survey microdata: one Dagster partition per delivery (mapping spec in data/mappings/*.yaml). `cop build`
materialises the new or changed partitions inside its one run (a partition-range run: the assets take every key
of the range at once); a sensor starts a run of just the affected partitions. A delivery that cannot be read or is
rejected is withdrawn and reported; the other deliveries go on. Estimates: one asset per registry group with
survey indicators, each re-estimating only the deliveries whose staged rows or definitions changed."""
# No `from __future__ import annotations` here: Dagster inspects the context annotation at definition time.

import hashlib
import warnings
from pathlib import Path

import dagster as dg

from indicators import tables
from indicators.fingerprints import code_version, pending_partitions, recorded_fingerprints
from indicators.registry import Indicator
from indicators.sources.survey_microdata import PARTITIONS
from indicators.sources.survey_microdata.deliveries import (harmonise_deliveries, read_delivery, staged_audit,
                                                            withdraw_missing)
from indicators.sources.survey_microdata.estimates import (coherence_problems, is_survey_indicator,
                                                           update_survey_estimates)
from indicators.sources.survey_microdata.specs import find_specs
from pipelines.defs.common import (SOURCES_CHECKED, build_registry, source_fingerprints,
                                   stage_source_fingerprints)
from pipelines.resources import BuildSettings, WarehouseResource

SOURCE = "survey_microdata"
survey_sources = dg.DynamicPartitionsDefinition(name=PARTITIONS)
# A single-run backfill policy (every key of a partition range in one step) is a Dagster beta parameter (1.13): it
# is what lets `cop build` stage all changed deliveries inside its one run. Said once here, not at every import.
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=r"Parameter `backfill_policy`")


def _specs(build: BuildSettings, keys: list[str]) -> dict[str, Path]:
    specs = find_specs(Path(build.mappings_dir))
    missing = [k for k in keys if k not in specs]
    if missing:
        raise dg.Failure(f"no mapping spec with source_id {', '.join(map(repr, missing))} in {build.mappings_dir}")
    return {k: specs[k] for k in keys}


@dg.asset(key=["raw", "child_survey"], group_name="ingest", pool="warehouse", kinds={"duckdb"},
          partitions_def=survey_sources, backfill_policy=dg.BackfillPolicy.single_run(),
          description="Each delivered survey file as delivered (raw.child_survey__<source_id>), with value labels "
                      "(raw.microdata_value_labels) and provenance (raw.microdata_files). A delivery whose files "
                      "did not change since the warehouse staged them is not read again.")
def raw_child_survey(context: dg.AssetExecutionContext, build: BuildSettings,
                     warehouse: WarehouseResource) -> dg.MaterializeResult:
    keys = list(context.partition_keys)
    specs = _specs(build, keys)
    current = source_fingerprints(build, SOURCE, keys)
    with warehouse.get_connection() as con:
        recorded = recorded_fingerprints(con).get(SOURCE, {})
        changed = [k for k in keys if recorded.get(k) != current[k]]
        stage_source_fingerprints(con, context.run.run_id, build, SOURCE, changed)
        outcomes = [read_delivery(con, specs[k], Path(build.store_dir)) for k in changed]
    for outcome in outcomes:
        if outcome.read:
            p = outcome.provenance
            context.log.info(f"{outcome.source_id}: read {Path(p['path']).name} ({p['format']}): {p['rows']} rows")
        else:
            context.log.error(f"{outcome.source_id}: REJECTED, left out of this build: {outcome.error}")
    unchanged = sorted(set(keys) - set(changed))
    if unchanged:
        context.log.info(f"{len(unchanged)} deliveries unchanged since they were staged, not read again")
    return dg.MaterializeResult(metadata={
        "read": dg.MetadataValue.json([o.source_id for o in outcomes if o.read]),
        "unreadable": dg.MetadataValue.json({o.source_id: o.error for o in outcomes if not o.read}),
        "unchanged": dg.MetadataValue.json(unchanged)})


@dg.asset(key=["staging", "child_survey"], group_name="harmonise", pool="warehouse", kinds={"duckdb"},
          partitions_def=survey_sources, backfill_policy=dg.BackfillPolicy.single_run(), deps=[raw_child_survey],
          description="Harmonised child-survey rows (staging.child_survey) of each delivery read in this run; "
                      "rejected rows in quality.rejected_rows, each delivery's verdict in quality.source_status. A "
                      "rejected delivery is left out (none of its rows stays staged); the others go on.")
def staging_child_survey(context: dg.AssetExecutionContext, build: BuildSettings,
                         warehouse: WarehouseResource) -> dg.MaterializeResult:
    keys = list(context.partition_keys)
    specs = _specs(build, keys)
    with warehouse.get_connection() as con:
        read_now = set(pending_partitions(con, context.run.run_id, SOURCE))
        results = harmonise_deliveries(con, [specs[k] for k in keys if k in read_now])
    verdicts = {}
    for key, result in results.items():
        if result is None:
            verdicts[key] = "rejected (unreadable)"
            continue
        verdicts[key] = result.status
        context.log.info(f"{key}: {result.status}, {result.accepted_rows} of {result.rows} rows kept, "
                         f"{result.rejected_rows} rejected")
        for reason in result.reasons:
            context.log.error(f"{key}: REJECTED, left out of this build: {reason}")
    return dg.MaterializeResult(metadata={
        "harmonised": len([r for r in results.values() if r is not None]),
        "verdicts": dg.MetadataValue.json(verdicts),
        "rows_kept": sum(r.accepted_rows for r in results.values() if r is not None),
        "rows_rejected": sum(r.rejected_rows for r in results.values() if r is not None)})


@dg.asset_check(asset=staging_child_survey, blocking=True, name="staged_rows_follow_the_model",
                description="Every row this run staged passes the pandera model again (schemas.child_survey); "
                            "the verdict of every delivery with its rejected rows per rule. Rejected deliveries are "
                            "reported, not a failure: they are left out and the build goes on.")
def staged_rows_follow_the_model(context: dg.AssetCheckExecutionContext,
                                 warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.get_connection() as con:
        # the deliveries staged by this run (those of earlier runs passed when they were staged)
        audit = staged_audit(con, sources=pending_partitions(con, context.run.run_id, SOURCE))
    for source_id, reasons in audit["rejected"].items():
        context.log.warning(f"{source_id}: rejected, left out: {reasons}")
    return dg.AssetCheckResult(
        passed=not audit["staged_rows_failing_the_model"], severity=dg.AssetCheckSeverity.ERROR,
        metadata={"staged_rows_failing_the_model": dg.MetadataValue.json(audit["staged_rows_failing_the_model"]),
                  "audited": len(audit["audited"]),
                  "accepted": len(audit["accepted"]), "rejected": dg.MetadataValue.json(audit["rejected"]),
                  "rejected_rows_per_rule": dg.MetadataValue.json(audit["rejected_rows_per_rule"])})


def _estimation_version(members: list[Indicator], lonely_psu: str) -> str:
    """What a delivery's estimates depend on besides its rows: the definitions, the lonely-PSU rule, the code."""
    text = repr(sorted(repr(i) for i in members)) + lonely_psu + code_version()
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def survey_estimates_asset(group: str) -> tuple[dg.AssetsDefinition, dg.AssetChecksDefinition]:
    table = tables.survey_estimates_table(group)

    @dg.asset(key=["estimates", f"survey_{group}"], group_name="estimate", pool="warehouse", kinds={"duckdb"},
              deps=[staging_child_survey, ["reference", "indicator_registry"], SOURCES_CHECKED],
              description=f"Design-based estimates of the {group} survey indicators, every domain, with SEs, CIs "
                          f"and quality flags ({table}); only deliveries whose rows or definitions changed are "
                          "estimated again.")
    def _asset(context: dg.AssetExecutionContext, build: BuildSettings,
               warehouse: WarehouseResource) -> dg.MaterializeResult:
        members = [i for i in build_registry(build) if i.group == group and is_survey_indicator(i)]
        with warehouse.get_connection() as con:
            gone = withdraw_missing(con, find_specs(Path(build.mappings_dir)))
            fingerprints = recorded_fingerprints(con).get(SOURCE, {})
            result = update_survey_estimates(con, members, table, fingerprints,
                                             _estimation_version(members, build.lonely_psu), build.lonely_psu)
            status = dict(con.execute(f"SELECT OBS_STATUS, count(*) FROM {table} GROUP BY 1 ORDER BY 1").fetchall())
        for source_id in gone:
            context.log.warning(f"{source_id}: withdrawn (no mapping spec in this build)")
        context.log.info(f"{group}: {result['cells']} domain estimates of {len(members)} indicators; estimated "
                         f"{len(result['estimated'])} deliveries, kept {len(result['kept'])}, dropped "
                         f"{len(result['dropped'])}; status {status}")
        return dg.MaterializeResult(metadata={
            "cells": result["cells"], "estimated": dg.MetadataValue.json(result["estimated"]),
            "kept": len(result["kept"]), "dropped": dg.MetadataValue.json(result["dropped"]),
            "status": dg.MetadataValue.json(status)})

    @dg.asset_check(asset=_asset, blocking=True, name="estimates_are_coherent",
                    description="SE >= 0, the CI contains the estimate, percentages within [0, 100], every "
                                "suppressed cell (OBS_STATUS Q) has no value and every other cell has one (but a "
                                "gap that cannot be computed, O).")
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.get_connection() as con:
            problems = coherence_problems(con, table)
        return dg.AssetCheckResult(passed=not any(problems.values()), severity=dg.AssetCheckSeverity.ERROR,
                                   metadata=problems)

    return _asset, _check


def build_defs(registry: list[Indicator]) -> tuple[list, list]:
    """The assets and checks of this source for a registry: one estimates asset per group that has survey
    indicators (an entry in any group is estimated, none is silently left out)."""
    groups = list(dict.fromkeys(i.group for i in registry if is_survey_indicator(i)))
    estimates = [survey_estimates_asset(group) for group in groups]
    return ([raw_child_survey, staging_child_survey] + [a for a, _ in estimates],
            [staged_rows_follow_the_model] + [c for _, c in estimates])
