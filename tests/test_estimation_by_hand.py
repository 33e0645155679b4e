"""The Taylor engine on a design small enough to compute by hand: a total over three strata, one of them with a
single PSU, under each lonely-PSU policy, and with a first-stage fpc."""

from __future__ import annotations

import math

import duckdb
import pytest

from indicators.errors import CopError
from indicators.estimation.taylor import Design, LonelyPsuError, estimate

# stratum A: PSU a1 totals 2*1 + 2*3 = 8, PSU a2 totals 2*2 = 4          -> mean 6
# stratum B: PSU b1 totals 3*1 = 3,       PSU b2 totals 3*5 = 15         -> mean 9
# stratum C: PSU c1 totals 1*4 = 4 (the lonely PSU)
ROWS = [("A", "a1", 2.0, 1.0, 4.0), ("A", "a1", 2.0, 3.0, 4.0), ("A", "a2", 2.0, 2.0, 4.0),
        ("B", "b1", 3.0, 1.0, 10.0), ("B", "b2", 3.0, 5.0, 10.0), ("C", "c1", 1.0, 4.0, 1.0)]
V_A = 2 / (2 - 1) * ((8 - 6) ** 2 + (4 - 6) ** 2)      # 16
V_B = 2 / (2 - 1) * ((3 - 9) ** 2 + (15 - 9) ** 2)     # 144


@pytest.fixture
def con():
    connection = duckdb.connect()
    connection.execute("CREATE TABLE t (s VARCHAR, p VARCHAR, w DOUBLE, y DOUBLE, n_psus DOUBLE)")
    connection.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", ROWS)
    yield connection
    connection.close()


@pytest.mark.parametrize("policy, variance", [
    ("remove", V_A + V_B),                  # the lonely stratum contributes nothing
    ("certainty", V_A + V_B),
    ("adjust", V_A + V_B + 4 ** 2),         # the lonely PSU's total, uncentred (as R)
    ("average", (V_A + V_B) * 3 / 2),       # the other strata's sum scaled by 3 strata / 2 with variance
])
def test_total_under_each_lonely_psu_policy(con, policy, variance):
    result = estimate(con, "t", Design("w", "s", "p", lonely_psu=policy), "total", "y").iloc[0]
    assert result["estimate"] == 34.0
    assert result["se"] == pytest.approx(math.sqrt(variance), rel=1e-12)
    assert result["df"] == 5 - 3  # PSUs minus strata


def test_fail_names_the_lonely_stratum(con):
    with pytest.raises(LonelyPsuError, match="single PSU: C"):
        estimate(con, "t", Design("w", "s", "p", lonely_psu="fail"), "total", "y")


def test_fpc_scales_each_stratum_and_a_census_stratum_never_fails(con):
    # f_A = (4 - 2)/4, f_B = (10 - 2)/10; stratum C has N = n = 1: a census, no variance, no failure
    result = estimate(con, "t", Design("w", "s", "p", fpc="n_psus", lonely_psu="fail"), "total", "y").iloc[0]
    assert result["se"] == pytest.approx(math.sqrt(0.5 * V_A + 0.8 * V_B), rel=1e-12)


def test_mean_is_a_ratio_to_the_weight_total(con):
    # weights sum to 13: mean = 34 / 13; z_i = w (y - mean) / 13, PSU totals by hand
    mean = 34 / 13
    z = {"a1": (2 * (1 - mean) + 2 * (3 - mean)) / 13, "a2": 2 * (2 - mean) / 13,
         "b1": 3 * (1 - mean) / 13, "b2": 3 * (5 - mean) / 13}
    variance = 2 * ((z["a1"] - z["a2"]) / 2) ** 2 * 2 + 2 * ((z["b1"] - z["b2"]) / 2) ** 2 * 2
    result = estimate(con, "t", Design("w", "s", "p", lonely_psu="remove"), "mean", "y").iloc[0]
    assert result["estimate"] == pytest.approx(mean, rel=1e-14)
    assert result["se"] == pytest.approx(math.sqrt(variance), rel=1e-12)


def test_fpc_must_be_constant_within_a_stratum(con):
    con.execute("UPDATE t SET n_psus = 5 WHERE p = 'a2'")
    with pytest.raises(CopError, match="fpc is not constant within stratum/strata 'A'"):
        estimate(con, "t", Design("w", "s", "p", fpc="n_psus"), "total", "y")


def test_a_domain_in_one_psu_has_df_0_and_no_interval(con):
    """Domain 'C' lives in one PSU of one stratum: df = 1 - 1 = 0, so no design-based interval (R's confint
    with df = 0 gives NaN); the flag says why instead of a zero-width interval."""
    result = estimate(con, "(SELECT *, s = 'C' AS in_c FROM t)", Design("w", "s", "p", lonely_psu="remove"),
                      "mean", "y", margins=[["in_c"]])
    cell = result[result["in_c"] == "true"].iloc[0]
    assert cell["df"] == 0 and math.isnan(cell["ci_lower"]) and math.isnan(cell["ci_upper"])
    assert cell["flags"] == "df<1"


def test_proportion_of_zero_uses_the_korn_graubard_effective_sample_size():
    """p = 0 in domain B: the upper bound is Clopper-Pearson for 0 events out of n* = n / deff_T x
    (t_{n-1} / t_df)^2 (Korn and Graubard), deff_T the design effect of the whole population's estimate.

    Two strata of two PSUs of three units, weight 1; y = 1 for the three units of PSU p1 only; domain B is
    stratum 2 (p3, p4). p_T = 3/12. PSU totals of z = (y - p)/12: p1 0.1875, p2 p3 p4 -0.0625, so
    V = 2 x (0.125^2 + 0.125^2) = 0.0625; s^2 = p(1 - p) 12/11; deff_T = V / (s^2 / 12) = 3.6667.
    Domain B: n = 6, df = 2 PSUs - 1 stratum = 1."""
    from scipy import stats

    con = duckdb.connect()
    con.execute("""CREATE TABLE c AS SELECT * FROM (VALUES
        ('S1', 'p1', 1), ('S1', 'p1', 1), ('S1', 'p1', 1), ('S1', 'p2', 0), ('S1', 'p2', 0), ('S1', 'p2', 0),
        ('S2', 'p3', 0), ('S2', 'p3', 0), ('S2', 'p3', 0), ('S2', 'p4', 0), ('S2', 'p4', 0), ('S2', 'p4', 0))
        t(s, p, y)""")
    result = estimate(con, "c", Design("1", "s", "p"), "proportion", "y = 1", margins=[[], ["s"]]).set_index("s")
    total, cell = result.loc["_T"], result.loc["S2"]
    assert total["se"] ** 2 == pytest.approx(0.0625, rel=1e-12)
    deff = 0.0625 / (0.25 * 0.75 * 12 / 11 / 12)
    assert total["deff"] == pytest.approx(deff, rel=1e-12) and deff == pytest.approx(3.6667, abs=1e-4)
    assert cell["estimate"] == 0 and cell["df"] == 1 and "boundary" in cell["flags"]
    n_star = 6 / deff * (stats.t.ppf(0.975, 6 - 1) / stats.t.ppf(0.975, 1)) ** 2
    assert cell["ci_lower"] == 0
    assert cell["ci_upper"] == pytest.approx(1 - 0.025 ** (1 / n_star), rel=1e-12)
    # with the unweighted n (the old rule) the bound would be 1 - 0.025^(1/6) = 0.46; here it is near 1
    assert cell["ci_upper"] > 0.99 > 1 - 0.025 ** (1 / 6)
