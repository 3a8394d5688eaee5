"""Kaplan–Meier curves per arm, with censoring marks, numbers at risk and published landmarks."""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.plotting import add_at_risk_counts

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


def survival_at(fit: KaplanMeierFitter, months: float) -> float:
    """Kaplan–Meier survival at a time, in percent."""
    return float(fit.survival_function_at_times(months).iloc[0]) * 100


def survival_ci_at(fit: KaplanMeierFitter, months: float) -> tuple[float, float, float]:
    """Kaplan–Meier survival at a time with its 95% confidence interval, in percent.

    The interval is lifelines' default: Greenwood's variance on the log(-log) scale (Kalbfleisch and
    Prentice), which keeps the limits inside 0–100%. Like the curve, it is a step function: the value
    at a time is the one after the last event at or before it.
    """
    ci = fit.confidence_interval_survival_function_
    row = ci.loc[ci.index <= months].iloc[-1]
    return survival_at(fit, months), float(row.iloc[0]) * 100, float(row.iloc[1]) * 100


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
    risk from 1 to ``min_cell`` - 1 print as "<k" (small-cell suppression, see :mod:`psmbook.present.privacy`).
    """
    colours = arm_colours(study)
    for code, fit in fits.items():
        fit.plot_survival_function(
            ax=ax,
            ci_show=False,
            show_censors=True,
            color=colours[code],
            censor_styles={"ms": 5, "marker": "|"},
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
