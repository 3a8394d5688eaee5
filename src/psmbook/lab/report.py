"""What the PSM lab says about its experiments: the truth, the grid of matching settings, the methods
against the truth, the simulation study's bias, SE and coverage, and the lab's results.

Each ``*_numbers`` function returns {name: value} for the prose ({glue} names), computed from the
experiments' tables; nothing is typed.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from psmbook.cohort.synthetic import true_hazard_ratios
from psmbook.lab import simulation
from psmbook.lab.explorer import NODES_LEVEL, Exploration, MatchSettings
from psmbook.matching.balance import THRESHOLD
from psmbook.present.format import hr_ci_p_text, hr_ci_text


def truth_numbers(truth_conditional: float, truth_marginal: float, cohort: pd.DataFrame, study) -> dict[str, object]:
    """The generator's conditional hazard ratio of treatment, the marginal one in this cohort's treated
    patients, the true hazard ratio of several recurrent nodes, and the number of treated patients."""
    return {
        "truth_conditional": f"{truth_conditional:.3f}",
        "truth_marginal": f"{truth_marginal:.3f}",
        "hr_nodes": f"{true_hazard_ratios()['nodes_group.multiple']:.2f}",
        "n_treated": int((cohort[study.treatment.column] == study.treatment.treated).sum()),
    }


def _grid_row(grid: pd.DataFrame, caliper, ratio: int = 1, replace: bool = False) -> pd.Series:
    match = grid["caliper"].map(lambda c: c == caliper if caliper is not None else c is None or pd.isna(c))
    return grid[match & (grid["ratio"] == ratio) & (grid["replace"] == replace)].iloc[0]


def _width(row: pd.Series) -> float:
    return row["ci_high"] / row["ci_low"]


def _change(before: float, after: float) -> str:
    return "narrows" if after < 0.97 * before else "widens" if after > 1.03 * before else "hardly changes"


def grid_numbers(grid: pd.DataFrame, settings: MatchSettings) -> dict[str, object]:
    """The grid of matching settings for the prose: the calipers it spans, patients kept at the tightest
    caliper (and the next) and with none,
    the range of estimates and of their truths, interval widths, and what a second control or
    replacement does to the interval at the book's caliper."""
    calipers = sorted(c for c in grid["caliper"].unique() if c is not None and not pd.isna(c))
    tightest, next_tightest = calipers[0], calipers[1]
    tight, loose = _grid_row(grid, tightest), _grid_row(grid, None)
    tight_r = _grid_row(grid, tightest, replace=True)
    book = settings.caliper
    w11, w12, w11r = (
        _width(_grid_row(grid, book, 1)),
        _width(_grid_row(grid, book, 2)),
        _width(_grid_row(grid, book, 1, True)),
    )
    phrase = "with no caliper" if book is None else f"at a caliper of {book:g} SD"
    numbers: dict[str, object] = {
        "grid_n": len(grid),
        "treated_none": int(loose["treated"]),
        "treated_tight": int(tight["treated"]),
        "treated_tight_lost": int(loose["treated"] - tight["treated"]),
        "treated_tight_replace": int(tight_r["treated"]),
        "treated_01": int(_grid_row(grid, next_tightest)["treated"]),
        "treated_01_replace": int(_grid_row(grid, next_tightest, replace=True)["treated"]),
        "controls_01_replace": int(_grid_row(grid, next_tightest, replace=True)["controls"]),
        "grid_calipers": f"{calipers[0]:g} to {calipers[-1]:g}",
        "tight_caliper": f"{tightest:g}",
        "next_caliper": f"{next_tightest:g}",
        "smd_threshold": f"{THRESHOLD:g}",
        "grid_hr_range": f"{grid['hr'].min():.2f} to {grid['hr'].max():.2f}",
        "grid_truth_range": f"{grid['truth'].min():.3f} to {grid['truth'].max():.3f}",
        "truth_none": f"{loose['truth']:.3f}",
        "truth_tight": f"{tight['truth']:.3f}"
        + (" — here only slightly" if abs(tight["truth"] - loose["truth"]) < 0.01 else ""),
        "width_none": f"{_width(loose):.2f}",
        "width_tight": f"{_width(tight):.2f}",
        "ratio_effect": f"a second control per treated patient {_change(w11, w12)} the interval (the ratio of its "
        f"limits goes from {w11:.2f} to {w12:.2f} {phrase}) and matching with replacement {_change(w11, w11r)} it "
        f"({w11r:.2f}){', because a few controls then count several times' if w11r > 1.03 * w11 else ''}",
        "truth_moves": "hardly moves" if grid["truth"].max() - grid["truth"].min() < 0.01 else "moves",
        "smd_range": f"{grid['max_smd'].min():.2f} to {grid['max_smd'].max():.2f}",
    }
    return numbers


def nodes_numbers(base: Exploration, with_nodes: Exploration, nodes_level: str = NODES_LEVEL) -> dict[str, object]:
    """The book's match against the same match with the number of nodes added to the score: the nodes'
    SMD before and after, the two estimates and their truths, and the treated patients kept."""
    return {
        "nodes_smd_before": f"{base.balance.loc[nodes_level, 'smd_before']:+.2f}",
        "nodes_smd_base": f"{base.balance.loc[nodes_level, 'smd_after']:+.2f}",
        "nodes_smd_with": f"{with_nodes.balance.loc[nodes_level, 'smd_after']:+.2f}",
        "hr_base": hr_ci_p_text(base.estimate.hr, base.estimate.ci_low, base.estimate.ci_high),
        "hr_with_nodes": hr_ci_p_text(with_nodes.estimate.hr, with_nodes.estimate.ci_low, with_nodes.estimate.ci_high),
        "truth_base": f"{base.truth:.3f}",
        "truth_with_nodes": f"{with_nodes.truth:.3f}",
        "treated_with_nodes": with_nodes.treated,
        "treated_base": base.treated,
    }


def methods_display(methods: pd.DataFrame) -> pd.DataFrame:
    """Each method's estimate beside its own estimand's true value, and whether its interval contains it."""
    estimand_text = {m.key: m.estimand_text for m in simulation.METHODS}
    return pd.DataFrame(
        {
            "Estimand": methods["method"].map(estimand_text).to_numpy(),
            "HR of death (95% CI)": [hr_ci_text(r.hr, r.ci_low, r.ci_high, nowrap=True) for r in methods.itertuples()],
            "True value": [f"{v:.3f}" for v in methods["truth"]],
            "Estimate / truth": [f"{h / t:.2f}" for h, t in zip(methods["hr"], methods["truth"])],
            "CI contains the truth": [
                "yes" if lo <= t <= hi else "no"
                for lo, t, hi in zip(methods["ci_low"], methods["truth"], methods["ci_high"])
            ],
            "Treated / controls": [f"{int(r.treated)} / {int(r.controls)}" for r in methods.itertuples()],
        },
        index=pd.Index(methods["short"].to_numpy(), name="Analysis"),
    )


def methods_numbers(methods: pd.DataFrame) -> dict[str, object]:
    """The methods against their truths for the prose: intervals covering the truth, the closest and the
    farthest estimate, the naive and multivariable estimates, and the pairs of the two matchers."""
    m = methods.set_index("method")
    covered = [(lo <= t <= hi) for lo, t, hi in zip(methods["ci_low"], methods["truth"], methods["ci_high"])]
    distance = (np.log(methods["hr"]) - np.log(methods["truth"])).abs()
    closest, farthest = distance.idxmin(), distance.idxmax()
    return {
        "methods_table": methods_display(methods),
        "covered_text": f"all {len(methods)} intervals contain"
        if all(covered)
        else f"{int(sum(covered))} of the {len(methods)} intervals contain",
        "closest": f"{methods.loc[closest, 'short']} "
        f"({methods.loc[closest, 'hr'] / methods.loc[closest, 'truth']:.2f} times its truth)",
        "farthest": f"{methods.loc[farthest, 'short']} "
        f"({methods.loc[farthest, 'hr'] / methods.loc[farthest, 'truth']:.2f} times)",
        "naive_hr": hr_ci_p_text(m.loc["naive", "hr"], m.loc["naive", "ci_low"], m.loc["naive", "ci_high"]),
        "mv_hr": hr_ci_p_text(
            m.loc["multivariable", "hr"], m.loc["multivariable", "ci_low"], m.loc["multivariable", "ci_high"]
        ),
        "psmpy_pairs": f"{int(m.loc['psm_psmpy', 'treated'])}",
        "book_pairs": f"{int(m.loc['psm_book', 'treated'])}",
    }


def _pct_range(values: pd.Series) -> str:
    low, high = 100 * values.min(), 100 * values.max()
    return f"{low:.0f}%" if round(low) == round(high) else f"{low:.0f}% to {high:.0f}%"


def simulation_numbers(summary: pd.DataFrame, repetitions: int, seed: int) -> dict[str, object]:
    """The simulation study for the prose: each method's bias (with its Monte Carlo SE), coverage and
    SEs, verdicts on bias with and without the number of nodes, the direction of the bias, model
    against empirical SE, and the Monte Carlo error of a coverage."""

    def bias_text(key):
        r = summary.loc[key]
        return f"{r['bias']:+.3f} (MCSE {r['bias_mcse']:.3f})"

    def clear(key):
        r = summary.loc[key]
        return abs(r["bias"]) > 2 * r["bias_mcse"]

    marginal_keys = [k for k in ("naive", "psm_book", "psm_psmpy", "ipw") if k in summary.index]
    biased = [k for k in marginal_keys if clear(k)]
    label = summary["short"]
    numbers: dict[str, object] = {
        "repetitions": repetitions,
        "master_seed": seed,
        "summary_table": simulation.summary_table(summary),
    }
    for key in summary.index:
        numbers[f"bias_{key}"] = bias_text(key)
        numbers[f"coverage_{key}"] = f"{100 * summary.loc[key, 'coverage']:.0f}%"
        numbers[f"empse_{key}"] = f"{summary.loc[key, 'empirical_se']:.3f}"
        numbers[f"modse_{key}"] = f"{summary.loc[key, 'model_se']:.3f}"
    if biased:
        count = (
            f"all {len(biased)}" if len(biased) == len(marginal_keys) else f"{len(biased)} of the {len(marginal_keys)}"
        )
        numbers["bias_verdict"] = (
            f"With {repetitions} repetitions the bias of {count} analyses without the number of nodes is more than "
            "twice its Monte Carlo SE (" + "; ".join(f"{label[k]} {bias_text(k)}" for k in biased) + ")"
        )
    else:
        numbers["bias_verdict"] = (
            f"With {repetitions} repetitions no bias of the analyses without the number of nodes exceeds twice its "
            "Monte Carlo SE, yet they all lean the same way ("
            + "; ".join(f"{label[k]} {bias_text(k)}" for k in marginal_keys)
            + ")"
        )
    numbers["nodes_verdict"] = f"With the number of nodes in the score the bias is {bias_text('psm_nodes')}" + (
        ", indistinguishable from zero" if not clear("psm_nodes") else ""
    )
    numbers["direction_text"] = (
        "All of them estimate a hazard ratio nearer 1 than the truth on average: the arm that received "
        "anlotinib has more patients with several recurrent nodes, and none of these analyses adjusts for it."
        if (summary.loc[marginal_keys, "bias"] > 0).all()
        else "They do not all lean the same way at this number of repetitions; the generator, though, gives the arm "
        "that received anlotinib more patients with several recurrent nodes, and none of these analyses "
        "adjusts for it."
    )
    ratio_se = summary["model_se"] / summary["empirical_se"]
    numbers["se_ratio_range"] = f"{ratio_se.min():.2f} to {ratio_se.max():.2f} times the empirical ones" + (
        " (all larger: if anything, the intervals are too wide)" if (ratio_se > 1).all() else ""
    )
    numbers["coverage_mcse_95"] = f"{100 * math.sqrt(0.95 * 0.05 / repetitions):.1f}"
    numbers["reps_for_1pp"] = math.ceil(0.95 * 0.05 / 0.01**2)
    numbers["coverage_range"] = _pct_range(summary["coverage"])
    return numbers


def design_numbers(summary: pd.DataFrame, calibrated_summary: pd.DataFrame) -> dict[str, object]:
    """The two simulation designs side by side (survival drawn afresh, calibrated cohorts as generated):
    empirical and model SE and coverage per analysis, for the prose."""
    both = pd.concat(
        {
            "Survival drawn afresh": summary.loc[calibrated_summary.index],
            "Calibrated cohorts as generated": calibrated_summary,
        },
        names=["Design", "method"],
    )
    design_table = pd.DataFrame(
        {
            "Empirical SE": both["empirical_se"].map(lambda v: f"{v:.3f}"),
            "Model SE": both["model_se"].map(lambda v: f"{v:.3f}"),
            "Coverage": both["coverage"].map(lambda v: f"{100 * v:.0f}%"),
        }
    )
    design_table.index = pd.MultiIndex.from_tuples(
        [(d, summary.loc[k, "short"]) for d, k in both.index], names=["Design", "Analysis"]
    )
    return {
        "design_table": design_table,
        "calibrated_empse_naive": f"{calibrated_summary.loc['naive', 'empirical_se']:.3f}",
        "calibrated_cov_range": _pct_range(calibrated_summary["coverage"]),
    }


GRID_FIELDS = ("caliper", "ratio", "replace", "treated", "controls", "max_smd", "hr", "ci_low", "ci_high", "truth")
METHOD_FIELDS = ("hr", "ci_low", "ci_high", "se", "truth", "treated", "controls")
SUMMARY_FIELDS = (
    "bias",
    "bias_mcse",
    "empirical_se",
    "model_se",
    "coverage",
    "treated",
    "controls",
    "repetitions",
    "failed",
)


def lab_values(
    truths: tuple[float, float],
    repetitions: int,
    grid: pd.DataFrame,
    methods: pd.DataFrame,
    summaries: dict[str, pd.DataFrame],
) -> dict[str, object]:
    """The lab's results (``lab.*`` ids): the truths, every grid setting's estimate, every method's, and the
    simulation summary of each design (``{"model": ..., "calibrated": ...}``)."""
    values: dict[str, object] = {
        "lab.truth.conditional": truths[0],
        "lab.truth.marginal_treated": truths[1],
        "lab.simulation.repetitions.n": repetitions,
    }
    for i, r in grid.iterrows():
        for key in GRID_FIELDS:
            values[f"lab.grid.{i:02d}.{key}"] = r[key]
    for r in methods.itertuples():
        for key in METHOD_FIELDS:
            values[f"lab.methods.{r.method}.{key}"] = getattr(r, key)
    for design, table in summaries.items():
        for key, r in table.iterrows():
            for field in SUMMARY_FIELDS:
                values[f"lab.simulation.{design}.{key}.{field}"] = r[field]
    return values
