"""A build killed (SIGKILL) while ingesting, estimating or publishing loses nothing: `latest` is still the previous
complete release, the warehouse opens, no partial release is visible, and the next build publishes the same numbers
as a clean build of the same inputs. Two builds at once: the second refuses and names the first. An analyst who
queries the latest release while a build publishes never sees a failed query (issue 13, points 5 and 6)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from test_survey_partitions import deliver

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


class Project:
    """A copy of conftest's small_deliveries_build (release r1) whose builds run as `cop build` subprocesses."""

    def __init__(self, root: Path):
        self.root = root
        self.published = root / "published"

    def command(self, *extra: str) -> list[str]:
        return [sys.executable, "-m", "pipelines.cli", "build", "--sources", str(self.root / "sources"),
                "--mappings", str(self.root / "mappings"), "--out", str(self.published),
                "--warehouse", str(self.root / "w.duckdb"), *extra]

    def env(self) -> dict[str, str]:
        return {**os.environ, "DAGSTER_HOME": str(self.root), "COP_DAGSTER_STATE": str(self.root / ".dagster"),
                "PYTHONPATH": str(REPO)}

    def start(self, *extra: str) -> tuple[subprocess.Popen, Path]:
        log = self.root / f"build-{time.monotonic_ns()}.log"
        with open(log, "w") as out:
            process = subprocess.Popen(self.command(*extra), cwd=REPO, env=self.env(), stdout=out,
                                       stderr=subprocess.STDOUT)
        return process, log

    def run(self, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(*extra), cwd=REPO, env=self.env(), capture_output=True, text=True,
                              timeout=600)

    def latest(self) -> str:
        return (self.published / "LATEST").read_text().strip()

    def visible(self) -> list[str]:
        return sorted(p.name for p in self.published.iterdir() if not p.name.startswith("."))

    def fingerprint(self, release: str) -> str:
        return json.loads((self.published / release / "manifest.json").read_text())["observations_fingerprint"]


def redeliver(project: Project) -> None:
    """The change the killed builds were making: KEN re-delivers its survey (as in test_build_incremental)."""
    deliver(project.root / "mappings", "aaa_2023", "KEN", 130, 11)


@pytest.fixture
def project(small_deliveries_build, tmp_path) -> Project:
    root, code, _ = small_deliveries_build
    assert code == 0
    shutil.copytree(root, tmp_path, symlinks=True, dirs_exist_ok=True)
    return Project(tmp_path)


@pytest.fixture(scope="module")
def clean_fingerprint(small_deliveries_build, tmp_path_factory) -> str:
    """The published numbers of a clean build (new warehouse, instance and releases) of the re-delivered inputs."""
    root, _, _ = small_deliveries_build
    clean = Project(tmp_path_factory.mktemp("clean"))
    for name in ("sources", "mappings"):
        shutil.copytree(root / name, clean.root / name)
    shutil.copy(root / "dagster.yaml", clean.root / "dagster.yaml")
    redeliver(clean)
    result = clean.run("--release-id", "clean")
    assert result.returncode == 0, result.stderr
    return clean.fingerprint("clean")


def kill_when(process: subprocess.Popen, ready, timeout: float = 300) -> None:
    """SIGKILL `process` as soon as `ready()` is true (polled every 5 ms); fail if it ended first."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, "the build ended before the point where it was to be killed"
        assert time.monotonic() < deadline, "the build never reached the point where it was to be killed"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL


def printed(log: Path, line: str):
    return lambda: line in log.read_text()


PHASES = {
    # after the raw tables are written, while the deliveries are harmonised into staging
    "ingest": lambda project, log: printed(log, "done raw/child_survey"),
    # once every source is checked (fingerprints recorded): the estimates are being computed
    "estimation": lambda project, log: printed(log, "done staging/sources_checked"),
    # the release's hidden folder exists: it is being written
    "publish": lambda project, log: lambda: any(project.published.glob(".incoming-*")),
}


@pytest.mark.parametrize("phase", list(PHASES))
def test_a_build_killed_loses_nothing_and_the_next_build_equals_a_clean_one(phase, project, clean_fingerprint):
    redeliver(project)
    process, log = project.start("--release-id", "killed")
    kill_when(process, PHASES[phase](project, log))
    if phase != "publish":
        assert not any(project.published.glob(".incoming-*")), "killed later than intended"

    assert project.latest() == "r1" and os.readlink(project.published / "latest") == "r1"
    assert project.visible() == ["LATEST", "latest", "r1"]  # no partial release in sight
    con = duckdb.connect(str(project.root / "w.duckdb"))  # the warehouse opens (its WAL replayed)
    assert con.execute("SELECT count(*) FROM information_schema.tables").fetchone()[0] > 0
    con.close()

    result = project.run("--release-id", "r2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert project.latest() == "r2" and project.visible() == ["LATEST", "latest", "r1", "r2"]
    assert not any(project.published.glob(".incoming-*"))  # the killed build's leftover is cleaned
    assert project.fingerprint("r2") == clean_fingerprint


def test_a_second_build_at_once_refuses_and_names_the_first(project):
    redeliver(project)
    first, log = project.start("--release-id", "first")
    kill_guard = threading.Timer(600, first.kill)
    kill_guard.start()
    try:
        # the first holds the locks from its start; wait until it is past planning, then start the second (its
        # log is the only sign of its progress another process has: polled every 10 ms, bounded by the deadline)
        deadline = time.monotonic() + 120
        while "publishing to" not in log.read_text():
            assert first.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.01)
        second = project.run("--release-id", "second")
        assert first.wait(timeout=600) == 0, log.read_text()
    finally:
        kill_guard.cancel()
    assert second.returncode == 1
    assert "cop build: refused: " in second.stderr and "another build is running on it (pid " \
        f"{first.pid} on " in second.stderr and "wait for it to finish" in second.stderr
    assert "Traceback" not in second.stderr
    assert project.latest() == "first" and not (project.published / "second").exists()
    # the first build's release is complete and the warehouse was not touched by the second
    assert project.run("--strict").stdout.count("nothing to do") == 1


def test_an_analyst_querying_the_latest_release_during_a_publish_sees_no_failure(project):
    """Queries in a loop on data/published/latest/cop_indicators.duckdb (read-only, reopened as an analyst's
    notebook would) while a build publishes a new release and moves `latest`."""
    redeliver(project)
    errors, answers = [], []
    stop = threading.Event()

    def analyst() -> None:
        while not stop.is_set():
            try:
                con = duckdb.connect(str(project.published / "latest" / "cop_indicators.duckdb"), read_only=True)
                try:
                    answers.append(con.execute("SELECT count(*) FROM observations WHERE INDICATOR = 'BC.1'")
                                   .fetchone()[0])
                finally:
                    con.close()
            except Exception as error:  # every failure is collected, none may happen
                errors.append(repr(error))

    reader = threading.Thread(target=analyst)
    reader.start()
    try:
        result = project.run("--release-id", "r2")
    finally:
        stop.set()
        reader.join(timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert errors == []
    assert len(answers) > 10 and min(answers) > 0
    assert project.latest() == "r2"
