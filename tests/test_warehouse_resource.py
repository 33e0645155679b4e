"""The warehouse resource opens the DuckDB file once per run and closes it when the run ends, also when a step
fails; outside a run each connection is its own. And the parsed-YAML cache hands out copies."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from indicators.files import load_yaml
from pipelines.resources import WarehouseResource


def _counting_connect(monkeypatch, database: str) -> list[str]:
    opened: list[str] = []
    real = duckdb.connect

    def connect(*args, **kwargs):
        if (kwargs.get("database") or (args[0] if args else None)) == database:
            opened.append(database)
        return real(*args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", connect)
    return opened


@dg.asset
def first(warehouse: WarehouseResource) -> None:
    with warehouse.get_connection() as con:
        con.execute("CREATE TABLE numbers AS SELECT range AS n FROM range(5)")


@dg.asset(deps=[first])
def second(warehouse: WarehouseResource) -> int:
    with warehouse.get_connection() as con:
        total = con.execute("SELECT sum(n) FROM numbers").fetchone()[0]
        con.execute("CREATE TABLE total AS SELECT ? AS total", [total])
    return total


@dg.asset(deps=[second])
def failing(warehouse: WarehouseResource) -> None:
    with warehouse.get_connection() as con:
        con.execute("SELECT * FROM no_such_table")


def test_a_run_opens_the_warehouse_once_and_closes_it_at_the_end(tmp_path, monkeypatch):
    database = str(tmp_path / "w.duckdb")
    opened = _counting_connect(monkeypatch, database)
    result = dg.materialize([first, second], resources={"warehouse": WarehouseResource(database=database)})
    assert result.success and result.output_for_node("second") == 10  # 0 + 1 + 2 + 3 + 4, written by `first`
    assert opened == [database]
    # closed: a read-only connection in this process would be refused while a read-write one is open
    con = duckdb.connect(database, read_only=True)
    assert con.execute("SELECT total FROM total").fetchone() == (10,)
    con.close()


def test_a_failed_step_still_closes_the_warehouse_and_keeps_what_earlier_steps_wrote(tmp_path):
    database = str(tmp_path / "w.duckdb")
    result = dg.materialize([first, second, failing], resources={"warehouse": WarehouseResource(database=database)},
                            raise_on_error=False)
    assert not result.success
    con = duckdb.connect(database, read_only=True)
    assert con.execute("SELECT total FROM total").fetchone() == (10,)
    con.close()


def test_outside_a_run_every_connection_is_opened_and_closed(tmp_path, monkeypatch):
    database = str(tmp_path / "sub" / "w.duckdb")
    opened = _counting_connect(monkeypatch, database)
    warehouse = WarehouseResource(database=database)
    with warehouse.get_connection() as con:   # the folder is created on first connection
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    with warehouse.get_connection() as con:
        assert con.execute("SELECT x FROM t").fetchone() == (1,)
    assert opened == [database, database]
    duckdb.connect(database, read_only=True).close()


def test_parsed_yaml_is_a_fresh_copy_each_time():
    text = "source_id: ken_2023\nvalues: {1: boy, 2: girl}\n"
    doc = load_yaml(text)
    doc["values"][1] = "changed"
    doc["extra"] = True
    assert load_yaml(text) == {"source_id": "ken_2023", "values": {1: "boy", 2: "girl"}}
    with pytest.raises(Exception, match="mapping values are not allowed"):
        load_yaml("a: b: c")
