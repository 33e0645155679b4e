"""Survey microdata (child surveys; household and individual ICT surveys share the machinery): one delivery per
mapping spec (data/mappings/*.yaml), read as delivered (reader), harmonised and audited row by row (harmonise), and
estimated with the design-based engine (estimates). Each delivery is one Dagster partition (`survey_source`)."""

from __future__ import annotations

from pathlib import Path

from indicators import tables
from indicators.sources import BuildInputs, Source

PARTITIONS = "survey_source"


def input_files(inputs: BuildInputs) -> dict[str | None, list[Path]]:
    """Per delivery (source_id): its mapping spec and the data file it names (or the latest copy of that delivery
    in the source store, when one came through the inbox)."""
    from indicators.sources.survey_microdata.specs import delivery_file, find_specs

    return {source_id: [spec, delivery_file(spec, inputs.store, source_id)]
            for source_id, spec in find_specs(inputs.mappings_dir).items()}


def harmonised():
    from schemas import child_survey, household_survey
    from schemas.sources import from_model

    by_source = household_survey.DISAGGREGATIONS_BY_SOURCE
    return (from_model("child_survey", tables.STAGING_CHILD_SURVEY, child_survey.ChildSurveyModel,
                       child_survey.DISAGGREGATIONS, sampled=True),
            from_model("individual_survey", tables.STAGING_INDIVIDUAL_SURVEY, household_survey.IndividualSurveyModel,
                       by_source["individual_survey"], sampled=True),
            from_model("household_survey", tables.STAGING_HOUSEHOLD_SURVEY, household_survey.HouseholdSurveyModel,
                       by_source["household_survey"], sampled=True))


SOURCE = Source(
    name="survey_microdata",
    title="Survey microdata deliveries",
    harmonised=harmonised,
    observation_tables=(tables.survey_estimates_table("*"),),
    provenance_tables=(tables.RAW_MICRODATA_FILES,),
    defs_module="pipelines.defs.survey_microdata",
    input_files=input_files,
    partitions=PARTITIONS,
)
