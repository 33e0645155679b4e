"""Running the build unattended: the monthly schedule and the failure summary sensor.

Both are registered in `pipelines/definitions.py`; both need `dagster-daemon run` on the instance (DAGSTER_HOME)
that the webserver uses (docs/user_guide.md, "Running in production").
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
from dagster import DagsterEventType

from indicators.errors import ConfigError
from indicators.run_summary import append_summary, format_summary

REPO_ROOT = Path(__file__).resolve().parents[1]
FAILURE_LOG_ENV = "COP_FAILURE_LOG"
STATE_ENV = "COP_DAGSTER_STATE"
BUILD_CRON_ENV = "COP_BUILD_CRON"
DEFAULT_BUILD_CRON = "0 5 1 * *"  # 05:00 UTC on the 1st: the month's deliveries are in, nobody is at work yet
SUMMARY_EVENTS = {DagsterEventType.STEP_FAILURE, DagsterEventType.ASSET_CHECK_EVALUATION,
                  DagsterEventType.ASSET_MATERIALIZATION_PLANNED, DagsterEventType.ASSET_MATERIALIZATION,
                  DagsterEventType.RUN_FAILURE}


def build_schedule(job, cron: str | None = None) -> dg.ScheduleDefinition:
    """The `monthly_build` schedule of `job`: cron from the argument, else $COP_BUILD_CRON, else 05:00 UTC on the
    1st. Off until turned on (UI or `dagster schedule start`), so a checkout never starts building by itself."""
    source = "cron argument" if cron else f"environment variable {BUILD_CRON_ENV}"
    cron = cron or os.environ.get(BUILD_CRON_ENV) or DEFAULT_BUILD_CRON
    try:
        return dg.ScheduleDefinition(
            name="monthly_build", job=job, cron_schedule=cron, execution_timezone="UTC",
            default_status=dg.DefaultScheduleStatus.STOPPED,
            description=f"Scheduled production build, cron '{cron}' (UTC); turn on in the UI.")
    except dg.DagsterInvalidDefinitionError as exc:
        raise ConfigError(f"{source}: {cron!r} is not a cron schedule (five fields: minute hour day-of-month "
                          f"month day-of-week, e.g. {DEFAULT_BUILD_CRON!r} for 05:00 UTC on the 1st)") from exc


def failure_log_path() -> Path:
    """$COP_FAILURE_LOG, else failures.log in the instance state folder ($COP_DAGSTER_STATE, else .dagster/)."""
    explicit = os.environ.get(FAILURE_LOG_ENV)
    if explicit:
        return Path(explicit)
    return Path(os.environ.get(STATE_ENV) or REPO_ROOT / ".dagster") / "failures.log"


def error_dict(error) -> dict | None:
    """A Dagster SerializableErrorInfo chain as plain dicts (cls_name, message, cause, context); stacks left out."""
    if error is None:
        return None
    return {"cls_name": error.cls_name, "message": error.message,
            "cause": error_dict(error.cause), "context": error_dict(error.context)}


def collect_failure_facts(instance: dg.DagsterInstance, run) -> dict:
    """The facts of a failed run for `indicators.run_summary.format_summary`, read from its event log."""
    entries = instance.all_logs(run.run_id, of_type=SUMMARY_EVENTS)
    assets_of_step: dict[str, list[str]] = {}
    planned: list[str] = []
    built: set[str] = set()
    steps, checks, run_error, failed_at = [], [], None, None
    for entry in entries:
        event = entry.dagster_event
        kind = event.event_type
        if kind == DagsterEventType.ASSET_MATERIALIZATION_PLANNED:
            key = event.event_specific_data.asset_key.to_user_string()
            planned.append(key)
            assets_of_step.setdefault(event.step_key, []).append(key)
        elif kind == DagsterEventType.ASSET_MATERIALIZATION:
            built.add(event.event_specific_data.materialization.asset_key.to_user_string())
        elif kind == DagsterEventType.STEP_FAILURE:
            steps.append({"step": event.step_key, "error": error_dict(event.event_specific_data.error)})
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed:
                checks.append({"asset": evaluation.asset_key.to_user_string(), "check": evaluation.check_name,
                               "severity": evaluation.severity.value,
                               "metadata": {k: v.value for k, v in evaluation.metadata.items()}})
        elif kind == DagsterEventType.RUN_FAILURE:
            failed_at = entry.timestamp
            data = event.event_specific_data
            run_error = error_dict(getattr(data, "error", None))
    failed_assets: set[str] = set()
    for step in steps:
        step["assets"] = assets_of_step.get(step["step"], [])
        failed_assets.update(step["assets"])
    return {"run_id": run.run_id, "job": run.job_name, "partition": run.tags.get("dagster/partition"),
            "failed_at": failed_at or _end_time(instance, run.run_id), "steps": steps, "checks": checks,
            "not_built": [key for key in planned if key not in built and key not in failed_assets],
            "run_error": run_error}


def _end_time(instance: dg.DagsterInstance, run_id: str) -> float:
    """When the run ended, per its run record (a run that failed before its failure event: now)."""
    record = instance.get_run_record_by_id(run_id)
    return (record.end_time if record and record.end_time else None) or time.time()


@dg.run_failure_sensor(
    name="failure_summary",
    # cop build runs jobs in process on the same instance: such runs belong to no code location, so only
    # monitoring all of them also summarises failed command-line builds (the daemon must be running).
    monitor_all_code_locations=True,
    # RUNNING by default: it only appends to a local file, and it acts only where the daemon runs (a production
    # machine or `dagster dev`), so there is nothing to remember to turn on after a deployment.
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Appends a one-screen summary of each failed run (step errors, failed checks with their first "
                "violations) to $COP_FAILURE_LOG, else <COP_DAGSTER_STATE>/failures.log.",
)
def failure_summary(context: dg.RunFailureSensorContext) -> None:
    """Write the summary of the failed run where an operator looks first, and say where in the sensor's log."""
    facts = collect_failure_facts(context.instance, context.dagster_run)
    path = failure_log_path()
    append_summary(path, format_summary(facts))
    context.log.info(f"summary of failed run {facts['run_id']} ({facts['job']}) appended to {path}")
