"""Survey-microdata errors point where the data provider looks (issue 13, point 3, microdata part).

1. Every row failure names the file's own line (a CSV: header = line 1) or record number (SPSS, Stata, Parquet,
   RDS), the file's own column with the harmonised name beside it, the value as delivered and the rule in words:
   in quality.rejected_rows, SourceResult.first_failures and `cop validate` (text, --json, --report).
2. A wrong delimiter or encoding is one message for the file, said before any column check.
3. `cop estimate` has --delimiter and --encoding, and the same diagnosis.
4. Spec-level facts (fixed country, wave, fixed values, variables) are checked once when the spec is loaded.

Code under test: indicators/sources/survey_microdata/{reader,harmonise,preflight,deliveries}.py, indicators/delivered_csv.py,
schemas/mapping_spec.py, schemas/validation.py (check_in_words) and pipelines/cli.py. Every test writes its small
file into tmp_path and runs the real reader, harmonisation or command.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pyreadr
import pyreadstat
import pytest
import yaml

from indicators.errors import ConfigError, InputError
from indicators.sources.survey_microdata.deliveries import read_delivery
from indicators.sources.survey_microdata.harmonise import harmonise_source, target_columns
from indicators.sources.survey_microdata.reader import read_microdata
from indicators.sources.survey_microdata.specs import load_spec
from pipelines.cli import main
from schemas.ict import LAST_YEAR
from schemas.mapping_spec import load_mapping_spec

SOURCE = "kids_2021"

# A Spanish-named delivery: file columns peso, genero, edad are the harmonised weight, sex, age.
HEADER = "id;estrato;upm;peso;genero;edad"
RECORDS = [
    "1;A;p1;1.5;female;10",
    "2;A;p2;0;male;11",        # line 3: weight 0
    "3;A;p1;1.5;boy;12",       # line 4: a code the recode does not know
    "4;B;p3;1.5;female;25",    # line 5: age above 17
    "5;B;p4;1,5;male;13",      # line 6: a decimal comma in the weight
    "6;B;p3;1.5;;14",          # line 7: sex missing
    "7;B;p4;1.5;male;15",
]


def spec_dict(**overrides) -> dict:
    spec = {
        "source_id": SOURCE, "target": "child_survey", "file": "data.csv", "format": "csv",
        "csv": {"encoding": "utf-8", "delimiter": ";"},
        "country": "ALB", "wave": 2021, "synthetic": True,
        "design": {"respondent_id": "id", "stratum": "estrato", "psu": "upm", "weight": "peso"},
        "rename": {"genero": "sex", "edad": "age"},
        "recode": {"sex": {"female": "F", "male": "M"}},
        "derive": {"parent_interviewed": {"value": False}},
        "max_rejected_share": 1.0,
    }
    spec.update(overrides)
    return spec


def write_spec(folder: Path, spec: dict) -> Path:
    spec_file = folder / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return spec_file


def write_csv(folder: Path, text: str | bytes, spec: dict | None = None, name: str = "data.csv") -> Path:
    """The CSV `text` (bytes as given, text as UTF-8) as `name`, and its spec; returns the spec file."""
    (folder / name).write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return write_spec(folder, dict(spec or spec_dict(), file=name))


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def ingest(con, spec_file: Path):
    spec = load_mapping_spec(spec_file, target_columns("child_survey"))
    read_microdata(con, spec, spec.path(spec_file))
    return harmonise_source(con, spec)


def rejected(con) -> list[tuple]:
    return con.execute('SELECT source_row, "column", value, rule, line, file_column, message '
                       'FROM quality.rejected_rows ORDER BY source_row, "column"').fetchall()


def validate(capsys, spec_file: Path, data_file: Path, *options: str) -> tuple[int, str, str]:
    code = main(["validate", str(data_file), "--mapping", str(spec_file), *options])
    out, err = capsys.readouterr()
    return code, out, err


# --- 1. row failures: line, file column, value as delivered, rule in words ---------------------------------------

EXPECTED_CSV_FAILURES = [
    (2, "weight", "0", "weight must be greater than 0", 3, "peso",
     "data.csv, line 3, column 'peso' (weight): weight must be greater than 0 (value '0')"),
    (3, "sex", "boy", "sex must be one of: female, male", 4, "genero",
     "data.csv, line 4, column 'genero' (sex): sex must be one of: female, male (value 'boy')"),
    (4, "age", "25", "age must be between 5 and 17", 5, "edad",
     "data.csv, line 5, column 'edad' (age): age must be between 5 and 17 (value '25')"),
    # the cause (not a number), not also the "required value is missing" it leaves behind
    (5, "weight", "1,5", "weight must be a number", 6, "peso",
     "data.csv, line 6, column 'peso' (weight): weight must be a number (value '1,5')"),
    (6, "sex", None, "required value is missing", 7, "genero",
     "data.csv, line 7, column 'genero' (sex): required value is missing"),
]


def test_csv_failures_name_the_line_the_file_column_the_value_and_the_rule(tmp_path, con):
    result = ingest(con, write_csv(tmp_path, lines(HEADER, *RECORDS)))

    assert rejected(con) == EXPECTED_CSV_FAILURES
    assert result.first_failures == [dict(zip(["source_row", "column", "value", "rule", "line", "file_column",
                                               "message"], f)) for f in EXPECTED_CSV_FAILURES]
    assert result.rule_counts == {"weight must be greater than 0": 1, "sex must be one of: female, male": 1,
                                  "age must be between 5 and 17": 1, "weight must be a number": 1,
                                  "required value is missing": 1}
    # the weights reject the source; the reason names the file's column, the lines and the values as delivered
    assert result.reasons[0] == ("design variable broken: column 'peso' (weight) missing, not a number, zero or "
                                 "negative in 2 row(s) (lines 3, 6; values '0', '1,5')")


def test_rejected_rows_keep_their_columns_and_add_line_file_column_and_message(tmp_path, con):
    ingest(con, write_csv(tmp_path, lines(HEADER, *RECORDS)))
    columns = [name for name, *_ in con.execute("DESCRIBE quality.rejected_rows").fetchall()]
    assert columns == ["source_id", "source_row", "column", "value", "rule", "line", "file_column", "message"]


def test_a_warehouse_made_before_gets_the_new_columns(tmp_path, con):
    con.execute("CREATE SCHEMA IF NOT EXISTS quality")
    con.execute('CREATE TABLE quality.rejected_rows (source_id VARCHAR, source_row BIGINT, "column" VARCHAR, '
                "value VARCHAR, rule VARCHAR)")
    con.execute("INSERT INTO quality.rejected_rows VALUES ('older', 4, 'sex', '3', 'isin([''F'', ''M''])')")
    ingest(con, write_csv(tmp_path, lines(HEADER, *RECORDS)))
    assert con.execute("SELECT source_row, line, message FROM quality.rejected_rows WHERE source_id = 'older'"
                       ).fetchall() == [(4, None, None)]
    assert con.execute(f"SELECT count(*) FROM quality.rejected_rows WHERE source_id = '{SOURCE}'").fetchone() == (5,)


def test_lines_count_blank_lines_and_line_breaks_inside_quoted_values(tmp_path, con):
    spec = spec_dict(ignore=["notes"])
    text = lines(HEADER + ";notes",
                 '1;A;p1;1.5;female;10;"a note on',   # record 1: lines 2 and 3
                 'two lines"',
                 "",                                  # line 4: blank, no record
                 "2;A;p2;1.5;male;30;x",              # record 2: line 5, age 30
                 "3;B;p3;1.5;female;12;y")
    ingest(con, write_csv(tmp_path, text, spec))
    assert rejected(con) == [(2, "age", "30", "age must be between 5 and 17", 5, "edad",
                              "data.csv, line 5, column 'edad' (age): age must be between 5 and 17 (value '30')")]


def _spanish_frame() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 3, 4], "estrato": ["A", "A", "B", "B"], "upm": ["p1", "p2", "p3", "p4"],
                         "peso": [1.5, 1.5, 1.5, 1.5], "genero": ["female", "male", "male", "female"],
                         "edad": [10.0, 11.0, 25.0, 12.0]})


@pytest.mark.parametrize("fmt", ["parquet", "sav", "dta", "rds"])
def test_binary_files_are_located_by_record_number(tmp_path, con, fmt):
    frame, path = _spanish_frame(), tmp_path / f"data.{fmt}"
    {"parquet": lambda: frame.to_parquet(path, index=False), "sav": lambda: pyreadstat.write_sav(frame, str(path)),
     "dta": lambda: pyreadstat.write_dta(frame, str(path)), "rds": lambda: pyreadr.write_rds(str(path), frame)}[fmt]()
    spec = spec_dict(file=path.name, format=fmt)
    spec.pop("csv")
    ingest(con, write_spec(tmp_path, spec))
    assert rejected(con) == [(3, "age", "25", "age must be between 5 and 17", None, "edad",
                              f"data.{fmt}, record 3, column 'edad' (age): age must be between 5 and 17 "
                              "(value '25')")]


def test_a_column_the_spec_does_not_rename_is_named_once(tmp_path, con):
    spec = spec_dict(rename={"sex": "sex", "edad": "age"})
    text = lines("id;estrato;upm;peso;sex;edad", "1;A;p1;1.5;male;10", "2;A;p2;1.5;girl;11")
    ingest(con, write_csv(tmp_path, text, dict(spec, recode={"sex": {"female": "F", "male": "M"}})))
    assert [r[-1] for r in rejected(con)] == [
        "data.csv, line 3, column 'sex': sex must be one of: female, male (value 'girl')"]


def test_a_missing_code_in_a_required_variable_shows_the_code(tmp_path, con):
    spec = spec_dict(missing={"sex": ["DK"]})
    ingest(con, write_csv(tmp_path, lines(HEADER, "1;A;p1;1.5;DK;10", "2;A;p2;1.5;male;11"), spec))
    assert rejected(con) == [(1, "sex", "DK", "required value is a missing code in the spec", 2, "genero",
                              "data.csv, line 2, column 'genero' (sex): required value is a missing code in the spec "
                              "(value 'DK')")]


def test_a_value_outside_every_derived_band_names_the_from_column(tmp_path, con):
    spec = spec_dict(derive={"parent_interviewed": {"value": False},
                             "age_band": {"from": "age", "bands": {"9-11": [9, 11], "12-14": [12, 14]}}})
    ingest(con, write_csv(tmp_path, lines(HEADER, "1;A;p1;1.5;male;10", "2;A;p2;1.5;male;16"), spec))
    assert rejected(con) == [(2, "age", "16", "age must be within one of the bands of age_band: 9-11, 12-14", 3,
                              "edad", "data.csv, line 3, column 'edad' (age): age must be within one of the bands "
                                      "of age_band: 9-11, 12-14 (value '16')")]


def test_duplicated_ids_are_reported_with_their_lines(tmp_path, con):
    result = ingest(con, write_csv(tmp_path, lines(HEADER, "1;A;p1;1.5;male;10", "2;A;p2;1.5;male;11",
                                                   "1;B;p3;1.5;female;12")))
    assert result.reasons == ["respondent id not unique: 1 id(s) repeated in column 'id' (respondent_id) "
                              "(e.g. '1' at lines 2, 4)"]


def test_validate_text_json_and_html_name_line_file_column_value_and_rule(tmp_path, capsys):
    spec_file = write_csv(tmp_path, lines(HEADER, *RECORDS))
    data_file = tmp_path / "data.csv"

    code, out, _ = validate(capsys, spec_file, data_file)
    assert code == 1  # the weights reject the source
    for *_, message in EXPECTED_CSV_FAILURES:
        assert f"    {message}\n" in out
    assert "      1  sex must be one of: female, male" in out

    code, out, _ = validate(capsys, spec_file, data_file, "--json")
    report = json.loads(out)
    assert report["first_failures"][1] == {
        "source_row": 3, "column": "sex", "value": "boy", "rule": "sex must be one of: female, male", "line": 4,
        "file_column": "genero",
        "message": "data.csv, line 4, column 'genero' (sex): sex must be one of: female, male (value 'boy')"}

    page = tmp_path / "report.html"
    validate(capsys, spec_file, data_file, "--report", str(page))
    html = page.read_text(encoding="utf-8")
    assert "<tr><td>line 4</td><td>genero (sex)</td><td>boy</td><td>sex must be one of: female, male</td></tr>" in html
    assert "<tr><td>line 7</td><td>genero (sex)</td><td>None</td><td>required value is missing</td></tr>" in html


# --- 2. delimiter and encoding: one message, before any column check --------------------------------------------

DELIMITER_CASES = {
    "semicolon": (";", "the header is one column containing ';' — is the delimiter ';'? "
                       "(set `delimiter: ';'` in the spec)"),
    "tab": ("\t", "the header is one column containing tabs — is the delimiter a tab? "
                  "(set `delimiter: \"\\t\"` in the spec)"),
    "pipe": ("|", "the header is one column containing '|' — is the delimiter '|'? "
                  "(set `delimiter: '|'` in the spec)"),
}


@pytest.mark.parametrize("case", list(DELIMITER_CASES))
def test_a_wrong_delimiter_is_one_message_naming_the_right_one(tmp_path, con, case):
    used, message = DELIMITER_CASES[case]
    text = lines(*(row.replace(";", used) for row in (HEADER, *RECORDS[:2])))
    spec_file = write_csv(tmp_path, text, spec_dict(csv={"encoding": "utf-8", "delimiter": ","}))
    spec = load_spec(spec_file)
    with pytest.raises(InputError) as error:
        read_microdata(con, spec, spec.path(spec_file))
    assert str(error.value) == f"invalid input\n  {tmp_path / 'data.csv'}: {message}"


def test_validate_says_the_delimiter_once_and_no_column_is_missing(tmp_path, capsys):
    spec_file = write_csv(tmp_path, lines(HEADER, *RECORDS), spec_dict(csv={"delimiter": ","}))
    code, out, err = validate(capsys, spec_file, tmp_path / "data.csv")
    assert code == 1 and out == ""
    assert err == (f"cop validate: invalid input\n  {tmp_path / 'data.csv'}: the header is one column containing ';' "
                   "— is the delimiter ';'? (set `delimiter: ';'` in the spec)\n")


def test_bytes_not_valid_in_the_encoding_are_said_with_their_line(tmp_path, capsys):
    rows = [f"{i};A;p{i % 2};1.5;male;{10 + i % 5}" for i in range(1, 11)]
    rows.append("11;Région Sud;p1;1.5;female;12")  # line 12
    spec_file = write_csv(tmp_path, lines(HEADER, *rows).encode("latin-1"))
    code, out, err = validate(capsys, spec_file, tmp_path / "data.csv")
    assert code == 1 and out == ""
    assert err == (f"cop validate: invalid input\n  {tmp_path / 'data.csv'}: bytes at line 12 are not UTF-8 — is the "
                   "file latin-1? (set `encoding: latin-1` in the spec)\n")


def test_with_the_suggested_encoding_the_same_file_is_read(tmp_path, con):
    text = lines(HEADER, "1;Région Sud;p1;1.5;female;12", "2;Région Sud;p2;1.5;male;13")
    result = ingest(con, write_csv(tmp_path, text.encode("latin-1"), spec_dict(csv={"encoding": "ISO-8859-1",
                                                                                    "delimiter": ";"})))
    assert result.accepted and result.rows == 2
    assert con.execute("SELECT DISTINCT stratum FROM staging.child_survey").fetchall() == [("Région Sud",)]


@pytest.mark.parametrize("declared, data, message", [
    ("utf-8", lines(HEADER, *RECORDS[:2]).encode("utf-16"),
     "the file starts with a UTF-16 byte-order mark — is the file UTF-16? (set `encoding: utf-16` in the spec)"),
    ("latin-1", lines(HEADER, *RECORDS[:2]).encode("utf-8-sig"),
     "the file starts with a UTF-8 byte-order mark — is the file UTF-8? (set `encoding: utf-8` in the spec)"),
    ("utf-16", lines(HEADER, *RECORDS[:2]).encode("utf-8"),
     "the file has no UTF-16 byte-order mark and no zero bytes, so it is not UTF-16 — is the file UTF-8? "
     "(set `encoding: utf-8` in the spec)"),
])
def test_a_byte_order_mark_of_another_encoding_is_diagnosed(tmp_path, con, declared, data, message):
    spec_file = write_csv(tmp_path, data, spec_dict(csv={"encoding": declared, "delimiter": ";"}))
    spec = load_spec(spec_file)
    with pytest.raises(InputError) as error:
        read_microdata(con, spec, spec.path(spec_file))
    assert str(error.value) == f"invalid input\n  {tmp_path / 'data.csv'}: {message}"


def test_a_line_with_more_fields_than_the_header_is_named(tmp_path, con):
    text = lines(HEADER, RECORDS[0], RECORDS[1], "3;A;p1;1.5;male;12;extra", RECORDS[3])
    spec_file = write_csv(tmp_path, text)
    spec = load_spec(spec_file)
    with pytest.raises(InputError) as error:
        read_microdata(con, spec, spec.path(spec_file))
    assert str(error.value) == (f"invalid input\n  {tmp_path / 'data.csv'}: line 4 has 7 fields but the header has "
                                "6 — a stray ';', or a value holding ';' that is not in quotes?")


def test_a_column_named_twice_in_the_header_is_named(tmp_path, con):
    spec_file = write_csv(tmp_path, lines(HEADER + ";edad", RECORDS[0] + ";10"))
    spec = load_spec(spec_file)
    with pytest.raises(InputError) as error:
        read_microdata(con, spec, spec.path(spec_file))
    assert str(error.value) == (f"invalid input\n  {tmp_path / 'data.csv'}: the header names column 'edad' twice "
                                "(columns 6 and 7); name each column once")


def test_a_build_records_the_diagnosis_as_the_reason_the_delivery_is_rejected(tmp_path, con):
    spec_file = write_csv(tmp_path, lines(HEADER, *RECORDS), spec_dict(csv={"delimiter": "|"}))
    outcome = read_delivery(con, spec_file)
    assert not outcome.read
    reason = (f"delivery cannot be read: invalid input\n  {tmp_path / 'data.csv'}: the header is one column "
              "containing ';' — is the delimiter ';'? (set `delimiter: ';'` in the spec)")
    assert con.execute("SELECT status, reasons FROM quality.source_status").fetchall() == [("rejected", reason)]


def test_an_encoding_duckdb_cannot_read_is_a_spec_error(tmp_path):
    spec_file = write_csv(tmp_path, lines(HEADER, RECORDS[0]), spec_dict(csv={"encoding": "cp1252"}))
    with pytest.raises(ConfigError) as error:
        load_spec(spec_file)
    assert str(error.value) == (f"invalid mapping spec\n  {spec_file}: key csv.encoding: Value error, 'cp1252' cannot "
                                "be read; use utf-8, utf-16 or latin-1 (latin-1 also reads most windows-1252 files)")


# --- 3. cop estimate --delimiter / --encoding --------------------------------------------------------------------

def estimate(capsys, *args) -> tuple[int, str, str]:
    code = main(["estimate", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def _estimate_file(tmp_path: Path, delimiter: str, encoding: str) -> Path:
    path = tmp_path / "survey.csv"
    rows = ["w;region;x", "1;Île;2", "3;Sud;4", "2;Île;6", "4;Sud;8"]  # weighted mean of x: 58 / 10 = 5.8
    path.write_bytes(lines(*(r.replace(";", delimiter) for r in rows)).encode(encoding))
    return path


@pytest.mark.parametrize("delimiter, option", [(";", ";"), ("\t", "tab"), ("|", "|")])
def test_estimate_reads_the_given_delimiter_and_encoding(tmp_path, capsys, delimiter, option):
    path = _estimate_file(tmp_path, delimiter, "latin-1")
    code, out, err = estimate(capsys, path, "--weight", "w", "--mean", "x", "--by", "region", "--delimiter", option,
                              "--encoding", "latin-1", "--format", "json")
    assert code == 0, err
    rows = {r["region"]: r for r in json.loads(out)}
    # Île: (1*2 + 2*6) / 3 = 14/3; Sud: (3*4 + 4*8) / 7 = 44/7
    assert rows["Île"]["estimate"] == pytest.approx(14 / 3, rel=1e-12)
    assert rows["Sud"]["estimate"] == pytest.approx(44 / 7, rel=1e-12)
    assert rows["Île"]["n_unweighted"] == 2 and rows["Sud"]["n_weighted"] == 7


def test_estimate_says_which_encoding_to_give(tmp_path, capsys):
    path = _estimate_file(tmp_path, ";", "latin-1")
    code, out, err = estimate(capsys, path, "--weight", "w", "--mean", "x")
    assert code == 1 and out == ""
    assert err == (f"cop estimate: invalid input\n  {path}: bytes at line 2 are not UTF-8 — is the file latin-1? "
                   "(use --encoding latin-1)\n")


def test_estimate_says_which_delimiter_to_give(tmp_path, capsys):
    path = _estimate_file(tmp_path, ";", "utf-8")
    code, out, err = estimate(capsys, path, "--weight", "w", "--mean", "x", "--delimiter", ",")
    assert code == 1 and out == ""
    assert err == (f"cop estimate: invalid input\n  {path}: the header is one column containing ';' — is the "
                   "delimiter ';'? (use --delimiter ';')\n")


def test_estimate_without_options_still_detects_the_delimiter(tmp_path, capsys):
    code, out, _ = estimate(capsys, _estimate_file(tmp_path, ";", "utf-8"), "--weight", "w", "--mean", "x",
                            "--format", "json")
    assert code == 0 and json.loads(out)[0]["estimate"] == pytest.approx(5.8, rel=1e-12)


@pytest.mark.parametrize("option, value, words", [
    ("--encoding", "cp1252", "argument --encoding: 'cp1252' cannot be read; use utf-8, utf-16 or latin-1"),
    ("--delimiter", ";;", "argument --delimiter: ';;': a delimiter is one character"),
])
def test_estimate_refuses_an_unusable_option_as_a_usage_error(tmp_path, capsys, option, value, words):
    with pytest.raises(SystemExit) as exit_:
        main(["estimate", str(_estimate_file(tmp_path, ";", "utf-8")), "--weight", "w", "--mean", "x", option, value])
    assert exit_.value.code == 2 and words in capsys.readouterr().err


# --- 4. spec-level facts, checked once when the spec is loaded ---------------------------------------------------

SPEC_FACTS = {
    "unknown fixed country": (lambda s: s.update(country="BRZ"),
                              "key country: 'BRZ' breaks the rule: country is an ISO 3166-1 alpha-3 code known to "
                              "pycountry or explicitly mapped"),
    "unknown mapped country": (lambda s: s.update(country=None, country_column="cnt", country_codes={"KS": "KSV"}),
                               "key country_codes.KS: 'KSV' breaks the rule: country is an ISO 3166-1 alpha-3 code "
                               "known to pycountry or explicitly mapped"),
    "wave after this year": (lambda s: s.update(wave=LAST_YEAR + 5),
                             f"key wave: {LAST_YEAR + 5} breaks the rule: wave must be between 1990 and {LAST_YEAR}"),
    "wave that is no year": (lambda s: s.update(wave="2019/20"),
                             "key wave: Input should be a valid integer, unable to parse string as an integer"),
    "recode to a code the model does not know": (lambda s: s["recode"]["sex"].update(female="W"),
                                                 "key recode.sex.female: 'W' breaks the rule: sex must be one of: "
                                                 "F, M"),
    "constant of the wrong type": (lambda s: s["derive"].update(parent_interviewed={"value": "yes"}),
                                   "key derive.parent_interviewed.value: 'yes' breaks the rule: parent_interviewed "
                                   "must be true or false"),
    "band label the model does not accept": (lambda s: s["derive"].update(age_band={"from": "age",
                                                                                    "bands": {"9 to 11": [9, 11]}}),
                                             "key derive.age_band.bands.9 to 11: '9 to 11' breaks the rule: "
                                             "age_band must match the pattern ^\\d{1,2}-\\d{1,2}$"),
    "rename to a variable not in the model": (lambda s: s["rename"].update(q7="favourite_colour"),
                                              "key rename.q7: 'favourite_colour' is not an item or classifier of "
                                              "child_survey (see schemas/child_survey.py)"),
    "derive of a variable not in the model": (lambda s: s["derive"].update(height={"value": 1}),
                                              "key derive.height: not a variable of child_survey"),
    "recode of a variable not in the spec": (lambda s: s["recode"].update(urbanisation={1: "U"}),
                                             "key recode.urbanisation: not a renamed or derived variable of this "
                                             "spec"),
    "required variable the spec does not produce": (lambda s: (s["rename"].pop("genero"), s["recode"].pop("sex")),
                                                    "key rename: no file column is mapped to 'sex', which child_survey "
                                                    "requires in every row (rename a column to it, or derive it)"),
}


@pytest.mark.parametrize("case", list(SPEC_FACTS))
def test_a_spec_level_fact_is_one_error_naming_the_spec_and_the_key(tmp_path, case):
    change, problem = SPEC_FACTS[case]
    spec = spec_dict()
    change(spec)
    spec_file = write_csv(tmp_path, lines(HEADER, RECORDS[0]), spec)
    with pytest.raises(ConfigError) as error:
        load_spec(spec_file)
    assert str(error.value) == f"invalid mapping spec\n  {spec_file}: {problem}"


def test_a_wrong_fixed_country_is_one_spec_error_not_one_failure_per_row(tmp_path, capsys):
    rows = [f"{i};{'AB'[i % 2]};p{i % 4};1.5;{['female', 'male'][i % 2]};{10 + i % 7}" for i in range(1, 2001)]
    spec_file = write_csv(tmp_path, lines(HEADER, *rows), spec_dict(country="XXX"))   # XXX: no country has it
    code, out, err = validate(capsys, spec_file, tmp_path / "data.csv")
    assert code == 2 and out == ""
    assert err == (f"cop validate: invalid mapping spec\n  {spec_file}: key country: 'XXX' breaks the rule: country "
                   "is an ISO 3166-1 alpha-3 code known to pycountry or explicitly mapped\n")
