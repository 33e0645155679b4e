"""Load and validate the indicator registry: YAML files under indicators/registry/, one per group.

An indicator is defined once, here, as data; code that computes indicators reads these entries and never
restates a definition. Loading checks every entry and reports every problem at once, each naming the YAML
file, the indicator code and the field:
- field presence and types, unknown keys (a typo in a key is an error, not a silently ignored field);
- the registry table against schemas.registry.RegistryEntryModel (pandera): code shape GROUP.N, unique codes,
  prefix matching the group, units and methods from the fixed lists;
- the expressions each method needs, and only those;
- every expression bound by DuckDB against the harmonised schema of its source (schemas.sources), so an unknown
  variable or a wrong type is caught here, not at estimation;
- disaggregations allowed by the source; growth and reliability settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from indicators.files import load_yaml
from indicators.errors import ConfigError
from indicators.fingerprints import folder_fingerprint
from schemas.registry import (AGGREGATION_KEYS, AGGREGATION_METHODS, AGGREGATION_RULE_KEYS, AGGREGATION_WEIGHTS,
                              DEFAULT_MAX_COUNTRY_SHARE_SAMPLED, DEFAULT_MIN_COUNTRIES, DEFAULT_RELIABILITY,
                              EXPRESSION_FIELDS, GROUP_PREFIXES, METHOD_FIELDS, OPTIONAL_FIELDS, RELIABILITY_KEYS,
                              REQUIRED_FIELDS, RegistryEntryModel)
from indicators.sources import harmonised_sources
from indicators.tables import quote_identifier
from schemas.observations import PUBLISHED_DIMENSIONS
from schemas.sources import HarmonisedSource
from schemas.validation import failure_cases

REGISTRY_DIR = Path(__file__).resolve().parent / "registry"
BOOLEAN_FIELDS = {"proportion": ("numerator",), "share_of_countries": ("numerator",)}


@dataclass(frozen=True)
class RegistryProblem:
    file: str
    code: str
    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.file}: {self.code}: field '{self.field}': {self.rule}"


class RegistryError(ConfigError):
    """The registry breaks one or more rules; every problem names file, indicator code and field."""

    def __init__(self, problems: list[RegistryProblem]) -> None:
        self.problems = problems
        shown = "\n  ".join(str(p) for p in problems[:30])
        more = f"\n  ... and {len(problems) - 30} more" if len(problems) > 30 else ""
        super().__init__(f"indicator registry: {len(problems)} problem(s)\n  {shown}{more}")


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    definition: str
    group: str
    unit: str
    source: str
    method: str
    decimals: int
    references: tuple[str, ...]
    file: str
    universe: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    value: str | None = None
    disaggregations: tuple[str, ...] = ()
    # crossed disaggregations published as extra cells, e.g. (("sex", "age_band"),): girls aged 12-14
    crossings: tuple[tuple[str, ...], ...] = ()
    quantile: float | None = None  # method quantile: the fraction (0.5 the median, 0.25 and 0.75 the quartiles)
    growth: dict = field(default_factory=dict)
    reliability: dict = field(default_factory=dict)  # defaults of DESIGN.md 4.4 merged with overrides
    caveats: str | None = None
    aggregation: dict = field(default_factory=dict)  # {} = not declared: the entry has no group values

    @property
    def aggregation_method(self) -> str:
        return self.aggregation.get("method", "none")

    @property
    def min_countries(self) -> int:
        """Reporting countries a group value needs (schemas.registry.AGGREGATION_RULE_KEYS)."""
        return int(self.aggregation.get("min_countries", DEFAULT_MIN_COUNTRIES))

    @property
    def max_country_share(self) -> float | None:
        """The largest share of a group value's weight one country may hold; None: no limit."""
        if "max_country_share" in self.aggregation:
            return float(self.aggregation["max_country_share"])
        source = harmonised_sources().get(self.source)
        return DEFAULT_MAX_COUNTRY_SHARE_SAMPLED if source is not None and source.sampled else None


def load_registry(registry_dir: Path | None = None) -> list[Indicator]:
    """Every indicator of every registry file, in file then entry order; raises RegistryError on any problem.

    Read and checked once per process while the folder's files (names and contents) and the registered sources
    stay the same: a build asks for the registry several times (its definitions, its plan, its assets)."""
    registry_dir = Path(registry_dir or REGISTRY_DIR)
    return list(_load_registry(registry_dir, folder_fingerprint(registry_dir),
                               tuple(sorted(harmonised_sources()))))


@lru_cache(maxsize=8)
def _load_registry(registry_dir: Path, files_fingerprint: str, sources: tuple[str, ...]) -> tuple[Indicator, ...]:
    files = sorted(registry_dir.glob("*.yaml"))
    if not files:
        raise ConfigError(f"{registry_dir}: no registry files (*.yaml)")
    problems: list[RegistryProblem] = []
    entries: list[tuple[str, str, dict]] = []  # (file, group, entry)
    for path in files:
        entries.extend(_read_file(path, problems))
    indicators = [_indicator(path, group, entry) for path, group, entry in entries]
    problems.extend(_table_problems(indicators))
    sources = harmonised_sources()
    binder = empty_source_tables(sources)
    try:
        for ind in indicators:
            problems.extend(_entry_problems(ind, sources, binder))
    finally:
        binder.close()
    if problems:
        raise RegistryError(list(dict.fromkeys(problems)))  # duplicates of one code report once per file
    return tuple(indicators)


# ----------------------------------------------------------------------------------------------- reading
def _read_file(path: Path, problems: list[RegistryProblem]) -> list[tuple[str, str, dict]]:
    where = str(path)
    try:
        spec = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        problems.append(RegistryProblem(where, "-", "-", f"not valid YAML: {exc}"))
        return []
    if not isinstance(spec, dict):
        problems.append(RegistryProblem(where, "-", "-", "a registry file is a mapping with 'group' and 'indicators'"))
        return []
    group = spec.get("group")
    if group not in GROUP_PREFIXES:
        problems.append(RegistryProblem(where, "-", "group", f"{group!r} is not one of {', '.join(GROUP_PREFIXES)}"))
    if not isinstance(spec.get("indicators"), list) or not spec["indicators"]:
        problems.append(RegistryProblem(where, "-", "indicators", "must be a non-empty list of entries"))
        return []
    out = []
    for i, entry in enumerate(spec["indicators"]):
        code = str(entry.get("code")) if isinstance(entry, dict) and entry.get("code") else f"indicators[{i}]"
        if not isinstance(entry, dict):
            problems.append(RegistryProblem(where, code, "-", "an entry must be a mapping of fields"))
            continue
        bad = False
        for name in REQUIRED_FIELDS:
            if name not in entry or entry[name] is None or entry[name] == "":
                problems.append(RegistryProblem(where, code, name, "required field is missing"))
                bad = True
        for name in sorted(set(entry) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS)):
            problems.append(RegistryProblem(where, code, name,
                                            f"unknown field (allowed: {', '.join(REQUIRED_FIELDS + OPTIONAL_FIELDS)})"))
            bad = True
        if not bad:
            bad = _type_problems(where, code, entry, problems)
        if not bad:
            out.append((where, str(group), entry))
    return out


def _type_problems(where: str, code: str, entry: dict, problems: list[RegistryProblem]) -> bool:
    before = len(problems)
    for name in ("code", "name", "definition", "unit", "source", "method"):
        if not isinstance(entry[name], str):
            problems.append(RegistryProblem(where, code, name, "must be text"))
    for name in EXPRESSION_FIELDS + ("caveats",):
        if entry.get(name) is not None and not isinstance(entry[name], str):
            problems.append(RegistryProblem(where, code, name, "must be text (an SQL expression)"
                                            if name != "caveats" else "must be text"))
    if not isinstance(entry["decimals"], int) or isinstance(entry["decimals"], bool):
        problems.append(RegistryProblem(where, code, "decimals", "must be a whole number"))
    if not isinstance(entry["disaggregations"], list):
        problems.append(RegistryProblem(where, code, "disaggregations", "must be a list (empty if none)"))
    crossings = entry.get("crossings")
    if crossings is not None and not (isinstance(crossings, list) and all(
            isinstance(c, list) and all(isinstance(d, str) for d in c) for c in crossings)):
        problems.append(RegistryProblem(where, code, "crossings",
                                        "must be a list of lists of disaggregations, e.g. [[sex, age_band]]"))
    refs = entry["references"]
    if not isinstance(refs, list) or not refs or not all(isinstance(r, str) and r.strip() for r in refs):
        problems.append(RegistryProblem(where, code, "references", "must be a non-empty list of citations"))
    for name in ("growth", "reliability", "aggregation"):
        if entry.get(name) is not None and not isinstance(entry[name], dict):
            problems.append(RegistryProblem(where, code, name, "must be a mapping"))
    return len(problems) > before


def _indicator(path: str, group: str, entry: dict) -> Indicator:
    def text(name):
        value = entry.get(name)
        return " ".join(str(value).split()) if value is not None else None

    return Indicator(
        code=entry["code"], name=text("name"), definition=text("definition"), group=group, unit=entry["unit"],
        source=entry["source"], method=entry["method"], decimals=entry["decimals"],
        references=tuple(" ".join(r.split()) for r in entry["references"]), file=path,
        universe=text("universe"), numerator=text("numerator"), denominator=text("denominator"),
        value=text("value"), disaggregations=tuple(entry["disaggregations"]),
        crossings=tuple(tuple(c) for c in entry.get("crossings") or ()),
        quantile=entry.get("quantile"),
        growth=dict(entry.get("growth") or {}),
        reliability={**DEFAULT_RELIABILITY, **(entry.get("reliability") or {})},
        caveats=text("caveats"), aggregation=dict(entry.get("aggregation") or {}))


# ------------------------------------------------------------------------------------------------ checks
def registry_table(indicators: list[Indicator]) -> pd.DataFrame:
    return pd.DataFrame([{"code": i.code, "name": i.name, "definition": i.definition, "group": i.group,
                          "unit": i.unit, "source": i.source, "method": i.method, "decimals": i.decimals,
                          "n_references": len(i.references), "file": i.file} for i in indicators],
                        columns=["code", "name", "definition", "group", "unit", "source", "method", "decimals",
                                 "n_references", "file"])


def _table_problems(indicators: list[Indicator]) -> list[RegistryProblem]:
    table = registry_table(indicators)
    if table.empty:
        return []
    cases = failure_cases(RegistryEntryModel, table)
    problems = []
    for case in cases.dropna(subset=["index"]).drop_duplicates(subset=["index", "check"]).itertuples(index=False):
        row = table.loc[case.index]
        check = str(case.check)
        if check.startswith("code prefix"):
            field_name, rule = "code", (f"prefix {row['code'].split('.')[0]} does not match group {row['group']} "
                                        f"(expected {GROUP_PREFIXES.get(row['group'], '?')})")
        elif check == "field_uniqueness" or case.column == "code" and "unique" in check:
            others = table[(table["code"] == row["code"]) & (table.index != case.index)]["file"].tolist()
            field_name, rule = "code", f"duplicate code (also defined in {', '.join(others)})"
        else:
            field_name = "references" if case.column == "n_references" else str(case.column)
            rule = f"{check} (value {case.failure_case!r})"
        problems.append(RegistryProblem(row["file"], row["code"], field_name, rule))
    return problems


def _entry_problems(ind: Indicator, sources: dict[str, HarmonisedSource],
                    binder: duckdb.DuckDBPyConnection) -> list[RegistryProblem]:
    problems: list[RegistryProblem] = []

    def problem(field_name: str, rule: str) -> None:
        problems.append(RegistryProblem(ind.file, ind.code, field_name, rule))

    needed = METHOD_FIELDS.get(ind.method)
    for name in ("numerator", "denominator", "value", "growth") if needed is not None else ():
        given = bool(getattr(ind, name))
        if name in needed and not given:
            problem(name, f"required by method {ind.method}")
        elif given and name not in needed:
            problem(name, f"not used by method {ind.method} (it uses {', '.join(needed) or 'none'})")
    q = ind.quantile
    if ind.method == "quantile":
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q < 1:
            problem("quantile", f"required by method quantile: a fraction strictly between 0 and 1 (0.5 for the "
                                f"median), got {q!r}")
        if ind.aggregation_method != "none":
            problem("aggregation", "a quantile has no group value from country values (medians do not "
                                   "aggregate): use {method: none, reason: ...}")
    elif q is not None:
        problem("quantile", f"not used by method {ind.method} (only by method quantile)")
    if ind.method == "growth" and ind.growth:
        kind, periods = ind.growth.get("kind"), ind.growth.get("periods")
        if kind not in ("difference", "cagr") or not isinstance(periods, int) or isinstance(periods, bool) \
                or periods < 1 or set(ind.growth) - {"kind", "periods"}:
            problem("growth", f"needs kind difference|cagr and whole periods >= 1, got {ind.growth!r}")
    unknown_keys = set(ind.reliability) - set(RELIABILITY_KEYS)
    if unknown_keys:
        problem("reliability", f"unknown key(s) {', '.join(sorted(unknown_keys))} (allowed: {', '.join(RELIABILITY_KEYS)})")
    elif not all(isinstance(v, (int, float)) and v >= 0 for v in ind.reliability.values()):
        problem("reliability", "thresholds must be non-negative numbers")
    elif ind.reliability["flag_n"] < ind.reliability["min_n"] or ind.reliability["max_cv"] < ind.reliability["flag_cv"]:
        problem("reliability", "flag_n must be >= min_n and max_cv >= flag_cv")

    problems.extend(RegistryProblem(ind.file, ind.code, "aggregation", rule) for rule in aggregation_problems(ind))
    source = sources.get(ind.source)
    if source is None:
        problem("source", f"{ind.source!r} is not a harmonised source ({', '.join(sources)})")
        return problems
    disallowed = [d for d in ind.disaggregations if d not in source.disaggregations]
    if disallowed:
        allowed = ", ".join(source.disaggregations) or "none"
        problem("disaggregations", f"{', '.join(map(str, disallowed))} not allowed for source {source.name} "
                                   f"(allowed: {allowed})")
    problems.extend(RegistryProblem(ind.file, ind.code, "crossings", rule) for rule in crossing_problems(ind, source))
    problems.extend(RegistryProblem(ind.file, ind.code, f, r) for f, r in bind_expressions(ind, source, binder))
    return problems


def crossing_problems(ind: Indicator, source: HarmonisedSource) -> list[str]:
    """Crossed disaggregations: each crosses two or more published dimensions the entry is disaggregated by
    (their one-way cells are the margins complementary suppression protects), on a sample survey, once."""
    out, seen = [], set()
    for crossing in ind.crossings:
        named = " x ".join(crossing) or "[]"
        if len(crossing) < 2 or len(set(crossing)) != len(crossing):
            out.append(f"{named}: a crossing needs two or more different disaggregations")
            continue
        if frozenset(crossing) in seen:
            out.append(f"{named}: declared twice")
        seen.add(frozenset(crossing))
        unpublished = [d for d in crossing if d not in PUBLISHED_DIMENSIONS]
        if unpublished:
            out.append(f"{named}: {', '.join(unpublished)} is not a published dimension "
                       f"({', '.join(PUBLISHED_DIMENSIONS)})")
        missing = [d for d in crossing if d in PUBLISHED_DIMENSIONS and d not in ind.disaggregations]
        if missing:
            out.append(f"{named}: {', '.join(missing)} must be among the entry's disaggregations too (its one-way "
                       "cells are the margins of the crossed table)")
    if ind.crossings and not source.sampled:
        out.append(f"crossed cells are estimated from survey microdata; source {source.name} has none")
    return out


def aggregation_problems(ind: Indicator) -> list[str]:
    """The `aggregation` block: a known method with exactly the keys it needs (schemas.registry)."""
    spec = ind.aggregation
    if not spec:
        return []
    method = spec.get("method")
    if method not in AGGREGATION_METHODS:
        return [f"method {method!r} is not one of {', '.join(AGGREGATION_METHODS)}"]
    needed = AGGREGATION_KEYS[method]
    allowed = needed + (AGGREGATION_RULE_KEYS if method != "none" else ())
    out = [f"key '{k}' is required by aggregation method {method}" for k in needed if spec.get(k) in (None, "")]
    out += [f"key '{k}' is not used by aggregation method {method} (it uses {', '.join(allowed)})"
            for k in sorted(set(spec) - set(allowed))]
    count = spec.get("min_countries")
    if "min_countries" in spec and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        out.append(f"min_countries {spec['min_countries']!r} must be a whole number >= 1")
    share = spec.get("max_country_share")
    if "max_country_share" in spec and (isinstance(share, bool) or not isinstance(share, (int, float))
                                        or not 0 < share <= 1):
        out.append(f"max_country_share {share!r} must be a share in (0, 1]")
    if "weight" in needed and spec.get("weight") and spec["weight"] not in AGGREGATION_WEIGHTS:
        out.append(f"weight {spec['weight']!r} is not one of {', '.join(AGGREGATION_WEIGHTS)}")
    if method == "group_inputs" and ind.source != "ict_country_year":
        out.append("method group_inputs needs country-year ICT inputs (source ict_country_year)")
    return out


def empty_source_tables(sources: dict[str, HarmonisedSource]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding one empty table per harmonised source, with its columns and types."""
    con = duckdb.connect()
    for source in sources.values():
        columns = ", ".join(f"{quote_identifier(c)} {t}" for c, t in source.columns.items())
        con.execute(f"CREATE TABLE {quote_identifier(source.name)} ({columns})")
    return con


def bind_expressions(ind: Indicator, source: HarmonisedSource,
                     binder: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Bind each expression the method uses in DuckDB against the source's empty table; return problems."""
    out = []
    booleans = ("universe",) + BOOLEAN_FIELDS.get(ind.method, ())
    used = ("universe",) + METHOD_FIELDS.get(ind.method, ())
    for name in EXPRESSION_FIELDS:
        expression = getattr(ind, name)
        if not expression or name not in used:  # a field the method does not use is reported as such
            continue
        try:
            result_type = str(binder.sql(f'SELECT ({expression}) AS x FROM "{source.name}"').types[0])
        except duckdb.Error as exc:
            message = str(exc).splitlines()[0]
            if "not found in FROM clause" in message:
                message = message.replace("Binder Error: Referenced column", "unknown variable")
                message = message.replace(" not found in FROM clause!",
                                          f" (not a column of the harmonised {source.name} schema)")
            out.append((name, message))
            continue
        if name in booleans and result_type != "BOOLEAN":
            out.append((name, f"must be a boolean condition, but is {result_type}"))
        elif name not in booleans and result_type in ("BOOLEAN", "VARCHAR"):
            out.append((name, f"must be numeric, but is {result_type} (e.g. CAST(... AS INTEGER))"))
    return out
