"""The bad-input corpus (issue 13, point 4): every case is a folder tests/reliability/corpus/<case>/ holding the
input file(s) a provider might send and `case.yaml`, which says what the build must make of them and what the
person who made the mistake must read. Every file is written by this script from the bundled SYNTHETIC sample
(data/sample) and small survey deliveries in the style of tests/test_survey_partitions.py; nothing is edited by
hand. The random choices (which lines are broken) come from one seed, so a second run writes the same bytes.

    python tests/reliability/make_corpus.py          # (re)write tests/reliability/corpus/
    python tests/reliability/make_corpus.py --docs   # (re)write docs/reliability.md from the case.yaml files

case.yaml keys (tests/reliability/test_corpus.py reads them):
  kind         ict | incidents | survey_microdata
  description  what is wrong with the input, in one sentence
  expected     outcome: accepted_with_fixes | rows_rejected | source_rejected | build_failed
               message: fragments the user must read, exactly (build output; for a survey delivery also the
                        manifest's left_out, quality_report.parquet or quality.rejected_rows)
               input_rows: (accepted) {source id: rows the manifest's inputs must record for the file}
               ref_areas: (optional, survey) the countries published under the delivery's source id
               published: (optional) {release file: [fragments it must hold]}
  known_gap    (optional) how today's behaviour falls short; the test expects the case to fail until it is fixed
  own_build    (optional) why a survey case runs in a build of its own instead of the shared one
  manifest_entries  (optional, country-level) entries added to the sample's sources.yaml for files of the case
               that sit beside the sample's: [{section: sources | incidents, place: first | last, entry: {...}}]
               (an ICT file listed first takes priority where files overlap)
  generated_at_test_time  (optional) a file too large to commit, written into the build's folder by
               write_generated_file() when the test runs
Country-level cases (ict, incidents): the files are copied over the sample's in the build's sources folder.
Survey cases: the files (a delivery and its mapping spec child_survey_<source_id>.yaml) go into its mappings folder.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import gzip
import io
import shutil
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SAMPLE = REPO / "data" / "sample"
CORPUS = HERE / "corpus"
DOCS = REPO / "docs" / "reliability.md"
SEED = 20261213
KINDS = ("ict", "incidents", "survey_microdata")
OUTCOMES = ("accepted_with_fixes", "rows_rejected", "source_rejected", "build_failed")
ICT_FILE, INCIDENT_FILE = "ict_country_year.csv", "ncmec_reports_by_country.csv"
FORMULA = "=cmd|' /C calc'!A0"  # the classic spreadsheet payload: Excel would offer to start calc.exe
LARGE_BYTES = 200_000_000  # the large delivery, written at test time (never committed)


@dataclass
class Case:
    name: str
    kind: str
    description: str
    outcome: str
    message: list[str]
    files: dict[str, bytes]
    extra: dict = field(default_factory=dict)  # known_gap, own_build, manifest_entries, generated_at_test_time
    expected_extra: dict = field(default_factory=dict)  # input_rows, ref_areas, published

    def as_yaml(self) -> dict:
        expected = {"outcome": self.outcome, "message": self.message, **self.expected_extra}
        return {"kind": self.kind, "description": self.description, "expected": expected, **self.extra}


CASE_MAKERS = []


def case(maker):
    """Register a function that returns one Case (the order of registration is the order of the docs table)."""
    CASE_MAKERS.append(maker)
    return maker


def rng_for(name: str) -> np.random.Generator:
    """The case's own random numbers: the corpus seed and the case name, so adding a case changes no other."""
    return np.random.default_rng([SEED, zlib.crc32(name.encode())])


# ------------------------------------------------------------------------------------------ the sample files
def sample_lines(name: str) -> list[str]:
    """The sample file's lines with their '\n'."""
    return (SAMPLE / name).read_text(encoding="utf-8").splitlines(keepends=True)


def ict_subset() -> list[str]:
    """A small ICT file cut from the sample: the header, the first four countries (lines 2-101: AFG, ALB, DZA,
    AND, 2000-2024) and Côte d'Ivoire (lines 102-126, whose name is not ASCII). Country-level cases that fail the
    build need no more, and the committed corpus stays small."""
    lines = sample_lines(ICT_FILE)
    ivory = [line for line in lines if line.startswith("CIV,")]
    return lines[:101] + ivory


def encoded(lines: list[str], encoding: str = "utf-8") -> bytes:
    return "".join(lines).encode(encoding)


def set_field(line: str, position: int, value: str) -> str:
    """The CSV line (no quoted commas before `position`) with field `position` replaced by `value`."""
    fields = line.rstrip("\n").split(",")
    fields[position] = value
    return ",".join(fields) + "\n"


def pick_lines(name: str, first: int, last: int, count: int) -> list[int]:
    """`count` distinct editor line numbers in [first, last], sorted, chosen with the case's seed."""
    return sorted(int(n) for n in rng_for(name).choice(np.arange(first, last + 1), size=count, replace=False))


def gzipped(data: bytes) -> bytes:
    """A gzip file of `data` in stored (uncompressed) deflate blocks, written byte by byte: the same bytes with any
    zlib build (compressed output may differ between zlib versions), no timestamp."""
    out = bytearray(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")  # magic, deflate, no flags, mtime 0, OS unknown
    chunks = [data[i:i + 0xFFFF] for i in range(0, len(data), 0xFFFF)] or [b""]
    for number, chunk in enumerate(chunks):
        out += bytes([number == len(chunks) - 1])  # BFINAL on the last block, BTYPE 00 (stored)
        out += len(chunk).to_bytes(2, "little") + (len(chunk) ^ 0xFFFF).to_bytes(2, "little") + chunk
    out += zlib.crc32(data).to_bytes(4, "little") + (len(data) & 0xFFFFFFFF).to_bytes(4, "little")
    assert gzip.decompress(bytes(out)) == data
    return bytes(out)


def zipped(members: dict[str, bytes]) -> bytes:
    """A zip archive of `members`, stored (no compression) with a fixed date: the same bytes on every run."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for member, data in members.items():
            archive.writestr(zipfile.ZipInfo(member, date_time=(2026, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


ICT_HEADER_LINE = sample_lines(ICT_FILE)[0]
ICT_HEADER = ICT_HEADER_LINE.rstrip("\n").split(",")
INTERNET, MOBILE, POPULATION = (ICT_HEADER.index(c) for c in ("internet_users_pct", "mobile_cellular_per_100",
                                                               "population_total"))


# --------------------------------------------------------------------------------------------- ICT cases
def ict_case(name: str, description: str, outcome: str, message: list[str], data: bytes, **extra) -> Case:
    expected_extra = extra.pop("expected_extra", {})
    return Case(name, "ict", description, outcome, message, {ICT_FILE: data}, extra, expected_extra)


def value_cells(lines: list[str], first_value_column: int = 3) -> int:
    """The value cells of a CSV (header first) that a reader turns into rows: the non-empty cells from column
    `first_value_column` (0-based) on; cop_tidy: after ref_area, ref_area_name and year; ncmec_by_country: 2."""
    frame = pd.read_csv(io.StringIO("".join(lines)), dtype=str, keep_default_na=False)
    values = frame.iloc[:, first_value_column:]
    return int((values.apply(lambda column: column.str.strip()) != "").sum().sum())


@case
def ict_latin1_encoding():
    lines = ict_subset()
    return ict_case("ict_latin1_encoding", "The ICT file saved as latin-1 (Windows) instead of UTF-8: "
                    "'Côte d'Ivoire' on line 102 is not UTF-8.", "build_failed",
                    [f"{ICT_FILE}: bytes at line 102 are not UTF-8 — is the file latin-1? Save it as UTF-8",
                     "(value \"Côte d'Ivoire\")"], encoded(lines, "latin-1"))


@case
def ict_utf16_text():
    return ict_case("ict_utf16_text", "The ICT file saved as Excel's 'Unicode text' (UTF-16).", "build_failed",
                    [f"{ICT_FILE}, line 1: the file is UTF-16 text (Excel's 'Unicode text'), not UTF-8: save it "
                     "as 'CSV UTF-8 (comma delimited)'"], encoded(ict_subset(), "utf-16"))


@case
def ict_truncated_mid_row():
    lines = ict_subset()
    cut = lines[:60] + [lines[60][:22]]  # line 61 stops after 22 characters, inside a value, with no line break
    fields = cut[-1].count(",") + 1
    return ict_case("ict_truncated_mid_row", "The upload stopped in the middle of line 61: the file ends with "
                    "half a row.", "build_failed",
                    [f"{ICT_FILE}, line 61: row has {fields} fields but the header has 9"], encoded(cut))


@case
def ict_empty_file():
    return ict_case("ict_empty_file", "The ICT file is empty (0 bytes).", "build_failed",
                    [f"{ICT_FILE}: file is empty"], b"")


@case
def ict_header_only():
    return ict_case("ict_header_only", "The ICT file has its header line and no data.", "build_failed",
                    [f"{ICT_FILE}, line 1: file has a header but no data rows"], encoded(ict_subset()[:1]))


@case
def ict_header_repeated():
    lines = ict_subset()
    joined = lines[:51] + lines[:1] + lines[51:]  # a second export pasted below the first, header included
    return ict_case("ict_header_repeated", "Two exports joined into one file: the header line appears again as "
                    "line 52.", "build_failed",
                    [f"{ICT_FILE}, line 52, column 'internet_users_pct': not a number (value 'internet_users_pct')",
                     f"{ICT_FILE}, line 52, column 'population_0_14': not a number (value 'population_0_14')"],
                    encoded(joined))


@case
def ict_column_named_twice():
    lines = ict_subset()
    header = ICT_HEADER.copy()
    header[MOBILE] = "internet_users_pct"
    return ict_case("ict_column_named_twice", "The header names 'internet_users_pct' twice (the mobile column was "
                    "renamed by mistake).", "build_failed",
                    [f"{ICT_FILE}, line 1, column 'internet_users_pct': column name appears twice in the header "
                     "(columns 4 and 5)"], encoded([",".join(header) + "\n"] + lines[1:]))


@case
def ict_extra_column():
    lines = [line.rstrip("\n") + ",\n" for line in ict_subset()]
    lines[0] = lines[0].rstrip(",\n") + ",notes\n"
    return ict_case("ict_extra_column", "A 'notes' column the ICT layout does not know was added at the end.",
                    "build_failed",
                    [f"{ICT_FILE}, line 1, column 'notes': column is not a known ICT series; add it to "
                     "data/mappings/ict_variables.yaml (column_labels, or ignored_column_labels if it is "
                     "deliberately not used)"], encoded(lines))


@case
def ict_missing_column():
    frame = pd.read_csv(io.StringIO("".join(ict_subset())), dtype=str, keep_default_na=False)
    text = frame.drop(columns=["year"]).to_csv(index=False, lineterminator="\n")
    return ict_case("ict_missing_column", "The 'year' column is missing.", "build_failed",
                    [f"{ICT_FILE}, line 1, column 'year': missing required column for layout cop_tidy (expected "
                     "ref_area, year)"], text.encode())


@case
def ict_renamed_column():
    lines = ict_subset()
    lines[0] = lines[0].replace("internet_users_pct", "internet_users_percent")
    return ict_case("ict_renamed_column", "The column 'internet_users_pct' was renamed 'internet_users_percent'.",
                    "build_failed",
                    [f"{ICT_FILE}, line 1, column 'internet_users_percent': column is not a known ICT series"],
                    encoded(lines))


@case
def ict_semicolon_delimiter():
    lines = [line.replace(",", ";") for line in ict_subset()]
    return ict_case("ict_semicolon_delimiter", "The ICT file was saved with ';' between fields (a European "
                    "spreadsheet's CSV).", "build_failed",
                    [f"{ICT_FILE}, line 1: the header is one column containing ';' — is the delimiter ';'? This "
                     "file must be comma-separated"], encoded(lines))


@case
def ict_thousands_separators():
    lines = ict_subset()
    broken = pick_lines("ict_thousands_separators", 2, 101, 3)
    message = []
    for number in broken:
        fields = lines[number - 1].rstrip("\n").split(",")
        plain = fields[POPULATION]
        grouped = f"{int(plain):,}"
        fields[POPULATION] = f'"{grouped}"'
        lines[number - 1] = ",".join(fields) + "\n"
        message.append(f"{ICT_FILE}, line {number}, column 'population_total': not a number: remove the thousands "
                       f"separators (write {plain}) (value '{grouped}')")
    return ict_case("ict_thousands_separators", "Three population counts written with thousands separators "
                    f"('{grouped}').", "build_failed", message, encoded(lines))


@case
def ict_decimal_comma():
    lines = ict_subset()
    [number] = pick_lines("ict_decimal_comma", 2, 101, 1)
    value = lines[number - 1].split(",")[INTERNET]
    comma = value.replace(".", ",")
    lines[number - 1] = set_field(lines[number - 1], INTERNET, f'"{comma}"')
    return ict_case("ict_decimal_comma", "An Internet-use percentage written with a decimal comma.",
                    "build_failed",
                    [f"{ICT_FILE}, line {number}, column 'internet_users_pct': not a number: decimal comma; write "
                     f"{value} with a decimal point (value '{comma}')"], encoded(lines))


@case
def ict_out_of_range():
    lines = ict_subset()
    [number] = pick_lines("ict_out_of_range", 2, 101, 1)
    lines[number - 1] = set_field(lines[number - 1], INTERNET, "130.5")
    return ict_case("ict_out_of_range", "An Internet-use percentage of 130.5.", "build_failed",
                    [f"{ICT_FILE}, line {number}, column 'internet_users_pct': internet_users_pct is a percentage "
                     "and must be within [0, 100] (value '130.5')"], encoded(lines))


@case
def ict_negative_value():
    lines = ict_subset()
    [number] = pick_lines("ict_negative_value", 2, 101, 1)
    lines[number - 1] = set_field(lines[number - 1], MOBILE, "-12.5")
    return ict_case("ict_negative_value", "A negative number of mobile subscriptions per 100 inhabitants.",
                    "build_failed",
                    [f"{ICT_FILE}, line {number}, column 'mobile_cellular_per_100': mobile_cellular_per_100 is per "
                     "100 inhabitants and must be >= 0 and below 500 (value '-12.5')"], encoded(lines))


@case
def ict_unknown_country():
    lines = ict_subset()
    [number] = pick_lines("ict_unknown_country", 2, 101, 1)
    lines[number - 1] = set_field(lines[number - 1], 0, "ZZZ")
    return ict_case("ict_unknown_country", "A country code no one knows ('ZZZ').", "build_failed",
                    [f"{ICT_FILE}, line {number}, column 'ref_area': the country code must be an ISO 3166-1 alpha-3 "
                     "code known to pycountry or explicitly mapped (value 'ZZZ')"], encoded(lines))


@case
def ict_formula_as_country_code():
    lines = ict_subset()
    [number] = pick_lines("ict_formula_as_country_code", 2, 101, 1)
    lines[number - 1] = set_field(lines[number - 1], 0, f'"{FORMULA}"')
    return ict_case("ict_formula_as_country_code", "Spreadsheet formula text in the country-code column.",
                    "build_failed",
                    [f"{ICT_FILE}, line {number}, column 'ref_area': the country code must be an ISO 3166-1 alpha-3 "
                     f"code known to pycountry or explicitly mapped (value {FORMULA!r})"], encoded(lines))


@case
def ict_duplicated_country_year():
    lines = ict_subset()
    [number] = pick_lines("ict_duplicated_country_year", 2, 100, 1)
    doubled = lines[:number] + [lines[number - 1]] + lines[number:]  # the row copied below itself
    code, _, year = lines[number - 1].split(",")[:3]
    return ict_case("ict_duplicated_country_year", f"The row of {code} {year} appears twice (copied below "
                    "itself).", "build_failed",
                    [f"{ICT_FILE}, line {number}, column 'ref_area': duplicated country-year: {code} {year} "
                     f"internet_users_pct also at line(s) {number + 1}"], encoded(doubled))


@case
def ict_gzip_as_csv():
    return ict_case("ict_gzip_as_csv", "The ICT file was sent compressed (gzip) under its .csv name.",
                    "build_failed", [f"{ICT_FILE}: the file is a gzip archive, not a CSV: unpack it first"],
                    gzipped(encoded(ict_subset())))


@case
def ict_zip_as_csv():
    return ict_case("ict_zip_as_csv", "The ICT file was sent as a zip archive under its .csv name.",
                    "build_failed", [f"{ICT_FILE}: the file is a zip archive, not a CSV: unpack it first"],
                    zipped({ICT_FILE: encoded(ict_subset())}))


@case
def ict_crlf_line_endings():
    lines = [line.replace("\n", "\r\n") for line in sample_lines(ICT_FILE)]
    return ict_case("ict_crlf_line_endings", "The whole ICT sample saved with Windows line endings (CRLF).",
                    "accepted_with_fixes", [], encoded(lines),
                    expected_extra={"input_rows": {"ict_country_year": value_cells(sample_lines(ICT_FILE))}})


@case
def ict_formula_in_name_column():
    kenya = [line for line in sample_lines(ICT_FILE) if line.startswith("KEN,")]
    lines = [ICT_HEADER_LINE] + [set_field(line, 1, f'"{FORMULA}"') for line in kenya]
    name = "ict_names.csv"
    return Case("ict_formula_in_name_column", "ict", "A second ICT file (Kenya, listed after the sample's) whose "
                "free-text country-name column holds spreadsheet formula text: the names are not published, and "
                "no published CSV cell begins like a formula.", "accepted_with_fixes", [], {name: encoded(lines)},
                {"manifest_entries": [{"section": "sources", "place": "last",
                                       "entry": {"file": name, "layout": "cop_tidy", "synthetic": True}}]},
                {"input_rows": {"ict_names": value_cells(lines)}})


FORMULA_FILE_STEM = "=cmd(calc)"  # formula text a file name can hold on every system (no '|', '/' or quote)


@case
def ict_formula_in_file_name():
    # listed first, so its values are the ones published, under its name as SOURCE_ID
    kenya = [line for line in sample_lines(ICT_FILE) if line.startswith("KEN,") and ",2024," in line]
    name = f"{FORMULA_FILE_STEM}.csv"
    return Case("ict_formula_in_file_name", "ict", f"An ICT file named '{name}' (formula text), listed first so "
                "that its value for Kenya 2024 is published under its name: SOURCE_ID is published neutralised "
                "with a leading quote in the SDMX-CSV.", "accepted_with_fixes", [],
                {name: encoded([ICT_HEADER_LINE] + kenya)},
                {"manifest_entries": [{"section": "sources", "place": "first",
                                       "entry": {"file": name, "layout": "cop_tidy", "synthetic": True}}]},
                {"input_rows": {FORMULA_FILE_STEM: value_cells([ICT_HEADER_LINE] + kenya)},
                 "published": {"observations.sdmx.csv": [f",'{FORMULA_FILE_STEM},"]}})


# ------------------------------------------------------------------------------------------ incident cases
def incident_lines() -> list[str]:
    return sample_lines(INCIDENT_FILE)


def incident_case(name: str, description: str, outcome: str, message: list[str], data: bytes, **extra) -> Case:
    expected_extra = extra.pop("expected_extra", {})
    return Case(name, "incidents", description, outcome, message, {INCIDENT_FILE: data}, extra, expected_extra)


def incident_line_of(code: str) -> int:
    """The editor line of a country's row in the sample incident file."""
    return next(n for n, line in enumerate(incident_lines(), start=1) if f",{code}," in line)


@case
def incidents_latin1_encoding():
    line = incident_line_of("CIV")
    return incident_case("incidents_latin1_encoding", "The incident file saved as latin-1: 'Côte d'Ivoire' is not "
                         "UTF-8.", "build_failed",
                         [f"{INCIDENT_FILE}: bytes at line {line} are not UTF-8 — is the file latin-1? Save it as "
                          "UTF-8", "(value \"Côte d'Ivoire\")"], encoded(incident_lines(), "latin-1"))


@case
def incidents_truncated_mid_quote():
    lines = incident_lines()
    cut = lines[:120] + [lines[120][:lines[120].index('"') + 3]]  # ends inside a quoted count: '"12'
    fields = next(csv.reader([cut[-1]]))
    return incident_case("incidents_truncated_mid_quote", "The upload stopped inside a quoted count on line 121: "
                         "the file ends with half a row.", "build_failed",
                         [f"{INCIDENT_FILE}, line 121: row has {len(fields)} fields but the header has 7"],
                         encoded(cut))


@case
def incidents_empty_file():
    return incident_case("incidents_empty_file", "The incident file is empty (0 bytes).", "build_failed",
                         [f"{INCIDENT_FILE}: file is empty"], b"")


@case
def incidents_header_only():
    return incident_case("incidents_header_only", "The incident file has its header and no data.", "build_failed",
                         [f"{INCIDENT_FILE}, line 1: file has a header but no data rows"],
                         encoded(incident_lines()[:1]))


@case
def incidents_column_named_twice():
    lines = incident_lines()
    lines[0] = lines[0].replace("2021", "2022")
    return incident_case("incidents_column_named_twice", "The header names the year 2022 twice (2021 overtyped).",
                         "build_failed",
                         [f"{INCIDENT_FILE}, line 1, column '2022': column name appears twice in the header (columns "
                          "5 and 6)"], encoded(lines))


@case
def incidents_extra_column():
    lines = [line.rstrip("\n") + ",\n" for line in incident_lines()]
    lines[0] = lines[0].rstrip(",\n") + ",notes\n"
    return incident_case("incidents_extra_column", "A 'notes' column added at the end.", "build_failed",
                         [f"{INCIDENT_FILE}, line 1, column 'notes': unexpected column in an ncmec_by_country file "
                          "(expected a year, e.g. 2023)"], encoded(lines))


@case
def incidents_missing_column():
    lines = incident_lines()
    text = "".join(lines)
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    out = frame.drop(columns=["iso3"]).to_csv(index=False, lineterminator="\n")
    return incident_case("incidents_missing_column", "The 'iso3' column is missing.", "build_failed",
                         [f"{INCIDENT_FILE}, line 1, column 'iso3': missing required column for layout "
                          "ncmec_by_country (expected country, iso3, then one column per year)"], out.encode())


@case
def incidents_renamed_column():
    lines = incident_lines()
    lines[0] = lines[0].replace("country,", "Country name,", 1)
    return incident_case("incidents_renamed_column", "The 'country' column was renamed 'Country name'.",
                         "build_failed",
                         [f"{INCIDENT_FILE}, line 1, column 'country': missing required column for layout "
                          "ncmec_by_country"], encoded(lines))


@case
def incidents_tab_delimiter():
    frame = pd.read_csv(io.StringIO("".join(incident_lines())), dtype=str, keep_default_na=False)
    out = frame.to_csv(index=False, sep="\t", lineterminator="\n")
    return incident_case("incidents_tab_delimiter", "The incident file was saved tab-separated.", "build_failed",
                         [f"{INCIDENT_FILE}, line 1: the header is one column containing a tab — is the delimiter a "
                          "tab? This file must be comma-separated"], out.encode())


@case
def incidents_dot_thousands():
    lines = incident_lines()
    number = incident_line_of("AFG")
    lines[number - 1] = lines[number - 1].replace('"199,373"', "199.373")
    return incident_case("incidents_dot_thousands", "A count written with '.' as thousands separator "
                         "('199.373').", "build_failed",
                         [f"{INCIDENT_FILE}, line {number}, column '2019' (reports): '.' is not the thousands "
                          "separator of this layout: write 199,373 or 199373 (value '199.373')"], encoded(lines))


@case
def incidents_decimal_count():
    lines = incident_lines()
    number = incident_line_of("DZA")
    lines[number - 1] = lines[number - 1].replace(",862,", ',"86,2",')
    return incident_case("incidents_decimal_count", "A count written with a decimal comma ('86,2').",
                         "build_failed",
                         [f"{INCIDENT_FILE}, line {number}, column '2021' (reports): report count is not a whole "
                          "number: it has a decimal part or a misplaced thousands separator (counts are written "
                          "like 163,120 or 15) (value '86,2')"], encoded(lines))


@case
def incidents_negative_count():
    lines = incident_lines()
    number = incident_line_of("DZA")
    lines[number - 1] = lines[number - 1].replace(",805\n", ",-805\n")
    return incident_case("incidents_negative_count", "A negative report count.", "build_failed",
                         [f"{INCIDENT_FILE}, line {number}, column '2023' (reports): report count is negative "
                          "(counts are whole numbers >= 0) (value '-805')"], encoded(lines))


@case
def incidents_unknown_country():
    lines = incident_lines()
    number = incident_line_of("AND")
    lines[number - 1] = lines[number - 1].replace(",AND,", ",ZZZ,")
    return incident_case("incidents_unknown_country", "A country code no one knows ('ZZZ').", "build_failed",
                         [f"{INCIDENT_FILE}, line {number}, column 'iso3'",
                          "ISO 3166-1 alpha-3 code known to pycountry or explicitly mapped (value 'ZZZ')"],
                         encoded(lines))


@case
def incidents_country_listed_twice():
    lines = incident_lines()
    number = incident_line_of("ARG")
    doubled = lines[:number] + [lines[number - 1]] + lines[number:]
    return incident_case("incidents_country_listed_twice", "Argentina's row appears twice.", "build_failed",
                         [f"{INCIDENT_FILE}, line {number + 1}, column 'country' (country_name): country listed "
                          f"twice (also at line {number}) (value 'Argentina')"], encoded(doubled))


@case
def incidents_xlsx_as_csv():
    workbook = zipped({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
    return incident_case("incidents_xlsx_as_csv", "An Excel workbook (.xlsx) saved under the .csv name.",
                         "build_failed", [f"{INCIDENT_FILE}: the file is an Excel workbook (.xlsx), not a CSV: save "
                                          "the sheet as CSV UTF-8"], workbook)


@case
def incidents_gzip_as_csv():
    return incident_case("incidents_gzip_as_csv", "The incident file sent compressed (gzip) under its .csv name.",
                         "build_failed", [f"{INCIDENT_FILE}: the file is a gzip archive, not a CSV: unpack it "
                                          "first"], gzipped(encoded(incident_lines())))


@case
def incidents_utf8_bom():
    return incident_case("incidents_utf8_bom", "The incident file saved as 'CSV UTF-8' by Excel: it starts with a "
                         "byte-order mark.", "accepted_with_fixes", [],
                         codecs.BOM_UTF8 + encoded(incident_lines()),
                         expected_extra={"input_rows": {"ncmec_reports_by_country": value_cells(incident_lines(), 2)}})


# --------------------------------------------------------------------------------------------- survey cases
def delivery_frame(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """A small delivery in the national names of an imaginary country (also tests/test_survey_partitions.deliver's)."""
    return pd.DataFrame({"id": np.arange(1, n + 1), "strat": rng.integers(1, 3, n), "cluster": rng.integers(1, 5, n),
                         "w": np.full(n, 100.0), "gender": rng.choice(["boy", "girl"], n),
                         "age_years": rng.integers(9, 18, n), "online": rng.choice([1, 0], n)})


def delivery_spec(source_id: str, country: str, file: str, fmt: str) -> dict:
    """The mapping spec of a `delivery_frame` file (also tests/test_survey_partitions.deliver's)."""
    return {"source_id": source_id, "target": "child_survey", "file": file, "format": fmt,
            "country": country, "wave": 2023,
            "design": {"respondent_id": "id", "stratum": "strat", "psu": "cluster", "weight": "w"},
            "rename": {"gender": "sex", "age_years": "age", "online": "uses_internet"},
            "recode": {"sex": {"boy": "M", "girl": "F"}, "uses_internet": {1: True, 0: False}},
            "derive": {"age_band": {"from": "age", "bands": {"9-11": [9, 11], "12-14": [12, 14], "15-17": [15, 17]}},
                       "parent_interviewed": {"value": False}}}


def spec_bytes(spec: dict) -> bytes:
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=120).encode("utf-8")


def csv_text(frame: pd.DataFrame, delimiter: str = ",") -> str:
    return frame.to_csv(index=False, sep=delimiter, lineterminator="\n")


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    out = io.BytesIO()
    frame.to_parquet(out, index=False)
    return out.getvalue()


def survey_case(name: str, country: str, description: str, outcome: str, message: list[str], data: bytes,
                fmt: str = "csv", spec_changes: dict | None = None, **extra) -> Case:
    """A delivery `<source_id>.<fmt>` and its spec; the source id is the case name without 'survey_'."""
    source_id = name.removeprefix("survey_")
    spec = delivery_spec(source_id, country, f"{source_id}.{fmt}", fmt)
    for key, value in (spec_changes or {}).items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    files = {f"child_survey_{source_id}.yaml": spec_bytes(spec)}
    if data is not None:
        files[str(spec["file"])] = data
    expected_extra = extra.pop("expected_extra", {})
    return Case(name, "survey_microdata", description, outcome, message, files, extra, expected_extra)


def frame_for(name: str, n: int = 120) -> pd.DataFrame:
    """The respondents of a case's delivery, from the case's own random numbers (apart from those picking lines)."""
    return delivery_frame(n, rng_for(f"{name}/respondents"))


def as_text_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every value as text (cells can then be set to anything a provider might type)."""
    return frame.astype(str)


@case
def survey_latin1_declared_utf8():
    frame = as_text_rows(frame_for("survey_latin1_declared_utf8"))
    [row] = pick_lines("survey_latin1_declared_utf8", 40, 110, 1)
    frame.loc[row - 2, "strat"] = "Région Sud"  # editor line `row` holds record row - 1
    return survey_case("survey_latin1_declared_utf8", "GHA", "A CSV delivery saved as latin-1 while its spec says "
                       "UTF-8: 'Région Sud' is not UTF-8.", "source_rejected",
                       [f"latin1_declared_utf8.csv: bytes at line {row} are not UTF-8 — is the file latin-1? "
                        "(set `encoding: latin-1` in the spec)"], csv_text(frame).encode("latin-1"))


@case
def survey_utf16_declared_utf8():
    frame = frame_for("survey_utf16_declared_utf8")
    return survey_case("survey_utf16_declared_utf8", "PHL", "A CSV delivery saved as UTF-16 ('Unicode text') "
                       "while its spec says UTF-8.", "source_rejected",
                       ["utf16_declared_utf8.csv: the file starts with a UTF-16 byte-order mark — is the file "
                        "UTF-16? (set `encoding: utf-16` in the spec)"], csv_text(frame).encode("utf-16"))


@case
def survey_truncated_csv():
    lines = csv_text(frame_for("survey_truncated_csv")).splitlines(keepends=True)
    cut = lines[:90] + [lines[90][:lines[90].index(",", 4) + 2]]  # line 91 stops after its third field
    fields = cut[-1].count(",") + 1
    return survey_case("survey_truncated_csv", "IDN", "The upload stopped in the middle of line 91 of a CSV "
                       "delivery: the file ends with half a row.", "source_rejected",
                       [f"truncated_csv.csv: line 91 has {fields} fields but the header has 7 — the file ends in "
                        "the middle of this line: was it cut off?"], "".join(cut).encode())


@case
def survey_truncated_parquet():
    data = parquet_bytes(frame_for("survey_truncated_parquet"))
    return survey_case("survey_truncated_parquet", "MEX", "A Parquet delivery cut off after its first half (an "
                       "interrupted transfer).", "source_rejected",
                       ["truncated_parquet.parquet: cannot be read as parquet: the file is incomplete (it ends "
                        "before the Parquet footer) — was the transfer cut off?"],
                       data[:len(data) // 2], fmt="parquet")


@case
def survey_empty_file():
    return survey_case("survey_empty_file", "EGY", "A CSV delivery of 0 bytes.", "source_rejected",
                       ["empty_file.csv: file is empty"], b"")


@case
def survey_header_only():
    header = csv_text(frame_for("survey_header_only")).splitlines(keepends=True)[0]
    return survey_case("survey_header_only", "MAR", "A CSV delivery with its header and no respondents.",
                       "source_rejected", ["header_only.csv: file has no data rows"], header.encode())


@case
def survey_column_named_twice():
    frame = frame_for("survey_column_named_twice")
    text = csv_text(frame.assign(age_again=frame["age_years"])).replace("age_again", "age_years")
    return survey_case("survey_column_named_twice", "UZB", "The header of a CSV delivery names 'age_years' twice.",
                       "source_rejected",
                       ["column_named_twice.csv: the header names column 'age_years' twice (columns 6 and 8); name "
                        "each column once"], text.encode())


@case
def survey_extra_column():
    frame = frame_for("survey_extra_column").assign(notes="")
    return survey_case("survey_extra_column", "KAZ", "A delivery with a 'notes' column its spec neither maps nor "
                       "ignores.", "source_rejected",
                       ["column(s) in the file that the spec neither maps nor ignores: notes"],
                       parquet_bytes(frame), fmt="parquet")


@case
def survey_missing_column():
    frame = frame_for("survey_missing_column").drop(columns=["w"])
    return survey_case("survey_missing_column", "POL", "A delivery without its weight column.", "source_rejected",
                       ["column 'w' named in the spec (key design.weight) is not in the file"],
                       parquet_bytes(frame), fmt="parquet")


@case
def survey_renamed_column():
    frame = frame_for("survey_renamed_column").rename(columns={"gender": "sexo"})
    return survey_case("survey_renamed_column", "ITA", "A delivery whose 'gender' column was renamed 'sexo'.",
                       "source_rejected",
                       ["column 'gender' named in the spec (key rename.gender) is not in the file",
                        "column(s) in the file that the spec neither maps nor ignores: sexo"],
                       parquet_bytes(frame), fmt="parquet")


@case
def survey_semicolon_declared_comma():
    text = csv_text(frame_for("survey_semicolon_declared_comma"), ";")
    return survey_case("survey_semicolon_declared_comma", "ZAF", "A CSV delivery separated by ';' while its spec "
                       "says ','.", "source_rejected",
                       ["semicolon_declared_comma.csv: the header is one column containing ';' — is the delimiter "
                        "';'? (set `delimiter: ';'` in the spec)"], text.encode(),
                       spec_changes={"csv": {"encoding": "utf-8", "delimiter": ","}})


@case
def survey_thousands_separator_weights():
    frame = as_text_rows(frame_for("survey_thousands_separator_weights"))
    frame["w"] = "1,250.5"
    return survey_case("survey_thousands_separator_weights", "NGA", "Every weight written with a thousands "
                       "separator ('1,250.5').", "source_rejected",
                       ["design variable broken: column 'w' (weight) missing, not a number, zero or negative in 120 "
                        "row(s) (lines 2, 3, 4, 5, 6, ...; values '1,250.5', '1,250.5', '1,250.5', '1,250.5', "
                        "'1,250.5')"], csv_text(frame).encode())


@case
def survey_decimal_comma_ages():
    frame = as_text_rows(frame_for("survey_decimal_comma_ages", 150))
    lines = pick_lines("survey_decimal_comma_ages", 2, 151, 3)
    for line in lines:
        frame.loc[line - 2, "age_years"] = frame.loc[line - 2, "age_years"] + ",0"
    text = csv_text(frame, ";")
    message = [f"decimal_comma_ages.csv, line {line}, column 'age_years' (age): age must be a whole number (value "
               f"'{frame.loc[line - 2, 'age_years']}')" for line in lines]
    return survey_case("survey_decimal_comma_ages", "ETH", "Three ages written with a decimal comma ('12,0') in a "
                       "';'-separated delivery: those rows are left out.", "rows_rejected", message, text.encode(),
                       spec_changes={"csv": {"encoding": "utf-8", "delimiter": ";"}})


@case
def survey_age_out_of_range():
    frame = frame_for("survey_age_out_of_range", 150)
    records = pick_lines("survey_age_out_of_range", 1, 150, 4)
    frame.loc[[r - 1 for r in records], "age_years"] = 25
    message = [f"age_out_of_range.parquet, record {r}, column 'age_years' (age): age must be between 5 and 17 "
               "(value '25')" for r in records]
    return survey_case("survey_age_out_of_range", "TZA", "Four respondents aged 25 in a survey of children "
                       "(Parquet: records, not lines): those rows are left out.", "rows_rejected", message,
                       parquet_bytes(frame), fmt="parquet")


@case
def survey_unknown_code():
    frame = as_text_rows(frame_for("survey_unknown_code", 150))
    lines = pick_lines("survey_unknown_code", 2, 151, 3)
    for line in lines:
        frame.loc[line - 2, "gender"] = "unknown"
    message = [f"unknown_code.csv, line {line}, column 'gender' (sex): sex must be one of: boy, girl (value "
               "'unknown')" for line in lines]
    return survey_case("survey_unknown_code", "UGA", "Three rows with a sex code ('unknown') the spec does not "
                       "recode: those rows are left out.", "rows_rejected", message, csv_text(frame).encode())


@case
def survey_zero_weights():
    frame = frame_for("survey_zero_weights").assign(w=0.0)
    return survey_case("survey_zero_weights", "RWA", "Every weight is 0.", "source_rejected",
                       ["design variable broken: column 'w' (weight) missing, not a number, zero or negative in 120 "
                        "row(s) (records 1, 2, 3, 4, 5, ...; values '0', '0', '0', '0', '0')"],
                       parquet_bytes(frame), fmt="parquet")


@case
def survey_negative_weights():
    frame = as_text_rows(frame_for("survey_negative_weights"))
    lines = pick_lines("survey_negative_weights", 2, 121, 3)
    for line in lines:
        frame.loc[line - 2, "w"] = "-100.0"
    return survey_case("survey_negative_weights", "SEN", "Three negative weights.", "source_rejected",
                       ["design variable broken: column 'w' (weight) missing, not a number, zero or negative in 3 "
                        f"row(s) (lines {', '.join(map(str, lines))}; values '-100.0', '-100.0', '-100.0')"],
                       csv_text(frame).encode())


@case
def survey_missing_weights():
    frame = as_text_rows(frame_for("survey_missing_weights"))
    lines = pick_lines("survey_missing_weights", 2, 121, 4)
    for line in lines:
        frame.loc[line - 2, "w"] = ""
    return survey_case("survey_missing_weights", "CIV", "Four respondents without a weight.", "source_rejected",
                       ["design variable broken: column 'w' (weight) missing, not a number, zero or negative in 4 "
                        f"row(s) (lines {', '.join(map(str, lines))})"], csv_text(frame).encode())


@case
def survey_missing_strata():
    frame = as_text_rows(frame_for("survey_missing_strata"))
    lines = pick_lines("survey_missing_strata", 2, 121, 3)
    for line in lines:
        frame.loc[line - 2, "strat"] = ""
    return survey_case("survey_missing_strata", "CMR", "Three respondents without a stratum.", "source_rejected",
                       ["design variable broken: column 'strat' (stratum) missing in 3 row(s) (lines "
                        f"{', '.join(map(str, lines))})"], csv_text(frame).encode())


@case
def survey_missing_psus():
    frame = as_text_rows(frame_for("survey_missing_psus"))
    lines = pick_lines("survey_missing_psus", 2, 121, 2)
    for line in lines:
        frame.loc[line - 2, "cluster"] = ""
    return survey_case("survey_missing_psus", "ZMB", "Two respondents without a PSU (cluster).", "source_rejected",
                       ["design variable broken: column 'cluster' (psu) missing in 2 row(s) (lines "
                        f"{', '.join(map(str, lines))})"], csv_text(frame).encode())


@case
def survey_duplicated_ids():
    frame = as_text_rows(frame_for("survey_duplicated_ids"))
    first, second = pick_lines("survey_duplicated_ids", 2, 121, 2)
    frame.loc[second - 2, "id"] = frame.loc[first - 2, "id"]
    return survey_case("survey_duplicated_ids", "ZWE", "Two respondents share one id.", "source_rejected",
                       [f"respondent id not unique: 1 id(s) repeated in column 'id' (respondent_id) (e.g. "
                        f"'{frame.loc[first - 2, 'id']}' at lines {first}, {second})"], csv_text(frame).encode())


@case
def survey_unknown_country_in_column():
    frame = as_text_rows(frame_for("survey_unknown_country_in_column", 150)).assign(pais="MWI")
    lines = pick_lines("survey_unknown_country_in_column", 2, 151, 2)
    for line in lines:
        frame.loc[line - 2, "pais"] = "ZZZ"
    message = [f"unknown_country_in_column.csv, line {line}, column 'pais' (country): country is an ISO 3166-1 "
               "alpha-3 code known to pycountry or explicitly mapped (value 'ZZZ')" for line in lines]
    return survey_case("survey_unknown_country_in_column", "MWI", "The delivery names its country in a column; two "
                       "rows say 'ZZZ': those rows are left out.", "rows_rejected", message,
                       csv_text(frame).encode(), spec_changes={"country": None, "country_column": "pais"})


@case
def survey_two_countries_in_one_file():
    frame = as_text_rows(frame_for("survey_two_countries_in_one_file", 240))
    frame["pais"] = ["MOZ"] * 120 + ["NPL"] * 120
    return survey_case("survey_two_countries_in_one_file", "MOZ", "One delivery with a country column covering "
                       "two countries (as PISA files do): each country's respondents are estimated and published "
                       "as that country.", "accepted_with_fixes", [], csv_text(frame).encode(),
                       spec_changes={"country": None, "country_column": "pais"},
                       expected_extra={"input_rows": {"two_countries_in_one_file": 240}, "ref_areas": ["MOZ", "NPL"]})


@case
def survey_inconsistent_wave():
    frame = as_text_rows(frame_for("survey_inconsistent_wave"))
    frame["ano"] = ["2022"] * 30 + ["2023"] * 90
    return survey_case("survey_inconsistent_wave", "BGD", "The wave column holds 2022 for some respondents and "
                       "2023 for the others.", "source_rejected",
                       ["a source must cover one wave; column 'ano' (wave) has 2: 2022, 2023"],
                       csv_text(frame).encode(), spec_changes={"wave": None, "wave_column": "ano"})


@case
def survey_spec_unknown_variable():
    spec_changes = {"rename": {"gender": "sex", "age_years": "age", "online": "favourite_colour"},
                    "recode": {"sex": {"boy": "M", "girl": "F"}}}
    return survey_case("survey_spec_unknown_variable", "LKA", "The spec renames 'online' to 'favourite_colour', "
                       "which the child survey does not have.", "source_rejected",
                       ["child_survey_spec_unknown_variable.yaml: key rename.online: 'favourite_colour' is not an "
                        "item or classifier of child_survey (see schemas/child_survey.py)"],
                       csv_text(frame_for("survey_spec_unknown_variable")).encode(), spec_changes=spec_changes)



@case
def survey_spec_unknown_country():
    return survey_case("survey_spec_unknown_country", "ZZZ", "The spec fixes the country 'ZZZ', which is no "
                       "country.", "source_rejected",
                       ["child_survey_spec_unknown_country.yaml: key country: 'ZZZ' breaks the rule: country is an "
                        "ISO 3166-1 alpha-3 code known to pycountry or explicitly mapped"],
                       csv_text(frame_for("survey_spec_unknown_country")).encode())



@case
def survey_gzip_as_csv():
    data = gzipped(csv_text(frame_for("survey_gzip_as_csv")).encode())
    return survey_case("survey_gzip_as_csv", "VNM", "A CSV delivery sent gzip-compressed under its .csv name.",
                       "source_rejected",
                       ["gzip_as_csv.csv: the file is a gzip archive, not a CSV: unpack it first"], data)


@case
def survey_zip_as_csv():
    data = zipped({"zip_as_csv.csv": csv_text(frame_for("survey_zip_as_csv")).encode()})
    return survey_case("survey_zip_as_csv", "THA", "A CSV delivery sent as a zip archive under its .csv name.",
                       "source_rejected",
                       ["zip_as_csv.csv: the file is a zip archive, not a CSV: unpack it first"], data)


@case
def survey_formula_in_column_name():
    frame = frame_for("survey_formula_in_column_name").rename(columns={"online": FORMULA})
    return survey_case("survey_formula_in_column_name", "PER", "A delivery whose column name is spreadsheet formula "
                       "text.", "source_rejected",
                       [f"column(s) in the file that the spec neither maps nor ignores: {FORMULA}"],
                       parquet_bytes(frame), fmt="parquet")


@case
def survey_spec_file_outside_mappings():
    # a relative path may leave the mappings folder (the real PISA specs read ../../../../shared/data): what protects
    # the build is that the file must be the one the spec describes
    return survey_case("survey_spec_file_outside_mappings", "COL", "The spec's `file:` climbs out of the mappings "
                       "folder to a file that is not this delivery ('../sources/ncmec_reports_by_country.csv').",
                       "source_rejected",
                       ["7 columns named in the spec are not in the file: 'id' (key design.respondent_id)",
                        "is this the file the spec describes?"], None,
                       spec_changes={"file": "../sources/ncmec_reports_by_country.csv"})


@case
def survey_spec_file_absolute():
    return survey_case("survey_spec_file_absolute", "ARG", "The spec's `file:` is an absolute path to a system "
                       "file ('/etc/passwd').", "source_rejected",
                       ["child_survey_spec_file_absolute.yaml: key file: '/etc/passwd' is an absolute path: give "
                        "the path relative to the spec's folder"], None, spec_changes={"file": "/etc/passwd"})


@case
def survey_spec_file_control_characters():
    name = "control_characters\x1b[2J\r.csv"  # a terminal escape (clear screen) and a carriage return
    return survey_case("survey_spec_file_control_characters", "CHL", "The spec's `file:` holds control characters "
                       "(a terminal escape and a carriage return).", "source_rejected",
                       ["child_survey_spec_file_control_characters.yaml: key file: the file name holds control "
                        "characters ('\\x1b', '\\r')"], None, spec_changes={"file": name})


@case
def survey_crlf_line_endings():
    text = csv_text(frame_for("survey_crlf_line_endings")).replace("\n", "\r\n")
    return survey_case("survey_crlf_line_endings", "ECU", "A CSV delivery with Windows line endings (CRLF).",
                       "accepted_with_fixes", [], text.encode(),
                       expected_extra={"input_rows": {"crlf_line_endings": 120}, "ref_areas": ["ECU"]})


@case
def survey_utf8_bom():
    text = csv_text(frame_for("survey_utf8_bom"))
    return survey_case("survey_utf8_bom", "BOL", "A CSV delivery saved as Excel's 'CSV UTF-8': it starts with a "
                       "byte-order mark.", "accepted_with_fixes", [], codecs.BOM_UTF8 + text.encode(),
                       expected_extra={"input_rows": {"utf8_bom": 120}, "ref_areas": ["BOL"]})


LARGE_CASE = "survey_large_file"


@case
def survey_large_file():
    lines, _ = large_file_layout()
    return survey_case(LARGE_CASE, "PRY", f"A CSV delivery of about {LARGE_BYTES // 1_000_000} MB "
                       f"({lines - 1:,} respondents) whose last line holds latin-1 bytes: the file is read as a "
                       "stream and the line is named. Written at test time, not committed.", "source_rejected",
                       [f"large_file.csv: bytes at line {lines} are not UTF-8 — is the file latin-1? (set "
                        "`encoding: latin-1` in the spec)"], None,
                       generated_at_test_time={"file": "large_file.csv", "bytes_at_least": LARGE_BYTES,
                                               "by": "tests/reliability/make_corpus.py write_generated_file()"})


# ------------------------------------------------------------------------------ the large file (test time)
BLOCK_ROWS = 10_000


def _large_block() -> str:
    """One block of BLOCK_ROWS rows; '@' stands for the block number, which makes every id unique
    (id = block number followed by the row's five digits)."""
    frame = delivery_frame(BLOCK_ROWS, rng_for(f"{LARGE_CASE}/respondents"))
    return "".join(f"@{i:05d},{s},{c},100.0,{g},{a},{o}\n" for i, s, c, g, a, o in
                   zip(range(BLOCK_ROWS), frame["strat"], frame["cluster"], frame["gender"], frame["age_years"],
                       frame["online"]))


HEADER_LARGE = "id,strat,cluster,w,gender,age_years,online\n"
LAST_LARGE_ROW = "999999999,Région Sud,1,100.0,girl,12,1\n"  # latin-1 bytes on the last line


FIRST_BLOCK = 10  # block numbers of two digits and more: ids never collide across blocks


def large_file_layout() -> tuple[int, int]:
    """(lines of the large file, number of blocks): blocks until it has LARGE_BYTES, then the latin-1 line."""
    row_bytes = len(_large_block().encode()) - BLOCK_ROWS  # a block without its '@' placeholders
    size, blocks = len(HEADER_LARGE) + len(LAST_LARGE_ROW), 0
    while size < LARGE_BYTES:
        size += row_bytes + BLOCK_ROWS * len(str(FIRST_BLOCK + blocks))
        blocks += 1
    return 1 + blocks * BLOCK_ROWS + 1, blocks


def write_generated_file(case_name: str, folder: Path) -> Path:
    """Write a case's test-time file into `folder` (the large delivery: blocks of rows, then one line of latin-1
    bytes); return its path."""
    if case_name != LARGE_CASE:
        raise ValueError(f"{case_name}: no file is generated at test time for this case")
    lines, blocks = large_file_layout()
    path = Path(folder) / "large_file.csv"
    block = _large_block()
    with open(path, "wb") as out:
        out.write(HEADER_LARGE.encode())
        for number in range(FIRST_BLOCK, FIRST_BLOCK + blocks):
            out.write(block.replace("@", str(number)).encode())
        out.write(LAST_LARGE_ROW.encode("latin-1"))
    return path


# ------------------------------------------------------------------------------------------------ writing
def all_cases() -> list[Case]:
    cases = [maker() for maker in CASE_MAKERS]
    names = [c.name for c in cases]
    assert len(set(names)) == len(names), "two cases share a name"
    for c in cases:
        assert c.kind in KINDS and c.outcome in OUTCOMES, c.name
        assert c.message or c.outcome == "accepted_with_fixes", f"{c.name}: a rejection says what is wrong"
    return cases


def write_corpus(target: Path) -> None:
    """Write every case into target/<case>/ (the folder is emptied first: a removed case leaves nothing)."""
    if target.exists():
        shutil.rmtree(target)
    for c in all_cases():
        folder = target / c.name
        folder.mkdir(parents=True)
        for name, data in c.files.items():
            (folder / name).write_bytes(data)
        (folder / "case.yaml").write_text(yaml.safe_dump(c.as_yaml(), sort_keys=False, allow_unicode=True,
                                                         width=120), encoding="utf-8")


def read_cases(corpus: Path = CORPUS) -> dict[str, dict]:
    """case name -> its case.yaml, in the order of the docs table (kinds, then the generator's order)."""
    order = {c: i for i, c in enumerate(maker.__name__ for maker in CASE_MAKERS)}
    found = {p.parent.name: yaml.safe_load(p.read_text(encoding="utf-8")) for p in corpus.glob("*/case.yaml")}
    return dict(sorted(found.items(), key=lambda item: (KINDS.index(item[1]["kind"]), order.get(item[0], 10**6),
                                                       item[0])))


def _cell(text: str) -> str:
    """Text for a Markdown table cell: pipes escaped, control characters and line breaks shown, not acted on."""
    shown = text.encode("unicode_escape").decode("ascii") if any(ord(ch) < 32 for ch in text) else text
    return shown.replace("|", "\\|")


def _code(text: str) -> str:
    """Inline code for a table cell; a text holding a backtick gets a double-backtick span."""
    return f"`` {_cell(text)} ``" if "`" in text else f"`{_cell(text)}`"


def render_docs(corpus: Path = CORPUS) -> str:
    cases = read_cases(corpus)
    counts = {kind: sum(c["kind"] == kind for c in cases.values()) for kind in KINDS}
    gaps = [name for name, c in cases.items() if c.get("known_gap")]
    lines = [
        "# Reliability: the bad-input corpus",
        "",
        "<!-- generated by `python tests/reliability/make_corpus.py --docs` from tests/reliability/corpus/*/case.yaml;"
        " do not edit by hand -->",
        "",
        "Every case is a folder of `tests/reliability/corpus/` holding the input a provider might send and "
        "`case.yaml`: what the build must make of it (the outcome) and what the person who made the mistake must "
        "read (the message fragments, exactly as printed). `tests/reliability/test_corpus.py` (marked `slow`) runs "
        "every case through the real `cop build` and checks the outcome and every fragment, that the previous "
        "release is untouched when the build fails, that no input file was changed, and that every rejection is "
        "recorded (the manifest's `left_out`, `quality_report.parquet`, `quality.rejected_rows`).",
        "",
        "Outcomes: `build_failed` (a country-level file stops the build, nothing is published, the previous release "
        "stays), `source_rejected` (a survey delivery is left out of the release, the others go on), "
        "`rows_rejected` (the delivery is published without the rows that break a rule), `accepted_with_fixes` "
        "(accepted; formula text is published neutralised).",
        "",
        f"{len(cases)} cases: {counts['ict']} ICT, {counts['incidents']} incidents, {counts['survey_microdata']} "
        f"survey microdata. {len(gaps)} are known gaps (marked *gap*): the message or outcome the provider should "
        "get is written down, and the test expects them to fail until the code is fixed.",
        "",
        "## Adding a case",
        "",
        "1. Write a function in `tests/reliability/make_corpus.py` decorated with `@case` that returns a `Case`: "
        "the input made from the bundled sample (`ict_subset()`, `incident_lines()`) or a small delivery "
        "(`survey_case()`), the outcome and the message fragments the provider should read.",
        "2. Run `python tests/reliability/make_corpus.py` (writes the corpus) and "
        "`python tests/reliability/make_corpus.py --docs` (writes this page).",
        "3. Run `python -m pytest tests/reliability/test_corpus.py`. If today's behaviour falls short, keep the "
        "desired expectation, add `known_gap=\"<one line>\"` to the case and report it to the owner of the code; a "
        "survey case that stops the whole build also gets `own_build`.",
        "",
        "## Cases",
        "",
        "| case | kind | outcome | message |",
        "|---|---|---|---|",
    ]
    for name, c in cases.items():
        expected = c["expected"]
        message = "<br>".join(_code(m) for m in expected.get("message") or [])
        published = expected.get("published") or {}
        message += "<br>".join(f"{file}: {_code(f)}" for file, fragments in published.items() for f in fragments)
        gap = f"<br>*gap: {_cell(c['known_gap'])}*" if c.get("known_gap") else ""
        lines.append(f"| `{name}`<br>{_cell(c['description'])} | {c['kind']} | {expected['outcome']} | "
                     f"{message or '—'}{gap} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", action="store_true", help=f"write {DOCS.relative_to(REPO)} from the case.yaml "
                                                            "files instead of the corpus")
    args = parser.parse_args(argv)
    if args.docs:
        DOCS.write_text(render_docs(), encoding="utf-8")
        print(f"wrote {DOCS}")
    else:
        write_corpus(CORPUS)
        print(f"wrote {len(CASE_MAKERS)} cases into {CORPUS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
