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
from schemas.sources import harmonised_sources

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


def aggregation_text(i: Indicator) -> str:
    spec = i.aggregation
    if not spec:
        return "not aggregated"
    if spec["method"] == "none":
        return f"not aggregated: {spec['reason']}"
    if spec["method"] == "group_inputs":
        text = "computed from group inputs (population-weighted rates, summed persons)"
    elif spec["method"] == "country_mean":
        text = "unweighted mean of member countries"
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


def catalogue_frame(indicators: list[Indicator]) -> pd.DataFrame:
    """One row per indicator, plain column types (text, integers, floats) for Parquet and SQL users."""
    rows = [{
        "code": i.code, "name": i.name, "group_name": i.group, "definition": i.definition, "unit": i.unit,
        "source": i.source, "method": i.method, "universe": i.universe, "numerator": i.numerator,
        "denominator": i.denominator, "value_expression": i.value,
        "growth": json.dumps(i.growth, sort_keys=True) if i.growth else None,
        "disaggregations": ", ".join(i.disaggregations), "decimals": i.decimals,
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


def render_markdown(indicators: list[Indicator], data_origin: dict[str, str] | None = None) -> str:
    """The catalogue document; with `data_origin` (code -> synthetic / real / partly synthetic / no data), as
    shipped in a release, each indicator states where this release's numbers come from."""
    counts = {g: sum(1 for i in indicators if i.group == g) for g in GROUP_PREFIXES}
    series = derived_series(indicators)
    lines = ["# COP indicator catalogue", "",
             "<!-- Generated from indicators/registry/*.yaml by `cop indicators docs`; do not edit by hand. -->", "",
             f"{len(indicators)} indicators in six groups. Each is defined once, in the registry file named below; "
             "expressions are SQL over the harmonised source's variables. Default reliability rules (DESIGN.md 4.4): "
             "suppressed below 25 unweighted cases or above 33.3 % CV, low reliability (U) below 50 cases or above "
             "16.6 % CV. "
             f"Group values (world, regions, development and income groups) follow each entry's `aggregation`; "
             f"{len(series)} derived series (gender parity index `_GPI`, urban-rural gap `_URG`) follow by rule "
             "from the survey proportions (see docs/methodology.md).",
             "", "| group | indicators |", "|---|---|"]
    lines += [f"| [{GROUP_TITLES[g]}](#{g.replace('_', '-')}) | {n} |" for g, n in counts.items()]
    lines += _reading_the_statistics()
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
                      f" | {', '.join(i.disaggregations) or 'none'} | {i.decimals} |", ""]
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
