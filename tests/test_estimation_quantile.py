"""Design-based quantiles with Woodruff intervals (indicators/estimation/quantile.py) against R's survey 4.1.1:
svyquantile(ci = TRUE, na.rm = TRUE) and svyby(..., svyquantile) on the api samples and the small designs
(tests/reference/make_quantile_reference.R -> quantile_reference.csv), and the shared reference's svyquantile
rows. Estimates and SEs to a relative error of 1e-9, interval bounds to 1e-6, df exactly; NaN where R gives
NaN. Ties, a quantile on a jump of the CDF, R's first-unit rule, empty domains and refused quantiles by hand."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import api_designs, load_api_samples

from indicators.errors import CopError
from indicators.estimation.quantile import estimate_quantiles
from indicators.estimation.taylor import Design, DesignError

HERE = Path(__file__).resolve().parent / "reference"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "survey_reference"
TOLERANCE = 1e-9
CI_TOLERANCE = 1e-6
QUARTILES = (0.25, 0.5, 0.75)

API_DESIGNS = api_designs()  # the svydesign() calls of make_quantile_reference.R and the shared reference
SMALL_DESIGN = Design(weight="weight", stratum="stratum", psu="psu", fpc="fpc")  # lonely PSUs: 'adjust'


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    connection.execute(f"CREATE TABLE small AS SELECT * FROM read_csv('{HERE / 'small_designs.csv'}')")
    if SHARED.exists():
        load_api_samples(connection)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def computed(con):
    """One estimate_quantiles call per (case, variable), whole population and domains together, kept."""
    cache: dict[tuple[str, str], pd.DataFrame] = {}

    def get(case: str, variable: str) -> pd.DataFrame:
        if (case, variable) not in cache:
            if case in API_DESIGNS:
                if not SHARED.exists():
                    # outside this workplace only: CI sets COP_REQUIRE_SHARED_DATA (tests/conftest.py)
                    pytest.skip(f"{SHARED} absent (the api samples live outside the repository)")
                table, design = API_DESIGNS[case]
                cache[case, variable] = estimate_quantiles(con, table, design, variable, QUARTILES,
                                                           margins=[[], ["stype"]])
            else:
                cache[case, variable] = estimate_quantiles(
                    con, f"(SELECT * FROM small WHERE design = '{case}')", SMALL_DESIGN, variable, QUARTILES,
                    margins=[[], ["domain"]])
        return cache[case, variable]

    return get


def close(ours: float, theirs: float, tolerance: float) -> bool:
    if np.isnan(theirs):
        return bool(np.isnan(ours))
    return abs(ours - theirs) <= tolerance * max(abs(theirs), 1e-300)


def check_against(ours: pd.Series, theirs: dict) -> None:
    assert close(ours["estimate"], theirs["estimate"], TOLERANCE), (ours["estimate"], theirs["estimate"])
    assert close(ours["se"], theirs["se"], TOLERANCE), (ours["se"], theirs["se"])
    assert close(ours["ci_lower"], theirs["ci_low"], CI_TOLERANCE), (ours["ci_lower"], theirs["ci_low"])
    assert close(ours["ci_upper"], theirs["ci_high"], CI_TOLERANCE), (ours["ci_upper"], theirs["ci_high"])


def reference_rows() -> list[dict]:
    # an empty domain is the whole population; an empty number is R's NA/NaN
    numbers = ["estimate", "se", "ci_low", "ci_high", "df"]
    rows = pd.read_csv(HERE / "quantile_reference.csv", keep_default_na=False,
                       na_values={c: [""] for c in numbers}, dtype={"domain": str})
    return rows.to_dict("records")


def _id(row: dict) -> str:
    return f"{row['case']}-{row['variable']}-{row['domain'] or '_T'}-{row['quantile']}"


def reference_params() -> list:
    """The reference rows; the api ones read the shared data."""
    return [pytest.param(row, id=_id(row), marks=[pytest.mark.shared_data] if row["case"] in API_DESIGNS else [])
            for row in reference_rows()]


@pytest.mark.parametrize("row", reference_params())
def test_agrees_with_r_svyquantile(computed, row):
    result = computed(row["case"], row["variable"])
    column = "stype" if row["case"] in API_DESIGNS else "domain"
    ours = result[(result[column] == (row["domain"] or "_T")) & (result["quantile"] == row["quantile"])]
    assert len(ours) == 1, ours
    ours = ours.iloc[0]
    check_against(ours, row)
    assert ours["df"] == row["df"]
    no_interval = np.isnan(row["ci_low"]) or np.isnan(row["ci_high"])
    assert (ours["flags"] != "") == no_interval, ours["flags"]


@pytest.mark.shared_data
def test_every_reference_domain_is_estimated_and_no_other(computed):
    rows = pd.DataFrame(reference_rows())
    assert len(rows) == 162  # 3 api designs x 2 variables x 4 domains x 3 + 10 small designs x 3 domains x 3
    for (case, variable), expected in rows.groupby(["case", "variable"]):
        result = computed(case, variable)
        column = "stype" if case in API_DESIGNS else "domain"
        assert sorted(result[column].unique()) == sorted((expected["domain"].replace("", "_T")).unique())
        assert len(result) == len(expected)


def test_by_cells_are_separate_designs(con):
    """All small designs in one call, `by` design: every cell agrees with R's run on that design alone."""
    cases = tuple(sorted({r["case"] for r in reference_rows() if r["case"] not in API_DESIGNS}))
    relation = f"(SELECT * FROM small WHERE design IN {cases})"
    result = estimate_quantiles(con, relation, SMALL_DESIGN, "y", QUARTILES, by=["design"],
                                margins=[[], ["domain"]])
    compared = 0
    for row in reference_rows():
        if row["case"] in API_DESIGNS:
            continue
        ours = result[(result["design"] == row["case"]) & (result["domain"] == (row["domain"] or "_T"))
                      & (result["quantile"] == row["quantile"])]
        assert len(ours) == 1
        check_against(ours.iloc[0], row)
        assert ours.iloc[0]["df"] == row["df"]
        compared += 1
    assert compared == len(result) == 10 * 3 * 3


def shared_rows() -> list[dict]:
    if not SHARED.exists():
        return []
    rows = pd.read_csv(SHARED / "survey_reference_estimates.csv", keep_default_na=False, na_values=[""])
    return rows[rows["estimator"] == "svyquantile"].to_dict("records")


@pytest.mark.shared_data
@pytest.mark.parametrize("row", shared_rows(), ids=lambda r: f"{r['design']}-{r['variable']}-{r['level']}")
def test_agrees_with_shared_reference(computed, row):
    result = computed(row["design"], row["variable"])
    ours = result[(result["stype"] == "_T") & (result["quantile"] == float(row["level"]))].iloc[0]
    check_against(ours, row)


@pytest.mark.shared_data
def test_shared_reference_has_its_nine_quantiles():
    if not SHARED.exists():  # outside this workplace only: CI sets COP_REQUIRE_SHARED_DATA (tests/conftest.py)
        pytest.skip(f"{SHARED} absent (R's shared quantile reference lives outside the repository)")
    assert len(shared_rows()) == 3 * 3


# ------------------------------------------------------------------------------------------------- by hand
def r_qrule_math(x: np.ndarray, w: np.ndarray, p: float) -> float:
    """survey:::qrule_math, line by line (sort, cumulative weights, last position at or below p W)."""
    order = np.argsort(x, kind="stable")
    x, cumw = x[order], np.cumsum(w[order])
    below = np.flatnonzero(cumw <= p * cumw[-1])
    pos = below[-1] if below.size else 0
    nxt = pos if pos == len(x) - 1 else pos + 1
    return x[pos] if p - cumw[pos] / cumw[-1] == 0 else x[nxt]


# 12 units whose weighted CDF has jumps exactly at 1/4 (end of the y = 1 run) and 3/4 (end of the y = 3 run),
# repeated three times so that the CDF intervals stay inside [0, 1]; W = 72
TIES_Y = [1, 1, 1, 2, 2, 3, 3, 3, 3, 4, 5, 6] * 3
TIES_W = [2, 2, 2, 1, 3, 2, 2, 2, 2, 2, 2, 2] * 3


@pytest.fixture()
def ties(con):
    con.execute("CREATE OR REPLACE TABLE ties (id INTEGER, y DOUBLE, w DOUBLE)")
    con.executemany("INSERT INTO ties VALUES (?, ?, ?)",
                    [(i + 1, y, w) for i, (y, w) in enumerate(zip(TIES_Y, TIES_W))])
    return "ties"


def test_ties_and_quantiles_on_a_jump_by_hand(con, ties):
    # cumulative weights (per 24, one copy): y=1: 6, y=2: 10, y=3: 18, y=4: 20, y=5: 22, y=6: 24
    # p = 0.25: F(1) = 6/24 = 0.25 exactly: the jump is hit, Q = 1 (not 2)
    # p = 0.5:  F(2) = 10/24 < 0.5 <= F(3): Q = 3 (p W falls inside the run of tied 3s)
    # p = 0.75: F(3) = 18/24 = 0.75 exactly, at the end of the tied run: Q = 3 (not 4)
    # p = 0.8:  F(3) < 0.8 <= F(4) = 20/24: Q = 4
    result = estimate_quantiles(con, ties, Design(weight="w"), "y", (0.25, 0.5, 0.75, 0.8))
    assert result["estimate"].tolist() == [1.0, 3.0, 3.0, 4.0]
    assert result["quantile"].tolist() == [0.25, 0.5, 0.75, 0.8]
    assert result["n_unweighted"].tolist() == [36] * 4 and result["n_weighted"].tolist() == [72.0] * 4
    assert result["df"].tolist() == [35] * 4

    # Woodruff, written out for this design (each unit its own PSU, one stratum, no fpc):
    # F = share with y <= Q, z_i = w_i ([y_i <= Q] - F) / W, V = n / (n - 1) sum z_i^2, bounds Q(F -/+ t se)
    y, w = np.array(TIES_Y, dtype=float), np.array(TIES_W, dtype=float)
    n, W, t = len(y), w.sum(), stats.t.ppf(0.975, len(y) - 1)
    for _, row in result.iterrows():
        below = (y <= row["estimate"]).astype(float)
        F = (w * below).sum() / W
        se_F = np.sqrt(n / (n - 1) * ((w * (below - F) / W) ** 2).sum())
        low, high = r_qrule_math(y, w, F - t * se_F), r_qrule_math(y, w, F + t * se_F)
        assert 0 < F - t * se_F and F + t * se_F < 1
        assert row["ci_lower"] == low and row["ci_upper"] == high
        assert row["se"] == pytest.approx((high - low) / (2 * t), rel=1e-12)
        assert row["flags"] == ""
    # p = 0.25: F = 18/72, se_F = 0.0737, bounds Q(0.1004) = 1 and Q(0.3996) = 2. R (survey 4.1.1) on this data,
    # svyquantile(~y, svydesign(ids = ~1, weights = ~w, data = d), c(.25, .5, .75, .8), ci = TRUE), prints
    # intervals (1, 2), (3, 5), (3, 5), (3, 6) and se 0.2462923, 0.4925846, 0.4925846, 0.7388770
    assert result[["ci_lower", "ci_upper"]].values.tolist() == [[1, 2], [3, 5], [3, 5], [3, 6]]
    assert result["se"].round(7).tolist() == [0.2462923, 0.4925846, 0.4925846, 0.7388770]


def test_the_rows_order_and_tie_order_do_not_matter(con, ties):
    shuffled = "(SELECT * FROM ties ORDER BY (id * 7) % 36)"
    first = estimate_quantiles(con, ties, Design(weight="w"), "y", (0.25, 0.5, 0.75, 0.8))
    second = estimate_quantiles(con, shuffled, Design(weight="w"), "y", (0.25, 0.5, 0.75, 0.8))
    pd.testing.assert_frame_equal(first, second)


def test_first_unit_heavier_than_p_gives_the_second_value_as_r(con):
    # R: svyquantile(~y, svydesign(ids = ~1, weights = ~w, data = data.frame(y = 1:3, w = c(10, 1, 1))), 0.25)
    # gives 2: no cumulative weight is <= 0.25 * 12, so qs() falls back to position 1 and takes position 2
    relation = "(SELECT * FROM (VALUES (1, 1.0, 10.0), (2, 2.0, 1.0), (3, 3.0, 1.0)) t(id, y, w))"
    result = estimate_quantiles(con, relation, Design(weight="w"), "y", (0.25,))
    assert result["estimate"].tolist() == [2.0]
    assert r_qrule_math(np.array([1.0, 2, 3]), np.array([10.0, 1, 1]), 0.25) == 2.0
    # and as R (lower bound 2, upper NaN, se NaN): the upper CDF bound passes 1 (F = 11/12, df = 2)
    assert result.loc[0, "ci_lower"] == 2.0
    assert np.isnan(result.loc[0, "ci_upper"]) and np.isnan(result.loc[0, "se"])
    assert result.loc[0, "flags"] == "cdf>1"


def test_empty_domains_have_no_row(con):
    relation = """(SELECT * FROM (VALUES (1, 'a', 1.0, 1.0), (2, 'a', 3.0, 2.0), (3, 'a', 2.0, 1.0),
                                         (4, 'b', NULL, 1.0), (5, 'b', NULL, 2.0), (6, 'c', 5.0, 1.0))
                   t(id, g, y, w))"""
    result = estimate_quantiles(con, relation, Design(weight="w"), "y", (0.5,), margins=[[], ["g"]])
    # group b has y missing everywhere: no row. a: weights 1, 1, 2 on y 1, 2, 3 -> F(2) = 1/2: Q(0.5) = 2.
    # everyone with y: 1, 2, 3, 5 weighing 1, 1, 2, 1 (W = 5): F(2) = 2/5 < 0.5 <= F(3) = 4/5: Q = 3
    assert result["g"].tolist() == ["_T", "a", "c"]
    assert result["estimate"].tolist() == [3.0, 2.0, 5.0]
    assert result["n_unweighted"].tolist() == [4, 3, 1]
    # c has one unit (one PSU): no df, no interval
    c = result[result["g"] == "c"].iloc[0]
    assert c["df"] == 0 and c["flags"] == "df<1" and np.isnan(c["ci_lower"]) and np.isnan(c["se"])
    # a universe that no unit is in: nothing to estimate, an empty frame with the usual columns
    nobody = estimate_quantiles(con, relation, Design(weight="w"), "y", (0.5,), universe="g = 'z'",
                                margins=[["g"]])
    assert nobody.empty and list(nobody.columns) == ["g", "quantile", "estimate", "se", "ci_lower", "ci_upper",
                                                      "df", "n_unweighted", "n_weighted", "flags"]


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.25, 50, float("nan"), "0.5", True])
def test_quantile_outside_zero_one_is_refused(con, bad):
    with pytest.raises(CopError) as caught:
        estimate_quantiles(con, "small", SMALL_DESIGN, "y", (0.25, bad))
    message = str(caught.value)
    assert f"quantile {bad!r}" in message and "strictly between 0 and 1" in message
    if bad == 50:
        assert "give 0.5" in message


def test_no_quantile_is_refused(con):
    with pytest.raises(CopError, match="no quantile requested"):
        estimate_quantiles(con, "small", SMALL_DESIGN, "y", ())


def test_missing_weight_names_its_row(con):
    relation = "(SELECT * FROM (VALUES (1.0, 2.0), (2.0, 1.0), (3.0, NULL), (4.0, 1.0)) t(y, w))"
    with pytest.raises(DesignError) as caught:
        estimate_quantiles(con, relation, Design(weight="w"), "y")
    assert caught.value.rows == [3]
