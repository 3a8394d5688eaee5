"""The Kaplan-Meier side of Figure 1 and the Results: events, landmark rates, medians, log-rank and landmark tests."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test
from scipy import stats

from psmbook.analysis.km import CI_TRANSFORM, kaplan_meier, median_survival, survival_ci_at

#: The landmarks the paper reports, per endpoint: (key used in the published ids, months).
LANDMARKS: dict[str, tuple[tuple[str, float], ...]] = {
    "pfs": (("6m", 6.0), ("12m", 12.0)),
    "os": (("1y", 12.0), ("3y", 36.0)),
}


def event_table(df: pd.DataFrame, study, event: str) -> pd.DataFrame:
    """Patients, events and the percentage with an event, per arm (treated first)."""
    rows = []
    for code in study.treatment.arms:
        part = df[df[study.treatment.column] == code]
        n, events = len(part), int(part[event].sum())
        rows.append({"arm": code, "n": n, "events": events, "pct": 100 * events / n if n else np.nan})
    return pd.DataFrame(rows).set_index("arm")


def landmark_table(
    fits: Mapping[str, Mapping[str, KaplanMeierFitter]],
    endpoint: str,
    published: Optional[Mapping[str, Any]] = None,
    landmarks: Optional[Sequence[tuple[str, float]]] = None,
) -> pd.DataFrame:
    """Kaplan–Meier survival at the paper's landmarks, with 95% CIs, per period and arm.

    ``fits`` maps a period ("before", "after") to {arm: KaplanMeierFitter}. One row per period,
    landmark and arm: survival, CI limits and number at risk, in percent, under the id the paper's
    number has (``text.survival.<endpoint>.<period>.<landmark>.<arm>``) and, when ``published`` (id ->
    PublishedNumber) is given, with the paper's value beside it.
    """
    rows = []
    for period, by_arm in fits.items():
        for key, months in landmarks or LANDMARKS[endpoint]:
            for arm, fit in by_arm.items():
                s, low, high = survival_ci_at(fit, months)
                at_risk = int((fit.durations > months).sum())
                id_ = f"text.survival.{endpoint}.{period}.{key}.{arm}"
                entry = (published or {}).get(id_)
                rows.append(
                    {
                        "endpoint": endpoint,
                        "period": period,
                        "landmark": key,
                        "months": months,
                        "arm": arm,
                        "survival": s,
                        "ci_low": low,
                        "ci_high": high,
                        "at_risk": at_risk,
                        "id": id_,
                        "published": np.nan if entry is None else float(entry.value),
                    }
                )
    table = pd.DataFrame(rows)
    table["difference"] = table["survival"] - table["published"]
    return table


def median_table(fits: Mapping[str, KaplanMeierFitter], transform: str = CI_TRANSFORM) -> pd.DataFrame:
    """Median survival per arm with its 95% CI (months; inf when a curve does not reach 50%).

    R survfit's convention (:func:`psmbook.analysis.km.median_survival`): the first time the curve is at
    or below 50%, the midpoint where it sits exactly at 50% over an interval; the CI is where the
    pointwise ``transform`` band's limits cross 50% (Brookmeyer–Crowley).
    """
    rows = []
    for arm, fit in fits.items():
        median, low, high = median_survival(fit, transform)
        rows.append(
            {
                "arm": arm,
                "n": int(len(fit.durations)),
                "events": int(fit.event_observed.sum()),
                "median": median,
                "ci_low": low,
                "ci_high": high,
            }
        )
    return pd.DataFrame(rows).set_index("arm")


@dataclass(frozen=True)
class LogrankResult:
    """A two-arm log-rank test: chi-square statistic (1 df) and p-value."""

    chi2: float
    p: float


def logrank(df: pd.DataFrame, study, time: str, event: str) -> LogrankResult:
    """Log-rank test of the two arms' survival curves (Mantel's version, hypergeometric variance).

    It treats the patients as independent: in a matched cohort it ignores the pairs (as the paper's
    Figure 1 presumably did); :func:`pair_aware_cox` gives the pair-aware comparison.
    """
    arm = df[study.treatment.column]
    a, b = df[arm == study.treatment.treated], df[arm == study.treatment.control]
    result = logrank_test(a[time], b[time], a[event], b[event])
    return LogrankResult(float(result.test_statistic), float(result.p_value))


def _cloglog_p(s_a: float, var_log_a: float, s_b: float, var_log_b: float) -> float:
    if not (0 < s_a < 1 and 0 < s_b < 1):
        return float("nan")
    z = (math.log(-math.log(s_a)) - math.log(-math.log(s_b))) / math.sqrt(
        var_log_a / math.log(s_a) ** 2 + var_log_b / math.log(s_b) ** 2
    )
    return float(2 * stats.norm.sf(abs(z)))


def landmark_test(fit_a: KaplanMeierFitter, fit_b: KaplanMeierFitter, months: float) -> float:
    """p-value of a difference in Kaplan–Meier survival at one time (Klein et al. 2007).

    The two survival probabilities are compared on the log(-log) scale with Greenwood's variances,
    the test Klein and colleagues recommend for "survival at t years". (lifelines'
    ``survival_difference_at_fixed_point_in_time_test`` computes the same statistic but interpolates
    Greenwood's sum linearly between event times; here it is a step function, like the curve.)
    """
    values = []
    for fit in (fit_a, fit_b):
        km = kaplan_meier(fit)
        row = km.loc[km.index <= months]
        values += [float(row["survival"].iloc[-1]), float(row["std_err"].iloc[-1]) ** 2] if len(row) else [1.0, 0.0]
    return _cloglog_p(*values)


def landmark_test_rates(s_a: float, n_a: int, s_b: float, n_b: int) -> float:
    """The same test from two printed rates (proportions) and arm sizes, assuming nobody was censored
    before the landmark: Greenwood's variance of log S is then (1 - S) / (n S)."""
    return _cloglog_p(s_a, (1 - s_a) / (n_a * s_a), s_b, (1 - s_b) / (n_b * s_b))
