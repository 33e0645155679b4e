"""SYNTHETIC child-survey microdata: invented children, NOT Global Kids Online, EU Kids Online, Disrupting Harm
or any other survey's data.

Why this exists
---------------
The child-survey indicators (SA, RB, IR, PA groups of the registry) are design-based estimates from microdata
that real countries deliver in their own formats, variable names and codes. The default build must run with no
download and no licensed input, yet exercise every step: reading CSV/Parquet/SPSS/Stata files, applying the
mapping specs (data/mappings/child_survey_*.yaml), validating staging.child_survey, and estimating proportions
with strata, PSUs, calibrated weights and an optional fpc. Because the data are simulated, the TRUE population
values are known, so the estimates (and their confidence intervals) can be checked against them.
``python -m indicators.synthetic.child_survey_sample`` writes, deterministically from the seed (20261128):

- data/sample/microdata/<iso3>_<wave>.<csv|parquet|sav|dta>   24 files: 12 countries x 2 waves
- data/mappings/child_survey_<iso3>_<wave>.yaml                one mapping spec per file
- data/sample/microdata/truth.csv                              true population values

Countries (real ISO3 codes of UN members, two per ITU region; nothing else about them is real):
KEN, GHA (Africa), BRA, MEX (Americas), EGY, MAR (Arab States), PHL, IDN (Asia & Pacific), KAZ, UZB (CIS),
POL, ITA (Europe).

Population and model (one per country-wave)
-------------------------------------------
- A finite FRAME: 2-5 regions x urban/rural; each (region, urbanisation) holds thousands of enumeration areas
  (EAs, the PSUs) with a current number of children aged 9-17 (lognormal, mean 60-220) and an outdated census
  measure of size (MOS). The country's child population 9-17 (about 2-15 million) is the sum of EA sizes; its
  split by sex and single year of age is a multinomial draw per (region, urbanisation), so the population
  counts N_c of every cell c = (region, urbanisation, sex, age) are integers known exactly.
- A SUPERPOPULATION model for the answers: every item k is a logistic model
      logit P(k = yes) = a_k + country/wave shift + region effect + female + age slope x (age - 13)
                         + urban + lambda_k * u_psu + kappa_k * z_child,
  with u ~ N(0, 1) one value per EA (the PSU random effect that creates intra-cluster correlation, hence a real
  design effect) and z ~ N(0, 1) one value per child (a propensity that makes negative experiences and risky
  behaviour co-occur). Given (cell, u, z) the items are independent Bernoulli draws. Follow-up items are
  conditional: told_parent/friend/teacher/professional = told_someone AND a Bernoulli draw;
  parent_worried_online_safety is drawn for interviewed parents only. excessive_use_items is the number of
  five excessive-use items answered 'fairly' or 'very often' (each a Bernoulli item of the same form).
  The children's SES (a latent score from urbanisation, region and u; quintiles computed with the final
  weights, as the schema says) and the parent's education (from SES) are outcomes, not predictors.

Sample design (per file)
------------------------
Stratified two-stage: strata are region x urbanisation (4-10 strata) or, in BRA and UZB, regions only (EAs of
both kinds in one stratum, sorted by urbanisation: implicit stratification). In each stratum 8-40 EAs are drawn
by systematic PPS on the outdated MOS (allocation proportional to the square root of the stratum size, so
small strata are oversampled), then a fixed take of 12-22 children by simple random sampling within the EA,
less 3-12 % unit non-response (never below 10 respondents per EA). Base weight = 1 / pi =
M_i / (m_i * n_h * MOS_i / MOS_h): unequal across strata and EAs. The base weights are then calibrated to the
frame's child population 9-17: post-stratification to sex x age group (9-11, 12-14, 15-17), or raking to sex x
age group and urban/rural (ending on sex x age group), so that the weights sum to the population exactly.

Answers, routing and missing values
-----------------------------------
Routing follows schemas/child_survey.py: items on internet use are asked of internet users only; sexual
messages items from age 11 or 12 (country-specific), OCSEA items from 12 (9 in BRA), the "knows how to report /
where to get help" items from 9 or 12; follow-ups (told_*, reported_*, coping_*) of users who answered yes to
at least one negative-experience item (after item non-response); confidants are FALSE when the child told no
one; parent-module answers only when a parent was interviewed. 1-3 % of asked item values are item non-response
(70 % "don't know", 30 % "refused"), delivered as the country's own codes (8/9, 98/99, -8/-9, "DK"/"REF",
"NS"/"NR", ...); "not asked" is a blank / system missing or an explicit not-applicable code (-1, 96, 99).
Every file uses national variable names and codes (sex 1/2, "M"/"F", "boy"/"girl", Cyrillic "М"/"Ж"; yes/no
1/2, 1/0, 1/3, "Y"/"N", "sim"/"não", "oui"/"non", "yes"/"no", "sì"/"no"; urban 1/2, "U"/"R" words...), and its
spec says how to read it. Two files carry a wave revision (a new item, to be ignored, shifts the numbering).

Truth (data/sample/microdata/truth.csv)
---------------------------------------
For every source, every child_survey indicator of the registry whose expressions are conjunctions of factors
over conditionally independent items (all of them today), plus `uses_internet` (all children) and `POP_9_17`
(the child population, a count), and domains _T, sex=F/M, age_band=9-11/12-14/15-17, urbanisation=U/R (those
in the indicator's disaggregations): the superpopulation value for the country-wave's frame,
    true_value = sum_c N_c E[universe AND numerator | c] / sum_c N_c E[universe | c],
with the expectation over u and z computed by Gauss-Hermite quadrature (40 x 40 nodes; error below 1e-9) and
the universe/numerator expressions read from indicators/registry/*.yaml (SQL semantics: an item not asked at
the child's age is null, so it cannot make the universe true). The census value of one realised population
would differ from it by about 0.001 or less (thousands of EAs). IR.20 (a total) is sum_c N_c E[value | c].
Truth ignores item non-response (missing completely at random here), so an estimator that drops a child whose
numerator is null is unbiased for single-item numerators. It is NOT for OR / NOT-OR numerators evaluated with
SQL's three-valued logic (TRUE OR NULL is TRUE but FALSE OR NULL is NULL, so the children dropped are mostly
"no"): in these files IR.5, IR.6, IR.10 and IR.11 come out about 1 point (0.7-0.9 standard errors) above the
truth and PA.5 about 0.4 points (0.6 SE) below it. That is a property of the registry's definitions under item
non-response, not of the truth. Proportions are in [0, 1], not percent.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

DEFAULT_SEED = 20261128
REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "data"
MICRODATA_SUBDIR = Path("sample") / "microdata"
MAPPINGS_SUBDIR = Path("mappings")
TRUTH_NAME = "truth.csv"
REGISTRY_DIR = REPO_ROOT / "indicators" / "registry"

AGES = np.arange(9, 18)
AGE_BANDS = {"9-11": (9, 11), "12-14": (12, 14), "15-17": (15, 17)}
GH_NODES = 40  # Gauss-Hermite nodes per latent dimension (PSU effect u, child propensity z)
TRUTH_COLUMNS = ["source_id", "country", "wave", "indicator_code", "domain", "true_value"]
POP_CODE = "POP_9_17"  # truth rows holding the child population 9-17 (a count)
UI_CODE = "uses_internet"  # truth rows holding the share of all children 9-17 using the Internet
# Indicators whose truth must be computable (the generator fails otherwise).
REQUIRED_TRUTH = ("SA.1", "SA.2", "RB.1", "RB.5", "IR.1", "IR.5", "IR.6", "IR.9", "PA.1", "PA.6")

# item states before national coding
YES, NO, NOT_ASKED, DK, REF = 1, 0, -1, -2, -3

OCSEA_ITEMS = ("ocsea_grooming", "ocsea_offered_gifts_for_sexual_acts", "ocsea_threatened_blackmailed",
               "ocsea_images_shared_without_permission")
NEGATIVE_ITEMS = ("cyberbullied", "saw_sexual_images", "received_sexual_messages", "personal_data_misused",
                  *OCSEA_ITEMS)
CONFIDANTS = ("told_parent", "told_friend", "told_teacher", "told_professional")
EXCESSIVE_RAW = ("exc_1", "exc_2", "exc_3", "exc_4", "exc_5")
NEW_ITEM = "saw_hate_messages"  # added by the wave revisions; delivered, not harmonised (spec: ignore)


@dataclass(frozen=True)
class Item:
    """Logistic model of one yes/no item (logit scale; age slope per year from 13; rural boy reference)."""

    a: float
    female: float
    age: float
    urban: float
    psu: float  # loading on the PSU random effect u
    child: float  # loading on the child propensity z
    routing: str = "user"  # all | user | sexual | ocsea | knows | victim | confidant | parent
    given: str | None = None  # the item is drawn only where `given` is yes (marginal = p_given * p)


ITEM_MODEL: dict[str, Item] = {
    "uses_internet": Item(0.0, 0.0, 0.45, 0.9, 0.5, 0.0, "all"),  # intercept and gender gap: country table
    "can_change_privacy_settings": Item(0.2, -0.1, 0.30, 0.3, 0.4, 0.3),
    "knows_report_harmful_content": Item(0.1, -0.1, 0.20, 0.3, 0.4, 0.2, "knows"),
    "knows_where_help_sexual_abuse": Item(-0.3, 0.1, 0.15, 0.3, 0.4, 0.0, "knows"),
    "contact_stranger_online": Item(-0.5, -0.25, 0.20, 0.1, 0.3, 0.9),
    "met_online_contact_offline": Item(-2.0, -0.2, 0.25, 0.0, 0.3, 1.0),
    "shared_personal_info_online_contact": Item(-1.8, -0.1, 0.15, 0.1, 0.3, 0.9),
    "sent_sexual_content": Item(-2.6, -0.3, 0.35, 0.1, 0.3, 1.1, "sexual"),
    "exc_1": Item(-2.3, 0.0, 0.10, 0.1, 0.2, 0.8),
    "exc_2": Item(-1.6, 0.1, 0.08, 0.1, 0.2, 0.8),
    "exc_3": Item(-0.6, 0.0, 0.12, 0.1, 0.2, 0.7),
    "exc_4": Item(-1.5, 0.0, 0.10, 0.1, 0.2, 0.8),
    "exc_5": Item(-2.0, 0.1, 0.08, 0.1, 0.2, 0.8),
    "bothered_online": Item(-1.0, 0.25, 0.08, 0.15, 0.3, 0.9),
    "cyberbullied": Item(-1.5, 0.15, 0.05, 0.1, 0.35, 0.9),
    "saw_sexual_images": Item(-1.3, -0.45, 0.30, 0.2, 0.3, 0.9),
    "received_sexual_messages": Item(-1.8, 0.0, 0.30, 0.1, 0.3, 1.0, "sexual"),
    "personal_data_misused": Item(-1.9, 0.0, 0.10, 0.2, 0.3, 0.7),
    "ocsea_grooming": Item(-2.7, 0.35, 0.12, 0.0, 0.35, 1.1, "ocsea"),
    "ocsea_offered_gifts_for_sexual_acts": Item(-3.4, 0.1, 0.10, -0.1, 0.35, 1.1, "ocsea"),
    "ocsea_threatened_blackmailed": Item(-3.8, 0.1, 0.08, 0.0, 0.35, 1.1, "ocsea"),
    "ocsea_images_shared_without_permission": Item(-3.8, 0.2, 0.10, 0.0, 0.35, 1.1, "ocsea"),
    NEW_ITEM: Item(-1.2, 0.0, 0.15, 0.1, 0.3, 0.8),
    "told_someone": Item(0.7, 0.35, -0.08, 0.1, 0.35, -0.2, "victim"),
    "told_parent": Item(0.5, 0.2, -0.20, 0.1, 0.3, -0.2, "confidant", "told_someone"),
    "told_friend": Item(0.2, 0.3, 0.18, 0.0, 0.2, 0.1, "confidant", "told_someone"),
    "told_teacher": Item(-2.0, 0.1, -0.10, 0.2, 0.4, 0.0, "confidant", "told_someone"),
    "told_professional": Item(-3.0, 0.1, 0.0, 0.3, 0.4, 0.2, "confidant", "told_someone"),
    "reported_police": Item(-3.6, 0.0, 0.05, 0.2, 0.4, 0.3, "victim"),
    "reported_helpline": Item(-3.3, 0.2, 0.05, 0.3, 0.4, 0.2, "victim"),
    "reported_platform": Item(-1.6, 0.0, 0.18, 0.3, 0.3, 0.3, "victim"),
    "coping_blocked": Item(-0.2, 0.2, 0.10, 0.2, 0.3, 0.2, "victim"),
    "coping_deleted": Item(-0.6, 0.1, 0.05, 0.1, 0.3, 0.2, "victim"),
    "coping_changed_settings": Item(-1.1, 0.1, 0.12, 0.2, 0.3, 0.2, "victim"),
    "coping_reported": Item(-1.7, 0.0, 0.12, 0.3, 0.3, 0.2, "victim"),
    "parent_active_mediation": Item(1.0, 0.2, -0.15, 0.3, 0.5, -0.2),
    "parent_restrictive_mediation": Item(0.9, 0.2, -0.30, 0.2, 0.5, -0.3),
    "technical_mediation": Item(-0.7, 0.1, -0.15, 0.5, 0.5, -0.1),
    "safety_advice_parent": Item(0.9, 0.2, -0.05, 0.3, 0.5, 0.0),
    "safety_advice_teacher": Item(0.4, 0.0, 0.10, 0.4, 0.8, 0.0),  # school-level clustering
    "safety_advice_peer": Item(-0.3, 0.1, 0.15, 0.2, 0.4, 0.2),
    "parent_interviewed": Item(1.2, 0.0, -0.05, -0.2, 0.4, 0.0, "all"),
    "parent_worried_online_safety": Item(0.6, 0.25, -0.05, 0.3, 0.3, 0.1, "parent", "parent_interviewed"),
}
ITEM_ORDER = tuple(ITEM_MODEL)  # order of the random draws
HARMONISED_ITEMS = tuple(k for k in ITEM_MODEL if k not in EXCESSIVE_RAW and k != NEW_ITEM)

# Questionnaire modules: (number, letter, variables). Item names of most countries are built from these.
MODULES: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "A", ("sex", "age")),
    (2, "B", ("uses_internet",)),
    (3, "C", ("can_change_privacy_settings", "knows_report_harmful_content", "knows_where_help_sexual_abuse")),
    (4, "D", ("contact_stranger_online", "met_online_contact_offline", "shared_personal_info_online_contact",
              "sent_sexual_content")),
    (5, "E", (*EXCESSIVE_RAW, "excessive_use_items")),
    (6, "F", ("bothered_online", "cyberbullied", "saw_sexual_images", "received_sexual_messages",
              "personal_data_misused", *OCSEA_ITEMS)),
    (7, "G", ("told_someone", *CONFIDANTS, "reported_police", "reported_helpline", "reported_platform",
              "coping_blocked", "coping_deleted", "coping_changed_settings", "coping_reported")),
    (8, "H", ("parent_active_mediation", "parent_restrictive_mediation", "technical_mediation",
              "safety_advice_parent", "safety_advice_teacher", "safety_advice_peer")),
    (9, "P", ("parent_interviewed", "parent_worried_online_safety", "parent_education_level")),
)
REVISION_AFTER = (6, 3)  # revised questionnaires insert NEW_ITEM after item 3 of module 6

# Short variable labels for SPSS/Stata files (English; the questionnaire wording is the country's).
VARIABLE_LABELS = {
    "sex": "Sex of child", "age": "Age of child (completed years)", "urbanisation": "Urban/rural residence",
    "ses_quintile": "Household SES quintile", "parent_education_level": "Highest education of interviewed parent",
    "uses_internet": "Used the Internet in the last 3 months",
    "can_change_privacy_settings": "Knows how to change privacy settings",
    "knows_report_harmful_content": "Knows how to report harmful content on social media",
    "knows_where_help_sexual_abuse": "Knows where to get help for online sexual harassment/abuse",
    "contact_stranger_online": "Contact online with someone not met face-to-face (12m)",
    "met_online_contact_offline": "Met in person someone first met online (12m)",
    "shared_personal_info_online_contact": "Sent personal information to someone known only online (12m)",
    "sent_sexual_content": "Sent or posted a sexual message (12m)",
    "exc_1": "Went without eating or sleeping because of the Internet",
    "exc_2": "Felt bothered when could not be online", "exc_3": "Caught self surfing when not interested",
    "exc_4": "Less time with family/friends/schoolwork because of the Internet",
    "exc_5": "Tried unsuccessfully to spend less time online",
    "excessive_use_items": "Number of excessive-use items fairly/very often (0-5)",
    "bothered_online": "Something online bothered or upset the child (12m)",
    "cyberbullied": "Treated in a hurtful or nasty way online (12m)",
    "saw_sexual_images": "Saw sexual images online (12m)", "received_sexual_messages": "Received sexual messages (12m)",
    "personal_data_misused": "Misuse of personal data (12m)",
    "ocsea_grooming": "Asked to talk about sex or for sexual images, unwanted (12m)",
    "ocsea_offered_gifts_for_sexual_acts": "Offered money or gifts for sexual images or acts (12m)",
    "ocsea_threatened_blackmailed": "Threatened or blackmailed into sexual activities (12m)",
    "ocsea_images_shared_without_permission": "Sexual images of child shared without permission (12m)",
    NEW_ITEM: "Saw hate messages online (12m)",
    "told_someone": "Told anyone about the negative experience", "told_parent": "Told a parent or carer",
    "told_friend": "Told a friend", "told_teacher": "Told a teacher", "told_professional": "Told a professional",
    "reported_police": "Reported to the police", "reported_helpline": "Contacted a helpline",
    "reported_platform": "Reported to the platform", "coping_blocked": "Blocked the person",
    "coping_deleted": "Deleted the content", "coping_changed_settings": "Changed privacy/contact settings",
    "coping_reported": "Reported the problem online",
    "parent_active_mediation": "Parent talks about / encourages online activities",
    "parent_restrictive_mediation": "Parent has rules on online activities",
    "technical_mediation": "Parental controls or filters used", "safety_advice_parent": "Safety advice from parent",
    "safety_advice_teacher": "Safety advice from teacher", "safety_advice_peer": "Safety advice from friend",
    "parent_interviewed": "Parent module completed",
    "parent_worried_online_safety": "Parent very/fairly worried about an online risk",
    "respondent_id": "Respondent identifier", "stratum": "Design stratum", "psu": "Enumeration area (PSU)",
    "weight": "Final calibrated weight", "fpc": "Number of EAs in the stratum (population)",
    "hh_id": "Household number", "line_no": "Line number of child in household",
    "interview_date": "Date of interview", "interviewer": "Interviewer code",
    "country": "Country", "wave": "Survey year",
}

LANG = {  # yes, no, don't know, refused, not applicable, male, female, urban, rural, quintile labels
    "en": ("Yes", "No", "Don't know", "Refused", "Not applicable", "Male", "Female", "Urban", "Rural",
           ("Poorest", "Second", "Middle", "Fourth", "Richest")),
    "pt": ("sim", "não", "não sabe", "não respondeu", "não se aplica", "masculino", "feminino", "urbana", "rural",
           ("1º quintil", "2º quintil", "3º quintil", "4º quintil", "5º quintil")),
    "es": ("sí", "no", "no sabe", "no responde", "no aplica", "hombre", "mujer", "urbano", "rural",
           ("I", "II", "III", "IV", "V")),
    "fr": ("oui", "non", "ne sait pas", "refus", "sans objet", "garçon", "fille", "urbain", "rural",
           ("Q1 le plus pauvre", "Q2", "Q3", "Q4", "Q5 le plus riche")),
    "id": ("ya", "tidak", "tidak tahu", "menolak", "tidak berlaku", "laki-laki", "perempuan", "perkotaan",
           "perdesaan", ("K1", "K2", "K3", "K4", "K5")),
    "ru": ("да", "нет", "затрудняюсь ответить", "отказ от ответа", "не применимо", "мальчик", "девочка", "город",
           "село", ("1 (беднейший)", "2", "3", "4", "5 (богатейший)")),
    "pl": ("tak", "nie", "trudno powiedzieć", "odmowa", "nie dotyczy", "chłopiec", "dziewczynka", "miasto", "wieś",
           ("I kwintyl", "II kwintyl", "III kwintyl", "IV kwintyl", "V kwintyl")),
}
FREQ_LABELS = {"en": ("Never", "Not very often", "Fairly often", "Very often"),
               "es": ("Nunca", "No muy seguido", "Bastante seguido", "Muy seguido"),
               "id": ("Tidak pernah", "Jarang", "Cukup sering", "Sangat sering"),
               "ru": ("Никогда", "Редко", "Довольно часто", "Очень часто"),
               "fr": ("Jamais", "Pas très souvent", "Assez souvent", "Très souvent"),
               "pl": ("Nigdy", "Rzadko", "Dość często", "Bardzo często"),
               "pt": ("Nunca", "Pouco", "Com frequência", "Com muita frequência")}


@dataclass(frozen=True)
class Coding:
    """How one delivered file codes its values. Codes are numbers (numeric files, with value labels in SPSS
    and Stata) or strings. `na` codes 'not asked' (None: blank / system missing)."""

    yes: Any
    no: Any
    dk: Any
    ref: Any
    na: Any
    sex: dict  # {"M": code, "F": code}
    urban: dict  # {"U": code, "R": code}
    edu: tuple  # ((code, label, ISCED level), ...) lowest first
    edu_missing: Any
    count_missing: Any  # excessive-use count not computable (an item unanswered)
    ses: dict | None = None  # quintile -> code; None: the number 1-5 itself
    ses_missing: Any = None  # None: SES known for every child
    lang: str = "en"

    @property
    def numeric(self) -> bool:
        return not isinstance(self.yes, str)


@dataclass(frozen=True)
class Delivery:
    """One delivered file: format, national names and codes, design columns, calibration."""

    wave: int
    fmt: str  # csv | parquet | sav | dta
    coding: Coding
    scheme: str | dict  # item-name template ({m} module number, {L} letter, {j} item, {n} running) or names
    names: dict  # sex/age/urbanisation/ses_quintile/parent_education_level overrides + design columns
    csv: tuple[str, str] | None = None  # (encoding, delimiter)
    fpc: bool = False
    psu_ids: str = "global"  # global (unique in the file) | within (1..n_h, unique within stratum only)
    stratum_ids: str = "code"  # code (11, 12, 21, ...) | name ("North-urban")
    respondent_ids: str = "int"  # int | str:<prefix> | hh_line (two columns: household number, line number)
    revision: bool = False
    extras: tuple[str, ...] = ()  # raw_excessive, interview_date, interviewer
    calibration: str = "raking"  # raking | poststrat
    country_column: tuple[str, str] | None = None  # (column, value delivered)
    country_codes: dict | None = None
    wave_column: str | None = None
    spss_user_missing: bool = False
    n_range: tuple[int, int] = (1800, 5600)
    max_rejected_share: float | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Country:
    iso3: str
    name: str
    itu_region: str
    regions: tuple[str, ...]
    design: str  # region_x_urban | region
    ui_level: float  # logit of internet use, rural boy aged 13, first wave, before region effects
    ui_female: float  # gender gap in internet use (logit)
    sexual_floor: int
    ocsea_floor: int
    knows_floor: int
    edu_level: float  # shift of the parents' education distribution
    deliveries: tuple[Delivery, Delivery]


# ---------------------------------------------------------------------------------------- national codings
def _labels(lang: str) -> tuple:
    return LANG[lang]


KEN_CODING = Coding(1, 2, 8, 9, None, {"M": 1, "F": 2}, {"U": 1, "R": 2},
                    ((1, "No education", "0"), (2, "Primary", "1"), (3, "Secondary", "3"),
                     (4, "College / TVET", "4"), (5, "University", "6")), 8, 9, ses_missing=9)
GHA_CODING = Coding("Y", "N", "DK", "REF", None, {"M": "M", "F": "F"}, {"U": "urban", "R": "rural"},
                    (("none", "", "0"), ("primary", "", "1"), ("jhs", "", "2"), ("shs", "", "3"),
                     ("tertiary", "", "6")), "DK", -9, ses={q: f"Q{q}" for q in range(1, 6)})
BRA_CODING = Coding("sim", "não", "NS", "NR", None, {"M": "masculino", "F": "feminino"},
                    {"U": "urbana", "R": "rural"},
                    (("fundamental incompleto", "", "1"), ("fundamental completo", "", "2"),
                     ("médio completo", "", "3"), ("superior completo", "", "6")), "NS", 99, lang="pt")
MEX_CODING = Coding(1, 0, -8, -9, -1, {"M": 1, "F": 2}, {"U": 1, "R": 2},
                    ((0, "Ninguno", "0"), (1, "Primaria", "1"), (2, "Secundaria", "2"),
                     (3, "Preparatoria o bachillerato", "3"), (4, "Carrera técnica", "5"),
                     (5, "Licenciatura", "6"), (6, "Posgrado", "7")), -8, -9, ses_missing=-9, lang="es")
EGY_CODING = Coding(1, 2, 98, 99, 96, {"M": 1, "F": 2}, {"U": 1, "R": 2},
                    ((0, "None", "0"), (1, "Primary", "1"), (2, "Preparatory", "2"), (3, "Secondary", "3"),
                     (4, "University or higher", "6")), 98, 99, ses_missing=99)
MAR_CSV_CODING = Coding("oui", "non", "NSP", "NR", None, {"M": "garçon", "F": "fille"},
                        {"U": "urbain", "R": "rural"},
                        (("aucun", "", "0"), ("primaire", "", "1"), ("collège", "", "2"), ("lycée", "", "3"),
                         ("supérieur", "", "6")), "NSP", 99, lang="fr")
MAR_SAV_CODING = Coding(1, 2, 97, 98, 99, {"M": 1, "F": 2}, {"U": 1, "R": 2},
                        ((1, "aucun", "0"), (2, "primaire", "1"), (3, "collège", "2"), (4, "lycée", "3"),
                         (5, "supérieur", "6")), 97, 98, ses_missing=98, lang="fr")
PHL_CODING = Coding(1, 0, 98, 99, None, {"M": 1, "F": 2}, {"U": 1, "R": 2},
                    ((1, "No grade completed", "0"), (2, "Elementary", "1"), (3, "High school", "3"),
                     (4, "Post-secondary", "4"), (5, "College", "6")), 98, 99)
IDN_CODING = Coding(1, 3, 8, 9, None, {"M": 1, "F": 2}, {"U": 1, "R": 2},
                    ((1, "Tidak/belum sekolah", "0"), (2, "SD/sederajat", "1"), (3, "SMP/sederajat", "2"),
                     (4, "SMA/SMK/sederajat", "3"), (5, "Diploma", "5"), (6, "S1/S2/S3", "6")), 8, 9,
                    ses_missing=9, lang="id")
KAZ_CODING = Coding("yes", "no", "dk", "refused", None, {"M": "boy", "F": "girl"}, {"U": "urban", "R": "rural"},
                    (("incomplete secondary", "", "2"), ("general secondary", "", "3"),
                     ("technical and vocational", "", "4"), ("higher", "", "6")), "dk", -9)
UZB_CSV_CODING = Coding(1, 2, -1, -2, None, {"M": "М", "F": "Ж"}, {"U": "город", "R": "село"},
                        ((1, "Неполное среднее", "2"), (2, "Общее среднее", "3"), (3, "Среднее специальное", "4"),
                         (4, "Высшее", "6")), -1, -1, lang="ru")
UZB_DTA_CODING = Coding(1, 2, -1, -2, None, {"M": 1, "F": 2}, {"U": 1, "R": 2}, UZB_CSV_CODING.edu, -1, -1,
                        lang="ru")
POL_CODING = Coding(1, 2, -1, -2, None, {"M": 1, "F": 2}, {"U": 1, "R": 2},
                    ((1, "podstawowe", "1"), (2, "gimnazjalne", "2"), (3, "zasadnicze zawodowe", "3"),
                     (4, "średnie", "3"), (5, "wyższe", "6")), -1, -1, ses_missing=-1, lang="pl")
ITA_CODING = Coding("sì", "no", "non so", "preferisco non rispondere", None, {"M": "maschio", "F": "femmina"},
                    {"U": "urbano", "R": "rurale"},
                    (("licenza elementare", "", "1"), ("licenza media", "", "2"), ("diploma", "", "3"),
                     ("laurea", "", "6"), ("dottorato", "", "8")), "non so", -9)

GHA_NAMES = {
    "sex": "SEX", "age": "AGE_YRS", "uses_internet": "USED_INTERNET_3M", "can_change_privacy_settings": "SKILL_PRIVACY",
    "knows_report_harmful_content": "KNOW_REPORT_CONTENT", "knows_where_help_sexual_abuse": "KNOW_HELP_ABUSE",
    "contact_stranger_online": "CONTACT_NEW_PEOPLE", "met_online_contact_offline": "MET_OFFLINE",
    "shared_personal_info_online_contact": "SENT_PERSONAL_INFO", "sent_sexual_content": "SENT_SEXUAL_MSG",
    **{f"exc_{i}": f"EXC_{i}" for i in range(1, 6)}, "excessive_use_items": "EXC_COUNT",
    "bothered_online": "BOTHERED_12M", "cyberbullied": "HURTFUL_NASTY", "saw_sexual_images": "SAW_SEX_IMAGES",
    "received_sexual_messages": "GOT_SEX_MSG", "personal_data_misused": "DATA_MISUSE",
    "ocsea_grooming": "OCSEA_SEX_TALK", "ocsea_offered_gifts_for_sexual_acts": "OCSEA_GIFTS",
    "ocsea_threatened_blackmailed": "OCSEA_BLACKMAIL", "ocsea_images_shared_without_permission": "OCSEA_IMG_SHARED",
    NEW_ITEM: "SAW_HATE", "told_someone": "TOLD_ANYONE", "told_parent": "TOLD_PARENT", "told_friend": "TOLD_FRIEND",
    "told_teacher": "TOLD_TEACHER", "told_professional": "TOLD_PROF", "reported_police": "REP_POLICE",
    "reported_helpline": "REP_HELPLINE", "reported_platform": "REP_PLATFORM", "coping_blocked": "COPE_BLOCK",
    "coping_deleted": "COPE_DELETE", "coping_changed_settings": "COPE_SETTINGS", "coping_reported": "COPE_REPORT",
    "parent_active_mediation": "PAR_ACTIVE", "parent_restrictive_mediation": "PAR_RULES",
    "technical_mediation": "PAR_CONTROLS", "safety_advice_parent": "ADV_PARENT", "safety_advice_teacher": "ADV_TEACHER",
    "safety_advice_peer": "ADV_PEER", "parent_interviewed": "PARENT_MODULE",
    "parent_worried_online_safety": "PAR_WORRIED",
    "parent_education_level": "PARENT_EDU",
}


def _d(respondent_id, stratum, psu, weight, fpc=None, **classifiers) -> dict:
    names = {"respondent_id": respondent_id, "stratum": stratum, "psu": psu, "weight": weight, **classifiers}
    if fpc:
        names["fpc"] = fpc
    return names


COUNTRIES: tuple[Country, ...] = (
    Country("KEN", "Kenya", "AFR", ("Nairobi-Central", "Coast-North Eastern", "Rift Valley", "Western-Nyanza"),
            "region_x_urban", -0.6, -0.3, 12, 12, 12, -0.3, (
                Delivery(2019, "sav", KEN_CODING, "Q{m}{j:02d}",
                         _d(("HH_ID", "LINE_NO"), "STRATUM", "EA", "WT_FINAL", "N_EA_STRATUM",
                            urbanisation="URBRUR", ses_quintile="WEALTHQ"),
                         fpc=True, respondent_ids="hh_line", extras=("raw_excessive", "interview_date")),
                Delivery(2023, "sav", KEN_CODING, "Q{m}{j:02d}",
                         _d(("HH_ID", "LINE_NO"), "STRATUM", "EA", "WT_FINAL", "N_EA_STRATUM",
                            urbanisation="URBRUR", ses_quintile="WEALTHQ"),
                         fpc=True, respondent_ids="hh_line", revision=True, spss_user_missing=True,
                         extras=("raw_excessive", "interview_date"),
                         notes=("8 and 9 are declared SPSS user-missing values in this file: pyreadstat reads "
                                "them as system missing unless user_missing=True",
                                "wave revision: Q604 (saw hate messages) is new and not harmonised; later "
                                "module-6 items moved up one number")))),
    Country("GHA", "Ghana", "AFR", ("Southern", "Middle", "Northern"), "region_x_urban", -0.4, -0.35, 12, 12, 9,
            -0.2, (
                Delivery(2018, "csv", GHA_CODING, GHA_NAMES,
                         _d("RESP_ID", "STRATUM", "CLUSTER", "WEIGHT", urbanisation="LOCALITY",
                            ses_quintile="SES_QUINTILE"),
                         csv=("utf-8", ","), stratum_ids="name", respondent_ids="str:GH18-", calibration="poststrat",
                         extras=("interview_date",), n_range=(1700, 3400)),
                Delivery(2022, "parquet", GHA_CODING, GHA_NAMES,
                         _d("RESP_ID", "STRATUM", "CLUSTER", "WEIGHT", urbanisation="LOCALITY",
                            ses_quintile="SES_QUINTILE"),
                         stratum_ids="name", respondent_ids="str:GH22-", calibration="poststrat")),
    ),
    Country("BRA", "Brazil", "AMS", ("Norte", "Nordeste", "Sudeste", "Sul", "Centro-Oeste"), "region", 1.2, 0.05,
            11, 9, 9, 0.1, (
                Delivery(2019, "csv", BRA_CODING, "p{m}_{j}",
                         _d("quest", "estrato", "setor", "peso", sex="sexo", age="idade", urbanisation="area",
                            ses_quintile="quintil_renda", parent_education_level="escolaridade_resp"),
                         csv=("latin-1", ";"), stratum_ids="name", n_range=(1700, 3400)),
                Delivery(2023, "csv", BRA_CODING, "p{m}_{j}",
                         _d("quest", "estrato", "setor", "peso", sex="sexo", age="idade", urbanisation="area",
                            ses_quintile="quintil_renda", parent_education_level="escolaridade_resp"),
                         csv=("latin-1", ";"), stratum_ids="name", revision=True, wave_column="ano",
                         n_range=(1700, 3400),
                         notes=("wave revision: p6_4 (viu mensagens de ódio) is new and not harmonised; later "
                                "module-6 items moved up one number",)),
            )),
    Country("MEX", "Mexico", "AMS", ("Noroeste", "Noreste", "Occidente", "Centro", "Sur-Sureste"),
            "region_x_urban", 1.0, 0.0, 12, 12, 9, 0.2, (
                Delivery(2017, "dta", MEX_CODING, "p{m}_{j:02d}",
                         _d("folio", "est_dis", "upm", "factor", sex="sexo", age="edad", urbanisation="ambito",
                            ses_quintile="quintil", parent_education_level="niv_ed_padre"),
                         psu_ids="within", calibration="poststrat", extras=("raw_excessive", "interviewer"),
                         notes=("upm is numbered within est_dis: a PSU is (est_dis, upm)",)),
                Delivery(2021, "dta", MEX_CODING, "p{m}_{j:02d}",
                         _d("folio", "est_dis", "upm", "factor", "n_upm", sex="sexo", age="edad",
                            urbanisation="ambito", ses_quintile="quintil", parent_education_level="niv_ed_padre"),
                         fpc=True, psu_ids="within", calibration="poststrat", extras=("interviewer",),
                         notes=("upm is numbered within est_dis: a PSU is (est_dis, upm)",)),
            )),
    Country("EGY", "Egypt", "ARB", ("Metropolitan", "Lower Egypt", "Upper Egypt"), "region_x_urban", 0.6, -0.25,
            12, 12, 12, 0.0, (
                Delivery(2019, "parquet", EGY_CODING, "c{m}{j:02d}",
                         _d("child_key", "strata", "cluster", "wt_child", sex="child_sex", age="child_age",
                            urbanisation="hh_urban", ses_quintile="wealth_q", parent_education_level="parent_educ"),
                         respondent_ids="str:EG19-"),
                Delivery(2023, "parquet", EGY_CODING, "c{m}{j:02d}",
                         _d("child_key", "strata", "cluster", "wt_child", "fpc_clusters", sex="child_sex",
                            age="child_age", urbanisation="hh_urban", ses_quintile="wealth_q",
                            parent_education_level="parent_educ"),
                         fpc=True, respondent_ids="str:EG23-", extras=("interview_date",)),
            )),
    Country("MAR", "Morocco", "ARB", ("Nord", "Centre", "Oriental", "Sud"), "region_x_urban", 0.9, -0.15,
            12, 12, 12, -0.1, (
                Delivery(2018, "csv", MAR_CSV_CODING, "Q{m}_{j}",
                         _d("id_enfant", "strate", "district", "poids", sex="sexe", age="age_enfant",
                            urbanisation="milieu", ses_quintile="quintile_niveau_vie",
                            parent_education_level="instruction_parent"),
                         csv=("utf-8", ";"), calibration="poststrat", n_range=(1700, 3400)),
                Delivery(2022, "sav", MAR_SAV_CODING, "Q{m}_{j}",
                         _d("id_enfant", "strate", "district", "poids", sex="sexe", age="age_enfant",
                            urbanisation="milieu", ses_quintile="quintile_niveau_vie",
                            parent_education_level="instruction_parent"),
                         calibration="poststrat", extras=("raw_excessive",)),
            )),
    Country("PHL", "Philippines", "ASP", ("NCR", "Luzon", "Visayas", "Mindanao"), "region_x_urban", 0.9, 0.1,
            12, 12, 12, 0.1, (
                Delivery(2020, "sav", PHL_CODING, "{L}{j}",
                         _d("RESPONDENT_ID", "STRATUM", "BARANGAY", "WEIGHT_CALIB", "FPC_BRGY", sex="SEX",
                            age="AGE_CHILD", urbanisation="URBAN", ses_quintile="SES_QUINTILE",
                            parent_education_level="PARENT_EDUC"),
                         fpc=True, extras=("interviewer",)),
                Delivery(2024, "sav", PHL_CODING, "{L}{j}",
                         _d("RESPONDENT_ID", "STRATUM", "BARANGAY", "WEIGHT_CALIB", "FPC_BRGY", sex="SEX",
                            age="AGE_CHILD", urbanisation="URBAN", ses_quintile="SES_QUINTILE",
                            parent_education_level="PARENT_EDUC"),
                         fpc=True, revision=True, extras=("interviewer",), max_rejected_share=0.02,
                         notes=("wave revision: F4 (saw hate messages) is new and not harmonised; later module-F "
                                "items moved up one number",)),
            )),
    Country("IDN", "Indonesia", "ASP", ("Sumatera", "Jawa-Bali", "Kalimantan-Sulawesi", "Nusa Tenggara-Maluku-Papua"),
            "region_x_urban", 0.5, 0.0, 11, 12, 9, -0.1, (
                Delivery(2019, "dta", IDN_CODING, "R{m}{j:02d}",
                         _d("URUT", "STRATA", "NKS", "FWT", urbanisation="KLASIFIKASI", ses_quintile="KUINTIL",
                            parent_education_level="PDDK_ORTU"),
                         calibration="poststrat", extras=("raw_excessive",),
                         notes=("yes/no is 1 = ya, 3 = tidak; 8/9 are missing codes, so missing codes are given "
                                "per variable (9 is a valid age)",)),
                Delivery(2023, "parquet", IDN_CODING, "R{m}{j:02d}",
                         _d("URUT", "STRATA", "NKS", "FWT", urbanisation="KLASIFIKASI", ses_quintile="KUINTIL",
                            parent_education_level="PDDK_ORTU"),
                         calibration="poststrat", wave_column="TAHUN",
                         notes=("yes/no is 1 = ya, 3 = tidak; 8/9 are missing codes, so missing codes are given "
                                "per variable (9 is a valid age)",)),
            )),
    Country("KAZ", "Kazakhstan", "CIS", ("North", "South"), "region_x_urban", 1.9, 0.0, 12, 12, 12, 0.6, (
        Delivery(2019, "parquet", KAZ_CODING, "q{m}_{j:02d}",
                 _d("anketa_id", "strata", "psu", "w_final", "n_psu", sex="pol", age="vozrast",
                    urbanisation="tip_nas_punkta", ses_quintile="ses_kvintil",
                    parent_education_level="obraz_roditelya"),
                 fpc=True, stratum_ids="name", country_column=("CNT", "KZ"), country_codes={"KZ": "KAZ"},
                 wave_column="YEAR"),
        Delivery(2023, "parquet", KAZ_CODING, "q{m}_{j:02d}",
                 _d("anketa_id", "strata", "psu", "w_final", "n_psu", sex="pol", age="vozrast",
                    urbanisation="tip_nas_punkta", ses_quintile="ses_kvintil",
                    parent_education_level="obraz_roditelya"),
                 fpc=True, stratum_ids="name", country_column=("CNT", "KZ"), country_codes={"KZ": "KAZ"},
                 wave_column="YEAR", extras=("interview_date",)),
    )),
    Country("UZB", "Uzbekistan", "CIS", ("Tashkent", "Fergana Valley", "Central", "South-West"), "region", 0.3, -0.2,
            12, 12, 12, 0.3, (
                Delivery(2019, "csv", UZB_CSV_CODING, "V{n:03d}",
                         _d("ID", "STRATA", "MAHALLA", "VES", urbanisation="TIP", ses_quintile="KVINTIL"),
                         csv=("utf-16", "\t"), psu_ids="within", calibration="poststrat", n_range=(1700, 3400),
                         notes=("UTF-16 tab-separated text (spreadsheet 'Unicode text' export); sex and "
                                "settlement type are Cyrillic words/letters (М = Cyrillic Em, not Latin M)",
                                "MAHALLA is numbered within STRATA: a PSU is (STRATA, MAHALLA)")),
                Delivery(2023, "dta", UZB_DTA_CODING, "V{n:03d}",
                         _d("ID", "STRATA", "MAHALLA", "VES", urbanisation="TIP", ses_quintile="KVINTIL"),
                         psu_ids="within", calibration="poststrat", extras=("interviewer",),
                         notes=("MAHALLA is numbered within STRATA: a PSU is (STRATA, MAHALLA)",)),
            )),
    Country("POL", "Poland", "EUR", ("Centralny-Wschodni", "Południowy", "Północno-Zachodni"), "region_x_urban",
            2.6, 0.0, 11, 12, 9, 0.8, (
                Delivery(2019, "sav", POL_CODING, "P{m}_{j}",
                         _d("id_resp", "warstwa", "psu", "waga", "fpc", sex="plec", age="wiek", urbanisation="klm",
                            ses_quintile="kwintyl", parent_education_level="wyksztalcenie_rodzica"),
                         fpc=True, extras=("raw_excessive",)),
                Delivery(2023, "dta", POL_CODING, "P{m}_{j}",
                         _d("id_resp", "warstwa", "psu", "waga", sex="plec", age="wiek", urbanisation="klm",
                            ses_quintile="kwintyl", parent_education_level="wyksztalcenie_rodzica"),
                         extras=("interview_date",)),
            )),
    Country("ITA", "Italy", "EUR", ("Nord-Ovest", "Nord-Est", "Centro", "Sud", "Isole"), "region", 2.4, 0.0,
            11, 12, 9, 0.7, (
                Delivery(2019, "parquet", ITA_CODING, "d{m}{j:02d}",
                         _d("id", "strato", "psu_id", "peso_finale", sex="sesso", age="eta",
                            urbanisation="tipo_comune", ses_quintile="quintile_ses",
                            parent_education_level="titolo_studio_genitore"),
                         psu_ids="within", stratum_ids="name", respondent_ids="str:IT19_",
                         calibration="poststrat", country_column=("paese", "ITA")),
                Delivery(2023, "parquet", ITA_CODING, "d{m}{j:02d}",
                         _d("id", "strato", "psu_id", "peso_finale", "n_psu_strato", sex="sesso", age="eta",
                            urbanisation="tipo_comune", ses_quintile="quintile_ses",
                            parent_education_level="titolo_studio_genitore"),
                         fpc=True, psu_ids="within", stratum_ids="name", respondent_ids="str:IT23_",
                         calibration="poststrat", country_column=("paese", "ITA"), wave_column="anno"),
            )),
)


def source_id(country: Country, delivery: Delivery) -> str:
    return f"{country.iso3.lower()}_{delivery.wave}"


def data_file_name(country: Country, delivery: Delivery) -> str:
    return f"{source_id(country, delivery)}.{delivery.fmt}"


def spec_file_name(country: Country, delivery: Delivery) -> str:
    return f"child_survey_{source_id(country, delivery)}.yaml"


# ----------------------------------------------------------------------------------------------- structure
@dataclass
class CountryStructure:
    """Country-level parameters shared by both waves (drawn from the country's own random stream)."""

    region_share: np.ndarray
    urban_share: np.ndarray  # per region, first wave
    ea_mean: dict  # urbanisation (1 urban, 0 rural) -> mean EA size (children 9-17)
    pop_target: tuple[float, float]
    male_share: float
    age_slope: float
    item_shift: dict  # item -> (wave 1 shift, wave 2 shift)
    region_effect: dict  # item -> array over regions
    ses_region: np.ndarray
    edu_cuts: np.ndarray


def _country_structure(seed: int, ci: int, country: Country) -> CountryStructure:
    rng = np.random.default_rng([seed, ci, 0])
    n_regions = len(country.regions)
    region_share = rng.dirichlet(np.full(n_regions, 4.0))
    urban_share = np.clip(rng.uniform(0.3, 0.8, n_regions) + 0.1 * (country.ui_level - 1.0) / 2, 0.15, 0.9)
    ea_mean = {1: float(rng.uniform(120, 220)), 0: float(rng.uniform(60, 120))}
    pop1 = float(np.exp(rng.uniform(np.log(2.3e6), np.log(12.5e6))))
    pop2 = pop1 * float(rng.uniform(0.96, 1.08))
    risk = float(rng.normal(0.0, 0.25))  # country-wide shift of the negative experiences and risky behaviour
    risky = set(NEGATIVE_ITEMS) | {"bothered_online", "contact_stranger_online", "met_online_contact_offline",
                                   "shared_personal_info_online_contact", "sent_sexual_content", NEW_ITEM}
    item_shift, region_effect = {}, {}
    for item in ITEM_ORDER:
        if item == "uses_internet":
            first = country.ui_level
            second = first + float(rng.uniform(0.4, 0.9))
            region_effect[item] = rng.normal(0.0, 0.35, n_regions)
        else:
            first = float(rng.normal(0.0, 0.3)) + (risk if item in risky else 0.0)
            second = first + float(rng.normal(0.08, 0.15))
            region_effect[item] = rng.normal(0.0, 0.12, n_regions)
        item_shift[item] = (first, second)
    ses_region = rng.normal(0.0, 0.4, n_regions)
    n_edu = len(country.deliveries[0].coding.edu)
    edu_cuts = np.linspace(-2.2, 2.2, n_edu - 1) * 1.1 + country.edu_level * 1.5 * -1 + rng.normal(0, 0.2)
    return CountryStructure(region_share, urban_share, ea_mean, (pop1, pop2), float(rng.uniform(0.505, 0.516)),
                            float(rng.uniform(-0.01, 0.03)), item_shift, region_effect, ses_region,
                            np.sort(edu_cuts))


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def _eta(item: str, st: CountryStructure, country: Country, wave_index: int,
         region, urban, female, age, u, z):
    """Linear predictor of one item (numpy broadcasting over children or over cells x quadrature nodes)."""
    m = ITEM_MODEL[item]
    female_effect = m.female + (country.ui_female if item == "uses_internet" else 0.0)
    return (m.a + st.item_shift[item][wave_index] + st.region_effect[item][region] + female_effect * female
            + m.age * (age - 13) + m.urban * urban + m.psu * u + m.child * z)


def _age_floor(item: str, country: Country) -> int:
    routing = ITEM_MODEL[item].routing
    return {"sexual": country.sexual_floor, "ocsea": country.ocsea_floor,
            "knows": country.knows_floor}.get(routing, 9)


# ---------------------------------------------------------------------------------------------- simulation
@dataclass
class Source:
    """One simulated country-wave: the sample (item states, design) and what truth needs."""

    country: Country
    delivery: Delivery
    wave_index: int
    structure: CountryStructure
    cells: pd.DataFrame  # region, urban, female, age, N (population count)
    sample: pd.DataFrame  # one row per child: design, classifiers, latent helpers
    states: dict  # item -> int8 array of YES/NO/NOT_ASKED/DK/REF
    raw_excessive: dict  # exc_i -> frequency code 1-4 or a state (negative) for not asked / missing
    summary: dict = field(default_factory=dict)

    @property
    def source_id(self) -> str:
        return source_id(self.country, self.delivery)


def _systematic_pps(rng, mos: np.ndarray, n: int) -> np.ndarray:
    """Indices selected by systematic PPS (the list is in its given order)."""
    cum = np.cumsum(mos, dtype=float)
    interval = cum[-1] / n
    points = rng.uniform(0, interval) + interval * np.arange(n)
    return np.searchsorted(cum, points, side="right")


def _calibrate(weights: np.ndarray, groups: list[tuple[np.ndarray, dict]]) -> np.ndarray:
    """Post-stratification (one margin) or raking (several margins, the first one last) to population totals."""
    w = weights.astype(float).copy()
    order = groups[1:] + groups[:1]  # end on the first margin (sex x age group): exact there
    for _ in range(200):
        for codes, totals in order:
            sums = pd.Series(w).groupby(codes).sum()
            w *= pd.Series(codes).map({c: totals[c] / sums[c] for c in sums.index}).to_numpy()
        if len(groups) == 1:
            break
        worst = 0.0
        for codes, totals in groups:
            sums = pd.Series(w).groupby(codes).sum()
            worst = max(worst, max(abs(sums[c] / totals[c] - 1) for c in sums.index))
        if worst < 1e-12:
            break
    return w


def simulate_source(seed: int, ci: int, wave_index: int) -> Source:
    country = COUNTRIES[ci]
    delivery = country.deliveries[wave_index]
    st = _country_structure(seed, ci, country)
    rng = np.random.default_rng([seed, ci, wave_index + 1])
    n_regions = len(country.regions)

    # --- frame: EAs by region and urbanisation, current sizes and outdated MOS -----------------------------
    urban_share = np.clip(st.urban_share + 0.025 * wave_index, 0.05, 0.95)
    frames = []
    for r in range(n_regions):
        for urban in (1, 0):
            target = st.pop_target[wave_index] * st.region_share[r] * (urban_share[r] if urban else 1 - urban_share[r])
            mean = st.ea_mean[urban]
            n_ea = max(int(round(target / mean)), 80)
            size = np.maximum(np.rint(mean * rng.lognormal(-0.06, 0.35, n_ea)), 25).astype(np.int64)
            mos = np.maximum(np.rint(size * rng.lognormal(0.0, 0.2, n_ea)), 10).astype(np.int64)
            frames.append(pd.DataFrame({"region": r, "urban": urban, "size": size, "mos": mos}))
    frame = pd.concat(frames, ignore_index=True)
    if country.design == "region_x_urban":
        frame["stratum"] = frame["region"] * 2 + (1 - frame["urban"])
    else:
        frame["stratum"] = frame["region"]
    n_strata = int(frame["stratum"].nunique())
    assert 4 <= n_strata <= 10, (country.iso3, n_strata)

    # --- population by cell: multinomial split of each (region, urbanisation) by sex and age ----------------
    age_w = np.exp(-st.age_slope * (AGES - 9))
    p_sa = np.concatenate([st.male_share * age_w, (1 - st.male_share) * age_w]) / age_w.sum()
    cell_rows = []
    cell_counts = {}
    for (r, urban), sizes in frame.groupby(["region", "urban"])["size"]:
        counts = rng.multinomial(int(sizes.sum()), p_sa)
        cell_counts[(r, urban)] = counts
        for k, count in enumerate(counts):
            cell_rows.append((r, urban, int(k >= len(AGES)), int(AGES[k % len(AGES)]), int(count)))
    cells = pd.DataFrame(cell_rows, columns=["region", "urban", "female", "age", "N"])

    # --- sample: allocation, PPS selection of EAs, SRS of children ------------------------------------------
    take = int(rng.integers(12, 23))
    unit_nr = float(rng.uniform(0.03, 0.12))
    n_target = float(rng.uniform(*delivery.n_range))
    stratum_size = frame.groupby("stratum")["size"].sum().sort_index()
    ea_count = frame.groupby("stratum").size().sort_index().to_numpy()
    room = np.minimum(40, ea_count // 5)  # at most 40 EAs, and PPS probabilities well below 1
    assert (room >= 8).all()
    take = max(take, int(np.ceil(delivery.n_range[0] / (room.sum() * (1 - unit_nr) * 0.95))))
    assert take <= 25
    n_target = min(n_target, 0.95 * room.sum() * take * (1 - unit_nr))
    total_psu = int(np.ceil(n_target / (take * (1 - unit_nr))))
    share = np.sqrt(stratum_size.to_numpy()) * rng.uniform(0.85, 1.15, n_strata)  # oversamples small strata
    ideal = total_psu * share / share.sum()
    alloc = np.clip(np.rint(ideal), 8, room).astype(int)
    while alloc.sum() < total_psu:
        k = int(np.argmax(np.where(alloc < room, ideal - alloc, -np.inf)))
        alloc[k] += 1
    while alloc.sum() > total_psu:
        k = int(np.argmax(np.where(alloc > 8, alloc - ideal, -np.inf)))
        alloc[k] -= 1
    selected = []
    for h, n_h in zip(stratum_size.index, alloc):
        eas = frame[frame["stratum"] == h]
        order = np.lexsort((rng.random(len(eas)), -eas["urban"].to_numpy()))  # implicit stratification
        eas = eas.iloc[order]
        idx = _systematic_pps(rng, eas["mos"].to_numpy(), int(n_h))
        pi = n_h * eas["mos"].to_numpy()[idx] / eas["mos"].sum()
        assert pi.max() < 1 and len(set(idx)) == n_h
        chosen = eas.iloc[idx].copy()
        chosen["pi"] = pi
        chosen["fpc"] = len(eas)
        chosen["ea_seq"] = np.arange(1, n_h + 1)
        selected.append(chosen)
    psus = pd.concat(selected, ignore_index=True)
    psus["m"] = np.maximum(take - rng.binomial(take, unit_nr, len(psus)), 10)
    psus["u"] = rng.standard_normal(len(psus))
    child_psu = np.repeat(np.arange(len(psus)), psus["m"].to_numpy())
    n = len(child_psu)
    sample = psus.iloc[child_psu].reset_index(drop=True)
    cumulative = {key: np.cumsum(c) / c.sum() for key, c in cell_counts.items()}
    draws = rng.random(n)
    cell_k = np.empty(n, dtype=np.int64)
    for key, cum in cumulative.items():
        mask = (sample["region"].to_numpy() == key[0]) & (sample["urban"].to_numpy() == key[1])
        cell_k[mask] = np.minimum(np.searchsorted(cum, draws[mask], side="right"), len(cum) - 1)
    sample["female"] = (cell_k >= len(AGES)).astype(int)
    sample["age"] = AGES[cell_k % len(AGES)]
    sample["z"] = rng.standard_normal(n)
    sample["base_weight"] = sample["size"] / (sample["m"] * sample["pi"])

    # --- answers ----------------------------------------------------------------------------------------------
    latent = {}
    args = (sample["region"].to_numpy(), sample["urban"].to_numpy(), sample["female"].to_numpy(),
            sample["age"].to_numpy(), sample["u"].to_numpy(), sample["z"].to_numpy())
    for item in ITEM_ORDER:
        p = _expit(_eta(item, st, country, wave_index, *args))
        latent[item] = rng.random(n) < p
    item_nr = float(rng.uniform(0.01, 0.03))
    age = sample["age"].to_numpy()
    user = latent["uses_internet"]

    def observe(values: np.ndarray, asked: np.ndarray) -> np.ndarray:
        state = np.where(values, YES, NO).astype(np.int8)
        missing = asked & (rng.random(n) < item_nr)
        kind = np.where(rng.random(n) < 0.7, DK, REF).astype(np.int8)
        state = np.where(missing, kind, state)
        return np.where(asked, state, NOT_ASKED).astype(np.int8)

    states: dict[str, np.ndarray] = {}
    states["uses_internet"] = np.where(user, YES, NO).astype(np.int8)
    for item in ITEM_ORDER:
        routing = ITEM_MODEL[item].routing
        if routing in ("user", "sexual", "ocsea", "knows"):
            states[item] = observe(latent[item], user & (age >= _age_floor(item, country)))
    negatives = np.column_stack([states[k] for k in NEGATIVE_ITEMS])
    victim = user & (negatives == YES).any(axis=1)
    for item in ITEM_ORDER:
        if ITEM_MODEL[item].routing == "victim":
            states[item] = observe(latent[item], victim)
    told = states["told_someone"]
    for item in CONFIDANTS:
        answered = observe(latent[item], told == YES)  # multi-select 'whom did you tell', asked if told
        states[item] = np.select([told == YES, told == NO], [answered, NO], default=told).astype(np.int8)
    interviewed = latent["parent_interviewed"]
    states["parent_interviewed"] = np.where(interviewed, YES, NO).astype(np.int8)
    states["parent_worried_online_safety"] = observe(latent["parent_worried_online_safety"], interviewed)
    # excessive use: five raw items on a 4-point scale, count of 'fairly/very often' (null if one unanswered)
    raw_excessive = {}
    exc_states = []
    for item in EXCESSIVE_RAW:
        s = states[item]
        freq = np.where(latent[item], rng.integers(3, 5, n), rng.integers(1, 3, n))
        raw_excessive[item] = np.where(s >= 0, freq, s).astype(np.int8)
        exc_states.append(s)
    exc_states = np.column_stack(exc_states)
    count = (exc_states == YES).sum(axis=1)
    complete = (exc_states >= 0).all(axis=1)
    sample["excessive_count"] = np.where(user & complete, count, np.where(user, DK, NOT_ASKED))

    # --- weights: calibration to the population by sex x age group (and urbanisation) ----------------------
    band = np.select([age <= 11, age <= 14], [0, 1], 2)
    sex_band = sample["female"].to_numpy() * 3 + band
    cells["band"] = np.select([cells["age"] <= 11, cells["age"] <= 14], [0, 1], 2)
    totals_a = (cells.assign(g=cells["female"] * 3 + cells["band"]).groupby("g")["N"].sum()).to_dict()
    margins = [(sex_band, totals_a)]
    if delivery.calibration == "raking":
        margins.append((sample["urban"].to_numpy(), cells.groupby("urban")["N"].sum().to_dict()))
    sample["weight"] = _calibrate(sample["base_weight"].to_numpy(), margins)

    # --- SES quintiles (weighted, within the wave) and the parent's education --------------------------------
    ses_latent = (0.8 * sample["urban"].to_numpy() + st.ses_region[sample["region"].to_numpy()]
                  + 0.5 * sample["u"].to_numpy() + rng.standard_normal(n))
    order = np.argsort(ses_latent, kind="stable")
    cum_w = np.cumsum(sample["weight"].to_numpy()[order]) / sample["weight"].sum()
    quintile = np.empty(n, dtype=np.int8)
    quintile[order] = np.clip(np.ceil(cum_w * 5 - 1e-12), 1, 5).astype(np.int8)
    ses_missing = (rng.random(n) < 0.005) if delivery.coding.ses_missing is not None else np.zeros(n, bool)
    sample["ses_quintile"] = np.where(ses_missing, DK, quintile)
    edu_latent = 0.8 * (ses_latent - ses_latent.mean()) + rng.logistic(size=n)
    edu_cat = np.searchsorted(st.edu_cuts, edu_latent)
    edu_missing = rng.random(n) < item_nr
    sample["edu_cat"] = np.where(~interviewed, NOT_ASKED, np.where(edu_missing, DK, edu_cat))

    # --- delivery extras (drawn for every file so the random stream does not depend on the format) -----------
    sample["interview_day"] = rng.integers(0, 120, n)
    sample["interviewer"] = rng.integers(101, 101 + max(8, len(psus) // 6), n)
    sample["line_no"] = rng.integers(3, 10, n)
    sample["resp_order"] = rng.permutation(n)

    src = Source(country, delivery, wave_index, st, cells, sample, states, raw_excessive)
    w = sample["weight"].to_numpy()
    src.summary = {
        "source_id": src.source_id, "country": country.iso3, "itu_region": country.itu_region,
        "wave": delivery.wave, "format": delivery.fmt, "n": n, "strata": n_strata, "psus": len(psus),
        "psus_per_stratum": f"{int(alloc.min())}-{int(alloc.max())}", "take": take,
        "children_per_psu": f"{int(psus['m'].min())}-{int(psus['m'].max())}",
        "population_9_17": int(cells["N"].sum()), "weight_sum": float(w.sum()),
        "weight_min": float(w.min()), "weight_max": float(w.max()),
        "base_weight_cv": float(sample["base_weight"].std() / sample["base_weight"].mean()),
        "calibration": delivery.calibration, "fpc": delivery.fpc, "item_nonresponse": round(item_nr, 4),
    }
    return src


# ------------------------------------------------------------------------------------------------- truth
_TOKEN = re.compile(r"\s*(>=|<=|<>|!=|=|<|>|\(|\)|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?)")
_KEYWORDS = {"AND", "OR", "NOT", "BETWEEN", "CAST", "AS", "INTEGER"}


class UnsupportedExpression(ValueError):
    pass


def _tokens(text: str) -> list[str]:
    text = " ".join(str(text).split())
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise UnsupportedExpression(f"cannot tokenise {text!r} at {pos}")
        out.append(match.group(1))
        pos = match.end()
    return out


def parse_expression(text: str):
    """Parse the subset of SQL used by registry expressions into a small tree of tuples."""
    tokens = _tokens(text)
    pos = 0

    def peek():
        return tokens[pos].upper() if pos < len(tokens) else None

    def take(expected=None):
        nonlocal pos
        token = tokens[pos]
        if expected and token.upper() != expected:
            raise UnsupportedExpression(f"expected {expected} in {text!r}")
        pos += 1
        return token

    def or_expr():
        parts = [and_expr()]
        while peek() == "OR":
            take()
            parts.append(and_expr())
        return parts[0] if len(parts) == 1 else ("or", tuple(parts))

    def and_expr():
        parts = [not_expr()]
        while peek() == "AND":
            take()
            parts.append(not_expr())
        return parts[0] if len(parts) == 1 else ("and", tuple(parts))

    def not_expr():
        if peek() == "NOT":
            take()
            return ("not", not_expr())
        return primary()

    def primary():
        if peek() == "(":
            take()
            inner = or_expr()
            take(")")
            return inner
        if peek() == "CAST":
            take()
            take("(")
            inner = or_expr()
            take("AS")
            take("INTEGER")
            take(")")
            return inner
        name = take()
        if name.upper() in _KEYWORDS or not re.match(r"[A-Za-z_]", name):
            raise UnsupportedExpression(f"unexpected {name!r} in {text!r}")
        if peek() == "BETWEEN":
            take()
            lo = float(take())
            take("AND")
            hi = float(take())
            return ("between", name, lo, hi)
        if peek() in (">=", ">", "<=", "<", "="):
            op = take()
            return ("cmp", name, op, float(take()))
        return ("atom", name)

    tree = or_expr()
    if pos != len(tokens):
        raise UnsupportedExpression(f"trailing tokens in {text!r}")
    return tree


def _factors(tree) -> list[tuple]:
    """A conjunction of independent factors: atom, or (any of items), nor (none of items), age, count_ge."""
    if tree is None:
        return []
    if tree[0] == "and":
        return [f for part in tree[1] for f in _factors(part)]
    if tree[0] == "atom":
        return [("atom", tree[1])]
    if tree[0] == "or" and all(p[0] == "atom" for p in tree[1]):
        return [("or", tuple(p[1] for p in tree[1]))]
    if tree[0] == "not" and tree[1][0] == "or" and all(p[0] == "atom" for p in tree[1][1]):
        return [("nor", tuple(p[1] for p in tree[1][1]))]
    if tree[0] == "not" and tree[1][0] == "atom":
        return [("nor", (tree[1][1],))]
    if tree[0] == "between" and tree[1] == "age":
        return [("age", tree[2], tree[3])]
    if tree[0] == "cmp" and tree[1] == "excessive_use_items" and tree[2] in (">=", ">"):
        k = int(tree[3]) + (1 if tree[2] == ">" else 0)
        return [("count_ge", k)]
    raise UnsupportedExpression(f"not a conjunction of independent factors: {tree!r}")


class TruthModel:
    """Exact (quadrature) expectations of factor products for one source's population cells."""

    def __init__(self, src: Source):
        self.src = src
        c = src.cells
        self.cells = c
        x, wx = np.polynomial.hermite.hermgauss(GH_NODES)
        u, z = np.meshgrid(np.sqrt(2) * x, np.sqrt(2) * x, indexing="ij")
        self.u, self.z = u.ravel(), z.ravel()
        self.node_w = np.outer(wx, wx).ravel() / np.pi
        self.age = c["age"].to_numpy()
        self._p: dict[str, np.ndarray] = {}

    def p(self, item: str) -> np.ndarray:
        """P(item latent yes | cell, node): shape (cells, nodes); conditional on `given` for follow-ups."""
        if item not in self._p:
            c = self.cells
            eta = _eta(item, self.src.structure, self.src.country, self.src.wave_index,
                       c["region"].to_numpy()[:, None], c["urban"].to_numpy()[:, None],
                       c["female"].to_numpy()[:, None], c["age"].to_numpy()[:, None],
                       self.u[None, :], self.z[None, :])
            self._p[item] = _expit(eta)
        return self._p[item]

    def asked(self, item: str) -> np.ndarray:
        return (self.age >= _age_floor(item, self.src.country))[:, None]

    def expectation(self, factors: list[tuple]) -> np.ndarray:
        """E[product of factors | cell] for every cell (a vector over cells)."""
        atoms = {f[1] for f in factors if f[0] == "atom"}
        used: set[str] = set()
        prob = np.ones((len(self.cells), len(self.node_w)))
        mask = np.ones(len(self.cells), dtype=bool)
        for f in dict.fromkeys(factors):  # identical factors once
            kind = f[0]
            if kind == "age":
                mask &= (self.age >= f[1]) & (self.age <= f[2])
                continue
            if kind == "atom":
                item = f[1]
                if item not in ITEM_MODEL:
                    raise UnsupportedExpression(f"no model for {item!r}")
                given = ITEM_MODEL[item].given
                items = {item}
                value = self.p(item)
                if given and given not in atoms:
                    value = value * self.p(given)
                    items.add(given)
                value = np.where(self.asked(item), value, np.nan)  # not asked: the row's value is null
            elif kind in ("or", "nor"):
                items = set(f[1])
                for item in items:
                    if item not in ITEM_MODEL or ITEM_MODEL[item].given:
                        raise UnsupportedExpression(f"{item!r} in an OR")
                none = np.ones_like(prob)
                for item in f[1]:
                    none = none * (1 - np.where(self.asked(item), self.p(item), 0.0))
                if kind == "nor":
                    undefined = np.zeros(len(self.cells), dtype=bool)
                    for item in f[1]:
                        undefined |= ~self.asked(item)[:, 0]
                    value = np.where(undefined[:, None], np.nan, none)
                else:
                    value = 1 - none
            elif kind == "count_ge":
                items = set(EXCESSIVE_RAW)
                ps = [self.p(i) for i in EXCESSIVE_RAW]
                dist = [np.ones_like(prob)] + [np.zeros_like(prob) for _ in ps]  # Poisson-binomial
                for p in ps:
                    dist = [d * (1 - p) + (dist[j - 1] * p if j else 0) for j, d in enumerate(dist)]
                value = sum(dist[f[1]:])
            else:
                raise UnsupportedExpression(str(f))
            if items & used:
                raise UnsupportedExpression(f"factors share items {items & used}: not independent")
            used |= items
            prob = prob * value
        expect = (prob * self.node_w[None, :]).sum(axis=1)
        expect = np.where(mask, expect, 0.0)
        if np.isnan(expect).any():
            raise UnsupportedExpression("an item of the expression is not asked of part of the universe")
        return expect


def _domain_masks(cells: pd.DataFrame, domains: list[str]) -> dict[str, np.ndarray]:
    out = {}
    for domain in domains:
        if domain == "_T":
            out[domain] = np.ones(len(cells), dtype=bool)
        elif domain.startswith("sex="):
            out[domain] = (cells["female"] == (1 if domain.endswith("F") else 0)).to_numpy()
        elif domain.startswith("age_band="):
            lo, hi = AGE_BANDS[domain.split("=")[1]]
            out[domain] = cells["age"].between(lo, hi).to_numpy()
        elif domain.startswith("urbanisation="):
            out[domain] = (cells["urban"] == (1 if domain.endswith("U") else 0)).to_numpy()
    return out


def _domains_for(disaggregations) -> list[str]:
    domains = ["_T"]
    if "sex" in disaggregations:
        domains += ["sex=F", "sex=M"]
    if "age_band" in disaggregations:
        domains += [f"age_band={b}" for b in AGE_BANDS]
    if "urbanisation" in disaggregations:
        domains += ["urbanisation=U", "urbanisation=R"]
    return domains


def load_child_indicators(registry_dir: Path = REGISTRY_DIR) -> list[dict]:
    """The registry's child_survey indicators, in file and entry order. Quantiles (time online, BC.13-15) are left
    out: the sample surveys do not ask the time spent online, so those entries have no value in a sample build."""
    out = []
    for path in sorted(Path(registry_dir).glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for entry in doc.get("indicators", []):
            if entry.get("source") == "child_survey" and entry.get("method") != "quantile":
                out.append(entry)
    return out


def truth_rows(src: Source, indicators: list[dict]) -> list[tuple]:
    model = TruthModel(src)
    cells = src.cells
    N = cells["N"].to_numpy(dtype=float)
    all_domains = _domains_for(("sex", "age_band", "urbanisation"))
    masks = _domain_masks(cells, all_domains)
    head = (src.source_id, src.country.iso3, src.delivery.wave)
    rows = [(*head, POP_CODE, d, float(N[masks[d]].sum())) for d in all_domains]
    specs = [{"code": UI_CODE, "method": "proportion", "universe": None, "numerator": "uses_internet",
              "disaggregations": ["sex", "age_band", "urbanisation"]}, *indicators]
    for entry in specs:
        code, method = entry["code"], entry.get("method")
        try:
            universe = _factors(parse_expression(entry["universe"])) if entry.get("universe") else []
            if method == "proportion":
                numerator = _factors(parse_expression(entry["numerator"]))
            elif method == "total" and entry.get("value"):
                numerator = _factors(parse_expression(entry["value"]))
            else:
                continue
            den = model.expectation(universe)
            num = model.expectation(universe + numerator)
        except UnsupportedExpression as exc:
            if code in REQUIRED_TRUTH:
                raise
            print(f"warning: no truth for {code}: {exc}")
            continue
        for domain in _domains_for(entry.get("disaggregations") or []):
            m = masks[domain]
            numerator_total = float((N[m] * num[m]).sum())
            denominator = float((N[m] * den[m]).sum())
            if denominator <= 0:  # the domain lies outside the universe (e.g. ages 9-11 for a 12-17 indicator)
                continue
            rows.append((*head, code, domain, numerator_total if method == "total" else numerator_total / denominator))
    return rows


# ---------------------------------------------------------------------------------------- national coding
def _item_names(delivery: Delivery) -> dict[str, str]:
    """Harmonised (or internal) variable -> national column name, for module variables."""
    if isinstance(delivery.scheme, dict):
        return dict(delivery.scheme)
    names, n = {}, 0
    for m, letter, variables in MODULES:
        variables = list(variables)
        if delivery.revision and m == REVISION_AFTER[0]:
            variables.insert(REVISION_AFTER[1], NEW_ITEM)
        for j, var in enumerate(variables, start=1):
            n += 1
            names[var] = delivery.scheme.format(m=m, L=letter, j=j, n=n)
    return names


def _code_items(states: np.ndarray, c: Coding) -> list:
    table = {YES: c.yes, NO: c.no, DK: c.dk, REF: c.ref, NOT_ASKED: c.na}
    return [table[int(s)] for s in states]


@dataclass
class Delivered:
    frame: pd.DataFrame
    spec_text: str
    value_labels: dict
    column_labels: dict
    user_missing: dict


def encode(src: Source) -> Delivered:
    """The national file of one source and its mapping spec."""
    country, d, c = src.country, src.delivery, src.delivery.coding
    s = src.sample
    n = len(s)
    lang = _labels(c.lang)
    names = _item_names(d)
    names.update({k: v for k, v in d.names.items()
                  if k in ("sex", "age", "urbanisation", "ses_quintile", "parent_education_level")})
    cols: dict[str, Any] = {}
    labels: dict[str, str] = {}
    value_labels: dict[str, dict] = {}
    design_names = {}

    # design columns
    order = s["resp_order"].to_numpy()  # respondents are listed by EA, ids in interview order
    if d.respondent_ids == "hh_line":
        hh_col, line_col = d.names["respondent_id"]
        ea_code = 1001 + s.groupby(["stratum", "ea_seq"]).ngroup().to_numpy()
        within = s.groupby(["stratum", "ea_seq"]).cumcount().to_numpy() + 1
        hh = ea_code * 1000 + within * 7 + 100  # household number: EA code and dwelling number
        cols[hh_col], cols[line_col] = hh, s["line_no"].to_numpy()
        labels[hh_col], labels[line_col] = VARIABLE_LABELS["hh_id"], VARIABLE_LABELS["line_no"]
        design_names["respondent_id"] = [hh_col, line_col]
    else:
        col = d.names["respondent_id"]
        if d.respondent_ids.startswith("str:"):
            cols[col] = [f"{d.respondent_ids[4:]}{i + 1:05d}" for i in order]
        else:
            cols[col] = order + 1
        labels[col] = VARIABLE_LABELS["respondent_id"]
        design_names["respondent_id"] = col
    region_names = country.regions
    h = s["stratum"].to_numpy()
    if d.stratum_ids == "name":
        if country.design == "region_x_urban":
            stratum = [f"{region_names[k // 2]}-{'urban' if k % 2 == 0 else 'rural'}" for k in h]
        else:
            stratum = [region_names[k] for k in h]
        cols[d.names["stratum"]] = stratum
    else:
        cols[d.names["stratum"]] = (h + 1) * 10 + 1 if country.design == "region" else \
            (h // 2 + 1) * 10 + (h % 2) + 1
    if d.psu_ids == "within":
        cols[d.names["psu"]] = s["ea_seq"].to_numpy()
    else:
        cols[d.names["psu"]] = 1001 + 3 * s.groupby(["stratum", "ea_seq"]).ngroup().to_numpy()
    cols[d.names["weight"]] = s["weight"].to_numpy()
    for key in ("stratum", "psu", "weight"):
        labels[d.names[key]] = VARIABLE_LABELS[key]
        design_names[key] = d.names[key]
    if d.fpc:
        cols[d.names["fpc"]] = s["fpc"].to_numpy()
        labels[d.names["fpc"]] = VARIABLE_LABELS["fpc"]
        design_names["fpc"] = d.names["fpc"]
    if d.country_column:
        cols[d.country_column[0]] = [d.country_column[1]] * n
        labels[d.country_column[0]] = VARIABLE_LABELS["country"]
    if d.wave_column:
        cols[d.wave_column] = np.full(n, d.wave)
        labels[d.wave_column] = VARIABLE_LABELS["wave"]

    rename: dict[str, str] = {}
    recode: dict[str, dict] = {}
    missing_of: dict[str, list] = {}  # harmonised variable -> missing codes present by design
    valid_of: dict[str, list] = {}  # harmonised variable -> valid codes (for the collision check)
    ignore: list[str] = []
    yes_no_labels = {c.yes: lang[0], c.no: lang[1], c.dk: lang[2], c.ref: lang[3]}
    if c.na is not None:
        yes_no_labels[c.na] = lang[4]
    item_missing = [c.dk, c.ref] + ([c.na] if c.na is not None else [])

    def add(var: str, column: str, values, label: str):
        cols[column] = values
        labels[column] = label
        rename[column] = var

    for m, letter, variables in MODULES:
        variables = list(variables)
        if d.revision and m == REVISION_AFTER[0]:
            variables.insert(REVISION_AFTER[1], NEW_ITEM)
        for var in variables:
            column = names[var]
            if var == "sex":
                add(var, column, [c.sex["F"] if f else c.sex["M"] for f in s["female"]], VARIABLE_LABELS[var])
                recode[var] = {c.sex["M"]: "M", c.sex["F"]: "F"}
                value_labels[column] = {c.sex["M"]: lang[5], c.sex["F"]: lang[6]}
                valid_of[var] = list(c.sex.values())
            elif var == "age":
                add(var, column, s["age"].to_numpy(), VARIABLE_LABELS[var])
                valid_of[var] = list(range(9, 18))
            elif var in EXCESSIVE_RAW:
                if "raw_excessive" in d.extras and c.numeric:
                    raw = src.raw_excessive[var]
                    table = {NOT_ASKED: c.na, DK: c.dk, REF: c.ref}
                    cols[column] = [table[int(v)] if v < 0 else int(v) for v in raw]
                    labels[column] = VARIABLE_LABELS[var]
                    freq = FREQ_LABELS.get(c.lang, FREQ_LABELS["en"])
                    value_labels[column] = {**{k + 1: t for k, t in enumerate(freq)},
                                            **{k: v for k, v in yes_no_labels.items() if k not in (c.yes, c.no)}}
                    ignore.append(column)
            elif var == "excessive_use_items":
                counts = s["excessive_count"].to_numpy()
                add(var, column, [c.na if v == NOT_ASKED else (c.count_missing if v == DK else int(v))
                                  for v in counts], VARIABLE_LABELS[var])
                missing_of[var] = [c.count_missing] + ([c.na] if c.na is not None else [])
                valid_of[var] = list(range(6))
                value_labels[column] = {c.count_missing: lang[2]} | ({c.na: lang[4]} if c.na is not None else {})
            elif var == "parent_education_level":
                cats = s["edu_cat"].to_numpy()
                values = [c.na if v == NOT_ASKED else (c.edu_missing if v == DK else c.edu[v][0]) for v in cats]
                add(var, column, values, VARIABLE_LABELS[var])
                recode[var] = {code: isced for code, _, isced in c.edu}
                missing_of[var] = [c.edu_missing] + ([c.na] if c.na is not None else [])
                valid_of[var] = [code for code, _, _ in c.edu]
                value_labels[column] = {code: label for code, label, _ in c.edu} | {c.edu_missing: lang[2]} | (
                    {c.na: lang[4]} if c.na is not None else {})
            elif var == NEW_ITEM:
                cols[column] = _code_items(src.states[var], c)
                labels[column] = VARIABLE_LABELS[var]
                value_labels[column] = yes_no_labels
                ignore.append(column)
            else:  # yes/no items
                add(var, column, _code_items(src.states[var], c), VARIABLE_LABELS[var])
                recode[var] = {c.yes: True, c.no: False}
                value_labels[column] = yes_no_labels
                valid_of[var] = [c.yes, c.no]
                if var != "uses_internet" and var != "parent_interviewed":
                    missing_of[var] = item_missing
                if var == "parent_interviewed":
                    value_labels[column] = {c.yes: lang[0], c.no: lang[1]}
        if m == 1:  # frame variables after the household roster
            column = names["urbanisation"]
            add("urbanisation", column, [c.urban["U"] if u else c.urban["R"] for u in s["urban"]],
                VARIABLE_LABELS["urbanisation"])
            recode["urbanisation"] = {c.urban["U"]: "U", c.urban["R"]: "R"}
            value_labels[column] = {c.urban["U"]: lang[7], c.urban["R"]: lang[8]}
            valid_of["urbanisation"] = list(c.urban.values())
            column = names["ses_quintile"]
            q = s["ses_quintile"].to_numpy()
            ses_codes = c.ses or {k: k for k in range(1, 6)}
            add("ses_quintile", column, [c.ses_missing if v == DK else ses_codes[int(v)] for v in q],
                VARIABLE_LABELS["ses_quintile"])
            if c.ses:
                recode["ses_quintile"] = {code: k for k, code in c.ses.items()}
            if c.ses_missing is not None:
                missing_of["ses_quintile"] = [c.ses_missing]
            valid_of["ses_quintile"] = list(ses_codes.values())
            value_labels[column] = {k: lang[9][k - 1] for k in range(1, 6)} | (
                {c.ses_missing: lang[2]} if c.ses_missing is not None else {})

    # extras not harmonised
    if "interview_date" in d.extras:
        start = _dt.date(d.wave, 9, 1)
        column = {"KEN": "INTDATE", "EGY": "int_date", "KAZ": "data_intervyu", "POL": "data_wywiadu",
                  "GHA": "INTERVIEW_DATE"}.get(country.iso3, "int_date")
        cols[column] = [(start + _dt.timedelta(days=int(x))).isoformat() for x in s["interview_day"]]
        labels[column] = VARIABLE_LABELS["interview_date"]
        ignore.append(column)
    if "interviewer" in d.extras:
        column = {"MEX": "entrevistador", "PHL": "INTERVIEWER", "UZB": "INTERVYUER"}.get(country.iso3, "interviewer")
        cols[column] = s["interviewer"].to_numpy()
        labels[column] = VARIABLE_LABELS["interviewer"]
        ignore.append(column)

    frame = pd.DataFrame({col: _column(values) for col, values in cols.items()})
    frame = _typed(frame, d)

    # missing: one list for all items when no code collides with a valid value of any mapped variable, else
    # complete lists per variable (the loader applies _all AND the variable's own list to every variable)
    all_codes = list(dict.fromkeys(item_missing))
    collides = any(_same_code(a, v) for a in all_codes for vs in valid_of.values() for v in vs)
    design_values = [v for key in ("stratum", "psu") for v in pd.unique(frame[design_names[key]])]
    collides = collides or any(_same_code(a, v) for a in all_codes for v in design_values)
    missing: dict[str, list] = {}
    if not collides:
        missing["_all"] = all_codes
    for var, codes in missing_of.items():
        codes = list(dict.fromkeys(codes))
        if collides or not set(map(str, codes)) <= set(map(str, all_codes)):
            missing[var] = codes
    for var, codes in missing.items():  # a missing code is never a valid code of the same variable
        targets = valid_of if var == "_all" else {var: valid_of.get(var, [])}
        assert not any(_same_code(a, v) for a in codes for vs in targets.values() for v in vs), (var, codes)

    spec = _spec_text(src, design_names, rename, recode, missing, ignore)
    user_missing = {}
    if d.spss_user_missing:
        user_missing = {col: [c.dk, c.ref] for col, var in rename.items() if var in missing_of
                        and var in HARMONISED_ITEMS and var != "excessive_use_items"}
    return Delivered(frame, spec, value_labels, labels, user_missing)


def _same_code(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a).strip() == str(b).strip()
    return float(a) == float(b)


def _column(values) -> Any:
    """Integer codes (possibly with None) as nullable Int64, text as object, floats (weights) as they are."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iuf":
        return values
    values = list(values)
    non_null = [v for v in values if v is not None]
    if non_null and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in non_null):
        return pd.array([None if v is None else int(v) for v in values], dtype="Int64")
    return pd.array(values, dtype=object)


def _typed(frame: pd.DataFrame, d: Delivery) -> pd.DataFrame:
    """Column types as each format would carry them."""
    out = frame.copy()
    for col in out.columns:
        dtype = out[col].dtype
        if d.fmt == "parquet" and pd.api.types.is_integer_dtype(dtype):
            lo, hi = out[col].min(), out[col].max()
            kind = "Int8" if -128 <= lo and hi <= 127 else ("Int32" if -2**31 <= lo and hi < 2**31 else "Int64")
            out[col] = out[col].astype(kind)
        elif d.fmt in ("sav", "dta") and pd.api.types.is_integer_dtype(dtype):
            # Stata: long (4 bytes) without system missing, double with it; SPSS stores every number as double
            out[col] = out[col].astype("float64") if out[col].isna().any() else out[col].astype("int32")
            if d.fmt == "sav":
                out[col] = out[col].astype("float64")
        elif d.fmt == "csv" and pd.api.types.is_integer_dtype(dtype):
            out[col] = out[col].astype("Int64")
        elif dtype == object:
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


# -------------------------------------------------------------------------------------------- spec writing
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_YAML_SPECIAL = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _yaml_scalar(value: Any, key: bool = False) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    text = str(value)
    if key and _PLAIN.match(text) and text.lower() not in _YAML_SPECIAL:
        return text
    return json.dumps(text, ensure_ascii=False)


def _flow(mapping: dict) -> str:
    return "{" + ", ".join(f"{_yaml_scalar(k)}: {_yaml_scalar(v)}" for k, v in mapping.items()) + "}"


def _spec_text(src: Source, design: dict, rename: dict, recode: dict, missing: dict, ignore: list) -> str:
    country, d = src.country, src.delivery
    sid = src.source_id
    lines = [f"# Harmonisation of {country.name} {d.wave} child survey (SYNTHETIC sample) into staging.child_survey",
             "# Generated by indicators/synthetic/child_survey_sample.py (seed 20261128): invented data, only the"
             " country code is real."]
    lines += [f"# Note: {note}" for note in d.notes]
    lines += [f"source_id: {sid}", "target: child_survey",
              f"file: ../sample/microdata/{data_file_name(country, d)}", f"format: {d.fmt}"]
    if d.csv:
        lines.append(f"csv: {{encoding: {_yaml_scalar(d.csv[0])}, delimiter: {_yaml_scalar(d.csv[1])}}}")
    if d.country_column:
        lines.append(f"country_column: {_yaml_scalar(d.country_column[0], key=True)}")
        if d.country_codes:
            lines.append(f"country_codes: {_flow(d.country_codes)}")
    else:
        lines.append(f"country: {country.iso3}")
    lines.append(f"wave_column: {_yaml_scalar(d.wave_column, key=True)}" if d.wave_column else f"wave: {d.wave}")
    lines += ["synthetic: true", "design:"]
    for key in ("respondent_id", "stratum", "psu", "weight", "fpc"):
        if key in design:
            value = design[key]
            text = ("[" + ", ".join(_yaml_scalar(v, key=True) for v in value) + "]" if isinstance(value, list)
                    else _yaml_scalar(value, key=True))
            lines.append(f"  {key}: {text}")
    lines.append("rename:")
    lines += [f"  {_yaml_scalar(col, key=True)}: {var}" for col, var in rename.items()]
    lines.append("recode:")
    lines += [f"  {var}: {_flow(mapping)}" for var, mapping in recode.items()]
    lines.append("missing:")
    lines += [f"  {var}: [{', '.join(_yaml_scalar(v) for v in codes)}]" for var, codes in missing.items()]
    lines += ["derive:",
              '  age_band: {from: age, bands: {"9-11": [9, 11], "12-14": [12, 14], "15-17": [15, 17]}}']
    if d.max_rejected_share is not None:
        lines.append(f"max_rejected_share: {d.max_rejected_share}")
    if ignore:
        lines.append("ignore: [" + ", ".join(_yaml_scalar(c, key=True) for c in ignore) + "]")
    text = "\n".join(lines) + "\n"
    parsed = yaml.safe_load(text)  # the text must say exactly what was meant
    assert parsed["rename"] == rename and parsed["missing"] == missing, sid
    assert {k: dict(v) for k, v in parsed["recode"].items()} == recode, sid
    return text


# ------------------------------------------------------------------------------------------------- writing
def harmonised_frame(src: Source) -> pd.DataFrame:
    """The staging.child_survey rows this source should become (items and classifiers; design as numbers)."""
    s = src.sample
    c = src.delivery.coding
    out = pd.DataFrame({
        "source_id": src.source_id, "country": src.country.iso3, "wave": src.delivery.wave,
        "weight": s["weight"].to_numpy(),
        "sex": np.where(s["female"] == 1, "F", "M"), "age": s["age"].astype("int64").to_numpy(),
    })
    age = out["age"]
    out["age_band"] = np.select([age <= 11, age <= 14], ["9-11", "12-14"], "15-17")
    out["urbanisation"] = np.where(s["urban"] == 1, "U", "R")
    q = s["ses_quintile"].to_numpy()
    out["ses_quintile"] = pd.array([None if v < 0 else int(v) for v in q], dtype="Int64")
    edu = s["edu_cat"].to_numpy()
    out["parent_education_level"] = [None if v < 0 else c.edu[v][2] for v in edu]
    for item in HARMONISED_ITEMS:
        st = src.states[item]
        out[item] = pd.array([True if v == YES else (False if v == NO else None) for v in st], dtype="boolean")
    counts = s["excessive_count"].to_numpy()
    out["excessive_use_items"] = pd.array([None if v < 0 else int(v) for v in counts], dtype="Int64")
    out["parent_interviewed"] = src.states["parent_interviewed"] == YES
    out["hours_online"] = np.nan  # not asked by the sample surveys
    return out


def write_delivered(src: Source, delivered: Delivered, path: Path) -> None:
    d = src.delivery
    frame = delivered.frame
    path.parent.mkdir(parents=True, exist_ok=True)
    label = f"SYNTHETIC {src.country.name} {d.wave} child survey (invented data)"  # SPSS: at most 64 bytes
    if d.fmt == "csv":
        encoding, delimiter = d.csv
        frame.to_csv(path, sep=delimiter, encoding=encoding, index=False, float_format="%.6f",
                     lineterminator="\r\n" if encoding == "utf-16" else "\n")
    elif d.fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(table, path, compression="zstd")
    else:
        import pyreadstat

        frame = frame.copy()
        for col in frame.columns:
            if frame[col].dtype == object:
                frame[col] = frame[col].astype(str)
        value_labels = {col: {k: v for k, v in labels.items() if k is not None}
                        for col, labels in delivered.value_labels.items()
                        if col in frame.columns and pd.api.types.is_numeric_dtype(frame[col])}
        column_labels = {col: delivered.column_labels.get(col, col) for col in frame.columns}
        if d.fmt == "sav":
            pyreadstat.write_sav(frame, str(path), file_label=label, column_labels=column_labels,
                                 variable_value_labels=value_labels, row_compress=True,
                                 missing_ranges=delivered.user_missing or None)
        else:
            pyreadstat.write_dta(frame, str(path), file_label=label, column_labels=column_labels,
                                 variable_value_labels=value_labels, version=15)


def generate(seed: int = DEFAULT_SEED) -> list[Source]:
    return [simulate_source(seed, ci, wi) for ci in range(len(COUNTRIES)) for wi in (0, 1)]


def write_all(data_dir: Path = DATA_DIR, seed: int = DEFAULT_SEED, registry_dir: Path = REGISTRY_DIR,
              verbose: bool = False) -> list[dict]:
    """Simulate and write the 24 files, their specs and truth.csv under data_dir; return design summaries."""
    return write_sources(generate(seed), data_dir, registry_dir, verbose)


def write_sources(sources: list[Source], data_dir: Path = DATA_DIR, registry_dir: Path = REGISTRY_DIR,
                  verbose: bool = False) -> list[dict]:
    """Write simulated sources: data files under data_dir/sample/microdata, specs under data_dir/mappings."""
    data_dir = Path(data_dir)
    micro = data_dir / MICRODATA_SUBDIR
    mappings = data_dir / MAPPINGS_SUBDIR
    micro.mkdir(parents=True, exist_ok=True)
    mappings.mkdir(parents=True, exist_ok=True)
    indicators = load_child_indicators(registry_dir)
    truth: list[tuple] = []
    summaries = []
    for src in sources:
        delivered = encode(src)
        path = micro / data_file_name(src.country, src.delivery)
        write_delivered(src, delivered, path)
        (mappings / spec_file_name(src.country, src.delivery)).write_text(delivered.spec_text, encoding="utf-8")
        truth += truth_rows(src, indicators)
        summary = dict(src.summary, file=str(path.relative_to(data_dir)), bytes=path.stat().st_size)
        summaries.append(summary)
        if verbose:
            print(f"{summary['source_id']:9} {summary['format']:8} n={summary['n']:5} strata={summary['strata']:2} "
                  f"psus={summary['psus']:3} weights {summary['weight_min']:9.1f}-{summary['weight_max']:9.1f} "
                  f"pop={summary['population_9_17']:>10,} {summary['bytes'] / 1024:7.0f} KB")
    table = pd.DataFrame(truth, columns=TRUTH_COLUMNS)
    table.to_csv(micro / TRUTH_NAME, index=False, lineterminator="\n", float_format="%.12g")
    return summaries


if __name__ == "__main__":
    import time

    started = time.perf_counter()
    write_all(verbose=True)
    print(f"wrote 24 files, 24 specs and {TRUTH_NAME} in {time.perf_counter() - started:.1f} s")
