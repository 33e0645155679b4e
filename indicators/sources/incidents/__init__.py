"""Incident reports by country (NCMEC CyberTipline reports by country): read every count with its file, line and
column (reader), harmonise with population and Internet-user denominators and compute the registry's incident
indicators (harmonise)."""

from __future__ import annotations

from pathlib import Path

from indicators import tables
from indicators.sources import BuildInputs, Source
from indicators.sources.manifest import listed_files


def input_files(inputs: BuildInputs) -> dict[str | None, list[Path]]:
    """The sources manifest and every incident file listed under its `incidents:` key."""
    return {None: listed_files(inputs.sources_dir, inputs.manifest, "incidents")}


def harmonised():
    from schemas import incidents
    from schemas.sources import from_model

    return (from_model("incidents", tables.STAGING_INCIDENT_REPORTS, incidents.IncidentReportsModel,
                       incidents.DISAGGREGATIONS),)


SOURCE = Source(
    name="incidents",
    title="Incident reports by country",
    harmonised=harmonised,
    observation_tables=(tables.ESTIMATES_INCIDENTS,),
    provenance_tables=(tables.RAW_INCIDENT_FILES,),
    manifest_keys=("incidents",),
    defs_module="pipelines.defs.incidents",
    input_files=input_files,
)
