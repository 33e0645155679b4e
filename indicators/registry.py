"""Load the indicator registry: YAML files under indicators/registry/, one per group of the COP framework.

An indicator is defined once, here, as data. Code that computes indicators reads these entries; it never
restates a definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from indicators.errors import ConfigError

REGISTRY_DIR = Path(__file__).resolve().parent / "registry"
REQUIRED_FIELDS = ("code", "name", "definition", "unit", "source", "method", "value", "decimals", "references")


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    definition: str
    group: str
    unit: str
    source: str
    method: str
    value: str
    decimals: int
    references: tuple[str, ...]
    file: str
    universe: str | None = None
    denominator: str | None = None
    disaggregations: tuple[str, ...] = ()
    growth: dict = field(default_factory=dict)


def load_registry(registry_dir: Path | None = None) -> list[Indicator]:
    """Every indicator of every registry file, in file then entry order; errors name file, code and field."""
    registry_dir = Path(registry_dir or REGISTRY_DIR)
    files = sorted(registry_dir.glob("*.yaml"))
    if not files:
        raise ConfigError(f"{registry_dir}: no registry files (*.yaml)")
    indicators: list[Indicator] = []
    for path in files:
        try:
            spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        group = spec.get("group")
        if not group:
            raise ConfigError(f"{path}: field 'group' is required at the top of the file")
        for i, entry in enumerate(spec.get("indicators") or []):
            code = entry.get("code", f"indicators[{i}]") if isinstance(entry, dict) else f"indicators[{i}]"
            for name in REQUIRED_FIELDS:
                if not isinstance(entry, dict) or entry.get(name) in (None, ""):
                    raise ConfigError(f"{path}: {code}: field '{name}' is required")
            indicators.append(Indicator(
                code=entry["code"], name=entry["name"], definition=" ".join(str(entry["definition"]).split()),
                group=group, unit=entry["unit"], source=entry["source"], method=entry["method"],
                value=str(entry["value"]), decimals=int(entry["decimals"]),
                references=tuple(entry["references"]), file=str(path), universe=entry.get("universe"),
                denominator=entry.get("denominator"), disaggregations=tuple(entry.get("disaggregations") or ()),
                growth=dict(entry.get("growth") or {})))
    seen: dict[str, str] = {}
    for ind in indicators:
        if ind.code in seen:
            raise ConfigError(f"{ind.file}: {ind.code}: field 'code' duplicates the entry in {seen[ind.code]}")
        seen[ind.code] = ind.file
    return indicators
