"""From raw answers to the harmonised questionnaire, the capacity index and the roadmap gap analysis.

- staging.questionnaire_answers: every answer of every responding country joined to its question (category,
  pillar, roadmap stage), with its status (answered, dont_know, unanswered), harmonised value and item score.
- staging.national_questionnaire: one row per country invited in a round (schemas.national_questionnaire), the
  answers pivoted to the model's columns, and the roadmap stage reached per pillar.
- staging.national_capacity_index: pillar and overall scores per country and round (NC.11 and its pillars), and
  the release tables estimates.capacity_scores, capacity_ranks (Monte Carlo rank intervals), capacity_audit.
- estimates.roadmap_stages, roadmap_gaps (checklist items missing for the next stage) and roadmap_stage_counts
  (countries per stage, pillar and group of countries).

A roadmap stage is reached on a pillar when every checklist item of that stage and of every earlier stage is met
(answered "yes", or a count of at least 1); "partial", "no", "don't know" and unanswered items are not met. The
answers are a few thousand rows: they are joined and pivoted in DuckDB, the index is computed with numpy.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from indicators import tables
from indicators.sources.national_questionnaire import CAPACITY_INDEX_COLUMNS, capacity_index
from indicators.sources.national_questionnaire.definition import STAGES, Questionnaire
from indicators.warehouse import replace_table, write_typed_table
from schemas.national_questionnaire import GCA_PILLARS, ROADMAP_STAGES, NationalQuestionnaireModel

# the groups the questionnaire's group values and stage counts are computed for
GROUP_CLASSIFICATIONS = ("world", "itu_region", "m49_developed_developing", "un_ldc", "wb_income")
QUESTION_COLUMNS = {"question_id": "VARCHAR", "position": "BIGINT", "category": "BIGINT", "text": "VARCHAR",
                    "type": "VARCHAR", "column_name": "VARCHAR", "pillar": "VARCHAR", "stage": "BIGINT",
                    "scored": "BOOLEAN", "checklist": "BOOLEAN"}
CHOICE_COLUMNS = {"question_id": "VARCHAR", "answer": "VARCHAR", "value": "VARCHAR", "score": "DOUBLE"}
INVITED_COLUMNS = {"round": "BIGINT", "country": "VARCHAR", "itu_region": "VARCHAR"}


def _definition_tables(con: duckdb.DuckDBPyConnection, questionnaire: Questionnaire) -> None:
    """The definition as three small temporary tables the SQL below joins: questions, their choices, invitations."""
    questions = pd.DataFrame([{
        "question_id": q.id, "position": i, "category": q.category, "text": q.text, "type": q.type,
        "column_name": q.column, "pillar": q.pillar, "stage": STAGES.get(q.stage),
        "scored": questionnaire.scored(q), "checklist": bool(q.pillar and q.stage)}
        for i, q in enumerate(questionnaire.questions)], columns=list(QUESTION_COLUMNS))
    choices = pd.DataFrame([{"question_id": q.id, "answer": answer,
                             "value": None if choice.value is None else str(choice.value).lower(),
                             "score": choice.score}
                            for q in questionnaire.questions if q.type == "choice"
                            for answer, choice in questionnaire.scales[q.scale].choices.items()],
                           columns=list(CHOICE_COLUMNS))
    invited = pd.DataFrame([{"round": r, "country": iso3, "itu_region": region}
                            for r in questionnaire.rounds for iso3, region in questionnaire.invited(r).items()],
                           columns=list(INVITED_COLUMNS))
    for name, columns, frame in (("_nq_questions", QUESTION_COLUMNS, questions),
                                 ("_nq_choices", CHOICE_COLUMNS, choices),
                                 ("_nq_invited", INVITED_COLUMNS, invited)):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} (" + ", ".join(f"{c} {t}" for c, t in columns.items())
                    + ")")
        if len(frame):
            con.register("_frame", frame)
            con.execute(f"INSERT INTO {name} SELECT * FROM _frame")
            con.unregister("_frame")


def harmonise_questionnaire(con: duckdb.DuckDBPyConnection, questionnaire: Questionnaire) -> dict[str, int]:
    """Write the staging and estimates tables of the module docstring; returns counts for the asset's metadata."""
    _definition_tables(con, questionnaire)
    dont_know = questionnaire.dont_know.replace("'", "''")
    con.execute(f"""
        CREATE OR REPLACE TABLE {tables.STAGING_QUESTIONNAIRE_ANSWERS} AS
        SELECT a.country, a.round, a.question_id, q.position, q.category, q.pillar, q.stage, q.scored, q.checklist,
               q.column_name, a.answer,
               CASE WHEN a.answer IS NULL THEN 'unanswered' WHEN a.answer = '{dont_know}' THEN 'dont_know'
                    ELSE 'answered' END AS status,
               CASE WHEN q.type = 'count' AND a.answer <> '{dont_know}' THEN a.answer ELSE c.value END AS value,
               CASE WHEN q.type = 'count' AND a.answer <> '{dont_know}'
                    THEN CAST(CAST(a.answer AS BIGINT) >= 1 AS DOUBLE) ELSE c.score END AS score,
               a.source_id, a.location
        FROM {tables.RAW_QUESTIONNAIRE_ANSWERS} a JOIN _nq_questions q USING (question_id)
        LEFT JOIN _nq_choices c ON c.question_id = a.question_id AND c.answer = a.answer
        ORDER BY a.round, a.country, q.position""")
    # the response file of each responding country and round: the SOURCE_ID of its rows in the release tables
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _nq_files AS SELECT country, round, any_value(source_id) AS source_id
                    FROM {tables.RAW_QUESTIONNAIRE_ANSWERS} GROUP BY ALL""")
    stages = roadmap_stages(con)
    wide = national_questionnaire_frame(con, questionnaire, stages)
    replace_table(con, tables.STAGING_NATIONAL_QUESTIONNAIRE, wide)
    scores = write_capacity_index(con, questionnaire)
    write_roadmap_tables(con, stages)
    return {"invited": len(wide), "responded": int(wide["responded"].sum()),
            "answers": con.execute(f"SELECT count(*) FROM {tables.STAGING_QUESTIONNAIRE_ANSWERS}").fetchone()[0],
            "countries_scored": int(scores["score_overall"].notna().sum())}


# ------------------------------------------------------------------------------------------------- roadmap
def roadmap_stages(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """country, round, pillar, stage reached (0-5): the stage before the first one with an unmet checklist item."""
    return con.execute(f"""
        WITH items AS (
            SELECT country, round, pillar, stage, bool_and(status = 'answered' AND score = 1) AS met
            FROM {tables.STAGING_QUESTIONNAIRE_ANSWERS} WHERE checklist GROUP BY ALL)
        SELECT country, round, pillar, coalesce(min(stage) FILTER (WHERE NOT met), 6) - 1 AS stage
        FROM items GROUP BY ALL ORDER BY round, country, pillar""").df()


def write_roadmap_tables(con: duckdb.DuckDBPyConnection, stages: pd.DataFrame) -> None:
    names = pd.DataFrame({"stage": list(ROADMAP_STAGES), "stage_name": list(ROADMAP_STAGES.values())})
    con.register("_stages", stages)
    con.register("_stage_names", names)
    try:
        con.execute(f"""
            CREATE OR REPLACE TABLE {tables.ESTIMATES_ROADMAP_STAGES} AS
            SELECT s.country AS REF_AREA, s.round AS TIME_PERIOD, s.pillar AS PILLAR, s.stage AS STAGE,
                   n.stage_name AS STAGE_NAME,
                   (SELECT count(*) FROM {tables.STAGING_QUESTIONNAIRE_ANSWERS} a
                    WHERE a.country = s.country AND a.round = s.round AND a.pillar = s.pillar AND a.checklist
                      AND a.stage = s.stage + 1 AND NOT (a.status = 'answered' AND a.score = 1)) AS ITEMS_MISSING,
                   f.source_id AS SOURCE_ID
            FROM _stages s JOIN _stage_names n USING (stage) JOIN _nq_files f ON f.country = s.country
                AND f.round = s.round ORDER BY 2, 1, 3""")
        con.execute(f"""
            CREATE OR REPLACE TABLE {tables.ESTIMATES_ROADMAP_GAPS} AS
            SELECT s.country AS REF_AREA, s.round AS TIME_PERIOD, s.pillar AS PILLAR, s.stage AS STAGE,
                   s.stage + 1 AS NEXT_STAGE, n.stage_name AS NEXT_STAGE_NAME, a.question_id AS ITEM,
                   q.text AS ITEM_TEXT, coalesce(a.answer, 'unanswered') AS ANSWER, a.source_id AS SOURCE_ID
            FROM _stages s JOIN {tables.STAGING_QUESTIONNAIRE_ANSWERS} a
                ON a.country = s.country AND a.round = s.round AND a.pillar = s.pillar AND a.checklist
               AND a.stage = s.stage + 1 AND NOT (a.status = 'answered' AND a.score = 1)
            JOIN _nq_questions q USING (question_id)
            JOIN _stage_names n ON n.stage = s.stage + 1
            ORDER BY 2, 1, 3, a.position""")
        # every stage of every pillar, also those no country of the group is at (a stacked bar needs them all)
        con.execute(f"""
            CREATE OR REPLACE TABLE {tables.ESTIMATES_ROADMAP_STAGE_COUNTS} AS
            WITH members AS (
                SELECT m.group_code, m.iso3 FROM {tables.REFERENCE_GROUP_MEMBERS} m
                JOIN {tables.REFERENCE_AGGREGATE_GROUPS} g USING (group_code)
                WHERE g.classification IN ({", ".join(f"'{c}'" for c in GROUP_CLASSIFICATIONS)})),
            cells AS (SELECT m.group_code, s.round, s.pillar, s.stage, count(*) AS countries
                      FROM _stages s JOIN members m ON m.iso3 = s.country GROUP BY ALL)
            SELECT f.group_code AS REF_AREA, f.round AS TIME_PERIOD, f.pillar AS PILLAR, n.stage AS STAGE,
                   n.stage_name AS STAGE_NAME, coalesce(c.countries, 0) AS COUNTRIES, r.SOURCE_ID
            FROM (SELECT DISTINCT group_code, round, pillar FROM cells) f CROSS JOIN _stage_names n
            JOIN (SELECT round, string_agg(DISTINCT source_id, '+' ORDER BY source_id) AS SOURCE_ID FROM _nq_files
                  GROUP BY round) r ON r.round = f.round
            LEFT JOIN cells c ON c.group_code = f.group_code AND c.round = f.round AND c.pillar = f.pillar
                             AND c.stage = n.stage
            ORDER BY 1, 2, 3, 4""")
    finally:
        con.unregister("_stages")
        con.unregister("_stage_names")


# ------------------------------------------------------------------------------------------ wide table
def national_questionnaire_frame(con: duckdb.DuckDBPyConnection, questionnaire: Questionnaire,
                                 stages: pd.DataFrame) -> pd.DataFrame:
    """staging.national_questionnaire: every invited country of each delivered round, its answers in the model's columns
    (typed as the model says; "don't know" and unanswered are null) and its roadmap stage per pillar."""
    # a round is in the table only when a response file of it was delivered: without one, nothing is known of the
    # round (its countries are not "non-respondents")
    invited = con.execute(f"""SELECT * FROM _nq_invited
                              WHERE round IN (SELECT round FROM {tables.RAW_QUESTIONNAIRE_FILES})
                              ORDER BY round, country""").df()
    answers = con.execute(f"""SELECT country, round, column_name, value FROM {tables.STAGING_QUESTIONNAIRE_ANSWERS}
                              WHERE column_name IS NOT NULL""").df()
    responded = con.execute("SELECT country, round, source_id FROM _nq_files").df()
    wide = answers.pivot(index=["country", "round"], columns="column_name", values="value")
    frame = (invited.merge(responded, on=["country", "round"], how="left")
             .merge(wide.reset_index(), on=["country", "round"], how="left"))
    frame["responded"] = frame["source_id"].notna()
    frame["itu_region"] = frame["itu_region"].str.removeprefix("ITU_")
    frame = frame.rename(columns={"round": "wave"}, errors="raise")
    if len(stages):
        by_pillar = stages.pivot(index=["country", "round"], columns="pillar", values="stage")
        by_pillar.columns = [f"roadmap_stage_{p}" for p in by_pillar.columns]
        frame = frame.merge(by_pillar.reset_index().rename(columns={"round": "wave"}), on=["country", "wave"],
                            how="left")
    schema = NationalQuestionnaireModel.to_schema()
    for name, column in schema.columns.items():
        if name not in frame:
            frame[name] = pd.NA
        frame[name] = _typed(frame[name], str(column.dtype))
    return frame[[*schema.columns, "source_id"]]


def _typed(values: pd.Series, dtype: str) -> pd.Series:
    """Answers arrive as text ('true', '0.5', '3'): cast them to the model's column type."""
    if dtype == "boolean":
        return values.map({"true": True, "false": False, True: True, False: False}).astype("boolean")
    if dtype == "Int64":
        return pd.to_numeric(values, errors="raise").astype("Int64")
    if dtype.startswith("float"):
        return pd.to_numeric(values, errors="raise").astype("float64")
    if dtype == "bool":
        return values.astype(bool)
    return values.astype("int64") if dtype.startswith("int") else values.astype(object)


def audit_national_questionnaire(con: duckdb.DuckDBPyConnection, questionnaire: Questionnaire) -> list[dict]:
    """Rules of schemas.national_questionnaire broken by staging.national_questionnaire, each as a Violation dict
    naming the response file, the country and round, the question behind the column and the rule (empty: every
    rule holds). The reader already refused answers outside their lists, so a violation here is a rule between
    answers (an INHOPE member hotline without a hotline) or a defect of the harmonisation."""
    from schemas.validation import failure_cases

    frame = con.execute(f"SELECT * FROM {tables.STAGING_NATIONAL_QUESTIONNAIRE}").df()
    files = dict(con.execute(f"SELECT source_id, path FROM {tables.RAW_QUESTIONNAIRE_FILES}").fetchall())
    schema = NationalQuestionnaireModel.to_schema()
    for name, column in schema.columns.items():
        frame[name] = _typed(frame[name], str(column.dtype))
    questions = {q.column: q.id for q in questionnaire.questions if q.column}
    violations = []
    for case in failure_cases(NationalQuestionnaireModel, frame).itertuples(index=False):
        row = frame.loc[case.index] if pd.notna(case.index) else None
        where = "" if row is None else f"country {row['country']}, round {row['wave']}: "
        column = None if pd.isna(case.column) else str(case.column)
        question = questions.get(column)
        violations.append({
            "file": files.get(None if row is None else row["source_id"], tables.STAGING_NATIONAL_QUESTIONNAIRE),
            "row": None, "column": question or column, "harmonised_column": column,
            "rule": where + str(case.check), "value": None if pd.isna(case.failure_case) else str(case.failure_case),
            "position": "row"})
    return violations


# ------------------------------------------------------------------------------------------ capacity index
def item_scores(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The capacity index's input: one row per responding country, round and scored question."""
    return con.execute(f"""SELECT country, round, pillar, question_id AS item, status,
                                  CASE WHEN status = 'answered' THEN score END AS score
                           FROM {tables.STAGING_QUESTIONNAIRE_ANSWERS} WHERE scored
                           ORDER BY round, country, position""").df()


def write_capacity_index(con: duckdb.DuckDBPyConnection, questionnaire: Questionnaire) -> pd.DataFrame:
    """staging.national_capacity_index (wide, for the registry's NC.11 entries) and the release tables
    estimates.capacity_scores, capacity_ranks and capacity_audit."""
    config = questionnaire.index_config()
    items = item_scores(con)
    scores = capacity_index.capacity_scores(items, config)
    ranks = capacity_index.monte_carlo_ranks(items, config)
    audit = capacity_index.pillar_audit(items, config)
    wide = scores.pivot(index=["REF_AREA", "TIME_PERIOD"], columns="PILLAR", values="SCORE")
    wide = wide.reindex(columns=[*GCA_PILLARS, "overall"])
    wide.columns = [f"score_{c}" for c in wide.columns]
    wide = wide.reset_index().rename(columns={"REF_AREA": "country", "TIME_PERIOD": "wave"}, errors="raise")
    wide = wide.merge(con.execute("SELECT country, round AS wave, source_id FROM _nq_files").df(),
                      on=["country", "wave"], how="left")
    write_typed_table(con, tables.STAGING_NATIONAL_CAPACITY_INDEX, CAPACITY_INDEX_COLUMNS, wide)
    files = con.execute("SELECT country AS REF_AREA, round AS TIME_PERIOD, source_id AS SOURCE_ID "
                        "FROM _nq_files").df()
    replace_table(con, tables.ESTIMATES_CAPACITY_SCORES, scores.merge(files, on=["REF_AREA", "TIME_PERIOD"]))
    replace_table(con, tables.ESTIMATES_CAPACITY_RANKS, ranks.merge(files, on=["REF_AREA", "TIME_PERIOD"]))
    replace_table(con, tables.ESTIMATES_CAPACITY_AUDIT, audit)
    return wide

