"""The charts of a release: one style, drawn with matplotlib straight to PNG from the release's public database.

Three chart functions take rows of the public database's views (docs/analysts.md) and return a matplotlib Figure
carrying what it drew as `fig.chart_data` (ChartData, for alt text and tests):

- `ranked_chart` (ranked.py): countries ranked by value (bars from 0, 95 % CI whiskers where the value has one,
  low-reliability values hatched, blank cells kept as labelled gaps, group values as labelled reference lines);
- `sex_gap_chart` (sex_gap.py): girls and boys side by side per country, each with its 95 % CI;
- `trend_chart` (trend.py): one line per area over time, broken where a year has no published value; survey
  waves linked by a dashed line, each with its 95 % CI.

`render_release_charts` (release.py) decides what each indicator gets and writes `charts/<INDICATOR>_<kind>.png`
with `save_chart` (png.py: identical input, identical bytes). Every chart names its countries, its unit, the
source of the rows it draws and the release, and carries a SYNTHETIC DATA label when a row it draws rests on
generated data (and only then). The shared parts: style.py (sizes, colours, font, matplotlib settings), text.py
(measured and fast-drawn text), words.py (units, numbers, blank reasons, source line), page.py (the page laid out
in inches), axes.py (value and category axes), chart_data.py (what a chart drew).
"""

import matplotlib

# builds run headless; never try to open a window. Set here, before any submodule imports pyplot: importing
# indicators.charts.<anything> runs this file first.
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (explore.show closes figures with charts.plt)

from indicators.charts.chart_data import ChartData  # noqa: E402
from indicators.charts.png import save_chart  # noqa: E402
from indicators.charts.ranked import TOP_BOTTOM, ranked_chart  # noqa: E402
from indicators.charts.release import (  # noqa: E402
    CHART_FUNCTIONS, COVERED_SHARE, INCIDENTS_CAVEAT, SURVEY_METHODS, ChartFile, ChartJob, draw_job, plan_charts,
    ranking_year, render_release_charts)
from indicators.charts.sex_gap import sex_gap_chart  # noqa: E402
from indicators.charts.style import SYNTHETIC_LABEL, SYNTHETIC_NOTE  # noqa: E402
from indicators.charts.trend import trend_chart  # noqa: E402
from indicators.charts.words import (  # noqa: E402
    UNIT_LABELS, blank_reason, format_value, published_decimals, source_line, unit_label)

__all__ = [
    "CHART_FUNCTIONS", "COVERED_SHARE", "INCIDENTS_CAVEAT", "SURVEY_METHODS", "SYNTHETIC_LABEL", "SYNTHETIC_NOTE",
    "TOP_BOTTOM", "UNIT_LABELS", "ChartData", "ChartFile", "ChartJob", "blank_reason", "draw_job", "format_value",
    "plan_charts", "plt", "published_decimals", "ranked_chart", "ranking_year", "render_release_charts",
    "save_chart", "sex_gap_chart", "source_line", "trend_chart", "unit_label",
]
