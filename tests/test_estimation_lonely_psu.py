"""Lonely PSUs, domains with a single PSU in a stratum, fpc (population sizes and fractions), missing items in
whole PSUs and a whole stratum, missing domain values, designs R refuses, and contrasts between two domains:
every lonely-PSU policy against R's survey (tests/reference/make_reference.R, run with R 4.2.2 and survey 4.1.1;
results in lonely_psu_reference.csv). Estimates and SEs to a relative error of 1e-9, intervals to 1e-6, design
degrees of freedom exactly."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from indicators.estimation.taylor import (Contrast, Design, DesignError, Estimand, LonelyPsuError, estimate,
                                          estimate_with_contrasts)

HERE = Path(__file__).resolve().parent / "reference"
TOLERANCE = 1e-9
CI_TOLERANCE = 1e-6
SMALL_CASES = ("lonely", "domain_lonely", "lonely_fpc", "lonely_fpc_certain", "domain_lonely_fpc", "missing_y",
               "item_missing", "item_missing_fpc", "fpc_fraction", "domain_missing")
ESTIMATORS = {"svymean": "mean", "svytotal": "total", "svyratio": "ratio", "svyciprop_logit": "proportion"}


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    connection.execute(f"CREATE TABLE small AS SELECT * FROM read_csv('{HERE / 'small_designs.csv'}')")
    yield connection
    connection.close()


def reference() -> pd.DataFrame:
    rows = pd.read_csv(HERE / "lonely_psu_reference.csv", keep_default_na=False, na_values=[""])
    return rows[~rows["adjust_domain_lonely"]]


def cases(estimators: tuple[str, ...]) -> list[dict]:
    rows = reference()
    rows = rows[rows["case"].isin(SMALL_CASES) & rows["estimator"].isin(estimators)]
    # svyby stops at the first domain that fails (lonely.psu = "fail"), and so does the engine, which estimates
    # every domain in one call: a domain R could estimate alone fails with its sibling
    failing = set(map(tuple, rows.loc[rows["error"].notna(), ["case", "lonely_psu", "estimator"]].values))
    rows = rows.assign(fails=[(c, p, e) in failing for c, p, e in rows[["case", "lonely_psu", "estimator"]].values])
    return rows.to_dict("records")


def _id(row: dict) -> str:
    domain = row["domain"] if isinstance(row["domain"], str) else "_T"
    return f"{row['case']}-{row['lonely_psu']}-{row['estimator']}-{domain}"


def relatively_close(ours: float, theirs: float, tolerance: float = TOLERANCE) -> bool:
    return abs(ours - theirs) <= tolerance * max(abs(theirs), 1e-300)


def design(policy: str) -> Design:
    return Design(weight="weight", stratum="stratum", psu="psu", fpc="fpc", lonely_psu=policy)


def relation(case: str) -> str:
    return f"(SELECT * FROM small WHERE design = '{case}')"


def logit_interval(p: float, se: float, df: float) -> tuple[float, float]:
    """svyciprop(method = "logit")'s interval, written out: expit(logit p -/+ t_df se / (p (1 - p)))."""
    t = stats.t.ppf(0.975, df)
    logit, half = np.log(p / (1 - p)), t * se / (p * (1 - p))
    return 1 / (1 + np.exp(-(logit - half))), 1 / (1 + np.exp(-(logit + half)))


ALL_ESTIMATORS = tuple(ESTIMATORS) + tuple(f"svyby_{e}" for e in ESTIMATORS)


@pytest.mark.parametrize("row", cases(ALL_ESTIMATORS), ids=_id)
def test_estimates_agree_with_r(con, row):
    estimator = row["estimator"]
    by_domain = estimator.startswith("svyby")
    kind = ESTIMATORS[estimator.removeprefix("svyby_")]
    y = "y = 1" if kind == "proportion" else "y"

    def run():
        return estimate(con, relation(row["case"]), design(row["lonely_psu"]), kind, y,
                        x="x" if kind == "ratio" else None, margins=[["domain"]] if by_domain else [[]])

    if row["fails"]:
        with pytest.raises(LonelyPsuError, match="single PSU"):
            run()
        return
    result = run()
    ours = result[result["domain"] == row["domain"]].iloc[0] if by_domain else result.iloc[0]
    assert relatively_close(ours["estimate"], row["estimate"]), (ours["estimate"], row["estimate"])
    assert relatively_close(ours["se"], row["se"]), (ours["se"], row["se"])
    assert ours["df"] == row["df"], (ours["df"], row["df"])
    if np.isfinite(row["ci_low"]) and np.isfinite(row["ci_high"]):
        assert relatively_close(ours["ci_lower"], row["ci_low"], CI_TOLERANCE), (ours["ci_lower"], row["ci_low"])
        assert relatively_close(ours["ci_upper"], row["ci_high"], CI_TOLERANCE), (ours["ci_upper"], row["ci_high"])
    else:
        # R's confint.svyglm turns the level into 1 - 2 pnorm(qt(0.025, df)), which is 1 in double precision for
        # df = 1, and returns [0, NaN]: compare with the logit interval's formula instead
        assert kind == "proportion" and row["df"] == 1
        lo, hi = logit_interval(row["estimate"], row["se"], row["df"])
        assert relatively_close(ours["ci_lower"], lo, CI_TOLERANCE) and relatively_close(ours["ci_upper"], hi,
                                                                                          CI_TOLERANCE)


@pytest.mark.parametrize("row", [r for r in cases(("degf_observed",)) if r["lonely_psu"] == "adjust"], ids=_id)
def test_domain_df_counts_only_psus_and_strata_where_the_item_is_observed(con, row):
    """R: degf(subset(design, !is.na(y) & domain)). In `item_missing` whole PSUs (102, 302) and the whole
    stratum 2 have y missing: domain a has 10 PSUs in 4 strata but df 3, not 6."""
    domain = row["domain"] if isinstance(row["domain"], str) else None
    result = estimate(con, relation(row["case"]), design("adjust"), "mean", "y",
                      margins=[["domain"]] if domain else [[]])
    ours = result[result["domain"] == domain].iloc[0] if domain else result.iloc[0]
    assert ours["df"] == row["estimate"]


def test_item_missing_case_differs_from_counting_every_psu_of_the_domain():
    """The reference is not trivially the old rule: PSUs with any unit of domain a give 10 - 4 = 6 df."""
    rows = reference()
    observed = rows[(rows["case"] == "item_missing") & (rows["estimator"] == "degf_observed")
                    & (rows["domain"] == "a")]["estimate"].iloc[0]
    whole = rows[(rows["case"] == "item_missing") & (rows["estimator"] == "degf") & (rows["domain"] == "a")][
        "estimate"].iloc[0]
    assert (observed, whole) == (3, 6)


def test_average_policy_counts_only_strata_with_an_observed_item(con):
    """In `item_missing` stratum 2 has no observed y: R scales the variance by 3/2 (strata 1, 3, 4; 4 lonely),
    not 4/3. Our SE under `average` equals remove's SE x sqrt(3/2)."""
    rel = relation("item_missing")
    se = {p: estimate(con, rel, design(p), "total", "y")["se"].iloc[0] for p in ("remove", "average")}
    assert se["average"] == pytest.approx(se["remove"] * np.sqrt(3 / 2), rel=1e-12)


def test_fpc_as_sampling_fractions_equals_fpc_as_population_sizes(con):
    fractions = estimate(con, relation("fpc_fraction"), design("adjust"), "mean", "y", margins=[["domain"]])
    sizes = estimate(con, relation("domain_lonely_fpc"), design("adjust"), "mean", "y", margins=[["domain"]])
    assert np.allclose(fractions["se"], sizes["se"], rtol=1e-12, atol=0)


def test_missing_domain_values_form_no_category_and_stay_in_the_total(con):
    result = estimate(con, relation("domain_missing"), design("adjust"), "mean", "x", margins=[[], ["domain"]])
    assert set(result["domain"]) == {"_T", "a", "b"}  # never '?' or a null category
    total = result[result["domain"] == "_T"].iloc[0]
    assert total["n_unweighted"] == 26  # every unit, those without a domain included
    assert result.loc[result["domain"] != "_T", "n_unweighted"].sum() == 26 - 5


# ------------------------------------------------------------------------------------ designs R refuses
def test_missing_weights_are_refused_naming_the_rows(con):
    assert reference().query("case == 'weight_missing'")["error"].iloc[0] == "missing values in `weights'"
    con.execute("CREATE OR REPLACE TABLE weight_missing AS SELECT * FROM small WHERE design = 'weight_missing' "
                "ORDER BY rowid")
    with pytest.raises(DesignError, match=r"missing or negative for 2 unit\(s\): row\(s\) 3, 17") as error:
        estimate(con, "weight_missing", design("adjust"), "mean", "y")
    assert error.value.rows == [3, 17]


def test_a_weight_that_is_not_a_number_is_refused_as_missing(con):
    """NaN sorts above every number in DuckDB, so it would pass `w >= 0`: it is caught by name (R's svydesign
    refuses NA weights, and a NaN is one)."""
    con.execute("CREATE OR REPLACE TABLE weight_nan AS SELECT * FROM small WHERE design = 'domain_lonely' "
                "ORDER BY rowid")
    con.execute("UPDATE weight_nan SET weight = 'NaN'::DOUBLE WHERE rowid IN (2, 16)")
    with pytest.raises(DesignError, match=r"missing or negative for 2 unit\(s\): row\(s\) 3, 17") as error:
        estimate(con, "weight_nan", design("adjust"), "mean", "y")
    assert error.value.rows == [3, 17]


def test_fpc_below_the_sample_is_refused_naming_the_stratum(con):
    assert reference().query("case == 'fpc_too_small'")["error"].iloc[0] == \
        "FPC implies >100% sampling in some strata"
    with pytest.raises(DesignError, match="stratum '3' a population of 2 PSUs, fewer than the 4 PSUs sampled"):
        estimate(con, relation("fpc_too_small"), design("adjust"), "mean", "y")


def test_fpc_mixing_fractions_and_sizes_is_refused(con):
    assert reference().query("case == 'fpc_mixed'")["error"].iloc[0] == "Must have all fpc>=1 or all fpc<=1"
    with pytest.raises(DesignError, match="mixes sampling fractions and population sizes: 0.5 in stratum '3'"):
        estimate(con, relation("fpc_mixed"), design("adjust"), "mean", "y")


def test_negative_or_partly_missing_fpc_is_refused(con):
    with pytest.raises(DesignError, match="fpc -0.5 in stratum '1' is negative"):
        estimate(con, "(SELECT * REPLACE (CASE WHEN stratum = 1 THEN -0.5 ELSE fpc END AS fpc) FROM small "
                      "WHERE design = 'fpc_fraction')", design("adjust"), "mean", "y")
    with pytest.raises(DesignError, match="fpc is missing for some units"):
        estimate(con, "(SELECT * REPLACE (CASE WHEN psu = 101 THEN NULL ELSE fpc END AS fpc) FROM small "
                      "WHERE design = 'domain_lonely_fpc')", design("adjust"), "mean", "y")


# ------------------------------------------------------------------------------------------------ contrasts
def contrast_cases() -> list[dict]:
    rows = reference()
    return rows[rows["estimator"].str.startswith("contrast_") & (rows["lonely_psu"] != "fail")].to_dict("records")


@pytest.mark.parametrize("row", contrast_cases(), ids=_id)
def test_contrasts_between_two_domains_agree_with_r(con, row):
    """p_a / p_b and p_a - p_b of y == 1 with the covariance of the two domains (svytotal + svycontrast)."""
    kind = row["estimator"].removeprefix("contrast_")
    _, contrasts = estimate_with_contrasts(con, relation(row["case"]), design(row["lonely_psu"]),
                                           [Estimand("proportion", "y = 1")], margins=[[], ["domain"]],
                                           contrasts=[Contrast("domain", "a", "b", kind)])
    ours = contrasts[0].iloc[0]
    assert relatively_close(ours["estimate"], row["estimate"]), (ours["estimate"], row["estimate"])
    assert relatively_close(ours["se"], row["se"]), (ours["se"], row["se"])
    assert ours["df"] == row["df"]
    assert relatively_close(ours["ci_lower"], row["ci_low"], CI_TOLERANCE), (ours["ci_lower"], row["ci_low"])
    assert relatively_close(ours["ci_upper"], row["ci_high"], CI_TOLERANCE), (ours["ci_upper"], row["ci_high"])


def test_contrast_variance_is_the_two_variances_minus_twice_their_covariance(con):
    """For a difference, V(a - b) = V(a) + V(b) - 2 Cov(a, b): the covariance the engine reports is the one its
    contrast variance uses (complete data, so every PSU is in both variances' strata)."""
    cells, contrasts = estimate_with_contrasts(con, relation("domain_lonely"), design("remove"),
                                               [Estimand("proportion", "y = 1")], margins=[[], ["domain"]],
                                               contrasts=[Contrast("domain", "a", "b", "difference")])
    se = cells[0].set_index("domain")["se"]
    gap = contrasts[0].iloc[0]
    assert gap["se"] ** 2 == pytest.approx(se["a"] ** 2 + se["b"] ** 2 - 2 * gap["covariance"], rel=1e-12)
    assert gap["covariance"] != 0


def test_every_reference_case_is_compared():
    rows = reference()
    compared = rows[rows["case"].isin(SMALL_CASES) & rows["estimator"].isin(ALL_ESTIMATORS)]
    assert len(compared) == len(cases(ALL_ESTIMATORS)) == 588  # 10 designs x 5 policies, whole and domains
    assert len(contrast_cases()) == 2 * 6 * 4  # ratio and difference, six designs, four policies


def test_policies_really_differ_on_the_lonely_design(con):
    """The reference is not trivially equal across policies: adjust > remove = certainty for the total."""
    rel = relation("lonely")
    se = {policy: estimate(con, rel, Design("weight", "stratum", "psu", lonely_psu=policy), "total",
                           "y")["se"].iloc[0] for policy in ("adjust", "remove", "certainty", "average")}
    assert se["remove"] == se["certainty"] < se["average"] and se["remove"] < se["adjust"]
