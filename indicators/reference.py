"""Reference tables the harmonisation joins against, loaded into the warehouse's `reference` schema."""

from __future__ import annotations

import duckdb
import pandas as pd
import pycountry

from indicators.classifications import load_classifications
from indicators.warehouse import replace_table
from schemas.ict import REFERENCE_DIR


def iso3166_table() -> pd.DataFrame:
    return pd.DataFrame(
        [{"iso3": c.alpha_3, "iso2": c.alpha_2, "numeric": c.numeric,
          "name": getattr(c, "common_name", None) or c.name} for c in pycountry.countries]
    ).sort_values("iso3", ignore_index=True)


def load_reference_tables(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    def csv(name: str) -> pd.DataFrame:
        return pd.read_csv(REFERENCE_DIR / name, dtype=str, keep_default_na=False)

    # classifications first: they are validated before anything is written (InputError names the cell)
    classifications = load_classifications(con)
    return {
        "reference.iso3166": replace_table(con, "reference.iso3166", iso3166_table()),
        "reference.un_member_states": replace_table(con, "reference.un_member_states", csv("un_member_states.csv")),
        "reference.country_code_exceptions": replace_table(con, "reference.country_code_exceptions",
                                                           csv("country_code_exceptions.csv")),
        "reference.wb_aggregate_codes": replace_table(con, "reference.wb_aggregate_codes",
                                                      csv("wb_aggregate_codes.csv")),
        **classifications,
    }
