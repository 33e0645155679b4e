"""Read ICT country-year files, whatever layout they come in, into one long raw table.

Supported layouts:
- ``cop_tidy``: the bundled sample: ``ref_area, [ref_area_name], year, <variable columns>``.
- ``wdi_wide``: World Bank WDI "API" downloads: ``Country Name, Country Code, Indicator Name, Indicator Code,
  1960 ... 2023``; UTF-8 BOM; with or without the 4-line "Data Source / Last Updated Date" preamble; a trailing
  empty column; aggregates (WLD, LIC, ...) mixed with economies.
- ``owid_tidy``: Our World in Data grapher exports: ``Entity, Code, Year, <one column per series>``; regions
  have an empty Code, OWID_* pseudo-codes for the world and Kosovo.
- ``wb_tidy``: ``Country Name, Country Code, Year, Value`` (one series per file; the manifest names it).
- ``owid_entity``: Our World in Data datasets without a code column: ``Entity, Year, <one column per series>``
  (e.g. the UN WPP 2017 population by age group). English entity names are mapped to ISO3 with country_converter,
  after the aggregate names (``World``, regions, income groups) and explicit codes listed in
  data/mappings/ict_variables.yaml; a name that maps to no country, or ambiguously, is reported (warning and
  raw.unmapped_entities), never dropped silently. Such files may carry projections: years outside
  [schemas.ict.FIRST_YEAR, LAST_YEAR] are dropped and counted in the file's provenance.

Every non-empty value cell becomes one row with the file, the 1-based line number a provider sees in an
editor, and the column it came from, so that any rule broken later can be traced to the cell to fix.
"""

from __future__ import annotations

import csv
import itertools
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import pandas as pd

from indicators import tables
from indicators.delivered_csv import (COUNTRY_FILE, archive_kind, check_header_names, country_file_records,
                                      field_count_problem, is_blank, number_problem)
from indicators.files import load_yaml, sha256_file
from indicators.errors import ConfigError, InputError, Violation
from schemas.ict import FIRST_YEAR, LAST_YEAR, known_country_codes
from indicators.paths import MAPPINGS_DIR
from indicators.sources.manifest import read_manifest

log = logging.getLogger(__name__)
LAYOUTS = ("cop_tidy", "wdi_wide", "owid_tidy", "wb_tidy", "owid_entity")
WDI_ID_COLUMNS = ["Country Name", "Country Code", "Indicator Name", "Indicator Code"]
RAW_COLUMNS = ["source_file", "layout", "source_row", "source_column", "code_column", "year_column",
               "ref_area_code", "ref_area_name", "year", "source_variable", "variable", "value"]
UNMAPPED_COLUMNS = ["source_file", "source_id", "entity", "rows", "first_row", "value_cells", "reason"]


@dataclass(frozen=True)
class IctSource:
    """One input file as the source manifest (sources.yaml) or discovery describes it."""

    path: Path
    layout: str
    priority: int  # lower wins when two files give the same country-year-variable
    indicator_code: str | None = None  # wb_tidy files carry no indicator column
    description: str = ""
    citation: str = ""  # the short "Source:" line charts and the report print under this file's series
    licence: str = ""
    synthetic: bool = False
    vintage: str = ""
    projections_from: int | None = None  # first year whose values are projections, not estimates (UN WPP)

    @property
    def source_id(self) -> str:
        return self.path.stem


@dataclass
class FileNotes:
    """What reading one file left out or set aside, beyond its value cells (goes into the provenance)."""

    unmapped: list[dict] = field(default_factory=list)  # entity names mapped to no country (UNMAPPED_COLUMNS)
    mapped_entities: int = 0
    aggregate_entities: int = 0
    cells_before_first_year: int = 0  # value cells dropped: year < FIRST_YEAR
    cells_after_last_year: int = 0  # value cells dropped: year > LAST_YEAR (projections)
    ignored_columns: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    @property
    def cells_out_of_years(self) -> int:
        return self.cells_before_first_year + self.cells_after_last_year


@lru_cache(maxsize=1)
def variable_map() -> dict:
    with open(MAPPINGS_DIR / "ict_variables.yaml", encoding="utf-8") as fh:
        spec = load_yaml(fh)
    return {"wdi": dict(spec["wdi_indicator_codes"]), "labels": dict(spec["column_labels"]),
            "ignored": frozenset(spec.get("ignored_column_labels") or ()),
            "entity_aggregates": frozenset(spec.get("entity_aggregates") or ()),
            "entity_codes": dict(spec.get("entity_codes") or {})}


# --------------------------------------------------------------------------------------------- discovery
HEADER_SEARCH_RECORDS = 10  # the header is among the first records (after the WDI preamble)


def _header_index(records: list[list[str]]) -> int:
    """Index of the first record that looks like a header (skips the WDI preamble), or -1."""
    for index, fields in enumerate(records[:HEADER_SEARCH_RECORDS]):
        cleaned = [f.strip() for f in fields]
        if len([f for f in cleaned if f]) >= 3 and cleaned[0] not in ("Data Source", "Last Updated Date"):
            return index
    return -1


def _file_header(path: Path) -> list[str]:
    """The header fields of a file for layout detection; bytes that are not UTF-8 are replaced here (reading the
    file diagnoses them) and a file that is not CSV text gives no header."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        try:
            records = list(itertools.islice(csv.reader(fh), HEADER_SEARCH_RECORDS))
        except csv.Error:
            return []
    index = _header_index(records)
    return [f.strip() for f in records[index]] if index >= 0 else []


def detect_layout(path: Path) -> str | None:
    """Name the layout of a CSV file from its header, or None when it is not an ICT series file."""
    header = _file_header(path)
    if header[:4] == WDI_ID_COLUMNS:
        return "wdi_wide"
    if header[:3] == ["Entity", "Code", "Year"]:
        return "owid_tidy"
    if header[:2] == ["Entity", "Year"] and "Code" not in header:
        return "owid_entity"
    if header == ["Country Name", "Country Code", "Year", "Value"]:
        return "wb_tidy"
    if "ref_area" in header:
        return "cop_tidy"
    return None


def load_manifest(sources_dir: Path, manifest: Path | str | None = None) -> list[IctSource]:
    """The ICT files of a source folder: from a manifest when there is one, else discovered by header.

    `manifest` names a manifest YAML kept anywhere (e.g. data/manifests/shared_data.yaml); its `file` entries
    resolve against `sources_dir`, so one manifest can describe a folder of real files outside the repository.
    Without it, <sources_dir>/sources.yaml is used when present (its entries resolve against the same folder).
    Discovery orders WDI downloads before the other layouts (they are ITU's own series republished, and the
    newest vintage), so that where files overlap the choice is stated, not accidental.
    """
    sources_dir = Path(sources_dir)
    if not sources_dir.is_dir():
        raise ConfigError(f"{sources_dir}: source folder does not exist")
    if manifest is not None:
        manifest = Path(manifest)
        if not manifest.is_file():
            raise ConfigError(f"{manifest}: sources manifest does not exist")
        return _read_manifest(manifest, sources_dir)
    default = sources_dir / "sources.yaml"
    if default.exists():
        return _read_manifest(default, sources_dir)
    found = []
    for path in sorted(sources_dir.glob("*.csv")):
        layout = detect_layout(path)
        if layout is None:
            # an archive named .csv is a delivery to unpack, not a file of another kind: said so
            kind = archive_kind(path)
            log.warning("%s: skipped, %s", path, kind or f"its header is not an ICT layout ({', '.join(LAYOUTS)})")
        elif layout == "wb_tidy":
            log.warning("%s: skipped, a wb_tidy file needs its series named (indicator_code) in a sources.yaml",
                        path)
        else:
            found.append((LAYOUTS.index(layout) if layout != "wdi_wide" else -1, path.name, path, layout))
    if not found:
        raise ConfigError(f"{sources_dir}: no sources.yaml and no CSV file in a known ICT layout "
                          f"({', '.join(LAYOUTS)})")
    found.sort()
    return [IctSource(path=p, layout=lay, priority=i) for i, (_, _, p, lay) in enumerate(found)]


def _read_manifest(manifest: Path, sources_dir: Path) -> list[IctSource]:
    spec = read_manifest(manifest)
    synthetic = bool(spec.get("synthetic", False))
    entries = spec.get("sources")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{manifest}: key 'sources' must be a non-empty list of files")
    out = []
    for i, entry in enumerate(entries):
        where = f"{manifest}: sources[{i}]"
        if not isinstance(entry, dict) or "file" not in entry:
            raise ConfigError(f"{where}: each source needs a 'file' key")
        layout = entry.get("layout")
        if layout not in LAYOUTS:
            raise ConfigError(f"{where}.layout: {layout!r} is not one of {', '.join(LAYOUTS)}")
        if layout == "wb_tidy" and not entry.get("indicator_code"):
            raise ConfigError(f"{where}.indicator_code: required for layout wb_tidy (e.g. SP.POP.TOTL)")
        projections_from = entry.get("projections_from")
        if projections_from is not None and (isinstance(projections_from, bool)
                                             or not isinstance(projections_from, int)):
            raise ConfigError(f"{where}.projections_from: {projections_from!r} is not a year")
        path = (Path(sources_dir) / str(entry["file"])).resolve()
        if not path.exists():
            raise ConfigError(f"{where}.file: {path} does not exist")
        out.append(IctSource(path=path, layout=layout, priority=i, indicator_code=entry.get("indicator_code"),
                             description=str(entry.get("description", "")), licence=str(entry.get("licence", "")),
                             citation=str(entry.get("citation", "")),
                             synthetic=bool(entry.get("synthetic", synthetic)),
                             vintage=str(entry.get("vintage", "")), projections_from=projections_from))
    return out


def file_provenance(source: IctSource, rows: int, notes: FileNotes | None = None) -> dict:
    """One row of raw.ict_files (and of the release manifest's `inputs`): no None values, so JSON stays valid."""
    notes = notes or FileNotes()
    return {"source_id": source.source_id, "path": str(source.path), "layout": source.layout,
            "sha256": sha256_file(source.path), "bytes": source.path.stat().st_size, "rows": rows,
            "priority": source.priority, "synthetic": source.synthetic, "licence": source.licence,
            "description": source.description, "citation": source.citation, "vintage": source.vintage,
            "cells_out_of_years": notes.cells_out_of_years, "unmapped_entities": len(notes.unmapped),
            "notes": "; ".join(notes.text),
            "loaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


# ------------------------------------------------------------------------------------------------ reading
def read_ict_file(source: IctSource) -> pd.DataFrame:
    """Read one file into the long raw layout (RAW_COLUMNS); raise InputError naming file, line and column."""
    return read_ict_file_with_notes(source)[0]


def read_ict_file_with_notes(source: IctSource) -> tuple[pd.DataFrame, FileNotes]:
    """read_ict_file, plus what the reading left out: unmapped entity names, years dropped, ignored columns.

    What is wrong with the file as a whole (not a CSV, not UTF-8, another delimiter, a column named twice, a row
    with more or fewer fields than the header) is said once, before any column of the layout is looked for."""
    path = source.path
    table = _text_table(path)
    reader = {"cop_tidy": _read_cop_tidy, "wdi_wide": _read_wdi_wide, "owid_tidy": _read_owid_tidy,
              "wb_tidy": _read_wb_tidy, "owid_entity": _read_owid_entity}[source.layout]
    notes = FileNotes()
    long = reader(source, table, notes)
    long.insert(0, "layout", source.layout)
    long.insert(0, "source_file", str(path))
    if source.projections_from is not None:
        notes.text.insert(0, f"values for {source.projections_from} and later are projections, not estimates")
    return _typed(path, long)[RAW_COLUMNS], notes


def _text_table(path: Path) -> pd.DataFrame:
    """The file's data rows as text cells under its header, with the editor line each row starts on (`__line`;
    a quoted field may span lines) and the header's line in attrs["header_line"]. Blank lines are skipped; an
    unnamed column (WDI files end every line with a comma) is called "Unnamed: <its 1-based position>"."""
    records = country_file_records(path)
    header_at = _header_index([fields for _, fields in records])
    if header_at < 0:
        raise InputError.at_line(path, "no header line found in the first lines (expected the column names of "
                                       f"one of the layouts {', '.join(LAYOUTS)})", 1)
    header_line = records[header_at][0]
    header = [f.strip() for f in records[header_at][1]]
    check_header_names(path, header, header_line, COUNTRY_FILE)
    rows = [(line, fields) for line, fields in records[header_at + 1:] if not is_blank(fields)]
    if not rows:
        raise InputError.at_line(path, "file has a header but no data rows", header_line)
    problem = field_count_problem(path, len(header), rows, ",", COUNTRY_FILE)
    if problem is not None:
        raise problem
    names = [name or f"Unnamed: {position}" for position, name in enumerate(header, start=1)]
    table = pd.DataFrame([fields for _, fields in rows], columns=names, dtype=str)
    table.insert(0, "__line", [line for line, _ in rows])
    table.attrs["header_line"] = header_line
    return table


def _require(path: Path, table: pd.DataFrame, columns: list[str], layout: str, header_row: int) -> None:
    for column in columns:
        if column not in table.columns:
            raise InputError.at_line(path, f"missing required column for layout {layout} "
                                           f"(expected {', '.join(columns)})", header_row, column)


def _header_row(table: pd.DataFrame) -> int:
    return int(table.attrs["header_line"])


def _melt(table: pd.DataFrame, id_map: dict[str, str], value_columns: list[str]) -> pd.DataFrame:
    """Tidy value columns into rows; empty cells are missing values, not rows."""
    frame = table.rename(columns=id_map)
    long = frame.melt(id_vars=["__line", *id_map.values()], value_vars=value_columns,
                      var_name="source_column", value_name="value")
    long["value"] = long["value"].str.strip()
    return long[long["value"] != ""].rename(columns={"__line": "source_row"})


def _map_labels(path: Path, labels: list[str], header_row: int, notes: FileNotes | None = None) -> dict[str, str]:
    """Harmonised variable of each used column; columns listed as ignored are left out (and noted)."""
    spec = variable_map()
    known, ignored = spec["labels"], spec["ignored"]
    for label in labels:
        if label not in known and label not in ignored:
            raise InputError.at_line(path, "column is not a known ICT series; add it to "
                                           "data/mappings/ict_variables.yaml (column_labels, or "
                                           "ignored_column_labels if it is deliberately not used)",
                                     header_row, label)
    skipped = [label for label in labels if label not in known]
    if skipped and notes is not None:
        notes.ignored_columns.extend(skipped)
        notes.text.append(f"columns not used (ignored_column_labels): {', '.join(skipped)}")
    return {label: known[label] for label in labels if label in known}


def _read_cop_tidy(source: IctSource, table: pd.DataFrame, notes: FileNotes) -> pd.DataFrame:
    path, header_row = source.path, _header_row(table)
    _require(path, table, ["ref_area", "year"], "cop_tidy", header_row)
    labels = [c for c in table.columns if c not in ("__line", "ref_area", "ref_area_name", "year")]
    if not labels:
        raise InputError.at_line(path, "no value columns besides ref_area and year", header_row)
    mapping = _map_labels(path, labels, header_row, notes)
    if not mapping:
        raise InputError.at_line(path, "no value column besides ref_area and year is used", header_row)
    if "ref_area_name" not in table.columns:
        table = table.assign(ref_area_name="")
    long = _melt(table, {"ref_area": "ref_area_code", "ref_area_name": "ref_area_name", "year": "year"},
                 list(mapping))
    return long.assign(source_variable=long["source_column"], variable=long["source_column"].map(mapping),
                       code_column="ref_area", year_column="year")


def _read_owid_tidy(source: IctSource, table: pd.DataFrame, notes: FileNotes) -> pd.DataFrame:
    path, header_row = source.path, _header_row(table)
    _require(path, table, ["Entity", "Code", "Year"], "owid_tidy", header_row)
    labels = [c for c in table.columns if c not in ("__line", "Entity", "Code", "Year")]
    mapping = _map_labels(path, labels, header_row, notes)
    if not mapping:
        raise InputError.at_line(path, "no value column besides Entity, Code and Year is used", header_row)
    long = _melt(table, {"Code": "ref_area_code", "Entity": "ref_area_name", "Year": "year"}, list(mapping))
    return long.assign(source_variable=long["source_column"], variable=long["source_column"].map(mapping),
                       code_column="Code", year_column="Year")


def _read_wdi_wide(source: IctSource, table: pd.DataFrame, notes: FileNotes) -> pd.DataFrame:
    path, header_row = source.path, _header_row(table)
    _require(path, table, WDI_ID_COLUMNS, "wdi_wide", header_row)
    year_columns = []
    for column in table.columns:
        if column in ("__line", *WDI_ID_COLUMNS):
            continue
        if column.isdigit():
            year_columns.append(column)
        elif column.startswith("Unnamed: "):
            # WDI files end every line with a comma: an empty trailing column, to be dropped only if empty
            filled = table[column].str.strip() != ""
            if filled.any():
                cell = table.loc[filled].iloc[0]
                position = int(column.removeprefix("Unnamed: "))
                raise InputError.at_line(path, f"value in column {position} of the line, whose header is empty "
                                               "(expected a year)", int(cell["__line"]), "",
                                         cell[column].strip())
        else:
            raise InputError.at_line(path, "unexpected column in a WDI wide file (expected year columns)",
                                     header_row, column)
    table = table.drop(columns=[c for c in table.columns if c.startswith("Unnamed: ")])
    codes = variable_map()["wdi"]
    unknown = ~table["Indicator Code"].isin(list(codes))
    if unknown.any():
        first = table[unknown].iloc[0]
        raise InputError.at_line(path, "indicator code is not a known ICT series; add it to "
                                       "data/mappings/ict_variables.yaml (wdi_indicator_codes)",
                                 int(first["__line"]), "Indicator Code", first["Indicator Code"])
    long = _melt(table, {"Country Code": "ref_area_code", "Country Name": "ref_area_name",
                         "Indicator Code": "source_variable"}, year_columns)
    return long.assign(year=long["source_column"], variable=long["source_variable"].map(codes),
                       code_column="Country Code", year_column=long["source_column"])


def _read_wb_tidy(source: IctSource, table: pd.DataFrame, notes: FileNotes) -> pd.DataFrame:
    path, header_row = source.path, _header_row(table)
    _require(path, table, ["Country Name", "Country Code", "Year", "Value"], "wb_tidy", header_row)
    codes = variable_map()["wdi"]
    if source.indicator_code not in codes:
        raise ConfigError(f"{path}: indicator_code {source.indicator_code!r} is not in "
                          "data/mappings/ict_variables.yaml (wdi_indicator_codes)")
    long = _melt(table, {"Country Code": "ref_area_code", "Country Name": "ref_area_name", "Year": "year"},
                 ["Value"])
    return long.assign(source_variable=source.indicator_code, variable=codes[source.indicator_code],
                       code_column="Country Code", year_column="Year")


def _read_owid_entity(source: IctSource, table: pd.DataFrame, notes: FileNotes) -> pd.DataFrame:
    """Entity names instead of codes: map them, set aside aggregates, report the rest; keep pipeline years."""
    path, header_row = source.path, _header_row(table)
    _require(path, table, ["Entity", "Year"], "owid_entity", header_row)
    labels = [c for c in table.columns if c not in ("__line", "Entity", "Year")]
    mapping = _map_labels(path, labels, header_row, notes)
    if not mapping:
        raise InputError.at_line(path, "no value column besides Entity and Year is used", header_row)
    table = table.assign(Entity=table["Entity"].str.strip())
    codes, unmapped = (dict(d) for d in entity_codes(tuple(sorted(set(table["Entity"]) - {""}))))
    # an empty entity name is an unmapped entity like any other: reported with its rows
    if (table["Entity"] == "").any():
        unmapped[""] = "empty entity name"
    notes.mapped_entities = sum(1 for code in codes.values() if code)
    notes.aggregate_entities = sum(1 for code in codes.values() if not code)

    # years outside the pipeline's range: dropped and counted (WPP files run 1950-2100, projections included)
    years = pd.to_numeric(table["Year"], errors="coerce")
    filled = (table[list(mapping)].apply(lambda c: c.str.strip()) != "").sum(axis=1)
    before, after = years < FIRST_YEAR, years > LAST_YEAR
    notes.cells_before_first_year = int(filled[before].sum())
    notes.cells_after_last_year = int(filled[after].sum())
    later = f"after {LAST_YEAR}" + (", projections" if source.projections_from is not None else "")
    for mask, label in ((before, f"before {FIRST_YEAR}"), (after, later)):
        if mask.any():
            lo, hi = int(years[mask].min()), int(years[mask].max())
            cells = int(filled[mask].sum())
            notes.text.append(f"dropped {cells} value cells of years {lo}-{hi} ({label}, outside the "
                              f"pipeline's years {FIRST_YEAR}-{LAST_YEAR})")
            log.info("%s: dropped %d value cells of years %d-%d (%s)", path, cells, lo, hi, label)
    in_years = ~(before | after)

    for entity, reason in sorted(unmapped.items()):
        rows = table["Entity"] == entity
        notes.unmapped.append({"source_file": str(path), "source_id": source.source_id, "entity": entity,
                               "rows": int(rows.sum()), "first_row": int(table.loc[rows, "__line"].iloc[0]),
                               "value_cells": int(filled[rows & in_years].sum()), "reason": reason})
    if notes.unmapped:
        names = ", ".join(f"{u['entity']!r} ({u['reason']})" for u in notes.unmapped)
        notes.text.append(f"{len(notes.unmapped)} entity name(s) not mapped to a country, their "
                          f"{sum(u['value_cells'] for u in notes.unmapped)} value cells left out "
                          f"({tables.RAW_UNMAPPED_ENTITIES}): {names}")
        log.warning("%s: %d entity name(s) map to no country and are left out (see %s): %s",
                    path, len(notes.unmapped), tables.RAW_UNMAPPED_ENTITIES, names)

    table = table[in_years & ~table["Entity"].isin(list(unmapped))]
    table = table.assign(__code=table["Entity"].map(codes).fillna(""))
    long = _melt(table, {"__code": "ref_area_code", "Entity": "ref_area_name", "Year": "year"}, list(mapping))
    return long.assign(source_variable=long["source_column"], variable=long["source_column"].map(mapping),
                       code_column="Entity", year_column="Year")


@lru_cache(maxsize=1)
def _country_converter():
    import country_converter as coco  # local: its import reads and compiles its whole table (about 1 s)

    return coco.CountryConverter()


@lru_cache(maxsize=8)
def entity_codes(names: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """({name: ISO3, or '' for an aggregate}, {name: why it is not mapped}) for English entity names.

    In order: aggregate names and explicit codes from data/mappings/ict_variables.yaml (entity_aggregates,
    entity_codes), then country_converter's regular expressions. A name it does not find, finds several
    countries for ("Serbia (including Kosovo)"), maps to a code the project does not know, or maps to the same
    code as another name in the file is not mapped: it is reported, never guessed.
    """
    spec = variable_map()
    aggregates, explicit = spec["entity_aggregates"], spec["entity_codes"]
    codes: dict[str, str] = {}
    unmapped: dict[str, str] = {}
    rest = []
    for name in names:
        if name in aggregates:
            codes[name] = ""
        elif name in explicit:
            codes[name] = str(explicit[name])
        else:
            rest.append(name)
    if rest:
        not_found = "__not_found__"
        converter_log = logging.getLogger("country_converter")
        level = converter_log.level
        converter_log.setLevel(logging.ERROR)  # it warns once per name it misses: reported below instead
        try:
            # src="regex": a name of 2-3 letters ("Chad" is 4) must not be read as an ISO code; the exclusion
            # prefixes are turned off so that "X, excluding Y" is not silently read as X
            found = _country_converter().convert(rest, src="regex", to="ISO3", enforce_list=True,
                                                 not_found=not_found, exclude_prefix=["(?!)"])
        finally:
            converter_log.setLevel(level)
        for name, result in zip(rest, found):
            if result == [not_found]:
                unmapped[name] = "no country matches the name"
            elif len(result) > 1:
                unmapped[name] = f"matches several countries ({', '.join(map(str, result))})"
            else:
                codes[name] = str(result[0])
    known = known_country_codes()
    by_code: dict[str, list[str]] = {}
    for name, code in codes.items():
        if code:
            by_code.setdefault(code, []).append(name)
    for code, same in by_code.items():
        if code not in known:
            for name in same:
                unmapped[name] = f"maps to {code}, not an ISO 3166-1 alpha-3 code the project knows"
        elif len(same) > 1:
            for name in same:
                others = ", ".join(repr(o) for o in same if o != name)
                unmapped[name] = f"maps to {code} like {others}"
    return {n: c for n, c in codes.items() if n not in unmapped}, unmapped


def _typed(path: Path, long: pd.DataFrame) -> pd.DataFrame:
    """Parse years and values; every cell that is not a number is named (line, the file's column with the
    variable it holds, the text), with why when it is a number written as a spreadsheet shows it ("1,234.5")."""
    long = long.reset_index(drop=True)
    values = pd.to_numeric(long["value"], errors="coerce")
    bad = long[values.isna()]
    if len(bad):
        raise InputError([Violation(str(path), number_problem(cell.value) or "not a number", int(cell.source_row),
                                    cell.source_column, cell.value, cell.variable, "line")
                          for cell in bad.itertuples(index=False)])
    years = pd.to_numeric(long["year"], errors="coerce")
    bad = long[years.isna() | (years % 1 != 0)].drop_duplicates(["source_row", "year_column"])
    if len(bad):
        raise InputError([Violation(str(path), "year is not a whole number", int(cell.source_row),
                                    cell.year_column, cell.year, "year", "line")
                          for cell in bad.itertuples(index=False)])
    return long.assign(value=values.astype("float64"), year=years.astype("int64"),
                       source_row=long["source_row"].astype("int64"),
                       ref_area_code=long["ref_area_code"].str.strip())


def load_raw_ict(con, sources: list[IctSource]) -> list[dict]:
    """Read every source file into raw.ict_country_year, its provenance into raw.ict_files, and the entity
    names that map to no country into raw.unmapped_entities.

    All files are read before anything is written, so a bad file leaves the previous raw tables as they were.
    """
    from indicators.warehouse import replace_table  # local: keeps the reader importable without a warehouse

    frames, provenance, unmapped = [], [], []
    for source in sources:
        frame, notes = read_ict_file_with_notes(source)
        frames.append(frame.assign(priority=source.priority, source_id=source.source_id))
        provenance.append(file_provenance(source, rows=len(frame), notes=notes))
        unmapped.extend(notes.unmapped)
    replace_table(con, tables.RAW_ICT_COUNTRY_YEAR, pd.concat(frames, ignore_index=True))
    replace_table(con, tables.RAW_ICT_FILES, pd.DataFrame(provenance))
    replace_table(con, tables.RAW_UNMAPPED_ENTITIES, unmapped_frame(unmapped))
    return provenance


def unmapped_frame(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=UNMAPPED_COLUMNS)
    return frame.astype({"source_file": "string", "source_id": "string", "entity": "string", "rows": "int64",
                         "first_row": "int64", "value_cells": "int64", "reason": "string"})
