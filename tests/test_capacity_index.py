"""The COP national capacity index (NC.11): pillar and overall scores recomputed by hand for three constructed
countries, Cronbach's alpha and the pillar-overall correlations, the Monte Carlo of weights, aggregation and
missing-answer treatment, and the checks of the questionnaire's `index:` block."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from indicators.errors import ConfigError
from indicators.sources.national_questionnaire.capacity_index import (
    SCORE_COLUMNS, IndexConfig, MonteCarloConfig, capacity_scores, cronbach_alpha, monte_carlo_draws,
    monte_carlo_ranks, overall_scores, pillar_audit, pillar_scores, ranks_within_draws)
from schemas.national_questionnaire import GCA_PILLARS

DK, BLANK = "dk", None  # shorthands in the answer tables below
PREFIX = {"legal": "L", "technical": "T", "organizational": "O", "capacity_building": "B", "cooperation": "C"}


def items_frame(answers: dict[str, dict[str, list]], round_: int = 2009) -> pd.DataFrame:
    """item_scores of the contract from {country: {pillar: [score | DK | BLANK, ...]}}."""
    rows = []
    for country, pillars in answers.items():
        for pillar, values in pillars.items():
            for i, value in enumerate(values, start=1):
                status = "dont_know" if value == DK else "unanswered" if value is BLANK else "answered"
                rows.append({"country": country, "round": round_, "pillar": pillar, "item": f"{PREFIX[pillar]}{i}",
                             "status": status, "score": float(value) if status == "answered" else np.nan})
    return pd.DataFrame(rows)


# AAA answered everything; BBB has "don't know" and blank items but meets the 0.6 threshold on every pillar
# (2 of 3 items with an answer); CCC answered 1 of 3 legal items, below the threshold
THREE = {
    "AAA": {"legal": [1, 0.5, 0], "technical": [1, 1, 0.5], "organizational": [0.25, 0.75, 1],
            "capacity_building": [0, 0, 0], "cooperation": [1, 1, 1]},
    "BBB": {"legal": [1, DK, BLANK], "technical": [0.5, 0.5, 1], "organizational": [DK, DK, 1],
            "capacity_building": [0.75, BLANK, 0.25], "cooperation": [DK, DK, BLANK]},
    "CCC": {"legal": [1, BLANK, BLANK], "technical": [1, 1, 1], "organizational": [0.5, 0.5, 0.5],
            "capacity_building": [1, 0, 1], "cooperation": [0.25, 0.25, 0.25]},
}

AAA_PILLARS = [100 * (1 + 0.5 + 0) / 3, 100 * (1 + 1 + 0.5) / 3, 100 * (0.25 + 0.75 + 1) / 3, 100 * (0 + 0 + 0) / 3,
               100 * (1 + 1 + 1) / 3]
BBB_PILLARS = {
    # "don't know" scores 0, blanks are left out
    "dont_know_as_no": [100 * (1 + 0) / 2, 100 * (0.5 + 0.5 + 1) / 3, 100 * (0 + 0 + 1) / 3,
                        100 * (0.75 + 0.25) / 2, 100 * (0 + 0) / 2],
    # both left out: cooperation has no item left
    "excluded": [100 * 1 / 1, 100 * (0.5 + 0.5 + 1) / 3, 100 * 1 / 1, 100 * (0.75 + 0.25) / 2, math.nan],
    # both score 0
    "as_no": [100 * (1 + 0 + 0) / 3, 100 * (0.5 + 0.5 + 1) / 3, 100 * (0 + 0 + 1) / 3,
              100 * (0.75 + 0 + 0.25) / 3, 100 * (0 + 0 + 0) / 3],
}
CCC_PILLARS = [math.nan, 100 * (1 + 1 + 1) / 3, 100 * (0.5 + 0.5 + 0.5) / 3, 100 * (1 + 0 + 1) / 3,
               100 * (0.25 + 0.25 + 0.25) / 3]


def as_table(frame: pd.DataFrame, column: str) -> dict:
    return {(r.country, r.pillar): getattr(r, column) for r in frame.itertuples()}


def assert_close(actual, expected) -> None:
    assert actual == pytest.approx(expected, rel=1e-12, abs=1e-12, nan_ok=True)


# ------------------------------------------------------------------------------------------ pillar scores
@pytest.mark.parametrize("treatment", ["dont_know_as_no", "excluded", "as_no"])
def test_pillar_scores_by_hand_under_each_treatment(treatment):
    frame = pillar_scores(items_frame(THREE), IndexConfig(missing=treatment))
    assert list(frame.columns) == ["country", "round", "pillar", "score", "items", "answered", "dont_know",
                                   "available"]
    assert len(frame) == 15 and set(frame["round"]) == {2009}
    scores = as_table(frame, "score")
    for country, expected in (("AAA", AAA_PILLARS), ("BBB", BBB_PILLARS[treatment]), ("CCC", CCC_PILLARS)):
        assert_close([scores[(country, p)] for p in GCA_PILLARS], expected)


def test_pillar_counts_and_availability():
    frame = pillar_scores(items_frame(THREE), IndexConfig())
    counts = {key: (r.items, r.answered, r.dont_know, r.available)
              for key, r in zip(zip(frame["country"], frame["pillar"]), frame.itertuples())}
    assert counts[("AAA", "legal")] == (3, 3, 0, True)
    assert counts[("BBB", "legal")] == (3, 1, 1, True)  # (1 + 1) / 3 = 0.67 >= 0.6
    assert counts[("BBB", "organizational")] == (3, 1, 2, True)
    assert counts[("BBB", "cooperation")] == (3, 0, 2, True)
    assert counts[("CCC", "legal")] == (3, 1, 0, False)  # 1 / 3 < 0.6
    # the pillars come in GCA order within each country
    assert frame["pillar"].tolist()[:5] == list(GCA_PILLARS)


def test_availability_threshold_is_configurable():
    items = items_frame(THREE)
    # a third of the items suffices: CCC's one legal answer gives it a legal score (the blanks are left out)
    low = as_table(pillar_scores(items, IndexConfig(min_answered_share=1 / 3)), "score")
    assert_close(low[("CCC", "legal")], 100 * 1 / 1)
    # every item needed: BBB's blanks take its legal, capacity building and cooperation scores away
    strict = as_table(pillar_scores(items, IndexConfig(min_answered_share=1.0)), "score")
    assert [math.isnan(strict[("BBB", p)]) for p in GCA_PILLARS] == [True, False, False, True, True]
    assert_close(strict[("AAA", "legal")], 100 * (1 + 0.5 + 0) / 3)


# ----------------------------------------------------------------------------------------- overall score
def overall(items: pd.DataFrame, config: IndexConfig, **kwargs) -> dict:
    frame = overall_scores(pillar_scores(items, config), config, **kwargs)
    assert list(frame.columns) == ["country", "round", "overall"]
    return dict(zip(frame["country"], frame["overall"]))


@pytest.mark.parametrize("treatment", ["dont_know_as_no", "excluded", "as_no"])
def test_overall_arithmetic_by_hand(treatment):
    scores = overall(items_frame(THREE), IndexConfig(missing=treatment))
    assert_close(scores["AAA"], (100 * 1.5 / 3 + 100 * 2.5 / 3 + 100 * 2 / 3 + 0 + 100) / 5)
    expected_bbb = {"dont_know_as_no": (50 + 100 * 2 / 3 + 100 / 3 + 50 + 0) / 5,
                    "excluded": math.nan,  # cooperation has no item left
                    "as_no": (100 / 3 + 100 * 2 / 3 + 100 / 3 + 100 / 3 + 0) / 5}[treatment]
    assert_close(scores["BBB"], expected_bbb)
    assert math.isnan(scores["CCC"])  # below the threshold on the legal pillar


@pytest.mark.parametrize("treatment", ["dont_know_as_no", "excluded", "as_no"])
def test_overall_geometric_by_hand(treatment):
    scores = overall(items_frame(THREE), IndexConfig(missing=treatment, aggregation="geometric"))
    # AAA's capacity building is 0: the +1 shift keeps its overall score above 0
    aaa = ((1 + 100 * 1.5 / 3) * (1 + 100 * 2.5 / 3) * (1 + 100 * 2 / 3) * (1 + 0) * (1 + 100)) ** (1 / 5) - 1
    assert_close(scores["AAA"], aaa)
    assert 0 < scores["AAA"] < (100 * 1.5 / 3 + 100 * 2.5 / 3 + 100 * 2 / 3 + 0 + 100) / 5  # below arithmetic
    expected_bbb = {
        "dont_know_as_no": ((1 + 50) * (1 + 100 * 2 / 3) * (1 + 100 / 3) * (1 + 50) * (1 + 0)) ** (1 / 5) - 1,
        "excluded": math.nan,
        "as_no": ((1 + 100 / 3) * (1 + 100 * 2 / 3) * (1 + 100 / 3) * (1 + 100 / 3) * (1 + 0)) ** (1 / 5) - 1,
    }[treatment]
    assert_close(scores["BBB"], expected_bbb)
    assert math.isnan(scores["CCC"])


def test_overall_with_unequal_configured_weights():
    # 2 : 1 : 1 : 0.5 : 0.5, normalised to 0.4, 0.2, 0.2, 0.1, 0.1
    weights = {"legal": 2, "technical": 1, "organizational": 1, "capacity_building": 0.5, "cooperation": 0.5}
    config = IndexConfig.from_mapping({"weights": weights}, "questionnaire.yaml")
    assert_close(list(config.normalised_weights()), [0.4, 0.2, 0.2, 0.1, 0.1])
    arithmetic = overall(items_frame(THREE), config)
    assert_close(arithmetic["AAA"], (2 * 50 + 1 * 100 * 2.5 / 3 + 1 * 100 * 2 / 3 + 0.5 * 0 + 0.5 * 100) / 5)
    assert_close(arithmetic["BBB"], (2 * 50 + 1 * 100 * 2 / 3 + 1 * 100 / 3 + 0.5 * 50 + 0.5 * 0) / 5)
    geometric = overall(items_frame(THREE), config, aggregation="geometric")
    assert_close(geometric["AAA"], (1 + 50) ** 0.4 * (1 + 100 * 2.5 / 3) ** 0.2 * (1 + 100 * 2 / 3) ** 0.2
                 * (1 + 0) ** 0.1 * (1 + 100) ** 0.1 - 1)


def test_geometric_stays_within_0_and_100():
    full = {"AAA": {p: [1, 1] for p in GCA_PILLARS}, "BBB": {p: [0, 0] for p in GCA_PILLARS}}
    scores = overall(items_frame(full), IndexConfig(aggregation="geometric"))
    assert scores == {"AAA": 100.0, "BBB": 0.0}


def test_capacity_scores_release_layout():
    table = capacity_scores(items_frame(THREE), IndexConfig())
    assert list(table.columns) == SCORE_COLUMNS
    assert len(table) == 3 * 6
    assert table["PILLAR"].tolist()[:6] == [*GCA_PILLARS, "overall"]
    rows = table.set_index(["REF_AREA", "PILLAR"])
    assert tuple(rows.loc[("BBB", "overall"), ["ITEMS", "ITEMS_ANSWERED", "ITEMS_DONT_KNOW"]]) == \
        (15, 1 + 3 + 1 + 2 + 0, 1 + 0 + 2 + 0 + 2)
    assert_close(rows.loc[("BBB", "overall"), "SCORE"], (50 + 100 * 2 / 3 + 100 / 3 + 50 + 0) / 5)
    assert_close(rows.loc[("BBB", "legal"), "SCORE"], 100 * (1 + 0) / 2)
    assert math.isnan(rows.loc[("CCC", "overall"), "SCORE"]) and math.isnan(rows.loc[("CCC", "legal"), "SCORE"])
    assert set(table["TIME_PERIOD"]) == {2009} and table["ITEMS"].dtype == "int64"


# -------------------------------------------------------------------------------------------------- audit
ALPHA_ITEMS = [[1, 0.5, 1], [0.5, 0.5, 0], [0, 0, 0.5]]  # 3 countries x 3 items


def test_cronbach_alpha_by_hand():
    # item variances (ddof=1): 0.25, 1/12, 0.25; row sums 2.5, 1, 0.5 with mean 4/3 -> variance 13/12
    assert cronbach_alpha(np.array(ALPHA_ITEMS)) == pytest.approx(3 / 2 * (1 - (0.25 + 1 / 12 + 0.25) / (13 / 12)))
    # two identical items: alpha 1
    assert cronbach_alpha(np.array([[1, 1], [0.5, 0.5], [0, 0]])) == pytest.approx(1.0)
    assert math.isnan(cronbach_alpha(np.array(ALPHA_ITEMS[:2])))  # 2 countries
    assert math.isnan(cronbach_alpha(np.array([[1], [0.5], [0]])))  # 1 item


def audit_items() -> pd.DataFrame:
    """Four countries: legal is the 3x3 alpha example for AAA-CCC, DDD's legal has a "don't know" (left out of
    alpha, kept in the scores); only AAA and BBB answered every organizational item; cooperation has one item."""
    legal = dict(zip(["AAA", "BBB", "CCC"], ALPHA_ITEMS)) | {"DDD": [DK, 1, 1]}
    technical = {"AAA": [1, 0.75], "BBB": [0.5, 0.5], "CCC": [0.25, 0.5], "DDD": [0, 0.25]}
    organizational = {"AAA": [1, 1], "BBB": [0.5, 0], "CCC": [DK, 1], "DDD": [DK, 0.5]}
    building = {"AAA": [0.5, 1], "BBB": [1, 0.5], "CCC": [0, 0.25], "DDD": [0.75, 0.75]}
    cooperation = {"AAA": [1], "BBB": [0], "CCC": [0.5], "DDD": [1]}
    return items_frame({c: {"legal": legal[c], "technical": technical[c], "organizational": organizational[c],
                            "capacity_building": building[c], "cooperation": cooperation[c]}
                        for c in ["AAA", "BBB", "CCC", "DDD"]})


def test_pillar_audit_alpha_and_correlations():
    items, config = audit_items(), IndexConfig()
    table = pillar_audit(items, config)
    assert list(table.columns) == ["TIME_PERIOD", "PILLAR", "ITEMS", "COUNTRIES", "CRONBACH_ALPHA",
                                   "CORR_WITH_OVERALL"]
    assert table["PILLAR"].tolist() == list(GCA_PILLARS) and set(table["TIME_PERIOD"]) == {2009}
    audit = table.set_index("PILLAR")
    assert audit.loc["legal", "CRONBACH_ALPHA"] == pytest.approx(3 / 2 * (1 - (0.25 + 1 / 12 + 0.25) / (13 / 12)))
    assert tuple(audit.loc["legal", ["ITEMS", "COUNTRIES"]]) == (3, 3)  # DDD's "don't know" leaves it out
    technical = np.array([[1, 0.75], [0.5, 0.5], [0.25, 0.5], [0, 0.25]])
    assert audit.loc["technical", "CRONBACH_ALPHA"] == pytest.approx(
        2 * (1 - technical.var(axis=0, ddof=1).sum() / technical.sum(axis=1).var(ddof=1)))
    assert audit.loc["organizational", "COUNTRIES"] == 2 and math.isnan(audit.loc["organizational",
                                                                                  "CRONBACH_ALPHA"])
    assert audit.loc["cooperation", "ITEMS"] == 1 and math.isnan(audit.loc["cooperation", "CRONBACH_ALPHA"])
    # every country has an overall score; each pillar's correlation is numpy's over the four of them
    pillars = pillar_scores(items, config)
    total = overall_scores(pillars, config).set_index("country")["overall"]
    assert total.notna().all()
    for pillar in GCA_PILLARS:
        score = pillars[pillars["pillar"] == pillar].set_index("country")["score"].reindex(total.index)
        assert audit.loc[pillar, "CORR_WITH_OVERALL"] == pytest.approx(
            np.corrcoef(score.to_numpy(), total.to_numpy())[0, 1], rel=1e-12)


# -------------------------------------------------------------------------------------------- Monte Carlo
def synthetic_items(countries: int = 25, per_pillar: int = 4, seed: int = 5, rounds=(2009, 2024)) -> pd.DataFrame:
    """Random answers with continuous scores (no tied overall scores), ~10 % "don't know" and ~10 % blank."""
    rng = np.random.default_rng(seed)
    rows = []
    for round_ in rounds:
        for c in range(countries):
            for pillar in GCA_PILLARS:
                for i in range(per_pillar):
                    status = rng.choice(["answered", "dont_know", "unanswered"], p=[0.8, 0.1, 0.1])
                    rows.append({"country": f"C{c:02d}", "round": round_, "pillar": pillar, "item": f"{pillar}{i}",
                                 "status": status, "score": rng.random() if status == "answered" else np.nan})
    return pd.DataFrame(rows)


def with_monte_carlo(config: IndexConfig = IndexConfig(), **settings) -> IndexConfig:
    mc = {name: getattr(config.monte_carlo, name) for name in MonteCarloConfig.__dataclass_fields__} | settings
    return IndexConfig(config.weights, config.aggregation, config.missing, config.min_answered_share,
                       MonteCarloConfig(**mc))


def test_ranks_within_draws_min_method_and_missing():
    ranks = ranks_within_draws(np.array([[50, 70, 50, np.nan, 90], [np.nan, np.nan, 1, 1, 0]]))
    np.testing.assert_array_equal(ranks, [[3, 2, 3, np.nan, 1], [np.nan, np.nan, 1, 1, 3]])


def test_monte_carlo_is_reproducible_with_its_seed():
    items = synthetic_items()
    config = with_monte_carlo(draws=400, seed=7)
    first, again = monte_carlo_ranks(items, config), monte_carlo_ranks(items, config)
    pd.testing.assert_frame_equal(first, again)
    other = monte_carlo_ranks(items, with_monte_carlo(draws=400, seed=8))
    # the nominal columns do not depend on the seed, the intervals do
    pd.testing.assert_frame_equal(first[["REF_AREA", "TIME_PERIOD", "SCORE", "RANK"]],
                                  other[["REF_AREA", "TIME_PERIOD", "SCORE", "RANK"]])
    assert not np.allclose(first["SCORE_P05"], other["SCORE_P05"])


@pytest.mark.parametrize("aggregation", ["arithmetic", "geometric"])
@pytest.mark.parametrize("treatment", ["dont_know_as_no", "excluded", "as_no"])
def test_nominal_draw_equals_the_deterministic_index(aggregation, treatment):
    items = synthetic_items()
    weights = {"legal": 3, "technical": 1, "organizational": 2, "capacity_building": 1, "cooperation": 1}
    config = with_monte_carlo(IndexConfig(weights=weights, aggregation=aggregation, missing=treatment), draws=300)
    draws = monte_carlo_draws(items, config)
    nominal = overall_scores(pillar_scores(items, config), config)
    table = monte_carlo_ranks(items, config)
    assert [one.round for one in draws.rounds] == [2009, 2024]
    for one in draws.rounds:
        expected = nominal[nominal["round"] == one.round].set_index("country")["overall"]
        assert list(one.countries) == expected.index.tolist()
        np.testing.assert_array_equal(one.scores[0], expected.to_numpy())  # exactly, not approximately
        ranked = table[table["TIME_PERIOD"] == one.round].set_index("REF_AREA")
        scored = expected.dropna()
        assert sorted(ranked.index) == sorted(scored.index)
        np.testing.assert_array_equal(ranked.loc[scored.index, "SCORE"], scored.to_numpy())
        np.testing.assert_array_equal(ranked.loc[scored.index, "RANK"],
                                      scored.rank(method="min", ascending=False).astype(int).to_numpy())
        assert (ranked["COUNTRIES_RANKED"] == len(scored)).all()
    assert draws.treatment[0] == treatment and draws.aggregation[0] == aggregation
    np.testing.assert_array_equal(draws.weights[0], config.normalised_weights())


def test_each_draw_is_the_index_under_its_configuration():
    """The vectorised overall scores of a draw equal the deterministic index run with that draw's weights,
    aggregation and treatment."""
    items = synthetic_items(rounds=(2009,))
    config = with_monte_carlo(draws=200, seed=11)
    draws = monte_carlo_draws(items, config)
    one = draws.rounds[0]
    checked = set()
    for d in range(1, 200):
        kind = (draws.treatment[d], draws.aggregation[d])
        if kind in checked:
            continue
        checked.add(kind)
        at_draw = IndexConfig(weights=dict(zip(GCA_PILLARS, draws.weights[d])), aggregation=draws.aggregation[d],
                              missing=draws.treatment[d])
        expected = overall_scores(pillar_scores(items, at_draw), at_draw)["overall"].to_numpy()
        np.testing.assert_allclose(one.scores[d], expected, rtol=1e-12)
    assert len(checked) == 6  # every treatment with every aggregation was drawn and checked


def test_weight_draws_centre_on_the_nominal_weights():
    weights = {"legal": 2, "technical": 1, "organizational": 1, "capacity_building": 0.5, "cooperation": 0.5}
    config = with_monte_carlo(IndexConfig(weights=weights), draws=4000, concentration=20,
                              treatments=("as_no",), aggregations=("geometric",))
    draws = monte_carlo_draws(synthetic_items(countries=4, rounds=(2009,)), config)
    np.testing.assert_allclose(draws.weights.sum(axis=1), 1.0)
    # Dirichlet(20 x 5 x w): mean w, standard deviation sqrt(w (1 - w) / 101), e.g. 0.049 for 0.4
    np.testing.assert_allclose(draws.weights.mean(axis=0), [0.4, 0.2, 0.2, 0.1, 0.1], atol=0.005)
    assert draws.weights[1:, 0].std() == pytest.approx(math.sqrt(0.4 * 0.6 / 101), rel=0.05)
    # draw 0 is nominal (arithmetic, dont_know_as_no), the others take the only configured choices
    assert set(draws.treatment[1:]) == {"as_no"} and set(draws.aggregation[1:]) == {"geometric"}
    assert (draws.treatment[0], draws.aggregation[0]) == ("dont_know_as_no", "arithmetic")


def test_concentrated_draws_give_the_nominal_rank():
    items = synthetic_items()
    config = with_monte_carlo(draws=500, concentration=1e12, treatments=("dont_know_as_no",),
                              aggregations=("arithmetic",))
    table = monte_carlo_ranks(items, config)
    assert len(table) > 40
    assert (table["RANK_P05"] == table["RANK"]).all() and (table["RANK_P95"] == table["RANK"]).all()
    assert (table["RANK_MEDIAN"] == table["RANK"]).all() and (table["DRAWS"] == 500).all()
    np.testing.assert_allclose(table["SCORE_P05"], table["SCORE"], rtol=1e-6)
    np.testing.assert_allclose(table["SCORE_P95"], table["SCORE"], rtol=1e-6)


def test_rank_intervals_under_default_draws():
    table = monte_carlo_ranks(synthetic_items(), with_monte_carlo(draws=1000))
    assert (table["RANK_P05"] <= table["RANK_MEDIAN"]).all() and (table["RANK_MEDIAN"] <= table["RANK_P95"]).all()
    assert (table["RANK_P05"] >= 1).all() and (table["RANK_P95"] <= table["COUNTRIES_RANKED"]).all()
    assert (table["SCORE_P05"] <= table["SCORE_P95"]).all()
    assert (table["RANK_P95"] > table["RANK_P05"]).any()  # weights, aggregation and treatment do move ranks


def test_a_country_without_a_score_in_a_draw_is_left_out_of_it():
    # DDD answered "don't know" to every cooperation item: a score of 0 nominally, none when they are excluded
    answers = {c: {p: [v, v] for p in GCA_PILLARS} for c, v in (("AAA", 1), ("BBB", 0.5), ("CCC", 0.25))}
    answers["DDD"] = {p: [0.75, 0.75] for p in GCA_PILLARS} | {"cooperation": [DK, DK]}
    config = with_monte_carlo(draws=50, treatments=("excluded",), aggregations=("arithmetic",))
    table = monte_carlo_ranks(items_frame(answers), config).set_index("REF_AREA")
    assert table.loc["DDD", "DRAWS"] == 1  # the nominal draw only
    assert (table.loc[["AAA", "BBB", "CCC"], "DRAWS"] == 50).all()
    # nominally DDD (4 x 75 + 0) / 5 = 60 ranks 2nd, above BBB's 50; without it BBB is 2nd in the other draws
    assert table.loc["DDD", "SCORE"] == pytest.approx((4 * 75 + 0) / 5)
    assert tuple(table.loc["DDD", ["RANK", "RANK_MEDIAN"]]) == (2, 2)
    assert tuple(table.loc["BBB", ["RANK", "RANK_MEDIAN", "RANK_P05"]]) == (3, 2, 2)
    assert (table["COUNTRIES_RANKED"] == 4).all()


# ---------------------------------------------------------------------------------------- configuration
def test_config_from_mapping_defaults_and_partial_weights():
    assert IndexConfig.from_mapping(None, "questionnaire.yaml") == IndexConfig()
    default = IndexConfig()
    assert default.weights == dict.fromkeys(GCA_PILLARS, 1.0) and default.min_answered_share == 0.6
    assert (default.aggregation, default.missing) == ("arithmetic", "dont_know_as_no")
    assert (default.monte_carlo.draws, default.monte_carlo.seed, default.monte_carlo.concentration) == \
        (10_000, 2009, 20.0)
    config = IndexConfig.from_mapping({"weights": {"legal": 2}, "aggregation": "geometric",
                                       "monte_carlo": {"draws": 100, "treatments": ["as_no", "excluded"]}},
                                      "questionnaire.yaml")
    assert config.weights == {"legal": 2.0, "technical": 1.0, "organizational": 1.0, "capacity_building": 1.0,
                              "cooperation": 1.0}
    assert config.monte_carlo == MonteCarloConfig(draws=100, treatments=("as_no", "excluded"))


@pytest.mark.parametrize("block, message", [
    ({"weights": {"legal": -1}}, "questionnaire.yaml: index.weights.legal must be a positive number, got -1"),
    ({"weights": {"legal": 0}}, "questionnaire.yaml: index.weights.legal must be a positive number, got 0"),
    ({"weights": {"cooperation": "high"}},
     "questionnaire.yaml: index.weights.cooperation must be a positive number, got 'high'"),
    ({"weights": {"technical": True}}, "questionnaire.yaml: index.weights.technical must be a positive number, "
                                       "got True"),
    ({"weights": {"legl": 1}}, "questionnaire.yaml: index.weights.legl is not a GCA pillar (the pillars: legal, "
                               "technical, organizational, capacity_building, cooperation)"),
    ({"weigths": {"legal": 1}}, "questionnaire.yaml: index.weigths is not a setting of index (the settings: "
                                "weights, aggregation, missing, min_answered_share, monte_carlo)"),
    ({"aggregation": "harmonic"},
     "questionnaire.yaml: index.aggregation must be one of arithmetic, geometric, got 'harmonic'"),
    ({"missing": "as_yes"},
     "questionnaire.yaml: index.missing must be one of dont_know_as_no, excluded, as_no, got 'as_yes'"),
    ({"min_answered_share": 0}, "questionnaire.yaml: index.min_answered_share must be a number greater than 0 "
                                "and at most 1 (a share of a pillar's items), got 0"),
    ({"min_answered_share": 60}, "questionnaire.yaml: index.min_answered_share must be a number greater than 0 "
                                 "and at most 1 (a share of a pillar's items), got 60"),
    ({"monte_carlo": {"draws": 0}},
     "questionnaire.yaml: index.monte_carlo.draws must be a whole number of at least 1, got 0"),
    ({"monte_carlo": {"draws": 100.5}},
     "questionnaire.yaml: index.monte_carlo.draws must be a whole number of at least 1, got 100.5"),
    ({"monte_carlo": {"seed": -3}},
     "questionnaire.yaml: index.monte_carlo.seed must be a whole number of at least 0, got -3"),
    ({"monte_carlo": {"concentration": 0}},
     "questionnaire.yaml: index.monte_carlo.concentration must be a positive number, got 0"),
    ({"monte_carlo": {"aggregations": ["arithmetic", "median"]}},
     "questionnaire.yaml: index.monte_carlo.aggregations must be a list of one or more of arithmetic, geometric, "
     "got 'median' in the list"),
    ({"monte_carlo": {"treatments": []}}, "questionnaire.yaml: index.monte_carlo.treatments must be a list of one "
                                          "or more of dont_know_as_no, excluded, as_no, got []"),
    ({"monte_carlo": {"treatments": "as_no"}}, "questionnaire.yaml: index.monte_carlo.treatments must be a list "
                                               "of one or more of dont_know_as_no, excluded, as_no, got 'as_no'"),
    ({"monte_carlo": {"sed": 1}}, "questionnaire.yaml: index.monte_carlo.sed is not a setting of "
                                  "index.monte_carlo (the settings: draws, seed, concentration, aggregations, "
                                  "treatments)"),
    ({"monte_carlo": 10000}, "questionnaire.yaml: index.monte_carlo must be a mapping of settings (draws, seed, "
                             "concentration, aggregations, treatments), got 10000"),
])
def test_config_errors_name_the_file_and_the_key(block, message):
    with pytest.raises(ConfigError) as caught:
        IndexConfig.from_mapping(block, "questionnaire.yaml")
    assert str(caught.value) == message


def test_config_block_must_be_a_mapping_and_direct_construction_is_checked():
    with pytest.raises(ConfigError, match=r"^questionnaire.yaml: index must be a mapping of settings \(weights, "):
        IndexConfig.from_mapping(["legal", "technical"], "questionnaire.yaml")
    with pytest.raises(ConfigError, match=r"^IndexConfig: index.aggregation must be one of arithmetic, geometric, "
                                          r"got 'mean'$"):
        IndexConfig(aggregation="mean")
    with pytest.raises(ConfigError, match=r"^IndexConfig: index.monte_carlo.draws must be a whole number"):
        MonteCarloConfig(draws=0)
