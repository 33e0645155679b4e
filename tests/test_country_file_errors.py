"""Errors in ICT and incident files point where the provider looks: the file's own line (header = line 1), the
file's own column (with the harmonised name beside it when the layout renames it), the value and the rule in words;
problems of the whole file (not a CSV, not UTF-8, another delimiter, a column named twice) are said once, as such.

Each case writes a small file and runs the real reader (or the reader, harmonisation and audit) on it.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pytest

from indicators.errors import InputError, Violation
from indicators.reference import load_reference_tables
from indicators.sources.ict.harmonise import audit_ict, harmonise_ict
from indicators.sources.ict.reader import IctSource, load_manifest, load_raw_ict, read_ict_file
from indicators.sources.incidents.harmonise import audit_incidents, harmonise_incidents
from indicators.sources.incidents.reader import (IncidentSource, load_incident_sources, load_raw_incidents,
                                                 read_incident_file)
from indicators.warehouse import connect
from schemas.ict import LAST_YEAR
from schemas.validation import failure_cases, failure_in_words

COP_HEADER = "ref_area,ref_area_name,year,internet_users_pct,population_total\n"
WDI_PREAMBLE = '"Data Source","World Development Indicators",\n\n"Last Updated Date","2024-06-28",\n\n'
WDI_HEADER = '"Country Name","Country Code","Indicator Name","Indicator Code","2019","2020",\n'
WDI_ROW = '"{name}","{code}","Individuals using the Internet (% of population)","IT.NET.USER.ZS","{a}","{b}",\n'
OWID_HEADER = "Entity,Code,Year,Individuals using the Internet (% of population)\n"
NCMEC_HEADER = "country,iso3,2021,2022\n"


def ict_file(tmp_path: Path, content: str | bytes, layout: str = "cop_tidy", name: str = "ict.csv",
             indicator_code: str | None = None) -> IctSource:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return IctSource(path=path, layout=layout, priority=0, indicator_code=indicator_code)


def incident_file(tmp_path: Path, content: str | bytes) -> IncidentSource:
    path = tmp_path / "reports.csv"
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return IncidentSource(path=path, layout="ncmec_by_country", reporting_org="NCMEC")


def ict_error(source: IctSource) -> InputError:
    with pytest.raises(InputError) as caught:
        read_ict_file(source)
    return caught.value


def incident_error(source: IncidentSource) -> InputError:
    with pytest.raises(InputError) as caught:
        read_incident_file(source)
    return caught.value


def only(error: InputError) -> Violation:
    [violation] = error.violations
    return violation


def place(v: Violation) -> tuple:
    return v.row, v.column, v.harmonised, v.value


# ------------------------------------------------------------------------------- cells: numbers as typed
def test_wdi_wide_cell_with_thousands_separators_names_its_line_and_year_column(tmp_path):
    # header on line 5 after the preamble; Kenya on line 7
    source = ict_file(tmp_path, WDI_PREAMBLE + WDI_HEADER + WDI_ROW.format(name="Aruba", code="ABW", a="", b="97")
                      + WDI_ROW.format(name="Kenya", code="KEN", a="1,234.5", b="29.5"), layout="wdi_wide")
    violation = only(ict_error(source))
    assert place(violation) == (7, "2019", "internet_users_pct", "1,234.5")
    assert violation.rule == "not a number: remove the thousands separators (write 1234.5)"
    assert str(violation) == (f"{source.path}, line 7, column '2019' (internet_users_pct): not a number: remove "
                              "the thousands separators (write 1234.5) (value '1,234.5')")


def test_cop_tidy_decimal_comma_and_every_other_bad_cell_are_each_named(tmp_path):
    source = ict_file(tmp_path, COP_HEADER + 'KEN,Kenya,2019,"8,75",52000000\n'
                                             "KEN,Kenya,2020,9.5,n/a\n"
                                             'UGA,Uganda,2020,"1.234,5",\n')
    error = ict_error(source)
    assert [(v.row, v.column, v.value, v.rule) for v in error.violations] == [
        (2, "internet_users_pct", "8,75", "not a number: decimal comma; write 8.75 with a decimal point"),
        (4, "internet_users_pct", "1.234,5", "not a number: '.' thousands separators and a decimal comma; "
                                             "write 1234.5"),
        (3, "population_total", "n/a", "not a number")]
    # the harmonised name is the file's own here: not repeated beside it
    assert f"{source.path}, line 3, column 'population_total': not a number (value 'n/a')" in str(error)


def test_owid_series_column_is_named_as_in_the_file_with_its_harmonised_name(tmp_path):
    # one group of three digits after the comma: a thousands separator or a decimal comma, the reader cannot tell
    source = ict_file(tmp_path, OWID_HEADER + "Kenya,KEN,2019,22.6\nKenya,KEN,2020,\"2,345\"\n", layout="owid_tidy")
    violation = only(ict_error(source))
    assert place(violation) == (3, "Individuals using the Internet (% of population)", "internet_users_pct", "2,345")
    assert str(violation) == (f"{source.path}, line 3, column 'Individuals using the Internet (% of population)' "
                              "(internet_users_pct): not a number: ',' is a thousands separator or a decimal "
                              "comma here; write 2345 or 2.345, without thousands separators (value '2,345')")


def test_wb_tidy_value_column_and_owid_year_column_carry_their_harmonised_names(tmp_path):
    source = ict_file(tmp_path, "Country Name,Country Code,Year,Value\nKenya,KEN,2019,52 573 967\n",
                      layout="wb_tidy", indicator_code="SP.POP.TOTL")
    violation = only(ict_error(source))
    assert place(violation) == (2, "Value", "population_total", "52 573 967")
    assert violation.rule == ("not a number: remove the spaces or quotes between digit groups "
                              "(write 52573967)")
    source = ict_file(tmp_path, OWID_HEADER + "Kenya,KEN,2019.5,22.6\n", layout="owid_tidy", name="owid.csv")
    violation = only(ict_error(source))
    assert place(violation) == (2, "Year", "year", "2019.5") and violation.rule == "year is not a whole number"
    assert "line 2, column 'Year' (year): year is not a whole number (value '2019.5')" in str(violation)


def test_wdi_value_under_an_empty_header_names_its_line_and_position(tmp_path):
    # WDI lines end with a comma (an unnamed, empty last column): a value there has no year to belong to
    source = ict_file(tmp_path, WDI_HEADER + WDI_ROW.format(name="Kenya", code="KEN", a="1", b="2")[:-1] + "7\n",
                      layout="wdi_wide")
    violation = only(ict_error(source))
    assert place(violation) == (2, "", None, "7")
    assert violation.rule == "value in column 7 of the line, whose header is empty (expected a year)"


def test_line_after_a_multiline_quoted_name_is_the_editor_line(tmp_path):
    source = ict_file(tmp_path, COP_HEADER + 'FRA,"France\n(metropolitan)",2020,80,\nDEU,Germany,2020,8o,\n')
    assert place(only(ict_error(source))) == (4, "internet_users_pct", "internet_users_pct", "8o")


# ------------------------------------------------------------------------------------- the file as a whole
@pytest.mark.parametrize("delimiter, shown", [(";", "';'"), ("\t", "a tab"), ("|", "'|'")])
def test_another_delimiter_is_said_once_before_any_column_check(tmp_path, delimiter, shown):
    text = (COP_HEADER + "KEN,Kenya,2019,22.6,52000000\n").replace(",", delimiter)
    violation = only(ict_error(ict_file(tmp_path, text)))
    assert (violation.row, violation.position) == (1, "line")
    assert violation.rule == (f"the header is one column containing {shown} — is the delimiter {shown}? "
                              "This file must be comma-separated")
    violation = only(incident_error(incident_file(tmp_path, "country;iso3;2022\nKenya;KEN;5\n")))
    assert str(violation).startswith(f"{tmp_path / 'reports.csv'}, line 1: the header is one column containing "
                                     "';' — is the delimiter ';'? This file must be comma-separated")


def test_latin1_bytes_are_named_by_their_line(tmp_path):
    text = COP_HEADER + "KEN,Kenya,2019,22.6,\nKEN,Kenya,2020,29.5,\nCIV,Côte d'Ivoire,2020,36.3,\n"
    violation = only(ict_error(ict_file(tmp_path, text.encode("latin-1"))))
    assert violation.rule == "bytes at line 4 are not UTF-8 — is the file latin-1? Save it as UTF-8"
    assert violation.value == "Côte d'Ivoire"  # the cell the bytes are in, as latin-1 reads it
    violation = only(incident_error(incident_file(
        tmp_path, (NCMEC_HEADER + "Iceland,ISL,1,2\nCuraçao,CUW,3,4\n").encode("cp1252"))))
    assert violation.rule == "bytes at line 3 are not UTF-8 — is the file latin-1? Save it as UTF-8"
    assert violation.value == "Curaçao"


def test_a_byte_order_mark_is_no_problem_and_utf16_is_named(tmp_path):
    raw = read_ict_file(ict_file(tmp_path, "\ufeff" + COP_HEADER + "KEN,Kenya,2019,22.6,\n"))
    assert raw[["source_row", "value"]].values.tolist() == [[2, 22.6]]
    violation = only(ict_error(ict_file(tmp_path, (COP_HEADER + "KEN,Kenya,2019,22.6,\n").encode("utf-16"))))
    assert violation.rule.startswith("the file is UTF-16 text") and violation.row == 1
    # UTF-16 without its byte-order mark decodes as UTF-8 with a NUL byte after every ASCII letter
    violation = only(ict_error(ict_file(tmp_path, (COP_HEADER + "KEN,Kenya,2019,22.6,\n").encode("utf-16-le"))))
    assert (violation.row, violation.rule) == (1, "the file holds NUL bytes: is it UTF-16 text or not a text file? "
                                                  "Save it as 'CSV UTF-8 (comma delimited)'")


def test_archives_and_workbooks_are_named_as_what_they_are(tmp_path):
    csv_bytes = (COP_HEADER + "KEN,Kenya,2019,22.6,\n").encode()
    assert only(ict_error(ict_file(tmp_path, gzip.compress(csv_bytes)))).rule == (
        "the file is a gzip archive, not a CSV: unpack it first")
    for members, rule in [(["ict.csv"], "the file is a zip archive, not a CSV: unpack it first"),
                          (["xl/workbook.xml", "[Content_Types].xml"],
                           "the file is an Excel workbook (.xlsx), not a CSV: save the sheet as CSV UTF-8")]:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for member in members:
                archive.writestr(member, csv_bytes)
        assert only(ict_error(ict_file(tmp_path, buffer.getvalue()))).rule == rule
        assert only(incident_error(incident_file(tmp_path, buffer.getvalue()))).rule == rule


def test_discovery_says_why_an_archive_named_csv_is_skipped(tmp_path, caplog):
    (tmp_path / "a_packed.csv").write_bytes(gzip.compress((COP_HEADER + "KEN,Kenya,2019,22.6,\n").encode()))
    (tmp_path / "b_plain.csv").write_text(COP_HEADER + "KEN,Kenya,2019,22.6,\n", encoding="utf-8")
    [source] = load_manifest(tmp_path)
    assert source.path.name == "b_plain.csv"
    packed = tmp_path / "a_packed.csv"
    assert f"{packed}: skipped, the file is a gzip archive, not a CSV: unpack it first" in caplog.text


def test_a_column_named_twice_is_said_with_both_positions(tmp_path):
    violation = only(ict_error(ict_file(tmp_path, "ref_area,year,internet_users_pct,year\nKEN,2019,22.6,2020\n")))
    assert place(violation) == (1, "year", None, None)
    assert violation.rule == "column name appears twice in the header (columns 2 and 4)"
    violation = only(incident_error(incident_file(tmp_path, "country,iso3,2022,2022\nKenya,KEN,1,2\n")))
    assert (violation.row, violation.column, violation.rule) == (
        1, "2022", "column name appears twice in the header (columns 3 and 4)")


@pytest.mark.parametrize("body, line, rule", [
    ("KEN,Kenya,2019,22.6,1,9\n", 2, "row has 6 fields but the header has 5"),
    ("KEN,Kenya,2019,22.6,1\nKEN,Kenya,20", 3, "row has 3 fields but the header has 5"),  # a truncated file
    ('KEN,Kenya,2019,22.6,1\nUGA,"Uganda,2019,10.1,2\nTZA,Tanzania,2019,9.9,3\n', 3,
     "a quote opened on this line is never closed: the rest of the file is read as one cell"),
])
def test_rows_that_do_not_fit_the_header_are_named_by_line(tmp_path, body, line, rule):
    violation = only(ict_error(ict_file(tmp_path, COP_HEADER + body)))
    assert (violation.row, violation.rule) == (line, rule)


def test_empty_and_header_only_files(tmp_path):
    assert str(only(ict_error(ict_file(tmp_path, "")))) == f"{tmp_path / 'ict.csv'}: file is empty"
    violation = only(ict_error(ict_file(tmp_path, COP_HEADER + "\n\n")))
    assert (violation.row, violation.rule) == (1, "file has a header but no data rows")
    violation = only(ict_error(ict_file(tmp_path, WDI_PREAMBLE + '"Country Name","Country Code",\n',
                                        layout="wdi_wide")))
    assert violation.row == 1 and violation.rule.startswith("no header line found in the first lines")


def test_missing_wdi_column_is_named_on_the_header_line_after_the_preamble(tmp_path):
    header = WDI_HEADER.replace('"Indicator Code",', "")
    violation = only(ict_error(ict_file(tmp_path, WDI_PREAMBLE + header + '"Kenya","KEN","x","1","2",\n',
                                        layout="wdi_wide")))
    assert (violation.row, violation.column) == (5, "Indicator Code")
    assert violation.rule.startswith("missing required column for layout wdi_wide")


# ------------------------------------------------------------------------------------ incident count cells
@pytest.mark.parametrize("cell, rule", [
    ('"1.234"', "'.' is not the thousands separator of this layout: write 1,234 or 1234"),
    ('"1 234"', "remove the spaces or quotes between digit groups: write 1,234 or 1234"),
    ('"12,5"', "report count is not a whole number: it has a decimal part or a misplaced thousands separator "
               "(counts are written like 163,120 or 15)"),
])
def test_incident_count_cells_say_how_to_write_the_count(tmp_path, cell, rule):
    source = incident_file(tmp_path, NCMEC_HEADER + f'Iceland,ISL,"1,234",7\nNorway,NOR,3,{cell}\n')
    violation = only(incident_error(source))
    assert place(violation) == (3, "2022", "reports", cell.strip('"')) and violation.rule == rule
    assert str(violation) == (f"{source.path}, line 3, column '2022' (reports): {rule} "
                              f"(value {cell.strip(chr(34))!r})")


# ------------------------------------------------------------------------------- rules checked after harmonising
def build(folder: Path, ict: str, incidents: str | None = None, layout: str = "cop_tidy"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ict.csv").write_text(ict, encoding="utf-8")
    manifest = f"sources:\n  - {{file: ict.csv, layout: {layout}}}\n"
    if incidents is not None:
        (folder / "reports.csv").write_text(incidents, encoding="utf-8")
        manifest += "incidents:\n  - {file: reports.csv, layout: ncmec_by_country, reporting_org: NCMEC}\n"
    (folder / "sources.yaml").write_text(manifest, encoding="utf-8")
    con = connect(folder / "w.duckdb")
    load_reference_tables(con)
    load_raw_ict(con, load_manifest(folder))
    harmonise_ict(con)
    if incidents is not None:
        load_raw_incidents(con, load_incident_sources(folder))
        harmonise_incidents(con)
    return con


def test_ict_audit_names_the_wide_cell_line_year_column_and_rule_in_words(tmp_path):
    con = build(tmp_path, WDI_PREAMBLE + WDI_HEADER + WDI_ROW.format(name="Kenya", code="KEN", a="22.6", b="140")
                + WDI_ROW.format(name="Nowhere", code="ZZZ", a="5", b=""), layout="wdi_wide")
    try:
        violations = audit_ict(con)
    finally:
        con.close()
    path = str(tmp_path / "ict.csv")
    assert [str(Violation.from_dict(v)) for v in violations] == [
        f"{path}, line 6, column '2020' (internet_users_pct): internet_users_pct is a percentage and must be "
        "within [0, 100] (value '140')",
        f"{path}, line 7, column 'Country Code' (ref_area): the country code must be an ISO 3166-1 alpha-3 code "
        "known to pycountry or explicitly mapped (value 'ZZZ')"]
    assert violations[0] == {"file": path, "row": 6, "column": "2020", "rule": "internet_users_pct is a percentage "
                             "and must be within [0, 100]", "value": "140", "harmonised_column": "internet_users_pct",
                             "position": "line"}


def test_ict_audit_duplicate_and_year_rules_name_lines(tmp_path):
    con = build(tmp_path, OWID_HEADER + "Kenya,KEN,2019,22.6\nKenya,KEN,2019,23.0\n"
                f"Kenya,KEN,{LAST_YEAR + 1},30\n", layout="owid_tidy")
    try:
        violations = audit_ict(con)
    finally:
        con.close()
    assert [(v["row"], v["column"], v.get("harmonised_column"), v["value"], v["rule"]) for v in violations] == [
        (2, "Code", "ref_area", "KEN", "duplicated country-year: KEN 2019 internet_users_pct also at line(s) 3"),
        (3, "Code", "ref_area", "KEN", "duplicated country-year: KEN 2019 internet_users_pct also at line(s) 2"),
        (4, "Year", "year", str(LAST_YEAR + 1), f"year must be within [1960, {LAST_YEAR}]")]


def test_incident_audit_names_the_year_header_and_code_column_with_rules_in_words(tmp_path):
    con = build(tmp_path, COP_HEADER + "ISL,Iceland,2022,80,2000000\n",
                "country,iso3,1950,2022\nIceland,ISL,3,\"1,234\"\nNowhere,ZZZ,,5\n")
    try:
        violations = audit_incidents(con)
    finally:
        con.close()
    path = str(tmp_path / "reports.csv")
    assert [str(Violation.from_dict(v)) for v in violations] == [
        f"{path}, line 2, column '1950' (year): year must be between 1960 and {LAST_YEAR} (value '1950')",
        f"{path}, line 3, column 'iso3' (country): the country code must be an ISO 3166-1 alpha-3 code known to "
        "pycountry or explicitly mapped (value 'ZZZ')"]


class _Toy(pa.DataFrameModel):
    age: float = pa.Field(ge=8, le=17, nullable=True)
    weight: float = pa.Field(gt=0)
    sex: str = pa.Field(isin=["F", "M"])
    code: str = pa.Field(str_matches=r"^[A-Z]{3}$", nullable=True)

    @pa.check("code", name="code is one the project knows")
    def _known(cls, code: pd.Series) -> pd.Series:
        return code.isna() | (code != "ZZZ")


def test_pandera_failures_read_as_rules_in_words():
    frame = pd.DataFrame({"age": [18.0, 12.0, 12.0], "weight": [1.0, 0.0, 1.0], "sex": ["F", "M", "X"],
                          "code": ["KEN", "ZZZ", "ke"]})
    cases = failure_cases(_Toy, frame)
    words = sorted({(int(c.index), failure_in_words(_Toy, c)) for c in cases.itertuples(index=False)})
    assert words == [(0, "age must be between 8 and 17"), (1, "code is one the project knows"),
                     (1, "weight must be greater than 0"), (2, "code must match the pattern ^[A-Z]{3}$"),
                     (2, "sex must be one of: F, M")]
    missing = failure_cases(_Toy, frame.assign(weight=[1.0, None, 1.0]))
    [case] = [c for c in missing.itertuples(index=False) if c.check == "not_nullable"]
    assert failure_in_words(_Toy, case) == "weight is required but the cell is empty"
