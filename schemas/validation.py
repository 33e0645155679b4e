"""Running a pandera schema lazily and getting its failure cases, the one way every module does it."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa


def failure_cases(schema, frame: pd.DataFrame) -> pd.DataFrame:
    """pandera's failure cases for `frame` (columns schema_context, column, check, failure_case, index, ...);
    empty when the frame is valid. `schema` is a DataFrameModel class or a DataFrameSchema."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return exc.failure_cases
    return pd.DataFrame(columns=["schema_context", "column", "check", "check_number", "failure_case", "index"])
