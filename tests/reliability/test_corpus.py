"""The bad-input corpus (issue 13, point 4): every case of tests/reliability/corpus/ through the real `cop build`.

Each case runs on a copy of conftest's small_deliveries_build (the sample's ICT and incident files, two small survey
deliveries, release r1) and builds release r2:
- the survey cases (each delivery is its own partition, judged on its own) and the accepted country-level cases
  share ONE build; a survey case that stops the whole build today (`own_build`) and a country-level case that is a
  known gap run in builds of their own;
- every other country-level case runs as its own build (they fail in seconds).
For each case: the outcome and every message fragment (build output; for a survey delivery also the manifest's
`left_out`, quality_report.parquet or quality.rejected_rows), that the previous release is byte-identical and
`latest` unchanged when the build failed, that no input file changed, and that every rejection is recorded.
Cases with `known_gap` are expected to fail (strict): when the code is fixed the test says so.
The corpus itself is regenerated into tmp and compared byte for byte, and so is docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import shutil
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import duckdb
import pandas as pd
import pycountry
import pytest
import yaml

import make_corpus
from pipelines import cli

pytestmark = pytest.mark.slow

CASES = make_corpus.read_cases()
BASE_RELEASE, NEW_RELEASE = "r1", "r2"
FORMULA_STARTS = ("=", "+", "-", "@")


def in_shared_build(case: dict) -> bool:
    """Survey cases without `own_build` and accepted country-level cases that are not known gaps."""
    if case["kind"] == "survey_microdata":
        return not case.get("own_build")
    return case["expected"]["outcome"] == "accepted_with_fixes" and not case.get("known_gap")


SHARED = [name for name, case in CASES.items() if in_shared_build(case)]


# ------------------------------------------------------------------------------------------- a build, run
def checksums(folder: Path) -> dict[str, str]:
    """Every file under `folder` (symbolic links as where they point) with its sha256."""
    out = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            out[key] = "-> " + str(path.readlink())
        elif path.is_file():
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
            out[key] = digest.hexdigest()
    return out


@dataclass
class Build:
    """A copy of the r1 project with some cases' files added, and what building r2 on it did."""

    root: Path
    cases: list[str] = field(repr=False)
    code: int | None = None
    out: str = field(default="", repr=False)
    err: str = field(default="", repr=False)
    inputs_before: dict[str, str] = field(default_factory=dict, repr=False)
    inputs_after: dict[str, str] = field(default_factory=dict, repr=False)
    releases_before: dict[str, str] = field(default_factory=dict, repr=False)
    releases_after: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def published(self) -> Path:
        return self.root / "published"

    @property
    def release(self) -> Path:
        return self.published / NEW_RELEASE

    # read once per build: the shared build's cases all look at the same release
    @cached_property
    def manifest(self) -> dict:
        return json.loads((self.release / "manifest.json").read_text(encoding="utf-8"))

    @cached_property
    def quality_report(self) -> pd.DataFrame:
        return pd.read_parquet(self.release / "quality_report.parquet")

    @cached_property
    def observations(self) -> pd.DataFrame:
        return pd.read_parquet(self.release / "observations.parquet")

    @cached_property
    def sdmx_cells(self) -> list[str]:
        """Every cell of the release's SDMX-CSV, as a spreadsheet would read it."""
        with open(self.release / "observations.sdmx.csv", encoding="utf-8", newline="") as handle:
            return [cell for row in csv.reader(handle) for cell in row]

    @cached_property
    def published_source_ids(self) -> set[str]:
        """Every delivery or file an observation rests on (a group value's SOURCE_ID names several, '+'-joined)."""
        return set(self.observations["SOURCE_ID"].str.split("+").explode())

    def rejected_rows(self, source_id: str) -> pd.DataFrame:
        con = duckdb.connect(str(self.root / "w.duckdb"), read_only=True)
        try:
            return con.execute("SELECT source_row, line, file_column, rule, message FROM quality.rejected_rows "
                               "WHERE source_id = ? ORDER BY source_row", [source_id]).df()
        finally:
            con.close()


def project_copy(base: Path, folder: Path) -> Path:
    shutil.copytree(base, folder, symlinks=True)
    return folder


def add_case(root: Path, name: str) -> None:
    """Put a case's files where a provider's would be: country-level files over the sample's in sources/ (with
    their sources.yaml entries), a survey delivery and its spec in mappings/; a test-time file is written now."""
    case, folder = CASES[name], make_corpus.CORPUS / name
    target = root / ("mappings" if case["kind"] == "survey_microdata" else "sources")
    for path in sorted(folder.iterdir()):
        if path.name != "case.yaml":
            shutil.copyfile(path, target / path.name)
    if case.get("generated_at_test_time"):
        make_corpus.write_generated_file(name, target)
    entries = case.get("manifest_entries") or []
    if entries:
        manifest_file = root / "sources" / "sources.yaml"
        manifest = yaml.safe_load(manifest_file.read_text(encoding="utf-8"))
        for item in entries:
            listed = manifest.setdefault(item["section"], [])
            listed.insert(0 if item["place"] == "first" else len(listed), item["entry"])
        manifest_file.write_text(yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True), encoding="utf-8")


def inputs(root: Path) -> dict[str, str]:
    return {f"{part}/{k}": v for part in ("sources", "mappings") for k, v in checksums(root / part).items()}


def run_build(base: Path, folder: Path, names: list[str]) -> Build:
    """`cop build --release-id r2` in process on a copy of `base` with the cases' files added."""
    root = project_copy(base, folder)
    for name in names:
        add_case(root, name)
    build = Build(root, names, inputs_before=inputs(root), releases_before=checksums(root / "published"))
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        patch.setenv("DAGSTER_HOME", str(root))
        patch.setenv("COP_DAGSTER_STATE", str(root / ".dagster"))
        build.code = cli.main(["build", "--sources", str(root / "sources"), "--mappings", str(root / "mappings"),
                               "--out", str(root / "published"), "--warehouse", str(root / "w.duckdb"),
                               "--release-id", NEW_RELEASE])
    build.out, build.err = out.getvalue(), err.getvalue()
    build.inputs_after = inputs(root)
    build.releases_after = checksums(root / "published")
    return build


@pytest.fixture(scope="module")
def base(small_deliveries_build) -> Path:
    root, code, printed = small_deliveries_build
    assert code == 0, printed
    return root


@pytest.fixture(scope="module")
def shared_build(base, tmp_path_factory) -> Build:
    build = run_build(base, tmp_path_factory.mktemp("corpus_shared") / "project", SHARED)
    yield build
    for name in SHARED:  # the large test-time file is not kept among pytest's tmp folders
        generated = CASES[name].get("generated_at_test_time")
        if generated:
            (build.root / "mappings" / generated["file"]).unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------------ checks
def case_files(name: str) -> list[str]:
    """The files a case puts into the build's folder (relative to it)."""
    case = CASES[name]
    part = "mappings" if case["kind"] == "survey_microdata" else "sources"
    names = [p.name for p in (make_corpus.CORPUS / name).iterdir() if p.name != "case.yaml"]
    if case.get("generated_at_test_time"):
        names.append(case["generated_at_test_time"]["file"])
    return [f"{part}/{n}" for n in names] + (["sources/sources.yaml"] if case.get("manifest_entries") else [])


def check_inputs_unchanged(build: Build, name: str) -> None:
    assert build.inputs_after == build.inputs_before, "the build changed an input file"
    for key in case_files(name):
        assert key in build.inputs_after, f"{key} of the case is not among the build's inputs"


def check_previous_release(build: Build) -> None:
    """r1's files byte-identical and `latest`/LATEST unchanged after a failed build, and no new release."""
    assert build.releases_after == build.releases_before
    assert sorted(p.name for p in build.published.iterdir() if not p.name.startswith(".")) == sorted(
        ["LATEST", "latest", BASE_RELEASE])


def check_build_failed(build: Build, name: str) -> None:
    printed = build.out + build.err
    assert build.code == 1, printed[-3000:]
    assert "cop build: FAILED, nothing was published." in build.err
    for fragment in CASES[name]["expected"]["message"]:
        assert fragment in build.err, f"{fragment!r} not in:\n{build.err}"
    assert f"the previous release {BASE_RELEASE} is untouched" in build.err
    check_previous_release(build)


def check_published(build: Build) -> None:
    """The build published r2 and left r1 exactly as it was."""
    printed = build.out + build.err
    assert build.code == 0, printed[-3000:]
    assert f"cop build: published release {NEW_RELEASE}" in build.out
    assert "Traceback" not in printed
    before = {k: v for k, v in build.releases_before.items() if k.startswith(BASE_RELEASE + "/")}
    assert {k: v for k, v in build.releases_after.items() if k.startswith(BASE_RELEASE + "/")} == before


def check_source_rejected(build: Build, name: str) -> None:
    source_id, fragments = name.removeprefix("survey_"), CASES[name]["expected"]["message"]
    manifest = build.manifest
    [verdict] = [d for d in manifest["survey_deliveries"] if d["source_id"] == source_id]
    assert verdict["status"] == "rejected" and verdict["accepted_rows"] == 0, verdict
    assert source_id in manifest["quality"]["sources_rejected"]
    [left_out] = [d for d in manifest["left_out"] if d["source_id"] == source_id]
    report = build.quality_report
    [row] = report[(report["item"] == "verdict") & (report["source_id"] == source_id)].to_dict("records")
    assert row["status"] == "rejected"
    for fragment in fragments:
        assert fragment in left_out["reasons"], f"{fragment!r} not in the manifest's reasons: {left_out['reasons']}"
        assert fragment in row["detail"], f"{fragment!r} not in quality_report.parquet: {row['detail']}"
    assert f"  {source_id}: REJECTED, left out of this release: {left_out['reasons']}" in build.out
    assert source_id not in build.published_source_ids


def check_rows_rejected(build: Build, name: str) -> None:
    source_id, fragments = name.removeprefix("survey_"), CASES[name]["expected"]["message"]
    [verdict] = [d for d in build.manifest["survey_deliveries"] if d["source_id"] == source_id]
    rejected = build.rejected_rows(source_id)
    assert verdict["status"] == "accepted", verdict
    assert verdict["rejected_rows"] == rejected["source_row"].nunique() > 0
    assert verdict["accepted_rows"] == verdict["rows"] - verdict["rejected_rows"]
    messages = "\n".join(rejected["message"])
    for fragment in fragments:
        assert fragment in messages, f"{fragment!r} not among quality.rejected_rows' messages:\n{messages}"
    report = build.quality_report
    counts = report[(report["item"] == "rows_rejected") & (report["source_id"] == source_id)]
    by_rule = rejected.groupby("rule")["source_row"].nunique().to_dict()
    assert dict(zip(counts["rule"], counts["count"])) == by_rule
    assert build.manifest["quality"]["rows_rejected"] >= verdict["rejected_rows"]
    assert source_id in build.published_source_ids


def looks_like_a_formula(cell: str) -> bool:
    if not cell.startswith(FORMULA_STARTS):
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return False  # a negative number is a number


def check_accepted(build: Build, name: str) -> None:
    case = CASES[name]
    expected = case["expected"]
    manifest = build.manifest
    by_id = {i["source_id"]: i for i in manifest["inputs"]}
    for source_id, rows in expected["input_rows"].items():
        assert by_id[source_id]["rows"] == rows, by_id[source_id]
    report = build.quality_report
    verdicts = report[report["item"] == "verdict"].set_index("source_id")["status"]
    for source_id in expected["input_rows"]:
        assert verdicts[source_id] == "accepted"
    if case["kind"] == "survey_microdata":
        [source_id] = expected["input_rows"]
        [verdict] = [d for d in manifest["survey_deliveries"] if d["source_id"] == source_id]
        assert (verdict["status"], verdict["rejected_rows"]) == ("accepted", 0), verdict
        observations = build.observations
        areas = set(observations.loc[observations["SOURCE_ID"] == source_id, "REF_AREA"])
        # a group value resting on this delivery alone carries its SOURCE_ID too (WLD, ITU_ASP, ...): countries only
        assert sorted(a for a in areas if pycountry.countries.get(alpha_3=a)) == expected["ref_areas"]
    for file, fragments in (expected.get("published") or {}).items():
        text = (build.release / file).read_text(encoding="utf-8")
        for fragment in fragments:
            assert fragment in text, f"{fragment!r} not in {file}"
    for fragment in expected["message"]:
        assert fragment in build.out + build.err
    assert not [c for c in build.sdmx_cells if looks_like_a_formula(c)], "formula text published as is"


def check_case(build: Build, name: str) -> None:
    outcome = CASES[name]["expected"]["outcome"]
    check_inputs_unchanged(build, name)
    assert "Traceback" not in build.out + build.err
    if outcome == "build_failed":
        check_build_failed(build, name)
        return
    check_published(build)
    {"source_rejected": check_source_rejected, "rows_rejected": check_rows_rejected,
     "accepted_with_fixes": check_accepted}[outcome](build, name)


def case_param(name: str):
    gap = CASES[name].get("known_gap")
    marks = [pytest.mark.xfail(strict=True, reason=f"known gap: {gap}")] if gap else []
    return pytest.param(name, id=name, marks=marks)


# ------------------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("name", [case_param(n) for n in SHARED])
def test_case_in_the_shared_build(name, shared_build):
    check_case(shared_build, name)


@pytest.mark.parametrize("name", [case_param(n) for n in CASES if n not in SHARED])
def test_case_in_a_build_of_its_own(name, base, tmp_path):
    try:
        check_case(run_build(base, tmp_path / "project", [name]), name)
    finally:  # dozens of 25 MB copies would otherwise stay among pytest's kept tmp folders
        shutil.rmtree(tmp_path / "project", ignore_errors=True)


def test_the_shared_build_holds_every_shared_case(shared_build):
    """Each shared delivery is its own partition: the build read every one of them, and no two shared cases put
    a file at the same place."""
    placed = [f for name in SHARED for f in case_files(name) if f != "sources/sources.yaml"]
    assert len(placed) == len(set(placed))
    survey = [n.removeprefix("survey_") for n in SHARED if CASES[n]["kind"] == "survey_microdata"]
    assert f"survey_microdata: {len(survey) + 2} deliveries, {len(survey)} new or changed" in shared_build.out
    statuses = {d["source_id"] for d in shared_build.manifest["survey_deliveries"]}
    assert statuses == {"aaa_2023", "bbb_2023", *survey}
    for name in SHARED:  # a file too large to commit was written for the build, and is not in the corpus
        generated = CASES[name].get("generated_at_test_time")
        if generated:
            assert (shared_build.root / "mappings" / generated["file"]).stat().st_size >= generated["bytes_at_least"]
            assert not (make_corpus.CORPUS / name / generated["file"]).exists()


def test_the_corpus_covers_every_kind_and_outcome():
    kinds = {case["kind"] for case in CASES.values()}
    assert kinds == set(make_corpus.KINDS) and len(CASES) >= 40
    outcomes = {(case["kind"], case["expected"]["outcome"]) for case in CASES.values()}
    assert {("survey_microdata", o) for o in ("accepted_with_fixes", "rows_rejected", "source_rejected")} <= outcomes
    assert {("ict", "build_failed"), ("incidents", "build_failed"), ("ict", "accepted_with_fixes"),
            ("incidents", "accepted_with_fixes")} <= outcomes
    committed = sum(p.stat().st_size for p in make_corpus.CORPUS.rglob("*") if p.is_file())
    assert committed < 2_000_000
    # a case runs alone only because it is a known gap that stops the shared build
    assert all(case.get("known_gap") for case in CASES.values() if case.get("own_build"))


def test_the_script_writes_the_committed_corpus_byte_for_byte(tmp_path):
    make_corpus.write_corpus(tmp_path / "corpus")
    assert checksums(tmp_path / "corpus") == checksums(make_corpus.CORPUS)


def test_the_docs_table_is_generated_from_the_case_files():
    assert make_corpus.DOCS.read_text(encoding="utf-8") == make_corpus.render_docs()
    for name in CASES:
        assert f"| `{name}`<br>" in make_corpus.DOCS.read_text(encoding="utf-8")
