"""The COP national questionnaire: one response per country and round, as a filled Excel form or a CSV row.

The questionnaire itself is data (questionnaire.yaml, validated by definition.py): questions, answer scales, rounds
and the capacity index settings. form.py writes the blank Excel form of a round; reader.py reads filled forms and
CSV files, one error per bad cell; ingest.py reads the manifest's `questionnaire:` files into raw tables;
harmonise.py builds staging.national_questionnaire, the capacity index (capacity_index.py: pillar scores, Monte
Carlo rank intervals, Cronbach's alpha) and the roadmap gap analysis; estimates.py computes the registry's NC.*
entries per country and as shares of responding countries by group.
"""

from __future__ import annotations

from pathlib import Path

from indicators import tables
from indicators.sources import BuildInputs, ReleaseTable, Source

DEFINITION = Path(__file__).with_name("questionnaire.yaml")
GCA_PILLARS = ("legal", "technical", "organizational", "capacity_building", "cooperation")  # as in schemas
# staging.national_capacity_index, the table the registry's capacity score entries (NC.11, ...) bind to
CAPACITY_INDEX_COLUMNS = {"country": "VARCHAR", "wave": "BIGINT",
                          **{f"score_{p}": "DOUBLE" for p in (*GCA_PILLARS, "overall")}, "source_id": "VARCHAR"}


def input_files(inputs: BuildInputs) -> dict[str | None, list[Path]]:
    """The sources manifest, the response files under its `questionnaire:` key and the questionnaire definition."""
    from indicators.sources.manifest import listed_files

    listed = listed_files(inputs.sources_dir, inputs.manifest, "questionnaire")
    return {None: listed + [DEFINITION]}


def harmonised():
    from schemas import national_questionnaire
    from schemas.sources import HarmonisedSource, from_model

    return (from_model("national_questionnaire", tables.STAGING_NATIONAL_QUESTIONNAIRE,
                       national_questionnaire.NationalQuestionnaireModel, national_questionnaire.DISAGGREGATIONS),
            HarmonisedSource("national_capacity_index", tables.STAGING_NATIONAL_CAPACITY_INDEX,
                             CAPACITY_INDEX_COLUMNS, ()))


_AREA = "ISO 3166-1 alpha-3 code of the country"
_ROUND = "Round of the COP national questionnaire (the year it was sent to countries)"
_PILLAR = ("GCA pillar: legal, technical (and procedural), organizational, capacity_building, cooperation"
           " (international)")
_SOURCE = "The response file the row rests on (sources.source_id; '+' joins several)"
_STAGE = "COP roadmap stage number: 0 none, 1 assessment, 2 planning, 3 implementation, 4 evaluation, 5 improvement"

RELEASE_TABLES = (
    ReleaseTable("capacity_scores", tables.ESTIMATES_CAPACITY_SCORES,
                 "COP national capacity index (NC.11): pillar scores and the overall score, 0-100, per responding "
                 "country and round, with the items behind each (docs/methodology.md)",
                 {"REF_AREA": _AREA, "TIME_PERIOD": _ROUND, "PILLAR": _PILLAR + ", or overall",
                  "SCORE": "Score 0-100; NULL when fewer than the threshold share of the pillar's items has an answer "
                           "(overall: NULL unless all five pillars have a score)",
                  "ITEMS": "Number of scored questions in the pillar (overall: all pillars)",
                  "ITEMS_ANSWERED": "Questions with a substantive answer (not \"don't know\", not blank)",
                  "ITEMS_DONT_KNOW": "Questions answered \"don't know\"", "SOURCE_ID": _SOURCE}),
    ReleaseTable("capacity_ranks", tables.ESTIMATES_CAPACITY_RANKS,
                 "Rank of each scored country by the overall capacity score, and its uncertainty: median rank and "
                 "5-95 % rank interval over Monte Carlo draws of weights, aggregation method and treatment of "
                 "\"don't know\" and unanswered items",
                 {"REF_AREA": _AREA, "TIME_PERIOD": _ROUND, "SCORE": "Overall score 0-100 (nominal settings)",
                  "RANK": "Rank by the nominal overall score (1 = highest; ties share the lowest rank)",
                  "RANK_MEDIAN": "Median rank over the Monte Carlo draws",
                  "RANK_P05": "5th percentile of the rank over the draws",
                  "RANK_P95": "95th percentile of the rank over the draws",
                  "SCORE_P05": "5th percentile of the overall score over the draws",
                  "SCORE_P95": "95th percentile of the overall score over the draws",
                  "COUNTRIES_RANKED": "Number of countries ranked in the round",
                  "DRAWS": "Number of Monte Carlo draws in which the country had a score", "SOURCE_ID": _SOURCE}),
    ReleaseTable("capacity_audit", tables.ESTIMATES_CAPACITY_AUDIT,
                 "Statistical coherence of the capacity index per round and pillar: Cronbach's alpha of the "
                 "pillar's items and the correlation of the pillar score with the overall score",
                 {"TIME_PERIOD": _ROUND, "PILLAR": _PILLAR, "ITEMS": "Number of scored questions in the pillar",
                  "COUNTRIES": "Countries with every item of the pillar answered (the base of alpha)",
                  "CRONBACH_ALPHA": "Cronbach's alpha of the pillar's item scores (NULL with fewer than 3 "
                                    "countries or 2 items)",
                  "CORR_WITH_OVERALL": "Pearson correlation of the pillar score with the overall score, over the "
                                       "scored countries"}),
    ReleaseTable("roadmap_stages", tables.ESTIMATES_ROADMAP_STAGES,
                 "COP roadmap: the stage each responding country has reached on each GCA pillar (every checklist "
                 "item of that stage and the earlier ones met) and how many items it misses for the next",
                 {"REF_AREA": _AREA, "TIME_PERIOD": _ROUND, "PILLAR": _PILLAR, "STAGE": _STAGE,
                  "STAGE_NAME": "Name of the stage reached",
                  "ITEMS_MISSING": "Checklist items of the next stage not met (0 at stage 5)", "SOURCE_ID": _SOURCE}),
    ReleaseTable("roadmap_gaps", tables.ESTIMATES_ROADMAP_GAPS,
                 "COP roadmap gap analysis: one row per checklist item a country still misses to reach the next "
                 "stage on a pillar, with the country's answer",
                 {"REF_AREA": _AREA, "TIME_PERIOD": _ROUND, "PILLAR": _PILLAR, "STAGE": "Stage reached: " + _STAGE,
                  "NEXT_STAGE": "The stage the item belongs to (STAGE + 1)",
                  "NEXT_STAGE_NAME": "Name of the next stage",
                  "ITEM": "Question id of the checklist item (questionnaire.yaml)",
                  "ITEM_TEXT": "The question as asked",
                  "ANSWER": "The country's answer (partial, no, don't know, or unanswered)", "SOURCE_ID": _SOURCE}),
    ReleaseTable("roadmap_stage_counts", tables.ESTIMATES_ROADMAP_STAGE_COUNTS,
                 "Number of responding countries at each COP roadmap stage per pillar, for the world, ITU regions, "
                 "developed/developing, LDCs and income groups",
                 {"REF_AREA": "Group code (WLD, ITU_AFR, ...; see aggregate_groups)", "TIME_PERIOD": _ROUND,
                  "PILLAR": _PILLAR, "STAGE": _STAGE, "STAGE_NAME": "Name of the stage",
                  "COUNTRIES": "Responding countries of the group at this stage", "SOURCE_ID": _SOURCE}),
)

SOURCE = Source(
    name="national_questionnaire",
    title="COP national questionnaire",
    harmonised=harmonised,
    observation_tables=(tables.ESTIMATES_NATIONAL_QUESTIONNAIRE,),
    group_value_tables=(tables.ESTIMATES_NATIONAL_QUESTIONNAIRE_GROUPS,),
    provenance_tables=(tables.RAW_QUESTIONNAIRE_FILES,),
    release_tables=RELEASE_TABLES,
    manifest_keys=("questionnaire",),
    defs_module="pipelines.defs.national_questionnaire",
    input_files=input_files,
)
