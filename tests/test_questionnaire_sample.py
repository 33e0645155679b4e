"""Checks on the SYNTHETIC COP national questionnaire sample (data/sample/questionnaire/) and its generator."""

import csv
from collections import Counter

import pytest

from indicators.sources.national_questionnaire.definition import questionnaire
from indicators.synthetic.questionnaire_sample import (
    DEFAULT_OUTPUT_DIR,
    DEFAULT_SEED,
    HEADER_FIELDS,
    MAX_COUNT,
    output_path,
    read_development_groups,
    write_questionnaire_sample,
)
from schemas.national_questionnaire import GCA_PILLARS

ROUNDS = (2009, 2024)


def _read(round_: int) -> list[dict[str, str]]:
    with output_path(round_).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def samples() -> dict[int, list[dict[str, str]]]:
    return {round_: _read(round_) for round_ in ROUNDS}


def _answer_cells(rows: list[dict[str, str]], round_: int) -> list[str]:
    """The cells of choice and count questions (free text has no "don't know")."""
    questions = [q for q in questionnaire().round_questions(round_) if q.type != "text"]
    return [row[q.id] for row in rows for q in questions]


def test_regeneration_is_byte_identical(tmp_path):
    paths = write_questionnaire_sample(tmp_path, seed=DEFAULT_SEED)
    assert [p.name for p in paths] == ["responses_2009.csv", "responses_2024.csv"]
    for path in paths:
        assert path.read_bytes() == (DEFAULT_OUTPUT_DIR / path.name).read_bytes()


def test_header_is_the_form_order(samples):
    for round_ in ROUNDS:
        with output_path(round_).open(encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle))
        ids = [q.id for q in questionnaire().round_questions(round_)]
        assert header == [*HEADER_FIELDS, *ids]
        assert len(ids) == 40


def test_respondents_are_invited_once_and_counted(samples):
    definition = questionnaire()
    for round_, rows in samples.items():
        countries = [row["country"] for row in rows]
        assert countries == sorted(set(countries))
        assert set(countries) <= set(definition.invited(round_))
        assert {row["round"] for row in rows} == {str(round_)}
    assert len(definition.invited(2009)) == 191 and len(samples[2009]) == 51
    assert len(definition.invited(2024)) == 193 and 70 <= len(samples[2024]) <= 90


def test_every_region_and_development_group_has_three_respondents(samples):
    definition = questionnaire()
    groups = read_development_groups()
    for round_, rows in samples.items():
        regions = Counter(definition.invited(round_)[row["country"]] for row in rows)
        assert set(regions) == {"ITU_AFR", "ITU_AMS", "ITU_ARB", "ITU_ASP", "ITU_CIS", "ITU_EUR"}
        assert min(regions.values()) >= 3, (round_, regions)
        development = Counter(groups[row["country"]] for row in rows)
        assert min(development[g] for g in ("developed", "developing", "ldc")) >= 3, (round_, development)


def test_2009_respondents_respond_more_often_in_2024(samples):
    responded_2009 = {row["country"] for row in samples[2009]}
    responded_2024 = {row["country"] for row in samples[2024]}
    others = set(questionnaire().invited(2024)) - responded_2009
    assert len(responded_2024 & responded_2009) / len(responded_2009) > len(responded_2024 & others) / len(others)


def test_every_answer_is_allowed_by_the_definition(samples):
    definition = questionnaire()
    for round_, rows in samples.items():
        for row in rows:
            assert row["respondent_agency"].startswith("SYNTHETIC ")
            assert row["submitted"].startswith(f"{round_}-") and len(row["submitted"]) == 10
            for q in definition.round_questions(round_):
                answer = row[q.id]
                if answer == "" or q.type == "text":
                    continue
                if q.type == "choice":
                    assert answer in definition.choices(q), (row["country"], q.id, answer)
                else:
                    assert answer == definition.dont_know or (
                        answer.isdigit() and 0 <= int(answer) <= MAX_COUNT[q.id]), (row["country"], q.id, answer)


def test_counts_include_zeros_and_the_range(samples):
    for q_id, top in MAX_COUNT.items():
        values = [int(row[q_id]) for rows in samples.values() for row in rows if row[q_id].isdigit()]
        assert 0 in values and max(values) <= top and max(values) >= 2


def test_inhope_yes_only_with_a_hotline(samples):
    for rows in samples.values():
        assert all(row["Q5.3"] == "yes" for row in rows if row["Q5.4"] == "yes")
        assert any(row["Q5.4"] == "yes" for row in rows)


def test_dont_know_and_unanswered_shares(samples):
    dont_know = questionnaire().dont_know
    for round_, rows in samples.items():
        cells = _answer_cells(rows, round_)
        dont_know_share = sum(c == dont_know for c in cells) / len(cells)
        blank_share = sum(c == "" for c in cells) / len(cells)
        assert 0.03 <= dont_know_share <= 0.08, (round_, dont_know_share)
        assert 0.02 <= blank_share <= 0.06, (round_, blank_share)


def test_some_countries_fall_below_the_availability_threshold(samples):
    definition = questionnaire()
    for round_, rows in samples.items():
        scored = [q for q in definition.round_questions(round_) if definition.scored(q)]
        below = set()
        for row in rows:
            for pillar in GCA_PILLARS:
                items = [q for q in scored if q.pillar == pillar]
                if sum(row[q.id] != "" for q in items) / len(items) < 0.6:
                    below.add(row["country"])
        assert 1 <= len(below) <= len(rows) // 5, (round_, below)


def test_roadmap_answers_are_mostly_cumulative(samples):
    """Where a pillar's improvement item is "yes", its assessment item is mostly "yes" too."""
    checklist = questionnaire().checklist()
    first = {q.pillar: q.id for q in checklist if q.stage == "assessment"}
    last = {q.pillar: q.id for q in checklist if q.stage == "improvement"}
    pairs = [(row[first[p]], row[last[p]]) for rows in samples.values() for row in rows for p in GCA_PILLARS]
    with_improvement = [assessment for assessment, improvement in pairs if improvement == "yes"]
    assert len(with_improvement) >= 20
    assert sum(a == "yes" for a in with_improvement) / len(with_improvement) >= 0.8


def test_capacity_rises_from_2009_to_2024(samples):
    def yes_share(rows):
        cells = [row[q.id] for row in rows for q in questionnaire().checklist() if q.type == "choice"]
        return sum(c == "yes" for c in cells) / len(cells)

    assert yes_share(samples[2024]) > yes_share(samples[2009])
