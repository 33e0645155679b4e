"""A survey delivery that comes with replicate weights, through the pipeline's own steps: its mapping spec declares
design.replicate_weights, the delivery is read and harmonised (the replicate weights staged beside its rows), and
the registry's SA.1 is estimated with the replicate variance, in every published cell (total, sex, age band and
the sex x age band crossing), equal to R's `survey` on the same file.

Reference: tests/reference/make_replicate_delivery.R (R 4.2.2, survey 4.1.1): the delivery
tests/reference/replicate_delivery/fay_2024.csv (20 Fay BRR replicates, rho 0.5) and R's results for it; the
spec beside them is what a provider of such a file writes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from indicators import tables
from indicators.registry import load_registry
from indicators.sources.survey_microdata.deliveries import harmonise_delivery, read_delivery
from indicators.sources.survey_microdata.estimates import age_code, estimate_indicators

DELIVERY = Path(__file__).parent / "reference" / "replicate_delivery"
SPEC = DELIVERY / "child_survey_fay_2024.yaml"


def _staged(folder: Path, spec: Path = SPEC) -> tuple[duckdb.DuckDBPyConnection, object]:
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    assert read_delivery(con, spec).read
    return con, harmonise_delivery(con, spec)


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    con, result = _staged(tmp_path_factory.mktemp("replicates"))
    yield con, result
    con.close()


def test_the_delivery_and_its_replicate_weights_are_staged(staged):
    con, result = staged
    assert result.status == "accepted" and result.accepted_rows == 451
    n, replicates = con.execute(f"SELECT count(*), min(len(replicate_weights)) "
                                f"FROM {tables.STAGING_SURVEY_REPLICATE_WEIGHTS}").fetchone()
    assert (n, replicates) == (451, 20)
    design = con.execute(f"SELECT type, rho, scale, rscales, mse, replicates, columns "
                         f"FROM {tables.STAGING_SURVEY_REPLICATE_DESIGNS}").fetchall()
    assert design == [("Fay", 0.5, None, None, False, 20, ", ".join(f"rw{r}" for r in range(1, 21)))]
    # the file's first child, as delivered: each replicate weight is 1.5 w or 0.5 w (Fay, rho 0.5)
    delivered = pd.read_csv(DELIVERY / "fay_2024.csv").iloc[0]
    first = con.execute(f"SELECT replicate_weights FROM {tables.STAGING_SURVEY_REPLICATE_WEIGHTS} "
                        "WHERE respondent_id = '1'").fetchone()[0]
    assert first == [delivered[f"rw{r}"] for r in range(1, 21)]
    assert {round(w / delivered["w"], 6) for w in first} == {0.5, 1.5}


def test_sa1_has_the_replicate_variance_in_every_published_cell(staged):
    con, _ = staged
    sa1 = next(i for i in load_registry() if i.code == "SA.1")
    published = estimate_indicators(con, [sa1])["SA.1"]
    cells = published[(published["INDICATOR"] == "SA.1") & (published["URBANISATION"] == "_T")]
    cells = cells.set_index(["SEX", "AGE"])
    reference = pd.read_csv(DELIVERY / "fay_2024_reference.csv", dtype={"sex": str, "age_band": str})
    assert len(cells) == len(reference) == 12
    compared = 0
    for row in reference.itertuples(index=False):
        cell = cells.loc[(row.sex, age_code(row.age_band))]
        assert cell["N_UNWEIGHTED"] == row.n
        if cell["OBS_STATUS"] == "Q":  # suppressed (its CV from the replicate SE, or to protect such a cell)
            cv = 100 * row.se / row.estimate
            assert cv > 33.3 or cell["CONF_STATUS"] == "D", (row.sex, row.age_band, cv)
            continue
        compared += 1
        assert cell["OBS_VALUE"] == pytest.approx(100 * row.estimate, rel=1e-9), (row.sex, row.age_band)
        assert cell["STD_ERR"] == pytest.approx(100 * row.se, rel=1e-9), (row.sex, row.age_band)
        assert cell["DF"] == row.df, (row.sex, row.age_band)
        assert cell["CI_LOWER"] == pytest.approx(100 * row.ci_low, rel=1e-6), (row.sex, row.age_band)
        assert cell["CI_UPPER"] == pytest.approx(100 * row.ci_high, rel=1e-6), (row.sex, row.age_band)
    assert compared == 8
    # boys aged 9-11 are suppressed by their replicate CV (0.0695 / 0.1827 = 38 % > 33.3 %); the crossed table
    # protects them: boys 12-14 (row, fewest cases), girls 9-11 (column), then girls 12-14, which closes both the
    # girls' row and the 12-14 column at once
    conf = {cell: cells.loc[cell, "CONF_STATUS"] for cell in cells.index if cells.loc[cell, "OBS_STATUS"] == "Q"}
    assert conf == {("M", "Y9T11"): "N", ("M", "Y12T14"): "D", ("F", "Y9T11"): "D", ("F", "Y12T14"): "D"}


def test_quantiles_have_the_replicate_woodruff_interval(staged):
    """BC.13-15 (median and quartiles of hours online) on the replicate delivery, equal to R's svyquantile on the
    svrepdesign (Woodruff interval from the replicate SE of the CDF)."""
    con, _ = staged
    entries = [i for i in load_registry() if i.code in ("BC.13", "BC.14", "BC.15")]
    published = estimate_indicators(con, entries)
    reference = pd.read_csv(DELIVERY / "fay_2024_quantiles.csv", dtype={"sex": str, "age_band": str})
    code_of = {0.5: "BC.13", 0.25: "BC.14", 0.75: "BC.15"}
    for row in reference.itertuples(index=False):
        cells = published[code_of[row.quantile]]
        cell = cells[(cells["SEX"] == row.sex) & (cells["AGE"] == age_code(row.age_band))
                     & (cells["URBANISATION"] == "_T")].iloc[0]
        where = (row.sex, row.age_band, row.quantile)
        assert cell["UNIT_MEASURE"] == "hours"
        assert cell["OBS_VALUE"] == pytest.approx(row.estimate, rel=1e-9), where
        assert cell["STD_ERR"] == pytest.approx(row.se, rel=1e-9), where
        assert cell["CI_LOWER"] == pytest.approx(row.ci_low, rel=1e-6), where
        assert cell["CI_UPPER"] == pytest.approx(row.ci_high, rel=1e-6), where
        assert cell["DF"] == row.df and cell["N_UNWEIGHTED"] == row.n, where


def test_taylor_and_replicate_deliveries_are_estimated_together(staged, tmp_path):
    """A build with a Taylor delivery beside the replicate one: each keeps its own variance (the replicate
    delivery's cells are unchanged by the other's presence)."""
    con, _ = staged
    sa1 = next(i for i in load_registry() if i.code == "SA.1")
    alone = estimate_indicators(con, [sa1])["SA.1"]
    con.execute(f"CREATE TEMP TABLE _copy AS SELECT * FROM {tables.STAGING_CHILD_SURVEY}")
    try:
        # the same children as a second, Taylor-design delivery (strata and schools), another country
        con.execute(f"INSERT INTO {tables.STAGING_CHILD_SURVEY} BY NAME SELECT * REPLACE ('taylor_2024' AS source_id,"
                    f" 'UGA' AS country) FROM _copy")
        both = estimate_indicators(con, [sa1])["SA.1"]
    finally:
        con.execute(f"DELETE FROM {tables.STAGING_CHILD_SURVEY} WHERE source_id = 'taylor_2024'")
    replicate = both[both["SOURCE_ID"] == "fay_2024"].reset_index(drop=True)
    pd.testing.assert_frame_equal(replicate, alone.reset_index(drop=True))
    taylor = both[(both["SOURCE_ID"] == "taylor_2024") & (both["INDICATOR"] == "SA.1")].set_index(
        ["SEX", "AGE", "URBANISATION"])
    same = alone[alone["INDICATOR"] == "SA.1"].set_index(["SEX", "AGE", "URBANISATION"])
    total = ("_T", "_T", "_T")
    assert taylor.loc[total, "OBS_VALUE"] == pytest.approx(same.loc[total, "OBS_VALUE"], rel=1e-12)
    # the Taylor SE of the same children (16 strata x 2 schools) differs from the replicate one
    assert taylor.loc[total, "STD_ERR"] != pytest.approx(same.loc[total, "STD_ERR"], rel=1e-6)
    assert taylor.loc[total, "DF"] == 16  # 32 schools - 16 strata


def _delivery_with(tmp_path: Path, spec_changes: dict | None = None, edit=None) -> Path:
    """A copy of the delivery and its spec in tmp_path, the spec's replicate declaration and the file edited."""
    import yaml

    shutil.copy(DELIVERY / "fay_2024.csv", tmp_path / "fay_2024.csv")
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    spec["design"]["replicate_weights"].update(spec_changes or {})
    path = tmp_path / SPEC.name
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    if edit:
        frame = pd.read_csv(tmp_path / "fay_2024.csv", dtype=str, keep_default_na=False)
        edit(frame)
        frame.to_csv(tmp_path / "fay_2024.csv", index=False)
    return path


@pytest.mark.parametrize("changes, edit, reason", [
    ({"columns": "^repw[0-9]+$"}, False,
     "design.replicate_weights.columns: no column of the file matches '^repw[0-9]+$'"),
    ({"columns": "^rw1$"}, False,
     "design.replicate_weights: 1 replicate weight column(s) found; a replicate variance needs at least 2"),
    ({"type": "other", "rho": None, "scale": 0.1, "rscales": [1.0, 1.0]}, False,
     "design.replicate_weights.rscales: 2 value(s) for 20 replicate weight columns"),
    ({}, True,  # rw5 of the 4th and 8th child (lines 5 and 9) negative and empty
     "replicate weight missing, not a number or negative in 2 row(s) (lines 5, 9; column(s) 'rw5')"),
])
def test_unusable_replicate_weights_reject_the_delivery_with_the_reason(tmp_path, changes, edit, reason):
    def negative_and_missing(frame):
        frame.loc[3, "rw5"] = "-1"
        frame.loc[7, "rw5"] = ""

    spec = _delivery_with(tmp_path, changes, negative_and_missing if edit else None)
    con, result = _staged(tmp_path, spec)
    try:
        assert result.status == "rejected"
        assert any(reason in r for r in result.reasons), result.reasons
        staged = con.execute(f"SELECT count(*) FROM {tables.STAGING_SURVEY_REPLICATE_WEIGHTS}").fetchone()[0]
        assert staged == 0
    finally:
        con.close()


def test_a_re_delivery_without_replicates_leaves_none_staged(tmp_path):
    spec = _delivery_with(tmp_path)
    con, result = _staged(tmp_path, spec)
    try:
        assert result.status == "accepted"
        import yaml

        plain = yaml.safe_load(spec.read_text(encoding="utf-8"))
        del plain["design"]["replicate_weights"]
        plain["ignore"] = [f"rw{r}" for r in range(1, 21)]
        spec.write_text(yaml.safe_dump(plain, sort_keys=False), encoding="utf-8")
        assert read_delivery(con, spec).read
        assert harmonise_delivery(con, spec).status == "accepted"
        for table in (tables.STAGING_SURVEY_REPLICATE_WEIGHTS, tables.STAGING_SURVEY_REPLICATE_DESIGNS):
            assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    finally:
        con.close()
