"""data/public: the dated snapshot of real public inputs of the default build. Its README states each file's
sha256; the manifest reads exactly those files; the trimmed UN WPP file keeps every value the build reads."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from pathlib import Path

import pytest
import yaml

from indicators.public_snapshot import COPIED, WPP, trim_wpp
from indicators.paths import DEFAULT_SOURCES

REPO = Path(__file__).resolve().parents[1]
PUBLIC = REPO / "data" / "public"
SHARED = REPO.parent / "shared" / "data"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def data_files() -> list[Path]:
    return sorted(p for p in PUBLIC.rglob("*") if p.is_file() and p.name not in ("README.md", "sources.yaml"))


def test_the_default_build_reads_the_public_snapshot():
    assert DEFAULT_SOURCES == PUBLIC
    manifest = yaml.safe_load((PUBLIC / "sources.yaml").read_text())
    assert manifest["synthetic"] is False
    listed = [e["file"] for e in manifest["sources"] + manifest["incidents"]]
    assert sorted(listed) == sorted(p.relative_to(PUBLIC).as_posix() for p in data_files())
    assert all(e.get("citation") and e.get("licence") and e.get("vintage") for e in manifest["sources"])


def test_the_readme_gives_the_sha256_of_every_file_as_kept():
    readme = (PUBLIC / "README.md").read_text()
    for path in data_files():
        name = path.relative_to(PUBLIC).as_posix()
        [row] = [line for line in readme.splitlines() if line.startswith(f"| `{name}` |")]
        assert row.rstrip().endswith(f"| `{sha256(path)}` |"), name
        assert re.search(r"CC BY 4\.0|ODC-PDDL", row), f"{name}: no licence in its README row"
    assert sum(p.stat().st_size for p in data_files()) < 2_000_000


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not present")
def test_the_snapshot_equals_the_shared_files_and_the_trim_keeps_every_value_read():
    for name in COPIED:
        assert sha256(PUBLIC / name) == sha256(SHARED / name), name
    kept = (PUBLIC / WPP.replace(".csv", "_under15.csv")).read_text(encoding="utf-8")
    upstream = (SHARED / WPP).read_text(encoding="utf-8")
    assert kept == trim_wpp(upstream)
    # by hand: every 1960-2026 value of 'Under 15 years old' upstream is in the kept file, unchanged
    column = "Under 15 years old (UNWPP, 2017)"
    full = {(r["Entity"], r["Year"]): r[column] for r in csv.DictReader(io.StringIO(upstream))
            if 1960 <= int(r["Year"]) <= 2026}
    trimmed = {(r["Entity"], r["Year"]): r[column] for r in csv.DictReader(io.StringIO(kept))}
    assert trimmed == full and len(full) > 15_000
