"""What a chart writes in words: readable units, numbers with the precision the release publishes, why a cell is
blank (from COMMENT_OBS and the status codes), the 'Source:' line of the rows drawn, and the notes that name
what is not drawn.

A chart never invents precision or a reason: every number is printed with the decimals its published values
carry, and every blank cell is explained by the rules its row names.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

UNIT_LABELS = {
    "percent": "%",
    "percentage_points": "percentage points",
    "per_100": "per 100 inhabitants",
    "per_100k": "per 100,000",
    "count": "number",
    "score": "score",
    "ratio": "ratio",
    "days": "days",
}


def unit_label(unit: str, indicator_name: str = "", method: str | None = None) -> str:
    """A readable unit: '%', 'per 100 inhabitants', 'per 100,000 Internet users' (per what, from the indicator's
    name when it says), 'number'; a growth indicator (catalogue method 'growth': an annual change or annual
    rate) adds 'per year'. A string that is no UNIT_MEASURE code is returned as given."""
    label = UNIT_LABELS.get(unit, unit)
    if unit in ("per_100", "per_100k"):
        match = re.search(r"per 100(,000)? ([A-Za-z][A-Za-z -]*)", indicator_name)
        if match:
            label = f"per 100{match.group(1) or ''} {match.group(2).strip()}"
    return f"{label} per year" if method == "growth" else label


def format_value(value, decimals: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return "–"
    return f"{value:,.{decimals}f}"


def with_unit(value: float, decimals: int, unit: str) -> str:
    text = format_value(value, decimals)
    return f"{text} %" if unit == "%" else text if unit == "number" else f"{text} {unit}"


def published_decimals(values: pd.Series) -> int:
    """The decimals the published values carry (at most 2): a chart never invents precision."""
    v = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    for d in range(0, 3):
        if np.all(np.abs(np.round(v, d) - v) < 1e-9):
            return d
    return 2


_COMMENT_RULES = [  # a rule of COMMENT_OBS -> the reader's words
    (re.compile(r"^n<(\d+)$"), "fewer than {0} cases"),
    (re.compile(r"^cv>([\d.]+)%$"), "CV above {0} %"),
    (re.compile(r"^complementary suppression$"), "protects another suppressed cell"),
    (re.compile(r"^coverage (\d+)%<(\d+)%$"), "countries with data cover {0} % of the population (minimum {1} %)"),
    (re.compile(r"^countries<(\d+) \((\d+) reporting\)$"), "{1} reporting countries (minimum {0})"),
    (re.compile(r"^one country holds (\d+)% of the weight \(max (\d+)%\)$"),
     "one country holds {0} % of the weight (maximum {1} %)"),
    (re.compile(r"^a cell is withheld \(Q\)$"), "a cell is suppressed"),
    (re.compile(r"^a cell is below the minimum coverage \(L\)$"), "a cell is withheld for coverage"),
]
_BLANK_PREFIX = {"Q": "suppressed", "L": "withheld", "O": "not computed"}
_CONF_REASON = {"N": "too few cases or too imprecise", "D": "protects another suppressed cell",
                "A": "too few reporting countries", "O": "dominated by one country"}


def blank_reason(obs_status: str, conf_status: str | None, comment: str | None) -> str:
    """Why a cell is blank, in words: 'suppressed: fewer than 25 cases', 'withheld: countries with data cover
    12 % of the population (minimum 50 %)'. From COMMENT_OBS (each rule translated), else the status codes."""
    prefix = _BLANK_PREFIX.get(obs_status, "no value")
    parts = []
    for rule in (comment if isinstance(comment, str) else "").split(";"):
        rule = rule.strip()
        if rule:
            parts.append(next((words.format(*m.groups()) for pattern, words in _COMMENT_RULES
                               if (m := pattern.match(rule))), rule))
    if not parts and obs_status == "Q" and conf_status in _CONF_REASON:
        parts.append(_CONF_REASON[conf_status])
    return f"{prefix}: {'; '.join(parts)}" if parts else prefix


def source_line(rows: pd.DataFrame, sources: pd.DataFrame) -> str:
    """'Source: ...' for the rows drawn: the citation (sources table) of every input file in their SOURCE_ID,
    split on '+'. Citations that differ only by their own source id (one per survey delivery) are written once
    with the ids listed, so that twelve deliveries make one sentence, not twelve."""
    ids = sorted({s for joined in rows["SOURCE_ID"].dropna() for s in str(joined).split("+") if s})
    citation = dict(zip(sources["source_id"], sources["citation"]))
    unknown = [s for s in ids if s not in citation]
    if unknown:
        raise ValueError(f"sources table: no row for SOURCE_ID {', '.join(unknown)} of the rows charted")
    merged: dict[str, list[str]] = {}
    for source_id in ids:
        merged.setdefault(str(citation[source_id]).replace(source_id, "{ids}"), []).append(source_id)
    texts = [template.replace("{ids}", ", ".join(members)) for template, members in merged.items()]
    return ("Source: " + "; ".join(texts)).rstrip(".") + "." if texts else "Source: none (no row drawn)."


def period_words(periods: list[int]) -> str:
    """The period of a chart of each country's latest rows: the year, or the span when the years differ."""
    if len(periods) > 1:
        return f"latest wave per country, {periods[0]}-{periods[-1]} (year beside the name)"
    return str(periods[0]) if periods else "no period"


def omitted_note(blank: pd.DataFrame) -> str:
    """'Not drawn, no published value: World, Africa (coverage too low)', grouped by reason."""
    reasons = {"L": "coverage too low", "Q": "too few reporting countries or one dominates", "O": "not computed"}
    by_reason: dict[str, list[str]] = {}
    for r in blank.itertuples():
        by_reason.setdefault(reasons.get(r.OBS_STATUS, "no value"), []).append(str(r.area_name))
    return "Not drawn, no published value: " + "; ".join(f"{', '.join(names)} ({reason})"
                                                        for reason, names in by_reason.items()) + "."


def year_ranges(years: list[int]) -> str:
    """[2001, 2002, 2003, 2007] -> '2001-2003, 2007'."""
    runs: list[list[int]] = []
    for year in years:
        if runs and year == runs[-1][-1] + 1:
            runs[-1].append(year)
        else:
            runs.append([year])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)

