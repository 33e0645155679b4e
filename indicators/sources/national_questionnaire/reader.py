"""Read the responses to the COP national questionnaire: the Excel form of form.py, filled in by a Member State,
or a CSV file of one row per country. Every answer is checked against the questionnaire definition, and every
problem of a file is one Violation naming the place the provider finds it (sheet and cell, or line and column),
the question and the rule; all of them are raised together as one InputError.

Answers are returned in their canonical form: the definition's text of a choice (matched ignoring case, spaces
and the kind of apostrophe: " Yes " -> "yes"), a count as the text of its integer ("3"), free text as given, and
the definition's "don't know". A blank answer is a row with answer None, so that unanswered questions are known.

CSV layout: a header `country,round,<the question ids of the round>` (optional `respondent_agency`,
`submitted`), in any order, comma- or semicolon-separated, UTF-8; one line per country. A missing question column
is an error (a question left out cannot be told from one left unanswered), so is an unknown column.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pandas as pd
from openpyxl import load_workbook
from openpyxl.utils import column_index_from_string

from indicators.errors import InputError, Violation
from indicators.sources.national_questionnaire.definition import Question, Questionnaire
from indicators.sources.national_questionnaire.form import (
    ANSWER_COLUMN, COVER_CELLS, COVER_SHEET, FIRST_QUESTION_ROW, ID_COLUMN, QUESTIONS_SHEET, country_names,
    form_id)

ANSWER_FRAME_COLUMNS = ("source_id", "round", "country", "question_id", "answer", "location")
RESPONDENT_COLUMNS = ("country", "respondent_agency", "submitted", "location")
CSV_COLUMNS = ("country", "round")
CSV_OPTIONAL_COLUMNS = ("respondent_agency", "submitted")
_COUNT = re.compile(r"^\+?(\d+)(\.0*)?$")


@dataclass(frozen=True)
class FormViolation(Violation):
    """A Violation located in a response file as its provider sees it: `where` is "sheet 'Questions', cell D14
    (question Q5.1)" or "line 3, column 'Q5.1'"; the rule says the value and the rule in words, so the value is
    not repeated after it: "form_KEN.xlsx, sheet 'Questions', cell D14 (question Q5.1): 'perhaps' is not an
    allowed answer (yes, partial, no, don't know)"."""

    where: str | None = None

    def __str__(self) -> str:
        return f"{self.file}, {self.where}: {self.rule}" if self.where else f"{self.file}: {self.rule}"

    def as_dict(self) -> dict:
        case = super().as_dict()
        if self.where and self.row is None:  # a workbook cell: its place is only in `where`
            case["rule"] = f"{self.where}: {self.rule}"
        return case


@dataclass
class ResponseFile:
    """The responses of one file: `answers` has one row per country and question of the round (ANSWER_FRAME_COLUMNS;
    answer None when unanswered); `country_locations` where each country's code was read, `respondents` the
    agency and date each response gives."""

    answers: pd.DataFrame
    countries: list[str]
    layout: str   # "xlsx" or "csv"
    path: Path
    source_id: str
    round: int
    country_locations: dict[str, str] = field(default_factory=dict)
    respondents: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(RESPONDENT_COLUMNS)))


def read_response_file(path: Path | str, questionnaire: Questionnaire, round_: int | None,
                       source_id: str) -> ResponseFile:
    """Read an Excel form (.xlsx) or a CSV file (.csv), by the file's suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return read_workbook(path, questionnaire, round_, source_id)
    if suffix == ".csv":
        return read_csv(path, questionnaire, round_, source_id)
    advice = " (save it in Excel as .xlsx)" if suffix in (".xls", ".xlsm", ".ods") else ""
    raise InputError([FormViolation(str(path), f"a {suffix or 'suffix-less'} file is not read: a response to the "
                                               f"national questionnaire is the Excel form (.xlsx) or a CSV file "
                                               f"(.csv){advice}")])


def check_one_response_per_country(files: list[ResponseFile]) -> None:
    """One response per country and round across files (read_csv already refuses a country twice in one file):
    an InputError naming both places of every country that answered twice."""
    first_seen: dict[tuple[int, str], str] = {}
    violations = []
    for response in files:
        for country in response.countries:
            here = response.country_locations.get(country, "")
            if (response.round, country) in first_seen:
                violations.append(FormViolation(
                    str(response.path), f"{country} answered round {response.round} twice: also in "
                    f"{first_seen[(response.round, country)]}; a country gives one response per round: withdraw "
                    "one of them", value=country, where=here or None))
            else:
                first_seen[(response.round, country)] = f"{response.path}, {here}" if here else str(response.path)
    if violations:
        raise InputError(violations)


# --------------------------------------------------------------------------------------------------- answers

def _normal(text: str) -> str:
    """The form of a text compared with the choices: case, runs of spaces and typographic apostrophes ignored."""
    return " ".join(text.replace("\u2019", "'").replace("\u2018", "'").split()).casefold()


def _text_of(value: object) -> str | None:
    """A cell's value as text, as the respondent sees it (3.0 -> "3", a date -> 2009-06-30)."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def parse_answer(questionnaire: Questionnaire, question: Question, value: object) -> tuple[str | None, str | None]:
    """(the canonical answer or None when blank, None) or (None, the broken rule in words)."""
    text = _text_of(value)
    if text is None or not text.strip():
        return None, None
    if _normal(text) == _normal(questionnaire.dont_know):
        return questionnaire.dont_know, None
    if question.type == "choice":
        choices = questionnaire.choices(question)
        canonical = {_normal(choice): choice for choice in choices}.get(_normal(text))
        if canonical is None:
            return None, f"{text!r} is not an allowed answer ({', '.join(choices)})"
        return canonical, None
    if question.type == "count":
        count = _count(value, text)
        if count is None:
            return None, (f"{text!r} is not a count: the answer is a whole number of 0 or more, or "
                          f"{questionnaire.dont_know}")
        return str(count), None
    return text, None


def _count(value: object, text: str) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value) if float(value).is_integer() and value >= 0 else None
    matched = _COUNT.match(text.strip())
    return int(matched.group(1)) if matched else None


def _country(value: object, questionnaire: Questionnaire, round_: int) -> tuple[str | None, str | None]:
    """(ISO3, None) for a Member State invited in the round, else (None, the rule in words)."""
    text = _text_of(value)
    if text is None or not text.strip():
        return None, "no country code: enter the ISO3 code of the responding country (e.g. KEN)"
    code = text.strip().upper()
    if code in questionnaire.invited(round_):
        return code, None
    if code in country_names():
        return None, f"{code!r} is not an ITU Member State invited in round {round_}"
    return None, f"{text!r} is not a country code (an ISO3 code such as KEN)"


def _whole_number(value: object) -> int | None:
    text = _text_of(value)
    return int(text.strip()) if text is not None and text.strip().isdigit() else None


def _rounds_in_words(questionnaire: Questionnaire) -> str:
    return ", ".join(str(r) for r in questionnaire.rounds)


def _declared_round_problem(questionnaire: Questionnaire, round_: int | None) -> str | None:
    if round_ is not None and round_ not in questionnaire.rounds:
        return (f"the delivery is declared for round {round_}, which is not a round of the questionnaire "
                f"(rounds: {_rounds_in_words(questionnaire)})")
    return None


def _answer_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(ANSWER_FRAME_COLUMNS))
    frame["round"] = frame["round"].astype("int64")
    frame["answer"] = frame["answer"].astype(object).where(frame["answer"].notna(), None)
    return frame


# -------------------------------------------------------------------------------------------------- workbook

def read_workbook(path: Path | str, questionnaire: Questionnaire, round_: int | None,
                  source_id: str) -> ResponseFile:
    """Read one filled-in form; `round_` is the round the delivery is declared for (None: the form's own)."""
    path = Path(path)
    problem = _declared_round_problem(questionnaire, round_)
    if problem:
        raise InputError([FormViolation(str(path), problem)])
    workbook = _open_workbook(path)
    missing = [name for name in (COVER_SHEET, QUESTIONS_SHEET) if name not in workbook.sheetnames]
    if missing:
        sheets = ", ".join(repr(name) for name in workbook.sheetnames)
        raise InputError([FormViolation(str(path), f"the workbook has no sheet {name!r} (its sheets: {sheets}): "
                                                   "was it renamed?") for name in missing])
    violations: list[Violation] = []
    form_round, country = _read_cover(path, workbook[COVER_SHEET], questionnaire, round_, violations)
    if form_round is None:   # not a form of a round that can be checked: its questions are not read
        raise InputError(violations)
    rows = _read_questions(path, workbook[QUESTIONS_SHEET], questionnaire, form_round, violations)
    if violations:
        raise InputError(violations)
    country_cell = f"sheet '{COVER_SHEET}', cell {COVER_CELLS['country']}"
    cover = workbook[COVER_SHEET]
    answers = _answer_frame([{"source_id": source_id, "round": form_round, "country": country, "question_id": qid,
                              "answer": answer, "location": location} for qid, answer, location in rows])
    agency = _text_of(cover[COVER_CELLS["agency"]].value)
    submitted = _text_of(cover[COVER_CELLS["date"]].value)
    respondents = pd.DataFrame([{"country": country, "respondent_agency": agency and agency.strip() or None,
                                 "submitted": submitted and submitted.strip() or None, "location": country_cell}],
                               columns=list(RESPONDENT_COLUMNS))
    return ResponseFile(answers, [country], "xlsx", path, source_id, form_round, {country: country_cell},
                        respondents)


def _open_workbook(path: Path):
    if not path.is_file():
        raise InputError([FormViolation(str(path), "the file does not exist")])
    if path.stat().st_size == 0:
        raise InputError([FormViolation(str(path), "the file is empty (0 bytes): expected the filled-in Excel "
                                                   "form (.xlsx)")])
    try:
        with warnings.catch_warnings():   # openpyxl warns of Excel extensions it drops; the answers are unaffected
            warnings.simplefilter("ignore")
            return load_workbook(path, data_only=True)   # data_only: a formula's value as Excel last computed it
    except Exception:   # zip, XML and format errors of a damaged or foreign file: said in words, not as a trace
        raise InputError([FormViolation(str(path), "not an Excel workbook (.xlsx) that can be opened: was it saved "
                                                   "in another format (.xls, .ods, a renamed CSV) or damaged on "
                                                   "the way? Send the form as Excel saved it")]) from None


def _read_cover(path: Path, cover, questionnaire: Questionnaire, declared: int | None,
                violations: list) -> tuple[int | None, str | None]:
    """(the round of the form, the country) from the cover; the round is None when the form cannot be read as
    the current form of a round of the questionnaire. Problems are appended to `violations`."""
    def add(key: str, rule: str, value: object = None) -> None:
        violations.append(FormViolation(str(path), rule, value=value,
                                        where=f"sheet '{COVER_SHEET}', cell {COVER_CELLS[key]}"))

    raw_round = cover[COVER_CELLS["round"]].value
    form_round = _whole_number(raw_round)
    if form_round is None:
        add("round", f"the cover has no round in this cell (found {_text_of(raw_round)!r}): is this the form of "
                     "the COP national questionnaire (`cop questionnaire form`)?", raw_round)
        return None, None
    if declared is not None and form_round != declared:
        add("round", f"this is the form of round {form_round}, but the delivery is declared for round {declared}: "
                     f"answer on the form of round {declared} (`cop questionnaire form --round {declared}`)",
            raw_round)
        return None, None
    if form_round not in questionnaire.rounds:
        add("round", f"round {form_round} is not a round of the questionnaire (rounds: "
                     f"{_rounds_in_words(questionnaire)})", raw_round)
        return None, None
    raw_version = cover[COVER_CELLS["form_version"]].value
    if _whole_number(raw_version) != questionnaire.form_version:
        add("form_version", f"this is version {_text_of(raw_version)} of the form of round {form_round}, the "
                            f"current one is version {questionnaire.form_version}: answer on the current form "
                            f"(`cop questionnaire form --round {form_round}`)", raw_version)
        return None, None
    expected_id = form_id(form_round, questionnaire.form_version)
    raw_id = cover[COVER_CELLS["form_id"]].value
    if (_text_of(raw_id) or "").strip() != expected_id:
        add("form_id", f"the form id is {_text_of(raw_id)!r}, the form of round {form_round} says "
                       f"{expected_id!r}: the cover was edited, or this is another form", raw_id)
    raw_country = cover[COVER_CELLS["country"]].value
    country, problem = _country(raw_country, questionnaire, form_round)
    if problem:
        add("country", problem, raw_country)
    return form_round, country


def _read_questions(path: Path, sheet, questionnaire: Questionnaire, round_: int,
                    violations: list) -> list[tuple[str, str | None, str]]:
    """(question id, answer, location) of every question of the round, read from its row of the form; a row whose
    id (column A) is not the form's is a problem: rows were moved, inserted or deleted."""
    questions = questionnaire.round_questions(round_)
    ids = {q.id for q in questions}
    rows = []
    for row, question in enumerate(questions, start=FIRST_QUESTION_ROW):
        id_cell = f"{ID_COLUMN}{row}"
        found = (_text_of(sheet[id_cell].value) or "").strip()
        if found != question.id:
            seen = ("an empty cell" if not found else f"question {found}" if found in ids
                    else f"{found!r}, which is no question of the round {round_} form")
            violations.append(FormViolation(
                str(path), f"expected question {question.id} in this row, found {seen}: rows of the form were "
                "moved, inserted or deleted, or the id was changed; keep the rows as in the blank form",
                value=sheet[id_cell].value, where=f"sheet '{QUESTIONS_SHEET}', cell {id_cell}"))
            continue
        cell = f"{ANSWER_COLUMN}{row}"
        value = sheet[cell].value
        answer, problem = parse_answer(questionnaire, question, value)
        location = f"sheet '{QUESTIONS_SHEET}', cell {cell}"
        if problem:
            violations.append(FormViolation(str(path), problem, value=value,
                                            where=f"{location} (question {question.id})"))
        rows.append((question.id, answer, location))
    below = FIRST_QUESTION_ROW + len(questions)
    watched = [column_index_from_string(c) for c in (ID_COLUMN, ANSWER_COLUMN)]   # a form row moved or added
    for cells in sheet.iter_rows(min_row=below, max_col=max(watched)):
        for cell in (cells[i - 1] for i in watched):
            text = _text_of(cell.value)
            if text is not None and text.strip():
                violations.append(FormViolation(
                    str(path), f"{text!r} below the last question of the form ({questions[-1].id}): rows were "
                    "added, moved or copied; answer only in the rows of the form", value=cell.value,
                    where=f"sheet '{QUESTIONS_SHEET}', cell {cell.coordinate}"))
                break
    return rows


# ------------------------------------------------------------------------------------------------------- CSV

def read_csv(path: Path | str, questionnaire: Questionnaire, round_: int | None, source_id: str) -> ResponseFile:
    """Read a CSV file of responses (one line per country); `round_` is the declared round (None: the file's)."""
    path = Path(path)
    problem = _declared_round_problem(questionnaire, round_)
    if problem:
        raise InputError([FormViolation(str(path), problem)])
    header, records = _csv_records(path)
    columns = _csv_columns(path, header)
    form_round = _csv_round(path, records, columns, questionnaire, round_)
    questions = _csv_question_columns(path, header, columns, questionnaire, form_round)
    violations: list[Violation] = []
    answers, respondents, locations = [], [], {}
    for line, fields in records:
        if len(fields) != len(header):
            violations.append(FormViolation(str(path), f"{len(fields)} values, but the header (line 1) has "
                                                       f"{len(header)} columns: a text with the delimiter in it "
                                                       "must be quoted", row=line, position="line",
                                            where=f"line {line}"))
            continue
        name = header[columns["country"]]
        country, problem = _country(fields[columns["country"]], questionnaire, form_round)
        where = f"line {line}, column {name!r}"
        if problem:
            violations.append(FormViolation(str(path), problem, row=line, column=name,
                                            value=fields[columns["country"]], position="line", where=where))
        elif country in locations:
            violations.append(FormViolation(str(path), f"{country} already answered round {form_round} on "
                                                       f"{locations[country]}: a country gives one response per "
                                                       "round", row=line, column=name, value=country,
                                            position="line", where=where))
        for position, question in questions:
            name = header[position]
            location = f"line {line}, column {name!r}"
            answer, problem = parse_answer(questionnaire, question, fields[position])
            if problem:
                shown = location if name == question.id else f"{location} (question {question.id})"
                violations.append(FormViolation(str(path), problem, row=line, column=name, value=fields[position],
                                                position="line", where=shown))
            answers.append({"source_id": source_id, "round": form_round, "country": country,
                            "question_id": question.id, "answer": answer, "location": location})
        if country and country not in locations:
            locations[country] = f"line {line}"
            respondents.append({"country": country, "location": f"line {line}",
                                **{key: (fields[columns[key]].strip() or None) if key in columns else None
                                   for key in CSV_OPTIONAL_COLUMNS}})
    if violations:
        raise InputError(violations)
    return ResponseFile(_answer_frame(answers), list(locations), "csv", path, source_id, form_round, locations,
                        pd.DataFrame(respondents, columns=list(RESPONDENT_COLUMNS)))


def _csv_records(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(line of the record's start, fields)]) of a UTF-8 CSV file, comma or semicolon separated (the
    delimiter of the header line); blank lines are skipped."""
    if not path.is_file():
        raise InputError([FormViolation(str(path), "the file does not exist")])
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise InputError([FormViolation(str(path), "not UTF-8 text: save the CSV file as UTF-8", row=line,
                                        position="line", where=f"line {line}")]) from None
    first = text.split("\n", 1)[0]
    if not first.strip():
        raise InputError([FormViolation(str(path), "the file is empty or its first line is blank: expected the "
                                                   "header country,round,<question ids>", row=1, position="line",
                                        where="line 1")])
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [name.strip() for name in next(reader)]
    records, start = [], reader.line_num + 1
    for fields in reader:
        if any(value.strip() for value in fields):
            records.append((start, fields))
        start = reader.line_num + 1
    if not records:
        raise InputError([FormViolation(str(path), "the file has a header but no response (no line after line 1)",
                                        row=1, position="line", where="line 1")])
    return header, records


def _csv_columns(path: Path, header: list[str]) -> dict[str, int]:
    """Position of the layout's own columns (country, round, and the optional ones present), by name in any case;
    an InputError when a column is missing or a name is used twice."""
    violations = []
    seen: dict[str, int] = {}
    for position, name in enumerate(header):
        key = name.casefold()
        if key in seen:
            violations.append(FormViolation(str(path), f"the column {name!r} appears twice (also column "
                                                       f"{seen[key] + 1} of the header)", row=1, column=name,
                                            position="line", where=f"line 1, column {name!r}"))
        seen.setdefault(key, position)
    for name in CSV_COLUMNS:
        if name not in seen:
            violations.append(FormViolation(str(path), f"the header has no column {name!r} (expected "
                                                       "country,round,<question ids of the round>)", row=1,
                                            position="line", where="line 1"))
    if violations:
        raise InputError(violations)
    return {name: seen[name] for name in CSV_COLUMNS + CSV_OPTIONAL_COLUMNS if name in seen}


def _csv_round(path: Path, records: list[tuple[int, list[str]]], columns: dict[str, int],
               questionnaire: Questionnaire, declared: int | None) -> int:
    """The round of the file: the declared one, which every line must give, or (nothing declared) the round of
    the lines, one for the whole file."""
    violations, file_round, first_line = [], declared, None
    for line, fields in records:
        raw = fields[columns["round"]] if columns["round"] < len(fields) else ""
        where = f"line {line}, column 'round'"
        value = _whole_number(raw)
        if value is None:
            rule = f"{raw!r} is not a round (a year such as 2009)"
        elif declared is not None and value != declared:
            rule = (f"this line answers round {value}, but the delivery is declared for round {declared}: one "
                    "file per round")
        elif file_round is not None and value != file_round:
            rule = (f"this line answers round {value}, line {first_line} round {file_round}: a file holds the "
                    "responses of one round")
        else:
            file_round, first_line = value, first_line or line
            continue
        violations.append(FormViolation(str(path), rule, row=line, column="round", value=raw, position="line",
                                        where=where))
    if not violations and file_round not in questionnaire.rounds:
        violations.append(FormViolation(str(path), f"round {file_round} is not a round of the questionnaire "
                                                   f"(rounds: {_rounds_in_words(questionnaire)})",
                                        row=first_line, column="round", position="line",
                                        where=f"line {first_line}, column 'round'"))
    if violations:
        raise InputError(violations)
    return file_round


def _csv_question_columns(path: Path, header: list[str], columns: dict[str, int], questionnaire: Questionnaire,
                          round_: int) -> list[tuple[int, Question]]:
    """(position, question) of every question of the round, in form order; an unknown column or a missing
    question is an InputError."""
    questions = {q.id.casefold(): q for q in questionnaire.round_questions(round_)}
    found: dict[str, int] = {}
    violations = []
    for position, name in enumerate(header):
        key = name.casefold()
        if key in questions:
            found.setdefault(questions[key].id, position)
        elif key not in columns:
            violations.append(FormViolation(
                str(path), f"{name!r} is neither a question of the round {round_} form nor a column of the layout "
                f"({', '.join(CSV_COLUMNS + CSV_OPTIONAL_COLUMNS)})", row=1, column=name, position="line",
                where=f"line 1, column {name!r}"))
    missing = [q.id for q in questions.values() if q.id not in found]
    if missing:
        violations.append(FormViolation(
            str(path), f"no column for question(s) {', '.join(missing)}: a question left out cannot be told from "
            "one left unanswered; add the column(s), with empty cells where a country did not answer", row=1,
            position="line", where="line 1"))
    if violations:
        raise InputError(violations)
    return [(found[q.id], q) for q in questions.values()]
