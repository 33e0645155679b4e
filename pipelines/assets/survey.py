"""Survey microdata: one Dagster partition per mapping spec (data/mappings/*.yaml), so that each country's
delivery is read, harmonised and audited alone; a sensor adds the partition when a spec appears."""

import json
import warnings
from pathlib import Path

import dagster as dg

from indicators.errors import CopError
from indicators.harmonise_survey import audit_staged, harmonise_source, withdraw_source
from indicators.ingest.microdata import read_microdata
from indicators.mapping_specs import find_specs, load_spec, spec_fingerprint
from pipelines.resources import BuildSettings, WarehouseResource

survey_sources = dg.DynamicPartitionsDefinition(name="survey_source")


def _spec_path(build: BuildSettings, source_id: str) -> Path:
    specs = find_specs(Path(build.mappings_dir))
    if source_id not in specs:
        raise dg.Failure(f"no mapping spec with source_id {source_id!r} in {build.mappings_dir}")
    return specs[source_id]


@dg.asset(key=["raw", "child_survey"], group_name="ingest", pool="warehouse", kinds={"duckdb"},
          partitions_def=survey_sources,
          description="One delivered child-survey file as delivered (raw.child_survey__<source_id>), with value "
                      "labels (raw.microdata_value_labels) and provenance.")
def raw_child_survey(context: dg.AssetExecutionContext, build: BuildSettings,
                     warehouse: WarehouseResource) -> dg.MaterializeResult:
    spec_file = _spec_path(build, context.partition_key)
    spec = load_spec(spec_file)
    with warehouse.get_connection() as con:
        try:
            provenance = read_microdata(con, spec, spec.path(spec_file))
        except CopError as exc:
            # a re-delivery that cannot be read must not leave the previous delivery's rows in staging
            withdraw_source(con, spec.target, spec.source_id, f"delivery cannot be read: {exc}")
            raise
    context.log.info(f"read {Path(provenance['path']).name} ({spec.format}): {provenance['rows']} rows, "
                     f"{provenance['value_labels']} value labels")
    return dg.MaterializeResult(metadata={"rows": provenance["rows"], "spec": str(spec_file),
                                          "provenance": dg.MetadataValue.json(provenance)})


@dg.asset(key=["staging", "child_survey"], group_name="harmonise", pool="warehouse", kinds={"duckdb"},
          partitions_def=survey_sources, deps=[["raw", "child_survey"]],
          description="Harmonised child-survey rows of one source (staging.child_survey); rejected rows in "
                      "quality.rejected_rows, the source's verdict in quality.source_status.")
def staging_child_survey(context: dg.AssetExecutionContext, build: BuildSettings,
                         warehouse: WarehouseResource) -> dg.MaterializeResult:
    spec = load_spec(_spec_path(build, context.partition_key))
    with warehouse.get_connection() as con:
        result = harmonise_source(con, spec)
    context.log.info(f"{spec.source_id}: {result.status}, {result.accepted_rows} of {result.rows} rows kept, "
                     f"{result.rejected_rows} rejected")
    for reason in result.reasons:
        context.log.error(f"{spec.source_id}: {reason}")
    return dg.MaterializeResult(metadata={
        "status": result.status, "rows": result.rows, "accepted_rows": result.accepted_rows,
        "rejected_rows": result.rejected_rows, "design": dg.MetadataValue.json(result.design)})


# A partitioned asset check is a Dagster preview feature (1.13): it is what lets the verdict be per source.
warnings.filterwarnings("ignore", category=dg.PreviewWarning, module=r"dagster\._core\.definitions\.decorators.*")


@dg.asset_check(asset=staging_child_survey, blocking=True, name="source_accepted", partitions_def=survey_sources,
                description="The source's design is sound and few enough rows break a rule (quality.source_status); "
                            "a rejected source stops everything downstream of it.")
def child_survey_source_accepted(context: dg.AssetCheckExecutionContext,
                                 warehouse: WarehouseResource) -> dg.AssetCheckResult:
    source_id = context.partition_key
    with warehouse.get_connection() as con:
        # audit: what is staged for this source is validated again against the pandera model
        staged_failures = audit_staged(con, "child_survey", source_id)
        status, rows, rejected, reasons = con.execute(
            "SELECT status, rows, rejected_rows, reasons FROM quality.source_status WHERE source_id = ?",
            [source_id]).fetchone()
        rules = con.execute("""SELECT rule, count(DISTINCT source_row) FROM quality.rejected_rows
                               WHERE source_id = ? GROUP BY 1 ORDER BY 2 DESC""", [source_id]).fetchall()
        first = con.execute("""SELECT source_row, "column", value, rule FROM quality.rejected_rows
                               WHERE source_id = ? ORDER BY source_row LIMIT 20""", [source_id]).df()
    return dg.AssetCheckResult(
        passed=status == "accepted" and staged_failures.empty, severity=dg.AssetCheckSeverity.ERROR,
        metadata={"status": status, "rows": rows, "rejected_rows": rejected, "reasons": reasons or "",
                  "staged_rows_failing_the_model": len(staged_failures),
                  "rejected_rows_per_rule": dg.MetadataValue.json(dict(rules)),
                  "first_rejected_rows": dg.MetadataValue.md(first.to_markdown(index=False) if not first.empty
                                                             else "none")})


survey_ingest_job = dg.define_asset_job(
    "ingest_survey_source", selection=dg.AssetSelection.assets(raw_child_survey, staging_child_survey),
    tags={"cop/writes": "warehouse"},  # partitioned by its assets' survey_source partitions
    description="Read, harmonise and audit one survey source (one partition per mapping spec).")


@dg.sensor(job=survey_ingest_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED,
           description="Adds a partition when a mapping spec appears in data/mappings/ and ingests new or changed "
                       "specs and files, each alone.")
def new_mapping_specs(context: dg.SensorEvaluationContext, build: BuildSettings) -> dg.SensorResult:
    seen = json.loads(context.cursor) if context.cursor else {}
    specs = find_specs(Path(build.mappings_dir))
    current = {source_id: spec_fingerprint(path) for source_id, path in specs.items()}
    existing = set(context.instance.get_dynamic_partitions(survey_sources.name))
    new_keys = sorted(set(current) - existing)
    changed = sorted(k for k, fp in current.items() if seen.get(k) != fp)
    return dg.SensorResult(
        dynamic_partitions_requests=[survey_sources.build_add_request(new_keys)] if new_keys else [],
        run_requests=[dg.RunRequest(partition_key=k, run_key=f"{k}:{current[k]}") for k in changed],
        cursor=json.dumps(current, sort_keys=True))
