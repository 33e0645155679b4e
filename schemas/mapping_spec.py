"""The mapping spec: how one delivered microdata file becomes rows of a harmonised table (DESIGN.md 4.2).

One YAML per source in data/mappings/. A typed model (pydantic, strict: unknown keys are errors) checks the
spec's shape; `load_mapping_spec` adds the checks that need the target schema (renamed and derived variables
exist in it, the variables it requires in every row are produced, and every value the spec itself fixes - a
country, a wave, a recode's target code, a constant, a band label - meets the model's checks, said in words) and
reports every problem with the spec file and the key path, e.g. `design.weight`. A wrong fixed value is thus one
spec error, not one failure per row of the file.
"""

from __future__ import annotations

import codecs
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from indicators.errors import ConfigError
from indicators.files import load_yaml

FORMATS = ("csv", "parquet", "sav", "dta", "rda", "rds")
TARGETS = ("child_survey",)
# the encodings DuckDB's CSV reader can read, by Python's codec name -> DuckDB's name for it
CSV_ENCODINGS = {"utf-8": "utf-8", "utf-16": "utf-16", "iso8859-1": "latin-1"}
# harmonised columns a spec produces through its `design`, `country` and `wave` keys rather than `rename`/`derive`
DESIGN_VARIABLES = ("source_id", "country", "wave", "respondent_id", "stratum", "psu", "weight", "fpc")


def csv_encoding(name: str) -> str:
    """DuckDB's name of a text encoding given in any spelling Python knows (latin1, ISO-8859-1 -> latin-1);
    ValueError, in words, when it is no encoding or one DuckDB's CSV reader cannot read."""
    try:
        python_name = codecs.lookup(name).name
    except LookupError:
        raise ValueError(f"{name!r} is not a text encoding; use utf-8, utf-16 or latin-1") from None
    if python_name not in CSV_ENCODINGS:
        raise ValueError(f"{name!r} cannot be read; use utf-8, utf-16 or latin-1 (latin-1 also reads most "
                         "windows-1252 files)")
    return CSV_ENCODINGS[python_name]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CsvOptions(_Strict):
    encoding: str = "utf-8"
    delimiter: str = Field(",", min_length=1, max_length=1)

    @field_validator("encoding")
    @classmethod
    def _readable_encoding(cls, name: str) -> str:
        return csv_encoding(name)


# replicate-weight methods, by R's svrepdesign(type=) names (a spec may write them in any case)
REPLICATE_TYPES = ("JK1", "JKn", "BRR", "Fay", "bootstrap", "other")


class ReplicateWeights(_Strict):
    """Replicate weights delivered with the file (PISA's 80 Fay BRR replicates, a household survey's jackknife or
    bootstrap weights), as R's svrepdesign(repweights=, type=, rho=, scale=, rscales=, mse=) takes them: the
    variance then comes from the replicates, not from the strata and PSUs (which stay in the harmonised table).
    The columns hold full (analysis) weights, one per replicate: a regular expression over the file's column
    names (in file order, as R's grep) or the list of names."""

    columns: str | list[str]
    type: str
    rho: float | None = Field(None, ge=0, lt=1)
    scale: float | None = Field(None, gt=0)
    rscales: list[float] | None = None
    mse: bool = False

    @field_validator("type")
    @classmethod
    def _known_type(cls, name: str) -> str:
        by_lower = {t.lower(): t for t in REPLICATE_TYPES}
        if name.lower() not in by_lower:
            raise ValueError(f"{name!r} is not a replicate-weight type; use one of {', '.join(REPLICATE_TYPES)}")
        return by_lower[name.lower()]

    @model_validator(mode="after")
    def _what_the_type_needs(self) -> "ReplicateWeights":
        if self.type == "Fay" and self.rho is None:
            raise ValueError("type Fay needs rho (e.g. 0.5, PISA's)")
        if self.type != "Fay" and self.rho is not None:
            raise ValueError(f"rho applies to type Fay only, not {self.type}")
        if self.type == "JKn" and self.rscales is None:
            raise ValueError("type JKn needs rscales, one per replicate ((n_h - 1) / n_h of its stratum)")
        if self.type == "other" and (self.scale is None or self.rscales is None):
            raise ValueError("type other needs scale and rscales")
        if self.rscales is not None and any(r < 0 for r in self.rscales):
            raise ValueError("rscales must not be negative")
        return self


class Design(_Strict):
    """Source column names of the design variables. An identifier unique only within another column (PISA's
    student_id within country) is given as a list of columns, joined with '-'."""

    respondent_id: str | list[str]
    stratum: str | list[str]
    psu: str | list[str]
    weight: str
    fpc: str | None = None
    replicate_weights: ReplicateWeights | None = None


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
        raw = load_yaml(spec_file.read_text(encoding="utf-8"))
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
    design_targets = set(DESIGN_VARIABLES)
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
    problems += _fixed_value_problems(spec, target_columns)
    problems += _required_variables_missing(spec)
    problems += _file_problems(spec, spec_file, check_file)
    if problems:
        raise ConfigError("invalid mapping spec\n  " + "\n  ".join(f"{spec_file}: {p}" for p in problems))
    return spec


def _file_problems(spec: MappingSpec, spec_file: Path, check_file: bool) -> list[str]:
    """The `file:` key: relative to the spec's folder (a spec and its data move together; an absolute path would
    let a spec read any file of the machine into a release's messages), no control characters (they would reach
    the operator's terminal as escape sequences), and the file exists."""
    controls = list(dict.fromkeys(c for c in spec.file if unicodedata.category(c) == "Cc"))
    if controls:
        return [f"key file: the file name holds control characters ({', '.join(map(repr, controls))})"]
    if Path(spec.file).is_absolute():
        return [f"key file: {spec.file!r} is an absolute path: give the path relative to the spec's folder"]
    if check_file and not spec.path(spec_file).exists():
        return [f"key file: {spec.path(spec_file)} does not exist"]
    return []


# ------------------------------------------------------------------ spec-level facts checked against the model
@lru_cache(maxsize=None)
def target_schema(target: str):
    """The pandera schema of a harmonised table: the rules a spec's fixed values must meet."""
    from schemas.child_survey import ChildSurveyModel

    return {"child_survey": ChildSurveyModel}[target].to_schema()


def _fixed_values(spec: MappingSpec) -> list[tuple[str, str, object]]:
    """(key, variable, value) of every value the spec itself gives a harmonised variable: the same for every row
    of the file, so a wrong one would reject every row instead of being said once here."""
    values = [("country", "country", spec.country), ("wave", "wave", spec.wave)]
    values += [(f"country_codes.{code}", "country", iso3) for code, iso3 in spec.country_codes.items()]
    values += [(f"recode.{variable}.{code}", variable, value) for variable, codes in spec.recode.items()
               for code, value in codes.items()]
    for variable, rule in spec.derive.items():
        if isinstance(rule, Constant):
            values.append((f"derive.{variable}.value", variable, rule.value))
        else:
            values += [(f"derive.{variable}.bands.{label}", variable, label) for label in rule.bands]
    return [(key, variable, value) for key, variable, value in values if value is not None]


def _fixed_value_problems(spec: MappingSpec, target_columns: dict[str, str]) -> list[str]:
    """A fixed value of the wrong type for its variable, or breaking one of the model's checks of the variable
    (an unknown country code, an implausible wave, a recode to a code the model does not know)."""
    schema = target_schema(spec.target)
    problems = []
    for key, variable, value in _fixed_values(spec):
        column_type = target_columns.get(variable)
        if column_type is None or variable not in schema.columns:
            continue  # a variable the model lacks is reported by the rename/derive checks
        wrong_type = _type_problem(value, column_type)
        if wrong_type:
            problems.append(f"key {key}: {value!r} breaks the rule: {variable} must be {wrong_type}")
            continue
        broken = _broken_checks(schema.columns[variable], variable, value, column_type)
        if broken:
            problems.append(f"key {key}: {value!r} breaks the rule: {'; '.join(broken)}")
    return problems


def _type_problem(value: object, column_type: str) -> str | None:
    """None when `value` fits a column of `column_type`, else the type it should have, in words."""
    if column_type == "BOOLEAN":
        return None if isinstance(value, bool) else "true or false"
    if isinstance(value, bool):
        return {"BIGINT": "a whole number", "DOUBLE": "a number"}.get(column_type, "text")
    if column_type == "BIGINT" and not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
        return "a whole number"
    if column_type == "DOUBLE" and not isinstance(value, (int, float)):
        return "a number"
    return None


def _broken_checks(column, variable: str, value: object, column_type: str) -> list[str]:
    """The words of every check of the model's `column` that `value` breaks (schemas.validation.check_in_words)."""
    from schemas.validation import check_in_words

    as_stored = str(value) if column_type == "VARCHAR" else int(value) if column_type == "BIGINT" else value
    series = pd.Series([as_stored], dtype=object if column_type == "VARCHAR" else None)
    broken = []
    for check in column.checks:
        if not bool(check(series).check_passed):
            broken.append(check_in_words(check, variable, column.checks))
    return list(dict.fromkeys(broken))  # a range's two bound checks read as one rule


def _required_variables_missing(spec: MappingSpec) -> list[str]:
    """Variables the model requires in every row that the spec neither renames from a file column nor derives:
    every row would be rejected for the same spec omission."""
    schema = target_schema(spec.target)
    produced = set(spec.rename.values()) | set(spec.derive) | set(DESIGN_VARIABLES)
    return [f"key rename: no file column is mapped to {variable!r}, which {spec.target} requires in every row "
            f"(rename a column to it, or derive it)"
            for variable, column in schema.columns.items() if not column.nullable and variable not in produced]
