"""How a computed cell becomes a published one: the one rounding rule and the one CV, applied once, when the
release is assembled (indicators.observations). Everything before this works on unrounded numbers: estimates,
group values and gaps are computed from unrounded inputs, so no number is rounded twice.

Rounding rule (every statistic of a cell, by the indicator's declared `decimals` d):
- OBS_VALUE, CI_LOWER, CI_UPPER to d decimals; STD_ERR to d + 1 decimals (an SE is read to one more digit than
  the value it qualifies); CV (percent) to 1 decimal, not given for a difference in percentage points (an
  urban-rural gap near 0 would show a CV of hundreds of percent that says nothing).
- On the decimal value, ties away from zero: the double is cast to DECIMAL(38, 12) first, so a value typed as
  0.615 (stored as 0.61499999...) publishes as 0.62, as a person checking by hand would round it.
"""

from __future__ import annotations

from schemas.observations import CV_DECIMALS

MAX_DECIMALS = 8  # registry decimals are 0-6; +1 for the SE, 2 for a parity index: 8 covers every case


def published_rounding(expression: str, decimals: int) -> str:
    """Round as a person checking by hand does: on the decimal value, ties away from zero."""
    return f"CAST(round(CAST({expression} AS DECIMAL(38, 12)), {int(decimals)}) AS DOUBLE)"


def published_rounding_by(expression: str, decimals_column: str) -> str:
    """published_rounding with the number of decimals read from a column (it differs between indicators)."""
    cases = " ".join(f"WHEN {d} THEN {published_rounding(expression, d)}" for d in range(0, MAX_DECIMALS + 1))
    return f"CASE {decimals_column} {cases} END"


def cv_percent(se: str, value: str) -> str:
    """The coefficient of variation in percent, 100 x SE / |value|, undefined (NULL) for a value of 0."""
    return f"100 * ({se}) / nullif(abs({value}), 0)"


def finish_observations_sql(observations: str, decimals: dict[str, int]) -> str:
    """`observations` (release layout, unrounded, without CV) with CV computed and every statistic rounded.

    `decimals`: INDICATOR code -> its declared decimals (registry entries and derived series).
    """
    spec = ", ".join(f"('{code}', {int(d)})" for code, d in sorted(decimals.items()))
    return f"""
        WITH decimals(INDICATOR, decimals_) AS (VALUES {spec})
        SELECT o.INDICATOR, o.REF_AREA, o.TIME_PERIOD, o.SEX, o.AGE, o.URBANISATION,
               {published_rounding_by("o.OBS_VALUE", "d.decimals_")} AS OBS_VALUE, o.UNIT_MEASURE,
               {published_rounding_by("o.STD_ERR", "d.decimals_ + 1")} AS STD_ERR,
               {published_rounding_by("o.CI_LOWER", "d.decimals_")} AS CI_LOWER,
               {published_rounding_by("o.CI_UPPER", "d.decimals_")} AS CI_UPPER,
               -- a difference (percentage points) can be 0 or negative: a relative error says nothing of it
               CASE WHEN o.UNIT_MEASURE <> 'percentage_points'
                    THEN {_rounded_cv(cv_percent("o.STD_ERR", "o.OBS_VALUE"))} END AS CV,
               CAST(o.N_UNWEIGHTED AS BIGINT) AS N_UNWEIGHTED, o.OBS_STATUS, o.CONF_STATUS,
               nullif(o.COMMENT_OBS, '') AS COMMENT_OBS, o.COVERAGE, o.SOURCE_ID
        FROM ({observations}) o JOIN decimals d USING (INDICATOR)"""


def _rounded_cv(cv: str) -> str:
    # a CV beyond what DECIMAL(38, 12) holds (a value next to 0) is shown unrounded rather than overflowing
    return f"CASE WHEN {cv} < 1e15 THEN {published_rounding(cv, CV_DECIMALS)} ELSE {cv} END"
