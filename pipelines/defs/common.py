"""What the Dagster modules share: the gate key estimation waits for, the registry of a build, and the
pending-fingerprint bookkeeping of a source's assets."""

from __future__ import annotations

from pathlib import Path

from indicators.build_plan import BuildPlan, estimation_settings, plan_build
from indicators.paths import DEFAULT_REGISTRY
from indicators.fingerprints import files_fingerprint, stage_fingerprint
from indicators.sources import BuildInputs, source_named
from indicators.registry import Indicator, load_registry
from pipelines.resources import BuildSettings

# every estimation asset depends on it: no estimate is computed before every source file of the run was read,
# harmonised and passed its blocking checks (a bad file fails the build in seconds)
SOURCES_CHECKED = ["staging", "sources_checked"]


def registry_dir(build: BuildSettings) -> Path:
    return Path(build.registry_dir) if build.registry_dir else DEFAULT_REGISTRY


def build_registry(build: BuildSettings) -> list[Indicator]:
    """The validated registry of this build (load_registry reads it once per process while its files stay the
    same)."""
    return load_registry(registry_dir(build))


def build_inputs(build: BuildSettings) -> BuildInputs:
    return BuildInputs(sources_dir=Path(build.sources_dir), manifest=Path(build.manifest) if build.manifest else None,
                       mappings_dir=Path(build.mappings_dir), store=Path(build.store_dir))


def source_fingerprints(build: BuildSettings, source: str, partitions: list[str] | None = None) -> dict[str, str]:
    """Fingerprints of the files `source` reads now: of its `partitions`, or ('' ->) of the whole source."""
    files = source_named(source).input_files(build_inputs(build))
    keys = partitions if partitions is not None else [None]
    return {key or "": files_fingerprint(files.get(key, [])) for key in keys}


def stage_source_fingerprints(con, run_id: str, build: BuildSettings, source: str,
                              partitions: list[str] | None = None) -> dict[str, str]:
    """Fingerprint the files of `source` (its `partitions`, or the whole unpartitioned source) as this run reads
    them, pending until the run's checks pass (indicators.fingerprints)."""
    fingerprints = source_fingerprints(build, source, partitions)
    for key, fingerprint in fingerprints.items():
        stage_fingerprint(con, run_id, source, key, fingerprint)
    return fingerprints


def build_plan(build: BuildSettings, warehouse: str | Path | None = None) -> BuildPlan:
    """This build's plan against `warehouse` (None: fingerprints only)."""
    return plan_build(build_inputs(build), Path(warehouse) if warehouse else None,
                      Path(build.published_dir) if warehouse else None, registry_dir(build),
                      estimation_settings(build.min_coverage, build.lonely_psu))


def build_versions(build: BuildSettings) -> dict[str, str]:
    """The code, registry and settings versions of this build, and its build_fingerprint (for the manifest)."""
    plan = build_plan(build)
    return {**plan.versions, "build_fingerprint": plan.build_fingerprint}


def files_read_result(context, provenance: list[dict], described, **totals: int):
    """Report the files a raw asset read, one log line each ("read <name> (<described(p)>), sha256 ..."), and its
    metadata: the number of files, `totals` and every file's provenance."""
    import dagster as dg

    for p in provenance:
        context.log.info(f"read {Path(p['path']).name} ({described(p)}), sha256 {p['sha256'][:12]}")
    return dg.MaterializeResult(metadata={
        "files": dg.MetadataValue.int(len(provenance)),
        **{name: dg.MetadataValue.int(int(total)) for name, total in totals.items()},
        "provenance": dg.MetadataValue.json(provenance),
    })


def indicator_rows_result(context, label: str, rows: dict[str, int]):
    """Report the rows each indicator got (log and metadata), warning about those without any: their inputs are
    missing from the sources, and they stay in the catalogue without observations."""
    import dagster as dg

    context.log.info(f"{label}: " + ", ".join(f"{k} {v}" for k, v in rows.items()))
    empty = [code for code, n in rows.items() if n == 0]
    if empty:
        context.log.warning(f"no value could be computed for {', '.join(empty)}: their inputs are missing "
                            "from the sources (they stay in the catalogue, with no observations)")
    return dg.MaterializeResult(metadata={code: dg.MetadataValue.int(n) for code, n in rows.items()})


def latest_check_outcomes(context, check_sources: dict) -> list[dict]:
    """The latest completed evaluation of every asset check of the build (`check_sources`: AssetCheckKey -> the
    source it belongs to): this run's, or for a check whose asset this run did not touch (nothing changed there),
    that of the run that last evaluated it; a check never evaluated has passed None."""
    keys = sorted(check_sources, key=lambda k: k.to_user_string())
    records = context.instance.event_log_storage.get_asset_check_summary_records(keys)
    outcomes = []
    for key in keys:
        record = records.get(key)
        execution = record.last_completed_check_execution_record if record else None
        event = execution.event.dagster_event if execution and execution.event else None
        evaluation = event.event_specific_data if event else None
        outcomes.append({"source": check_sources[key], "asset": key.asset_key.to_user_string(), "check": key.name,
                         "passed": getattr(evaluation, "passed", None),
                         "run_id": execution.run_id if execution else None})
    return outcomes
