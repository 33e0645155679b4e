"""Where the mapping specs are: one YAML per delivered source in data/mappings/ (other YAML there, such as
ict_variables.yaml, are not specs). Specs are recognised by their `source_id` and `target` keys."""

from __future__ import annotations

from pathlib import Path

import yaml

from indicators.files import load_yaml
from indicators.errors import ConfigError
from schemas.mapping_spec import MappingSpec, load_mapping_spec
from indicators.sources import harmonised_sources
from indicators.paths import MAPPINGS_DIR



def find_specs(mappings_dir: Path | None = None) -> dict[str, Path]:
    """source_id -> spec file, for every spec in the folder; two files claiming one source_id is an error."""
    found: dict[str, Path] = {}
    for path in sorted(Path(mappings_dir or MAPPINGS_DIR).glob("*.yaml")):
        try:
            head = load_yaml(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(head, dict) or "source_id" not in head or "target" not in head:
            continue
        source_id = str(head["source_id"])
        if source_id in found:
            raise ConfigError(f"{path}: key source_id: {source_id!r} is also the source_id of {found[source_id]}")
        found[source_id] = path
    return found


def load_spec(path: Path, check_file: bool = True) -> MappingSpec:
    head = load_yaml(path.read_text(encoding="utf-8")) or {}
    target = head.get("target")
    if target not in harmonised_sources():
        raise ConfigError(f"{path}: key target: {target!r} is not a harmonised table")
    return load_mapping_spec(path, harmonised_sources()[target].columns, check_file=check_file)


def delivery_file(spec_path: Path, store: Path | None = None, source_id: str | None = None) -> Path:
    """The data file a build reads for this spec: the latest copy of the delivery in the source store (files that
    came through the inbox), else the file the spec names (relative to the spec's folder)."""
    if store is not None and source_id is not None:
        from indicators.inbox import current_delivery

        stored = current_delivery(Path(store), source_id)
        if stored is not None:
            return stored
    head = load_yaml(Path(spec_path).read_text(encoding="utf-8")) or {}
    named = Path(str(head.get("file", "")))
    return named if named.is_absolute() else (Path(spec_path).parent / named).resolve()
