"""The blank Excel form of the COP national questionnaire (form.py) and the reading of responses (reader.py):
the form's sheets and validation lists, a form filled programmatically that round-trips to the same answers, a CSV
round trip, every bad-answer case with the message the provider reads (sheet and cell, or line and column, the
question and the rule), one response per country across files, and `cop questionnaire form`."""

from __future__ import annotations

import csv
import re

import openpyxl
import pytest

from indicators.errors import InputError
from indicators.sources.national_questionnaire.definition import questionnaire
from indicators.sources.national_questionnaire.form import form_id, write_form
from indicators.sources.national_questionnaire.reader import (
    check_one_response_per_country, read_csv, read_response_file, read_workbook)
from pipelines.cli import main

Q = questionnaire()
QUESTIONS_2009 = [q.id for q in Q.round_questions(2009)]
ROW = {qid: row for row, qid in enumerate(QUESTIONS_2009, start=2)}   # the row of each question on the form

# what a respondent types (as openpyxl writes it) -> what the reader returns
FILLED = {
    "Q1.1": ("Serious", "serious"),
    "Q1.2": ("Grooming; sextortion, and 1/2 of reports from schools", "Grooming; sextortion, and 1/2 of reports "
                                                                      "from schools"),
    "R.C1": ("don\u2019t know", "don't know"),   # the typographic apostrophe Excel may type
    "Q2.1": (" Yes ", "yes"),
    "Q2.2": ("no", "no"),
    "Q2.3": (None, None),
    "R.C2": ("PARTIAL", "partial"),
    "Q3.1": (12, "12"),
    "Q5.1": ("yes", "yes"),
    "Q6.1": ("4 - high", "4 - high"),
    "Q7.1": ("Don't know", "don't know"),
    "Q7.2": ("   ", None),
}


@pytest.fixture
def blank_form(tmp_path):
    return write_form(Q, 2009, tmp_path / "form_2009.xlsx")


def validation_of(sheet, cell: str):
    found = [dv for dv in sheet.data_validations.dataValidation if cell in dv.sqref]
    assert len(found) == 1, f"{sheet.title}!{cell}: {len(found)} validations"
    return found[0]


def range_values(workbook, reference: str) -> list:
    """The values of a 'Sheet!$A$2:$A$9' range (one column)."""
    sheet, first, last = re.fullmatch(r"(\w+)!\$([A-Z]+\$\d+):\$([A-Z]+\$\d+)", reference).groups()
    return [row[0].value for row in workbook[sheet][f"{first.replace('$', '')}:{last.replace('$', '')}"]]


def fill(form, path, answers: dict, country="KEN", cover: dict | None = None):
    """Save a copy of `form` with `answers` (question id -> value) in column D and the cover's country."""
    workbook = openpyxl.load_workbook(form)
    workbook["Cover"]["B7"] = country
    workbook["Cover"]["B8"] = "Ministry of ICT"
    for cell, value in (cover or {}).items():
        workbook["Cover"][cell] = value
    for qid, value in answers.items():
        workbook["Questions"][f"D{ROW[qid]}"] = value
    workbook.save(path)
    return path


def violations_of(call) -> list[str]:
    with pytest.raises(InputError) as raised:
        call()
    return [str(v) for v in raised.value.violations]


# ------------------------------------------------------------------------------------------------ the form

def test_blank_form_has_the_cover_the_questions_and_a_hidden_lists_sheet(blank_form):
    workbook = openpyxl.load_workbook(blank_form)
    assert workbook.sheetnames == ["Cover", "Questions", "Lists"]
    assert workbook["Lists"].sheet_state == "hidden" and workbook.active.title == "Cover"
    cover = workbook["Cover"]
    assert (cover["A1"].value, cover["B3"].value, cover["B4"].value, cover["B5"].value) == (
        "COP national questionnaire", 2009, 1, "COP-NQ-2009-v1")
    assert form_id(2024, 1) == "COP-NQ-2024-v1"
    assert [cover[f"A{r}"].value for r in (7, 8, 9, 10)] == [
        "Country (ISO3 code)", "Responding agency", "Contact e-mail", "Date of the response"]
    questions = workbook["Questions"]
    assert [c.value for c in questions[1]] == ["Question id", "Category", "Question", "Answer",
                                               "Comment (optional)", "Allowed answers"]
    assert all(c.font.bold for c in questions[1]) and questions.freeze_panes == "A2"
    assert [questions[f"A{r}"].value for r in range(2, 42)] == QUESTIONS_2009 and questions.max_row == 41
    row = ROW["Q5.1"]
    assert questions[f"B{row}"].value == "5 legal frameworks and law enforcement"
    assert questions[f"C{row}"].value == Q.question("Q5.1").text and questions[f"C{row}"].alignment.wrap_text
    assert questions[f"D{row}"].value is None and questions[f"F{row}"].value == "yes, partial, no, don't know"
    assert questions.column_dimensions["C"].width == 70


def test_validation_lists_hold_the_invited_countries_and_each_question_s_choices(blank_form):
    workbook = openpyxl.load_workbook(blank_form)
    country = validation_of(workbook["Cover"], "B7")
    codes = range_values(workbook, country.formula1)
    assert country.type == "list" and country.formula1 == "Lists!$A$2:$A$192"   # a range, not an inline list
    assert len(codes) == 191 and codes == sorted(Q.invited(2009)) and "KEN" in codes
    assert "SSD" not in codes and "PSE" not in codes   # not yet a member in 2009; an observer
    assert workbook["Lists"]["B2"].value == "Afghanistan"
    questions = workbook["Questions"]
    q51 = validation_of(questions, f"D{ROW['Q5.1']}")
    assert q51.type == "list" and q51.showErrorMessage and q51.errorStyle == "stop"
    assert range_values(workbook, q51.formula1) == ["yes", "partial", "no", "don't know"]
    assert "yes, partial, no, don't know" in q51.error
    assert range_values(workbook, validation_of(questions, f"D{ROW['Q1.1']}").formula1) == [
        "very serious", "serious", "not very serious", "not at all serious", "don't know"]
    assert range_values(workbook, validation_of(questions, f"D{ROW['Q2.1']}").formula1) == ["yes", "no",
                                                                                         "don't know"]
    count = validation_of(questions, f"D{ROW['Q3.1']}")
    cell = f"D{ROW['Q3.1']}"
    assert count.type == "custom" and count.formula1 == (
        f'IF(ISNUMBER({cell}),AND({cell}>=0,{cell}=INT({cell})),'
        f'OR(LOWER(TRIM({cell}))="don\'t know",LOWER(TRIM({cell}))="don\u2019t know"))')
    assert "don't know" in count.prompt
    assert not [dv for dv in questions.data_validations.dataValidation if f"D{ROW['Q1.2']}" in dv.sqref]


# ----------------------------------------------------------------------------------------------- round trip

def test_filled_form_round_trips_to_the_same_answers(blank_form, tmp_path):
    path = fill(blank_form, tmp_path / "form_KEN.xlsx", {qid: typed for qid, (typed, _) in FILLED.items()},
                country="ken")
    response = read_workbook(path, Q, 2009, "nq_2009_ken")
    answers = response.answers
    assert list(answers.columns) == ["source_id", "round", "country", "question_id", "answer", "location"]
    assert answers["question_id"].tolist() == QUESTIONS_2009   # every question, unanswered ones too
    expected = {qid: FILLED[qid][1] if qid in FILLED else None for qid in QUESTIONS_2009}
    assert dict(zip(answers["question_id"], answers["answer"])) == expected
    assert answers["round"].dtype == "int64" and set(answers["round"]) == {2009}
    assert set(answers["country"]) == {"KEN"} and set(answers["source_id"]) == {"nq_2009_ken"}
    assert answers.set_index("question_id").loc["Q5.1", "location"] == f"sheet 'Questions', cell D{ROW['Q5.1']}"
    assert (response.countries, response.layout, response.round) == (["KEN"], "xlsx", 2009)
    assert response.country_locations == {"KEN": "sheet 'Cover', cell B7"}
    assert response.respondents.to_dict("records") == [
        {"country": "KEN", "respondent_agency": "Ministry of ICT", "submitted": None,
         "location": "sheet 'Cover', cell B7"}]
    # the round taken from the form when the delivery declares none; dispatch by suffix
    assert read_response_file(path, Q, None, "x").answers["answer"].tolist() == answers["answer"].tolist()


# --------------------------------------------------------------------------------------- bad workbook answers

def test_each_bad_answer_is_one_violation_naming_sheet_cell_question_and_rule(blank_form, tmp_path):
    path = fill(blank_form, tmp_path / "form_KEN.xlsx",
                {"Q5.1": "perhaps", "Q3.1": -2, "Q7.1": "2.5", "Q2.1": "partial", "Q6.1": 4, "Q1.1": "yes"})
    messages = violations_of(lambda: read_workbook(path, Q, 2009, "s"))
    assert messages == [
        f"{path}, sheet 'Questions', cell D{ROW['Q1.1']} (question Q1.1): 'yes' is not an allowed answer "
        "(very serious, serious, not very serious, not at all serious, don't know)",
        f"{path}, sheet 'Questions', cell D{ROW['Q2.1']} (question Q2.1): 'partial' is not an allowed answer "
        "(yes, no, don't know)",
        f"{path}, sheet 'Questions', cell D{ROW['Q3.1']} (question Q3.1): '-2' is not a count: the answer is a "
        "whole number of 0 or more, or don't know",
        f"{path}, sheet 'Questions', cell D{ROW['Q5.1']} (question Q5.1): 'perhaps' is not an allowed answer "
        "(yes, partial, no, don't know)",
        f"{path}, sheet 'Questions', cell D{ROW['Q6.1']} (question Q6.1): '4' is not an allowed answer "
        "(1 - very low, 2 - low, 3 - moderate, 4 - high, 5 - very high, don't know)",
        f"{path}, sheet 'Questions', cell D{ROW['Q7.1']} (question Q7.1): '2.5' is not a count: the answer is a "
        "whole number of 0 or more, or don't know",
    ]
    with pytest.raises(InputError) as raised:
        read_workbook(path, Q, 2009, "s")
    first = raised.value.violations[0]
    assert first.value == "yes" and first.as_dict()["rule"].startswith(f"sheet 'Questions', cell D{ROW['Q1.1']}")


@pytest.mark.parametrize("code, rule", [
    ("PSE", "'PSE' is not an ITU Member State invited in round 2009"),
    ("SSD", "'SSD' is not an ITU Member State invited in round 2009"),
    ("XYZ", "'XYZ' is not a country code (an ISO3 code such as KEN)"),
    (None, "no country code: enter the ISO3 code of the responding country (e.g. KEN)"),
])
def test_a_non_member_unknown_or_missing_country_is_named(blank_form, tmp_path, code, rule):
    path = fill(blank_form, tmp_path / "form.xlsx", {"Q5.1": "yes"}, country=code)
    assert violations_of(lambda: read_workbook(path, Q, 2009, "s")) == [f"{path}, sheet 'Cover', cell B7: {rule}"]


def test_a_form_of_another_round_or_version_is_refused(tmp_path):
    form_2024 = write_form(Q, 2024, tmp_path / "form_2024.xlsx")
    path = fill(form_2024, tmp_path / "kenya.xlsx", {})
    assert violations_of(lambda: read_workbook(path, Q, 2009, "s")) == [
        f"{path}, sheet 'Cover', cell B3: this is the form of round 2024, but the delivery is declared for round "
        "2009: answer on the form of round 2009 (`cop questionnaire form --round 2009`)"]
    assert read_workbook(path, Q, 2024, "s").round == 2024
    old = fill(form_2024, tmp_path / "old.xlsx", {}, cover={"B4": 0, "B5": "COP-NQ-2024-v0"})
    assert violations_of(lambda: read_workbook(old, Q, 2024, "s")) == [
        f"{old}, sheet 'Cover', cell B4: this is version 0 of the form of round 2024, the current one is version 1: "
        "answer on the current form (`cop questionnaire form --round 2024`)"]
    edited = fill(form_2024, tmp_path / "edited.xlsx", {"Q5.1": "maybe"}, cover={"B5": "my form"})
    assert violations_of(lambda: read_workbook(edited, Q, 2024, "s")) == [
        f"{edited}, sheet 'Cover', cell B5: the form id is 'my form', the form of round 2024 says 'COP-NQ-2024-v1': "
        "the cover was edited, or this is another form",
        f"{edited}, sheet 'Questions', cell D{ROW['Q5.1']} (question Q5.1): 'maybe' is not an allowed answer "
        "(yes, partial, no, don't know)"]
    assert violations_of(lambda: read_workbook(path, Q, 2015, "s")) == [
        f"{path}: the delivery is declared for round 2015, which is not a round of the questionnaire "
        "(rounds: 2009, 2024)"]


def test_a_renamed_or_missing_sheet_is_named(blank_form, tmp_path):
    workbook = openpyxl.load_workbook(fill(blank_form, tmp_path / "f.xlsx", {}))
    workbook["Questions"].title = "Answers"
    workbook.save(tmp_path / "renamed.xlsx")
    assert violations_of(lambda: read_workbook(tmp_path / "renamed.xlsx", Q, 2009, "s")) == [
        f"{tmp_path / 'renamed.xlsx'}: the workbook has no sheet 'Questions' (its sheets: 'Cover', 'Answers', "
        "'Lists'): was it renamed?"]
    del workbook["Cover"]
    workbook.save(tmp_path / "two.xlsx")
    assert len(violations_of(lambda: read_workbook(tmp_path / "two.xlsx", Q, 2009, "s"))) == 2


def test_moved_or_deleted_question_rows_are_named_by_cell_and_question(blank_form, tmp_path):
    workbook = openpyxl.load_workbook(fill(blank_form, tmp_path / "f.xlsx", {"Q7.2": "training"}))
    sheet = workbook["Questions"]
    sheet.delete_rows(ROW["Q2.2"])   # every later question moves up one row
    workbook.save(tmp_path / "deleted.xlsx")
    messages = violations_of(lambda: read_workbook(tmp_path / "deleted.xlsx", Q, 2009, "s"))
    later = QUESTIONS_2009[QUESTIONS_2009.index("Q2.2"):]
    assert len(messages) == len(later)
    assert messages[0] == (
        f"{tmp_path / 'deleted.xlsx'}, sheet 'Questions', cell A{ROW['Q2.2']}: expected question Q2.2 in this row, "
        "found question Q2.3: rows of the form were moved, inserted or deleted, or the id was changed; keep the "
        "rows as in the blank form")
    assert "expected question Q7.2 in this row, found an empty cell" in messages[-1]

    workbook = openpyxl.load_workbook(blank_form)
    workbook["Cover"]["B7"] = "KEN"
    workbook["Questions"][f"A{ROW['Q5.1']}"] = "Q5.1a"
    workbook["Questions"]["D45"] = "yes"   # an answer below the form
    workbook.save(tmp_path / "edited.xlsx")
    assert violations_of(lambda: read_workbook(tmp_path / "edited.xlsx", Q, 2009, "s")) == [
        f"{tmp_path / 'edited.xlsx'}, sheet 'Questions', cell A{ROW['Q5.1']}: expected question Q5.1 in this row, "
        "found 'Q5.1a', which is no question of the round 2009 form: rows of the form were moved, inserted or "
        "deleted, or the id was changed; keep the rows as in the blank form",
        f"{tmp_path / 'edited.xlsx'}, sheet 'Questions', cell D45: 'yes' below the last question of the form "
        "(Q7.2): rows were added, moved or copied; answer only in the rows of the form"]


def test_an_empty_or_foreign_file_gets_a_clear_message(tmp_path):
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    assert violations_of(lambda: read_workbook(empty, Q, 2009, "s")) == [
        f"{empty}: the file is empty (0 bytes): expected the filled-in Excel form (.xlsx)"]
    renamed = tmp_path / "renamed.xlsx"
    renamed.write_text("country,round\nKEN,2009\n")
    assert violations_of(lambda: read_workbook(renamed, Q, 2009, "s")) == [
        f"{renamed}: not an Excel workbook (.xlsx) that can be opened: was it saved in another format (.xls, .ods, "
        "a renamed CSV) or damaged on the way? Send the form as Excel saved it"]
    old = tmp_path / "form.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    assert violations_of(lambda: read_response_file(old, Q, 2009, "s")) == [
        f"{old}: a .xls file is not read: a response to the national questionnaire is the Excel form (.xlsx) or a "
        "CSV file (.csv) (save it in Excel as .xlsx)"]
    assert violations_of(lambda: read_workbook(tmp_path / "absent.xlsx", Q, 2009, "s")) == [
        f"{tmp_path / 'absent.xlsx'}: the file does not exist"]


# ------------------------------------------------------------------------------------------------------- CSV

def write_csv(path, header, rows, delimiter=","):
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def csv_header():
    """The question columns in reverse form order, the layout's columns in between: the order is free."""
    ids = QUESTIONS_2009[::-1]
    return ids[:5] + ["round", "respondent_agency", "country"] + ids[5:]


def csv_line(header, country, answers, round_="2009", agency=""):
    values = {"country": country, "round": round_, "respondent_agency": agency, **answers}
    return [values.get(name, "") for name in header]


def test_csv_round_trips_to_the_same_answers(tmp_path):
    header = csv_header()
    kenya = {"Q1.1": "Very serious", "Q2.1": "YES", "Q3.1": "07", "Q7.1": "Don\u2019t know",
             "Q7.2": "legal drafting, hotline", "Q6.1": " 2 -  low "}
    brazil = {"Q2.1": "no", "Q3.1": "0", "Q5.1": "don't know", "Q7.1": "12.0"}
    path = write_csv(tmp_path / "responses.csv", header,
                     [csv_line(header, "KEN", kenya, agency="Communications Authority"), [""] * len(header),
                      csv_line(header, "bra", brazil)], delimiter=";")
    response = read_response_file(path, Q, 2009, "nq_csv")
    answers = response.answers.set_index(["country", "question_id"])
    assert len(answers) == 2 * len(QUESTIONS_2009)
    expected_ken = {"Q1.1": "very serious", "Q2.1": "yes", "Q3.1": "7", "Q7.1": "don't know",
                    "Q7.2": "legal drafting, hotline", "Q6.1": "2 - low"}
    expected_bra = {"Q2.1": "no", "Q3.1": "0", "Q5.1": "don't know", "Q7.1": "12"}
    for country, expected in (("KEN", expected_ken), ("BRA", expected_bra)):
        got = answers.loc[country, "answer"].to_dict()
        assert got == {qid: expected.get(qid) for qid in QUESTIONS_2009}
    assert answers.loc[("KEN", "Q2.1"), "location"] == "line 2, column 'Q2.1'"
    assert answers.loc[("BRA", "Q2.1"), "location"] == "line 4, column 'Q2.1'"   # line 3 is blank
    assert (response.countries, response.layout, response.round) == (["KEN", "BRA"], "csv", 2009)
    assert response.country_locations == {"KEN": "line 2", "BRA": "line 4"}
    assert response.respondents.set_index("country")["respondent_agency"].to_dict() == {
        "KEN": "Communications Authority", "BRA": None}
    assert read_csv(path, Q, None, "x").round == 2009


def test_bad_csv_answers_name_line_column_and_rule(tmp_path):
    header = csv_header()
    path = write_csv(tmp_path / "responses.csv", header, [
        csv_line(header, "KEN", {"Q2.1": "yes"}),
        csv_line(header, "GHA", {"Q5.1": "perhaps", "Q3.1": "-1"}),
        csv_line(header, "PSE", {}),
        csv_line(header, "KEN", {"Q2.1": "no"}),
    ])
    assert violations_of(lambda: read_csv(path, Q, 2009, "s")) == [
        f"{path}, line 3, column 'Q3.1': '-1' is not a count: the answer is a whole number of 0 or more, or "
        "don't know",   # in the order of the form, not of the file's columns
        f"{path}, line 3, column 'Q5.1': 'perhaps' is not an allowed answer (yes, partial, no, don't know)",
        f"{path}, line 4, column 'country': 'PSE' is not an ITU Member State invited in round 2009",
        f"{path}, line 5, column 'country': KEN already answered round 2009 on line 2: a country gives one "
        "response per round",
    ]


def test_csv_header_and_round_problems(tmp_path):
    header = csv_header()
    unknown = write_csv(tmp_path / "unknown.csv", [h for h in header if h != "Q5.1"] + ["Q9.9"],
                        [csv_line(header, "KEN", {})[:-1] + [""]])
    assert violations_of(lambda: read_csv(unknown, Q, 2009, "s")) == [
        f"{unknown}, line 1, column 'Q9.9': 'Q9.9' is neither a question of the round 2009 form nor a column of "
        "the layout (country, round, respondent_agency, submitted)",
        f"{unknown}, line 1: no column for question(s) Q5.1: a question left out cannot be told from one left "
        "unanswered; add the column(s), with empty cells where a country did not answer"]
    other_round = write_csv(tmp_path / "round.csv", header, [csv_line(header, "KEN", {}),
                                                             csv_line(header, "GHA", {}, round_="2024")])
    assert violations_of(lambda: read_csv(other_round, Q, 2009, "s")) == [
        f"{other_round}, line 3, column 'round': this line answers round 2024, but the delivery is declared for "
        "round 2009: one file per round"]
    assert violations_of(lambda: read_csv(other_round, Q, None, "s")) == [
        f"{other_round}, line 3, column 'round': this line answers round 2024, line 2 round 2009: a file holds "
        "the responses of one round"]
    no_country = write_csv(tmp_path / "nocountry.csv", ["round", *QUESTIONS_2009], [["2009"] * 41])
    assert violations_of(lambda: read_csv(no_country, Q, 2009, "s")) == [
        f"{no_country}, line 1: the header has no column 'country' (expected country,round,<question ids of the "
        "round>)"]
    short = write_csv(tmp_path / "short.csv", header, [csv_line(header, "KEN", {})[:-3]])
    assert violations_of(lambda: read_csv(short, Q, 2009, "s")) == [
        f"{short}, line 2: {len(header) - 3} values, but the header (line 1) has {len(header)} columns: a text "
        "with the delimiter in it must be quoted"]
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert violations_of(lambda: read_csv(empty, Q, 2009, "s")) == [
        f"{empty}, line 1: the file is empty or its first line is blank: expected the header "
        "country,round,<question ids>"]


# ------------------------------------------------------------------------------------- one response per country

def test_a_country_answering_twice_across_files_names_both_places(blank_form, tmp_path):
    workbook = read_workbook(fill(blank_form, tmp_path / "form_KEN.xlsx", {"Q2.1": "yes"}), Q, 2009, "a")
    header = csv_header()
    batch = read_csv(write_csv(tmp_path / "batch.csv", header, [csv_line(header, "GHA", {}),
                                                                csv_line(header, "KEN", {"Q2.1": "no"})]),
                     Q, 2009, "b")
    with pytest.raises(InputError) as raised:
        check_one_response_per_country([workbook, batch])
    assert [str(v) for v in raised.value.violations] == [
        f"{tmp_path / 'batch.csv'}, line 3: KEN answered round 2009 twice: also in {tmp_path / 'form_KEN.xlsx'}, "
        "sheet 'Cover', cell B7; a country gives one response per round: withdraw one of them"]
    # the same country in another round is its next response, not a second one
    form_2024 = write_form(Q, 2024, tmp_path / "form_2024.xlsx")
    later = read_workbook(fill(form_2024, tmp_path / "form_KEN_2024.xlsx", {}), Q, 2024, "c")
    assert check_one_response_per_country([workbook, later]) is None


# ------------------------------------------------------------------------------------------------------ CLI

def test_cop_questionnaire_form_writes_the_blank_form(tmp_path, capsys):
    out = tmp_path / "forms" / "form.xlsx"
    assert main(["questionnaire", "form", "--round", "2009", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == (
        f"wrote {out}: form COP-NQ-2009-v1, 40 questions, 191 invited countries")
    workbook = openpyxl.load_workbook(out)
    assert workbook["Cover"]["B5"].value == "COP-NQ-2009-v1"
    assert [workbook["Questions"][f"A{r}"].value for r in range(2, 42)] == QUESTIONS_2009
    assert main(["questionnaire", "form", "--round", "2015", "--out", str(tmp_path / "x.xlsx")]) == 2
    assert capsys.readouterr().err.strip() == (
        "cop questionnaire form: --round 2015: not a round of the questionnaire (rounds: 2009, 2024)")
    assert not (tmp_path / "x.xlsx").exists()
    assert main(["questionnaire", "form", "--round", "2009", "--out", str(tmp_path / "x.csv")]) == 2
    assert "name it *.xlsx" in capsys.readouterr().err
