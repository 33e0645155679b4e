"""The indicator registry as a table: one row per indicator, validated by a pandera model.

The fixed lists (groups, units, methods) are written here, once; cross-checks that need more than one row or
another schema (expressions bound against a source, disaggregations allowed by the source) live in
indicators/registry.py.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

GROUP_PREFIXES = {
    "background_context": "BC",
    "subjective_aspects": "SA",
    "risk_behaviour": "RB",
    "incidents_responses": "IR",
    "preventative_actions": "PA",
    "national_capacity": "NC",
}
UNITS = ("percent", "percentage_points", "per_100", "per_100k", "count", "score", "ratio", "days", "hours")
METHODS = ("value", "growth", "proportion", "mean", "total", "ratio", "rate", "share_of_countries", "index",
           "quantile")

# Which expression fields each method uses: exactly these, no others.
METHOD_FIELDS = {
    "value": ("value",),
    "growth": ("value", "growth"),
    "mean": ("value",),
    "total": ("value",),
    "index": ("value",),
    "quantile": ("value",),  # the `quantile` (e.g. 0.5, the median) of `value` (R's svyquantile)
    "proportion": ("numerator",),
    "share_of_countries": ("numerator",),
    "ratio": ("numerator", "denominator"),
    "rate": ("numerator", "denominator"),
}
EXPRESSION_FIELDS = ("universe", "numerator", "denominator", "value")
REQUIRED_FIELDS = ("code", "name", "definition", "unit", "source", "method", "disaggregations", "decimals",
                   "references")
OPTIONAL_FIELDS = ("universe", "numerator", "denominator", "value", "growth", "reliability", "caveats",
                   "aggregation", "crossings", "quantile")
# How an indicator's country values become group values (world, regions, development and income groups):
# - group_inputs: the entry's own expression evaluated on group-level inputs (ICT series: population-weighted
#   means of rates, sums of persons), so growth of a region is the growth of its aggregate, as ITU computes it;
# - weighted_mean: sum(value x weight) / sum(weight) over members with a value;
# - sum: the sum of members' values (counts); the weight only measures coverage;
# - responding_countries: national questionnaire answers; the questionnaire source computes the group values
#   itself, over the countries that responded in the round (each counts once), with the number that answered and
#   the response rate (indicators/sources/national_questionnaire/estimates.py); below `min_countries` answering
#   countries a group value is published flagged U (not withheld: it is exact for the countries that answered);
# - none: not aggregated, with a stated reason (e.g. medians do not aggregate).
AGGREGATION_METHODS = ("group_inputs", "weighted_mean", "sum", "responding_countries", "none")
# weights are country-year populations (staging.population_weights); internet_users = BC.1 / 100 x population
AGGREGATION_WEIGHTS = ("population_total", "population_0_14", "internet_users")
AGGREGATION_KEYS = {"group_inputs": ("method",), "weighted_mean": ("method", "weight"),
                    "sum": ("method", "weight"), "responding_countries": ("method",), "none": ("method", "reason")}
# When a group value may be published (besides the minimum coverage of the build), optional for every method but
# none: at least `min_countries` reporting countries, and no single country holding more than
# `max_country_share` of the weight. A group value resting on one or two countries would republish them; one
# dominated by a country would be that country's value under a group's name. The dominance rule applies by
# default to sample-survey estimates only: country values of administrative sources (ICT, incidents) are
# published for every country anyway, and large countries legitimately weigh on their regions (China is over
# 80 % of Eastern Asia's population).
AGGREGATION_RULE_KEYS = ("min_countries", "max_country_share")
DEFAULT_MIN_COUNTRIES = 3
DEFAULT_MAX_COUNTRY_SHARE_SAMPLED = 0.5
RELIABILITY_KEYS = ("min_n", "flag_n", "max_cv", "flag_cv")
DEFAULT_RELIABILITY = {"min_n": 25, "flag_n": 50, "max_cv": 33.3, "flag_cv": 16.6}  # DESIGN.md 4.4


class RegistryEntryModel(pa.DataFrameModel):
    """One indicator definition (DESIGN.md 4.1)."""

    code: str = pa.Field(str_matches=r"^(BC|SA|RB|IR|PA|NC)\.[1-9]\d*$", unique=True)
    name: str = pa.Field(str_length={"min_value": 3})
    definition: str = pa.Field(str_length={"min_value": 20})
    group: str = pa.Field(isin=list(GROUP_PREFIXES))
    unit: str = pa.Field(isin=list(UNITS))
    source: str
    method: str = pa.Field(isin=list(METHODS))
    decimals: int = pa.Field(ge=0, le=6)
    n_references: int = pa.Field(ge=1)
    file: str

    @pa.dataframe_check(name="code prefix matches the group (BC background_context, SA subjective_aspects, ...)")
    def _prefix_matches_group(cls, df: pd.DataFrame) -> pd.Series:
        well_formed = df["code"].str.match(r"^(BC|SA|RB|IR|PA|NC)\.[1-9]\d*$")
        # a malformed code is reported once, by the code's own check
        return ~well_formed | (df["code"].str.split(".").str[0] == df["group"].map(GROUP_PREFIXES))

    class Config:
        strict = False
