"""The README's two commands, as a new user runs them: here the build command, in a subprocess, on a fresh
copy of the repository (its own .venv, its own Dagster instance state)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def readme_command(label: str) -> str:
    """The command in the README's code block that follows the line `<!-- label -->`."""
    found = re.search(rf"<!-- {label} -->\s*```(?:sh|bash)?\n(.+?)\n```", README, re.S)
    assert found, f"README.md has no code block marked <!-- {label} -->"
    return found.group(1).strip()


def test_ci_runs_exactly_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert readme_command("test-command") in [line.strip() for line in ci]


def repository_files() -> list[Path]:
    if (REPO / ".git").exists():
        listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "--cached", "--others", "--exclude-standard"],
                                capture_output=True, text=True, check=True).stdout.splitlines()
        return [Path(p) for p in listed if (REPO / p).exists()]
    skip = {".venv", ".tools", ".dagster", "data/warehouse", "data/published", ".pytest_cache"}
    return [p.relative_to(REPO) for p in REPO.rglob("*") if p.is_file()
            and not any(str(p.relative_to(REPO)).startswith(s) for s in skip) and "__pycache__" not in p.parts]


def start_readme_build(folder: Path):
    """Copy the repository into `folder` and start the README's build command there, in a subprocess of its own
    environment (no COP_, DAGSTER_ or virtual-environment variable of the tests): (copy, conftest.Background).
    conftest starts it before the first test, so that it runs beside the in-process tests."""
    from conftest import Background

    copy = folder / "cop-indicators"
    for relative in repository_files():
        (copy / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / relative, copy / relative)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COP_", "DAGSTER_", "VIRTUAL_ENV", "UV_PROJECT"))}
    command = readme_command("build-command")
    # at a lower priority (needed late in the session): the in-process tests keep the CPU they need
    return copy, Background(command, folder, timeout_s=1200, niceness=10, shell=True, cwd=copy, env=env)


@pytest.mark.slow
def test_readme_build_command_builds_a_release_on_a_fresh_copy(readme_build_started):
    copy, job = readme_build_started
    done = job.wait()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "published release" in done.stdout
    assert "ephemeral" not in output.lower() and "DAGSTER_HOME" not in output
    latest = copy / "data" / "published" / "latest"
    manifest = json.loads((latest / "manifest.json").read_text())
    # the default build publishes REAL background and incident figures; only the survey series are synthetic,
    # and they are labelled per observation and per series
    assert manifest["synthetic"] is True and all(i["synthetic"] == (i["layout"] == "microdata")
                                                 for i in manifest["inputs"])
    observations = pd.read_parquet(latest / "observations.parquet")
    ethiopia = observations.query("INDICATOR == 'BC.1' and REF_AREA == 'ETH' and TIME_PERIOD == 2022")
    assert ethiopia["OBS_VALUE"].tolist() == [19.38]  # WDI IT.NET.USER.ZS, Ethiopia 2022: 19.3781
    by_series = observations.groupby("INDICATOR")["SYNTHETIC"].agg(["all", "any"])
    assert not by_series.loc[["BC.1", "BC.7", "IR.12", "IR.15"], "any"].any()
    assert by_series.loc[["PA.1", "SA.1", "RB.1", "IR.1"], "all"].all()
    catalogue = pd.read_parquet(latest / "catalogue.parquet").set_index("code")["data_origin"]
    assert catalogue["BC.1"] == "real" and catalogue["PA.1"] == "synthetic" and catalogue["NC.1"] == "no data"
    assert (copy / ".dagster" / "history" / "runs.db").exists()  # run history in the project's instance
