"""The COP national questionnaire definition (questionnaire.yaml beside this module), loaded and validated once.

A question says what it asks (category 1-7, text), how it is answered (a choice from one of the answer scales, a
count, or free text), which GCA pillar and COP roadmap stage it evidences, which stakeholder group of the COP
guidelines it concerns, and which column of staging.national_questionnaire it fills. The answer scales give every
choice its harmonised value and its item score for the capacity index. Validation errors name the file and the
question id ("questionnaire.yaml: question Q5.1: field 'scale': no answer scale 'yes_maybe_no' ...").
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from indicators.errors import ConfigError
from indicators.files import load_yaml, sha256_file
from indicators.paths import DATA_DIR
from schemas.national_questionnaire import ANSWER_COLUMNS, GCA_PILLARS

DEFINITION_FILE = Path(__file__).with_name("questionnaire.yaml")
STAGE_NAMES = {1: "assessment", 2: "planning", 3: "implementation", 4: "evaluation", 5: "improvement"}
STAGES = {name: number for number, name in STAGE_NAMES.items()}
STAKEHOLDERS = ("children", "parents_educators", "industry", "policy_makers")
CATEGORIES = {1: "perceptions", 2: "advice/guidance", 3: "awareness raising and training programmes",
              4: "national focal points", 5: "legal frameworks and law enforcement",
              6: "cooperation with industry", 7: "requests for assistance"}
ITU_REGIONS_FILE = DATA_DIR / "reference" / "itu_regions.csv"
# listed in itu_regions.csv (ITU publishes their data, or every UN member needs a region) but not ITU Member States:
# the State of Palestine is an observer, Palau is a UN member that has not joined ITU
NOT_ITU_MEMBER_STATES = ("PSE", "PLW")
# the columns of staging.national_questionnaire an answer may fill (the others are derived: roadmap stages)
ANSWERABLE_COLUMNS = tuple(c for c in ANSWER_COLUMNS + ("csam_hotline_inhope_member",)
                           if not c.startswith("roadmap_stage_"))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(_Strict):
    value: bool | int | float | None = None   # the harmonised value (the column's type)
    score: float | None = Field(default=None, ge=0, le=1)   # the item score of the capacity index


class Scale(_Strict):
    choices: dict[str, Choice]

    @field_validator("choices")
    @classmethod
    def _some_choices(cls, choices: dict[str, Choice]) -> dict[str, Choice]:
        if len(choices) < 2:
            raise ValueError("an answer scale needs at least two choices")
        return choices


class Question(_Strict):
    id: str = Field(pattern=r"^[A-Z][A-Z0-9]*(\.[A-Z0-9]+)+$")
    category: int = Field(ge=1, le=7)
    text: str = Field(min_length=10)
    type: Literal["choice", "count", "text"]
    scale: str | None = None
    column: str | None = None
    pillar: Literal["legal", "technical", "organizational", "capacity_building", "cooperation"] | None = None
    stage: Literal["assessment", "planning", "implementation", "evaluation", "improvement"] | None = None
    stakeholders: list[Literal["children", "parents_educators", "industry", "policy_makers"]] = Field(min_length=1)
    rounds: list[int] | None = None   # None: every round


class Round(_Strict):
    invited: Literal["itu_member_states"]
    except_: list[str] = Field(default_factory=list, alias="except")
    note: str | None = None


class Definition(_Strict):
    title: str
    form_version: int = Field(ge=1)
    scales: dict[str, Scale]
    dont_know: str
    rounds: dict[int, Round]
    index: dict
    questions: list[Question] = Field(min_length=1)


@dataclass(frozen=True)
class Questionnaire:
    """The validated questionnaire: questions in form order, scales, rounds and the index configuration."""

    file: Path
    title: str
    form_version: int
    scales: dict[str, Scale]
    dont_know: str
    rounds: dict[int, Round]
    index_settings: dict   # the `index:` block, validated by capacity_index.IndexConfig (index_config)
    questions: tuple[Question, ...]

    def index_config(self):
        """The capacity index configuration of the `index:` block (a ConfigError naming the file and key)."""
        from indicators.sources.national_questionnaire.capacity_index import IndexConfig

        return IndexConfig.from_mapping(self.index_settings, self.file.name)

    def round_questions(self, round_: int) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if q.rounds is None or round_ in q.rounds)

    def invited(self, round_: int) -> dict[str, str]:
        """The countries invited in a round (ISO3 -> ITU region code, e.g. ITU_AFR): the ITU Member States of
        data/reference/itu_regions.csv less the round's `except` list."""
        return {iso3: region for iso3, region in itu_member_states().items()
                if iso3 not in self.rounds[round_].except_}

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(question_id)

    def choices(self, question: Question) -> list[str]:
        """The answers a choice question accepts, in form order, "don't know" last."""
        return [*self.scales[question.scale].choices, self.dont_know] if question.type == "choice" else []

    def scored(self, question: Question) -> bool:
        """Whether the question enters the capacity index: it has a pillar and its answers have scores (a count
        scores 1 from one programme or more)."""
        if question.pillar is None:
            return False
        if question.type == "count":
            return True
        return question.type == "choice" and all(c.score is not None
                                                 for c in self.scales[question.scale].choices.values())

    def checklist(self) -> tuple[Question, ...]:
        """The roadmap checklist: questions with both a pillar and a stage."""
        return tuple(q for q in self.questions if q.pillar and q.stage)


def _where(location: tuple, raw: dict) -> str:
    """'question Q5.1: field 'scale'' for an error inside the questions list, else the dotted key path."""
    if len(location) >= 2 and location[0] == "questions" and isinstance(location[1], int):
        questions = raw.get("questions") or []
        qid = questions[location[1]].get("id") if location[1] < len(questions) and isinstance(
            questions[location[1]], dict) else None
        rest = ".".join(str(p) for p in location[2:])
        name = f"question {qid}" if qid else f"question number {location[1] + 1}"
        return name + (f": field {rest!r}" if rest else "")
    return "field " + repr(".".join(str(p) for p in location))


def _cross_checks(definition: Definition) -> list[str]:
    """Rules between fields: scales and columns that exist, unique ids and columns, a complete roadmap grid."""
    problems = []
    seen_ids, seen_columns = {}, {}
    for q in definition.questions:
        where = f"question {q.id}"
        if q.id in seen_ids:
            problems.append(f"{where}: the id is used twice (also question number {seen_ids[q.id]})")
        seen_ids.setdefault(q.id, len(seen_ids) + 1)
        if q.type == "choice" and q.scale not in definition.scales:
            problems.append(f"{where}: field 'scale': no answer scale {q.scale!r} (scales: "
                            f"{', '.join(definition.scales)})")
        if q.type != "choice" and q.scale is not None:
            problems.append(f"{where}: field 'scale': only a choice question has an answer scale")
        if q.column is not None:
            if q.column not in ANSWERABLE_COLUMNS:
                problems.append(f"{where}: field 'column': {q.column!r} is no answerable column of "
                                f"staging.national_questionnaire ({', '.join(ANSWERABLE_COLUMNS)})")
            elif q.column in seen_columns:
                problems.append(f"{where}: field 'column': {q.column!r} is already filled by question "
                                f"{seen_columns[q.column]}")
            seen_columns.setdefault(q.column, q.id)
        if q.type == "text" and (q.pillar or q.stage or q.column):
            problems.append(f"{where}: a free-text question cannot evidence a pillar or stage or fill a column")
        if q.stage and not q.pillar:
            problems.append(f"{where}: field 'stage' needs a 'pillar' (a roadmap item is on one pillar)")
        unknown_rounds = sorted(set(q.rounds or []) - set(definition.rounds))
        if unknown_rounds:
            problems.append(f"{where}: field 'rounds': {unknown_rounds} are not rounds of the questionnaire")
    if definition.dont_know in {c for s in definition.scales.values() for c in s.choices}:
        problems.append(f"field 'dont_know': {definition.dont_know!r} is also a choice of an answer scale")
    for round_ in definition.rounds:
        items = {(q.pillar, q.stage) for q in definition.questions
                 if q.pillar and q.stage and (q.rounds is None or round_ in q.rounds)}
        missing = [f"{p}/{s}" for p in GCA_PILLARS for s in STAGES if (p, s) not in items]
        if missing:
            problems.append(f"round {round_}: the roadmap checklist has no item for {', '.join(missing)} "
                            "(every pillar needs at least one item per stage)")
    return problems


def load_questionnaire(path: Path | str = DEFINITION_FILE) -> Questionnaire:
    """Read and validate a questionnaire definition; every problem is listed in one ConfigError naming the file."""
    path = Path(path)
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: questionnaire definition does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a questionnaire definition is a mapping (title, scales, rounds, index, "
                          "questions)")
    try:
        definition = Definition.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{_where(e['loc'], raw)}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"{path}: invalid questionnaire definition:\n  " + "\n  ".join(problems)) from None
    problems = _cross_checks(definition)
    if problems:
        raise ConfigError(f"{path}: invalid questionnaire definition:\n  " + "\n  ".join(problems))
    loaded = Questionnaire(path, definition.title, definition.form_version, definition.scales, definition.dont_know,
                           definition.rounds, definition.index, tuple(definition.questions))
    loaded.index_config()   # the `index:` block is checked now too, not when the first build scores countries
    return loaded


@lru_cache(maxsize=1)
def itu_member_states() -> dict[str, str]:
    """ISO3 -> ITU region code of the 193 ITU Member States."""
    with ITU_REGIONS_FILE.open(encoding="utf-8", newline="") as handle:
        return {row["iso3"]: row["itu_region_code"] for row in csv.DictReader(handle)
                if row["iso3"] not in NOT_ITU_MEMBER_STATES}


def questionnaire(path: Path | str = DEFINITION_FILE) -> Questionnaire:
    """The questionnaire definition, read once per process as long as the file does not change (a long-running
    Dagster process sees an edited questionnaire.yaml at its next run)."""
    if not Path(path).is_file():
        return load_questionnaire(path)   # the ConfigError that names the missing file
    return _questionnaire(str(path), sha256_file(Path(path)))


@lru_cache(maxsize=4)
def _questionnaire(path: str, sha256: str) -> Questionnaire:
    return load_questionnaire(Path(path))
