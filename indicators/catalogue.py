"""The indicator catalogue, generated from the registry: a table (shipped in each release and in the public
DuckDB) and a Markdown document (docs/indicators.md). Nothing here is written by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from indicators.gaps import derived_series
from indicators.registry import Indicator
from schemas.registry import GROUP_PREFIXES

DOCS_PATH = Path(__file__).resolve().parents[1] / "docs" / "indicators.md"
GROUP_TITLES = {
    "background_context": "Background context: Internet access and use, growth of the Internet",
    "subjective_aspects": "Subjective aspects: awareness and concerns",
    "risk_behaviour": "Children's risk-prone behaviour",
    "incidents_responses": "Incidents and responses",
    "preventative_actions": "Preventative actions",
    "national_capacity": "National capacity (COP national survey)",
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
        return "computed from group inputs (population-weighted rates, summed persons)"
    if spec["method"] == "country_mean":
        return "unweighted mean of member countries"
    return f"{spec['method'].replace('_', ' ')}, weight {spec['weight']}"


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


def render_markdown(indicators: list[Indicator]) -> str:
    counts = {g: sum(1 for i in indicators if i.group == g) for g in GROUP_PREFIXES}
    series = derived_series(indicators)
    lines = ["# COP indicator catalogue", "",
             "<!-- Generated from indicators/registry/*.yaml by `cop indicators docs`; do not edit by hand. -->", "",
             f"{len(indicators)} indicators in six groups. Each is defined once, in the registry file named below; "
             "expressions are SQL over the harmonised source's variables. Default reliability rules (DESIGN.md 4.4): "
             "suppressed below 25 unweighted cases or above 33.3 % CV, flagged below 50 cases or above 16.6 % CV. "
             f"Group values (world, regions, development and income groups) follow each entry's `aggregation`; "
             f"{len(series)} derived series (gender parity index `_GPI`, urban-rural gap `_URG`) follow by rule "
             "from the survey proportions (see docs/methodology.md).",
             "", "| group | indicators |", "|---|---|"]
    lines += [f"| [{GROUP_TITLES[g]}](#{g.replace('_', '-')}) | {n} |" for g, n in counts.items()]
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
                             f"{thresholds['max_cv']} % CV; flagged below {thresholds['flag_n']} cases or above "
                             f"{thresholds['flag_cv']} % CV")
            lines.append(f"- group values: {aggregation_text(i)}")
            derived = [d for d in series if d.base.code == i.code]
            if derived:
                lines.append("- derived series: " + "; ".join(f"`{d.code}` {d.name.split(':')[0].lower()}"
                                                              for d in derived))
            if i.caveats:
                lines.append(f"- caveat: {i.caveats}")
            lines.append("- references: " + "; ".join(i.references))
    return "\n".join(lines) + "\n"
