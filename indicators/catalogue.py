"""The indicator catalogue, generated from the registry: a table (shipped in each release and in the public
DuckDB) and a Markdown document (docs/indicators.md). Nothing here is written by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from indicators.gaps import derived_series
from indicators.registry import Indicator
from schemas.observations import CONF_STATUS, OBS_STATUS
from schemas.registry import GROUP_PREFIXES
from indicators.sources import harmonised_sources

DOCS_PATH = Path(__file__).resolve().parents[1] / "docs" / "indicators.md"
GROUP_TITLES = {
    "background_context": "Background context: Internet access and use, growth of the Internet",
    "subjective_aspects": "Subjective aspects: awareness and concerns",
    "risk_behaviour": "Children's risk-prone behaviour",
    "incidents_responses": "Incidents and responses",
    "preventative_actions": "Preventative actions",
    "national_capacity": "National capacity (COP national survey)",
}
ORIGIN_TEXT = {
    "synthetic": "**SYNTHETIC** (every value rests on a generated sample; for demonstration, not statistics)",
    "partly synthetic": "**partly SYNTHETIC** (some values rest on a generated sample: see the observations' "
                        "`SYNTHETIC` column)",
    "real": "real (the public inputs listed in manifest.json)",
    "no data": "no observation in this release",
}
CATALOGUE_COLUMNS = ["code", "name", "group_name", "definition", "unit", "source", "method", "universe",
                     "numerator", "denominator", "value_expression", "growth", "disaggregations", "decimals",
                     "min_n", "flag_n", "max_cv", "flag_cv", "aggregation", "derived_from", "caveats", "citations"]
# what each catalogue column holds (the public database's column comments); data_origin is added per release
CATALOGUE_COLUMN_DESCRIPTIONS = {
    "code": "indicator code, the INDICATOR of the observations (BC.1, PA.3, PA.3_GPI, ...)",
    "name": "indicator name",
    "group_name": "indicator group: background_context, subjective_aspects, risk_behaviour, incidents_responses, "
                  "preventative_actions or national_capacity",
    "definition": "what the indicator measures, in one paragraph",
    "unit": "unit of measure, the UNIT_MEASURE of the observations (code list UNIT_MEASURE)",
    "source": "the harmonised input the indicator is computed from (e.g. ict_country_year, child_survey)",
    "method": "how the value is computed: proportion, mean, total, ratio, rate, growth, value, "
              "share_of_countries, index; gender_parity_index or urban_rural_gap for a derived gap series",
    "universe": "SQL filter over the harmonised variables: who or what the indicator is about (null: all rows)",
    "numerator": "SQL expression of the numerator over the harmonised variables",
    "denominator": "SQL expression of the denominator, where the method has one",
    "value_expression": "SQL expression of the value, for methods computing one value per row",
    "growth": "for a growth indicator: JSON with its kind and number of periods, e.g. {\"kind\": \"cagr\", "
              "\"periods\": 5}",
    "disaggregations": "the breakdowns estimated besides the total (', '-separated: sex, age_band, urbanisation; "
                       "a crossing such as sex x age_band adds the crossed cells, e.g. girls aged 12-14)",
    "decimals": "decimals OBS_VALUE and the interval bounds are rounded to (STD_ERR has one more)",
    "min_n": "survey estimates from fewer unweighted cases are suppressed (Q / N)",
    "flag_n": "survey estimates from fewer unweighted cases are flagged low reliability (U)",
    "max_cv": "survey estimates with a CV (percent) above this are suppressed (Q / N)",
    "flag_cv": "survey estimates with a CV (percent) above this are flagged low reliability (U)",
    "aggregation": "how the group values (world, regions, income groups) are made and the rules they meet",
    "derived_from": "for a _GPI or _URG series: the code of the survey indicator it is derived from",
    "caveats": "what to keep in mind when using the indicator",
    "citations": "references of the definition ('; '-separated)",
    "data_origin": "where this release's values of the series come from: synthetic (every value rests on a "
                   "generated sample), real, partly synthetic, or no data (no observation in this release)",
}


def aggregation_text(i: Indicator) -> str:
    spec = i.aggregation
    if not spec:
        return "not aggregated"
    if spec["method"] == "none":
        return f"not aggregated: {spec['reason']}"
    if spec["method"] == "group_inputs":
        text = "computed from group inputs (population-weighted rates, summed persons)"
    elif spec["method"] == "responding_countries":
        return ("mean over the group's countries that responded and answered, each counted once, published with "
                f"the number that answered and the response rate; flagged U below {i.min_countries} answering "
                "countries")
    elif spec["method"] == "weighted_mean":
        text = f"weighted mean, weight {spec['weight']}"
        source = harmonised_sources().get(i.source)
        if source is not None and source.sampled:  # a survey cell is weighted by its own population
            text += " x the cell's share of the surveyed population"
    else:
        text = f"{spec['method'].replace('_', ' ')}, weight {spec['weight']} (partial totals marked E)"
    rules = f"at least {i.min_countries} reporting countries"
    if i.max_country_share is not None:
        rules += f", none above {i.max_country_share:.0%} of the weight"
    return f"{text}; {rules}"


def breakdowns(indicator: Indicator) -> str:
    """The disaggregations, then the crossings: 'sex, age_band, urbanisation, sex x age_band'."""
    return ", ".join([*indicator.disaggregations, *(" x ".join(c) for c in indicator.crossings)])


def catalogue_frame(indicators: list[Indicator]) -> pd.DataFrame:
    """One row per indicator, plain column types (text, integers, floats) for Parquet and SQL users."""
    rows = [{
        "code": i.code, "name": i.name, "group_name": i.group, "definition": i.definition, "unit": i.unit,
        "source": i.source, "method": i.method, "universe": i.universe, "numerator": i.numerator,
        "denominator": i.denominator, "value_expression": i.value,
        "growth": json.dumps(i.growth, sort_keys=True) if i.growth else None,
        "disaggregations": breakdowns(i), "decimals": i.decimals,
        "min_n": int(i.reliability["min_n"]), "flag_n": int(i.reliability["flag_n"]),
        "max_cv": float(i.reliability["max_cv"]), "flag_cv": float(i.reliability["flag_cv"]),
        "aggregation": aggregation_text(i), "derived_from": None,
        "caveats": i.caveats, "citations": "; ".join(i.references)} for i in indicators]
    rows += [{
        "code": d.code, "name": d.name, "group_name": d.base.group, "definition": d.definition, "unit": d.unit,
        "source": d.base.source, "method": d.kind, "universe": d.base.universe, "numerator": None,
        "denominator": None, "value_expression": None, "growth": None, "disaggregations": "", "decimals": d.decimals,
        "min_n": int(d.base.reliability["min_n"]), "flag_n": int(d.base.reliability["flag_n"]),
        "max_cv": float(d.base.reliability["max_cv"]), "flag_cv": float(d.base.reliability["flag_cv"]),
        "aggregation": f"from the group values of {d.base.code}", "derived_from": d.base.code,
        "caveats": None, "citations": "; ".join(d.base.references)} for d in derived_series(indicators)]
    frame = pd.DataFrame(rows, columns=CATALOGUE_COLUMNS)
    text = [c for c in CATALOGUE_COLUMNS if c not in ("decimals", "min_n", "flag_n", "max_cv", "flag_cv")]
    return frame.astype({c: "string" for c in text}).astype({"decimals": "int64", "min_n": "int64",
                                                              "flag_n": "int64"})


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def _reading_the_statistics() -> list[str]:
    """How every published statistic is expressed: units, rounding and the status codes (schemas.observations)."""
    lines = ["", "## Reading the published statistics", "",
             "Each observation gives its value (`OBS_VALUE`, in the indicator's unit), and for survey estimates, "
             "their group values and gaps a standard error (`STD_ERR`, same unit), a 95 % interval (`CI_LOWER`, "
             "`CI_UPPER`) and the **coefficient of variation `CV` in percent** (100 x SE / |value|, from the "
             "unrounded numbers). Values and interval bounds are rounded to the indicator's decimals below, the "
             "SE to one more, the CV to one, half away from zero. `N_UNWEIGHTED` is a whole number of cases. "
             "`COMMENT_OBS` names the rules a flagged or blank cell meets.", "",
             "| `OBS_STATUS` | SDMX label | used for |", "|---|---|---|"]
    lines += [f"| {code} | {label} | {use} |" for code, (label, use) in OBS_STATUS.items()]
    lines += ["", "| `CONF_STATUS` | SDMX label | used for |", "|---|---|---|"]
    lines += [f"| {code} | {label} | {use} |" for code, (label, use) in CONF_STATUS.items()]
    return lines


def _quality_rules() -> list[str]:
    """The rules behind every flag and blank cell, stated in full (a release carries no other document)."""
    return ["", "## Quality rules", "",
            "**Survey estimates** (thresholds per indicator below; defaults 25 and 50 cases, CV 33.3 % and 16.6 %). "
            "Each cell is a design-based estimate (Taylor linearisation over the survey's strata, clusters and "
            "weights) with its unweighted number of cases n and its CV computed from the unrounded estimate.", "",
            "| rule | condition | `OBS_STATUS` / `CONF_STATUS` | `COMMENT_OBS` |", "|---|---|---|---|",
            "| primary suppression | n below `min_n` (25), or CV above `max_cv` (33.3 %): value, SE and CI "
            "withheld | Q / N | `n<25`, `cv>33.3%` |",
            "| low reliability | otherwise, n below `flag_n` (50), CV above `flag_cv` (16.6 %), an estimate of 0 % or "
            "100 %, or fewer than 2 design degrees of freedom (no interval below 1) | U / F | `n<50`, `cv>16.6%`, "
            "`p=0|100%`, `df<2`, `no interval (df<1)` |",
            "| complementary suppression | for sex, age band and urbanisation in turn: when the total is published "
            "and exactly one category is suppressed, the published category with the fewest cases is withheld "
            "too, so that the suppressed one cannot be recovered from the total and the others | Q / D | "
            "`complementary suppression` |", "",
            "**Gaps of a country**: the gender parity index `_GPI` (girls / boys) and the urban-rural gap `_URG` "
            "(urban minus rural, percentage points) are estimated with their design SE and interval. A gap is "
            "withheld (Q / D) when either of its cells is suppressed, missing (O) when it cannot be computed (a "
            "boys' value of 0), and U when either cell is U. `parity within the 95% CI` marks an interval that "
            "includes parity (1, or 0 points).", "",
            "**Group values** (world, ITU regions, M49 regions, LDC/LLDC/SIDS, developed/developing, income groups) "
            "combine the member countries with a published value as each indicator's `group values` line says "
            "(population-weighted means, sums). Then, in this order:", "",
            "| rule | condition | `OBS_STATUS` / `CONF_STATUS` | `COMMENT_OBS` |", "|---|---|---|---|",
            "| coverage | the reporting members hold less than the build's minimum (50 % by default) of the group's "
            "population (of its countries, for an unweighted mean; `COVERAGE` gives the share) | L / F, no value | "
            "`coverage 42%<50%` |",
            "| too few countries | fewer reporting countries than the entry's minimum (3 by default) | Q / A | "
            "`countries<3 (2 reporting)` |",
            "| dominance | survey indicators: one country holds more than the entry's maximum share of the weight "
            "(50 %) | Q / O | `one country holds 62% of the weight (max 50%)` |",
            "| partial total | a sum over the reporting members only (`COVERAGE` below 1): a lower bound of the "
            "group total | E / F | `partial total: members covering 87%` |",
            "| low reliability | a group value resting on a country value flagged U | U / F | "
            "`rests on a low-reliability value` |", "",
            "A group's SE combines the members' sampling variances (countries are independent surveys); country "
            "values from administrative or ICT statistics carry no sampling error. Group gaps (`_GPI`, `_URG` of a "
            "group) are computed from the group's values of the two cells, with the covariance of the cells.", "",
            "**SYNTHETIC**: an observation with `SYNTHETIC` true rests on at least one generated input (in this "
            "project's sample, the child-survey microdata): its numbers demonstrate the method and are not "
            "statistics about the country. Each indicator below states where this release's numbers come from."]


def render_markdown(indicators: list[Indicator], data_origin: dict[str, str] | None = None) -> str:
    """The catalogue document; with `data_origin` (code -> synthetic / real / partly synthetic / no data), as
    shipped in a release, each indicator states where this release's numbers come from."""
    counts = {g: sum(1 for i in indicators if i.group == g) for g in GROUP_PREFIXES}
    series = derived_series(indicators)
    lines = ["# COP indicator catalogue", "",
             "<!-- Generated from indicators/registry/*.yaml by `cop indicators docs`; do not edit by hand. -->", "",
             f"{len(indicators)} indicators in six groups. Each is defined once, in the registry file named below; "
             "expressions are SQL over the harmonised source's variables. Group values (world, regions, development "
             "and income groups) follow each entry's `aggregation`; "
             f"{len(series)} derived series (gender parity index `_GPI`, urban-rural gap `_URG`) follow by rule "
             "from the survey proportions. The quality rules below are the ones every published cell went through.",
             "", "| group | indicators |", "|---|---|"]
    lines += [f"| [{GROUP_TITLES[g]}](#{g.replace('_', '-')}) | {n} |" for g, n in counts.items()]
    lines += _reading_the_statistics()
    lines += _quality_rules()
    for group in GROUP_PREFIXES:
        members = [i for i in indicators if i.group == group]
        lines += ["", f'<a id="{group.replace("_", "-")}"></a>', f"## {GROUP_TITLES[group]}", ""]
        if not members:
            lines.append("No indicator yet.")
            continue
        lines.append(f"Registry file: `indicators/registry/{Path(members[0].file).name}`.")
        for i in members:
            lines += ["", f"### {i.code} {i.name}", "", i.definition, "",
                      "| unit | source | method | universe | disaggregations | decimals |",
                      "|---|---|---|---|---|---|",
                      f"| {i.unit} | {i.source} | {i.method} | {_cell(f'`{i.universe}`' if i.universe else 'all rows')}"
                      f" | {breakdowns(i) or 'none'} | {i.decimals} |", ""]
            for label, expression in (("numerator", i.numerator), ("denominator", i.denominator),
                                      ("value", i.value)):
                if expression:
                    lines.append(f"- {label}: `{expression}`")
            if i.growth:
                lines.append(f"- growth: {i.growth['kind']} over {i.growth['periods']} year(s)")
            thresholds = {k: v for k, v in i.reliability.items()}
            if thresholds != {"min_n": 25, "flag_n": 50, "max_cv": 33.3, "flag_cv": 16.6}:
                lines.append(f"- reliability: suppressed below {thresholds['min_n']} cases or above "
                             f"{thresholds['max_cv']} % CV; low reliability below {thresholds['flag_n']} cases "
                             "or above "
                             f"{thresholds['flag_cv']} % CV")
            lines.append(f"- group values: {aggregation_text(i)}")
            if data_origin is not None:
                lines.append(f"- data in this release: {ORIGIN_TEXT[data_origin.get(i.code, 'no data')]}")
            derived = [d for d in series if d.base.code == i.code]
            if derived:
                lines.append("- derived series: " + "; ".join(f"`{d.code}` {d.name.split(':')[0].lower()}"
                                                              for d in derived))
            if i.caveats:
                lines.append(f"- caveat: {i.caveats}")
            lines.append("- references: " + "; ".join(i.references))
    return "\n".join(lines) + "\n"
