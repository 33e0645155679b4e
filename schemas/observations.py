"""The published observation: the release's long, SDMX-shaped table (DESIGN.md 4.3).

Status and confidentiality codes have the meanings of SDMX's cross-domain code lists CL_OBS_STATUS (2.2) and
CL_CONF_STATUS (1.2); the release uses the subsets below, each for the stated reason, and nothing else.
CV is in percent everywhere: 100 x STD_ERR / |OBS_VALUE|, from the unrounded estimates, to 1 decimal; none for a
difference in percentage points (its value can be 0 or negative).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pandera.pandas as pa

# a disaggregation of the harmonised microdata -> the dimension of the release that publishes it
PUBLISHED_DIMENSIONS = {"sex": "SEX", "age_band": "AGE", "urbanisation": "URBANISATION"}
OBSERVATION_COLUMNS = ["INDICATOR", "REF_AREA", "TIME_PERIOD", "SEX", "AGE", "URBANISATION", "OBS_VALUE",
                       "UNIT_MEASURE", "STD_ERR", "CI_LOWER", "CI_UPPER", "CV", "N_UNWEIGHTED", "OBS_STATUS",
                       "CONF_STATUS", "COMMENT_OBS", "COVERAGE", "SOURCE_ID", "SYNTHETIC",
                       "RELEASE_ID"]
# what each published column holds: the public database's column comments (and any other description of them)
OBSERVATION_COLUMN_DESCRIPTIONS = {
    "INDICATOR": "indicator code of the catalogue (BC.1, PA.3, IR.12, ...); <code>_GPI is the gender parity index "
                 "(girls / boys) and <code>_URG the urban-rural difference in percentage points of a survey "
                 "proportion",
    "REF_AREA": "ISO 3166-1 alpha-3 code of a country (or XKX, CHI), or the code of a group of countries (WLD, "
                "ITU_AFR, M49_002, LDC, WB_HIC, ...): see the areas table",
    "TIME_PERIOD": "year; for a survey indicator the wave (the year fieldwork started)",
    "SEX": "sex of the children the value is about: _T total, F female, M male (code list SEX)",
    "AGE": "age band of the children the value is about: _T total, Y9T11 9 to 11 years, ... (code list AGE)",
    "URBANISATION": "area type of the children the value is about: _T total, U urban, R rural (code list "
                    "URBANISATION)",
    "OBS_VALUE": "the value in UNIT_MEASURE, rounded to the indicator's decimals; null for a blank cell "
                 "(OBS_STATUS Q, L or O)",
    "UNIT_MEASURE": "unit of OBS_VALUE, STD_ERR and the interval bounds (code list UNIT_MEASURE)",
    "STD_ERR": "standard error of a survey estimate, of its group value or gap (design-based), same unit as "
               "the value; null for values without sampling error",
    "CI_LOWER": "lower bound of the 95 % confidence interval (survey estimates, their group values and gaps)",
    "CI_UPPER": "upper bound of the 95 % confidence interval",
    "CV": "coefficient of variation in percent: 100 x STD_ERR / |OBS_VALUE| from the unrounded numbers; null "
          "without a standard error, for a value of 0 and for a difference in percentage points",
    "N_UNWEIGHTED": "unweighted number of survey respondents in the cell (a group value: summed over its "
                    "members; a gap: over its two cells); for a national questionnaire group value the number of "
                    "countries that answered (NC.23: invited); null for other values not from a survey",
    "OBS_STATUS": "observation status (SDMX CL_OBS_STATUS): A normal, U low reliability, E estimated partial "
                  "group total, Q suppressed, L group coverage too low, O missing (code list OBS_STATUS)",
    "CONF_STATUS": "confidentiality status (SDMX CL_CONF_STATUS): F free; N, D, A, O say why a Q cell is "
                   "suppressed (code list CONF_STATUS)",
    "COMMENT_OBS": "the rules a flagged or blank cell meets, e.g. 'n<50; cv>16.6%' or 'coverage 42%<50%'; null "
                   "for a plain A cell; on a questionnaire group value, its respondents in words ('51 of 191 "
                   "invited countries responded (26.7 %); 49 answered')",
    "COVERAGE": "group values only: share (0-1) of the group's population (the indicator's universe) living "
                "in member countries with a value; for national questionnaire indicators (NC.*, SA.5) the "
                "group's response rate (responding / invited countries)",
    "SOURCE_ID": "the input file(s) the value rests on, '+' between several (see the sources table)",
    "SYNTHETIC": "true when the value rests on a generated (synthetic) input: for demonstration and testing, "
                 "not an official statistic",
    "RELEASE_ID": "the release this row was published in",
}
# code -> (SDMX label, when this release uses it)
OBS_STATUS = {
    "A": ("Normal value", "a published value with no reliability concern"),
    "U": ("Low reliability", "a published survey estimate to use with caution: 25-49 cases, CV 16.6-33.3 %, an "
                             "estimate of 0 % or 100 %, or fewer than 2 design degrees of freedom; a group value "
                             "or gap resting on such a value (COMMENT_OBS says which)"),
    "E": ("Estimated value", "a group total (`sum` aggregation) of the reporting members only, COVERAGE below 1: "
                             "'based on a limited amount of data', a lower bound of the group's total"),
    "Q": ("Missing value; suppressed", "withheld so that it cannot mislead or disclose: a survey estimate below "
                                       "the reliability thresholds or suppressed to protect another cell, a group "
                                       "value with too few reporting countries or dominated by one, a gap whose "
                                       "cell is suppressed (CONF_STATUS says which)"),
    "L": ("Missing value; data exist but were not collected",
          "a group value withheld because the reporting members cover less than the minimum share of the group"),
    "O": ("Missing value", "a gap that cannot be computed: a cell is missing or withheld for coverage (L), or a "
                           "parity index over a cell of 0"),
}
CONF_STATUS = {
    "F": ("Free (free for publication)", "every published value, and missing values that hide nothing"),
    "N": ("Not for publication, restricted for internal use only",
          "primary suppression of a survey estimate for reliability (fewer than 25 cases or CV above 33.3 %)"),
    "D": ("Secondary confidentiality set by the sender, not for publication",
          "complementary suppression: a cell suppressed so that a suppressed cell cannot be recovered from the "
          "total and the other categories; a gap whose cell is suppressed"),
    "A": ("Primary confidentiality due to small counts",
          "a group value resting on fewer than the minimum number of reporting countries (3 by default)"),
    "O": ("Primary confidentiality due to dominance by one unit",
          "a group value in which one country holds more than the stated share of the weight"),
}
OBS_STATUS_CODES = list(OBS_STATUS)
CONF_STATUS_CODES = list(CONF_STATUS)
WITH_VALUE = ("A", "U", "E")  # the statuses of a published value; the others are blank cells
# code -> label; per_100k is per 100,000 inhabitants (IR.15) or Internet users (IR.16): the indicator's name says
UNIT_MEASURE = {
    "percent": "percent (%)",
    "percentage_points": "percentage points (a difference or change between two percentages)",
    "per_100": "per 100 inhabitants",
    "per_100k": "per 100,000 people (inhabitants or Internet users: the indicator's name says which)",
    "count": "number (a count)",
    "score": "score (on the scale stated in the indicator's definition)",
    "ratio": "ratio (a gender parity index: girls / boys, 1 = parity)",
    "days": "days",
    "hours": "hours",
}
UNITS = list(UNIT_MEASURE)
SEX = {"_T": "Total", "F": "Female", "M": "Male"}
URBANISATION = {"_T": "Total", "U": "Urban", "R": "Rural"}
AGE_PATTERNS = {  # AGE code pattern -> label template; _T is the total over all ages
    r"^_T$": "Total",
    r"^Y(\d+)T(\d+)$": "{0} to {1} years",
    r"^Y_LE(\d+)$": "{0} years or under",
    r"^Y_GE(\d+)$": "{0} years or over",
}
SEX_CODES, URBANISATION_CODES = list(SEX), list(URBANISATION)
AGE_CODE_PATTERN = "^(" + "|".join(p.strip("^$") for p in AGE_PATTERNS) + ")$"  # any code age_label can name
CV_DECIMALS = 1


def age_label(code: str) -> str:
    """The label of an AGE code (Y9T11 '9 to 11 years', Y_LE14 '14 years or under', Y_GE15 '15 years or over');
    a code of no known pattern is an error naming it."""
    for pattern, template in AGE_PATTERNS.items():
        match = re.match(pattern, code)
        if match:
            return template.format(*match.groups())
    raise ValueError(f"AGE code {code!r} has no label: AGE codes are _T, Y<from>T<to>, Y_LE<n> or Y_GE<n>")


def decimals_shown(values: pd.Series) -> pd.Series:
    """The fewest decimals (0-9) that write each number exactly as stored: an upper bound on the rounding
    error is then half a unit of that decimal (a value published with more decimals only has a smaller one)."""
    out = pd.Series(9, index=values.index, dtype="int64")
    v = values.to_numpy(dtype=float)
    for d in range(9, -1, -1):
        out[np.isfinite(v) & (np.abs(np.round(v, d) - v) <= 1e-9 * np.maximum(1, np.abs(v)))] = d
    return out


def cv_tolerance(df: pd.DataFrame) -> pd.Series:
    """How far a published CV may be from 100 x STD_ERR / |OBS_VALUE| computed from the rounded numbers:
    CV's own rounding (0.05) plus the effect of rounding SE and the value (half a unit of their last decimal)."""
    value, se = df["OBS_VALUE"].abs(), df["STD_ERR"]
    half_v = 0.5 * 10.0 ** -decimals_shown(df["OBS_VALUE"])
    half_se = 0.5 * 10.0 ** -decimals_shown(df["STD_ERR"])
    low = (value - half_v).clip(lower=1e-300)
    # the largest and smallest CV the unrounded numbers could have had
    return 0.5 * 10.0 ** -CV_DECIMALS + 100 * ((se + half_se) / low - se / value).abs() + 1e-9


class ObservationModel(pa.DataFrameModel):
    INDICATOR: str = pa.Field(str_matches=r"^(BC|SA|RB|IR|PA|NC)\.\d+(_GPI|_URG)?$")  # derived gaps: indicators.gaps
    REF_AREA: str = pa.Field(str_matches=r"^[A-Z][A-Z0-9_]{1,15}$")
    TIME_PERIOD: int = pa.Field(ge=1960, le=2100)
    SEX: str = pa.Field(isin=SEX_CODES)
    AGE: str = pa.Field(str_matches=AGE_CODE_PATTERN)
    URBANISATION: str = pa.Field(isin=URBANISATION_CODES)
    OBS_VALUE: float = pa.Field(nullable=True)
    UNIT_MEASURE: str = pa.Field(isin=UNITS)
    STD_ERR: float = pa.Field(nullable=True, ge=0)
    CI_LOWER: float = pa.Field(nullable=True)
    CI_UPPER: float = pa.Field(nullable=True)
    CV: float = pa.Field(nullable=True, ge=0)  # percent
    N_UNWEIGHTED: pd.Int64Dtype = pa.Field(nullable=True, ge=0)
    OBS_STATUS: str = pa.Field(isin=OBS_STATUS_CODES)
    CONF_STATUS: str = pa.Field(isin=CONF_STATUS_CODES)
    COMMENT_OBS: str = pa.Field(nullable=True)
    COVERAGE: float = pa.Field(nullable=True, ge=0, le=1)
    SOURCE_ID: str = pa.Field(nullable=True)
    SYNTHETIC: bool  # the value rests on at least one generated (synthetic) input file
    RELEASE_ID: str

    @pa.dataframe_check(name="a value is published exactly when OBS_STATUS is A, U or E (blank cells are Q, L or O)")
    def _blank_cells_say_why(cls, df: pd.DataFrame) -> pd.Series:
        return df["OBS_VALUE"].notna() == df["OBS_STATUS"].isin(WITH_VALUE)

    @pa.dataframe_check(name="OBS_STATUS Q (suppressed) exactly when CONF_STATUS is not F")
    def _suppressed_cells_say_why(cls, df: pd.DataFrame) -> pd.Series:
        return (df["OBS_STATUS"] == "Q") == (df["CONF_STATUS"] != "F")

    @pa.dataframe_check(name="a blank cell publishes no statistic (STD_ERR, CI, CV)")
    def _blank_cells_are_blank(cls, df: pd.DataFrame) -> pd.Series:
        return df["OBS_VALUE"].notna() | df[["STD_ERR", "CI_LOWER", "CI_UPPER", "CV"]].isna().all(axis=1)

    @pa.dataframe_check(name="E (estimated: a partial group total) and L (coverage too low) only on group values")
    def _group_codes_on_groups(cls, df: pd.DataFrame) -> pd.Series:
        partial = (df["OBS_STATUS"] == "E") & (df["COVERAGE"] < 1)
        return ~df["OBS_STATUS"].isin(["E", "L"]) | partial | ((df["OBS_STATUS"] == "L") & df["COVERAGE"].notna())

    @pa.dataframe_check(name="CV is in percent: CV = 100 x STD_ERR / |OBS_VALUE| up to rounding")
    def _cv_in_percent(cls, df: pd.DataFrame) -> pd.Series:
        measurable = df["CV"].notna() & df["STD_ERR"].notna() & df["OBS_VALUE"].notna() & (df["OBS_VALUE"] != 0)
        cv = 100 * df["STD_ERR"] / df["OBS_VALUE"].abs()
        return ~measurable | ((df["CV"] - cv).abs() <= cv_tolerance(df))

    @pa.dataframe_check(name="no CV for a difference in percentage points")
    def _no_cv_of_a_difference(cls, df: pd.DataFrame) -> pd.Series:
        return df["CV"].isna() | (df["UNIT_MEASURE"] != "percentage_points")

    @pa.dataframe_check(name="the interval contains the value")
    def _ci_contains_value(cls, df: pd.DataFrame) -> pd.Series:
        bounded = df["CI_LOWER"].notna() & df["CI_UPPER"].notna() & df["OBS_VALUE"].notna()
        return ~bounded | ((df["CI_LOWER"] <= df["OBS_VALUE"]) & (df["OBS_VALUE"] <= df["CI_UPPER"]))

    class Config:
        strict = True
        ordered = True
        unique = ["INDICATOR", "REF_AREA", "TIME_PERIOD", "SEX", "AGE", "URBANISATION"]
