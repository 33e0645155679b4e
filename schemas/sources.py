"""The harmonised tables indicators are computed from: name -> columns (with DuckDB types) and the
disaggregations each allows. Registry expressions are bound against these columns when the registry loads."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import pandera.pandas as pa

from schemas import child_survey, household_survey, incidents, national_questionnaire
from schemas.ict import ICT_VARIABLES


@dataclass(frozen=True)
class HarmonisedSource:
    name: str
    table: str
    columns: dict[str, str]  # column -> DuckDB type
    disaggregations: tuple[str, ...]
    sampled: bool = False  # a sample survey: its country values are estimates with sampling error


def duckdb_type(dtype: object) -> str:
    text = str(dtype).lower()
    if text in ("bool", "boolean"):
        return "BOOLEAN"
    if text.startswith(("int", "uint")):
        return "BIGINT"
    if text.startswith("float"):
        return "DOUBLE"
    if text.startswith("datetime"):
        return "TIMESTAMP"
    return "VARCHAR"


def _from_model(name: str, table: str, model: type[pa.DataFrameModel], disaggregations,
                sampled: bool = False) -> HarmonisedSource:
    schema = model.to_schema()
    return HarmonisedSource(name, table, {c: duckdb_type(col.dtype) for c, col in schema.columns.items()},
                            tuple(disaggregations), sampled)


@lru_cache(maxsize=1)
def harmonised_sources() -> dict[str, HarmonisedSource]:
    ict = HarmonisedSource("ict_country_year", "staging.ict_country_year_wide",
                           {"ref_area": "VARCHAR", "year": "BIGINT", **{v: "DOUBLE" for v in ICT_VARIABLES}}, ())
    by_source = household_survey.DISAGGREGATIONS_BY_SOURCE
    sources = [
        ict,
        _from_model("child_survey", "staging.child_survey", child_survey.ChildSurveyModel,
                    child_survey.DISAGGREGATIONS, sampled=True),
        _from_model("individual_survey", "staging.individual_survey", household_survey.IndividualSurveyModel,
                    by_source["individual_survey"], sampled=True),
        _from_model("household_survey", "staging.household_survey", household_survey.HouseholdSurveyModel,
                    by_source["household_survey"], sampled=True),
        _from_model("national_questionnaire", "staging.national_questionnaire",
                    national_questionnaire.NationalQuestionnaireModel, national_questionnaire.DISAGGREGATIONS),
        _from_model("incidents", "staging.incident_reports", incidents.IncidentReportsModel,
                    incidents.DISAGGREGATIONS),
    ]
    return {s.name: s for s in sources}
