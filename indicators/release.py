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
from indicators.country_level import ESTIMATES_TABLE
from indicators.errors import CopError
from indicators.files import sha256_file
from indicators.incidents import ESTIMATES_TABLE as INCIDENTS_TABLE
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


def survey_estimate_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [f"estimates.{name}" for (name,) in con.execute(
        """SELECT table_name FROM information_schema.columns WHERE table_schema = 'estimates'
           AND table_name LIKE 'survey_%' AND column_name = 'OBS_VALUE' ORDER BY 1""").fetchall()]


def country_layout_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Estimates from other sources in the layout of estimates.country_year (estimates.incidents), if written."""
    schema, name = INCIDENTS_TABLE.split(".")
    return [INCIDENTS_TABLE] if con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, name]).fetchone()[0] else []


def observations_sql(release_id: str, survey_tables: list[str] = (), country_tables: list[str] = ()) -> str:
    """Country-level and survey estimates in the published layout (DESIGN.md 4.3); `country_tables` are more
    tables in the layout of estimates.country_year (estimates.incidents), published like it."""
    country = "".join(f" UNION ALL BY NAME SELECT * FROM {table}" for table in country_tables)
    survey = "".join(f"""
        UNION ALL
        SELECT INDICATOR, REF_AREA, CAST(TIME_PERIOD AS BIGINT), SEX, AGE, URBANISATION, OBS_VALUE, UNIT_MEASURE,
               STD_ERR, CI_LOWER, CI_UPPER, CV, N_UNWEIGHTED, OBS_STATUS, CONF_STATUS, CAST(NULL AS DOUBLE),
               SOURCE_ID, '{release_id}'
        FROM {table}""" for table in survey_tables)
    return f"""
        SELECT * FROM (
        SELECT INDICATOR, REF_AREA, CAST(TIME_PERIOD AS BIGINT) AS TIME_PERIOD,
               '_T' AS SEX, '_T' AS AGE, '_T' AS URBANISATION,
               OBS_VALUE, UNIT_MEASURE,
               CAST(NULL AS DOUBLE) AS STD_ERR, CAST(NULL AS DOUBLE) AS CI_LOWER, CAST(NULL AS DOUBLE) AS CI_UPPER,
               CAST(NULL AS DOUBLE) AS CV, CAST(NULL AS DOUBLE) AS N_UNWEIGHTED,
               'A' AS OBS_STATUS, 'F' AS CONF_STATUS, CAST(NULL AS DOUBLE) AS COVERAGE,
               SOURCE_ID, '{release_id}' AS RELEASE_ID
        FROM (SELECT * FROM {ESTIMATES_TABLE}{country}){survey})
        -- two deliveries for one country and wave: publish all cells of the one with more cases in the total,
        -- never a mix (complementary suppression holds within one delivery)
        QUALIFY SOURCE_ID = first(SOURCE_ID) OVER (
            PARTITION BY INDICATOR, REF_AREA, TIME_PERIOD
            ORDER BY CASE WHEN SEX = '_T' AND AGE = '_T' AND URBANISATION = '_T' THEN N_UNWEIGHTED END
                     DESC NULLS LAST, SOURCE_ID)
        ORDER BY INDICATOR, REF_AREA, TIME_PERIOD, SEX, AGE, URBANISATION"""


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
    query = observations_sql(release_id, survey_estimate_tables(con), country_layout_tables(con))
    observations = con.execute(query).df()[OBSERVATION_COLUMNS]
    ObservationModel.validate(observations, lazy=True)  # audit before anything is published

    parquet = folder / "observations.parquet"
    con.execute(f"COPY ({query}) TO '{parquet}' (FORMAT parquet, COMPRESSION zstd)")

    catalogue = catalogue_frame(indicators)
    catalogue.to_parquet(folder / "catalogue.parquet", index=False)
    (folder / "catalogue.md").write_text(render_markdown(indicators), encoding="utf-8")
    public = duckdb.connect(str(folder / "cop_indicators.duckdb"))
    try:
        public.execute(f"CREATE TABLE observations AS SELECT * FROM read_parquet('{parquet}')")
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
