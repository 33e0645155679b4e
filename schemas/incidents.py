"""Harmonised incident reports (staging.incident_reports): one row per country, year, reporting organisation and
incident type.

Sources: NCMEC CyberTipline reports by country; IWF and INHOPE confirmed child sexual abuse material (CSAM) URLs
by hosting country, and INHOPE notice-and-takedown times. The rows form a cube, not a list of events:
`incident_type` is a classifier whose code `_T` is the all-types row of the organisation and year, and the other
codes (the organisation's own typology: NCMEC's 8 CyberTipline incident types, IWF severity categories A/B/C)
are its breakdown. Values are never summed across rows; an indicator reads the `_T` row for its headline value
and the other rows as its disaggregation by incident type.

Denominators are joined at harmonisation for the country and year: total population and the number of Internet
users (BC.1 / 100 x population), and for hosting counts the global total of the same organisation and year.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.ict import COUNTRY_CODE_RULE, FIRST_YEAR, LAST_YEAR, known_country_codes

REPORTING_ORGS = ["NCMEC", "IWF", "INHOPE"]
ALL_TYPES = "_T"
KNOWN_COUNTRY_CHECK = f"country is an {COUNTRY_CODE_RULE}"


class IncidentReportsModel(pa.DataFrameModel):
    """staging.incident_reports: annual counts by country from NCMEC, IWF and INHOPE, with denominators."""

    country: str = pa.Field(
        str_matches=r"^[A-Z]{3}$",
        description="Country the figures are attributed to (NCMEC: the country or jurisdiction NCMEC attributes "
                    "the report to; IWF, INHOPE: hosting country of the URL): ISO 3166-1 alpha-3, or XKX/CHI")
    year: int = pa.Field(ge=FIRST_YEAR, le=LAST_YEAR, description="Calendar year of the reports")
    reporting_org: str = pa.Field(isin=REPORTING_ORGS,
                                  description="Organisation publishing the figures: NCMEC, IWF or INHOPE")
    incident_type: str = pa.Field(
        str_matches=r"^(_T|[A-Z0-9_]{1,40})$",
        description="Incident type in the organisation's typology (code list maintained in data/mappings), "
                    "or _T for all types")
    reports: Series[pd.Int64Dtype] = pa.Field(
        nullable=True, ge=0,
        description="NCMEC CyberTipline reports attributed to the country in the calendar year; null for IWF "
                    "and INHOPE rows")
    confirmed_csam_urls_hosted: Series[pd.Int64Dtype] = pa.Field(
        nullable=True, ge=0,
        description="URLs assessed by the organisation's analysts as child sexual abuse material in the "
                    "calendar year and traced to hosting in the country (IWF, INHOPE); null for NCMEC rows")
    confirmed_csam_urls_global: Series[pd.Int64Dtype] = pa.Field(
        nullable=True, ge=0,
        description="Denominator joined at harmonisation: all confirmed CSAM URLs of the same organisation, "
                    "year and incident type, whatever the hosting country")
    takedown_days_median: float = pa.Field(
        nullable=True, ge=0,
        description="Median number of days from the hotline's notice to the removal of the content, for "
                    "content hosted in the country and removed in the calendar year (INHOPE)")
    population_total: float = pa.Field(
        nullable=True, gt=0,
        description="Denominator joined at harmonisation: total population of the country at mid-year (persons)")
    internet_users: float = pa.Field(
        nullable=True, ge=0,
        description="Denominator joined at harmonisation: Internet users of the country in the year (persons) = "
                    "BC.1 / 100 x population_total")

    @pa.check("country", name=KNOWN_COUNTRY_CHECK)
    def _known_country(cls, country: Series[str]) -> Series[bool]:
        return country.isin(known_country_codes())

    @pa.dataframe_check(name="CyberTipline report counts come from NCMEC, hosted-URL counts from IWF or INHOPE")
    def _measure_matches_org(cls, df: pd.DataFrame) -> Series[bool]:
        ncmec = df["reporting_org"] == "NCMEC"
        return ((ncmec | df["reports"].isna())
                & (~ncmec | df["confirmed_csam_urls_hosted"].isna())).astype(bool)

    @pa.dataframe_check(name="URLs hosted in the country do not exceed the global total")
    def _hosted_within_global(cls, df: pd.DataFrame) -> Series[bool]:
        hosted = df["confirmed_csam_urls_hosted"].astype("Float64")
        world = df["confirmed_csam_urls_global"].astype("Float64")
        return (hosted.isna() | world.isna() | (hosted <= world)).fillna(True).astype(bool)

    @pa.dataframe_check(name="Internet users do not exceed the population")
    def _users_within_population(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["internet_users"].isna() | df["population_total"].isna()
                | (df["internet_users"] <= df["population_total"])).astype(bool)

    @pa.dataframe_check(name="a country-year has one population and one Internet-user count across its rows")
    def _denominators_constant(cls, df: pd.DataFrame) -> Series[bool]:
        grouped = df.groupby(["country", "year"], dropna=False)
        return ((grouped["population_total"].transform("nunique") <= 1)
                & (grouped["internet_users"].transform("nunique") <= 1)).astype(bool)

    class Config:
        strict = False
        coerce = False
        unique = ["country", "year", "reporting_org", "incident_type"]


DISAGGREGATIONS: tuple[str, ...] = ("incident_type",)
