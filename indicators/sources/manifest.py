"""The sources manifest (sources.yaml): which files a build reads and how. Parsed here once; each source's reader
validates its own key (`sources:` for ICT files, `incidents:` for incident files). Kept free of pandas so that the
build plan can list a build's files quickly."""

from __future__ import annotations

from pathlib import Path

import yaml

from indicators.files import load_yaml
from indicators.errors import ConfigError

# top-level keys: the ICT files and the default synthetic flag, plus the keys the registered sources read (the
# incident files, the questionnaire responses, ...); anything else is a typo or a key from another tool, and an error
MANIFEST_KEYS = ("sources", "synthetic")


def manifest_keys() -> tuple[str, ...]:
    from indicators.sources import registered_sources  # at call time: the source packages import this module

    return MANIFEST_KEYS + tuple(k for source in registered_sources() for k in source.manifest_keys)
MANIFEST_NAME = "sources.yaml"


def manifest_path(sources_dir: Path, manifest: Path | str | None = None) -> Path | None:
    """The manifest a build uses: the one given, else <sources_dir>/sources.yaml when present, else None."""
    if manifest is not None:
        return Path(manifest)
    default = Path(sources_dir) / MANIFEST_NAME
    return default if default.exists() else None


def read_manifest(manifest: Path) -> dict:
    """The manifest as a mapping; a missing file, invalid YAML, a non-mapping or an unknown key is a ConfigError."""
    manifest = Path(manifest)
    if not manifest.is_file():
        raise ConfigError(f"{manifest}: sources manifest does not exist")
    try:
        spec = load_yaml(manifest.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{manifest}: not valid YAML: {exc}") from exc
    if not isinstance(spec, dict):
        raise ConfigError(f"{manifest}: a sources manifest is a mapping (keys {', '.join(manifest_keys())})")
    for key in spec:
        if key not in manifest_keys():
            raise ConfigError(f"{manifest}: unknown top-level key {key!r} (expected {', '.join(manifest_keys())})")
    return spec


def listed_files(sources_dir: Path, manifest: Path | str | None, key: str) -> list[Path]:
    """The manifest itself and the files its `key` lists (resolved against sources_dir), for fingerprints; entries
    without a file are left to the reader to report."""
    path = manifest_path(sources_dir, manifest)
    if path is None:
        return []
    entries = read_manifest(path).get(key) or []
    files = [(Path(sources_dir) / str(e["file"])).resolve() for e in entries if isinstance(e, dict) and e.get("file")]
    return [path] + files
