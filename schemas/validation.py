"""Running a pandera schema lazily and getting its failure cases, the one way every module does it; and turning
the failure cases of a harmonised table into violations a provider can act on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pandera.pandas as pa

# (rule, column, value) of the delivered cell a failure case is about, given the frame, the case and its row;
# optionally a fourth item, the harmonised name of that column
CellLocator = Callable[[pd.DataFrame, Any, pd.Series], tuple]


def failure_cases(schema, frame: pd.DataFrame) -> pd.DataFrame:
    """pandera's failure cases for `frame` (columns schema_context, column, check, failure_case, index, ...);
    empty when the frame is valid. `schema` is a DataFrameModel class or a DataFrameSchema."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return exc.failure_cases
    return pd.DataFrame(columns=["schema_context", "column", "check", "check_number", "failure_case", "index"])


def cell_violations(schema, frame: pd.DataFrame, table: str, locate: CellLocator,
                    position: str | None = None) -> list[dict]:
    """Violations of `schema` in a harmonised `frame` whose rows keep their provenance (source_file, source_row),
    each a dict with file, row, column, rule and value (the shape of errors.Violation.as_dict), sorted by file and
    row so that a provider reads them in file order. Empty when the frame is valid.

    A structural failure (a missing column, a wrong dtype) concerns the whole table: it names `table` and no row.
    A row failure is traced back to the delivered cell by `locate(frame, case, row)`, which says the rule and the
    column and value in the provider's file (a harmonised column may come from a code column, a year header, ...).
    Unique and dataframe-wide checks report every column of a failing row, so one line is kept per row and check,
    and a cell that breaks one rule several times is reported once.

    `locate` may return a fourth item, the harmonised name of the column, kept as `harmonised_column` when the
    file calls it otherwise; `position` ("line" for a text file whose source_row is the editor line) is kept
    as `position`, the word a message puts before the number (errors.Violation)."""
    cases = failure_cases(schema, frame)
    if cases.empty:
        return []
    out = [{"file": table, "row": None, "column": case.column, "rule": f"table structure: {case.check}",
            "value": str(case.failure_case)} for case in cases[cases["index"].isna()].itertuples(index=False)]
    for case in cases.dropna(subset=["index"]).drop_duplicates(subset=["index", "check"]).itertuples(index=False):
        row = frame.loc[case.index]
        rule, column, value, *harmonised = locate(frame, case, row)
        violation = {"file": row["source_file"], "row": int(row["source_row"]), "column": column, "rule": rule,
                     "value": shown_value(value)}
        if harmonised and harmonised[0] is not None and harmonised[0] != column:
            violation["harmonised_column"] = harmonised[0]
        if position is not None:
            violation["position"] = position
        out.append(violation)
    unique = {(v["file"], v["row"], v["column"], v["rule"]): v for v in out}
    return sorted(unique.values(), key=lambda v: (v["file"], v["row"] or 0, str(v["column"])))


def shown_value(value: object) -> str | None:
    """A value as a provider typed it: 4210 rather than 4210.0; None for a missing one."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    if isinstance(value, float):
        return format(value, ".15g")
    return str(value)


# pandera's built-in checks in words: name -> (statistics -> the words after "<column> must ...")
_CHECK_WORDS: dict[str, Callable[[dict], str]] = {
    "greater_than": lambda s: f"be greater than {_shown(s['min_value'])}",
    "greater_than_or_equal_to": lambda s: f"be at least {_shown(s['min_value'])}",
    "less_than": lambda s: f"be less than {_shown(s['max_value'])}",
    "less_than_or_equal_to": lambda s: f"be at most {_shown(s['max_value'])}",
    "in_range": lambda s: f"be between {_shown(s['min_value'])} and {_shown(s['max_value'])}",
    "equal_to": lambda s: f"be {_shown(s['value'])}",
    "not_equal_to": lambda s: f"not be {_shown(s['value'])}",
    "isin": lambda s: "be one of: " + ", ".join(_shown(v) for v in s["allowed_values"]),
    "notin": lambda s: "not be one of: " + ", ".join(_shown(v) for v in s["forbidden_values"]),
    "str_matches": lambda s: f"match the pattern {s['pattern']}",
    "str_contains": lambda s: f"contain the pattern {s['pattern']}",
    "str_startswith": lambda s: f"start with {s['string']!r}",
    "str_endswith": lambda s: f"end with {s['string']!r}",
    "str_length": lambda s: _length_words(s.get("min_value"), s.get("max_value"), s.get("exact_value")),
}


def failure_in_words(schema, case) -> str:
    """The rule a pandera failure case breaks, in words a data provider reads ("year must be between 1960 and
    2026", "reporting_org must be one of: NCMEC, IWF, INHOPE", "reports is required but the cell is empty"): the
    failing check of the schema, found by the case's column and check number, read by check_in_words. A check
    the schema names in words (a custom check) is given by that name; a built-in check without words here by its
    pandera name after the column."""
    column, check = case.column, str(case.check)
    if check == "not_nullable":
        return f"{column} is required but the cell is empty"
    if check in ("field_uniqueness", "multiple_fields_uniqueness"):
        return f"{column} must be unique" if check == "field_uniqueness" else "the row's key must be unique"
    found, siblings = _schema_check(schema, case)
    if found is None or (found.name not in _CHECK_WORDS and found.error is not None):
        return f"{column}: {check}" if column else check  # a built-in check this module has no words for
    return check_in_words(found, column, siblings)


def _schema_check(schema, case) -> tuple:
    """The pandera Check behind a column failure case (by column and check number) and the column's checks, or
    (None, ())."""
    schema = schema.to_schema() if hasattr(schema, "to_schema") else schema
    columns = getattr(schema, "columns", {})
    number = getattr(case, "check_number", None)
    if case.column not in columns or number is None or pd.isna(number):
        return None, ()
    checks = columns[case.column].checks
    return (checks[int(number)], checks) if 0 <= int(number) < len(checks) else (None, ())


def _shown(value: object) -> str:
    return shown_value(value) if not isinstance(value, str) else value


def _length_words(low, high, exact) -> str:
    if exact is not None:
        return f"be {exact} characters long"
    if low is not None and high is not None:
        return f"be {low} to {high} characters long"
    return f"be at least {low} characters long" if low is not None else f"be at most {high} characters long"


# the bound checks pandera makes of a Field's ge= and le=: each is read together with the other as one range
_RANGE_BOUNDS = {"greater_than_or_equal_to": ("less_than_or_equal_to", "max_value"),
                 "less_than_or_equal_to": ("greater_than_or_equal_to", "min_value")}


def check_in_words(check, subject: str, siblings=()) -> str:
    """The rule one pandera check enforces on `subject` (the column, by its harmonised name), in words a data
    provider reads: "weight must be greater than 0", "sex must be one of: F, M", built from the check's name and
    statistics (its parameters, _CHECK_WORDS). pandera turns a Field's ge=5, le=17 into two checks: given the
    column's other checks as `siblings`, either bound reads as the range, "age must be between 5 and 17". A custom
    check (no statistics) is named in words by the model, and its name is the rule."""
    other = _RANGE_BOUNDS.get(check.name)
    if other is not None:
        partner = next((c for c in siblings if c.name == other[0]), None)
        if partner is not None:
            low, high = ((check, partner) if check.name == "greater_than_or_equal_to" else (partner, check))
            return (f"{subject} must be between {_shown(low.statistics['min_value'])} and "
                    f"{_shown(high.statistics['max_value'])}")
    words = _CHECK_WORDS.get(check.name)
    if words is None:
        return check.name
    return f"{subject} must {words(check.statistics)}"
