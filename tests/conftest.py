"""Shared fixtures: the path of the real public data, a helper that runs the ICT ingest in a tmp warehouse, and the
builds and readings that several tests only read, made once per session. The slowest builds run in subprocesses
started before the first test (Background), on the second core while the in-process tests run."""

from __future__ import annotations

import contextlib
import os
import pickle
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from indicators.sources.ict.harmonise import harmonise_ict
from indicators.sources.ict.reader import load_manifest, load_raw_ict
from indicators.reference import load_reference_tables
from indicators.warehouse import connect

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"  # the synthetic inputs the tests build
# the command line, as installed in the environment running the tests (`python -m pipelines.cli` without it)
COP = [str(Path(sys.executable).parent / "cop")] if (Path(sys.executable).parent / "cop").exists() else [
    sys.executable, "-m", "pipelines.cli"]
# session fixtures that start a subprocess (a build) some selected test waits for: started before the first test
BACKGROUND_FIXTURES = ("full_sample_build_started", "full_sample_build_again_started", "readme_build_started")
# the pytest-xdist worker running this process ("gw0", ...), None without xdist: the session-wide builds are made
# by one worker and shared (made_once), not made once per worker
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")


SURVEY_REFERENCE = SHARED / "survey_reference"  # R's api samples and reference results (README there)


def api_designs():
    """The svydesign() calls of ../shared/data/survey_reference (survey_reference_designs.json), as the engine's
    Design objects: name -> (table loaded by load_api_samples, Design)."""
    from indicators.estimation.taylor import Design

    return {
        "apistrat_strat": ("apistrat", Design(weight="pw", stratum="stype", fpc="fpc")),
        "apiclus1_clus1": ("apiclus1", Design(weight="pw", psu="dnum", fpc="fpc")),
        "apiclus2_clus2": ("apiclus2", Design(weight="fpc1 / n1 * fpc2 / n2", psu="dnum", fpc="fpc1",
                                              ssu="snum", fpc2="fpc2")),
    }


def load_api_samples(con) -> None:
    """Tables apistrat, apiclus1 and apiclus2 from the shared api CSVs (R's NA as null). apiclus2 has no weight
    column: R takes 1 / (n1/N1 * n2/N2) from the fpcs, so the sampled PSUs n1 and SSUs per PSU n2 are added."""
    for name in ("apistrat", "apiclus1", "apiclus2"):
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv('{SURVEY_REFERENCE / (name + '.csv')}', "
                    "nullstr = ['NA', ''])")
    con.execute("""CREATE OR REPLACE TABLE apiclus2 AS SELECT *, count(DISTINCT dnum) OVER () AS n1,
                   count(*) OVER (PARTITION BY dnum) AS n2 FROM apiclus2""")


def pytest_sessionstart(session):
    """Tests comparing with the real public files and R's reference results in ../shared/data skip themselves
    when that folder is absent (a clone outside this workplace). CI has it and sets COP_REQUIRE_SHARED_DATA=1
    (.ci/run): there a missing folder stops the run instead of quietly skipping (or, for the parametrised R
    comparisons, collecting no case at all)."""
    if os.environ.get("COP_REQUIRE_SHARED_DATA") == "1" and not (SHARED / "survey_reference").is_dir():
        raise pytest.UsageError(f"COP_REQUIRE_SHARED_DATA=1 but {SHARED} (with survey_reference/) is absent: "
                                "the R reference comparisons and real-data tests would be skipped")


@pytest.fixture(autouse=True, scope="session")
def tests_build_the_synthetic_sample():
    """Tests build the SYNTHETIC sample (data/sample), whose values the generators know, unless a test passes
    its own sources; `make build` reads the real public snapshot (data/public), tested on its own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COP_SOURCES", str(SAMPLE))
        yield


@pytest.fixture
def shared_ict() -> Path:
    """The folder of real ICT files (../shared/data/ict); the test is skipped when it is absent."""
    folder = SHARED / "ict"
    if not folder.is_dir():
        pytest.skip(f"shared data folder absent: {folder} (real public ICT files are not in the repo)")
    return folder


@pytest.fixture
def harmonised_warehouse(tmp_path):
    """Function (sources_dir) -> (connection, harmonise counts): reference, raw and staging tables built.

    Each call uses a fresh warehouse file under tmp_path; connections are closed at teardown.
    """
    connections = []

    def build(sources_dir: Path):
        con = connect(tmp_path / f"w{len(connections)}.duckdb")
        connections.append(con)
        load_reference_tables(con)
        load_raw_ict(con, load_manifest(sources_dir))
        return con, harmonise_ict(con)

    yield build
    for con in connections:
        con.close()


class Background:
    """A command run in a subprocess that was started before the first test (start_the_slow_builds_first), so that
    it runs beside the in-process tests; its output goes to files in `folder`, and its exit code to
    `folder`/exit_code when it ends, so that another pytest-xdist worker can wait for it (Background.attach)."""

    EXIT_FILE, PID_FILE = "exit_code", "pid"

    def __init__(self, command, folder: Path, timeout_s: float, niceness: int = 0, **popen) -> None:
        self.folder, self.deadline = folder, time.monotonic() + timeout_s
        script = command if isinstance(command, str) else shlex.join(command)
        # the shell writes the command's exit code; `exec 0</dev/null`: the command reads no terminal
        shell = ["sh", "-c", f"exec 0</dev/null\n{script}\necho $? > {shlex.quote(str(folder / self.EXIT_FILE))}"]
        if niceness and shutil.which("nice"):  # a lower priority: a command needed late leaves the CPU to the rest
            shell = ["nice", "-n", str(niceness), *shell]
        popen.pop("shell", None)
        with open(folder / "stdout.txt", "wb") as out, open(folder / "stderr.txt", "wb") as err:
            # its own process group (stop() ends it with every child it started) but not its own session: a new
            # session is a new scheduler autogroup on Linux, which would take an equal share of the CPU from the
            # tests whatever its niceness
            self.process = subprocess.Popen(shell, stdout=out, stderr=err, process_group=0, **popen)
        (folder / self.PID_FILE).write_text(str(self.process.pid))   # for the workers that attach to it

    @classmethod
    def attach(cls, folder: Path, timeout_s: float) -> "Background":
        """The command another worker started in `folder`: wait() waits for its exit code file, stop() leaves it
        to the worker that started it."""
        job = cls.__new__(cls)
        job.folder, job.deadline, job.process = folder, time.monotonic() + timeout_s, None
        return job

    def wait(self) -> subprocess.CompletedProcess:
        """Its exit code and output once it has ended; past its timeout (counted from its start here) it is
        stopped and subprocess.TimeoutExpired raised, as subprocess.run does."""
        exit_file = self.folder / self.EXIT_FILE
        try:
            if self.process is not None:
                self.process.wait(timeout=max(self.deadline - time.monotonic(), 0))
            else:
                self._wait_for_exit_file(exit_file)
        except subprocess.TimeoutExpired:
            self.stop()
            raise
        text = exit_file.read_text().strip() if exit_file.exists() else ""
        code = int(text) if text else (self.process.returncode if self.process is not None else -1)
        return subprocess.CompletedProcess(str(self.folder), code, self.output("stdout.txt"),
                                           self.output("stderr.txt"))

    def _wait_for_exit_file(self, exit_file: Path) -> None:
        # Started by another worker: this process holds no handle it could wait on, so it polls for the file the
        # command's shell writes last (five times a second: a build takes tens of seconds). A command that ended
        # without writing it (killed) is noticed by its process id, not left to the timeout.
        pid = int((self.folder / self.PID_FILE).read_text())
        while not exit_file.exists():
            if time.monotonic() > self.deadline:
                raise subprocess.TimeoutExpired(str(self.folder), 0)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                if not exit_file.exists():
                    return   # ended without an exit code: reported as -1 by wait()
            time.sleep(0.2)

    def output(self, name: str) -> str:
        return (self.folder / name).read_text(errors="replace")

    def stop(self) -> None:
        """End the command and its children if this worker started it and it is still running."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def finish(self) -> None:
        """At the end of this worker's session: under pytest-xdist another worker may still wait for the command,
        so it is waited for (until its timeout); without xdist it is stopped."""
        if XDIST_WORKER and self.process is not None:
            try:
                self.wait()
            except subprocess.TimeoutExpired:
                pass
        self.stop()


def run_root(tmp_path_factory) -> Path:
    """The temporary folder of this test run that every pytest-xdist worker shares (pytest's base temporary folder
    without xdist; its parent, one per run, under xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if XDIST_WORKER else base


@contextlib.contextmanager
def made_once(tmp_path_factory, name: str):
    """(folder, first) of the shared folder `name`: `first` is True in the one worker that must make its content
    (the others wait on a file lock until it has, then get False). A maker that fails leaves the making to the
    next worker that asks."""
    from filelock import FileLock

    root = run_root(tmp_path_factory)
    folder, made = root / name, root / f"{name}.made"
    with FileLock(str(root / f"{name}.lock")):
        first = not made.exists()
        if first:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
        yield folder, first
        made.touch()


def made_once_in_process(tmp_path_factory, name: str, make):
    """make(folder) run by one worker of the session; the other workers get the value it returned (pickled)."""
    with made_once(tmp_path_factory, name) as (folder, first):
        if first:
            (folder.parent / f"{name}.pickle").write_bytes(pickle.dumps(make(folder)))
        return pickle.loads((folder.parent / f"{name}.pickle").read_bytes())


def started_once(tmp_path_factory, name: str, start, timeout_s: float = 1200):
    """start(folder) -> Background, run by one worker of the session; the others attach to the command it
    started: (folder, Background)."""
    with made_once(tmp_path_factory, name) as (folder, first):
        job = start(folder) if first else Background.attach(folder, timeout_s)
    return folder, job


@pytest.fixture(autouse=True, scope="session")
def start_the_slow_builds_first(request):
    """Start the subprocess builds that a selected test waits for (BACKGROUND_FIXTURES) before the first test:
    they run beside the in-process tests instead of after them. Nothing starts for a selection that needs none."""
    wanted = {name for item in request.session.items for name in getattr(item, "fixturenames", ())}
    for name in BACKGROUND_FIXTURES:
        if name in wanted:
            request.getfixturevalue(name)


def start_full_sample_build(out: Path, release_id: str, niceness: int = 0) -> Background:
    """`cop build` of the whole bundled SYNTHETIC sample (data/sample: ICT, incidents and the 24 survey deliveries)
    into `out` (published/, warehouse.duckdb) with its own Dagster instance state, started in a subprocess."""
    (out / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    env = {**os.environ, "DAGSTER_HOME": str(out), "COP_DAGSTER_STATE": str(out / ".dagster"),
           # the charts are drawn in two processes (the default, pinned here): test_charts compares them with a
           # rendering in one process
           "COP_CHART_WORKERS": "2"}
    return Background([*COP, "build", "--sources", str(SAMPLE), "--out", str(out / "published"),
                       "--warehouse", str(out / "warehouse.duckdb"), "--release-id", release_id],
                      out, timeout_s=1200, niceness=niceness, cwd=REPO, env=env)


def finished_build(out: Path, job: Background) -> Path:
    """The folder of a started build once it has succeeded."""
    done = job.wait()
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return out


@pytest.fixture(scope="session")
def full_sample_build_started(tmp_path_factory):
    """The full sample build, started in a subprocess (by one pytest-xdist worker): (folder, Background)."""
    out, job = started_once(tmp_path_factory, "full_sample",
                            lambda folder: start_full_sample_build(folder, "sample-full", niceness=5))
    yield out, job   # needed from test_charts on
    job.finish()


@pytest.fixture(scope="session")
def full_sample_build(full_sample_build_started):
    """`cop build` of the whole bundled SYNTHETIC sample (data/sample: ICT, incidents, and the 24 survey deliveries),
    with its own Dagster instance state: (release folder, warehouse path). Built once per session, in a subprocess
    started before the first test (full_sample_build_started)."""
    out = finished_build(*full_sample_build_started)
    return out / "published" / "sample-full", out / "warehouse.duckdb"


@pytest.fixture(scope="session")
def full_sample_build_again_started(tmp_path_factory):
    """A second, independent build of the same inputs with the same release id (its own folder, warehouse and
    instance), started in a subprocess: (folder, Background). test_release_manifest compares it with the first."""
    out, job = started_once(tmp_path_factory, "full_sample_again",
                            lambda folder: start_full_sample_build(folder, "sample-full", niceness=10))
    yield out, job   # needed late in the session
    job.finish()


@pytest.fixture(scope="session")
def full_sample_build_again(full_sample_build_again_started) -> Path:
    """The release folder of the second full sample build (full_sample_build_again_started)."""
    return finished_build(*full_sample_build_again_started) / "published" / "sample-full"


@pytest.fixture(scope="session")
def readme_build_started(tmp_path_factory):
    """The README's build command on a fresh copy of the repository, started in a subprocess
    (test_readme_commands.start_readme_build): (copy, Background)."""
    from test_readme_commands import start_readme_build

    folder, job = started_once(tmp_path_factory, "readme_build", lambda folder: start_readme_build(folder)[1])
    yield folder / "cop-indicators", job   # the copy start_readme_build makes
    job.finish()


@pytest.fixture(scope="session")
def release_folder(full_sample_build) -> Path:
    """The release folder of the full sample build."""
    return full_sample_build[0]


@pytest.fixture(scope="session")
def release_db(release_folder):
    """The full sample release's public database, read-only, as an analyst opens it."""
    import duckdb

    con = duckdb.connect(str(release_folder / "cop_indicators.duckdb"), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="session")
def materialized_sample(tmp_path_factory) -> Path:
    """`dg.materialize` of every asset and check from the bundled sample into a tmp folder, release id
    `test-release-1` (its sources' unpartitioned assets: the ICT and incident files; no survey partition is
    materialized): the releases folder. Built once per session, for the tests that only read it (test_pipeline_e2e,
    test_incidents; made by one pytest-xdist worker)."""
    import dagster as dg

    from pipelines.definitions import ASSET_CHECKS, ASSETS
    from pipelines.resources import default_resources

    def materialize(out: Path) -> Path:
        resources = default_resources(published_dir=out / "published", warehouse=out / "warehouse.duckdb",
                                      release_id="test-release-1")
        result = dg.materialize([*ASSETS, *ASSET_CHECKS], resources=resources)
        assert result.success
        return out / "published"

    return made_once_in_process(tmp_path_factory, "materialized_sample", materialize)


@pytest.fixture(scope="session")
def harmonised_sample_deliveries(tmp_path_factory):
    """The 24 bundled (synthetic) survey deliveries of data/mappings, each read (read_microdata) and harmonised
    (harmonise_source) by the project's loader into one warehouse: (connection, source_id -> harmonise result).
    Read once per session, for test_survey_estimates and test_synthetic_child_survey, which only read it."""
    from indicators.sources.survey_microdata.harmonise import harmonise_source
    from indicators.sources.survey_microdata.reader import read_microdata
    from indicators.sources.survey_microdata.specs import MAPPINGS_DIR, find_specs, load_spec

    con = connect(tmp_path_factory.mktemp("deliveries") / "w.duckdb")
    results = {}
    for source_id, path in find_specs(MAPPINGS_DIR).items():
        spec = load_spec(path)
        read_microdata(con, spec, spec.path(path))
        results[source_id] = harmonise_source(con, spec)
    yield con, results
    con.close()


def copy_country_sample(folder: Path) -> Path:
    """The sample's ICT and incident files and their sources.yaml into `folder` (created), without the
    questionnaire responses: the builds that test surveys and country files need not score 127 questionnaires
    (tests/test_national_questionnaire.py builds those)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("ict_country_year.csv", "ncmec_reports_by_country.csv"):
        shutil.copy(SAMPLE / name, folder / name)
    manifest = yaml.safe_load((SAMPLE / "sources.yaml").read_text(encoding="utf-8"))
    manifest.pop("questionnaire")
    (folder / "sources.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True),
                                         encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def small_deliveries_build(tmp_path_factory):
    """`cop build --release-id r1` of the sample's ICT and incident files (copied into sources/) with two small
    survey deliveries (mappings/: aaa_2023, KEN, 120 rows; bbb_2023, BRA, 150 rows), in a folder of its own with
    its warehouse (w.duckdb), Dagster instance (dagster.yaml, .dagster/) and releases (published/):
    (folder, exit code, what the build printed). Built once per session (by one pytest-xdist worker); tests that
    build on copy the folder."""
    import io

    from pipelines import cli
    from test_survey_partitions import deliver

    def build(root: Path):
        copy_country_sample(root / "sources")
        (root / "mappings").mkdir()
        deliver(root / "mappings", "aaa_2023", "KEN", 120, 1)
        deliver(root / "mappings", "bbb_2023", "BRA", 150, 2)
        (root / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
        printed = io.StringIO()
        with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
            patch.setenv("DAGSTER_HOME", str(root))
            patch.setenv("COP_DAGSTER_STATE", str(root / ".dagster"))
            code = cli.main(["build", "--sources", str(root / "sources"), "--mappings", str(root / "mappings"),
                             "--out", str(root / "published"), "--warehouse", str(root / "w.duckdb"),
                             "--release-id", "r1"])
        return root, code, printed.getvalue()

    return made_once_in_process(tmp_path_factory, "small_deliveries", build)


@pytest.fixture
def kernel_name(tmp_path, monkeypatch) -> str:
    """The Jupyter kernel of this interpreter: the installed 'python3' spec when it starts this interpreter
    (its argv 'python' is replaced by sys.executable), else a spec written for it in a temporary folder."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
        if spec.argv[0] in ("python", "python3", sys.executable):
            return "python3"
    except NoSuchKernel:
        pass
    from ipykernel.kernelspec import write_kernel_spec

    write_kernel_spec(tmp_path / "kernels" / "cop-test", overrides={"display_name": "cop test"})
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    return "cop-test"


def execute_notebook(path: Path, release_folder: Path, kernel_name: str, monkeypatch):
    """Run a notebook top to bottom on a release (COP_RELEASE, which the kernel inherits) with a last cell that
    prints the kernel's interpreter; returns the executed notebook (CellExecutionError on the first failing cell)."""
    import nbformat
    from nbclient import NotebookClient

    from indicators import explore

    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import sys\nprint(sys.executable)"))
    monkeypatch.setenv(explore.RELEASE_ENV, str(release_folder))
    NotebookClient(notebook, kernel_name=kernel_name, timeout=600,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return notebook
