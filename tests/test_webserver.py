"""`dagster-webserver` serves the project's code location as `pipelines.definitions.defs` defines it.

The UI is how the build is operated in production (schedules and sensors are turned on there), so this starts the
real webserver as a user would (no arguments, in the repository: the code location comes from pyproject.toml's
[tool.dagster] block, as for `dagster dev`; the project's dagster.yaml with its environment variables pointing to
a tmp folder) and compares what its GraphQL API lists with `defs` loaded here:
every asset, asset check, job, schedule and sensor, with the schedules' cron and default status.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WEBSERVER = Path(sys.executable).parent / "dagster-webserver"
START_TIMEOUT_S = 90  # importing the code location (pandas, duckdb, matplotlib, dagster) on a 2-core machine
LOCATION_QUERY = """{ workspaceOrError { __typename
  ... on Workspace { locationEntries { name loadStatus
      locationOrLoadError { __typename ... on PythonError { message stack } } } }
  ... on PythonError { message } } }"""
REPOSITORY_QUERY = """{ repositoriesOrError { __typename
  ... on RepositoryConnection { nodes { name location { name }
      jobs { name }
      schedules { name cronSchedule executionTimezone defaultStatus }
      sensors { name defaultStatus }
      assetNodes { assetKey { path }
        assetChecksOrError { __typename
          ... on AssetChecks { checks { name assetKey { path } } }
          ... on Error { message } } } } }
  ... on Error { message } } }"""

pytestmark = pytest.mark.skipif(not WEBSERVER.exists(), reason=f"dagster-webserver is not installed ({WEBSERVER})")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.loads(response.read())
    assert "errors" not in answer, f"GraphQL errors: {answer['errors']}"
    return answer["data"]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group the webserver leads (it and its code-server child), SIGKILL to whatever of
    the group is left after a grace period. The group id is the webserver's own pid (start_new_session)."""
    if not _group_alive(process.pid):
        process.poll()
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + 10
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)  # poll the group's exit, bounded by the deadline above
    if _group_alive(process.pid):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.fixture
def webserver(tmp_path):
    """Port of a dagster-webserver serving the repository's code location on a tmp instance; stopped after."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "COP_DAGSTER_STATE": str(home / "state"),
           "COP_FAILURE_LOG": str(tmp_path / "failures.log")}
    port = _free_port()
    log = (tmp_path / "webserver.log").open("wb")
    process = subprocess.Popen([str(WEBSERVER), "-h", "127.0.0.1", "-p", str(port)],
                               cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until_loaded(process, port, tmp_path / "webserver.log")
        yield port
    finally:
        _stop(process)
        log.close()


def _wait_until_loaded(process: subprocess.Popen, port: int, log: Path) -> None:
    """Until /server_info answers and the code location is LOADED; fail with the server's output otherwise."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"dagster-webserver exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5):
                pass
            entries = _graphql(port, LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"dagster-webserver not ready after {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)  # poll the server until it answers, bounded by START_TIMEOUT_S


def test_webserver_lists_every_asset_check_job_schedule_and_sensor_of_defs(webserver):
    from pipelines.definitions import defs

    entries = _graphql(webserver, LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["dagster"]
    assert project["module_name"] == "pipelines.definitions"
    assert [e["name"] for e in entries] == [project["code_location_name"]]
    location = entries[0]["locationOrLoadError"]
    assert location["__typename"] == "RepositoryLocation", f"code location failed to load: {location}"

    answer = _graphql(webserver, REPOSITORY_QUERY)["repositoriesOrError"]
    assert answer["__typename"] == "RepositoryConnection", answer
    [served] = answer["nodes"]
    repository = defs.get_repository_def()
    assert served["name"] == repository.name

    graph = repository.asset_graph
    served_assets = {"/".join(node["assetKey"]["path"]) for node in served["assetNodes"]}
    expected_assets = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert expected_assets <= served_assets, f"assets not served: {sorted(expected_assets - served_assets)}"

    check_answers = [node["assetChecksOrError"] for node in served["assetNodes"]]
    assert {a["__typename"] for a in check_answers} <= {"AssetChecks"}, check_answers
    served_checks = {("/".join(check["assetKey"]["path"]), check["name"])
                     for a in check_answers for check in a["checks"]}
    expected_checks = {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}
    assert expected_checks, "defs has no asset checks: the comparison would prove nothing"
    assert expected_checks <= served_checks, f"checks not served: {sorted(expected_checks - served_checks)}"

    served_jobs = {job["name"] for job in served["jobs"]}
    expected_jobs = {job.name for job in repository.get_all_jobs() if not job.name.startswith("__")}
    assert {"build_release"} <= expected_jobs <= served_jobs, sorted(expected_jobs - served_jobs)

    served_schedules = {s["name"]: (s["cronSchedule"], s["executionTimezone"], s["defaultStatus"])
                        for s in served["schedules"]}
    expected_schedules = {s.name: (s.cron_schedule, s.execution_timezone, s.default_status.value)
                          for s in repository.schedule_defs}
    assert expected_schedules, "defs has no schedule"
    assert {name: served_schedules.get(name) for name in expected_schedules} == expected_schedules

    served_sensors = {s["name"]: s["defaultStatus"] for s in served["sensors"]}
    expected_sensors = {s.name: s.default_status.value for s in repository.sensor_defs}
    assert expected_sensors, "defs has no sensor"
    assert {name: served_sensors.get(name) for name in expected_sensors} == expected_sensors
