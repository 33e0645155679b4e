"""Running a pandera schema lazily and getting its failure cases, the one way every module does it; and turning
the failure cases of a harmonised table into violations a provider can act on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pandera.pandas as pa

# (rule, column, value) of the delivered cell a failure case is about, given the frame, the case and its row
CellLocator = Callable[[pd.DataFrame, Any, pd.Series], tuple[str, object, object]]


def failure_cases(schema, frame: pd.DataFrame) -> pd.DataFrame:
    """pandera's failure cases for `frame` (columns schema_context, column, check, failure_case, index, ...);
    empty when the frame is valid. `schema` is a DataFrameModel class or a DataFrameSchema."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return exc.failure_cases
    return pd.DataFrame(columns=["schema_context", "column", "check", "check_number", "failure_case", "index"])


def cell_violations(schema, frame: pd.DataFrame, table: str, locate: CellLocator) -> list[dict]:
    """Violations of `schema` in a harmonised `frame` whose rows keep their provenance (source_file, source_row),
    each a dict with file, row, column, rule and value (the shape of errors.Violation.as_dict), sorted by file and
    row so that a provider reads them in file order. Empty when the frame is valid.

    A structural failure (a missing column, a wrong dtype) concerns the whole table: it names `table` and no row.
    A row failure is traced back to the delivered cell by `locate(frame, case, row)`, which says the rule and the
    column and value in the provider's file (a harmonised column may come from a code column, a year header, ...).
    Unique and dataframe-wide checks report every column of a failing row, so one line is kept per row and check,
    and a cell that breaks one rule several times is reported once."""
    cases = failure_cases(schema, frame)
    if cases.empty:
        return []
    out = [{"file": table, "row": None, "column": case.column, "rule": f"table structure: {case.check}",
            "value": str(case.failure_case)} for case in cases[cases["index"].isna()].itertuples(index=False)]
    for case in cases.dropna(subset=["index"]).drop_duplicates(subset=["index", "check"]).itertuples(index=False):
        row = frame.loc[case.index]
        rule, column, value = locate(frame, case, row)
        out.append({"file": row["source_file"], "row": int(row["source_row"]), "column": column, "rule": rule,
                    "value": shown_value(value)})
    unique = {(v["file"], v["row"], v["column"], v["rule"]): v for v in out}
    return sorted(unique.values(), key=lambda v: (v["file"], v["row"] or 0, str(v["column"])))


def shown_value(value: object) -> str | None:
    """A value as a provider typed it: 4210 rather than 4210.0; None for a missing one."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    if isinstance(value, float):
        return format(value, ".15g")
    return str(value)
