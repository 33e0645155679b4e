"""Reliability rules of a survey estimate (DESIGN.md 4.4), one place for the pipeline and `cop estimate`.

Thresholds per indicator (registry `reliability`, defaults min_n 25, flag_n 50, max_cv 33.3, flag_cv 16.6, CV in
percent). For each cell:
- suppressed (OBS_STATUS Q, CONF_STATUS N): fewer than min_n unweighted cases, or CV above max_cv;
- low reliability (OBS_STATUS U): fewer than flag_n cases, CV above flag_cv, an estimate of 0 % or 100 %, or
  fewer than 2 design degrees of freedom;
- otherwise normal (A).
COMMENT_OBS names every rule a cell meets ("n<25; cv>33.3%"), so a user sees why, not only that.
An undefined CV (an estimate of 0) triggers neither CV rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def coefficient_of_variation(se, estimate) -> np.ndarray:
    """CV in percent, 100 x SE / |estimate|; NaN for an estimate of 0 (the same formula as the release's,
    indicators.publication.cv_percent)."""
    se, estimate = np.asarray(se, dtype=float), np.asarray(estimate, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(estimate != 0, 100 * se / np.abs(estimate), np.nan)


def join_comments(*parts) -> np.ndarray:
    """Element-wise "a; b" of comment arrays, skipping empty ones."""
    out = np.asarray(parts[0], dtype=object)
    for part in parts[1:]:
        part = np.asarray(part, dtype=object)
        out = np.where((out != "") & (part != ""), out + "; " + part, out + part)
    return out


def reliability(n, cv_percent, df, boundary, thresholds: dict) -> tuple[np.ndarray, np.ndarray, pd.Series]:
    """(OBS_STATUS, CONF_STATUS, COMMENT_OBS) of survey cells from their unweighted n, CV in percent, design df
    and whether the estimate is 0 % or 100 %."""
    n = pd.Series(np.asarray(n, dtype=float))
    cv = pd.Series(np.round(np.asarray(cv_percent, dtype=float), 9))  # 33.3000000001 is 33.3
    df = pd.Series(np.asarray(df, dtype=float))
    boundary = pd.Series(np.asarray(boundary, dtype=bool))
    rules = {  # flag text -> (cells it applies to, suppresses)
        f"n<{thresholds['min_n']:g}": (n < thresholds["min_n"], True),
        f"cv>{thresholds['max_cv']:g}%": (cv > thresholds["max_cv"], True),
        f"n<{thresholds['flag_n']:g}": ((n < thresholds["flag_n"]) & ~(n < thresholds["min_n"]), False),
        f"cv>{thresholds['flag_cv']:g}%": ((cv > thresholds["flag_cv"]) & ~(cv > thresholds["max_cv"]), False),
        "p=0|100%": (boundary, False),
        "df<2": (df < 2, False),
    }
    primary = np.zeros(len(n), dtype=bool)
    caution = np.zeros(len(n), dtype=bool)
    comments = []
    for text, (mask, suppresses) in rules.items():
        mask = mask.fillna(False).to_numpy(dtype=bool)
        (primary if suppresses else caution)[:] |= mask
        comments.append(np.where(mask, text, ""))
    status = np.where(primary, "Q", np.where(caution, "U", "A"))
    conf = np.where(primary, "N", "F")
    return status, conf, pd.Series(join_comments(*comments), dtype=object)
