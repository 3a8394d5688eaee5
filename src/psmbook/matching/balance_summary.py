"""Covariate balance as R's MatchIt ``summary(m, un = TRUE)`` and cobalt's ``bal.tab()`` report it.

For every covariate row (each level of a categorical covariate as a 0/1 indicator, each continuous
covariate as its numbers), in all patients and in the matched sample (the matching weights, zero for
the unmatched), as MatchIt 4.5.1 computes them (``bal1var``, ``wvar``, ``qqsum`` in its sources):

* the means per arm (weighted by the matching weights after matching);
* the standardised mean difference for the ATT: the difference in means over the standard deviation
  of the **treated arm of all patients**, the same before and after matching; for a 0/1 row that SD is
  sqrt(p(1 - p)), without the n - 1 correction (when it is zero, MatchIt falls back on the pooled SD);
* the variance ratio treated / control (continuous rows only; weighted "reliability" variances);
* the mean and the largest distance between the arms' empirical CDFs (eCDF mean and max; the max is
  the Kolmogorov-Smirnov statistic), taken at every distinct value in all patients; for a 0/1 row
  both are the absolute difference in proportions.

Beside them, the two other conventions a reader meets: the SMD over the pooled SD of the unmatched
arms (:func:`psmbook.matching.balance.balance_table`, Austin 2009), and the raw difference in
proportions that cobalt reports for binary covariates by default. Balance is judged against
thresholds, |SMD| < 0.1 and a variance ratio within 1/2 to 2, as cobalt's ``thresholds = c(m = .1,
v = 2)`` does.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from psmbook.matching import balance

SMD_THRESHOLD = balance.THRESHOLD
VARIANCE_RATIO_THRESHOLD = 2.0
#: The statistics of one sample, in MatchIt's order, and MatchIt's names for them.
STATS = ("mean_treated", "mean_control", "smd", "variance_ratio", "ecdf_mean", "ecdf_max")
MATCHIT_NAMES = {
    "mean_treated": "Means Treated",
    "mean_control": "Means Control",
    "smd": "Std. Mean Diff.",
    "variance_ratio": "Var. Ratio",
    "ecdf_mean": "eCDF Mean",
    "ecdf_max": "eCDF Max",
}
_TINY = float(np.sqrt(np.finfo(float).eps))  # MatchIt's sqrt(.Machine$double.eps)


def covariate_matrix(data: pd.DataFrame, covariates: Mapping[str, Sequence | None]) -> pd.DataFrame:
    """One column per balance row: ``column=level`` (0/1) for every level of a categorical covariate
    (``covariates[column]`` = its level codes), the numbers themselves for a continuous one (None).

    ValueError naming the column and the first patients when a continuous covariate is not numeric
    or is missing, or a categorical one holds a value that is none of its levels.
    """
    columns: dict[str, pd.Series] = {}
    for column, levels in covariates.items():
        if column not in data.columns:
            raise KeyError(f"covariate {column!r} is not a column of the data")
        series = data[column]
        if levels is None:
            if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
                raise ValueError(f"continuous covariate {column!r} must hold numbers, found {series.dtype} values")
            _refuse(series.isna(), series, f"continuous covariate {column!r} is missing")
            columns[column] = series.astype(float)
            continue
        _refuse(
            ~series.isin(list(levels)), series, f"covariate {column!r} holds values outside its levels {list(levels)}"
        )
        for level in levels:
            columns[f"{column}={level}"] = (series == level).astype(float)
    return pd.DataFrame(columns, index=data.index)


def _refuse(bad: pd.Series, series: pd.Series, what: str) -> None:
    if bad.any():
        shown = ", ".join(f"{i} ({series.loc[i]!r})" for i in series.index[bad.to_numpy()][:5])
        raise ValueError(f"{what}: {int(bad.sum())} patient(s), e.g. {shown}")


def is_binary(x: np.ndarray) -> bool:
    """MatchIt's test of a 0/1 row: every value is 0 or 1."""
    return bool(np.all((x == 0) | (x == 1)))


def weighted_variance(x: np.ndarray, w: np.ndarray, binary: bool) -> float:
    """MatchIt's ``wvar``: p(1 - p) for a 0/1 row, else the reliability-weights variance
    sum(w (x - m)^2) / (1 - sum(w^2)) with w scaled to sum to one (the n - 1 variance for equal weights)."""
    w = w / w.sum()
    mean = float(np.sum(w * x))
    if binary:
        return mean * (1 - mean)
    return float(np.sum(w * (x - mean) ** 2) / (1 - np.sum(w**2)))


def _pooled_sd_fallback(x: np.ndarray, treated: np.ndarray, binary: bool) -> float:
    """MatchIt's ``pooled_sd`` (contribution proportional, unweighted), used when the treated SD is zero."""
    n = len(x)
    if binary:
        variance = sum(x[g].sum() * (1 - x[g].sum() / g.sum()) / n for g in (treated, ~treated))
    else:
        centred = np.concatenate([x[g] - x[g].mean() for g in (treated, ~treated)])
        variance = np.sum(centred**2) / (n - 2)
    return float(np.sqrt(variance))


def ecdf_distances(x: np.ndarray, treated: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Mean and largest |F_treated - F_control| of the weighted empirical CDFs, taken at every distinct
    value of ``x`` (all patients, weight zero included), as MatchIt's ``qqsum(standardize = TRUE)``."""
    w = w.astype(float).copy()
    for group in (treated, ~treated):
        w[group] = w[group] / w[group].sum()
    order = np.argsort(x, kind="stable")
    x_sorted, w_sorted, t_sorted = x[order], w[order], treated[order]
    signed = np.where(t_sorted == t_sorted[0], -w_sorted, w_sorted)
    last_of_value = np.append(np.diff(x_sorted) != 0, True)
    gaps = np.abs(np.cumsum(signed))[last_of_value]
    return float(gaps.mean()), float(gaps.max())


def summarise(X: pd.DataFrame, treated: pd.Series | np.ndarray, weights=None) -> pd.DataFrame:
    """MatchIt's balance statistics (``STATS``) of every column of ``X`` in one sample: all patients
    (``weights`` None) or the matched sample (``weights``: matching weights for every patient, zero for
    the unmatched). The SMD's denominator is the SD of the treated arm of all patients (ATT)."""
    t = np.asarray(treated, dtype=bool)
    w_all = np.ones(len(X)) if weights is None else np.asarray(weights, dtype=float)
    if len(t) != len(X) or len(w_all) != len(X):
        raise ValueError(f"X has {len(X)} rows, treated {len(t)} and weights {len(w_all)}: one per patient")
    too_small = (w_all[t] != 0).sum() < 2 and (w_all[~t] != 0).sum() < 2
    rows = {}
    for column in X.columns:
        x = X[column].to_numpy(dtype=float)
        binary = is_binary(x)
        mean_t = float(np.average(x[t], weights=w_all[t]))
        mean_c = float(np.average(x[~t], weights=w_all[~t]))
        difference = mean_t - mean_c
        smd = difference
        if abs(difference) > _TINY:
            smd = np.nan
            if not too_small:
                sd = np.sqrt(weighted_variance(x[t], np.ones(t.sum()), binary))
                if not np.isfinite(sd) or sd < _TINY:
                    sd = _pooled_sd_fallback(x, t, binary)
                smd = difference / sd
        ratio, ecdf_mean, ecdf_max = np.nan, abs(difference), abs(difference)
        if not binary:
            ratio, ecdf_mean, ecdf_max = np.nan, np.nan, np.nan
            if not too_small:
                with np.errstate(divide="ignore", invalid="ignore"):  # R's: x / 0 is Inf, 0 / 0 NaN
                    ratio = np.float64(weighted_variance(x[t], w_all[t], False)) / weighted_variance(
                        x[~t], w_all[~t], False
                    )
                ecdf_mean, ecdf_max = ecdf_distances(x, t, w_all)
        rows[column] = (mean_t, mean_c, smd, ratio, ecdf_mean, ecdf_max)
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(STATS))


def before_after(X: pd.DataFrame, treated: pd.Series, weights: pd.Series) -> pd.DataFrame:
    """Balance of every row of ``X`` before matching (all patients) and after (``weights``, zero for
    the unmatched): MatchIt's statistics as ``<stat>_before`` / ``<stat>_after``, whether the row is
    0/1 (``binary``), the raw difference (``difference_*``, cobalt's default for binary rows), the SMD
    over the unmatched pooled SD (``smd_pooled_*``), and the verdicts: |SMD| < 0.1
    (``balanced_before``, ``balanced_after``) and, for continuous rows, a variance ratio within 1/2 to 2
    (``variance_balanced_*``)."""
    weights = pd.Series(np.asarray(weights, dtype=float), index=X.index)
    if (weights < 0).any() or not np.isfinite(weights).all():
        raise ValueError("matching weights must be finite and not negative (zero for the unmatched)")
    before = summarise(X, treated, None).add_suffix("_before")
    after = summarise(X, treated, weights).add_suffix("_after")
    table = pd.concat([before, after], axis=1)
    table.insert(0, "binary", [is_binary(X[c].to_numpy(dtype=float)) for c in X.columns])
    kept = weights.to_numpy() > 0
    pooled = balance.balance_table(X, treated, X.loc[kept], pd.Series(treated).loc[kept], weights_after=weights[kept])
    for when in ("before", "after"):
        table[f"difference_{when}"] = table[f"mean_treated_{when}"] - table[f"mean_control_{when}"]
        table[f"smd_pooled_{when}"] = pooled[f"smd_{when}"]
        table[f"balanced_{when}"] = table[f"smd_{when}"].abs() < SMD_THRESHOLD
        ratio = table[f"variance_ratio_{when}"]
        within = np.maximum(ratio, 1 / ratio) < VARIANCE_RATIO_THRESHOLD
        table[f"variance_balanced_{when}"] = within.astype(object).where(ratio.notna(), None)
    return table
