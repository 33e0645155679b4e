"""Fingerprints: what a build's outputs depend on, so that a build redoes only what changed.

A delivery's fingerprint is the sha256 of its files' names and contents together with the code version (every
module of the pipeline, its reference data and the locked library versions): the same files read by the same code
give the same staged rows, whatever folder they sit in. The warehouse records, per source and partition, the
fingerprint of what it holds (raw.build_fingerprints); the build plan compares them with the inputs of this build.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from indicators.files import sha256_file
from indicators.paths import DATA_DIR, REPO_ROOT
from indicators.tables import RAW_BUILD_FINGERPRINTS, RAW_PENDING_FINGERPRINTS, table_exists

# what the numbers of a build depend on besides its inputs: the code, the reference data it ships with, and the
# exact library versions (uv.lock); the docs, tests and benchmarks are left out
CODE_PARTS = ("indicators", "schemas", "pipelines")
CODE_FILES = ("pyproject.toml", "uv.lock")
REFERENCE_DIR = DATA_DIR / "reference"
# rows of the warehouse's fingerprint table that are not a source's partitions
CODE_KEY, REGISTRY_KEY, SETTINGS_KEY = "_code", "_registry", "_settings"
VERSIONS = "_versions"  # the fingerprint-table source holding the code, registry and settings versions


def _digest(parts: list[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    for name, value in parts:
        digest.update(f"{name}\0{value}\n".encode())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """sha256 over every Python module of the pipeline, its reference data and the lock file."""
    files = [p for part in CODE_PARTS for p in (REPO_ROOT / part).rglob("*.py")]
    files += [p for p in REFERENCE_DIR.rglob("*") if p.is_file()] + [REPO_ROOT / f for f in CODE_FILES]
    return _digest([(p.relative_to(REPO_ROOT).as_posix(), sha256_file(p)) for p in sorted(files) if p.exists()])


def files_fingerprint(files: list[Path], code: str | None = None) -> str:
    """Names and contents of `files` (a missing file counts as 'missing', so that it is read and reported), plus
    the code version."""
    parts = [("code", code or code_version())]
    for path in files:
        path = Path(path)
        parts.append((path.name, sha256_file(path) if path.is_file() else "missing"))
    return _digest(parts)


def folder_fingerprint(folder: Path, pattern: str = "*.yaml") -> str:
    """Names and contents of the files of a folder matching `pattern` (the indicator registry)."""
    return _digest([(p.name, sha256_file(p)) for p in sorted(Path(folder).glob(pattern))])


def settings_fingerprint(settings: dict) -> str:
    return _digest(sorted((str(k), repr(v)) for k, v in settings.items()))


def ensure_fingerprint_table(con) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(f"""CREATE TABLE IF NOT EXISTS {RAW_BUILD_FINGERPRINTS} (source VARCHAR, "partition" VARCHAR,
                    fingerprint VARCHAR, recorded_at TIMESTAMP, PRIMARY KEY (source, "partition"))""")


def record_fingerprint(con, source: str, partition: str | None, fingerprint: str) -> None:
    """What the warehouse now holds for this source and partition ('' when the source is not partitioned)."""
    ensure_fingerprint_table(con)
    con.execute(f"""INSERT OR REPLACE INTO {RAW_BUILD_FINGERPRINTS} VALUES (?, ?, ?, now())""",
                [source, partition or "", fingerprint])


def forget_fingerprint(con, source: str, partition: str | None = None) -> None:
    """The warehouse no longer holds this source (or partition): the next build reads it again."""
    ensure_fingerprint_table(con)
    if partition is None:
        con.execute(f"DELETE FROM {RAW_BUILD_FINGERPRINTS} WHERE source = ?", [source])
    else:
        con.execute(f'DELETE FROM {RAW_BUILD_FINGERPRINTS} WHERE source = ? AND "partition" = ?',
                    [source, partition])


def recorded_fingerprints(con) -> dict[str, dict[str, str]]:
    """source -> partition -> fingerprint, as recorded in the warehouse ({} for a new warehouse)."""
    if not table_exists(con, RAW_BUILD_FINGERPRINTS):
        return {}
    out: dict[str, dict[str, str]] = {}
    for source, partition, fingerprint in con.execute(
            f'SELECT source, "partition", fingerprint FROM {RAW_BUILD_FINGERPRINTS}').fetchall():
        out.setdefault(source, {})[partition] = fingerprint
    return out


# A source's assets write the fingerprint of what they staged as pending (with their run id); the gate that runs
# once every blocking check of the run has passed records them. A run that fails in between leaves the partition
# without a recorded fingerprint, so the next build reads it again instead of trusting what was half-staged.
def stage_fingerprint(con, run_id: str, source: str, partition: str | None, fingerprint: str) -> None:
    forget_fingerprint(con, source, partition or "")
    con.execute(f"""CREATE TABLE IF NOT EXISTS {RAW_PENDING_FINGERPRINTS} (run_id VARCHAR, source VARCHAR,
                    "partition" VARCHAR, fingerprint VARCHAR)""")
    con.execute(f'DELETE FROM {RAW_PENDING_FINGERPRINTS} WHERE source = ? AND "partition" = ?',
                [source, partition or ""])
    con.execute(f"INSERT INTO {RAW_PENDING_FINGERPRINTS} VALUES (?, ?, ?, ?)",
                [run_id, source, partition or "", fingerprint])


def promote_pending(con, run_id: str) -> int:
    """Record the fingerprints this run staged (their checks passed); forget pending ones of other runs."""
    ensure_fingerprint_table(con)
    if not table_exists(con, RAW_PENDING_FINGERPRINTS):
        return 0
    promoted = con.execute(f"SELECT count(*) FROM {RAW_PENDING_FINGERPRINTS} WHERE run_id = ?",
                           [run_id]).fetchone()[0]
    con.execute(f"""INSERT OR REPLACE INTO {RAW_BUILD_FINGERPRINTS}
                    SELECT source, "partition", fingerprint, now() FROM {RAW_PENDING_FINGERPRINTS}
                    WHERE run_id = ?""", [run_id])
    con.execute(f"DELETE FROM {RAW_PENDING_FINGERPRINTS}")
    if promoted:
        # The staged sources are now ahead of the estimates until the release records the versions again: a build
        # killed or failed in between must not find its sources "unchanged" and publish the estimates of the
        # previous inputs. Forgetting the settings version makes the next build run every (incremental) estimate.
        con.execute(f"DELETE FROM {RAW_BUILD_FINGERPRINTS} WHERE source = ? AND \"partition\" = ?",
                    [VERSIONS, SETTINGS_KEY])
    return int(promoted)


def pending_partitions(con, run_id: str, source: str) -> list[str]:
    """Partitions of `source` this run staged (read again), before the gate records them."""
    if not table_exists(con, RAW_PENDING_FINGERPRINTS):
        return []
    return [p for (p,) in con.execute(f'SELECT "partition" FROM {RAW_PENDING_FINGERPRINTS} '
                                      "WHERE run_id = ? AND source = ? ORDER BY 1", [run_id, source]).fetchall()]
