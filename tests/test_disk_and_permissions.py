"""A full output disk and a read-only folder fail clearly and leave the previous release; read-only sources build
(a build never writes to its inputs) (issue 13, point 7).

The disks are real where the test may mount one (a size-limited or read-only tmpfs: root with CAP_SYS_ADMIN, as in
CI's container); elsewhere the same failure is simulated by the operating-system error it raises."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from test_build_incremental import Builds
from test_survey_partitions import deliver

pytestmark = pytest.mark.slow


def snapshot(folder: Path) -> dict[str, str]:
    """Every visible file under `folder` with its checksum, and where `latest` points (the build lock aside)."""
    files = {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink() and p.name != ".build.lock"}
    files["latest ->"] = os.readlink(folder / "latest")
    return files


def _mount(folder: Path, options: str) -> bool:
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True).returncode == 0


@contextmanager
def on_own_disk(folder: Path, free_bytes: int | None = None, read_only: bool = False):
    """Move `folder` onto a tmpfs of its own (its content plus `free_bytes` of room, or read-only); yields False,
    leaving the folder as it was, when this machine does not let the test mount one."""
    kept = folder.with_name(folder.name + ".kept")
    folder.rename(kept)
    folder.mkdir()
    used = sum(p.stat().st_size for p in kept.rglob("*") if p.is_file() and not p.is_symlink())
    size = used + (free_bytes or 0) + 1024 * 1024  # the file system's own blocks
    if not _mount(folder, f"size={size}"):
        folder.rmdir()
        kept.rename(folder)
        yield False
        return
    try:
        shutil.copytree(kept, folder, symlinks=True, dirs_exist_ok=True)
        if read_only:
            assert subprocess.run(["mount", "-o", "remount,ro", str(folder)]).returncode == 0
        yield True
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)
        folder.rmdir()
        kept.rename(folder)


@pytest.fixture
def builds(small_deliveries_build, tmp_path) -> Builds:
    """A copy of conftest's small_deliveries_build (release r1), with KEN's survey re-delivered since."""
    root, code, _ = small_deliveries_build
    assert code == 0
    shutil.copytree(root, tmp_path, symlinks=True, dirs_exist_ok=True)
    deliver(tmp_path / "mappings", "aaa_2023", "KEN", 130, 11)
    return Builds(tmp_path, tmp_path / "sources")


def test_a_full_output_disk_fails_clearly_and_keeps_the_last_release(builds, capsys, monkeypatch):
    published = builds.root / "published"
    with on_own_disk(published, free_bytes=256 * 1024) as mounted:
        if not mounted:  # simulated: the first file of the release finds the disk full
            from indicators import release

            def disk_full(folder, *args, **kwargs):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / "observations.sdmx.csv"))

            monkeypatch.setattr(release, "write_sdmx", disk_full)
        before = snapshot(published)
        code, _ = builds.build(capsys, "--release-id", "r2")
        assert code == 1
        assert f"release: {published}: cannot write the release: " in builds.err, builds.err
        assert "No space left on device" in builds.err and "nothing was published" in builds.err
        assert "the previous release r1 is untouched" in builds.err and "Traceback" not in builds.err
        assert snapshot(published) == before
        assert not any(published.glob(".incoming-*")) and not (published / "r2").exists()

    # once there is room again, the same build publishes
    code, _ = builds.build(capsys, "--release-id", "r2")
    assert code == 0 and (published / "LATEST").read_text().strip() == "r2"


@pytest.mark.parametrize("folder", ["published", "warehouse"])
def test_a_read_only_output_folder_fails_clearly_before_any_work(folder, builds, capsys, monkeypatch):
    target = builds.root / "published" if folder == "published" else builds.root
    before = snapshot(builds.root / "published")
    warehouse = (builds.root / "w.duckdb").read_bytes()
    # the warehouse's folder is the project root: mount a read-only disk there via a subfolder instead
    if folder == "warehouse":
        (builds.root / "store").mkdir()
        shutil.move(builds.root / "w.duckdb", builds.root / "store" / "w.duckdb")
        target = builds.root / "store"
        monkeypatch.setattr(Builds, "build", _build_with_warehouse(target / "w.duckdb"))
    with on_own_disk(target, read_only=True) as mounted:
        if not mounted:  # simulated: the folder refuses the build's first write, its lock file
            from indicators import build_lock

            real_open = os.open

            def read_only(path, *args, **kwargs):
                if str(path).startswith(str(target)):
                    raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
                return real_open(path, *args, **kwargs)

            monkeypatch.setattr(build_lock.os, "open", read_only)
        code, out = builds.build(capsys, "--release-id", "r2")
    assert code == 1
    assert f"cop build: FAILED, nothing was published: {target}" in builds.err
    assert "cannot write there (Read-only file system: " in builds.err and "Traceback" not in builds.err
    assert out == ""  # refused before planning: nothing was read or run
    assert snapshot(builds.root / "published") == before
    where = target / "w.duckdb" if folder == "warehouse" else builds.root / "w.duckdb"
    assert where.read_bytes() == warehouse


def _build_with_warehouse(warehouse: Path):
    from pipelines import cli

    def build(self, capsys, *extra):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DAGSTER_HOME", str(self.root))
            patch.setenv("COP_DAGSTER_STATE", str(self.root / ".dagster"))
            code = cli.main(["build", "--sources", str(self.sources), "--mappings", str(self.mappings),
                             "--out", str(self.root / "published"), "--warehouse", str(warehouse), *extra])
        captured = capsys.readouterr()
        self.err = captured.err
        return code, captured.out

    return build


def test_read_only_sources_build_and_are_not_changed(builds, capsys):
    inputs = [builds.root / "sources", builds.root / "mappings"]
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for folder in inputs for p in folder.rglob("*")
              if p.is_file()}
    with on_own_disk(inputs[0], read_only=True), on_own_disk(inputs[1], read_only=True):
        code, out = builds.build(capsys, "--release-id", "r2")
    assert code == 0, builds.err
    assert "published release r2" in out
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for folder in inputs for p in folder.rglob("*")
             if p.is_file()}
    assert after.keys() == before.keys()
    assert all(after[p][0] == before[p][0] for p in before)
