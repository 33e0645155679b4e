"""The mapping spec: how one delivered microdata file becomes rows of a harmonised table (DESIGN.md 4.2).

One YAML per source in data/mappings/. A typed model (pydantic, strict: unknown keys are errors) checks the
spec's shape; `load_mapping_spec` adds the checks that need the target schema (renamed and derived variables
exist in it) and reports every problem with the spec file and the key path, e.g. `design.weight`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from indicators.errors import ConfigError

FORMATS = ("csv", "parquet", "sav", "dta", "rda", "rds")
TARGETS = ("child_survey",)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CsvOptions(_Strict):
    encoding: str = "utf-8"
    delimiter: str = Field(",", min_length=1, max_length=1)


class Design(_Strict):
    """Source column names of the design variables. An identifier unique only within another column (PISA's
    student_id within country) is given as a list of columns, joined with '-'."""

    respondent_id: str | list[str]
    stratum: str | list[str]
    psu: str | list[str]
    weight: str
    fpc: str | None = None


class Bands(_Strict):
    """A variable banded from another: {"9-11": [9, 11], ...}; bounds inclusive, bands must not overlap."""

    from_: str = Field(alias="from")
    bands: dict[str, tuple[int, int]]

    @model_validator(mode="after")
    def _bands_ordered(self) -> "Bands":
        spans = sorted(self.bands.values())
        for (lo, hi), (next_lo, _) in zip(spans, spans[1:]):
            if next_lo <= hi:
                raise ValueError(f"bands overlap at {next_lo}")
        if any(lo > hi for lo, hi in spans):
            raise ValueError("a band's lower bound exceeds its upper bound")
        return self


class Constant(_Strict):
    """A variable with one value for the whole source (e.g. parent_interviewed: false when no parent module)."""

    value: bool | int | float | str


class MappingSpec(_Strict):
    source_id: str = Field(pattern=r"^[a-z0-9_]+$")
    target: Literal["child_survey"]
    file: str
    format: Literal["csv", "parquet", "sav", "dta", "rda", "rds"]
    csv: CsvOptions | None = None
    rda_object: str | None = None
    country: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    country_column: str | None = None
    country_codes: dict[str, str] = {}
    wave: int | None = Field(None, ge=1990, le=2100)
    wave_column: str | None = None
    synthetic: bool = False
    description: str = ""
    design: Design
    rename: dict[str, str]
    recode: dict[str, dict[Any, Any]] = {}
    missing: dict[str, list[Any]] = {}
    derive: dict[str, Bands | Constant] = {}
    ignore: list[str] = []
    max_rejected_share: float = Field(0.05, ge=0, le=1)

    @model_validator(mode="after")
    def _one_of_each(self) -> "MappingSpec":
        if (self.country is None) == (self.country_column is None):
            raise ValueError("give exactly one of 'country' (an ISO3 code) and 'country_column'")
        if (self.wave is None) == (self.wave_column is None):
            raise ValueError("give exactly one of 'wave' (a year) and 'wave_column'")
        if self.csv is not None and self.format != "csv":
            raise ValueError("'csv' options apply only to format csv")
        if self.rda_object is not None and self.format != "rda":
            raise ValueError("'rda_object' applies only to format rda")
        return self

    def path(self, spec_file: Path) -> Path:
        file = Path(self.file)
        return file if file.is_absolute() else (spec_file.parent / file).resolve()


def load_mapping_spec(spec_file: Path, target_columns: dict[str, str], check_file: bool = True) -> MappingSpec:
    """Read and check a spec; `target_columns` are the harmonised table's columns (name -> DuckDB type)."""
    spec_file = Path(spec_file)
    try:
        raw = yaml.load(spec_file.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{spec_file}: cannot read the mapping spec: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{spec_file}: a mapping spec is a YAML mapping of keys")
    try:
        spec = MappingSpec.model_validate(raw)
    except pydantic.ValidationError as exc:
        lines = []
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"]) or "(top level)"
            lines.append(f"{spec_file}: key {key}: {error['msg']}")
        raise ConfigError("invalid mapping spec\n  " + "\n  ".join(lines)) from None
    problems = []
    design_targets = {"respondent_id", "stratum", "psu", "weight", "fpc", "source_id", "country", "wave"}
    for column, variable in spec.rename.items():
        if variable not in target_columns or variable in design_targets:
            problems.append(f"key rename.{column}: {variable!r} is not an item or classifier of "
                            f"{spec.target} (see schemas/{spec.target}.py)")
    produced = set(spec.rename.values()) | set(spec.derive)
    for section in ("recode", "missing"):
        for variable in getattr(spec, section):
            if variable != "_all" and variable not in produced:
                problems.append(f"key {section}.{variable}: not a renamed or derived variable of this spec")
    for variable, rule in spec.derive.items():
        if variable not in target_columns or variable in design_targets:
            problems.append(f"key derive.{variable}: not a variable of {spec.target}")
        if isinstance(rule, Bands) and rule.from_ not in produced:
            problems.append(f"key derive.{variable}.from: {rule.from_!r} is not a renamed variable of this spec")
    for code, iso3 in spec.country_codes.items():
        if len(iso3) != 3 or not iso3.isupper():
            problems.append(f"key country_codes.{code}: {iso3!r} is not an ISO3 code")
    if check_file and not spec.path(spec_file).exists():
        problems.append(f"key file: {spec.path(spec_file)} does not exist")
    if problems:
        raise ConfigError("invalid mapping spec\n  " + "\n  ".join(f"{spec_file}: {p}" for p in problems))
    return spec
