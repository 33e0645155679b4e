"""Read incident-report files (NCMEC CyberTipline reports by country) into one long raw table.

The files are listed under the top-level key `incidents:` of the sources manifest (the same sources.yaml that
lists the ICT files), one entry per file:

    incidents:
      - file: ncmec_reports_by_country.csv
        layout: ncmec_by_country
        reporting_org: NCMEC
        description: ...
        licence: ...
        synthetic: false
        unattributed_codes:            # optional: codes in the file that name no country
          EEE: "Europe: a region, not a country"

Supported layouts:
- ``ncmec_by_country``: NCMEC's yearly "CyberTipline reports by country" tables transcribed wide:
  ``country, iso3, 2019, 2020, ...``; counts written with thousands separators ("163,120", quoted in the CSV);
  an empty cell means no figure (not zero); one row without a code ("No Country Listed") holds the reports
  NCMEC could not attribute to a country. The yearly totals NCMEC publishes include that row.

Every non-empty count becomes one row of raw.incident_reports with the file, the 1-based line number a provider
sees in an editor and the column (year) it came from, so that any rule broken later can be traced to the cell.
Nothing is decided here: rows without a country stay in raw and are set aside at harmonisation.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from indicators import tables
from indicators.delivered_csv import (COUNTRY_FILE, check_header_names, country_file_records, field_count_problem,
                                      header_and_rows)
from indicators.errors import ConfigError, InputError
from indicators.files import sha256_file
from indicators.sources.manifest import read_manifest
from schemas.incidents import ALL_TYPES, REPORTING_ORGS

log = logging.getLogger(__name__)

INCIDENTS_KEY = "incidents"
# layout -> the organisation whose figures it holds
LAYOUTS = {"ncmec_by_country": "NCMEC"}
NCMEC_ID_COLUMNS = ["country", "iso3"]
RAW_COLUMNS = {  # column -> DuckDB type of raw.incident_reports
    "source_id": "VARCHAR", "source_file": "VARCHAR", "source_row": "BIGINT", "source_column": "VARCHAR",
    "code_column": "VARCHAR", "country_name": "VARCHAR", "country_code": "VARCHAR", "year": "BIGINT",
    "reporting_org": "VARCHAR", "incident_type": "VARCHAR", "reports": "BIGINT",
}
FILE_COLUMNS = {  # column -> DuckDB type of raw.incident_files (provenance)
    "source_id": "VARCHAR", "path": "VARCHAR", "layout": "VARCHAR", "reporting_org": "VARCHAR",
    "sha256": "VARCHAR", "bytes": "BIGINT", "rows": "BIGINT", "synthetic": "BOOLEAN", "licence": "VARCHAR",
    "description": "VARCHAR", "citation": "VARCHAR", "loaded_at": "VARCHAR",
}
UNATTRIBUTED_COLUMNS = {"source_id": "VARCHAR", "country_code": "VARCHAR", "reason": "VARCHAR"}
# a count as NCMEC prints it: digits, grouped by three with commas when it has more than three ("1,668,157");
# a plain run of digits ("15", "1234") is unambiguous too. "12,34" (a decimal comma?) and "1.234" are not.
COUNT_PATTERN = re.compile(r"^(\d{1,3}(,\d{3})+|\d+)$")
DOT_GROUPS = re.compile(r"^\d{1,3}(\.\d{3})+$")  # 1.234: grouped with '.', as many European spreadsheets do
SPACE_GROUPS = re.compile(r"^\d{1,3}([ \u00a0\u202f']\d{3})+$")  # 1 234, 1'234
DECIMAL = re.compile(r"^\d*[.,]\d+$")  # 12.5, 12,34, 1,2345
YEAR_HEADER = re.compile(r"^\d{4}$")


@dataclass(frozen=True)
class IncidentSource:
    """One incident file as the `incidents:` key of the sources manifest describes it."""

    path: Path
    layout: str
    reporting_org: str
    description: str = ""
    citation: str = ""  # the short "Source:" line charts and the report print under this file's series
    licence: str = ""
    synthetic: bool = False
    # codes in the file that name no country (a region, a dissolved country), with the reason; set aside at
    # harmonisation like the rows without a code, instead of failing the known-country rule
    unattributed_codes: dict[str, str] = field(default_factory=dict)

    @property
    def source_id(self) -> str:
        return self.path.stem


# ---------------------------------------------------------------------------------------------- manifest
def load_incident_sources(sources_dir: Path, manifest: Path | str | None = None) -> list[IncidentSource]:
    """The incident files of the manifest's `incidents:` key; [] when the manifest or the key is absent.

    `manifest` defaults to <sources_dir>/sources.yaml; file names in it resolve against sources_dir (so a
    manifest kept elsewhere can describe a folder of real files). Without incident files the build goes on
    without the incident indicators (IR.12-IR.16 ...), which is logged here.
    """
    sources_dir = Path(sources_dir)
    if not sources_dir.is_dir():
        raise ConfigError(f"{sources_dir}: source folder does not exist")
    manifest = Path(manifest) if manifest else sources_dir / "sources.yaml"
    if not manifest.exists():
        if manifest != sources_dir / "sources.yaml":
            raise ConfigError(f"{manifest}: sources manifest does not exist")
        log.info("%s: no sources manifest, so no incident files: the incident indicators are not computed",
                 sources_dir)
        return []
    spec = read_manifest(manifest)
    entries = spec.get(INCIDENTS_KEY)
    if entries is None:
        log.info("%s: no '%s' key, so no incident files: the incident indicators are not computed",
                 manifest, INCIDENTS_KEY)
        return []
    if not isinstance(entries, list):
        raise ConfigError(f"{manifest}: key '{INCIDENTS_KEY}' must be a list of files")
    default_synthetic = bool(spec.get("synthetic", False))
    out: list[IncidentSource] = []
    for i, entry in enumerate(entries):
        out.append(_source(manifest, sources_dir, i, entry, default_synthetic))
    seen: dict[str, int] = {}
    for i, source in enumerate(out):
        if source.source_id in seen:
            raise ConfigError(f"{manifest}: {INCIDENTS_KEY}[{i}] ({source.path.name}): the file name (source id "
                              f"{source.source_id!r}) is already used by {INCIDENTS_KEY}[{seen[source.source_id]}]")
        seen[source.source_id] = i
    return out


def _source(manifest: Path, sources_dir: Path, i: int, entry: object, default_synthetic: bool) -> IncidentSource:
    where = f"{manifest}: {INCIDENTS_KEY}[{i}]"
    if not isinstance(entry, dict) or not entry.get("file"):
        raise ConfigError(f"{where}: each incident source needs a 'file' key")
    where += f" ({entry['file']})"
    layout = entry.get("layout")
    if layout not in LAYOUTS:
        raise ConfigError(f"{where}.layout: {layout!r} is not one of {', '.join(LAYOUTS)}")
    org = entry.get("reporting_org")
    if org not in REPORTING_ORGS:
        raise ConfigError(f"{where}.reporting_org: {org!r} is not one of {', '.join(REPORTING_ORGS)}")
    if org != LAYOUTS[layout]:
        raise ConfigError(f"{where}.reporting_org: layout {layout} holds {LAYOUTS[layout]} figures, not {org}")
    codes = entry.get("unattributed_codes") or {}
    if not isinstance(codes, dict) or not all(isinstance(k, str) and isinstance(v, str) and v.strip()
                                              for k, v in codes.items()):
        raise ConfigError(f"{where}.unattributed_codes: a mapping of code to the reason it names no country")
    path = (sources_dir / str(entry["file"])).resolve()
    if not path.is_file():
        raise ConfigError(f"{where}.file: {path} does not exist")
    return IncidentSource(path=path, layout=layout, reporting_org=org,
                          description=str(entry.get("description", "")), licence=str(entry.get("licence", "")),
                          citation=str(entry.get("citation", "")),
                          synthetic=bool(entry.get("synthetic", default_synthetic)),
                          unattributed_codes={k.strip(): v.strip() for k, v in codes.items()})


def file_provenance(source: IncidentSource, rows: int) -> dict:
    return {"source_id": source.source_id, "path": str(source.path), "layout": source.layout,
            "reporting_org": source.reporting_org, "sha256": sha256_file(source.path),
            "bytes": source.path.stat().st_size, "rows": rows, "synthetic": source.synthetic,
            "licence": source.licence, "description": source.description, "citation": source.citation,
            "loaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


# ------------------------------------------------------------------------------------------------ reading
def read_incident_file(source: IncidentSource) -> pd.DataFrame:
    """Read one file into the long raw layout (RAW_COLUMNS); raise InputError naming file, line and column."""
    path = source.path
    table = _records(path)
    reader = {"ncmec_by_country": _read_ncmec_by_country}[source.layout]
    long = reader(source, table)
    return long.assign(source_id=source.source_id, source_file=str(path), reporting_org=source.reporting_org,
                       incident_type=ALL_TYPES)[list(RAW_COLUMNS)].reset_index(drop=True)


def _records(path: Path) -> pd.DataFrame:
    """The CSV as text cells, with the 1-based editor line each record starts on (`__line`; a quoted field may
    span lines) and the header's line in attrs["header_line"]. Blank lines are skipped. What is wrong with the
    file as a whole (not a CSV, not UTF-8, another delimiter, a column named twice, a record with more or fewer
    fields than the header) is said once, before any column of the layout is looked for."""
    header_line, header, rows = header_and_rows(country_file_records(path))
    if header_line is None:
        raise InputError.at_line(path, "no header line found (the file holds only blank lines)", 1)
    header = [f.strip() for f in header]
    check_header_names(path, header, header_line, COUNTRY_FILE)
    rows = list(rows)
    if not rows:
        raise InputError.at_line(path, "file has a header but no data rows", header_line)
    problem = field_count_problem(path, len(header), rows, ",", COUNTRY_FILE)
    if problem is not None:
        raise problem
    table = pd.DataFrame([fields for _, fields in rows], columns=header, dtype=str)
    table.insert(0, "__line", [line for line, _ in rows])
    table.attrs["header_line"] = header_line
    return table


def parse_count(path: Path, text: str, row: int, column: str) -> int:
    """A report count as NCMEC prints it ("163,120", "15") -> int; anything else is an InputError for the cell
    (`row` is its editor line, `column` the year header it is under), saying why when it can tell."""
    if text.startswith("-") and COUNT_PATTERN.match(text[1:]):
        raise InputError.at_line(path, "report count is negative (counts are whole numbers >= 0)", row, column,
                                 text, harmonised="reports")
    if not COUNT_PATTERN.match(text):
        raise InputError.at_line(path, _count_problem(text), row, column, text, harmonised="reports")
    return int(text.replace(",", ""))


def _count_problem(text: str) -> str:
    """Why a count cell is not a count as NCMEC prints it, in words."""
    if DOT_GROUPS.match(text):
        return (f"'.' is not the thousands separator of this layout: write {text.replace('.', ',')} or "
                f"{text.replace('.', '')}")
    if SPACE_GROUPS.match(text):
        plain = re.sub(r"[ \u00a0\u202f']", "", text)
        return f"remove the spaces or quotes between digit groups: write {int(plain):,} or {plain}"
    if DECIMAL.match(text):
        return ("report count is not a whole number: it has a decimal part or a misplaced thousands separator "
                "(counts are written like 163,120 or 15)")
    return "report count is not a whole number written with thousands separators (e.g. 163,120 or 15)"


def _read_ncmec_by_country(source: IncidentSource, table: pd.DataFrame) -> pd.DataFrame:
    path, header_row = source.path, int(table.attrs.get("header_line", 1))
    for column in NCMEC_ID_COLUMNS:
        if column not in table.columns:
            raise InputError.at_line(path, "missing required column for layout ncmec_by_country (expected "
                                           "country, iso3, then one column per year)", header_row, column)
    year_columns = []
    for column in table.columns:
        if column in ("__line", *NCMEC_ID_COLUMNS):
            continue
        if not YEAR_HEADER.match(column):
            raise InputError.at_line(path, "unexpected column in an ncmec_by_country file (expected a year, "
                                           "e.g. 2023)", header_row, column)
        year_columns.append(column)
    if not year_columns:
        raise InputError.at_line(path, "no year columns besides country and iso3", header_row)
    table = table.assign(country=table["country"].str.strip(), iso3=table["iso3"].str.strip())
    unnamed = (table["country"] == "") & (table["iso3"] == "")
    filled = (table[year_columns].apply(lambda c: c.str.strip()) != "").any(axis=1)
    if (unnamed & filled).any():
        line = int(table.loc[unnamed & filled, "__line"].iloc[0])
        raise InputError.at_line(path, "counts on a row with neither a country name nor a code", line,
                                 "country")
    # a country listed twice is a copy error; the same code under two names is not (NCMEC lists some
    # territories under two names, e.g. "French Guiana" and "Guiana, French"): harmonisation combines those
    key = table["country"] + "\x00" + table["iso3"]
    repeated = key.duplicated(keep="first") & ~unnamed
    if repeated.any():
        first = table[repeated].iloc[0]
        earlier = int(table.loc[key == key[repeated].iloc[0], "__line"].iloc[0])
        raise InputError.at_line(path, f"country listed twice (also at line {earlier})", int(first["__line"]),
                                 "country", first["country"], harmonised="country_name")
    long = (table.melt(id_vars=["__line", "country", "iso3"], value_vars=year_columns, var_name="source_column",
                       value_name="text")
            .rename(columns={"__line": "source_row", "country": "country_name", "iso3": "country_code"}))
    long["text"] = long["text"].str.strip()
    long = long[long["text"] != ""].sort_values(["source_row", "source_column"], kind="stable")
    reports = [parse_count(path, t, int(r), c) for t, r, c in
               zip(long["text"], long["source_row"], long["source_column"])]
    return long.assign(reports=pd.array(reports, dtype="Int64"), year=long["source_column"].astype("int64"),
                       source_row=long["source_row"].astype("int64"), code_column="iso3")


# ---------------------------------------------------------------------------------------------- warehouse
def load_raw_incidents(con, sources: list[IncidentSource]) -> list[dict]:
    """Read every incident file into raw.incident_reports, its provenance into raw.incident_files and the
    manifest's unattributed codes into raw.incident_unattributed_codes. With no sources the tables are empty.

    All files are read before anything is written, so a bad file leaves the previous raw tables as they were.
    """
    from indicators.warehouse import write_typed_table  # local: keeps the reader importable without a warehouse

    frames, provenance, unattributed = [], [], []
    for source in sources:
        frame = read_incident_file(source)
        frames.append(frame)
        provenance.append(file_provenance(source, rows=len(frame)))
        unattributed += [{"source_id": source.source_id, "country_code": code, "reason": reason}
                         for code, reason in source.unattributed_codes.items()]
    write_typed_table(con, tables.RAW_INCIDENT_REPORTS, RAW_COLUMNS,
                      pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(RAW_COLUMNS)))
    write_typed_table(con, tables.RAW_INCIDENT_FILES, FILE_COLUMNS,
                      pd.DataFrame(provenance, columns=list(FILE_COLUMNS)))
    write_typed_table(con, tables.RAW_INCIDENT_UNATTRIBUTED_CODES, UNATTRIBUTED_COLUMNS,
                      pd.DataFrame(unattributed, columns=list(UNATTRIBUTED_COLUMNS)))
    return provenance
