"""Write a release: data/published/<release_id>/ with observations, a public DuckDB, charts and a manifest.

Write-audit-publish: everything is written into a hidden folder beside the releases, audited there, and only
then renamed into place; the `latest` pointer moves last. A failure at any step removes the hidden folder and
leaves every earlier release, and `latest`, as they were. A release never holds microdata or raw inputs.
"""

from __future__ import annotations

import functools
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
from indicators.areas import areas_frame
from indicators.charts import render_release_charts
from indicators import tables
from indicators.errors import CopError
from indicators.files import sha256_file
from indicators.gaps import derived_series
from indicators.public_database import sources_frame, write_public_database
from indicators.quality_report import quality_report
from indicators.report import write_report
from indicators.sdmx import write_sdmx
from indicators.observations import (missing_decimals, release_observations_sql, table_exists,
                                     unknown_source_ids)
from indicators.registry import Indicator
from indicators.sources import registered_sources
from indicators.release_ids import LATEST, check_release_id
from schemas.observations import OBSERVATION_COLUMNS, ObservationModel

REPO_ROOT = Path(__file__).resolve().parents[1]


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


def publish_release(con: duckdb.DuckDBPyConnection, *, published_dir: Path, release_id: str,
                    indicators: list[Indicator], inputs: list[dict], counts: dict, synthetic: bool,
                    deliveries: list[dict] | None = None, build_fingerprint: str | None = None,
                    checks: list[dict] | None = None) -> Path:
    """Write the release `release_id` into `published_dir` (write-audit-publish) and move `latest` to it.

    `inputs`: provenance of every input file the observations rest on; `deliveries`: every survey delivery of the
    build with its verdict (harmonise_survey.delivery_statuses), so that the manifest lists what was left out;
    `checks`: the latest outcome of every asset check (source, asset, check, passed, run_id), for the quality
    report."""
    check_release_id(release_id)
    published_dir = Path(published_dir)
    try:
        return _publish(con, published_dir, release_id, indicators, inputs, counts, synthetic, deliveries or [],
                        build_fingerprint, checks or [])
    except (OSError, duckdb.Error) as exc:
        failure = _write_failure(exc)
        if failure is None:
            raise
        raise CopError(f"{published_dir}: cannot write the release: {failure}; nothing was published "
                       "(free some space, or give a folder you may write with --out)") from exc


def _publish(con, published_dir: Path, release_id: str, indicators, inputs, counts, synthetic, deliveries,
             build_fingerprint, checks) -> Path:
    published_dir.mkdir(parents=True, exist_ok=True)
    final = published_dir / release_id
    if final.exists():
        raise CopError(f"{final}: a release with this id already exists; releases are never overwritten")
    # the hidden folder of a build killed while publishing (builds hold indicators.build_lock: none is running)
    for leftover in published_dir.glob(".incoming-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    incoming = published_dir / f".incoming-{release_id}"
    incoming.mkdir()
    try:
        _write_release(con, incoming, release_id, indicators, inputs, counts, synthetic, deliveries,
                       build_fingerprint, checks)
        os.rename(incoming, final)
    except BaseException:
        shutil.rmtree(incoming, ignore_errors=True)
        raise
    try:
        _point_latest(published_dir, release_id)
    except BaseException:  # `latest` did not move: the release is not published, so it does not stay in sight
        shutil.rmtree(final, ignore_errors=True)
        raise
    return final


def _write_failure(exc: BaseException) -> str | None:
    """What went wrong writing (a full disk, a read-only or vanished folder), in the operating system's words with
    the file it was writing; None when `exc` is no write failure (a DuckDB error of another kind)."""
    if isinstance(exc, OSError):
        if not exc.strerror:
            return str(exc)
        return f"{exc.strerror} ({exc.filename})" if exc.filename else exc.strerror
    # DuckDB: 'IO Error: Could not write file "<path>": No space left on device' (also inside a failed commit)
    found = re.search(r'Could not (?:write|open|create) (?:file )?"([^"]+)": (.+)', str(exc))
    return f"{found.group(2).strip()} ({found.group(1)})" if found else None


def _write_release(con, folder: Path, release_id: str, indicators: list[Indicator], inputs: list[dict],
                   counts: dict, synthetic: bool, deliveries: list[dict], build_fingerprint: str | None,
                   checks: list[dict]) -> None:
    decimals = published_decimals(indicators)
    unknown = missing_decimals(con, decimals)
    if unknown:
        raise CopError(f"observations of {', '.join(unknown)} have no registry entry (no declared decimals)")
    unknown_sources = unknown_source_ids(con)
    if unknown_sources:
        raise CopError(f"observations name source ids that are no input file of this build: "
                       f"{', '.join(unknown_sources)} (their SYNTHETIC label cannot be decided)")
    query = release_observations_sql(con, release_id, decimals)
    observations = read_observations(con, query)
    ObservationModel.validate(observations, lazy=True)  # audit before anything is published

    parquet = folder / "observations.parquet"
    con.execute(f"COPY ({query}) TO '{parquet}' (FORMAT parquet, COMPRESSION zstd)")

    quality = quality_report(con, observations, inputs, checks)
    quality.to_parquet(folder / "quality_report.parquet", index=False)

    catalogue = release_catalogue(indicators, observations)
    catalogue.to_parquet(folder / "catalogue.parquet", index=False)
    (folder / "catalogue.md").write_text(render_markdown(indicators, data_origin=dict(
        zip(catalogue["code"], catalogue["data_origin"]))), encoding="utf-8")
    # the groups behind the group values (REF_AREA codes such as WLD, ITU_AFR, LDC) and their members
    groups = {table.split(".")[1]: con.execute(f"SELECT * FROM {table} ORDER BY ALL").df()
              for table in (tables.REFERENCE_AGGREGATE_GROUPS, tables.REFERENCE_GROUP_MEMBERS)
              if table_exists(con, table)}
    source_tables = source_release_tables(con)
    for table, frame in source_tables:
        frame.to_parquet(folder / f"{table.name}.parquet", index=False)
    write_public_database(folder / "cop_indicators.duckdb", parquet, catalogue, areas_frame(con), groups,
                          sources_frame(inputs), release_id, source_tables)
    fingerprint: list[str] = []
    # around the charts, which are most of a release's time: the SDMX files (observations.sdmx.csv and its
    # structure, labels from the public database) in a worker, the checksum here while they are drawn, then the
    # report (report.html and profiles/<ISO3>.html, from the public database)
    charts = render_release_charts(folder, release_id, beside=functools.partial(write_sdmx, folder, release_id),
                                   meanwhile=lambda: fingerprint.append(observations_fingerprint(observations)),
                                   then=lambda drawn: write_report(folder, release_id, drawn))
    note = release_note(release_id, inputs, synthetic)

    outputs = [{"file": p.relative_to(folder).as_posix(), "sha256": sha256_file(p), "bytes": p.stat().st_size}
               for p in sorted(folder.rglob("*")) if p.is_file()]
    manifest = {
        "release_id": release_id,
        "charts": [chart.path for chart in charts],
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "synthetic": synthetic,
        "data_note": note,
        "code_version": code_version(),
        "inputs": inputs,
        # survey deliveries that were rejected or withdrawn: none of their rows is in this release
        "left_out": [{k: d[k] for k in ("source_id", "target", "status", "rows", "reasons")}
                     for d in deliveries if d["status"] != "accepted"],
        "survey_deliveries": deliveries,
        "quality": quality_summary(quality, observations, deliveries),
        "row_counts": {**counts, "observations": len(observations)},
        "indicators": {code: int(n) for code, n in observations.groupby("INDICATOR").size().items()},
        "observations_fingerprint": fingerprint[0],
        # inputs, code, registry and settings of the build: a build whose fingerprint equals it has nothing to do
        "build_fingerprint": build_fingerprint,
        "outputs": outputs,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n")


def source_release_tables(con: duckdb.DuckDBPyConnection) -> tuple:
    """(ReleaseTable, frame) of every table a registered source adds to the release and has written."""
    return tuple((table, con.execute(f"SELECT * FROM {table.warehouse_table}").df())
                 for source in registered_sources() for table in source.release_tables
                 if table_exists(con, table.warehouse_table))


def quality_summary(quality: pd.DataFrame, observations: pd.DataFrame, deliveries: list[dict]) -> dict:
    """The manifest's digest of quality_report.parquet: what was left out or held back, in figures."""
    verdicts = quality[quality["item"] == "verdict"]
    checks = quality[quality["item"] == "check"]
    return {
        "sources_rejected": sorted(verdicts.loc[verdicts["status"] == "rejected", "source_id"]),
        "sources_withdrawn": sorted(verdicts.loc[verdicts["status"] == "withdrawn", "source_id"]),
        # rows of accepted deliveries left out (a row breaking two rules counts once; quality_report has the rules)
        "rows_rejected": int(sum(d["rejected_rows"] or 0 for d in deliveries)),
        "checks": int(len(checks)),
        "checks_failed": sorted(checks.loc[checks["passed"].eq(False).fillna(False).astype(bool), "rule"]),
        "cells_suppressed": int((observations["OBS_STATUS"] == "Q").sum()),
    }


def release_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row counts of the build's main tables for the manifest (a table a build did not write is left out)."""
    counted = {"raw_value_cells": tables.RAW_ICT_COUNTRY_YEAR, "staging_country_cells": tables.STAGING_ICT_COUNTRY_YEAR,
               "aggregate_cells_set_aside": tables.STAGING_ICT_AGGREGATES_SET_ASIDE,
               "estimates": tables.ESTIMATES_COUNTRY_YEAR}
    return {key: int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for key, table in counted.items() if table_exists(con, table)}


def release_note(release_id: str, inputs: list[dict], synthetic: bool) -> str:
    """The manifest's one-line statement of what the release rests on (charts carry their own series' source)."""
    if synthetic:
        made_up = ", ".join(i["source_id"] for i in inputs if i.get("synthetic"))
        return (f"Some series rest on SYNTHETIC inputs ({made_up}): their observations have SYNTHETIC true and "
                f"are for demonstration and testing, not official statistics. cop-indicators release {release_id}")
    files = ", ".join(i["source_id"] for i in inputs)
    return f"Source: {files} (provenance in manifest.json). cop-indicators release {release_id}"


def release_catalogue(indicators: list[Indicator], observations: pd.DataFrame) -> pd.DataFrame:
    """The catalogue with each series' data origin in this release: 'synthetic' (every observation rests on a
    generated input), 'real', 'partly synthetic', or 'no data' (no observation in this release)."""
    catalogue = catalogue_frame(indicators)
    share = observations.groupby("INDICATOR")["SYNTHETIC"].mean()
    origin = share.map(lambda s: "synthetic" if s == 1 else "real" if s == 0 else "partly synthetic")
    catalogue["data_origin"] = catalogue["code"].map(origin).fillna("no data").astype("string")
    return catalogue


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


