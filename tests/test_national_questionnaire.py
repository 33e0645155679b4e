"""The COP national questionnaire source: response rates, shares of responding countries, roadmap stages and gaps
and pillar scores recomputed by hand from the bundled SYNTHETIC responses (pandas over the CSV files and the
reference ITU regions, independent of the pipeline's SQL); definition errors; and a bad answer failing `cop build`
with the cell named while the previous release stays as it was."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from conftest import copy_country_sample
from indicators.errors import ConfigError
from indicators.reference import load_reference_tables
from indicators.registry import load_registry
from indicators.sources.national_questionnaire.definition import DEFINITION_FILE, load_questionnaire, questionnaire
from indicators.sources.national_questionnaire.estimates import compute_questionnaire_indicators
from indicators.sources.national_questionnaire.harmonise import harmonise_questionnaire
from indicators.sources.national_questionnaire.ingest import load_raw_questionnaire, questionnaire_deliveries
from indicators.warehouse import connect

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
RESPONSES = {r: SAMPLE / "questionnaire" / f"responses_{r}.csv" for r in (2009, 2024)}
STAGE_ORDER = ["assessment", "planning", "implementation", "evaluation", "improvement"]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """The sample's questionnaire responses through ingest, harmonisation and the registry's NC.* entries."""
    con = connect(tmp_path_factory.mktemp("nq") / "w.duckdb")
    load_reference_tables(con)
    definition = questionnaire()
    load_raw_questionnaire(con, questionnaire_deliveries(SAMPLE, None, definition), definition)
    harmonise_questionnaire(con, definition)
    compute_questionnaire_indicators(con, load_registry())
    yield con
    con.close()


@pytest.fixture(scope="module")
def responses() -> dict[int, pd.DataFrame]:
    return {r: pd.read_csv(p, dtype=str, keep_default_na=False) for r, p in RESPONSES.items()}


@pytest.fixture(scope="module")
def invited() -> dict[int, pd.DataFrame]:
    """ITU Member States by hand: the reference ITU regions less Palestine (observer) and Palau (not a member);
    2009 also less South Sudan and Timor-Leste (the definition's `except`)."""
    regions = pd.read_csv(REPO / "data" / "reference" / "itu_regions.csv", dtype=str)
    members = regions[~regions["iso3"].isin(["PSE", "PLW"])]
    return {2009: members[~members["iso3"].isin(["SSD", "TLS"])], 2024: members}


def group_rows(con, code: str) -> pd.DataFrame:
    return con.execute("SELECT * FROM estimates.national_questionnaire_groups WHERE INDICATOR = ?", [code]).df()


def test_response_rates_by_region_and_round_match_a_count_of_the_files(warehouse, responses, invited):
    rates = group_rows(warehouse, "NC.23").set_index(["REF_AREA", "TIME_PERIOD"])
    assert len(invited[2009]) == 191 and len(invited[2024]) == 193
    world_2009 = rates.loc[("WLD", 2009)]
    assert len(responses[2009]) == 51
    assert world_2009["OBS_VALUE"] == pytest.approx(100 * 51 / 191) and round(world_2009["OBS_VALUE"], 1) == 26.7
    assert world_2009["COVERAGE"] == pytest.approx(51 / 191)
    assert world_2009["COMMENT_OBS"] == "51 of 191 invited countries responded (26.7 %)"
    for round_, answers in responses.items():
        members = invited[round_]
        for region, countries in members.groupby("itu_region_code")["iso3"]:
            answered = answers["country"].isin(set(countries)).sum()
            row = rates.loc[(region, round_)]
            assert row["OBS_VALUE"] == pytest.approx(100 * answered / len(countries)), (region, round_)
            assert row["N_UNWEIGHTED"] == len(countries)


def test_shares_of_responding_countries_by_region_match_a_count_of_the_answers(warehouse, responses, invited):
    """NC.1 (focal point designated, Q4.1): among the region's respondents that answered yes or no; the number that
    answered and the response rate travel with the value; fewer than 5 answering countries is flagged U."""
    shares = group_rows(warehouse, "NC.1").set_index(["REF_AREA", "TIME_PERIOD"])
    checked = 0
    for round_, answers in responses.items():
        region_of = dict(zip(invited[round_]["iso3"], invited[round_]["itu_region_code"]))
        answers = answers.assign(region=answers["country"].map(region_of))
        for region, rows in answers.groupby("region"):
            given = rows[rows["Q4.1"].isin(["yes", "no"])]
            row = shares.loc[(region, round_)]
            assert row["OBS_VALUE"] == pytest.approx(100 * (given["Q4.1"] == "yes").mean()), (region, round_)
            assert row["N_UNWEIGHTED"] == len(given)
            assert row["COVERAGE"] == pytest.approx(len(rows) / (invited[round_]["itu_region_code"] == region).sum())
            assert row["OBS_STATUS"] == ("U" if len(given) < 5 else "A")
            assert (f"{len(given)} answered" in row["COMMENT_OBS"]) and (
                ("fewer than 5 countries answered" in row["COMMENT_OBS"]) == (len(given) < 5))
            checked += 1
    assert checked == 12   # six ITU regions, two rounds


def test_country_values_are_100_for_yes_0_for_no_and_absent_when_not_answered(warehouse, responses):
    values = warehouse.execute("SELECT REF_AREA, TIME_PERIOD, OBS_VALUE FROM estimates.national_questionnaire "
                               "WHERE INDICATOR = 'NC.1'").df().set_index(["REF_AREA", "TIME_PERIOD"])["OBS_VALUE"]
    expected = {(c, r): {"yes": 100.0, "no": 0.0}[a] for r, frame in responses.items()
                for c, a in zip(frame["country"], frame["Q4.1"]) if a in ("yes", "no")}
    assert values.to_dict() == expected


def hand_stages(answers: pd.Series) -> dict[str, tuple[int, list[str]]]:
    """pillar -> (stage reached, checklist items missing for the next stage) from one country's answers."""
    checklist = [q for q in questionnaire().questions if q.pillar and q.stage]
    out = {}
    for pillar in ("legal", "technical", "organizational", "capacity_building", "cooperation"):
        reached = 0
        for number, stage in enumerate(STAGE_ORDER, start=1):
            items = [q.id for q in checklist if q.pillar == pillar and q.stage == stage]
            met = [answers[i] == "yes" or (answers[i].isdigit() and int(answers[i]) >= 1) for i in items]
            if not all(met):
                out[pillar] = (reached, [i for i, m in zip(items, met) if not m])
                break
            reached = number
        else:
            out[pillar] = (5, [])
    return out


def test_roadmap_stages_and_gaps_match_a_hand_reading_of_the_checklist(warehouse, responses):
    stages = warehouse.execute("SELECT * FROM estimates.roadmap_stages").df()
    gaps = warehouse.execute("SELECT * FROM estimates.roadmap_gaps").df()
    for round_, frame in responses.items():
        for _, answers in frame.iterrows():
            for pillar, (stage, missing) in hand_stages(answers).items():
                where = (stages["REF_AREA"] == answers["country"]) & (stages["TIME_PERIOD"] == round_) & (
                    stages["PILLAR"] == pillar)
                assert stages.loc[where, "STAGE"].tolist() == [stage], (answers["country"], round_, pillar)
                assert stages.loc[where, "ITEMS_MISSING"].tolist() == [len(missing)]
                listed = gaps[(gaps["REF_AREA"] == answers["country"]) & (gaps["TIME_PERIOD"] == round_)
                              & (gaps["PILLAR"] == pillar)]
                assert listed["ITEM"].tolist() == missing
                assert listed["ANSWER"].tolist() == [answers[i] or "unanswered" for i in missing]
    # the roadmap stage columns of the harmonised table say the same (NC.10 is the legal pillar)
    legal = warehouse.execute("SELECT country, wave, roadmap_stage_legal FROM staging.national_questionnaire "
                              "WHERE responded").df()
    merged = legal.merge(stages[stages["PILLAR"] == "legal"], left_on=["country", "wave"],
                         right_on=["REF_AREA", "TIME_PERIOD"])
    assert len(merged) == 127 and (merged["roadmap_stage_legal"] == merged["STAGE"]).all()


def test_a_legal_pillar_score_recomputed_by_hand(warehouse, responses):
    """Legal items R.L1, R.L2, Q5.1, R.L4, R.L5: yes 1, partial 0.5, no 0, don't know 0; blanks left out; no score
    below 60 % of the items answered."""
    scores = warehouse.execute("SELECT REF_AREA, TIME_PERIOD, OBS_VALUE FROM estimates.national_questionnaire "
                               "WHERE INDICATOR = 'NC.24'").df().set_index(["REF_AREA", "TIME_PERIOD"])["OBS_VALUE"]
    points = {"yes": 1, "partial": 0.5, "no": 0, "don't know": 0}
    seen = 0
    for round_, frame in responses.items():
        for _, answers in frame.iterrows():
            given = [answers[i] for i in ("R.L1", "R.L2", "Q5.1", "R.L4", "R.L5") if answers[i]]
            key = (answers["country"], round_)
            if len(given) / 5 < 0.6:
                assert key not in scores.index
                continue
            assert scores[key] == pytest.approx(100 * sum(points[a] for a in given) / len(given))
            seen += 1
    assert seen > 100


def test_the_release_tables_hold_what_their_descriptions_say(warehouse):
    ranks = warehouse.execute("SELECT * FROM estimates.capacity_ranks").df()
    overall = warehouse.execute("SELECT * FROM estimates.capacity_scores WHERE PILLAR = 'overall' "
                                "AND SCORE IS NOT NULL").df()
    assert len(ranks) == len(overall) and (ranks["DRAWS"] <= 10000).all()
    assert ((ranks["RANK_P05"] <= ranks["RANK_MEDIAN"]) & (ranks["RANK_MEDIAN"] <= ranks["RANK_P95"])).all()
    counts = warehouse.execute("SELECT TIME_PERIOD, PILLAR, sum(COUNTRIES) FROM estimates.roadmap_stage_counts "
                               "WHERE REF_AREA = 'WLD' GROUP BY ALL").fetchall()
    assert {(r, n) for r, _, n in counts} == {(2009, 51), (2024, 76)}


def broken_definition(tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load(DEFINITION_FILE.read_text(encoding="utf-8"))
    edit(raw)
    path = tmp_path / "questionnaire.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def test_definition_errors_name_the_file_and_the_question(tmp_path):
    def unknown_scale(raw):
        next(q for q in raw["questions"] if q["id"] == "Q5.1")["scale"] = "yes_maybe_no"

    with pytest.raises(ConfigError) as error:
        load_questionnaire(broken_definition(tmp_path, unknown_scale))
    assert "questionnaire.yaml" in str(error.value)
    assert "question Q5.1: field 'scale': no answer scale 'yes_maybe_no'" in str(error.value)

    def bad_category_and_no_legal_assessment(raw):
        raw["questions"] = [q for q in raw["questions"] if q["id"] != "R.L1"]
        next(q for q in raw["questions"] if q["id"] == "Q2.1")["category"] = 9

    with pytest.raises(ConfigError) as error:
        load_questionnaire(broken_definition(tmp_path, bad_category_and_no_legal_assessment))
    assert "question Q2.1: field 'category': Input should be less than or equal to 7" in str(error.value)


def test_a_bad_index_setting_is_refused_when_the_definition_loads(tmp_path):
    def negative_weight(raw):
        raw["index"]["weights"]["legal"] = -1

    with pytest.raises(ConfigError, match=r"questionnaire.yaml: index.weights.legal must be a positive number, "
                                          r"got -1"):
        load_questionnaire(broken_definition(tmp_path, negative_weight))


def test_an_incomplete_roadmap_grid_is_refused(tmp_path):
    def no_legal_assessment(raw):
        raw["questions"] = [q for q in raw["questions"] if q["id"] != "R.L1"]

    with pytest.raises(ConfigError, match="round 2009: the roadmap checklist has no item for legal/assessment"):
        load_questionnaire(broken_definition(tmp_path, no_legal_assessment))


def cop_build(root: Path, release_id: str) -> tuple[int, str]:
    from pipelines import cli

    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed), \
            contextlib.redirect_stderr(printed):
        patch.setenv("DAGSTER_HOME", str(root))
        patch.setenv("COP_DAGSTER_STATE", str(root / ".dagster"))
        code = cli.main(["build", "--sources", str(root / "sources"), "--mappings", str(root / "mappings"),
                         "--out", str(root / "published"), "--warehouse", str(root / "w.duckdb"),
                         "--release-id", release_id])
    return code, printed.getvalue()


@pytest.mark.slow
def test_a_bad_answer_fails_the_build_naming_the_cell_and_the_release_stays(tmp_path):
    """Build r1 from the country files and the questionnaire; then a CSV answer outside its list and four bad Excel
    forms: the build fails naming each file, sheet, cell, question and rule, and r1 stays `latest`, byte for
    byte."""
    sources = copy_country_sample(tmp_path / "sources")
    shutil.copytree(SAMPLE / "questionnaire", sources / "questionnaire")
    manifest = yaml.safe_load((SAMPLE / "sources.yaml").read_text(encoding="utf-8"))
    (sources / "sources.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    (tmp_path / "mappings").mkdir()
    (tmp_path / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    code, printed = cop_build(tmp_path, "r1")
    assert code == 0, printed[-3000:]
    release = tmp_path / "published" / "r1"
    con = duckdb.connect(str(release / "cop_indicators.duckdb"), read_only=True)
    try:
        world = con.execute("SELECT OBS_VALUE, N_UNWEIGHTED, COVERAGE FROM observations WHERE INDICATOR = 'NC.23' "
                            "AND REF_AREA = 'WLD' AND TIME_PERIOD = 2009").fetchone()
        gaps = con.execute("SELECT count(*) FROM roadmap_gaps").fetchone()[0]
    finally:
        con.close()
    assert world == (26.7, 191, pytest.approx(51 / 191))
    assert gaps == len(pd.read_parquet(release / "roadmap_gaps.parquet")) > 0
    assert "COP roadmap, 2024 questionnaire round" in (release / "profiles" / "AUS.html").read_text()
    assert "COP roadmap, 2009 questionnaire round" in (release / "profiles" / "KAZ.html").read_text()  # not in 2024
    assert {p.name for p in (release / "charts").glob("NC.1[01]_*_2024.png")} == {
        "NC.11_heatmap_2024.png", "NC.11_rank_interval_2024.png", "NC.10_stages_2024.png"}
    # the report counts yes and no answers for a share of countries (a 0/100 value ranks nothing) and says who
    # each group value rests on
    con = duckdb.connect(str(release / "cop_indicators.duckdb"), read_only=True)
    try:
        countries = con.execute("SELECT o.OBS_VALUE FROM observations o JOIN areas a ON a.ref_area = o.REF_AREA "
                                "WHERE a.type = 'country' AND o.INDICATOR = 'NC.1' AND o.TIME_PERIOD = 2024").df()
    finally:
        con.close()
    page = (release / "report.html").read_text(encoding="utf-8")
    yes, no = int((countries["OBS_VALUE"] == 100).sum()), int((countries["OBS_VALUE"] == 0).sum())
    assert yes + no == len(countries) > 50
    assert f"<dt>answers</dt><dd>{yes} yes, {no} no</dd>" in page
    assert f'<td class="num" colspan="3">{yes} yes, {no} no</td>' in page
    assert "76 of 193 invited countries responded (39.4 %)" in page
    before = {p: p.read_bytes() for p in release.rglob("*") if p.is_file()}

    csv = sources / "questionnaire" / "responses_2009.csv"
    lines = csv.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    fields = lines[2].split(",")
    fields[header.index("Q5.1")] = "perhaps"
    lines[2] = ",".join(fields)
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    add_bad_forms(sources)
    code, printed = cop_build(tmp_path, "r2")
    assert code != 0
    assert "invalid input: 6 violations" in printed   # the six wrong cells, and no other
    for message in (
            "responses_2009.csv, line 3, column 'Q5.1': 'perhaps' is not an allowed answer (yes, partial, no, "
            "don't know)",
            "form_KEN.xlsx, sheet 'Questions', cell D21 (question Q5.1): 'maybe' is not an allowed answer",
            "form_KEN.xlsx, sheet 'Questions', cell D9 (question Q3.1): ",
            "form_PSE.xlsx, sheet 'Cover', cell B7: 'PSE' is not an ITU Member State invited in round 2024",
            "form_old.xlsx, sheet 'Cover', cell B3: this is the form of round 2009, but the delivery is declared for "
            "round 2024",
            "form_renamed.xlsx: the workbook has no sheet 'Questions'"):
        assert message in printed, (message, printed)
    assert (tmp_path / "published" / "latest").resolve() == release.resolve()
    assert not (tmp_path / "published" / "r2").exists()
    assert {p: p.read_bytes() for p in release.rglob("*") if p.is_file()} == before


def add_bad_forms(sources: Path) -> None:
    """Four filled Excel forms for round 2024, each wrong in one way a country gets it wrong, listed in the
    manifest: an answer outside its list and a count that is no number (KEN), a non-member (PSE), the 2009 form
    sent for 2024, and a renamed answer sheet."""
    import openpyxl

    from indicators.sources.national_questionnaire.form import write_form

    forms = sources / "questionnaire"

    def filled(name: str, round_: int, country: str, edit=None) -> None:
        path = write_form(questionnaire(), round_, forms / name)
        workbook = openpyxl.load_workbook(path)
        workbook["Cover"]["B7"] = country
        sheet = workbook["Questions"]
        for row in range(2, sheet.max_row + 1):   # every answer valid: the first choice, a count of 3, a text
            question = questionnaire().question(sheet[f"A{row}"].value)
            sheet[f"D{row}"] = {"choice": (questionnaire().choices(question) or [None])[0], "count": "3",
                                "text": "online grooming"}[question.type]
        if edit:
            edit(workbook)
        workbook.save(path)

    def wrong_cells(workbook):
        sheet = workbook["Questions"]
        rows = {sheet[f"A{r}"].value: r for r in range(2, sheet.max_row + 1)}
        assert (rows["Q5.1"], rows["Q3.1"]) == (21, 9)  # the form's order (questionnaire.yaml)
        sheet["D21"], sheet["D9"] = "maybe", "a few"

    def renamed(workbook):
        workbook["Questions"].title = "Answers"

    filled("form_KEN.xlsx", 2024, "KEN", wrong_cells)
    filled("form_PSE.xlsx", 2024, "PSE")
    filled("form_old.xlsx", 2009, "GHA")
    filled("form_renamed.xlsx", 2024, "BRA", renamed)
    manifest_file = sources / "sources.yaml"
    manifest = yaml.safe_load(manifest_file.read_text(encoding="utf-8"))
    manifest["questionnaire"] += [{"file": f"questionnaire/{name}", "round": 2024} for name in
                                  ("form_KEN.xlsx", "form_PSE.xlsx", "form_old.xlsx", "form_renamed.xlsx")]
    manifest_file.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")


def test_without_response_files_no_round_is_published(tmp_path):
    """A build without questionnaire files knows nothing of any round: no country is a non-respondent, no response
    rate of 0 % is published, and the release tables are empty."""
    con = connect(tmp_path / "w.duckdb")
    try:
        load_reference_tables(con)
        definition = questionnaire()
        load_raw_questionnaire(con, [], definition)
        counts = harmonise_questionnaire(con, definition)
        rows = compute_questionnaire_indicators(con, load_registry())
        assert counts == {"invited": 0, "responded": 0, "answers": 0, "countries_scored": 0}
        assert sum(rows.values()) == 0
        assert con.execute("SELECT count(*) FROM estimates.roadmap_gaps").fetchone()[0] == 0
    finally:
        con.close()


def test_a_round_with_files_counts_its_non_respondents_and_only_that_round(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    try:
        load_reference_tables(con)
        definition = questionnaire()
        deliveries = [d for d in questionnaire_deliveries(SAMPLE, None, definition) if d.round == 2009]
        load_raw_questionnaire(con, deliveries, definition)
        assert harmonise_questionnaire(con, definition)["invited"] == 191
        assert con.execute("SELECT DISTINCT wave FROM staging.national_questionnaire").fetchall() == [(2009,)]
    finally:
        con.close()
