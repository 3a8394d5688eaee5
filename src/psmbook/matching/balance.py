"""Covariate balance: standardised mean differences over the pooled SD, variance ratios, love plot,
score overlap.

Every level of a categorical covariate is its own indicator. :func:`balance_table` divides by the pooled
SD of the unmatched arms, sqrt((s1^2 + s0^2) / 2) with n - 1 variances (Austin 2009), computed once and
kept after matching, so that a change in the SMD reflects a change in the means only; the PSM lab uses
it. For an ATT match MatchIt and cobalt divide by the treated arm's SD instead, and cobalt reports binary
covariates as raw differences by default: :mod:`psmbook.matching.balance_summary`, which the matching
chapter shows. |SMD| < 0.1 is the usual threshold of balance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from psmbook.present import privacy

THRESHOLD = 0.1


def indicators(data: pd.DataFrame, covariates: list[str], levels: dict[str, list] | None = None) -> pd.DataFrame:
    """One 0/1 column per covariate level, named ``column=level``; numeric covariates kept as they are."""
    columns = {}
    for column in covariates:
        series = data[column]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            columns[column] = series.astype(float)
            continue
        for level in (levels or {}).get(column) or sorted(series.dropna().unique(), key=str):
            columns[f"{column}={level}"] = (series == level).astype(float)
    return pd.DataFrame(columns, index=data.index)


def _weighted_mean_var(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    mean = np.average(x, weights=w)
    var = np.average((x - mean) ** 2, weights=w)
    n_eff = w.sum() ** 2 / (w**2).sum()
    return float(mean), float(var * n_eff / max(n_eff - 1, 1))


def balance_table(
    before: pd.DataFrame,
    treated_before: pd.Series,
    after: pd.DataFrame,
    treated_after: pd.Series,
    weights_after: pd.Series | None = None,
) -> pd.DataFrame:
    """Means per arm, SMD and variance ratio of every column, before and after matching or weighting.

    ``before``/``after`` are indicator frames (see ``indicators``); the SMD denominator is the pooled SD
    of the unmatched sample, sqrt((s1^2 + s0^2) / 2). Variance ratios are given for numeric columns
    only (for an indicator the variance is fixed by its mean).
    """
    rows = []
    t0 = np.asarray(treated_before, dtype=bool)
    t1 = np.asarray(treated_after, dtype=bool)
    w1 = np.ones(len(after)) if weights_after is None else np.asarray(weights_after, dtype=float)
    for column in before.columns:
        x0 = before[column].to_numpy(dtype=float)
        x1 = after[column].to_numpy(dtype=float)
        m_t0, v_t0 = _weighted_mean_var(x0[t0], np.ones(t0.sum()))
        m_c0, v_c0 = _weighted_mean_var(x0[~t0], np.ones((~t0).sum()))
        m_t1, v_t1 = _weighted_mean_var(x1[t1], w1[t1])
        m_c1, v_c1 = _weighted_mean_var(x1[~t1], w1[~t1])
        denominator = np.sqrt((v_t0 + v_c0) / 2)
        binary = set(np.unique(x0)) <= {0.0, 1.0}
        rows.append(
            {
                "covariate": column,
                "binary": binary,
                "mean_treated_before": m_t0,
                "mean_control_before": m_c0,
                "smd_before": (m_t0 - m_c0) / denominator if denominator > 0 else 0.0,
                "mean_treated_after": m_t1,
                "mean_control_after": m_c1,
                "smd_after": (m_t1 - m_c1) / denominator if denominator > 0 else 0.0,
                "variance_ratio_before": np.nan if binary or v_c0 == 0 else v_t0 / v_c0,
                "variance_ratio_after": np.nan if binary or v_c1 == 0 else v_t1 / v_c1,
            }
        )
    table = pd.DataFrame(rows).set_index("covariate")
    table["balanced_after"] = table["smd_after"].abs() < THRESHOLD
    return table


def love_plot(
    table: pd.DataFrame,
    *,
    labels: dict[str, str] | None = None,
    threshold: float = THRESHOLD,
    colours=("#999999", "#000000"),
    title: str = "Covariate balance",
):
    """Absolute SMD of every covariate level before and after matching, with the threshold line."""
    import matplotlib.pyplot as plt

    shown = table.iloc[::-1]
    names = [(labels or {}).get(c, c) for c in shown.index]
    fig, ax = plt.subplots(figsize=(6.4, 0.28 * len(shown) + 1.4))
    y = np.arange(len(shown))
    ax.scatter(
        shown["smd_before"].abs(),
        y,
        marker="o",
        facecolors="white",
        edgecolors=colours[0],
        label="Before matching",
        zorder=3,
    )
    ax.scatter(shown["smd_after"].abs(), y, marker="o", color=colours[1], label="After matching", zorder=3)
    for i, (b, a) in enumerate(zip(shown["smd_before"].abs(), shown["smd_after"].abs())):
        ax.plot([b, a], [i, i], color="#cccccc", lw=1, zorder=1)
    ax.axvline(threshold, color="#D55E00", ls="--", lw=1)
    ax.text(threshold, len(shown) - 0.3, f" {threshold}", color="#D55E00", va="bottom", fontsize=8)
    ax.set_yticks(y, names, fontsize=8.5)
    ax.set_xlabel("Absolute standardised mean difference")
    ax.set_xlim(left=0)
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8.5)  # where it hides the fewest points
    fig.tight_layout()
    return fig


def overlap_plot(
    logit_ps: pd.Series,
    treated: pd.Series,
    matched: pd.Series,
    *,
    colours: tuple[str, str],
    labels: tuple[str, str],
    bins: int = 24,
    min_cell: int = 0,
):
    """Mirrored histograms of the logit propensity score per arm, all patients and matched only. With
    ``min_cell``, neighbouring bins merge until each bar holds 0 or at least ``min_cell`` patients
    (:func:`psmbook.present.privacy.merge_small_bins`), its height the patients per original bin width."""
    import matplotlib.pyplot as plt

    t = np.asarray(treated, dtype=bool)
    m = np.asarray(matched, dtype=bool)
    x = np.asarray(logit_ps, dtype=float)
    edges = np.histogram_bin_edges(x, bins=bins)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, keep, title in ((axes[0], np.ones_like(m), "All patients"), (axes[1], m, "Matched patients")):
        for side, colour, label, sign in ((t, colours[0], labels[0], 1), (~t, colours[1], labels[1], -1)):
            counts, _ = np.histogram(x[side & keep], bins=edges)
            if min_cell:
                left, counts = privacy.merge_small_bins(counts, edges, min_cell)
                left, width = np.asarray(left[:-1]), np.diff(left)
                heights = np.asarray(counts) * (edges[1] - edges[0]) / width if len(counts) else counts
            else:
                left, width, heights = edges[:-1], np.diff(edges), counts
            ax.bar(left, sign * np.asarray(heights), width=width, align="edge", color=colour, label=label)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_title(title)
        ax.set_xlabel("Logit of the propensity score")
    axes[0].set_ylabel("Patients (treated up, controls down)")
    if min_cell:
        fig.text(0.5, -0.02, f"Bins of fewer than {min_cell} patients are merged with their neighbours; a merged bar's "
                 "height is its patients per bin width.", ha="center", va="top", fontsize=8)  # fmt: skip
    axes[0].yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{abs(v):.0f}"))
    axes[0].legend(fontsize=8.5, loc="upper left")
    fig.tight_layout()
    return fig
