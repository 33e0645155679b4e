"""indicators.tables: the warehouse table names and the shared SQL helpers; schemas.validation.cell_violations."""

import duckdb
import pandas as pd
import pandera.pandas as pa

from indicators import tables
from indicators.sources import registered_sources
from schemas.validation import cell_violations, shown_value


def test_quote_identifier_doubles_embedded_double_quotes():
    assert tables.quote_identifier("weight") == '"weight"'
    assert tables.quote_identifier('q"1 a') == '"q""1 a"'
    con = duckdb.connect()
    column = tables.quote_identifier('q"1 a')
    con.execute(f"CREATE TABLE t ({column} INTEGER)")
    assert con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 't'").fetchall() \
        == [('q"1 a',)]


def test_sql_string_doubles_embedded_single_quotes():
    assert tables.sql_string("NCMEC's") == "'NCMEC''s'"
    literal = tables.sql_string('it\'s a "path"')
    assert literal == "'it''s a \"path\"'"
    assert duckdb.connect().execute(f"SELECT {literal}").fetchone()[0] == 'it\'s a "path"'


def test_table_exists_for_plain_and_quoted_names():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    delivery = tables.raw_delivery_table("child_survey", "bra_2024")
    assert delivery == 'raw."child_survey__bra_2024"'
    assert not tables.table_exists(con, delivery)
    assert not tables.table_exists(con, tables.RAW_ICT_FILES)
    con.execute(f"CREATE TABLE {delivery} (_row BIGINT)")
    con.execute(f"CREATE TABLE {tables.RAW_ICT_FILES} (source_id VARCHAR)")
    assert tables.table_exists(con, delivery)
    assert tables.table_exists(con, "raw.child_survey__bra_2024")
    assert tables.table_exists(con, tables.RAW_ICT_FILES)
    assert not tables.table_exists(con, "raw.ict_file")  # a prefix is not the table


def test_every_constant_is_a_schema_table_of_a_warehouse_stage():
    from indicators.warehouse import STAGES

    names = {k: v for k, v in vars(tables).items() if k.isupper() and isinstance(v, str)}
    assert len(names) == 58  # + staging.survey_replicate_weights and _designs (issue 15)
    for constant, table in names.items():
        schema, name = table.split(".")
        assert constant.startswith(schema.upper() + "_") and schema in STAGES and name.replace("_", "").isalnum()
    assert len(set(names.values())) == len(names)  # no table under two names


def test_sources_declare_their_tables_with_the_constants():
    declared = {s.name: (s.observation_tables, s.provenance_tables) for s in registered_sources()}
    assert declared["ict"] == (("estimates.country_year",), ("raw.ict_files",))
    assert declared["incidents"] == (("estimates.incidents",), ("raw.incident_files",))
    assert declared["survey_microdata"] == (("estimates.survey_*",), ("raw.microdata_files",))
    assert declared["national_questionnaire"] == (("estimates.national_questionnaire",),
                                                  ("raw.questionnaire_files",))
    assert tables.survey_estimates_table("risk_behaviour") == "estimates.survey_risk_behaviour"


class _Toy(pa.DataFrameModel):
    code: str = pa.Field(isin=["BRA", "KEN"])
    value: float = pa.Field(ge=0)
    source_file: str
    source_row: int
    source_column: str


def _locate(frame, case, row):
    return f"{case.column}: {case.check}", row["source_column"], row[case.column]


def test_cell_violations_name_file_row_column_rule_and_value():
    frame = pd.DataFrame({"code": ["BRA", "XXX", "KEN"], "value": [1.0, 2.0, -4210.0],
                          "source_file": ["b.csv", "a.csv", "a.csv"], "source_row": [2, 7, 3],
                          "source_column": ["2020", "2021", "2022"]})
    violations = cell_violations(_Toy, frame, "staging.toy", _locate)
    # sorted by file then row; -4210.0 shown as typed
    assert violations == [
        {"file": "a.csv", "row": 3, "column": "2022", "rule": "value: greater_than_or_equal_to(0)",
         "value": "-4210"},
        {"file": "a.csv", "row": 7, "column": "2021", "rule": "code: isin(['BRA', 'KEN'])", "value": "XXX"}]
    assert cell_violations(_Toy, frame.iloc[[0]], "staging.toy", _locate) == []


def test_cell_violations_report_a_missing_column_against_the_table():
    frame = pd.DataFrame({"code": ["BRA"], "source_file": ["b.csv"], "source_row": [2], "source_column": ["2020"]})
    [violation] = cell_violations(_Toy, frame, "staging.toy", _locate)
    assert violation["file"] == "staging.toy" and violation["row"] is None
    assert violation["rule"] == "table structure: column_in_dataframe" and violation["value"] == "value"


def test_shown_value():
    assert shown_value(4210.0) == "4210"
    assert shown_value(0.1) == "0.1"
    assert shown_value(float("nan")) is None and shown_value(pd.NA) is None and shown_value(None) is None
    assert shown_value("XKX") == "XKX"
