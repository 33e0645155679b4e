"""The input sources of a build, registered in one place.

A source is one kind of input (ICT country-year files, incident reports, survey microdata, ...). Each lives in one
package, `indicators/sources/<name>/` (reader, harmonisation, estimates; its pandera model in `schemas/`), whose
`__init__.py` declares a `SOURCE` (what it reads, the harmonised tables registry entries bind to, the tables of
country observations it writes, its provenance tables) and names its Dagster module `pipelines/defs/<name>.py`
(its assets and checks). Nothing else in the code names a source: the observations of a release are the union of
every source's observation tables, the manifest's inputs the union of their provenance tables, and the build plan
fingerprints the files each source says it reads.

To add a source: write the two modules and add the package to SOURCE_PACKAGES below. A package outside this
repository (a plug-in, or a test's toy source) is registered with the environment variable COP_SOURCE_PACKAGES
(comma-separated importable module names).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from indicators.errors import ConfigError

if TYPE_CHECKING:
    from schemas.sources import HarmonisedSource

SOURCE_PACKAGES = (
    "indicators.sources.ict",
    "indicators.sources.incidents",
    "indicators.sources.survey_microdata",
    "indicators.sources.national_questionnaire",
)
EXTRA_SOURCES_ENV = "COP_SOURCE_PACKAGES"


@dataclass(frozen=True)
class BuildInputs:
    """Where a build's inputs are: what every source's `input_files` is given."""

    sources_dir: Path
    manifest: Path | None = None
    mappings_dir: Path | None = None
    store: Path | None = None  # content-addressed store of deliveries that came through the inbox


@dataclass(frozen=True)
class ReleaseTable:
    """A table a source adds to every release beside the observations (e.g. the roadmap gaps of the national
    questionnaire): written to the release's cop_indicators.duckdb, documented, and as <name>.parquet."""

    name: str                 # its name in the release
    warehouse_table: str      # where the source's assets wrote it
    description: str
    columns: dict[str, str]   # column -> description (every column must have one)


@dataclass(frozen=True)
class Source:
    """What the rest of the pipeline needs to know about one source."""

    name: str
    title: str
    # the harmonised tables registry entries bind to (their names are the registry's `source:` values); a
    # function, so that listing a build's files does not import pandera
    harmonised: Callable[[], tuple[HarmonisedSource, ...]]
    # tables of country observations in the release layout this source writes (`*` matches any characters)
    observation_tables: tuple[str, ...] = ()
    # tables of group values in the release layout the source computes itself instead of the common aggregation
    # (the questionnaire's shares of responding countries, with respondents and response rates)
    group_value_tables: tuple[str, ...] = ()
    # tables the release publishes beside the observations
    release_tables: tuple[ReleaseTable, ...] = ()
    # top-level keys of the sources manifest this source reads (besides `sources` and `synthetic`)
    manifest_keys: tuple[str, ...] = ()
    # raw tables with one row per input file (source_id, synthetic, sha256, path, ...): the manifest's inputs
    provenance_tables: tuple[str, ...] = ()
    # the Dagster module with this source's assets and checks (exports ASSETS, CHECKS and optionally build_defs)
    defs_module: str | None = None
    # the files a build of this source reads, by partition key (None: the source is not partitioned); the build
    # plan fingerprints them so that an unchanged delivery is not read again
    input_files: Callable[[BuildInputs], dict[str | None, list[Path]]] | None = None
    # the partitions definition's name when the source has one partition per delivery
    partitions: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def source_packages() -> tuple[str, ...]:
    extra = [m.strip() for m in os.environ.get(EXTRA_SOURCES_ENV, "").split(",") if m.strip()]
    return SOURCE_PACKAGES + tuple(m for m in extra if m not in SOURCE_PACKAGES)


_LOADED: dict[tuple[str, ...], tuple[Source, ...]] = {}


def registered_sources() -> tuple[Source, ...]:
    """Every registered source, built-in ones first; a package without a SOURCE is a configuration error."""
    packages = source_packages()
    if packages not in _LOADED:
        found = []
        for name in packages:
            try:
                module = importlib.import_module(name)
            except ImportError as exc:
                raise ConfigError(f"source package {name!r} (from {EXTRA_SOURCES_ENV} or SOURCE_PACKAGES) cannot "
                                  f"be imported: {exc}") from exc
            source = getattr(module, "SOURCE", None)
            if not isinstance(source, Source):
                raise ConfigError(f"source package {name!r} declares no SOURCE (an indicators.sources.Source)")
            found.append(source)
        names = [s.name for s in found]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ConfigError(f"two source packages declare the source name(s) {', '.join(duplicated)}")
        _LOADED[packages] = tuple(found)
    return _LOADED[packages]


def source_named(name: str) -> Source:
    for source in registered_sources():
        if source.name == name:
            return source
    raise ConfigError(f"no registered source {name!r} (registered: "
                      f"{', '.join(s.name for s in registered_sources())})")


def harmonised_sources() -> dict[str, HarmonisedSource]:
    """Harmonised table name -> its declaration, over every registered source (registry entries bind to these)."""
    packages = source_packages()
    if packages not in _HARMONISED:
        _HARMONISED[packages] = {h.name: h for source in registered_sources() for h in source.harmonised()}
    return _HARMONISED[packages]


_HARMONISED: dict[tuple[str, ...], dict[str, HarmonisedSource]] = {}
