"""Harmonised COP national questionnaire (staging.national_questionnaire): one row per country and survey wave.

The questionnaire (modelled on the ITU COP 2009 national survey) has 7 categories: 1 perceptions;
2 advice/guidance; 3 awareness and training programmes; 4 national focal points; 5 legal frameworks and law
enforcement; 6 cooperation with industry; 7 requests for assistance. Its items are scored on the 5 pillars of the
Global Cybersecurity Agenda (GCA): legal; technical and procedural; organizational; capacity building;
(international) cooperation, with the COP roadmap stage reached per pillar.

Every country invited in a wave has a row, so response rates can be computed: `responded` is FALSE for a
country that did not answer, and all its items are then null. Items of a responding country are null when the
question was left unanswered ("no" is FALSE or 0, never null). Regions, development status and income groups
are aggregates computed from reference tables, not disaggregations of this table.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.ict import LAST_YEAR, known_country_codes

FIRST_WAVE = 2009  # the COP national survey was first run in 2009
ITU_REGION_CODES = ["AFR", "AMS", "ARB", "ASP", "CIS", "EUR", "OE"]  # ITU/BDT regions; OE = other economies
LEGAL_FRAMEWORK_SCORES = [0.0, 0.5, 1.0]  # no; partial or draft; yes (GCI answer scale yes/partial/no)
ROADMAP_STAGES = {0: "none", 1: "assessment", 2: "planning", 3: "implementation",
                  4: "evaluation and monitoring", 5: "improvement"}
GCA_PILLARS = ("legal", "technical", "organizational", "capacity_building", "cooperation")


def _yes_no(description: str) -> object:
    return pa.Field(nullable=True, description=description)


def _roadmap(pillar: str) -> object:
    return pa.Field(
        nullable=True, ge=0, le=5,
        description=f"Highest COP roadmap stage reached on the GCA {pillar} pillar at the survey date: "
                    "0 none, 1 assessment, 2 planning, 3 implementation, 4 evaluation and monitoring, "
                    "5 improvement")


class NationalQuestionnaireModel(pa.DataFrameModel):
    """staging.national_questionnaire: one row per invited country and wave of the COP national questionnaire."""

    country: str = pa.Field(
        str_matches=r"^[A-Z]{3}$",
        description="Country: ISO 3166-1 alpha-3 code, or an explicitly mapped economy code (XKX, CHI)")
    wave: int = pa.Field(ge=FIRST_WAVE, le=LAST_YEAR,
                         description="Questionnaire wave: the year the questionnaire was sent to countries")
    responded: bool = pa.Field(description="The country returned the questionnaire in this wave")
    itu_region: str = pa.Field(
        nullable=True, isin=ITU_REGION_CODES,
        description="ITU/BDT region of the country (AFR, AMS, ARB, ASP, CIS, EUR; OE other economies)")

    # category 1: perceptions
    perceives_serious_issue: Series[pd.BooleanDtype] = _yes_no(
        "Category 1 (perceptions): the country answered that online child safety is a 'serious' or 'very "
        "serious' issue nationally (at the survey date)")
    # category 2: advice/guidance
    guidance_children: Series[pd.BooleanDtype] = _yes_no(
        "Category 2: national advice/guidance on online safety for children is available (at the survey date)")
    guidance_parents: Series[pd.BooleanDtype] = _yes_no(
        "Category 2: national advice/guidance on children's online safety for parents and carers is available")
    guidance_educators: Series[pd.BooleanDtype] = _yes_no(
        "Category 2: national advice/guidance on children's online safety for educators is available")
    # category 3: awareness and training programmes
    awareness_programmes: Series[pd.Int64Dtype] = pa.Field(
        nullable=True, ge=0,
        description="Category 3: number of national awareness-raising or training programmes on child online "
                    "protection running in the 12 months before the survey date (0 if none)")
    # category 4: national focal points
    focal_point_designated: Series[pd.BooleanDtype] = _yes_no(
        "Category 4: a national focal point (agency or person) for child online protection is designated")
    # category 5: legal frameworks and law enforcement
    legal_framework_csea: float = pa.Field(
        nullable=True, isin=LEGAL_FRAMEWORK_SCORES,
        description="Category 5: national legislation criminalises online child sexual exploitation and abuse "
                    "(production, distribution and possession of child sexual abuse material, and online "
                    "grooming): 1 yes, 0.5 partial or in draft, 0 no (at the survey date)")
    law_enforcement_csea_unit: Series[pd.BooleanDtype] = _yes_no(
        "Category 5: law enforcement has a dedicated unit or dedicated resources for online child sexual "
        "exploitation and abuse")
    # technical and procedural measures
    csam_hotline: Series[pd.BooleanDtype] = _yes_no(
        "A national hotline for reporting child sexual abuse material online is in operation")
    csam_hotline_inhope_member: Series[pd.BooleanDtype] = _yes_no(
        "The country has a hotline that is a member of the INHOPE network (from INHOPE membership, joined at "
        "harmonisation; FALSE implies no INHOPE hotline)")
    child_helpline: Series[pd.BooleanDtype] = _yes_no(
        "A national child helpline (telephone or online counselling for children) is in operation")
    # category 6: cooperation with industry
    industry_cooperation: Series[pd.Int64Dtype] = pa.Field(
        nullable=True, ge=1, le=5,
        description="Category 6: perceived level of cooperation with the Internet industry on child online "
                    "protection, ordinal scale 1 (lowest) to 5 (highest)")
    # international cooperation
    intl_mou: Series[pd.BooleanDtype] = _yes_no(
        "The country has at least one international agreement or memorandum of understanding covering child "
        "online protection")
    interpol_icse_connected: Series[pd.BooleanDtype] = _yes_no(
        "National law enforcement is connected to the INTERPOL International Child Sexual Exploitation (ICSE) "
        "image and video database")
    regional_cooperation_fora: Series[pd.BooleanDtype] = _yes_no(
        "The country takes part in at least one regional or international cooperation forum on child online "
        "protection")
    # category 7: requests for assistance
    assistance_requests: Series[pd.Int64Dtype] = pa.Field(
        nullable=True, ge=0,
        description="Category 7: number of requests for assistance on child online protection the country made "
                    "to ITU in the 12 months before the survey date (0 if none)")
    # COP roadmap stage per GCA pillar
    roadmap_stage_legal: Series[pd.Int64Dtype] = _roadmap("legal measures")
    roadmap_stage_technical: Series[pd.Int64Dtype] = _roadmap("technical and procedural measures")
    roadmap_stage_organizational: Series[pd.Int64Dtype] = _roadmap("organizational structures")
    roadmap_stage_capacity_building: Series[pd.Int64Dtype] = _roadmap("capacity building")
    roadmap_stage_cooperation: Series[pd.Int64Dtype] = _roadmap("international cooperation")

    @pa.check("country", name="country is an ISO 3166-1 alpha-3 code known to pycountry or explicitly mapped")
    def _known_country(cls, country: Series[str]) -> Series[bool]:
        return country.isin(known_country_codes())

    @pa.dataframe_check(name="a country that did not respond has no answers")
    def _no_answers_without_response(cls, df: pd.DataFrame) -> Series[bool]:
        items = [c for c in ANSWER_COLUMNS if c in df.columns]
        return (df["responded"].astype(bool) | df[items].isna().all(axis=1)).astype(bool)

    @pa.dataframe_check(name="a country with an INHOPE member hotline does not answer that it has no CSAM hotline")
    def _inhope_member_is_hotline(cls, df: pd.DataFrame) -> Series[bool]:
        member = df["csam_hotline_inhope_member"].astype("boolean").fillna(False)
        return (~member | df["csam_hotline"].astype("boolean").fillna(True)).astype(bool)

    class Config:
        strict = False
        coerce = False
        unique = ["country", "wave"]


ANSWER_COLUMNS: tuple[str, ...] = tuple(
    name for name in NationalQuestionnaireModel.to_schema().columns
    if name not in ("country", "wave", "responded", "itu_region", "csam_hotline_inhope_member"))

DISAGGREGATIONS: tuple[str, ...] = ()
