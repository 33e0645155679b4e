"""The build plan: which sources and partitions changed since the warehouse was last built, decided before any
Dagster run starts (and without importing Dagster, so that "nothing to do" is answered in about a second).

Each registered source lists the files it reads, per partition (indicators.sources.Source.input_files); their
fingerprints (indicators.fingerprints) are compared with those the warehouse recorded when it staged them. Code,
registry and settings have their own fingerprints: a change of code re-reads everything, a change of registry or
settings re-estimates and republishes without re-reading the inputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from indicators.fingerprints import (CODE_KEY, REGISTRY_KEY, SETTINGS_KEY, VERSIONS, code_version, files_fingerprint,
                                     folder_fingerprint, recorded_fingerprints, settings_fingerprint, _digest)
from indicators.paths import DEFAULT_REGISTRY
from indicators.sources import BuildInputs, registered_sources

DEFAULT_MIN_COVERAGE = 0.5
DEFAULT_LONELY_PSU = "adjust"


@dataclass
class SourcePlan:
    """One source: its partitions' fingerprints now and in the warehouse ('' is the key of an unpartitioned one)."""

    source: str
    partitioned: bool
    current: dict[str, str]
    recorded: dict[str, str]

    @property
    def changed(self) -> list[str]:
        return sorted(k for k, fp in self.current.items() if self.recorded.get(k) != fp)

    @property
    def removed(self) -> list[str]:
        return sorted(set(self.recorded) - set(self.current))

    @property
    def unchanged(self) -> list[str]:
        return sorted(k for k, fp in self.current.items() if self.recorded.get(k) == fp)


@dataclass
class BuildPlan:
    sources: dict[str, SourcePlan]
    versions: dict[str, str]  # code, registry, settings: now
    recorded_versions: dict[str, str]  # as the warehouse's last complete build recorded them
    published_fingerprint: str | None  # build_fingerprint of the latest release in the output folder
    build_fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        parts = sorted(self.versions.items()) + [
            (f"{s}/{k}", fp) for s, plan in sorted(self.sources.items()) for k, fp in sorted(plan.current.items())]
        self.build_fingerprint = _digest(parts)

    @property
    def code_changed(self) -> bool:
        return self.versions[CODE_KEY] != self.recorded_versions.get(CODE_KEY)

    @property
    def estimation_changed(self) -> bool:
        """Registry or settings differ from the last complete build: every estimate is recomputed."""
        return any(self.versions[k] != self.recorded_versions.get(k) for k in (REGISTRY_KEY, SETTINGS_KEY))

    def changed_sources(self) -> list[str]:
        return [name for name, plan in self.sources.items() if plan.changed or plan.removed]

    @property
    def warehouse_current(self) -> bool:
        return not self.code_changed and not self.estimation_changed and not self.changed_sources()

    @property
    def nothing_to_do(self) -> bool:
        """The warehouse holds exactly these inputs and the latest release was published from them."""
        return self.warehouse_current and self.published_fingerprint == self.build_fingerprint

    def summary(self) -> list[str]:
        """One line per source: what is read again and what is kept."""
        lines = []
        for name, plan in self.sources.items():
            if not plan.current and not plan.removed:
                continue
            if not plan.partitioned:
                state = "changed" if plan.changed or self.code_changed else "unchanged"
                lines.append(f"{name}: {state}")
                continue
            changed = plan.changed if not self.code_changed else sorted(plan.current)
            text = f"{name}: {len(plan.current)} deliveries, {len(changed)} new or changed"
            if changed and len(changed) <= 5:
                text += f" ({', '.join(changed)})"
            if plan.removed:
                text += f", {len(plan.removed)} withdrawn ({', '.join(plan.removed)})"
            lines.append(text)
        return lines


def estimation_settings(min_coverage: float | None = None, lonely_psu: str | None = None) -> dict:
    """The settings estimates and group values depend on (their change re-estimates everything)."""
    return {"min_coverage": float(DEFAULT_MIN_COVERAGE if min_coverage is None else min_coverage),
            "lonely_psu": lonely_psu or DEFAULT_LONELY_PSU}


def plan_build(inputs: BuildInputs, warehouse: Path | None, published_dir: Path | None,
               registry_dir: Path | None = None, settings: dict | None = None) -> BuildPlan:
    """Compare this build's inputs, code, registry and settings with what `warehouse` holds and what the latest
    release in `published_dir` was built from (None: compare with nothing, e.g. to fingerprint a build)."""
    code = code_version()
    recorded = _recorded(warehouse) if warehouse else {}
    sources = {}
    for source in registered_sources():
        if source.input_files is None:
            continue
        current = {key or "": files_fingerprint(files, code) for key, files in source.input_files(inputs).items()}
        sources[source.name] = SourcePlan(source.name, source.partitions is not None, current,
                                          recorded.get(source.name, {}))
    versions = {CODE_KEY: code, REGISTRY_KEY: folder_fingerprint(Path(registry_dir or DEFAULT_REGISTRY)),
                SETTINGS_KEY: settings_fingerprint(settings or {})}
    return BuildPlan(sources, versions, recorded.get(VERSIONS, {}),
                     _published_fingerprint(published_dir) if published_dir else None)


def _recorded(warehouse: Path) -> dict[str, dict[str, str]]:
    if not Path(warehouse).exists():
        return {}
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return recorded_fingerprints(con)
    finally:
        con.close()


def _published_fingerprint(published_dir: Path) -> str | None:
    pointer = Path(published_dir) / "LATEST"
    if not pointer.exists():
        return None
    manifest = Path(published_dir) / pointer.read_text().strip() / "manifest.json"
    try:
        return json.loads(manifest.read_text()).get("build_fingerprint")
    except (OSError, ValueError):
        return None
