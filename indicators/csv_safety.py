"""CSV files the project writes are opened in spreadsheets: a text cell that begins with '=', '+', '-' or '@' (or a
tab or carriage return) is read there as a formula, which can run commands or leak data ("CSV injection", OWASP).
Such text is written with a single quote in front, which a spreadsheet shows as text and does not evaluate.

Only text columns are neutralised, never numbers: -3.5 in a numeric column stays the number -3.5, also when the
writer holds it as text (SDMX-CSV's OBS_VALUE) and names the column as numeric. Every CSV output of the project goes
through `neutralise_formulas` (SDMX-CSV in indicators/sdmx.py, `cop estimate --format csv` in pipelines/cli.py).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(frame: pd.DataFrame, text_columns: Iterable[str] | None = None) -> pd.DataFrame:
    """A copy of `frame` whose text cells that begin like a formula have a single quote in front.

    `text_columns` names the text columns when the frame holds numbers as text too (SDMX-CSV writes every value
    as text); by default they are the columns of text dtype (object or string), so numeric columns are never
    touched. Missing values stay missing."""
    columns = list(text_columns) if text_columns is not None else [
        c for c in frame.columns
        if pd.api.types.is_object_dtype(frame[c]) or pd.api.types.is_string_dtype(frame[c])]
    out = frame.copy()
    for column in columns:
        # each distinct value looked at once (a release's SDMX text columns hold a few hundred distinct values in
        # tens of thousands of rows), and only the columns with a formula-like value rewritten
        quoted = {v: "'" + v for v in frame[column].dropna().unique()
                  if isinstance(v, str) and v.startswith(FORMULA_STARTS)}
        if quoted:
            out[column] = frame[column].map(lambda v: quoted.get(v, v) if isinstance(v, str) else v,
                                            na_action="ignore")
    return out

