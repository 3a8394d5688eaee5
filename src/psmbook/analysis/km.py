"""Kaplan–Meier curves per arm, with censoring marks, numbers at risk and published landmarks."""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.plotting import add_at_risk_counts
from scipy import stats

from psmbook.present.style import arm_colours


def fit_by_arm(df: pd.DataFrame, study, time: str, event: str) -> dict[str, KaplanMeierFitter]:
    """One Kaplan–Meier fit per arm (treated first), labelled with the arm's name."""
    fits = {}
    for code in study.treatment.arms:
        part = df[df[study.treatment.column] == code]
        if part.empty:
            raise ValueError(f"no patients in arm {code!r} of column {study.treatment.column!r}")
        fits[code] = KaplanMeierFitter(label=study.arm_label(code)).fit(part[time], part[event])
    return fits


#: The transform of a Kaplan–Meier curve's pointwise 95% confidence limits, by R survfit's name for it
#: (``conf.type``): the landmark rates' intervals and the medians' limits use it. R's default is "log".
CI_TRANSFORM = "log-log"

#: Each transform, in words (``conf.type`` -> how the limits are built from Greenwood's variance).
TRANSFORMS = {
    "log-log": "Greenwood's variance on the log(−log) scale",
    "log": "Greenwood's variance on the log scale",
    "plain": "Greenwood's variance on the survival scale",
}

#: R's tolerance for a curve sitting "exactly" at a quantile (``quantile.survfit``'s ``tolerance``).
QUANTILE_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


def ci_transform_text(transform: str = CI_TRANSFORM) -> str:
    """The confidence limits' construction in a phrase, with R's name for it and R's default."""
    _check_transform(transform)
    default = "also R's default" if transform == "log" else 'R\'s default is `"log"`'
    return f'{TRANSFORMS[transform]} (R survfit\'s `conf.type = "{transform}"`; {default})'


def median_rule_text() -> str:
    """The median's definition in a phrase (R survfit's, :func:`median_survival`)."""
    return (
        "the first time the curve drops to 50% or below, or, where it sits exactly at 50% over an interval, "
        "that interval's midpoint (R survfit's rule)"
    )


def _check_transform(transform: str) -> None:
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {list(TRANSFORMS)} (R survfit's conf.type), got {transform!r}")


def kaplan_meier(fit: KaplanMeierFitter) -> pd.DataFrame:
    """The product-limit estimate at every distinct time of a fit (events and censorings), as R's survfit:
    ``n_risk``, ``n_event``, ``survival`` and ``std_err``, the standard error of the cumulative hazard
    (Greenwood: the square root of the sum of d / (n (n − d)) over the event times so far)."""
    weights = np.asarray(getattr(fit, "weights", 1.0), dtype=float)
    if not np.all(weights == 1):
        raise ValueError("kaplan_meier: weighted Kaplan–Meier fits are not supported here (weights must be 1)")
    durations = np.asarray(fit.durations, dtype=float)
    events = np.asarray(fit.event_observed, dtype=float)
    times, first = np.unique(durations, return_index=True)
    position = np.searchsorted(times, durations)
    n_event = np.bincount(position, weights=events, minlength=len(times))
    n_leaving = np.bincount(position, minlength=len(times))
    n_risk = len(durations) - np.concatenate([[0], np.cumsum(n_leaving)[:-1]])
    survival = np.cumprod(1 - n_event / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    return pd.DataFrame(
        {"n_risk": n_risk, "n_event": n_event, "survival": survival, "std_err": np.sqrt(np.cumsum(terms))},
        index=pd.Index(times, name="time"),
    )


def confidence_band(fit: KaplanMeierFitter, transform: str = CI_TRANSFORM, level: float = 0.95) -> pd.DataFrame:
    """:func:`kaplan_meier` with its pointwise limits ``lower``, ``upper`` (proportions), built as R's
    ``survfit_confint`` builds them: NaN where R gives NA (at S = 0; for log-log also at S = 1)."""
    _check_transform(transform)
    km = kaplan_meier(fit)
    s, se = km["survival"].to_numpy(), km["std_err"].to_numpy()
    z = stats.norm.ppf(1 - (1 - level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if transform == "log-log":
            x = np.where((s == 0) | (s == 1), np.nan, s)
            half = z * se / np.log(x)
            lower, upper = np.exp(-np.exp(np.log(-np.log(x)) - half)), np.exp(-np.exp(np.log(-np.log(x)) + half))
        elif transform == "log":
            x = np.where(s == 0, np.nan, s)
            lower, upper = np.exp(np.log(x) - z * se), np.minimum(np.exp(np.log(x) + z * se), 1)
        else:
            half = z * se * s
            lower, upper = np.maximum(s - half, 0), np.minimum(s + half, 1)
    return km.assign(lower=lower, upper=upper)


def _at(table: pd.DataFrame, months: float) -> pd.Series:
    """The row of a step function at a time: the last distinct time at or before it (time 0: S = 1)."""
    before = table.loc[table.index <= months]
    if before.empty:
        return pd.Series({"survival": 1.0, "lower": 1.0, "upper": 1.0})
    return before.iloc[-1]


def survival_at(fit: KaplanMeierFitter, months: float) -> float:
    """Kaplan–Meier survival at a time, in percent."""
    return float(_at(kaplan_meier(fit), months)["survival"]) * 100


def survival_ci_at(fit: KaplanMeierFitter, months: float, transform: str = CI_TRANSFORM) -> tuple[float, float, float]:
    """Kaplan–Meier survival at a time with its 95% confidence interval, in percent.

    The interval uses :data:`CI_TRANSFORM` unless told (log(−log) keeps the limits inside 0–100%). Like
    the curve, it is a step function: the value at a time is the one after the last event at or before
    it, as R's ``summary(survfit(...), times = ...)`` gives it.
    """
    row = _at(confidence_band(fit, transform), months)
    return float(row["survival"]) * 100, float(row["lower"]) * 100, float(row["upper"]) * 100


def _quantile_time(x: np.ndarray, y: np.ndarray, p: float, tol: float = QUANTILE_TOLERANCE) -> float:
    """R survival's ``findq``: where the rising curve y = 1 − S (at times x, from (0, 0)) reaches p; the
    midpoint of a flat at p (within ``tol``); inf where it never does (R: NA)."""
    if not np.any(y[~np.isnan(y)] >= p):
        return float("inf")
    last_x = x[-1]
    keep = ~pd.Series(y).duplicated().to_numpy()  # a censoring repeats the value before it
    x, y = x[keep], y[keep]
    valid = np.flatnonzero(~np.isnan(y))

    def first_reaching(shifted):  # approx(shifted, 1:n, p, method = "constant", f = 1)
        values = shifted[valid]
        if not values[0] <= p <= values[-1]:
            return None
        return valid[np.searchsorted(values, p, side="left")]

    i1, i2 = first_reaching(y + tol), first_reaching(y - tol)
    if not np.isnan(y[-1]) and abs(p - y[-1]) < tol and i1 is not None:
        return float(x[i1] / 2 + last_x / 2)  # the curve ends at p: the midpoint of the last flat
    if i1 is None or i2 is None:
        return float("inf")
    return float(x[i1] / 2 + x[i2] / 2)  # halves first: the same number, and no overflow at 1e308


def median_survival(fit: KaplanMeierFitter, transform: str = CI_TRANSFORM) -> tuple[float, float, float]:
    """Median survival with its 95% CI, as R's ``quantile(survfit(...), 0.5)`` and ``print(fit)`` give it.

    The median is the first time the curve is at or below 50%; where it sits exactly at 50% over an
    interval (a flat between two event times), the midpoint of that interval. The limits apply the same
    rule to the lower and upper pointwise limits of ``transform`` (Brookmeyer–Crowley). inf where a
    curve or limit never reaches 50% (R: NA, "not reached").
    """
    band = confidence_band(fit, transform)
    x = np.concatenate([[0.0], band.index.to_numpy(dtype=float)])
    curves = (band["survival"], band["lower"], band["upper"])
    return tuple(_quantile_time(x, np.concatenate([[0.0], 1 - c.to_numpy()]), 0.5) for c in curves)


#: A curve with more distinct censoring times than this is drawn without its censoring ticks: at registry size
#: they merge into a band that hides the curve (the numbers at risk below it still show the censoring).
MAX_CENSOR_MARKS = 300


def plot_by_arm(
    ax,
    fits: dict[str, KaplanMeierFitter],
    study,
    *,
    ylabel: str,
    xmax: float | None = None,
    landmarks: dict[str, dict[float, float]] | None = None,
    at_risk: bool = True,
    xticks: np.ndarray | None = None,
    p_text: str | None = None,
    legend_loc: str = "upper right",
    xlabel: str | None = None,
    min_cell: int = 0,
):
    """Step curves with censoring ticks; ``landmarks`` {arm: {month: published %}} drawn as crosses.

    ``p_text`` (e.g. "Log-rank p = 0.008") is written in the lower left corner of the panel; numbers at
    risk from 1 to ``min_cell`` - 1 print as "<k" (small-cell suppression, see :mod:`psmbook.present.privacy`). Each
    curve then stops at the last time with at least ``min_cell`` patients at risk (:func:`last_time_at_risk`):
    beyond it, each step would be one of a few patients' event.
    """
    colours = arm_colours(study)
    for code, fit in fits.items():
        fit.plot_survival_function(
            ax=ax,
            ci_show=False,
            show_censors=int((fit.event_table["censored"] > 0).sum()) <= MAX_CENSOR_MARKS,
            color=colours[code],
            censor_styles={"ms": 5, "marker": "|"},
            **({"loc": slice(0.0, last_time_at_risk(fit, min_cell))} if min_cell else {}),
        )
        for month, value in (landmarks or {}).get(code, {}).items():
            ax.plot(month, value / 100, marker="x", color="black", ms=7, mew=1.6, zorder=5, ls="none")
    if landmarks:
        ax.plot([], [], marker="x", color="black", ls="none", label="Published landmark")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel or study.time_label)
    if xmax:
        ax.set_xlim(0, xmax)
    if xticks is not None:
        ax.set_xticks(xticks)
    ax.legend(loc=legend_loc, fontsize=8.5)
    if p_text:
        ax.text(0.03, 0.04, p_text, transform=ax.transAxes, fontsize=9.5, ha="left", va="bottom")
    if at_risk:
        before = set(ax.figure.axes)
        add_at_risk_counts(*fits.values(), ax=ax, rows_to_show=["At risk"], fontsize=8)
        if min_cell:  # lifelines draws the counts as tick labels of an axis it adds
            _suppress_at_risk([a for a in ax.figure.axes if a not in before], min_cell)
    return ax


def last_time_at_risk(fit: KaplanMeierFitter, min_cell: int) -> float:
    """The last time at which at least ``min_cell`` patients are at risk (0 when there is none)."""
    table = fit.event_table
    times = table.index[table["at_risk"] >= min_cell]
    return float(times.max()) if len(times) else 0.0


def _suppress_at_risk(axes, min_cell: int) -> None:
    """Replace numbers at risk from 1 to min_cell - 1 in lifelines' at-risk rows by "<k"."""
    import re

    def hide(match):
        n = int(match.group(0))
        return f"<{min_cell}" if 0 < n < min_cell else match.group(0)

    for extra in np.atleast_1d(axes):
        labels = [re.sub(r"(?<![\w.])\d+(?![\w.])", hide, t.get_text()) for t in extra.get_xticklabels()]
        extra.set_xticks(extra.get_xticks(), labels)


def plot_against_published_landmarks(
    df: pd.DataFrame, study, landmarks: dict, *, title_suffix: str = "before matching"
):
    """Kaplan-Meier curves of PFS and OS by arm with the paper's landmarks marked (crosses);
    ``landmarks``: endpoint -> arm -> months -> % (:func:`psmbook.cohort.calibration.published_landmarks`)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    for ax, endpoint in zip(axes, ["pfs", "os"]):
        outcome = study.outcome(endpoint)
        fits = fit_by_arm(df, study, outcome.time, outcome.event)
        plot_by_arm(
            ax,
            fits,
            study,
            ylabel=f"{outcome.label} (probability)",
            xmax=60,
            landmarks=landmarks[endpoint],
            xticks=range(0, 61, 12),
        )
        ax.set_title(f"{outcome.label}, {title_suffix}")
    fig.tight_layout()
    return fig
