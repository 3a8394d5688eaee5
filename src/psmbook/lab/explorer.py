"""The PSM lab's matching explorer: one set of matching choices in, the matched sample, its balance,
the hazard ratio of death and the synthetic cohort's true value out.

:func:`explore` does the work for one setting (propensity score, greedy nearest-neighbour matching,
balance, the Cox model of overall survival that :func:`psmbook.analysis.sensitivity.matched_estimate` fits, and
the true marginal hazard ratio in the matched treated patients); :func:`explore_grid` runs it over a
grid of settings for the static book; :class:`Explorer` puts it behind ipywidgets controls for a live
Jupyter session.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable

import numpy as np
import pandas as pd

from psmbook.analysis.sensitivity import Estimate
from psmbook.analysis.survival.matched_sets import matched_set_cox
from psmbook.matching import balance as balance_mod
from psmbook.matching.nearest import nearest_neighbour_match
from psmbook.matching.result import ORDERS, MatchResult, matched_cohort
from psmbook.matching.score import PropensityModel, default_formula, fit_propensity
from psmbook.present.format import hr_ci_text

__all__ = [
    "MatchSettings",
    "Exploration",
    "EXTRA_COVARIATES",
    "NODES_LEVEL",
    "extra_covariates",
    "CALIPER_CHOICES",
    "GRID_CALIPERS",
    "lab_covariates",
    "balance_labels",
    "score_model",
    "explore",
    "explore_grid",
    "grid_table",
    "plot_grid",
]

#: Calipers offered by the live explorer (SD of the logit score; None = no caliper).
CALIPER_CHOICES: tuple = (None, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
#: Calipers of the precomputed grid shown in the static book.
GRID_CALIPERS: tuple = (None, 0.05, 0.1, 0.2, 0.5)


@dataclass(frozen=True)
class MatchSettings:
    """The analyst's matching choices (the matching chapter's parameters, MatchIt's vocabulary)."""

    covariates: tuple[str, ...]
    caliper: float | None = 0.2  # SD of the logit propensity score; None = no caliper
    ratio: int = 1  # controls per treated patient
    replace: bool = False  # a control may serve several treated patients
    order: str = "largest"  # m.order: largest, smallest, data, random
    formula: str | None = None  # optional score formula replacing the main effects

    def __post_init__(self):
        object.__setattr__(self, "covariates", tuple(self.covariates))
        if not self.covariates and not self.formula:
            raise ValueError("the propensity-score model needs at least one covariate")
        if self.order not in ORDERS:
            raise ValueError(f"match order must be one of {ORDERS}, got {self.order!r}")

    @classmethod
    def from_parameters(cls, parameters: dict) -> "MatchSettings":
        """The settings the matching chapter ran with (``read_parameters("matching")``)."""
        return cls(
            covariates=tuple(parameters["covariates"]),
            caliper=parameters["caliper"],
            ratio=int(parameters["ratio"]),
            replace=bool(parameters["replace"]),
            order=parameters["match_order"],
            formula=parameters.get("ps_formula") or None,
        )

    def caliper_text(self) -> str:
        return "none" if self.caliper is None else f"{self.caliper:g}"


@dataclass
class Exploration:
    """The outcome of one setting: score model, matched sets, matched sample, balance, estimate, truth."""

    settings: MatchSettings
    model: PropensityModel
    result: MatchResult
    sample: pd.DataFrame  # matching.matched_cohort, with ps and logit_ps
    estimate: Estimate
    balance: pd.DataFrame | None = None  # balance.balance_table over every level of lab_covariates
    truth: float | None = None  # true marginal HR in the matched treated (synthetic cohort)
    labels: dict = field(default_factory=dict)

    @property
    def treated(self) -> int:
        return len(self.result.matched_treated)

    @property
    def controls(self) -> int:
        return len(self.result.matched_controls)

    @property
    def unmatched(self) -> int:
        return len(self.result.unmatched_treated)

    def score_columns(self) -> list[str]:
        """The data columns of the propensity-score model."""
        if self.settings.formula:
            from psmbook.matching.score import formula_covariates

            return formula_covariates(self.settings.formula)
        return list(self.settings.covariates)

    def _levels(self, in_score: bool) -> pd.Series:
        if self.balance is None:
            return pd.Series(dtype=float)
        table = self.balance.loc[self.balance.index != "logit_ps"]
        inside = table.index.str.split("=").str[0].isin(self.score_columns())
        return table.loc[inside if in_score else ~inside, "smd_after"].abs()

    @property
    def max_smd(self) -> float:
        """Largest absolute SMD after matching over the levels of the score's covariates."""
        levels = self._levels(True)
        return float(levels.max()) if len(levels) else float("nan")

    @property
    def max_smd_other(self) -> float:
        """Largest absolute SMD after matching over the covariates left out of the score."""
        levels = self._levels(False)
        return float(levels.max()) if len(levels) else float("nan")

    @property
    def imbalanced(self) -> int:
        """Levels of the score's covariates with an absolute SMD of 0.1 or more after matching."""
        return int((self._levels(True) >= balance_mod.THRESHOLD).sum())

    @property
    def imbalanced_other(self) -> int:
        """Levels of the covariates left out of the score with an absolute SMD of 0.1 or more."""
        return int((self._levels(False) >= balance_mod.THRESHOLD).sum())

    def row(self) -> dict:
        """One line of the explorer's grid."""
        s, e = self.settings, self.estimate
        return {
            "caliper": s.caliper,
            "ratio": s.ratio,
            "replace": s.replace,
            "order": s.order,
            "treated": self.treated,
            "controls": self.controls,
            "unmatched": self.unmatched,
            "caliper_logit": self.result.caliper,
            "max_smd": self.max_smd,
            "imbalanced": self.imbalanced,
            "max_smd_other": self.max_smd_other,
            "imbalanced_other": self.imbalanced_other,
            "hr": e.hr,
            "ci_low": e.ci_low,
            "ci_high": e.ci_high,
            "p": e.p,
            "method": e.method,
            "truth": np.nan if self.truth is None else self.truth,
        }


#: Baseline factors outside Table 1 that the lab offers for the score: the number of recurrent nodes,
#: which the paper's Table 3 uses as a prognostic factor but its score model leaves out.
EXTRA_COVARIATES = ("nodes_group",)
#: The level of the number of nodes whose balance the lab follows (an index of :func:`explore`'s balance).
NODES_LEVEL = "nodes_group=multiple"


def extra_covariates(settings: MatchSettings, cohort: pd.DataFrame) -> tuple[str, ...]:
    """The extra baseline factors (:data:`EXTRA_COVARIATES`) the cohort holds and the score leaves out."""
    return tuple(c for c in EXTRA_COVARIATES if c in cohort.columns and c not in settings.covariates)


def lab_covariates(study, cohort: pd.DataFrame | None = None) -> dict[str, tuple[str, dict]]:
    """column -> (label, {level: label}) of every covariate the lab balances and offers for the score:
    the study's Table 1 covariates, then the extra baseline factors the data hold."""
    from psmbook.analysis.survival import DERIVED_FACTORS

    found = {v.column: (v.label, dict(v.levels)) for v in study.covariates}
    for column in EXTRA_COVARIATES:
        if column in DERIVED_FACTORS and (cohort is None or column in cohort.columns):
            label, levels = DERIVED_FACTORS[column]
            found[column] = (label, dict(levels))
    return found


def balance_labels(study, cohort: pd.DataFrame | None = None) -> dict[str, str]:
    """``column=level`` -> 'Covariate: level' for the love plot."""
    labels = {
        f"{column}={code}": f"{label}: {level_label}"
        for column, (label, levels) in lab_covariates(study, cohort).items()
        for code, level_label in levels.items()
    }
    labels["logit_ps"] = "Propensity score (logit)"
    return labels


def _formula(settings: MatchSettings) -> str:
    return settings.formula or default_formula(list(settings.covariates))


def score_model(cohort: pd.DataFrame, study, settings: MatchSettings) -> PropensityModel:
    """The propensity-score model of ``settings`` (covariates or formula), fitted to ``cohort``, as
    :func:`explore` fits it: unpenalised logistic regression, every covariate categorical."""
    return fit_propensity(
        cohort, study.treatment.column, study.treatment.treated, list(settings.covariates), formula=settings.formula
    )


def explore(
    cohort: pd.DataFrame,
    study,
    settings: MatchSettings,
    *,
    seed: int | None = None,
    with_balance: bool = True,
    with_truth: bool = True,
    model: PropensityModel | None = None,
) -> Exploration:
    """Match ``cohort`` (indexed by patient id) with ``settings`` and estimate the OS hazard ratio.

    The steps are the matching chapter's: an unpenalised logistic score, greedy nearest-neighbour
    matching on its logit (``seed`` orders the treated patients when ``order`` is random), balance of
    every level of the Table 1 covariates and of the number of recurrent nodes (:func:`lab_covariates`)
    with the unmatched SD as denominator. The hazard ratio is
    :func:`psmbook.analysis.sensitivity.matched_estimate`'s: a Cox model of overall survival on treatment in the
    matched sample, weighted after 1:k matching, its SE clustered on the matched sets (and on the
    patients, with replacement). For the synthetic cohort, ``truth`` is the true marginal hazard ratio in
    the matched treated patients (:func:`psmbook.cohort.truth.true_marginal_hr`), the quantity the matched
    estimate targets.

    ``model``: the score model of ``settings`` already fitted to ``cohort`` (:func:`score_model`), for
    callers that match one cohort several ways on the same score; the numbers are those of fitting it here.
    """
    arm, treated_code = study.treatment.column, study.treatment.treated
    if model is None:
        model = score_model(cohort, study, settings)
    elif model.formula != _formula(settings) or not model.scores.index.equals(cohort.index):
        raise ValueError(
            f"the score model given to explore was fitted with {model.formula!r} to {len(model.scores)} patients; "
            f"these settings need {_formula(settings)!r} fitted to the {len(cohort)} patients of this cohort"
        )
    result = nearest_neighbour_match(
        model.logit,
        model.treated,
        caliper_sd=settings.caliper,
        ratio=settings.ratio,
        replace=settings.replace,
        order=settings.order,
        seed=seed,
    )
    sample = matched_cohort(cohort.assign(ps=model.scores, logit_ps=model.logit), result)
    sample["_treated"] = (sample[arm] == treated_code).astype(int)
    os_ = study.outcome("os")
    fit = matched_set_cox(cohort, result, study, os_.time, os_.event, replace=settings.replace)  # as matched_estimate
    hr, low, high, p, method = (fit[k] for k in ("hr", "ci_low", "ci_high", "p", "method"))
    label = (
        f"caliper {settings.caliper_text()}, 1:{settings.ratio}"
        f"{' with' if settings.replace else ' without'} replacement"
    )
    estimate = Estimate(label, hr, low, high, p, len(result.matched_treated), len(result.matched_controls), method)
    table = None
    if with_balance:
        known = lab_covariates(study, cohort)
        columns = list(known)
        levels = {column: list(lv) for column, (_, lv) in known.items()}
        before = balance_mod.indicators(cohort, columns, levels).assign(logit_ps=model.logit)
        after = balance_mod.indicators(sample, columns, levels).assign(logit_ps=sample["logit_ps"])
        table = balance_mod.balance_table(
            before,
            cohort[arm].eq(treated_code),
            after,
            sample[arm].eq(treated_code),
            weights_after=sample["match_weight"],
        )
    truth = None
    if with_truth and study.synthetic:
        from psmbook.cohort.truth import true_marginal_hr

        truth = true_marginal_hr(sample, study)
    return Exploration(
        settings,
        model,
        result,
        sample.drop(columns="_treated"),
        estimate,
        table,
        truth,
        balance_labels(study, cohort),
    )


def explore_grid(
    cohort: pd.DataFrame,
    study,
    base: MatchSettings,
    *,
    calipers: Iterable = GRID_CALIPERS,
    ratios: Iterable[int] = (1, 2),
    replaces: Iterable[bool] = (False, True),
    seed: int | None = None,
) -> pd.DataFrame:
    """:func:`explore` over every combination of caliper, ratio and replacement (the rest of ``base``
    kept): one row per setting, ``is_base`` marking ``base`` itself, whose caliper and ratio are added
    to the grid when they are not in it."""
    calipers, ratios = list(calipers), [int(r) for r in ratios]
    if base.caliper not in calipers:
        calipers.append(base.caliper)
    if base.ratio not in ratios:
        ratios.append(base.ratio)
    model = score_model(cohort, study, base)  # caliper, ratio and replacement do not change the score
    rows = []
    for replace_ in replaces:
        for ratio in ratios:
            for caliper in calipers:
                settings = replace(base, caliper=caliper, ratio=ratio, replace=bool(replace_))
                row = explore(cohort, study, settings, seed=seed, model=model).row()
                row["is_base"] = settings == base
                rows.append(row)
    return pd.DataFrame(rows)


def _fmt_caliper(value) -> str:
    return "none" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:g}"


def grid_table(grid: pd.DataFrame, *, base_mark: str = "◀\u00a0matching\u00a0chapter") -> pd.DataFrame:
    """The grid as the book shows it: settings, matched patients, balance, HR (95% CI) and the truth."""
    shown = pd.DataFrame(
        {
            "Caliper (SD)": grid["caliper"].map(_fmt_caliper),
            "Ratio": grid["ratio"].map(lambda r: f"1:{r}"),
            "Replacement": grid["replace"].map({False: "no", True: "yes"}),
            "Treated / controls matched": [f"{int(r.treated)} / {int(r.controls)}" for r in grid.itertuples()],
            "Max |SMD| (levels ≥ 0.1)": [f"{r.max_smd:.3f} ({int(r.imbalanced)})" for r in grid.itertuples()],
            "HR of death (95% CI)": [hr_ci_text(r.hr, r.ci_low, r.ci_high, nowrap=True) for r in grid.itertuples()],
        }
    )
    if grid["truth"].notna().any():
        shown["True HR"] = grid["truth"].map(lambda v: f"{v:.3f}")
    if "is_base" in grid:
        shown[""] = np.where(grid["is_base"], base_mark, "")
    return shown.set_index(["Replacement", "Ratio", "Caliper (SD)"])


def plot_grid(grid: pd.DataFrame, *, conditional_truth: float | None = None, threshold: float = 0.1):
    """Small multiples of the grid: rows are treated patients matched, the largest |SMD| and the hazard
    ratio with its 95% CI; columns are matching without and with replacement; one line per ratio,
    the caliper on the horizontal axis (none at the right: no limit)."""
    import matplotlib.pyplot as plt

    numeric = sorted({float(c) for c in grid["caliper"] if c is not None and not pd.isna(c)})
    calipers = [_fmt_caliper(c) for c in numeric] + (["none"] if grid["caliper"].isna().any() else [])
    position = {c: i for i, c in enumerate(calipers)}
    ratios = sorted(grid["ratio"].unique())
    replaces = sorted(grid["replace"].unique())
    styles = [("#000000", "o"), ("#E69F00", "s"), ("#56B4E9", "^"), ("#009E73", "D")]
    fig, axes = plt.subplots(3, len(replaces), figsize=(7.6, 8.6), sharex=True, sharey="row", squeeze=False)
    for j, rep in enumerate(replaces):
        for k, ratio in enumerate(ratios):
            part = grid[(grid["replace"] == rep) & (grid["ratio"] == ratio)].copy()
            part["x"] = part["caliper"].map(_fmt_caliper).map(position)
            part = part.sort_values("x")
            colour, marker = styles[k % len(styles)]
            dodge = (k - (len(ratios) - 1) / 2) * 0.12
            label = f"1:{ratio}"
            axes[0, j].plot(part["x"] + dodge, part["treated"], marker=marker, color=colour, label=label)
            axes[1, j].plot(part["x"] + dodge, part["max_smd"], marker=marker, color=colour, label=label)
            axes[2, j].errorbar(
                part["x"] + dodge,
                part["hr"],
                yerr=[part["hr"] - part["ci_low"], part["ci_high"] - part["hr"]],
                fmt=marker,
                color=colour,
                capsize=2.5,
                ms=5,
                label=label,
            )
            if part["truth"].notna().any():
                axes[2, j].plot(
                    part["x"] + dodge,
                    part["truth"],
                    "_",
                    color="#D55E00",
                    ms=11,
                    mew=2,
                    label="true marginal HR" if k == 0 else None,
                )
        axes[0, j].set_title("with replacement" if rep else "without replacement")
        axes[1, j].axhline(threshold, color="#D55E00", ls="--", lw=1)
        axes[2, j].axhline(1.0, color="#999999", lw=0.8)
        if conditional_truth is not None:
            axes[2, j].axhline(
                conditional_truth,
                color="#555555",
                ls=":",
                lw=1.2,
                label="true conditional HR" if j == 0 else None,
            )
        axes[2, j].set_xticks(range(len(calipers)), calipers)
        axes[2, j].set_xlabel("Caliper (SD of the logit score)")
    axes[0, 0].set_ylabel("Treated patients matched")
    axes[1, 0].set_ylabel("Largest |SMD| after matching\n(covariates of the score)")
    axes[2, 0].set_ylabel("HR of death (95% CI)")
    axes[0, 0].legend(title="controls per treated", fontsize=8.5, title_fontsize=8.5, loc="lower right")
    handles, names = axes[2, 0].get_legend_handles_labels()
    keep = [(h, n) for h, n in zip(handles, names) if n.startswith("true")]
    if keep:
        axes[2, 0].legend(*zip(*keep), fontsize=8.5, loc="upper left")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------------
# The live explorer (ipywidgets)
