"""ICT country-year statistics (ITU series as republished by the World Bank and Our World in Data, or the COP
layout): read every value cell with its file, line and column (reader), harmonise to one value per country, year and
variable with codes standardised (harmonise), and compute the registry's country-level indicators (estimates)."""

from __future__ import annotations

from pathlib import Path

from indicators import tables
from indicators.paths import MAPPINGS_DIR
from indicators.sources import BuildInputs, Source
from indicators.sources.manifest import listed_files, manifest_path


def input_files(inputs: BuildInputs) -> dict[str | None, list[Path]]:
    """The sources manifest and every ICT file it lists (without a manifest: every CSV of the folder, which
    discovery reads), and the variable map the reader uses."""
    if manifest_path(inputs.sources_dir, inputs.manifest) is None:
        files = sorted(Path(inputs.sources_dir).glob("*.csv"))
    else:
        files = listed_files(inputs.sources_dir, inputs.manifest, "sources")
    return {None: files + [MAPPINGS_DIR / "ict_variables.yaml"]}


def harmonised():
    from schemas.ict import ICT_VARIABLES
    from schemas.sources import HarmonisedSource

    return (HarmonisedSource("ict_country_year", tables.STAGING_ICT_COUNTRY_YEAR_WIDE,
                             {"ref_area": "VARCHAR", "year": "BIGINT", **{v: "DOUBLE" for v in ICT_VARIABLES}}, ()),)


SOURCE = Source(
    name="ict",
    title="ICT country-year statistics",
    harmonised=harmonised,
    observation_tables=(tables.ESTIMATES_COUNTRY_YEAR,),
    provenance_tables=(tables.RAW_ICT_FILES,),
    defs_module="pipelines.defs.ict",
    input_files=input_files,
)
