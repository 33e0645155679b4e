"""SYNTHETIC COP national questionnaire responses: invented answers, NOT ITU data and not any country's answers.

Why this exists: the COP national capacity indicators (NC.1-NC.11), the capacity index and the roadmap gap
analysis must run in the default build with no download and no confidential input (the real 2009 answers were
never published per country). This module writes, deterministically from the seed (20091201):

- data/sample/questionnaire/responses_2009.csv   51 of the 191 invited ITU Member States (26.7 %, the real
                                                  2009 response rate; only the rate is real)
- data/sample/questionnaire/responses_2024.csv   70-90 of the 193 invited (the count is drawn with the seed: 76)

Layout (the CSV form of the questionnaire): UTF-8, header ``country,round,respondent_agency,submitted,`` then
every question id of the round in form order (indicators/sources/national_questionnaire/questionnaire.yaml);
one row per responding country (non-respondents are absent), sorted by ISO3. A choice is its canonical text in
the definition ("yes", "partial", "4 - high", "don't know"), a count a whole number, free text a short generic
phrase list ("grooming; sextortion"), an unanswered question an empty cell. respondent_agency is an invented
"SYNTHETIC Ministry of ICT"-style name; submitted a date (YYYY-MM-DD) of the round year.

What is modelled
- Who responds: countries invited in the round (definition ``invited``), drawn without replacement with a
  propensity of 1.6 for developed countries, 1 for other developing countries and 0.8 for LDCs
  (data/reference/development_status.csv); in 2024 the propensity is tripled for 2009 respondents. At least 3
  respondents per ITU region (data/reference/itu_regions.csv) and per development group (developed, other
  developing, LDC) are drawn first, so every group is represented in both rounds.
- Capacity: a latent national capacity per country (+0.9 developed, -0.5 LDC, normal noise), a lasting offset
  per GCA pillar, and a rise from 2009 to 2024 (+0.6 on average, differing by country).
- Roadmap checklist (items with a pillar and a stage): the stage a country has reached on a pillar follows
  from its pillar capacity (ordered thresholds, so some countries stop at every stage 0-5); items of the stages
  reached are met ("yes", a count of at least 1) with probability 0.92, items of the next stage are mixed with
  at least one not met, later items are mostly "no": answers are mostly, not strictly, cumulative.
- Other items from the pillar capacity: guidance yes/no, forum membership, industry cooperation on 1-5, the
  code of conduct; perceived seriousness mostly "serious" or "very serious". INHOPE membership is "yes" only
  where the hotline question is "yes". Counts: awareness programmes 0-12 (0 where not implemented), requests for
  assistance 0-4 (more for low capacity, mostly 0).
- Missing answers, over choice and count questions: a "don't know" rate per country of 1-9 % (about 5 % in
  all) and an unanswered rate of 0-4.5 %, plus 2-4 (2009) or 3-6 (2024) countries that leave most of one or
  two pillars blank, so that some fall below the 60 % data-availability threshold of the capacity index. In all
  about 3-8 % "don't know" and 2-6 % unanswered. Free-text questions are left empty more often (20-30 %).
Nothing here describes a real country: only the ISO3 codes, ITU regions and development status are real.

Run ``python -m indicators.synthetic.questionnaire_sample`` (or this file) to rewrite the two files.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from indicators.sources.national_questionnaire.definition import Question, Questionnaire, questionnaire
from schemas.national_questionnaire import GCA_PILLARS

DEFAULT_SEED = 20091201
REPO_ROOT = Path(__file__).resolve().parents[2]
DEVELOPMENT_STATUS_CSV = REPO_ROOT / "data" / "reference" / "development_status.csv"
DEFAULT_OUTPUT_DIR = REPO_ROOT / "data" / "sample" / "questionnaire"
ROUNDS = (2009, 2024)
RESPONDENTS_2009 = 51                  # the real 2009 response: 51 of 191
RESPONDENTS_2024 = (70, 90)            # inclusive range; one value drawn with the seed
MIN_PER_GROUP = 3                      # respondents per ITU region and per development group, each round
DEVELOPMENT_GROUPS = ("developed", "developing", "ldc")
RESPONSE_PROPENSITY = {"developed": 1.6, "developing": 1.0, "ldc": 0.8}
PREVIOUS_RESPONDENT_FACTOR = 3.0       # 2024 propensity of a 2009 respondent
HEADER_FIELDS = ("country", "round", "respondent_agency", "submitted")
# thresholds on the pillar capacity between roadmap stages 0|1, 1|2, 2|3, 3|4, 4|5
STAGE_THRESHOLDS = np.array([-0.9, -0.3, 0.3, 0.9, 1.5])
STAGE_NUMBERS = {"assessment": 1, "planning": 2, "implementation": 3, "evaluation": 4, "improvement": 5}
TEXT_BLANK_RATE = {"Q1.2": 0.2, "Q7.2": 0.3}
MAX_COUNT = {"Q3.1": 12, "Q7.1": 4}
HEAVY_BLANK_COUNTRIES = {2009: (2, 4), 2024: (3, 6)}   # inclusive ranges
AGENCIES = ("SYNTHETIC Ministry of ICT", "SYNTHETIC Ministry of Justice", "SYNTHETIC Ministry of Interior",
            "SYNTHETIC Ministry of Education", "SYNTHETIC National Regulatory Authority",
            "SYNTHETIC National Cybersecurity Agency", "SYNTHETIC Child Protection Commission",
            "SYNTHETIC Ministry of Social Affairs")
RISK_PHRASES = ("grooming", "sextortion", "cyberbullying", "exposure to harmful content",
                "child sexual abuse material", "contact with strangers", "online scams", "excessive use",
                "self-generated sexual images", "privacy and personal data")
ASSISTANCE_PHRASES = ("legislation drafting", "training of law enforcement", "setting up a hotline",
                      "awareness campaigns", "national strategy", "data collection", "child helpline",
                      "cooperation with industry", "training of teachers")


def read_development_groups(path: Path = DEVELOPMENT_STATUS_CSV) -> dict[str, str]:
    """ISO3 -> 'developed', 'ldc' or 'developing' (developing and not a least developed country)."""
    status = pd.read_csv(path, dtype=str, keep_default_na=False)
    return {row.iso3: "developed" if row.developed == "developed" else ("ldc" if row.ldc == "true"
                                                                          else "developing")
            for row in status.itertuples(index=False)}


def _draw_weighted(rng: np.random.Generator, pool: list[str], weights: dict[str, float], size: int) -> list[str]:
    """size countries of pool without replacement, with probability proportional to weights."""
    if size <= 0:
        return []
    w = np.array([weights[c] for c in pool])
    return list(rng.choice(pool, size=size, replace=False, p=w / w.sum()))


def choose_respondents(rng: np.random.Generator, regions: dict[str, str], groups: dict[str, str],
                       weights: dict[str, float], count: int) -> list[str]:
    """count of the invited countries (regions: ISO3 -> ITU region), at least MIN_PER_GROUP per ITU region and
    per development group (drawn first, by propensity), the rest by propensity among all invited; sorted."""
    invited = sorted(regions)
    chosen: list[str] = []
    for key, values in ((regions, sorted(set(regions.values()))), (groups, DEVELOPMENT_GROUPS)):
        for value in values:
            have = sum(key[c] == value for c in chosen)
            pool = [c for c in invited if key[c] == value and c not in chosen]
            chosen += _draw_weighted(rng, pool, weights, MIN_PER_GROUP - have)
    chosen += _draw_weighted(rng, [c for c in invited if c not in chosen], weights, count - len(chosen))
    return sorted(str(c) for c in chosen)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + np.exp(-x))


def _checklist_answer(rng: np.random.Generator, stage: int, reached: int, scale_choices: list[str]) -> str:
    """yes / partial / no for a roadmap item of `stage` when the country has reached stage `reached`."""
    if stage <= reached:
        probabilities = (0.92, 0.08, 0.0)
    elif stage == reached + 1:
        probabilities = (0.35, 0.35, 0.30)
    else:
        probabilities = (0.08, 0.17, 0.75)
    answer = ("yes", "partial", "no")[rng.choice(3, p=probabilities)]
    # a yes/no item has no "partial": a partial capacity is answered "no"
    return "no" if answer == "partial" and "partial" not in scale_choices else answer


def _ensure_next_stage_unmet(rng: np.random.Generator, answers: dict[str, str], checklist: list[Question],
                             reached: dict[str, int]) -> None:
    """A country at stage k on a pillar does not meet every item of stage k+1 (else it would be at k+1)."""
    for pillar, stage in reached.items():
        items = [q for q in checklist if q.pillar == pillar and STAGE_NUMBERS[q.stage] == stage + 1]
        if items and all(_met(q, answers[q.id]) for q in items):
            q = items[rng.integers(len(items))]
            answers[q.id] = ("0" if q.type == "count" else
                             "partial" if q.scale == "yes_partial_no" else "no")


def _met(question: Question, answer: str) -> bool:
    """A checklist item is met by "yes" or a count of at least 1 (the roadmap rule of the definition)."""
    return answer.isdigit() and int(answer) >= 1 if question.type == "count" else answer == "yes"


def _count_answer(rng: np.random.Generator, question: Question, met: bool, capacity: float,
                  overall: float) -> str:
    if question.id == "Q3.1":   # awareness programmes: none unless implemented
        return str(min(MAX_COUNT["Q3.1"], 1 + rng.poisson(np.exp(0.4 + 0.5 * capacity)))) if met else "0"
    # requests for assistance: mostly none, more from countries with low capacity
    return str(min(MAX_COUNT["Q7.1"], rng.poisson(np.exp(-0.6 - 0.7 * overall))))


def _other_choice(rng: np.random.Generator, question: Question, capacity: float, round_: int) -> str:
    """A choice question outside the roadmap checklist, drawn from the pillar capacity."""
    if question.scale == "seriousness":
        z = 0.3 + 0.3 * (round_ > ROUNDS[0]) + rng.normal()
        return ("very serious" if z > 0.6 else "serious" if z > -0.6 else
                "not very serious" if z > -1.6 else "not at all serious")
    if question.scale == "level_1_5":
        level = int(np.clip(np.rint(3 + capacity + rng.normal(0, 0.8)), 1, 5))
        return ("1 - very low", "2 - low", "3 - moderate", "4 - high", "5 - very high")[level - 1]
    if question.scale == "yes_partial_no":
        z = capacity + rng.normal(0, 0.8)
        return "yes" if z > 0.5 else "partial" if z > -0.4 else "no"
    offset = {"Q2.1": 0.3, "Q2.2": 0.5, "Q2.3": -0.2, "Q4.3": 1.0}.get(question.id, 0.0)
    return "yes" if rng.random() < _sigmoid(1.2 * capacity + offset) else "no"


def _phrases(rng: np.random.Generator, phrases: tuple[str, ...]) -> str:
    picked = rng.choice(len(phrases), size=rng.integers(1, 4), replace=False)
    return "; ".join(phrases[i] for i in sorted(picked))


def _substantive_answers(rng: np.random.Generator, definition: Questionnaire, questions: tuple[Question, ...],
                         pillar_capacity: dict[str, float], overall: float, round_: int) -> dict[str, str]:
    """Every question's answer before "don't know" and blanks are laid over it."""
    checklist = [q for q in questions if q.pillar and q.stage]
    reached = {p: int(np.searchsorted(STAGE_THRESHOLDS, pillar_capacity[p])) for p in GCA_PILLARS}
    answers: dict[str, str] = {}
    for q in questions:
        capacity = pillar_capacity.get(q.pillar, overall)
        if q.type == "text":
            answers[q.id] = _phrases(rng, RISK_PHRASES if q.id == "Q1.2" else ASSISTANCE_PHRASES)
        elif q in checklist:
            answer = _checklist_answer(rng, STAGE_NUMBERS[q.stage], reached[q.pillar],
                                       definition.choices(q) if q.type == "choice" else ["yes", "no"])
            answers[q.id] = (_count_answer(rng, q, answer == "yes", capacity, overall) if q.type == "count"
                             else answer)
        elif q.type == "count":
            answers[q.id] = _count_answer(rng, q, True, capacity, overall)
        elif q.id == "Q5.4":   # INHOPE membership: drawn below, once the hotline answer is known
            answers[q.id] = ""
        else:
            answers[q.id] = _other_choice(rng, q, capacity, round_)
    _ensure_next_stage_unmet(rng, answers, checklist, reached)
    return answers


def _inhope(rng: np.random.Generator, hotline: str, technical: float) -> str:
    """INHOPE membership only for a country with a hotline; its own "don't know" or blank otherwise carries."""
    if hotline == "yes":
        return "yes" if rng.random() < _sigmoid(1.2 * technical - 0.6) else "no"
    return hotline   # "no", "don't know" or unanswered


def _missing_overlay(rng: np.random.Generator, definition: Questionnaire, questions: tuple[Question, ...],
                     answers: dict[str, str], heavy_pillars: tuple[str, ...]) -> None:
    """Lay "don't know" and unanswered cells over the answers (Q5.4 is left to _inhope)."""
    dont_know_rate = rng.uniform(0.01, 0.09)
    blank_rate = rng.uniform(0.0, 0.045)
    for q in questions:
        if q.id == "Q5.4":
            continue
        u = rng.random()
        if q.type == "text":
            blank = u < TEXT_BLANK_RATE.get(q.id, 0.2) or (bool(heavy_pillars) and u < 0.6)
            answers[q.id] = "" if blank else answers[q.id]
            continue
        blank = u < (0.7 if q.pillar in heavy_pillars else blank_rate)
        if blank:
            answers[q.id] = ""
        elif rng.random() < dont_know_rate:
            answers[q.id] = definition.dont_know


def _submitted(rng: np.random.Generator, round_: int) -> str:
    """A date between 1 March and 30 November of the round year."""
    first = dt.date(round_, 3, 1)
    return (first + dt.timedelta(days=int(rng.integers(0, (dt.date(round_, 11, 30) - first).days + 1)))).isoformat()


def generate_questionnaire_sample(seed: int = DEFAULT_SEED) -> dict[int, list[dict[str, str]]]:
    """The SYNTHETIC responses: round -> one dict per responding country (header field -> cell text)."""
    rng = np.random.default_rng(seed)
    definition = questionnaire()
    groups = read_development_groups()
    everyone = sorted(set().union(*(definition.invited(r) for r in ROUNDS)))
    # latent capacity of every invited country, drawn once so both rounds describe the same country
    base = {c: 0.9 * (groups[c] == "developed") - 0.5 * (groups[c] == "ldc") + rng.normal(0, 0.7)
            for c in everyone}
    pillar_offset = {c: dict(zip(GCA_PILLARS, rng.normal(0, 0.45, len(GCA_PILLARS)))) for c in everyone}
    growth = {c: rng.normal(0.6, 0.3) for c in everyone}

    responses: dict[int, list[dict[str, str]]] = {}
    previous: set[str] = set()
    for round_ in ROUNDS:
        regions = definition.invited(round_)
        weights = {c: RESPONSE_PROPENSITY[groups[c]] * (PREVIOUS_RESPONDENT_FACTOR if c in previous else 1.0)
                   for c in regions}
        count = RESPONDENTS_2009 if round_ == ROUNDS[0] else int(rng.integers(RESPONDENTS_2024[0],
                                                                             RESPONDENTS_2024[1] + 1))
        respondents = choose_respondents(rng, regions, groups, weights, count)
        low, high = HEAVY_BLANK_COUNTRIES[round_]
        heavy = set(rng.choice(respondents, size=int(rng.integers(low, high + 1)), replace=False))
        questions = definition.round_questions(round_)
        rows = []
        for country in respondents:
            overall = base[country] + (growth[country] if round_ > ROUNDS[0] else 0.0)
            capacity = {p: overall + pillar_offset[country][p] + rng.normal(0, 0.2) for p in GCA_PILLARS}
            answers = _substantive_answers(rng, definition, questions, capacity, overall, round_)
            heavy_pillars = (tuple(rng.choice(GCA_PILLARS, size=int(rng.integers(1, 3)), replace=False))
                             if country in heavy else ())
            _missing_overlay(rng, definition, questions, answers, heavy_pillars)
            answers["Q5.4"] = _inhope(rng, answers["Q5.3"], capacity["technical"])
            rows.append({"country": country, "round": str(round_),
                         "respondent_agency": AGENCIES[rng.integers(len(AGENCIES))],
                         "submitted": _submitted(rng, round_),
                         **{q.id: answers[q.id] for q in questions}})
        responses[round_] = rows
        previous = set(respondents)
    return responses


def output_path(round_: int, directory: Path = DEFAULT_OUTPUT_DIR) -> Path:
    return Path(directory) / f"responses_{round_}.csv"


def write_questionnaire_sample(directory: Path = DEFAULT_OUTPUT_DIR, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write responses_<round>.csv per round (UTF-8, "\\n" line ends: byte-reproducible); return the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    definition = questionnaire()
    paths = []
    for round_, rows in generate_questionnaire_sample(seed).items():
        header = [*HEADER_FIELDS, *(q.id for q in definition.round_questions(round_))]
        path = output_path(round_, directory)
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        paths.append(path)
    return paths


def main() -> None:
    for path in write_questionnaire_sample():
        print(path)


if __name__ == "__main__":
    main()
