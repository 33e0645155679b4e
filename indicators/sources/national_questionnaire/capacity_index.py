"""The COP national capacity index (NC.11): pillar scores, an overall score, and how much they depend on the
choices made to build them.

The input is one row per country, round and scored question of the COP national questionnaire (`item_scores`,
see the Q14 contract): the question's GCA pillar, whether it got a substantive answer, a "don't know" or was left
blank, and for a substantive answer its score in [0, 1] (yes 1, partial 0.5, no 0; a level 1-5 as (k-1)/4; ...).

Pillar scores. Every answer scale is mapped onto [0, 1] by its own fixed goalposts when the item is scored (no
min-max over the countries of a round), so a score means the same in every round and rounds can be compared.
A pillar's score is 100 times the mean of its item scores, each item weighing the same, after one of three
treatments of the items without a substantive answer:
  - dont_know_as_no (the default): "don't know" scores 0, because the national authority that filled in the form
    knows of no such capacity; a blank item is left out of the mean;
  - excluded: "don't know" and blank items are both left out;
  - as_no: both score 0.
A pillar has a score only when at least `min_answered_share` (default 0.6) of its items were answered or
answered "don't know" (the data-availability threshold); below it, and when no item is left after the treatment
(every item "don't know" under "excluded"), the pillar's score is missing.

Overall score. The five pillar scores are combined with weights (equal by default, configurable; normalised to
sum 1) either arithmetically, sum(w_p s_p), or geometrically, prod((1 + s_p)^w_p) - 1. The geometric mean is
taken of 1 + score so that one pillar at 0 does not zero the whole score; it stays in [0, 100] and rewards
balanced capacity over the same average made of strong and weak pillars. A country gets an overall score only
when all five pillars have one.

Uncertainty and sensitivity (after the JRC COIN audits of composite indicators; Saisana, Saltelli & Tarantola
2005). The Monte Carlo draws D configurations at once: weights from a Dirichlet distribution centred on the
nominal weights (parameters concentration x 5 x the normalised nominal weights: the larger the concentration,
the closer the draws stay to the nominal weights), one aggregation and one missing-answer treatment per draw,
each uniformly among those configured. Draw 0 is the nominal configuration itself. The pillar scores of each
treatment are computed once, and the D x countries overall scores with array operations. In each draw the
countries that have a nominal overall score and a score in that draw are ranked (1 = highest, ties share the
lowest rank); per country the median rank and the 5th and 95th percentiles of its rank over the draws where it
was ranked show how far its position depends on the choices: a narrow interval is a robust rank.

Statistical coherence. Cronbach's alpha per pillar and round, over the countries that gave a substantive answer
to every item of the pillar, measures whether the pillar's items move together (k/(k-1) (1 - sum of item
variances / variance of the item sum)); the Pearson correlation of each pillar score with the overall score,
over the countries with an overall score, shows whether every pillar is reflected in the overall score.

Plain numpy and pandas: the caller reads the questionnaire and writes the release tables.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from indicators.errors import ConfigError
from schemas.national_questionnaire import GCA_PILLARS

AGGREGATIONS = ("arithmetic", "geometric")
TREATMENTS = ("dont_know_as_no", "excluded", "as_no")
STATUSES = ("answered", "dont_know", "unanswered")
OVERALL = "overall"
MIN_COUNTRIES = 3  # fewer countries give no alpha and no correlation: two points always correlate perfectly

INDEX_KEYS = ("weights", "aggregation", "missing", "min_answered_share", "monte_carlo")
MONTE_CARLO_KEYS = ("draws", "seed", "concentration", "aggregations", "treatments")
ITEM_COLUMNS = ("country", "round", "pillar", "item", "status", "score")
SCORE_COLUMNS = ["REF_AREA", "TIME_PERIOD", "PILLAR", "SCORE", "ITEMS", "ITEMS_ANSWERED", "ITEMS_DONT_KNOW"]
RANK_COLUMNS = ["REF_AREA", "TIME_PERIOD", "SCORE", "RANK", "RANK_MEDIAN", "RANK_P05", "RANK_P95", "SCORE_P05",
                "SCORE_P95", "COUNTRIES_RANKED", "DRAWS"]
AUDIT_COLUMNS = ["TIME_PERIOD", "PILLAR", "ITEMS", "COUNTRIES", "CRONBACH_ALPHA", "CORR_WITH_OVERALL"]
# an availability share computed as answered / items is compared with the threshold with this slack, so that
# 3 of 5 items meets 0.6 whatever the rounding of either side
SHARE_TOLERANCE = 1e-12


# ------------------------------------------------------------------------------------------ configuration
def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


def _is_whole(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _positive_number(value: object, key: str, where: str) -> float:
    if not _is_number(value) or float(value) <= 0:
        raise ConfigError(f"{where}: index.{key} must be a positive number, got {value!r}")
    return float(value)


def _one_of(value: object, allowed: tuple[str, ...], key: str, where: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ConfigError(f"{where}: index.{key} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _names(value: object, allowed: tuple[str, ...], key: str, where: str) -> tuple[str, ...]:
    """A non-empty list of distinct names out of `allowed` (a YAML list; a tuple when built in code)."""
    rule = f"{where}: index.{key} must be a list of one or more of {', '.join(allowed)}"
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(f"{rule}, got {value!r}")
    for name in value:
        if not isinstance(name, str) or name not in allowed:
            raise ConfigError(f"{rule}, got {name!r} in the list")
    if len(set(value)) != len(value):
        raise ConfigError(f"{rule}, each named once, got {list(value)!r}")
    return tuple(value)


def _mapping(value: object, key: str, where: str, keys: tuple[str, ...]) -> Mapping:
    """A YAML mapping (an empty `key:` counts as not given), with no key outside `keys` when they are given."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: {key} must be a mapping of settings ({', '.join(keys)}), got {value!r}")
    for name in value:
        if keys and name not in keys:
            raise ConfigError(f"{where}: {key}.{name} is not a setting of {key} (the settings: {', '.join(keys)})")
    return value


def _monte_carlo_settings(values: Mapping, where: str) -> dict:
    """The checked Monte Carlo settings of `values`; a setting not given keeps its default."""
    defaults = MonteCarloConfig.__dataclass_fields__
    out = {name: values.get(name, defaults[name].default) for name in MONTE_CARLO_KEYS}
    if not _is_whole(out["draws"]) or out["draws"] < 1:
        raise ConfigError(f"{where}: index.monte_carlo.draws must be a whole number of at least 1, "
                          f"got {out['draws']!r}")
    if not _is_whole(out["seed"]) or out["seed"] < 0:
        raise ConfigError(f"{where}: index.monte_carlo.seed must be a whole number of at least 0, "
                          f"got {out['seed']!r}")
    out["draws"], out["seed"] = int(out["draws"]), int(out["seed"])
    out["concentration"] = _positive_number(out["concentration"], "monte_carlo.concentration", where)
    out["aggregations"] = _names(out["aggregations"], AGGREGATIONS, "monte_carlo.aggregations", where)
    out["treatments"] = _names(out["treatments"], TREATMENTS, "monte_carlo.treatments", where)
    return out


def _index_settings(values: Mapping, where: str) -> dict:
    """The checked index settings of `values` (weights may name only some pillars: the others weigh 1)."""
    weights = dict.fromkeys(GCA_PILLARS, 1.0)
    for pillar, weight in _mapping(values.get("weights"), "index.weights", where, ()).items():
        if pillar not in GCA_PILLARS:
            raise ConfigError(f"{where}: index.weights.{pillar} is not a GCA pillar (the pillars: "
                              f"{', '.join(GCA_PILLARS)})")
        weights[pillar] = _positive_number(weight, f"weights.{pillar}", where)
    share = values.get("min_answered_share", 0.6)
    if not _is_number(share) or not 0 < float(share) <= 1:
        raise ConfigError(f"{where}: index.min_answered_share must be a number greater than 0 and at most 1 "
                          f"(a share of a pillar's items), got {share!r}")
    monte_carlo = values.get("monte_carlo")
    if not isinstance(monte_carlo, MonteCarloConfig):
        settings = _mapping(monte_carlo, "index.monte_carlo", where, MONTE_CARLO_KEYS)
        monte_carlo = MonteCarloConfig(**_monte_carlo_settings(settings, where))
    return {"weights": weights,
            "aggregation": _one_of(values.get("aggregation", "arithmetic"), AGGREGATIONS, "aggregation", where),
            "missing": _one_of(values.get("missing", "dont_know_as_no"), TREATMENTS, "missing", where),
            "min_answered_share": float(share), "monte_carlo": monte_carlo}


@dataclass(frozen=True)
class MonteCarloConfig:
    """The uncertainty analysis: `draws` configurations (draw 0 the nominal one) from Generator(`seed`), weights
    ~ Dirichlet(concentration x 5 x nominal normalised weights), aggregation and treatment uniform over the
    lists."""

    draws: int = 10_000
    seed: int = 2009
    concentration: float = 20.0
    aggregations: tuple[str, ...] = AGGREGATIONS
    treatments: tuple[str, ...] = TREATMENTS

    def __post_init__(self) -> None:
        # built in code rather than from YAML: the same checks, the same messages with a generic place
        checked = _monte_carlo_settings({name: getattr(self, name) for name in MONTE_CARLO_KEYS}, "IndexConfig")
        for name, value in checked.items():
            object.__setattr__(self, name, value)


@dataclass(frozen=True)
class IndexConfig:
    """How NC.11 is built: the `index:` block of the questionnaire YAML (every key optional)."""

    weights: dict[str, float] = field(default_factory=lambda: dict.fromkeys(GCA_PILLARS, 1.0))
    aggregation: str = "arithmetic"
    missing: str = "dont_know_as_no"
    min_answered_share: float = 0.6
    monte_carlo: MonteCarloConfig = field(default_factory=MonteCarloConfig)

    def __post_init__(self) -> None:
        checked = _index_settings({name: getattr(self, name) for name in INDEX_KEYS}, "IndexConfig")
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_mapping(cls, d: Mapping | None, where: str) -> "IndexConfig":
        """The configuration of an `index:` block (None or empty: the defaults); `where` names the YAML file in
        the messages of the ConfigError raised for an unknown key or a value that breaks a rule."""
        values = _mapping(d, "index", where, INDEX_KEYS)
        return cls(**_index_settings(values, where))

    def normalised_weights(self) -> np.ndarray:
        """The pillar weights in GCA_PILLARS order, summing to 1."""
        weights = np.array([self.weights[p] for p in GCA_PILLARS], dtype=float)
        return weights / weights.sum()


# ------------------------------------------------------------------------------------------ pillar scores
def _check_item_scores(item_scores: pd.DataFrame) -> None:
    """The contract of `item_scores`; a break here is a bug of the code that scored the items, not of a file."""
    missing = [c for c in ITEM_COLUMNS if c not in item_scores.columns]
    if missing:
        raise ValueError(f"item_scores lacks the column(s) {', '.join(missing)}")
    bad_status = sorted(set(item_scores["status"]) - set(STATUSES), key=str)
    if bad_status:
        raise ValueError(f"item_scores: status must be one of {', '.join(STATUSES)}, got {bad_status}")
    bad_pillar = sorted(set(item_scores["pillar"]) - set(GCA_PILLARS), key=str)
    if bad_pillar:
        raise ValueError(f"item_scores: pillar must be one of {', '.join(GCA_PILLARS)}, got {bad_pillar}")
    answered = item_scores.loc[item_scores["status"] == "answered", "score"]
    if not answered.between(0, 1).all():  # NaN fails between as well
        raise ValueError("item_scores: an answered item needs a score in [0, 1], got "
                         f"{answered[~answered.between(0, 1)].head(3).tolist()}")
    duplicated = item_scores.duplicated(["country", "round", "item"])
    if duplicated.any():
        first = item_scores.loc[duplicated, ["country", "round", "item"]].iloc[0].tolist()
        raise ValueError(f"item_scores: an item appears twice for one country and round, e.g. {first}")


def _treated_values(item_scores: pd.DataFrame, treatment: str) -> pd.Series:
    """Each item's value in the pillar mean under `treatment`: its score, 0, or NaN (left out)."""
    status = item_scores["status"]
    value = item_scores["score"].astype(float).where(status == "answered")
    if treatment in ("dont_know_as_no", "as_no"):
        value = value.mask(status == "dont_know", 0.0)
    if treatment == "as_no":
        value = value.mask(status == "unanswered", 0.0)
    return value


def pillar_scores(item_scores: pd.DataFrame, config: IndexConfig, missing: str | None = None) -> pd.DataFrame:
    """One row per country, round and GCA pillar: score (0-100, NaN below the availability threshold or when no
    item is left after the treatment), items, answered (substantive answers), dont_know, available (the
    threshold is met). `missing` overrides the configured treatment of "don't know" and blank items."""
    treatment = _one_of(config.missing if missing is None else missing, TREATMENTS, "missing", "pillar_scores")
    _check_item_scores(item_scores)
    status = item_scores["status"]
    rows = pd.DataFrame({"country": item_scores["country"].astype(str),
                         "round": item_scores["round"].astype("int64"),
                         "pillar": item_scores["pillar"].astype(str),
                         "value": _treated_values(item_scores, treatment),
                         "answered": (status == "answered").astype("int64"),
                         "dont_know": (status == "dont_know").astype("int64")})
    keys = ["country", "round", "pillar"]
    counts = rows.groupby(keys).agg(items=("value", "size"), answered=("answered", "sum"),
                                    dont_know=("dont_know", "sum"), kept=("value", "count"),
                                    mean=("value", "mean"))
    # every responding country gets all five pillars, even one without items in a round (then no score)
    pairs = rows[["country", "round"]].drop_duplicates()
    grid = pairs.merge(pd.DataFrame({"pillar": list(GCA_PILLARS)}), how="cross")
    out = grid.merge(counts.reset_index(), on=keys, how="left")
    for column in ("items", "answered", "dont_know", "kept"):
        out[column] = out[column].fillna(0).astype("int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (out["answered"] + out["dont_know"]) / out["items"]
    out["available"] = (out["items"] > 0) & (share >= config.min_answered_share - SHARE_TOLERANCE)
    out["score"] = (100.0 * out["mean"]).where(out["available"] & (out["kept"] > 0))
    out["pillar_order"] = out["pillar"].map({p: i for i, p in enumerate(GCA_PILLARS)})
    out = out.sort_values(["round", "country", "pillar_order"], ignore_index=True)
    return out[["country", "round", "pillar", "score", "items", "answered", "dont_know", "available"]]


# ----------------------------------------------------------------------------------------- overall score
def _overall_draws(scores: np.ndarray, treatment: np.ndarray, weights: np.ndarray,
                   geometric: np.ndarray) -> np.ndarray:
    """Overall scores (D x C) of D configurations: `scores` T x C x P pillar scores per treatment, `treatment`
    (D,) the treatment index of each draw, `weights` D x P normalised weights, `geometric` (D,) booleans.

    The one place an overall score is computed, for the nominal index (D = 1) and for the Monte Carlo alike, so
    that draw 0 reproduces the nominal scores exactly. Pillars are added one at a time (the same order of
    floating-point sums whatever D), and a missing pillar makes the overall score NaN."""
    draws, countries = treatment.shape[0], scores.shape[1]
    out = np.empty((draws, countries))
    logs = np.log1p(scores) if geometric.any() else None
    for rows, is_geometric in ((np.flatnonzero(~geometric), False), (np.flatnonzero(geometric), True)):
        if rows.size == 0:
            continue
        source = logs if is_geometric else scores
        chosen = treatment[rows]
        total = source[chosen, :, 0] * weights[rows, 0, None]
        for p in range(1, scores.shape[2]):
            total += source[chosen, :, p] * weights[rows, p, None]
        # geometric: exp(sum w log(1 + s)) - 1 = prod (1 + s)^w - 1; clipped against rounding past 0 or 100
        out[rows] = np.clip(np.expm1(total), 0.0, 100.0) if is_geometric else total
    return out


def _pillar_matrix(pillar_frame: pd.DataFrame) -> pd.DataFrame:
    """Pillar scores as one row per (round, country), one column per pillar in GCA_PILLARS order."""
    wide = pillar_frame.pivot(index=["round", "country"], columns="pillar", values="score")
    return wide.reindex(columns=list(GCA_PILLARS)).sort_index()


def overall_scores(pillar_frame: pd.DataFrame, config: IndexConfig, aggregation: str | None = None) -> pd.DataFrame:
    """One row per country and round of `pillar_frame` (pillar_scores' layout): overall, the weighted arithmetic
    mean of the five pillar scores or the shifted geometric one (`aggregation` overrides the configured one);
    NaN unless all five pillars have a score."""
    method = _one_of(config.aggregation if aggregation is None else aggregation, AGGREGATIONS, "aggregation",
                     "overall_scores")
    wide = _pillar_matrix(pillar_frame)
    overall = _overall_draws(wide.to_numpy(dtype=float)[None], np.zeros(1, dtype=np.intp),
                             config.normalised_weights()[None], np.array([method == "geometric"]))[0]
    out = wide.index.to_frame(index=False)[["country", "round"]]
    out["overall"] = overall
    return out


def capacity_scores(item_scores: pd.DataFrame, config: IndexConfig) -> pd.DataFrame:
    """The release table capacity_scores: per country and round, the five pillars and 'overall' under the
    configured treatment and aggregation; the overall row counts the items of all five pillars."""
    pillars = pillar_scores(item_scores, config)
    overall = overall_scores(pillars, config)
    totals = pillars.groupby(["country", "round"], as_index=False)[["items", "answered", "dont_know"]].sum()
    overall_rows = overall.merge(totals, on=["country", "round"]).rename(columns={"overall": "score"})
    overall_rows["pillar"] = OVERALL
    long = pd.concat([pillars.drop(columns="available"), overall_rows], ignore_index=True)
    order = {p: i for i, p in enumerate((*GCA_PILLARS, OVERALL))}
    long = long.iloc[np.lexsort((long["pillar"].map(order), long["round"], long["country"]))]
    long = long.reset_index(drop=True)
    out = long.rename(columns={"country": "REF_AREA", "round": "TIME_PERIOD", "pillar": "PILLAR", "score": "SCORE",
                               "items": "ITEMS", "answered": "ITEMS_ANSWERED", "dont_know": "ITEMS_DONT_KNOW"})
    for column in ("TIME_PERIOD", "ITEMS", "ITEMS_ANSWERED", "ITEMS_DONT_KNOW"):
        out[column] = out[column].astype("int64")
    return out[SCORE_COLUMNS]


# -------------------------------------------------------------------------------------------- Monte Carlo
def ranks_within_draws(scores: np.ndarray) -> np.ndarray:
    """Ranks (D x C) of the countries in each row of `scores` (D x C): 1 = highest score, tied scores share the
    lowest rank of their group ("min"), NaN (no score) stays NaN and is not counted."""
    scores = np.asarray(scores, dtype=float)
    missing = np.isnan(scores)
    key = np.where(missing, np.inf, -scores)  # ascending key = descending score, the unscored last
    order = np.argsort(key, axis=1, kind="stable")
    ordered = np.take_along_axis(key, order, axis=1)
    starts_group = np.ones(ordered.shape, dtype=bool)
    starts_group[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    position = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    first_of_group = np.maximum.accumulate(np.where(starts_group, position, 0), axis=1)
    ranks = np.empty(scores.shape)
    np.put_along_axis(ranks, order, first_of_group + 1.0, axis=1)
    ranks[missing] = np.nan
    return ranks


@dataclass(frozen=True)
class RoundDraws:
    """The Monte Carlo of one round: `scores` D x C overall scores of `countries` (NaN where a draw gives none),
    `ranks` D x C among the countries with a nominal score and a score in the draw (NaN otherwise)."""

    round: int
    countries: tuple[str, ...]
    scores: np.ndarray
    ranks: np.ndarray


@dataclass(frozen=True)
class MonteCarloDraws:
    """The D configurations (row 0 nominal) shared by every round, and the scores and ranks they give."""

    weights: np.ndarray  # D x P normalised weights, GCA_PILLARS order
    treatment: np.ndarray  # (D,) treatment names
    aggregation: np.ndarray  # (D,) aggregation names
    rounds: tuple[RoundDraws, ...]


def _draw_configurations(config: IndexConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All D weight vectors, treatments and aggregations at once from Generator(seed); draw 0 set nominal."""
    mc = config.monte_carlo
    rng = np.random.default_rng(mc.seed)
    nominal = config.normalised_weights()
    weights = rng.dirichlet(mc.concentration * len(GCA_PILLARS) * nominal, size=mc.draws)
    treatment = np.asarray(mc.treatments, dtype=object)[rng.integers(len(mc.treatments), size=mc.draws)]
    aggregation = np.asarray(mc.aggregations, dtype=object)[rng.integers(len(mc.aggregations), size=mc.draws)]
    weights[0], treatment[0], aggregation[0] = nominal, config.missing, config.aggregation
    return weights, treatment, aggregation


def monte_carlo_draws(item_scores: pd.DataFrame, config: IndexConfig) -> MonteCarloDraws:
    """The overall score and rank of every country in every draw of the Monte Carlo, round by round."""
    weights, treatment, aggregation = _draw_configurations(config)
    names = list(dict.fromkeys([config.missing, *config.monte_carlo.treatments]))
    # pillar scores of each treatment computed once: T tables of (round, country) x pillar
    tables = [_pillar_matrix(pillar_scores(item_scores, config, missing=name)) for name in names]
    treatment_index = np.array([names.index(t) for t in treatment], dtype=np.intp)
    geometric = aggregation == "geometric"
    rounds = []
    for round_ in sorted(tables[0].index.get_level_values("round").unique()):
        countries = tuple(tables[0].loc[round_].index)
        stacked = np.stack([t.loc[round_].reindex(countries).to_numpy(dtype=float) for t in tables])  # T x C x P
        scores = _overall_draws(stacked, treatment_index, weights, geometric)
        rankable = np.where(np.isnan(scores[0])[None, :], np.nan, scores)
        rounds.append(RoundDraws(int(round_), countries, scores, ranks_within_draws(rankable)))
    return MonteCarloDraws(weights, treatment, aggregation, tuple(rounds))


def _percentiles(draws: np.ndarray, q: list[float]) -> np.ndarray:
    """Percentiles `q` of each column over the draws, leaving NaN out (numpy's nanpercentile goes column by
    column in Python as soon as one NaN is present, so it is used only then; the values are the same)."""
    if np.isnan(draws).any():
        return np.nanpercentile(draws, q, axis=0)
    return np.percentile(draws, q, axis=0)


def monte_carlo_ranks(item_scores: pd.DataFrame, config: IndexConfig) -> pd.DataFrame:
    """The release table capacity_ranks: per country with a nominal overall score, its score and rank, the
    median and 5th/95th percentiles (numpy's linear interpolation) of its rank over the draws that ranked it,
    the 5th/95th percentiles of its score over the same draws, the number of countries ranked nominally in the
    round and DRAWS, the number of draws that ranked the country (the configured number unless a treatment left
    one of its pillars without items)."""
    frames = []
    for one in monte_carlo_draws(item_scores, config).rounds:
        ranked = ~np.isnan(one.ranks[0])
        if not ranked.any():
            continue
        ranks = one.ranks[:, ranked]
        scores = np.where(np.isnan(ranks), np.nan, one.scores[:, ranked])
        rank_p05, rank_median, rank_p95 = _percentiles(ranks, [5, 50, 95])
        score_p05, score_p95 = _percentiles(scores, [5, 95])
        frames.append(pd.DataFrame({
            "REF_AREA": np.asarray(one.countries, dtype=object)[ranked], "TIME_PERIOD": one.round,
            "SCORE": scores[0], "RANK": ranks[0].astype("int64"), "RANK_MEDIAN": rank_median,
            "RANK_P05": rank_p05, "RANK_P95": rank_p95, "SCORE_P05": score_p05, "SCORE_P95": score_p95,
            "COUNTRIES_RANKED": int(ranked.sum()), "DRAWS": (~np.isnan(ranks)).sum(axis=0).astype("int64")}))
    if not frames:
        return pd.DataFrame(columns=RANK_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    out = out.astype({"TIME_PERIOD": "int64", "COUNTRIES_RANKED": "int64"})
    return out.sort_values(["TIME_PERIOD", "RANK", "REF_AREA"], ignore_index=True)[RANK_COLUMNS]


# -------------------------------------------------------------------------------------------------- audit
def cronbach_alpha(items: np.ndarray) -> float:
    """Cronbach's alpha of a countries x items matrix of scores (no missing values): k/(k-1) (1 - sum of the
    item variances / variance of the row sums), sample variances (ddof=1); NaN with fewer than 3 countries or
    2 items, or when the row sums do not vary."""
    items = np.asarray(items, dtype=float)
    countries, k = items.shape
    if countries < MIN_COUNTRIES or k < 2:
        return float("nan")
    total_variance = items.sum(axis=1).var(ddof=1)
    if total_variance == 0:
        return float("nan")
    return float(k / (k - 1) * (1 - items.var(axis=0, ddof=1).sum() / total_variance))


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's r; NaN with fewer than 3 pairs or when either side does not vary."""
    if x.size < MIN_COUNTRIES or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def pillar_audit(item_scores: pd.DataFrame, config: IndexConfig) -> pd.DataFrame:
    """The release table capacity_audit: per round and pillar, ITEMS (the pillar's items in the round),
    COUNTRIES (those with a substantive answer to every one of them, over which CRONBACH_ALPHA is computed), and
    CORR_WITH_OVERALL, the Pearson correlation of the nominal pillar score with the nominal overall score over
    the countries that have an overall score."""
    pillars = pillar_scores(item_scores, config)
    wide = _pillar_matrix(pillars)
    overall = overall_scores(pillars, config).set_index(["round", "country"])["overall"].reindex(wide.index)
    rows = []
    for round_ in sorted(wide.index.get_level_values("round").unique()):
        in_round = item_scores[item_scores["round"] == round_]
        scored = overall.loc[round_].notna().to_numpy()
        for pillar in GCA_PILLARS:
            answers = in_round[in_round["pillar"] == pillar]
            status = answers.pivot(index="country", columns="item", values="status")
            complete = (status == "answered").all(axis=1)
            matrix = answers.pivot(index="country", columns="item", values="score").loc[complete]
            rows.append({"TIME_PERIOD": int(round_), "PILLAR": pillar, "ITEMS": int(status.shape[1]),
                         "COUNTRIES": int(complete.sum()), "CRONBACH_ALPHA": cronbach_alpha(matrix.to_numpy()),
                         "CORR_WITH_OVERALL": _correlation(wide.loc[round_, pillar].to_numpy()[scored],
                                                           overall.loc[round_].to_numpy()[scored])})
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS).astype({"TIME_PERIOD": "int64", "ITEMS": "int64",
                                                             "COUNTRIES": "int64"})
