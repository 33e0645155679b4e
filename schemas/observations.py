"""The published observation: the release's long, SDMX-shaped table (DESIGN.md 4.3)."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

OBSERVATION_COLUMNS = ["INDICATOR", "REF_AREA", "TIME_PERIOD", "SEX", "AGE", "URBANISATION", "OBS_VALUE",
                       "UNIT_MEASURE", "STD_ERR", "CI_LOWER", "CI_UPPER", "CV", "N_UNWEIGHTED", "OBS_STATUS",
                       "CONF_STATUS", "COVERAGE", "SOURCE_ID", "RELEASE_ID"]
OBS_STATUS_CODES = ["A", "E", "M", "Q"]  # normal, estimated/use with caution, missing, suppressed
# free; not for publication (primary suppression); confidential; secondary (complementary) suppression
CONF_STATUS_CODES = ["F", "N", "C", "D"]
UNITS = ["percent", "percentage_points", "per_100", "per_100k", "count", "score", "ratio", "days"]


class ObservationModel(pa.DataFrameModel):
    INDICATOR: str = pa.Field(str_matches=r"^(BC|SA|RB|IR|PA|NC)\.\d+(_GPI|_URG)?$")  # derived gaps: indicators.gaps
    REF_AREA: str = pa.Field(str_matches=r"^[A-Z][A-Z0-9_]{1,15}$")
    TIME_PERIOD: int = pa.Field(ge=1960, le=2100)
    SEX: str = pa.Field(isin=["_T", "F", "M"])
    AGE: str = pa.Field(str_matches=r"^(_T|Y\d+T\d+|Y_LE\d+|Y_GE\d+)$")
    URBANISATION: str = pa.Field(isin=["_T", "U", "R"])
    OBS_VALUE: float = pa.Field(nullable=True)
    UNIT_MEASURE: str = pa.Field(isin=UNITS)
    STD_ERR: float = pa.Field(nullable=True, ge=0)
    CI_LOWER: float = pa.Field(nullable=True)
    CI_UPPER: float = pa.Field(nullable=True)
    CV: float = pa.Field(nullable=True, ge=0)
    N_UNWEIGHTED: float = pa.Field(nullable=True, ge=0)
    OBS_STATUS: str = pa.Field(isin=OBS_STATUS_CODES)
    CONF_STATUS: str = pa.Field(isin=CONF_STATUS_CODES)
    COVERAGE: float = pa.Field(nullable=True, ge=0, le=1)
    SOURCE_ID: str = pa.Field(nullable=True)
    RELEASE_ID: str

    @pa.dataframe_check(name="a cell without a value is marked missing (M) or suppressed (Q)")
    def _blank_cells_say_why(cls, df: pd.DataFrame) -> pd.Series:
        return df["OBS_VALUE"].notna() | df["OBS_STATUS"].isin(["M", "Q"])

    class Config:
        strict = True
        ordered = True
        unique = ["INDICATOR", "REF_AREA", "TIME_PERIOD", "SEX", "AGE", "URBANISATION"]
