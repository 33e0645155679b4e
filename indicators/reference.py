"""Reference tables the harmonisation joins against, loaded into the warehouse's `reference` schema."""

from __future__ import annotations

import duckdb
import pandas as pd

from indicators import tables
from indicators.classifications import load_classifications
from indicators.warehouse import replace_table
from schemas.ict import REFERENCE_DIR


def load_reference_tables(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    def csv(name: str) -> pd.DataFrame:
        return pd.read_csv(REFERENCE_DIR / name, dtype=str, keep_default_na=False)

    # classifications first: they are validated before anything is written (InputError names the cell)
    classifications = load_classifications(con)
    files = {tables.REFERENCE_UN_MEMBER_STATES: "un_member_states.csv",
             tables.REFERENCE_COUNTRY_CODE_EXCEPTIONS: "country_code_exceptions.csv",
             tables.REFERENCE_WB_AGGREGATE_CODES: "wb_aggregate_codes.csv"}
    return {**{table: replace_table(con, table, csv(name)) for table, name in files.items()}, **classifications}
