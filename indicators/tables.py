"""Every warehouse table the pipeline names, in one place, and the small SQL helpers the modules share.

The warehouse has one schema per stage (indicators.warehouse.STAGES). A module that reads or writes a table names
it through a constant here (inside SQL: f"SELECT ... FROM {tables.RAW_ICT_FILES}"), so that a table is renamed, or
found, in one place. Tables whose name depends on the data (one raw table per survey delivery, one estimates table
per registry group) are built by one function each. The harmonised tables the registry binds to are declared by
their source packages (indicators.sources.<name>.harmonised) with the constants below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

# ------------------------------------------------------------------------------------------------ reference
REFERENCE_UN_MEMBER_STATES = "reference.un_member_states"  # ISO3 of the 193 UN member states
REFERENCE_COUNTRY_CODE_EXCEPTIONS = "reference.country_code_exceptions"  # provider codes -> ISO3 (XKX, CHI, ...)
REFERENCE_WB_AGGREGATE_CODES = "reference.wb_aggregate_codes"  # World Bank region/income codes set aside as aggregates
REFERENCE_COUNTRIES = "reference.countries"  # ISO 3166-1 plus XKX and CHI, with names and UN membership
REFERENCE_M49_REGIONS = "reference.m49_regions"  # UN M49 region, sub-region and intermediate region per country
REFERENCE_ITU_REGIONS = "reference.itu_regions"  # ITU-D (BDT) region per country
REFERENCE_DEVELOPMENT_STATUS = "reference.development_status"  # LDC, LLDC, SIDS and developed/developing per country
REFERENCE_WB_INCOME_GROUPS = "reference.wb_income_groups"  # World Bank income group per country
REFERENCE_AGGREGATE_GROUPS = "reference.aggregate_groups"  # one row per group value's REF_AREA (WLD, ITU_AFR, ...)
REFERENCE_GROUP_MEMBERS = "reference.group_members"  # (group_code, iso3) pairs behind every group
REFERENCE_INDICATOR_CATALOGUE = "reference.indicator_catalogue"  # the validated indicator registry as a table

# the classification files of data/reference (schemas.classifications.MODELS) -> the table each is written to
REFERENCE_CLASSIFICATIONS = {
    "countries": REFERENCE_COUNTRIES,
    "m49_regions": REFERENCE_M49_REGIONS,
    "itu_regions": REFERENCE_ITU_REGIONS,
    "development_status": REFERENCE_DEVELOPMENT_STATUS,
    "wb_income_groups": REFERENCE_WB_INCOME_GROUPS,
}

# ------------------------------------------------------------------------------------------------------ raw
RAW_ICT_COUNTRY_YEAR = "raw.ict_country_year"  # every ICT value cell as delivered, with file, row and column
RAW_ICT_FILES = "raw.ict_files"  # one row per ICT file read (provenance, sha256): the manifest's inputs
RAW_UNMAPPED_ENTITIES = "raw.unmapped_entities"  # ICT entity names that map to no country, left out
RAW_INCIDENT_REPORTS = "raw.incident_reports"  # every incident count as delivered, with file, row and column
RAW_INCIDENT_FILES = "raw.incident_files"  # one row per incident file read (provenance, sha256)
RAW_INCIDENT_UNATTRIBUTED_CODES = "raw.incident_unattributed_codes"  # manifest codes naming no country, with why
RAW_MICRODATA_FILES = "raw.microdata_files"  # one row per survey delivery read (provenance, sha256)
RAW_MICRODATA_VALUE_LABELS = "raw.microdata_value_labels"  # SPSS/Stata value labels of each delivery
RAW_QUESTIONNAIRE_ANSWERS = "raw.questionnaire_answers"  # every answer of every response file, with its cell
RAW_QUESTIONNAIRE_FILES = "raw.questionnaire_files"  # one row per questionnaire response file (provenance, sha256)
RAW_BUILD_FINGERPRINTS = "raw.build_fingerprints"  # fingerprint of what the warehouse holds per source/partition
RAW_PENDING_FINGERPRINTS = "raw.pending_fingerprints"  # fingerprints staged by a run, recorded once its checks pass


def raw_delivery_table(target: str, source_id: str) -> str:
    """raw."<target>__<source_id>": one survey delivery as read, before harmonisation (quoted: it is built from
    a mapping spec's names)."""
    return f"raw.{quote_identifier(f'{target}__{source_id}')}"


# -------------------------------------------------------------------------------------------------- staging
STAGING_ICT_CODED = "staging._ict_coded"  # scratch: raw ICT cells with ISO3 codes, dropped by the harmonisation
STAGING_ICT_COUNTRY_YEAR = "staging.ict_country_year"  # every ICT country cell with provenance; `selected` marks one
STAGING_ICT_AGGREGATES_SET_ASIDE = "staging.ict_aggregates_set_aside"  # ICT cells of regions/aggregates, set aside
STAGING_ICT_COUNTRY_YEAR_WIDE = "staging.ict_country_year_wide"  # selected ICT values, one row per country-year
STAGING_POPULATION_WEIGHTS = "staging.population_weights"  # country-year populations group values are weighted by
STAGING_INCIDENT_CODED = "staging._incident_coded"  # scratch: raw incident counts with ISO3, dropped after use
STAGING_INCIDENT_REPORTS = "staging.incident_reports"  # harmonised incident counts with denominators
STAGING_INCIDENT_REPORTS_UNATTRIBUTED = "staging.incident_reports_unattributed"  # counts naming no country
STAGING_CHILD_SURVEY = "staging.child_survey"  # harmonised child-survey respondents of every accepted delivery
# the replicate weights of deliveries that came with them (one list per respondent), and their method
STAGING_SURVEY_REPLICATE_WEIGHTS = "staging.survey_replicate_weights"
STAGING_SURVEY_REPLICATE_DESIGNS = "staging.survey_replicate_designs"
STAGING_INDIVIDUAL_SURVEY = "staging.individual_survey"  # harmonised individuals of household ICT surveys
STAGING_HOUSEHOLD_SURVEY = "staging.household_survey"  # harmonised households of household ICT surveys
STAGING_NATIONAL_QUESTIONNAIRE = "staging.national_questionnaire"  # one row per invited country and round
STAGING_QUESTIONNAIRE_ANSWERS = "staging.questionnaire_answers"  # every answer with its status, value and score
STAGING_NATIONAL_CAPACITY_INDEX = "staging.national_capacity_index"  # pillar and overall capacity scores (NC.11)

# -------------------------------------------------------------------------------------------------- quality
QUALITY_REJECTED_ROWS = "quality.rejected_rows"  # survey rows left out: source, row, column, value and rule
QUALITY_SOURCE_STATUS = "quality.source_status"  # each survey delivery's verdict (accepted/rejected) and why
QUALITY_AGGREGATION_EXCLUSIONS = "quality.aggregation_exclusions"  # country values left out of group values
QUALITY_SURVEY_ESTIMATE_INPUTS = "quality.survey_estimate_inputs"  # fingerprint each delivery's estimates rest on

# ------------------------------------------------------------------------------------------------ estimates
ESTIMATES_COUNTRY_YEAR = "estimates.country_year"  # country-level ICT indicators (observation layout)
ESTIMATES_INCIDENTS = "estimates.incidents"  # country-level incident indicators (observation layout)
ESTIMATES_NATIONAL_QUESTIONNAIRE = "estimates.national_questionnaire"  # NC.* country values (observation layout)
ESTIMATES_NATIONAL_QUESTIONNAIRE_GROUPS = "estimates.national_questionnaire_groups"  # NC.* shares of responding
# countries by group, with respondents and response rate
ESTIMATES_CAPACITY_SCORES = "estimates.capacity_scores"  # pillar and overall scores, long (release table)
ESTIMATES_CAPACITY_RANKS = "estimates.capacity_ranks"  # nominal rank and Monte Carlo rank intervals (release table)
ESTIMATES_CAPACITY_AUDIT = "estimates.capacity_audit"  # Cronbach's alpha and pillar-overall correlations
ESTIMATES_ROADMAP_STAGES = "estimates.roadmap_stages"  # stage reached per country, round and pillar
ESTIMATES_ROADMAP_GAPS = "estimates.roadmap_gaps"  # checklist items missing for the next stage
ESTIMATES_ROADMAP_STAGE_COUNTS = "estimates.roadmap_stage_counts"  # countries per stage, pillar and group
ESTIMATES_COUNTRY_OBSERVATIONS = "estimates.country_observations"  # every source's country observations, stacked
ESTIMATES_GROUP_INPUTS = "estimates.group_inputs"  # ICT variables summed/weighted per group and year, with coverage
ESTIMATES_AGGREGATES = "estimates.aggregates"  # group values (release layout, unrounded)
ESTIMATES_GROUP_CONTRIBUTIONS = "estimates.group_contributions"  # the members behind each group value
ESTIMATES_GAPS = "estimates.gaps"  # gender parity and urban-rural gaps of the group values


def survey_estimates_table(group: str) -> str:
    """estimates.survey_<group>: the survey estimates of one registry group (with group "*": the pattern a
    source declares its observation tables with)."""
    return f"estimates.survey_{group}"


# ---------------------------------------------------------------------------------------------------- helpers
def quote_identifier(name: str) -> str:
    """A name as a DuckDB identifier: in double quotes, an embedded double quote doubled (a column named in a
    delivered file can hold any character)."""
    return '"' + name.replace('"', '""') + '"'


def sql_string(text: str) -> str:
    """Text as an SQL string literal: in single quotes, an embedded single quote doubled (for the places SQL
    cannot take a parameter, such as a file path in read_csv or a value inside a generated expression)."""
    return "'" + text.replace("'", "''") + "'"


def _unquoted(part: str) -> str:
    return part[1:-1].replace('""', '"') if len(part) > 1 and part[0] == part[-1] == '"' else part


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether `table` ("schema.table", either part possibly quoted) is in the warehouse: many steps read a table
    only an earlier step or another source writes, and a fresh warehouse has none of them."""
    schema, _, name = table.partition(".")
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? "
                            "AND table_name = ?", [_unquoted(schema), _unquoted(name)]).fetchone()[0])
