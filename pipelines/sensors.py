"""Sensors of the build: deliveries dropped in the inbox, mapping specs that appear or change, and (from
pipelines.operations) the one-screen summary of a failed run. Each starts a run of just the affected survey
partitions and what depends on them."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from indicators.inbox import sweep_inbox
from indicators.sources.survey_microdata import PARTITIONS
from indicators.sources.survey_microdata.specs import find_specs
from pipelines.defs.common import source_fingerprints
from pipelines.defs.survey_microdata import SOURCE as SURVEY_SOURCE
from pipelines.operations import failure_summary
from pipelines.resources import BuildSettings


def _partition_runs(job: dg.JobDefinition, selection: list[dg.AssetKey], keys: list[str], run_key: str
                    ) -> list[dg.RunRequest]:
    """One run over the affected partitions (a partition range: the survey assets take every key at once) and
    everything downstream of them; the run's assets re-read only the deliveries whose files changed."""
    if not keys:
        return []
    return [dg.RunRequest(run_key=run_key, job_name=job.name, asset_selection=selection,
                          tags={"dagster/asset_partition_range_start": keys[0],
                                "dagster/asset_partition_range_end": keys[-1]})]


def _ordered(instance: dg.DagsterInstance, keys: set[str]) -> list[str]:
    """`keys` in the order of the partitions definition (a range is taken in that order)."""
    order = instance.get_dynamic_partitions(PARTITIONS)
    return [k for k in order if k in keys]


FINAL_KEYS = [dg.AssetKey(["staging", "sources_checked"]), dg.AssetKey(["estimates", "aggregates"]),
              dg.AssetKey(["release"])]


def sensors(job: dg.JobDefinition, survey_assets: list) -> list:
    """`survey_assets`: the assets of the partitioned survey source; a run they start covers those and the final
    stages (gate, group values, release), not the other sources, which the warehouse already holds."""
    downstream = [k for a in survey_assets for k in a.keys] + FINAL_KEYS

    @dg.sensor(job=job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED,
               description="Adds a partition when a mapping spec appears in the mappings folder and starts one run "
                           "of the new or changed deliveries and what depends on them.")
    def new_mapping_specs(context: dg.SensorEvaluationContext, build: BuildSettings) -> dg.SensorResult:
        seen = json.loads(context.cursor) if context.cursor else {}
        specs = find_specs(Path(build.mappings_dir))
        # the build plan's fingerprints (spec and data file contents, code version): one notion of "changed"
        current = source_fingerprints(build, SURVEY_SOURCE, sorted(specs))
        existing = set(context.instance.get_dynamic_partitions(PARTITIONS))
        new_keys = sorted(set(current) - existing)
        if new_keys:
            context.instance.add_dynamic_partitions(PARTITIONS, new_keys)
        changed = {k for k, fp in current.items() if seen.get(k) != fp}
        run_key = "specs:" + ",".join(f"{k}={current[k]}" for k in sorted(changed))
        return dg.SensorResult(run_requests=_partition_runs(job, downstream, _ordered(context.instance, changed),
                                                            run_key),
                               cursor=json.dumps(current, sort_keys=True))

    @dg.sensor(job=job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED,
               description="Moves files dropped in the inbox (COP_INBOX, default data/inbox/) whose mapping spec "
                           "exists into the content-addressed source store (COP_STORE, default data/store/) and "
                           "starts a run of just those deliveries and what depends on them. A file with no spec, an "
                           "unsafe name or a duplicate of a known file goes to <inbox>/rejected/ with a reason file.")
    def inbox_deliveries(context: dg.SensorEvaluationContext, build: BuildSettings) -> dg.SensorResult:
        inbox = Path(build.inbox_dir)
        if not inbox.is_dir():
            return dg.SensorResult(skip_reason=f"no inbox folder {inbox}")
        specs = find_specs(Path(build.mappings_dir))
        result = sweep_inbox(inbox, Path(build.store_dir), specs)
        for item in result.rejected:
            context.log.warning(f"inbox: {item.name!r} rejected: {item.reason}")
        for note in result.notes:
            context.log.warning(f"inbox: {note}")
        keys = sorted({a.source_id for a in result.accepted})
        existing = set(context.instance.get_dynamic_partitions(PARTITIONS))
        if set(keys) - existing:
            context.instance.add_dynamic_partitions(PARTITIONS, sorted(set(keys) - existing))
        run_key = "inbox:" + ",".join(f"{a.source_id}={a.sha256}" for a in result.accepted)
        return dg.SensorResult(run_requests=_partition_runs(job, downstream, _ordered(context.instance, set(keys)),
                                                            run_key))

    return [new_mapping_specs, inbox_deliveries, failure_summary]
