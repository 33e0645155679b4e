"""Where the repository's own files are (the code, its reference data and the default input folders)."""

from __future__ import annotations

import hashlib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
MAPPINGS_DIR = DATA_DIR / "mappings"  # survey mapping specs, and ict_variables.yaml

# the defaults of a build (pipelines.resources and the command line read them from here)
DEFAULT_SOURCES = DATA_DIR / "public"  # the real public snapshot; data/sample is the synthetic one
DEFAULT_PUBLISHED = DATA_DIR / "published"
DEFAULT_WAREHOUSE_DIR = DATA_DIR / "warehouse"
DEFAULT_STORE = DATA_DIR / "store"  # content-addressed copies of deliveries that came through the inbox
DEFAULT_INBOX = DATA_DIR / "inbox"  # where providers drop files
DEFAULT_REGISTRY = REPO_ROOT / "indicators" / "registry"


def default_warehouse(sources_dir: Path, manifest: Path | None, mappings_dir: Path) -> Path:
    """The warehouse of builds from these sources: data/warehouse/<sources folder>-<hash of the three paths>.duckdb.

    A build on other sources gets its own warehouse, so that nothing staged from one set of inputs is published
    with another (an explicit --warehouse is trusted only as far as its recorded fingerprints match)."""
    key = "\n".join(str(Path(p).resolve()) if p else "" for p in (sources_dir, manifest, mappings_dir))
    return DEFAULT_WAREHOUSE_DIR / f"{Path(sources_dir).name}-{hashlib.sha256(key.encode()).hexdigest()[:10]}.duckdb"
