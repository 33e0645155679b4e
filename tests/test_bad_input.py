"""Point 9 of the skeleton: bad input fails the build with a message naming file, row, column and rule;
nothing new is published and the previous release stays exactly as it was."""

from __future__ import annotations

import hashlib
import io
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pipelines import cli

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "data" / "sample"


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under the releases folder with its checksum, plus where `latest` points."""
    files = {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}
    files["latest ->"] = str((folder / "latest").resolve())
    return files


def use_project(root: Path, patch: pytest.MonkeyPatch) -> None:
    """Point Dagster at the instance under `root` and the build at its empty mappings folder (these cases are
    about the ICT files: the survey sources are left out)."""
    home = root / "dagster_home"
    patch.setenv("DAGSTER_HOME", str(home))
    patch.setenv("COP_DAGSTER_STATE", str(home / "state"))
    patch.setenv("COP_MAPPINGS", str(root / "no_mappings"))


@pytest.fixture(scope="module")
def good_project(tmp_path_factory) -> Path:
    """A releases folder holding one good release, its warehouse and the Dagster instance that built it; built
    once per module, copied by each case (a failed build must leave the copy it ran on untouched)."""
    root = tmp_path_factory.mktemp("good_project")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")  # the project's settings (telemetry off)
    (root / "no_mappings").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        use_project(root, patch)
        assert cli.main(["build", "--out", str(root / "published"), "--warehouse", str(root / "warehouse.duckdb"),
                         "--release-id", "good-1"]) == 0
    return root


@pytest.fixture
def project(good_project, tmp_path, monkeypatch):
    """A releases folder holding one good release (a copy of the module's: the release, `latest`, the warehouse
    and the instance's run history), and a Dagster instance of the test's own."""
    shutil.copytree(good_project, tmp_path, symlinks=True, dirs_exist_ok=True)
    use_project(tmp_path, monkeypatch)
    return tmp_path, tmp_path / "published", tmp_path / "warehouse.duckdb"


def bad_sources(tmp_path: Path, edit) -> Path:
    folder = tmp_path / "bad_sources"
    shutil.copytree(SAMPLE_DIR, folder)
    csv = folder / "ict_country_year.csv"
    lines = csv.read_text().splitlines(keepends=True)
    csv.write_text("".join(edit(lines)))
    return folder


def set_cell(line: str, column: int, value: str) -> str:
    fields = line.rstrip("\n").split(",")
    fields[column] = value
    return ",".join(fields) + "\n"


HEADER = pd.read_csv(SAMPLE_DIR / "ict_country_year.csv", nrows=0).columns.tolist()
INTERNET = HEADER.index("internet_users_pct")
# line 5 of the sample is AFG 2003, which has an internet value
CASES = {
    "negative percentage": (
        lambda lines: lines[:4] + [set_cell(lines[4], INTERNET, "-3.5")] + lines[5:],
        ["ict_country_year.csv", "line 5", "column 'internet_users_pct'", "must be within [0, 100]", "-3.5"]),
    "unknown country code": (
        lambda lines: lines[:4] + [set_cell(lines[4], 0, "ZZZ")] + lines[5:],
        ["ict_country_year.csv", "line 5", "column 'ref_area'", "known to pycountry or explicitly mapped", "ZZZ"]),
    "duplicated country-year": (
        lambda lines: lines[:5] + [lines[4]] + lines[5:],
        ["ict_country_year.csv", "line 5", "line 6", "column 'ref_area'", "duplicated country-year: AFG 2003"]),
    "missing column": (
        lambda lines: pd.read_csv(io.StringIO("".join(lines)), dtype=str, keep_default_na=False)
        .drop(columns=["year"]).to_csv(index=False, lineterminator="\n"),
        ["ict_country_year.csv", "line 1", "column 'year'", "missing required column for layout cop_tidy"]),
    "row with an extra field": (
        lambda lines: lines[:4] + [lines[4].rstrip("\n") + ",99\n"] + lines[5:],
        ["ict_country_year.csv", "line 5", "row has 10 fields but the header has 9"]),
    "empty file": (
        lambda lines: [],
        ["ict_country_year.csv", "file is empty"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_fails_the_build_and_keeps_the_last_release(case, project, capsys):
    tmp_path, out, warehouse = project
    edit, expected = CASES[case]
    sources = bad_sources(tmp_path, edit)
    before = snapshot(out)
    capsys.readouterr()

    code = cli.main(["build", "--sources", str(sources), "--out", str(out), "--warehouse", str(warehouse)])

    err = capsys.readouterr().err
    assert code == 1
    assert "FAILED, nothing was published" in err
    for fragment in expected:
        assert fragment in err, f"{fragment!r} not in:\n{err}"
    assert "Traceback" not in err
    assert "the previous release good-1 is untouched" in err
    assert snapshot(out) == before
    # nothing new in sight (hidden: the build lock, which the kernel released when the build ended)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["LATEST", "good-1", "latest"]


def test_a_usage_error_exits_2(tmp_path, capsys):
    assert cli.main(["build", "--sources", str(tmp_path / "nowhere")]) == 2
    assert "not a folder" in capsys.readouterr().err
