"""The sex-gap chart: girls' and boys' values side by side per country, each with its 95 % CI.

Each country's two values are joined by a light bar so the gap reads at a glance; countries are ordered by the
girls' value. A hollow marker is a low-reliability value (U); a blank cell is written in its row with the reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from indicators.charts.axes import category_axis, is_share, style_value_axis, value_limits
from indicators.charts.chart_data import ChartData, any_synthetic, latest_per_area
from indicators.charts.page import LegendItem, RowColumns, compose, finish_in_axes
from indicators.charts.style import BOYS, GAP_ROW_IN, GIRLS, GRID, INK, MUTED, SIZE_NOTE, chart_style
from indicators.charts.text import add_text, plain
from indicators.charts.words import blank_reason, format_value, period_words, published_decimals, unit_label


def sex_gap_chart(rows: pd.DataFrame, *, title: str, unit: str, source: str, release_id: str, ax=None,
                  subtitle: str = "", notes: list[str] | None = None, share: bool | None = None) -> Figure:
    """Girls and boys per country, each with its 95 % CI (each country's latest period with a girls' or boys'
    row); a hollow marker is a low-reliability value (U); a blank cell is written in its row with the reason.
    Countries are ordered by the girls' value. rows: `compare` view rows with SEX in (F, M)."""
    rows = latest_per_area(rows[rows["SEX"].isin(["F", "M"])])
    periods = [int(p) for p in sorted(rows["TIME_PERIOD"].unique())]
    mixed = len(periods) > 1
    unit = unit_label(unit)
    decimals = published_decimals(rows["OBS_VALUE"])
    share = is_share(rows, share)
    wide = rows.drop_duplicates("REF_AREA")[["REF_AREA", "area_name", "TIME_PERIOD"]]
    for sex in ("F", "M"):
        wide[sex] = wide["REF_AREA"].map(rows[rows["SEX"] == sex].set_index("REF_AREA")["OBS_VALUE"])
    wide = wide.assign(_f=wide["F"].fillna(-np.inf)).sort_values(["_f", "area_name"], ascending=[False, True])
    countries = list(wide["REF_AREA"])
    y_of = {c: i for i, c in enumerate(countries)}
    drawn = rows.assign(y=rows["REF_AREA"].map(y_of)).sort_values(["y", "SEX"]).reset_index(drop=True)
    names = [str(n) for n in wide["area_name"]]

    parts = [subtitle] if subtitle else []
    parts.append(period_words(periods))
    parts.append(f"{len(countries)} countries")
    sub = " · ".join(parts)
    notes = list(notes or [])
    if drawn["OBS_VALUE"].isna().any():
        notes.append("A missing marker is a cell without a published value; the reason is written in the row.")
    synthetic = any_synthetic(drawn)
    legend = [LegendItem("girls", "marker", GIRLS, marker="o"), LegendItem("boys", "marker", BOYS, marker="s")]
    if (drawn["OBS_STATUS"] == "U").any():
        legend.append(LegendItem("hollow: low reliability (U), use with caution", "marker", MUTED, filled=False))
    has_ci = bool(drawn["CI_LOWER"].notna().any())
    if has_ci:
        legend.append(LegendItem("95 % confidence interval", "whisker", INK))
    bounds = drawn[["OBS_VALUE", "CI_LOWER", "CI_UPPER"]].to_numpy(dtype=float)
    bounds = bounds[~np.isnan(bounds)]
    limits = value_limits(float(bounds.min()) if bounds.size else 0.0, float(bounds.max()) if bounds.size else 1.0,
                     share)
    data = ChartData("sex_gap", drawn, rows.iloc[0:0], rows.iloc[0:0], sub, notes, source, synthetic,
                     [i.label for i in legend], {"periods": periods, "countries": countries})

    def draw(ax) -> None:
        style_value_axis(ax, "x", unit, limits)
        pairs = wide[wide["F"].notna() & wide["M"].notna()]
        y_pairs = pairs["REF_AREA"].map(y_of).to_numpy(dtype=float)   # a light bar joins a country's two values
        ax.add_collection(LineCollection(
            [[(f, y - 0.16), (m, y + 0.16)] for f, m, y in zip(pairs["F"], pairs["M"], y_pairs)], colors=GRID,
            linewidths=2.5, zorder=1, capstyle="round"), autolim=False)
        for sex, dy, colour, marker in (("F", -0.16, GIRLS, "o"), ("M", 0.16, BOYS, "s")):
            cells = drawn[(drawn["SEX"] == sex) & drawn["OBS_VALUE"].notna()]
            y = cells["y"].to_numpy(dtype=float) + dy
            v = cells["OBS_VALUE"].to_numpy(dtype=float)
            lo, hi = cells["CI_LOWER"].to_numpy(dtype=float), cells["CI_UPPER"].to_numpy(dtype=float)
            w = ~np.isnan(lo)
            if w.any():
                ax.errorbar(v[w], y[w], xerr=[v[w] - lo[w], hi[w] - v[w]], fmt="none", ecolor=colour, elinewidth=1,
                            capsize=2, capthick=1, zorder=2)
            low = (cells["OBS_STATUS"] == "U").to_numpy()
            ax.plot(v[~low], y[~low], marker, color=colour, markersize=5.5, zorder=3)
            ax.plot(v[low], y[low], marker, color=colour, markerfacecolor="white", markeredgewidth=1.2,
                    markersize=5.5, zorder=3)
        # a blank cell: its reason on its own line of the row, at the end of the axis away from the other value
        middle = (limits[0] + limits[1]) / 2
        for r in drawn[drawn["OBS_VALUE"].isna()].itertuples():
            who, dy, other = ("girls", -0.16, "M") if r.SEX == "F" else ("boys", 0.16, "F")
            other_value = wide.set_index("REF_AREA").loc[r.REF_AREA, other]
            at_left = pd.isna(other_value) or other_value > middle
            add_text(ax, limits[0] + 0.01 * (limits[1] - limits[0]) if at_left else limits[1], r.y + dy,
                     f"{who}: {blank_reason(r.OBS_STATUS, r.CONF_STATUS, r.COMMENT_OBS)}", size=SIZE_NOTE,
                     transform=ax.transData, ha="left" if at_left else "right", va="center", color=MUTED,
                  italic=True, zorder=5)
        category_axis(ax, len(countries))

    if ax is not None:
        draw(ax)
        ax.set_yticks(range(len(countries)), [plain(n) for n in names])
        return finish_in_axes(ax, title, sub, synthetic, data)

    columns = RowColumns.measure(names, [str(int(p)) for p in wide["TIME_PERIOD"]] if mixed else [],
                                 [f"{format_value(r.F, decimals)} / {format_value(r.M, decimals)}"
                                  for r in wide.itertuples()], "girls / boys")
    with chart_style():
        frame = compose(title=title, subtitle=sub, legend=legend, label_rows=0,
                        plot_h=len(countries) * GAP_ROW_IN + 0.1, left=columns.left, right=columns.right,
                        x_axis_h=0.42, notes=notes, source=source, release_id=release_id, synthetic=synthetic)
        draw(frame.ax)
        columns.draw(frame, list(range(len(countries))))
    frame.page.fig.chart_data = data
    return frame.page.fig

