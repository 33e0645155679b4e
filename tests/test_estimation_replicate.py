"""Replicate-weight estimation (indicators/estimation/replicate.py) against R's survey package: every row of
tests/reference/replicate_reference.csv (made by tests/reference/make_replicate_reference.R with R 4.2.2 and
survey 4.1.1 from the committed unit files: no R needed here), the design errors, and `cop estimate
--repweights` on one reference design."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from indicators.errors import CopError
from indicators.estimation.replicate import (ReplicateDesign, ReplicateDesignError, _glm_intercept_at_boundary,
                                             _qr_ranks, estimate_replicate, replicate_columns)
from indicators.estimation.taylor import Contrast, Design, Estimand, estimate_with_contrasts
from pipelines import cli

HERE = Path(__file__).resolve().parent / "reference"
UNITS = HERE / "replicate"
ESTIMATE_TOLERANCE = 1e-9  # estimates, SEs, covariances, scales (relative)
CI_TOLERANCE = 1e-6  # R's logit intervals come from glm fits, converged to ~1e-10


def declared() -> pd.DataFrame:
    return pd.read_csv(UNITS / "designs.csv", keep_default_na=False, dtype=str)


def reference() -> pd.DataFrame:
    return pd.read_csv(HERE / "replicate_reference.csv", keep_default_na=False, na_values=[""],
                       dtype={"by": str, "level": str, "variable": str, "rscales": str})


def numbers(text: str) -> tuple[float, ...] | None:
    return tuple(float(v) for v in text.split(";")) if text else None


def design_of(spec: pd.Series, columns: list[str], **changes) -> ReplicateDesign:
    """What a user declares for the design (designs.csv): R's svrepdesign arguments."""
    arguments = dict(weight="w", replicates=replicate_columns(columns, spec["repweights"]), type=spec["type"],
                     rho=float(spec["rho"]) if spec["rho"] else None,
                     scale=float(spec["scale"]) if spec["scale"] else None, rscales=numbers(spec["rscales"]),
                     mse=spec["mse"] == "TRUE")
    return ReplicateDesign(**{**arguments, **changes})


def load(con, spec: pd.Series) -> list[str]:
    con.execute(f"CREATE OR REPLACE TABLE units AS SELECT * FROM read_csv('{UNITS / spec['file']}')")
    return [name for name, *_ in con.execute("DESCRIBE units").fetchall()]


class Results:
    """One call of estimate_replicate per design, for all its reference rows: mean, total and ratio of the
    numeric item, the proportion of the 0/1 item, over the whole sample and every domain column, with the
    contrasts; and the mean of 1 (every unit: its df is degf(design))."""

    def __init__(self) -> None:
        self.cache: dict[str, tuple] = {}

    def __call__(self, name: str):
        if name not in self.cache:
            spec = declared().set_index("design").loc[name]
            con = duckdb.connect()
            columns = load(con, spec)
            design = design_of(spec, columns)
            y, x, p = spec["y"], spec["x"], spec["p"]
            estimands = [Estimand("mean", y), Estimand("total", y), Estimand("ratio", y, x),
                         Estimand("proportion", f"{p} = 1"), Estimand("mean", "1")]
            contrasts = [Contrast(c, first, second, kind) for c, first, second in
                         (t.split(":") for t in spec["contrasts"].split(";")) for kind in ("ratio", "difference")]
            margins = [[]] + [[d] for d in spec["domains"].split(";")]
            estimates, gaps = estimate_replicate(con, "units", design, estimands, margins=margins,
                                                 contrasts=contrasts)
            self.cache[name] = (spec, design, estimates, gaps)
            con.close()
        return self.cache[name]


RESULTS = Results()
ESTIMAND_OF = {"svymean": 0, "svytotal": 1, "svyratio": 2, "svyciprop_logit": 3}


def ours(row: dict) -> pd.Series:
    spec, _, estimates, gaps = RESULTS(row["design"])
    estimator = row["estimator"]
    if estimator.startswith("contrast_"):
        k = 0 if row["variable"] == spec["y"] else 3
        first, second = row["level"].split(",")
        frame = gaps[k]
        match = frame[(frame["column"] == row["by"]) & (frame["first"] == first) & (frame["second"] == second)
                      & (frame["kind"] == estimator.removeprefix("contrast_"))]
    else:
        frame = estimates[ESTIMAND_OF[estimator.removeprefix("svyby_")]]
        domains = spec["domains"].split(";")
        wanted = {d: (row["level"] if d == row["by"] else "_T") for d in domains}
        match = frame[np.logical_and.reduce([frame[d] == v for d, v in wanted.items()])]
    assert len(match) == 1, match
    return match.iloc[0]


def close(value: float, expected: float, tolerance: float) -> bool:
    return abs(value - expected) <= tolerance * abs(expected)


def row_id(row: dict) -> str:
    return "-".join(str(row[c]) for c in ("design", "estimator", "variable", "by", "level") if row[c] == row[c])


ROWS = reference().to_dict("records")


@pytest.mark.parametrize("row", [r for r in ROWS if r["estimator"] != "design"], ids=row_id)
def test_agrees_with_r_svrepdesign(row):
    result = ours(row)
    assert close(result["estimate"], row["estimate"], ESTIMATE_TOLERANCE), (result["estimate"], row["estimate"])
    assert close(result["se"], row["se"], ESTIMATE_TOLERANCE), (result["se"], row["se"])
    assert result["df"] == row["df"]
    assert close(result["ci_lower"], row["ci_low"], CI_TOLERANCE), (result["ci_lower"], row["ci_low"])
    assert close(result["ci_upper"], row["ci_high"], CI_TOLERANCE), (result["ci_upper"], row["ci_high"])
    if row["estimator"].startswith("contrast_"):
        # independent domains (apistrat's strata) have a covariance of 0 up to rounding
        rounding = 1e-15 * abs(result["first_estimate"] * result["second_estimate"])
        assert abs(result["covariance"] - row["covariance"]) <= max(ESTIMATE_TOLERANCE * abs(row["covariance"]),
                                                                    rounding)


@pytest.mark.parametrize("row", [r for r in ROWS if r["estimator"] == "design"], ids=row_id)
def test_design_degf_scale_and_rscales_as_r(row):
    spec, design, estimates, _ = RESULTS(row["design"])
    everyone = estimates[4]
    total = everyone[(everyone[spec["domains"].split(";")] == "_T").all(axis=1)]
    assert total["df"].tolist() == [row["df"]]
    assert close(design.variance_scale(), float(row["scale"]), ESTIMATE_TOLERANCE)
    r_rscales = np.array(numbers(row["rscales"]))
    assert np.allclose(design.replicate_scales(), np.broadcast_to(r_rscales, (len(design.replicates),)),
                       rtol=ESTIMATE_TOLERANCE, atol=0)


def test_every_reference_row_is_compared():
    rows = reference()
    specs = declared()
    assert sorted(rows["design"].unique()) == sorted(specs["design"])
    # api designs: design + 4 whole-sample + 4 x 3 stype domains + 4 contrasts; generated: + region (3) and
    # sex (2) domains, 8 contrasts
    assert len(rows) == 4 * (1 + 4 + 12 + 4) + 3 * (1 + 4 + 20 + 8)
    # a bootstrap replicate whose H schools all have sch.wide "Yes": R's glm stops at logit ~22.69
    h = rows[(rows["design"] == "apiclus1_bootstrap") & (rows["estimator"] == "svyby_svyciprop_logit")
             & (rows["level"] == "H")].iloc[0]
    assert h["ci_low"] < 1e-4 and h["ci_high"] > 0.99999


def test_layout_is_taylors():
    """Same columns, dtypes, order and sort as taylor.estimate_with_contrasts on the same data and domains."""
    spec = declared().set_index("design").loc["generated_fay"]
    con = duckdb.connect()
    design = design_of(spec, load(con, spec))
    estimands = [Estimand("proportion", "y01 = 1"), Estimand("total", "score"), Estimand("ratio", "score", "size")]
    arguments = dict(by=["sex"], margins=[["region"]], contrasts=[Contrast("region", "north", "south", "ratio")])
    replicated = estimate_replicate(con, "units", design, estimands, **arguments)
    linearised = estimate_with_contrasts(con, "units", Design("w", stratum="stratum", psu="psu"), estimands,
                                         **arguments)
    for ours_, theirs in zip(replicated[0] + replicated[1], linearised[0] + linearised[1]):
        assert list(ours_.columns) == list(theirs.columns)
        assert ours_.dtypes.tolist() == theirs.dtypes.tolist()
        keys = [c for c in ("sex", "region", "column", "first", "second") if c in ours_.columns]
        assert ours_[keys].equals(theirs[keys])
        for same in ("n_unweighted", "n_weighted", "first_estimate"):
            if same in ours_.columns:
                assert np.allclose(ours_[same], theirs[same], rtol=1e-12)
    # the `by` cells are separate designs: the replicate df of region 'north' among girls is its own
    girls_north = replicated[0][0].query("sex == 'F' and region == 'north'").iloc[0]
    assert girls_north["n_unweighted"] == con.execute(
        "SELECT count(*) FROM units WHERE sex = 'F' AND region = 'north' AND y01 IS NOT NULL").fetchone()[0]
    con.close()


class CountingConnection:
    """A DuckDB connection that counts the queries run through it."""

    def __init__(self, con) -> None:
        self.con, self.queries = con, []

    def execute(self, sql, *args):
        self.queries.append(sql)
        return self.con.execute(sql, *args)


def test_one_scan_for_every_estimand_domain_and_replicate_and_one_for_the_df():
    spec = declared().set_index("design").loc["generated_brr"]
    con = duckdb.connect()
    design = design_of(spec, load(con, spec))
    con.execute("CREATE TABLE halves AS SELECT *, CASE WHEN stratum > 6 THEN 'b' ELSE 'a' END AS half FROM units")
    counting = CountingConnection(con)
    estimands = [Estimand("mean", "score"), Estimand("proportion", "y01 = 1"), Estimand("ratio", "score", "size"),
                 Estimand("total", "score", universe="sex = 'F'")]
    estimates, gaps = estimate_replicate(counting, "halves", design, estimands, by=["half"],
                                         margins=[[], ["region"], ["sex"], ["region", "sex"]],
                                         contrasts=[Contrast("sex", "F", "M", "difference")])
    assert len(counting.queries) == 2 and "GROUPING SETS" in counting.queries[0]
    # per half: total, 3 regions, 2 sexes, 6 crossings; girls only: no boys' cells
    assert [len(e) for e in estimates] == [2 * 12] * 3 + [2 * 8]
    assert [len(g) for g in gaps] == [2, 2, 2, 2]
    # a total over girls only: the boys' total is 0, so the gap is the girls' total (as taylor's)
    girls = estimates[3].query("region == '_T' and sex == 'F'").set_index("half")["estimate"]
    assert gaps[3].set_index("half")["estimate"].to_dict() == girls.to_dict()
    assert (gaps[3]["second_estimate"] == 0).all()
    con.close()


def test_glm_stops_where_r_stops_at_a_boundary_replicate():
    # R: glm.fit(matrix(1, 3), y, weights = c(.2, .3, .5), start = s, family = quasibinomial())$coefficients
    # for y all 1 or all 0 (a replicate proportion of 1 or 0) from starts s on either side
    start = np.array([1.2992829841294085, -1.2992829841294085, 1.2992829841294085, -2.5])
    stopped = _glm_intercept_at_boundary(start, np.array([1.0, 0.0, 0.0, 1.0]))
    assert stopped == pytest.approx([22.689128022327036, -22.689128103023112, -22.421149551375947,
                                     22.682530261830639], rel=1e-10)


# -------------------------------------------------------------------------- small designs computed by hand
@pytest.fixture
def small():
    """Four units, three replicates (JK1-like: each replicate drops one of units 1-3)."""
    con = duckdb.connect()
    con.execute("""CREATE TABLE small AS SELECT * FROM (VALUES
        (1, 10.0, 0.0, 15.0, 15.0, 1, 'a'),
        (2, 10.0, 15.0, 0.0, 15.0, 0, 'a'),
        (3, 20.0, 30.0, 30.0, 0.0, 1, 'b'),
        (4, 20.0, 20.0, 20.0, 20.0, 1, 'b')) t(id, w, r1, r2, r3, y, g)""")
    yield con
    con.close()


def test_total_variance_by_hand_centred_on_replicate_mean_or_full_sample(small):
    design = ReplicateDesign("w", ("r1", "r2", "r3"), "other", scale=0.5, rscales=(1.0, 2.0, 0.0))
    # total of y: full 10 + 20 + 20 = 50; replicates 0 + 30 + 20 = 50, 15 + 30 + 20 = 65, 15 + 0 + 20 = 35
    # mse = False: centre = mean of replicates with rscales > 0 = (50 + 65)/2 = 57.5
    #   V = 0.5 * (1 * 7.5^2 + 2 * 7.5^2 + 0 * 22.5^2) = 84.375
    total = estimate_replicate(small, "small", design, [Estimand("total", "y")])[0][0].iloc[0]
    assert total["estimate"] == 50 and total["se"] == pytest.approx(np.sqrt(84.375), rel=1e-12)
    # mse = True: centre = 50: V = 0.5 * (0 + 2 * 15^2) = 225
    mse = ReplicateDesign("w", ("r1", "r2", "r3"), "other", scale=0.5, rscales=(1.0, 2.0, 0.0), mse=True)
    total = estimate_replicate(small, "small", mse, [Estimand("total", "y")])[0][0].iloc[0]
    assert total["se"] == pytest.approx(15.0, rel=1e-12)


def test_a_replicate_without_units_of_the_domain_is_left_out_as_r(small):
    # domain a (units 1, 2): mean of y = 10/20 = 0.5; replicates: r1 0/15 = 0, r2 15/15 = 1, r3 15/30 = 0.5;
    # add a replicate r4 giving a's units weight 0: 0/0, left out (R's svrVar: na.action)
    small.execute("ALTER TABLE small ADD COLUMN r4 DOUBLE")
    small.execute("UPDATE small SET r4 = CASE WHEN g = 'a' THEN 0 ELSE 2 * w END")
    design = ReplicateDesign("w", ("r1", "r2", "r3", "r4"), "other", scale=1.0)
    mean = estimate_replicate(small, "small", design, [Estimand("mean", "y")], margins=[["g"]])[0][0]
    a = mean[mean["g"] == "a"].iloc[0]
    # centre (0 + 1 + 0.5)/3 = 0.5: V = 0.25 + 0.25 + 0 = 0.5
    assert a["estimate"] == 0.5 and a["se"] == pytest.approx(np.sqrt(0.5), rel=1e-12)


def test_default_scales_are_rs():
    reps = tuple(f"r{i}" for i in range(8))
    assert ReplicateDesign("w", reps, "jk1").variance_scale() == pytest.approx(7 / 8)
    assert ReplicateDesign("w", reps, "bootstrap").variance_scale() == pytest.approx(1 / 7)
    assert ReplicateDesign("w", reps, "BRR").variance_scale() == pytest.approx(1 / 8)
    assert ReplicateDesign("w", reps, "fay", rho=0.3).variance_scale() == pytest.approx(1 / (8 * 0.49))
    assert ReplicateDesign("w", reps, "JKn", rscales=(0.5,)).variance_scale() == 1.0
    assert ReplicateDesign("w", reps, "other").replicate_scales().tolist() == [1.0] * 8
    assert ReplicateDesign("w", reps, "Fay", rho=0.3).type == "Fay"
    # a scale equal to R's own for BRR is accepted
    assert ReplicateDesign("w", reps, "BRR", scale=0.125).variance_scale() == 0.125


def test_type_other_with_jk1_scales_gives_the_jk1_results():
    spec = declared().set_index("design").loc["apiclus1_jk1"]
    con = duckdb.connect()
    columns = load(con, spec)
    jk1 = design_of(spec, columns)
    other = design_of(spec, columns, type="other", rscales=(1.0,) * len(jk1.replicates))
    a = estimate_replicate(con, "units", jk1, [Estimand("ratio", "api00", "api99")], margins=[["stype"]])[0][0]
    b = estimate_replicate(con, "units", other, [Estimand("ratio", "api00", "api99")], margins=[["stype"]])[0][0]
    pd.testing.assert_frame_equal(a, b)
    con.close()


def test_r_qr_rank_tolerance():
    """R: qr(matrix(c(1, 0, 1, 1e-6), 2), tol = 1e-5)$rank is 1, with 1e-4 in place of 1e-6 it is 2; a
    repeated column and a zero column do not count."""
    assert _qr_ranks(np.array([[[1.0, 1.0], [0.0, 1e-6]], [[1.0, 1.0], [0.0, 1e-4]]]), 1e-5)[0].tolist() == [1, 2]
    x = np.array([[1.0, 2.0, 1.0, 0.0], [3.0, 1.0, 3.0, 0.0], [0.0, 5.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0],
                  [2.0, 0.0, 2.0, 0.0]])
    assert _qr_ranks(x[None], 1e-5)[0].tolist() == [2]
    assert _qr_ranks(x[None, :1], 1e-5)[0].tolist() == [1]  # one unit: rank 1, df 0


# ------------------------------------------------------------------------------------------ design errors
def test_missing_or_negative_weights_are_refused_naming_rows(small):
    small.execute("UPDATE small SET w = NULL WHERE id = 2")
    small.execute("UPDATE small SET w = -1 WHERE id = 4")
    design = ReplicateDesign("w", ("r1", "r2", "r3"), "JK1")
    with pytest.raises(ReplicateDesignError) as error:
        estimate_replicate(small, "small", design, [Estimand("mean", "y")])
    assert error.value.rows == [2, 4] and error.value.count == 2
    assert "weight 'w' is missing or negative for 2 unit(s): row(s) 2, 4" in str(error.value)


def test_missing_replicate_weights_are_refused_naming_rows_and_columns(small):
    small.execute("UPDATE small SET r2 = NULL WHERE id = 3")
    small.execute("UPDATE small SET r3 = NULL WHERE id IN (1, 3)")
    design = ReplicateDesign("w", ("r1", "r2", "r3"), "JK1")
    with pytest.raises(ReplicateDesignError) as error:
        estimate_replicate(small, "small", design, [Estimand("mean", "y")], margins=[["g"]])
    assert error.value.rows == [1, 3] and error.value.count == 2
    message = str(error.value)
    assert "replicate weights are missing for 2 unit(s): row(s) 1, 3, in r2 (1), r3 (2)" in message


@pytest.mark.parametrize("arguments, words", [
    (dict(type="JKn"), "type JKn needs rscales"),
    (dict(type="JK1", rscales=(1.0, 1.0)), "2 rscales for 3 replicate weight columns"),
    (dict(type="Fay", rho=1.0), "rho 1: Fay's rho must be at least 0 and below 1"),
    (dict(type="Fay", rho=-0.5), "rho -0.5: Fay's rho must be at least 0 and below 1"),
    (dict(type="Fay"), "type Fay needs its rho"),
    (dict(type="JK1", rho=0.5), "rho 0.5 is Fay's: type JK1 has none"),
    (dict(type="BRR", scale=0.5), "R's svrepdesign sets it to 1/(R (1 - rho)^2) = 0.3333333333"),
    (dict(type="JK2"), "replicate type 'JK2': one of JK1, JKn, BRR, Fay, bootstrap, other"),
    (dict(type="JK1", replicates=("r1",)), "1 replicate weight column(s): a variance needs at least 2"),
    (dict(type="other", scale=0.0), "scale 0: the variance scale must be a number above 0"),
    (dict(type="other", rscales=(0.0,)), "rscales must be numbers >= 0, at least one of them above 0"),
])
def test_declaration_errors(arguments, words):
    with pytest.raises(ReplicateDesignError) as error:
        ReplicateDesign(**{"weight": "w", "replicates": ("r1", "r2", "r3"), **arguments})
    assert words in str(error.value)


def test_replicate_columns_in_file_order_and_a_clear_error_when_none_match():
    columns = ["id", "w", "rep10", "rep2", "stype", "rep1", "repwt"]
    assert replicate_columns(columns, "rep[0-9]+") == ("rep10", "rep2", "rep1")
    with pytest.raises(CopError) as error:
        replicate_columns(columns, "^pwgtp[0-9]+$")
    assert str(error.value) == ("replicate weights '^pwgtp[0-9]+$': no column name matches it (the columns: id, w, "
                                "rep10, rep2, stype, rep1, repwt)")


# ------------------------------------------------------------------------------------------ cop estimate
def plain_csv(tmp_path: Path, name: str) -> Path:
    spec = declared().set_index("design").loc[name]
    target = tmp_path / f"{name}.csv"
    with gzip.open(UNITS / spec["file"]) as source, open(target, "wb") as out:
        shutil.copyfileobj(source, out)
    return target


def run(capsys, *args) -> tuple[int, str, str]:
    code = cli.main(["estimate", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_replicate_proportion_by_domain_equals_the_reference(capsys, tmp_path):
    code, out, err = run(capsys, plain_csv(tmp_path, "generated_fay"), "--weight", "w", "--repweights", "rep[0-9]+",
                         "--rep-type", "fay", "--rho", "0.5", "--proportion", "y01 = 1", "--by", "sex",
                         "--format", "json")
    assert code == 0, err
    printed = {r["sex"]: r for r in json.loads(out)}
    rows = reference().query("design == 'generated_fay' and estimator == 'svyby_svyciprop_logit' and by == 'sex'")
    assert sorted(printed) == sorted(rows["level"]) == ["F", "M"]
    for _, row in rows.iterrows():
        mine = printed[row["level"]]
        assert close(mine["estimate"], row["estimate"], ESTIMATE_TOLERANCE)
        assert close(mine["se"], row["se"], ESTIMATE_TOLERANCE)
        assert mine["df"] == row["df"]
        assert close(mine["ci_lower"], row["ci_low"], CI_TOLERANCE)
        assert close(mine["ci_upper"], row["ci_high"], CI_TOLERANCE)


def test_cli_jkn_with_one_rscales_value_and_mse_equals_the_reference(capsys, tmp_path):
    code, out, err = run(capsys, plain_csv(tmp_path, "generated_jkn_mse"), "--weight", "w", "--repweights",
                         "^rep", "--rep-type", "JKn", "--rscales", "0.5", "--mse", "--mean", "score", "--by", "region")
    assert code == 0, err
    printed = pd.read_csv(pd.io.common.StringIO(out)).set_index("region")
    rows = reference().query("design == 'generated_jkn_mse' and estimator == 'svyby_svymean' and by == 'region'")
    for _, row in rows.iterrows():
        assert printed.loc[row["level"], "se"] == pytest.approx(row["se"], rel=1e-9)  # csv: 10 digits
        assert printed.loc[row["level"], "df"] == row["df"]


def test_cli_refuses_taylor_options_with_replicates_and_replicate_options_without(capsys, tmp_path):
    data = plain_csv(tmp_path, "generated_brr")
    code, _, err = run(capsys, data, "--weight", "w", "--repweights", "rep", "--rep-type", "BRR", "--strata",
                       "stratum", "--psu", "psu", "--mean", "score")
    assert code == 2
    assert "--strata, --psu with --repweights: replicate weights carry the whole design" in err
    code, _, err = run(capsys, data, "--weight", "w", "--repweights", "rep", "--mean", "score")
    assert code == 2 and "--repweights needs --rep-type" in err
    code, _, err = run(capsys, data, "--weight", "w", "--rep-type", "BRR", "--mse", "--mean", "score")
    assert code == 2 and "--rep-type, --mse describe replicate weights: give them with --repweights" in err
    code, _, err = run(capsys, data, "--weight", "w", "--repweights", "rep", "--rep-type", "JKn", "--mean", "score")
    assert code == 2 and "type JKn needs rscales" in err
    code, _, err = run(capsys, data, "--weight", "w", "--repweights", "^pw", "--rep-type", "BRR", "--mean", "score")
    assert code == 2 and "replicate weights '^pw': no column name matches it" in err


def test_cli_help_names_the_replicate_options(capsys):
    with pytest.raises(SystemExit):
        cli.main(["estimate", "--help"])
    shown = capsys.readouterr().out
    for option in ("--repweights REGEX", "--rep-type {JK1,JKn,BRR,Fay,bootstrap,other}", "--rho RHO", "--scale SCALE",
                   "--rscales A,B,...", "--mse"):
        assert option in shown
    assert "95% CI" in shown and "%%" not in shown


def test_cli_names_file_lines_of_missing_replicate_weights(capsys, tmp_path):
    frame = pd.read_csv(plain_csv(tmp_path, "generated_brr"))
    frame.loc[[0, 6], "rep3"] = None  # data rows 1 and 7: file lines 2 and 8
    frame.to_csv(tmp_path / "holes.csv", index=False)
    code, _, err = run(capsys, tmp_path / "holes.csv", "--weight", "w", "--repweights", "rep[0-9]+", "--rep-type",
                       "BRR", "--mean", "score")
    assert code == 1
    assert "replicate weights are missing for 2 unit(s): row(s) 1, 7, in rep3 (2)" in err
    assert "file line(s) 2, 8, the header being line 1" in err
