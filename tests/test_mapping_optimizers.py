"""The compiled mapping runs with two DuckDB optimizers off (they plan longer than the query runs): the harmonised
candidate is row for row the same as with every optimizer on, and the connection's setting is restored after."""

from __future__ import annotations

import duckdb
import pytest

from indicators import tables
from indicators.paths import MAPPINGS_DIR
from indicators.sources.survey_microdata.deliveries import read_delivery
from indicators.sources.survey_microdata.harmonise import (MAPPING_SKIPPED_OPTIMIZERS, compile_mapping,
                                                           optimizers_disabled)
from indicators.sources.survey_microdata.specs import find_specs, load_spec
from indicators.warehouse import connect


@pytest.mark.parametrize("source_id", ["mex_2017", "ken_2023", "pol_2019"])
def test_the_candidate_is_the_same_without_the_two_optimizers(source_id, tmp_path):
    con = connect(tmp_path / "w.duckdb")
    try:
        spec_file = find_specs(MAPPINGS_DIR)[source_id]
        assert read_delivery(con, spec_file).read
        spec = load_spec(spec_file)
        raw = tables.raw_delivery_table(spec.target, spec.source_id)
        sql = compile_mapping(spec, {name: kind for name, kind, *_ in con.execute(f"DESCRIBE {raw}").fetchall()})
        con.execute(f"CREATE TEMP TABLE planned AS {sql}")
        with optimizers_disabled(con, MAPPING_SKIPPED_OPTIMIZERS):
            assert set(con.execute("SELECT current_setting('disabled_optimizers')").fetchone()[0].split(",")) == \
                set(MAPPING_SKIPPED_OPTIMIZERS)
            con.execute(f"CREATE TEMP TABLE unplanned AS {sql}")
        assert con.execute("SELECT current_setting('disabled_optimizers')").fetchone()[0] == ""
        rows = con.execute("SELECT count(*) FROM planned").fetchone()[0]
        assert rows > 1000
        for a, b in (("planned", "unplanned"), ("unplanned", "planned")):
            assert con.execute(f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})").fetchone() \
                == (0,)
    finally:
        con.close()


def test_optimizers_already_disabled_stay_disabled():
    con = duckdb.connect()
    con.execute("SET disabled_optimizers = 'top_n'")
    with optimizers_disabled(con, ("in_clause",)):
        assert con.execute("SELECT current_setting('disabled_optimizers')").fetchone()[0] in ("in_clause,top_n",
                                                                                               "top_n,in_clause")
    assert con.execute("SELECT current_setting('disabled_optimizers')").fetchone()[0] == "top_n"
