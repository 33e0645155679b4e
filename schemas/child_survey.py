"""Harmonised child survey (staging.child_survey): one row per child respondent (DESIGN.md 4.2).

Global Kids Online, EU Kids Online and Disrupting Harm style microdata are mapped to these columns at
harmonisation. Registry expressions for the SA, RB, IR and PA child-survey indicators are SQL over these
columns, so every item an indicator needs is a column here, named after the concept.

Conventions:
- Design columns (`source_id` ... `fpc`) describe the sample so that estimates are design-based (strata, PSUs,
  weights, optional finite population correction). They are shared with the household ICT survey tables
  through `SurveyDesignModel`.
- Survey items are pandas nullable booleans: TRUE = yes, FALSE = no, null = not asked (routing, e.g. an item
  asked only of internet users or only of ages 11+), don't know, refused or not answered. A magic number is
  never used for missing.
- Reference period of experience items: the past 12 months (EU Kids Online / Global Kids Online / Disrupting
  Harm convention), unless the description says otherwise. Internet use: the last 3 months (ITU convention).
- Follow-up items (`told_*`, `reported_*`, `coping_*`) refer to the child's negative online experience(s) of
  the past 12 months and are null for children who had none.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.ict import LAST_YEAR, known_country_codes

FIRST_WAVE = 1990  # earliest survey year accepted; the COP and EU Kids Online series start in 2009-2010

SEX_CODES = ["F", "M"]
URBANISATION_CODES = ["U", "R"]  # urban, rural
ISCED_LEVELS = [str(level) for level in range(9)]  # ISCED 2011 levels 0-8

# The items whose union defines a child with at least one negative online experience in the past 12 months
# (IR.1-IR.8; the universe of IR.9-IR.11), and the Disrupting Harm OCSEA items (IR.5-IR.8).
OCSEA_ITEMS: tuple[str, ...] = (
    "ocsea_grooming",
    "ocsea_offered_gifts_for_sexual_acts",
    "ocsea_threatened_blackmailed",
    "ocsea_images_shared_without_permission",
)
NEGATIVE_EXPERIENCE_ITEMS: tuple[str, ...] = (
    "cyberbullied",
    "saw_sexual_images",
    "received_sexual_messages",
    "personal_data_misused",
) + OCSEA_ITEMS
CONFIDANT_ITEMS: tuple[str, ...] = ("told_parent", "told_friend", "told_teacher", "told_professional")


def _band_bounds(bands: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Lower and upper age of bands written "a-b" or "a+" (upper = 999); NaN where the band is null."""
    parts = bands.astype("string").str.extract(r"^(\d{1,3})(?:-(\d{1,3})|(\+))$")
    low = pd.to_numeric(parts[0], errors="coerce")
    high = pd.to_numeric(parts[1], errors="coerce").where(parts[2].isna(), 999)
    return low, high


def age_within_band(df: pd.DataFrame) -> pd.Series:
    """TRUE where age_band is null or contains age."""
    low, high = _band_bounds(df["age_band"])
    age = pd.to_numeric(df["age"], errors="coerce")
    inside = (age >= low) & (age <= high)
    return (df["age_band"].isna() | inside.fillna(False)).astype(bool)


def fpc_consistent(df: pd.DataFrame) -> pd.Series:
    """fpc is the population number of PSUs of the stratum: one value per (source_id, stratum), either null
    for the whole stratum or not null for all of its rows, and at least the number of PSUs sampled in it."""
    keys = ["source_id", "stratum"]
    grouped = df.groupby(keys, dropna=False)
    n_values = grouped["fpc"].transform(lambda s: s.nunique(dropna=False))
    sampled_psus = grouped["psu"].transform("nunique")
    fpc = pd.to_numeric(df["fpc"], errors="coerce")
    ok = (n_values == 1) & (fpc.isna() | (fpc >= sampled_psus))
    return ok.astype(bool)


def one_country_and_wave_per_source(df: pd.DataFrame) -> pd.Series:
    """A source dataset covers one country and one wave."""
    grouped = df.groupby("source_id", dropna=False)
    return ((grouped["country"].transform("nunique") == 1)
            & (grouped["wave"].transform("nunique") == 1)).astype(bool)


class SurveyDesignModel(pa.DataFrameModel):
    """Design columns every harmonised survey table carries (child survey, household ICT surveys)."""

    source_id: str = pa.Field(
        description="Identifier of the source dataset (one survey, country and wave), as in the source manifest")
    country: str = pa.Field(
        str_matches=r"^[A-Z]{3}$",
        description="Country surveyed: ISO 3166-1 alpha-3 code, or an explicitly mapped economy code (XKX, CHI)")
    wave: int = pa.Field(
        ge=FIRST_WAVE, le=LAST_YEAR,
        description="Survey wave: calendar year in which fieldwork started")
    stratum: str = pa.Field(
        description="Design stratum of the first sampling stage; a single constant value for an unstratified "
                    "design")
    psu: str = pa.Field(
        description="Primary sampling unit (first-stage cluster), unique within stratum; the unit's own "
                    "identifier for an unclustered design")
    weight: float = pa.Field(
        gt=0,
        description="Final analysis weight of the unit (design weight adjusted for non-response and calibrated "
                    "where the survey does so); expansion weights summing to the in-scope population where the "
                    "survey provides them")
    fpc: float = pa.Field(
        nullable=True, gt=0,
        description="First-stage finite population correction: number of PSUs of the stratum in the population "
                    "(N_h, as R survey::svydesign(fpc=)); null when sampling is treated as with replacement")

    @pa.check("country", name="country is an ISO 3166-1 alpha-3 code known to pycountry or explicitly mapped")
    def _known_country(cls, country: Series[str]) -> Series[bool]:
        return country.isin(known_country_codes())

    @pa.dataframe_check(name="fpc is constant within a stratum and at least the number of PSUs sampled in it")
    def _fpc_consistent(cls, df: pd.DataFrame) -> Series[bool]:
        return fpc_consistent(df)

    @pa.dataframe_check(name="a source dataset covers one country and one wave")
    def _one_country_and_wave(cls, df: pd.DataFrame) -> Series[bool]:
        return one_country_and_wave_per_source(df)


def _item(description: str) -> Any:
    """A yes/no survey item: nullable boolean, null = not asked / don't know / refused / not answered."""
    return pa.Field(nullable=True, description=description)


class ChildSurveyModel(SurveyDesignModel):
    """staging.child_survey: one row per child respondent, with the parent module's answers attached."""

    respondent_id: str = pa.Field(description="Child respondent identifier, unique within source_id")

    # --- classifiers -------------------------------------------------------------------------------------
    sex: str = pa.Field(isin=SEX_CODES, description="Sex of the child: F female, M male")
    age: int = pa.Field(ge=5, le=17, description="Age of the child in completed years at interview")
    age_band: str = pa.Field(
        nullable=True, str_matches=r"^\d{1,2}-\d{1,2}$",
        description="Age band derived from age at harmonisation, in the source's native banding: COP guideline "
                    "bands 5-7, 8-12, 13-17, or survey bands such as 9-11, 12-14, 15-17 (EU Kids Online, "
                    "Disrupting Harm 12-14/15-17)")
    urbanisation: str = pa.Field(
        nullable=True, isin=URBANISATION_CODES,
        description="Degree of urbanisation of the child's place of residence: U urban, R rural (national "
                    "definition of the survey)")
    ses_quintile: Series[pd.Int64Dtype] = pa.Field(
        nullable=True, ge=1, le=5,
        description="Household socio-economic status quintile of the child (1 lowest, 5 highest), from the "
                    "survey's SES or wealth index, quintiles computed with the survey weights within the wave")
    parent_education_level: str = pa.Field(
        nullable=True, isin=ISCED_LEVELS,
        description="Highest level of education completed by the interviewed parent or carer, ISCED 2011 "
                    "level 0-8 (parent module); null where no parent was interviewed")

    # --- access and use -----------------------------------------------------------------------------------
    uses_internet: Series[pd.BooleanDtype] = _item(
        "The child used the Internet, from any location and on any device, in the last 3 months (survey "
        "screener mapped to the ITU 3-month convention)")

    hours_online: Series[float] = pa.Field(
        nullable=True, ge=0, le=24,
        description="Hours the child usually spends online on a school day, self-reported (where a survey asks "
                    "in bands, its spec recodes each band to the band's midpoint)")
    # --- subjective aspects (SA) -----------------------------------------------------------------------------
    bothered_online: Series[pd.BooleanDtype] = _item(
        "In the past 12 months, something happened online that bothered or upset the child in some way (e.g. "
        "made them feel upset, uncomfortable or scared, or that they should not have seen it)")
    knows_report_harmful_content: Series[pd.BooleanDtype] = _item(
        "The child says they know how to report harmful content on social media (at interview)")
    knows_where_help_sexual_abuse: Series[pd.BooleanDtype] = _item(
        "The child says they know where to get help if they were sexually harassed or abused online (at "
        "interview)")

    # --- risk-prone behaviour (RB) ---------------------------------------------------------------------------
    contact_stranger_online: Series[pd.BooleanDtype] = _item(
        "In the past 12 months, the child had contact online (communicated) with someone they had not met "
        "face-to-face before")
    met_online_contact_offline: Series[pd.BooleanDtype] = _item(
        "In the past 12 months, the child met in person (face-to-face) someone they first got to know online")
    shared_personal_info_online_contact: Series[pd.BooleanDtype] = _item(
        "In the past 12 months, the child sent personal information (e.g. home address, phone number, a photo "
        "of themselves, an identity document) to someone they knew only online")
    sent_sexual_content: Series[pd.BooleanDtype] = _item(
        "In the past 12 months, the child sent or posted a sexual message (words, pictures or video) of any "
        "kind; asked of older children only (age floor of the source, 11 or 12)")
    excessive_use_items: Series[pd.Int64Dtype] = pa.Field(
        nullable=True, ge=0, le=5,
        description="Number of the five excessive-use items answered 'fairly often' or 'very often' for the "
                    "past 12 months (EU Kids Online 2010 / Global Kids Online: went without eating or sleeping "
                    "because of the Internet; felt bothered when could not be online; caught themselves "
                    "surfing when not really interested; spent less time than they should with family, "
                    "friends or schoolwork because of time online; tried unsuccessfully to spend less time "
                    "online); null if any of the five was not answered")

    # --- incidents (IR) -------------------------------------------------------------------------------------
    cyberbullied: Series[pd.BooleanDtype] = _item(
        "In the past 12 months, someone treated the child in a hurtful or nasty way online (cyberbullying "
        "victimisation)")
    saw_sexual_images: Series[pd.BooleanDtype] = _item(
        "In the past 12 months, the child saw sexual images online (e.g. images of people naked or having "
        "sex)")
    received_sexual_messages: Series[pd.BooleanDtype] = _item(
        "In the past 12 months, the child received sexual messages (words, pictures or video) online; asked "
        "of older children only (age floor as sent_sexual_content)")
    personal_data_misused: Series[pd.BooleanDtype] = _item(
        "In the past 12 months, the child experienced at least one misuse of personal data (e.g. someone used "
        "their password or pretended to be them, or used their personal information in a way they did not "
        "like)")
    ocsea_grooming: Series[pd.BooleanDtype] = _item(
        "In the past 12 months, someone online asked the child to talk about sex or sexual acts, or asked for "
        "a photo or video showing their private parts, when they did not want to (Disrupting Harm)")
    ocsea_offered_gifts_for_sexual_acts: Series[pd.BooleanDtype] = _item(
        "In the past 12 months, the child was offered money or gifts online in return for sexual images or "
        "videos, or to meet in person to do something sexual (Disrupting Harm)")
    ocsea_threatened_blackmailed: Series[pd.BooleanDtype] = _item(
        "In the past 12 months, someone threatened or blackmailed the child online to engage in sexual "
        "activities (Disrupting Harm)")
    ocsea_images_shared_without_permission: Series[pd.BooleanDtype] = _item(
        "In the past 12 months, someone shared sexual images or videos of the child without their permission "
        "(Disrupting Harm)")

    # --- responses to negative experiences (IR) --------------------------------------------------------------
    told_someone: Series[pd.BooleanDtype] = _item(
        "After a negative online experience in the past 12 months, the child told anyone about it (any "
        "confidant, including those below)")
    told_parent: Series[pd.BooleanDtype] = _item("The child told a parent or carer about the experience")
    told_friend: Series[pd.BooleanDtype] = _item("The child told a friend or peer about the experience")
    told_teacher: Series[pd.BooleanDtype] = _item("The child told a teacher or other school staff about it")
    told_professional: Series[pd.BooleanDtype] = _item(
        "The child told a professional (e.g. social worker, counsellor, psychologist, health worker) about it")
    reported_police: Series[pd.BooleanDtype] = _item("The child (or someone for them) reported it to the police")
    reported_helpline: Series[pd.BooleanDtype] = _item(
        "The child contacted a helpline (e.g. a child helpline) about the experience")
    reported_platform: Series[pd.BooleanDtype] = _item(
        "The child reported it to the platform or service using its reporting tool")
    coping_blocked: Series[pd.BooleanDtype] = _item("The child blocked the person who caused the problem")
    coping_deleted: Series[pd.BooleanDtype] = _item(
        "The child deleted the messages, images or content concerned")
    coping_changed_settings: Series[pd.BooleanDtype] = _item(
        "The child changed their privacy or contact settings because of the experience")
    coping_reported: Series[pd.BooleanDtype] = _item(
        "The child reported the problem online (e.g. a 'report abuse' button, the service provider or an "
        "Internet adviser)")

    # --- preventative actions (PA) ---------------------------------------------------------------------------
    parent_active_mediation: Series[pd.BooleanDtype] = _item(
        "A parent or carer talks with the child about what they do online, or encourages them to explore and "
        "learn things online, 'often' or 'sometimes' (child's report; current practice)")
    parent_restrictive_mediation: Series[pd.BooleanDtype] = _item(
        "A parent or carer has rules or prohibitions on at least one of the child's online activities "
        "(child's report; current practice)")
    technical_mediation: Series[pd.BooleanDtype] = _item(
        "Parental controls or filtering (software, app or device/router settings) are used on a device the "
        "child uses to go online (current practice)")
    safety_advice_parent: Series[pd.BooleanDtype] = _item(
        "The child has ever received advice from a parent or carer on how to use the Internet safely")
    safety_advice_teacher: Series[pd.BooleanDtype] = _item(
        "The child has ever received advice from a teacher on how to use the Internet safely")
    safety_advice_peer: Series[pd.BooleanDtype] = _item(
        "The child has ever received advice from a friend or peer on how to use the Internet safely")
    internet_at_home: Series[pd.BooleanDtype] = _item(
        "The child's home has an Internet connection (at interview; PISA student questionnaire item)")
    computer_at_home: Series[pd.BooleanDtype] = _item(
        "The child has a computer at home that can be used for school work (at interview; PISA item)")
    can_change_privacy_settings: Series[pd.BooleanDtype] = _item(
        "'I know how to change my privacy settings (e.g. on a social networking site)' is fairly or very true "
        "of the child (skills item, at interview)")

    # --- parent module (the parent's answers attached to the child's record) -------------------------------
    parent_interviewed: bool = pa.Field(
        description="A parent or carer of the child completed the parent module (one parent per child)")
    parent_worried_online_safety: Series[pd.BooleanDtype] = _item(
        "The interviewed parent or carer is 'very' or 'fairly' worried about at least one named online risk "
        "to the child (parent module, at interview); null when no parent was interviewed")

    @pa.dataframe_check(name="age is within age_band")
    def _age_within_band(cls, df: pd.DataFrame) -> Series[bool]:
        return age_within_band(df)

    @pa.dataframe_check(name="a child who told a parent, friend, teacher or professional told someone")
    def _told_someone_covers_confidants(cls, df: pd.DataFrame) -> Series[bool]:
        any_confidant = pd.concat([df[c].astype("boolean") for c in CONFIDANT_ITEMS], axis=1).any(axis=1)
        told = df["told_someone"].astype("boolean")
        return (~any_confidant | told.fillna(False)).astype(bool)

    @pa.dataframe_check(name="parent-module answers are null when no parent was interviewed")
    def _parent_module_routing(cls, df: pd.DataFrame) -> Series[bool]:
        interviewed = df["parent_interviewed"].astype(bool)
        return (interviewed | (df["parent_worried_online_safety"].isna()
                               & df["parent_education_level"].isna())).astype(bool)

    class Config:
        strict = False
        coerce = False
        unique = ["source_id", "respondent_id"]


DISAGGREGATIONS: tuple[str, ...] = ("sex", "age_band", "urbanisation", "ses_quintile", "parent_education_level")
