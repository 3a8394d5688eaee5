"""A continuous baseline characteristic in Table 1: its summary per arm and the test between the arms.

A covariate the study description declares ``kind: continuous`` takes one row of Table 1: the mean
and standard deviation per arm with Welch's t-test (unequal variances; ``summary: mean``, the default),
or the median and interquartile range with the Mann-Whitney U test (``summary: median``) for a skewed
measurement. Both tests take the arms as independent samples, as the categorical tests of Table 1 do.
The SD is the sample SD (n - 1); the quartiles are the linear-interpolation ones (R's type 7, numpy's
default). The p-values are scipy's: ``ttest_ind(equal_var=False)`` (R's ``t.test``) and
``mannwhitneyu`` two-sided with its default method (exact for small samples without ties, else the
normal approximation with tie and continuity corrections, as R's ``wilcox.test(correct = TRUE)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "TESTS",
    "TEST_LABELS",
    "TEST_PHRASES",
    "SUMMARY_LABELS",
    "STATS",
    "summary_stats",
    "compare_arms",
    "summary_text",
    "record",
]

#: The test of each summary.
TESTS: dict[str, str] = {"mean": "welch", "median": "mann_whitney"}
#: Names as a reader would say them.
TEST_LABELS: dict[str, str] = {"welch": "Welch's t-test", "mann_whitney": "Mann–Whitney U test"}
#: Each summary's test in a sentence.
TEST_PHRASES: dict[str, str] = {"mean": "Welch's t-test", "median": "the Mann–Whitney U test"}
#: How the cells of each summary read.
SUMMARY_LABELS: dict[str, str] = {"mean": "mean (SD)", "median": "median [IQR]"}
#: The statistics kept per arm (and written to the results as ``table1.<period>.<column>.<arm>.<stat>``).
STATS: tuple[str, ...] = ("n", "mean", "sd", "median", "q1", "q3")


def _values(values: Any) -> np.ndarray:
    x = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    return x[np.isfinite(x)]


def summary_stats(values: Any) -> dict[str, float]:
    """n (values present), mean, SD (n - 1), median and quartiles (type 7) of one arm's numbers;
    NaN where there are too few values (no SD below two)."""
    x = _values(values)
    if len(x) == 0:
        return {"n": 0, **{k: float("nan") for k in STATS[1:]}}
    q1, median, q3 = np.percentile(x, [25, 50, 75])
    return {
        "n": int(len(x)),
        "mean": float(x.mean()),
        "sd": float(x.std(ddof=1)) if len(x) > 1 else float("nan"),
        "median": float(median),
        "q1": float(q1),
        "q3": float(q3),
    }


def compare_arms(treated: Any, control: Any, summary: str = "mean") -> tuple[float, str]:
    """(p, test) of the difference between the arms: Welch's t-test for ``summary="mean"``, the
    Mann-Whitney U test for ``"median"``; NaN when an arm has too few values (or none varies)."""
    if summary not in TESTS:
        raise ValueError(f"unknown summary {summary!r}; choose one of {', '.join(TESTS)}")
    x, y, test = _values(treated), _values(control), TESTS[summary]
    if test == "welch":
        if min(len(x), len(y)) < 2 or (x.var() == 0 and y.var() == 0):
            return float("nan"), test
        return float(stats.ttest_ind(x, y, equal_var=False).pvalue), test
    if min(len(x), len(y)) < 1 or len(np.unique(np.concatenate([x, y]))) < 2:
        return float("nan"), test
    return float(stats.mannwhitneyu(x, y, alternative="two-sided").pvalue), test


def summary_text(s: dict[str, float], summary: str = "mean", decimals: int = 1) -> str:
    """One arm's cell: "53.1 (10.2)" (mean (SD)) or "50.0 [42.0–58.0]" (median [IQR]); "–" for no values."""
    if not s["n"]:
        return "–"
    if summary == "median":
        return f"{s['median']:.{decimals}f} [{s['q1']:.{decimals}f}–{s['q3']:.{decimals}f}]"
    sd = "–" if np.isnan(s["sd"]) else f"{s['sd']:.{decimals}f}"
    return f"{s['mean']:.{decimals}f} ({sd})"


def record(df: pd.DataFrame, variable, arms: pd.Series, treated: str, control: str) -> dict[str, Any]:
    """Table 1's row of a continuous ``variable`` (a :class:`~psmbook.study.description.Variable`): its
    label and summary, per arm the statistics (``mean_treated``, ``sd_control``, ...) and the cell text
    (``text_treated``), n with a value (``n_treated``), the p-value and the test."""
    values = pd.to_numeric(df[variable.column], errors="coerce")
    per_arm = {side: summary_stats(values[arms == code]) for side, code in (("treated", treated), ("control", control))}
    p, test = compare_arms(values[arms == treated], values[arms == control], variable.summary)
    level_label = SUMMARY_LABELS[variable.summary] + (f", {variable.unit}" if variable.unit else "")
    rec: dict[str, Any] = {
        "variable": variable.column,
        "variable_label": variable.label,
        "kind": "continuous",
        "level": variable.summary,
        "level_label": level_label,
    }
    for side, s in per_arm.items():
        rec[f"n_{side}"] = s["n"]
        rec[f"pct_{side}"] = float("nan")
        rec[f"text_{side}"] = summary_text(s, variable.summary, variable.decimals)
        rec.update({f"{stat}_{side}": s[stat] for stat in STATS[1:]})
    rec.update({"p": p, "test": test, "test_label": TEST_LABELS[test], "test_note": TEST_LABELS[test]})
    return rec
