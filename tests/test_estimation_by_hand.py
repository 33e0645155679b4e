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
    with pytest.raises(CopError, match="fpc is not constant within stratum/strata A"):
        estimate(con, "t", Design("w", "s", "p", fpc="n_psus"), "total", "y")
