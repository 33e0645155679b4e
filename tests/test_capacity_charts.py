"""indicators.charts.capacity: the pillar heatmap, the rank-interval chart and the roadmap stages by region, drawn
from small hand-made release-table rows (6 scored countries in 2 ITU regions, one more below the availability
threshold) and checked against values written here by hand; then once each with about 80 seeded random countries,
for layout (no text overlapping another or leaving the page)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.text import Text
from test_charts import _overlaps

from indicators.charts import SYNTHETIC_LABEL, save_chart
from indicators.charts.capacity import (HEAT_COLUMNS, STAGE_COLOURS, pillar_heatmap, rank_interval_chart,
                                        stages_by_region_chart)
from indicators.charts.style import INK
from schemas.classifications import ITU_REGIONS
from schemas.national_questionnaire import GCA_PILLARS

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"
SOURCE = "Source: COP national questionnaire 2024."
ROUND = 2024

# country -> (ITU region, name); Senegal responded but answered too few items for an overall score
COUNTRIES = {"KEN": ("ITU_AFR", "Kenya"), "GHA": ("ITU_AFR", "Ghana"), "NGA": ("ITU_AFR", "Nigeria"),
             "SEN": ("ITU_AFR", "Senegal"), "FRA": ("ITU_EUR", "France"), "DEU": ("ITU_EUR", "Germany"),
             "ITA": ("ITU_EUR", "Italy")}
AREAS = pd.DataFrame(
    [(code, name, "country", region, ITU_REGIONS[region]) for code, (region, name) in COUNTRIES.items()]
    + [("WLD", "World", "group", None, None), ("ITU_AFR", "Africa", "group", None, None),
       ("ITU_EUR", "Europe", "group", None, None), ("WB_HIC", "High income", "group", None, None)],
    columns=["ref_area", "name", "type", "itu_region", "itu_region_name"])
# legal, technical, organizational, capacity_building, cooperation, overall (0-100; None: below the threshold)
SCORES = {"KEN": (60, 40, 80, 50, 70, 60), "GHA": (90, 80, 95, 85, 100, 90), "NGA": (5, 10, 0, 20, 15, 10),
          "SEN": (50, None, None, 30, None, None), "FRA": (70, 75, 80, 65, 60, 70), "DEU": (40, 30, 50, 20, 60, 40),
          "ITA": (55, 65, 45, 50, 35, 50)}


def scores_frame() -> pd.DataFrame:
    rows = [(code, ROUND, pillar, value) for code, values in SCORES.items()
            for pillar, value in zip(HEAT_COLUMNS, values)]
    frame = pd.DataFrame(rows, columns=["REF_AREA", "TIME_PERIOD", "PILLAR", "SCORE"]).astype({"SCORE": float})
    earlier = frame.assign(TIME_PERIOD=2009, SCORE=1.0)   # another round: must not be drawn
    return pd.concat([frame, earlier], ignore_index=True).assign(ITEMS=10, ITEMS_ANSWERED=8, ITEMS_DONT_KNOW=1)


# nominal rank, median, 5th and 95th percentile; Italy and France tie on the median, nominal rank decides
RANKS = {"GHA": (1, 1.0, 1, 2), "FRA": (2, 2.5, 1, 4), "KEN": (3, 3.0, 2, 4), "ITA": (4, 2.5, 2, 5),
         "DEU": (5, 5.0, 4, 6), "NGA": (6, 6.0, 5, 6)}


def ranks_frame() -> pd.DataFrame:
    return pd.DataFrame([(code, ROUND, SCORES[code][-1], *r, 0.0, 0.0, 6, 1000) for code, r in RANKS.items()],
                        columns=["REF_AREA", "TIME_PERIOD", "SCORE", "RANK", "RANK_MEDIAN", "RANK_P05", "RANK_P95",
                                 "SCORE_P05", "SCORE_P95", "COUNTRIES_RANKED", "DRAWS"])


# stage reached per pillar: Africa (KEN, GHA, NGA, SEN), Europe (FRA, DEU, ITA); Europe has no stage on cooperation
STAGES = {"legal": ([1, 3, 0, 1], [5, 4, 4]), "technical": ([2, 2, 2, 2], [3, 0, 5]),
          "organizational": ([0, 0, 1, 5], [2, 2, 3]), "capacity_building": ([3, 4, 1, 0], [1, 1, 1]),
          "cooperation": ([1, 2, 3, 4], [])}


def counts_frame() -> pd.DataFrame:
    rows = []
    for pillar, (africa, europe) in STAGES.items():
        for group, stages in (("ITU_AFR", africa), ("ITU_EUR", europe), ("WLD", africa + europe),
                              ("WB_HIC", europe)):
            for stage in sorted(set(stages)):   # like the release table: only stages some country reached
                rows.append((group, ROUND, pillar, stage, stages.count(stage)))
    return pd.DataFrame(rows, columns=["REF_AREA", "TIME_PERIOD", "PILLAR", "STAGE", "COUNTRIES"])


def texts_of(fig) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def words_of(fig) -> list[str]:
    return [t.get_text() for t in texts_of(fig)]


@pytest.fixture
def close_all():
    yield
    plt.close("all")


DRAWERS = {"heatmap": lambda synthetic: pillar_heatmap(scores_frame(), AREAS, round=ROUND, synthetic=synthetic,
                                                       source=SOURCE, release_id="test-release"),
           "ranks": lambda synthetic: rank_interval_chart(ranks_frame(), AREAS, round=ROUND, synthetic=synthetic,
                                                          source=SOURCE, release_id="test-release"),
           "stages": lambda synthetic: stages_by_region_chart(counts_frame(), AREAS, round=ROUND,
                                                              synthetic=synthetic, source=SOURCE,
                                                              release_id="test-release")}


# ---------------------------------------------------------------------------------------------------- heatmap
def test_heatmap_groups_countries_by_region_sorted_by_overall_score(close_all):
    fig = DRAWERS["heatmap"](True)
    data = fig.chart_data
    rows = data.rows
    # Africa (ITU_AFR) before Europe (ITU_EUR), each under its heading slot, highest overall first; Senegal unscored
    assert list(rows["REF_AREA"]) == ["GHA", "KEN", "NGA", "FRA", "ITA", "DEU"]
    assert list(rows["y"]) == [1.0, 2.0, 3.0, 5.0, 6.0, 7.0]
    assert data.summary["regions"] == [("Africa", 3), ("Europe", 3)]
    for r in rows.itertuples():
        assert [getattr(r, c) for c in HEAT_COLUMNS] == list(SCORES[r.REF_AREA])
    assert data.summary["unscored"] == ["SEN"] and list(data.omitted_references["area_name"]) == ["Senegal"]
    shown = words_of(fig)
    assert "1 country responded but answered too few items to be scored: Senegal." in shown
    assert {"Africa · 3 countries", "Europe · 3 countries", "Ghana", "Germany", "Legal", "Overall"} <= set(shown)
    assert "Senegal" not in shown and data.summary["countries"] == 6
    assert any("Round 2024" in s for s in shown)
    assert "SYNTHETIC DATA" in shown and any("test-release" in s for s in shown)
    assert any(s.startswith("Source: COP national questionnaire 2024") for s in shown)


def test_heatmap_colour_scale_is_fixed_0_100_and_cell_text_follows_luminance(close_all):
    fig = DRAWERS["heatmap"](False)
    # the data run from 0 to 100 here; a chart of Italy alone (scores 35-65) keeps the same 0-100 scale
    colour_bar = fig.axes[-1]
    assert colour_bar.get_ylim() == (0.0, 100.0)
    assert colour_bar.get_ylabel() == "score (0-100)"
    assert [t.get_text() for t in colour_bar.get_yticklabels()] == ["0", "20", "40", "60", "80", "100"]
    middle = scores_frame()
    middle = middle[middle["REF_AREA"].isin(["ITA"])]
    narrow = pillar_heatmap(middle, AREAS, round=ROUND, synthetic=False, source=SOURCE, release_id="r")
    assert narrow.axes[-1].get_ylim() == (0.0, 100.0)
    # the cell of a score of 35 (Italy, cooperation) has the same colour on both charts
    assert _cell_colour(fig, 6.0, 4) == _cell_colour(narrow, 1.0, 4)
    # a low score is dark in cividis (white text), a high one light (dark text)
    colours = {t.get_text(): to_hex(t.get_color()) for t in texts_of(fig.axes[0])}
    assert colours["0"] == "#ffffff" and colours["5"] == "#ffffff"
    assert colours["95"] == INK and colours["100"] == INK


def _cell_colour(fig, y: float, column: int) -> str:
    ax = fig.axes[0]
    cells = [p for p in ax.patches if abs(p.get_y() + p.get_height() / 2 - y) < 1e-9 and abs(p.get_x() - column) < 1e-9]
    assert len(cells) == 1
    return to_hex(cells[0].get_facecolor())


# ------------------------------------------------------------------------------------------------ rank intervals
def test_rank_intervals_sorted_by_median_rank_with_rank_1_on_the_left(close_all):
    fig = DRAWERS["ranks"](False)
    data = fig.chart_data
    rows = data.rows
    # median ranks 1, 2.5, 2.5, 3, 5, 6: France before Italy on the tie (nominal rank 2 before 4)
    assert list(rows["REF_AREA"]) == ["GHA", "FRA", "ITA", "KEN", "DEU", "NGA"]
    assert list(rows["RANK_MEDIAN"]) == [1.0, 2.5, 2.5, 3.0, 5.0, 6.0]
    assert [(r.RANK_P05, r.RANK_P95, r.RANK) for r in rows.itertuples()] == [
        RANKS[c][2:] + RANKS[c][:1] for c in rows["REF_AREA"]]
    assert data.summary == {"round": ROUND, "countries": 6, "draws": 1000, "countries_ranked": 6}
    ax = fig.axes[0]
    assert ax.get_xlim() == (0.5, 6.5) and not ax.xaxis_inverted()
    assert ax.get_xlabel() == "Rank (1 = highest capacity score)"
    assert list(ax.get_xticks()) == [1, 2, 3, 4, 5, 6]
    # the bars run from the 5th to the 95th percentile rank of each row, top to bottom
    bars = sorted(((p.get_y() + p.get_height() / 2, p.get_x(), p.get_x() + p.get_width()) for p in ax.patches))
    assert bars == [(float(i), float(RANKS[c][2]), float(RANKS[c][3])) for i, c in enumerate(rows["REF_AREA"])]
    median_dots, nominal_ticks = ax.lines[0], ax.lines[1]
    assert list(median_dots.get_xdata()) == [1.0, 2.5, 2.5, 3.0, 5.0, 6.0]
    assert list(nominal_ticks.get_xdata()) == [1, 2, 4, 3, 5, 6]
    assert "don't-know and unanswered items" in data.subtitle and "1,000 Monte Carlo draws" in data.subtitle
    assert "weights, aggregation method, treatment of don't-know and unanswered items" in data.subtitle
    shown = words_of(fig)
    assert "2 · 2.5 (1–4)" in shown and "Ghana" in shown and "nominal · median (5–95 %)" in shown


# ------------------------------------------------------------------------------------------- stages by region
def test_stages_are_shares_of_each_group_responding_countries(close_all):
    fig = DRAWERS["stages"](False)
    data = fig.chart_data
    rows = data.rows
    # World on top, then the ITU regions; the income group is not drawn
    assert data.summary["groups"] == ["WLD", "ITU_AFR", "ITU_EUR"] and "WB_HIC" not in set(rows["REF_AREA"])
    legal_africa = rows[(rows["PILLAR"] == "legal") & (rows["REF_AREA"] == "ITU_AFR")]
    assert list(legal_africa["STAGE"]) == [0, 1, 2, 3, 4, 5]
    assert list(legal_africa["SHARE"]) == [0.25, 0.5, 0.0, 0.25, 0.0, 0.0] and set(legal_africa["n"]) == {4}
    legal_world = rows[(rows["PILLAR"] == "legal") & (rows["REF_AREA"] == "WLD")]
    assert list(legal_world["COUNTRIES"]) == [1, 2, 0, 1, 2, 1] and set(legal_world["n"]) == {7}
    bars = rows[rows["n"] > 0].groupby(["PILLAR", "REF_AREA"])["SHARE"].sum()
    assert len(bars) == 5 * 3 - 1 and np.allclose(bars, 1.0)
    # Europe has no stage on cooperation: no bar, the row says so
    europe_cooperation = rows[(rows["PILLAR"] == "cooperation") & (rows["REF_AREA"] == "ITU_EUR")]
    assert set(europe_cooperation["n"]) == {0} and europe_cooperation["SHARE"].isna().all()
    shown = words_of(fig)
    assert "no responding country" in shown
    assert {"Legal measures", "International cooperation", "World", "Africa", "Europe", "0 none",
            "5 improvement", "50 %"} <= set(shown)
    assert "shares, not counts" in data.subtitle
    # n at the end of each bar, panel by panel (World, Africa, Europe); cooperation: Africa's 4 alone, Europe 0
    n_texts = [a.get_text() for a in fig.artists if isinstance(a, Text) and a.get_text().isdigit()]
    assert n_texts == ["7", "4", "3"] * 4 + ["4", "4", "0"]
    panel = fig.axes[0]
    # one segment per stage in stage order, coloured by stage: the legal World bar
    world = sorted((p for p in panel.patches if p.get_fill() and abs(p.get_y() + 0.34) < 1e-9 and p.get_width() > 0),
                   key=lambda p: p.get_x())
    assert [round(p.get_width() / 100 * 7) for p in world] == [1, 2, 1, 2, 1]
    assert [to_hex(p.get_facecolor()) for p in world] == [STAGE_COLOURS[s] for s in (0, 1, 3, 4, 5)]


def test_a_round_without_rows_is_an_error_naming_the_round_and_table(close_all):
    with pytest.raises(ValueError, match=r"capacity_ranks: no rows for round 2019 \(rounds present: 2024\)"):
        rank_interval_chart(ranks_frame(), AREAS, round=2019, synthetic=False, source=SOURCE, release_id="r")


# ------------------------------------------------------------------------------- PNG bytes, SYNTHETIC DATA label
@pytest.mark.parametrize("kind", sorted(DRAWERS))
def test_png_is_written_and_identical_on_a_second_draw(kind, tmp_path):
    first = save_chart(DRAWERS[kind](True), tmp_path / "a.png")
    second = save_chart(DRAWERS[kind](True), tmp_path / "b.png")
    assert first.stat().st_size > 1000 and first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("kind", sorted(DRAWERS))
def test_synthetic_label_only_when_synthetic(kind, close_all):
    synthetic, real = DRAWERS[kind](True), DRAWERS[kind](False)
    assert SYNTHETIC_LABEL in words_of(synthetic) and synthetic.chart_data.synthetic
    assert not any("SYNTHETIC" in s.upper() for s in words_of(real)) and not real.chart_data.synthetic


@pytest.mark.parametrize("kind", sorted(DRAWERS))
def test_no_text_overlaps_on_the_small_charts(kind, close_all):
    fig = DRAWERS[kind](True)
    assert _overlaps(fig) == []
    if kind == "heatmap":   # a short heatmap has its column headers once, above it
        assert words_of(fig).count("Overall") == 1


# ------------------------------------------------------------------------------------ about 80 countries
def many_countries(seed: int = 14, n: int = 84) -> dict[str, pd.DataFrame]:
    """Seeded random release-table rows for n ITU members (6 of them below the availability threshold) and the
    areas table of the reference files: the frames of a realistic round, for layout."""
    rng = np.random.default_rng(seed)
    regions = pd.read_csv(REFERENCE / "itu_regions.csv")
    names = pd.read_csv(REFERENCE / "countries.csv")[["iso3", "name"]]
    members = regions.merge(names, on="iso3")
    areas = pd.concat([pd.DataFrame({"ref_area": members["iso3"], "name": members["name"], "type": "country",
                                     "itu_region": members["itu_region_code"],
                                     "itu_region_name": members["itu_region_name"]}),
                       pd.DataFrame({"ref_area": ["WLD", *ITU_REGIONS], "name": ["World", *ITU_REGIONS.values()],
                                     "type": "group"})], ignore_index=True)
    chosen = members.sample(n, random_state=seed).reset_index(drop=True)
    # the longest member names are in, whatever the seed: the layout must hold them
    longest = ["COD", "VCT", "FSM"]
    codes = list(dict.fromkeys(longest + list(chosen["iso3"])))[:n]
    pillars = rng.beta(2, 2, size=(n, 5)) * 100
    overall = pillars.mean(axis=1)
    unscored = rng.choice(n, 6, replace=False)
    pillars[unscored, rng.integers(0, 5, 6)] = np.nan
    overall[unscored] = np.nan
    scores = pd.DataFrame([(c, ROUND, p, float(v)) for c, row, o in zip(codes, pillars, overall)
                           for p, v in zip(HEAT_COLUMNS, [*row, o])],
                          columns=["REF_AREA", "TIME_PERIOD", "PILLAR", "SCORE"]).round({"SCORE": 1})
    ranked = pd.DataFrame({"REF_AREA": codes, "SCORE": overall}).dropna()
    ranked["RANK"] = ranked["SCORE"].rank(ascending=False, method="min").astype(int)
    spread = rng.gamma(2, 2, len(ranked))
    median = np.clip(ranked["RANK"] + rng.normal(0, 1.5, len(ranked)), 1, len(ranked)).round()
    ranks = ranked.assign(TIME_PERIOD=ROUND, RANK_MEDIAN=median,
                          RANK_P05=np.clip(median - spread, 1, len(ranked)).round(),
                          RANK_P95=np.clip(median + spread * 1.5, 1, len(ranked)).round(), SCORE_P05=0.0,
                          SCORE_P95=0.0, COUNTRIES_RANKED=len(ranked), DRAWS=10000)
    region_of = dict(zip(members["iso3"], members["itu_region_code"]))
    stages = pd.DataFrame([(c, p, int(rng.choice(6, p=[0.25, 0.2, 0.2, 0.15, 0.12, 0.08])))
                           for c in codes for p in GCA_PILLARS], columns=["country", "PILLAR", "STAGE"])
    stages["group"] = stages["country"].map(region_of)
    counts = pd.concat([stages, stages.assign(group="WLD")]).groupby(["group", "PILLAR", "STAGE"]).size()
    counts = counts.rename("COUNTRIES").reset_index().rename(columns={"group": "REF_AREA"}).assign(TIME_PERIOD=ROUND)
    return {"scores": scores, "ranks": ranks, "counts": counts, "areas": areas}


def draw_many(frames: dict[str, pd.DataFrame]) -> dict[str, object]:
    common = dict(round=ROUND, synthetic=True, source=SOURCE, release_id="test-release")
    return {"pillar_heatmap": pillar_heatmap(frames["scores"], frames["areas"], **common),
            "rank_interval": rank_interval_chart(frames["ranks"], frames["areas"], **common),
            "stages_by_region": stages_by_region_chart(frames["counts"], frames["areas"], **common)}


def test_about_80_countries_fit_without_overlap(tmp_path, close_all):
    frames = many_countries()
    figures = draw_many(frames)
    heat = figures["pillar_heatmap"].chart_data
    assert heat.summary["countries"] == 78 and len(heat.summary["unscored"]) == 6
    assert len(figures["rank_interval"].chart_data.rows) == 78
    # the figure grows with its rows: 78 countries and 6 region headings at ROW_IN each
    assert figures["pillar_heatmap"].get_figheight() > 84 * 0.24
    # so tall a chart repeats its column headers under the heatmap and its rank axis above the plot
    assert words_of(figures["pillar_heatmap"]).count("Overall") == 2
    assert all(tick.label2.get_visible() for tick in figures["rank_interval"].axes[0].xaxis.get_major_ticks())
    for name, fig in figures.items():
        assert _overlaps(fig) == [], name
