"""The COP national questionnaire (one response per country and round). Declared here so that the registry's
national-capacity entries (NC.*) bind to its harmonised table (schemas.national_questionnaire); no reader or
assets deliver it yet, so those indicators stay in the catalogue without observations."""

from __future__ import annotations

from indicators import tables
from indicators.sources import Source


def harmonised():
    from schemas import national_questionnaire
    from schemas.sources import from_model

    return (from_model("national_questionnaire", tables.STAGING_NATIONAL_QUESTIONNAIRE,
                       national_questionnaire.NationalQuestionnaireModel, national_questionnaire.DISAGGREGATIONS),)


SOURCE = Source(name="national_questionnaire", title="COP national questionnaire", harmonised=harmonised)
