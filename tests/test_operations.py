"""Failure summary of a run (indicators/run_summary.py), the failure sensor and the monthly schedule
(pipelines/operations.py), the sensor end to end on a tiny Definitions run in process."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg
import pytest

from indicators.errors import ConfigError
from indicators.run_summary import MAX_LINES, append_summary, format_summary, user_message
from pipelines.operations import build_schedule, failure_log_path, failure_summary

RUN_ID = "8c1f2e3d-0000-4000-8000-000000000001"


def _input_error_chain() -> dict:
    """A user error inside Dagster's step error, as the event log keeps it (messages carry the class prefix)."""
    return {"cls_name": "DagsterExecutionStepExecutionError",
            "message": 'dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while executing '
                       'op "raw__ict_country_year":\n',
            "cause": {"cls_name": "InputError",
                      "message": "indicators.errors.InputError: invalid input: 2 violations\n"
                                 "  ict.csv, row 7, column 'year': not a year (value 'n/a')\n"
                                 "  ict.csv, row 9, column 'iso3': unknown country code (value 'XKX')\n",
                      "cause": None}}


def _facts() -> dict:
    cases = [{"file": "ict.csv", "row": r, "column": "value", "rule": "must be between 0 and 100",
              "value": str(100 + r)} for r in range(2, 9)]  # 7 violations, rows 2..8, values 102..108
    return {
        "run_id": RUN_ID, "job": "build_release", "partition": None,
        "failed_at": datetime(2026, 3, 1, 5, 2, 13, tzinfo=timezone.utc),
        "steps": [
            {"step": "raw__ict_country_year", "assets": ["raw/ict_country_year"], "error": _input_error_chain()},
            # a step that failed only because its blocking check failed: the check's lines tell it
            {"step": "staging__ict_country_year_ict_values_follow_the_rules", "assets": [],
             "error": {"cls_name": "DagsterAssetCheckFailedError",
                       "message": "1 blocking asset check failed with ERROR severity:\n", "cause": None}},
        ],
        "checks": [{"asset": "staging/ict_country_year", "check": "ict_values_follow_the_rules",
                    "severity": "ERROR",
                    "metadata": {"rows": 12, "violations": 7, "failure_cases": cases,
                                 "summary": "- `ict.csv` row 2 ..."}}],
        "not_built": ["estimates/country_year", "release"],
        "run_error": None,
    }


def test_summary_of_a_hand_made_failed_run_has_exact_lines():
    assert format_summary(_facts()).splitlines() == [
        "=== build_release FAILED at 2026-03-01 05:02:13 UTC ===",
        f"run id: {RUN_ID}",
        "failed asset raw/ict_country_year:",
        "  invalid input: 2 violations",
        "    ict.csv, row 7, column 'year': not a year (value 'n/a')",
        "    ict.csv, row 9, column 'iso3': unknown country code (value 'XKX')",
        "failed check ict_values_follow_the_rules on staging/ict_country_year (rows 12, violations 7):",
        "  ict.csv, row 2, column 'value': must be between 0 and 100 (value '102')",
        "  ict.csv, row 3, column 'value': must be between 0 and 100 (value '103')",
        "  ict.csv, row 4, column 'value': must be between 0 and 100 (value '104')",
        "  ict.csv, row 5, column 'value': must be between 0 and 100 (value '105')",
        "  ict.csv, row 6, column 'value': must be between 0 and 100 (value '106')",
        "  ... and 2 more (the check's metadata in the Dagster UI lists up to 200)",
        "not built (an upstream step failed): estimates/country_year, release",
    ]


def test_summary_of_a_partition_run_and_a_multi_asset_step():
    facts = {"run_id": "r1", "job": "ingest_survey_source", "partition": "bra_2019",
             "failed_at": 1772341333.0,  # 2026-03-01 05:02:13 UTC
             "steps": [{"step": "survey", "assets": ["raw/child_survey", "staging/child_survey"],
                        "error": {"cls_name": "ConfigError",
                                  "message": "indicators.errors.ConfigError: bra_2019.yaml: key 'weight' missing",
                                  "cause": None}}]}
    assert format_summary(facts).splitlines() == [
        "=== ingest_survey_source FAILED at 2026-03-01 05:02:13 UTC ===",
        "run id: r1  partition: bra_2019",
        "failed step survey (assets raw/child_survey, staging/child_survey):",
        "  bra_2019.yaml: key 'weight' missing",
    ]


def test_internal_error_shows_the_innermost_error_without_traceback():
    error = {"cls_name": "DagsterExecutionStepExecutionError", "message": "Error occurred while executing op",
             "cause": {"cls_name": "KeyError",
                       "message": "KeyError: 'iso3'\nTraceback (most recent call last):\n  File \"x.py\"",
                       "cause": None}}
    assert user_message(error) == "KeyError: 'iso3' (internal error; the traceback is in the run's log)"
    assert user_message(None) == "no error message recorded"


def test_long_summary_is_cut_to_one_screen():
    checks = [{"asset": f"a{i}", "check": "c", "metadata": {"violations": 1, "failure_cases": [
        {"file": "f.csv", "row": i, "column": "x", "rule": "r", "value": None}]}} for i in range(20)]
    lines = format_summary({"run_id": "r2", "job": "j", "failed_at": None, "checks": checks}).splitlines()
    # 2 header lines + 20 checks x 2 lines = 42 lines: 24 kept, the 25th says how many were cut (42 - 24 = 18)
    assert len(lines) == MAX_LINES
    assert lines[0] == "=== j FAILED at unknown time ==="
    assert lines[2:4] == ["failed check c on a0 (violations 1):", "  f.csv, row 0, column 'x': r"]
    assert lines[-1] == "... 18 more line(s): open run r2 in the Dagster UI"


def test_long_values_and_long_not_built_lists_are_shortened():
    long_value = "x" * 100
    facts = {"run_id": "r3", "job": "j", "failed_at": None,
             "checks": [{"asset": "a", "check": "c", "metadata": {"failure_cases": [
                 {"file": "f.csv", "row": 2, "column": "note", "rule": "too long", "value": long_value}]}}],
             # 20 names of 10 characters: 12 of them joined by ", " take 12 * 10 + 11 * 2 = 142 > 140, so 11 fit
             "not_built": [f"estimate{i:02d}" for i in range(20)]}
    lines = format_summary(facts).splitlines()
    assert lines[3] == "  f.csv, row 2, column 'note': too long (value '" + "x" * 57 + "...')"
    assert lines[4] == ("not built (an upstream step failed): "
                        + ", ".join(f"estimate{i:02d}" for i in range(11)) + " and 9 more")


def test_append_summary_creates_the_folder_and_appends_entries(tmp_path):
    path = tmp_path / "state" / "logs" / "failures.log"
    append_summary(path, "first\nentry\n")
    append_summary(path, "second")
    assert path.read_text(encoding="utf-8") == "first\nentry\n\nsecond\n\n"


def test_monthly_schedule_cron_from_argument_else_env_else_default(monkeypatch):
    job = dg.define_asset_job("build_release")
    monkeypatch.delenv("COP_BUILD_CRON", raising=False)
    default = build_schedule(job)
    assert (default.name, default.cron_schedule, default.execution_timezone) == ("monthly_build", "0 5 1 * *", "UTC")
    assert default.default_status == dg.DefaultScheduleStatus.STOPPED
    assert default.job_name == "build_release"
    monkeypatch.setenv("COP_BUILD_CRON", "30 4 15 * *")
    assert build_schedule(job).cron_schedule == "30 4 15 * *"
    assert build_schedule(job, "0 6 * * 1").cron_schedule == "0 6 * * 1"  # the argument wins over the env
    monkeypatch.setenv("COP_BUILD_CRON", "0 5 32 * *")
    with pytest.raises(ConfigError, match=r"environment variable COP_BUILD_CRON: '0 5 32 \* \*' is not a cron"):
        build_schedule(job)


def test_failure_log_path_env_then_state_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("COP_FAILURE_LOG", raising=False)
    monkeypatch.setenv("COP_DAGSTER_STATE", str(tmp_path / "state"))
    assert failure_log_path() == tmp_path / "state" / "failures.log"
    monkeypatch.setenv("COP_FAILURE_LOG", str(tmp_path / "ops" / "f.log"))
    assert failure_log_path() == tmp_path / "ops" / "f.log"


# ---- the sensor end to end: a tiny build whose blocking check fails ----

@dg.asset(key_prefix=["staging"])
def ict_country_year() -> int:
    return 3


@dg.asset_check(asset=ict_country_year, blocking=True)
def values_in_range() -> dg.AssetCheckResult:
    cases = [{"file": "ict_country_year.csv", "row": 14, "column": "value", "rule": "must be between 0 and 100",
              "value": "140"}]
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR,
                               metadata={"rows": 3, "violations": 1, "failure_cases": dg.MetadataValue.json(cases)})


@dg.asset(deps=[ict_country_year], key_prefix=["estimates"])
def country_year() -> int:
    return 1


TINY = dg.Definitions(assets=[ict_country_year, country_year], asset_checks=[values_in_range],
                      jobs=[dg.define_asset_job("build_release", selection=dg.AssetSelection.all())],
                      sensors=[failure_summary])


def _expected_lines(run_id: str) -> list[str]:
    return [f"run id: {run_id}",
            "failed check values_in_range on staging/ict_country_year (rows 3, violations 1):",
            "  ict_country_year.csv, row 14, column 'value': must be between 0 and 100 (value '140')",
            "not built (an upstream step failed): estimates/country_year"]


def test_failure_sensor_appends_the_summary_of_a_failed_run(tmp_path, monkeypatch):
    log = tmp_path / "ops" / "failures.log"
    monkeypatch.setenv("COP_FAILURE_LOG", str(log))
    (tmp_path / "instance").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "instance")) as instance:
        result = TINY.resolve_job_def("build_release").execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        context = dg.build_run_status_sensor_context(
            sensor_name="failure_summary", dagster_event=result.get_run_failure_event(),
            dagster_instance=instance, dagster_run=result.dagster_run).for_run_failure()
        failure_summary(context)
        failed_at = instance.get_run_record_by_id(result.run_id).end_time
    text = log.read_text(encoding="utf-8")
    assert text.endswith("\n\n")
    lines = text.splitlines()
    assert lines[0].startswith("=== build_release FAILED at ") and lines[0].endswith(" UTC ===")
    # the time is the run's failure, to the second (end_time is set by the same failure event)
    assert lines[0][len("=== build_release FAILED at "):-len(" UTC ===")] == \
        datetime.fromtimestamp(failed_at, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    assert lines[1:] == _expected_lines(result.run_id) + [""]


def test_failure_sensor_tick_sees_in_process_runs(tmp_path, monkeypatch):
    """What the daemon does: the first tick sets the cursor, a later tick finds the failed run (executed in
    process like `cop build`, so outside any code location) and writes its summary."""
    log = tmp_path / "failures.log"
    monkeypatch.setenv("COP_FAILURE_LOG", str(log))
    (tmp_path / "instance").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "instance")) as instance:
        first = failure_summary.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert first.skip_message.startswith("Initiating failure_summary")
        result = TINY.resolve_job_def("build_release").execute_in_process(instance=instance, raise_on_error=False)
        second = failure_summary.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=first.cursor))
        assert second.cursor != first.cursor
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines[1:] == _expected_lines(result.run_id) + [""]
