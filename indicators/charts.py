"""Charts published with each release: plain matplotlib, written straight to PNG (no display needed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

import matplotlib

matplotlib.use("Agg")  # builds run headless; never try to open a window
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402



@dataclass(frozen=True)
class ChartFile:
    """One chart of a release: its file (relative to the release folder) and what it shows (for the report)."""

    path: str          # e.g. "charts/BC.1_ranked.png"
    indicator: str     # INDICATOR code
    group: str         # registry group (background_context, ...)
    kind: str          # ranked, sex_gap, trend, incidents_count, incidents_rate, ...
    title: str
    description: str   # alt text: what the chart shows, in one sentence


# Fixed metadata keeps PNG bytes identical across identical builds
_PNG_METADATA = {"Software": None}


def _footer(fig, source_note: str) -> None:
    fig.text(0.01, 0.01, source_note, fontsize=7, color="#555555", ha="left", va="bottom", wrap=True)


def ranked_bar_chart(observations: pd.DataFrame, indicator: str, title: str, unit_label: str,
                     source_note: str, path: Path, show: int = 15) -> Path:
    """Countries ranked by an indicator in its latest well-covered year: the `show` highest and lowest.

    The latest year is the most recent one in which at least 80 % of the countries that ever report the
    indicator have a value: the newest year usually holds only early reporters, and ranking them alone
    would mislead.
    """
    data = observations[(observations["INDICATOR"] == indicator) & observations["OBS_VALUE"].notna()]
    per_year = data.groupby("TIME_PERIOD")["REF_AREA"].nunique()
    covered = per_year[per_year >= 0.8 * data["REF_AREA"].nunique()]
    year = int(covered.index.max() if not covered.empty else per_year.idxmax())
    latest = data[data["TIME_PERIOD"] == year].sort_values(["OBS_VALUE", "REF_AREA"], ascending=[False, True])
    median = float(latest["OBS_VALUE"].median())
    shown = latest if len(latest) <= 2 * show else pd.concat([latest.head(show), latest.tail(show)])
    fig, ax = plt.subplots(figsize=(8, 0.22 * len(shown) + 1.6), dpi=110)
    labels = list(shown["REF_AREA"])
    ax.barh(range(len(shown)), shown["OBS_VALUE"], color=["#1f77b4"] * min(show, len(shown))
            + ["#d62728"] * max(0, len(shown) - show))
    ax.set_yticks(range(len(shown)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(median, color="#333333", linestyle="--", linewidth=1)
    ax.text(median, -0.8, f"median {median:.1f}", fontsize=7, ha="center")
    ax.set_xlabel(unit_label)
    subtitle = (f"{year}: highest {show} and lowest {show} of {len(latest)} countries"
                if len(latest) > 2 * show else f"{year}: {len(latest)} countries")
    ax.set_title(f"{indicator} {title}\n{subtitle}", fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    _footer(fig, source_note)
    fig.savefig(path, metadata=_PNG_METADATA)
    plt.close(fig)
    return path


def time_series_chart(observations: pd.DataFrame, indicator: str, countries: list[str], title: str,
                      unit_label: str, source_note: str, path: Path) -> Path:
    """One line per country over all years with data."""
    data = observations[(observations["INDICATOR"] == indicator) & observations["REF_AREA"].isin(countries)
                        & observations["OBS_VALUE"].notna()]
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=110)
    for country in countries:
        series = data[data["REF_AREA"] == country].set_index("TIME_PERIOD")["OBS_VALUE"].sort_index()
        if not series.empty:
            # reindex to every year so that a missing year breaks the line instead of being bridged
            series = series.reindex(range(int(series.index.min()), int(series.index.max()) + 1))
            ax.plot(series.index, series.to_numpy(), marker=".", linewidth=1.5, label=country)
    ax.set_xlabel("year")
    ax.set_ylabel(unit_label)
    ax.set_title(f"{indicator} {title}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncols=min(5, len(countries)))
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    _footer(fig, source_note)
    fig.savefig(path, metadata=_PNG_METADATA)
    plt.close(fig)
    return path


def render_release_charts(release_folder: Path, release_id: str) -> list[ChartFile]:
    """Every chart of a release, written to <release_folder>/charts/ from its public database."""
    con = duckdb.connect(str(release_folder / "cop_indicators.duckdb"), read_only=True)
    try:
        observations = con.execute("SELECT * FROM observations").df()
        citation = "; ".join(c for (c,) in con.execute(
            "SELECT DISTINCT citation FROM sources WHERE kind = 'ict' ORDER BY 1").fetchall())
    finally:
        con.close()
    (release_folder / "charts").mkdir(exist_ok=True)
    note = f"Source: {citation}. cop-indicators release {release_id}"
    ranked_bar_chart(observations, "BC.1", "Individuals using the Internet", "% of population", note,
                     release_folder / "charts" / "BC.1_ranked.png")
    countries = [c for c in ["BRA", "DEU", "IND", "NGA", "USA"] if c in set(observations["REF_AREA"])]
    time_series_chart(observations, "BC.1", countries, "Individuals using the Internet", "% of population", note,
                      release_folder / "charts" / "BC.1_trend.png")
    return [ChartFile("charts/BC.1_ranked.png", "BC.1", "background_context", "ranked",
                      "Individuals using the Internet", "Countries ranked by BC.1"),
            ChartFile("charts/BC.1_trend.png", "BC.1", "background_context", "trend",
                      "Individuals using the Internet", "BC.1 over time")]
