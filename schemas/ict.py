"""Harmonised country-year ICT statistics: the variables, their units and bounds, and the pandera model.

This module is the one place where the rules for ICT country-year values are written. Ingest produces a long
table (one row per country, year and variable, with the file, row and column it came from), so that a broken
rule can always be traced back to the cell a data provider has to fix.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pycountry

from indicators.tables import STAGING_ICT_COUNTRY_YEAR
from schemas.validation import cell_violations, failure_in_words

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "data" / "reference"

FIRST_YEAR = 1960  # earliest year in WDI downloads
LAST_YEAR = _dt.date.today().year


@dataclass(frozen=True)
class IctVariable:
    name: str
    label: str
    unit: str  # percent | per_100 | persons
    maximum: float  # documented ceiling (exclusive for per_100 and persons, inclusive for percent)

    @property
    def rule(self) -> str:
        if self.unit == "percent":
            return f"{self.name} is a percentage and must be within [0, 100]"
        if self.unit == "per_100":
            return f"{self.name} is per 100 inhabitants and must be >= 0 and below {self.maximum:g}"
        return f"{self.name} is a population count and must be > 0 and below {self.maximum:g}"

    def within_bounds(self, values: pd.Series) -> pd.Series:
        if self.unit == "percent":
            return values.between(0, 100)
        if self.unit == "per_100":
            return (values >= 0) & (values < self.maximum)
        return (values > 0) & (values < self.maximum)


# Ceilings of per-100 series are set above the highest value ever published by ITU so that only errors
# (a total typed into a per-100 column, a misplaced decimal) trip them: mobile cellular peaks at about
# 421 per 100 (Macao, 2019), fixed broadband at about 77 (Cayman Islands), fixed telephone at about 140.
ICT_VARIABLES: dict[str, IctVariable] = {
    v.name: v
    for v in [
        IctVariable("internet_users_pct", "Individuals using the Internet (% of population)", "percent", 100),
        IctVariable("mobile_cellular_per_100", "Mobile-cellular subscriptions per 100 inhabitants", "per_100", 500),
        IctVariable("fixed_broadband_per_100", "Fixed-broadband subscriptions per 100 inhabitants", "per_100", 100),
        IctVariable("mobile_broadband_per_100", "Active mobile-broadband subscriptions per 100 inhabitants",
                    "per_100", 500),
        IctVariable("fixed_telephone_per_100", "Fixed-telephone subscriptions per 100 inhabitants", "per_100", 200),
        IctVariable("population_total", "Population, total (persons)", "persons", 2e9),
        IctVariable("population_0_14", "Population aged 0-14 (persons)", "persons", 1e9),
    ]
}


COUNTRY_CODE_RULE = "ISO 3166-1 alpha-3 code known to pycountry or explicitly mapped"


@lru_cache(maxsize=1)
def code_exceptions() -> dict[str, str]:
    """Economy codes that ISO 3166-1 lacks (Kosovo, Channel Islands), mapped to the code the project uses."""
    table = pd.read_csv(REFERENCE_DIR / "country_code_exceptions.csv", dtype=str, keep_default_na=False)
    return dict(zip(table["code"], table["iso3"]))


@lru_cache(maxsize=1)
def aggregate_codes() -> frozenset[str]:
    """World Bank aggregate codes (WLD, LIC, ...): rows with these codes are set aside, not treated as countries."""
    table = pd.read_csv(REFERENCE_DIR / "wb_aggregate_codes.csv", dtype=str, keep_default_na=False)
    return frozenset(table["code"])


@lru_cache(maxsize=1)
def known_country_codes() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.countries) | frozenset(code_exceptions().values())


class IctObservationModel(pa.DataFrameModel):
    """staging.ict_country_year: one harmonised value with its provenance."""

    ref_area: str = pa.Field(description="ISO 3166-1 alpha-3, or an explicitly mapped economy code (XKX, CHI)")
    year: int = pa.Field(ge=FIRST_YEAR, le=LAST_YEAR)
    variable: str = pa.Field(isin=sorted(ICT_VARIABLES))
    value: float = pa.Field(nullable=False)
    source_file: str
    source_row: int = pa.Field(ge=1)
    source_column: str

    @pa.check("ref_area", name=f"ref_area is an {COUNTRY_CODE_RULE}")
    def _known_country(cls, ref_area: pd.Series) -> pd.Series:
        return ref_area.isin(known_country_codes())

    @pa.dataframe_check(name="value within the bounds of its variable")
    def _within_bounds(cls, df: pd.DataFrame) -> pd.Series:
        values = df["value"].astype("float64")
        ok = pd.Series(True, index=df.index, dtype=bool)
        for name, variable in ICT_VARIABLES.items():
            rows = (df["variable"] == name).to_numpy()
            ok.loc[rows] = variable.within_bounds(values[rows]).to_numpy(dtype=bool)
        return ok

    class Config:
        strict = False
        coerce = False
        # A country-year may appear once per variable in each file; across files the manifest's order decides.
        unique = ["source_file", "ref_area", "year", "variable"]


def validate_ict_observations(frame: pd.DataFrame) -> list[dict]:
    """Run IctObservationModel lazily; return one violation per failing cell, traced to the file, its line and its
    own column (schemas.validation.cell_violations). An empty list means the table is valid."""
    return cell_violations(IctObservationModel, frame, STAGING_ICT_COUNTRY_YEAR, _ict_cell, position="line")


def _ict_cell(frame: pd.DataFrame, case, row: pd.Series) -> tuple[str, object, object, str]:
    """The rule an ICT failure case breaks in words, and the column (as the file names it), value and harmonised
    name of the delivered cell it is about: a code column ('Country Code', 'Code', ...) holds ref_area, a year
    column ('Year', or a year header in a wide file) the year, a series column the variable."""
    check = str(case.check)
    if check == "multiple_fields_uniqueness":
        dupes = frame[(frame["source_file"] == row["source_file"]) & (frame["ref_area"] == row["ref_area"])
                      & (frame["year"] == row["year"]) & (frame["variable"] == row["variable"])]
        others = sorted(int(r) for r in dupes["source_row"] if r != row["source_row"])
        return (f"duplicated country-year: {row['ref_area']} {row['year']} {row['variable']} "
                f"also at line(s) {', '.join(map(str, others))}", row["code_column"], row["ref_area"], "ref_area")
    if check == "value within the bounds of its variable":
        variable = ICT_VARIABLES.get(row["variable"])
        return (variable.rule if variable else check), row["source_column"], row["value"], row["variable"]
    if case.column == "ref_area":
        return (f"the country code must be an {COUNTRY_CODE_RULE}", row["code_column"], row["ref_area_code"],
                "ref_area")
    if case.column == "year":
        return f"year must be within [{FIRST_YEAR}, {LAST_YEAR}]", row["year_column"], row["year"], "year"
    return (failure_in_words(IctObservationModel, case), row["source_column"], case.failure_case,
            row["variable"])
