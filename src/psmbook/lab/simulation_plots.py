"""The simulation study's figures: each method's estimates against the truth, and bias, SE and coverage by method."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def plot_methods(table: pd.DataFrame, *, conditional: float | None = None, marginal: float | None = None):
    """Each method's hazard ratio and 95% CI on one cohort, with the true value of its estimand (◆)
    and the two truths as vertical lines."""
    import matplotlib.pyplot as plt

    shown = table.iloc[::-1].reset_index(drop=True)
    y = np.arange(len(shown))
    fig, ax = plt.subplots(figsize=(7.4, 0.5 * len(shown) + 2.0))
    ax.errorbar(
        shown["hr"],
        y,
        xerr=[shown["hr"] - shown["ci_low"], shown["ci_high"] - shown["hr"]],
        fmt="s",
        color="black",
        ecolor="#555555",
        capsize=3,
        ms=5,
        label="estimate (95% CI)",
    )
    ax.plot(
        shown["truth"],
        y,
        "D",
        color="#D55E00",
        mfc="white",
        mew=1.6,
        ms=7,
        label="true value of its estimand",
        zorder=4,
    )
    if conditional is not None:
        ax.axvline(conditional, color="#555555", ls=":", lw=1.2, label=f"true conditional HR ({conditional:.3f})")
    if marginal is not None:
        ax.axvline(marginal, color="#D55E00", ls="--", lw=1, label=f"true marginal HR, treated ({marginal:.3f})")
    ax.axvline(1.0, color="#999999", lw=0.8)
    ax.set_xscale("log")
    low, high = min(shown["ci_low"].min(), shown["truth"].min()), max(shown["ci_high"].max(), 1.0)
    ax.set_xlim(low / 1.08, high * 1.08)
    ticks = [t for t in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2, 1.5, 2.0) if low / 1.08 <= t <= high * 1.08]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.set_yticks(y, shown["short"] if "short" in shown else shown["label"])
    ax.set_xlabel("Hazard ratio of death, CRT + anlotinib vs CRT alone (log scale)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.35, 1.0), ncol=2, fontsize=8)
    fig.tight_layout()
    return fig


def plot_simulation(estimates: pd.DataFrame, summary: pd.DataFrame):
    """Each repetition's estimate divided by its true value, per method (log scale): the spread is the
    empirical SE, the offset of the bar (the geometric mean) from 1 the bias; coverage on the right."""
    import matplotlib.pyplot as plt

    keys = list(summary.index)[::-1]
    fig, ax = plt.subplots(figsize=(7.0, 0.55 * len(keys) + 1.8))
    rng = np.random.default_rng(0)  # jitter only
    for i, key in enumerate(keys):
        part = estimates[(estimates["method"] == key)].dropna(subset=["log_hr", "truth"])
        ratio = np.exp(part["log_hr"].astype(float) - np.log(part["truth"].astype(float)))
        covered = (part["ci_low"] <= part["truth"]) & (part["truth"] <= part["ci_high"])
        jitter = rng.uniform(-0.18, 0.18, len(part))
        ax.scatter(
            ratio[covered],
            i + jitter[covered.to_numpy()],
            s=12,
            color="#555555",
            alpha=0.6,
            label="CI covers the truth" if i == 0 else None,
        )
        ax.scatter(
            ratio[~covered],
            i + jitter[~covered.to_numpy()],
            s=16,
            color="#D55E00",
            marker="x",
            label="CI misses the truth" if i == 0 else None,
        )
        centre = math.exp(summary.loc[key, "bias"])
        ax.plot([centre, centre], [i - 0.3, i + 0.3], color="black", lw=2.2)
        ax.annotate(
            f"{100 * summary.loc[key, 'coverage']:.0f}%",
            (1.0, i),
            xycoords=("axes fraction", "data"),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
        )
    ax.axvline(1.0, color="#999999", lw=1)
    ax.set_xscale("log")
    shown = estimates[estimates["method"].isin(keys)].dropna(subset=["log_hr", "truth"])
    ratios = np.exp(shown["log_hr"].astype(float) - np.log(shown["truth"].astype(float)))
    low, high = min(float(ratios.min()), 0.9) / 1.05, max(float(ratios.max()), 1.1) * 1.05
    ax.set_xlim(low, high)
    ticks = [t for t in (0.25, 0.35, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.4, 1.7, 2.0, 2.8, 4.0) if low <= t <= high]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.set_yticks(range(len(keys)), summary.loc[keys, "short"])
    ax.set_xlabel("Estimated HR / true HR of its estimand (log scale)")
    ax.set_title("Each dot one repetition; bar: geometric mean; right: 95% CI coverage", fontsize=9.5, loc="left")
    ax.legend(loc="lower center", bbox_to_anchor=(0.4, 1.06), ncol=2, fontsize=8.5)
    fig.tight_layout()
    return fig
