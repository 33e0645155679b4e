"""What a chart drew (`ChartData`, attached to its Figure as `fig.chart_data` for alt text and tests) and the
choices on rows every chart function makes the same way: each area's latest period, and whether any row drawn
rests on synthetic data (which puts the SYNTHETIC DATA label on the chart, and only then)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class ChartData:
    """What a chart drew, attached to its Figure as `fig.chart_data`."""

    kind: str
    rows: pd.DataFrame                 # the rows drawn, in display order (top to bottom; trend: legend order)
    references: pd.DataFrame           # group values drawn as reference lines
    omitted_references: pd.DataFrame   # group values asked for but blank (withheld), named in a note
    subtitle: str
    notes: list[str]
    source: str
    synthetic: bool
    legend: list[str]
    # ranked: year, periods, count, median, cut; sex_gap: periods, countries; trend: areas, years, survey
    summary: dict = field(default_factory=dict)


def latest_per_area(rows: pd.DataFrame) -> pd.DataFrame:
    """Each area's rows of its latest TIME_PERIOD among the rows given (blank cells included)."""
    if rows.empty:
        return rows
    return rows[rows["TIME_PERIOD"] == rows.groupby("REF_AREA")["TIME_PERIOD"].transform("max")]


def any_synthetic(*frames: pd.DataFrame) -> bool:
    return any(bool(f["SYNTHETIC"].fillna(False).astype(bool).any()) for f in frames if len(f))

