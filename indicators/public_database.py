"""The public DuckDB of a release (cop_indicators.duckdb): what analysts open. Built from the release's own files
(observations.parquet, the catalogue) and the reference classifications; it never reads the warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

SOURCE_COLUMNS = {
    "source_id": "the SOURCE_ID of the observations resting on this input ('+' joins several)",
    "kind": "ict (country-year ICT and population series), incidents (incident reports) or microdata (a survey "
            "delivery)",
    "citation": "the short source line printed under a chart or table of this input's series",
    "description": "what the file holds, where it comes from and its quirks",
    "licence": "the licence of the input",
    "vintage": "the edition or release date of the input",
    "synthetic": "a generated sample, not real data: every observation resting on it has SYNTHETIC true",
    "sha256": "SHA-256 of the input file as read",
}


def _citation(record: dict) -> str:
    if record.get("citation"):
        return str(record["citation"])
    if record["kind"] == "microdata":
        return (f"SYNTHETIC child survey sample {record['source_id']} (generated; not real data)"
                if record.get("synthetic") else f"Child survey delivery {record['source_id']}")
    return str(record.get("description") or record["source_id"])


def sources_frame(inputs: list[dict]) -> pd.DataFrame:
    """One row per input file of the build, with the citation charts and the report print."""
    rows = []
    for record in inputs:
        kind = ("microdata" if record.get("layout") == "microdata"
                else "incidents" if "reporting_org" in record else "ict")
        record = {**record, "kind": kind}
        rows.append({"source_id": record["source_id"], "kind": kind, "citation": _citation(record),
                     "description": record.get("description") or None, "licence": record.get("licence") or None,
                     "vintage": record.get("vintage") or None, "synthetic": bool(record.get("synthetic")),
                     "sha256": record.get("sha256")})
    return pd.DataFrame(rows, columns=list(SOURCE_COLUMNS))


def write_public_database(path: Path, observations_parquet: Path, catalogue: pd.DataFrame, areas: pd.DataFrame,
                          groups: dict[str, pd.DataFrame], sources: pd.DataFrame, release_id: str) -> None:
    public = duckdb.connect(str(path))
    try:
        public.execute(f"CREATE TABLE observations AS SELECT * FROM read_parquet('{observations_parquet}')")
        for name, frame in {**groups, "catalogue": catalogue, "areas": areas, "sources": sources}.items():
            public.register("_frame", frame)
            public.execute(f"CREATE TABLE {name} AS SELECT * FROM _frame")
            public.unregister("_frame")
        if groups:
            public.execute("COMMENT ON TABLE aggregate_groups IS 'Groups of the group values (REF_AREA codes "
                           "such as WLD, ITU_AFR, LDC, WB_HIC) with classification, vintage and source'")
        public.execute("COMMENT ON TABLE catalogue IS 'Indicator definitions, generated from the registry'")
        public.execute("COMMENT ON TABLE observations IS 'COP indicators, long SDMX-shaped layout (one row per "
                       "indicator, area, year and disaggregation). Release " + release_id + "'")
        public.execute("COMMENT ON TABLE sources IS 'The input files of this release, with citation, licence, "
                       "vintage and whether they are synthetic'")
    finally:
        public.close()
