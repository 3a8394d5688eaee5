"""The survival figures: Figure 1 with numbers at risk, the forest plot and the Schoenfeld residuals."""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from psmbook.analysis.km import fit_by_arm, plot_by_arm
from psmbook.analysis.survival.cox import CoxModel
from psmbook.analysis.survival.schoenfeld import scaled_schoenfeld
from psmbook.present import privacy
from psmbook.present.format import p_statement

#: At most this many ticks on a follow-up axis, so that their labels never run into each other.
MAX_TIME_TICKS = 8


def time_ticks(xmax: float, step: float, max_ticks: int = MAX_TIME_TICKS) -> np.ndarray:
    """Ticks of a follow-up axis from 0 to ``xmax``: every ``step`` (a year of the time unit: 12 months)
    when that gives at most ``max_ticks``, else round numbers (multiples of 1, 2, 2.5 or 5 times a power of
    ten: 0, 500, 1000 days rather than 0, 365, 730, ..., 3650)."""
    if xmax <= 0:
        return np.array([0.0])
    if math.floor(xmax / step + 1e-9) + 1 <= max_ticks:
        return np.arange(0, xmax + step * 1e-9, step)
    from matplotlib.ticker import MaxNLocator

    ticks = MaxNLocator(nbins=max_ticks - 1, steps=[1, 2, 2.5, 5, 10]).tick_values(0, xmax)
    return ticks[(ticks >= 0) & (ticks <= xmax + 1e-9)]


def plot_figure1(
    cohorts: Mapping[str, pd.DataFrame],
    study,
    *,
    p_values: Mapping[tuple[str, str], float],
    published_landmarks: Optional[Mapping] = None,
    xmax: Optional[float] = None,
    endpoints: Optional[Sequence[str]] = None,
    min_cell: int = 0,
):
    """The paper's Figure 1: Kaplan–Meier curves of each endpoint (columns) before and after matching
    (rows), with censoring marks, numbers at risk, the log-rank p and the paper's landmarks.

    ``xmax`` defaults to 60 months for the paper's study, else to the longest follow-up rounded up to
    a whole year of the study's time unit; ``endpoints`` to the study's."""
    import matplotlib.pyplot as plt

    endpoints = list(endpoints or study.endpoints)
    periods = list(cohorts)
    step = study.time_step
    if xmax is None:
        longest = max(float(df[study.outcome(e).time].max()) for df in cohorts.values() for e in endpoints)
        rounded = step * math.ceil(longest / step)  # a whole year, unless that overflows (a time of 1.8e308)
        xmax = 60.0 if study.paper else (rounded if math.isfinite(rounded) else longest)
    fig, axes = plt.subplots(
        len(periods), len(endpoints), figsize=(5 * len(endpoints), 5.2 * len(periods)), squeeze=False
    )
    letters = iter("abcdefghijkl")
    names = {"before": "before matching", "after": "after matching"}
    for i, period in enumerate(periods):
        df = cohorts[period]
        for j, endpoint in enumerate(endpoints):
            ax = axes[i, j]
            outcome = study.outcome(endpoint)
            fits = fit_by_arm(df, study, outcome.time, outcome.event)
            marks = (published_landmarks or {}).get((endpoint, period))
            plot_by_arm(
                ax,
                fits,
                study,
                ylabel=f"{outcome.label} (probability)",
                xmax=xmax,
                xticks=time_ticks(xmax, step),
                landmarks=marks,
                min_cell=min_cell,
                p_text=f"Log-rank {p_statement(p_values[(endpoint, period)])}",
            )
            short = outcome.short or endpoint.upper()
            ax.set_title(
                f"({next(letters)}) {short}, {names.get(period, period)} (n = {len(df)})",
                loc="left",
                fontsize=11,
            )
    fig.subplots_adjust(left=0.13, right=0.98, top=0.96, bottom=0.09, hspace=0.62, wspace=0.42)
    return fig


def forest_plot(
    univariate: pd.DataFrame,
    multivariable: Optional[pd.DataFrame] = None,
    published: Optional[Mapping[str, Any]] = None,
    *,
    colour: str = "#000000",
    published_colour: str = "#999999",
    event: str = "death",
):
    """Hazard ratios of Table 3 with 95% CIs on a log scale, univariate and multivariable side by
    side, the paper's values (grey) beside the book's (black)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    terms = univariate[~univariate["reference"]].reset_index(drop=True)
    labels = [f"{r.factor_label}: {r.level_label}" for r in terms.itertuples()]
    y = np.arange(len(terms))[::-1]
    panels = [("univariate", "Univariate", univariate)]
    if multivariable is not None:
        panels.append(("multivariate", "Multivariable", multivariable))
    fig, axes = plt.subplots(1, len(panels), figsize=(10, 0.36 * len(terms) + 1.6), sharey=True, squeeze=False)
    limits = pd.concat([t.loc[~t["reference"].astype(bool), ["ci_low", "ci_high"]] for _, _, t in panels])
    finite = limits.where(np.isfinite(limits) & (limits > 0))  # a 0 or infinite limit: the bar runs off the axis
    low_all, high_all = float(finite["ci_low"].min(skipna=True)), float(finite["ci_high"].max(skipna=True))
    low_all, high_all = (low_all if np.isfinite(low_all) else 0.2), (high_all if np.isfinite(high_all) else 5.0)
    for ax, (key, title, table) in zip(axes[0], panels):
        est = table.set_index("id")
        for yi, term in zip(y, terms["id"]):
            if term in est.index and not est.loc[term, "reference"]:
                r = est.loc[term]
                ax.plot([r["ci_low"], r["ci_high"]], [yi + 0.14] * 2, color=colour, lw=1.4)
                ax.plot(r["hr"], yi + 0.14, "s", color=colour, ms=5)
            pid = f"table3.{key}.{term}"
            hr = (published or {}).get(f"{pid}.hr")
            if hr is not None:
                low, high = published[f"{pid}.ci_low"].value, published[f"{pid}.ci_high"].value
                if low > hr.value:  # the paper's printed typo (2.258 for 1.258): no bar
                    low = np.nan
                ax.plot([low, high], [yi - 0.14] * 2, color=published_colour, lw=1.4)
                ax.plot(hr.value, yi - 0.14, "D", color=published_colour, ms=4.5, mfc="white")
        ax.axvline(1, color="#555555", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_xlim(min(0.2, low_all / 1.15), max(5, high_all * 1.15))
        ticks = [t for t in (0.125, 0.25, 0.5, 1, 2, 4, 8, 16) if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(FixedFormatter([f"{t:g}" for t in ticks]))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel(f"Hazard ratio of {event} (log scale)")
        ax.set_title(title)
    axes[0, 0].set_yticks(y, labels, fontsize=9)
    axes[0, 0].set_ylim(-0.7, len(terms) - 0.3)
    if published:
        handles = [
            plt.Line2D([], [], marker="s", color=colour, ms=5, label="This book"),
            plt.Line2D([], [], marker="D", color=published_colour, ms=4.5, mfc="white", label="Paper"),
        ]
        fig.legend(handles=handles, loc="upper center", ncol=2, fontsize=9, bbox_to_anchor=(0.62, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 0.95 if published else 1))
    return fig


#: Above this many events the Schoenfeld plot shows the residuals' density (hexagonal bins) instead of one
#: dot per event, and its smooth runs through the means of equal-count bins of rank (lowess on every event
#: is quadratic in the events: hours at a million).
SCATTER_LIMIT = 5_000
#: The number of those bins of rank.
RANK_BINS = 200


def _binned_means(rank: np.ndarray, values: np.ndarray, bins: int = RANK_BINS) -> tuple[np.ndarray, np.ndarray]:
    """Mean rank and mean value in ``bins`` equal-count bins of rank."""
    order = np.argsort(rank, kind="stable")
    groups = np.array_split(order, bins)
    return np.array([rank[g].mean() for g in groups]), np.array([values[g].mean() for g in groups])


def plot_schoenfeld(model: CoxModel, labels: Optional[Mapping[str, str]] = None, *, min_cell: int = 0):
    """Scaled Schoenfeld residuals plus the estimated coefficient (R's ``cox.zph`` plot, an estimate of
    beta(t)) against the rank of the event time, with a lowess smooth: under proportional hazards the
    smooth is flat around the term's log-HR. Above :data:`SCATTER_LIMIT` events, the residuals' density
    and a smooth through the means of rank bins instead (close to the smooth of every point, in linear time).
    With ``min_cell`` (real data), no dot is one patient's event: each is the mean of a bin of at least
    ``min_cell`` consecutive events, and the smooth runs through them."""
    import matplotlib.pyplot as plt
    from statsmodels.nonparametric.smoothers_lowess import lowess

    residuals = scaled_schoenfeld(model.fitter, model.data)  # lifelines' numbers, in O(n log n)
    times = model.data.loc[residuals.index, "_time"].to_numpy()
    rank = stats.rankdata(times)
    terms = list(residuals.columns)
    ncols = min(3, len(terms))
    nrows = math.ceil(len(terms) / ncols)
    # one rank axis for every panel (the same deaths), labelled once below the panels and once at the side:
    # a label per panel overlaps its neighbours' and costs a text to draw per panel in every format
    fig, axes = plt.subplots(nrows, ncols, figsize=(10, 0.6 + 2.7 * nrows), squeeze=False, sharex=True)
    xlabel = "Rank of death time"
    for ax, term in zip(axes.flat, terms):
        beta = float(model.fitter.params_[term])
        r = residuals[term].to_numpy() + beta  # lifelines leaves beta out; R's cox.zph adds it
        if min_cell:  # real data: means of bins of at least min_cell events, never one patient's residual
            bins = privacy.group_sizes(len(r), min_cell, RANK_BINS)
            means = _binned_means(rank, r, bins) if bins >= 2 else (np.array([]), np.array([]))
            ax.scatter(*means, s=14, color="#555555", alpha=0.8)
            if bins < 2:
                ax.text(0.5, 0.5, f"fewer than {2 * min_cell} events: not drawn", transform=ax.transAxes, ha="center")
            smooth = lowess(means[1], means[0], frac=0.6, it=0) if bins >= 4 else np.empty((0, 2))
            xlabel = f"Rank of death time (dots: means of bins of ≥ {min_cell} events)"
        elif len(r) <= SCATTER_LIMIT:
            ax.scatter(rank, r, s=9, color="#555555", alpha=0.6)
            smooth = lowess(r, rank, frac=0.6, it=0)  # no robustness steps: they would discount the rarer level
        else:  # a registry: the density of the residuals, and the smooth through the means of rank bins
            ax.hexbin(rank, r, gridsize=40, cmap="Greys", mincnt=1, bins="log", linewidths=0)
            smooth = lowess(*_binned_means(rank, r)[::-1], frac=0.6, it=0)
        ax.plot(smooth[:, 0], smooth[:, 1], color="#D55E00", lw=2)
        ax.axhline(beta, color="#0072B2", ls="--", lw=1)
        ax.set_title((labels or {}).get(term, term), fontsize=9.5)
    for k, ax in enumerate(axes.flat):
        if k >= len(terms):
            ax.set_visible(False)
        elif k + ncols >= len(terms):  # the lowest panel of its column shows the rank's ticks
            ax.tick_params(labelbottom=True)
    fig.supxlabel(xlabel, fontsize=10)
    fig.supylabel("β(t), log hazard ratio", fontsize=10)
    fig.tight_layout()
    return fig
