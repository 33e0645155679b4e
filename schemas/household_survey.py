"""Harmonised ITU household ICT surveys: individuals (staging.individual_survey) and households
(staging.household_survey).

The two tables follow the ITU household and individual ICT access and use statistics (Partnership on Measuring
ICT for Development core list; SDG 17.8.1): one row per in-scope individual or household of a national
household survey, with the sample design carried in the columns shared with the child survey
(`schemas.child_survey.SurveyDesignModel`). Harmonisation keeps only units in the survey's in-scope population
(for individuals, the age range the country surveys), so "all rows" is the in-scope population of the source.

Items are pandas nullable booleans: TRUE = yes, FALSE = no, null = not asked, don't know or not answered.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.child_survey import ISCED_LEVELS, SEX_CODES, URBANISATION_CODES, SurveyDesignModel, age_within_band

LABOUR_FORCE_CODES = ["employed", "unemployed", "outside_labour_force"]  # ILO labour force status
ISCO_MAJOR_GROUPS = [str(group) for group in range(10)]  # ISCO-08 major groups 0-9
HOUSEHOLD_SIZE_BANDS = ["1", "2", "3", "4", "5+"]
CHILDREN_BANDS = ["0", "1", "2", "3+"]


def _band_of_count(values: pd.Series, top: int) -> pd.Series:
    """The band label of a count: its value below `top`, "<top>+" from `top` on."""
    counts = pd.to_numeric(values, errors="coerce")
    return counts.astype("Int64").astype("string").where(counts < top, f"{top}+")


class IndividualSurveyModel(SurveyDesignModel):
    """staging.individual_survey: one row per in-scope individual of a household ICT survey."""

    respondent_id: str = pa.Field(description="Individual identifier, unique within source_id")

    sex: str = pa.Field(isin=SEX_CODES, description="Sex of the individual: F female, M male")
    age: int = pa.Field(ge=0, le=120, description="Age of the individual in completed years at interview")
    age_band: str = pa.Field(
        nullable=True, str_matches=r"^\d{1,3}(-\d{1,3}|\+)$",
        description="Age band derived from age at harmonisation, in the banding chosen for the source: ITU series "
                    "0-14, 15-24, 25-74, 75+, or COP child bands 5-7, 8-12, 13-17")
    urbanisation: str = pa.Field(
        nullable=True, isin=URBANISATION_CODES,
        description="Urban (U) or rural (R) area of residence, national definition")
    education_level: str = pa.Field(
        nullable=True, isin=ISCED_LEVELS,
        description="Highest level of education completed, ISCED 2011 level 0-8")
    labour_force_status: str = pa.Field(
        nullable=True, isin=LABOUR_FORCE_CODES,
        description="Labour force status in the survey's reference week (ILO): employed, unemployed, "
                    "outside_labour_force; null below the survey's labour-force age")
    occupation_isco: str = pa.Field(
        nullable=True, isin=ISCO_MAJOR_GROUPS,
        description="Occupation of employed individuals, ISCO-08 major group 0-9; null if not employed")

    used_internet_3m: Series[pd.BooleanDtype] = pa.Field(
        nullable=True,
        description="The individual used the Internet from any location, on any device, in the last 3 months "
                    "(ITU i99H / SDG 17.8.1)")
    owns_mobile_phone: Series[pd.BooleanDtype] = pa.Field(
        nullable=True,
        description="The individual owns a mobile cellular phone, i.e. has one with at least one active SIM card "
                    "for personal use (at interview)")
    ict_skill_safety: Series[pd.BooleanDtype] = pa.Field(
        nullable=True,
        description="The individual carried out at least one activity of the ITU ICT-skills area 'Safety' "
                    "(e.g. setting up security measures on devices or online accounts, changing privacy "
                    "settings to limit the sharing of personal data) in the last 3 months")

    @pa.dataframe_check(name="age is within age_band")
    def _age_within_band(cls, df: pd.DataFrame) -> Series[bool]:
        return age_within_band(df)

    @pa.dataframe_check(name="occupation is given only for employed individuals")
    def _occupation_only_if_employed(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["occupation_isco"].isna() | (df["labour_force_status"] == "employed")).astype(bool)

    class Config:
        strict = False
        coerce = False
        unique = ["source_id", "respondent_id"]


class HouseholdSurveyModel(SurveyDesignModel):
    """staging.household_survey: one row per in-scope household of a household ICT survey."""

    household_id: str = pa.Field(description="Household identifier, unique within source_id")

    urbanisation: str = pa.Field(
        nullable=True, isin=URBANISATION_CODES,
        description="Urban (U) or rural (R) area of the dwelling, national definition")
    household_size: int = pa.Field(ge=1, description="Number of household members at interview")
    household_size_band: str = pa.Field(
        isin=HOUSEHOLD_SIZE_BANDS,
        description="Household size band derived from household_size: 1, 2, 3, 4, 5+ members")
    n_children_under_18: int = pa.Field(
        ge=0, description="Number of household members aged under 18 at interview")
    n_children_band: str = pa.Field(
        isin=CHILDREN_BANDS,
        description="Band of n_children_under_18: 0, 1, 2, 3+ children")
    has_children_under_18: bool = pa.Field(
        description="Household composition: at least one member aged under 18 (n_children_under_18 >= 1)")

    internet_access_at_home: Series[pd.BooleanDtype] = pa.Field(
        nullable=True,
        description="The household has access to the Internet at home, available for use by all members at any "
                    "time, by a fixed or mobile network (at interview; ITU HH-7 / HH6)")
    has_computer: Series[pd.BooleanDtype] = pa.Field(
        nullable=True,
        description="The household has a computer (desktop, laptop or tablet) at home (at interview; ITU HH-5 / "
                    "HH4)")

    @pa.dataframe_check(name="children are household members: n_children_under_18 <= household_size")
    def _children_within_size(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["n_children_under_18"] <= df["household_size"]).astype(bool)

    @pa.dataframe_check(name="has_children_under_18 is n_children_under_18 >= 1")
    def _composition_consistent(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["has_children_under_18"].astype(bool) == (df["n_children_under_18"] >= 1)).astype(bool)

    @pa.dataframe_check(name="household_size_band and n_children_band are the bands of the counts")
    def _bands_consistent(cls, df: pd.DataFrame) -> Series[bool]:
        size_ok = _band_of_count(df["household_size"], 5) == df["household_size_band"].astype("string")
        children_ok = _band_of_count(df["n_children_under_18"], 3) == df["n_children_band"].astype("string")
        return (size_ok & children_ok).fillna(False).astype(bool)

    class Config:
        strict = False
        coerce = False
        unique = ["source_id", "household_id"]


DISAGGREGATIONS_INDIVIDUAL: tuple[str, ...] = (
    "sex", "age_band", "urbanisation", "education_level", "labour_force_status", "occupation_isco")
DISAGGREGATIONS_HOUSEHOLD: tuple[str, ...] = (
    "urbanisation", "has_children_under_18", "household_size_band", "n_children_band")
DISAGGREGATIONS_BY_SOURCE: dict[str, tuple[str, ...]] = {
    "individual_survey": DISAGGREGATIONS_INDIVIDUAL,
    "household_survey": DISAGGREGATIONS_HOUSEHOLD,
}
