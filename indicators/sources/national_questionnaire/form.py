"""The blank Excel form of the COP national questionnaire that Member States fill in (`cop questionnaire form`).

Three sheets, whose fixed places reader.py checks:
- "Cover": the title, the round, the form version and the form id (COP-NQ-<round>-v<version>) in COVER_CELLS; the
  input cells of the responding country (ISO3 code, a drop-down of the countries invited in the round), the
  responding agency, a contact e-mail and the date of the response.
- "Questions": a header row, then one row per question of the round in the order of the definition: id (column
  A, which the reader checks, so rows must not be moved), category, question text, the answer cell (D), a
  comment cell (E) and the allowed answers in words (F).
- "Lists" (hidden): the invited countries and the answer scales the drop-downs point at. A list of 191 codes
  is longer than the 255 characters Excel accepts in an inline validation list, so every list is a range here.

Choice questions get a drop-down of the definition's choices, "don't know" last, with an error alert. A count
accepts a whole number >= 0 or the text "don't know": Excel's whole-number validation would refuse the text, so
the cell has a custom validation formula (IF(ISNUMBER(cell), whole and >= 0, the text is "don't know"), with
either apostrophe) and an input message saying so; the reader applies the same rule again, because validation
is lost when a respondent pastes into a cell.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from indicators.errors import ConfigError
from indicators.sources.national_questionnaire.definition import CATEGORIES, Question, Questionnaire
from schemas.ict import REFERENCE_DIR

COVER_SHEET = "Cover"
QUESTIONS_SHEET = "Questions"
LISTS_SHEET = "Lists"
# the cover's fixed cells (label in column A, value in column B)
COVER_CELLS = {"round": "B3", "form_version": "B4", "form_id": "B5", "country": "B7", "agency": "B8",
               "email": "B9", "date": "B10"}
COVER_LABELS = {"round": "Round", "form_version": "Form version", "form_id": "Form id",
                "country": "Country (ISO3 code)", "agency": "Responding agency", "email": "Contact e-mail",
                "date": "Date of the response"}
# the columns of the Questions sheet
ID_COLUMN, CATEGORY_COLUMN, TEXT_COLUMN, ANSWER_COLUMN, COMMENT_COLUMN, ALLOWED_COLUMN = "ABCDEF"
QUESTION_HEADER = ("Question id", "Category", "Question", "Answer", "Comment (optional)", "Allowed answers")
FIRST_QUESTION_ROW = 2
COLUMN_WIDTHS = {"A": 11, "B": 26, "C": 70, "D": 22, "E": 40, "F": 34}

_BOLD = Font(bold=True)
_INPUT = PatternFill("solid", fgColor="FFF2CC")   # light yellow: the cells a respondent fills in
_HEADER = PatternFill("solid", fgColor="D9D9D9")
_THIN = Side(style="thin", color="A6A6A6")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP = Alignment(wrap_text=True, vertical="top")


def form_id(round_: int, form_version: int) -> str:
    """The id printed on the cover: which questionnaire, round and version of the form ("COP-NQ-2009-v1")."""
    return f"COP-NQ-{round_}-v{form_version}"


@lru_cache(maxsize=1)
def country_names() -> dict[str, str]:
    """ISO3 -> name of every country code the project knows (data/reference/countries.csv: ISO 3166-1 and the
    economy codes XKX, CHI)."""
    with (REFERENCE_DIR / "countries.csv").open(encoding="utf-8", newline="") as handle:
        return {row["iso3"]: row["name"] for row in csv.DictReader(handle)}


def category_label(category: int) -> str:
    return f"{category} {CATEGORIES[category]}"


def allowed_in_words(questionnaire: Questionnaire, question: Question) -> str:
    """What the answer cell accepts, as the form and the reader's messages say it."""
    if question.type == "choice":
        return ", ".join(questionnaire.choices(question))
    if question.type == "count":
        return f"a whole number of 0 or more, or {questionnaire.dont_know}"
    return f"free text (or {questionnaire.dont_know})"


def write_form(questionnaire: Questionnaire, round_: int, path: Path | str) -> Path:
    """Write the blank form of one round to `path` (.xlsx) and return the path."""
    if round_ not in questionnaire.rounds:
        raise ConfigError(f"{questionnaire.file.name}: round {round_} is not a round of the questionnaire "
                          f"(rounds: {', '.join(str(r) for r in questionnaire.rounds)})")
    path = Path(path)
    workbook = Workbook()
    cover = workbook.active
    cover.title = COVER_SHEET
    questions_sheet = workbook.create_sheet(QUESTIONS_SHEET)
    lists = workbook.create_sheet(LISTS_SHEET)
    country_range, scale_ranges = _write_lists(lists, questionnaire, round_)
    _write_cover(cover, questionnaire, round_, country_range)
    _write_questions(questions_sheet, questionnaire, round_, scale_ranges)
    lists.sheet_state = "hidden"
    workbook.active = 0
    workbook.save(path)
    return path


def _write_lists(sheet, questionnaire: Questionnaire, round_: int) -> tuple[str, dict[str, str]]:
    """The invited countries (code, name, ITU region) and one column per answer scale of the round; returns the
    range of the codes and, per scale, the range of its choices ("don't know" included)."""
    names = country_names()
    invited = questionnaire.invited(round_)
    sheet.append(["country", "name", "itu_region"])
    for iso3, region in sorted(invited.items()):
        sheet.append([iso3, names.get(iso3, ""), region])
    country_range = f"{LISTS_SHEET}!$A$2:$A${len(invited) + 1}"
    scale_ranges = {}
    used = dict.fromkeys(q.scale for q in questionnaire.round_questions(round_) if q.type == "choice")
    for offset, scale in enumerate(used):
        column = get_column_letter(5 + offset)   # E, F, ...: a blank column D between countries and scales
        choices = [*questionnaire.scales[scale].choices, questionnaire.dont_know]
        sheet[f"{column}1"] = scale
        for row, choice in enumerate(choices, start=2):
            sheet[f"{column}{row}"] = choice
        scale_ranges[scale] = f"{LISTS_SHEET}!${column}$2:${column}${len(choices) + 1}"
    return country_range, scale_ranges


def _write_cover(sheet, questionnaire: Questionnaire, round_: int, country_range: str) -> None:
    sheet["A1"] = questionnaire.title
    sheet["A1"].font = Font(bold=True, size=14)
    values = {"round": round_, "form_version": questionnaire.form_version,
              "form_id": form_id(round_, questionnaire.form_version)}
    for key, cell in COVER_CELLS.items():
        row = cell[1:]
        sheet[f"A{row}"] = COVER_LABELS[key]
        sheet[f"A{row}"].font = _BOLD
        sheet[cell].border = _BOX
        sheet[cell].alignment = Alignment(horizontal="left")
        if key in values:
            sheet[cell] = values[key]
        else:
            sheet[cell].fill = _INPUT
    country = COVER_CELLS["country"]
    last = len(questionnaire.invited(round_)) + 1
    # the chosen country's name beside its code, for the respondent to see the code is theirs
    sheet[f"C{country[1:]}"] = f'=IFERROR(VLOOKUP({country},{LISTS_SHEET}!$A$2:$B${last},2,FALSE),"")'
    countries = DataValidation(type="list", formula1=country_range, allow_blank=True, showErrorMessage=True,
                               errorTitle="Not an invited country",
                               error=f"Choose the ISO3 code of your country from the list of the "
                                     f"{len(questionnaire.invited(round_))} Member States invited in round "
                                     f"{round_}.",
                               showInputMessage=True, promptTitle="Country",
                               prompt="The ISO3 code of the responding country, e.g. KEN for Kenya.")
    countries.add(country)
    date = DataValidation(type="date", operator="greaterThan", formula1="DATE(2000,1,1)", allow_blank=True,
                          showErrorMessage=True, errorTitle="Not a date",
                          error="Enter the date of the response, e.g. 2009-06-30.")
    date.add(COVER_CELLS["date"])
    sheet[COVER_CELLS["date"]].number_format = "yyyy-mm-dd"
    sheet.add_data_validation(countries)
    sheet.add_data_validation(date)
    note = questionnaire.rounds[round_].note
    instructions = [
        "How to fill in this form",
        "1. Choose your country's ISO3 code in the yellow cell above and fill in the agency, e-mail and date.",
        f"2. On the sheet '{QUESTIONS_SHEET}', answer every question in column {ANSWER_COLUMN}: choose from "
        f"the drop-down list, or enter a whole number for counts. Answer \"{questionnaire.dont_know}\" when "
        "the information is not known; leave a cell empty only when the question was not answered.",
        f"3. Do not rename the sheets, and do not move, insert or delete rows on '{QUESTIONS_SHEET}': "
        "answers are read by question id and cell.",
        "4. Return the file as it is (Excel .xlsx).",
    ] + ([f"Round {round_}: {note}"] if note else [])
    first = int(COVER_CELLS["date"][1:]) + 2
    for offset, line in enumerate(instructions):
        sheet[f"A{first + offset}"] = line
    sheet[f"A{first}"].font = _BOLD
    sheet.column_dimensions["A"].width = 24
    sheet.column_dimensions["B"].width = 34
    sheet.column_dimensions["C"].width = 36


def _write_questions(sheet, questionnaire: Questionnaire, round_: int, scale_ranges: dict[str, str]) -> None:
    for column, title in zip(ID_COLUMN + CATEGORY_COLUMN + TEXT_COLUMN + ANSWER_COLUMN + COMMENT_COLUMN
                             + ALLOWED_COLUMN, QUESTION_HEADER):
        cell = sheet[f"{column}1"]
        cell.value = title
        cell.font = _BOLD
        cell.fill = _HEADER
        cell.border = _BOX
    for column, width in COLUMN_WIDTHS.items():
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = f"A{FIRST_QUESTION_ROW}"
    choice_lists: dict[str, DataValidation] = {}
    for row, question in enumerate(questionnaire.round_questions(round_), start=FIRST_QUESTION_ROW):
        sheet[f"{ID_COLUMN}{row}"] = question.id
        sheet[f"{CATEGORY_COLUMN}{row}"] = category_label(question.category)
        sheet[f"{TEXT_COLUMN}{row}"] = question.text
        sheet[f"{ALLOWED_COLUMN}{row}"] = allowed_in_words(questionnaire, question)
        for column in ID_COLUMN + CATEGORY_COLUMN + TEXT_COLUMN + ALLOWED_COLUMN:
            sheet[f"{column}{row}"].alignment = _WRAP
        answer = sheet[f"{ANSWER_COLUMN}{row}"]
        for cell in (answer, sheet[f"{COMMENT_COLUMN}{row}"]):
            cell.fill = _INPUT
            cell.border = _BOX
            cell.alignment = _WRAP
        if question.type == "choice":
            if question.scale not in choice_lists:
                choice_lists[question.scale] = _choice_validation(questionnaire, question, scale_ranges)
            choice_lists[question.scale].add(answer.coordinate)
        elif question.type == "count":
            count = _count_validation(questionnaire, answer.coordinate)
            count.add(answer.coordinate)
            sheet.add_data_validation(count)
        else:
            answer.number_format = "@"   # text: Excel must not turn "1/2" into a date
    for validation in choice_lists.values():
        sheet.add_data_validation(validation)


def _excel_message(text: str) -> str:
    """A validation message Excel accepts (at most 255 characters; a longer one makes Excel repair the file)."""
    return text if len(text) <= 255 else text[:252] + "..."


def _choice_validation(questionnaire: Questionnaire, question: Question,
                       scale_ranges: dict[str, str]) -> DataValidation:
    allowed = ", ".join(questionnaire.choices(question))
    return DataValidation(type="list", formula1=scale_ranges[question.scale], allow_blank=True,
                          showErrorMessage=True, errorStyle="stop", errorTitle="Not an allowed answer",
                          error=_excel_message(f"Choose one of: {allowed}."), showInputMessage=True,
                          promptTitle="Answer", prompt=_excel_message(f"Choose from the list: {allowed}."))


def _count_validation(questionnaire: Questionnaire, cell: str) -> DataValidation:
    """A whole number >= 0 or "don't know" (typed with a straight or a typographic apostrophe). IF, not AND/OR:
    Excel evaluates every argument of AND, and INT of a text is an error that would refuse "don't know"."""
    dont_know = questionnaire.dont_know.lower().replace('"', '""')   # a formula string doubles its quotes
    typographic = dont_know.replace("'", "\u2019")
    text_rule = f'OR(LOWER(TRIM({cell}))="{dont_know}",LOWER(TRIM({cell}))="{typographic}")'
    formula = f"IF(ISNUMBER({cell}),AND({cell}>=0,{cell}=INT({cell})),{text_rule})"
    return DataValidation(type="custom", formula1=formula, allow_blank=True, showErrorMessage=True,
                          errorStyle="stop", errorTitle="Not a count",
                          error=f"Enter a whole number of 0 or more, or {questionnaire.dont_know}.",
                          showInputMessage=True, promptTitle="Count",
                          prompt=f"A whole number of 0 or more, or {questionnaire.dont_know} if it is not known.")
