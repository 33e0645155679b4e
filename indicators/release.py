"""Write a release: data/published/<release_id>/ with observations, a public DuckDB, charts and a manifest.

Write-audit-publish: everything is written into a hidden folder beside the releases, audited there, and only
then renamed into place; the `latest` pointer moves last. A failure at any step removes the hidden folder and
leaves every earlier release, and `latest`, as they were. A release never holds microdata or raw inputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import duckdb
import pandas as pd

from indicators.catalogue import catalogue_frame, render_markdown
from indicators.charts import ranked_bar_chart, time_series_chart
from indicators.errors import CopError
from indicators.files import sha256_file
from indicators.gaps import derived_series
from indicators.observations import missing_decimals, release_observations_sql, table_exists
from indicators.registry import Indicator
from schemas.observations import OBSERVATION_COLUMNS, ObservationModel

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CHART_COUNTRIES = ["BRA", "DEU", "IND", "NGA", "USA"]
LATEST = "latest"


def new_release_id(now: datetime | None = None) -> str:
    """Sortable, unique per second: 2026-11-28T101500Z."""
    return (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H%M%SZ")


def code_version() -> dict:
    version = {"package": "cop-indicators", "version": metadata.version("cop-indicators")}
    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip() != ""
        version.update(git_commit=commit, git_dirty=dirty)
    except (OSError, subprocess.CalledProcessError):
        version.update(git_commit=None, git_dirty=None)
    return version


def observations_fingerprint(observations: pd.DataFrame) -> str:
    """Checksum of the published numbers, independent of the release id: equal for equal inputs and code."""
    text = observations.drop(columns=["RELEASE_ID"]).to_csv(index=False, float_format="%.17g",
                                                             lineterminator="\n")
    return hashlib.sha256(text.encode()).hexdigest()


RELEASE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_release_id(release_id: str) -> str:
    if not RELEASE_ID_PATTERN.match(release_id) or release_id.lower() == LATEST:
        raise CopError(f"release id {release_id!r}: use letters, digits, '.', '_' and '-' (at most 64, "
                       f"not starting with a punctuation mark), and not {LATEST!r}")
    return release_id


def publish_release(con: duckdb.DuckDBPyConnection, *, published_dir: Path, release_id: str,
                    indicators: list[Indicator], inputs: list[dict], counts: dict, synthetic: bool,
                    chart_countries: list[str] | None = None) -> Path:
    check_release_id(release_id)
    published_dir = Path(published_dir)
    published_dir.mkdir(parents=True, exist_ok=True)
    final = published_dir / release_id
    if final.exists():
        raise CopError(f"{final}: a release with this id already exists; releases are never overwritten")
    incoming = published_dir / f".incoming-{release_id}"
    shutil.rmtree(incoming, ignore_errors=True)
    incoming.mkdir()
    try:
        _write_release(con, incoming, release_id, indicators, inputs, counts, synthetic,
                       chart_countries or DEFAULT_CHART_COUNTRIES)
        os.rename(incoming, final)
    except BaseException:
        shutil.rmtree(incoming, ignore_errors=True)
        raise
    _point_latest(published_dir, release_id)
    return final


def _write_release(con, folder: Path, release_id: str, indicators: list[Indicator], inputs: list[dict],
                   counts: dict, synthetic: bool, chart_countries: list[str]) -> None:
    decimals = published_decimals(indicators)
    unknown = missing_decimals(con, decimals)
    if unknown:
        raise CopError(f"observations of {', '.join(unknown)} have no registry entry (no declared decimals)")
    query = release_observations_sql(con, release_id, decimals)
    observations = read_observations(con, query)
    ObservationModel.validate(observations, lazy=True)  # audit before anything is published

    parquet = folder / "observations.parquet"
    con.execute(f"COPY ({query}) TO '{parquet}' (FORMAT parquet, COMPRESSION zstd)")

    catalogue = catalogue_frame(indicators)
    catalogue.to_parquet(folder / "catalogue.parquet", index=False)
    (folder / "catalogue.md").write_text(render_markdown(indicators), encoding="utf-8")
    # the groups behind the group values (REF_AREA codes such as WLD, ITU_AFR, LDC) and their members
    groups = {name: con.execute(f"SELECT * FROM reference.{name} ORDER BY ALL").df()
              for name in ("aggregate_groups", "group_members") if table_exists(con, f"reference.{name}")}
    public = duckdb.connect(str(folder / "cop_indicators.duckdb"))
    try:
        public.execute(f"CREATE TABLE observations AS SELECT * FROM read_parquet('{parquet}')")
        for name, frame in groups.items():
            public.register("_group_frame", frame)
            public.execute(f"CREATE TABLE {name} AS SELECT * FROM _group_frame")
            public.unregister("_group_frame")
        if groups:
            public.execute("COMMENT ON TABLE aggregate_groups IS 'Groups of the group values (REF_AREA codes "
                           "such as WLD, ITU_AFR, LDC, WB_HIC) with classification, vintage and source'")
        public.register("_catalogue", catalogue)
        public.execute("CREATE TABLE catalogue AS SELECT * FROM _catalogue")
        public.execute("COMMENT ON TABLE catalogue IS 'Indicator definitions, generated from the registry'")
        public.execute("COMMENT ON TABLE observations IS 'COP indicators, long SDMX-shaped layout (one row per "
                       "indicator, area, year and disaggregation). Release " + release_id + "'")
    finally:
        public.close()

    if synthetic:
        note = ("SYNTHETIC DATA (at least one input is a generated sample): for demonstration and testing, not "
                f"official statistics. cop-indicators release {release_id}")
    else:
        files = ", ".join(i["source_id"] for i in inputs)
        note = f"Source: {files} (provenance in manifest.json). cop-indicators release {release_id}"
    ranked_bar_chart(observations, "BC.1", "Individuals using the Internet", "% of population", note,
                     folder / "chart_BC.1_ranked_latest.png")
    present = [c for c in chart_countries if c in set(observations["REF_AREA"])]
    time_series_chart(observations, "BC.1", present or sorted(set(observations["REF_AREA"]))[:5],
                      "Individuals using the Internet", "% of population", note,
                      folder / "chart_BC.1_time_series.png")

    outputs = [{"file": p.name, "sha256": sha256_file(p), "bytes": p.stat().st_size}
               for p in sorted(folder.iterdir()) if p.is_file()]
    manifest = {
        "release_id": release_id,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "synthetic": synthetic,
        "data_note": note,
        "code_version": code_version(),
        "inputs": inputs,
        "row_counts": {**counts, "observations": len(observations)},
        "indicators": {code: int(n) for code, n in observations.groupby("INDICATOR").size().items()},
        "observations_fingerprint": observations_fingerprint(observations),
        "outputs": outputs,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n")


def published_decimals(indicators: list[Indicator]) -> dict[str, int]:
    """INDICATOR code -> the decimals its statistics are rounded to: registry entries and derived gap series."""
    return {i.code: i.decimals for i in indicators} | {s.code: s.decimals for s in derived_series(indicators)}


def read_observations(con: duckdb.DuckDBPyConnection, query: str) -> pd.DataFrame:
    """The release's observations as a frame in the published column types (N_UNWEIGHTED a nullable integer)."""
    observations = con.execute(query).df()[OBSERVATION_COLUMNS]
    return observations.astype({"N_UNWEIGHTED": "Int64"})


def _point_latest(published_dir: Path, release_id: str) -> None:
    """Move `latest` atomically: a symlink replaced by rename, plus a LATEST text file for non-POSIX readers."""
    tmp_link = published_dir / f".{LATEST}.tmp"
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    tmp_link.symlink_to(release_id, target_is_directory=True)
    os.replace(tmp_link, published_dir / LATEST)
    tmp_text = published_dir / ".LATEST.tmp"
    tmp_text.write_text(release_id + "\n")
    os.replace(tmp_text, published_dir / "LATEST")


def latest_release(published_dir: Path) -> Path | None:
    pointer = Path(published_dir) / "LATEST"
    if not pointer.exists():
        return None
    return Path(published_dir) / pointer.read_text().strip()
