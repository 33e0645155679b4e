"""Reference tables the harmonisation joins against, loaded into the warehouse's `reference` schema."""

from __future__ import annotations

import duckdb
import pandas as pd

from indicators.classifications import load_classifications
from indicators.warehouse import replace_table
from schemas.ict import REFERENCE_DIR


def load_reference_tables(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    def csv(name: str) -> pd.DataFrame:
        return pd.read_csv(REFERENCE_DIR / name, dtype=str, keep_default_na=False)

    # classifications first: they are validated before anything is written (InputError names the cell)
    classifications = load_classifications(con)
    return {
        "reference.un_member_states": replace_table(con, "reference.un_member_states", csv("un_member_states.csv")),
        "reference.country_code_exceptions": replace_table(con, "reference.country_code_exceptions",
                                                           csv("country_code_exceptions.csv")),
        "reference.wb_aggregate_codes": replace_table(con, "reference.wb_aggregate_codes",
                                                      csv("wb_aggregate_codes.csv")),
        **classifications,
    }
